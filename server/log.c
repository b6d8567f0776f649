#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* Atomic: a reload (SIGHUP, on the loop) changes them while workers log. */
static atomic_bool log_syslog;
static atomic_int log_max = WT_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warning", "notice", "info", "debug"};
static const int syslog_prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};

void wt_log_setup(bool use_syslog, const char *ident, enum wt_log_level max_level)
{
	bool was = atomic_load(&log_syslog);

	/* Open before switching, close after, so no message is lost. */
	if (use_syslog && !was)
		openlog(ident ? ident : "wattrack", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&log_max, (int)max_level);
	atomic_store(&log_syslog, use_syslog);
	if (was && !use_syslog)
		closelog();
}

int wt_log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

static void vlog(enum wt_log_level level, const char *prefix, const char *fmt, va_list ap)
{
	char msg[2048];

	if ((int)level > atomic_load(&log_max))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (atomic_load(&log_syslog)) {
		syslog(syslog_prio[level], "%s%s", prefix, msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ %s: %s%s\n", when, ts.tv_nsec / 1000000, level_names[level],
		prefix, msg);
	pthread_mutex_unlock(&log_lock);
}

void wt_log(enum wt_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, "", fmt, ap);
	va_end(ap);
}

void wt_dlog(enum wt_log_level level, long device_id, const char *device_name,
	     const char *fmt, ...)
{
	char prefix[160];
	va_list ap;

	if ((int)level > atomic_load(&log_max))
		return;
	snprintf(prefix, sizeof(prefix), "device %ld \"%s\": ", device_id,
		 device_name ? device_name : "");
	va_start(ap, fmt);
	vlog(level, prefix, fmt, ap);
	va_end(ap);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Quiet intervals grow from 1 min to 1 day. */
#define COMPLAIN_FIRST_MS 60000LL
#define COMPLAIN_MAX_MS 86400000LL

void wt_complain(struct wt_complaint *c, enum wt_log_level level, const char *fmt, ...)
{
	long long now = now_ms();
	va_list ap;

	if (c->active && now - c->last_ms < c->interval_ms)
		return;
	if (!c->active) {
		c->active = true;
		c->interval_ms = COMPLAIN_FIRST_MS;
	} else if (c->interval_ms < COMPLAIN_MAX_MS) {
		c->interval_ms *= 2;
	}
	c->last_ms = now;
	va_start(ap, fmt);
	vlog(level, "", fmt, ap);
	va_end(ap);
}

void wt_complain_release(struct wt_complaint *c, enum wt_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!c->active)
		return;
	c->active = false;
	c->last_ms = 0;
	c->interval_ms = 0;
	va_start(ap, fmt);
	vlog(level, "", fmt, ap);
	va_end(ap);
}
