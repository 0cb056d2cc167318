/* Structured logging: one line per event on stderr, logfmt style
 * (ts=… level=… mod=… msg="…" key=value …), so operators can grep and ship it. */
#ifndef MDG_BASE_LOG_H
#define MDG_BASE_LOG_H

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* The threshold is process-wide configuration set once at start-up, before the loop runs. */
void log_set_level(enum log_level level);
int log_level_from_name(const char *name); /* -1 when unknown */

/* msg is printf-formatted; put extra fields in it as key=value after the text. */
void log_write(enum log_level level, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_DEBUG(mod, ...) log_write(LOG_LEVEL_DEBUG, mod, __VA_ARGS__)
#define LOG_INFO(mod, ...)  log_write(LOG_LEVEL_INFO, mod, __VA_ARGS__)
#define LOG_WARN(mod, ...)  log_write(LOG_LEVEL_WARN, mod, __VA_ARGS__)
#define LOG_ERROR(mod, ...) log_write(LOG_LEVEL_ERROR, mod, __VA_ARGS__)

#endif
