/*
 * jobcli: the command line every job binary shares.
 *
 *   --config PATH        config file (else $OPS_CONFIG, else /etc/ops/ops.yaml)
 *   --textfile-dir DIR   also write DIR/<binary>.prom for node_exporter
 *   --help, --version
 *
 * plus the binary's own options, given as a getopt_long table whose
 * handler is called for each of them. jobcli_parse() only parses (the
 * Notion binaries, whose config is optional, use it alone);
 * jobcli_start() also loads and checks the config and starts logging; it
 * exits 0 for --help/--version and 2 on a usage or configuration error,
 * after one clear line on stderr.
 */
#ifndef OPS_JOBCLI_H
#define OPS_JOBCLI_H

#include <getopt.h>

#include "config.h"

struct jobcli {
	const char		*binary;
	const char		*summary;	/* one paragraph for --help */
	const char		*extra_usage;	/* lines for the extra options */
	const char		*epilog;	/* NULL: the jobs' exit codes */
	int			 config_optional; /* no default path */
	const struct option	*extra;		/* may be NULL */
	/* called for each extra option; return -1 on a bad value (after
	 * one line on stderr), 1 when the run is over (it printed) */
	int			(*on_option)(int opt, const char *arg, void *ctx);
	void			*ctx;
	/* results */
	const char		*config_path;
	const char		*textfile_dir;
};

/*
 * Parse argv: 0 to go on, 1 when the run is over (--help, --version or an
 * extra option printed what was asked), -1 on a usage error (reported on
 * stderr). Option values below 1000 are the extra options'.
 */
int	jobcli_parse(struct jobcli *cli, int argc, char **argv);

/* jobcli_parse(), load cfg (CONFIG_NEED_DATABASE), log_init. */
void	jobcli_start(struct jobcli *cli, int argc, char **argv,
	    struct ops_config *cfg);

/*
 * --instance NAME of a job whose lock is per instance ("BINARY:NAME", the
 * runner and the webhook dispatcher): copy NAME to out (outsz bytes) when
 * it is lower-case letters, digits, '.', '_' or '-'; else -1 after one
 * line on stderr naming binary.
 */
int	jobcli_instance(const char *binary, const char *arg, char *out,
	    size_t outsz);

/* The host name as a lock-name-safe instance (the --instance default). */
void	jobcli_default_instance(char *out, size_t outsz);

#endif
