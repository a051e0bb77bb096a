/*
 * ops-fcgi: the multi-threaded FastCGI responder behind nginx.
 *
 * main() loads the config and keys, opens (or inherits) the listening
 * socket, starts fcgi.threads workers and then waits for SIGTERM/SIGINT.
 * Each worker owns one FCGX_Request and one PostgreSQL connection for its
 * whole life. Every worker blocks in accept() on the listening socket
 * itself: the kernel hands each new connection to exactly one waiting
 * thread (no lock, no poll(), no wake-up chain between workers; measured in
 * docs/architecture.md). On SIGTERM main tells libfcgi to stop and
 * interrupts the accept() of every worker with SIGUSR1 (again every
 * WAKE_MS until it has exited, as a signal can land just before accept());
 * workers finish the request in hand and exit; main joins them and exits 0.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "request.h"
#include "routes.h"
#include "sanitize.h"
#include "xalloc.h"
#include "xpthread.h"

#define WAKE_MS	50

struct server {
	struct app	 app;
	int		 listen_fd;
	atomic_bool	 stopping;
};

struct worker {
	struct server	*srv;
	pthread_t	 tid;
	int		 index;
	atomic_bool	 in_accept;	/* blocked in accept(), not serving */
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

/* SIGUSR1 only interrupts a worker's accept() (EINTR); nothing to do. */
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

static void
serve_one(struct server *srv, FCGX_Request *fx, struct db *db)
{
	struct request r;

	request_init(&r, fx, &srv->app, db);
	route_dispatch(&r);
	if (r.status == 0)
		resp_error(&r, "INTERNAL_ERROR", NULL, NULL);
	log_kv(LOG_DEBUG, "request_id", r.request_id, "%s %s -> %d",
	    r.method, r.path, r.status);
	request_finish(&r);
	/* a failed transaction must not leak into the next request */
	db_rollback(db);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *srv = w->srv;
	const struct ops_config *cfg = srv->app.cfg;
	FCGX_Request fx;
	struct db db;
	char appname[64];

	snprintf(appname, sizeof(appname), "ops-fcgi/%d", w->index);
	db_init(&db, cfg->database.url, cfg->database.fcgi_role,
	    cfg->database.connect_timeout_seconds, appname);
	db.prepare = strcmp(cfg->database.prepared_statements, "true") == 0;
	(void)db_ensure(&db);	/* failure is fine: retried per request */
	if (FCGX_InitRequest(&fx, srv->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("worker %d: cannot initialise a FastCGI request",
		    w->index);
		db_close(&db);
		atomic_store(&w->done, true);
		return NULL;
	}
	while (!atomic_load(&srv->stopping)) {
		int rc;

		atomic_store(&w->in_accept, true);
		rc = FCGX_Accept_r(&fx);
		atomic_store(&w->in_accept, false);
		if (rc != 0) {
			/* interrupted (stopping), a connection that broke
			 * early, or out of descriptors: do not spin */
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				const struct timespec pause = { 0, 100000000L };

				log_error("accept on the listening socket: %s",
				    strerror(errno));
				(void)nanosleep(&pause, NULL);
			}
			continue;
		}
		serve_one(srv, &fx, &db);
		/*
		 * Read what is left of the request (a body the handler did
		 * not need; usually nothing), then close at once: detached,
		 * libfcgi does not shutdown() and wait up to 2 s (poll) for
		 * nginx to close its end first. That lingering close guards
		 * against a reset that loses the answer when unread input is
		 * left; none is. It was 17% of ops-fcgi's samples under wrk
		 * (docs/architecture.md).
		 */
		drain_input(&fx);
		(void)FCGX_Detach(&fx);
		FCGX_Finish_r(&fx);
	}
	FCGX_Free(&fx, 0);
	db_close(&db);
	atomic_store(&w->done, true);
	return NULL;
}

/* Stop the workers: wake each one out of accept() until it has exited. */
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
 * and let fcgi.allowed_peers (libfcgi's FCGI_WEB_SERVER_ADDRS) and a
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
 * fcgi.allowed_peers, IPv4 addresses separated by commas: libfcgi closes a
 * TCP connection from any other address (FCGI_WEB_SERVER_ADDRS, read by
 * FCGX_Init(); it checks IPv4 peers only, so an IPv6 listener is refused).
 */
static int
allow_peers(const struct ops_config *cfg, char *err, size_t errsz)
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
		p += n + (p[n] == ',');
	}
	if (setenv("FCGI_WEB_SERVER_ADDRS", cfg->fcgi.allowed_peers, 1) != 0) {
		snprintf(err, errsz, "setenv: %s", strerror(errno));
		return -1;
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
	struct server srv;
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
	if (allow_peers(&cfg, err, sizeof(err)) != 0 || FCGX_Init() != 0 ||
	    (srv.listen_fd = listen_socket(&cfg, err, sizeof(err))) < 0) {
		fprintf(stderr, "ops-fcgi: %s\n", err);
		unload_app(&srv.app);
		config_free(&cfg);
		return 1;
	}
	/* blocking: workers wait in accept() itself (see the top) */
	(void)fcntl(srv.listen_fd, F_SETFL,
	    fcntl(srv.listen_fd, F_GETFL) & ~O_NONBLOCK);
	atomic_init(&srv.stopping, false);

	/* Workers inherit this mask: only main receives SIGTERM/SIGINT. */
	signal(SIGPIPE, SIG_IGN);
	{
		/* no SA_RESTART: SIGUSR1 makes a blocked accept() return */
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
		log_info("listening with %d workers", cfg.fcgi.threads);
		do {
			sig = 0;
			if (sigwait(&sigs, &sig) != 0)
				sig = SIGTERM;
		} while (sig != SIGTERM && sig != SIGINT);
		log_info("signal %d: finishing requests in flight", sig);
	}
	stop_workers(&srv, workers, started);
	free(workers);
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
