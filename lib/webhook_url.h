/*
 * webhook_url: which URLs a completion webhook may be sent to (the SSRF
 * policy, docs/webhooks.md "Addresses").
 *
 * A URL is accepted when it parses (libcurl's URL parser, the one the
 * dispatcher sends with), is https (http only with allow_http), has no user
 * or password, no fragment, a host, and is at most 2048 bytes. Its host must
 * resolve, and every address it resolves to must be public, unless
 * allow_private: not loopback, unspecified, private (RFC 1918), shared
 * (100.64/10), link-local (169.254/16, fe80::/10), unique-local (fc00::/7),
 * multicast, reserved, documentation or benchmarking ranges, nor an IPv6
 * form of one of these (v4-mapped, NAT64 64:ff9b::/96, 6to4).
 *
 * The check runs twice: at creation (ops-fcgi) and before every attempt
 * (the dispatcher), which then connects to the address it checked and to no
 * other (CURLOPT_RESOLVE), so that a name that changes its answer between
 * the check and the connect (DNS rebinding) cannot reach a private range.
 */
#ifndef OPS_WEBHOOK_URL_H
#define OPS_WEBHOOK_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define WEBHOOK_URL_MAX		2048
#define WEBHOOK_HOST_MAX	256
#define WEBHOOK_ADDR_MAX	46	/* INET6_ADDRSTRLEN */

struct webhook_target {
	char	host[WEBHOOK_HOST_MAX];	/* without [] for IPv6 literals */
	int	port;
	char	addr[WEBHOOK_ADDR_MAX];	/* the checked address, text */
	/* "host:port:addr" (IPv6 in []) for CURLOPT_RESOLVE */
	char	resolve[WEBHOOK_HOST_MAX + WEBHOOK_ADDR_MAX + 16];
};

/*
 * Check the URL's syntax: 0, or -1 with why ("must use https", ...),
 * lower-case, without the field name. Fills t->host and t->port.
 */
int	webhook_url_check(const char *url, bool allow_http,
	    struct webhook_target *t, char *why, size_t whysz);

/* Is the address public (see above)? */
bool	webhook_addr_public(const struct sockaddr *sa);

/*
 * Resolve t->host (getaddrinfo) and check every address unless
 * allow_private. 0 with t->addr and t->resolve set to the first address,
 * or -1 with why ("resolves to 127.0.0.1, a loopback or private
 * address", "does not resolve: ...").
 */
int	webhook_resolve(struct webhook_target *t, bool allow_private,
	    char *why, size_t whysz);

#endif
