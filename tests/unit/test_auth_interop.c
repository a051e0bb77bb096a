/*
 * test_auth_interop: lib/auth.c against tokens and a JWKS made by the
 * openssl command line (scripts/jwt-openssl, via tests/jwt-interop-fixtures),
 * a second implementation that shares no code with ours.
 *
 * With AUTH_INTEROP_DIR set (tests/integration/jwt_openssl_interop.sh does
 * that) the fixtures are read from there. Without it, this program runs
 * tests/jwt-interop-fixtures itself into a temporary directory, finding the
 * repository from $ROOT, the current directory (make runs from the root), or
 * its own path (build/tests/, build/asan/tests/).
 *
 * The fixture directory holds "cases": NAME<TAB>EXPECTED per line, and
 * tokens/NAME.jwt. Times are fixed, see INTEROP_NOW.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"

/* Keep in step with tests/jwt-interop-fixtures. */
#define INTEROP_NOW	1700000000
#define INTEROP_ISS	"https://issuer.test"
#define INTEROP_AUD	"ops-api"
#define INTEROP_LEEWAY	60
#define INTEROP_HS_KID	"hs1"
#define GENERATOR	"tests/jwt-interop-fixtures"
/* Fewer cases than this means the generator stopped short. */
#define MIN_CASES	60

struct interop {
	char		 dir[PATH_MAX];
	bool		 generated;	/* dir is ours to remove */
	struct auth_keyset *ks;
	struct auth_policy pol;
};

static const struct {
	const char	*name;
	enum auth_result r;
} result_names[] = {
	{ "ok", AUTH_OK },
	{ "malformed", AUTH_ERR_MALFORMED },
	{ "too_large", AUTH_ERR_TOO_LARGE },
	{ "alg", AUTH_ERR_ALG },
	{ "kid", AUTH_ERR_KID },
	{ "signature", AUTH_ERR_SIGNATURE },
	{ "expired", AUTH_ERR_EXPIRED },
	{ "not_yet_valid", AUTH_ERR_NOT_YET_VALID },
	{ "issued_in_future", AUTH_ERR_ISSUED_IN_FUTURE },
	{ "issuer", AUTH_ERR_ISSUER },
	{ "audience", AUTH_ERR_AUDIENCE },
	{ "claims", AUTH_ERR_CLAIMS },
};
#define NRESULTS	(sizeof(result_names) / sizeof(result_names[0]))

static int
result_parse(const char *s)
{
	size_t i;

	for (i = 0; i < NRESULTS; i++)
		if (strcmp(s, result_names[i].name) == 0)
			return (int)i;
	return -1;
}

/* Read a whole file into b; -1 when it cannot be read. */
static int
slurp(const char *path, struct buf *b)
{
	char chunk[4096];
	size_t n;
	FILE *f;
	int rc;

	buf_reset(b);
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(b, chunk, n);
	rc = ferror(f) ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static void
path_in(char *dst, size_t dstsz, const struct interop *ix, const char *rel)
{
	int n;

	n = snprintf(dst, dstsz, "%s/%s", ix->dir, rel);
	assert_true(n > 0 && (size_t)n < dstsz);
}

static void
test_openssl_tokens(void **state)
{
	struct interop *ix = *state;
	struct buf cases = BUF_INIT, tok = BUF_INIT;
	struct auth_principal p;
	size_t seen[NRESULTS] = { 0 }, ncases = 0, failed = 0, i;
	char path[PATH_MAX + 64], *line, *next, *tab;
	enum auth_result got;
	int want;

	path_in(path, sizeof(path), ix, "cases");
	assert_int_equal(slurp(path, &cases), 0);
	for (line = cases.data; line != NULL && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((tab = strchr(line, '\t')) == NULL)
			fail_msg("cases: bad line '%s'", line);
		*tab++ = '\0';
		if ((want = result_parse(tab)) < 0)
			fail_msg("cases: %s: unknown result '%s'", line, tab);
		snprintf(path, sizeof(path), "%s/tokens/%s.jwt", ix->dir, line);
		if (slurp(path, &tok) == -1)
			fail_msg("cannot read %s", path);
		assert_int_equal(strlen(tok.data), tok.len);
		got = auth_verify(ix->ks, &ix->pol, tok.data, INTEROP_NOW, &p);
		auth_principal_free(&p);
		if (got != result_names[want].r) {
			print_error("%s: got %s (%s), want %s\n", line,
			    result_names[got].name, auth_result_reason(got),
			    tab);
			failed++;
		}
		seen[want]++;
		ncases++;
	}
	buf_free(&cases);
	buf_free(&tok);
	if (failed)
		fail_msg("%zu of %zu openssl-made tokens failed", failed,
		    ncases);
	if (ncases < MIN_CASES)
		fail_msg("only %zu cases, expected at least %d", ncases,
		    MIN_CASES);
	/* Every outcome is exercised by at least one openssl-made token. */
	for (i = 0; i < NRESULTS; i++)
		if (seen[i] == 0)
			fail_msg("no case expects '%s'", result_names[i].name);
}

static void
test_openssl_principal(void **state)
{
	static const char *const names[] = { "hs256-ok", "rs256-ok",
	    "es256-ok" };
	struct interop *ix = *state;
	struct buf tok = BUF_INIT;
	struct auth_principal p;
	char path[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/tokens/%s.jwt", ix->dir,
		    names[i]);
		assert_int_equal(slurp(path, &tok), 0);
		assert_int_equal(auth_verify(ix->ks, &ix->pol, tok.data,
		    INTEROP_NOW, &p), AUTH_OK);
		assert_string_equal(p.sub, "interop-user");
		assert_string_equal(p.tenant_id, "t1");
		assert_int_equal(p.nroles, 1);
		assert_string_equal(p.roles[0], "TENANT_ADMIN");
		assert_int_equal(p.exp, INTEROP_NOW + 3600);
		auth_principal_free(&p);
		/* An hour later (past the leeway) the same token expired. */
		assert_int_equal(auth_verify(ix->ks, &ix->pol, tok.data,
		    INTEROP_NOW + 3600 + INTEROP_LEEWAY, &p), AUTH_ERR_EXPIRED);
	}
	buf_free(&tok);
}

/* The JWKS that jwt-openssl printed: shape RFC 7518 section 6 asks for. */
static void
test_openssl_jwks(void **state)
{
	struct interop *ix = *state;
	char path[PATH_MAX + 64], err[512];
	struct auth_keyset *ks;
	json_t *root, *keys, *rsa, *ec;
	const char *n;

	path_in(path, sizeof(path), ix, "jwks.json");
	assert_non_null(root = json_load_file(path, JSON_REJECT_DUPLICATES,
	    NULL));
	keys = json_object_get(root, "keys");
	assert_int_equal(json_array_size(keys), 2);
	rsa = json_array_get(keys, 0);
	ec = json_array_get(keys, 1);
	assert_string_equal(json_string_value(json_object_get(rsa, "kty")),
	    "RSA");
	assert_string_equal(json_string_value(json_object_get(rsa, "e")),
	    "AQAB");
	/* 2048-bit modulus without a leading zero byte: 256 bytes, 342 chars;
	 * its first character encodes the top bit, which is set. */
	n = json_string_value(json_object_get(rsa, "n"));
	assert_non_null(n);
	assert_int_equal(strlen(n), 342);
	assert_non_null(strchr("ghijklmnopqrstuvwxyz0123456789-_", n[0]));
	assert_string_equal(json_string_value(json_object_get(ec, "crv")),
	    "P-256");
	assert_int_equal(strlen(json_string_value(json_object_get(ec, "x"))),
	    43);
	assert_int_equal(strlen(json_string_value(json_object_get(ec, "y"))),
	    43);
	json_decref(root);

	/* The JWKS alone loads; only HS256 tokens then lack a key. */
	if (auth_keyset_load(&ks, path, NULL, 0, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	auth_keyset_free(ks);
}

/* --- fixture setup, in main() (the one place with mutable state) --------- */

static int
find_root(const char *argv0, char *root, size_t rootsz)
{
	static const char *const ups[] = { "", "/..", "/../..", "/../../.." };
	char self[PATH_MAX], gen[PATH_MAX + 64];
	const char *env, *slash;
	size_t i;

	if ((env = getenv("ROOT")) != NULL && *env != '\0') {
		snprintf(root, rootsz, "%s", env);
		return 0;
	}
	snprintf(root, rootsz, ".");
	if (access(GENERATOR, X_OK) == 0)
		return 0;
	if ((slash = strrchr(argv0, '/')) == NULL)
		return -1;
	snprintf(self, sizeof(self), "%.*s", (int)(slash - argv0), argv0);
	for (i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
		snprintf(root, rootsz, "%s%s", self, ups[i]);
		snprintf(gen, sizeof(gen), "%s/%s", root, GENERATOR);
		if (access(gen, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* Run ROOT/tests/jwt-interop-fixtures DIR (no shell involved). */
static int
generate(const char *root, const char *dir)
{
	char gen[PATH_MAX + 64];
	pid_t pid;
	int status;

	snprintf(gen, sizeof(gen), "%s/%s", root, GENERATOR);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		execl(gen, gen, dir, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		continue;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
load_keyset(struct interop *ix)
{
	char jwks[PATH_MAX + 64], secret[PATH_MAX + 64], err[512];
	struct buf s = BUF_INIT;
	int rc;

	snprintf(jwks, sizeof(jwks), "%s/jwks.json", ix->dir);
	snprintf(secret, sizeof(secret), "%s/hs256.secret", ix->dir);
	if (slurp(secret, &s) == -1) {
		fprintf(stderr, "test_auth_interop: cannot read %s\n", secret);
		return -1;
	}
	rc = auth_keyset_load(&ix->ks, jwks, (const unsigned char *)s.data,
	    s.len, INTEROP_HS_KID, err, sizeof(err));
	buf_free(&s);
	if (rc == -1)
		fprintf(stderr, "test_auth_interop: %s\n", err);
	return rc;
}

int
main(int argc, char **argv)
{
	struct interop ix;
	const char *env, *tmp;
	char root[PATH_MAX];
	int rc = 1;

	(void)argc;
	memset(&ix, 0, sizeof(ix));
	if ((env = getenv("AUTH_INTEROP_DIR")) != NULL && *env != '\0')
		snprintf(ix.dir, sizeof(ix.dir), "%s", env);
	else {
		if (find_root(argv[0], root, sizeof(root)) == -1) {
			fprintf(stderr, "test_auth_interop: cannot find %s, "
			    "run from the repository root or set ROOT\n",
			    GENERATOR);
			return 1;
		}
		tmp = getenv("TMPDIR");
		snprintf(ix.dir, sizeof(ix.dir), "%s/auth-interop.XXXXXX",
		    tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(ix.dir) == NULL) {
			perror("test_auth_interop: mkdtemp");
			return 1;
		}
		ix.generated = true;
		if (generate(root, ix.dir) == -1) {
			fprintf(stderr, "test_auth_interop: %s/%s %s failed\n",
			    root, GENERATOR, ix.dir);
			goto out;
		}
	}
	if (load_keyset(&ix) == -1)
		goto out;
	ix.pol.issuer = INTEROP_ISS;
	ix.pol.audience = INTEROP_AUD;
	ix.pol.leeway_seconds = INTEROP_LEEWAY;
	ix.pol.max_token_bytes = 8192;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_openssl_tokens, &ix),
		cmocka_unit_test_prestate(test_openssl_principal, &ix),
		cmocka_unit_test_prestate(test_openssl_jwks, &ix),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
out:
	auth_keyset_free(ix.ks);
	if (ix.generated)
		(void)nftw(ix.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
