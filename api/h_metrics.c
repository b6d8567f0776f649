/* /metrics (Prometheus text format 0.0.4) and /api/v1/health/detail: the
 * server's own health (polls, failures, queue depths, spool, write latency)
 * read on the loop from the layers; with the metrics_readings setting also
 * the latest reading of every device series (read on the worker). */
#include "db.h"
#include "log.h"
#include "request.h"
#include "stream.h"

#include "config.h"
#include "pollers/sched.h"
#include "rules/alarm.h"
#include "rules/engine.h"
#include "storage/query.h"
#include "storage/storage.h"

#include <errno.h>
#include <event2/buffer.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The exposition text is built in an evbuffer, which the reply hands to the
 * connection without a copy (a scrape with readings is tens of MB); oom
 * remembers a failed append. */
struct tbuf {
	struct evbuffer *b;
	bool oom;
};

static void tb_printf(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(struct tbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (evbuffer_add_vprintf(b->b, fmt, ap) < 0)
		b->oom = true;
	va_end(ap);
}

/* Hands the text to r as its reply, or fails r with 503 if an append failed. */
static void tb_reply(struct wt_api_req *r, struct tbuf *b)
{
	if (b->oom) {
		if (b->b)
			evbuffer_free(b->b);
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	wt_api_ok_buffer(r, b->b, "text/plain; version=0.0.4; charset=utf-8", NULL);
}

static void metric(struct tbuf *b, const char *name, const char *type, const char *help, double v)
{
	tb_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

/* A label value with \, " and newlines escaped as the format requires
 * (device and entity names come from devices and users). */
static void label_value(struct tbuf *b, const char *s)
{
	/* plain runs in one append, each special character as its escape */
	while (!b->oom && *s) {
		size_t n = strcspn(s, "\\\"\n");
		if (n && evbuffer_add(b->b, s, n) < 0)
			b->oom = true;
		s += n;
		if (!*s || b->oom)
			break;
		const char *esc = *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\";
		if (evbuffer_add(b->b, esc, 2) < 0)
			b->oom = true;
		s++;
	}
}

/* The Prometheus base-unit suffix of a canonical unit (server/model.c), ""
 * for none. */
static const char *prom_unit(const char *u)
{
	static const char *const map[][2] = {
		{"V", "_volts"},
		{"A", "_amperes"},
		{"W", "_watts"},
		{"VA", "_voltamperes"},
		{"var", "_voltamperes_reactive"},
		{"Hz", "_hertz"},
		{"%", "_percent"},
		{"%RH", "_percent"},
		{"deg", "_degrees"},
		{"Cel", "_celsius"},
		{"s", "_seconds"},
		{"Wh", "_watt_hours"},
		{"VAh", "_voltampere_hours"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(u, map[i][0]) == 0)
			return map[i][1];
	return "";
}

/* wattrack_reading_<metric><unit>, with anything outside [a-zA-Z0-9_] made
 * '_' (the names come from the metrics table). */
static void reading_name(char *out, size_t size, const char *metric, const char *unit)
{
	snprintf(out, size, "wattrack_reading_%s%s", metric, prom_unit(unit));
	for (char *p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			*p = '_';
}

static void sample_value(struct tbuf *b, double v)
{
	if (isinf(v))
		tb_printf(b, v > 0 ? "+Inf\n" : "-Inf\n");
	else
		tb_printf(b, "%.15g\n", v);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double mono_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Series per call of wt_query_latest (a look at memory under the storage
 * lock, then one query). */
#define LATEST_SLICE 16384
/* How far back a value still counts as the latest. */
#define LATEST_AGE_MS 120000

/* The latest 5 s average of each of ids[0..n) (ascending, distinct) into
 * v[i], NAN when there is none in LATEST_AGE_MS: storage's
 * wt_query_latest (memory first, then the newest database row of the
 * others), in slices. Worker. 0 or a negative errno. */
static int latest_values(struct wt_api_req *r, const uint32_t *ids, size_t n, double *v)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t to = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + WT_BUCKET_MS;
	int64_t from = to - WT_BUCKET_MS - LATEST_AGE_MS;
	struct wt_point *pts = malloc(LATEST_SLICE * sizeof(*pts));
	int rc = pts ? 0 : -ENOMEM;
	for (size_t off = 0; rc == 0 && off < n; off += LATEST_SLICE) {
		size_t k = n - off < LATEST_SLICE ? n - off : LATEST_SLICE;
		rc = wt_query_latest(r->db, r->layers.storage, ids + off, k, from, to, pts);
		for (size_t i = 0; rc == 0 && i < k; i++)
			v[off + i] = pts[i].count ? pts[i].avg : NAN;
	}
	free(pts);
	return rc;
}

/* One exported series, in output order. */
struct out_row {
	uint32_t series;
	int16_t metric;
	int32_t device;
	int row; /* in the series result */
	const char *kind;
	int32_t idx;
};

static int cmp_out(const void *a, const void *b)
{
	const struct out_row *x = a, *y = b;
	if (x->metric != y->metric)
		return x->metric < y->metric ? -1 : 1;
	if (x->device != y->device)
		return x->device < y->device ? -1 : 1;
	int c = strcmp(x->kind, y->kind);
	if (c)
		return c;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return cmp_u32(&x->series, &y->series);
}

struct dev_name {
	int32_t id;
	const char *name;
};

static int cmp_dev(const void *a, const void *b)
{
	const struct dev_name *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* The metric table: names, units and whether it is a counter, by id. */
struct metric_row {
	const char *name, *unit;
	bool counter;
};
#define METRIC_IDS 1024

/* The latest reading of every device series (counters excepted: their 5 s
 * points are deltas), one gauge family per metric. Worker. Returns the
 * number of samples written or a negative errno (-EIO: the database). The
 * three reads are separate so the big one carries no repeated names. */
static long readings(struct wt_api_req *r, struct tbuf *b)
{
	char st[6];
	double t0 = mono_s();
	PGresult *rm = wt_api_db_exec(r->db, "SELECT id, name, unit, flags FROM metrics", 0, NULL,
				      st);
	PGresult *rd = rm ? wt_api_db_exec(r->db, "SELECT id, name FROM devices", 0, NULL, st)
			  : NULL;
	PGresult *rs = rd ? wt_api_db_exec(
				    r->db,
				    "SELECT s.id, s.metric, e.device_id, e.kind, e.idx, e.name"
				    " FROM series s JOIN entities e ON e.id = s.entity_id",
				    0, NULL, st)
			  : NULL;
	struct metric_row *mt = calloc(METRIC_IDS, sizeof(*mt));
	size_t nd = rd ? (size_t)PQntuples(rd) : 0, ns = rs ? (size_t)PQntuples(rs) : 0, no = 0;
	struct dev_name *dn = malloc((nd + 1) * sizeof(*dn));
	struct out_row *o = malloc((ns + 1) * sizeof(*o));
	uint32_t *ids = malloc((ns + 1) * sizeof(*ids));
	double *v = malloc((ns + 1) * sizeof(*v));
	long rc = !rs ? -EIO : mt && dn && o && ids && v ? 0 : -ENOMEM;
	for (int i = 0; rc == 0 && i < PQntuples(rm); i++) {
		long id = strtol(PQgetvalue(rm, i, 0), NULL, 10);
		if (id >= 0 && id < METRIC_IDS)
			mt[id] = (struct metric_row){PQgetvalue(rm, i, 1), PQgetvalue(rm, i, 2),
						     (strtol(PQgetvalue(rm, i, 3), NULL, 10) & 1) !=
							     0};
	}
	for (size_t i = 0; rc == 0 && i < nd; i++)
		dn[i] = (struct dev_name){(int32_t)strtol(PQgetvalue(rd, (int)i, 0), NULL, 10),
					  PQgetvalue(rd, (int)i, 1)};
	if (rc == 0)
		qsort(dn, nd, sizeof(*dn), cmp_dev);
	for (size_t i = 0; rc == 0 && i < ns; i++) {
		long m = strtol(PQgetvalue(rs, (int)i, 1), NULL, 10);
		if (m < 0 || m >= METRIC_IDS || !mt[m].name || mt[m].counter)
			continue;
		o[no] = (struct out_row){(uint32_t)strtoul(PQgetvalue(rs, (int)i, 0), NULL, 10),
					 (int16_t)m,
					 (int32_t)strtol(PQgetvalue(rs, (int)i, 2), NULL, 10),
					 (int)i,
					 PQgetvalue(rs, (int)i, 3),
					 (int32_t)strtol(PQgetvalue(rs, (int)i, 4), NULL, 10)};
		ids[no] = o[no].series;
		no++;
	}
	double t1 = mono_s();
	if (rc == 0) {
		qsort(ids, no, sizeof(*ids), cmp_u32);
		rc = latest_values(r, ids, no, v);
		qsort(o, no, sizeof(*o), cmp_out);
	}
	double t2 = mono_s();
	char name[128] = "";
	int16_t last = -1;
	long written = 0;
	for (size_t i = 0; rc == 0 && i < no && !b->oom; i++) {
		const uint32_t *hit = bsearch(&o[i].series, ids, no, sizeof(*ids), cmp_u32);
		double x = hit ? v[hit - ids] : NAN;
		struct dev_name key = {o[i].device, NULL};
		const struct dev_name *d = bsearch(&key, dn, nd, sizeof(*dn), cmp_dev);
		if (isnan(x) || !d)
			continue; /* nothing in two minutes (stale), or the device just went */
		const struct metric_row *m = &mt[o[i].metric];
		if (o[i].metric != last) {
			reading_name(name, sizeof(name), m->name, m->unit);
			tb_printf(b, "# HELP %s Latest 5 s average of %s (%s)\n# TYPE %s gauge\n",
				  name, m->name, *m->unit ? m->unit : "no unit", name);
			last = o[i].metric;
		}
		tb_printf(b, "%s{device_id=\"%d\",device=\"", name, (int)o[i].device);
		label_value(b, d->name);
		tb_printf(b, "\",entity=\"");
		label_value(b, o[i].kind);
		tb_printf(b, "\",index=\"%d\",name=\"", (int)o[i].idx);
		label_value(b, PQgetvalue(rs, o[i].row, 5));
		tb_printf(b, "\"} ");
		sample_value(b, x);
		written++;
	}
	wt_debug("api: /metrics: %zu series listed in %.3f s, their values read in %.3f s, %ld "
		 "written in %.3f s",
		 no, t1 - t0, t2 - t1, written, mono_s() - t2);
	free(mt);
	free(dn);
	free(o);
	free(ids);
	free(v);
	PQclear(rm);
	PQclear(rd);
	PQclear(rs);
	if (rc < 0)
		return rc;
	return b->oom ? -ENOMEM : written;
}

/* Worker: counts from PostgreSQL, and the readings when enabled, as the
 * start of the text; the loop half adds the layers' own figures. */
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
	struct tbuf b = {evbuffer_new(), false};
	b.oom = !b.b;
	metric(&b, "wattrack_devices", "gauge", "Devices configured",
	       strtod(PQgetvalue(res, 0, 0), NULL));
	metric(&b, "wattrack_alarms_active", "gauge", "Active alarms",
	       strtod(PQgetvalue(res, 0, 1), NULL));
	metric(&b, "wattrack_alarms_unacknowledged", "gauge", "Active alarms not acknowledged",
	       strtod(PQgetvalue(res, 0, 2), NULL));
	PQclear(res);
	if (r->layers.metrics_readings) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		long n = readings(r, &b);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (n == -EIO) {
			if (b.b)
				evbuffer_free(b.b);
			wt_api_fail_db(r, "reading the latest values");
			return;
		}
		if (n < 0)
			b.oom = true;
		double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		metric(&b, "wattrack_metrics_readings", "gauge",
		       "Series exported by this scrape (a value in the last two minutes)",
		       n < 0 ? 0 : (double)n);
		metric(&b, "wattrack_metrics_readings_seconds", "gauge",
		       "Time this scrape spent reading the latest values", s);
		wt_debug("api: /metrics: %ld readings, %zu bytes in %.3f s", n,
			 b.b ? evbuffer_get_length(b.b) : 0, s);
	}
	tb_reply(r, &b);
}

/* Loop: the layers' own statistics, after the worker's text. */
void wt_h_metrics_after(struct wt_api_req *r)
{
	/* Taken over: the loop's figures are appended to the worker's text. */
	struct tbuf b = {r->text ? r->text : evbuffer_new(), false};
	b.oom = !b.b;
	r->text = NULL;
	const struct wt_api_layers *l = &r->layers;
	metric(&b, "wattrack_up", "gauge", "1 while the server answers", 1);
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
	struct wt_streams_stats ss;
	wt_streams_stats(wt_api_streams(r->api), &ss);
	metric(&b, "wattrack_api_streams", "gauge", "Live event streams open", (double)ss.clients);
	metric(&b, "wattrack_api_stream_queued_events", "gauge",
	       "Stream events waiting in the clients' queues", (double)ss.queued_events);
	metric(&b, "wattrack_api_stream_backlog_bytes", "gauge",
	       "Stream bytes written but not yet taken by the clients' sockets",
	       (double)ss.backlog_bytes);
	metric(&b, "wattrack_api_stream_events_lost_total", "counter",
	       "Stream events dropped for clients that did not keep up", (double)ss.lost_total);
	if (l->sched) {
		struct wt_sched_stats s;
		wt_sched_stats(l->sched, &s);
		metric(&b, "wattrack_polls_total", "counter", "Device polls started",
		       (double)s.polls);
		metric(&b, "wattrack_polls_ok_total", "counter", "Polls that gave readings",
		       (double)s.ok);
		metric(&b, "wattrack_polls_failed_total", "counter", "Polls that failed",
		       (double)s.failed);
		metric(&b, "wattrack_polls_missed_total", "counter",
		       "Polls due while the previous one still ran", (double)s.missed);
		metric(&b, "wattrack_poll_late_max_seconds", "gauge",
		       "Worst start lateness of a healthy device", (double)s.late_ms_max / 1000.0);
	}
	if (l->storage) {
		struct wt_storage_health s;
		wt_storage_health(l->storage, &s);
		metric(&b, "wattrack_storage_db_connected", "gauge",
		       "1 when the writer's database connection is up", s.db_connected);
		metric(&b, "wattrack_storage_spool_healthy", "gauge",
		       "0 when the spool hit its cap", s.spool_healthy);
		metric(&b, "wattrack_storage_spool_bytes", "gauge",
		       "Bytes waiting in the on-disk spool", (double)s.spool_bytes);
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
		metric(&b, "wattrack_storage_batches_spooled_total", "counter",
		       "Batches sent to the spool", (double)s.batches_spooled);
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
	tb_reply(r, &b);
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
				  (json_int_t)s.spool_bytes, "spool_files",
				  (json_int_t)s.spool_files, "rows_written",
				  (json_int_t)s.rows_written, "samples_written",
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
					      "ok", (json_int_t)s.ok, "failed",
					      (json_int_t)s.failed, "missed", (json_int_t)s.missed,
					      "late_ms_max", (json_int_t)s.late_ms_max));
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
