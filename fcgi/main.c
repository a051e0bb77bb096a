/*
 * ops-fcgi: the multi-threaded FastCGI responder behind nginx.
 *
 * main() loads the config and keys, opens (or inherits) the listening
 * socket, starts fcgi.threads workers and then waits for SIGTERM/SIGINT.
 * Each worker owns one FCGX_Request and one PostgreSQL connection for its
 * whole life. Workers take turns on the listening socket: one at a time
 * poll()s it (so that shutdown is noticed within POLL_MS) and accepts; the
 * socket is non-blocking, so a connection another process took first is not
 * a hang. On SIGTERM workers finish the request in hand and exit; main joins
 * them and exits 0.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

#define POLL_MS	250

struct server {
	struct app	 app;
	int		 listen_fd;
	pthread_mutex_t	 accept_mu;
	atomic_bool	 stopping;
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
	    "FastCGI responder of the ops API. Listens on fcgi.socket_path, or\n"
	    "on an inherited socket (systemd socket activation, or fd 0 as\n"
	    "spawn-fcgi passes it). SIGTERM finishes requests in flight.\n"
	    "\n"
	    "  --config PATH  config file (default $OPS_CONFIG, then %s)\n"
	    "  --routes       print the route table and exit\n",
	    CONFIG_DEFAULT_PATH);
}

/* Wait until the socket is readable or we are stopping. 1 = readable. */
static int
wait_readable(struct server *srv)
{
	struct pollfd pfd = { .fd = srv->listen_fd, .events = POLLIN };

	while (!atomic_load(&srv->stopping)) {
		int n = poll(&pfd, 1, POLL_MS);

		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR) {
			log_error("poll on the listening socket: %s",
			    strerror(errno));
			return -1;
		}
	}
	return 0;
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
	(void)db_ensure(&db);	/* failure is fine: retried per request */
	if (FCGX_InitRequest(&fx, srv->listen_fd, 0) != 0) {
		log_error("worker %d: cannot initialise a FastCGI request",
		    w->index);
		db_close(&db);
		return NULL;
	}
	while (!atomic_load(&srv->stopping)) {
		int rc;

		pthread_mutex_lock(&srv->accept_mu);
		rc = wait_readable(srv);
		if (rc > 0)
			rc = FCGX_Accept_r(&fx) == 0 ? 1 : 0;
		pthread_mutex_unlock(&srv->accept_mu);
		if (rc < 0)
			break;
		if (rc == 0)
			continue;	/* stopping, or another process won */
		serve_one(srv, &fx, &db);
		FCGX_Finish_r(&fx);
	}
	FCGX_Free(&fx, 0);
	db_close(&db);
	return NULL;
}

static bool
fd_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * The listening socket: fcgi.socket_path when set (a stale socket file is
 * replaced), else systemd's LISTEN_FDS (fd 3), else fd 0 as spawn-fcgi
 * passes it. Returns the fd or -1 with err filled.
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
	if (lpid && lfds && strtol(lpid, NULL, 10) == (long)getpid() &&
	    strcmp(lfds, "1") == 0 && fd_is_socket(3))
		return 3;
	if (fd_is_socket(0))
		return 0;
	snprintf(err, errsz, "no socket: set fcgi.socket_path, or start under "
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
	sigset_t sigs;
	char err[512];
	int ch, sig;

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
	if (FCGX_Init() != 0 ||
	    (srv.listen_fd = listen_socket(&cfg, err, sizeof(err))) < 0) {
		fprintf(stderr, "ops-fcgi: %s\n", err);
		unload_app(&srv.app);
		config_free(&cfg);
		return 1;
	}
	(void)fcntl(srv.listen_fd, F_SETFL,
	    fcntl(srv.listen_fd, F_GETFL) | O_NONBLOCK);
	pthread_mutex_init(&srv.accept_mu, NULL);
	atomic_init(&srv.stopping, false);

	/* Workers inherit this mask: only main receives SIGTERM/SIGINT. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	workers = xcalloc((size_t)cfg.fcgi.threads, sizeof(*workers));
	for (int i = 0; i < cfg.fcgi.threads; i++) {
		workers[i].srv = &srv;
		workers[i].index = i;
		if (pthread_create(&workers[i].tid, NULL, worker_main,
		    &workers[i]) != 0) {
			log_error("cannot start worker %d", i);
			return 1;
		}
	}
	log_info("listening with %d workers", cfg.fcgi.threads);

	do {
		sig = 0;
		if (sigwait(&sigs, &sig) != 0)
			sig = SIGTERM;
	} while (sig != SIGTERM && sig != SIGINT);
	log_info("signal %d: finishing requests in flight", sig);
	atomic_store(&srv.stopping, true);
	for (int i = 0; i < cfg.fcgi.threads; i++)
		pthread_join(workers[i].tid, NULL);
	free(workers);
	if (cfg.fcgi.socket_path)
		unlink(cfg.fcgi.socket_path);
	unload_app(&srv.app);
	config_free(&cfg);
	log_info("stopped");
	return 0;
}
