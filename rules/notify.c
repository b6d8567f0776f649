#include "notify.h"

#include "hooks.h"
#include "log.h"
#include "mail.h"
#include "notify_buf.h"
#include "notify_opts.h"
#include "notify_report.h"
#include "notify_tz.h"
#include "pg.h"
#include "rule.h"
#include "syslog5424.h"
#include "traps.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A mail lists at most this many entries per room; the rest is counted. */
#define MAIL_ROOM_LIST_MAX 20
/* Rows claimed per mail: a storm's whole backlog fits in one message. */
#define MAIL_CLAIM_MAX 20000
#define SINGLE_CLAIM_MAX 50

struct qev {
	struct qev *next;
	json_t *ev;
	int64_t ts_ms;
	enum wt_nsev sev;
};

/* Per-target sender state kept in memory (lost on restart, harmlessly). */
struct target_state {
	int64_t holdoff_until; /* mail: storm control */
	int64_t blocked_until; /* a failed target waits for its back-off */
};

struct wt_notify {
	struct wt_notify_opts *o; /* owned deep copy */
	struct wt_clock clock;
	struct wt_alarms *alarms;
	const struct wt_structure *structure;
	wt_notify_describe_fn describe;
	void *describe_ctx;
	char hostname[256];
	struct wt_tz tz;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	struct qev *head, *tail;
	size_t depth;
	bool stop, kicked;
	uint64_t pass_req, pass_started, pass_done;
	int64_t drain_deadline;
	struct wt_notify_stats st;
	struct wt_complaint complaint;

	/* notify thread only */
	PGconn *pg;
	struct target_state *mail_ts, *report_ts, *trap_ts, *hook_ts, syslog_ts;
	struct wt_syslog_conn *syslog_conn;
	struct wt_notify_stats tst; /* the thread's counters, published after each pass */
	struct nbuf copy;           /* outbox rows of the batch being written */
	uint64_t copy_rows;
	bool drain_failed; /* the last outbox write failed: wait before the next */
};

static const char *const nsev_names[WT_NSEV__COUNT] = {"info", "log", "warning", "error"};

const char *wt_nsev_name(enum wt_nsev s)
{
	return (unsigned)s < WT_NSEV__COUNT ? nsev_names[s] : "?";
}

int wt_nsev_by_name(const char *name)
{
	for (int i = 0; name && i < WT_NSEV__COUNT; i++)
		if (strcasecmp(name, nsev_names[i]) == 0)
			return i;
	return -1;
}

static enum wt_nsev event_nsev(const struct wt_alarm_event *ev)
{
	switch (ev->change) {
	case WT_ALARM_CLEARED:
		return WT_NSEV_INFO;
	case WT_ALARM_ACKED:
		return WT_NSEV_LOG;
	default:
		break;
	}
	if (ev->alarm->kind == WT_ALARM_COMM_LOST || ev->alarm->severity >= WT_SEV_CRITICAL)
		return WT_NSEV_ERROR;
	return WT_NSEV_WARNING;
}

static int atoi_safe(const char *s)
{
	long v = strtol(s, NULL, 10);
	return v < 0 ? 0 : v > 1000000 ? 1000000 : (int)v;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- loop side: the alarm subscriber ---------------------------------- */

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

static void set_num(json_t *o, const char *k, double v)
{
	if (v == v) /* NaN has no JSON form */
		json_object_set_new(o, k, json_real(v));
}

static void add_location(struct wt_notify *n, json_t *o, int64_t element_id)
{
	const struct wt_structure *s = n->structure;
	if (!s || element_id == 0)
		return;
	int32_t i = wt_structure_find(s, element_id);
	if (i < 0)
		return;
	json_object_set_new(o, "element_kind", json_string(wt_elem_kind_name(s->el[i].kind)));
	char loc[768] = "";
	size_t used = 0;
	/* walk up to the data centre, then print top-down */
	int32_t chain[8];
	int nc = 0;
	for (int32_t j = i; j >= 0 && nc < 8; j = s->el[j].parent)
		chain[nc++] = j;
	for (int k = nc - 1; k >= 0; k--) {
		const struct wt_element *e = &s->el[chain[k]];
		static const char *const key_id[WT_EL__COUNT] = {"site_id", "room_id", "row_id",
								 "rack_id"};
		static const char *const key_nm[WT_EL__COUNT] = {"site", "room", "row", "rack"};
		if ((unsigned)e->kind < WT_EL__COUNT) {
			json_object_set_new(o, key_id[e->kind], json_integer(e->id));
			set_str(o, key_nm[e->kind], e->name);
		}
		if (e->kind == WT_EL_DC)
			continue;
		int w = snprintf(loc + used, sizeof(loc) - used, "%s%s", used ? " / " : "",
				 e->name ? e->name : "?");
		if (w > 0 && (size_t)w < sizeof(loc) - used)
			used += (size_t)w;
	}
	set_str(o, "location", loc);
}

static json_t *event_json(struct wt_notify *n, const struct wt_alarm_event *ev, int64_t now,
			  enum wt_nsev sev)
{
	const struct wt_alarm *a = ev->alarm;
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "alarm_id", json_integer(a->id));
	json_object_set_new(o, "change", json_string(wt_alarm_change_name(ev->change)));
	json_object_set_new(o, "kind", json_string(wt_alarm_kind_name(a->kind)));
	json_object_set_new(o, "severity", json_string(wt_severity_name(a->severity)));
	json_object_set_new(o, "old_severity", json_string(wt_severity_name(ev->old_severity)));
	json_object_set_new(o, "notify_severity", json_string(wt_nsev_name(sev)));
	json_object_set_new(o, "active", json_boolean(a->active));
	json_object_set_new(o, "ts_ms", json_integer(now));
	json_object_set_new(o, "raised_ms", json_integer(a->raised_ms));
	set_num(o, "value", a->value);
	if (a->thr >= 0)
		set_num(o, "threshold", a->threshold);
	if (a->device_id)
		json_object_set_new(o, "device_id", json_integer(a->device_id));
	if (a->entity_id)
		json_object_set_new(o, "entity_id", json_integer(a->entity_id));
	if (a->element_id)
		json_object_set_new(o, "element_id", json_integer(a->element_id));
	set_str(o, "message", a->message);
	set_str(o, "rule", a->rule_name);
	if (a->acked)
		set_str(o, "acked_by", a->acked_by);
	struct wt_notify_names nm = {0};
	if (n->describe)
		n->describe(n->describe_ctx, a, &nm);
	set_str(o, "device", nm.device_name);
	set_str(o, "device_type", nm.device_type);
	set_str(o, "entity", nm.entity_name);
	set_str(o, "metric", nm.metric_name);
	set_str(o, "unit", nm.unit);
	add_location(n, o, a->element_id);
	return o;
}

static void on_alarm(void *ctx, const struct wt_alarm_event *ev)
{
	struct wt_notify *n = ctx;
	int64_t now = wt_clock_now(&n->clock);
	enum wt_nsev sev = event_nsev(ev);
	struct qev *q = calloc(1, sizeof(*q));
	json_t *j = q ? event_json(n, ev, now, sev) : NULL;
	pthread_mutex_lock(&n->lock);
	if (!j || n->depth >= n->o->pub.queue_max) {
		n->st.refused++;
		pthread_mutex_unlock(&n->lock);
		wt_complain(&n->complaint, WT_LOG_ERROR,
			    "notify: queue full (%zu events), alarm %lld change not notified",
			    n->o->pub.queue_max, (long long)ev->alarm->id);
		json_decref(j);
		free(q);
		return;
	}
	q->ev = j;
	q->ts_ms = now;
	q->sev = sev;
	if (n->tail)
		n->tail->next = q;
	else
		n->head = q;
	n->tail = q;
	n->depth++;
	n->st.events++;
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->lock);
}

/* ---- notify thread: the outbox ---------------------------------------- */

static bool pg_ok(struct wt_notify *n)
{
	if (n->pg && PQstatus(n->pg) == CONNECTION_OK)
		return true;
	if (n->pg) {
		PQfinish(n->pg);
		n->pg = NULL;
	}
	n->pg = wt_pg_connect(n->o->pub.conninfo, 5);
	return n->pg != NULL;
}

static bool exec_ok(struct wt_notify *n, const char *sql)
{
	PGresult *r = PQexec(n->pg, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		wt_error("notify: %s: %s", sql, PQerrorMessage(n->pg));
	PQclear(r);
	return ok;
}

static PGresult *query(struct wt_notify *n, const char *sql, int np, const char *const *p)
{
	PGresult *r = PQexecParams(n->pg, sql, np, NULL, p, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		wt_error("notify: query failed: %s", PQerrorMessage(n->pg));
		PQclear(r);
		return NULL;
	}
	return r;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static bool in_business_hours(struct wt_notify *n, int64_t ts_ms)
{
	const struct wt_mail_options *m = &n->o->pub.mail;
	struct wt_local_time lt;
	wt_tz_local(&n->tz, ts_ms, &lt);
	if (!(m->business_days & (1u << lt.wday)))
		return false;
	int min = lt.hour * 60 + lt.min;
	return min >= m->business_start_min && min < m->business_end_min;
}

static bool schedule_allows(struct wt_notify *n, enum wt_mail_schedule s, int64_t ts_ms)
{
	if (s == WT_SCHED_ALWAYS)
		return true;
	bool bh = in_business_hours(n, ts_ms);
	return s == WT_SCHED_BUSINESS_HOURS ? bh : !bh;
}

static bool filter_str(const char *want, const char *have)
{
	return !want || !*want || strcasecmp(want, have) == 0;
}

static bool hook_matches(const struct wt_hook *h, const struct qev *q)
{
	return q->sev >= h->min_severity && filter_str(h->metric, jstr(q->ev, "metric")) &&
	       filter_str(h->device_type, jstr(q->ev, "device_type")) &&
	       filter_str(h->change, jstr(q->ev, "change"));
}

/* Inserts one outbox row; false on a database error. */
/* COPY text format: backslash escapes for the characters that delimit it. */
static void copy_field(struct nbuf *b, const char *v, bool last)
{
	if (!v) {
		nbuf_puts(b, "\\N");
	} else {
		for (const char *p = v; *p; p++) {
			switch (*p) {
			case '\\':
				nbuf_puts(b, "\\\\");
				break;
			case '\n':
				nbuf_puts(b, "\\n");
				break;
			case '\r':
				nbuf_puts(b, "\\r");
				break;
			case '\t':
				nbuf_puts(b, "\\t");
				break;
			default:
				nbuf_putc(b, *p);
			}
		}
	}
	nbuf_putc(b, last ? '\n' : '\t');
}

/* Appends one outbox row to the batch's COPY buffer. */
static void insert_row(struct wt_notify *n, const char *channel, const char *target,
		       const struct qev *q, const char *evtext, bool immediate, const char *state,
		       const char *reason)
{
	char created[24], alarm[24], sev[4], room[24];
	snprintf(created, sizeof(created), "%lld", (long long)q->ts_ms);
	snprintf(alarm, sizeof(alarm), "%lld",
		 (long long)json_integer_value(json_object_get(q->ev, "alarm_id")));
	snprintf(sev, sizeof(sev), "%d", (int)q->sev);
	json_t *rj = json_object_get(q->ev, "room_id");
	snprintf(room, sizeof(room), "%lld", (long long)json_integer_value(rj));
	struct nbuf *b = &n->copy;
	copy_field(b, channel, false);
	copy_field(b, target, false);
	copy_field(b, created, false);
	copy_field(b, alarm, false);
	copy_field(b, jstr(q->ev, "change"), false);
	copy_field(b, sev, false);
	copy_field(b, rj ? room : NULL, false);
	copy_field(b, immediate ? "t" : "f", false);
	copy_field(b, evtext, false);
	copy_field(b, state, false);
	copy_field(b, created, false); /* next_attempt_ms: due at once */
	copy_field(b, reason, true);
	n->copy_rows++;
}

/* Sends the COPY buffer inside the open transaction. */
static bool copy_flush(struct wt_notify *n)
{
	if (!nbuf_ok(&n->copy))
		return n->copy_rows == 0 && !n->copy.oom;
	PGresult *r = PQexec(n->pg, "COPY notify_outbox (channel, target, created_ms, alarm_id,"
				    " change, severity, room_id, immediate, event, state,"
				    " next_attempt_ms, last_error) FROM STDIN");
	bool ok = PQresultStatus(r) == PGRES_COPY_IN;
	PQclear(r);
	if (!ok) {
		wt_error("notify: COPY to the outbox: %s", PQerrorMessage(n->pg));
		return false;
	}
	ok = PQputCopyData(n->pg, n->copy.s, (int)n->copy.len) == 1;
	ok = PQputCopyEnd(n->pg, ok ? NULL : "send failed") == 1 && ok;
	while ((r = PQgetResult(n->pg))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			wt_error("notify: COPY to the outbox: %s", PQerrorMessage(n->pg));
			ok = false;
		}
		PQclear(r);
	}
	return ok;
}

static bool outbox_event(struct wt_notify *n, const struct qev *q)
{
	const struct wt_notify_opts *o = n->o;
	char *text = json_dumps(q->ev, JSON_COMPACT);
	if (!text)
		return false;
	bool ok = true;
	const struct wt_mail_options *m = &o->pub.mail;
	if (m->server && *m->server && q->sev >= m->min_severity) {
		bool imm = q->sev >= m->immediate_severity;
		for (size_t i = 0; ok && i < m->nrecipients; i++) {
			bool allowed = schedule_allows(n, m->recipients[i].schedule, q->ts_ms);
			insert_row(n, "mail", m->recipients[i].address, q, text, imm,
				   allowed ? "pending" : "skipped",
				   allowed ? NULL
					   : (m->recipients[i].schedule == WT_SCHED_BUSINESS_HOURS
						      ? "outside business hours"
						      : "inside business hours"));
		}
	}
	const struct wt_syslog_options *s = &o->pub.syslog;
	if (ok && s->server && *s->server && q->sev >= s->min_severity)
		insert_row(n, "syslog", o->syslog_target, q, text, false, "pending", NULL);
	const struct wt_trap_options *t = &o->pub.traps;
	for (size_t i = 0; ok && q->sev >= t->min_severity && i < t->nreceivers; i++)
		insert_row(n, "trap", o->trap_targets[i], q, text, false, "pending", NULL);
	for (size_t i = 0; ok && i < o->pub.nhooks; i++)
		if (hook_matches(&o->pub.hooks[i], q))
			insert_row(n, "hook", o->pub.hooks[i].name, q, text, false, "pending",
				   NULL);
	free(text);
	return ok && !n->copy.oom;
}

/* Moves every queued event into the outbox, one transaction per batch.
 * Events stay queued (in order) while the database is away. */
static void drain_queue(struct wt_notify *n)
{
	for (;;) {
		pthread_mutex_lock(&n->lock);
		struct qev *batch = n->head;
		size_t cnt = 0;
		struct qev *last = NULL;
		for (struct qev *q = batch; q && cnt < 1000; q = q->next, cnt++)
			last = q;
		pthread_mutex_unlock(&n->lock);
		if (!batch || !pg_ok(n))
			return;
		nbuf_free(&n->copy);
		n->copy_rows = 0;
		bool ok = true;
		for (struct qev *q = batch; ok; q = q->next) {
			ok = outbox_event(n, q);
			if (q == last)
				break;
		}
		ok = ok && exec_ok(n, "BEGIN");
		ok = ok && copy_flush(n) && exec_ok(n, "COMMIT");
		nbuf_free(&n->copy);
		if (ok)
			n->tst.outboxed += n->copy_rows;
		if (!ok) {
			n->drain_failed = true;
			PGresult *r = PQexec(n->pg, "ROLLBACK");
			PQclear(r);
			wt_complain(&n->complaint, WT_LOG_ERROR,
				    "notify: cannot write the outbox; %zu events kept in memory",
				    n->depth);
			return;
		}
		n->drain_failed = false;
		wt_complain_release(&n->complaint, WT_LOG_NOTICE, "notify: outbox writable again");
		pthread_mutex_lock(&n->lock);
		n->head = last->next;
		if (!n->head)
			n->tail = NULL;
		n->depth -= cnt;
		pthread_mutex_unlock(&n->lock);
		for (struct qev *q = batch, *nx; q; q = nx) {
			nx = q->next;
			bool end = q == last;
			json_decref(q->ev);
			free(q);
			if (end)
				break;
		}
	}
}

static int64_t backoff_ms(const struct wt_notify_opts *o, int attempts)
{
	int64_t d = (int64_t)o->pub.retry_base_s * 1000;
	for (int i = 1; i < attempts && d < (int64_t)o->pub.retry_max_s * 1000; i++)
		d *= 2;
	if (d > (int64_t)o->pub.retry_max_s * 1000)
		d = (int64_t)o->pub.retry_max_s * 1000;
	return d;
}

/* Records the outcome for rows ids (a PostgreSQL array literal) inside the
 * claiming transaction. err NULL: sent. */
static bool record(struct wt_notify *n, const char *ids, int64_t now, const char *err,
		   int attempts_before, const char *message_id)
{
	char nowb[24], nextb[24], maxb[12];
	snprintf(nowb, sizeof(nowb), "%lld", (long long)now);
	snprintf(nextb, sizeof(nextb), "%lld",
		 (long long)(now + backoff_ms(n->o, attempts_before + 1)));
	snprintf(maxb, sizeof(maxb), "%d", n->o->pub.max_attempts);
	PGresult *r;
	if (!err) {
		const char *p[3] = {ids, nowb, message_id};
		r = query(
			n,
			"UPDATE notify_outbox SET state = 'sent', sent_ms = $2, attempts = attempts + 1,"
			" last_error = NULL, message_id = $3 WHERE id = ANY($1::bigint[])",
			3, p);
	} else {
		const char *p[5] = {ids, nextb, err, maxb, message_id};
		r = query(
			n,
			"UPDATE notify_outbox SET attempts = attempts + 1, next_attempt_ms = $2,"
			" last_error = $3, message_id = coalesce($5, message_id),"
			" state = CASE WHEN attempts + 1 >= $4::int THEN 'failed' ELSE 'pending' END"
			" WHERE id = ANY($1::bigint[]) RETURNING state",
			5, p);
		if (r) {
			for (int i = 0; i < PQntuples(r); i++)
				if (strcmp(PQgetvalue(r, i, 0), "failed") == 0)
					n->tst.failed++;
				else
					n->tst.retried++;
		}
	}
	if (!r)
		return false;
	if (!err)
		n->tst.sent += strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return true;
}

/* ---- e-mail ------------------------------------------------------------ */

struct mrow {
	long long id;
	json_t *ev;
	bool immediate;
	int64_t created;
};

static const char *sev_word(json_t *ev)
{
	const char *ch = jstr(ev, "change");
	if (strcmp(ch, "cleared") == 0)
		return "CLEARED";
	if (strcmp(ch, "acked") == 0)
		return "ACKNOWLEDGED";
	return strcmp(jstr(ev, "severity"), "critical") == 0 ? "CRITICAL" : "WARNING";
}

static void fmt_time(char *buf, size_t len, int64_t ms, struct wt_tz *tz)
{
	struct wt_local_time lt;
	wt_tz_local(tz, ms, &lt);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d %s", lt.year, lt.mon, lt.mday, lt.hour,
		 lt.min, lt.sec, lt.abbr);
}

static void entry_line(struct nbuf *b, json_t *ev, struct wt_tz *tz, const char *indent)
{
	char when[64];
	fmt_time(when, sizeof(when), json_integer_value(json_object_get(ev, "ts_ms")), tz);
	nbuf_printf(b, "%s%s %s  %s  ", indent, sev_word(ev), jstr(ev, "change"), when);
	const char *dev = jstr(ev, "device"), *ent = jstr(ev, "entity"), *met = jstr(ev, "metric");
	if (*dev)
		nbuf_printf(b, "%s%s%s  ", dev, *ent ? " / " : "", ent);
	if (*met) {
		nbuf_printf(b, "%s", met);
		json_t *v = json_object_get(ev, "value");
		if (json_is_number(v))
			nbuf_printf(b, " %.6g%s%s", json_number_value(v),
				    *jstr(ev, "unit") ? " " : "", jstr(ev, "unit"));
		json_t *t = json_object_get(ev, "threshold");
		if (json_is_number(t))
			nbuf_printf(b, " (threshold %.6g)", json_number_value(t));
		nbuf_puts(b, "  ");
	}
	if (*jstr(ev, "message"))
		nbuf_printf(b, "%s  ", jstr(ev, "message"));
	if (*jstr(ev, "location"))
		nbuf_printf(b, "[%s]", jstr(ev, "location"));
	while (b->len && b->s[b->len - 1] == ' ')
		b->s[--b->len] = '\0';
	nbuf_printf(b, "  #%lld\n", (long long)json_integer_value(json_object_get(ev, "alarm_id")));
}

static bool is_group_alarm(json_t *ev)
{
	const char *k = jstr(ev, "element_kind"), *ch = jstr(ev, "change");
	bool structural = json_object_get(ev, "device_id") == NULL &&
			  (strcmp(k, "room") == 0 || strcmp(k, "row") == 0);
	return structural && strcmp(ch, "cleared") != 0 && strcmp(ch, "acked") != 0;
}

/* Does ev sit below the room or row group? */
static bool below(json_t *ev, json_t *group)
{
	if (ev == group)
		return false;
	const char *k = jstr(group, "element_kind");
	const char *key = strcmp(k, "room") == 0 ? "room_id" : "row_id";
	json_t *g = json_object_get(group, key), *e = json_object_get(ev, key);
	return g && e && json_integer_value(g) == json_integer_value(e);
}

struct counts {
	unsigned crit, warn, cleared, other;
};

static void count(struct counts *c, json_t *ev)
{
	const char *w = sev_word(ev);
	if (strcmp(w, "CRITICAL") == 0)
		c->crit++;
	else if (strcmp(w, "WARNING") == 0)
		c->warn++;
	else if (strcmp(w, "CLEARED") == 0)
		c->cleared++;
	else
		c->other++;
}

static void counts_text(struct nbuf *b, const struct counts *c)
{
	nbuf_printf(b, "%u critical, %u warning, %u cleared", c->crit, c->warn, c->cleared);
	if (c->other)
		nbuf_printf(b, ", %u acknowledged", c->other);
}

/* The body: group alarms (a room or row in alarm) first, each with a
 * summary of what happened below it; then the rest per room, at most
 * MAIL_ROOM_LIST_MAX lines per room plus a count of the others. */
static void compose_body(struct wt_notify *n, struct nbuf *b, struct mrow *rows, size_t nr)
{
	const struct wt_mail_options *m = &n->o->pub.mail;
	if (m->text_before && *m->text_before)
		nbuf_printf(b, "%s\n\n", m->text_before);
	char t0[64], t1[64];
	fmt_time(t0, sizeof(t0), rows[0].created, &n->tz);
	fmt_time(t1, sizeof(t1), rows[nr - 1].created, &n->tz);
	struct counts all = {0};
	for (size_t i = 0; i < nr; i++)
		count(&all, rows[i].ev);
	nbuf_printf(b, "%zu notification%s from wattrack on %s, %s to %s (", nr, nr == 1 ? "" : "s",
		    n->hostname, t0, t1);
	counts_text(b, &all);
	nbuf_puts(b, ").\n\n");

	bool *done = calloc(nr, sizeof(bool));
	if (!done) {
		b->oom = true;
		return;
	}
	for (size_t g = 0; g < nr; g++) {
		if (done[g] || !is_group_alarm(rows[g].ev))
			continue;
		done[g] = true;
		nbuf_printf(b, "%s %s in alarm:\n", jstr(rows[g].ev, "element_kind"),
			    jstr(rows[g].ev, "location"));
		entry_line(b, rows[g].ev, &n->tz, "  ");
		struct counts c = {0};
		for (size_t i = 0; i < nr; i++)
			if (!done[i] && below(rows[i].ev, rows[g].ev)) {
				done[i] = true;
				count(&c, rows[i].ev);
			}
		if (c.crit + c.warn + c.cleared + c.other) {
			nbuf_printf(b, "  + %u more alarm changes below it (",
				    c.crit + c.warn + c.cleared + c.other);
			counts_text(b, &c);
			nbuf_puts(b, "); see the console for the list.\n");
		}
		nbuf_puts(b, "\n");
	}
	/* the rest, room by room in order of first appearance */
	for (size_t i = 0; i < nr; i++) {
		if (done[i])
			continue;
		json_t *room = json_object_get(rows[i].ev, "room_id");
		long long rid = room ? json_integer_value(room) : -1;
		const char *rname = jstr(rows[i].ev, "room");
		nbuf_printf(b, "%s%s:\n", rid >= 0 ? "Room " : "", rid >= 0 ? rname : "Unassigned");
		size_t listed = 0;
		struct counts rest = {0};
		for (size_t j = i; j < nr; j++) {
			if (done[j])
				continue;
			json_t *r2 = json_object_get(rows[j].ev, "room_id");
			long long rid2 = r2 ? json_integer_value(r2) : -1;
			if (rid2 != rid)
				continue;
			done[j] = true;
			if (listed++ < MAIL_ROOM_LIST_MAX)
				entry_line(b, rows[j].ev, &n->tz, "  ");
			else
				count(&rest, rows[j].ev);
		}
		if (listed > MAIL_ROOM_LIST_MAX) {
			nbuf_printf(b, "  ... and %zu more in this room (",
				    listed - MAIL_ROOM_LIST_MAX);
			counts_text(b, &rest);
			nbuf_puts(b, "); see the console for the list.\n");
		}
		nbuf_puts(b, "\n");
	}
	free(done);
	if (m->text_after && *m->text_after)
		nbuf_printf(b, "%s\n", m->text_after);
}

static void html_escape(struct nbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			nbuf_puts(b, "&lt;");
			break;
		case '>':
			nbuf_puts(b, "&gt;");
			break;
		case '&':
			nbuf_puts(b, "&amp;");
			break;
		case '"':
			nbuf_puts(b, "&quot;");
			break;
		default:
			nbuf_putc(b, *s);
		}
	}
}

static void compose_subject(struct wt_notify *n, char *buf, size_t len, struct mrow *rows,
			    size_t nr)
{
	const char *pre = n->o->pub.mail.subject && *n->o->pub.mail.subject ? n->o->pub.mail.subject
									    : "wattrack";
	if (nr == 1) {
		json_t *ev = rows[0].ev;
		const char *what = *jstr(ev, "message") ? jstr(ev, "message") : jstr(ev, "kind");
		snprintf(buf, len, "%s: %s %s: %s%s%s", pre, sev_word(ev), jstr(ev, "change"), what,
			 *jstr(ev, "location") ? " @ " : "", jstr(ev, "location"));
		return;
	}
	struct counts c = {0};
	for (size_t i = 0; i < nr; i++)
		count(&c, rows[i].ev);
	snprintf(buf, len, "%s: %zu alarm notifications (%u critical, %u warning, %u cleared)", pre,
		 nr, c.crit, c.warn, c.cleared);
}

static void free_rows(struct mrow *rows, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		json_decref(rows[i].ev);
	free(rows);
}

static void mail_target(struct wt_notify *n, const char *to, struct target_state *ts, int64_t now)
{
	const struct wt_mail_options *m = &n->o->pub.mail;
	if (now < ts->blocked_until)
		return;
	char nowb[24], lim[16];
	snprintf(nowb, sizeof(nowb), "%lld", (long long)now);
	snprintf(lim, sizeof(lim), "%d", MAIL_CLAIM_MAX);
	const char *p[4] = {to, nowb, lim};
	/* Is a mail due at all? One cheap aggregate per pass, so a window
	 * filling with a storm is not parsed again every second. */
	PGresult *pre = query(
		n,
		"SELECT min(created_ms), coalesce(bool_or(immediate), false),"
		" coalesce(max(attempts), 0) FROM notify_outbox WHERE channel = 'mail'"
		" AND target = $1 AND state = 'pending' AND next_attempt_ms <= $2",
		2, p);
	if (!pre)
		return;
	bool have = !PQgetisnull(pre, 0, 0);
	int64_t first = have ? strtoll(PQgetvalue(pre, 0, 0), NULL, 10) : 0;
	bool pre_imm = PQgetvalue(pre, 0, 1)[0] == 't';
	bool pre_retry = strtol(PQgetvalue(pre, 0, 2), NULL, 10) > 0;
	PQclear(pre);
	if (!have || (now < ts->holdoff_until && !pre_retry) ||
	    (!pre_imm && !pre_retry && first + (int64_t)m->delay_min * 60000 > now))
		return;
	if (!exec_ok(n, "BEGIN"))
		return;
	PGresult *r = query(n,
			    "SELECT id, event, immediate, created_ms, attempts FROM notify_outbox"
			    " WHERE channel = 'mail' AND target = $1 AND state = 'pending'"
			    " AND next_attempt_ms <= $2 ORDER BY id LIMIT $3::int"
			    " FOR UPDATE SKIP LOCKED",
			    3, p);
	size_t nr = r ? (size_t)PQntuples(r) : 0;
	bool any_imm = false;
	int64_t oldest = INT64_MAX;
	int max_att = 0;
	struct mrow *rows = nr ? calloc(nr, sizeof(*rows)) : NULL;
	struct nbuf ids = {0};
	nbuf_putc(&ids, '{');
	for (size_t i = 0; rows && i < nr; i++) {
		rows[i].id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
		rows[i].ev = json_loads(PQgetvalue(r, (int)i, 1), 0, NULL);
		if (!rows[i].ev)
			rows[i].ev = json_object();
		rows[i].immediate = PQgetvalue(r, (int)i, 2)[0] == 't';
		rows[i].created = strtoll(PQgetvalue(r, (int)i, 3), NULL, 10);
		int att = atoi_safe(PQgetvalue(r, (int)i, 4));
		if (att > max_att)
			max_att = att;
		any_imm |= rows[i].immediate;
		if (rows[i].created < oldest)
			oldest = rows[i].created;
		nbuf_printf(&ids, "%s%lld", i ? "," : "", rows[i].id);
	}
	nbuf_putc(&ids, '}');
	PQclear(r);
	bool due = rows &&
		   ((any_imm && now >= ts->holdoff_until) ||
		    (oldest + (int64_t)m->delay_min * 60000 <= now && now >= ts->holdoff_until) ||
		    max_att > 0);
	if (!due || !nbuf_ok(&ids)) {
		free_rows(rows, nr);
		nbuf_free(&ids);
		PGresult *rb = PQexec(n->pg, "ROLLBACK");
		PQclear(rb);
		return;
	}
	char mid[384];
	snprintf(mid, sizeof(mid), "wattrack.%lld.%zu.%llx@%s", rows[0].id, nr,
		 (unsigned long long)(rows[nr - 1].id * 2654435761u), n->hostname);
	char subject[400];
	compose_subject(n, subject, sizeof(subject), rows, nr);
	struct nbuf body = {0}, html = {0}, msg = {0};
	compose_body(n, &body, rows, nr);
	if (m->html && nbuf_ok(&body)) {
		nbuf_puts(&html, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>"
				 "<pre style=\"font-family:monospace\">");
		html_escape(&html, body.s);
		nbuf_puts(&html, "</pre></body></html>\n");
	}
	struct wt_mail_msg mm = {.from = m->sender,
				 .to = to,
				 .subject = subject,
				 .message_id = mid,
				 .date_ms = now,
				 .text = body.s ? body.s : "",
				 .html = m->html && nbuf_ok(&html) ? html.s : NULL};
	char err[512] = "";
	int rc = nbuf_ok(&body) ? wt_mail_format(&msg, &mm) : -ENOMEM;
	if (rc == 0)
		rc = wt_mail_send(m, to, msg.s, msg.len, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "out of memory composing the message");
	bool ok = record(n, ids.s, now, rc == 0 ? NULL : err, max_att, mid) && exec_ok(n, "COMMIT");
	if (!ok) {
		PGresult *rb = PQexec(n->pg, "ROLLBACK");
		PQclear(rb);
	}
	if (rc == 0) {
		n->tst.mails++;
		ts->holdoff_until = now + (int64_t)m->holdoff_s * 1000;
		wt_info("notify: mail with %zu notifications sent to %s", nr, to);
	} else {
		ts->blocked_until = now + backoff_ms(n->o, max_att + 1);
		wt_warn("notify: mail to %s failed (%zu notifications kept): %s", to, nr, err);
	}
	free_rows(rows, nr);
	nbuf_free(&ids);
	nbuf_free(&body);
	nbuf_free(&html);
	nbuf_free(&msg);
}

/* ---- periodic status reports ------------------------------------------- */

static void report_target(struct wt_notify *n, const struct wt_mail_recipient *rc,
			  struct target_state *ts, int64_t now)
{
	const struct wt_mail_options *m = &n->o->pub.mail;
	if (rc->report == WT_REPORT_NONE || now < ts->blocked_until)
		return;
	struct wt_local_time lt;
	wt_tz_local(&n->tz, now, &lt);
	if (lt.hour < m->report_hour)
		return;
	bool weekly = rc->report == WT_REPORT_WEEKLY;
	if (weekly && lt.wday != m->report_wday % 7)
		return;
	char period[32];
	snprintf(period, sizeof(period), "%c%04d-%02d-%02d", weekly ? 'W' : 'D', lt.year, lt.mon,
		 lt.mday);
	/* the row lock makes one sender per period, across restarts and instances */
	if (!exec_ok(n, "BEGIN"))
		return;
	const char *p1[1] = {rc->address};
	PGresult *r = query(
		n, "INSERT INTO notify_reports (target) VALUES ($1) ON CONFLICT DO NOTHING", 1, p1);
	PQclear(r);
	r = r ? query(n, "SELECT last_period FROM notify_reports WHERE target = $1 FOR UPDATE", 1,
		      p1)
	      : NULL;
	bool due = r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), period) != 0;
	PQclear(r);
	if (!due) {
		PGresult *rb = PQexec(n->pg, "ROLLBACK");
		PQclear(rb);
		return;
	}
	int64_t span = (weekly ? 7 : 1) * 86400000LL;
	struct nbuf body = {0}, msg = {0};
	char err[512] = "", mid[384], subject[300];
	int rc2 = wt_notify_report_text(n->pg, &body, now - span, now, n->hostname,
					weekly ? "weekly" : "daily");
	snprintf(mid, sizeof(mid), "wattrack.report.%s.%llx@%s", period,
		 (unsigned long long)(now / 1000), n->hostname);
	snprintf(subject, sizeof(subject), "%s: %s status report %04d-%02d-%02d",
		 m->subject && *m->subject ? m->subject : "wattrack", weekly ? "weekly" : "daily",
		 lt.year, lt.mon, lt.mday);
	struct wt_mail_msg mm = {.from = m->sender,
				 .to = rc->address,
				 .subject = subject,
				 .message_id = mid,
				 .date_ms = now,
				 .text = body.s ? body.s : ""};
	if (rc2 == 0)
		rc2 = wt_mail_format(&msg, &mm);
	if (rc2 == 0)
		rc2 = wt_mail_send(m, rc->address, msg.s, msg.len, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "cannot build the report: %s", strerror(-rc2));
	bool ok = false;
	if (rc2 == 0) {
		char nowb[24];
		snprintf(nowb, sizeof(nowb), "%lld", (long long)now);
		const char *p3[3] = {rc->address, period, nowb};
		r = query(
			n,
			"UPDATE notify_reports SET last_period = $2, sent_ms = $3 WHERE target = $1",
			3, p3);
		ok = r != NULL;
		PQclear(r);
	}
	ok = ok && exec_ok(n, "COMMIT");
	if (!ok) {
		PGresult *rb = PQexec(n->pg, "ROLLBACK");
		PQclear(rb);
	}
	if (rc2 == 0) {
		n->tst.mails++;
		wt_info("notify: %s report sent to %s", weekly ? "weekly" : "daily", rc->address);
	} else {
		ts->blocked_until = now + 10 * 60 * 1000LL; /* try again in 10 minutes */
		wt_warn("notify: status report to %s failed: %s", rc->address, err);
	}
	nbuf_free(&body);
	nbuf_free(&msg);
}

/* ---- one-row channels: syslog, traps, hooks ---------------------------- */

typedef int (*send_fn)(struct wt_notify *n, size_t idx, json_t *ev, long long row_id, char *err,
		       size_t errlen);

static int syslog_severity(json_t *ev)
{
	const char *w = sev_word(ev);
	if (strcmp(w, "CRITICAL") == 0)
		return 2;
	if (strcmp(w, "WARNING") == 0)
		return 4;
	if (strcmp(w, "CLEARED") == 0)
		return 5;
	return 6;
}

static int send_syslog(struct wt_notify *n, size_t idx, json_t *ev, long long row_id, char *err,
		       size_t errlen)
{
	char value[32] = "", thr[32] = "", id[24], msgid[40];
	json_t *v = json_object_get(ev, "value"), *t = json_object_get(ev, "threshold");
	if (json_is_number(v))
		snprintf(value, sizeof(value), "%.9g", json_number_value(v));
	if (json_is_number(t))
		snprintf(thr, sizeof(thr), "%.9g", json_number_value(t));
	snprintf(id, sizeof(id), "%lld",
		 (long long)json_integer_value(json_object_get(ev, "alarm_id")));
	snprintf(msgid, sizeof(msgid), "ALARM_%s", jstr(ev, "change"));
	for (char *p = msgid; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	char outbox[24];
	snprintf(outbox, sizeof(outbox), "%lld", row_id);
	/* outbox: the row id, an idempotency key for receivers that dedupe */
	struct wt_sd_param sd[] = {
		{"alarm", id},
		{"outbox", outbox},
		{"severity", jstr(ev, "severity")},
		{"device", *jstr(ev, "device") ? jstr(ev, "device") : NULL},
		{"type", *jstr(ev, "device_type") ? jstr(ev, "device_type") : NULL},
		{"entity", *jstr(ev, "entity") ? jstr(ev, "entity") : NULL},
		{"metric", *jstr(ev, "metric") ? jstr(ev, "metric") : NULL},
		{"value", *value ? value : NULL},
		{"threshold", *thr ? thr : NULL},
		{"location", *jstr(ev, "location") ? jstr(ev, "location") : NULL},
	};
	char text[1024];
	snprintf(text, sizeof(text), "%s %s: %s", sev_word(ev), jstr(ev, "change"),
		 *jstr(ev, "message") ? jstr(ev, "message") : jstr(ev, "kind"));
	struct wt_syslog_msg m = {.facility = n->o->pub.syslog.facility,
				  .severity = syslog_severity(ev),
				  .ts_ms = json_integer_value(json_object_get(ev, "ts_ms")),
				  .hostname = n->hostname,
				  .app_name = "wattrack",
				  .msgid = msgid,
				  .procid = (int)getpid(),
				  .params = sd,
				  .nparams = sizeof(sd) / sizeof(sd[0]),
				  .msg = text};
	struct nbuf b = {0};
	int rc = wt_syslog_format(&b, &m);
	if (rc == 0)
		rc = wt_syslog_send(&n->syslog_conn, &n->o->pub.syslog, b.s, b.len, err, errlen);
	else
		snprintf(err, errlen, "cannot format: %s", strerror(-rc));
	nbuf_free(&b);
	(void)idx;
	return rc;
}

static int send_trap(struct wt_notify *n, size_t idx, json_t *ev, long long row_id, char *err,
		     size_t errlen)
{
	char value[32] = "", thr[32] = "", id[24];
	json_t *v = json_object_get(ev, "value"), *t = json_object_get(ev, "threshold");
	if (json_is_number(v))
		snprintf(value, sizeof(value), "%.9g", json_number_value(v));
	if (json_is_number(t))
		snprintf(thr, sizeof(thr), "%.9g", json_number_value(t));
	snprintf(id, sizeof(id), "%lld",
		 (long long)json_integer_value(json_object_get(ev, "alarm_id")));
	const char *ch = jstr(ev, "change");
	bool cleared = strcmp(ch, "cleared") == 0;
	struct wt_trap_fields f = {
		.kind = strcmp(ch, "raised") == 0 ? WT_TRAP_RAISED
			: cleared                 ? WT_TRAP_CLEARED
						  : WT_TRAP_CHANGED,
		.severity = cleared                                         ? 1
			    : strcmp(jstr(ev, "severity"), "critical") == 0 ? 3
									    : 2,
		.alarm_id = id,
		.device = jstr(ev, "device"),
		.entity = jstr(ev, "entity"),
		.metric = jstr(ev, "metric"),
		.value = value,
		.threshold = thr,
		.location = jstr(ev, "location"),
		.message = jstr(ev, "message"),
	};
	(void)row_id;
	return wt_trap_send(&n->o->pub.traps.receivers[idx], n->o->pub.traps.engine_id_hex, &f, err,
			    errlen);
}

static void audit_hook(struct wt_notify *n, const struct wt_hook *h, json_t *ev,
		       const struct wt_hook_result *res, int rc)
{
	json_t *d = json_object();
	json_object_set_new(d, "hook", json_string(h->name));
	json_object_set_new(d, "status", json_integer(res->status));
	json_object_set_new(d, "timed_out", json_boolean(res->timed_out));
	json_object_set_new(d, "elapsed_ms", json_integer(res->elapsed_ms));
	json_object_set_new(d, "output", json_string(res->output));
	json_object_set_new(d, "output_truncated", json_boolean(res->truncated));
	if (rc < 0)
		json_object_set_new(d, "error", json_string(strerror(-rc)));
	char *details = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	bool bad = rc < 0 || res->timed_out || (h->url ? res->status / 100 != 2 : res->status != 0);
	char msg[512], sevb[4], idb[24];
	if (rc < 0 && !h->url)
		snprintf(msg, sizeof(msg), "hook %s could not start: %s", h->name, strerror(-rc));
	else if (res->timed_out)
		snprintf(msg, sizeof(msg), "hook %s timed out after %d s and was killed", h->name,
			 h->timeout_s);
	else if (h->url)
		snprintf(msg, sizeof(msg), "webhook %s answered HTTP %d", h->name, res->status);
	else
		snprintf(msg, sizeof(msg), "hook %s exited with status %d", h->name, res->status);
	snprintf(sevb, sizeof(sevb), "%d", bad ? 4 : 2); /* error : info */
	snprintf(idb, sizeof(idb), "%lld",
		 (long long)json_integer_value(json_object_get(ev, "alarm_id")));
	const char *p[4] = {sevb, idb, msg, details};
	PGresult *r = query(
		n,
		"INSERT INTO audit_log (severity, state, category, object_kind, object_id,"
		" message, details) VALUES ($1::smallint, 2, 'alarm', 'alarm', $2, $3, $4)",
		4, p);
	PQclear(r);
	free(details);
}

static const char *const env_keys[][2] = {
	{"WATTRACK_ALARM_ID", "alarm_id"},
	{"WATTRACK_ALARM_CHANGE", "change"},
	{"WATTRACK_ALARM_KIND", "kind"},
	{"WATTRACK_ALARM_SEVERITY", "severity"},
	{"WATTRACK_ALARM_DEVICE", "device"},
	{"WATTRACK_ALARM_DEVICE_ID", "device_id"},
	{"WATTRACK_ALARM_DEVICE_TYPE", "device_type"},
	{"WATTRACK_ALARM_ENTITY", "entity"},
	{"WATTRACK_ALARM_METRIC", "metric"},
	{"WATTRACK_ALARM_VALUE", "value"},
	{"WATTRACK_ALARM_THRESHOLD", "threshold"},
	{"WATTRACK_ALARM_UNIT", "unit"},
	{"WATTRACK_ALARM_LOCATION", "location"},
	{"WATTRACK_ALARM_ROOM", "room"},
	{"WATTRACK_ALARM_ROW", "row"},
	{"WATTRACK_ALARM_RACK", "rack"},
	{"WATTRACK_ALARM_MESSAGE", "message"},
	{"WATTRACK_ALARM_RULE", "rule"},
	{"WATTRACK_ALARM_TIME_MS", "ts_ms"},
};
#define NENV (sizeof(env_keys) / sizeof(env_keys[0]))

static char *env_kv(const char *k, const char *v)
{
	size_t len = strlen(k) + strlen(v) + 2;
	char *s = malloc(len);
	if (s)
		snprintf(s, len, "%s=%s", k, v);
	return s;
}

static int send_hook(struct wt_notify *n, size_t idx, json_t *ev, long long row_id, char *err,
		     size_t errlen)
{
	const struct wt_hook *h = &n->o->pub.hooks[idx];
	struct wt_hook_result *res = malloc(sizeof(*res));
	if (!res)
		return -ENOMEM;
	int rc;
	if (h->url) {
		char *body = json_dumps(ev, JSON_COMPACT);
		rc = body ? wt_hook_post(h->url, body, h->timeout_s, res) : -ENOMEM;
		free(body);
		if (rc < 0)
			snprintf(err, errlen, "webhook: %s (HTTP %d)", res->output, res->status);
	} else {
		char *envs[NENV + 3];
		size_t ne = 0;
		for (size_t i = 0; i < NENV; i++) {
			json_t *v = json_object_get(ev, env_keys[i][1]);
			char val[64];
			const char *sv = NULL;
			if (json_is_string(v)) {
				sv = json_string_value(v);
			} else if (json_is_integer(v)) {
				snprintf(val, sizeof(val), "%lld",
					 (long long)json_integer_value(v));
				sv = val;
			} else if (json_is_number(v)) {
				snprintf(val, sizeof(val), "%.9g", json_number_value(v));
				sv = val;
			}
			if (sv && (envs[ne] = env_kv(env_keys[i][0], sv)))
				ne++;
		}
		char rid[24];
		snprintf(rid, sizeof(rid), "%lld", row_id);
		if ((envs[ne] = env_kv("WATTRACK_OUTBOX_ID", rid)))
			ne++;
		if ((envs[ne] = strdup(
			     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")))
			ne++;
		envs[ne] = NULL;
		rc = wt_hook_run(h->argv, (const char *const *)envs, h->timeout_s, res);
		for (size_t i = 0; i < ne; i++)
			free(envs[i]);
		if (rc < 0)
			snprintf(err, errlen, "cannot run %s: %s", h->argv[0], strerror(-rc));
	}
	audit_hook(n, h, ev, res, rc);
	if (rc == 0 && !h->url && (res->status != 0 || res->timed_out))
		wt_warn("notify: hook %s %s %d", h->name,
			res->timed_out ? "timed out, status" : "exited", res->status);
	free(res);
	/* A command that ran is done, whatever its status (it is audited):
	 * running a shutdown script twice is worse than reporting it failed. */
	return rc;
}

/* Claims due rows of one channel target and sends them one by one, each
 * result recorded in the claiming transaction; stops at the first failure
 * so order is kept and the target backs off. */
static void single_target(struct wt_notify *n, const char *channel, const char *target, size_t idx,
			  send_fn fn, struct target_state *ts, int64_t now)
{
	for (int round = 0; round < 100; round++) {
		if (now < ts->blocked_until)
			return;
		char nowb[24], lim[12];
		snprintf(nowb, sizeof(nowb), "%lld", (long long)now);
		snprintf(lim, sizeof(lim), "%d", SINGLE_CLAIM_MAX);
		if (!exec_ok(n, "BEGIN"))
			return;
		const char *p[4] = {channel, target, nowb, lim};
		PGresult *r = query(
			n,
			"SELECT id, event, attempts FROM notify_outbox WHERE channel = $1"
			" AND target = $2 AND state = 'pending' AND next_attempt_ms <= $3"
			" ORDER BY id LIMIT $4::int FOR UPDATE SKIP LOCKED",
			4, p);
		int nr = r ? PQntuples(r) : 0;
		bool failed = false;
		for (int i = 0; i < nr && !failed; i++) {
			long long id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
			json_t *ev = json_loads(PQgetvalue(r, i, 1), 0, NULL);
			int att = atoi_safe(PQgetvalue(r, i, 2));
			char err[512] = "", ids[32];
			snprintf(ids, sizeof(ids), "{%lld}", id);
			int rc = ev ? fn(n, idx, ev, id, err, sizeof(err)) : -EINVAL;
			if (!ev)
				snprintf(err, sizeof(err), "unreadable event");
			json_decref(ev);
			if (!record(n, ids, now, rc == 0 ? NULL : err, att, NULL)) {
				failed = true;
				break;
			}
			if (rc < 0) {
				failed = true;
				ts->blocked_until = now + backoff_ms(n->o, att + 1);
				wt_warn("notify: %s to %s failed, retrying later: %s", channel,
					target, err);
			}
		}
		PQclear(r);
		if (!exec_ok(n, "COMMIT")) {
			PGresult *rb = PQexec(n->pg, "ROLLBACK");
			PQclear(rb);
			return;
		}
		if (failed || nr < SINGLE_CLAIM_MAX)
			return;
	}
}

static void send_pass(struct wt_notify *n)
{
	if (!pg_ok(n))
		return;
	const struct wt_notify_opts *o = n->o;
	int64_t now = wt_clock_now(&n->clock);
	const struct wt_mail_options *m = &o->pub.mail;
	if (m->server && *m->server)
		for (size_t i = 0; i < m->nrecipients; i++) {
			mail_target(n, m->recipients[i].address, &n->mail_ts[i], now);
			report_target(n, &m->recipients[i], &n->report_ts[i], now);
		}
	if (o->pub.syslog.server && *o->pub.syslog.server)
		single_target(n, "syslog", o->syslog_target, 0, send_syslog, &n->syslog_ts, now);
	for (size_t i = 0; i < o->pub.traps.nreceivers; i++)
		single_target(n, "trap", o->trap_targets[i], i, send_trap, &n->trap_ts[i], now);
	for (size_t i = 0; i < o->pub.nhooks; i++)
		single_target(n, "hook", o->pub.hooks[i].name, i, send_hook, &n->hook_ts[i], now);
}

/* The outbox is history too: finished rows stay retention_days, then go
 * in bounded batches so one chore never holds locks for long. Hourly, by
 * the injected clock. */
static void expire_outbox(struct wt_notify *n, int64_t *last)
{
	int64_t now = wt_clock_now(&n->clock);
	if (n->o->pub.retention_days < 0 || (*last && now - *last < 3600 * 1000LL) || !pg_ok(n))
		return;
	*last = now;
	char cut[24];
	snprintf(cut, sizeof(cut), "%lld",
		 (long long)(now - (int64_t)n->o->pub.retention_days * 86400 * 1000));
	const char *p[1] = {cut};
	long total = 0;
	for (int i = 0; i < 100; i++) {
		PGresult *r = query(
			n,
			"DELETE FROM notify_outbox WHERE id IN (SELECT id FROM notify_outbox"
			" WHERE created_ms < $1 AND state <> 'pending' LIMIT 10000)",
			1, p);
		long k = r ? strtol(PQcmdTuples(r), NULL, 10) : 0;
		PQclear(r);
		total += k;
		if (k < 10000)
			break;
	}
	if (total)
		wt_info("notify: %ld outbox rows older than %d days deleted", total,
			n->o->pub.retention_days);
}

static void *notify_main(void *arg)
{
	struct wt_notify *n = arg;
	int64_t last_expiry = 0;
	pthread_mutex_lock(&n->lock);
	while (!n->stop) {
		uint64_t req = n->pass_req;
		n->kicked = false;
		n->pass_started = req;
		pthread_mutex_unlock(&n->lock);

		drain_queue(n);
		send_pass(n);
		expire_outbox(n, &last_expiry);

		pthread_mutex_lock(&n->lock);
		n->st.passes++;
		n->st.connected = n->pg && PQstatus(n->pg) == CONNECTION_OK;
		n->st.outboxed = n->tst.outboxed;
		n->st.sent = n->tst.sent;
		n->st.retried = n->tst.retried;
		n->st.failed = n->tst.failed;
		n->st.mails = n->tst.mails;
		n->pass_done = req;
		pthread_cond_broadcast(&n->done);
		if (n->stop || n->kicked || n->pass_req != req ||
		    (n->head && n->st.connected && !n->drain_failed))
			continue;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int ms = n->o->pub.poll_ms;
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (long)(ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&n->wake, &n->lock, &ts);
	}
	pthread_mutex_unlock(&n->lock);
	/* last chance for queued events, bounded by the drain deadline */
	while (n->head && mono_ms() < n->drain_deadline) {
		drain_queue(n);
		if (n->head)
			usleep(100000);
	}
	wt_syslog_close(n->syslog_conn);
	if (n->pg)
		PQfinish(n->pg);
	return NULL;
}

/* ---- public ------------------------------------------------------------ */

struct wt_notify *wt_notify_start(const struct wt_notify_options *o, const struct wt_clock *clock,
				  struct wt_alarms *alarms)
{
	struct wt_notify *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	if (wt_notify_opts_copy(&n->o, o) < 0) {
		free(n);
		return NULL;
	}
	n->clock = *clock;
	n->alarms = alarms;
	if (o->hostname && *o->hostname)
		snprintf(n->hostname, sizeof(n->hostname), "%s", o->hostname);
	else if (gethostname(n->hostname, sizeof(n->hostname) - 1) != 0)
		snprintf(n->hostname, sizeof(n->hostname), "wattrack");
	if (wt_tz_load(&n->tz, n->o->pub.mail.timezone) < 0) {
		wt_error("notify: unknown time zone \"%s\"", n->o->pub.mail.timezone);
		wt_notify_opts_free(n->o);
		free(n);
		return NULL;
	}
	n->mail_ts = calloc(n->o->pub.mail.nrecipients + 1, sizeof(struct target_state));
	n->report_ts = calloc(n->o->pub.mail.nrecipients + 1, sizeof(struct target_state));
	n->trap_ts = calloc(n->o->pub.traps.nreceivers + 1, sizeof(struct target_state));
	n->hook_ts = calloc(n->o->pub.nhooks + 1, sizeof(struct target_state));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (n->o->pub.traps.nreceivers)
		wt_traps_init();
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->wake, NULL);
	pthread_cond_init(&n->done, NULL);
	if (!n->mail_ts || !n->report_ts || !n->trap_ts || !n->hook_ts ||
	    (alarms && wt_alarms_subscribe(alarms, on_alarm, n) < 0) ||
	    pthread_create(&n->thread, NULL, notify_main, n) != 0) {
		wt_error("notify: cannot start");
		free(n->mail_ts);
		free(n->report_ts);
		free(n->trap_ts);
		free(n->hook_ts);
		wt_tz_free(&n->tz);
		wt_notify_opts_free(n->o);
		free(n);
		return NULL;
	}
	return n;
}

void wt_notify_set_structure(struct wt_notify *n, const struct wt_structure *s)
{
	n->structure = s;
}

void wt_notify_set_describe(struct wt_notify *n, wt_notify_describe_fn fn, void *ctx)
{
	n->describe = fn;
	n->describe_ctx = ctx;
}

int wt_notify_sync(struct wt_notify *n, int timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;
	pthread_mutex_lock(&n->lock);
	uint64_t want = ++n->pass_req;
	n->kicked = true;
	pthread_cond_signal(&n->wake);
	int rc = 0;
	while (n->pass_done < want || n->head) {
		if (n->pass_done >= want && n->head) {
			/* the database is away: ask for another pass */
			want = ++n->pass_req;
			n->kicked = true;
			pthread_cond_signal(&n->wake);
		}
		int64_t left = end - mono_ms();
		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t w = left < 100 ? left : 100;
		ts.tv_nsec += (long)(w * 1000000);
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&n->done, &n->lock, &ts);
	}
	pthread_mutex_unlock(&n->lock);
	return rc;
}

void wt_notify_stats(struct wt_notify *n, struct wt_notify_stats *out)
{
	pthread_mutex_lock(&n->lock);
	*out = n->st;
	out->depth = n->depth;
	pthread_mutex_unlock(&n->lock);
}

void wt_notify_stop(struct wt_notify *n, int drain_ms)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	n->drain_deadline = mono_ms() + drain_ms;
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	for (struct qev *q = n->head, *nx; q; q = nx) {
		nx = q->next;
		json_decref(q->ev);
		free(q);
	}
	if (n->depth)
		wt_warn("notify: %zu alarm changes were never written to the outbox", n->depth);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->wake);
	pthread_cond_destroy(&n->done);
	free(n->mail_ts);
	free(n->report_ts);
	free(n->trap_ts);
	free(n->hook_ts);
	wt_tz_free(&n->tz);
	wt_notify_opts_free(n->o);
	free(n);
}

int wt_notify_test_mail(const struct wt_mail_options *m, const char *hostname, const char *to,
			char *errbuf, size_t errlen)
{
	char host[256];
	if (hostname && *hostname)
		snprintf(host, sizeof(host), "%s", hostname);
	else if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "wattrack");
	host[sizeof(host) - 1] = '\0';
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	char mid[320], subject[256], text[512];
	snprintf(mid, sizeof(mid), "wattrack.test.%lld@%s", (long long)now, host);
	snprintf(subject, sizeof(subject), "%s: test e-mail",
		 m->subject && *m->subject ? m->subject : "wattrack");
	snprintf(text, sizeof(text),
		 "This is a test e-mail from wattrack on %s.\n"
		 "If you can read this, alarm notifications will reach you.\n",
		 host);
	struct wt_mail_msg mm = {.from = m->sender,
				 .to = to,
				 .subject = subject,
				 .message_id = mid,
				 .date_ms = now,
				 .text = text};
	struct nbuf msg = {0};
	int rc = wt_mail_format(&msg, &mm);
	if (rc == 0)
		rc = wt_mail_send(m, to, msg.s, msg.len, errbuf, errlen);
	else
		snprintf(errbuf, errlen, "out of memory");
	nbuf_free(&msg);
	return rc;
}
