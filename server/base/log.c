#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Set once at start-up from the configuration; read-only while the loop runs. */
static enum log_level threshold = LOG_LEVEL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	threshold = level;
}

int log_level_from_name(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void log_write(enum log_level level, const char *mod, const char *fmt, ...)
{
	if (level < threshold)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[32];
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);

	/* The text before the first " key=" is the message; quote it so the line stays
	 * machine-readable, and keep the fields that follow as they are. */
	char *fields = strstr(msg, " ");
	char *split = NULL;
	for (char *p = fields; p; p = strchr(p + 1, ' ')) {
		char *eq = strchr(p + 1, '=');
		char *sp = strchr(p + 1, ' ');
		if (eq && (!sp || eq < sp)) {
			split = p;
			break;
		}
	}
	if (split)
		*split = '\0';
	fprintf(stderr, "ts=%s.%03ldZ level=%s mod=%s msg=\"%s\"%s%s\n", when, ts.tv_nsec / 1000000,
	        level_names[level], mod, msg, split ? " " : "", split ? split + 1 : "");
}
