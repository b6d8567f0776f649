#include "config.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MS_SEC 1000LL
#define MS_MIN (60 * MS_SEC)
#define MS_HOUR (60 * MS_MIN)
#define MS_DAY (24 * MS_HOUR)
#define KB 1024LL
#define MB (1024 * KB)
#define GB (1024 * MB)
#define TB (1024 * GB)

/* Longest line the parser accepts, and largest file. A configuration has
 * tens of lines: anything near these limits is not one. */
#define LINE_MAX_BYTES 4096
#define FILE_MAX_BYTES (1024 * 1024)

static const char *const log_levels[] = {"error", "warning", "notice", "info", "debug", NULL};
/* Order matches enum wt_http_mode in api/api.h. */
static const char *const http_modes[] = {"off", "on", "redirect", NULL};
/* Orders match enum wt_nsev, wt_mail_tls and wt_syslog_proto in
 * rules/notify.h; facilities are numbered as in RFC 5424 (local0 = 16). */
static const char *const notify_sevs[] = {"info", "log", "warning", "error", NULL};
static const char *const mail_tls_modes[] = {"starttls", "implicit", "none", NULL};
static const char *const syslog_protos[] = {"udp", "tcp", "tls", NULL};
static const char *const syslog_facilities[] = {
	"kern",   "user",   "mail",   "daemon", "auth",   "syslog", "lpr",    "news",
	"uucp",   "cron",   "authpriv", "ftp",  "ntp",    "audit",  "alert",  "clock",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7", NULL};

/* clang-format off */
/* Field offset with a compile-time type check, so a row whose type does not
 * match its field fails to build: the table stays a one-line change. */
#define FIELD(f, T)                                                                     \
	(offsetof(struct wt_config, f) +                                                \
	 0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((struct wt_config *)0)->f), \
						      T) ? 1 : -1]))

#define STR(n, f, fl, def, doc) {n, WT_ST_STRING, FIELD(f, char *), fl, def, 0, 0, NULL, doc}
#define INT(n, f, fl, def, lo, hi, doc) {n, WT_ST_INT, FIELD(f, int), fl, def, lo, hi, NULL, doc}
#define BOOL(n, f, fl, def, doc) {n, WT_ST_BOOL, FIELD(f, bool), fl, def, 0, 1, NULL, doc}
#define DUR(n, f, fl, def, lo, hi, doc) \
	{n, WT_ST_DURATION, FIELD(f, int64_t), fl, def, lo, hi, NULL, doc}
#define SIZE(n, f, fl, def, lo, hi, doc) \
	{n, WT_ST_SIZE, FIELD(f, uint64_t), fl, def, lo, hi, NULL, doc}
#define ENUM(n, f, fl, def, vals, doc) {n, WT_ST_ENUM, FIELD(f, int), fl, def, 0, 0, vals, doc}

#define R WT_SF_RELOAD
/* clang-format on */

/* The settings, alphabetical (a unit test checks the order and that every
 * default parses and is in range). */
static const struct wt_setting settings[] = {
	ENUM("api.http", api_http, 0, "redirect", http_modes,
	     "plain HTTP: off, on (serves the API) or redirect (to the HTTPS port)"),
	INT("api.http_port", api_http_port, 0, "8080", 0, 65535,
	    "plain HTTP port (0: any free port, logged at start-up)"),
	INT("api.https_port", api_https_port, 0, "8443", 0, 65535, "HTTPS port (0: no HTTPS)"),
	STR("api.listen", api_listen, 0, "0.0.0.0",
	    "address the web console and API listen on (0.0.0.0, ::, 127.0.0.1)"),
	BOOL("api.metrics_readings", api_metrics_readings, R, "false",
	     "/metrics also exports the latest reading of every device series"),
	STR("api.tls_cert", api_tls_cert, WT_SF_PATH, "",
	    "PEM certificate chain; empty: a self-signed one under <state_dir>/tls"),
	STR("api.tls_key", api_tls_key, WT_SF_PATH, "", "PEM private key of api.tls_cert"),
	STR("api.tls_key_passphrase", api_tls_key_passphrase, WT_SF_SECRET, "",
	    "passphrase of an encrypted api.tls_key"),
	STR("database.url", database_url, WT_SF_CONNINFO, "",
	    "PostgreSQL URL or conninfo; empty runs a private cluster under <state_dir>/pg"),
	DUR("devices.rescan", devices_rescan_ms, 0, "10s", 1 * MS_SEC, MS_HOUR,
	    "how often the devices table is re-read (devices added or removed take effect)"),
	/* discovery.*: network discovery (server/daemon_discovery.h) */
	STR("discovery.communities", discovery_communities, WT_SF_SECRET, "",
	    "SNMP v2c read communities tried in order, comma-separated (no default: "
	    "a scan needs a community or discovery.v3_file)"),
	INT("discovery.concurrency", discovery_concurrency, 0, "64", 1, 1024,
	    "discovery probes in flight at once"),
	DUR("discovery.interval", discovery_interval_ms, 0, "0s", 0, 7 * MS_DAY,
	    "time between two discovery scans (0: only at start-up and on demand)"),
	STR("discovery.ports", discovery_ports, 0, "161",
	    "SNMP ports scanned: a list and ranges, e.g. 161,21000-21199"),
	INT("discovery.rate", discovery_rate, 0, "200", 1, 10000,
	    "new discovery probes started per second"),
	STR("discovery.targets", discovery_targets, 0, "",
	    "CIDR ranges and hosts scanned, comma-separated; empty: no discovery"),
	STR("discovery.v3_file", discovery_v3_file, WT_SF_PATH, "",
	    "JSON file of SNMPv3 users tried after the communities; empty: none"),
	ENUM("log.level", log_level, R, "info", log_levels,
	     "least important messages logged: error, warning, notice, info or debug"),
	BOOL("log.syslog", log_syslog, R, "false",
	     "log to syslog (facility daemon) instead of standard error"),
	STR("notify.hooks_file", notify_hooks_file, WT_SF_PATH, "",
	    "JSON file of hooks (commands or webhooks run on alarm changes); empty: none"),
	STR("notify.mail.business_days", notify_mail_business_days, 0, "mon-fri",
	    "days of business hours: a range (mon-fri) or a list (mon,tue,sat)"),
	STR("notify.mail.business_hours", notify_mail_business_hours, 0, "08:00-18:00",
	    "business hours, local time of notify.mail.timezone (HH:MM-HH:MM)"),
	STR("notify.mail.cafile", notify_mail_cafile, WT_SF_PATH, "",
	    "PEM trust anchors for the SMTP server's certificate; empty: the system's"),
	DUR("notify.mail.delay", notify_mail_delay_ms, 0, "5m", MS_MIN, MS_HOUR,
	    "batching window of e-mails below immediate_severity: 1m, 5m, 15m, 30m or 60m"),
	DUR("notify.mail.holdoff", notify_mail_holdoff_ms, 0, "60s", 0, MS_HOUR,
	    "least time between two e-mails to one recipient (storm control)"),
	BOOL("notify.mail.html", notify_mail_html, 0, "false",
	     "add an HTML part to every e-mail (multipart/alternative)"),
	ENUM("notify.mail.immediate_severity", notify_mail_immediate_severity, 0, "error",
	     notify_sevs, "e-mails at or above this severity go out at once, not batched"),
	ENUM("notify.mail.min_severity", notify_mail_min_severity, 0, "warning", notify_sevs,
	     "least severity e-mailed: info (cleared), log (acked), warning or error"),
	STR("notify.mail.password", notify_mail_password, WT_SF_SECRET, "",
	    "SMTP AUTH password of notify.mail.user"),
	INT("notify.mail.port", notify_mail_port, 0, "0", 0, 65535,
	    "SMTP port (0: 587, or 465 with tls = implicit)"),
	STR("notify.mail.recipients", notify_mail_recipients, 0, "",
	    "addr[;always|business_hours|after_hours][;daily|weekly], ... (comma-separated)"),
	INT("notify.mail.report_hour", notify_mail_report_hour, 0, "7", 1, 23,
	    "local hour daily and weekly status reports are sent"),
	INT("notify.mail.report_weekday", notify_mail_report_weekday, 0, "1", 1, 7,
	    "day weekly status reports are sent: 1 Monday .. 7 Sunday"),
	STR("notify.mail.sender", notify_mail_sender, 0, "",
	    "From: address of notification e-mails (required when server is set)"),
	STR("notify.mail.server", notify_mail_server, 0, "",
	    "SMTP server host name or address; empty: no e-mail"),
	STR("notify.mail.subject", notify_mail_subject, 0, "[wattrack]",
	    "prefix of every e-mail subject"),
	STR("notify.mail.text_after", notify_mail_text_after, 0, "",
	    "text appended to every e-mail (\\n for a new line)"),
	STR("notify.mail.text_before", notify_mail_text_before, 0, "",
	    "text put before the events of every e-mail"),
	STR("notify.mail.timezone", notify_mail_timezone, 0, "UTC",
	    "time zone of e-mails, business hours and reports (Europe/Prague, UTC, +01:00)"),
	ENUM("notify.mail.tls", notify_mail_tls, 0, "starttls", mail_tls_modes,
	     "starttls (required), implicit (smtps) or none (a local relay only)"),
	BOOL("notify.mail.tls_verify", notify_mail_tls_verify, 0, "true",
	     "verify the SMTP server's certificate and host name"),
	STR("notify.mail.user", notify_mail_user, 0, "", "SMTP AUTH user; empty: no AUTH"),
	INT("notify.max_attempts", notify_max_attempts, 0, "50", 1, 1000,
	    "send attempts of one notification before it is marked failed"),
	INT("notify.outbox_retention_days", notify_outbox_retention_days, 0, "90", -1, 36500,
	    "days finished outbox rows are kept (-1: forever)"),
	INT("notify.queue_max", notify_queue_max, 0, "100000", 100, 10000000,
	    "alarm events that may wait for the outbox; more are refused and logged"),
	DUR("notify.retry_base", notify_retry_base_ms, 0, "10s", MS_SEC, MS_HOUR,
	    "delay before the first retry of a failed send (doubles each time)"),
	DUR("notify.retry_max", notify_retry_max_ms, 0, "1h", MS_SEC, MS_DAY,
	    "longest delay between two retries"),
	STR("notify.syslog.cafile", notify_syslog_cafile, WT_SF_PATH, "",
	    "protocol tls: PEM trust anchors of the syslog server; empty: the system's"),
	ENUM("notify.syslog.facility", notify_syslog_facility, 0, "local0", syslog_facilities,
	     "syslog facility of notification messages"),
	ENUM("notify.syslog.min_severity", notify_syslog_min_severity, 0, "info", notify_sevs,
	     "least severity sent to syslog"),
	INT("notify.syslog.port", notify_syslog_port, 0, "0", 0, 65535,
	    "syslog port (0: 514, or 6514 with protocol tls)"),
	ENUM("notify.syslog.protocol", notify_syslog_protocol, 0, "udp", syslog_protos,
	     "RFC 5424 transport: udp, tcp (octet counting) or tls"),
	STR("notify.syslog.server", notify_syslog_server, 0, "",
	    "syslog server host name or address; empty: no syslog notifications"),
	BOOL("notify.syslog.tls_verify", notify_syslog_tls_verify, 0, "true",
	     "protocol tls: verify the syslog server's certificate"),
	STR("notify.traps.engine_id", notify_traps_engine_id, 0, "",
	    "our SNMPv3 engine id for traps, hex (10..64 digits); empty: derived from the host"),
	ENUM("notify.traps.min_severity", notify_traps_min_severity, 0, "warning", notify_sevs,
	     "least severity sent as SNMP traps"),
	STR("notify.traps_file", notify_traps_file, WT_SF_PATH, "",
	    "JSON file of SNMP trap receivers (v2c or v3, trap or inform); empty: none"),
	DUR("poll.interval", poll_interval_ms, R, "5s", 1 * MS_SEC, MS_HOUR,
	    "default time between two polls of a device"),
	STR("poll.profiles_dir", poll_profiles_dir, WT_SF_PATH, "",
	    "device profiles directory; empty: the installed profiles (or the source tree's)"),
	INT("poll.retries", poll_retries, R, "1", 0, 10,
	    "retries of a request that timed out before a poll fails"),
	DUR("poll.timeout", poll_timeout_ms, R, "2s", 100, 60 * MS_SEC,
	    "time to wait for a device's answer to one request"),
	DUR("retention.daily", retention_daily_ms, R, "3650d", MS_DAY, 36500 * MS_DAY,
	    "how long daily min/avg/max are kept (whole days)"),
	DUR("retention.hourly", retention_hourly_ms, R, "730d", MS_DAY, 36500 * MS_DAY,
	    "how long hourly min/avg/max are kept (whole days)"),
	DUR("retention.raw", retention_raw_ms, R, "14d", MS_DAY, 3650 * MS_DAY,
	    "how long 5-second data is kept (whole days)"),
	STR("state_dir", state_dir, WT_SF_PATH, "/var/lib/wattrack",
	    "directory for the private PostgreSQL cluster, the spool and generated keys"),
	DUR("storage.flush_interval", storage_flush_interval_ms, R, "60s", 5 * MS_SEC, 60 * MS_SEC,
	    "longest time closed 5-second buckets wait before they are written"),
	STR("storage.spool_dir", storage_spool_dir, WT_SF_PATH, "",
	    "where batches wait while PostgreSQL is unreachable; empty: <state_dir>/spool"),
	SIZE("storage.spool_max", storage_spool_max, R, "1GB", MB, TB,
	     "spool size cap; past it the spool refuses batches and an alarm fires"),
	INT("workers.queue_max", workers_queue_max, 0, "4096", 16, 1000000,
	    "jobs that may wait for a worker thread; more are refused and counted"),
	INT("workers.threads", workers_threads, 0, "4", 1, 256,
	    "threads running blocking work (PostgreSQL, Modbus, LDAP, password hashing)"),
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))
_Static_assert(NSETTINGS <= WT_CONFIG_MAX_SETTINGS, "raise WT_CONFIG_MAX_SETTINGS");

const struct wt_setting *wt_config_settings(size_t *n)
{
	*n = NSETTINGS;
	return settings;
}

const struct wt_setting *wt_config_find(const char *name)
{
	size_t lo = 0, hi = NSETTINGS;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, settings[mid].name);
		if (c == 0)
			return &settings[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static size_t setting_index(const struct wt_setting *s)
{
	return (size_t)(s - settings);
}

static void *field(struct wt_config *c, const struct wt_setting *s)
{
	return (char *)c + s->offset;
}

static const void *cfield(const struct wt_config *c, const struct wt_setting *s)
{
	return (const char *)c + s->offset;
}

/* ---- value parsers ---- */

static bool parse_uint(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s)) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		s++;
	}
	*p = s;
	*out = v;
	return true;
}

int wt_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {{"ms", 1}, {"s", MS_SEC}, {"m", MS_MIN}, {"h", MS_HOUR}, {"d", MS_DAY}};
	int64_t total = 0;
	int64_t last_unit = INT64_MAX;

	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	while (*s) {
		uint64_t n;
		size_t ulen = 0;
		int64_t mult = 0;

		if (!parse_uint(&s, &n))
			return isdigit((unsigned char)*s) ? -ERANGE : -EINVAL;
		while (isalpha((unsigned char)s[ulen]))
			ulen++;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].unit) == ulen && strncmp(s, units[i].unit, ulen) == 0)
				mult = units[i].ms;
		/* Units must come largest first and once each ("1h30m"), so a
		 * typo like "5s5s" is not silently summed. */
		if (!mult || mult >= last_unit)
			return -EINVAL;
		last_unit = mult;
		s += ulen;
		if (n > (uint64_t)(INT64_MAX / mult) || (int64_t)n * mult > INT64_MAX - total)
			return -ERANGE;
		total += (int64_t)n * mult;
	}
	*ms = total;
	return 0;
}

int wt_parse_size(const char *s, uint64_t *bytes)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {{"b", 1},   {"k", KB},   {"kb", KB}, {"kib", KB}, {"m", MB},
		     {"mb", MB}, {"mib", MB}, {"g", GB},  {"gb", GB},  {"gib", GB},
		     {"t", TB},  {"tb", TB},  {"tib", TB}};
	uint64_t n, mult = 0;
	char unit[8];
	size_t ulen = 0;

	if (!parse_uint(&s, &n))
		return isdigit((unsigned char)*s) ? -ERANGE : -EINVAL;
	if (!*s) {
		/* A bare number is ambiguous (bytes? kB?) except zero. */
		if (n != 0)
			return -EINVAL;
		*bytes = 0;
		return 0;
	}
	while (s[ulen] && ulen < sizeof(unit) - 1) {
		unit[ulen] = (char)tolower((unsigned char)s[ulen]);
		ulen++;
	}
	unit[ulen] = '\0';
	if (s[ulen])
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(unit, units[i].unit) == 0)
			mult = units[i].mult;
	if (!mult)
		return -EINVAL;
	if (n > UINT64_MAX / mult)
		return -ERANGE;
	*bytes = n * mult;
	return 0;
}

void wt_format_duration(int64_t ms, char *buf, size_t len)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {{"d", MS_DAY}, {"h", MS_HOUR}, {"m", MS_MIN}, {"s", MS_SEC}};

	if (ms != 0)
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (ms % units[i].ms == 0) {
				snprintf(buf, len, "%" PRId64 "%s", ms / units[i].ms,
					 units[i].unit);
				return;
			}
	if (ms == 0)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%" PRId64 "ms", ms);
}

void wt_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {{"TB", TB}, {"GB", GB}, {"MB", MB}, {"kB", KB}};

	if (bytes != 0)
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (bytes % units[i].mult == 0) {
				snprintf(buf, len, "%" PRIu64 "%s", bytes / units[i].mult,
					 units[i].unit);
				return;
			}
	if (bytes == 0)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%" PRIu64 "B", bytes);
}

int wt_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- setting one value ---- */

static int set_value(struct wt_config *c, const struct wt_setting *s, const char *v, char *err,
		     size_t errlen)
{
	void *f = field(c, s);
	char lo[32], hi[32];

	if (s->type != WT_ST_STRING && !*v) {
		snprintf(err, errlen, "empty value");
		return -EINVAL;
	}
	switch (s->type) {
	case WT_ST_STRING: {
		if ((s->flags & WT_SF_PATH) && *v && *v != '/') {
			snprintf(err, errlen, "must be an absolute path, not \"%s\"", v);
			return -EINVAL;
		}
		char *dup = strdup(v);
		if (!dup) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		free(*(char **)f);
		*(char **)f = dup;
		return 0;
	}
	case WT_ST_INT: {
		char *end;
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (*end || end == v || isspace((unsigned char)*v)) {
			snprintf(err, errlen, "\"%s\" is not an integer", v);
			return -EINVAL;
		}
		if (errno == ERANGE || n < s->min || n > s->max) {
			snprintf(err, errlen, "%s is out of range (%" PRId64 "..%" PRId64 ")", v,
				 s->min, s->max);
			return -EINVAL;
		}
		*(int *)f = (int)n;
		return 0;
	}
	case WT_ST_BOOL:
		if (wt_parse_bool(v, (bool *)f) < 0) {
			snprintf(err, errlen,
				 "\"%s\" is not a boolean (true/false, yes/no, on/off)", v);
			return -EINVAL;
		}
		return 0;
	case WT_ST_DURATION: {
		int64_t ms;
		int rc = wt_parse_duration(v, &ms);
		wt_format_duration(s->min, lo, sizeof(lo));
		wt_format_duration(s->max, hi, sizeof(hi));
		if (rc == -EINVAL) {
			snprintf(err, errlen,
				 "\"%s\" is not a duration (a number with a unit: ms, s, m, h, d; "
				 "e.g. 500ms, 5s, 10m, 2h, 7d)",
				 v);
			return -EINVAL;
		}
		if (rc < 0 || ms < s->min || ms > s->max) {
			snprintf(err, errlen, "%s is out of range (%s..%s)", v, lo, hi);
			return -EINVAL;
		}
		*(int64_t *)f = ms;
		return 0;
	}
	case WT_ST_SIZE: {
		uint64_t b;
		int rc = wt_parse_size(v, &b);
		wt_format_size((uint64_t)s->min, lo, sizeof(lo));
		wt_format_size((uint64_t)s->max, hi, sizeof(hi));
		if (rc == -EINVAL) {
			snprintf(err, errlen,
				 "\"%s\" is not a size (a number with a unit: B, kB, MB, GB, TB; "
				 "e.g. 512kB, 1GB)",
				 v);
			return -EINVAL;
		}
		if (rc < 0 || b < (uint64_t)s->min || b > (uint64_t)s->max) {
			snprintf(err, errlen, "%s is out of range (%s..%s)", v, lo, hi);
			return -EINVAL;
		}
		*(uint64_t *)f = b;
		return 0;
	}
	case WT_ST_ENUM: {
		size_t off = 0;
		for (int i = 0; s->values[i]; i++) {
			if (strcasecmp(v, s->values[i]) == 0) {
				*(int *)f = i;
				return 0;
			}
		}
		off = (size_t)snprintf(err, errlen, "\"%s\" is not one of:", v);
		for (int i = 0; s->values[i] && off < errlen; i++)
			off += (size_t)snprintf(err + off, errlen - off, "%s %s", i ? "," : "",
						s->values[i]);
		return -EINVAL;
	}
	}
	snprintf(err, errlen, "internal error: unknown type");
	return -EINVAL;
}

int wt_config_set(struct wt_config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct wt_setting *s = wt_config_find(key);

	if (!s) {
		snprintf(err, errlen, "unknown setting");
		return -ENOENT;
	}
	return set_value(c, s, value, err, errlen);
}

/* ---- diagnostics ---- */

static void diag_add(struct wt_config_diags *d, const char *file, int line, const char *key,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void diag_add(struct wt_config_diags *d, const char *file, int line, const char *key,
		     const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!d)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct wt_config_diag *v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return; /* out of memory: the caller still sees the error count */
		d->v = v;
		d->cap = cap;
	}
	struct wt_config_diag *g = &d->v[d->n];
	g->file = file ? strdup(file) : NULL;
	g->line = line;
	g->key = key ? strdup(key) : NULL;
	g->msg = strdup(msg);
	d->n++;
}

void wt_config_diags_free(struct wt_config_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].key);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}

void wt_config_diag_format(const struct wt_config_diag *g, char *buf, size_t len)
{
	char where[512];

	if (g->file && g->line)
		snprintf(where, sizeof(where), "%s:%d: ", g->file, g->line);
	else if (g->file)
		snprintf(where, sizeof(where), "%s: ", g->file);
	else
		where[0] = '\0';
	snprintf(buf, len, "%s%s%s%s", where, g->key ? g->key : "", g->key ? ": " : "",
		 g->msg ? g->msg : "(out of memory)");
}

void wt_config_diags_print(const struct wt_config_diags *d, FILE *f)
{
	char buf[1200];

	for (size_t i = 0; i < d->n; i++) {
		wt_config_diag_format(&d->v[i], buf, sizeof(buf));
		fprintf(f, "%s\n", buf);
	}
}

/* ---- nearest known key, for "unknown setting" ---- */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) ==
						      tolower((unsigned char)b[j - 1])
					      ? 0
					      : 1;
			size_t best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const char *nearest_key(const char *key)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	size_t klen = strlen(key);

	for (size_t i = 0; i < NSETTINGS; i++) {
		const char *name = settings[i].name;
		const char *dot = strrchr(name, '.');
		/* "flush_interval" means "storage.flush_interval". */
		if (dot && strcasecmp(dot + 1, key) == 0)
			return name;
		size_t d = edit_distance(key, name);
		if (d < best_d) {
			best_d = d;
			best = name;
		}
	}
	size_t limit = klen / 3 > 2 ? klen / 3 : 2;
	return best_d <= limit ? best : NULL;
}

/* ---- the file parser ---- */

/* Length of a valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return p[0] ? 1 : 0;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Byte offset of the first invalid UTF-8 (or NUL) byte, or -1. */
static long utf8_invalid_at(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t l = utf8_seq((const unsigned char *)s + i, n - i);
		if (!l)
			return (long)i;
		i += l;
	}
	return -1;
}

static bool is_key_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '.' || ch == '-';
}

struct parse_ctx {
	struct wt_config *c;
	struct wt_config_diags *d;
	const char *file;
	int errors;
};

static void perr(struct parse_ctx *p, int line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void perr(struct parse_ctx *p, int line, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_add(p->d, p->file, line, key, "%s", msg);
	p->errors++;
}

/* Parses the value part of a line (after '='). On success *out is a
 * malloc'd string. Returns 0 or -EINVAL after reporting the problem. */
static int parse_value(struct parse_ctx *p, int lineno, const char *key, const char *s, char **out)
{
	size_t n = strlen(s);
	char *v = malloc(n + 1);
	size_t o = 0;

	if (!v) {
		perr(p, lineno, key, "out of memory");
		return -ENOMEM;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '"' || *s == '\'') {
		char q = *s++;
		for (;;) {
			if (!*s) {
				perr(p, lineno, key, "unterminated %s quote",
				     q == '"' ? "double" : "single");
				free(v);
				return -EINVAL;
			}
			if (*s == q) {
				s++;
				break;
			}
			if (q == '"' && *s == '\\') {
				s++;
				switch (*s) {
				case '"':
				case '\\':
					v[o++] = *s;
					break;
				case 'n':
					v[o++] = '\n';
					break;
				case 't':
					v[o++] = '\t';
					break;
				default:
					perr(p, lineno, key,
					     "unknown escape \"\\%c\" in a double-quoted value "
					     "(use \\\", \\\\, \\n or \\t)",
					     *s ? *s : ' ');
					free(v);
					return -EINVAL;
				}
				s++;
				continue;
			}
			v[o++] = *s++;
		}
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s && *s != '#') {
			perr(p, lineno, key, "unexpected text after the closing quote: \"%s\"", s);
			free(v);
			return -EINVAL;
		}
	} else {
		/* Unquoted: up to a '#' that starts the value or follows
		 * whitespace, minus trailing whitespace. */
		const char *end = s;
		while (*end && !(*end == '#' && (end == s || end[-1] == ' ' || end[-1] == '\t')))
			end++;
		while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		for (const char *q = s; q < end; q++) {
			if (*q == '"' || *q == '\'') {
				perr(p, lineno, key,
				     "a quote inside an unquoted value; quote the whole value");
				free(v);
				return -EINVAL;
			}
		}
		o = (size_t)(end - s);
		memcpy(v, s, o);
	}
	v[o] = '\0';
	*out = v;
	return 0;
}

static void parse_line(struct parse_ctx *p, int lineno, const char *line, size_t len)
{
	char key[128];
	size_t k = 0;
	const char *s = line;
	long bad;
	char err[512];

	/* A key for the report even when the line is broken. */
	const char *q = line;
	while (*q == ' ' || *q == '\t')
		q++;
	while (is_key_char(q[k]) && k < sizeof(key) - 1) {
		key[k] = q[k];
		k++;
	}
	key[k] = '\0';

	if (len > LINE_MAX_BYTES) {
		perr(p, lineno, k ? key : NULL, "line is longer than %d bytes", LINE_MAX_BYTES);
		return;
	}
	bad = utf8_invalid_at(line, len);
	if (bad >= 0) {
		perr(p, lineno, k ? key : NULL, "%s at byte %ld",
		     line[bad] ? "invalid UTF-8" : "NUL byte", bad + 1);
		return;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s || *s == '#')
		return;
	if (!k) {
		perr(p, lineno, NULL, "expected `key = value`, found \"%.40s\"", s);
		return;
	}
	if (is_key_char(q[k])) {
		perr(p, lineno, NULL, "key \"%.40s...\" is too long", key);
		return;
	}
	s = q + k;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '=') {
		perr(p, lineno, key, "missing '=' after the key (expected `%s = value`)", key);
		return;
	}
	s++;

	const struct wt_setting *st = wt_config_find(key);
	if (!st) {
		const char *near = nearest_key(key);
		if (near)
			perr(p, lineno, key, "unknown setting; did you mean \"%s\"?", near);
		else
			perr(p, lineno, key, "unknown setting");
		return;
	}
	char *v;
	if (parse_value(p, lineno, key, s, &v) < 0)
		return;
	size_t idx = setting_index(st);
	if (p->c->line[idx]) {
		perr(p, lineno, key, "set twice (first on line %d)", p->c->line[idx]);
		free(v);
		return;
	}
	if (set_value(p->c, st, v, err, sizeof(err)) < 0)
		perr(p, lineno, key, "%s", err);
	else
		p->c->line[idx] = lineno;
	free(v);
}

static int parse_buffer(struct parse_ctx *p, const char *buf, size_t len)
{
	size_t pos = 0;
	int lineno = 0;

	/* Some editors start UTF-8 files with a byte order mark. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t l = end - pos;

		lineno++;
		if (l > 0 && buf[end - 1] == '\r')
			l--;
		/* Overlong lines are reported without being copied. */
		size_t keep = l > LINE_MAX_BYTES ? 160 : l;
		char *line = malloc(keep + 1);
		if (!line) {
			perr(p, lineno, NULL, "out of memory");
			return -ENOMEM;
		}
		memcpy(line, buf + pos, keep);
		line[keep] = '\0';
		/* An embedded NUL hides the rest of the line from string
		 * functions: report it, and the UTF-8 check sees it. */
		parse_line(p, lineno, line, l > LINE_MAX_BYTES ? l : keep);
		free(line);
		pos = end + 1;
	}
	return p->errors ? -EINVAL : 0;
}

/* ---- load, derive, check ---- */

int wt_config_defaults(struct wt_config *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NSETTINGS; i++) {
		int rc = set_value(c, &settings[i], settings[i].def, err, sizeof(err));
		if (rc == -ENOMEM)
			return rc;
		/* A default that does not parse is a programmer bug; the unit
		 * test over the table catches it before it ships. */
		if (rc < 0)
			wt_error("config: default of %s: %s", settings[i].name, err);
	}
	return 0;
}

void wt_config_free(struct wt_config *c)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].type == WT_ST_STRING) {
			char **f = field(c, &settings[i]);
			free(*f);
			*f = NULL;
		}
	free(c->file);
	c->file = NULL;
}

int wt_config_copy(struct wt_config *dst, const struct wt_config *src)
{
	int rc = 0;

	*dst = *src;
	dst->file = NULL;
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].type == WT_ST_STRING)
			*(char **)field(dst, &settings[i]) = NULL;
	if (src->file && !(dst->file = strdup(src->file)))
		rc = -ENOMEM;
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (settings[i].type != WT_ST_STRING)
			continue;
		const char *v = *(char *const *)cfield(src, &settings[i]);
		if (v && !(*(char **)field(dst, &settings[i]) = strdup(v)))
			rc = -ENOMEM;
	}
	return rc;
}

static int line_of(const struct wt_config *c, const char *key)
{
	const struct wt_setting *s = wt_config_find(key);
	return s ? c->line[setting_index(s)] : 0;
}

/* Reports a cross-field problem on the later of the two lines involved, so
 * the operator is sent to the setting they most likely just changed. */
static void cross_err(struct wt_config *c, struct wt_config_diags *d, int *errors,
		      const char *key_a, const char *key_b, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void cross_err(struct wt_config *c, struct wt_config_diags *d, int *errors,
		      const char *key_a, const char *key_b, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int la = line_of(c, key_a), lb = line_of(c, key_b);
	const char *key = lb > la ? key_b : key_a;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_add(d, c->file, la > lb ? la : lb, key, "%s", msg);
	(*errors)++;
}

int wt_config_finish(struct wt_config *c, struct wt_config_diags *d)
{
	int errors = 0;
	char a[32], b[32];

	if (!c->state_dir || !*c->state_dir) {
		diag_add(d, c->file, line_of(c, "state_dir"), "state_dir", "must not be empty");
		errors++;
	}
	if (c->storage_spool_dir && !*c->storage_spool_dir && c->state_dir && *c->state_dir) {
		size_t n = strlen(c->state_dir) + sizeof("/spool");
		char *p = malloc(n);
		if (!p)
			return -ENOMEM;
		snprintf(p, n, "%s%s", c->state_dir,
			 c->state_dir[strlen(c->state_dir) - 1] == '/' ? "spool" : "/spool");
		free(c->storage_spool_dir);
		c->storage_spool_dir = p;
	}

	static const char *const retentions[] = {"retention.raw", "retention.hourly",
						 "retention.daily"};
	const int64_t ret_ms[] = {c->retention_raw_ms, c->retention_hourly_ms,
				  c->retention_daily_ms};
	for (int i = 0; i < 3; i++) {
		if (ret_ms[i] % MS_DAY) {
			diag_add(d, c->file, line_of(c, retentions[i]), retentions[i],
				 "must be a whole number of days (data is kept in daily "
				 "partitions)");
			errors++;
		}
	}
	if (c->retention_raw_ms > c->retention_hourly_ms) {
		wt_format_duration(c->retention_raw_ms, a, sizeof(a));
		wt_format_duration(c->retention_hourly_ms, b, sizeof(b));
		cross_err(c, d, &errors, "retention.raw", "retention.hourly",
			  "retention.raw (%s) is longer than retention.hourly (%s): hours "
			  "would vanish while their 5-second data is still kept",
			  a, b);
	}
	if (c->retention_hourly_ms > c->retention_daily_ms) {
		wt_format_duration(c->retention_hourly_ms, a, sizeof(a));
		wt_format_duration(c->retention_daily_ms, b, sizeof(b));
		cross_err(c, d, &errors, "retention.hourly", "retention.daily",
			  "retention.hourly (%s) is longer than retention.daily (%s)", a, b);
	}
	if (c->storage_flush_interval_ms % (5 * MS_SEC)) {
		diag_add(d, c->file, line_of(c, "storage.flush_interval"), "storage.flush_interval",
			 "must be a multiple of 5s (it holds whole 5-second buckets)");
		errors++;
	}
	/* storage.flush_interval <= retention.raw holds by their bounds (60s
	 * at most against 1d at least): no check needed while that is so. */
	if (c->poll_timeout_ms >= c->poll_interval_ms) {
		wt_format_duration(c->poll_timeout_ms, a, sizeof(a));
		wt_format_duration(c->poll_interval_ms, b, sizeof(b));
		cross_err(c, d, &errors, "poll.timeout", "poll.interval",
			  "poll.timeout (%s) must be shorter than poll.interval (%s)", a, b);
	}
	if (c->storage_spool_dir && c->state_dir && *c->state_dir &&
	    line_of(c, "storage.spool_dir") && strcmp(c->storage_spool_dir, c->state_dir) == 0) {
		diag_add(d, c->file, line_of(c, "storage.spool_dir"), "storage.spool_dir",
			 "must be a directory of its own, not state_dir itself");
		errors++;
	}
	return errors ? -EINVAL : 0;
}

int wt_config_load_buffer(struct wt_config *c, const char *name, const char *buf, size_t len,
			  struct wt_config_diags *d)
{
	struct parse_ctx p = {.c = c, .d = d, .file = name};
	int rc;

	rc = wt_config_defaults(c);
	if (rc < 0)
		return rc;
	c->file = name ? strdup(name) : NULL;
	rc = parse_buffer(&p, buf, len);
	if (rc == -ENOMEM)
		return rc;
	int frc = wt_config_finish(c, d);
	if (frc == -ENOMEM)
		return frc;
	return (rc || frc) ? -EINVAL : 0;
}

int wt_config_load(struct wt_config *c, const char *path, struct wt_config_diags *d)
{
	struct stat st;
	char *buf;
	int fd, rc;
	size_t got = 0;

	memset(c, 0, sizeof(*c));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		diag_add(d, path, 0, NULL, "cannot open: %s", strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		diag_add(d, path, 0, NULL, "not a regular file");
		return -EINVAL;
	}
	if (st.st_size > FILE_MAX_BYTES) {
		close(fd);
		diag_add(d, path, 0, NULL, "file is larger than %d bytes: not a configuration",
			 FILE_MAX_BYTES);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			free(buf);
			close(fd);
			diag_add(d, path, 0, NULL, "cannot read: %s", strerror(-rc));
			return rc;
		}
		got += (size_t)n;
	}
	close(fd);
	rc = wt_config_load_buffer(c, path, buf, got, d);
	free(buf);
	return rc;
}

/* ---- formatting and dumping ---- */

/* Masks the password of a libpq URI (postgresql://user:PASS@host/db?...
 * password=PASS) or keyword conninfo (password=PASS / password='P W'). */
static void mask_conninfo(const char *in, char *out, size_t len)
{
	size_t o = 0;
	const char *s = in;
	const char *scheme = strstr(in, "://");

#define PUT(ch)                          \
	do {                             \
		if (o + 1 < len)         \
			out[o++] = (ch); \
	} while (0)
#define PUTS(str)                                       \
	do {                                            \
		for (const char *t_ = (str); *t_; t_++) \
			PUT(*t_);                       \
	} while (0)

	if (scheme) {
		const char *auth = scheme + 3;
		const char *auth_end = auth + strcspn(auth, "/?");
		const char *at = NULL;
		for (const char *t = auth; t < auth_end; t++)
			if (*t == '@')
				at = t;
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		while (s < auth_end) {
			if (colon && s == colon + 1) {
				PUTS("****");
				s = at;
			}
			PUT(*s++);
		}
		/* Query parameters: password=... up to '&'. */
		while (*s) {
			if ((s[-1] == '?' || s[-1] == '&') && strncmp(s, "password=", 9) == 0) {
				PUTS("password=****");
				s += 9;
				while (*s && *s != '&')
					s++;
				continue;
			}
			PUT(*s++);
		}
	} else {
		while (*s) {
			if ((s == in || s[-1] == ' ' || s[-1] == '\t') &&
			    strncmp(s, "password", 8) == 0) {
				const char *t = s + 8;
				while (*t == ' ' || *t == '\t')
					t++;
				if (*t == '=') {
					t++;
					while (*t == ' ' || *t == '\t')
						t++;
					if (*t == '\'') {
						t++;
						while (*t && *t != '\'') {
							if (*t == '\\' && t[1])
								t++;
							t++;
						}
						if (*t)
							t++;
					} else {
						while (*t && *t != ' ' && *t != '\t')
							t++;
					}
					PUTS("password=****");
					s = t;
					continue;
				}
			}
			PUT(*s++);
		}
	}
	out[o < len ? o : len - 1] = '\0';
#undef PUT
#undef PUTS
}

/* Double-quotes a string, escaping what the parser unescapes. */
static size_t quote(const char *v, char *buf, size_t len)
{
	size_t o = 0;

	for (const char *s = v; *s; s++) {
		if (*s == '"' || *s == '\\')
			o++;
		else if (*s == '\n' || *s == '\t')
			o++;
		o++;
	}
	if (len >= o + 3) {
		size_t i = 0;
		buf[i++] = '"';
		for (const char *s = v; *s; s++) {
			if (*s == '"' || *s == '\\') {
				buf[i++] = '\\';
				buf[i++] = *s;
			} else if (*s == '\n') {
				buf[i++] = '\\';
				buf[i++] = 'n';
			} else if (*s == '\t') {
				buf[i++] = '\\';
				buf[i++] = 't';
			} else {
				buf[i++] = *s;
			}
		}
		buf[i++] = '"';
		buf[i] = '\0';
	} else if (len) {
		buf[0] = '\0';
	}
	return o + 2;
}

size_t wt_config_format(const struct wt_config *c, const struct wt_setting *s, bool mask, char *buf,
			size_t len)
{
	const void *f = cfield(c, s);
	char tmp[64];

	switch (s->type) {
	case WT_ST_STRING: {
		const char *v = *(char *const *)f ? *(char *const *)f : "";
		if (mask && (s->flags & WT_SF_SECRET) && *v)
			return quote("********", buf, len);
		if (mask && (s->flags & WT_SF_CONNINFO) && *v) {
			size_t n = strlen(v) + 16;
			char *m = malloc(n);
			if (!m)
				return quote("********", buf, len);
			mask_conninfo(v, m, n);
			size_t r = quote(m, buf, len);
			free(m);
			return r;
		}
		return quote(v, buf, len);
	}
	case WT_ST_INT:
		return (size_t)snprintf(buf, len, "%d", *(const int *)f);
	case WT_ST_BOOL:
		return (size_t)snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
	case WT_ST_DURATION:
		wt_format_duration(*(const int64_t *)f, tmp, sizeof(tmp));
		return (size_t)snprintf(buf, len, "%s", tmp);
	case WT_ST_SIZE:
		wt_format_size(*(const uint64_t *)f, tmp, sizeof(tmp));
		return (size_t)snprintf(buf, len, "%s", tmp);
	case WT_ST_ENUM: {
		int i = *(const int *)f;
		int n = 0;
		while (s->values[n])
			n++;
		return (size_t)snprintf(buf, len, "%s", i >= 0 && i < n ? s->values[i] : "?");
	}
	}
	return (size_t)snprintf(buf, len, "?");
}

/* Formats into a malloc'd string (values can be long paths or URLs). */
static char *format_alloc(const struct wt_config *c, const struct wt_setting *s, bool mask)
{
	char small[128];
	size_t n = wt_config_format(c, s, mask, small, sizeof(small));
	char *r = malloc(n + 1);

	if (!r)
		return NULL;
	if (n < sizeof(small))
		memcpy(r, small, n + 1);
	else
		wt_config_format(c, s, mask, r, n + 1);
	return r;
}

void wt_config_dump(const struct wt_config *c, FILE *f)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		char *v = format_alloc(c, &settings[i], true);
		fprintf(f, "%s = %s\n", settings[i].name, v ? v : "(out of memory)");
		free(v);
	}
}

int wt_config_apply(struct wt_config *cur, const struct wt_config *next, wt_config_change_fn fn,
		    void *ctx)
{
	int restart = 0;

	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct wt_setting *s = &settings[i];
		char *a = format_alloc(cur, s, false);
		char *b = format_alloc(next, s, false);
		if (!a || !b) {
			free(a);
			free(b);
			return -ENOMEM;
		}
		bool same = strcmp(a, b) == 0;
		free(a);
		free(b);
		if (same)
			continue;
		bool applied = s->flags & WT_SF_RELOAD;
		char *old_masked = format_alloc(cur, s, true);
		if (applied) {
			if (s->type == WT_ST_STRING) {
				const char *nv = *(char *const *)cfield(next, s);
				char *dup = strdup(nv ? nv : "");
				if (!dup) {
					free(old_masked);
					return -ENOMEM;
				}
				free(*(char **)field(cur, s));
				*(char **)field(cur, s) = dup;
			} else {
				size_t sz = s->type == WT_ST_BOOL       ? sizeof(bool)
					    : s->type == WT_ST_DURATION ? sizeof(int64_t)
					    : s->type == WT_ST_SIZE     ? sizeof(uint64_t)
									: sizeof(int);
				memcpy(field(cur, s), cfield(next, s), sz);
			}
			cur->line[i] = next->line[i];
		} else {
			restart++;
		}
		char *new_masked = format_alloc(next, s, true);
		if (fn)
			fn(ctx, s, applied, old_masked ? old_masked : "?",
			   new_masked ? new_masked : "?");
		free(old_masked);
		free(new_masked);
	}
	return restart;
}
