/* /metrics (Prometheus text format 0.0.4) and /api/v1/health/detail: the
 * server's own health (polls, failures, queue depths, spool, write latency)
 * read on the loop from the layers; with the metrics_readings setting also
 * the latest reading of every device series (read on the worker). */
#include "db.h"
#include "request.h"

#include "pollers/sched.h"
#include "rules/alarm.h"
#include "rules/engine.h"
#include "storage/storage.h"
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void tb_printf(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(struct tbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 8192;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

static void metric(struct tbuf *b, const char *name, const char *type, const char *help, double v)
{
	tb_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

/* A label value with \, " and newlines escaped as the format requires. */
static void label_value(struct tbuf *b, const char *s)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\\' || *p == '"')
			tb_printf(b, "\\%c", *p);
		else if (*p == '\n')
			tb_printf(b, "\\n");
		else
			tb_printf(b, "%c", *p);
	}
}

/* Worker: counts from PostgreSQL, and the readings when enabled. The
 * reply is an intermediate JSON object the loop half turns into text. */
void wt_h_metrics(struct wt_api_req *r)
{
	char st[6];
	PGresult *res = wt_api_db_exec(r->db,
				       "SELECT (SELECT count(*) FROM devices),"
				       " (SELECT count(*) FROM alarms WHERE active),"
				       " (SELECT count(*) FROM alarms WHERE active AND NOT acked)",
				       0, NULL, st);
	if (!res) {
		wt_api_fail_db(r, "counting devices and alarms");
		return;
	}
	json_t *j = json_pack("{s:I,s:I,s:I}", "devices", (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10),
			      "alarms_active", (json_int_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10),
			      "alarms_unacked", (json_int_t)strtoll(PQgetvalue(res, 0, 2), NULL, 10));
	PQclear(res);
	if (r->layers.metrics_readings) {
		res = wt_api_db_exec(r->db,
				     "SELECT s.id, m.name, m.unit, d.id, d.name, e.kind, e.idx, e.name"
				     " FROM series s JOIN metrics m ON m.id = s.metric"
				     " JOIN entities e ON e.id = s.entity_id JOIN devices d ON d.id = e.device_id"
				     " ORDER BY m.name, s.id",
				     0, NULL, st);
		if (!res) {
			json_decref(j);
			wt_api_fail_db(r, "listing series");
			return;
		}
		int n = PQntuples(res);
		uint32_t *ids = calloc((size_t)n + 1, sizeof(*ids));
		double *v = calloc((size_t)n + 1, sizeof(*v));
		int64_t *ts = calloc((size_t)n + 1, sizeof(*ts));
		if (ids && v && ts) {
			for (int i = 0; i < n; i++)
				ids[i] = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
			if (wt_api_latest(r, ids, (size_t)n, v, ts) == 0) {
				json_t *a = json_array();
				for (int i = 0; i < n; i++)
					if (v[i] == v[i])
						json_array_append_new(
							a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:f}", "metric",
								     PQgetvalue(res, i, 1), "unit", PQgetvalue(res, i, 2),
								     "device_id", PQgetvalue(res, i, 3), "device",
								     PQgetvalue(res, i, 4), "kind", PQgetvalue(res, i, 5),
								     "index", PQgetvalue(res, i, 6), "name",
								     PQgetvalue(res, i, 7), "value", v[i]));
				json_object_set_new(j, "readings", a);
			}
		}
		free(ids);
		free(v);
		free(ts);
		PQclear(res);
	}
	wt_api_ok(r, 200, j);
}

static const char *prom_unit(const char *u)
{
	if (strcmp(u, "V") == 0)
		return "volts";
	if (strcmp(u, "A") == 0)
		return "amperes";
	if (strcmp(u, "W") == 0)
		return "watts";
	if (strcmp(u, "Hz") == 0)
		return "hertz";
	if (strcmp(u, "Wh") == 0)
		return "watt_hours";
	return NULL;
}

/* Loop: the layers' own statistics, then the text. */
void wt_h_metrics_after(struct wt_api_req *r)
{
	struct tbuf b = {0};
	json_t *j = r->reply;
	const struct wt_api_layers *l = &r->layers;
	metric(&b, "wattrack_up", "gauge", "1 while the server answers", 1);
	metric(&b, "wattrack_devices", "gauge", "Devices configured",
	       (double)json_integer_value(json_object_get(j, "devices")));
	metric(&b, "wattrack_alarms_active", "gauge", "Active alarms",
	       (double)json_integer_value(json_object_get(j, "alarms_active")));
	metric(&b, "wattrack_alarms_unacknowledged", "gauge", "Active alarms not acknowledged",
	       (double)json_integer_value(json_object_get(j, "alarms_unacked")));
	json_t *h = wt_api_health_json(r->api);
	json_t *w = json_object_get(h, "workers");
	metric(&b, "wattrack_api_workers_queued", "gauge", "API jobs waiting for a worker",
	       (double)json_integer_value(json_object_get(w, "queued")));
	metric(&b, "wattrack_api_workers_running", "gauge", "API jobs on a worker",
	       (double)json_integer_value(json_object_get(w, "running")));
	metric(&b, "wattrack_api_rejected_total", "counter", "API requests refused as overloaded",
	       (double)json_integer_value(json_object_get(w, "rejected")));
	metric(&b, "wattrack_uptime_seconds", "gauge", "Seconds since the API started",
	       (double)json_integer_value(json_object_get(h, "uptime_s")));
	json_decref(h);
	if (l->sched) {
		struct wt_sched_stats s;
		wt_sched_stats(l->sched, &s);
		metric(&b, "wattrack_polls_total", "counter", "Device polls started", (double)s.polls);
		metric(&b, "wattrack_polls_ok_total", "counter", "Polls that gave readings", (double)s.ok);
		metric(&b, "wattrack_polls_failed_total", "counter", "Polls that failed", (double)s.failed);
		metric(&b, "wattrack_polls_missed_total", "counter",
		       "Polls due while the previous one still ran", (double)s.missed);
		metric(&b, "wattrack_poll_late_max_seconds", "gauge",
		       "Worst start lateness of a healthy device", (double)s.late_ms_max / 1000.0);
	}
	if (l->storage) {
		struct wt_storage_health s;
		wt_storage_health(l->storage, &s);
		metric(&b, "wattrack_storage_db_connected", "gauge", "1 when the writer's database connection is up",
		       s.db_connected);
		metric(&b, "wattrack_storage_spool_healthy", "gauge", "0 when the spool hit its cap",
		       s.spool_healthy);
		metric(&b, "wattrack_storage_spool_bytes", "gauge", "Bytes waiting in the on-disk spool",
		       (double)s.spool_bytes);
		metric(&b, "wattrack_storage_spool_files", "gauge", "Files in the on-disk spool",
		       (double)s.spool_files);
		metric(&b, "wattrack_storage_rows_written_total", "counter", "Rows committed",
		       (double)s.rows_written);
		metric(&b, "wattrack_storage_samples_written_total", "counter",
		       "Buckets and aggregates committed", (double)s.samples_written);
		metric(&b, "wattrack_storage_samples_dropped_total", "counter",
		       "Samples refused by a full spool", (double)s.samples_dropped);
		metric(&b, "wattrack_storage_samples_rejected_total", "counter",
		       "Samples refused by PostgreSQL", (double)s.samples_rejected);
		metric(&b, "wattrack_storage_batches_spooled_total", "counter", "Batches sent to the spool",
		       (double)s.batches_spooled);
		metric(&b, "wattrack_storage_write_latency_seconds", "gauge",
		       "Write time of the last batch", s.last_flush_ms / 1000.0);
	}
	if (l->rules) {
		const struct wt_rules_stats *s = wt_rules_stats(l->rules);
		if (s) {
			metric(&b, "wattrack_rules_evaluations_total", "counter",
			       "Buckets evaluated against a rule", (double)s->evaluations);
			metric(&b, "wattrack_rules_last_close_seconds", "gauge",
			       "Wall time of the last bucket close", s->last_close_ms / 1000.0);
		}
	}
	json_t *rd = json_object_get(j, "readings");
	char last[96] = "";
	size_t i;
	json_t *x;
	json_array_foreach(rd, i, x) {
		const char *m = json_string_value(json_object_get(x, "metric"));
		const char *u = prom_unit(json_string_value(json_object_get(x, "unit")));
		char name[96];
		snprintf(name, sizeof(name), "wattrack_reading_%s%s%s", m, u ? "_" : "", u ? u : "");
		if (strcmp(name, last) != 0) {
			tb_printf(&b, "# HELP %s Latest %s reading\n# TYPE %s gauge\n", name, m, name);
			snprintf(last, sizeof(last), "%s", name);
		}
		tb_printf(&b, "%s{device_id=\"%s\",device=\"", name,
			  json_string_value(json_object_get(x, "device_id")));
		label_value(&b, json_string_value(json_object_get(x, "device")));
		tb_printf(&b, "\",kind=\"%s\",index=\"%s\",name=\"",
			  json_string_value(json_object_get(x, "kind")),
			  json_string_value(json_object_get(x, "index")));
		label_value(&b, json_string_value(json_object_get(x, "name")));
		tb_printf(&b, "\"} %.17g\n", json_real_value(json_object_get(x, "value")));
	}
	if (b.oom) {
		free(b.p);
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	wt_api_ok_text(r, b.p ? b.p : strdup(""), b.len, "text/plain; version=0.0.4; charset=utf-8",
		       NULL);
}

/* GET /api/v1/health/detail: the same figures as JSON. */
void wt_h_health_detail(struct wt_api_req *r)
{
	(void)r; /* authentication is all the worker does */
	wt_api_ok(r, 200, json_object());
}

void wt_h_health_detail_after(struct wt_api_req *r)
{
	const struct wt_api_layers *l = &r->layers;
	json_t *j = wt_api_health_json(r->api);
	json_t *sub = json_object();
	json_object_set_new(sub, "storage", json_boolean(l->storage != NULL));
	json_object_set_new(sub, "rules", json_boolean(l->rules != NULL));
	json_object_set_new(sub, "scheduler", json_boolean(l->sched != NULL));
	json_object_set_new(sub, "control", json_boolean(l->control != NULL));
	json_object_set_new(j, "subsystems", sub);
	if (l->storage) {
		struct wt_storage_health s;
		wt_storage_health(l->storage, &s);
		json_object_set_new(
			j, "storage",
			json_pack("{s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}", "db_connected",
				  s.db_connected, "spool_healthy", s.spool_healthy, "spool_bytes",
				  (json_int_t)s.spool_bytes, "spool_files", (json_int_t)s.spool_files,
				  "rows_written", (json_int_t)s.rows_written, "samples_written",
				  (json_int_t)s.samples_written, "samples_dropped",
				  (json_int_t)s.samples_dropped, "samples_rejected",
				  (json_int_t)s.samples_rejected, "batches_spooled",
				  (json_int_t)s.batches_spooled, "last_flush_ms", s.last_flush_ms));
		if (!s.db_connected || !s.spool_healthy)
			json_object_set_new(j, "status", json_string("degraded"));
	}
	if (l->sched) {
		struct wt_sched_stats s;
		wt_sched_stats(l->sched, &s);
		json_object_set_new(j, "scheduler",
				    json_pack("{s:I,s:I,s:I,s:I,s:I}", "polls", (json_int_t)s.polls,
					      "ok", (json_int_t)s.ok, "failed", (json_int_t)s.failed,
					      "missed", (json_int_t)s.missed, "late_ms_max",
					      (json_int_t)s.late_ms_max));
	}
	wt_api_ok(r, 200, j);
}

/* GET /api/v1/settings: every setting with its effective value (secrets and
 * connection passwords masked), its default, whether SIGHUP applies it,
 * and its one-line description. Read on the loop, where the daemon keeps
 * its configuration. */
void wt_h_settings(struct wt_api_req *r)
{
	if (!wt_api_need(r, r->layers.config, "configuration"))
		wt_api_ok(r, 200, json_object());
}

void wt_h_settings_after(struct wt_api_req *r)
{
	const struct wt_config *cfg = r->layers.config;
	if (wt_api_need(r, cfg, "configuration"))
		return;
	size_t n = 0;
	const struct wt_setting *t = wt_config_settings(&n);
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		char v[1024];
		wt_config_format(cfg, &t[i], true, v, sizeof(v));
		json_array_append_new(
			a, json_pack("{s:s,s:s,s:s?,s:b,s:b,s:s?}", "name", t[i].name, "value", v,
				     "default", (t[i].flags & WT_SF_SECRET) ? NULL : t[i].def,
				     "reloadable", (t[i].flags & WT_SF_RELOAD) != 0, "secret",
				     (t[i].flags & WT_SF_SECRET) != 0, "doc", t[i].doc));
	}
	wt_api_ok(r, 200, json_pack("{s:o}", "settings", a));
}
