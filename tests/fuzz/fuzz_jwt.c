/*
 * fuzz_jwt: the bearer-token verifier (lib/auth.c).
 *
 * The keyset holds an HS256 secret (kid "hs1"), an RSA and an EC P-256
 * public key (kids "rsa1", "ec1": the JWKS below, whose private halves
 * signed the seed tokens and were then thrown away). Byte 0 of the input
 * picks the policy (with or without a required typ) and the mode:
 *  - even: the rest is a token, verified as it is;
 *  - odd: the rest is "HEADER\0PAYLOAD" JSON text, which the harness signs
 *    with the HS256 secret, so that fuzzed claims get past the signature.
 * Oracles, on AUTH_OK: sub is 1..AUTH_MAX_SUB bytes without control
 * characters, tenant_id (if any) has none either, exp is after now minus
 * the leeway, the lifetime is within the policy's maximum; always: the
 * verdict is the same the second time, and a principal exists exactly on
 * AUTH_OK.
 */
#include <stdbool.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "fuzz.h"

#define NOW		1764288000
#define LEEWAY		60
#define LIFETIME	86400
#define HS_SECRET	"fuzz-hs256-secret-0123456789abcdef-not-real"

static const char jwks[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"use\":\"sig\",\"alg\":\"RS"
	"256\",\"n\":\"wIYQvJix5QGnW87itcqfIMzZ44VHnQru_mA5E_6PnZLsHA"
	"Msm5FR0PAmDdWxyZCbd7XK7wIV11Sy9hjsGpyzOa4z5A6LPKL6BJ7zJ5"
	"Z8-QDyS6G5nopTsLNBN8BytQSYahVTM3n5O0KWpnyIuK7Mjd5tD_DGyY"
	"eV7U1Dx3DajttiLddtdm3umZXbhK3RdFPNPPScMYs5nwJqlSkMWy0DAw"
	"pVSYhks_GhgLxvtK8fMk-ZnNlMZ1uO9TZIaMajmY56XVm_8oFjNxOasN"
	"YgOSG0Uk5w3BnAwul0iqe1b4vibN9ic86Jkz6mkBeW7_jm46MBXqOrCC"
	"k6sz-y6xObbvHISQ\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"kid\":\"ec1\",\"u"
	"se\":\"sig\",\"alg\":\"ES256\",\"crv\":\"P-256\",\"x\":\"ydJtIRVg-_QfA"
	"5g9qTDP-eXT7Bf8ve9ImFRzJRo7OKU\",\"y\":\"0w7VLRyYxuVGEvx0Okz"
	"olRiud3DPmJMVJ8n1oKcz61g\"}]}";

static struct auth_keyset *ks;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/ops-fuzz-jwks-XXXXXX", err[256];
	int fd = mkstemp(path), rc;

	(void)argc;
	(void)argv;
	if (fd < 0 || write(fd, jwks, sizeof(jwks) - 1) !=
	    (ssize_t)(sizeof(jwks) - 1))
		return -1;
	close(fd);
	rc = auth_keyset_load(&ks, path, (const unsigned char *)HS_SECRET,
	    sizeof(HS_SECRET) - 1, "hs1", err, sizeof(err));
	unlink(path);
	if (rc != 0)
		fprintf(stderr, "fuzz_jwt: %s\n", err);
	return rc;
}

static void
b64url(struct buf *b, const void *data, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		buf_appendc(b, tab[p[i] >> 2]);
		buf_appendc(b, tab[(p[i] & 3) << 4 | p[i + 1] >> 4]);
		buf_appendc(b, tab[(p[i + 1] & 15) << 2 | p[i + 2] >> 6]);
		buf_appendc(b, tab[p[i + 2] & 63]);
	}
	if (len - i == 1) {
		buf_appendc(b, tab[p[i] >> 2]);
		buf_appendc(b, tab[(p[i] & 3) << 4]);
	} else if (len - i == 2) {
		buf_appendc(b, tab[p[i] >> 2]);
		buf_appendc(b, tab[(p[i] & 3) << 4 | p[i + 1] >> 4]);
		buf_appendc(b, tab[(p[i + 1] & 15) << 2]);
	}
}

static bool
has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_policy pol = { "https://issuer.test", "ops-api", LEEWAY,
	    8192, LIFETIME, NULL };
	struct auth_principal p, p2;
	enum auth_result r, r2;
	struct buf tok = BUF_INIT;
	const uint8_t *rest = data + 1, *nul;
	size_t rlen = size - 1;

	if (size < 1)
		return 0;
	if (data[0] & 2)
		pol.typ = "at+jwt";
	if (data[0] & 1) {
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int maclen = 0;

		if ((nul = memchr(rest, '\0', rlen)) == NULL)
			return 0;
		b64url(&tok, rest, (size_t)(nul - rest));
		buf_appendc(&tok, '.');
		b64url(&tok, nul + 1, rlen - (size_t)(nul + 1 - rest));
		FUZZ_CHECK(HMAC(EVP_sha256(), HS_SECRET, sizeof(HS_SECRET) - 1,
		    (const unsigned char *)tok.data, tok.len, mac,
		    &maclen) != NULL);
		buf_appendc(&tok, '.');
		b64url(&tok, mac, maclen);
	} else {
		buf_append(&tok, rest, rlen);
	}

	r = auth_verify(ks, &pol, buf_str(&tok), NOW, &p);
	r2 = auth_verify(ks, &pol, buf_str(&tok), NOW, &p2);
	FUZZ_CHECK(r == r2);
	FUZZ_CHECK((r == AUTH_OK) == (p.sub != NULL));
	FUZZ_CHECK(auth_result_reason(r) != NULL);
	if (r == AUTH_OK) {
		size_t n = strlen(p.sub);

		FUZZ_CHECK(n >= 1 && n <= AUTH_MAX_SUB && !has_control(p.sub));
		FUZZ_CHECK(strcmp(p.sub, p2.sub) == 0);
		FUZZ_CHECK(p.tenant_id == NULL || (*p.tenant_id != '\0' &&
		    !has_control(p.tenant_id)));
		FUZZ_CHECK(p.exp + LEEWAY > NOW);
		FUZZ_CHECK(p.exp - (p.iat ? p.iat : NOW) <= LIFETIME);
	}
	auth_principal_free(&p);
	auth_principal_free(&p2);
	buf_free(&tok);
	return 0;
}
