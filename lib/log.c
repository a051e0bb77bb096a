#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "utf8.h"

/*
 * Written once by log_init() from main() before threads exist, read-only
 * afterwards: the one piece of process-wide state the library keeps.
 */
static struct {
	char		 binary[64];
	enum log_level	 level;
	enum log_format	 format;
} log_settings = { "ops", LOG_INFO, LOG_FORMAT_JSON };

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
log_init(const char *binary, enum log_level level, enum log_format fmt)
{
	snprintf(log_settings.binary, sizeof(log_settings.binary), "%s", binary);
	log_settings.level = level;
	log_settings.format = fmt;
}

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

int
log_format_parse(const char *s)
{
	if (strcmp(s, "json") == 0)
		return LOG_FORMAT_JSON;
	if (strcmp(s, "text") == 0)
		return LOG_FORMAT_TEXT;
	return -1;
}

static void
log_timestamp(char *out, size_t outsz)
{
	struct timeval tv;
	struct tm tm;
	char base[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outsz, "%s.%03dZ", base, (int)(tv.tv_usec / 1000));
}

/*
 * Append s for a text-format line: a control character (C0 or DEL) becomes
 * \xHH and a backslash \\, so that no field, whoever chose its bytes (a
 * token's sub, a request path), can end the line or forge another one.
 */
static void
text_append(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run = p;

	for (; *p != '\0'; p++) {
		if (*p >= 0x20 && *p != 0x7f && *p != '\\')
			continue;
		buf_append(b, run, (size_t)(p - run));
		if (*p == '\\') {
			buf_append(b, "\\\\", 2);
		} else {
			char e[4] = { '\\', 'x', hex[*p >> 4], hex[*p & 0xf] };

			buf_append(b, e, sizeof(e));
		}
		run = p + 1;
	}
	buf_append(b, run, (size_t)(p - run));
}

/*
 * s as a JSON string: a byte that does not start a well-formed UTF-8
 * sequence (lib/utf8.h) is written as the text \xHH, so jansson, which
 * refuses invalid UTF-8, never drops the field. NULL only out of memory.
 */
static json_t *
json_text(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, k;
	struct buf b = BUF_INIT;
	json_t *j;

	while (i < n) {
		if ((k = utf8_decode(p + i, n - i, NULL)) > 0) {
			buf_append(&b, p + i, k);
			i += k;
		} else {
			char e[4] = { '\\', 'x', hex[p[i] >> 4],
			    hex[p[i] & 0xf] };

			buf_append(&b, e, sizeof(e));
			i++;
		}
	}
	j = json_stringn(buf_str(&b), b.len);
	buf_free(&b);
	return j;
}

void
log_kv(enum log_level lv, const char *key, const char *val, const char *fmt, ...)
{
	struct buf msg = BUF_INIT, line = BUF_INIT;
	char ts[40];
	va_list ap;

	if (lv < log_settings.level)
		return;
	va_start(ap, fmt);
	buf_vappendf(&msg, fmt, ap);
	va_end(ap);
	log_timestamp(ts, sizeof(ts));

	if (log_settings.format == LOG_FORMAT_TEXT) {
		buf_appendf(&line, "%s %s %s: ", ts, log_settings.binary,
		    level_names[lv]);
		if (key && val) {
			buf_appendc(&line, '[');
			text_append(&line, key);
			buf_appendc(&line, '=');
			text_append(&line, val);
			buf_appends(&line, "] ");
		}
		text_append(&line, buf_str(&msg));
		buf_appendc(&line, '\n');
	} else {
		json_t *o = json_object();
		char *s = NULL;

		/* no xjson here: a BUG() would log again */
		if (o && json_object_set_new(o, "ts", json_string(ts)) == 0 &&
		    json_object_set_new(o, "level",
		    json_string(level_names[lv])) == 0 &&
		    json_object_set_new(o, "binary",
		    json_text(log_settings.binary)) == 0 &&
		    (key == NULL || val == NULL ||
		    json_object_set_new(o, key, json_text(val)) == 0) &&
		    json_object_set_new(o, "msg", json_text(buf_str(&msg))) == 0)
			s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (s) {
			buf_appends(&line, s);
			buf_appendc(&line, '\n');
			free(s);
		} else {
			/* out of memory, or a key that is not UTF-8 */
			buf_appendf(&line, "%s %s %s: ", ts,
			    log_settings.binary, level_names[lv]);
			text_append(&line, buf_str(&msg));
			buf_appendc(&line, '\n');
		}
	}
	if (write(STDERR_FILENO, line.data, line.len) < 0) {
		/* nothing sensible left to do: stderr is gone */
	}
	buf_free(&msg);
	buf_free(&line);
}
