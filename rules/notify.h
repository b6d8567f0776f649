/* Notifications: every alarm change becomes rows in the PostgreSQL outbox
 * (notify_outbox, migrations/0030) before anything is sent; senders then
 * work from the outbox with retries and exponential back-off, so a
 * restart, an SMTP outage or a syslog outage loses nothing.
 *
 * Threading: wt_notify_start, wt_notify_set_structure, the alarm
 * subscriber and wt_notify_stop run on the loop thread. The subscriber
 * only copies the event into a bounded in-memory queue (never blocks on
 * I/O); a dedicated notify thread with its own PostgreSQL connection writes
 * the outbox and runs every sender (SMTP via libcurl, syslog, SNMP traps,
 * hooks). A crash between "sent" and its commit can repeat one message:
 * mail then carries the same Message-ID, so receivers can drop it.
 *
 * Notification severities (e-mail vocabulary): info (alarm cleared), log
 * (acknowledged), warning (warning raised), error (critical raised,
 * communication lost). */
#ifndef WT_RULES_NOTIFY_H
#define WT_RULES_NOTIFY_H

#include "alarm.h"
#include "clock.h"
#include "structure.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wt_nsev {
	WT_NSEV_INFO = 0,
	WT_NSEV_LOG,
	WT_NSEV_WARNING,
	WT_NSEV_ERROR,
	WT_NSEV__COUNT
};
const char *wt_nsev_name(enum wt_nsev s);
/* "info", "log", "warning", "error" -> value, or -1. */
int wt_nsev_by_name(const char *name);

enum wt_mail_tls {
	WT_MAIL_TLS_STARTTLS = 0, /* smtp:// with STARTTLS required (default) */
	WT_MAIL_TLS_IMPLICIT,     /* smtps:// */
	WT_MAIL_TLS_NONE          /* plain smtp://, for a local relay only */
};

enum wt_mail_schedule {
	WT_SCHED_ALWAYS = 0,
	WT_SCHED_BUSINESS_HOURS,
	WT_SCHED_AFTER_HOURS
};

enum wt_mail_report {
	WT_REPORT_NONE = 0,
	WT_REPORT_DAILY,
	WT_REPORT_WEEKLY
};

struct wt_mail_recipient {
	const char *address;
	enum wt_mail_schedule schedule;
	enum wt_mail_report report; /* periodic status report (rules/notify_report.h) */
};

struct wt_mail_options {
	const char *server; /* NULL or "": e-mail off */
	int port;           /* 0: 587 (465 for implicit TLS) */
	enum wt_mail_tls tls;
	bool insecure; /* skip certificate verification (off by default) */
	const char *cafile;
	const char *user, *password; /* NULL: no AUTH */
	const char *sender;
	const char *subject; /* prefix of every subject */
	const char *text_before, *text_after;
	struct wt_mail_recipient *recipients;
	size_t nrecipients;
	enum wt_nsev min_severity;       /* default warning */
	enum wt_nsev immediate_severity; /* at or above: sent at once; default error */
	int delay_min;                   /* batching window: 1, 5, 15, 30 or 60 */
	int holdoff_s; /* storm control: least time between two mails to one recipient */
	/* business hours: days bit 0 = Sunday .. bit 6 = Saturday; minutes of day */
	unsigned business_days;
	int business_start_min, business_end_min;
	const char *timezone; /* zoneinfo name ("Europe/Prague"), "UTC" or "+01:00" */
	int report_hour;      /* local hour 1..23 status reports go out; 0: 7 */
	int report_wday;      /* weekly reports: 1 Monday .. 7 Sunday; 0: Monday */
	int timeout_s;
	bool html; /* add a multipart/alternative HTML part */
};

enum wt_syslog_proto {
	WT_SYSLOG_UDP = 0,
	WT_SYSLOG_TCP,
	WT_SYSLOG_TLS
};

struct wt_syslog_options {
	const char *server; /* NULL or "": off */
	int port;           /* 0: 514 (UDP, TCP) or 6514 (TLS) */
	enum wt_syslog_proto proto;
	int facility; /* 0..23, default 16 (local0) */
	enum wt_nsev min_severity;
	const char *cafile; /* TLS: trust anchors (system default when NULL) */
	bool insecure;      /* TLS: skip certificate verification */
};

struct wt_trap_receiver {
	const char *host;
	int port;    /* 0: 162 */
	int version; /* 2 (v2c) or 3 */
	const char *community;
	/* v3: SHA authentication and AES privacy (authPriv), or authNoPriv
	 * when priv_pass is NULL */
	const char *user, *auth_pass, *priv_pass;
	bool inform; /* v2c/v3 inform instead of a trap (acknowledged) */
};

struct wt_trap_options {
	struct wt_trap_receiver *receivers;
	size_t nreceivers;
	enum wt_nsev min_severity;
	const char *engine_id_hex; /* our SNMPv3 engine id for traps; NULL: derived */
};

/* A hook runs for alarm changes matching its filter: a command (argv,
 * run without a shell) or, when url is set, an HTTP POST of the event
 * JSON. Filter fields that are NULL/empty match everything. */
struct wt_hook {
	const char *name;
	enum wt_nsev min_severity;
	const char *metric;      /* metric name */
	const char *device_type; /* "ups", "pdu", ... */
	const char *change;      /* "raised", "cleared", ... */
	const char *const *argv; /* NULL-terminated; argv[0] an absolute path */
	const char *url;
	int timeout_s; /* default 30 */
};

struct wt_notify_options {
	const char *conninfo;
	const char *hostname; /* NULL: gethostname() */
	struct wt_mail_options mail;
	struct wt_syslog_options syslog;
	struct wt_trap_options traps;
	struct wt_hook *hooks;
	size_t nhooks;
	size_t queue_max;   /* events waiting for the outbox; default 100000 */
	int max_attempts;   /* then state 'failed'; default 50 */
	int retry_base_s;   /* first retry delay, doubling; default 10 */
	int retry_max_s;    /* cap; default 3600 */
	int poll_ms;        /* notify thread wake-up; default 1000 */
	int retention_days; /* finished rows (sent, skipped, failed) older than this are
			       deleted hourly; 0: default 90, -1: keep forever */
};

/* What the rest of wattrack knows about an alarm's device and series; the
 * notify module asks on the loop thread when an event arrives. Every field
 * may be left NULL. */
struct wt_notify_names {
	const char *device_name, *device_type, *entity_name, *metric_name, *unit;
};
typedef void (*wt_notify_describe_fn)(void *ctx, const struct wt_alarm *a,
				      struct wt_notify_names *out);

struct wt_notify;

struct wt_notify_stats {
	uint64_t events;   /* accepted from the alarm table */
	uint64_t refused;  /* queue full (logged) */
	uint64_t outboxed; /* outbox rows written */
	uint64_t sent;     /* rows sent */
	uint64_t retried;  /* send attempts that failed and will be retried */
	uint64_t failed;   /* rows given up after max_attempts */
	uint64_t mails;    /* e-mails sent */
	size_t depth;      /* events waiting now */
	uint64_t passes;   /* notify thread passes */
	bool connected;
};

/* Copies the options (strings included), starts the notify thread and
 * subscribes to alarms. NULL on ENOMEM or bad options (logged). */
struct wt_notify *wt_notify_start(const struct wt_notify_options *o, const struct wt_clock *clock,
				  struct wt_alarms *alarms);
/* Location lookups (room, row, rack of an alarm); not owned; call again
 * after every structure change. */
void wt_notify_set_structure(struct wt_notify *n, const struct wt_structure *s);
void wt_notify_set_describe(struct wt_notify *n, wt_notify_describe_fn fn, void *ctx);
/* Wakes the notify thread and waits until it has written every queued
 * event and finished one full sending pass started after this call; 0 or
 * -ETIMEDOUT. For tests and shutdown; never on a hot path. */
int wt_notify_sync(struct wt_notify *n, int timeout_ms) __attribute__((warn_unused_result));
void wt_notify_stats(struct wt_notify *n, struct wt_notify_stats *out);
/* Writes the queued events to the outbox (waiting up to drain_ms), stops
 * the thread and frees. Pending rows stay in the outbox for the next run. */
void wt_notify_stop(struct wt_notify *n, int drain_ms);

/* Sends one test e-mail to `to` with the given options; on failure errbuf
 * gets the SMTP server's own reply (or curl's reason). Blocking: run it on
 * a worker. 0 or a negative errno. */
int wt_notify_test_mail(const struct wt_mail_options *m, const char *hostname, const char *to,
			char *errbuf, size_t errlen) __attribute__((warn_unused_result));

#endif
