/* config: YAML to struct, defaults, ranges, types, unknown keys, env, _file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char *
write_tmp(const char *text)
{
	char *path = strdup("/tmp/ops-test-config-XXXXXX");
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Load text; expect failure whose message contains want (with the file name
 * and the line prefixed when line > 0). */
static void
expect_error(const char *text, int line, const char *want)
{
	struct ops_config cfg;
	char err[512], loc[128];
	char *path = write_tmp(text);

	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
	if (line > 0) {
		snprintf(loc, sizeof(loc), "%s:%d: ", path, line);
		if (strncmp(err, loc, strlen(loc)) != 0)
			fail_msg("error \"%s\" does not start with \"%s\"", err, loc);
	}
	unlink(path);
	free(path);
}

static void
test_defaults(void **state)
{
	struct ops_config cfg;
	char err[256];

	(void)state;
	unsetenv("OPS_DATABASE_URL");
	assert_int_equal(config_load(&cfg, NULL, err, sizeof(err)), 0);
	assert_int_equal(cfg.export.max_range_days, 31);
	assert_int_equal(cfg.export.max_rows, 1000000);
	assert_int_equal(cfg.export.max_rows_cap, 5000000);
	assert_int_equal(cfg.export.max_bytes, 512LL * 1024 * 1024);
	assert_int_equal(cfg.export.max_bytes_cap, 2LL * 1024 * 1024 * 1024);
	assert_int_equal(cfg.export.max_duration_seconds, 900);
	assert_int_equal(cfg.export.chunk_bytes, 1024 * 1024);
	assert_int_equal(cfg.export.ttl_hours, 24);
	assert_int_equal(cfg.export.max_active_per_tenant, 2);
	assert_int_equal(cfg.export.max_attempts, 3);
	assert_int_equal(cfg.export.lease_seconds, 60);
	assert_int_equal(cfg.auth.leeway_seconds, 60);
	assert_null(cfg.database.url);
	assert_int_equal(config_require(&cfg, CONFIG_NEED_DATABASE, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "database.url is not set"));
	config_free(&cfg);
}

static void
test_full_file(void **state)
{
	struct ops_config cfg;
	char err[256];
	char *path = write_tmp(
	    "# comment\n"
	    "database:\n"
	    "  url: \"postgresql:///ops\"\n"
	    "fcgi:\n"
	    "  threads: 3\n"
	    "export:\n"
	    "  max_bytes: 100 MiB\n"
	    "  chunk_bytes: 65536\n"
	    "  ttl_hours: 48\n"
	    "sanitizer:\n"
	    "  extra_keys: [ssn, \"pin-code\"]\n"
	    "log:\n"
	    "  level: debug\n");

	(void)state;
	unsetenv("OPS_DATABASE_URL");
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg.database.url, "postgresql:///ops");
	assert_int_equal(cfg.fcgi.threads, 3);
	assert_int_equal(cfg.export.max_bytes, 100LL * 1024 * 1024);
	assert_int_equal(cfg.export.chunk_bytes, 65536);
	assert_int_equal(cfg.export.ttl_hours, 48);
	assert_int_equal(cfg.sanitizer.n_extra_keys, 2);
	assert_string_equal(cfg.sanitizer.extra_keys[1], "pin-code");
	assert_string_equal(cfg.log.level, "debug");
	assert_int_equal(config_require(&cfg, CONFIG_NEED_DATABASE, err,
	    sizeof(err)), 0);
	config_free(&cfg);
	unlink(path);
	free(path);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("export:\n  ttl_hours: 0\n", 2,
	    "export.ttl_hours must be between 1 and 720, got 0");
	expect_error("fcgi:\n  threads: many\n", 2,
	    "fcgi.threads must be an integer, got \"many\"");
	expect_error("fcgi:\n  threads: \"4\"\n", 2, "must be an integer");
	expect_error("export:\n  colour: blue\n", 2, "unknown key export.colour");
	expect_error("exports:\n  ttl_hours: 3\n", 1, "unknown section exports");
	/* the list comes from the key table, in its order */
	expect_error("exports:\n  ttl_hours: 3\n", 1, "(expected one of database, "
	    "fcgi, auth, export, locks, events, webhooks, sanitizer, ");
	expect_error("export:\n  ttl_hours: 3\n  ttl_hours: 4\n", 3,
	    "duplicate key export.ttl_hours");
	expect_error("export: 3\n", 1, "section export must be a mapping");
	expect_error("log:\n  level: loud\n", 2,
	    "log.level must be one of debug|info|warn|error");
	expect_error("database:\n  url: [a, b]\n", 2,
	    "database.url must be a secret, got a list");
	expect_error("sanitizer:\n  extra_keys: ssn\n", 2,
	    "must be a list of strings");
	expect_error("sanitizer:\n  extra_keys:\n    - ssn\n    - \"_-\"\n", 4,
	    "sanitizer.extra_keys: \"_-\" is empty once");
	expect_error("export:\n  max_rows: 6000000\n", 0,
	    "export.max_rows (6000000) must not exceed export.max_rows_cap");
	expect_error("export:\n  max_bytes: 12 parsecs\n", 2, "byte size");
	expect_error("export:\n  ttl_hours: \"unterminated\n", 0, "invalid YAML");
	expect_error("- a\n- b\n", 1, "top level must be a mapping");
	expect_error("a: &x 1\nb: *x\n", 0, "");
	/* issue 10, defect 7: public keys need issuer and audience */
	expect_error("log:\n  level: info\nauth:\n  jwks_file: /j.json\n", 4,
	    "auth.jwks_file is set but auth.issuer is not");
	expect_error("auth:\n  issuer: https://idp.test/\n"
	    "  jwks_file: /j.json\n", 3,
	    "auth.jwks_file is set but auth.audience is not");
	expect_error("auth:\n  max_token_lifetime_seconds: 0\n", 2,
	    "auth.max_token_lifetime_seconds must be between 60 and 2592000");
}

static void
test_auth_policy_keys(void **state)
{
	struct ops_config cfg;
	char err[256];
	char *path = write_tmp(
	    "auth:\n"
	    "  jwks_file: /etc/ops/jwks.json\n"
	    "  issuer: https://idp.test/\n"
	    "  audience: ops-api\n"
	    "  max_token_lifetime_seconds: 3600\n"
	    "  required_typ: at+jwt\n");

	(void)state;
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(cfg.auth.max_token_lifetime_seconds, 3600);
	assert_string_equal(cfg.auth.required_typ, "at+jwt");
	config_free(&cfg);
	unlink(path);
	free(path);
	/* defaults: one day, typ not required */
	assert_int_equal(config_load(&cfg, NULL, err, sizeof(err)), 0);
	assert_int_equal(cfg.auth.max_token_lifetime_seconds, 86400);
	assert_null(cfg.auth.required_typ);
	config_free(&cfg);
}

static void
test_env_and_file_secrets(void **state)
{
	struct ops_config cfg;
	char err[256];
	char *secret = write_tmp("from-file-secret\n");
	char text[512];
	char *path;

	(void)state;
	snprintf(text, sizeof(text), "database:\n  url_file: %s\n", secret);
	path = write_tmp(text);
	unsetenv("OPS_DATABASE_URL");
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg.database.url, "from-file-secret");
	config_free(&cfg);

	setenv("OPS_DATABASE_URL", "from-env", 1);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg.database.url, "from-env");
	config_free(&cfg);
	unsetenv("OPS_DATABASE_URL");

	snprintf(text, sizeof(text), "database:\n  url_file: /nonexistent/x\n");
	unlink(path);
	free(path);
	path = write_tmp(text);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot read secret file /nonexistent/x"));
	/* the key is named as in the file, not "url_file_file" */
	assert_non_null(strstr(err, ": database.url_file: "));
	unlink(path);
	unlink(secret);
	free(path);
	free(secret);
}

static void
test_bytes(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(config_parse_bytes("1024", &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(config_parse_bytes("2GiB", &v), 0);
	assert_int_equal(v, 2LL << 30);
	assert_int_equal(config_parse_bytes("1 KiB", &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(config_parse_bytes("-1", &v), -1);
	assert_int_equal(config_parse_bytes("1 kib", &v), -1);
	assert_int_equal(config_parse_bytes("", &v), -1);
	assert_int_equal(config_parse_bytes("99999999999999999999GiB", &v), -1);
}

/*
 * The notion: section is the Notion component's (notion/settings.c): the
 * core skips it unread, so nothing in it (a token file that does not
 * exist, values of any shape, the NOTION_* environment) can stop ops-fcgi
 * or any other core binary. Other unknown sections are still refused.
 */
static void
test_notion_section_skipped(void **state)
{
	struct ops_config cfg;
	char err[512];
	char *path = write_tmp(
	    "notion:\n"
	    "  token_file: /nonexistent/notion-token\n"
	    "  api_base: http://not-loopback.example\n"
	    "  targets: [page, {deep: [1, 2]}]\n"
	    "  token_warn_days: -3\n"
	    "database:\n"
	    "  url: postgresql:///ops\n");

	(void)state;
	setenv("NOTION_TOKEN_WARN_DAYS", "-3", 1);
	setenv("NOTION_TOKEN_FILE", "/nonexistent/notion-token", 1);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg.database.url, "postgresql:///ops");
	assert_int_equal(config_require(&cfg, CONFIG_NEED_DATABASE, err,
	    sizeof(err)), 0);
	config_free(&cfg);
	unsetenv("NOTION_TOKEN_WARN_DAYS");
	unsetenv("NOTION_TOKEN_FILE");
	unlink(path);
	free(path);

	expect_error("notion: {}\nnotion: {}\n", 2, "duplicate section notion");
	expect_error("notionx:\n  a: 1\n", 1, "unknown section notionx "
	    "(expected one of database, fcgi, auth, export, locks, events, "
	    "webhooks, sanitizer, log, notion)");
}

/* fcgi.listen_address: exclusive with socket_path; allowed_peers needs it */
static void
test_fcgi_listen(void **state)
{
	static const struct {
		const char *fcgi, *want;
	} cases[] = {
		{ "  listen_address: \"10.0.0.2:9000\"\n"
		  "  allowed_peers: \"10.0.0.1\"\n", NULL },
		{ "  listen_address: \"10.0.0.2:9000\"\n"
		  "  socket_path: /run/ops/ops-fcgi.sock\n",
		  "fcgi.socket_path and fcgi.listen_address are both set" },
		{ "  allowed_peers: \"10.0.0.1\"\n",
		  "fcgi.allowed_peers is set but fcgi.listen_address is not" },
	};
	char text[512], err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ops_config cfg;
		char *path;

		snprintf(text, sizeof(text), "fcgi:\n%s", cases[i].fcgi);
		path = write_tmp(text);
		assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
		if (cases[i].want == NULL) {
			assert_int_equal(config_require(&cfg, CONFIG_NEED_FCGI,
			    err, sizeof(err)), 0);
			assert_string_equal(cfg.fcgi.listen_address,
			    "10.0.0.2:9000");
			assert_string_equal(cfg.fcgi.allowed_peers, "10.0.0.1");
		} else {
			assert_int_equal(config_require(&cfg, CONFIG_NEED_FCGI,
			    err, sizeof(err)), -1);
			if (strstr(err, cases[i].want) == NULL)
				fail_msg("error \"%s\" does not contain \"%s\"",
				    err, cases[i].want);
		}
		config_free(&cfg);
		unlink(path);
		free(path);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_auth_policy_keys),
		cmocka_unit_test(test_env_and_file_secrets),
		cmocka_unit_test(test_notion_section_skipped),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_fcgi_listen),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
