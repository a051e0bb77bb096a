#include "lockstate.h"

#include <stdint.h>
#include <string.h>

#include "utf8.h"

bool
lock_holder_is_local(const struct lock_facts *f, const struct lock_self *self)
{
	if (!f->held || self == NULL || self->host == NULL ||
	    self->boot_id == NULL || self->boot_id[0] == '\0')
		return false;
	if (f->host == NULL || f->boot_id == NULL || f->boot_id[0] == '\0' ||
	    f->pid <= 0 || f->started_at < 0)
		return false;
	return strcmp(f->host, self->host) == 0 &&
	    strcmp(f->boot_id, self->boot_id) == 0;
}

enum lock_state
lock_classify(const struct lock_facts *f, double now, int stale_after,
    const struct lock_self *self, enum lock_proc proc, const char **why)
{
	const char *w = "";
	enum lock_state s;

	if (!f->held) {
		s = LOCK_STATE_FREE;
	} else if (lock_holder_is_local(f, self) && proc == LOCK_PROC_GONE) {
		s = LOCK_STATE_ORPHANED;
		w = "process gone";
	} else if (lock_holder_is_local(f, self) && proc == LOCK_PROC_REUSED) {
		s = LOCK_STATE_ORPHANED;
		w = "pid reused by another process";
	} else if (f->lease_until <= now) {
		s = LOCK_STATE_EXPIRED;
		w = "lease over";
	} else if (now - f->heartbeat_at > (double)stale_after) {
		s = LOCK_STATE_STALE;
		w = "heartbeat older than stale_after";
	} else {
		s = LOCK_STATE_HELD;
	}
	if (why)
		*why = w;
	return s;
}

const char *
lock_state_name(enum lock_state s)
{
	switch (s) {
	case LOCK_STATE_FREE:		return "FREE";
	case LOCK_STATE_HELD:		return "HELD";
	case LOCK_STATE_STALE:		return "STALE";
	case LOCK_STATE_EXPIRED:	return "EXPIRED";
	case LOCK_STATE_ORPHANED:	return "ORPHANED";
	}
	return "?";
}

const char *
lock_state_reason(enum lock_state s)
{
	switch (s) {
	case LOCK_STATE_STALE:		return "stale";
	case LOCK_STATE_EXPIRED:	return "expired";
	case LOCK_STATE_ORPHANED:	return "orphaned";
	default:			return "";
	}
}

bool
lock_state_recoverable(enum lock_state s)
{
	return s == LOCK_STATE_STALE || s == LOCK_STATE_EXPIRED ||
	    s == LOCK_STATE_ORPHANED;
}

static bool
name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '_' || c == '.' || c == ':' || c == '-');
}

bool
lock_name_valid(const char *name)
{
	size_t n;

	if (name == NULL || (n = strlen(name)) == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(name[i], i == 0))
			return false;
	return true;
}

bool
lock_reason_valid(const char *reason, const char **issue)
{
	const unsigned char *s = (const unsigned char *)reason;
	size_t chars = 0, left;
	bool blank = true;

	if (reason == NULL || reason[0] == '\0') {
		*issue = "is required: say why the lock is released";
		return false;
	}
	left = strlen(reason);
	while (left > 0) {
		uint32_t cp;
		size_t len = utf8_decode(s, left, &cp);

		if (len == 0) {
			*issue = "must be valid UTF-8";
			return false;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			*issue = "must not contain control characters";
			return false;
		}
		if (cp != ' ')
			blank = false;
		s += len;
		left -= len;
		if (++chars > LOCK_REASON_MAX_CHARS) {
			*issue = "must be at most 500 characters";
			return false;
		}
	}
	if (blank) {
		*issue = "must not be blank";
		return false;
	}
	return true;
}
