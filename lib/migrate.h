/*
 * migrate: apply sql/migrations/NNNN_name.sql in order.
 *
 * Each file runs in its own transaction together with its row in
 * schema_migrations (version, name, SHA-256 checksum, applied_at). A file
 * already applied is skipped when its checksum matches and is an error when
 * it does not (an applied migration must never be edited: add a new one).
 * A session advisory lock serialises concurrent runs, so running migrate
 * twice, or on two hosts at once, is safe.
 */
#ifndef OPS_MIGRATE_H
#define OPS_MIGRATE_H

#include <stdio.h>

#include "db.h"

/*
 * Apply every pending migration of dir. Progress lines go to out (may be
 * NULL). Returns the number applied (>= 0), or -1 with err filled.
 */
int	migrate_apply(struct db *db, const char *dir, FILE *out, char *err,
	    size_t errsz);

/*
 * The runtime roles and their session settings (docs/database.md, "Roles").
 * fcgi and jobs are role names; the timeouts become the roles'
 * statement_timeout and idle_in_transaction_session_timeout.
 */
struct migrate_roles {
	const char	*fcgi;
	const char	*jobs;
	int		 statement_timeout_ms;
	int		 idle_tx_timeout_ms;
};

/*
 * Create the runtime roles if missing and reset their grants and settings
 * (ops_apply_roles(), defined by 0006_roles.sql), in one transaction. Run
 * after migrate_apply(), as the owner. 0, or -1 with err filled.
 */
int	migrate_roles(struct db *db, const struct migrate_roles *roles,
	    char *err, size_t errsz);

/* Where the migrations are: $OPS_MIGRATIONS_DIR, then next to the binary
 * (../sql/migrations in a build tree, ../share/ops/migrations where make
 * install put them), then /usr/share/ops/migrations. Returns a pointer to
 * static storage or to the environment; not allocated. */
const char *migrate_default_dir(const char *argv0, char *buf, size_t bufsz);

#endif
