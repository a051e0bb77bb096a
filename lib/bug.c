#include "bug.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

void
bug_at(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	/* a fixed buffer: BUG() may come from inside buf.c */
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	log_error("BUG: %s:%d: %s", file, line, msg);
	abort();
}
