/* /api/v1/devices: the fleet list (filters, search, sorting, load vs rating,
 * worst alarm, state), one device's identity and live readings, adding and
 * editing devices and naming their parts. Credentials are write-only: they
 * are stored for the pollers and never leave the server again. */
#include "auth.h"
#include "db.h"
#include "log.h"
#include "qparam.h"
#include "request.h"

#include "pollers/sched.h"
#include "storage/query.h"

#include <errno.h>
#include <event2/buffer.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *col_str(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static json_t *col_int(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null()
					  : json_integer(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

static json_t *col_real(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null()
					  : json_real(strtod(PQgetvalue(res, row, col), NULL));
}

static int atoi_safe(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	return end == s ? 0 : (int)v;
}

static const char *severity_name(int s)
{
	return s >= 2 ? "critical" : s == 1 ? "warning" : "none";
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

int wt_api_latest(struct wt_api_req *r, const uint32_t *ids, size_t n, double *out, int64_t *ts)
{
	for (size_t i = 0; i < n; i++) {
		out[i] = 0.0 / 0.0;
		ts[i] = 0;
	}
	if (n == 0)
		return 0;
	/* wt_query_latest wants ascending, distinct ids. */
	uint32_t *sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (ids[i])
			sorted[m++] = ids[i];
	qsort(sorted, m, sizeof(*sorted), cmp_u32);
	size_t u = 0;
	for (size_t i = 0; i < m; i++)
		if (u == 0 || sorted[u - 1] != sorted[i])
			sorted[u++] = sorted[i];
	struct wt_point *pts = u ? malloc(u * sizeof(*pts)) : NULL;
	if (u == 0 || !pts) {
		free(sorted);
		return u == 0 ? 0 : -ENOMEM;
	}
	int64_t to = now_ms() + 5000;
	/* The last two minutes at 5 s: the latest bucket of a device polled
	 * at any sane interval, from memory when not yet written. */
	int rc = wt_query_latest(r->db, r->layers.storage, sorted, u, to - 120000, to, pts);
	if (rc < 0) {
		free(pts);
		free(sorted);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		if (!ids[i])
			continue;
		const uint32_t *hit = bsearch(&ids[i], sorted, u, sizeof(*sorted), cmp_u32);
		const struct wt_point *p = hit ? &pts[hit - sorted] : NULL;
		if (p && p->count) {
			out[i] = p->avg;
			ts[i] = p->ts_ms;
		}
	}
	free(pts);
	free(sorted);
	return 0;
}

/* ---- list ---- */

#define DEV_COLS                                                                               \
	"d.id, d.name, d.protocol, d.address, d.port, d.unit, d.vendor, d.model, d.rating_a,   \
	d.phases, d.feed, d.rack_id, rk.name, d.location, d.state,                              \
	(SELECT count(*) FROM entities e WHERE e.device_id = d.id AND e.kind = 'outlet'),      \
	coalesce((SELECT max(CASE a.severity WHEN 'critical' THEN 2 ELSE 1 END) FROM alarms a  \
	  WHERE a.device_id = d.id AND a.active), 0),                                          \
	(SELECT min(s.id) FROM series s JOIN entities e ON e.id = s.entity_id                   \
	  WHERE e.device_id = d.id AND e.kind = 'total' AND s.metric = 3),                       \
	(SELECT min(s.id) FROM series s JOIN entities e ON e.id = s.entity_id                   \
	  WHERE e.device_id = d.id AND e.kind = 'total' AND s.metric = 7),                       \
	d.serial, d.firmware, d.profile, d.credentials <> '{}'::jsonb, d.info, "               \
	WT_SQL_ISO("d.created_at") ", " WT_SQL_ISO("d.updated_at")

/* The same columns for the whole fleet, set-based: one pass over each
 * table instead of four lookups per device. */
#define LIST_SQL                                                                                 \
	"SELECT d.id, d.name, d.protocol, d.address, d.port, d.unit, d.vendor, d.model, d.rating_a," \
	" d.phases, d.feed, d.rack_id, rk.name, d.location, d.state, coalesce(oc.n, 0),"            \
	" coalesce(al.sev, 0), tot.cur, tot.pow, d.serial, d.firmware, d.profile,"                   \
	" d.credentials <> '{}'::jsonb, d.info, " WT_SQL_ISO("d.created_at") ", "                    \
	WT_SQL_ISO("d.updated_at")                                                                   \
	" FROM devices d LEFT JOIN structure_elements rk ON rk.id = d.rack_id"                       \
	" LEFT JOIN (SELECT device_id, count(*) AS n FROM entities WHERE kind = 'outlet'"            \
	"   GROUP BY device_id) oc ON oc.device_id = d.id"                                           \
	" LEFT JOIN (SELECT device_id, max(CASE severity WHEN 'critical' THEN 2 ELSE 1 END) AS sev"   \
	"   FROM alarms WHERE active AND device_id IS NOT NULL GROUP BY device_id) al"               \
	"   ON al.device_id = d.id"                                                                  \
	" LEFT JOIN (SELECT e.device_id, min(s.id) FILTER (WHERE s.metric = 3) AS cur,"              \
	"   min(s.id) FILTER (WHERE s.metric = 7) AS pow FROM entities e"                            \
	"   JOIN series s ON s.entity_id = e.id WHERE e.kind = 'total' GROUP BY e.device_id) tot"    \
	"   ON tot.device_id = d.id"                                                                 \
	" ORDER BY d.id"

static json_t *device_row(PGresult *res, int i)
{
	json_t *j = json_object();
	json_object_set_new(j, "id", col_int(res, i, 0));
	json_object_set_new(j, "name", col_str(res, i, 1));
	json_object_set_new(j, "protocol", col_str(res, i, 2));
	json_object_set_new(j, "address", col_str(res, i, 3));
	json_object_set_new(j, "port", col_int(res, i, 4));
	json_object_set_new(j, "unit", col_int(res, i, 5));
	json_object_set_new(j, "vendor", col_str(res, i, 6));
	json_object_set_new(j, "model", col_str(res, i, 7));
	json_object_set_new(j, "rating_a", col_real(res, i, 8));
	json_object_set_new(j, "phases", col_int(res, i, 9));
	json_object_set_new(j, "feed", col_str(res, i, 10));
	json_object_set_new(j, "rack_id", col_int(res, i, 11));
	json_object_set_new(j, "rack", col_str(res, i, 12));
	json_object_set_new(j, "location", col_str(res, i, 13));
	json_object_set_new(j, "state", col_str(res, i, 14));
	json_object_set_new(j, "outlets", col_int(res, i, 15));
	json_object_set_new(j, "worst_alarm",
			    json_string(severity_name(atoi_safe(PQgetvalue(res, i, 16)))));
	return j;
}

/* ---- list, through a short-lived cache on the loop ----
 *
 * The list is what every console page opens with, so it is not rebuilt per
 * request: a worker reads the whole fleet (devices, outlet counts, worst
 * alarm, latest load) at most every DEVCACHE_TTL_MS; the loop keeps it with
 * each device serialised once and each sort order computed once, so a page
 * is a filter pass over an index and a concatenation of ready JSON text.
 * States come from the scheduler on every request: a row whose state moved
 * since it was serialised is serialised again (only that row). */

#define DEVCACHE_TTL_MS 2000
#define LIST_LIMIT_DEFAULT 100
#define LIST_LIMIT_MAX 1000

enum { SORT_NAME, SORT_TYPE, SORT_ALARM, SORT_CHAIN, SORT__COUNT };

struct devrow {
	json_t *obj;              /* the device, with the state last merged */
	char *text;               /* obj serialised (compact) */
	size_t len;
	bool state_known;         /* state/reason below are what text shows */
	enum wt_dev_state state;
	char reason[200];
};

struct wt_devcache {
	json_t *list;                       /* array of device objects, by id */
	struct devrow *rows;                /* one per element of list */
	size_t nrows;
	struct devrow **order[SORT__COUNT]; /* rows sorted, built on first use */
	int64_t built_ms;                   /* 0: invalidated by a write */
	int64_t refresh_ms;                 /* a request is re-reading the fleet since */
	uint64_t gen;                       /* bumped by every invalidation */
};

static void rows_free(struct wt_devcache *c)
{
	for (size_t i = 0; i < c->nrows; i++)
		free(c->rows[i].text);
	free(c->rows);
	c->rows = NULL;
	c->nrows = 0;
	for (int k = 0; k < SORT__COUNT; k++) {
		free(c->order[k]);
		c->order[k] = NULL;
	}
	json_decref(c->list);
	c->list = NULL;
}

static void fleet_forget(const struct wt_api *api);

static void detail_forget(const struct wt_api *api);

void wt_devcache_free(struct wt_devcache *c, const struct wt_api *api)
{
	fleet_forget(api);
	detail_forget(api);
	if (!c)
		return;
	rows_free(c);
	free(c);
}

void wt_devcache_invalidate(struct wt_devcache *c)
{
	c->built_ms = 0;
	c->gen++;
}

struct list_q {
	char filter[16], q[130], sort[16];
	int64_t limit, offset;
};

/* Parses ?filter, ?q, ?sort, ?limit, ?offset; false after failing r. */
static bool list_params(struct wt_api_req *r, struct list_q *lq)
{
	snprintf(lq->filter, sizeof(lq->filter), "all");
	snprintf(lq->sort, sizeof(lq->sort), "name");
	lq->q[0] = '\0';
	if (wt_qp_get(r->query, "filter", lq->filter, sizeof(lq->filter)) &&
	    strcmp(lq->filter, "all") != 0 && strcmp(lq->filter, "assigned") != 0 &&
	    strcmp(lq->filter, "unassigned") != 0) {
		wt_api_fail(r, 400, "INVALID_QUERY",
			    "parameter \"filter\": expected all, assigned or unassigned");
		return false;
	}
	if (!wt_qp_get(r->query, "q", lq->q, sizeof(lq->q)) && strstr(r->query ? r->query : "", "q=")) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"q\": at most 128 bytes");
		return false;
	}
	if (wt_qp_get(r->query, "sort", lq->sort, sizeof(lq->sort)) && strcmp(lq->sort, "name") != 0 &&
	    strcmp(lq->sort, "type") != 0 && strcmp(lq->sort, "alarm") != 0 &&
	    strcmp(lq->sort, "chain") != 0) {
		wt_api_fail(r, 400, "INVALID_QUERY",
			    "parameter \"sort\": expected name, type, alarm or chain");
		return false;
	}
	if (wt_qp_int(r->query, "limit", 1, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT, &lq->limit) < 0) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"limit\": a whole number from 1 to %d",
			    LIST_LIMIT_MAX);
		return false;
	}
	if (wt_qp_int(r->query, "offset", 0, INT32_MAX, 0, &lq->offset) < 0) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"offset\": a whole number from 0");
		return false;
	}
	return true;
}

/* Fresh: answer from the cache. Merely old (TTL passed): one request at a
 * time re-reads the fleet while the others are answered from the old copy,
 * so an expiry under load is one database read, not one per request in
 * flight. Invalidated by a write: every request reads, so a change made
 * through the API is always seen by the next list. */
void wt_h_devices_list_before(struct wt_api_req *r)
{
	struct wt_devcache *c = *wt_api_devcache(r->api);
	int64_t now = now_ms();
	r->cache_gen = c ? c->gen : 0;
	if (!c || !c->list || c->built_ms == 0) {
		r->cache_hit = false;
		return;
	}
	if (now - c->built_ms < DEVCACHE_TTL_MS) {
		r->cache_hit = true;
		return;
	}
	/* A refresher that failed never comes back: give up on it after a while. */
	if (c->refresh_ms && now - c->refresh_ms < 10 * DEVCACHE_TTL_MS) {
		r->cache_hit = true;
		return;
	}
	c->refresh_ms = now;
	r->cache_hit = false;
}

/* Reads the fleet (worker); the devices array, or NULL after failing r. */
static json_t *fleet_read(struct wt_api_req *r)
{
	char st[6];
	json_t *result = NULL;
	PGresult *res = wt_api_db_exec(r->db, LIST_SQL, 0, NULL, st);
	if (!res) {
		wt_api_fail_db(r, "listing devices");
		return NULL;
	}
	int n = PQntuples(res);
	uint32_t *cur = calloc((size_t)n + 1, sizeof(*cur));
	uint32_t *pow = calloc((size_t)n + 1, sizeof(*pow));
	double *cv = calloc((size_t)n + 1, sizeof(double));
	double *pv = calloc((size_t)n + 1, sizeof(double));
	int64_t *ts = calloc((size_t)n + 1, sizeof(int64_t));
	if (!cur || !pow || !cv || !pv || !ts) {
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		cur[i] = PQgetisnull(res, i, 17) ? 0 : (uint32_t)atoi_safe(PQgetvalue(res, i, 17));
		pow[i] = PQgetisnull(res, i, 18) ? 0 : (uint32_t)atoi_safe(PQgetvalue(res, i, 18));
	}
	if (wt_api_latest(r, cur, (size_t)n, cv, ts) < 0 ||
	    wt_api_latest(r, pow, (size_t)n, pv, ts) < 0) {
		wt_api_fail_db(r, "reading the latest load");
		goto out;
	}
	json_t *a = json_array();
	for (int i = 0; i < n; i++) {
		json_t *j = device_row(res, i);
		json_object_set_new(j, "load_a", cv[i] == cv[i] ? json_real(cv[i]) : json_null());
		json_object_set_new(j, "power_w", pv[i] == pv[i] ? json_real(pv[i]) : json_null());
		double rating = PQgetisnull(res, i, 8) ? 0 : strtod(PQgetvalue(res, i, 8), NULL);
		json_object_set_new(j, "load_pct",
				    cv[i] == cv[i] && rating > 0 ? json_real(100.0 * cv[i] / rating)
								   : json_null());
		json_array_append_new(a, j);
	}
	result = a;
out:
	free(cur);
	free(pow);
	free(cv);
	free(pv);
	free(ts);
	PQclear(res);
	return result;
}

/* One fleet read serves every worker that asked for it in the same cache
 * generation (no write between): when the cache is cold or was just
 * invalidated, the requests in flight wait for one read instead of each
 * running their own. */
static struct {
	pthread_mutex_t mu;
	const struct wt_api *api;
	json_t *list;
	uint64_t gen;
	int64_t ms;
	/* The read of 'list' made ready for the loop (rows serialised, sort
	 * orders computed) until the loop adopts it, and what the loop
	 * replaced, freed by the next worker that reads the fleet: the loop
	 * only swaps pointers. */
	struct wt_devcache *prepared;
	struct wt_devcache *garbage;
} fleet = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct wt_devcache *prepare(json_t *list, int64_t read_ms);
static void cache_discard(struct wt_devcache *c);

void wt_h_devices_list(struct wt_api_req *r)
{
	struct list_q lq;
	if (!list_params(r, &lq))
		return;
	if (r->cache_hit) {
		/* Authenticated and validated; the loop answers from its copy. */
		wt_api_ok(r, 200, json_object());
		return;
	}
	pthread_mutex_lock(&fleet.mu);
	json_t *a = NULL;
	struct wt_devcache *old = fleet.garbage;
	fleet.garbage = NULL;
	if (fleet.list && fleet.api == r->api && fleet.gen == r->cache_gen &&
	    now_ms() - fleet.ms < DEVCACHE_TTL_MS)
		a = json_incref(fleet.list);
	else {
		int64_t t0 = now_ms();
		a = fleet_read(r);
		if (a) {
			json_decref(fleet.list);
			fleet.list = json_incref(a);
			fleet.api = r->api;
			fleet.gen = r->cache_gen;
			fleet.ms = t0;
			/* Without it (out of memory) the loop builds its own. */
			cache_discard(fleet.prepared);
			fleet.prepared = prepare(a, t0);
		}
	}
	pthread_mutex_unlock(&fleet.mu);
	cache_discard(old);
	if (a)
		wt_api_ok(r, 200, json_pack("{s:o}", "devices", a));
}

/* On the loop: the scheduler's view of each device is fresher than the
 * state column the inventory writes back. */
static void merge_state(struct wt_api_req *r, json_t *dev)
{
	struct wt_sched *s = r->layers.sched;
	if (!s)
		return;
	struct wt_dev_status ds;
	json_int_t id = json_integer_value(json_object_get(dev, "id"));
	if (wt_sched_status(s, (long)id, &ds) == 0) {
		json_object_set_new(dev, "state", json_string(wt_dev_state_name(ds.state)));
		if (ds.reason[0] && ds.state != WT_DEV_OK)
			json_object_set_new(dev, "state_reason", json_string(ds.reason));
		else
			json_object_del(dev, "state_reason");
	}
}

/* Drops the shared read of a server that stops. */
static void fleet_forget(const struct wt_api *api)
{
	pthread_mutex_lock(&fleet.mu);
	struct wt_devcache *prep = NULL, *old = fleet.garbage;
	fleet.garbage = NULL;
	if (fleet.api == api) {
		json_decref(fleet.list);
		fleet.list = NULL;
		fleet.api = NULL;
		prep = fleet.prepared;
		fleet.prepared = NULL;
	}
	pthread_mutex_unlock(&fleet.mu);
	cache_discard(prep);
	cache_discard(old);
}

static const char *jstr(json_t *o, const char *k);

/* Brings a row's state and text up to date; 0 or -ENOMEM. */
static int row_refresh(struct wt_api_req *r, struct devrow *row)
{
	struct wt_sched *s = r->layers.sched;
	struct wt_dev_status ds;
	if (s) {
		json_int_t id = json_integer_value(json_object_get(row->obj, "id"));
		if (wt_sched_status(s, (long)id, &ds) == 0) {
			const char *why = ds.state != WT_DEV_OK ? ds.reason : "";
			/* A row serialised on the worker shows the stored state,
			 * which is normally the scheduler's too: keep its text. */
			if (!row->state_known &&
			    strcmp(jstr(row->obj, "state"), wt_dev_state_name(ds.state)) == 0 &&
			    strcmp(jstr(row->obj, "state_reason"), why) == 0) {
				row->state_known = true;
				row->state = ds.state;
				snprintf(row->reason, sizeof(row->reason), "%s", why);
			}
			if (!row->state_known || row->state != ds.state || strcmp(row->reason, why) != 0) {
				json_object_set_new(row->obj, "state",
						    json_string(wt_dev_state_name(ds.state)));
				if (why[0])
					json_object_set_new(row->obj, "state_reason", json_string(why));
				else
					json_object_del(row->obj, "state_reason");
				row->state_known = true;
				row->state = ds.state;
				snprintf(row->reason, sizeof(row->reason), "%s", why);
				free(row->text);
				row->text = NULL;
			}
		}
	}
	if (!row->text) {
		row->text = json_dumps(row->obj, JSON_COMPACT);
		if (!row->text)
			return -ENOMEM;
		row->len = strlen(row->text);
	}
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

static int severity_rank(json_t *d)
{
	const char *w = jstr(d, "worst_alarm");
	return strcmp(w, "critical") == 0 ? 2 : strcmp(w, "warning") == 0 ? 1 : 0;
}

static int by_id(json_t *a, json_t *b)
{
	json_int_t x = json_integer_value(json_object_get(a, "id")),
		   y = json_integer_value(json_object_get(b, "id"));
	return x < y ? -1 : x > y;
}

static int by_name(json_t *a, json_t *b)
{
	int c = strcasecmp(jstr(a, "name"), jstr(b, "name"));
	return c ? c : by_id(a, b);
}

static int by_type(json_t *a, json_t *b)
{
	int c = strcmp(jstr(a, "protocol"), jstr(b, "protocol"));
	if (!c)
		c = strcasecmp(jstr(a, "vendor"), jstr(b, "vendor"));
	if (!c)
		c = strcasecmp(jstr(a, "model"), jstr(b, "model"));
	return c ? c : by_name(a, b);
}

static int by_alarm(json_t *a, json_t *b)
{
	int c = severity_rank(b) - severity_rank(a);
	return c ? c : by_name(a, b);
}

static int by_chain(json_t *a, json_t *b)
{
	int c = strcmp(jstr(a, "protocol"), jstr(b, "protocol"));
	if (!c)
		c = strcmp(jstr(a, "address"), jstr(b, "address"));
	if (!c)
		c = (int)(json_integer_value(json_object_get(a, "port")) -
			  json_integer_value(json_object_get(b, "port")));
	if (!c)
		c = (int)(json_integer_value(json_object_get(a, "unit")) -
			  json_integer_value(json_object_get(b, "unit")));
	return c ? c : by_id(a, b);
}

#define ROW_CMP(fn)                                                                    \
	static int row_##fn(const void *pa, const void *pb)                            \
	{                                                                              \
		return fn((*(struct devrow *const *)pa)->obj,                          \
			  (*(struct devrow *const *)pb)->obj);                         \
	}
ROW_CMP(by_name)
ROW_CMP(by_type)
ROW_CMP(by_alarm)
ROW_CMP(by_chain)
#undef ROW_CMP

static int (*const row_cmp[SORT__COUNT])(const void *, const void *) = {
	[SORT_NAME] = row_by_name,
	[SORT_TYPE] = row_by_type,
	[SORT_ALARM] = row_by_alarm,
	[SORT_CHAIN] = row_by_chain,
};

static int sort_index(const char *s)
{
	return strcmp(s, "type") == 0    ? SORT_TYPE
	       : strcmp(s, "alarm") == 0 ? SORT_ALARM
	       : strcmp(s, "chain") == 0 ? SORT_CHAIN
					 : SORT_NAME;
}

/* Replaces the cached fleet with list (a reference is taken). */
static int cache_set(struct wt_devcache *c, json_t *list)
{
	rows_free(c);
	size_t n = json_array_size(list);
	c->rows = calloc(n + 1, sizeof(*c->rows));
	if (!c->rows)
		return -ENOMEM;
	c->list = json_incref(list);
	c->nrows = n;
	for (size_t i = 0; i < n; i++)
		c->rows[i].obj = json_array_get(list, i);
	c->built_ms = now_ms();
	c->refresh_ms = 0;
	return 0;
}

/* Sorts the rows by order k once; 0 or -ENOMEM. */
static int order_build(struct wt_devcache *c, int k)
{
	if (c->order[k])
		return 0;
	c->order[k] = malloc((c->nrows + 1) * sizeof(*c->order[k]));
	if (!c->order[k])
		return -ENOMEM;
	for (size_t i = 0; i < c->nrows; i++)
		c->order[k][i] = &c->rows[i];
	qsort(c->order[k], c->nrows, sizeof(*c->order[k]), row_cmp[k]);
	return 0;
}

static void cache_discard(struct wt_devcache *c)
{
	if (!c)
		return;
	rows_free(c);
	free(c);
}

/* A fleet read made ready for the loop, on the worker that read it: every
 * row serialised and every sort order computed (2,000 devices: tens of
 * milliseconds that stalled every connection of the loop once per
 * DEVCACHE_TTL_MS). NULL when out of memory. */
static struct wt_devcache *prepare(json_t *list, int64_t read_ms)
{
	struct wt_devcache *p = calloc(1, sizeof(*p));
	if (!p || cache_set(p, list) < 0)
		goto fail;
	for (int k = 0; k < SORT__COUNT; k++)
		if (order_build(p, k) < 0)
			goto fail;
	for (size_t i = 0; i < p->nrows; i++) {
		struct devrow *row = &p->rows[i];
		if (!(row->text = json_dumps(row->obj, JSON_COMPACT)))
			goto fail;
		row->len = strlen(row->text);
	}
	p->built_ms = read_ms;
	return p;
fail:
	cache_discard(p);
	return NULL;
}

/* Takes the prepared read of list for c when there is one (the old contents
 * go to a worker to free); false when the loop must build it itself. */
static bool cache_adopt(struct wt_devcache *c, json_t *list)
{
	pthread_mutex_lock(&fleet.mu);
	struct wt_devcache *p = fleet.prepared;
	bool ok = p && p->list == list && !fleet.garbage;
	if (ok) {
		fleet.prepared = NULL;
		/* Swap the contents; the cache keeps its generation. */
		struct wt_devcache tmp = *c;
		c->list = p->list;
		c->rows = p->rows;
		c->nrows = p->nrows;
		memcpy(c->order, p->order, sizeof(c->order));
		c->built_ms = p->built_ms;
		c->refresh_ms = 0;
		*p = tmp;
		p->built_ms = 0;
		fleet.garbage = p;
	}
	pthread_mutex_unlock(&fleet.mu);
	return ok;
}

/* Appends len bytes to a growing buffer; false when out of memory. */

/* The page as text: {"devices":[...],"count","total","limit","offset",
 * "next_offset","as_of_ms"}. */
static void render_page(struct wt_api_req *r, struct wt_devcache *c, const struct list_q *lq)
{
	int k = sort_index(lq->sort);
	if (order_build(c, k) < 0) {
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	bool assigned = strcmp(lq->filter, "assigned") == 0, all = strcmp(lq->filter, "all") == 0;
	size_t total = 0, count = 0;
	struct evbuffer *b = evbuffer_new();
	bool ok = b && evbuffer_add(b, "{\"devices\":[", 12) == 0;
	for (size_t i = 0; ok && i < c->nrows; i++) {
		struct devrow *row = c->order[k][i];
		if (!all && assigned != !json_is_null(json_object_get(row->obj, "rack_id")))
			continue;
		if (lq->q[0] && !strcasestr(jstr(row->obj, "name"), lq->q))
			continue;
		total++;
		if (total <= (size_t)lq->offset || count >= (size_t)lq->limit)
			continue;
		ok = row_refresh(r, row) == 0 && (!count || evbuffer_add(b, ",", 1) == 0) &&
		     evbuffer_add(b, row->text, row->len) == 0;
		count++;
	}
	char tail[192], nexts[24] = "null";
	size_t next = (size_t)lq->offset + count;
	if (next < total)
		snprintf(nexts, sizeof(nexts), "%zu", next);
	int n = snprintf(tail, sizeof(tail),
			 "],\"count\":%zu,\"total\":%zu,\"limit\":%lld,\"offset\":%lld,"
			 "\"next_offset\":%s,\"as_of_ms\":%lld}",
			 count, total, (long long)lq->limit, (long long)lq->offset, nexts,
			 (long long)c->built_ms);
	ok = ok && n > 0 && (size_t)n < sizeof(tail) && evbuffer_add(b, tail, (size_t)n) == 0;
	if (!ok) {
		if (b)
			evbuffer_free(b);
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	wt_api_ok_buffer(r, b, "application/json; charset=utf-8", NULL);
}

static void list_after(struct wt_api_req *r, bool page)
{
	struct wt_devcache **slot = wt_api_devcache(r->api);
	struct list_q lq;
	if (!list_params(r, &lq))
		return;
	if (!r->cache_hit) {
		if (!*slot)
			*slot = calloc(1, sizeof(**slot));
		json_t *fresh = json_object_get(r->reply, "devices");
		/* Several requests may carry the one shared read: build once. */
		if (*slot && (*slot)->list != fresh && !cache_adopt(*slot, fresh) &&
		    cache_set(*slot, fresh) < 0) {
			wt_devcache_free(*slot, r->api);
			*slot = NULL;
		}
		/* Read before a write that landed meanwhile: good for this
		 * reply, not for the next one. */
		if (*slot && (*slot)->gen != r->cache_gen)
			(*slot)->built_ms = 0;
	}
	struct wt_devcache *c = *slot;
	if (!c || !c->list) {
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	if (page) {
		render_page(r, c, &lq);
		return;
	}
	/* The whole filtered list as JSON (the CSV export). */
	size_t n = c->nrows;
	int k = sort_index(lq.sort);
	struct devrow **v = malloc((n + 1) * sizeof(*v));
	if (!v) {
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	size_t m = 0;
	bool assigned = strcmp(lq.filter, "assigned") == 0, all = strcmp(lq.filter, "all") == 0;
	for (size_t i = 0; i < n; i++) {
		struct devrow *row = &c->rows[i];
		if (!all && assigned != !json_is_null(json_object_get(row->obj, "rack_id")))
			continue;
		if (lq.q[0] && !strcasestr(jstr(row->obj, "name"), lq.q))
			continue;
		merge_state(r, row->obj);
		row->state_known = false; /* its text no longer matches */
		free(row->text);
		row->text = NULL;
		v[m++] = row;
	}
	qsort(v, m, sizeof(*v), row_cmp[k]);
	json_t *a = json_array();
	for (size_t i = 0; i < m; i++)
		json_array_append(a, v[i]->obj);
	free(v);
	wt_api_ok(r, 200,
		  json_pack("{s:o,s:I,s:I}", "devices", a, "count", (json_int_t)m, "as_of_ms",
			    (json_int_t)c->built_ms));
}

void wt_h_devices_list_after(struct wt_api_req *r)
{
	list_after(r, true);
}

void wt_h_devices_list_json_after(struct wt_api_req *r)
{
	list_after(r, false);
}

/* ---- one device ---- */

static const char *metric_name(int m);

/* ---- one device, through a short-lived cache of its inventory ----
 *
 * A device's identity and parts (two queries) change only when someone
 * edits them, yet every console page showing the device re-read them. The
 * workers keep both results per device for DETAIL_TTL_MS, the same
 * staleness the list accepts for changes made outside the API (the poller's
 * firmware, an alarm's worst severity, a profile bound); a write through
 * the API makes every entry stale at once (wt_api_db_write_gen). Live
 * readings are never cached: each request reads them. Direct-mapped by
 * device id; a result in use is freed by its last user. */
#define DETAIL_TTL_MS 2000
#define DETAIL_SLOTS 1024

struct detail {
	const struct wt_api *api;
	int64_t id;
	uint64_t gen;
	int64_t ms;
	PGresult *dev, *ents; /* read-only once stored: safe to share between workers */
	int refs;             /* the slot's own reference plus users in flight */
};

static struct {
	pthread_mutex_t mu;
	struct detail *slot[DETAIL_SLOTS];
} details = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Drops one reference (details.mu held); frees with the last. */
static void detail_unref_locked(struct detail *d)
{
	if (--d->refs > 0)
		return;
	PQclear(d->dev);
	PQclear(d->ents);
	free(d);
}

static void detail_release(struct detail *d)
{
	pthread_mutex_lock(&details.mu);
	detail_unref_locked(d);
	pthread_mutex_unlock(&details.mu);
}

/* A fresh cached entry for device id of api (a reference taken), or NULL. */
static struct detail *detail_get(const struct wt_api *api, int64_t id)
{
	uint64_t gen = wt_api_db_write_gen();
	int64_t now = now_ms();
	pthread_mutex_lock(&details.mu);
	struct detail *d = details.slot[(uint64_t)id % DETAIL_SLOTS];
	if (d && (d->api != api || d->id != id || d->gen != gen || now - d->ms >= DETAIL_TTL_MS))
		d = NULL;
	if (d)
		d->refs++;
	pthread_mutex_unlock(&details.mu);
	return d;
}

/* Stores what was read under generation gen at time ms (takes both
 * results); returns the entry with a reference for the caller, or NULL when
 * out of memory (then the results are the caller's still). */
static struct detail *detail_put(const struct wt_api *api, int64_t id, uint64_t gen, int64_t ms,
				 PGresult *dev, PGresult *ents)
{
	struct detail *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	*d = (struct detail){api, id, gen, ms, dev, ents, 2};
	pthread_mutex_lock(&details.mu);
	struct detail **slot = &details.slot[(uint64_t)id % DETAIL_SLOTS];
	if (*slot)
		detail_unref_locked(*slot);
	*slot = d;
	pthread_mutex_unlock(&details.mu);
	return d;
}

/* Forgets the entries of a server that stops. */
static void detail_forget(const struct wt_api *api)
{
	pthread_mutex_lock(&details.mu);
	for (size_t i = 0; i < DETAIL_SLOTS; i++)
		if (details.slot[i] && details.slot[i]->api == api) {
			detail_unref_locked(details.slot[i]);
			details.slot[i] = NULL;
		}
	pthread_mutex_unlock(&details.mu);
}

#define DETAIL_DEV_SQL                                                                         \
	"SELECT " DEV_COLS " FROM devices d LEFT JOIN structure_elements rk ON rk.id = d.rack_id" \
	" WHERE d.id = $1"
#define DETAIL_ENTS_SQL                                                                        \
	"SELECT e.id, e.kind, e.idx, e.name, e.parent_id, e.attributes,"                         \
	" coalesce(array_agg(s.id ORDER BY s.metric) FILTER (WHERE s.id IS NOT NULL), '{}'),"     \
	" coalesce(array_agg(s.metric ORDER BY s.metric) FILTER (WHERE s.id IS NOT NULL), '{}')"  \
	" FROM entities e LEFT JOIN series s ON s.entity_id = e.id"                               \
	" WHERE e.device_id = $1 GROUP BY e.id ORDER BY"                                          \
	" array_position(ARRAY['total','inlet','phase','branch','outlet','sensor',"               \
	"'battery','bypass','output'], e.kind), e.idx"

/* The device's row and parts, from the cache when use_cache; NULL after
 * failing r (404 when it does not exist). Release with detail_release. */
static struct detail *detail_read(struct wt_api_req *r, bool use_cache)
{
	char id[24], st[6];
	struct detail *d = use_cache ? detail_get(r->api, r->ids[0]) : NULL;
	if (d)
		return d;
	uint64_t gen = wt_api_db_write_gen();
	int64_t t0 = now_ms();
	snprintf(id, sizeof(id), "%lld", (long long)r->ids[0]);
	const char *p[] = {id};
	PGresult *dev = wt_api_db_exec(r->db, DETAIL_DEV_SQL, 1, p, st);
	if (!dev) {
		wt_api_fail_db(r, "reading the device");
		return NULL;
	}
	if (PQntuples(dev) != 1) {
		PQclear(dev);
		wt_api_fail(r, 404, "DEVICE_NOT_FOUND", "device %s does not exist", id);
		return NULL;
	}
	PGresult *ents = wt_api_db_exec(r->db, DETAIL_ENTS_SQL, 1, p, st);
	if (!ents) {
		PQclear(dev);
		wt_api_fail_db(r, "reading the device's parts");
		return NULL;
	}
	/* A read that follows a write in the same request (create, patch) is
	 * not stored: its generation is bumped only when the write replies. */
	if (use_cache && (d = detail_put(r->api, r->ids[0], gen, t0, dev, ents)))
		return d;
	d = calloc(1, sizeof(*d));
	if (!d) {
		PQclear(dev);
		PQclear(ents);
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return NULL;
	}
	*d = (struct detail){r->api, r->ids[0], gen, t0, dev, ents, 1};
	return d;
}

static void device_get(struct wt_api_req *r, bool use_cache)
{
	struct detail *d = detail_read(r, use_cache);
	if (!d)
		return;
	PGresult *res = d->dev;
	json_t *dev = device_row(res, 0);
	json_object_set_new(dev, "serial", col_str(res, 0, 19));
	json_object_set_new(dev, "firmware", col_str(res, 0, 20));
	json_object_set_new(dev, "profile", col_str(res, 0, 21));
	json_object_set_new(dev, "credentials_set", json_boolean(strcmp(PQgetvalue(res, 0, 22), "t") == 0));
	json_object_set_new(dev, "info", json_loads(PQgetvalue(res, 0, 23), 0, NULL));
	json_object_set_new(dev, "created_at", col_str(res, 0, 24));
	json_object_set_new(dev, "updated_at", col_str(res, 0, 25));

	res = d->ents;
	int n = PQntuples(res);
	/* Gather every series id, read their latest values in one query. */
	size_t cap = 64, nser = 0;
	uint32_t *ser = malloc(cap * sizeof(*ser));
	int *met = malloc(cap * sizeof(*met));
	int *owner = malloc(cap * sizeof(*owner));
	for (int i = 0; i < n && ser && met && owner; i++) {
		const char *ids = PQgetvalue(res, i, 6), *mets = PQgetvalue(res, i, 7);
		while (*ids && *mets) {
			while (*ids == '{' || *ids == ',')
				ids++;
			while (*mets == '{' || *mets == ',')
				mets++;
			if (*ids == '}' || !*ids)
				break;
			char *e1, *e2;
			long sid = strtol(ids, &e1, 10), m = strtol(mets, &e2, 10);
			if (e1 == ids || e2 == mets)
				break;
			ids = e1;
			mets = e2;
			if (nser == cap) {
				cap *= 2;
				uint32_t *s2 = realloc(ser, cap * sizeof(*ser));
				if (s2)
					ser = s2;
				int *m2 = realloc(met, cap * sizeof(*met));
				if (m2)
					met = m2;
				int *o2 = realloc(owner, cap * sizeof(*owner));
				if (o2)
					owner = o2;
				if (!s2 || !m2 || !o2)
					break;
			}
			ser[nser] = (uint32_t)sid;
			met[nser] = (int)m;
			owner[nser] = i;
			nser++;
		}
	}
	double *val = calloc(nser + 1, sizeof(double));
	int64_t *ts = calloc(nser + 1, sizeof(int64_t));
	if (!ser || !met || !owner || !val || !ts) {
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		goto out;
	}
	if (wt_api_latest(r, ser, nser, val, ts) < 0) {
		wt_api_fail_db(r, "reading the latest values");
		goto out;
	}
	json_t *groups = json_object();
	int64_t newest = 0;
	for (int i = 0; i < n; i++) {
		json_t *e = json_object();
		json_object_set_new(e, "id", col_int(res, i, 0));
		json_object_set_new(e, "index", col_int(res, i, 2));
		json_object_set_new(e, "name", col_str(res, i, 3));
		json_object_set_new(e, "parent_id", col_int(res, i, 4));
		json_t *attrs = json_loads(PQgetvalue(res, i, 5), 0, NULL);
		json_object_set_new(e, "attributes", attrs ? attrs : json_object());
		json_t *readings = json_object(), *series = json_object();
		for (size_t k = 0; k < nser; k++) {
			if (owner[k] != i)
				continue;
			const char *mn = metric_name(met[k]);
			json_object_set_new(series, mn, json_integer(ser[k]));
			if (val[k] == val[k])
				json_object_set_new(readings, mn, json_real(val[k]));
			if (ts[k] > newest)
				newest = ts[k];
		}
		json_object_set_new(e, "readings", readings);
		json_object_set_new(e, "series", series);
		const char *kind = PQgetvalue(res, i, 1);
		char key[24];
		snprintf(key, sizeof(key), "%ss", kind); /* "outlets", "phases", ... */
		if (strcmp(kind, "total") == 0) {
			json_object_set(dev, "totals", e);
			json_decref(e);
			continue;
		}
		json_t *g = json_object_get(groups, key);
		if (!g) {
			g = json_array();
			json_object_set_new(groups, key, g);
		}
		json_array_append_new(g, e);
	}
	json_object_update(dev, groups);
	json_decref(groups);
	if (newest) {
		time_t t = (time_t)(newest / 1000);
		struct tm tm;
		char iso[32];
		gmtime_r(&t, &tm);
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(dev, "readings_at", json_string(iso));
	} else {
		json_object_set_new(dev, "readings_at", json_null());
	}
	wt_api_ok(r, 200, dev);
	dev = NULL;
out:
	json_decref(dev);
	free(ser);
	free(met);
	free(owner);
	free(val);
	free(ts);
	detail_release(d);
}

void wt_h_device_get(struct wt_api_req *r)
{
	device_get(r, true);
}

void wt_h_device_get_after(struct wt_api_req *r)
{
	merge_state(r, r->reply);
	struct wt_sched *s = r->layers.sched;
	struct wt_dev_status ds;
	if (s && wt_sched_status(s, (long)r->ids[0], &ds) == 0)
		json_object_set_new(r->reply, "polling",
				    json_pack("{s:i,s:i,s:I,s:I,s:I}", "fails", ds.fails,
					      "interval_ms", ds.interval_ms, "polls", (json_int_t)ds.polls,
					      "ok", (json_int_t)ds.ok, "missed", (json_int_t)ds.missed));
}

static const char *metric_name(int m)
{
	static const char *names[] = {
		"voltage", "voltage_peak", "voltage_dip", "current", "current_peak",
		"neutral_current", "residual_current", "power_active", "power_apparent",
		"power_reactive", "power_factor", "energy_active", "energy_apparent", "frequency",
		"thd_voltage", "thd_current", "crest_factor", "phase_angle", "temperature",
		"humidity", "battery_charge", "battery_runtime", "load_percent", "outlet_state",
		"breaker_tripped", "on_battery", "low_battery", "overload", "contact", "leak",
		"current_rating", "headroom",
	};
	return m >= 0 && (size_t)m < sizeof(names) / sizeof(names[0]) ? names[m] : "unknown";
}

/* ---- create and edit ---- */

static bool valid_feed(const char *f)
{
	return !f || strcmp(f, "A") == 0 || strcmp(f, "B") == 0 || strcmp(f, "C") == 0 ||
	       strcmp(f, "D") == 0 || strcmp(f, "none") == 0;
}

static int default_port(const char *proto)
{
	if (strcmp(proto, "snmp") == 0)
		return 161;
	if (strcmp(proto, "modbus") == 0)
		return 502;
	return 443;
}

/* Common checks of a create/patch body; false after failing r. */
static bool check_device_body(struct wt_api_req *r, bool create)
{
	json_t *b = r->body;
	const char *proto = json_string_value(json_object_get(b, "protocol"));
	if (proto && strcmp(proto, "snmp") != 0 && strcmp(proto, "modbus") != 0 &&
	    strcmp(proto, "redfish") != 0) {
		wt_api_fail(r, 400, "INVALID_REQUEST",
			    "field \"protocol\": expected snmp, modbus or redfish");
		return false;
	}
	json_t *port = json_object_get(b, "port");
	if (port && (json_integer_value(port) < 1 || json_integer_value(port) > 65535)) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"port\": must be 1 to 65535");
		return false;
	}
	json_t *unit = json_object_get(b, "unit");
	if (unit && (json_integer_value(unit) < 0 || json_integer_value(unit) > 255)) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"unit\": must be 0 to 255");
		return false;
	}
	if (!valid_feed(json_string_value(json_object_get(b, "feed")))) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"feed\": expected A, B, C, D or none");
		return false;
	}
	json_t *rating = json_object_get(b, "rating_a");
	if (rating && (json_number_value(rating) <= 0 || json_number_value(rating) > 10000)) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"rating_a\": must be above 0 and at most 10000");
		return false;
	}
	const char *name = json_string_value(json_object_get(b, "name"));
	if (name && !name[strspn(name, " \t")]) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"name\": must not be empty");
		return false;
	}
	const char *addr = json_string_value(json_object_get(b, "address"));
	if (addr && (!*addr || strpbrk(addr, " /\\@?#"))) {
		wt_api_fail(r, 400, "INVALID_REQUEST",
			    "field \"address\": expected a host name or IP address");
		return false;
	}
	(void)create;
	return true;
}

static void reply_device(struct wt_api_req *r, int status, const char *id)
{
	/* Re-read through the detail handler so create/patch answer with the
	 * same shape as GET (and, by construction, without credentials). */
	r->ids[0] = strtoll(id, NULL, 10);
	device_get(r, false);
	if (!r->err_code)
		r->status = status;
}

void wt_h_devices_create(struct wt_api_req *r)
{
	char port[8], unit[8], rating[32], st[6];
	if (!check_device_body(r, true))
		return;
	json_t *b = r->body;
	const char *proto = json_string_value(json_object_get(b, "protocol"));
	json_t *jp = json_object_get(b, "port"), *ju = json_object_get(b, "unit"),
	       *jr = json_object_get(b, "rating_a");
	snprintf(port, sizeof(port), "%d", jp ? (int)json_integer_value(jp) : default_port(proto));
	snprintf(unit, sizeof(unit), "%d", ju ? (int)json_integer_value(ju) : 0);
	snprintf(rating, sizeof(rating), "%.6g", jr ? json_number_value(jr) : 0.0);
	json_t *jc = json_object_get(b, "credentials");
	char *cred = jc ? json_dumps(jc, JSON_COMPACT) : strdup("{}");
	if (!cred) {
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	const char *feed = json_string_value(json_object_get(b, "feed"));
	const char *p[] = {json_string_value(json_object_get(b, "name")),
			   proto,
			   json_string_value(json_object_get(b, "address")),
			   port,
			   unit,
			   cred,
			   jr ? rating : NULL,
			   feed ? feed : "none",
			   json_string_value(json_object_get(b, "location"))};
	PGresult *res = wt_api_db_exec(
		r->db,
		"INSERT INTO devices (name, protocol, address, port, unit, credentials, rating_a, feed,"
		" location) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)"
		" ON CONFLICT DO NOTHING RETURNING id",
		9, p, st);
	free(cred);
	if (!res) {
		wt_api_fail_db(r, "adding the device");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail(r, 409, "DEVICE_EXISTS",
			    "a device at %s://%s:%s unit %s already exists", proto,
			    json_string_value(json_object_get(b, "address")), port, unit);
		return;
	}
	char id[24];
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	wt_api_audit(r, "device_created", "info", r->who.username, "added device %s \"%.64s\" (%s://%.64s:%s)",
		     id, json_string_value(json_object_get(b, "name")), proto,
		     json_string_value(json_object_get(b, "address")), port);
	reply_device(r, 201, id);
}

void wt_h_devices_update(struct wt_api_req *r)
{
	char id[24], port[8], unit[8], rating[32], st[6];
	if (!check_device_body(r, false))
		return;
	json_t *b = r->body;
	if (json_object_size(b) == 0) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "the body changes nothing");
		return;
	}
	snprintf(id, sizeof(id), "%lld", (long long)r->ids[0]);
	json_t *jp = json_object_get(b, "port"), *ju = json_object_get(b, "unit"),
	       *jr = json_object_get(b, "rating_a"), *jc = json_object_get(b, "credentials");
	snprintf(port, sizeof(port), "%d", (int)json_integer_value(jp));
	snprintf(unit, sizeof(unit), "%d", (int)json_integer_value(ju));
	snprintf(rating, sizeof(rating), "%.6g", json_number_value(jr));
	char *cred = jc ? json_dumps(jc, JSON_COMPACT) : NULL;
	if (jc && !cred) {
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	const char *p[] = {id,
			   json_string_value(json_object_get(b, "name")),
			   json_string_value(json_object_get(b, "protocol")),
			   json_string_value(json_object_get(b, "address")),
			   jp ? port : NULL,
			   ju ? unit : NULL,
			   cred,
			   jr ? rating : NULL,
			   json_string_value(json_object_get(b, "feed")),
			   json_string_value(json_object_get(b, "location"))};
	/* Credentials replace the stored ones whole; absent keeps them. */
	PGresult *res = wt_api_db_exec(
		r->db,
		"UPDATE devices SET name = coalesce($2, name), protocol = coalesce($3, protocol),"
		" address = coalesce($4, address), port = coalesce($5::int, port),"
		" unit = coalesce($6::int, unit), credentials = coalesce($7::jsonb, credentials),"
		" rating_a = coalesce($8::real, rating_a), feed = coalesce($9, feed),"
		" location = coalesce($10, location), updated_at = now() WHERE id = $1 RETURNING id",
		10, p, st);
	free(cred);
	if (!res) {
		if (strcmp(st, "23505") == 0)
			wt_api_fail(r, 409, "DEVICE_EXISTS", "another device has that endpoint");
		else
			wt_api_fail_db(r, "changing the device");
		return;
	}
	int n = PQntuples(res);
	PQclear(res);
	if (n != 1) {
		wt_api_fail(r, 404, "DEVICE_NOT_FOUND", "device %s does not exist", id);
		return;
	}
	wt_api_audit(r, "device_updated", "info", r->who.username, "changed device %s%s", id,
		     jc ? " (credentials replaced)" : "");
	reply_device(r, 200, id);
}

void wt_h_devices_delete(struct wt_api_req *r)
{
	char id[24], st[6];
	snprintf(id, sizeof(id), "%lld", (long long)r->ids[0]);
	const char *p[] = {id};
	PGresult *res = wt_api_db_exec(r->db, "DELETE FROM devices WHERE id = $1 RETURNING name", 1,
				       p, st);
	if (!res) {
		wt_api_fail_db(r, "removing the device");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail(r, 404, "DEVICE_NOT_FOUND", "device %s does not exist", id);
		return;
	}
	wt_api_audit(r, "device_deleted", "warning", r->who.username, "removed device %s \"%.64s\"",
		     id, PQgetvalue(res, 0, 0));
	PQclear(res);
	wt_api_ok(r, 204, NULL);
}

/* PATCH /devices/{id}/entities/{eid}: names of outlets, inlets, sensors;
 * outlet delays live in the attributes. */
void wt_h_entity_update(struct wt_api_req *r)
{
	char id[24], eid[24], on[16], off[16], st[6];
	json_t *b = r->body;
	const char *name = json_string_value(json_object_get(b, "name"));
	json_t *jon = json_object_get(b, "on_delay_s"), *joff = json_object_get(b, "off_delay_s");
	if (name && !name[strspn(name, " \t")]) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"name\": must not be empty");
		return;
	}
	if ((jon && (json_integer_value(jon) < 0 || json_integer_value(jon) > 7200)) ||
	    (joff && (json_integer_value(joff) < 0 || json_integer_value(joff) > 7200))) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "delays must be 0 to 7200 seconds");
		return;
	}
	snprintf(id, sizeof(id), "%lld", (long long)r->ids[0]);
	snprintf(eid, sizeof(eid), "%lld", (long long)r->ids[1]);
	snprintf(on, sizeof(on), "%lld", (long long)json_integer_value(jon));
	snprintf(off, sizeof(off), "%lld", (long long)json_integer_value(joff));
	const char *p[] = {id, eid, name, jon ? on : NULL, joff ? off : NULL};
	const char *pk[] = {id, eid};
	PGresult *res = wt_api_db_exec(r->db,
				       "SELECT kind FROM entities WHERE device_id = $1 AND id = $2", 2,
				       pk, st);
	if (!res) {
		wt_api_fail_db(r, "reading the part");
		return;
	}
	bool found = PQntuples(res) == 1;
	bool outlet = found && strcmp(PQgetvalue(res, 0, 0), "outlet") == 0;
	PQclear(res);
	if (!found) {
		wt_api_fail(r, 404, "ENTITY_NOT_FOUND", "device %s has no part %s", id, eid);
		return;
	}
	if ((jon || joff) && !outlet) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "only outlets have switching delays");
		return;
	}
	res = wt_api_db_exec(
		r->db,
		"UPDATE entities SET name = coalesce($3, name), attributes = attributes"
		" || CASE WHEN $4::int IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('on_delay_s', $4::int) END"
		" || CASE WHEN $5::int IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('off_delay_s', $5::int) END"
		" WHERE device_id = $1 AND id = $2 RETURNING id, kind, idx, name, attributes",
		5, p, st);
	if (!res) {
		wt_api_fail_db(r, "renaming the part");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail(r, 404, "ENTITY_NOT_FOUND", "device %s has no part %s", id, eid);
		return;
	}
	json_t *j = json_pack("{s:o,s:o,s:o,s:o,s:o}", "id", col_int(res, 0, 0), "kind",
			      col_str(res, 0, 1), "index", col_int(res, 0, 2), "name",
			      col_str(res, 0, 3), "attributes",
			      json_loads(PQgetvalue(res, 0, 4), 0, NULL));
	PQclear(res);
	wt_api_audit(r, "device_updated", "info", r->who.username, "changed part %s of device %s", eid,
		     id);
	wt_api_ok(r, 200, j);
}
