#include "storage.h"

#include "batch.h"
#include "log.h"
#include "migrate.h"
#include "partition.h"
#include "pg.h"
#include "registry.h"
#include "writer.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAINT_INTERVAL_MS (15 * 60 * 1000)
#define TICK_MARGIN_MS 20

struct cstate {
	double raw;
	int64_t ts; /* INT64_MIN: no reading yet */
};

struct wt_storage {
	struct wt_storage_options o;
	char *conninfo, *spool_dir;
	const struct wt_clock *clock;
	struct event_base *base;
	struct event *tick_ev, *maint_ev;

	/* Guards everything below against worker threads running queries. */
	pthread_mutex_t lock;
	struct wt_rollup *rollup;
	struct wt_window win;
	/* Counters' newest raw reading: cidx[series] - 1 indexes cs. */
	uint32_t ccap;
	uint32_t *cidx;
	struct cstate *cs;
	size_t ncs, cs_cap;

	struct wt_writer *writer;
	bool opened; /* seeded and subscribed: close may flush and mark clean */
	uint64_t enc_errors;
};

void wt_storage_defaults(struct wt_storage_options *o)
{
	memset(o, 0, sizeof(*o));
	o->spool_max_bytes = 1ULL << 30;
	o->flush_interval_ms = 60000;
	o->retention_5s_days = 14;
	o->retention_hourly_days = 730;
	o->retention_daily_days = 3650;
}

static void apply_defaults(struct wt_storage_options *o, const struct wt_storage_options *in)
{
	struct wt_storage_options d;
	wt_storage_defaults(&d);
	*o = *in;
	if (o->spool_max_bytes == 0)
		o->spool_max_bytes = d.spool_max_bytes;
	if (o->flush_interval_ms <= 0)
		o->flush_interval_ms = d.flush_interval_ms;
	/* Windows are whole 5 s buckets, at most WT_WINDOW_MAX_MS. */
	o->flush_interval_ms -= o->flush_interval_ms % WT_BUCKET_MS;
	if (o->flush_interval_ms < WT_BUCKET_MS)
		o->flush_interval_ms = WT_BUCKET_MS;
	if (o->flush_interval_ms > WT_WINDOW_MAX_MS) {
		wt_warn("storage: flush interval %d ms capped at %d ms", o->flush_interval_ms,
			WT_WINDOW_MAX_MS);
		o->flush_interval_ms = WT_WINDOW_MAX_MS;
	}
	if (o->retention_5s_days <= 0)
		o->retention_5s_days = d.retention_5s_days;
	if (o->retention_hourly_days <= 0)
		o->retention_hourly_days = d.retention_hourly_days;
	if (o->retention_daily_days <= 0)
		o->retention_daily_days = d.retention_daily_days;
}

/* ---- counters' raw values ----
 * Only counters need their raw reading kept (the 5 s rows hold deltas), so
 * the dense per-series part is a 4-byte index into a compact array of
 * counter states. */

static int counters_grow(struct wt_storage *s, uint32_t series)
{
	uint32_t cap = s->ccap ? s->ccap : 1024;
	while (cap <= series)
		cap *= 2;
	uint32_t *ix = realloc(s->cidx, cap * sizeof(uint32_t));
	if (!ix)
		return -ENOMEM;
	memset(ix + s->ccap, 0, (cap - s->ccap) * sizeof(uint32_t));
	s->cidx = ix;
	s->ccap = cap;
	return 0;
}

static int mark_counter(struct wt_storage *s, uint32_t series, bool counter)
{
	if (series >= s->ccap) {
		if (!counter)
			return 0;
		if (counters_grow(s, series) < 0)
			return -ENOMEM;
	}
	if (!counter || s->cidx[series]) {
		/* A series that stops being a counter keeps its slot, unused. */
		if (!counter)
			s->cidx[series] = 0;
		return 0;
	}
	if (s->ncs == s->cs_cap) {
		size_t cap = s->cs_cap ? s->cs_cap * 2 : 256;
		struct cstate *n = realloc(s->cs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->cs = n;
		s->cs_cap = cap;
	}
	s->cs[s->ncs] = (struct cstate){0, INT64_MIN};
	s->cidx[series] = (uint32_t)++s->ncs;
	return 0;
}

static struct cstate *counter_of(struct wt_storage *s, uint32_t series)
{
	return series < s->ccap && s->cidx[series] ? &s->cs[s->cidx[series] - 1] : NULL;
}

static bool raw_of(void *ctx, uint32_t series, double *raw)
{
	const struct cstate *c = counter_of(ctx, series);
	if (!c || c->ts == INT64_MIN)
		return false;
	*raw = c->raw;
	return true;
}

/* ---- window -> writer ---- */

static void flush_window(struct wt_storage *s)
{
	struct wt_batch *b;
	if (wt_window_take(&s->win, raw_of, s, &b) < 0) {
		s->enc_errors++;
		wt_error("storage: out of memory encoding a batch; its 5 s data is lost");
		return;
	}
	if (!b)
		return;
	wt_writer_submit(s->writer, b);
}

static void on_close(void *ctx, int64_t bucket_start, const struct wt_bucket *bk, size_t n)
{
	struct wt_storage *s = ctx;
	struct wt_window *w = &s->win;

	if (w->start_ms != INT64_MIN && bucket_start >= w->start_ms + w->len_ms)
		flush_window(s);
	for (size_t i = 0; i < n; i++) {
		int rc = wt_window_add(w, &bk[i]);
		if (rc == -ERANGE) {
			/* Buckets arrive in time order, so this is a bucket older than
			 * the open window (only after a clock step back). Flush and
			 * start over rather than lose it. */
			flush_window(s);
			rc = wt_window_add(w, &bk[i]);
		}
		if (rc < 0) {
			s->enc_errors++;
			wt_error("storage: cannot buffer bucket of series %" PRIu32 ": %s",
				 bk[i].series, strerror(-rc));
		}
	}
	/* The last bucket of the window just closed: hand it over now. */
	if (w->start_ms != INT64_MIN && bucket_start + WT_BUCKET_MS >= w->start_ms + w->len_ms)
		flush_window(s);
}

static void on_agg(void *ctx, enum wt_level level, int64_t start, const struct wt_agg *a, size_t n)
{
	struct wt_storage *s = ctx;
	struct wt_batch *b;
	(void)start;
	if (!n)
		return;
	if (wt_batch_from_aggs(level, a, n, wt_batch_new_id(&s->win), &b) < 0) {
		s->enc_errors++;
		wt_error("storage: out of memory encoding %zu %s aggregates; lost", n,
			 level == WT_LEVEL_HOUR ? "hourly" : "daily");
		return;
	}
	wt_writer_submit(s->writer, b);
}

/* ---- restart continuation ---- */

/* Every 5 s bucket of rows starting in [$1, $2) (ms), one row per bucket:
 * series, quality, t (bucket start), v, c (count), lo, hi. Gaps (NaN) out. */
#define BUCKETS_CTE                                                                                \
	"b AS (SELECT s.series, s.quality, s.start + (u.k - 1) * interval '5 seconds' AS t,"       \
	" u.v, COALESCE(u.c, 1) AS c, COALESCE(u.lo, u.v) AS lo, COALESCE(u.hi, u.v) AS hi"        \
	" FROM samples_5s s, unnest(s.v, s.cnt, s.mn, s.mx) WITH ORDINALITY AS u(v, c, lo, hi, k)" \
	" WHERE s.start >= to_timestamp($1::int8 / 1000.0)"                                        \
	" AND s.start < to_timestamp($2::int8 / 1000.0) AND u.v <> 'NaN'::real)"

/* Seeds the rollup's open hour or day from rows of (series, count, quality,
 * min, max, sum); returns how many series were seeded. */
static int seed_rows(struct wt_storage *s, PGresult *r, enum wt_level level, int64_t start)
{
	int seeded = 0;

	for (int i = 0; i < PQntuples(r); i++) {
		struct wt_agg a = {
			.series = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10),
			.count = (uint32_t)strtoul(PQgetvalue(r, i, 1), NULL, 10),
			.start_ms = start,
			.quality = (uint8_t)strtoul(PQgetvalue(r, i, 2), NULL, 10),
			.min = strtod(PQgetvalue(r, i, 3), NULL),
			.max = strtod(PQgetvalue(r, i, 4), NULL),
			.sum = strtod(PQgetvalue(r, i, 5), NULL),
		};
		if (a.count && wt_rollup_seed(s->rollup, level, &a) == 0)
			seeded++;
	}
	return seeded;
}

/* The open hour so far, from its 5 s rows, folded in SQL so that only one
 * row per series crosses the wire (at 100k series an hour is 6M rows). */
static int seed_hour(struct wt_storage *s, PGconn *c, int64_t hour)
{
	char lo[24], hi[24], h0[24];
	PGresult *r;
	int seeded = 0;
	snprintf(lo, sizeof(lo), "%" PRId64, hour - WT_WINDOW_MAX_MS);
	snprintf(hi, sizeof(hi), "%" PRId64, (int64_t)(hour + WT_HOUR_MS));
	snprintf(h0, sizeof(h0), "%" PRId64, hour);
	const char *p[] = {lo, hi, h0};
	if (wt_pg_query(c, "read the open hour", &r,
			"WITH " BUCKETS_CTE " SELECT series, sum(c), max(quality), min(lo)::float8,"
			" max(hi)::float8, sum(v::float8 * c) FROM b"
			" WHERE t >= to_timestamp($3::int8 / 1000.0) GROUP BY series",
			3, p) < 0)
		return -EIO;
	seeded = seed_rows(s, r, WT_LEVEL_HOUR, hour);
	PQclear(r);
	if (seeded)
		wt_info("storage: seeded the open hour of %d series", seeded);
	return 0;
}

/* The open day's closed hours, from the hourly rows. */
static int seed_day(struct wt_storage *s, PGconn *c, int64_t day, int64_t hour)
{
	char lo[24], hi[24];
	PGresult *r;
	int seeded = 0;
	snprintf(lo, sizeof(lo), "%" PRId64, day);
	snprintf(hi, sizeof(hi), "%" PRId64, hour);
	const char *p[] = {lo, hi};
	if (wt_pg_query(c, "read the open day", &r,
			"SELECT series, sum(count), max(quality), min(min), max(max), sum(sum) "
			"FROM samples_1h WHERE start >= to_timestamp($1::int8 / 1000.0) "
			"AND start < to_timestamp($2::int8 / 1000.0) GROUP BY series",
			2, p) < 0)
		return -EIO;
	seeded = seed_rows(s, r, WT_LEVEL_DAY, day);
	PQclear(r);
	if (seeded)
		wt_info("storage: seeded the open day of %d series", seeded);
	return 0;
}

/* Each counter's newest raw reading, from its newest 5 s row (one index
 * probe per counter series and partition). */
static int seed_counters(struct wt_storage *s, PGconn *c)
{
	PGresult *r;
	int seeded = 0;
	if (wt_pg_query(
		    c, "read counters' last readings", &r,
		    "SELECT s.id, x.raw, (extract(epoch FROM x.start) * 1000)::int8 "
		    "FROM series s JOIN metrics m ON m.id = s.metric AND m.flags & 1 = 1 "
		    "CROSS JOIN LATERAL (SELECT raw, start FROM samples_5s y WHERE y.series = s.id "
		    "AND y.raw IS NOT NULL ORDER BY y.start DESC LIMIT 1) x",
		    0, NULL) < 0)
		return -EIO;
	for (int i = 0; i < PQntuples(r); i++) {
		uint32_t id = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
		double raw = strtod(PQgetvalue(r, i, 1), NULL);
		struct cstate *cs = counter_of(s, id);
		if (wt_rollup_seed_counter(s->rollup, id, raw) == 0 && cs) {
			cs->raw = raw;
			cs->ts = strtoll(PQgetvalue(r, i, 2), NULL, 10);
			seeded++;
		}
	}
	PQclear(r);
	if (seeded)
		wt_info("storage: seeded %d counters' last readings", seeded);
	return 0;
}

/* After a kill -9 the hour that was open never got its row (a clean
 * shutdown writes it provisionally), nor did its day if that is over. The
 * writer records where the 5 s data ends (storage_state, in each batch's
 * transaction); if that hour is over, rebuild its row from its 5 s rows
 * (only that hour: earlier ones were closed by the process that ran then)
 * and, if its day is over too, the day's row from its hours. A row is only
 * replaced by one with more samples. Runs before the day seed. */
static int repair_last_hour(PGconn *c, int64_t hour_now)
{
	PGresult *r;
	char lo[24], hi[24], h0[24], d0[24], d1[24];
	if (wt_pg_query(c, "read storage_state", &r,
			"SELECT (extract(epoch FROM data_end) * 1000)::int8 FROM storage_state", 0,
			NULL) < 0)
		return -EIO;
	int64_t end = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : INT64_MIN;
	PQclear(r);
	if (end == INT64_MIN)
		return 0;
	int64_t hour = wt_rollup_align(end - 1, WT_HOUR_MS);
	int64_t day = wt_rollup_align(hour, WT_DAY_MS);
	if (hour >= hour_now)
		return 0; /* still open: seed_hour continues it */
	snprintf(lo, sizeof(lo), "%" PRId64, hour - WT_WINDOW_MAX_MS);
	snprintf(hi, sizeof(hi), "%" PRId64, (int64_t)(hour + WT_HOUR_MS));
	snprintf(h0, sizeof(h0), "%" PRId64, hour);
	const char *p[] = {lo, hi, h0};
	if (wt_pg_query(
		    c, "rebuild an hourly row", &r,
		    "WITH " BUCKETS_CTE ", h AS (SELECT series, to_timestamp($3::int8 / 1000.0)"
		    " AS start, sum(c)::int4 AS count, max(quality) AS quality, min(lo)::float8"
		    " AS min, max(hi)::float8 AS max, sum(v::float8 * c) AS sum FROM b"
		    " WHERE t >= to_timestamp($3::int8 / 1000.0) GROUP BY series)"
		    " INSERT INTO samples_1h SELECT * FROM h ON CONFLICT (series, start) DO UPDATE"
		    " SET count = EXCLUDED.count, quality = EXCLUDED.quality, min = EXCLUDED.min,"
		    " max = EXCLUDED.max, sum = EXCLUDED.sum WHERE samples_1h.count < EXCLUDED.count",
		    3, p) < 0)
		return -EIO;
	if (strcmp(PQcmdTuples(r), "0") != 0)
		wt_notice("storage: rebuilt %s hourly rows of the hour interrupted by a crash",
			  PQcmdTuples(r));
	PQclear(r);
	if (day >= wt_rollup_align(hour_now, WT_DAY_MS))
		return 0; /* today: the day seed reads the hours */
	snprintf(d0, sizeof(d0), "%" PRId64, day);
	snprintf(d1, sizeof(d1), "%" PRId64, (int64_t)(day + WT_DAY_MS));
	const char *q[] = {d0, d1};
	if (wt_pg_query(
		    c, "rebuild a daily row", &r,
		    "INSERT INTO samples_1d SELECT series, to_timestamp($1::int8 / 1000.0),"
		    " sum(count)::int4, max(quality), min(min), max(max), sum(sum) FROM samples_1h"
		    " WHERE start >= to_timestamp($1::int8 / 1000.0)"
		    " AND start < to_timestamp($2::int8 / 1000.0) GROUP BY series"
		    " ON CONFLICT (series, start) DO UPDATE SET count = EXCLUDED.count,"
		    " quality = EXCLUDED.quality, min = EXCLUDED.min, max = EXCLUDED.max,"
		    " sum = EXCLUDED.sum WHERE samples_1d.count < EXCLUDED.count",
		    2, q) < 0)
		return -EIO;
	if (strcmp(PQcmdTuples(r), "0") != 0)
		wt_notice("storage: rebuilt %s daily rows of the day interrupted by a crash",
			  PQcmdTuples(r));
	PQclear(r);
	return 0;
}

/* Schema, partitions, and every series registered in the engine. */
static int load_schema(struct wt_storage *s, PGconn *c)
{
	struct wt_series_info *si;
	size_t n;
	int rc;
	const char *dir = s->o.migrations_dir ? s->o.migrations_dir : wt_migrate_default_dir();
	int64_t now = wt_clock_now(s->clock);
	int64_t hour = wt_rollup_align(now - WT_ROLLUP_GRACE_MS, WT_HOUR_MS);

	if ((rc = wt_migrate(c, dir, NULL)) < 0)
		return rc;
	if ((rc = wt_registry_sync_metrics(c)) < 0 || (rc = wt_partition_ahead(c, now)) < 0 ||
	    (rc = wt_partition_ensure(c, WT_LEVEL_5S, hour - WT_WINDOW_MAX_MS)) < 0)
		return rc;
	if ((rc = wt_registry_list_series(c, &si, &n)) < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = wt_rollup_register(s->rollup, si[i].id, si[i].flags, 0);
		if (rc == 0)
			rc = mark_counter(s, si[i].id, si[i].flags & WT_MF_COUNTER);
	}
	free(si);
	if (rc < 0)
		return rc;
	wt_info("storage: %zu series registered", n);
	return 0;
}

/* After a clean shutdown the provisional hourly rows are complete: the open
 * hour so far is exactly its hourly row. */
static int seed_hour_provisional(struct wt_storage *s, PGconn *c, int64_t hour)
{
	char h0[24];
	PGresult *r;
	int seeded = 0;
	snprintf(h0, sizeof(h0), "%" PRId64, hour);
	const char *p[] = {h0};
	if (wt_pg_query(c, "read the open hour", &r,
			"SELECT series, count, quality, min, max, sum FROM samples_1h"
			" WHERE start = to_timestamp($1::int8 / 1000.0)",
			1, p) < 0)
		return -EIO;
	seeded = seed_rows(s, r, WT_LEVEL_HOUR, hour);
	PQclear(r);
	if (seeded)
		wt_info("storage: seeded the open hour of %d series (clean shutdown)", seeded);
	return 0;
}

static double since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Restart continuation: the open hour and day and the counters. */
static int seed(struct wt_storage *s, PGconn *c)
{
	int64_t t = wt_clock_now(s->clock) - WT_ROLLUP_GRACE_MS;
	int64_t hour = wt_rollup_align(t, WT_HOUR_MS), day = wt_rollup_align(t, WT_DAY_MS);
	struct timespec t0;
	PGresult *r;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (wt_pg_query(c, "read storage_state", &r, "SELECT clean FROM storage_state", 0, NULL) <
	    0)
		return -EIO;
	bool clean = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (clean)
		rc = seed_hour_provisional(s, c, hour);
	else if ((rc = repair_last_hour(c, hour)) == 0)
		rc = seed_hour(s, c, hour);
	if (rc < 0)
		return rc;
	double th = since(&t0);
	if ((rc = seed_day(s, c, day, hour)) < 0 || (rc = seed_counters(s, c)) < 0)
		return rc;
	wt_info("storage: start-up seeding took %.2f s (%s; open hour %.2f s)", since(&t0),
		clean ? "after a clean shutdown" : "from 5 s rows", th);
	return 0;
}

/* ---- timers ---- */

static void arm_tick(struct wt_storage *s)
{
	int64_t now = wt_clock_now(s->clock);
	int64_t next = wt_rollup_align(now, WT_BUCKET_MS) + WT_BUCKET_MS + WT_ROLLUP_GRACE_MS +
		       TICK_MARGIN_MS;
	if (next - WT_BUCKET_MS > now)
		next -= WT_BUCKET_MS;
	struct timeval tv = {(time_t)((next - now) / 1000),
			     (suseconds_t)((next - now) % 1000) * 1000};
	evtimer_add(s->tick_ev, &tv);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wt_storage *s = arg;
	(void)fd;
	(void)what;
	wt_storage_tick(s);
	arm_tick(s);
}

static void maint_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wt_storage *s = arg;
	(void)fd;
	(void)what;
	wt_writer_maintain(s->writer, wt_clock_now(s->clock), s->o.retention_5s_days,
			   s->o.retention_hourly_days, s->o.retention_daily_days);
}

/* ---- API ---- */

int wt_storage_open(struct wt_storage **out, const struct wt_storage_options *in,
		    struct event_base *base, const struct wt_clock *clock)
{
	struct wt_storage *s = calloc(1, sizeof(*s));
	int rc = -ENOMEM;
	*out = NULL;
	if (!s)
		return -ENOMEM;
	apply_defaults(&s->o, in);
	s->clock = clock;
	s->base = base;
	/* Recursive: close subscribers (the structure aggregator) may feed
	 * samples back through wt_storage_ingest from inside wt_storage_tick. */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	s->conninfo = strdup(in->conninfo ? in->conninfo : "");
	s->spool_dir = strdup(in->spool_dir ? in->spool_dir : "spool");
	if (!s->conninfo || !s->spool_dir)
		goto fail;
	s->o.conninfo = s->conninfo;
	s->o.spool_dir = s->spool_dir;
	if ((rc = wt_window_init(&s->win, s->o.flush_interval_ms)) < 0)
		goto fail;
	rc = -ENOMEM;
	if (!(s->rollup = wt_rollup_new(clock)))
		goto fail;

	PGconn *c = wt_pg_connect(s->conninfo, 10);
	if (!c) {
		wt_error("storage: cannot connect to PostgreSQL");
		rc = -ENOTCONN;
		goto fail;
	}
	rc = load_schema(s, c);
	/* The writer replays what a previous run spooled before the seeding
	 * reads the database, or the open hour would miss it. */
	if (rc == 0 &&
	    (rc = wt_writer_start(&s->writer, s->conninfo, s->spool_dir, s->o.spool_max_bytes)) ==
		    0 &&
	    wt_writer_sync(s->writer, 120000, true) < 0)
		wt_warn("storage: the spool is still being replayed; the open hour's row may "
			"miss its part");
	if (rc == 0)
		rc = seed(s, c);
	PQfinish(c);
	if (rc < 0)
		goto fail;
	if ((rc = wt_rollup_on_close(s->rollup, on_close, s)) < 0 ||
	    (rc = wt_rollup_on_agg(s->rollup, on_agg, s)) < 0)
		goto fail;
	s->opened = true;
	/* Retention at start too, not only at the first maintenance timer. */
	wt_writer_maintain(s->writer, wt_clock_now(clock), s->o.retention_5s_days,
			   s->o.retention_hourly_days, s->o.retention_daily_days);
	if (base) {
		struct timeval maint = {MAINT_INTERVAL_MS / 1000, 0};
		s->tick_ev = evtimer_new(base, tick_cb, s);
		s->maint_ev = event_new(base, -1, EV_PERSIST, maint_cb, s);
		if (!s->tick_ev || !s->maint_ev) {
			rc = -ENOMEM;
			goto fail;
		}
		arm_tick(s);
		evtimer_add(s->maint_ev, &maint);
	}
	*out = s;
	return 0;
fail:
	wt_storage_close(s);
	return rc;
}

struct wt_rollup *wt_storage_rollup(struct wt_storage *s)
{
	return s->rollup;
}

int wt_storage_register(struct wt_storage *s, uint32_t series, unsigned flags, double wrap)
{
	pthread_mutex_lock(&s->lock);
	int rc = wt_rollup_register(s->rollup, series, flags, wrap);
	if (rc == 0)
		rc = mark_counter(s, series, flags & WT_MF_COUNTER);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void wt_storage_ingest(struct wt_storage *s, const struct wt_sample *v, size_t n)
{
	pthread_mutex_lock(&s->lock);
	wt_rollup_ingest(s->rollup, v, n);
	for (size_t i = 0; i < n; i++) {
		struct cstate *c = counter_of(s, v[i].series);
		if (!c || !isfinite(v[i].value) || v[i].ts_ms <= c->ts)
			continue;
		c->raw = v[i].value;
		c->ts = v[i].ts_ms;
	}
	pthread_mutex_unlock(&s->lock);
}

void wt_storage_tick(struct wt_storage *s)
{
	pthread_mutex_lock(&s->lock);
	wt_rollup_tick(s->rollup);
	pthread_mutex_unlock(&s->lock);
}

void wt_storage_flush(struct wt_storage *s)
{
	pthread_mutex_lock(&s->lock);
	wt_rollup_flush(s->rollup);
	flush_window(s);
	pthread_mutex_unlock(&s->lock);
}

int wt_storage_sync(struct wt_storage *s, int timeout_ms, bool all)
{
	return wt_writer_sync(s->writer, timeout_ms, all);
}

void wt_storage_reload(struct wt_storage *s, const struct wt_storage_options *in)
{
	struct wt_storage_options o;
	apply_defaults(&o, in);
	pthread_mutex_lock(&s->lock);
	s->o.retention_5s_days = o.retention_5s_days;
	s->o.retention_hourly_days = o.retention_hourly_days;
	s->o.retention_daily_days = o.retention_daily_days;
	s->o.spool_max_bytes = o.spool_max_bytes;
	if (o.flush_interval_ms != s->o.flush_interval_ms) {
		struct wt_window nw;
		flush_window(s);
		if (wt_window_init(&nw, o.flush_interval_ms) == 0) {
			nw.next_id = s->win.next_id;
			wt_window_free(&s->win);
			s->win = nw;
			s->o.flush_interval_ms = o.flush_interval_ms;
		}
	}
	pthread_mutex_unlock(&s->lock);
	wt_writer_set_spool_max(s->writer, o.spool_max_bytes);
}

void wt_storage_health(struct wt_storage *s, struct wt_storage_health *out)
{
	struct wt_writer_stats st;
	wt_writer_stats(s->writer, &st);
	*out = (struct wt_storage_health){
		.db_connected = st.db_connected,
		.spool_healthy = st.spool_healthy,
		.spool_bytes = st.spool_bytes,
		.rows_written = st.rows_written,
		.batches_spooled = st.batches_spooled,
		.batches_replayed = st.batches_replayed,
		.last_flush_ms = st.last_flush_ms,
		.samples_written = st.samples_written,
		.samples_dropped = st.samples_dropped,
		.samples_rejected = st.samples_rejected,
		.spool_files = st.spool_files,
		.write_ms_total = st.write_ms_total,
	};
}

size_t wt_storage_bytes_per_series(struct wt_storage *s)
{
	pthread_mutex_lock(&s->lock);
	/* Counter states are per counter; spread over all series. */
	size_t n = s->ccap ? s->ccap : 1;
	size_t b = wt_rollup_bytes_per_series(s->rollup) + wt_window_bytes(&s->win) +
		   sizeof(uint32_t) + s->cs_cap * sizeof(struct cstate) / n;
	pthread_mutex_unlock(&s->lock);
	return b;
}

/* ---- in-memory points for queries ---- */

struct peek_ctx {
	enum wt_level level;
	const uint32_t *ids;
	size_t n;
	int64_t from, to;
	wt_point_fn fn;
	void *ctx;
};

static bool wanted(const struct peek_ctx *p, uint32_t id)
{
	size_t lo = 0, hi = p->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->n && p->ids[lo] == id;
}

static void emit_row(const struct peek_ctx *p, const struct wt_row5s *r)
{
	for (int k = 0; k < r->nb; k++) {
		int64_t t = r->start_ms + (int64_t)k * WT_BUCKET_MS;
		if (!r->cnt[k] || t < p->from || t >= p->to)
			continue;
		struct wt_point pt = {t, r->mn[k], r->v[k], r->mx[k], r->cnt[k], r->quality};
		p->fn(p->ctx, r->series, &pt);
	}
}

static int peek_row(void *ctx, const struct wt_row5s *r)
{
	const struct peek_ctx *p = ctx;
	if (wanted(p, r->series))
		emit_row(p, r);
	return 0;
}

static int peek_agg(void *ctx, const struct wt_agg *a)
{
	const struct peek_ctx *p = ctx;
	if (a->count && a->start_ms >= p->from && a->start_ms < p->to && wanted(p, a->series)) {
		struct wt_point pt = {a->start_ms, a->min,   a->sum / a->count,
				      a->max,      a->count, a->quality};
		p->fn(p->ctx, a->series, &pt);
	}
	return 0;
}

static void peek_batch(void *ctx, const struct wt_batch *b)
{
	const struct peek_ctx *p = ctx;
	if (b->level != p->level)
		return;
	int rc = b->level == WT_LEVEL_5S ? wt_batch_foreach_5s(b, peek_row, ctx)
					 : wt_batch_foreach_agg(b, peek_agg, ctx);
	if (rc < 0)
		wt_warn("storage: batch %" PRIu64 " could not be decoded for a query", b->id);
}

void wt_storage_peek_points(struct wt_storage *s, enum wt_level level, const uint32_t *ids,
			    size_t n, int64_t from, int64_t to, wt_point_fn fn, void *ctx)
{
	struct peek_ctx p = {level, ids, n, from, to, fn, ctx};
	struct wt_row5s *row = malloc(sizeof(*row));

	pthread_mutex_lock(&s->lock);
	/* Oldest first: batches handed to the writer, then the open window,
	 * then the engine's open period; the caller keeps the last point it
	 * sees for a timestamp. */
	wt_writer_visit(s->writer, peek_batch, &p);
	for (size_t i = 0; i < n; i++) {
		struct wt_agg a;
		if (level == WT_LEVEL_5S && row && wt_window_peek(&s->win, ids[i], row))
			emit_row(&p, row);
		if (wt_rollup_peek(s->rollup, ids[i], level, &a))
			peek_agg(&p, &a);
	}
	pthread_mutex_unlock(&s->lock);
	free(row);
}

void wt_storage_close(struct wt_storage *s)
{
	if (!s)
		return;
	if (s->tick_ev)
		event_free(s->tick_ev);
	if (s->maint_ev)
		event_free(s->maint_ev);
	if (s->writer) {
		if (s->opened)
			wt_storage_flush(s);
		bool all = wt_writer_stop(s->writer);
		/* Everything, provisional hour and day rows included, is in the
		 * database: the next start may seed from those rows. */
		PGconn *c = all && s->opened ? wt_pg_connect(s->conninfo, 5) : NULL;
		if (c) {
			if (wt_pg_exec(c, "mark clean shutdown",
				       "UPDATE storage_state SET clean = true") < 0)
				wt_warn("storage: next start will seed from 5 s rows");
			PQfinish(c);
		}
	}
	wt_rollup_free(s->rollup);
	wt_window_free(&s->win);
	free(s->cidx);
	free(s->cs);
	pthread_mutex_destroy(&s->lock);
	free(s->conninfo);
	free(s->spool_dir);
	free(s);
}
