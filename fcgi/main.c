/*
 * ops-fcgi: the multi-threaded FastCGI responder behind nginx.
 *
 * main() loads the config and keys, opens (or inherits) the listening
 * socket, starts fcgi.threads workers and then waits for SIGTERM/SIGINT.
 * Each worker owns one FCGX_Request for its whole life, and takes one of
 * database.pool_size PostgreSQL sessions (fcgi/pool.h) for each request.
 * Connections and threads are decoupled: nginx keeps its FastCGI
 * connections open between requests (fastcgi_keep_conn, upstream
 * keepalive), and an idle connection holds no thread and no session. Every
 * connection, and the listening socket, sits in one epoll set, one-shot:
 * each worker waits in epoll_wait() for one ready descriptor, which the
 * kernel hands to exactly one waiting thread. A ready listening socket is
 * accepted from (the new connections join the set, then the socket is
 * re-armed); a ready connection is served one request (libfcgi reads it;
 * FCGX_Request.ipcFd is set to it) and, when nginx keeps it, re-armed; an
 * idle connection nginx closed turns ready and is closed. So any number of
 * idle connections waits for free, and a new one never waits behind them
 * (measured in docs/architecture.md, "Performance"). On SIGTERM main tells
 * libfcgi to stop and interrupts the epoll_wait() of every worker with
 * SIGUSR1 (again every WAKE_MS until it has exited, as a signal can land
 * just before epoll_wait()); workers finish the request in hand and exit;
 * main joins them and exits 0 (which closes the idle connections).
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "pool.h"
#include "request.h"
#include "routes.h"
#include "sanitize.h"
#include "xalloc.h"
#include "xpthread.h"

#define WAKE_MS	50
#define MAX_PEERS	16	/* fcgi.allowed_peers */

struct server {
	struct app	 app;
	struct pool	 pool;
	int		 listen_fd;
	int		 epoll_fd;	/* the listening socket and connections */
	atomic_bool	 stopping;
	/* fcgi.allowed_peers: the only IPv4 peers accepted (none: any) */
	struct in_addr	 peers[MAX_PEERS];
	int		 npeers;
};

struct worker {
	struct server	*srv;
	pthread_t	 tid;
	int		 index;
	atomic_bool	 in_accept;	/* in epoll_wait(), not serving */
	atomic_bool	 done;
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

/* SIGUSR1 only interrupts a worker's epoll_wait() (EINTR); nothing to do. */
static void
on_wake(int sig)
{
	(void)sig;
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

/* (Re-)arm fd in the set for one readiness event. 0 or -1 (logged). */
static int
conn_arm(struct server *srv, int fd, int op)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT,
	    .data.fd = fd };

	if (epoll_ctl(srv->epoll_fd, op, fd, &ev) == 0)
		return 0;
	log_error("epoll_ctl on a FastCGI connection: %s", strerror(errno));
	return -1;
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
	(void)conn_arm(srv, srv->listen_fd, EPOLL_CTL_MOD);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *srv = w->srv;
	FCGX_Request fx;

	/* the first workers connect the sessions (fcgi/pool.h) */
	if (w->index < srv->pool.size)
		pool_warm(&srv->pool, w->index);
	/* no listening socket: fx only reads connections it is given */
	if (FCGX_InitRequest(&fx, -1, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("worker %d: cannot initialise a FastCGI request",
		    w->index);
		atomic_store(&w->done, true);
		return NULL;
	}
	while (!atomic_load(&srv->stopping)) {
		struct epoll_event ev;
		int n;

		atomic_store(&w->in_accept, true);
		n = epoll_wait(srv->epoll_fd, &ev, 1, -1);
		atomic_store(&w->in_accept, false);
		if (n != 1)
			continue;	/* interrupted: stopping? */
		if (ev.data.fd == srv->listen_fd) {
			accept_all(srv);
			continue;
		}
		/* keepConnection: FCGX_Accept_r() first finishes "the
		 * previous request", which would close fd otherwise */
		fx.ipcFd = ev.data.fd;
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
	atomic_store(&w->done, true);
	return NULL;
}

/* Stop the workers: wake each one out of epoll_wait() until it has exited. */
static void
stop_workers(struct server *srv, struct worker *workers, int n)
{
	const struct timespec wake = { 0, WAKE_MS * 1000000L };

	atomic_store(&srv->stopping, true);
	FCGX_ShutdownPending();
	for (;;) {
		int running = 0;

		for (int i = 0; i < n; i++) {
			if (atomic_load(&workers[i].done))
				continue;
			running++;
			/* a request in hand is finished, not interrupted */
			if (atomic_load(&workers[i].in_accept))
				(void)pthread_kill(workers[i].tid, SIGUSR1);
		}
		if (running == 0)
			break;
		(void)nanosleep(&wake, NULL);
	}
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
	struct server srv = { .listen_fd = -1, .epoll_fd = -1 };
	struct worker *workers;
	pthread_t refresher;
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
	/* non-blocking: a worker accepts what is pending (see the top) */
	(void)fcntl(srv.listen_fd, F_SETFL,
	    fcntl(srv.listen_fd, F_GETFL) | O_NONBLOCK);
	if ((srv.epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    conn_arm(&srv, srv.listen_fd, EPOLL_CTL_ADD) != 0) {
		fprintf(stderr, "ops-fcgi: epoll: %s\n", strerror(errno));
		unload_app(&srv.app);
		config_free(&cfg);
		return 1;
	}
	atomic_init(&srv.stopping, false);
	pool_open(&srv.pool, &cfg);

	/* Workers inherit this mask: only main receives SIGTERM/SIGINT. */
	signal(SIGPIPE, SIG_IGN);
	{
		/* no SA_RESTART: SIGUSR1 makes a blocked epoll_wait() return */
		struct sigaction sa = { .sa_handler = on_wake };

		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGUSR1, &sa, NULL) != 0) {
			fprintf(stderr, "ops-fcgi: sigaction: %s\n",
			    strerror(errno));
			unload_app(&srv.app);
			config_free(&cfg);
			return 1;
		}
	}
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
		atomic_init(&w->in_accept, false);
		atomic_init(&w->done, false);
		if ((rc = pthread_create(&w->tid, NULL, worker_main, w)) != 0) {
			log_error("cannot start worker thread %d of %d: %s; "
			    "stopping the %d started and exiting: lower "
			    "fcgi.threads or raise the limit that was hit "
			    "(ulimit -u / -v, systemd TasksMax=)", started + 1,
			    cfg.fcgi.threads, strerror(rc), started);
			break;
		}
	}
	if (started == cfg.fcgi.threads) {
		log_info("listening with %d workers, %d database sessions",
		    cfg.fcgi.threads, cfg.database.pool_size);
		do {
			sig = 0;
			if (sigwait(&sigs, &sig) != 0)
				sig = SIGTERM;
		} while (sig != SIGTERM && sig != SIGINT);
		log_info("signal %d: finishing requests in flight", sig);
	}
	stop_workers(&srv, workers, started);
	free(workers);
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
