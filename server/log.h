/* One logging module for the whole process. Thread-safe. Writes to stderr or
 * syslog. Secrets never go through here: callers log ids and names, never
 * community strings, passwords or keys. */
#ifndef WT_LOG_H
#define WT_LOG_H

#include <stdbool.h>

enum wt_log_level {
	WT_LOG_ERROR = 0,
	WT_LOG_WARNING,
	WT_LOG_NOTICE,
	WT_LOG_INFO,
	WT_LOG_DEBUG
};

/* Sends logs to stderr (default) or, when use_syslog, to syslog with the
 * given ident. Messages above max_level are dropped. */
void wt_log_setup(bool use_syslog, const char *ident, enum wt_log_level max_level);
/* Parses "error", "warning", "notice", "info" or "debug"; returns -1 if unknown. */
int wt_log_level_parse(const char *s);
void wt_log(enum wt_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Device-scoped variant: prefixes the message with device id and name. */
void wt_dlog(enum wt_log_level level, long device_id, const char *device_name,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Complain-once state for a repeating failure (collectd c_complain): the
 * first failure is logged, repeats are logged at growing intervals, and
 * recovery is logged once. Zero-initialise. */
struct wt_complaint {
	long long last_ms;     /* when we last complained, 0 if never */
	long long interval_ms; /* current quiet interval */
	bool active;
};
void wt_complain(struct wt_complaint *c, enum wt_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void wt_complain_release(struct wt_complaint *c, enum wt_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define wt_error(...) wt_log(WT_LOG_ERROR, __VA_ARGS__)
#define wt_warn(...) wt_log(WT_LOG_WARNING, __VA_ARGS__)
#define wt_notice(...) wt_log(WT_LOG_NOTICE, __VA_ARGS__)
#define wt_info(...) wt_log(WT_LOG_INFO, __VA_ARGS__)
#define wt_debug(...) wt_log(WT_LOG_DEBUG, __VA_ARGS__)

#endif
