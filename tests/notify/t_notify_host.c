/* Test host for the notify layer: builds a small data-centre structure,
 * drives the real alarm table (rules/alarm.h) with a manual clock and
 * feeds its events to wt_notify. Configured by a JSON file (argv[1]),
 * driven by commands on stdin, one per line; each answers one line:
 *
 *   migrate                       apply migrations/ to the database
 *   clock MS                      set the manual clock (Unix ms)
 *   raise KEY k=v ... [msg=TEXT]  raise an alarm: dev=, elem=, sev=1|2, metric=,
 *                                 value=, thr=, kind=threshold|comm_lost
 *   severity KEY SEV VALUE        change an active alarm's severity
 *   clear KEY VALUE               clear an alarm
 *   storm N ROOM_ROW_ELEM SEV     raise N alarms on devices below a row
 *   sync [MS]                     wait (up to MS, default 60 s) until the outbox is
 *                                 written and a pass ran
 *   stats                         print counters
 *   testmail TO                   wt_notify_test_mail
 *   quit
 */
#include "alarm.h"
#include "clock.h"
#include "log.h"
#include "migrate.h"
#include "notify.h"
#include "notify_opts.h"
#include "pg.h"
#include "structure.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t now_ms;

static int atoi_ok(const char *s)
{
	return (int)strtol(s, NULL, 10);
}
static int64_t next_id = 1;

static int64_t store_next_id(void *ctx)
{
	return next_id++;
}

/* Device d sits in rack 30 + d % 10 (row 20, room 10) below 1000, in rack
 * 40 (row 21, room 11) from 1000; devices from 900 to 999 are UPSs. */
static struct wt_structure *build_structure(void)
{
	struct wt_structure *s = wt_structure_new();
	int rc = wt_structure_add(s, 1, 0, WT_EL_DC, "DC Praha", NULL, 0, 0);
	rc |= wt_structure_add(s, 10, 1, WT_EL_ROOM, "Sál 1", NULL, 0, 0);
	rc |= wt_structure_add(s, 11, 1, WT_EL_ROOM, "Hall B", NULL, 0, 0);
	rc |= wt_structure_add(s, 20, 10, WT_EL_ROW, "Row 1", NULL, 0, 0);
	rc |= wt_structure_add(s, 21, 11, WT_EL_ROW, "Row 9", NULL, 0, 0);
	for (int r = 0; r < 10; r++) {
		char name[16];
		snprintf(name, sizeof(name), "R%02d", r + 1);
		rc |= wt_structure_add(s, 30 + r, 20, WT_EL_RACK, name, NULL, 0, 0);
	}
	rc |= wt_structure_add(s, 40, 21, WT_EL_RACK, "B01", NULL, 0, 0);
	if (rc || wt_structure_index(s) < 0) {
		fprintf(stderr, "structure build failed\n");
		exit(2);
	}
	return s;
}

static int64_t rack_of(int64_t dev)
{
	return dev >= 1000 ? 40 : 30 + dev % 10;
}

#define MAX_METRICS 65536
static char *metric_of[MAX_METRICS];
static const char *raising_metric; /* the alarm being raised: describe runs inside raise */

static void describe(void *ctx, const struct wt_alarm *a, struct wt_notify_names *out)
{
	static char dev[64], ent[64];
	if (a->device_id) {
		bool ups = a->device_id >= 900 && a->device_id < 1000;
		snprintf(dev, sizeof(dev), "%s-%lld", ups ? "ups" : "pdu", (long long)a->device_id);
		out->device_name = dev;
		out->device_type = ups ? "ups" : "pdu";
	}
	if (a->entity_id) {
		snprintf(ent, sizeof(ent), "outlet %lld", (long long)a->entity_id);
		out->entity_name = ent;
	}
	size_t slot = (size_t)a->id % MAX_METRICS;
	if (!metric_of[slot] && raising_metric)
		metric_of[slot] = strdup(raising_metric);
	out->metric_name = metric_of[slot];
	if (metric_of[slot] && strcmp(metric_of[slot], "current") == 0)
		out->unit = "A";
}

static const char *js(json_t *o, const char *k, const char *def)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : def;
}

static int ji(json_t *o, const char *k, int def)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

static int parse_options(json_t *cfg, struct wt_notify_options *o, char **recip_buf)
{
	memset(o, 0, sizeof(*o));
	o->conninfo = js(cfg, "conninfo", "");
	o->hostname = js(cfg, "hostname", NULL);
	o->retry_base_s = ji(cfg, "retry_base_s", 0);
	o->retry_max_s = ji(cfg, "retry_max_s", 0);
	o->max_attempts = ji(cfg, "max_attempts", 0);
	o->poll_ms = ji(cfg, "poll_ms", 60000); /* tests drive passes with sync */
	o->retention_days = ji(cfg, "retention_days", 0);
	json_t *m = json_object_get(cfg, "mail");
	if (m) {
		struct wt_mail_options *mo = &o->mail;
		mo->server = js(m, "server", NULL);
		mo->port = ji(m, "port", 0);
		const char *tls = js(m, "tls", "starttls");
		mo->tls = strcmp(tls, "none") == 0       ? WT_MAIL_TLS_NONE
			  : strcmp(tls, "implicit") == 0 ? WT_MAIL_TLS_IMPLICIT
							 : WT_MAIL_TLS_STARTTLS;
		mo->sender = js(m, "sender", NULL);
		mo->subject = js(m, "subject", NULL);
		mo->text_before = js(m, "text_before", NULL);
		mo->text_after = js(m, "text_after", NULL);
		mo->user = js(m, "user", NULL);
		mo->cafile = js(m, "cafile", NULL);
		mo->password = js(m, "password", NULL);
		mo->min_severity = wt_nsev_by_name(js(m, "min_severity", "warning"));
		mo->immediate_severity = wt_nsev_by_name(js(m, "immediate", "error"));
		mo->delay_min = ji(m, "delay_min", 5);
		mo->holdoff_s = ji(m, "holdoff_s", 60);
		mo->timezone = js(m, "timezone", "UTC");
		mo->html = json_is_true(json_object_get(m, "html"));
		mo->business_days = (unsigned)ji(m, "business_days", 0x3e);
		mo->business_start_min = ji(m, "business_start_min", 8 * 60);
		mo->business_end_min = ji(m, "business_end_min", 18 * 60);
		*recip_buf = strdup(js(m, "recipients", ""));
		if (wt_notify_parse_recipients(*recip_buf, &mo->recipients, &mo->nrecipients) < 0)
			return -EINVAL;
	}
	json_t *s = json_object_get(cfg, "syslog");
	if (s) {
		o->syslog.server = js(s, "server", NULL);
		o->syslog.port = ji(s, "port", 0);
		const char *p = js(s, "proto", "udp");
		o->syslog.proto = strcmp(p, "tcp") == 0   ? WT_SYSLOG_TCP
				  : strcmp(p, "tls") == 0 ? WT_SYSLOG_TLS
							  : WT_SYSLOG_UDP;
		o->syslog.facility = ji(s, "facility", 16);
		o->syslog.min_severity = wt_nsev_by_name(js(s, "min_severity", "info"));
		o->syslog.cafile = js(s, "cafile", NULL);
	}
	json_t *t = json_object_get(cfg, "traps");
	if (t) {
		size_t n = json_array_size(t);
		o->traps.receivers = calloc(n + 1, sizeof(*o->traps.receivers));
		o->traps.nreceivers = n;
		o->traps.engine_id_hex = js(cfg, "engine_id", NULL);
		o->traps.min_severity = WT_NSEV_INFO;
		for (size_t i = 0; i < n; i++) {
			json_t *r = json_array_get(t, i);
			struct wt_trap_receiver *d = &o->traps.receivers[i];
			d->host = js(r, "host", "127.0.0.1");
			d->port = ji(r, "port", 162);
			d->version = ji(r, "version", 2);
			d->community = js(r, "community", NULL);
			d->user = js(r, "user", NULL);
			d->auth_pass = js(r, "auth", NULL);
			d->priv_pass = js(r, "priv", NULL);
			d->inform = json_is_true(json_object_get(r, "inform"));
		}
	}
	json_t *h = json_object_get(cfg, "hooks");
	if (h) {
		size_t n = json_array_size(h);
		o->hooks = calloc(n + 1, sizeof(*o->hooks));
		o->nhooks = n;
		for (size_t i = 0; i < n; i++) {
			json_t *r = json_array_get(h, i);
			struct wt_hook *d = &o->hooks[i];
			d->name = js(r, "name", NULL);
			d->metric = js(r, "metric", NULL);
			d->device_type = js(r, "device_type", NULL);
			d->change = js(r, "change", NULL);
			d->url = js(r, "url", NULL);
			d->min_severity = wt_nsev_by_name(js(r, "min_severity", "info"));
			d->timeout_s = ji(r, "timeout_s", 10);
			json_t *av = json_object_get(r, "argv");
			if (av) {
				size_t na = json_array_size(av);
				const char **argv = calloc(na + 1, sizeof(char *));
				for (size_t k = 0; k < na; k++)
					argv[k] = json_string_value(json_array_get(av, k));
				d->argv = argv;
			}
		}
	}
	return 0;
}

/* key=value fields of a raise command; msg= takes the rest of the line. */
static const char *field(char *line, const char *key, char *buf, size_t len)
{
	char pat[32];
	snprintf(pat, sizeof(pat), " %s=", key);
	char *p = strstr(line, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	size_t n = strcmp(key, "msg") == 0 ? strcspn(p, "\n") : strcspn(p, " \n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

#define MAX_KEYS 256
static struct {
	char key[32];
	int64_t id;
} keys[MAX_KEYS];
static size_t nkeys;

static struct wt_alarm *raise_one(struct wt_alarms *al, int64_t dev, int64_t elem, int sev,
				  const char *metric, double value, double thr, const char *msg,
				  enum wt_alarm_kind kind)
{
	struct wt_alarm t = {0};
	t.kind = kind;
	t.severity = (uint8_t)sev;
	t.thr = kind == WT_ALARM_THRESHOLD ? (int8_t)(sev == 2 ? 0 : 1) : -1;
	t.value = value;
	t.threshold = thr;
	t.device_id = dev;
	t.entity_id = dev ? 3 : 0;
	t.series = dev ? (uint32_t)dev : 0;
	t.element_id = elem ? elem : rack_of(dev);
	t.message = (char *)msg;
	t.rule_name = (char *)"test rule";
	size_t slot = (size_t)next_id % MAX_METRICS;
	free(metric_of[slot]);
	metric_of[slot] = NULL;
	raising_metric = metric;
	struct wt_alarm *a = wt_alarms_raise(al, &t);
	raising_metric = NULL;
	return a;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: t_notify_host CONFIG.json < commands\n");
		return 2;
	}
	wt_log_setup(false, "t_notify_host", WT_LOG_INFO);
	json_error_t jerr;
	json_t *cfg = json_load_file(argv[1], 0, &jerr);
	if (!cfg) {
		fprintf(stderr, "config: %s\n", jerr.text);
		return 2;
	}
	next_id = ji(cfg, "id_base", 1);
	now_ms = (int64_t)json_integer_value(json_object_get(cfg, "clock"));
	struct wt_clock clock = {wt_clock_manual_now, &now_ms};
	struct wt_notify_options o;
	char *recip = NULL;
	if (parse_options(cfg, &o, &recip) < 0) {
		fprintf(stderr, "bad options\n");
		return 2;
	}
	struct wt_structure *s = build_structure();
	struct wt_alarms *al = wt_alarms_new(&clock);
	struct wt_alarm_store store = {.next_id = store_next_id};
	wt_alarms_set_store(al, &store);
	wt_alarms_set_structure(al, s);
	struct wt_notify *n = NULL;
	if (!json_is_true(json_object_get(cfg, "no_start"))) {
		n = wt_notify_start(&o, &clock, al);
		if (!n) {
			fprintf(stderr, "wt_notify_start failed\n");
			return 1;
		}
		wt_notify_set_structure(n, s);
		wt_notify_set_describe(n, describe, NULL);
	}
	char line[4096];
	int status = 0;
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[32] = "", a1[64] = "", a2[64] = "", a3[64] = "";
		sscanf(line, "%31s %63s %63s %63s", cmd, a1, a2, a3);
		if (strcmp(cmd, "quit") == 0)
			break;
		if (strcmp(cmd, "migrate") == 0) {
			PGconn *c = wt_pg_connect(o.conninfo, 5);
			int applied = 0;
			int rc = c ? wt_migrate(c, wt_migrate_default_dir(), &applied) : -EIO;
			if (c)
				PQfinish(c);
			printf("%s migrate %d\n", rc == 0 ? "ok" : "error", rc);
		} else if (strcmp(cmd, "clock") == 0) {
			now_ms = strtoll(a1, NULL, 10);
			printf("ok\n");
		} else if (strcmp(cmd, "raise") == 0) {
			char b[1024];
			int64_t dev = field(line, "dev", b, sizeof(b)) ? strtoll(b, NULL, 10) : 0;
			int64_t elem = field(line, "elem", b, sizeof(b)) ? strtoll(b, NULL, 10) : 0;
			int sev = field(line, "sev", b, sizeof(b)) ? atoi_ok(b) : 1;
			double value = field(line, "value", b, sizeof(b)) ? strtod(b, NULL) : 0;
			double thr = field(line, "thr", b, sizeof(b)) ? strtod(b, NULL) : 0;
			char metric[64] = "";
			field(line, "metric", metric, sizeof(metric));
			char kindb[32] = "threshold";
			field(line, "kind", kindb, sizeof(kindb));
			char msg[1024] = "";
			field(line, "msg", msg, sizeof(msg));
			struct wt_alarm *a = raise_one(
				al, dev, elem, sev, metric[0] ? metric : NULL, value, thr,
				msg[0] ? msg : NULL,
				strcmp(kindb, "comm_lost") == 0 ? WT_ALARM_COMM_LOST
								: WT_ALARM_THRESHOLD);
			if (a && nkeys < MAX_KEYS) {
				snprintf(keys[nkeys].key, sizeof(keys[nkeys].key), "%s", a1);
				keys[nkeys++].id = a->id;
				printf("ok %lld\n", (long long)a->id);
			} else {
				printf("error raise\n");
			}
		} else if (strcmp(cmd, "clear") == 0 || strcmp(cmd, "severity") == 0) {
			struct wt_alarm *a = NULL;
			for (size_t i = 0; i < nkeys; i++)
				if (strcmp(keys[i].key, a1) == 0)
					a = wt_alarms_get(al, keys[i].id);
			if (!a) {
				printf("error no alarm %s\n", a1);
			} else if (cmd[0] == 'c') {
				wt_alarms_clear(al, a, strtod(a2, NULL));
				printf("ok\n");
			} else {
				wt_alarms_set_severity(al, a, (uint8_t)atoi_ok(a2), 0,
						       strtod(a3, NULL), a->threshold, a->message);
				printf("ok\n");
			}
		} else if (strcmp(cmd, "storm") == 0) {
			long cnt = strtol(a1, NULL, 10);
			int64_t row = strtoll(a2, NULL, 10);
			int sev = atoi_ok(a3);
			long ok = 0;
			for (long i = 0; i < cnt; i++) {
				/* devices below row 20 (room 10): racks 30..39 */
				int64_t dev = 1 + i % 899;
				(void)row;
				if (raise_one(al, dev, rack_of(dev), sev, "current",
					      17.0 + (double)i / 1000, 16.0,
					      "branch current above warning", WT_ALARM_THRESHOLD))
					ok++;
			}
			printf("ok %ld\n", ok);
		} else if (strcmp(cmd, "sync") == 0) {
			int ms = a1[0] ? atoi_ok(a1) : 60000;
			int rc = n ? wt_notify_sync(n, ms) : -EINVAL;
			printf("%s sync\n", rc == 0 ? "ok" : "error");
		} else if (strcmp(cmd, "stats") == 0) {
			struct wt_notify_stats st = {0};
			if (n)
				wt_notify_stats(n, &st);
			printf("ok events=%llu refused=%llu outboxed=%llu sent=%llu retried=%llu "
			       "failed=%llu mails=%llu depth=%zu connected=%d\n",
			       (unsigned long long)st.events, (unsigned long long)st.refused,
			       (unsigned long long)st.outboxed, (unsigned long long)st.sent,
			       (unsigned long long)st.retried, (unsigned long long)st.failed,
			       (unsigned long long)st.mails, st.depth, st.connected);
		} else if (strcmp(cmd, "testmail") == 0) {
			char err[512] = "";
			int rc = wt_notify_test_mail(&o.mail, o.hostname, a1, err, sizeof(err));
			printf("%s testmail %d %s\n", rc == 0 ? "ok" : "error", rc, err);
		} else if (cmd[0]) {
			printf("error unknown command %s\n", cmd);
			status = 1;
		}
		fflush(stdout);
	}
	wt_notify_stop(n, 5000);
	wt_alarms_free(al);
	wt_structure_free(s);
	for (size_t i = 0; i < MAX_METRICS; i++)
		free(metric_of[i]);
	for (size_t i = 0; i < o.nhooks; i++)
		free((void *)o.hooks[i].argv);
	free(o.hooks);
	free(o.traps.receivers);
	free(o.mail.recipients);
	free(recip);
	json_decref(cfg);
	return status;
}
