#include "webhook_sign.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"

#define KEY_BYTES	32
#define KEY_MAX		64

int
webhook_secret_new(char out[WEBHOOK_SECRET_MAX])
{
	unsigned char key[KEY_BYTES];

	if (RAND_bytes(key, sizeof(key)) != 1)
		return -1;
	memcpy(out, WEBHOOK_SECRET_PREFIX, 6);
	EVP_EncodeBlock((unsigned char *)out + 6, key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
}

/* The key bytes of "whsec_<base64>"; their count, or -1. */
static int
secret_key(const char *secret, unsigned char key[KEY_MAX + 2])
{
	const char *b64;
	size_t n;
	int len;

	if (strncmp(secret, WEBHOOK_SECRET_PREFIX, 6) != 0)
		return -1;
	b64 = secret + 6;
	n = strlen(b64);
	if (n == 0 || n % 4 != 0 || n > 88)
		return -1;
	/* EVP_DecodeBlock counts padding as zero bytes: take them off */
	if ((len = EVP_DecodeBlock(key, (const unsigned char *)b64,
	    (int)n)) < 0)
		return -1;
	if (b64[n - 1] == '=')
		len--;
	if (b64[n - 2] == '=')
		len--;
	return len > 0 && len <= KEY_MAX ? len : -1;
}

int
webhook_sign(const char *secret, const char *msg_id, long long ts,
    const char *body, size_t bodylen, char out[WEBHOOK_SIG_MAX])
{
	unsigned char key[KEY_MAX + 2], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct buf msg = BUF_INIT;
	int keylen;
	bool ok;

	if ((keylen = secret_key(secret, key)) < 0)
		return -1;
	buf_appendf(&msg, "%s.%lld.", msg_id, ts);
	buf_append(&msg, body, bodylen);
	ok = HMAC(EVP_sha256(), key, keylen, (const unsigned char *)msg.data,
	    msg.len, mac, &maclen) != NULL && maclen == 32;
	buf_free(&msg);
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok)
		return -1;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, 32);
	return 0;
}
