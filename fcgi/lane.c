/*
 * lane: the poll lane of ops-fcgi (lane.h).
 *
 * A poll is a struct poll from the moment its request is read until its
 * answer is built; the pipeline is a FIFO of struct pipe_ent, one per
 * statement sent (the session's prepare, then one per poll), each followed
 * through its result, the NULL that ends it and its Sync; an answer nginx
 * cannot take at once waits in a struct answer for EPOLLOUT.
 */
#include "lane.h"

#include <errno.h>
#include <fcgiapp.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "db.h"
#include "export.h"
#include "fcgi_rec.h"
#include "log.h"
#include "routes.h"
#include "xalloc.h"

#define PEEK_MAX	16384	/* a poll's records: about 600 bytes */
#define RETRY_MS	1000	/* between connection attempts */

struct poll {
	int		 fd;		/* its FastCGI connection */
	struct fcgi_req	 fr;
	FCGX_Request	 fx;		/* params, and streams in memory */
	FCGX_Stream	 in, out, err;
	unsigned char	 obuf[4096];	/* out's buffer */
	struct buf	 wire;		/* the answer as FastCGI records */
	struct request	 r;
	struct export_actor a;
	struct export_view v;
};

struct pipe_ent {
	struct pipe_ent	*next;
	enum { AWAIT_RESULT, AWAIT_END, AWAIT_SYNC } stage;
	struct poll	*p;		/* NULL: the prepare, or answered */
	double		 sent;		/* mono_now() */
};

struct answer {
	struct answer	*next;
	int		 fd;
	bool		 keep;
	struct buf	 wire;
	size_t		 off;
};

struct lane {
	const struct app *app;
	int		 ep;
	struct db	 db;		/* settings, errors; db.conn: the session */
	enum { L_DOWN, L_CONNECTING, L_UP } state;
	PGconn		*connecting;	/* while L_CONNECTING */
	double		 deadline;	/* L_DOWN: next try; L_CONNECTING: give up */
	int		 sock;		/* the socket in ep, or -1 */
	uint32_t	 sock_events;	/* what it is watched for */
	struct pipe_ent	*head, *tail;
	int		 inflight;
	struct answer	*waiting;	/* answers nginx could not take yet */
};

int
ev_arm(int ep, int op, enum ev_kind kind, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events,
	    .data.u64 = EV_DATA(kind, fd) };

	if (epoll_ctl(ep, op, fd, &ev) == 0)
		return 0;
	log_error("epoll_ctl on descriptor %d: %s", fd, strerror(errno));
	return -1;
}

/* ---- answers -------------------------------------------------------------- */

/* The answer to fd is written: keep the connection for its next request. */
static void
conn_done(struct lane *l, int fd, bool keep)
{
	if (!keep || ev_arm(l->ep, EPOLL_CTL_MOD, EV_CONN, fd,
	    EPOLLIN | EPOLLONESHOT) != 0)
		(void)close(fd);
}

/* Write what is left of a; 1 when done (or the connection is gone), 0 when
 * nginx cannot take more yet. */
static int
answer_push(struct answer *a)
{
	while (a->off < a->wire.len) {
		ssize_t n = send(a->fd, a->wire.data + a->off,
		    a->wire.len - a->off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0)
			a->off += (size_t)n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		else {
			/* nginx closed it: it already gave its client an error */
			log_info("poll lane: answer not delivered: %s",
			    n < 0 ? strerror(errno) : "connection closed");
			a->keep = false;
			return 1;
		}
	}
	return 1;
}

/* out's buffer is full, or the answer ends: into FastCGI records. */
static void
out_empty(FCGX_Stream *s, int doClose)
{
	struct poll *p = s->data;

	(void)doClose;
	fcgi_rec_stdout(&p->wire, p->fr.id, p->obuf,
	    (size_t)(s->wrNext - p->obuf));
	s->wrNext = p->obuf;
}

static struct poll *
poll_new(struct lane *l, struct fcgi_req *fr)
{
	struct poll *p = xcalloc(1, sizeof(*p));

	p->fd = -1;
	p->fr = *fr;
	p->wire = (struct buf)BUF_INIT;
	/* no body: a reader at its end */
	p->in.isReader = 1;
	p->in.isClosed = 1;
	p->out.wrNext = p->obuf;
	p->out.stop = p->obuf + sizeof(p->obuf);
	p->out.emptyBuffProc = out_empty;
	p->out.data = p;
	/* nothing goes to FCGI_STDERR: a closed writer */
	p->err.isClosed = 1;
	p->fx.requestId = fr->id;
	p->fx.role = 1;		/* FCGI_RESPONDER */
	p->fx.in = &p->in;
	p->fx.out = &p->out;
	p->fx.err = &p->err;
	p->fx.envp = p->fr.envp;
	p->fx.ipcFd = -1;
	request_init(&p->r, &p->fx, l->app, &l->db);
	return p;
}

static void
poll_free(struct poll *p)
{
	request_finish(&p->r);
	fcgi_req_free(&p->fr);
	buf_free(&p->wire);
	free(p);
}

/* p is answered (or must be): write it, and free p. */
static void
poll_answer(struct lane *l, struct poll *p)
{
	struct answer *a = xcalloc(1, sizeof(*a));

	if (p->r.status == 0)
		resp_error(&p->r, "INTERNAL_ERROR", NULL, NULL);
	log_kv(LOG_DEBUG, "request_id", p->r.request_id, "%s %s -> %d (lane)",
	    p->r.method, p->r.path, p->r.status);
	out_empty(&p->out, 1);
	fcgi_rec_end(&p->wire, p->fr.id);
	a->fd = p->fd;
	a->keep = p->fr.keep_conn;
	a->wire = p->wire;
	p->wire = (struct buf)BUF_INIT;
	poll_free(p);
	if (answer_push(a) == 0 && ev_arm(l->ep, EPOLL_CTL_MOD, EV_CONN, a->fd,
	    EPOLLOUT | EPOLLONESHOT) == 0) {
		a->next = l->waiting;
		l->waiting = a;
		return;
	}
	conn_done(l, a->fd, a->keep && a->off == a->wire.len);
	buf_free(&a->wire);
	free(a);
}

void
lane_conn_writable(struct lane *l, int fd)
{
	struct answer **pp, *a;

	for (pp = &l->waiting; (a = *pp) != NULL; pp = &a->next)
		if (a->fd == fd)
			break;
	if (a == NULL) {
		log_error("poll lane: descriptor %d writable, no answer for it",
		    fd);
		(void)close(fd);
		return;
	}
	if (answer_push(a) == 0) {
		if (ev_arm(l->ep, EPOLL_CTL_MOD, EV_CONN, fd,
		    EPOLLOUT | EPOLLONESHOT) == 0)
			return;
		a->keep = false;
	}
	*pp = a->next;
	conn_done(l, fd, a->keep);
	buf_free(&a->wire);
	free(a);
}

/* ---- the session ------------------------------------------------------------ */

/* Watch the session's socket (level-triggered) for events. */
static void
sock_watch(struct lane *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events,
	    .data.u64 = EV_DATA(EV_LANE_DB, fd) };

	/* up, the socket stays: only a change needs a system call */
	if (l->state == L_UP && fd == l->sock && events == l->sock_events)
		return;
	/* libpq may have closed the last one (which left the set) */
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) != 0 &&
	    epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		log_error("poll lane: epoll_ctl on the session's socket: %s",
		    strerror(errno));
	l->sock = fd;
	l->sock_events = events;
}

static void
pipe_push(struct lane *l, struct poll *p)
{
	struct pipe_ent *e = xcalloc(1, sizeof(*e));

	e->stage = AWAIT_RESULT;
	e->p = p;
	e->sent = mono_now();
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
	l->inflight++;
}

static void
pipe_pop(struct lane *l)
{
	struct pipe_ent *e = l->head;

	if ((l->head = e->next) == NULL)
		l->tail = NULL;
	l->inflight--;
	free(e);
}

/*
 * The session is gone (or unusable): every poll in flight gets 503
 * DB_UNAVAILABLE, and the next attempt is in RETRY_MS.
 */
static void
session_lost(struct lane *l, const char *why)
{
	log_warn("poll lane: database session lost (%s); polls go to the "
	    "worker threads until it is back", why);
	l->db.err = DB_ERR_UNAVAILABLE;
	while (l->head) {
		if (l->head->p) {
			h_export_get_end(&l->head->p->r, EXPORT_E_DB, NULL,
			    NULL);
			poll_answer(l, l->head->p);
		}
		pipe_pop(l);
	}
	/* closing the socket takes it out of the set */
	db_disconnect(&l->db);
	l->sock = -1;
	l->state = L_DOWN;
	l->deadline = mono_now() + RETRY_MS / 1000.0;
}

/* Send what libpq holds; watch for writability while some is left. */
static int
session_flush(struct lane *l)
{
	int rc = PQflush(l->db.conn);

	if (rc < 0)
		return -1;
	sock_watch(l, PQsocket(l->db.conn), rc ? EPOLLIN | EPOLLOUT : EPOLLIN);
	return 0;
}

static void
session_ready(struct lane *l, PGconn *conn)
{
	const struct db_stmt *st = export_job_get_stmt();

	l->connecting = NULL;
	db_connected(&l->db, conn);
	if (PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1 ||
	    PQsendPrepare(conn, st->name, st->sql, st->nparams, NULL) != 1 ||
	    PQpipelineSync(conn) != 1) {
		session_lost(l, PQerrorMessage(conn));
		return;
	}
	pipe_push(l, NULL);
	l->state = L_UP;
	if (session_flush(l) != 0) {
		session_lost(l, PQerrorMessage(conn));
		return;
	}
	log_info("poll lane: database session up (pipeline mode)");
}

static void
connect_step(struct lane *l)
{
	switch (PQconnectPoll(l->connecting)) {
	case PGRES_POLLING_READING:
		sock_watch(l, PQsocket(l->connecting), EPOLLIN);
		break;
	case PGRES_POLLING_WRITING:
		sock_watch(l, PQsocket(l->connecting), EPOLLOUT);
		break;
	case PGRES_POLLING_OK:
		session_ready(l, l->connecting);
		break;
	default:
		log_warn("poll lane: database connection failed: %s",
		    PQerrorMessage(l->connecting));
		PQfinish(l->connecting);
		l->connecting = NULL;
		l->sock = -1;
		l->state = L_DOWN;
		l->deadline = mono_now() + RETRY_MS / 1000.0;
		break;
	}
}

int
lane_tick(struct lane *l)
{
	double now = mono_now();

	if (l->state == L_CONNECTING && now >= l->deadline) {
		log_warn("poll lane: database connection timed out after %d s",
		    l->db.connect_timeout);
		PQfinish(l->connecting);
		l->connecting = NULL;
		l->sock = -1;
		l->state = L_DOWN;
		l->deadline = now + RETRY_MS / 1000.0;
	}
	if (l->state == L_DOWN && now >= l->deadline) {
		if ((l->connecting = db_connect_start(&l->db)) == NULL) {
			l->deadline = now + RETRY_MS / 1000.0;
		} else {
			l->state = L_CONNECTING;
			l->deadline = now + l->db.connect_timeout;
			/* as if PQconnectPoll() had said "writing" */
			sock_watch(l, PQsocket(l->connecting), EPOLLOUT);
		}
	}
	if (l->state == L_UP)
		return -1;
	return (int)((l->deadline - now) * 1000) + 1;
}

/* The result of the statement at the head of the pipeline. */
static void
pipe_result(struct lane *l, struct pipe_ent *e, PGresult *res)
{
	struct poll *p = e->p;
	enum export_outcome o;
	char state[16];
	json_t *job;

	e->p = NULL;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && p) {
		o = export_job_from_result(res, &p->a, &p->v, &job, state);
		h_export_get_end(&p->r, o, job, state);
	} else if (PQresultStatus(res) != PGRES_COMMAND_OK || p) {
		/* logged; drops db.conn when the session is gone */
		db_fail_result(&l->db, res);
		if (p)
			h_export_get_end(&p->r, EXPORT_E_DB, NULL, NULL);
		else	/* no prepared poll: no lane */
			db_disconnect(&l->db);
	}
	if (p)
		poll_answer(l, p);
}

/* Take every result that has come, answering their polls. */
static void
session_results(struct lane *l)
{
	while (l->head && l->db.conn && !PQisBusy(l->db.conn)) {
		struct pipe_ent *e = l->head;
		PGresult *res = PQgetResult(l->db.conn);

		if (e->stage == AWAIT_RESULT && res) {
			pipe_result(l, e, res);
			e->stage = AWAIT_END;
		} else if (e->stage == AWAIT_END && res == NULL) {
			e->stage = AWAIT_SYNC;
		} else if (e->stage == AWAIT_SYNC && res &&
		    PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			pipe_pop(l);
		} else if (res == NULL) {
			break;		/* nothing more yet */
		}
		PQclear(res);
	}
	if (l->db.conn == NULL)
		session_lost(l, "the server closed it or failed");
}

void
lane_db_event(struct lane *l, uint32_t events)
{
	if (l->state == L_CONNECTING) {
		connect_step(l);
		return;
	}
	if (l->state != L_UP)
		return;
	if ((events & EPOLLOUT) && session_flush(l) != 0) {
		session_lost(l, PQerrorMessage(l->db.conn));
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (PQconsumeInput(l->db.conn) != 1) {
			session_lost(l, PQerrorMessage(l->db.conn));
			return;
		}
		session_results(l);
	}
}

/* ---- requests ---------------------------------------------------------------- */

/* Is the session there to take another poll at once? */
static bool
accepting(const struct lane *l)
{
	return l->state == L_UP && l->inflight < LANE_MAX_INFLIGHT &&
	    (l->head == NULL || (mono_now() - l->head->sent) * 1000 <
	    l->app->cfg->database.pool_wait_ms);
}

enum lane_offer
lane_offer(struct lane *l, int fd)
{
	unsigned char peek[PEEK_MAX];
	const struct db_stmt *st = export_job_get_stmt();
	struct fcgi_req fr;
	struct poll *p;
	const char *id;
	ssize_t n;
	size_t used;

	if (!accepting(l))
		return LANE_PASS;
	/* a closed connection, an error: the worker's libfcgi sees to it */
	n = recv(fd, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT);
	if (n <= 0 || (used = fcgi_req_parse(peek, (size_t)n, &fr)) == 0)
		return LANE_PASS;
	p = poll_new(l, &fr);
	if (strcmp(p->r.method, "GET") != 0 || route_find(&p->r) !=
	    h_export_get) {
		poll_free(p);
		return LANE_PASS;
	}
	/* the bytes peeked are there: read them for real */
	if (recv(fd, peek, used, MSG_DONTWAIT) != (ssize_t)used) {
		log_error("poll lane: cannot read a request it peeked: %s",
		    strerror(errno));
		poll_free(p);
		(void)close(fd);
		return LANE_TAKEN;
	}
	p->fd = fd;
	if (h_export_get_begin(&p->r, &p->a, &p->v) != 0) {
		poll_answer(l, p);
		return LANE_TAKEN;
	}
	id = p->r.params[0];
	if (!export_id_valid(id)) {
		h_export_get_end(&p->r, EXPORT_E_NOT_FOUND, NULL, NULL);
		poll_answer(l, p);
		return LANE_TAKEN;
	}
	if (PQsendQueryPrepared(l->db.conn, st->name, 1, &id, NULL, NULL, 0)
	    != 1 || PQpipelineSync(l->db.conn) != 1) {
		pipe_push(l, p);	/* answered with the others */
		session_lost(l, PQerrorMessage(l->db.conn));
		return LANE_TAKEN;
	}
	pipe_push(l, p);
	if (session_flush(l) != 0)
		session_lost(l, PQerrorMessage(l->db.conn));
	return LANE_TAKEN;
}

bool
lane_busy(const struct lane *l)
{
	for (const struct pipe_ent *e = l->head; e; e = e->next)
		if (e->p)
			return true;
	return l->waiting != NULL;
}

struct lane *
lane_open(const struct app *app, int ep)
{
	struct lane *l = xcalloc(1, sizeof(*l));

	l->app = app;
	l->ep = ep;
	l->sock = -1;
	l->state = L_DOWN;
	l->deadline = mono_now();
	db_init(&l->db, app->cfg->database.url, app->cfg->database.fcgi_role,
	    app->cfg->database.connect_timeout_seconds, "ops-fcgi/lane");
	return l;
}

void
lane_close(struct lane *l)
{
	if (l == NULL)
		return;
	while (l->head) {
		if (l->head->p)
			poll_free(l->head->p);
		pipe_pop(l);
	}
	while (l->waiting) {
		struct answer *a = l->waiting;

		l->waiting = a->next;
		buf_free(&a->wire);
		free(a);
	}
	if (l->connecting)
		PQfinish(l->connecting);
	db_close(&l->db);
	free(l);
}
