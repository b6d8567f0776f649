/* The daemon's settings: one table (config.c) of {name, type, field,
 * flags, default, bounds, doc} in alphabetical order. One generic parser,
 * formatter and validator serve the configuration file, --check-config,
 * --dump-config and the HTTP API (pgbouncer CF_ABS, Redis standardConfig).
 * Adding a setting is one row in the table plus one field in struct
 * wt_config.
 *
 * File format: `key = value` lines; `#` starts a comment (at the start of a
 * line, or after whitespace in an unquoted value); dotted keys
 * (`storage.flush_interval = 60s`); values may be "double quoted" (with \"
 * \\ \n \t escapes) or 'single quoted' (literal). Durations take units
 * ms, s, m, h, d and may combine them ("1h30m"); sizes take B, kB, MB, GB,
 * TB (powers of 1024, as in PostgreSQL; KiB.. are accepted too). */
#ifndef WT_CONFIG_H
#define WT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum wt_setting_type {
	WT_ST_STRING = 0, /* char *, owned by the config */
	WT_ST_INT,        /* int */
	WT_ST_BOOL,       /* bool: true/false, yes/no, on/off, 1/0 */
	WT_ST_DURATION,   /* int64_t milliseconds */
	WT_ST_SIZE,       /* uint64_t bytes */
	WT_ST_ENUM        /* int: index into the row's values */
};

/* Setting flags. */
enum {
	WT_SF_RELOAD = 1u << 0,   /* applied on SIGHUP; otherwise a change needs a restart */
	WT_SF_SECRET = 1u << 1,   /* shown as "********" by the dumper and the API */
	WT_SF_CONNINFO = 1u << 2, /* a libpq URL or conninfo: only its password is masked */
	WT_SF_PATH = 1u << 3      /* when not empty, must be an absolute path */
};

struct wt_setting {
	const char *name; /* dotted key, e.g. "storage.flush_interval" */
	enum wt_setting_type type;
	size_t offset;             /* of the field in struct wt_config */
	unsigned flags;            /* WT_SF_* */
	const char *def;           /* default, in the file's syntax */
	int64_t min, max;          /* INT: units; DURATION: ms; SIZE: bytes */
	const char *const *values; /* ENUM: names, NULL-terminated */
	const char *doc;           /* one line, for the sample file and the API */
};

/* Most settings the table may ever hold (a compile-time check in config.c). */
#define WT_CONFIG_MAX_SETTINGS 256

struct wt_config {
	int api_http;       /* enum wt_http_mode */
	int api_http_port;
	int api_https_port;
	char *api_listen;
	bool api_metrics_readings;
	char *api_tls_cert;
	char *api_tls_key;
	char *api_tls_key_passphrase;
	int64_t devices_rescan_ms;
	/* discovery.* (server/daemon_discovery.h) */
	char *discovery_communities; /* secret */
	int discovery_concurrency;
	int64_t discovery_interval_ms;
	char *discovery_ports;
	int discovery_rate;
	char *discovery_targets;
	char *discovery_v3_file;
	char *poll_profiles_dir;
	char *database_url; /* empty: a private cluster under state_dir/pg */
	int log_level;      /* enum wt_log_level */
	bool log_syslog;
	/* notify.*: notifications (server/daemon_notify.h builds the options) */
	char *notify_hooks_file;
	char *notify_mail_business_days;
	char *notify_mail_business_hours;
	char *notify_mail_cafile;
	int64_t notify_mail_delay_ms;
	int64_t notify_mail_holdoff_ms;
	bool notify_mail_html;
	int notify_mail_immediate_severity; /* enum wt_nsev */
	int notify_mail_min_severity;       /* enum wt_nsev */
	char *notify_mail_password;
	int notify_mail_port;
	char *notify_mail_recipients;
	int notify_mail_report_hour;
	int notify_mail_report_weekday;
	char *notify_mail_sender;
	char *notify_mail_server;
	char *notify_mail_subject;
	char *notify_mail_text_after;
	char *notify_mail_text_before;
	char *notify_mail_timezone;
	int notify_mail_tls; /* enum wt_mail_tls */
	bool notify_mail_tls_verify;
	char *notify_mail_user;
	int notify_max_attempts;
	int notify_outbox_retention_days;
	int notify_queue_max;
	int64_t notify_retry_base_ms;
	int64_t notify_retry_max_ms;
	char *notify_syslog_cafile;
	int notify_syslog_facility; /* 0..23, index of the row's names */
	int notify_syslog_min_severity;
	int notify_syslog_port;
	int notify_syslog_protocol; /* enum wt_syslog_proto */
	char *notify_syslog_server;
	bool notify_syslog_tls_verify;
	char *notify_traps_engine_id;
	int notify_traps_min_severity;
	char *notify_traps_file;
	int64_t poll_interval_ms;
	int poll_retries;
	int64_t poll_timeout_ms;
	int64_t retention_daily_ms;
	int64_t retention_hourly_ms;
	int64_t retention_raw_ms;
	char *state_dir;
	int64_t storage_flush_interval_ms;
	char *storage_spool_dir; /* effective: <state_dir>/spool when not set */
	uint64_t storage_spool_max;
	int workers_queue_max;
	int workers_threads;

	/* Where each setting came from: the line in the file, 0 for a default. */
	int line[WT_CONFIG_MAX_SETTINGS];
	char *file; /* the file it was read from, NULL for defaults only */
};

/* One problem found in a configuration. */
struct wt_config_diag {
	char *file; /* NULL when not from a file (the API) */
	int line;   /* 0 when not tied to a line */
	char *key;  /* the setting concerned, NULL if the line has none */
	char *msg;
};

struct wt_config_diags {
	struct wt_config_diag *v;
	size_t n, cap;
};

/* The table, in alphabetical order; *n is set to its length. */
const struct wt_setting *wt_config_settings(size_t *n);
/* The row for a key, or NULL. */
const struct wt_setting *wt_config_find(const char *name);

/* Fills c with every default (no file). 0 or -ENOMEM. */
int wt_config_defaults(struct wt_config *c) __attribute__((warn_unused_result));
/* Defaults, then the file, then derived values and cross-field checks.
 * Every problem goes to d. Returns 0, -EINVAL when d holds problems, or a
 * negative errno when the file cannot be read (also in d). c is always
 * left freeable. */
int wt_config_load(struct wt_config *c, const char *path, struct wt_config_diags *d)
	__attribute__((warn_unused_result));
/* As wt_config_load, from memory; name is used in diagnostics. */
int wt_config_load_buffer(struct wt_config *c, const char *name, const char *buf, size_t len,
			  struct wt_config_diags *d) __attribute__((warn_unused_result));
/* Sets one setting from its text form (the API's entry point). Returns 0,
 * -ENOENT for an unknown key, -EINVAL for a bad value; err gets the reason. */
int wt_config_set(struct wt_config *c, const char *key, const char *value, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Derives defaults that depend on other settings, then runs the
 * cross-field checks, adding problems to d. Returns 0 or -EINVAL. */
int wt_config_finish(struct wt_config *c, struct wt_config_diags *d)
	__attribute__((warn_unused_result));
void wt_config_free(struct wt_config *c);
/* Deep copy (for the API: change a copy, check it, then apply it). 0 or
 * -ENOMEM; dst is always left freeable. */
int wt_config_copy(struct wt_config *dst, const struct wt_config *src)
	__attribute__((warn_unused_result));

/* Formats one setting's value in the file's syntax (strings quoted),
 * masking secrets when mask is set. Returns the length it needed. */
size_t wt_config_format(const struct wt_config *c, const struct wt_setting *s, bool mask, char *buf,
			size_t len);
/* Prints every effective setting as `key = value`, secrets masked. */
void wt_config_dump(const struct wt_config *c, FILE *f);

/* Called by wt_config_apply for each setting whose value changed; applied
 * is false for a setting that needs a restart. Values are masked. */
typedef void (*wt_config_change_fn)(void *ctx, const struct wt_setting *s, bool applied,
				    const char *old_value, const char *new_value);
/* Copies every reloadable setting that differs from next into cur and
 * reports every change. Returns the number of changes needing a restart,
 * or -ENOMEM. */
int wt_config_apply(struct wt_config *cur, const struct wt_config *next, wt_config_change_fn fn,
		    void *ctx) __attribute__((warn_unused_result));

/* Diagnostics. */
void wt_config_diags_free(struct wt_config_diags *d);
/* Prints "file:line: key: message" per problem. */
void wt_config_diags_print(const struct wt_config_diags *d, FILE *f);
/* Formats one problem as wt_config_diags_print does. */
void wt_config_diag_format(const struct wt_config_diag *g, char *buf, size_t len);

/* "500ms", "5s", "10m", "2h", "7d", "1h30m" -> ms. 0 or -EINVAL/-ERANGE. */
int wt_parse_duration(const char *s, int64_t *ms) __attribute__((warn_unused_result));
/* "512kB", "1GB", "0" -> bytes (powers of 1024). 0 or -EINVAL/-ERANGE. */
int wt_parse_size(const char *s, uint64_t *bytes) __attribute__((warn_unused_result));
/* Shortest exact form: 90000 -> "90s", 86400000 -> "1d", 1500 -> "1500ms". */
void wt_format_duration(int64_t ms, char *buf, size_t len);
/* Shortest exact form: 1073741824 -> "1GB", 1000 -> "1000B". */
void wt_format_size(uint64_t bytes, char *buf, size_t len);
/* true/false, yes/no, on/off, 1/0 (any case). 0 or -EINVAL. */
int wt_parse_bool(const char *s, bool *out) __attribute__((warn_unused_result));

#endif
