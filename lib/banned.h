/*
 * banned.h: functions this project does not call, enforced at compile time
 * (git's banned.h). The Makefile force-includes this file into every
 * translation unit (-include lib/banned.h), so a call such as
 *
 *	strcpy(dst, src);
 *
 * fails the build with "'sorry_strcpy_is_a_banned_function' undeclared".
 * Use instead: snprintf / buf_appendf (sprintf, vsprintf), buf_append* or
 * memcpy with a checked length (strcpy, strcat, strncpy, strncat),
 * strtol / strtoll with end and errno checks (atoi, atol, atoll), strtok_r
 * or a hand-written split (strtok), fgets / getline (gets), gmtime_r /
 * localtime_r / strftime (gmtime, localtime, ctime, asctime: shared static
 * buffers, not thread-safe).
 *
 * The system headers that declare them are included first, so their
 * declarations are read before the macros exist; only calls in our own
 * code hit the macros.
 */
#ifndef OPS_BANNED_H
#define OPS_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef strtok
#define strtok(x, y) BANNED(strtok)

#undef sprintf
#undef vsprintf
#define sprintf(...) BANNED(sprintf)
#define vsprintf(...) BANNED(vsprintf)

#undef gets
#define gets(x) BANNED(gets)

#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef atoll
#define atoll(x) BANNED(atoll)

#undef gmtime
#define gmtime(t) BANNED(gmtime)
#undef localtime
#define localtime(t) BANNED(localtime)
#undef ctime
#define ctime(t) BANNED(ctime)
#undef asctime
#define asctime(t) BANNED(asctime)

#endif
