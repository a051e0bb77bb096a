#include "digest.h"

#include <openssl/evp.h>

#include "xssl.h"

void
digest_hex(const unsigned char *bytes, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

void
digest_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	xssl(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) == 1,
	    "EVP_Digest(SHA-256)");
	digest_hex(md, mdlen, out);
}
