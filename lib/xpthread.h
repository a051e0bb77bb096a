/*
 * xpthread: the one check of pthread calls that cannot fail in a correct
 * program (mutex, rwlock and condition variable init, lock, unlock, wait,
 * broadcast, destroy; join). A non-zero return is a BUG() naming the call
 * and its error text:
 *
 *   xpthread(pthread_mutex_lock(&mu));
 *   -> BUG: lib/export_runner.c:515: pthread_mutex_lock(&mu) failed: ...
 *
 * Calls that may fail for reasons outside the program (pthread_create:
 * EAGAIN) are checked by their caller, which logs strerror() and stops
 * cleanly instead.
 */
#ifndef OPS_XPTHREAD_H
#define OPS_XPTHREAD_H

#define xpthread(call)	xpthread_at(__FILE__, __LINE__, #call, (call))

void	xpthread_at(const char *file, int line, const char *call, int rc);

#endif
