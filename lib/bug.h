/*
 * bug: BUG(fmt, ...) for a state a correct program never reaches, in the
 * style of git's BUG() (git-compat-util.h, usage.c). It logs one line at
 * level error, "BUG: FILE:LINE: message" (lib/log.h: one line on stderr,
 * which journald keeps), then abort()s, so the core dump and the log both
 * say where and why. Every abort() in lib/, fcgi/ and jobs/ goes through it
 * (xalloc.c's out-of-memory path and buf.c, below log.c, excepted: they
 * write the same "BUG: FILE:LINE:" form to stderr themselves).
 *
 * Never for an error a caller can handle: helpers return -1 and log.
 * The checked wrappers built on it: xjson.h (jansson), xpthread.h
 * (pthread), xssl.h (OpenSSL).
 */
#ifndef OPS_BUG_H
#define OPS_BUG_H

#define BUG(...)	bug_at(__FILE__, __LINE__, __VA_ARGS__)

_Noreturn void	bug_at(const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
