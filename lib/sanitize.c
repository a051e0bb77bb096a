#include "sanitize.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "digest.h"
#include "log.h"
#include "swar.h"
#include "utf8.h"
#include "xalloc.h"
#include "xjson.h"

/*
 * The built-in secret words, already normalized (lower case, no '_', '-',
 * '.'). A normalized key containing any of them is secret.
 */
static const char *const builtin_words[] = {
	"password", "passwd", "pwd", "secret", "token", "apikey",
	"authorization", "cookie", "session", "privatekey", "credential",
	"otp", "signature",
};
#define NBUILTIN	(sizeof(builtin_words) / sizeof(builtin_words[0]))

struct word {
	char	*s;
	size_t	 len;
};

/*
 * The words, sorted by first byte: those starting with byte c are
 * words[start[c]] .. words[start[c + 1] - 1]. Bit (a << 8 | b) of pair is
 * set when a word starts with bytes a, b: matching compares words only at
 * positions of the normalized key that start such a pair (and at every
 * position when some word is a single byte).
 */
struct sanitize_rules {
	struct word	*words;
	size_t		 nwords;
	size_t		 start[257];
	bool		 has_single;
	uint64_t	 pair[65536 / 64];
};

static const char redacted_json[] = "\"" SANITIZE_REDACTED "\"";
static const char truncated_json[] = "\"" SANITIZE_TRUNCATED "\"";

/* ---- key normalization and matching ---------------------------------- */

/*
 * Key normalization, one table look-up per byte: the low 8 bits are the
 * byte lower-cased (ASCII only), bit 8 is set unless the byte ('_', '-',
 * '.') is dropped.
 */
static const uint16_t norm_tab[256] = {
	0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107,
	0x108, 0x109, 0x10a, 0x10b, 0x10c, 0x10d, 0x10e, 0x10f,
	0x110, 0x111, 0x112, 0x113, 0x114, 0x115, 0x116, 0x117,
	0x118, 0x119, 0x11a, 0x11b, 0x11c, 0x11d, 0x11e, 0x11f,
	0x120, 0x121, 0x122, 0x123, 0x124, 0x125, 0x126, 0x127,
	0x128, 0x129, 0x12a, 0x12b, 0x12c, 0x02d, 0x02e, 0x12f,
	0x130, 0x131, 0x132, 0x133, 0x134, 0x135, 0x136, 0x137,
	0x138, 0x139, 0x13a, 0x13b, 0x13c, 0x13d, 0x13e, 0x13f,
	0x140, 0x161, 0x162, 0x163, 0x164, 0x165, 0x166, 0x167,
	0x168, 0x169, 0x16a, 0x16b, 0x16c, 0x16d, 0x16e, 0x16f,
	0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176, 0x177,
	0x178, 0x179, 0x17a, 0x15b, 0x15c, 0x15d, 0x15e, 0x05f,
	0x160, 0x161, 0x162, 0x163, 0x164, 0x165, 0x166, 0x167,
	0x168, 0x169, 0x16a, 0x16b, 0x16c, 0x16d, 0x16e, 0x16f,
	0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176, 0x177,
	0x178, 0x179, 0x17a, 0x17b, 0x17c, 0x17d, 0x17e, 0x17f,
	0x180, 0x181, 0x182, 0x183, 0x184, 0x185, 0x186, 0x187,
	0x188, 0x189, 0x18a, 0x18b, 0x18c, 0x18d, 0x18e, 0x18f,
	0x190, 0x191, 0x192, 0x193, 0x194, 0x195, 0x196, 0x197,
	0x198, 0x199, 0x19a, 0x19b, 0x19c, 0x19d, 0x19e, 0x19f,
	0x1a0, 0x1a1, 0x1a2, 0x1a3, 0x1a4, 0x1a5, 0x1a6, 0x1a7,
	0x1a8, 0x1a9, 0x1aa, 0x1ab, 0x1ac, 0x1ad, 0x1ae, 0x1af,
	0x1b0, 0x1b1, 0x1b2, 0x1b3, 0x1b4, 0x1b5, 0x1b6, 0x1b7,
	0x1b8, 0x1b9, 0x1ba, 0x1bb, 0x1bc, 0x1bd, 0x1be, 0x1bf,
	0x1c0, 0x1c1, 0x1c2, 0x1c3, 0x1c4, 0x1c5, 0x1c6, 0x1c7,
	0x1c8, 0x1c9, 0x1ca, 0x1cb, 0x1cc, 0x1cd, 0x1ce, 0x1cf,
	0x1d0, 0x1d1, 0x1d2, 0x1d3, 0x1d4, 0x1d5, 0x1d6, 0x1d7,
	0x1d8, 0x1d9, 0x1da, 0x1db, 0x1dc, 0x1dd, 0x1de, 0x1df,
	0x1e0, 0x1e1, 0x1e2, 0x1e3, 0x1e4, 0x1e5, 0x1e6, 0x1e7,
	0x1e8, 0x1e9, 0x1ea, 0x1eb, 0x1ec, 0x1ed, 0x1ee, 0x1ef,
	0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6, 0x1f7,
	0x1f8, 0x1f9, 0x1fa, 0x1fb, 0x1fc, 0x1fd, 0x1fe, 0x1ff,
};

/* Normalize len bytes of s into dst (room for len bytes); return its length. */
static size_t
norm_bytes(unsigned char *dst, const unsigned char *s, size_t len)
{
	size_t i, n = 0;
	unsigned int t;

	/* branch-free: write every byte, advance only over kept ones */
	for (i = 0; i < len; i++) {
		t = norm_tab[s[i]];
		dst[n] = (unsigned char)t;
		n += t >> 8;
	}
	return n;
}

/* Whether a word starting with nk[i] matches at position i of nk (n bytes). */
static inline bool
match_at(const struct sanitize_rules *r, const unsigned char *nk, size_t n,
    size_t i)
{
	const struct word *w = &r->words[r->start[nk[i]]];
	const struct word *last = &r->words[r->start[nk[i] + 1]];

	for (; w < last; w++)
		if (w->len <= n - i && memcmp(nk + i, w->s, w->len) == 0)
			return true;
	return false;
}

/* Whether the normalized key nk (n bytes) contains a secret word. */
static bool
norm_key_is_secret(const struct sanitize_rules *r, const unsigned char *nk,
    size_t n)
{
	unsigned int pair;
	size_t i;

	if (r->has_single) {
		for (i = 0; i < n; i++)
			if (match_at(r, nk, n, i))
				return true;
		return false;
	}
	for (i = 0; i + 1 < n; i++) {
		pair = (unsigned int)nk[i] << 8 | nk[i + 1];
		if ((r->pair[pair / 64] >> (pair % 64) & 1) &&
		    match_at(r, nk, n, i))
			return true;
	}
	return false;
}

/* Add a copy of s (len bytes), normalized; return its normalized length. */
static size_t
rules_add(struct sanitize_rules *r, const char *s, size_t len)
{
	struct word *w = &r->words[r->nwords++];

	w->s = xmalloc(len + 1);
	w->len = norm_bytes((unsigned char *)w->s, (const unsigned char *)s,
	    len);
	w->s[w->len] = '\0';
	return w->len;
}

static int
word_cmp(const void *a, const void *b)
{
	const struct word *x = a, *y = b;

	return (int)(unsigned char)x->s[0] - (int)(unsigned char)y->s[0];
}

/* Sort the words by first byte and index them (see struct sanitize_rules). */
static void
rules_index(struct sanitize_rules *r)
{
	unsigned int pair;
	size_t i, c;

	qsort(r->words, r->nwords, sizeof(*r->words), word_cmp);
	for (c = 0, i = 0; c < 256; c++) {
		r->start[c] = i;
		while (i < r->nwords && (unsigned char)r->words[i].s[0] == c)
			i++;
	}
	r->start[256] = r->nwords;
	for (i = 0; i < r->nwords; i++) {
		if (r->words[i].len == 1) {
			r->has_single = true;
			continue;
		}
		pair = (unsigned int)(unsigned char)r->words[i].s[0] << 8 |
		    (unsigned char)r->words[i].s[1];
		r->pair[pair / 64] |= (uint64_t)1 << (pair % 64);
	}
}

struct sanitize_rules *
sanitize_rules_new(const char *const *extra_keys, size_t n)
{
	struct sanitize_rules *r;
	size_t i;

	if (n > (SIZE_MAX / sizeof(struct word)) - NBUILTIN) {
		errno = EINVAL;
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->words = xcalloc(NBUILTIN + n, sizeof(*r->words));
	for (i = 0; i < NBUILTIN; i++)
		rules_add(r, builtin_words[i], strlen(builtin_words[i]));
	for (i = 0; i < n; i++) {
		if (!sanitize_extra_key_valid(extra_keys[i]))
			goto invalid;
		rules_add(r, extra_keys[i], strlen(extra_keys[i]));
	}
	rules_index(r);
	return r;
invalid:
	sanitize_rules_free(r);
	errno = EINVAL;
	return NULL;
}

bool
sanitize_extra_key_valid(const char *key)
{
	for (; key != NULL && *key != '\0'; key++)
		if (norm_tab[(unsigned char)*key] >> 8)
			return true;
	return false;
}

void
sanitize_rules_free(struct sanitize_rules *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nwords; i++)
		free(r->words[i].s);
	free(r->words);
	free(r);
}

bool
sanitize_key_is_secret(const struct sanitize_rules *r, const char *key,
    size_t len)
{
	unsigned char small[256], *nk = small;
	size_t n;
	bool secret;

	/* (initialized only to quiet gcc's -Wmaybe-uninitialized) */
	small[0] = '\0';
	if (len > sizeof(small))
		nk = xmalloc(len);
	n = norm_bytes(nk, (const unsigned char *)key, len);
	secret = norm_key_is_secret(r, nk, n);
	if (nk != small)
		free(nk);
	return secret;
}

/* ---- secret-looking string values ------------------------------------ */

/* The 4 hex digits at s (bounds checked by the caller), or -1. */
static inline long
hex4(const unsigned char *s)
{
	int a, b, c, d;

	if ((a = digest_hexval(s[0])) < 0 || (b = digest_hexval(s[1])) < 0 ||
	    (c = digest_hexval(s[2])) < 0 || (d = digest_hexval(s[3])) < 0)
		return -1;
	return (long)a << 12 | b << 8 | c << 4 | d;
}

/*
 * Decode the escape at *sp (a backslash) of an already validated JSON
 * string; return its code point and advance *sp past it.
 */
static uint32_t
decode_escape(const unsigned char **sp)
{
	const unsigned char *s = *sp;
	uint32_t cp, lo;

	*sp = s + 2;
	switch (s[1]) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'u':
		break;
	default:	/* '"', '\\', '/' */
		return s[1];
	}
	cp = (uint32_t)hex4(s + 2);
	*sp = s + 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		lo = (uint32_t)hex4(s + 8);
		*sp = s + 12;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return cp;
}

/*
 * Next unit of a string for the value matchers: a byte of plain text, or the
 * code point of an escape (when json is set). Non-ASCII never matches, so
 * raw UTF-8 bytes need not be decoded.
 */
static inline uint32_t
next_unit(const unsigned char **sp, bool json)
{
	if (json && **sp == '\\')
		return decode_escape(sp);
	return *(*sp)++;
}

static inline bool
is_b64url(uint32_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool
span_is_bearer(const unsigned char *s, const unsigned char *e, bool json)
{
	static const char bearer[] = "bearer ";
	uint32_t c;
	size_t i;

	for (i = 0; i < sizeof(bearer) - 1; i++) {
		if (s == e)
			return false;
		c = next_unit(&s, json);
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != (unsigned char)bearer[i])
			return false;
	}
	return true;
}

/* ^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$ */
static bool
span_is_jwt(const unsigned char *s, const unsigned char *e, bool json)
{
	static const char prefix[] = "eyJ";
	size_t i, seg = 0, seglen;
	uint32_t c;

	for (i = 0; i < sizeof(prefix) - 1; i++)
		if (s == e || next_unit(&s, json) != (unsigned char)prefix[i])
			return false;
	seglen = 3;
	while (s < e) {
		c = next_unit(&s, json);
		if (c == '.') {
			/* segment 0 is "eyJ" plus at least one more */
			if (seg == 2 || seglen < (seg == 0 ? 4u : 1u))
				return false;
			seg++;
			seglen = 0;
		} else if (is_b64url(c))
			seglen++;
		else
			return false;
	}
	return seg == 2;
}

static bool
span_is_secret(const unsigned char *s, const unsigned char *e, bool json)
{
	/* Fast reject: both patterns start with 'e', 'b' or 'B'. */
	if (s == e || (*s != 'e' && *s != 'b' && *s != 'B' && *s != '\\'))
		return false;
	return span_is_bearer(s, e, json) || span_is_jwt(s, e, json);
}

bool
sanitize_value_is_secret(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	return span_is_secret(u, u + len, false);
}

/* ---- streaming parser ------------------------------------------------ */

enum pstate {
	ST_VALUE,	/* a value is expected */
	ST_AFTER,	/* after a value: ',', a closing bracket or the end */
	ST_OBJ_FIRST,	/* after '{': a key or '}' */
	ST_ARR_FIRST,	/* after '[': a value or ']' */
	ST_KEY		/* after ',' in an object: a key */
};

struct parser {
	const unsigned char		*p;
	const unsigned char		*end;
	struct buf			*out;
	const struct sanitize_rules	*r;
	const unsigned char		*flush;	/* input not yet copied */
	size_t				 depth;	/* open containers */
	size_t				 mute;	/* depth of the replaced
						   container; 0: emitting */
	uint64_t			*kinds;	/* bit per level, 1: object */
	size_t				 kinds_cap;	/* in bits */
	uint64_t			 kinds_small[8];
	unsigned char			*key;	/* normalized key scratch */
	size_t				 key_cap;
	unsigned char			 key_small[256];
};

/*
 * Character classes inside strings: 0 plain, 1 '"', 2 '\\', 3 control,
 * 4 non-ASCII (UTF-8 to validate).
 */
static const unsigned char str_class[256] = {
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/*
 * Output. Input that is kept is not copied token by token: ps->flush marks
 * the start of input not yet copied, and a run is copied only when
 * something must be left out (whitespace) or replaced. Nothing is copied
 * while muted (inside a replaced container).
 */

/*
 * Append len bytes; the terminating NUL is left to sanitize_json_text().
 * Runs are short (a few tokens between two spaces), so up to 16 bytes are
 * copied inline with two overlapping moves rather than by a memcpy() call.
 */
static inline void
emit(struct parser *ps, const void *s, size_t len)
{
	struct buf *b = ps->out;
	const char *src = s;
	char *d;

	if (b->cap - b->len <= len)
		buf_grow(b, len);
	d = b->data + b->len;
	if (len >= 8 && len <= 16) {
		memcpy(d, src, 8);
		memcpy(d + len - 8, src + len - 8, 8);
	} else if (len >= 4 && len < 8) {
		memcpy(d, src, 4);
		memcpy(d + len - 4, src + len - 4, 4);
	} else
		memcpy(d, src, len);
	b->len += len;
}

/* Copy the pending input up to q (unless muted). */
static inline void
flush_to(struct parser *ps, const unsigned char *q)
{
	if (ps->mute == 0 && q > ps->flush)
		emit(ps, ps->flush, (size_t)(q - ps->flush));
}

/* Write repl instead of the input from start on (unless muted). */
static inline void
replace(struct parser *ps, const unsigned char *start, const char *repl,
    size_t len)
{
	if (ps->mute == 0) {
		flush_to(ps, start);
		emit(ps, repl, len);
	}
}

static inline bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline void
skip_ws(struct parser *ps)
{
	const unsigned char *q = ps->p;

	if (q == ps->end || !is_ws(*q))
		return;
	flush_to(ps, q);
	while (++q < ps->end && is_ws(*q))
		;
	ps->p = ps->flush = q;
}

/* Validate the escape at ps->p (a backslash) and step over it. */
static int
scan_escape(struct parser *ps)
{
	const unsigned char *s = ps->p;
	long cp, lo;

	if (ps->end - s < 2)
		return -1;
	switch (s[1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
	case 't':
		ps->p = s + 2;
		return 0;
	case 'u':
		break;
	default:
		return -1;
	}
	if (ps->end - s < 6 || (cp = hex4(s + 2)) < 0)
		return -1;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return -1;		/* unpaired low surrogate */
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - s < 12 || s[6] != '\\' || s[7] != 'u' ||
		    (lo = hex4(s + 8)) < 0xdc00 || lo > 0xdfff)
			return -1;	/* unpaired high surrogate */
		ps->p = s + 12;
		return 0;
	}
	ps->p = s + 6;
	return 0;
}

/*
 * Whether the 8 bytes at s are all plain string bytes (class 0): no '"',
 * '\\', control or non-ASCII byte.
 */
static inline bool
word_is_plain(const unsigned char *s)
{
	uint64_t x = swar_load(s);

	return (swar_eq(x, '"') | swar_eq(x, '\\') | swar_lt(x, 0x20) |
	    (x & SWAR_HIGHS)) == 0;
}

/*
 * Validate the string at ps->p (its opening quote) and step past its closing
 * quote. *esc tells whether it holds escapes.
 */
static int
scan_string(struct parser *ps, bool *esc)
{
	const unsigned char *p = ps->p + 1, *end = ps->end;
	size_t n;

	*esc = false;
	for (;;) {
		while (end - p >= 8 && word_is_plain(p))
			p += 8;
		while (p < end && str_class[*p] == 0)
			p++;
		if (p == end)
			return -1;
		switch (str_class[*p]) {
		case 1:
			ps->p = p + 1;
			return 0;
		case 2:
			ps->p = p;
			if (scan_escape(ps) == -1)
				return -1;
			p = ps->p;
			*esc = true;
			break;
		case 3:
			return -1;
		default:
			if ((n = utf8_decode(p, (size_t)(end - p), NULL)) == 0)
				return -1;
			p += n;
			break;
		}
	}
}

/*
 * Unescape (when esc) and normalize the validated string body [s, e) into
 * ps->key and return its length. The result is never longer than the
 * escaped text, so e - s bytes suffice.
 */
static size_t
key_normalize(struct parser *ps, const unsigned char *s,
    const unsigned char *e, bool esc)
{
	size_t need = (size_t)(e - s), n = 0;
	unsigned char *d;
	uint32_t cp;

	if (need > ps->key_cap) {
		if (ps->key == ps->key_small)
			d = xmalloc(need);
		else
			d = xrealloc(ps->key, need);
		ps->key = d;
		ps->key_cap = need;
	}
	d = ps->key;
	if (!esc)
		return norm_bytes(d, s, need);
	while (s < e) {
		if (*s != '\\')
			cp = *s++;
		else if ((cp = decode_escape(&s)) >= 0x80) {
			n += utf8_encode(d + n, cp);
			continue;
		}
		d[n] = (unsigned char)norm_tab[cp];
		n += norm_tab[cp] >> 8;
	}
	return n;
}

static void
kinds_push(struct parser *ps, bool object)
{
	size_t i = ps->depth, ncap;
	uint64_t *k;

	if (i >= ps->kinds_cap) {
		ncap = ps->kinds_cap * 2;
		if (ps->kinds == ps->kinds_small) {
			k = xmalloc(ncap / 8);
			memcpy(k, ps->kinds, ps->kinds_cap / 8);
		} else
			k = xrealloc(ps->kinds, ncap / 8);
		ps->kinds = k;
		ps->kinds_cap = ncap;
	}
	if (object)
		ps->kinds[i / 64] |= (uint64_t)1 << (i % 64);
	else
		ps->kinds[i / 64] &= ~((uint64_t)1 << (i % 64));
	ps->depth++;
}

static inline bool
kinds_top_is_object(const struct parser *ps)
{
	size_t i = ps->depth - 1;

	return (ps->kinds[i / 64] >> (i % 64)) & 1;
}

/* Open the container at ps->p; secret: it is a secret key's value. */
static enum pstate
open_container(struct parser *ps, bool secret)
{
	bool object = *ps->p == '{';

	if (ps->mute == 0 && (secret || ps->depth >= SANITIZE_MAX_DEPTH)) {
		if (secret)
			replace(ps, ps->p, redacted_json,
			    sizeof(redacted_json) - 1);
		else
			replace(ps, ps->p, truncated_json,
			    sizeof(truncated_json) - 1);
		ps->mute = ps->depth + 1;
	}
	kinds_push(ps, object);
	ps->p++;
	return object ? ST_OBJ_FIRST : ST_ARR_FIRST;
}

/* Close the innermost container with the bracket at ps->p. */
static int
close_container(struct parser *ps)
{
	if (ps->depth == 0 || (*ps->p == '}') != kinds_top_is_object(ps))
		return -1;
	ps->p++;
	if (ps->mute == ps->depth) {
		/* the replacement was written: resume after the bracket */
		ps->mute = 0;
		ps->flush = ps->p;
	}
	ps->depth--;
	return 0;
}

static int
scan_number(struct parser *ps)
{
	const unsigned char *p = ps->p, *end = ps->end;

	if (*p == '-')
		p++;
	if (p == end)
		return -1;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (++p < end && *p >= '0' && *p <= '9')
			;
	else
		return -1;
	if (p < end && *p == '.') {
		if (++p == end || *p < '0' || *p > '9')
			return -1;
		while (++p < end && *p >= '0' && *p <= '9')
			;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return -1;
		while (++p < end && *p >= '0' && *p <= '9')
			;
	}
	ps->p = p;
	return 0;
}

static int
scan_literal(struct parser *ps)
{
	const char *lit;
	size_t n;

	switch (*ps->p) {
	case 't':
		lit = "true";
		break;
	case 'f':
		lit = "false";
		break;
	default:
		lit = "null";
		break;
	}
	n = strlen(lit);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
		return -1;
	ps->p += n;
	return 0;
}

/* Parse the scalar at ps->p; replace it when it is secret. */
static int
parse_scalar(struct parser *ps, bool secret)
{
	const unsigned char *start = ps->p;
	bool esc = false, string = false;
	int rc;

	switch (*ps->p) {
	case '"':
		string = true;
		rc = scan_string(ps, &esc);
		break;
	case 't': case 'f': case 'n':
		rc = scan_literal(ps);
		break;
	default:
		rc = scan_number(ps);
		break;
	}
	if (rc == -1 || ps->mute)
		return rc;
	if (secret || (string && span_is_secret(start + 1, ps->p - 1, esc))) {
		replace(ps, start, redacted_json, sizeof(redacted_json) - 1);
		ps->flush = ps->p;
	}
	return 0;
}

/*
 * The common key, plain ASCII without escapes and no longer than the key
 * scratch: validate and normalize it in one pass, step past its closing
 * quote and set *n to its normalized length. Returns false, having moved
 * nothing, for any other key (the general path handles it).
 */
static inline bool
key_fast(struct parser *ps, size_t *n)
{
	const unsigned char *p = ps->p + 1, *lim = ps->end;
	unsigned char *d = ps->key;
	unsigned int t;
	size_t k = 0;

	if ((size_t)(lim - p) > ps->key_cap)
		lim = p + ps->key_cap;
	while (p < lim && str_class[*p] == 0) {
		t = norm_tab[*p++];
		d[k] = (unsigned char)t;
		k += t >> 8;
	}
	if (p == lim || *p != '"')
		return false;
	ps->p = p + 1;
	*n = k;
	return true;
}

/* Parse the key at ps->p and the ':' after it; *secret: its value is. */
static int
parse_key(struct parser *ps, bool *secret)
{
	const unsigned char *start = ps->p;
	size_t n;
	bool esc;

	*secret = false;
	if (ps->p == ps->end || *ps->p != '"')
		return -1;
	if (ps->mute == 0 && key_fast(ps, &n)) {
		*secret = norm_key_is_secret(ps->r, ps->key, n);
	} else {
		if (scan_string(ps, &esc) == -1)
			return -1;
		if (ps->mute == 0) {
			n = key_normalize(ps, start + 1, ps->p - 1, esc);
			*secret = norm_key_is_secret(ps->r, ps->key, n);
		}
	}
	skip_ws(ps);
	if (ps->p == ps->end || *ps->p != ':')
		return -1;
	ps->p++;
	return 0;
}

static int
parse(struct parser *ps)
{
	enum pstate st = ST_VALUE;
	bool secret = false;

	for (;;) {
		skip_ws(ps);
		if (ps->p == ps->end) {
			if (st != ST_AFTER || ps->depth != 0)
				return -1;
			flush_to(ps, ps->p);
			return 0;
		}
		switch (st) {
		case ST_OBJ_FIRST:
		case ST_ARR_FIRST:
			if (*ps->p == (st == ST_OBJ_FIRST ? '}' : ']')) {
				if (close_container(ps) == -1)
					return -1;
				st = ST_AFTER;
			} else
				st = st == ST_OBJ_FIRST ? ST_KEY : ST_VALUE;
			break;
		case ST_KEY:
			if (parse_key(ps, &secret) == -1)
				return -1;
			st = ST_VALUE;
			break;
		case ST_VALUE:
			if (*ps->p == '{' || *ps->p == '[')
				st = open_container(ps, secret);
			else if (parse_scalar(ps, secret) == -1)
				return -1;
			else
				st = ST_AFTER;
			secret = false;
			break;
		case ST_AFTER:
			if (ps->depth == 0)
				return -1;	/* garbage after the value */
			if (*ps->p == ',') {
				ps->p++;
				st = kinds_top_is_object(ps) ? ST_KEY :
				    ST_VALUE;
			} else if (*ps->p == '}' || *ps->p == ']') {
				if (close_container(ps) == -1)
					return -1;
			} else
				return -1;
			break;
		}
	}
}

int
sanitize_json_text(const struct sanitize_rules *r, const char *in, size_t len,
    struct buf *out)
{
	struct parser ps;
	size_t olen = out->len;
	int rc;

	/* no memset: the scratch arrays need no zeroing */
	ps.depth = ps.mute = 0;
	ps.p = ps.flush = (const unsigned char *)in;
	ps.end = ps.p + len;
	ps.out = out;
	ps.r = r;
	ps.kinds = ps.kinds_small;
	ps.kinds_cap = sizeof(ps.kinds_small) * 8;
	ps.key = ps.key_small;
	ps.key_cap = sizeof(ps.key_small);

	rc = parse(&ps);

	if (ps.kinds != ps.kinds_small)
		free(ps.kinds);
	if (ps.key != ps.key_small)
		free(ps.key);
	if (rc == -1)
		out->len = olen;
	/* emit() leaves the terminating NUL to us */
	if (out->cap > 0)
		out->data[out->len] = '\0';
	return rc;
}

/* ---- jansson variant ------------------------------------------------- */

static json_t	*san_value(const struct sanitize_rules *, json_t *, size_t);

static json_t *
san_object(const struct sanitize_rules *r, json_t *obj, size_t depth)
{
	json_t *o = xnonnull(json_object()), *child;
	const char *key;
	size_t klen;
	void *it;

	for (it = json_object_iter(obj); it != NULL;
	    it = json_object_iter_next(obj, it)) {
		key = json_object_iter_key(it);
		klen = json_object_iter_key_len(it);
		if (sanitize_key_is_secret(r, key, klen))
			child = xnonnull(json_string(SANITIZE_REDACTED));
		else
			child = san_value(r, json_object_iter_value(it),
			    depth + 1);
		if (json_object_setn_new_nocheck(o, key, klen, child) == -1)
			BUG("copying the key \"%.*s\" failed (out of memory)",
			    (int)klen, key);
	}
	return o;
}

static json_t *
san_array(const struct sanitize_rules *r, json_t *arr, size_t depth)
{
	json_t *a = xnonnull(json_array());
	size_t i, n = json_array_size(arr);

	for (i = 0; i < n; i++)
		xjson_push(a, san_value(r, json_array_get(arr, i), depth + 1));
	return a;
}

/* Sanitize v, a value at depth (see sanitize.h). */
static json_t *
san_value(const struct sanitize_rules *r, json_t *v, size_t depth)
{
	const char *s;
	size_t n;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth > SANITIZE_MAX_DEPTH)
			return xnonnull(json_string(SANITIZE_TRUNCATED));
		return json_is_object(v) ? san_object(r, v, depth) :
		    san_array(r, v, depth);
	case JSON_STRING:
		s = json_string_value(v);
		n = json_string_length(v);
		if (sanitize_value_is_secret(s, n))
			return xnonnull(json_string(SANITIZE_REDACTED));
		return xnonnull(json_stringn_nocheck(s, n));
	default:
		return xnonnull(json_deep_copy(v));
	}
}

json_t *
sanitize_json(const struct sanitize_rules *r, const json_t *in)
{
	if (in == NULL)
		return NULL;
	/* jansson's accessors are not const-qualified; in is only read. */
	return san_value(r, (json_t *)(uintptr_t)in, 1);
}
