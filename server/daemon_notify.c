/* Notifications wired into the daemon (daemon_notify.h). */
#include "daemon_notify.h"

#include "clock.h"
#include "log.h"
#include "model.h"
#include "rules/engine.h"
#include "rules/notify.h"
#include "rules/notify_opts.h"
#include "workers.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Names are re-read in full this often even when nothing seems to have
 * changed (entity renames leave no cheap trace). */
#define NAMES_FULL_MS (5 * 60 * 1000)

/* The options and everything their pointers point into. */
struct built {
	struct wt_notify_options o;
	char *recipients_buf; /* wt_notify_parse_recipients cuts it up */
	json_t *hooks_json, *traps_json;
	const char ***hook_argv; /* per hook, NULL-terminated, strings in hooks_json */
};

/* What describe answers from, swapped whole on the loop. */
struct names {
	struct ndev {
		int64_t id;
		char *name, *type;
	} * dev;
	size_t ndev;
	struct nent {
		int64_t id;
		char *name;
	} * ent;
	size_t nent;
	int16_t *metric; /* by series id; -1 unknown */
	size_t nseries;
};

struct wt_dnotify {
	struct event_base *base;
	struct wt_workers *workers;
	struct wt_rules *engine;
	struct wt_notify *n;
	struct wt_config cfg; /* our copy: the options point into it */
	struct built b;
	char *conninfo;
	struct names *names;
	struct event *ev_names;
	int64_t names_every_ms, last_full_ms;
	char sig[160]; /* what the last read saw (see names_work) */
	PGconn *pg;    /* the names jobs' connection; one job at a time */
	bool busy;
	bool want_full; /* describe missed a name: read everything at the next tick */
};

static void seterr(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static const char *nz(const char *s)
{
	return s && *s ? s : NULL;
}

/* ---- business days and hours ---- */

static int day_index(const char *s, size_t len)
{
	static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	for (int i = 0; i < 7; i++)
		if (len == 3 && strncasecmp(s, days[i], 3) == 0)
			return i;
	return -1;
}

/* "mon-fri", "mon,wed,fri", "sat-mon" (wraps), "mon-fri,sun" -> bit 0 Sunday. */
static int parse_days(const char *s, unsigned *out)
{
	unsigned bits = 0;
	while (*s) {
		while (*s == ' ' || *s == ',')
			s++;
		if (!*s)
			break;
		size_t a = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
		int from = day_index(s, a);
		if (from < 0)
			return -EINVAL;
		s += a;
		int to = from;
		if (*s == '-') {
			s++;
			size_t b = strspn(s,
					  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
			to = day_index(s, b);
			if (to < 0)
				return -EINVAL;
			s += b;
		}
		for (int d = from;; d = (d + 1) % 7) {
			bits |= 1u << d;
			if (d == to)
				break;
		}
		while (*s == ' ')
			s++;
		if (*s && *s != ',')
			return -EINVAL;
	}
	if (!bits)
		return -EINVAL;
	*out = bits;
	return 0;
}

static int parse_hhmm(const char **p, int *min)
{
	const char *s = *p;
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -EINVAL;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m))
		return -EINVAL;
	*min = h * 60 + m;
	*p = s + 5;
	return 0;
}

/* "08:00-18:00" (end may be 24:00, after the start). */
static int parse_hours(const char *s, int *start, int *end)
{
	if (parse_hhmm(&s, start) < 0 || *s++ != '-' || parse_hhmm(&s, end) < 0 || *s ||
	    *end <= *start)
		return -EINVAL;
	return 0;
}

/* ---- the JSON files ---- */

static json_t *load_json_array(const char *path, const char *key, bool secrets, char *err,
			       size_t errlen)
{
	json_error_t je;
	struct stat st;

	if (stat(path, &st) < 0) {
		seterr(err, errlen, "%s: %s: %s", key, path, strerror(errno));
		return NULL;
	}
	/* Trap credentials live there: say so when others can read them (as
	 * ssh does), without refusing a file a package manager may own. */
	if (secrets && (st.st_mode & 0077))
		wt_warn("%s: %s is readable by group or others; it holds SNMP secrets (chmod 600)",
			key, path);
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		seterr(err, errlen, "%s:%d: %s: %s", path, je.line, key, je.text);
		return NULL;
	}
	if (!json_is_array(j)) {
		seterr(err, errlen, "%s:1: %s: expected a JSON array of objects", path, key);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Rejects keys outside allowed (NULL-terminated). */
static int check_keys(json_t *o, const char *const *allowed, const char *path, const char *what,
		      char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		bool ok = false;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(k, allowed[i]) == 0;
		if (!ok) {
			seterr(err, errlen, "%s: %s: unknown key \"%s\"", path, what, k);
			return -EINVAL;
		}
	}
	return 0;
}

/* An optional string member: 0 (and *out NULL when absent) or -EINVAL. */
static int opt_str(json_t *o, const char *key, const char **out, const char *path, const char *what,
		   char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		seterr(err, errlen, "%s: %s: \"%s\" must be a string", path, what, key);
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

static int opt_sev(json_t *o, enum wt_nsev *out, enum wt_nsev def, const char *path,
		   const char *what, char *err, size_t errlen)
{
	const char *s;
	int rc = opt_str(o, "min_severity", &s, path, what, err, errlen);
	if (rc < 0)
		return rc;
	*out = def;
	if (!s)
		return 0;
	int v = wt_nsev_by_name(s);
	if (v < 0) {
		seterr(err, errlen,
		       "%s: %s: min_severity \"%s\" is not info, log, warning or error", path, what,
		       s);
		return -EINVAL;
	}
	*out = (enum wt_nsev)v;
	return 0;
}

static int load_hooks(struct built *b, const char *path, char *err, size_t errlen)
{
	static const char *const keys[] = {"name",         "command", "url",
					   "min_severity", "metric",  "device_type",
					   "change",       "timeout", NULL};
	static const char *const changes[] = {"raised", "severity", "cleared",
					      "repeat", "acked",    NULL};
	json_t *a = load_json_array(path, "notify.hooks_file", false, err, errlen);
	if (!a)
		return -EINVAL;
	b->hooks_json = a;
	size_t n = json_array_size(a);
	b->o.hooks = calloc(n ? n : 1, sizeof(*b->o.hooks));
	b->hook_argv = calloc(n ? n : 1, sizeof(*b->hook_argv));
	if (!b->o.hooks || !b->hook_argv)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_array_get(a, i);
		struct wt_hook *w = &b->o.hooks[i];
		char what[160];
		snprintf(what, sizeof(what), "hook %zu", i + 1);
		if (!json_is_object(h)) {
			seterr(err, errlen, "%s: %s: expected an object", path, what);
			return -EINVAL;
		}
		if (opt_str(h, "name", &w->name, path, what, err, errlen) < 0)
			return -EINVAL;
		if (!w->name || !*w->name) {
			seterr(err, errlen, "%s: %s: \"name\" is required", path, what);
			return -EINVAL;
		}
		snprintf(what, sizeof(what), "hook \"%.100s\"", w->name);
		for (size_t k = 0; k < i; k++)
			if (strcmp(b->o.hooks[k].name, w->name) == 0) {
				seterr(err, errlen, "%s: %s: name used twice", path, what);
				return -EINVAL;
			}
		if (check_keys(h, keys, path, what, err, errlen) < 0 ||
		    opt_str(h, "url", &w->url, path, what, err, errlen) < 0 ||
		    opt_str(h, "metric", &w->metric, path, what, err, errlen) < 0 ||
		    opt_str(h, "device_type", &w->device_type, path, what, err, errlen) < 0 ||
		    opt_str(h, "change", &w->change, path, what, err, errlen) < 0 ||
		    opt_sev(h, &w->min_severity, WT_NSEV_INFO, path, what, err, errlen) < 0)
			return -EINVAL;
		if (w->metric && wt_metric_by_name(w->metric) < 0) {
			seterr(err, errlen, "%s: %s: metric \"%s\" is not a wattrack metric", path,
			       what, w->metric);
			return -EINVAL;
		}
		if (w->change) {
			bool ok = false;
			for (size_t k = 0; changes[k] && !ok; k++)
				ok = strcmp(w->change, changes[k]) == 0;
			if (!ok) {
				seterr(err, errlen,
				       "%s: %s: change \"%s\" is not raised, severity, cleared, repeat "
				       "or acked",
				       path, what, w->change);
				return -EINVAL;
			}
		}
		json_t *cmd = json_object_get(h, "command");
		if ((cmd != NULL) == (w->url != NULL)) {
			seterr(err, errlen, "%s: %s: give exactly one of \"command\" and \"url\"",
			       path, what);
			return -EINVAL;
		}
		if (w->url && strncmp(w->url, "http://", 7) != 0 &&
		    strncmp(w->url, "https://", 8) != 0) {
			seterr(err, errlen, "%s: %s: url must start with http:// or https://", path,
			       what);
			return -EINVAL;
		}
		if (cmd) {
			size_t na = json_is_array(cmd) ? json_array_size(cmd) : 0;
			if (!na) {
				seterr(err, errlen,
				       "%s: %s: \"command\" must be a non-empty array of strings "
				       "(argv; no shell)",
				       path, what);
				return -EINVAL;
			}
			const char **av = calloc(na + 1, sizeof(*av));
			if (!av)
				return -ENOMEM;
			b->hook_argv[i] = av;
			for (size_t k = 0; k < na; k++) {
				json_t *s = json_array_get(cmd, k);
				if (!json_is_string(s)) {
					seterr(err, errlen, "%s: %s: command[%zu] is not a string",
					       path, what, k);
					return -EINVAL;
				}
				av[k] = json_string_value(s);
			}
			if (av[0][0] != '/') {
				seterr(err, errlen, "%s: %s: command[0] must be an absolute path",
				       path, what);
				return -EINVAL;
			}
			w->argv = av;
		}
		w->timeout_s = 30;
		json_t *t = json_object_get(h, "timeout");
		if (t) {
			int64_t ms = -1;
			if (json_is_integer(t))
				ms = json_integer_value(t) * 1000;
			else if (!json_is_string(t) ||
				 wt_parse_duration(json_string_value(t), &ms) < 0)
				ms = -1;
			if (ms < 1000 || ms > 3600 * 1000) {
				seterr(err, errlen,
				       "%s: %s: timeout must be 1s..1h (\"60s\" or seconds)", path,
				       what);
				return -EINVAL;
			}
			w->timeout_s = (int)(ms / 1000);
		}
	}
	b->o.nhooks = n;
	return 0;
}

static int load_traps(struct built *b, const char *path, char *err, size_t errlen)
{
	static const char *const keys[] = {"host",      "port",      "version", "community", "user",
					   "auth_pass", "priv_pass", "inform",  NULL};
	json_t *a = load_json_array(path, "notify.traps_file", true, err, errlen);
	if (!a)
		return -EINVAL;
	b->traps_json = a;
	size_t n = json_array_size(a);
	b->o.traps.receivers = calloc(n ? n : 1, sizeof(*b->o.traps.receivers));
	if (!b->o.traps.receivers)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(a, i);
		struct wt_trap_receiver *w = &b->o.traps.receivers[i];
		char what[64];
		snprintf(what, sizeof(what), "receiver %zu", i + 1);
		if (!json_is_object(r)) {
			seterr(err, errlen, "%s: %s: expected an object", path, what);
			return -EINVAL;
		}
		if (check_keys(r, keys, path, what, err, errlen) < 0 ||
		    opt_str(r, "host", &w->host, path, what, err, errlen) < 0 ||
		    opt_str(r, "community", &w->community, path, what, err, errlen) < 0 ||
		    opt_str(r, "user", &w->user, path, what, err, errlen) < 0 ||
		    opt_str(r, "auth_pass", &w->auth_pass, path, what, err, errlen) < 0 ||
		    opt_str(r, "priv_pass", &w->priv_pass, path, what, err, errlen) < 0)
			return -EINVAL;
		if (!w->host || !*w->host) {
			seterr(err, errlen, "%s: %s: \"host\" is required", path, what);
			return -EINVAL;
		}
		json_t *p = json_object_get(r, "port");
		w->port = 162;
		if (p) {
			if (!json_is_integer(p) || json_integer_value(p) < 1 ||
			    json_integer_value(p) > 65535) {
				seterr(err, errlen, "%s: %s: port must be 1..65535", path, what);
				return -EINVAL;
			}
			w->port = (int)json_integer_value(p);
		}
		json_t *v = json_object_get(r, "version");
		w->version = 2;
		if (v) {
			if (!json_is_integer(v) ||
			    (json_integer_value(v) != 2 && json_integer_value(v) != 3)) {
				seterr(err, errlen, "%s: %s: version must be 2 (v2c) or 3", path,
				       what);
				return -EINVAL;
			}
			w->version = (int)json_integer_value(v);
		}
		json_t *inf = json_object_get(r, "inform");
		if (inf && !json_is_boolean(inf)) {
			seterr(err, errlen, "%s: %s: inform must be true or false", path, what);
			return -EINVAL;
		}
		w->inform = inf && json_is_true(inf);
		if (w->version == 2 && (!w->community || !*w->community)) {
			seterr(err, errlen, "%s: %s: v2c needs a community", path, what);
			return -EINVAL;
		}
		if (w->version == 3 && (!w->user || !*w->user || !w->auth_pass)) {
			seterr(err, errlen, "%s: %s: v3 needs a user and an auth_pass", path, what);
			return -EINVAL;
		}
		/* net-snmp refuses USM pass phrases under 8 characters (RFC 3414). */
		if (w->version == 3 &&
		    (strlen(w->auth_pass) < 8 || (w->priv_pass && strlen(w->priv_pass) < 8))) {
			seterr(err, errlen, "%s: %s: pass phrases need at least 8 characters", path,
			       what);
			return -EINVAL;
		}
	}
	b->o.traps.nreceivers = n;
	return 0;
}

/* ---- settings -> options ---- */

static void built_free(struct built *b)
{
	if (b->hook_argv)
		for (size_t i = 0; i < json_array_size(b->hooks_json); i++)
			free(b->hook_argv[i]);
	free(b->hook_argv);
	free(b->o.hooks);
	free(b->o.traps.receivers);
	free(b->o.mail.recipients);
	if (b->recipients_buf)
		explicit_bzero(b->recipients_buf, strlen(b->recipients_buf));
	free(b->recipients_buf);
	json_decref(b->hooks_json);
	json_decref(b->traps_json);
	memset(b, 0, sizeof(*b));
}

/* Only the mail part (also for a test mail from unsaved settings). */
static int build_mail(struct built *b, const struct wt_config *c, char *err, size_t errlen)
{
	struct wt_mail_options *m = &b->o.mail;
	m->server = nz(c->notify_mail_server);
	m->port = c->notify_mail_port;
	m->tls = (enum wt_mail_tls)c->notify_mail_tls;
	m->insecure = !c->notify_mail_tls_verify;
	m->cafile = nz(c->notify_mail_cafile);
	m->user = nz(c->notify_mail_user);
	m->password = m->user ? c->notify_mail_password : NULL;
	m->sender = nz(c->notify_mail_sender);
	m->subject = c->notify_mail_subject;
	m->text_before = nz(c->notify_mail_text_before);
	m->text_after = nz(c->notify_mail_text_after);
	m->min_severity = (enum wt_nsev)c->notify_mail_min_severity;
	m->immediate_severity = (enum wt_nsev)c->notify_mail_immediate_severity;
	m->holdoff_s = (int)(c->notify_mail_holdoff_ms / 1000);
	m->timezone = nz(c->notify_mail_timezone);
	m->report_hour = c->notify_mail_report_hour;
	m->report_wday = c->notify_mail_report_weekday;
	m->html = c->notify_mail_html;

	int64_t d = c->notify_mail_delay_ms;
	if (d % 60000 ||
	    (d != 60000 && d != 300000 && d != 900000 && d != 1800000 && d != 3600000)) {
		seterr(err, errlen, "notify.mail.delay: must be 1m, 5m, 15m, 30m or 60m");
		return -EINVAL;
	}
	m->delay_min = (int)(d / 60000);
	if (parse_days(c->notify_mail_business_days, &m->business_days) < 0) {
		seterr(err, errlen,
		       "notify.mail.business_days: \"%s\" is not like mon-fri or mon,wed,fri",
		       c->notify_mail_business_days);
		return -EINVAL;
	}
	if (parse_hours(c->notify_mail_business_hours, &m->business_start_min,
			&m->business_end_min) < 0) {
		seterr(err, errlen, "notify.mail.business_hours: \"%s\" is not like 08:00-18:00",
		       c->notify_mail_business_hours);
		return -EINVAL;
	}
	if (m->immediate_severity < m->min_severity)
		m->immediate_severity = m->min_severity;
	if (c->notify_mail_recipients && *c->notify_mail_recipients) {
		b->recipients_buf = strdup(c->notify_mail_recipients);
		if (!b->recipients_buf)
			return -ENOMEM;
		if (wt_notify_parse_recipients(b->recipients_buf, &m->recipients, &m->nrecipients) <
		    0) {
			seterr(err, errlen,
			       "notify.mail.recipients: a schedule is not always, business_hours, "
			       "after_hours, daily or weekly");
			return -EINVAL;
		}
		for (size_t i = 0; i < m->nrecipients; i++) {
			const char *a = m->recipients[i].address;
			if (!*a || !strchr(a, '@') || strpbrk(a, " \t\r\n<>\"")) {
				seterr(err, errlen,
				       "notify.mail.recipients: recipient %zu \"%.100s\" is not an "
				       "e-mail address",
				       i + 1, a);
				return -EINVAL;
			}
		}
	}
	if (m->server) {
		if (!m->sender) {
			seterr(err, errlen,
			       "notify.mail.sender: required when notify.mail.server is set");
			return -EINVAL;
		}
		if (!strchr(m->sender, '@') || strpbrk(m->sender, " \t\r\n<>\"")) {
			seterr(err, errlen,
			       "notify.mail.sender: \"%.100s\" is not an e-mail address",
			       m->sender);
			return -EINVAL;
		}
		if (m->user && !*c->notify_mail_password)
			wt_warn("notify.mail.user is set but notify.mail.password is empty");
	}
	return 0;
}

static int build(struct built *b, const struct wt_config *c, const char *conninfo, char *err,
		 size_t errlen)
{
	int rc;

	memset(b, 0, sizeof(*b));
	struct wt_notify_options *o = &b->o;
	o->conninfo = conninfo;
	o->queue_max = (size_t)c->notify_queue_max;
	o->max_attempts = c->notify_max_attempts;
	o->retry_base_s = (int)(c->notify_retry_base_ms / 1000);
	o->retry_max_s = (int)(c->notify_retry_max_ms / 1000);
	o->retention_days = c->notify_outbox_retention_days;
	if (o->retention_days == 0) {
		seterr(err, errlen,
		       "notify.outbox_retention_days: 0 would delete every row at once; "
		       "use -1 (forever) or a number of days");
		return -EINVAL;
	}
	if (o->retry_max_s < o->retry_base_s) {
		seterr(err, errlen, "notify.retry_max: shorter than notify.retry_base");
		return -EINVAL;
	}
	if ((rc = build_mail(b, c, err, errlen)) < 0)
		return rc;

	struct wt_syslog_options *s = &o->syslog;
	s->server = nz(c->notify_syslog_server);
	s->port = c->notify_syslog_port;
	s->proto = (enum wt_syslog_proto)c->notify_syslog_protocol;
	s->facility = c->notify_syslog_facility;
	s->min_severity = (enum wt_nsev)c->notify_syslog_min_severity;
	s->cafile = nz(c->notify_syslog_cafile);
	s->insecure = !c->notify_syslog_tls_verify;

	o->traps.min_severity = (enum wt_nsev)c->notify_traps_min_severity;
	o->traps.engine_id_hex = nz(c->notify_traps_engine_id);
	if (o->traps.engine_id_hex) {
		const char *h = o->traps.engine_id_hex;
		if (h[0] == '0' && (h[1] == 'x' || h[1] == 'X'))
			h += 2;
		size_t n = strlen(h);
		if (n < 10 || n > 64 || n % 2 || strspn(h, "0123456789abcdefABCDEF") != n) {
			seterr(err, errlen,
			       "notify.traps.engine_id: expected 10 to 64 hex digits (5..32 bytes)");
			return -EINVAL;
		}
	}
	if (nz(c->notify_traps_file) && (rc = load_traps(b, c->notify_traps_file, err, errlen)) < 0)
		return rc;
	if (nz(c->notify_hooks_file) && (rc = load_hooks(b, c->notify_hooks_file, err, errlen)) < 0)
		return rc;
	return 0;
}

int wt_dnotify_check(const struct wt_config *cfg, char *err, size_t errlen)
{
	struct built b;
	int rc = build(&b, cfg, "", err, errlen);
	built_free(&b);
	return rc;
}

/* ---- names ---- */

static void names_free(struct names *nm)
{
	if (!nm)
		return;
	for (size_t i = 0; i < nm->ndev; i++) {
		free(nm->dev[i].name);
		free(nm->dev[i].type);
	}
	for (size_t i = 0; i < nm->nent; i++)
		free(nm->ent[i].name);
	free(nm->dev);
	free(nm->ent);
	free(nm->metric);
	free(nm);
}

static PGresult *query(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		wt_error("notify: reading names: %s", PQerrorMessage(pg));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* Rows come ordered by id, so lookups are binary searches. */
static int names_read(PGconn *pg, struct names **out)
{
	struct names *nm = calloc(1, sizeof(*nm));
	PGresult *rd = NULL, *re = NULL, *rs = NULL;
	int rc = -ENOMEM;

	if (!nm)
		return -ENOMEM;
	rd = query(pg, "SELECT id, name, coalesce(info->>'type', '') FROM devices ORDER BY id");
	re = rd ? query(pg, "SELECT id, name FROM entities ORDER BY id") : NULL;
	rs = re ? query(pg, "SELECT id, metric FROM series ORDER BY id") : NULL;
	if (!rs) {
		rc = -EIO;
		goto out;
	}
	int nd = PQntuples(rd), ne = PQntuples(re), ns = PQntuples(rs);
	nm->dev = calloc((size_t)nd + 1, sizeof(*nm->dev));
	nm->ent = calloc((size_t)ne + 1, sizeof(*nm->ent));
	long maxs = ns ? strtol(PQgetvalue(rs, ns - 1, 0), NULL, 10) : 0;
	if (maxs < 0 || maxs > INT32_MAX - 1)
		maxs = 0;
	nm->nseries = (size_t)maxs + 1;
	nm->metric = malloc(nm->nseries * sizeof(*nm->metric));
	if (!nm->dev || !nm->ent || !nm->metric)
		goto out;
	for (int i = 0; i < nd; i++, nm->ndev++) {
		struct ndev *d = &nm->dev[i];
		d->id = strtoll(PQgetvalue(rd, i, 0), NULL, 10);
		d->name = strdup(PQgetvalue(rd, i, 1));
		d->type = strdup(PQgetvalue(rd, i, 2));
		if (!d->name || !d->type) {
			nm->ndev++;
			goto out;
		}
	}
	for (int i = 0; i < ne; i++, nm->nent++) {
		nm->ent[i].id = strtoll(PQgetvalue(re, i, 0), NULL, 10);
		if (!(nm->ent[i].name = strdup(PQgetvalue(re, i, 1))))
			goto out;
	}
	for (size_t i = 0; i < nm->nseries; i++)
		nm->metric[i] = -1;
	for (int i = 0; i < ns; i++) {
		long id = strtol(PQgetvalue(rs, i, 0), NULL, 10);
		long m = strtol(PQgetvalue(rs, i, 1), NULL, 10);
		if (id >= 0 && (size_t)id < nm->nseries && m >= 0 && m < WT_M__COUNT)
			nm->metric[id] = (int16_t)m;
	}
	rc = 0;
out:
	PQclear(rd);
	PQclear(re);
	PQclear(rs);
	if (rc < 0) {
		names_free(nm);
		return rc;
	}
	*out = nm;
	return 0;
}

struct names_job {
	struct wt_dnotify *d;
	bool full;
	char sig[160];
	struct names *nm;
};

/* A cheap signature of the inventory, so an unchanged fleet is not re-read
 * every rescan: newest series and entity, device count and last edit. */
static bool read_sig(PGconn *pg, char *sig, size_t len)
{
	PGresult *r = query(pg, "SELECT (SELECT coalesce(max(id), 0) FROM series) || '/' || "
				"(SELECT coalesce(max(id), 0) FROM entities) || '/' || "
				"(SELECT count(*) FROM devices) || '/' || "
				"(SELECT coalesce(max(updated_at)::text, '') FROM devices)");
	if (!r)
		return false;
	snprintf(sig, len, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return true;
}

static void names_work(void *arg)
{
	struct names_job *j = arg;
	struct wt_dnotify *d = j->d;

	if (!d->pg || PQstatus(d->pg) != CONNECTION_OK) {
		PQfinish(d->pg);
		d->pg = PQconnectdb(d->conninfo);
		if (PQstatus(d->pg) != CONNECTION_OK) {
			wt_error("notify: names: cannot connect to PostgreSQL: %s",
				 PQerrorMessage(d->pg));
			PQfinish(d->pg);
			d->pg = NULL;
			return;
		}
	}
	if (!read_sig(d->pg, j->sig, sizeof(j->sig)))
		return;
	if (!j->full &&
	    strcmp(j->sig, d->sig) == 0) /* d->sig only changes on the loop, between jobs */
		return;
	if (names_read(d->pg, &j->nm) < 0)
		j->nm = NULL;
}

static void names_done(void *arg, bool cancelled)
{
	struct names_job *j = arg;
	struct wt_dnotify *d = j->d;

	d->busy = false;
	if (!cancelled && j->nm) {
		names_free(d->names);
		d->names = j->nm;
		snprintf(d->sig, sizeof(d->sig), "%s", j->sig);
		j->nm = NULL;
		wt_debug("notify: names of %zu devices, %zu entities read", d->names->ndev,
			 d->names->nent);
	}
	names_free(j->nm);
	free(j);
}

/* One read at a time; a tick that finds one running is skipped (the next
 * tick comes soon). Only the timer calls this, so never during teardown. */
static void names_kick(struct wt_dnotify *d, bool full)
{
	if (d->busy)
		return;
	struct names_job *j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->d = d;
	j->full = full;
	if (wt_workers_submit(d->workers, names_work, names_done, j) < 0) {
		free(j); /* congested: the next tick tries again */
		return;
	}
	d->busy = true;
}

static void on_names_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct wt_dnotify *d = arg;
	int64_t now = wt_clock_now(&wt_clock_real);
	bool full = d->want_full || now - d->last_full_ms >= NAMES_FULL_MS;
	if (full && !d->busy) {
		d->last_full_ms = now;
		d->want_full = false;
	}
	names_kick(d, full);
}

static int cmp_dev(const void *k, const void *e)
{
	int64_t a = *(const int64_t *)k, b = ((const struct ndev *)e)->id;
	return a < b ? -1 : a > b;
}

static int cmp_ent(const void *k, const void *e)
{
	int64_t a = *(const int64_t *)k, b = ((const struct nent *)e)->id;
	return a < b ? -1 : a > b;
}

static void describe(void *ctx, const struct wt_alarm *a, struct wt_notify_names *out)
{
	struct wt_dnotify *d = ctx;
	const struct names *nm = d->names;
	bool miss = false;

	/* The rules engine replaces its structure on every reload and frees
	 * the old one; describe runs on the loop just before the notify module
	 * looks the alarm's place up, so handing it the current one here keeps
	 * it from ever holding a freed structure. */
	wt_notify_set_structure(d->n, wt_rules_structure(d->engine));
	if (a->series) {
		int16_t m = nm && a->series < nm->nseries ? nm->metric[a->series] : -1;
		if (m < 0) {
			miss = true;
		} else {
			const struct wt_metric_info *mi = wt_metric_info((enum wt_metric)m);
			out->metric_name = mi->name;
			out->unit = mi->unit;
		}
	}
	if (a->device_id) {
		const struct ndev *dv = nm ? bsearch(&a->device_id, nm->dev, nm->ndev,
						     sizeof(*nm->dev), cmp_dev)
					   : NULL;
		if (dv) {
			out->device_name = dv->name;
			out->device_type = *dv->type ? dv->type : NULL;
		} else {
			miss = true;
		}
	}
	if (a->entity_id) {
		const struct nent *en = nm ? bsearch(&a->entity_id, nm->ent, nm->nent,
						     sizeof(*nm->ent), cmp_ent)
					   : NULL;
		if (en)
			out->entity_name = en->name;
		else
			miss = true;
	}
	/* Something new since the last read: this message goes without the
	 * name, the next ones have it. Only the timer submits the read: alarms
	 * still arrive during teardown, after the worker pool is gone. */
	if (miss)
		d->want_full = true;
}

/* ---- life cycle ---- */

int wt_dnotify_start(struct wt_dnotify **out, const struct wt_config *cfg, const char *conninfo,
		     struct event_base *base, struct wt_workers *workers, struct wt_rules *engine,
		     char *err, size_t errlen)
{
	struct wt_dnotify *d = calloc(1, sizeof(*d));
	int rc;

	*out = NULL;
	if (!d || !(d->conninfo = strdup(conninfo))) {
		free(d);
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->base = base;
	d->workers = workers;
	d->engine = engine;
	if (wt_config_copy(&d->cfg, cfg) < 0) {
		rc = -ENOMEM;
		seterr(err, errlen, "out of memory");
		goto fail;
	}
	if ((rc = build(&d->b, &d->cfg, d->conninfo, err, errlen)) < 0)
		goto fail;
	/* The connection the names jobs keep using; here the loop is not
	 * running yet, so blocking is fine. */
	d->pg = PQconnectdb(d->conninfo);
	if (PQstatus(d->pg) != CONNECTION_OK) {
		rc = -EIO;
		seterr(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(d->pg));
		goto fail;
	}
	rc = names_read(d->pg, &d->names);
	if (rc < 0) {
		seterr(err, errlen, "cannot read device and entity names");
		goto fail;
	}
	if (!read_sig(d->pg, d->sig, sizeof(d->sig)))
		d->sig[0] = '\0';
	d->last_full_ms = wt_clock_now(&wt_clock_real);
	d->names_every_ms = cfg->devices_rescan_ms > 0 ? cfg->devices_rescan_ms : 10000;
	d->ev_names = event_new(base, -1, EV_PERSIST, on_names_timer, d);
	struct timeval tv = {.tv_sec = d->names_every_ms / 1000,
			     .tv_usec = (d->names_every_ms % 1000) * 1000};
	if (!d->ev_names || event_add(d->ev_names, &tv) < 0) {
		rc = -ENOMEM;
		seterr(err, errlen, "out of memory");
		goto fail;
	}
	d->n = wt_notify_start(&d->b.o, &wt_clock_real, wt_rules_alarms(engine));
	if (!d->n) {
		rc = -EINVAL;
		seterr(err, errlen, "the notification settings were refused (see the log above)");
		goto fail;
	}
	wt_notify_set_structure(d->n, wt_rules_structure(engine));
	wt_notify_set_describe(d->n, describe, d);
	const struct wt_mail_options *m = &d->b.o.mail;
	wt_info("notifications: e-mail %s (%zu recipients), syslog %s, %zu trap receivers, %zu "
		"hooks",
		m->server ? m->server : "off", m->nrecipients,
		d->b.o.syslog.server ? d->b.o.syslog.server : "off", d->b.o.traps.nreceivers,
		d->b.o.nhooks);
	*out = d;
	return 0;
fail:
	if (d->ev_names)
		event_free(d->ev_names);
	names_free(d->names);
	PQfinish(d->pg);
	built_free(&d->b);
	wt_config_free(&d->cfg);
	free(d->conninfo);
	free(d);
	return rc;
}

struct wt_notify *wt_dnotify_notify(struct wt_dnotify *d)
{
	return d ? d->n : NULL;
}

int wt_dnotify_test_mail(struct wt_dnotify *d, const char *to, char *err, size_t errlen)
{
	if (!d->b.o.mail.server) {
		seterr(err, errlen, "notify.mail.server is not set");
		return -EINVAL;
	}
	return wt_notify_test_mail(&d->b.o.mail, NULL, to, err, errlen);
}

int wt_dnotify_test_mail_cfg(const struct wt_config *cfg, const char *to, char *err, size_t errlen)
{
	struct built b;
	memset(&b, 0, sizeof(b));
	int rc = build_mail(&b, cfg, err, errlen);
	if (rc == 0 && !b.o.mail.server) {
		seterr(err, errlen, "notify.mail.server is not set");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = wt_notify_test_mail(&b.o.mail, NULL, to, err, errlen);
	built_free(&b);
	return rc;
}

void wt_dnotify_stop(struct wt_dnotify *d, int drain_ms)
{
	if (!d)
		return;
	/* The worker pool is gone (the contract), so no names job holds d. */
	wt_notify_stop(d->n, drain_ms);
	event_free(d->ev_names);
	PQfinish(d->pg);
	names_free(d->names);
	built_free(&d->b);
	wt_config_free(&d->cfg);
	free(d->conninfo);
	free(d);
}
