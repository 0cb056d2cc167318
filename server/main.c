/* The madoguchi command: serve, migrate, admin. Wiring only. */
#include "base/config.h"
#include "base/heap.h"
#include "base/log.h"
#include "signal/app.h"
#include "store/store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* meson.build's project version, the one place it is set (deploy/build-deb.sh reads it too). */
#ifndef MADOGUCHI_VERSION
#define MADOGUCHI_VERSION "unknown"
#endif

static void usage(FILE *f)
{
	fputs("usage: madoguchi [--config FILE] [--db CONNINFO] COMMAND [OPTIONS]\n"
	      "       madoguchi --version\n"
	      "\n"
	      "commands:\n"
	      "  serve      run the server\n"
	      "             --bind ADDR --port N --web DIR --tls-cert FILE --tls-key FILE\n"
	      "             --no-tls (loopback only) --media-bind ADDR --media-port N\n"
	      "             --media-ip IP[,IP] --media-tcp on|off --media-probe on|off\n"
	      "             --simulcast on|off (default on)\n"
	      "             --audio-red on|off\n"
	      "             --log-level debug|info|warn|error\n"
	      "             --spool FILE (call records, fsync'd, encrypted)\n"
	      "             --spool-key FILE (default: the spool's path + .key)\n"
	      "             --no-answer-s N\n"
	      "             --standby-lease on|off (two nodes, one database; default off)\n"
	      "             --node-id NAME (this node's name; default the host name)\n"
	      "  migrate    apply database migrations\n"
	      "  version    print the version (also --version)\n"
	      "  admin      manage branches, departments, procedures, kiosks and users\n"
	      "             (madoguchi admin help)\n",
	      f);
}

/* Consumes "--name value" options (and --no-tls) from argv[*i] on while they are config
 * options. Returns 0, or 2 after printing an error. */
static int parse_options(config *cfg, int argc, char **argv, int *i, int stop_at_command)
{
	while (*i < argc && strncmp(argv[*i], "--", 2) == 0) {
		const char *name = argv[*i] + 2;
		if (strcmp(name, "help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(name, "version") == 0) {
			puts("madoguchi " MADOGUCHI_VERSION);
			exit(0);
		}
		if (strcmp(name, "no-tls") == 0) {
			cfg->tls = 0;
			(*i)++;
			continue;
		}
		if (strcmp(name, "config") == 0) {
			char err[512];
			if (*i + 1 >= argc ||
			    config_load_file(cfg, argv[*i + 1], err, sizeof err) != 0) {
				fprintf(stderr, "madoguchi: %s\n",
				        *i + 1 >= argc ? "--config needs a file" : err);
				return 2;
			}
			*i += 2;
			continue;
		}
		if (*i + 1 >= argc) {
			fprintf(stderr, "madoguchi: option --%s needs a value\n", name);
			return 2;
		}
		int rc = config_set(cfg, name, argv[*i + 1]);
		if (rc == -1 && stop_at_command)
			break; /* an admin subcommand's own option */
		if (rc != 0) {
			fprintf(stderr, "madoguchi: %s option --%s\n",
			        rc == -1 ? "unknown" : "bad value for", name);
			return 2;
		}
		*i += 2;
	}
	return 0;
}

typedef struct serve_ctx {
	uv_signal_t sigint, sigterm;
	heap_trimmer trimmer;
	sig_app *app;
	int stopping;
} serve_ctx;

static void stop(serve_ctx *ctx)
{
	ctx->stopping = 1;
	/* The handlers stay installed (so a second signal cannot kill the process midway) but
	 * no longer keep the loop alive. */
	uv_unref((uv_handle_t *)&ctx->sigint);
	uv_unref((uv_handle_t *)&ctx->sigterm);
	sig_app_stop(ctx->app);
}

static void on_fatal(void *user)
{
	stop(user);
}

static void on_signal(uv_signal_t *h, int signum)
{
	serve_ctx *ctx = h->data;
	const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
	if (ctx->stopping) {
		/* Ctrl-C in a terminal often comes with a second signal from a wrapper script:
		 * the shutdown under way finishes either way. */
		LOG_INFO("main", "signal received during shutdown signal=%s", name);
		return;
	}
	LOG_INFO("main", "signal received signal=%s", name);
	stop(ctx);
}

static int serve(config *cfg)
{
	char err[512];
	if (config_validate(cfg, err, sizeof err) != 0) {
		fprintf(stderr, "madoguchi: %s\n", err);
		return 2;
	}
	int level = log_level_from_name(cfg->log_level);
	if (level < 0) {
		fprintf(stderr, "madoguchi: unknown log level %s\n", cfg->log_level);
		return 2;
	}
	log_set_level((enum log_level)level);
	signal(SIGPIPE, SIG_IGN);
	heap_tune();

	uv_loop_t loop;
	uv_loop_init(&loop);
	serve_ctx ctx = {0};
	ctx.app = sig_app_new(&loop, cfg);
	if (!ctx.app) {
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		return 1;
	}
	uv_signal_init(&loop, &ctx.sigint);
	uv_signal_init(&loop, &ctx.sigterm);
	ctx.sigint.data = ctx.sigterm.data = &ctx;
	uv_signal_start(&ctx.sigint, on_signal, SIGINT);
	uv_signal_start(&ctx.sigterm, on_signal, SIGTERM);
	sig_app_on_fatal(ctx.app, on_fatal, &ctx);
	if (heap_trimmer_start(&ctx.trimmer, &loop, HEAP_TRIM_INTERVAL_MS) != 0)
		LOG_WARN("main", "heap trimmer not started");

	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&ctx.sigint, NULL);
	uv_close((uv_handle_t *)&ctx.sigterm, NULL);
	heap_trimmer_stop(&ctx.trimmer);
	int failed = sig_app_failed(ctx.app);
	/* libwebsockets needs a second destroy after the loop ends (shared/NOTES.md). */
	sig_app_free(ctx.app);
	uv_run(&loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&loop);
	LOG_INFO("main", "stopped clean=%s", rc == 0 ? "yes" : "no");
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	config cfg;
	config_defaults(&cfg);
	const char *env_db = getenv("MADOGUCHI_DB");
	if (env_db)
		config_set(&cfg, "db", env_db);
	int i = 1;
	if (parse_options(&cfg, argc, argv, &i, 0) != 0)
		return 2;
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i++];
	if (strcmp(cmd, "serve") == 0) {
		if (parse_options(&cfg, argc, argv, &i, 0) != 0)
			return 2;
		if (i < argc) {
			fprintf(stderr, "madoguchi: unexpected argument %s\n", argv[i]);
			return 2;
		}
		return serve(&cfg);
	}
	if (strcmp(cmd, "migrate") == 0)
		return store_migrate(cfg.db) == 0 ? 0 : 1;
	if (strcmp(cmd, "admin") == 0)
		return store_admin_main(cfg.db, argc - i, argv + i);
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0) {
		puts("madoguchi " MADOGUCHI_VERSION);
		return 0;
	}
	fprintf(stderr, "madoguchi: unknown command %s\n", cmd);
	usage(stderr);
	return 2;
}
