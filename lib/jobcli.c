#include "jobcli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define OPT_CONFIG	1000
#define OPT_TEXTFILE	1001
#define OPT_HELP	1002
#define OPT_VERSION	1003

static void
usage(const struct jobcli *cli, FILE *out)
{
	fprintf(out, "usage: %s [--config PATH] [--textfile-dir DIR] "
	    "[options]\n\n%s\n\n"
	    "  --config PATH        config file (default $OPS_CONFIG, then %s)\n"
	    "  --textfile-dir DIR   also write DIR/%s.prom for node_exporter\n"
	    "%s"
	    "  --help, --version\n\n"
	    "exit status: 0 success, 1 failure, 2 usage or configuration "
	    "error, 75 another instance holds the lock\n",
	    cli->binary, cli->summary, CONFIG_DEFAULT_PATH, cli->binary,
	    cli->extra_usage ? cli->extra_usage : "");
}

void
jobcli_start(struct jobcli *cli, int argc, char **argv, struct ops_config *cfg)
{
	static const struct option base[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "textfile-dir", required_argument, NULL, OPT_TEXTFILE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
	};
	struct option opts[32];
	size_t n = 0;
	char err[512];
	int ch;

	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		opts[n++] = base[i];
	for (size_t i = 0; cli->extra && cli->extra[i].name && n < 31; i++)
		opts[n++] = cli->extra[i];
	memset(&opts[n], 0, sizeof(opts[n]));

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_CONFIG:
			cli->config_path = optarg;
			break;
		case OPT_TEXTFILE:
			cli->textfile_dir = optarg;
			break;
		case OPT_HELP:
			usage(cli, stdout);
			exit(0);
		case OPT_VERSION:
			printf("%s %s\n", cli->binary, OPS_VERSION);
			exit(0);
		default:
			if (ch == '?' || cli->on_option == NULL ||
			    cli->on_option(ch, optarg, cli->ctx) != 0) {
				usage(cli, stderr);
				exit(2);
			}
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument %s\n", cli->binary,
		    argv[optind]);
		exit(2);
	}
	if (config_load(cfg, config_resolve_path(cli->config_path), err,
	    sizeof(err)) != 0 || config_require(cfg, CONFIG_NEED_DATABASE, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "%s: config %s\n", cli->binary, err);
		exit(2);
	}
	log_init(cli->binary, log_level_parse(cfg->log.level),
	    log_format_parse(cfg->log.format));
}
