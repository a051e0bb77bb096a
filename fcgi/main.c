/*
 * ops-fcgi: the multi-threaded FastCGI responder behind nginx.
 *
 * main() loads the config and keys, opens (or inherits) the listening
 * socket, starts the dispatcher thread and fcgi.threads workers, and then
 * waits for SIGTERM/SIGINT. nginx keeps its FastCGI connections open
 * between requests (fastcgi_keep_conn, upstream keepalive), so connections,
 * threads and database sessions are decoupled:
 *
 *  - The dispatcher alone waits in epoll_wait() for the listening socket
 *    and every connection (one-shot). It accepts new connections; a
 *    connection with a request it offers to the poll lane (fcgi/lane.h),
 *    which answers polls itself on its pipelined session, without
 *    blocking; any other request it hands, unread, to the workers through
 *    a queue. An idle connection costs nothing but its place in the set.
 *  - A worker takes a connection from the queue, lets libfcgi read and
 *    answer the request (FCGX_Request.ipcFd set to it) with one of
 *    database.pool_size sessions (fcgi/pool.h), and gives the connection
 *    back to the set when nginx keeps it. A connection nginx closed is
 *    closed by the worker's libfcgi.
 *
 * On SIGTERM main sets stopping, wakes the dispatcher (an eventfd) and the
 * workers (the queue's condition variable): the dispatcher stops accepting
 * and offering and returns once the lane's polls in flight are answered;
 * the workers serve what is queued and return; main joins them and exits
 * 0 (which closes the idle connections).
 */
#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "lane.h"
#include "log.h"
#include "pool.h"
#include "request.h"
#include "routes.h"
#include "sanitize.h"
#include "xalloc.h"
#include "xpthread.h"

#define MAX_PEERS	16	/* fcgi.allowed_peers */
#define MAX_EVENTS	64	/* per epoll_wait() of the dispatcher */

struct server {
	struct app	 app;
	struct pool	 pool;
	struct lane	*lane;		/* NULL: fcgi.poll_lane false */
	int		 listen_fd;
	int		 epoll_fd;	/* the listening socket and connections */
	int		 wake_fd;	/* eventfd: stopping */
	atomic_bool	 stopping;
	/* connections with a request for the workers (a ring) */
	pthread_mutex_t	 qmu;
	pthread_cond_t	 qcv;
	int		*queue;
	size_t		 qhead, qlen, qcap;
	/* fcgi.allowed_peers: the only IPv4 peers accepted (none: any) */
	struct in_addr	 peers[MAX_PEERS];
	int		 npeers;
};

struct worker {
	struct server	*srv;
	pthread_t	 tid;
	int		 index;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: ops-fcgi [--config PATH] [--routes] [--help] [--version]\n"
	    "\n"
	    "FastCGI responder of the ops API. Listens on fcgi.socket_path, on\n"
	    "fcgi.listen_address (TCP), or on an inherited socket (systemd\n"
	    "socket activation, or fd 0 as spawn-fcgi passes it). SIGTERM\n"
	    "finishes requests in flight.\n"
	    "\n"
	    "  --config PATH  config file (default $OPS_CONFIG, then %s)\n"
	    "  --routes       print the route table and exit\n",
	    CONFIG_DEFAULT_PATH);
}

/* Read the rest of the request body, if any. */
static void
drain_input(FCGX_Request *fx)
{
	char buf[4096];

	while (FCGX_GetStr(buf, sizeof(buf), fx->in) > 0)
		;
}

/*
 * Does the request need a database session? Liveness (/healthz) and
 * nginx's check before a download (fcgi/h_exports.c, download_check()) do
 * not: they answer whether or not a session is free.
 */
static bool
needs_db(FCGX_Request *fx)
{
	static const char dl[] = "/download";
	const char *uri = FCGX_GetParam("REQUEST_URI", fx->envp);
	size_t n;

	if (uri == NULL)
		return true;
	n = strcspn(uri, "?");
	if (n == strlen("/healthz") && strncmp(uri, "/healthz", n) == 0)
		return false;
	/* the check reaches no handler but the download's */
	return FCGX_GetParam("OPS_DOWNLOAD_CHECK", fx->envp) == NULL ||
	    n < sizeof(dl) - 1 || strncmp(uri + n - (sizeof(dl) - 1), dl,
	    sizeof(dl) - 1) != 0;
}

static void
serve_one(struct server *srv, FCGX_Request *fx)
{
	struct request r;
	struct db *db = NULL;
	bool need = needs_db(fx);

	if (need)
		db = pool_get(&srv->pool, srv->app.cfg->database.pool_wait_ms);
	request_init(&r, fx, &srv->app, db);
	if (need && db == NULL) {
		log_kv(LOG_WARN, "request_id", r.request_id, "%s %s: all %d "
		    "database sessions stayed busy for %d ms (database."
		    "pool_size, database.pool_wait_ms)", r.method, r.path,
		    srv->pool.size, srv->app.cfg->database.pool_wait_ms);
		resp_error_h(&r, "DB_UNAVAILABLE", "every database session is "
		    "busy", NULL, "Retry-After: 1\r\n");
	} else {
		route_dispatch(&r);
	}
	if (r.status == 0)
		resp_error(&r, "INTERNAL_ERROR", NULL, NULL);
	log_kv(LOG_DEBUG, "request_id", r.request_id, "%s %s -> %d",
	    r.method, r.path, r.status);
	request_finish(&r);
	if (db != NULL) {
		/* a failed transaction must not leak into the next request */
		db_rollback(db);
		pool_put(&srv->pool, db);
	}
}

/* (Re-)arm connection fd in the set for its next request. */
static int
conn_arm(struct server *srv, int fd, int op)
{
	return ev_arm(srv->epoll_fd, op, EV_CONN, fd, EPOLLIN | EPOLLONESHOT);
}

/*
 * May this peer talk FastCGI to us? Without fcgi.allowed_peers anyone the
 * socket lets connect; with it, only those IPv4 addresses. The check is
 * ours because connections are accepted here, not by libfcgi (whose
 * FCGI_WEB_SERVER_ADDRS applies only to what FCGX_Accept_r() accepts).
 */
static bool
peer_allowed(const struct server *srv, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

	if (srv->npeers == 0)
		return true;
	if (ss->ss_family != AF_INET)
		return false;
	for (int i = 0; i < srv->npeers; i++)
		if (srv->peers[i].s_addr == sin->sin_addr.s_addr)
			return true;
	return false;
}

/*
 * The listening socket is ready: accept what is pending (it is
 * non-blocking), close a connection from a peer not allowed unread, put
 * each other in the set (blocking, as libfcgi reads it), then re-arm the
 * socket.
 */
static void
accept_all(struct server *srv)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd;

	while ((fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &sl,
	    SOCK_CLOEXEC)) >= 0) {
		if (!peer_allowed(srv, &ss)) {
			char a[INET6_ADDRSTRLEN] = "?";

			if (ss.ss_family == AF_INET)
				(void)inet_ntop(AF_INET, &((struct sockaddr_in *)
				    &ss)->sin_addr, a, sizeof(a));
			log_warn("closed a FastCGI connection from %s: not in "
			    "fcgi.allowed_peers", a);
			(void)close(fd);
		} else if (conn_arm(srv, fd, EPOLL_CTL_ADD) != 0)
			(void)close(fd);
		sl = sizeof(ss);
	}
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM) {
		/* out of descriptors: do not spin */
		const struct timespec pause = { 0, 100000000L };

		log_error("accept on the listening socket: %s",
		    strerror(errno));
		(void)nanosleep(&pause, NULL);
	}
	(void)ev_arm(srv->epoll_fd, EPOLL_CTL_MOD, EV_LISTEN, srv->listen_fd,
	    EPOLLIN | EPOLLONESHOT);
}

/* Hand connection fd, with a request unread, to the workers. */
static void
queue_push(struct server *srv, int fd)
{
	xpthread(pthread_mutex_lock(&srv->qmu));
	if (srv->qlen == srv->qcap) {
		size_t cap = srv->qcap ? srv->qcap * 2 : 64;
		int *q = xreallocarray(NULL, cap, sizeof(*q));

		for (size_t i = 0; i < srv->qlen; i++)
			q[i] = srv->queue[(srv->qhead + i) % srv->qcap];
		free(srv->queue);
		srv->queue = q;
		srv->qcap = cap;
		srv->qhead = 0;
	}
	srv->queue[(srv->qhead + srv->qlen++) % srv->qcap] = fd;
	xpthread(pthread_cond_signal(&srv->qcv));
	xpthread(pthread_mutex_unlock(&srv->qmu));
}

/* The next connection for a worker; -1 once stopping and none is left. */
static int
queue_pop(struct server *srv)
{
	int fd = -1;

	xpthread(pthread_mutex_lock(&srv->qmu));
	while (srv->qlen == 0 && !atomic_load(&srv->stopping))
		xpthread(pthread_cond_wait(&srv->qcv, &srv->qmu));
	if (srv->qlen > 0) {
		fd = srv->queue[srv->qhead];
		srv->qhead = (srv->qhead + 1) % srv->qcap;
		srv->qlen--;
	}
	xpthread(pthread_mutex_unlock(&srv->qmu));
	return fd;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *srv = w->srv;
	FCGX_Request fx;
	int fd;

	/* the first workers connect the sessions (fcgi/pool.h) */
	if (w->index < srv->pool.size)
		pool_warm(&srv->pool, w->index);
	/* no listening socket: fx only reads connections it is given */
	if (FCGX_InitRequest(&fx, -1, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("worker %d: cannot initialise a FastCGI request",
		    w->index);
		return NULL;
	}
	while ((fd = queue_pop(srv)) >= 0) {
		/* keepConnection: FCGX_Accept_r() first finishes "the
		 * previous request", which would close fd otherwise */
		fx.ipcFd = fd;
		fx.keepConnection = 1;
		fx.detached = 0;
		/* reads the request; a connection nginx closed (or broke) is
		 * closed here, and FCGX_Accept_r() fails without accepting
		 * (fx has no listening socket) */
		if (FCGX_Accept_r(&fx) != 0) {
			fx.ipcFd = -1;
			continue;
		}
		serve_one(srv, &fx);
		/*
		 * Read what is left of the request (a body the handler did
		 * not need; usually nothing), then finish: a connection nginx
		 * keeps (fastcgi_keep_conn) stays open and goes back to the
		 * set for its next request; any other is closed at once:
		 * detached, libfcgi does not shutdown() and wait up to 2 s
		 * (poll) for nginx to close its end first. That lingering
		 * close guards against a reset that loses the answer when
		 * unread input is left; none is. It was 17% of ops-fcgi's
		 * samples under wrk (docs/architecture.md).
		 */
		drain_input(&fx);
		(void)FCGX_Detach(&fx);
		FCGX_Finish_r(&fx);
		if (fx.ipcFd >= 0 && conn_arm(srv, fx.ipcFd, EPOLL_CTL_MOD) != 0)
			(void)close(fx.ipcFd);
		fx.ipcFd = -1;
	}
	FCGX_Free(&fx, 1);
	return NULL;
}

/*
 * The dispatcher (see the top): wait for every descriptor of the set,
 * accept, offer requests to the lane, queue the rest for the workers.
 */
static void *
dispatch_main(void *arg)
{
	struct server *srv = arg;
	struct epoll_event evs[MAX_EVENTS];

	for (;;) {
		bool stopping = atomic_load(&srv->stopping);
		int timeout = srv->lane ? lane_tick(srv->lane) : -1, n;

		if (stopping && (srv->lane == NULL || !lane_busy(srv->lane)))
			break;
		n = epoll_wait(srv->epoll_fd, evs, MAX_EVENTS, timeout);
		for (int i = 0; i < n; i++) {
			uint64_t u = evs[i].data.u64;
			int fd = EV_FD(u);

			switch (EV_KIND(u)) {
			case EV_LISTEN:
				if (!stopping)
					accept_all(srv);
				break;
			case EV_WAKE:
				break;	/* stopping: seen at the top */
			case EV_LANE_DB:
				lane_db_event(srv->lane, evs[i].events);
				break;
			case EV_CONN:
				if (srv->lane && (evs[i].events & EPOLLOUT))
					lane_conn_writable(srv->lane, fd);
				else if (stopping)
					;	/* closed at exit */
				else if (srv->lane == NULL || lane_offer(
				    srv->lane, fd) == LANE_PASS)
					queue_push(srv, fd);
				break;
			}
		}
	}
	return NULL;
}

/* Stop: wake the dispatcher and the workers, and wait for them. */
static void
stop_threads(struct server *srv, const pthread_t *dispatcher,
    struct worker *workers, int n)
{
	uint64_t one = 1;

	atomic_store(&srv->stopping, true);
	if (write(srv->wake_fd, &one, sizeof(one)) != sizeof(one))
		log_error("cannot wake the dispatcher: %s", strerror(errno));
	if (dispatcher)
		xpthread(pthread_join(*dispatcher, NULL));
	xpthread(pthread_mutex_lock(&srv->qmu));
	xpthread(pthread_cond_broadcast(&srv->qcv));
	xpthread(pthread_mutex_unlock(&srv->qmu));
	for (int i = 0; i < n; i++)
		xpthread(pthread_join(workers[i].tid, NULL));
}

static bool
fd_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * fcgi.listen_address: "ADDR:PORT" or "[ADDR6]:PORT", numeric. FastCGI has
 * no authentication: whoever reaches the port is trusted like nginx, so the
 * wildcard address (every interface) is refused; bind a private address
 * and let fcgi.allowed_peers (checked in accept_all()) and a
 * firewall say who may connect. Returns the fd or -1 with err filled.
 */
static int
listen_tcp(const char *spec, int backlog, char *err, size_t errsz)
{
	const struct addrinfo hints = { .ai_family = AF_UNSPEC,
	    .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(spec, ':'), *h = spec;
	size_t n = colon ? (size_t)(colon - spec) : 0;
	int fd = -1, one = 1, rc;

	if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (colon == NULL || n == 0 || n >= sizeof(host) || colon[1] == '\0') {
		snprintf(err, errsz, "fcgi.listen_address must be ADDR:PORT or "
		    "[ADDR6]:PORT, got \"%s\"", spec);
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0) {
		snprintf(err, errsz, "fcgi.listen_address \"%s\": %s", spec,
		    rc == EAI_NONAME ? "not a numeric address and port (no "
		    "host names: the address to bind)" : gai_strerror(rc));
		return -1;
	}
	if ((ai->ai_family == AF_INET && ((struct sockaddr_in *)
	    ai->ai_addr)->sin_addr.s_addr == htonl(INADDR_ANY)) ||
	    (ai->ai_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(
	    &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr))) {
		snprintf(err, errsz, "fcgi.listen_address %s is every "
		    "interface: FastCGI has no authentication, bind one "
		    "address of a private network", spec);
		freeaddrinfo(ai);
		return -1;
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, backlog) != 0) {
		snprintf(err, errsz, "cannot listen on %s: %s", spec,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/*
 * fcgi.allowed_peers, at most MAX_PEERS IPv4 addresses separated by commas,
 * into srv->peers: accept_all() closes a TCP connection from any other
 * address (IPv4 peers only, so an IPv6 listener is refused).
 */
static int
allow_peers(struct server *srv, const struct ops_config *cfg, char *err,
    size_t errsz)
{
	const char *p = cfg->fcgi.allowed_peers;
	struct in_addr a;
	char one[INET_ADDRSTRLEN];

	if (p == NULL)
		return 0;
	if (strchr(cfg->fcgi.listen_address, '[') != NULL) {
		snprintf(err, errsz, "fcgi.allowed_peers checks IPv4 peers "
		    "only: fcgi.listen_address must be an IPv4 address");
		return -1;
	}
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof(one)) {
			snprintf(err, errsz, "fcgi.allowed_peers must be IPv4 "
			    "addresses separated by commas, got \"%s\"",
			    cfg->fcgi.allowed_peers);
			return -1;
		}
		memcpy(one, p, n);
		one[n] = '\0';
		if (inet_pton(AF_INET, one, &a) != 1) {
			snprintf(err, errsz, "fcgi.allowed_peers: \"%s\" is not "
			    "an IPv4 address", one);
			return -1;
		}
		if (srv->npeers == MAX_PEERS) {
			snprintf(err, errsz, "fcgi.allowed_peers: more than %d "
			    "addresses", MAX_PEERS);
			return -1;
		}
		srv->peers[srv->npeers++] = a;
		p += n + (p[n] == ',');
	}
	return 0;
}

/*
 * The listening socket: fcgi.socket_path when set (a stale socket file is
 * replaced), else fcgi.listen_address (TCP), else systemd's LISTEN_FDS
 * (fd 3), else fd 0 as spawn-fcgi passes it. Returns the fd or -1 with err
 * filled.
 */
static int
listen_socket(const struct ops_config *cfg, char *err, size_t errsz)
{
	const char *lpid = getenv("LISTEN_PID"), *lfds = getenv("LISTEN_FDS");
	struct stat st;
	int fd;

	if (cfg->fcgi.socket_path) {
		const char *p = cfg->fcgi.socket_path;

		if (lstat(p, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(p);
		if ((fd = FCGX_OpenSocket(p, cfg->fcgi.backlog)) < 0) {
			snprintf(err, errsz, "cannot listen on %s: %s", p,
			    strerror(errno));
			return -1;
		}
		/* nginx runs as another user; who may connect is decided by
		 * the directory's permissions (see docs/config.md) */
		(void)chmod(p, 0666);
		return fd;
	}
	if (cfg->fcgi.listen_address)
		return listen_tcp(cfg->fcgi.listen_address, cfg->fcgi.backlog,
		    err, errsz);
	if (lpid && lfds && strtol(lpid, NULL, 10) == (long)getpid() &&
	    strcmp(lfds, "1") == 0 && fd_is_socket(3))
		return 3;
	if (fd_is_socket(0))
		return 0;
	snprintf(err, errsz, "no socket: set fcgi.socket_path or "
	    "fcgi.listen_address, or start under "
	    "systemd socket activation or spawn-fcgi");
	return -1;
}

static int
load_app(struct app *app, const struct ops_config *cfg, char *err,
    size_t errsz)
{
	memset(app, 0, sizeof(*app));
	app->cfg = cfg;
	if (jwks_open_config(&app->keys, cfg, err, errsz) != 0)
		return -1;
	app->policy.issuer = cfg->auth.issuer;
	app->policy.audience = cfg->auth.audience;
	app->policy.leeway_seconds = cfg->auth.leeway_seconds;
	app->policy.max_token_bytes = (size_t)cfg->auth.max_token_bytes;
	app->policy.max_lifetime_seconds = cfg->auth.max_token_lifetime_seconds;
	app->policy.typ = cfg->auth.required_typ;
	if ((app->rules = sanitize_rules_from_config(cfg)) == NULL) {
		snprintf(err, errsz, "%s: sanitizer.extra_keys cannot be "
		    "built into rules (see the log)", cfg->path ? cfg->path :
		    "(defaults)");
		jwks_close(app->keys);
		return -1;
	}
	if (gethostname(app->host, sizeof(app->host)) != 0)
		snprintf(app->host, sizeof(app->host), "unknown");
	return 0;
}

static void
unload_app(struct app *app)
{
	jwks_close(app->keys);
	sanitize_rules_free((struct sanitize_rules *)app->rules);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "routes", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config_arg = NULL;
	struct ops_config cfg;
	struct server srv = { .listen_fd = -1, .epoll_fd = -1, .wake_fd = -1 };
	struct worker *workers;
	pthread_t refresher, dispatcher;
	sigset_t sigs;
	char err[512];
	int ch, sig, started, rc = 0;

	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_arg = optarg;
			break;
		case 'r':
			route_print(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ops-fcgi %s\n", OPS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ops-fcgi: unexpected argument %s\n",
		    argv[optind]);
		return 2;
	}
	if (config_load(&cfg, config_resolve_path(config_arg), err,
	    sizeof(err)) != 0 || config_require(&cfg, CONFIG_NEED_DATABASE |
	    CONFIG_NEED_AUTH | CONFIG_NEED_FCGI, err, sizeof(err)) != 0) {
		fprintf(stderr, "ops-fcgi: config %s\n", err);
		return 2;
	}
	log_init("ops-fcgi", log_level_parse(cfg.log.level),
	    log_format_parse(cfg.log.format));
	if (load_app(&srv.app, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "ops-fcgi: config %s\n", err);
		config_free(&cfg);
		return 2;
	}
	if (allow_peers(&srv, &cfg, err, sizeof(err)) != 0 || FCGX_Init() != 0 ||
	    (srv.listen_fd = listen_socket(&cfg, err, sizeof(err))) < 0) {
		fprintf(stderr, "ops-fcgi: %s\n", err);
		unload_app(&srv.app);
		config_free(&cfg);
		return 1;
	}
	/* non-blocking: the dispatcher accepts what is pending */
	(void)fcntl(srv.listen_fd, F_SETFL,
	    fcntl(srv.listen_fd, F_GETFL) | O_NONBLOCK);
	if ((srv.epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (srv.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    ev_arm(srv.epoll_fd, EPOLL_CTL_ADD, EV_LISTEN, srv.listen_fd,
	    EPOLLIN | EPOLLONESHOT) != 0 ||
	    ev_arm(srv.epoll_fd, EPOLL_CTL_ADD, EV_WAKE, srv.wake_fd,
	    EPOLLIN) != 0) {
		fprintf(stderr, "ops-fcgi: epoll: %s\n", strerror(errno));
		unload_app(&srv.app);
		config_free(&cfg);
		return 1;
	}
	atomic_init(&srv.stopping, false);
	xpthread(pthread_mutex_init(&srv.qmu, NULL));
	xpthread(pthread_cond_init(&srv.qcv, NULL));
	pool_open(&srv.pool, &cfg);
	/* pipelined statements need prepared ones (not behind PgBouncer
	 * before 1.21, docs/config.md) */
	if (strcmp(cfg.fcgi.poll_lane, "true") == 0 &&
	    strcmp(cfg.database.prepared_statements, "true") == 0)
		srv.lane = lane_open(&srv.app, srv.epoll_fd);

	/* Threads inherit this mask: only main receives SIGTERM/SIGINT. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);

	xpthread(pthread_sigmask(SIG_BLOCK, &sigs, NULL));

	/* JWKS refreshes happen here, never on a worker (lib/jwks.h) */
	if (pthread_create(&refresher, NULL, jwks_refresher,
	    srv.app.keys) != 0) {
		log_error("cannot start the JWT key refresher");
		unload_app(&srv.app);
		config_free(&cfg);
		return 1;
	}

	workers = xcalloc((size_t)cfg.fcgi.threads, sizeof(*workers));
	for (started = 0; started < cfg.fcgi.threads; started++) {
		struct worker *w = &workers[started];

		w->srv = &srv;
		w->index = started;
		if ((rc = pthread_create(&w->tid, NULL, worker_main, w)) != 0) {
			log_error("cannot start worker thread %d of %d: %s; "
			    "stopping the %d started and exiting: lower "
			    "fcgi.threads or raise the limit that was hit "
			    "(ulimit -u / -v, systemd TasksMax=)", started + 1,
			    cfg.fcgi.threads, strerror(rc), started);
			break;
		}
	}
	if (rc == 0 && (rc = pthread_create(&dispatcher, NULL, dispatch_main,
	    &srv)) != 0)
		log_error("cannot start the dispatcher thread: %s",
		    strerror(rc));
	if (rc == 0) {
		log_info("listening with %d workers, %d database sessions%s",
		    cfg.fcgi.threads, srv.pool.size, srv.lane ?
		    " and the poll lane's" : "");
		do {
			sig = 0;
			if (sigwait(&sigs, &sig) != 0)
				sig = SIGTERM;
		} while (sig != SIGTERM && sig != SIGINT);
		log_info("signal %d: finishing requests in flight", sig);
	}
	stop_threads(&srv, rc == 0 ? &dispatcher : NULL, workers, started);
	free(workers);
	free(srv.queue);
	lane_close(srv.lane);
	pool_close(&srv.pool);
	jwks_stop(srv.app.keys);
	pthread_join(refresher, NULL);
	if (cfg.fcgi.socket_path)
		unlink(cfg.fcgi.socket_path);
	unload_app(&srv.app);
	config_free(&cfg);
	log_info("%s", rc == 0 ? "stopped" :
	    "stopped: not every worker started");
	return rc == 0 ? 0 : 1;
}
