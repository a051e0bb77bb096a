/*
 * secretfile: read a secret (password, key, token) from a file, the one
 * reader (config's KEY_file / ENV_FILE and notion's NOTION_TOKEN_FILE used
 * to have two with different rules).
 *
 * Decided rules:
 *  - the path must name a regular file (not a directory, FIFO or device:
 *    a FIFO would hang the binary; systemd credentials are regular files);
 *  - at most SECRET_FILE_MAX bytes; a larger file is an error, not cut;
 *  - one trailing line ending is removed: "\n", "\r\n" or a lone "\r";
 *    only one, and nothing else (other whitespace is part of the secret);
 *  - a NUL byte anywhere is an error (the secret is used as a C string);
 *  - an empty result is returned as "" (the caller decides whether that
 *    is allowed);
 *  - the read buffer is wiped before it is released, and the error text
 *    names the path and the reason, never the content.
 */
#ifndef OPS_SECRETFILE_H
#define OPS_SECRETFILE_H

#include <stddef.h>

#define SECRET_FILE_MAX	(64 * 1024)

/*
 * Return the secret in path as a malloc'd C string (release it with
 * secret_free()), or NULL with one line in err, such as
 * "cannot read secret file /run/x: No such file or directory".
 */
char	*secret_file_read(const char *path, char *err, size_t errsz);

/*
 * Wipe a secret string in place: every byte up to its terminating NUL is
 * zeroed (explicit_bzero, which the compiler may not drop); the memory stays
 * the caller's. NULL is a no-op.
 */
void	 secret_wipe(char *s);

/* secret_wipe(), then free(): how every secret string is released. */
void	 secret_free(char *s);

#endif
