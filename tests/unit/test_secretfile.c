/* secretfile: the one secret-file reader (config and notion). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secretfile.h"

static char dir[] = "/tmp/test_secretfile.XXXXXX";

/* Write len bytes to dir/name; return the path (static buffer). */
static const char *
put(const char *name, const void *data, size_t len)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* The secret read from content (len bytes), or NULL with err set. */
static char *
read_content(const void *content, size_t len, char *err, size_t errsz)
{
	return secret_file_read(put("s", content, len), err, errsz);
}

static void
expect_secret(const char *content, const char *want)
{
	char err[256] = "";
	char *got = read_content(content, strlen(content), err, sizeof(err));

	if (got == NULL)
		fail_msg("\"%s\": error %s", content, err);
	if (strcmp(got, want) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", content, got, want);
	free(got);
}

static void
test_line_endings(void **state)
{
	(void)state;
	expect_secret("s3cret", "s3cret");
	expect_secret("s3cret\n", "s3cret");
	expect_secret("s3cret\r\n", "s3cret");
	expect_secret("s3cret\r", "s3cret");
	/* only one line ending goes */
	expect_secret("s3cret\n\n", "s3cret\n");
	expect_secret("s3cret\r\n\r\n", "s3cret\r\n");
	/* other whitespace is part of the secret */
	expect_secret(" s3cret \t\n", " s3cret \t");
	expect_secret("a\nb\n", "a\nb");
	expect_secret("", "");
	expect_secret("\n", "");
}

static void
test_errors(void **state)
{
	char err[256], big[SECRET_FILE_MAX + 1];
	char *s;

	(void)state;
	assert_null(read_content("Pa55w0rdQ\0cd\n", 13, err, sizeof(err)));
	assert_non_null(strstr(err, "contains a NUL byte"));
	assert_null(strstr(err, "Pa55w0rdQ"));	/* never the content */

	memset(big, 'x', sizeof(big));
	assert_non_null(s = read_content(big, SECRET_FILE_MAX, err,
	    sizeof(err)));
	assert_int_equal(strlen(s), SECRET_FILE_MAX);
	free(s);
	/* one byte more is too large, even if it is the newline */
	big[SECRET_FILE_MAX] = '\n';
	assert_null(read_content(big, sizeof(big), err, sizeof(err)));
	assert_non_null(strstr(err, "larger than 64 KiB"));

	assert_null(secret_file_read("/nonexistent/secret", err, sizeof(err)));
	assert_non_null(strstr(err, "cannot read secret file "
	    "/nonexistent/secret: No such file"));
	assert_null(secret_file_read(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "is not a regular file"));
	assert_null(secret_file_read("/dev/null", err, sizeof(err)));
	assert_non_null(strstr(err, "is not a regular file"));
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/s", dir);
	unlink(path);
	return rmdir(dir);
}

/*
 * Issue 20, L6: secrets are wiped before they are freed. config_free()
 * releases every secret with secret_free() = secret_wipe() + free(); the
 * wipe is tested here on memory the test owns (freed memory cannot be
 * inspected reliably).
 */
static void
test_wipe(void **state)
{
	char buf[16];

	(void)state;
	memcpy(buf, "hunter2-secret\0Z", 16);
	secret_wipe(buf);
	for (size_t i = 0; i < 15; i++)
		if (buf[i] != '\0')
			fail_msg("byte %zu not wiped: 0x%02x", i,
			    (unsigned char)buf[i]);
	assert_int_equal(buf[15], 'Z');	/* nothing past the NUL touched */
	secret_wipe(NULL);
	secret_free(NULL);
	secret_free(strdup("x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
