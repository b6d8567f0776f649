/* /api/v1/readings: time series for one or many series over a range, at a
 * resolution or within a point budget, as JSON or CSV; and the CSV export
 * of the device, alarm and audit lists (the JSON list handlers' output,
 * flattened, so both views always agree). */
#include "db.h"
#include "qparam.h"
#include "reply.h"
#include "request.h"

#include "storage/query.h"

#include <errno.h>
#include <event2/buffer.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SERIES 256

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *level_name(enum wt_level l)
{
	return l == WT_LEVEL_5S ? "5s" : l == WT_LEVEL_HOUR ? "hour" : "day";
}

/* The parsed query; false after failing r. */
struct rq {
	uint32_t ids[MAX_SERIES];
	size_t n;
	int64_t from, to;
	int level;
	size_t budget;
};

static bool parse_request(struct wt_api_req *r, struct rq *q)
{
	char list[4096], res[8] = "auto", range[8] = "";
	int64_t now = now_ms(), budget;
	if (!wt_qp_get(r->query, "series", list, sizeof(list)) || !list[0]) {
		wt_api_fail(r, 400, "INVALID_QUERY",
			    "parameter \"series\": one or more series ids, comma-separated");
		return false;
	}
	q->n = 0;
	for (char *p = list; *p;) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || v == 0 || v > UINT32_MAX || (*end && *end != ',')) {
			wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"series\": \"%.40s\" is not a series id", p);
			return false;
		}
		if (q->n == MAX_SERIES) {
			wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"series\": at most %d series", MAX_SERIES);
			return false;
		}
		q->ids[q->n++] = (uint32_t)v;
		p = *end ? end + 1 : end;
	}
	/* Ranges the console offers: real time, 4 h, 3 d, 1 w, 1 m, 1 y. */
	int64_t span = 4 * 3600000LL;
	if (wt_qp_get(r->query, "range", range, sizeof(range))) {
		static const struct {
			const char *name;
			int64_t ms;
		} ranges[] = {{"rt", 900000LL},       {"4h", 4 * 3600000LL},   {"3d", 3 * 86400000LL},
			      {"1w", 7 * 86400000LL}, {"1m", 30 * 86400000LL}, {"1y", 365 * 86400000LL}};
		span = 0;
		for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
			if (strcmp(range, ranges[i].name) == 0)
				span = ranges[i].ms;
		if (!span) {
			wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"range\": expected rt, 4h, 3d, 1w, 1m or 1y");
			return false;
		}
	}
	if (wt_qp_time(r->query, "to", now, now + 5000, &q->to) < 0 ||
	    wt_qp_time(r->query, "from", now, q->to - span, &q->from) < 0) {
		wt_api_fail(r, 400, "INVALID_QUERY",
			    "parameters \"from\"/\"to\": Unix ms, YYYY-MM-DDTHH:MM:SSZ or now-<n><s|m|h|d|w|M|y>");
		return false;
	}
	if (q->from >= q->to || q->to - q->from > 20 * 365 * 86400000LL) {
		wt_api_fail(r, 400, "INVALID_QUERY", "\"from\" must be before \"to\", at most 20 years apart");
		return false;
	}
	wt_qp_get(r->query, "resolution", res, sizeof(res));
	if (strcmp(res, "5s") == 0)
		q->level = WT_LEVEL_5S;
	else if (strcmp(res, "hour") == 0)
		q->level = WT_LEVEL_HOUR;
	else if (strcmp(res, "day") == 0)
		q->level = WT_LEVEL_DAY;
	else if (strcmp(res, "auto") == 0)
		q->level = WT_QUERY_AUTO;
	else {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"resolution\": expected 5s, hour, day or auto");
		return false;
	}
	if (wt_qp_int(r->query, "points", 10, 100000, 3000, &budget) < 0) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"points\": 10 to 100000");
		return false;
	}
	q->budget = (size_t)budget;
	/* A fixed 5 s level over a long range would be millions of points. */
	if (q->level == WT_LEVEL_5S && (q->to - q->from) / 5000 > 200000) {
		wt_api_fail(r, 400, "INVALID_QUERY",
			    "5 s resolution is limited to 200000 points per series; use hour or auto");
		return false;
	}
	return true;
}

/* Names the first unknown series; true when all exist. */
static bool series_exist(struct wt_api_req *r, const struct rq *q, json_t **meta)
{
	char arr[MAX_SERIES * 11 + 4], st[6];
	size_t off = 0;
	arr[off++] = '{';
	for (size_t i = 0; i < q->n; i++)
		off += (size_t)snprintf(arr + off, sizeof(arr) - off, "%s%u", i ? "," : "", q->ids[i]);
	snprintf(arr + off, sizeof(arr) - off, "}");
	const char *p[] = {arr};
	PGresult *res = wt_api_db_exec(
		r->db,
		"SELECT u.id, s.id IS NOT NULL, m.name, m.unit, e.device_id, e.kind, e.idx, e.name,"
		" s.owner_kind, s.owner_id, s.agg_phase, s.agg_feed"
		" FROM unnest($1::int[]) WITH ORDINALITY u(id, o) LEFT JOIN series s ON s.id = u.id"
		" LEFT JOIN metrics m ON m.id = s.metric LEFT JOIN entities e ON e.id = s.entity_id"
		" ORDER BY u.o",
		1, p, st);
	if (!res) {
		wt_api_fail_db(r, "looking up the series");
		return false;
	}
	*meta = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 1), "t") != 0) {
			wt_api_fail(r, 404, "SERIES_NOT_FOUND", "series %s does not exist", PQgetvalue(res, i, 0));
			PQclear(res);
			json_decref(*meta);
			*meta = NULL;
			return false;
		}
		json_t *m = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10),
				      "metric", PQgetvalue(res, i, 2), "unit", PQgetvalue(res, i, 3));
		if (!PQgetisnull(res, i, 4))
			json_object_set_new(m, "entity", json_pack("{s:I,s:s,s:I,s:s}", "device_id",
					    (json_int_t)strtoll(PQgetvalue(res, i, 4), NULL, 10), "kind",
					    PQgetvalue(res, i, 5), "index",
					    (json_int_t)strtoll(PQgetvalue(res, i, 6), NULL, 10), "name",
					    PQgetvalue(res, i, 7)));
		if (!PQgetisnull(res, i, 8))
			json_object_set_new(m, "owner", json_pack("{s:s,s:I}", "kind", PQgetvalue(res, i, 8),
					    "id", (json_int_t)strtoll(PQgetvalue(res, i, 9), NULL, 10)));
		json_array_append_new(*meta, m);
	}
	PQclear(res);
	return true;
}

/* Series metadata (metric, unit, the entity or structure element it
 * belongs to) as JSON text, cached for the workers: a chart otherwise pays
 * a second database round trip for facts that change only when a device
 * or part is renamed or removed. Entries are stale after any write through
 * the API (wt_api_db_write_gen) and after META_TTL_MS (changes made by
 * another instance or the poller). Direct-mapped: a collision evicts. */
#define META_SLOTS 4096
#define META_TTL_MS 30000

static struct {
	pthread_mutex_t mu;
	struct meta_slot {
		uint32_t id;
		uint64_t gen;
		int64_t ms;
		char *text;
	} slot[META_SLOTS];
} meta_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Fills texts[i] (malloc'ed) for every id when all are cached and fresh;
 * false (nothing to free) otherwise. */
static bool meta_cached(const struct rq *q, char **texts)
{
	uint64_t gen = wt_api_db_write_gen();
	int64_t now = now_ms();
	size_t i;
	pthread_mutex_lock(&meta_cache.mu);
	for (i = 0; i < q->n; i++) {
		struct meta_slot *e = &meta_cache.slot[q->ids[i] % META_SLOTS];
		if (!e->text || e->id != q->ids[i] || e->gen != gen || now - e->ms > META_TTL_MS ||
		    !(texts[i] = strdup(e->text)))
			break;
	}
	pthread_mutex_unlock(&meta_cache.mu);
	if (i == q->n)
		return true;
	while (i)
		free(texts[--i]);
	return false;
}

/* Remembers the metadata read under generation gen at time ms. */
static void meta_store(const struct rq *q, json_t *meta, uint64_t gen, int64_t ms)
{
	for (size_t i = 0; i < q->n; i++) {
		char *t = json_dumps(json_array_get(meta, i), JSON_COMPACT);
		if (!t)
			return;
		pthread_mutex_lock(&meta_cache.mu);
		struct meta_slot *e = &meta_cache.slot[q->ids[i] % META_SLOTS];
		free(e->text);
		e->text = t;
		e->id = q->ids[i];
		e->gen = gen;
		e->ms = ms;
		pthread_mutex_unlock(&meta_cache.mu);
	}
}

/* Each series' metadata as JSON text, from the cache or the database;
 * false after failing r (an unknown series, a database error). */
static bool meta_texts(struct wt_api_req *r, const struct rq *q, char **texts)
{
	if (meta_cached(q, texts))
		return true;
	uint64_t gen = wt_api_db_write_gen();
	int64_t t0 = now_ms();
	json_t *meta = NULL;
	if (!series_exist(r, q, &meta))
		return false;
	meta_store(q, meta, gen, t0);
	size_t i;
	for (i = 0; i < q->n; i++)
		if (!(texts[i] = json_dumps(json_array_get(meta, i), JSON_COMPACT)))
			break;
	json_decref(meta);
	if (i == q->n)
		return true;
	while (i)
		free(texts[--i]);
	wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
	return false;
}

/* Runs the query; the caller frees out. ids must be sorted for wt_query,
 * so the result is mapped back to the order asked. */
static bool run_query(struct wt_api_req *r, const struct rq *q, struct wt_query_result *out)
{
	uint32_t sorted[MAX_SERIES];
	size_t n = 0;
	for (size_t i = 0; i < q->n; i++)
		sorted[n++] = q->ids[i];
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			uint32_t t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (!u || sorted[u - 1] != sorted[i])
			sorted[u++] = sorted[i];
	int rc = wt_query(r->db, r->layers.storage, sorted, u, q->from, q->to, q->level, q->budget, out);
	if (rc == -EINVAL) {
		wt_api_fail(r, 400, "INVALID_QUERY", "the range or resolution is not valid");
		return false;
	}
	if (rc < 0) {
		wt_api_fail_db(r, "reading the series");
		return false;
	}
	return true;
}

static const struct wt_query_series *find(const struct wt_query_result *res, uint32_t id)
{
	for (size_t i = 0; i < res->nseries; i++)
		if (res->series[i].series == id)
			return &res->series[i];
	return NULL;
}

/* ---- text output: chart replies and CSV ---- */

/* Text is built in an evbuffer, which the reply hands to the connection
 * without a copy; oom remembers a failed append. */
struct sbuf {
	struct evbuffer *b;
	bool oom;
};

static struct sbuf sb_new(void)
{
	struct sbuf b = {evbuffer_new(), false};
	b.oom = !b.b;
	return b;
}

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (!b->oom && evbuffer_add(b->b, s, n) < 0)
		b->oom = true;
}

/* Hands the text to r as its reply, or fails r with 503 if an append failed. */
static void sb_reply(struct wt_api_req *r, struct sbuf *b, const char *ctype, const char *filename)
{
	if (b->oom) {
		if (b->b)
			evbuffer_free(b->b);
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	wt_api_ok_buffer(r, b->b, ctype, filename);
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* One RFC 4180 field: quoted when it holds a separator, quote or line
 * break; a leading = + - @ is prefixed with ' so spreadsheets do not run
 * device-supplied text as a formula. */
static void sb_field(struct sbuf *b, const char *s)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL;
	bool formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';
	/* Negative numbers are numbers, not formulas. */
	if (s[0] == '-' && s[1] >= '0' && s[1] <= '9')
		formula = false;
	if (quote)
		sb_add(b, "\"", 1);
	if (formula)
		sb_add(b, "'", 1);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			sb_add(b, "\"", 1);
		sb_add(b, p, 1);
	}
	if (quote)
		sb_add(b, "\"", 1);
}

static void sb_json(struct sbuf *b, json_t *v)
{
	char num[40];
	if (!v || json_is_null(v))
		return;
	if (json_is_string(v)) {
		sb_field(b, json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		sb_str(b, num);
	} else if (json_is_real(v)) {
		snprintf(num, sizeof(num), "%.10g", json_real_value(v));
		sb_str(b, num);
	} else if (json_is_boolean(v)) {
		sb_str(b, json_is_true(v) ? "true" : "false");
	} else {
		char *s = json_dumps(v, JSON_COMPACT);
		if (s)
			sb_field(b, s);
		free(s);
	}
}

static void send_csv(struct wt_api_req *r, struct sbuf *b, const char *filename)
{
	sb_reply(r, b, "text/csv; charset=utf-8", filename);
}

/* The reply is written as text straight from the points: a year of
 * hourly points is 35,000 numbers, and building a jansson array per point
 * and formatting each with %.17g was most of a chart's cost. */
void wt_h_readings(struct wt_api_req *r)
{
	struct rq q;
	char *meta[MAX_SERIES];
	if (!parse_request(r, &q) || !meta_texts(r, &q, meta))
		return;
	struct wt_query_result res;
	if (!run_query(r, &q, &res)) {
		for (size_t i = 0; i < q.n; i++)
			free(meta[i]);
		return;
	}
	struct sbuf b = sb_new();
	char num[WT_JSON_NUM_MAX], head[200];
	snprintf(head, sizeof(head),
		 "{\"from\":%lld,\"to\":%lld,\"resolution\":\"%s\",\"step_ms\":%lld,"
		 "\"columns\":[\"ts_ms\",\"min\",\"avg\",\"max\"],\"series\":[",
		 (long long)q.from, (long long)q.to, level_name(res.level), (long long)res.step_ms);
	sb_str(&b, head);
	for (size_t i = 0; i < q.n; i++) {
		const struct wt_query_series *s = find(&res, q.ids[i]);
		/* The series' metadata object, left open for its points. */
		size_t ml = strlen(meta[i]);
		if (i)
			sb_add(&b, ",", 1);
		sb_add(&b, meta[i], ml ? ml - 1 : 0);
		sb_str(&b, ",\"points\":[");
		double mn = INFINITY, mx = -INFINITY, sum = 0;
		uint64_t cnt = 0;
		for (size_t k = 0; s && k < s->n; k++) {
			const struct wt_point *p = &s->pts[k];
			char ts[24];
			int tl = snprintf(ts, sizeof(ts), "%s[%lld,", k ? "," : "", (long long)p->ts_ms);
			sb_add(&b, ts, (size_t)tl);
			sb_add(&b, num, wt_json_num(num, p->min));
			sb_add(&b, ",", 1);
			sb_add(&b, num, wt_json_num(num, p->avg));
			sb_add(&b, ",", 1);
			sb_add(&b, num, wt_json_num(num, p->max));
			sb_add(&b, "]", 1);
			if (p->min < mn)
				mn = p->min;
			if (p->max > mx)
				mx = p->max;
			sum += p->avg * p->count;
			cnt += p->count;
		}
		sb_str(&b, "],\"summary\":");
		if (cnt) {
			sb_str(&b, "{\"min\":");
			sb_add(&b, num, wt_json_num(num, mn));
			sb_str(&b, ",\"avg\":");
			sb_add(&b, num, wt_json_num(num, sum / (double)cnt));
			sb_str(&b, ",\"max\":");
			sb_add(&b, num, wt_json_num(num, mx));
			sb_str(&b, "}}");
		} else {
			sb_str(&b, "null}");
		}
	}
	sb_str(&b, "]}");
	for (size_t i = 0; i < q.n; i++)
		free(meta[i]);
	wt_query_result_free(&res);
	sb_reply(r, &b, "application/json; charset=utf-8", NULL);
}

void wt_h_export_readings(struct wt_api_req *r)
{
	struct rq q;
	json_t *meta = NULL;
	if (!parse_request(r, &q) || !series_exist(r, &q, &meta))
		return;
	struct wt_query_result res;
	if (!run_query(r, &q, &res)) {
		json_decref(meta);
		return;
	}
	struct sbuf b = sb_new();
	char line[160], iso[32];
	sb_str(&b, "series,metric,unit,time,ts_ms,min,avg,max\r\n");
	for (size_t i = 0; i < q.n; i++) {
		const struct wt_query_series *s = find(&res, q.ids[i]);
		json_t *m = json_array_get(meta, i);
		for (size_t k = 0; s && k < s->n; k++) {
			const struct wt_point *p = &s->pts[k];
			time_t t = (time_t)(p->ts_ms / 1000);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
			snprintf(line, sizeof(line), "%u,", q.ids[i]);
			sb_str(&b, line);
			sb_field(&b, json_string_value(json_object_get(m, "metric")));
			sb_str(&b, ",");
			sb_field(&b, json_string_value(json_object_get(m, "unit")));
			snprintf(line, sizeof(line), ",%s,%lld,%.10g,%.10g,%.10g\r\n", iso,
				 (long long)p->ts_ms, p->min, p->avg, p->max);
			sb_str(&b, line);
		}
	}
	json_decref(meta);
	wt_query_result_free(&res);
	send_csv(r, &b, "readings.csv");
}

/* Flattens r->reply[key] (an array of objects) into CSV with cols. */
static void list_to_csv(struct wt_api_req *r, const char *key, const char *const *cols,
			const char *filename)
{
	if (r->err_code)
		return;
	struct sbuf b = sb_new();
	for (size_t c = 0; cols[c]; c++) {
		if (c)
			sb_str(&b, ",");
		sb_str(&b, cols[c]);
	}
	sb_str(&b, "\r\n");
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(r->reply, key), i, row) {
		for (size_t c = 0; cols[c]; c++) {
			if (c)
				sb_str(&b, ",");
			sb_json(&b, json_object_get(row, cols[c]));
		}
		sb_str(&b, "\r\n");
	}
	send_csv(r, &b, filename);
}

void wt_h_export_devices(struct wt_api_req *r)
{
	wt_h_devices_list(r);
}

/* On the loop: live states first, then flatten. */
void wt_h_export_devices_after(struct wt_api_req *r)
{
	static const char *const cols[] = {"id", "name", "protocol", "address", "port", "unit",
					   "vendor", "model", "rating_a", "phases", "feed", "rack_id",
					   "rack", "location", "state", "outlets", "worst_alarm",
					   "load_a", "power_w", "load_pct", NULL};
	wt_h_devices_list_json_after(r);
	list_to_csv(r, "devices", cols, "devices.csv");
}

void wt_h_export_alarms(struct wt_api_req *r)
{
	static const char *const cols[] = {"id", "kind", "active", "severity", "device_id", "device",
					   "rule_name", "value", "threshold", "message", "raised_at",
					   "cleared_at", "acked", "acked_at", "acked_by", "ack_comment",
					   NULL};
	wt_h_alarms_list(r);
	list_to_csv(r, "alarms", cols, "alarms.csv");
}

void wt_h_export_audit(struct wt_api_req *r)
{
	static const char *const cols[] = {"id", "ts", "severity", "state", "category", "actor",
					   "object_kind", "object_id", "message", "comments", NULL};
	wt_h_audit_list(r);
	list_to_csv(r, "entries", cols, "audit.csv");
}
