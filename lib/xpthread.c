#include "xpthread.h"

#include <string.h>

#include "bug.h"

void
xpthread_at(const char *file, int line, const char *call, int rc)
{
	if (rc != 0)
		bug_at(file, line, "%s failed: %s", call, strerror(rc));
}
