#include "clock.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "bug.h"

double
mono_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		BUG("clock_gettime(CLOCK_MONOTONIC) failed: %s",
		    strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
