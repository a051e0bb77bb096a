#include "jobcli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define OPT_CONFIG	1000
#define OPT_TEXTFILE	1001
#define OPT_HELP	1002
#define OPT_VERSION	1003

static void
usage(const struct jobcli *cli, FILE *out)
{
	fprintf(out, "usage: %s [--config PATH] [--textfile-dir DIR] "
	    "[options]\n\n%s\n\n", cli->binary, cli->summary);
	if (cli->config_optional)
		fprintf(out, "  --config PATH        config file (optional)\n");
	else
		fprintf(out, "  --config PATH        config file (default "
		    "$OPS_CONFIG, then %s)\n", CONFIG_DEFAULT_PATH);
	fprintf(out, "  --textfile-dir DIR   also write DIR/%s.prom for "
	    "node_exporter\n%s  --help, --version\n\n%s\n", cli->binary,
	    cli->extra_usage ? cli->extra_usage : "", cli->epilog ?
	    cli->epilog : "exit status: 0 success, 1 failure, 2 usage or "
	    "configuration error, 75 another instance holds the lock");
}

int
jobcli_parse(struct jobcli *cli, int argc, char **argv)
{
	static const struct option base[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "textfile-dir", required_argument, NULL, OPT_TEXTFILE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
	};
	struct option opts[32];
	size_t n = 0;
	int ch, rc;

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
			return 1;
		case OPT_VERSION:
			printf("%s %s\n", cli->binary, OPS_VERSION);
			return 1;
		default:
			rc = ch == '?' || cli->on_option == NULL ? -1 :
			    cli->on_option(ch, optarg, cli->ctx);
			if (rc == 1)
				return 1;
			if (rc != 0) {
				usage(cli, stderr);
				return -1;
			}
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument %s\n", cli->binary,
		    argv[optind]);
		return -1;
	}
	return 0;
}

void
jobcli_start(struct jobcli *cli, int argc, char **argv, struct ops_config *cfg)
{
	char err[512];

	switch (jobcli_parse(cli, argc, argv)) {
	case 1:
		exit(0);
	case -1:
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

int
jobcli_instance(const char *binary, const char *arg, char *out, size_t outsz)
{
	size_t n = strlen(arg);

	if (n == 0 || n >= outsz) {
		fprintf(stderr, "%s: --instance must be 1 to %zu characters\n",
		    binary, outsz - 1);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)arg[i]) &&
		    !isdigit((unsigned char)arg[i]) && !strchr("_.-", arg[i])) {
			fprintf(stderr, "%s: --instance must be lower-case "
			    "letters, digits, '.', '_' or '-'\n", binary);
			return -1;
		}
	memcpy(out, arg, n + 1);
	return 0;
}

void
jobcli_default_instance(char *out, size_t outsz)
{
	char host[128];
	size_t i;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] && i < outsz - 1; i++) {
		unsigned char c = (unsigned char)tolower((unsigned char)host[i]);

		out[i] = (isalnum(c) || c == '.' || c == '-' || c == '_') ?
		    (char)c : '-';
	}
	out[i] = '\0';
}
