#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"
#include "log.h"

/* Arbitrary, fixed: the advisory lock id of the migrator. */
#define MIGRATE_LOCK_ID	"7301042"

static int
read_file(const char *path, struct buf *out)
{
	char tmp[8192];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(out, tmp, n);
	n = (size_t)ferror(f);
	fclose(f);
	return n ? -1 : 0;
}

static int
is_migration(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 9 && d->d_name[0] >= '0' && d->d_name[0] <= '9' &&
	    d->d_name[4] == '_' && strcmp(d->d_name + n - 4, ".sql") == 0;
}

/*
 * Apply one file, or check it when already applied. Returns 1 applied,
 * 0 already there, -1 error.
 */
static int
migrate_one(struct db *db, const char *dir, const char *name, FILE *out,
    char *err, size_t errsz)
{
	struct buf path = BUF_INIT, sql = BUF_INIT;
	char sum[65], version[5];
	PGresult *res;
	int rc = -1;

	snprintf(version, sizeof(version), "%.4s", name);
	buf_appendf(&path, "%s/%s", dir, name);
	if (read_file(path.data, &sql) != 0) {
		snprintf(err, errsz, "cannot read %s: %s", path.data,
		    strerror(errno));
		goto out;
	}
	digest_sha256_hex(sql.data, sql.len, sum);
	{
		const char *p[] = { version };

		res = db_query(db, "SELECT checksum, name FROM schema_migrations "
		    "WHERE version = $1", 1, p);
	}
	if (res == NULL) {
		snprintf(err, errsz, "cannot read schema_migrations: %s",
		    db->errmsg);
		goto out;
	}
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), sum) != 0)
			snprintf(err, errsz, "migration %s was edited after it "
			    "was applied (recorded checksum %.12s, file %.12s): "
			    "restore the file and add a new migration instead",
			    name, PQgetvalue(res, 0, 0), sum);
		else
			rc = 0;
		PQclear(res);
		goto out;
	}
	PQclear(res);
	if (db_begin(db) != 0 || db_exec_script(db, sql.data) != 0) {
		snprintf(err, errsz, "migration %s failed: %s", name,
		    db->errmsg);
		db_rollback(db);
		goto out;
	}
	{
		const char *p[] = { version, name, sum };

		if (db_exec(db, "INSERT INTO schema_migrations (version, name, "
		    "checksum) VALUES ($1, $2, $3)", 3, p) != 0 ||
		    db_commit(db) != 0) {
			snprintf(err, errsz, "cannot record migration %s: %s",
			    name, db->errmsg);
			db_rollback(db);
			goto out;
		}
	}
	if (out)
		fprintf(out, "applied %s\n", name);
	rc = 1;
out:
	buf_free(&path);
	buf_free(&sql);
	return rc;
}

int
migrate_apply(struct db *db, const char *dir, FILE *out, char *err,
    size_t errsz)
{
	struct dirent **list = NULL;
	int n, applied = 0, rc = 0;

	if ((n = scandir(dir, &list, is_migration, alphasort)) < 0) {
		snprintf(err, errsz, "cannot list migrations in %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (db_exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version text PRIMARY KEY, name text NOT NULL, "
	    "checksum text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL) != 0 ||
	    db_exec(db, "SELECT pg_advisory_lock(" MIGRATE_LOCK_ID ")", 0,
	    NULL) != 0) {
		snprintf(err, errsz, "cannot prepare migrations: %s%s",
		    db->err == DB_ERR_UNAVAILABLE ? "database unavailable: " :
		    "", db->errmsg);
		rc = -1;
	}
	for (int i = 0; rc == 0 && i < n; i++) {
		int r = migrate_one(db, dir, list[i]->d_name, out, err, errsz);

		if (r < 0)
			rc = -1;
		else
			applied += r;
	}
	if (db->conn)
		(void)db_exec(db, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_ID
		    ")", 0, NULL);
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return rc == 0 ? applied : -1;
}

int
migrate_roles(struct db *db, const struct migrate_roles *roles, char *err,
    size_t errsz)
{
	char st[16], idle[16];
	const char *p[] = { roles->fcgi, roles->jobs, st, idle };

	snprintf(st, sizeof(st), "%d", roles->statement_timeout_ms);
	snprintf(idle, sizeof(idle), "%d", roles->idle_tx_timeout_ms);
	/*
	 * Then each ops_grants_<...>(fcgi, jobs) a later migration defines
	 * (0011_webhooks: its tables), in name order, so that a migration
	 * adding tables need not redefine ops_apply_roles().
	 */
	if (db_begin(db) != 0 ||
	    db_exec(db, "SELECT ops_apply_roles($1, $2, $3::integer, "
	    "$4::integer)", 4, p) != 0 ||
	    db_exec(db, "SELECT set_config('ops.fcgi_role', $1, true), "
	    "set_config('ops.jobs_role', $2, true)", 2, p) != 0 ||
	    db_exec(db, "DO $g$ DECLARE f text; BEGIN "
	    "FOR f IN SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON "
	    "n.oid = p.pronamespace WHERE n.nspname = current_schema() AND "
	    "p.proname LIKE 'ops\\_grants\\_%' AND p.pronargs = 2 "
	    "ORDER BY p.proname LOOP "
	    "EXECUTE format('SELECT %I(%L, %L)', f, "
	    "current_setting('ops.fcgi_role'), "
	    "current_setting('ops.jobs_role')); END LOOP; END $g$", 0,
	    NULL) != 0 || db_commit(db) != 0) {
		snprintf(err, errsz, "cannot set up the runtime roles %s and "
		    "%s: %s", roles->fcgi, roles->jobs, db->errmsg);
		db_rollback(db);
		return -1;
	}
	return 0;
}

const char *
migrate_default_dir(const char *argv0, char *buf, size_t bufsz)
{
	const char *env = getenv("OPS_MIGRATIONS_DIR");
	char exe[PATH_MAX];
	struct stat st;
	ssize_t n;

	(void)argv0;
	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		/* a build tree (bin/opsctl), then an installation
		 * (PREFIX/bin/opsctl, make install) */
		snprintf(buf, bufsz, "%s/../sql/migrations", exe);
		if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
			return buf;
		snprintf(buf, bufsz, "%s/../share/ops/migrations", exe);
		if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
			return buf;
	}
	return "/usr/share/ops/migrations";
}
