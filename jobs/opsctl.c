/*
 * opsctl: the operator's command line.
 *
 *   opsctl [--config PATH] COMMAND [ARGS]
 *
 * Every command is one row of the table `commands` at the end of this file:
 * its name, its arguments and help for the usage text, and its handler,
 * like the route table of ops-fcgi (fcgi/routes.c). `opsctl --help` prints
 * the table.
 *
 * Exit status: 0 success, 1 failure, 2 usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "errors.h"
#include "export.h"
#include "export_admin.h"
#include "history.h"
#include "storage.h"
#include "lockadmin.h"
#include "lockstate.h"
#include "log.h"
#include "jwks.h"
#include "migrate.h"
#include "rbac.h"
#include "sanitize.h"
#include "xalloc.h"
#include "xjson.h"

#define EXIT_USAGE	2

struct ctl {
	const char		*argv0;
	const char		*config_arg;
	struct ops_config	 cfg;
	bool			 cfg_loaded;
};

static void	usage(FILE *out);

/* Load the config and check what the command needs; exit 2 on error. */
static void
ctl_config(struct ctl *c, int need)
{
	char err[512];

	if (!c->cfg_loaded) {
		const char *path = config_resolve_path(c->config_arg);

		if (config_load(&c->cfg, path, err, sizeof(err)) != 0) {
			fprintf(stderr, "opsctl: config %s\n", err);
			/* a file that is not there: say where a config comes from */
			if (access(path, F_OK) != 0)
				fprintf(stderr, "opsctl: hint: name the config "
				    "with --config PATH or OPS_CONFIG=PATH (make "
				    "run writes var/ops.yaml; every key with its "
				    "default: docs/ops.example.yaml, "
				    "docs/config.md)\n");
			exit(EXIT_USAGE);
		}
		c->cfg_loaded = true;
		log_init("opsctl", log_level_parse(c->cfg.log.level),
		    log_format_parse(c->cfg.log.format));
	}
	if (config_require(&c->cfg, need, err, sizeof(err)) != 0) {
		fprintf(stderr, "opsctl: config %s\n", err);
		exit(EXIT_USAGE);
	}
}

static void
ctl_db(struct ctl *c, struct db *db)
{
	ctl_config(c, CONFIG_NEED_DATABASE);
	db_init(db, c->cfg.database.url, c->cfg.database.jobs_role,
	    c->cfg.database.connect_timeout_seconds, "opsctl");
}

static int
cmd_migrate(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	char dirbuf[PATH_MAX], err[512];
	const char *dir = NULL;
	struct migrate_roles roles;
	struct db db;
	int ch, n;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'd') {
			usage(stderr);
			return EXIT_USAGE;
		}
		dir = optarg;
	}
	if (dir == NULL)
		dir = migrate_default_dir(c->argv0, dirbuf, sizeof(dirbuf));
	/* the owner's URL alone will do: the root-only migration credential */
	ctl_config(c, 0);
	if (c->cfg.database.migrate_url == NULL)
		ctl_config(c, CONFIG_NEED_DATABASE);
	/* direct, as the owner: never through the pooler (session lock) */
	db_init(&db, c->cfg.database.migrate_url ? c->cfg.database.migrate_url :
	    c->cfg.database.url, NULL, c->cfg.database.connect_timeout_seconds,
	    "opsctl/migrate");
	roles.fcgi = c->cfg.database.fcgi_role;
	roles.jobs = c->cfg.database.jobs_role;
	roles.statement_timeout_ms = c->cfg.database.statement_timeout_ms;
	roles.idle_tx_timeout_ms = (c->cfg.export.lease_seconds <
	    c->cfg.locks.stale_after_seconds ? c->cfg.export.lease_seconds :
	    c->cfg.locks.stale_after_seconds) * 1000;
	n = migrate_apply(&db, dir, stdout, err, sizeof(err));
	if (n >= 0 && migrate_roles(&db, &roles, err, sizeof(err)) != 0)
		n = -1;
	db_close(&db);
	if (n < 0) {
		fprintf(stderr, "opsctl: migrate: %s\n", err);
		return 1;
	}
	printf("migrations: %d applied, database is up to date; runtime roles "
	    "%s and %s set\n", n, roles.fcgi, roles.jobs);
	return 0;
}

static int
cmd_check_config(struct ctl *c, int argc, char **argv)
{
	char err[512];

	(void)argc;
	(void)argv;
	ctl_config(c, CONFIG_NEED_DATABASE | CONFIG_NEED_AUTH |
	    CONFIG_NEED_FCGI);
	if (jwks_check_config(&c->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "opsctl: config %s\n", err);
		return EXIT_USAGE;
	}
	printf("config %s is valid\n", c->cfg.path ? c->cfg.path :
	    "(defaults and environment)");
	return 0;
}

/* Split "A,B,C" into a malloc'd array of malloc'd strings. */
static char **
split_roles(const char *s, size_t *n)
{
	char **out = NULL;

	*n = 0;
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);

		if (len > 0) {
			out = xreallocarray(out, *n + 1, sizeof(char *));
			out[*n] = xstrndup(s, len);
			(*n)++;
		}
		s += len + (comma ? 1 : 0);
	}
	return out;
}

static int
cmd_token(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sub", required_argument, NULL, 's' },
		{ "tenant", required_argument, NULL, 't' },
		{ "roles", required_argument, NULL, 'r' },
		{ "ttl", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	const char *sub = NULL, *tenant = NULL, *roles_arg = NULL;
	long ttl = 3600;
	char **roles, *tok, *end;
	size_t nroles;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's': sub = optarg; break;
		case 't': tenant = optarg; break;
		case 'r': roles_arg = optarg; break;
		case 'l':
			errno = 0;
			ttl = strtol(optarg, &end, 10);
			if (errno || *end || ttl < 1 || ttl > 86400 * 30) {
				fprintf(stderr, "opsctl: token: --ttl must be "
				    "1..2592000 seconds, got %s\n", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (sub == NULL || roles_arg == NULL) {
		fprintf(stderr, "opsctl: token: --sub and --roles are required\n");
		return EXIT_USAGE;
	}
	ctl_config(c, 0);
	if (c->cfg.auth.hs256_secret == NULL) {
		fprintf(stderr, "opsctl: token: auth.hs256_secret is not set; "
		    "tokens can only be minted for an HS256 development setup\n");
		return EXIT_USAGE;
	}
	roles = split_roles(roles_arg, &nroles);
	for (size_t i = 0; i < nroles; i++) {
		if (rbac_role_parse(roles[i]) >= 0)
			continue;
		fprintf(stderr, "opsctl: token: unknown role \"%s\"\nhint: the "
		    "roles are", roles[i]);
		for (int r = 0; r < ROLE_COUNT; r++)
			fprintf(stderr, " %s", rbac_role_name((enum rbac_role)r));
		fprintf(stderr, " (exact, upper case)\n");
		for (size_t k = 0; k < nroles; k++)
			free(roles[k]);
		free(roles);
		return EXIT_USAGE;
	}
	tok = auth_sign_hs256((const unsigned char *)c->cfg.auth.hs256_secret,
	    strlen(c->cfg.auth.hs256_secret), c->cfg.auth.hs256_kid,
	    c->cfg.auth.issuer, c->cfg.auth.audience, sub, tenant,
	    (const char *const *)roles, nroles, time(NULL), ttl);
	for (size_t i = 0; i < nroles; i++)
		free(roles[i]);
	free(roles);
	if (tok == NULL) {
		fprintf(stderr, "opsctl: token: signing failed\n");
		return 1;
	}
	printf("%s\n", tok);
	free(tok);
	return 0;
}

/* "2.5s", or "-" for a free lock. */
static void
fmt_age(char *out, size_t outsz, bool held, double v)
{
	if (held)
		snprintf(out, outsz, "%.1fs", v);
	else
		snprintf(out, outsz, "-");
}

/* The lock table for people: one line per lock. 0 or -1 (db failed). */
static int
locks_table(struct db *db, int stale_after)
{
	struct lock_rows rows;
	int w = 4;

	if (lockadmin_load(db, NULL, NULL, &rows) != 0)
		return -1;
	for (int i = 0; i < rows.n; i++)
		if ((int)strlen(rows.rows[i].name) > w)
			w = (int)strlen(rows.rows[i].name);
	printf("%-*s %-8s %6s %-9s %-9s %-7s %s\n", w, "NAME", "STATE", "TOKEN",
	    "HEARTBEAT", "LEASE", "PID", "HOLDER / LAST RELEASE");
	for (int i = 0; i < rows.n; i++) {
		const struct lock_row *r = &rows.rows[i];
		struct lock_facts f;
		char hb[32], lease[32], pid[16];
		enum lock_state st;

		lock_row_facts(r, &f);
		st = lock_classify(&f, r->now, stale_after, NULL,
		    LOCK_PROC_NOT_PROBED, NULL);
		fmt_age(hb, sizeof(hb), r->holder, lock_row_heartbeat_age(r));
		fmt_age(lease, sizeof(lease), r->holder, lock_row_lease_left(r));
		snprintf(pid, sizeof(pid), "%d", r->pid);
		printf("%-*s %-8s %6lld %-9s %-9s %-7s ", w, r->name,
		    lock_state_name(st), r->token, hb, lease,
		    r->holder ? pid : "-");
		if (r->holder)
			printf("%s\n", r->holder);
		else if (r->release_reason)
			printf("(%s at %s by %s)\n", r->release_reason,
			    r->released_at ? r->released_at : "?",
			    r->released_by ? r->released_by : "?");
		else
			printf("-\n");
	}
	printf("\nHEARTBEAT: age of the last heartbeat; LEASE: time left. "
	    "STALE: heartbeat older than %d s; EXPIRED: lease over.\n"
	    "ORPHANED (holder process gone) shows only in "
	    "`ops-lock-healer --dry-run` on the holder's host.\n", stale_after);
	lock_rows_free(&rows);
	return 0;
}

static int
cmd_locks(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	bool as_json = false;
	struct db db;
	json_t *list = NULL;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'j') {
			usage(stderr);
			return EXIT_USAGE;
		}
		as_json = true;
	}
	if (optind != argc) {
		fprintf(stderr, "opsctl: locks: unexpected argument %s\n",
		    argv[optind]);
		return EXIT_USAGE;
	}
	ctl_db(c, &db);
	if (as_json) {
		list = lockadmin_list_json(&db, c->cfg.locks.stale_after_seconds);
		rc = list ? 0 : -1;
		if (list) {
			json_dumpf(list, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
			json_decref(list);
		}
	} else {
		rc = locks_table(&db, c->cfg.locks.stale_after_seconds);
	}
	if (rc != 0)
		fprintf(stderr, "opsctl: locks: cannot read the locks: %s\n",
		    db.errmsg);
	db_close(&db);
	return rc == 0 ? 0 : 1;
}

/* "opsctl:<unix user>", plus the sudo caller when there is one. */
static void
ctl_actor(char *out, size_t outsz)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	const char *sudo = getenv("SUDO_USER");

	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		snprintf(out, outsz, "opsctl:uid-%ld", (long)getuid());
	else
		snprintf(out, outsz, "opsctl:%s", pw.pw_name);
	if (getuid() == 0 && sudo && *sudo && strlen(out) + strlen(sudo) + 8 <
	    outsz) {
		size_t n = strlen(out);

		snprintf(out + n, outsz - n, " (sudo %s)", sudo);
	}
}

static int
cmd_lock_release(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	const char *reason = NULL, *name, *issue;
	struct sanitize_rules *rules;
	struct lock_actor who = { .source = "opsctl" };
	enum lock_release_result rr;
	struct lock_release rel;
	char actor[256];
	struct db db;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'r') {
			usage(stderr);
			return EXIT_USAGE;
		}
		reason = optarg;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "opsctl: lock-release: give one lock name: "
		    "opsctl lock-release NAME --reason TEXT\n");
		return EXIT_USAGE;
	}
	name = argv[optind];
	if (!lock_reason_valid(reason, &issue)) {
		fprintf(stderr, "opsctl: lock-release: --reason %s\n", issue);
		return EXIT_USAGE;
	}
	ctl_actor(actor, sizeof(actor));
	who.actor_id = actor;
	if ((rules = sanitize_rules_from_config(&c->cfg)) == NULL)
		return EXIT_FAILURE;
	ctl_db(c, &db);
	rr = lockadmin_force_release(&db, c->cfg.locks.stale_after_seconds,
	    rules, name, reason, &who, &rel);
	rc = 0;
	switch (rr) {
	case LOCKREL_RELEASED:
		printf("released lock %s (it was %s, held by %s on %s, pid %d); "
		    "fencing token %lld -> %lld; recorded as "
		    "SCHEDULER_LOCK_FORCE_RELEASED by %s\n", rel.name,
		    lock_state_name(rel.state_before),
		    rel.prev_holder ? rel.prev_holder : "an unknown holder",
		    rel.prev_host ? rel.prev_host : "an unknown host",
		    rel.prev_pid, rel.prev_token, rel.token, actor);
		break;
	case LOCKREL_ALREADY_FREE:
		printf("lock %s was already free (fencing token %lld, "
		    "unchanged); the request was recorded anyway\n", rel.name,
		    rel.token);
		break;
	case LOCKREL_NOT_FOUND:
		fprintf(stderr, "opsctl: lock-release: no lock named %s "
		    "(opsctl locks lists them)\n", name);
		rc = 1;
		break;
	case LOCKREL_BUSY:
		fprintf(stderr, "opsctl: lock-release: lock %s is locked by a "
		    "write in progress; retry in a few seconds\n", name);
		rc = 1;
		break;
	default:
		fprintf(stderr, "opsctl: lock-release: the database failed: "
		    "%s\n", db.errmsg);
		rc = 1;
		break;
	}
	lock_release_free(&rel);
	sanitize_rules_free(rules);
	db_close(&db);
	return rc;
}

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

/*
 * opsctl acts on exports as the operator it is run by: the principal
 * "opsctl:<unix user>" with the role given (OPS_ADMIN to read, list and
 * cancel: metadata only; SUPER_ADMIN to retry and download, which create a
 * job or read its rows), through the same core functions as the API, so
 * that every change writes the events the API would write.
 */
struct ctl_actor {
	char			 sub[300];
	char			*roles[1];
	struct auth_principal	 who;
	struct export_actor	 a;
};

static void
ctl_export_actor(struct ctl_actor *ca, const char *role)
{
	memset(ca, 0, sizeof(*ca));
	ctl_actor(ca->sub, sizeof(ca->sub));
	ca->roles[0] = (char *)role;
	ca->who.sub = ca->sub;
	ca->who.roles = ca->roles;
	ca->who.nroles = 1;
	ca->a.who = &ca->who;
	ca->a.request_id = "opsctl";
	ca->a.source = "opsctl";
}

static int
print_json(json_t *o)
{
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
	json_decref(o);
	return 0;
}

/* `exports --json`: the list exactly as GET /api/ops/audit-exports
 * answers it for an OPS_ADMIN (at most 200 items: the API's page). */
static int
exports_json(struct ctl *c, const char *state, const char *tenant, long limit)
{
	struct export_list_query q = { .state = state, .tenant_id = tenant };
	struct export_view v = { 0 };
	struct ctl_actor ca;
	struct db db;
	json_t *details, *out;
	enum export_outcome o;

	q.limit = limit > 200 ? 200 : (int)limit;
	if (export_list_query_check(&q, &details) != 0) {
		fprintf(stderr, "opsctl: exports: %s %s\n", json_string_value(
		    json_object_get(json_array_get(details, 0), "field")),
		    json_string_value(json_object_get(json_array_get(details,
		    0), "issue")));
		json_decref(details);
		return EXIT_USAGE;
	}
	ctl_export_actor(&ca, "OPS_ADMIN");
	ctl_db(c, &db);
	o = export_job_list(&db, &ca.a, &q, &v, &out);
	if (o != EXPORT_OK) {
		fprintf(stderr, "opsctl: exports: cannot read the jobs: %s\n",
		    o == EXPORT_E_DB ? db.errmsg : export_outcome_code(o));
		db_close(&db);
		return 1;
	}
	db_close(&db);
	return print_json(out);
}

static bool
exports_one_name(const char *s)
{
	return strcmp(s, "show") == 0 || strcmp(s, "cancel") == 0 ||
	    strcmp(s, "retry") == 0 || strcmp(s, "download") == 0 ||
	    strcmp(s, "events") == 0;
}

/* Write job id's file to path ("-": stdout), recording the download. */
static int
export_download_to(struct db *db, const struct sanitize_rules *rules,
    const struct ctl_actor *ca, const char *id, const char *path)
{
	const struct export_storage *st = &storage_db_spool;
	struct storage_reader *rd = NULL;
	struct export_file f;
	struct export_chunk ch;
	enum export_outcome o;
	FILE *out;
	int rc;

	if ((o = export_file_get(db, id, &f)) != EXPORT_OK) {
		fprintf(stderr, "opsctl: exports download: %s\n",
		    o == EXPORT_E_DB ? db->errmsg : "no such export job");
		return 1;
	}
	if (strcmp(f.state, "DONE") != 0 || f.expired) {
		fprintf(stderr, "opsctl: exports download: the job is %s, not "
		    "DONE\n", f.expired ? "EXPIRED" : f.state);
		return 1;
	}
	if (strcmp(path, "-") == 0)
		out = stdout;
	else if ((out = fopen(path, "wx")) == NULL) {
		fprintf(stderr, "opsctl: exports download: cannot create %s: "
		    "%s\n", path, strerror(errno));
		return 1;
	}
	if (export_record_download(db, rules, &f, ca->sub, "opsctl", NULL, 0,
	    f.total_bytes - 1, false) != 0 || st->open_reader(db, f.id, 0,
	    &rd) != 0) {
		fprintf(stderr, "opsctl: exports download: %s\n", db->errmsg);
		if (out != stdout)
			fclose(out);
		return 1;
	}
	while ((rc = st->read(rd, &ch)) == 1)
		if (fwrite(ch.data, 1, ch.len, out) != ch.len) {
			rc = -1;
			break;
		}
	st->close_reader(rd);
	if (out != stdout ? fclose(out) != 0 : fflush(out) != 0)
		rc = -1;
	if (rc != 0) {
		fprintf(stderr, "opsctl: exports download: the file of %s "
		    "could not be read or written whole\n", f.id);
		return 1;
	}
	if (out != stdout)
		fprintf(stderr, "%s: %lld bytes, sha256 %s\n", path,
		    f.total_bytes, f.sha256);
	return 0;
}

/* opsctl exports show|cancel|retry|download|events ID [options] */
static int
cmd_exports_one(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'F' },
		{ "compression", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	const char *what = argv[0], *id, *output = NULL;
	struct sanitize_rules *rules = NULL;
	struct export_view v = { 0 };
	struct ctl_actor ca;
	enum export_outcome o;
	json_t *over = json_object(), *out = NULL, *details = NULL;
	char newid[EXPORT_ID_LEN + 1];
	struct db db;
	int ch, rc = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': xjson_set(over, "from", json_string(optarg)); break;
		case 't': xjson_set(over, "to", json_string(optarg)); break;
		case 'F': xjson_set(over, "format", json_string(optarg)); break;
		case 'c':
			xjson_set(over, "compression", json_string(optarg));
			break;
		case 'o': output = optarg; break;
		default:
			json_decref(over);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (json_object_size(over) > 0 &&
	    strcmp(what, "retry") != 0) || (output && strcmp(what,
	    "download") != 0)) {
		fprintf(stderr, "opsctl: exports %s: give one job id (options: "
		    "retry --from --to --format --compression, download "
		    "--output FILE)\n", what);
		json_decref(over);
		return EXIT_USAGE;
	}
	id = argv[optind];
	ctl_config(c, 0);
	if ((rules = sanitize_rules_from_config(&c->cfg)) == NULL) {
		json_decref(over);
		return EXIT_FAILURE;
	}
	ctl_export_actor(&ca, strcmp(what, "retry") == 0 ||
	    strcmp(what, "download") == 0 ? "SUPER_ADMIN" : "OPS_ADMIN");
	ctl_db(c, &db);
	if (strcmp(what, "download") == 0) {
		rc = export_download_to(&db, rules, &ca, id, output ? output :
		    "-");
		goto done;
	}
	if (strcmp(what, "show") == 0)
		o = export_job_get(&db, &ca.a, id, &v, &out, NULL);
	else if (strcmp(what, "events") == 0)
		o = history_job_events(&db, &ca.a, id, &out);
	else if (strcmp(what, "cancel") == 0)
		o = export_job_cancel(&db, rules, &ca.a, id, &v, &out);
	else if ((o = export_job_retry(&db, &c->cfg, rules, &ca.a, id, over,
	    NULL, newid, &details)) == EXPORT_CREATED)
		o = export_job_get(&db, &ca.a, newid, &v, &out, NULL);
	if (o == EXPORT_E_INVALID) {
		size_t i;
		json_t *d;

		json_array_foreach(details, i, d)
			fprintf(stderr, "opsctl: exports retry: %s %s\n",
			    json_string_value(json_object_get(d, "field")),
			    json_string_value(json_object_get(d, "issue")));
		rc = EXIT_USAGE;
	} else if (o != EXPORT_OK) {
		fprintf(stderr, "opsctl: exports %s: %s%s%s\n", what,
		    export_outcome_code(o), o == EXPORT_E_DB ? ": " : "",
		    o == EXPORT_E_DB ? db.errmsg : "");
		rc = 1;
	} else {
		print_json(out);
	}
	json_decref(details);
done:
	json_decref(over);
	db_close(&db);
	sanitize_rules_free(rules);
	return rc;
}

static int
cmd_exports(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "tenant", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *state = NULL, *tenant = NULL, *why;
	char state_canon[16];
	bool as_json = false;
	long limit = 50;
	char *end;
	json_t *items, *it;
	struct db db;
	size_t i;
	int ch;

	if (argc > 1 && exports_one_name(argv[1]))
		return cmd_exports_one(c, argc - 1, argv + 1);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's': state = optarg; break;
		case 't': tenant = optarg; break;
		case 'j': as_json = true; break;
		case 'l':
			errno = 0;
			limit = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg)
				limit = -1;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "opsctl: exports: unexpected argument %s\n",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if (state && export_state_parse(state, state_canon))
		state = state_canon;
	if (export_admin_check(state, tenant, limit, &why) != 0) {
		fprintf(stderr, "opsctl: exports: %s\n", why);
		return EXIT_USAGE;
	}
	if (as_json)
		return exports_json(c, state, tenant, limit);
	ctl_db(c, &db);
	if ((items = export_admin_list(&db, state, tenant, limit)) == NULL) {
		fprintf(stderr, "opsctl: exports: cannot read the jobs: %s\n",
		    db.errmsg);
		db_close(&db);
		return 1;
	}
	if (as_json) {
		json_t *o = xjson_pack("{s:o}", "items", items);

		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
		db_close(&db);
		return 0;
	}
	printf("%-36s %-8s %-20s %-5s %-4s %-27s %10s %12s %3s %s\n", "ID",
	    "STATE", "TENANT", "FMT", "COMP", "CREATED_AT", "ROWS", "BYTES",
	    "TRY", "ERROR");
	json_array_foreach(items, i, it)
		printf("%-36s %-8s %-20s %-5s %-4s %-27s %10lld %12lld %3lld "
		    "%s\n", jstr(it, "id"), jstr(it, "state"),
		    jstr(it, "tenant_id"), jstr(it, "format"),
		    jstr(it, "compression"), jstr(it, "created_at"),
		    (long long)json_integer_value(json_object_get(it, "rows")),
		    (long long)json_integer_value(json_object_get(it, "bytes")),
		    (long long)json_integer_value(json_object_get(it, "attempt")),
		    jstr(it, "error_code"));
	json_decref(items);
	db_close(&db);
	return 0;
}

static int
cmd_error_codes(struct ctl *c, int argc, char **argv)
{
	(void)c;
	(void)argc;
	(void)argv;
	error_print_catalog(stdout);
	return 0;
}

static int
cmd_config_keys(struct ctl *c, int argc, char **argv)
{
	(void)c;
	(void)argc;
	(void)argv;
	config_print_keys(stdout);
	return 0;
}

static int
cmd_roles(struct ctl *c, int argc, char **argv)
{
	(void)c;
	(void)argc;
	(void)argv;
	rbac_print_matrix(stdout);
	return 0;
}

/*
 * The commands. args and help make the usage text (help lines are
 * separated by '\n'); run gets argv from the command name on.
 */
struct command {
	const char	*name;
	const char	*args;
	const char	*help;
	int		(*run)(struct ctl *c, int argc, char **argv);
};

static const struct command commands[] = {
	{ "migrate", "[--dir DIR]", "apply pending database migrations",
	    cmd_migrate },
	{ "check-config", "", "validate the config file and keys",
	    cmd_check_config },
	{ "token", "--sub SUB --roles R1,R2 [--tenant T] [--ttl SECONDS]",
	    "mint an HS256 development token", cmd_token },
	{ "locks", "[--json]", "list the scheduler locks and their state\n"
	    "(FREE, HELD, STALE, EXPIRED)", cmd_locks },
	{ "lock-release", "NAME --reason TEXT", "force-release a scheduler "
	    "lock: clears\nthe holder, bumps the fencing token,\naudited "
	    "(runbooks/scheduler-stuck-lock.md)", cmd_lock_release },
	{ "exports", "[--state S] [--tenant T] [--limit N] [--json]",
	    "list export jobs, newest first (default\nlimit 50; --json: as "
	    "the API lists them)", cmd_exports },
	{ "exports show|events|cancel ID", "",
	    "one job, its timeline, or cancel it\n(as OPS_ADMIN, printed as the "
	    "API's JSON)", cmd_exports },
	{ "exports retry ID", "[--from T] [--to T] [--format F]\n"
	    "    [--compression C]", "run a finished job again (as SUPER_ADMIN)",
	    cmd_exports },
	{ "exports download ID", "[--output FILE]",
	    "write a DONE job's file (stdout by\ndefault); recorded as a "
	    "download", cmd_exports },
	{ "error-codes", "", "print the error catalog", cmd_error_codes },
	{ "config-keys", "", "print every config key and default",
	    cmd_config_keys },
	{ "roles", "", "print the role matrix", cmd_roles },
	{ NULL, NULL, NULL, NULL }
};

#define USAGE_COL	29	/* where the help column starts */

static void
usage(FILE *out)
{
	const struct command *cm;
	const char *h, *nl;
	int w;

	fprintf(out, "usage: opsctl [--config PATH] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (cm = commands; cm->name != NULL; cm++) {
		w = fprintf(out, "  %s%s%s", cm->name, *cm->args ? " " : "",
		    cm->args);
		/* a long synopsis gets its help on the next line */
		if (w >= USAGE_COL - 1) {
			fputc('\n', out);
			w = 0;
		}
		for (h = cm->help; h != NULL; h = nl ? nl + 1 : NULL) {
			nl = strchr(h, '\n');
			fprintf(out, "%*s%.*s\n", USAGE_COL - w, "",
			    nl ? (int)(nl - h) : (int)strlen(h), h);
			w = 0;
		}
	}
	fprintf(out, "\nThe config is --config PATH, else $OPS_CONFIG, else "
	    "%s.\n", CONFIG_DEFAULT_PATH);
}

int
main(int argc, char **argv)
{
	struct ctl c = { .argv0 = argv[0] };
	const struct command *cm;
	const char *cmd;
	int i = 1, rc;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("opsctl %s\n", OPS_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			c.config_arg = argv[i + 1];
			i += 2;
			continue;
		}
		if (strncmp(argv[i], "--config=", 9) == 0) {
			c.config_arg = argv[i] + 9;
			i++;
			continue;
		}
		fprintf(stderr, "opsctl: unknown option %s\n", argv[i]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[i];
	argc -= i;
	argv += i;
	for (cm = commands; cm->name != NULL; cm++)
		if (strcmp(cm->name, cmd) == 0)
			break;
	if (cm->name != NULL) {
		rc = cm->run(&c, argc, argv);
	} else {
		fprintf(stderr, "opsctl: unknown command %s\n", cmd);
		usage(stderr);
		rc = EXIT_USAGE;
	}
	if (c.cfg_loaded)
		config_free(&c.cfg);
	return rc;
}
