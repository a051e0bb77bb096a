/*
 * fuzz_config: the YAML configuration loader (lib/config.c) on libyaml.
 *
 * The input is the file's text, loaded from a memfd through its
 * /proc/self/fd path. Inputs naming a secret file ("_file") are skipped:
 * the loader would read whatever path the fuzzer writes (a FIFO or a
 * terminal would hang the run). Oracles: success and failure are exclusive
 * (a failure has a message that starts with the file's path, a success
 * none), a loaded config passes its own relation checks (max_rows within
 * max_rows_cap, ...), and loading the same text twice gives the same
 * answer.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static int
load(const uint8_t *data, size_t size, struct ops_config *cfg, char *err,
    size_t errsz, char *path, size_t pathsz)
{
	int fd = memfd_create("ops-fuzz-config", MFD_CLOEXEC), rc;

	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	snprintf(path, pathsz, "/proc/self/fd/%d", fd);
	err[0] = '\0';
	rc = config_load(cfg, path, err, errsz);
	close(fd);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ops_config a, b;
	char erra[600], errb[600], path[64];
	int ra, rb;

	if (memmem(data, size, "_file", 5) != NULL)
		return 0;
	ra = load(data, size, &a, erra, sizeof(erra), path, sizeof(path));
	FUZZ_CHECK(ra == 0 || ra == -1);
	if (ra != 0) {
		FUZZ_CHECK(strncmp(erra, path, strlen(path)) == 0 ||
		    strncmp(erra, "environment ", 12) == 0);
	} else {
		FUZZ_CHECK(a.export.max_rows <= a.export.max_rows_cap);
		FUZZ_CHECK(a.export.max_bytes <= a.export.max_bytes_cap);
		FUZZ_CHECK(a.locks.heartbeat_seconds <
		    a.locks.stale_after_seconds);
		FUZZ_CHECK(a.auth.jwks_file == NULL ||
		    (a.auth.issuer != NULL && a.auth.audience != NULL));
	}
	rb = load(data, size, &b, errb, sizeof(errb), path, sizeof(path));
	FUZZ_CHECK(ra == rb);
	if (ra == 0) {
		FUZZ_CHECK(a.fcgi.threads == b.fcgi.threads &&
		    a.export.max_rows == b.export.max_rows);
		config_free(&a);
		config_free(&b);
	}
	return 0;
}
