#include "webhook_url.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
webhook_url_check(const char *url, bool allow_http, struct webhook_target *t,
    char *why, size_t whysz)
{
	CURLU *u;
	char *scheme = NULL, *user = NULL, *pass = NULL, *frag = NULL,
	    *host = NULL, *port = NULL;
	int rc = -1;
	size_t n;

	memset(t, 0, sizeof(*t));
	n = strlen(url);
	if (n == 0 || n > WEBHOOK_URL_MAX) {
		snprintf(why, whysz, "must be 1 to %d bytes", WEBHOOK_URL_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f) {
			snprintf(why, whysz, "must not contain spaces or "
			    "control characters");
			return -1;
		}
	/* curl takes "https:///x" as host "x": a URL here names its host */
	{
		const char *sep = strstr(url, "://");

		if (sep == NULL || sep[3] == '/' || sep[3] == '\0') {
			snprintf(why, whysz, "is not an absolute URL with a "
			    "host");
			return -1;
		}
	}
	if ((u = curl_url()) == NULL) {
		snprintf(why, whysz, "cannot be parsed: out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		snprintf(why, whysz, "is not an absolute URL");
		goto out;
	}
	(void)curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	(void)curl_url_get(u, CURLUPART_USER, &user, 0);
	(void)curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
	(void)curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
	(void)curl_url_get(u, CURLUPART_HOST, &host, 0);
	(void)curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	if (scheme == NULL || (strcasecmp(scheme, "https") != 0 &&
	    !(allow_http && strcasecmp(scheme, "http") == 0))) {
		snprintf(why, whysz, "must use https%s", allow_http ?
		    " or http" : "");
		goto out;
	}
	if (user != NULL || pass != NULL) {
		snprintf(why, whysz, "must not contain credentials: the "
		    "receiver checks the signature instead");
		goto out;
	}
	if (frag != NULL || strchr(url, '#') != NULL) {
		snprintf(why, whysz, "must not contain a fragment");
		goto out;
	}
	if (host == NULL || host[0] == '\0' || port == NULL) {
		snprintf(why, whysz, "must name a host");
		goto out;
	}
	n = strlen(host);
	if (host[0] == '[' && n > 2 && host[n - 1] == ']')
		snprintf(t->host, sizeof(t->host), "%.*s", (int)(n - 2),
		    host + 1);
	else if (n < sizeof(t->host))
		snprintf(t->host, sizeof(t->host), "%s", host);
	else {
		snprintf(why, whysz, "has a host name that is too long");
		goto out;
	}
	t->port = (int)strtol(port, NULL, 10);
	if (t->port <= 0 || t->port > 65535) {
		snprintf(why, whysz, "has an invalid port");
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(user);
	curl_free(pass);
	curl_free(frag);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* Is a (host order) IPv4 address in prefix/bits? */
static bool
in4(uint32_t a, uint32_t prefix, int bits)
{
	uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);

	return (a & mask) == (prefix & mask);
}

static bool
v4_public(uint32_t a)
{
	static const struct { uint32_t p; int bits; } bad[] = {
		{ 0x00000000, 8 },	/* "this network" */
		{ 0x0a000000, 8 },	/* private */
		{ 0x64400000, 10 },	/* shared (CGNAT) */
		{ 0x7f000000, 8 },	/* loopback */
		{ 0xa9fe0000, 16 },	/* link-local, cloud metadata */
		{ 0xac100000, 12 },	/* private */
		{ 0xc0000000, 24 },	/* IETF protocol assignments */
		{ 0xc0000200, 24 },	/* documentation */
		{ 0xc0586300, 24 },	/* 6to4 relay anycast */
		{ 0xc0a80000, 16 },	/* private */
		{ 0xc6120000, 15 },	/* benchmarking */
		{ 0xc6336400, 24 },	/* documentation */
		{ 0xcb007100, 24 },	/* documentation */
		{ 0xe0000000, 4 },	/* multicast */
		{ 0xf0000000, 4 },	/* reserved, broadcast */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (in4(a, bad[i].p, bad[i].bits))
			return false;
	return true;
}

static uint32_t
v4_at(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
}

static bool
v6_public(const unsigned char *b)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
	static const unsigned char zero[16];

	if (memcmp(b, zero, 15) == 0)		/* :: and ::1 */
		return false;
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
		return v4_public(v4_at(b + 12));
	if (memcmp(b, zero, 12) == 0)		/* IPv4-compatible */
		return false;
	if (b[0] == 0x20 && b[1] == 0x02)	/* 6to4 */
		return v4_public(v4_at(b + 2));
	if ((b[0] & 0xfe) == 0xfc)		/* unique-local fc00::/7 */
		return false;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)	/* link-local */
		return false;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)	/* site-local */
		return false;
	if (b[0] == 0xff)			/* multicast */
		return false;
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return false;			/* documentation */
	if (b[0] == 0x01 && b[1] == 0 && memcmp(b + 2, zero, 6) == 0)
		return false;			/* discard 100::/64 */
	return true;
}

bool
webhook_addr_public(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		return v4_public(ntohl(s4->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		return v6_public(s6->sin6_addr.s6_addr);
	}
	return false;
}

static void
addr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
	const void *a = sa->sa_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)(const void *)sa)->
	    sin_addr : (const void *)&((const struct sockaddr_in6 *)
	    (const void *)sa)->sin6_addr;

	if (inet_ntop(sa->sa_family, a, out, (socklen_t)outsz) == NULL)
		snprintf(out, outsz, "?");
}

int
webhook_resolve(struct webhook_target *t, bool allow_private, char *why,
    size_t whysz)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int rc, found = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", t->port);
	if ((rc = getaddrinfo(t->host, port, &hints, &res)) != 0) {
		snprintf(why, whysz, "host %s does not resolve: %s", t->host,
		    gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		char text[WEBHOOK_ADDR_MAX];

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		addr_text(ai->ai_addr, text, sizeof(text));
		if (!allow_private && !webhook_addr_public(ai->ai_addr)) {
			snprintf(why, whysz, "host %s resolves to %s, a "
			    "loopback, private, link-local or reserved "
			    "address", t->host, text);
			freeaddrinfo(res);
			return -1;
		}
		if (!found) {
			snprintf(t->addr, sizeof(t->addr), "%s", text);
			snprintf(t->resolve, sizeof(t->resolve),
			    ai->ai_family == AF_INET6 ? "%s:%d:[%s]" :
			    "%s:%d:%s", t->host, t->port, text);
			found = 1;
		}
	}
	freeaddrinfo(res);
	if (!found) {
		snprintf(why, whysz, "host %s has no IPv4 or IPv6 address",
		    t->host);
		return -1;
	}
	return 0;
}
