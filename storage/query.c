#include "query.h"

#include "batch.h"
#include "log.h"
#include "pg.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int64_t step_of[] = {WT_BUCKET_MS, WT_HOUR_MS, WT_DAY_MS};
static const char *const table_of[] = {"samples_5s", "samples_1h", "samples_1d"};

enum wt_level wt_query_pick_level(int64_t from, int64_t to, size_t budget)
{
	if (budget == 0)
		budget = 1000;
	for (int l = WT_LEVEL_5S; l <= WT_LEVEL_DAY; l++) {
		int64_t pts = to > from ? (to - from + step_of[l] - 1) / step_of[l] : 0;
		if ((uint64_t)pts <= budget)
			return (enum wt_level)l;
	}
	return WT_LEVEL_DAY;
}

/* Points as collected, before merging: mem marks in-memory ones. */
struct vec {
	struct wt_point *p;
	uint8_t *mem;
	size_t n, cap;
};

struct ctx {
	uint32_t *ids; /* sorted unique */
	struct vec *v; /* parallel to ids */
	size_t n;
	bool mem;
	int err;
};

static struct vec *find(struct ctx *c, uint32_t id)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->n && c->ids[lo] == id ? &c->v[lo] : NULL;
}

static void add(void *arg, uint32_t series, const struct wt_point *p)
{
	struct ctx *c = arg;
	struct vec *v = find(c, series);
	if (!v)
		return;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct wt_point *np = realloc(v->p, cap * sizeof(*np));
		if (!np) {
			c->err = -ENOMEM;
			return;
		}
		v->p = np;
		uint8_t *nm = realloc(v->mem, cap);
		if (!nm) {
			c->err = -ENOMEM;
			return;
		}
		v->mem = nm;
		v->cap = cap;
	}
	v->p[v->n] = *p;
	v->mem[v->n] = c->mem;
	v->n++;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double rdf8(const char *p)
{
	uint64_t u = wt_rd64((const unsigned char *)p);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

static int read_db(PGconn *pg, struct ctx *c, enum wt_level level, int64_t from, int64_t to)
{
	char lo[24], hi[24], *arr = malloc(c->n * 11 + 3);
	size_t len = 0;
	if (!arr)
		return -ENOMEM;
	arr[len++] = '{';
	for (size_t i = 0; i < c->n; i++)
		len += (size_t)snprintf(arr + len, 12, "%s%" PRIu32, i ? "," : "", c->ids[i]);
	arr[len++] = '}';
	arr[len] = 0;
	/* A 5 s row starting before 'from' may hold buckets inside the range. */
	snprintf(lo, sizeof(lo), "%" PRId64, level == WT_LEVEL_5S ? from - WT_WINDOW_MAX_MS : from);
	snprintf(hi, sizeof(hi), "%" PRId64, to);
	char sql[400];
	if (level == WT_LEVEL_5S)
		snprintf(
			sql, sizeof(sql),
			"SELECT series, start, quality, cnt, v, mn, mx, raw FROM samples_5s "
			"WHERE series = ANY($1::int4[]) AND start >= to_timestamp($2::int8 / 1000.0) "
			"AND start < to_timestamp($3::int8 / 1000.0)");
	else
		snprintf(
			sql, sizeof(sql),
			"SELECT series, start, count, quality, min, max, sum, NULL FROM %s "
			"WHERE series = ANY($1::int4[]) AND start >= to_timestamp($2::int8 / 1000.0) "
			"AND start < to_timestamp($3::int8 / 1000.0)",
			table_of[level]);
	const char *p[] = {arr, lo, hi};
	PGresult *r = PQexecParams(pg, sql, 3, NULL, p, NULL, NULL, 1);
	free(arr);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char msg[300];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
		msg[strcspn(msg, "\n")] = 0;
		wt_error("query: %s: %s", table_of[level], msg);
		PQclear(r);
		return -EIO;
	}
	struct wt_row5s *row = level == WT_LEVEL_5S ? malloc(sizeof(*row)) : NULL;
	if (level == WT_LEVEL_5S && !row) {
		PQclear(r);
		return -ENOMEM;
	}
	c->mem = false;
	for (int i = 0; i < PQntuples(r) && c->err == 0; i++) {
		const char *f[WT_ROW5S_FIELDS];
		int fl[WT_ROW5S_FIELDS];
		for (int k = 0; k < WT_ROW5S_FIELDS; k++) {
			f[k] = PQgetvalue(r, i, k);
			fl[k] = PQgetisnull(r, i, k) ? -1 : PQgetlength(r, i, k);
		}
		if (level == WT_LEVEL_5S) {
			if (wt_row5s_decode(f, fl, row) < 0) {
				wt_warn("query: malformed 5 s row skipped");
				continue;
			}
			for (int k = 0; k < row->nb; k++) {
				int64_t t = row->start_ms + (int64_t)k * WT_BUCKET_MS;
				if (!row->cnt[k] || t < from || t >= to)
					continue;
				struct wt_point pt = {t,          row->mn[k],  row->v[k],
						      row->mx[k], row->cnt[k], row->quality};
				add(c, row->series, &pt);
			}
		} else {
			if (fl[0] != 4 || fl[1] != 8 || fl[2] != 4 || fl[3] != 2 || fl[4] != 8 ||
			    fl[5] != 8 || fl[6] != 8)
				continue;
			uint32_t count = wt_rd32((const unsigned char *)f[2]);
			if (!count)
				continue;
			struct wt_point pt = {
				wt_pg_ts_to_ms((int64_t)wt_rd64((const unsigned char *)f[1])),
				rdf8(f[4]),
				rdf8(f[6]) / count,
				rdf8(f[5]),
				count,
				(uint8_t)wt_rd16((const unsigned char *)f[3])};
			add(c, wt_rd32((const unsigned char *)f[0]), &pt);
		}
	}
	free(row);
	PQclear(r);
	return c->err;
}

/* Sorts by time, in-memory before database for equal times, keeps the
 * first of each timestamp. Insertion-friendly: mostly sorted already. */
struct merge_item {
	struct wt_point p;
	size_t order;
	uint8_t mem;
};

/* Time ascending; on equal times the fresher source (higher mem) first, then
 * arrival order, so the dedup below keeps the same point a stable sort would. */
static int merge_cmp(const void *a, const void *b)
{
	const struct merge_item *x = a, *y = b;

	if (x->p.ts_ms != y->p.ts_ms)
		return x->p.ts_ms < y->p.ts_ms ? -1 : 1;
	if (x->mem != y->mem)
		return x->mem > y->mem ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order);
}

/* Sorts database and in-memory points together and drops duplicate times.
 * O(n log n): database rows arrive in heap order, not time order, and an
 * insertion sort went quadratic on a year of hourly points. */
static int merge(struct vec *v)
{
	if (v->n > 1) {
		struct merge_item *it = malloc(v->n * sizeof(*it));
		if (!it)
			return -ENOMEM;
		for (size_t i = 0; i < v->n; i++)
			it[i] = (struct merge_item){v->p[i], i, v->mem[i]};
		qsort(it, v->n, sizeof(*it), merge_cmp);
		for (size_t i = 0; i < v->n; i++) {
			v->p[i] = it[i].p;
			v->mem[i] = it[i].mem;
		}
		free(it);
	}
	size_t k = 0;
	for (size_t i = 0; i < v->n; i++)
		if (k == 0 || v->p[k - 1].ts_ms != v->p[i].ts_ms)
			v->p[k++] = v->p[i];
	v->n = k;
	return 0;
}

int wt_query(PGconn *pg, struct wt_storage *s, const uint32_t *ids, size_t n, int64_t from,
	     int64_t to, int level, size_t budget, struct wt_query_result *out)
{
	struct ctx c = {0};
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (to <= from || n == 0 || level < WT_QUERY_AUTO || level > WT_LEVEL_DAY)
		return -EINVAL;
	enum wt_level lvl = level == WT_QUERY_AUTO ? wt_query_pick_level(from, to, budget)
						   : (enum wt_level)level;
	c.ids = malloc(n * sizeof(uint32_t));
	c.v = calloc(n, sizeof(struct vec));
	out->series = calloc(n, sizeof(*out->series));
	if (!c.ids || !c.v || !out->series) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(c.ids, ids, n * sizeof(uint32_t));
	qsort(c.ids, n, sizeof(uint32_t), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (c.n == 0 || c.ids[c.n - 1] != c.ids[i])
			c.ids[c.n++] = c.ids[i];

	/* Memory first: see the header for why. */
	if (s) {
		c.mem = true;
		wt_storage_peek_points(s, lvl, c.ids, c.n, from, to, add, &c);
		if ((rc = c.err) < 0)
			goto out;
	}
	if ((rc = read_db(pg, &c, lvl, from, to)) < 0)
		goto out;

	out->level = lvl;
	out->step_ms = step_of[lvl];
	out->nseries = n;
	for (size_t i = 0; i < c.n; i++)
		if ((rc = merge(&c.v[i])) < 0)
			goto out;
	for (size_t i = 0; i < n; i++) {
		struct vec *v = find(&c, ids[i]);
		out->series[i].series = ids[i];
		if (!v->n)
			continue;
		out->series[i].pts = malloc(v->n * sizeof(struct wt_point));
		if (!out->series[i].pts) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(out->series[i].pts, v->p, v->n * sizeof(struct wt_point));
		out->series[i].n = v->n;
	}
out:
	if (c.v)
		for (size_t i = 0; i < n; i++) {
			free(c.v[i].p);
			free(c.v[i].mem);
		}
	free(c.v);
	free(c.ids);
	if (rc < 0)
		wt_query_result_free(out);
	return rc;
}

void wt_query_result_free(struct wt_query_result *r)
{
	if (r->series)
		for (size_t i = 0; i < r->nseries; i++)
			free(r->series[i].pts);
	free(r->series);
	memset(r, 0, sizeof(*r));
}

/* ---- the newest point per series ---- */

struct latest {
	const uint32_t *ids;
	size_t n;
	struct wt_point *out;
	uint8_t *mem; /* out[i] came from memory */
};

static ptrdiff_t latest_find(const struct latest *l, uint32_t id)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (l->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n && l->ids[lo] == id ? (ptrdiff_t)lo : -1;
}

/* Keeps the newest point; on equal times the in-memory one (see the header
 * of query.h: a batch committed meanwhile is in both). */
static void latest_offer(struct latest *l, uint32_t series, const struct wt_point *p, bool mem)
{
	ptrdiff_t i = latest_find(l, series);
	if (i < 0)
		return;
	struct wt_point *o = &l->out[i];
	if (o->count && (o->ts_ms > p->ts_ms || (o->ts_ms == p->ts_ms && (l->mem[i] || !mem))))
		return;
	*o = *p;
	l->mem[i] = mem;
}

static void latest_mem(void *arg, uint32_t series, const struct wt_point *p)
{
	latest_offer(arg, series, p, true);
}

int wt_query_latest(PGconn *pg, struct wt_storage *s, const uint32_t *ids, size_t n, int64_t from,
		    int64_t to, struct wt_point *out)
{
	memset(out, 0, n * sizeof(*out));
	if (to <= from)
		return -EINVAL;
	if (n == 0)
		return 0;
	for (size_t i = 1; i < n; i++)
		if (ids[i - 1] >= ids[i])
			return -EINVAL;
	struct latest l = {ids, n, out, calloc(n, 1)};
	char *arr = malloc(n * 11 + 3);
	struct wt_row5s *row = malloc(sizeof(*row));
	int rc = 0;
	if (!l.mem || !arr || !row) {
		rc = -ENOMEM;
		goto out;
	}
	if (s)
		wt_storage_peek_points(s, WT_LEVEL_5S, ids, n, from, to, latest_mem, &l);
	/* Memory holds what is not yet written, so a series with a point in
	 * memory has nothing newer in the database: only the others are
	 * probed. A live device's detail then costs no database trip. */
	size_t len = 0, nprobe = 0;
	arr[len++] = '{';
	for (size_t i = 0; i < n; i++)
		if (!out[i].count)
			len += (size_t)snprintf(arr + len, 12, "%s%" PRIu32, nprobe++ ? "," : "", ids[i]);
	arr[len++] = '}';
	arr[len] = 0;
	if (!nprobe)
		goto out;
	char lo[24], hi[24];
	/* A row starting up to a window before 'from' may hold buckets inside. */
	snprintf(lo, sizeof(lo), "%" PRId64, from - WT_WINDOW_MAX_MS);
	snprintf(hi, sizeof(hi), "%" PRId64, to);
	const char *p[] = {arr, lo, hi};
	/* Rows never overlap, so a series' newest row holds its newest bucket:
	 * one backward probe of (series, start) per series. */
	PGresult *r = PQexecParams(
		pg,
		"SELECT x.series, x.start, x.quality, x.cnt, x.v, x.mn, x.mx, x.raw"
		" FROM unnest($1::int4[]) u(id) CROSS JOIN LATERAL"
		" (SELECT series, start, quality, cnt, v, mn, mx, raw FROM samples_5s"
		"  WHERE series = u.id AND start >= to_timestamp($2::int8 / 1000.0)"
		"  AND start < to_timestamp($3::int8 / 1000.0) ORDER BY start DESC LIMIT 1) x",
		3, NULL, p, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char msg[300];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
		msg[strcspn(msg, "\n")] = 0;
		wt_error("query: latest samples_5s: %s", msg);
		PQclear(r);
		rc = -EIO;
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		const char *f[WT_ROW5S_FIELDS];
		int fl[WT_ROW5S_FIELDS];
		for (int k = 0; k < WT_ROW5S_FIELDS; k++) {
			f[k] = PQgetvalue(r, i, k);
			fl[k] = PQgetisnull(r, i, k) ? -1 : PQgetlength(r, i, k);
		}
		if (wt_row5s_decode(f, fl, row) < 0) {
			wt_warn("query: malformed 5 s row skipped");
			continue;
		}
		for (int k = row->nb - 1; k >= 0; k--) {
			int64_t t = row->start_ms + (int64_t)k * WT_BUCKET_MS;
			if (!row->cnt[k] || t < from || t >= to)
				continue;
			struct wt_point pt = {t, row->mn[k], row->v[k], row->mx[k], row->cnt[k], row->quality};
			latest_offer(&l, row->series, &pt, false);
			break;
		}
	}
	PQclear(r);
out:
	free(row);
	free(arr);
	free(l.mem);
	if (rc < 0)
		memset(out, 0, n * sizeof(*out));
	return rc;
}
