/*
 * ops-notion-sync: publish the spec documents to Notion (contract section
 * 13; docs/notion-sync.md).
 *
 * A run: read the manifest (docs/notion-sync.yaml) and render every
 * document (jobs/notion_sync/blocks.c), every file read beneath --root (no
 * symbolic link, nothing outside: read_file_max()); run the preflight's
 * checks through the Notion component (notion/notion.h) on users/me, every page and the
 * database, with the same NOTION_AUTH_* codes and exits (10..19); check the
 * database's properties and read its rows; then replace the page of each
 * document whose SHA-256 differs from its row's (jobs/notion_sync/publish.c)
 * and stop at the first failure. Nothing is written before every check has
 * passed, nothing at all when every document is unchanged.
 *
 * With --config and a database in it the run takes the scheduler lock
 * ops-notion-sync and records JOB_RUN_* like the other jobs; without (CI)
 * it runs alone. Exit: 0, 1 (the database failed), 2 usage or
 * configuration, 10..19 NOTION_AUTH_*, 75 the lock is held elsewhere.
 *
 * The settings own the token: wiped before exit (notioncli_free()), never
 * printed, never put into the environment (a child such as git rev-parse
 * inherits no token).
 *
 * SIGTERM/SIGINT (docs/notion-sync.md, "Stopping"): no new request starts,
 * except those that finish the page being replaced (never left
 * half-appended: its blocks and then its row), and no next page; the run is
 * recorded terminated, the lock released, exit 143 (130 for SIGINT).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blocks.h"
#include "buf.h"
#include "cli.h"
#include "config.h"
#include "digest.h"
#include "jobrun.h"
#include "log.h"
#include "manifest.h"
#include "notion.h"
#include "publish.h"
#include "stop.h"
#include "xalloc.h"
#include "xjson.h"

#define PROG		"ops-notion-sync"
#define EXIT_USAGE	2
#define DEFAULT_MANIFEST "docs/notion-sync.yaml"
#define DEFAULT_OPENAPI	"docs/api/openapi.yaml"

struct settings {
	struct notioncli	 cli;		/* the options both binaries take */
	const char		*manifest;
	const char		*root;
	const char		*render;	/* --render FILE */
	const char		*commit;
	long			 max_rps;
	int			 dry_run;
	int			 rootfd;	/* --root, every read beneath */
};

#define SUMMARY \
	"Publishes the documents of the manifest to their Notion pages and\n" \
	"one metadata row each, after the preflight's checks (fails closed).\n" \
	"An unchanged document is not written at all. A database in --config\n" \
	"makes the run take the ops-notion-sync lock and record it."

#define USAGE \
	"  --dry-run            say what would change; write nothing\n" \
	"  --format FMT         text (default), json or github (annotations)\n" \
	"  --manifest FILE      default " DEFAULT_MANIFEST " (under --root)\n" \
	"  --root DIR           the repository checkout (default .); every\n" \
	"                       file is read beneath it, never through a link\n" \
	"  --cacert FILE        also trust the CA certificates in FILE (PEM)\n" \
	"  --timeout SECS       per request (default 10)\n" \
	"  --deadline SECS      whole run, retries included (default 900)\n" \
	"  --max-rps N          requests per second, 1..50 (default 3, " \
	"Notion's\n" \
	"                       average limit: raise it only for a test " \
	"server)\n" \
	"  --commit SHA         the commit recorded (default $GITHUB_SHA, else\n" \
	"                       git rev-parse HEAD)\n" \
	"  --render FILE        print the Notion blocks of a Markdown file\n" \
	"  --check-config       check the settings (--config's notion:, the\n" \
	"                       environment), send nothing\n" \
	"  --list-codes         print CODE<TAB>EXIT<TAB>cause for every code\n" \
	"  --config-keys        print the notion: keys of the config file\n"

#define EPILOG \
	"environment: NOTION_TOKEN or NOTION_TOKEN_FILE, NOTION_API_BASE,\n" \
	"NOTION_VERSION, NOTION_TOKEN_ISSUED_AT, NOTION_TOKEN_ROTATE_DAYS,\n" \
	"NOTION_TOKEN_WARN_DAYS (they win over --config's notion: section),\n" \
	"and the $VARIABLES the manifest names\n" \
	"exit: 0 ok, 1 database failure, 2 usage, 10..19 NOTION_AUTH_*,\n" \
	"75 another run holds the lock\n" \
	"docs: docs/notion-sync.md; runbook: " NOTION_RUNBOOK

enum { O_MANIFEST = NOTIONCLI_O_OWN, O_ROOT, O_DRY, O_RPS, O_COMMIT,
    O_RENDER };

static const struct option own_options[] = {
	{ "manifest", required_argument, NULL, O_MANIFEST },
	{ "root", required_argument, NULL, O_ROOT },
	{ "dry-run", no_argument, NULL, O_DRY },
	{ "max-rps", required_argument, NULL, O_RPS },
	{ "commit", required_argument, NULL, O_COMMIT },
	{ "render", required_argument, NULL, O_RENDER },
	{ NULL, 0, NULL, 0 }
};

/* The sync's own options (notioncli_parse() does the shared ones). */
static int
own_option(int opt, const char *arg, void *ctx)
{
	struct settings *s = ctx;

	switch (opt) {
	case O_RPS:
		if (notion_parse_long(arg, 1, 50, &s->max_rps))
			return notioncli_error(&s->cli, "--max-rps must be a "
			    "whole number between 1 and 50");
		break;
	case O_MANIFEST:
		s->manifest = arg;
		break;
	case O_ROOT:
		s->root = arg;
		break;
	case O_DRY:
		s->dry_run = 1;
		break;
	case O_COMMIT:
		s->commit = arg;
		break;
	case O_RENDER:
		s->render = arg;
		break;
	}
	return 0;
}

/* --render FILE: the blocks of one Markdown file, for humans and tests. */
static int
render(const struct notioncli *cli, const char *path)
{
	struct buf md = BUF_INIT;
	char err[256];
	json_t *blocks;
	int rc = EXIT_USAGE;

	if (read_file_max(AT_FDCWD, path, MANIFEST_SOURCE_MAX, &md, err,
	    sizeof(err)) ==
	    0 && (blocks = blocks_from_markdown(md.data ? md.data : "", md.len,
	    err, sizeof(err))) != NULL) {
		if (json_dumpf(blocks, stdout, JSON_INDENT(2)) == 0 &&
		    fputc('\n', stdout) != EOF && fflush(stdout) == 0)
			rc = 0;
		json_decref(blocks);
	} else
		notioncli_error(cli, "%s", err);
	buf_free(&md);
	return rc;
}

/* The commit to record: --commit, $GITHUB_SHA, git rev-parse HEAD. */
static void
find_commit(const struct settings *s, char *out, size_t outsz)
{
	const char *v = s->commit ? s->commit : getenv("GITHUB_SHA");
	FILE *p;

	snprintf(out, outsz, "unknown");
	if (v && *v) {
		snprintf(out, outsz, "%.64s", v);
		return;
	}
	if ((p = popen("git rev-parse HEAD 2>/dev/null", "r")) == NULL)
		return;
	if (fgets(out, (int)outsz, p) == NULL)
		snprintf(out, outsz, "unknown");
	out[strcspn(out, "\r\n")] = '\0';
	if (pclose(p) != 0 || out[0] == '\0')
		snprintf(out, outsz, "unknown");
}

/* Read and render every document; the OpenAPI version. 0 or -1. */
static int
prepare(const struct settings *s, const struct manifest *m,
    struct sync_doc *docs, char *version, size_t versionsz)
{
	const struct notioncli *cli = &s->cli;
	const char *openapi = DEFAULT_OPENAPI;
	char err[512];

	for (size_t i = 0; i < m->ndocs; i++)
		if (m->docs[i].routes)
			openapi = m->docs[i].source;
	if (openapi_read(s->rootfd, openapi, version, versionsz, NULL, err,
	    sizeof(err)) == -1)
		return notioncli_error(cli, "%s", err);
	for (size_t i = 0; i < m->ndocs; i++) {
		struct sync_doc *d = &docs[i];
		struct buf md = BUF_INIT;
		int rc;

		d->m = &m->docs[i];
		d->state = DOC_NOT_REACHED;
		if (d->m->routes)
			rc = openapi_read(s->rootfd, d->m->source, NULL, 0,
			    &md, err, sizeof(err));
		else
			rc = read_file_max(s->rootfd, d->m->source,
			    MANIFEST_SOURCE_MAX, &md, err, sizeof(err));
		if (rc == 0) {
			digest_sha256_hex(md.data ? md.data : "", md.len,
			    d->sha);
			d->blocks = blocks_from_markdown(md.data ? md.data : "",
			    md.len, err, sizeof(err));
		}
		buf_free(&md);
		if (rc == -1 || d->blocks == NULL)
			return notioncli_error(cli, "document \"%s\": %s",
			    d->m->name, err);
		d->nblocks = blocks_count(d->blocks);
	}
	return 0;
}

struct run {
	struct settings		*s;
	const struct manifest	*m;
	struct sync_doc		*docs;
	struct notion_report	 r;
	unsigned long		 requests;
	unsigned long		 writes;
	char			 commit[80];
	char			 version[64];
};

/* The checks, the rows, the pages. Findings go to run->r. */
static void
sync_all(struct run *run, time_t now)
{
	struct settings *s = run->s;
	struct notion_target targets[NOTION_MAX_TARGETS];
	struct notion_options o;
	struct notion_transport ct, t;
	struct notioncli_stoppable stoppable;
	struct notion_client c;
	struct notion_curl *curl;
	struct publisher p;
	bool finishing = false;
	size_t nt = 0;
	int rc;

	if ((curl = notioncli_curl(&s->cli, &run->r, &ct)) == NULL)
		return;
	notioncli_stoppable(&stoppable, &ct, &finishing, &t);
	for (size_t i = 0; i < run->m->ndocs; i++) {
		targets[nt].kind = NOTION_KIND_PAGE;
		memcpy(targets[nt++].id, run->m->docs[i].page,
		    sizeof(targets[0].id));
	}
	targets[nt].kind = NOTION_KIND_DATABASE;
	memcpy(targets[nt++].id, run->m->database, sizeof(targets[0].id));
	notioncli_options(&s->cli, &o);
	o.targets = targets;
	o.ntargets = nt;
	o.max_retries = 5;
	o.min_interval_ms = (1000 + s->max_rps - 1) / s->max_rps;
	notion_client_init(&c, &o, &t, now);

	memset(&p, 0, sizeof(p));
	p.c = &c;
	p.r = &run->r;
	p.database = run->m->database;
	p.commit = run->commit;
	p.version = run->version;
	notion_format_time(now, p.synced_at, sizeof(p.synced_at));

	notion_check_api_client(&c, &run->r);
	if (s->cli.settings.rotation)
		notion_check_rotation(&run->r, s->cli.settings.issued,
		    s->cli.settings.rotate_days, s->cli.settings.warn_days,
		    now);
	if (notion_report_code(&run->r) != NOTION_OK ||
	    publish_check_database(&p) == -1 ||
	    publish_read_rows(&p, run->docs, run->m->ndocs) == -1)
		goto out;
	for (size_t i = 0; i < run->m->ndocs; i++) {
		struct sync_doc *d = &run->docs[i];

		d->state = strcmp(d->sha, d->row_sha) == 0 ? DOC_UNCHANGED :
		    DOC_CHANGED;
		if (d->state == DOC_UNCHANGED || s->dry_run)
			continue;
		if (stop_requested() != 0)
			break;	/* between pages: this one stays as it was */
		log_kv(LOG_INFO, "document", d->m->name, "replacing page %s: "
		    "%zu blocks", d->m->page, d->nblocks);
		finishing = true;	/* a stop now lets the page finish */
		rc = publish_doc(&p, d);
		finishing = false;
		if (rc == -1)
			break;
	}
out:
	run->requests = c.requests;
	run->writes = p.writes;
	notion_client_free(&c);
	notion_curl_free(curl);
}

static size_t
count_state(const struct run *run, enum doc_state st)
{
	size_t n = 0;

	for (size_t i = 0; i < run->m->ndocs; i++)
		n += run->docs[i].state == st;
	return n;
}

static void
format_text(const struct run *run, struct buf *out, int github)
{
	enum notion_code code = notion_report_code(&run->r);
	const struct notion_code_info *ci = notion_code_lookup(code);
	const char *fp = run->r.fingerprint[0] ? run->r.fingerprint : "(none)";

	for (size_t i = 0; i < run->m->ndocs; i++) {
		const struct sync_doc *d = &run->docs[i];
		const char *st = doc_state_name(d->state);

		if (d->state == DOC_CHANGED && run->s->dry_run)
			st = "would update";
		buf_appendf(out, "%s: %s (%s -> page:%s), %zu blocks, sha256 "
		    "%.12s", st, d->m->name, d->m->source, d->m->page,
		    d->nblocks, d->sha);
		if (d->state == DOC_UPDATED)
			buf_appendf(out, ", %zu old blocks archived",
			    d->archived);
		buf_appendc(out, '\n');
	}
	if (github)
		notion_format_findings_github(&run->r, out);
	else
		notion_format_findings_text(&run->r, out);
	if (ci != NULL) {
		buf_appendf(out, "FAILED: %s (exit %d), token %s: %zu "
		    "document(s) updated before the failure; the next run "
		    "converges; follow %s#%s\n", ci->name, ci->exit_status, fp,
		    count_state(run, DOC_UPDATED), NOTION_RUNBOOK, ci->anchor);
		return;
	}
	buf_appendf(out, "ok: token %s, %zu document(s): %zu %s, %zu "
	    "unchanged; %lu request(s), %lu write(s); OpenAPI %s, commit "
	    "%.12s\n", fp, run->m->ndocs, count_state(run, run->s->dry_run ?
	    DOC_CHANGED : DOC_UPDATED), run->s->dry_run ? "would change" :
	    "updated", count_state(run, DOC_UNCHANGED), run->requests,
	    run->writes, run->version, run->commit);
}

static void
format_json(const struct run *run, struct buf *out)
{
	enum notion_code code = notion_report_code(&run->r);
	json_t *o = xnonnull(json_object()), *docs = xnonnull(json_array());
	char *text;

	for (size_t i = 0; i < run->m->ndocs; i++) {
		const struct sync_doc *d = &run->docs[i];

		xjson_push(docs, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:I, s:s, s:I, s:I}", "name", d->m->name, "source",
		    d->m->source, "page", d->m->page, "sha256", d->sha,
		    "blocks", (json_int_t)d->nblocks, "state",
		    doc_state_name(d->state), "archived",
		    (json_int_t)d->archived, "appended",
		    (json_int_t)d->appended));
	}
	xjson_set(o, "ok", json_boolean(code == NOTION_OK));
	xjson_set(o, "code", code == NOTION_OK ? json_null() :
	    json_string(notion_code_name(code)));
	xjson_set(o, "exit", json_integer(notion_report_exit(
	    &run->r)));
	xjson_set(o, "dry_run", json_boolean(run->s->dry_run));
	xjson_set(o, "token_fingerprint", run->r.fingerprint[0] ?
	    json_string(run->r.fingerprint) : json_null());
	xjson_set(o, "openapi_version", json_string(run->version));
	xjson_set(o, "commit", json_string(run->commit));
	xjson_set(o, "documents", docs);
	xjson_set(o, "findings", notion_findings_json(&run->r));
	xjson_set(o, "requests", json_integer((json_int_t)
	    run->requests));
	xjson_set(o, "writes", json_integer((json_int_t)run->writes));
	text = xnonnull(json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER));
	buf_appends(out, text);
	buf_appendc(out, '\n');
	free(text);
	json_decref(o);
}

/* A Markdown table cell: no pipe, backtick or newline. */
static void
md_cell(struct buf *out, const char *s)
{
	for (; *s; s++)
		buf_appendc(out, *s == '|' || *s == '`' || *s == '\n' ? ' ' : *s);
}

/* --format github: the job summary ($GITHUB_STEP_SUMMARY), if any. */
static void
write_step_summary(const struct run *run)
{
	enum notion_code code = notion_report_code(&run->r);
	struct buf md = BUF_INIT;

	if (code == NOTION_OK)
		buf_appends(&md, "### Notion spec sync: ok\n\n");
	else
		buf_appendf(&md, "### Notion spec sync: FAILED `%s` (exit %d)\n\n",
		    notion_code_name(code), notion_report_exit(&run->r));
	buf_appends(&md, "| document | source | state | blocks |\n"
	    "|---|---|---|---|\n");
	for (size_t i = 0; i < run->m->ndocs; i++) {
		const struct sync_doc *d = &run->docs[i];

		buf_appends(&md, "| ");
		md_cell(&md, d->m->name);
		buf_appends(&md, " | `");
		md_cell(&md, d->m->source);
		buf_appendf(&md, "` | %s | %zu |\n", doc_state_name(d->state),
		    d->nblocks);
	}
	for (size_t i = 0; i < run->r.nfindings; i++) {
		buf_appendf(&md, "\n- `%s`: ",
		    notion_code_name(run->r.findings[i].code));
		md_cell(&md, run->r.findings[i].message);
	}
	buf_appendc(&md, '\n');
	notioncli_step_summary(&run->s->cli, &md, &run->r);
	buf_free(&md);
}

static void
emit(const struct run *run)
{
	struct buf out = BUF_INIT;

	if (run->s->cli.format == NOTIONCLI_JSON)
		format_json(run, &out);
	else
		format_text(run, &out, run->s->cli.format == NOTIONCLI_GITHUB);
	if (notioncli_write(&run->s->cli, &out, &run->r) == -1)
		log_error("cannot write the result to stdout");
	buf_free(&out);
	if (run->s->cli.format == NOTIONCLI_GITHUB)
		write_step_summary(run);
}

/* cfg: --config's core sections (the database for the job frame), if any */
static int
run_main(struct settings *s, struct ops_config *cfg, time_t now)
{
	struct manifest m;
	struct sync_doc docs[MANIFEST_MAX_DOCS];
	struct run run;
	struct jobrun jr;
	char err[512];
	int use_db, status;

	memset(docs, 0, sizeof(docs));
	use_db = s->cli.have_config && cfg->database.url &&
	    *cfg->database.url && !s->dry_run;
	if (manifest_load(&m, s->manifest[0] == '/' ? AT_FDCWD : s->rootfd,
	    s->manifest, err, sizeof(err)) == -1) {
		notioncli_error(&s->cli, "manifest %s", err);
		return EXIT_USAGE;
	}
	memset(&run, 0, sizeof(run));
	run.s = s;
	run.m = &m;
	run.docs = docs;
	notion_report_init(&run.r);
	if (prepare(s, &m, docs, run.version, sizeof(run.version)) == -1) {
		status = EXIT_USAGE;
		goto out;
	}
	find_commit(s, run.commit, sizeof(run.commit));
	if (use_db && (status = jobrun_begin(&jr, PROG, PROG, cfg,
	    s->cli.job.textfile_dir)) != 0)
		goto out;

	if (notioncli_token(&s->cli, &run.r) == NOTION_OK)
		sync_all(&run, now);
	emit(&run);
	status = notion_report_exit(&run.r);
	if (stop_requested() != 0) {
		log_warn("%s received: stopped after %zu page(s) replaced; "
		    "the next run publishes the rest", stop_signal_name(),
		    count_state(&run, DOC_UPDATED));
		status = stop_exit_status();
	}
	if (use_db) {
		int st;

		jobrun_count(&jr, "documents", (long long)m.ndocs);
		jobrun_count(&jr, "updated",
		    (long long)count_state(&run, DOC_UPDATED));
		jobrun_count(&jr, "unchanged",
		    (long long)count_state(&run, DOC_UNCHANGED));
		jobrun_count(&jr, "writes", (long long)run.writes);
		(void)jobrun_stopping(&jr);
		st = jobrun_end(&jr, status == 0 ? NULL :
		    notion_code_name(notion_report_code(&run.r)));
		if (st != 0 && (status == 0 || jr.stopped))
			status = st;
	}
out:
	for (size_t i = 0; i < m.ndocs; i++)
		json_decref(docs[i].blocks);
	manifest_free(&m);
	return status;
}

int
main(int argc, char **argv)
{
	struct settings s;
	struct ops_config cfg;
	time_t now = time(NULL);
	int rc;

	log_init(PROG, LOG_INFO, LOG_FORMAT_JSON);
	memset(&s, 0, sizeof(s));
	s.cli.prog = PROG;
	s.cli.summary = SUMMARY;
	s.cli.usage = USAGE;
	s.cli.epilog = EPILOG;
	s.cli.timeout_s = 10;
	s.cli.deadline_s = 900;
	s.cli.deadline_max = 7200;
	s.cli.own = own_options;
	s.cli.on_own = own_option;
	s.cli.ctx = &s;
	s.manifest = DEFAULT_MANIFEST;
	s.max_rps = 3;
	if ((rc = notioncli_parse(&s.cli, argc, argv)) != 0)
		return rc == 1 ? 0 : EXIT_USAGE;
	if (s.root && chdir(s.root) == -1) {
		notioncli_error(&s.cli, "--root %s: %s", s.root,
		    strerror(errno));
		return EXIT_USAGE;
	}
	if (s.render)
		return render(&s.cli, s.render);
	if ((s.rootfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		notioncli_error(&s.cli, "--root %s: %s", s.root ? s.root : ".",
		    strerror(errno));
		return EXIT_USAGE;
	}
	if ((rc = notioncli_settings(&s.cli, now, &cfg)) != 0) {
		close(s.rootfd);
		return rc == 1 ? 0 : EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs(PROG ": cannot initialize libcurl\n", stderr);
		rc = 1;
	} else if (stop_install() != 0) {
		curl_global_cleanup();
		rc = 1;
	} else {
		rc = run_main(&s, &cfg, now);
		curl_global_cleanup();
	}
	if (s.cli.have_config)
		config_free(&cfg);
	notioncli_free(&s.cli);
	close(s.rootfd);
	return rc;
}
