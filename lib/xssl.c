#include "xssl.h"

#include <openssl/err.h>
#include <stdio.h>

#include "bug.h"

const char *
ssl_error_text(char *buf, size_t bufsz)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, bufsz, "no OpenSSL error queued");
	else
		ERR_error_string_n(e, buf, bufsz);
	ERR_clear_error();
	return buf;
}

void
xssl_at(const char *file, int line, bool ok, const char *what)
{
	char err[256];

	if (!ok)
		bug_at(file, line, "%s failed: %s", what,
		    ssl_error_text(err, sizeof(err)));
}
