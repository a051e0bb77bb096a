/*
 * opsctl: the operator's command line.
 *
 *   opsctl [--config PATH] migrate [--dir DIR]
 *   opsctl [--config PATH] check-config
 *   opsctl [--config PATH] token --sub SUB [--tenant T] --roles R1,R2 [--ttl S]
 *   opsctl error-codes | config-keys | roles
 *
 * Exit status: 0 success, 1 failure, 2 usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "errors.h"
#include "log.h"
#include "migrate.h"
#include "rbac.h"

#define EXIT_USAGE	2

struct ctl {
	const char		*argv0;
	const char		*config_arg;
	struct ops_config	 cfg;
	bool			 cfg_loaded;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: opsctl [--config PATH] COMMAND [ARGS]\n"
	    "\n"
	    "commands:\n"
	    "  migrate [--dir DIR]        apply pending database migrations\n"
	    "  check-config               validate the config file and keys\n"
	    "  token --sub SUB --roles R1,R2 [--tenant T] [--ttl SECONDS]\n"
	    "                             mint an HS256 development token\n"
	    "  error-codes                print the error catalog\n"
	    "  config-keys                print every config key and default\n"
	    "  roles                      print the role matrix\n"
	    "\n"
	    "The config is --config PATH, else $OPS_CONFIG, else %s.\n",
	    CONFIG_DEFAULT_PATH);
}

/* Load the config and check what the command needs; exit 2 on error. */
static void
ctl_config(struct ctl *c, int need)
{
	char err[512];

	if (!c->cfg_loaded) {
		if (config_load(&c->cfg, config_resolve_path(c->config_arg),
		    err, sizeof(err)) != 0) {
			fprintf(stderr, "opsctl: config %s\n", err);
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
	db_init(db, c->cfg.database.url, c->cfg.database.connect_timeout_seconds,
	    c->cfg.database.statement_timeout_ms, "opsctl");
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
	ctl_db(c, &db);
	n = migrate_apply(&db, dir, stdout, err, sizeof(err));
	db_close(&db);
	if (n < 0) {
		fprintf(stderr, "opsctl: migrate: %s\n", err);
		return 1;
	}
	printf("migrations: %d applied, database is up to date\n", n);
	return 0;
}

static int
cmd_check_config(struct ctl *c)
{
	struct auth_keyset *ks;
	const char *s;
	char err[512];

	ctl_config(c, CONFIG_NEED_DATABASE | CONFIG_NEED_AUTH |
	    CONFIG_NEED_FCGI);
	s = c->cfg.auth.hs256_secret;
	if (auth_keyset_load(&ks, c->cfg.auth.jwks_file,
	    (const unsigned char *)s, s ? strlen(s) : 0, c->cfg.auth.hs256_kid,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "opsctl: config %s\n", err);
		return EXIT_USAGE;
	}
	auth_keyset_free(ks);
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
			out = reallocarray(out, *n + 1, sizeof(char *));
			if (out == NULL ||
			    (out[*n] = strndup(s, len)) == NULL)
				abort();
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

int
main(int argc, char **argv)
{
	struct ctl c = { .argv0 = argv[0] };
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
	if (strcmp(cmd, "migrate") == 0)
		rc = cmd_migrate(&c, argc, argv);
	else if (strcmp(cmd, "check-config") == 0)
		rc = cmd_check_config(&c);
	else if (strcmp(cmd, "token") == 0)
		rc = cmd_token(&c, argc, argv);
	else if (strcmp(cmd, "error-codes") == 0) {
		error_print_catalog(stdout);
		rc = 0;
	} else if (strcmp(cmd, "config-keys") == 0) {
		config_print_keys(stdout);
		rc = 0;
	} else if (strcmp(cmd, "roles") == 0) {
		rbac_print_matrix(stdout);
		rc = 0;
	} else {
		fprintf(stderr, "opsctl: unknown command %s\n", cmd);
		usage(stderr);
		rc = EXIT_USAGE;
	}
	if (c.cfg_loaded)
		config_free(&c.cfg);
	return rc;
}
