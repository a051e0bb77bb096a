#include "secretfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

char *
secret_file_read(const char *path, char *err, size_t errsz)
{
	char *s = xmalloc(SECRET_FILE_MAX + 2);
	size_t len = 0;
	struct stat st;
	const char *why = NULL;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errsz, "cannot read secret file %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		why = "is not a regular file";
		goto fail;
	}
	/* read one byte more than allowed to tell "too large" */
	while (len <= SECRET_FILE_MAX) {
		n = read(fd, s + len, SECRET_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errsz, "cannot read secret file %s: %s",
			    path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SECRET_FILE_MAX)
		why = "is larger than 64 KiB";
	else if (memchr(s, '\0', len) != NULL)
		why = "contains a NUL byte";
	if (why != NULL)
		goto fail;
	close(fd);
	if (len > 0 && s[len - 1] == '\n')
		len--;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	s[len] = '\0';
	return s;
fail:
	if (why != NULL)
		snprintf(err, errsz, "secret file %s %s", path, why);
	if (fd != -1)
		close(fd);
	explicit_bzero(s, SECRET_FILE_MAX + 2);
	free(s);
	return NULL;
}

void
secret_wipe(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
}

void
secret_free(char *s)
{
	secret_wipe(s);
	free(s);
}
