/* Unit tests for the rollup engine (storage/rollup.c): bucket math, grace,
 * hour/day ends, counters, bad samples, catch-up ticks, flush, seeding, and
 * a three-day simulation checked against a naive reference computed from
 * the raw samples. Returns non-zero and prints each failed check. */
#include "rollup.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                                     \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			failures++;                                                          \
			fprintf(stderr, "%s:%d: %s: check failed: %s: ", __FILE__, __LINE__, \
				__func__, #cond);                                            \
			fprintf(stderr, __VA_ARGS__);                                        \
			fputc('\n', stderr);                                                 \
		}                                                                            \
	} while (0)

/* 2026-03-01T21:00:00Z: three hours before a day end. */
#define T0 (1772398800LL * 1000)

/* --- capture of everything the engine emits ---------------------------- */

enum ev_kind {
	EV_CLOSE,
	EV_HOUR,
	EV_DAY
};

struct event {
	enum ev_kind kind;
	int64_t start;
	size_t first, n; /* rows in cap.buckets or cap.aggs */
};

struct capture {
	struct event *ev;
	size_t nev, capev;
	struct wt_bucket *buckets;
	size_t nb, capb;
	struct wt_agg *aggs;
	size_t na, capa;
};

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap * 2 : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(p, n * elem);
	if (!q) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	*cap = n;
	return q;
}

static void add_event(struct capture *c, enum ev_kind k, int64_t start, size_t first, size_t n)
{
	c->ev = grow(c->ev, &c->capev, c->nev + 1, sizeof *c->ev);
	c->ev[c->nev++] = (struct event){k, start, first, n};
}

static void cap_close(void *ctx, int64_t start, const struct wt_bucket *b, size_t n)
{
	struct capture *c = ctx;
	c->buckets = grow(c->buckets, &c->capb, c->nb + n, sizeof *b);
	if (n)
		memcpy(c->buckets + c->nb, b, n * sizeof *b);
	add_event(c, EV_CLOSE, start, c->nb, n);
	c->nb += n;
}

static void cap_agg(void *ctx, enum wt_level level, int64_t start, const struct wt_agg *a, size_t n)
{
	struct capture *c = ctx;
	c->aggs = grow(c->aggs, &c->capa, c->na + n, sizeof *a);
	if (n)
		memcpy(c->aggs + c->na, a, n * sizeof *a);
	add_event(c, level == WT_LEVEL_HOUR ? EV_HOUR : EV_DAY, start, c->na, n);
	c->na += n;
}

static void cap_free(struct capture *c)
{
	free(c->ev);
	free(c->buckets);
	free(c->aggs);
	memset(c, 0, sizeof *c);
}

/* A fresh engine on a manual clock, with a capture subscribed. */
struct fixture {
	int64_t now;
	struct wt_clock clock;
	struct wt_rollup *r;
	struct capture cap;
};

static void fx_init(struct fixture *f, int64_t now)
{
	memset(f, 0, sizeof *f);
	f->now = now;
	f->clock = (struct wt_clock){wt_clock_manual_now, &f->now};
	f->r = wt_rollup_new(&f->clock);
	if (!f->r || wt_rollup_on_close(f->r, cap_close, &f->cap) < 0 ||
	    wt_rollup_on_agg(f->r, cap_agg, &f->cap) < 0) {
		fprintf(stderr, "setup failed\n");
		exit(2);
	}
}

static void fx_free(struct fixture *f)
{
	wt_rollup_free(f->r);
	cap_free(&f->cap);
}

static void reg(struct fixture *f, uint32_t id, unsigned flags, double wrap)
{
	int e = wt_rollup_register(f->r, id, flags, wrap);
	if (e < 0) {
		fprintf(stderr, "register %u: %d\n", id, e);
		exit(2);
	}
}

static void put(struct fixture *f, uint32_t id, int64_t ts, double v, uint8_t q)
{
	struct wt_sample s = {.series = id, .quality = q, .ts_ms = ts, .value = v};
	wt_rollup_ingest(f->r, &s, 1);
}

/* The bucket emitted for series id at start, or NULL. */
static const struct wt_bucket *find_bucket(const struct capture *c, uint32_t id, int64_t start)
{
	for (size_t i = 0; i < c->nb; i++)
		if (c->buckets[i].series == id && c->buckets[i].start_ms == start)
			return &c->buckets[i];
	return NULL;
}

static size_t count_buckets(const struct capture *c, uint32_t id, int64_t start)
{
	size_t n = 0;
	for (size_t i = 0; i < c->nb; i++)
		if (c->buckets[i].series == id && c->buckets[i].start_ms == start)
			n++;
	return n;
}

/* The last agg emitted at that level for series id at start, or NULL. */
static const struct wt_agg *find_agg(const struct capture *c, enum ev_kind k, uint32_t id,
				     int64_t start)
{
	const struct wt_agg *found = NULL;
	for (size_t e = 0; e < c->nev; e++) {
		const struct event *ev = &c->ev[e];
		if (ev->kind != k || ev->start != start)
			continue;
		for (size_t i = ev->first; i < ev->first + ev->n; i++)
			if (c->aggs[i].series == id)
				found = &c->aggs[i];
	}
	return found;
}

static size_t count_events(const struct capture *c, enum ev_kind k)
{
	size_t n = 0;
	for (size_t e = 0; e < c->nev; e++)
		n += c->ev[e].kind == k;
	return n;
}

static bool near(double a, double b)
{
	return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* --- unit tests ----------------------------------------------------------- */

static void test_align(void)
{
	CHECK(wt_rollup_align(0, 5000) == 0, "0");
	CHECK(wt_rollup_align(4999, 5000) == 0, "4999");
	CHECK(wt_rollup_align(5000, 5000) == 5000, "5000");
	CHECK(wt_rollup_align(-1, 5000) == -5000, "-1");
	CHECK(wt_rollup_align(-5000, 5000) == -5000, "-5000");
	CHECK(wt_rollup_align(-5001, 5000) == -10000, "-5001");
	CHECK(wt_rollup_align(T0 + 3 * WT_HOUR_MS - 1, WT_DAY_MS) == T0 - 21 * WT_HOUR_MS,
	      "day of the last ms before midnight");
	CHECK(wt_rollup_align(T0 + 3 * WT_HOUR_MS, WT_DAY_MS) == T0 + 3 * WT_HOUR_MS,
	      "midnight starts a day");
	CHECK(wt_rollup_align(-1, WT_DAY_MS) == -WT_DAY_MS, "1969-12-31");
	CHECK(wt_rollup_align(T0 + 1234567, WT_HOUR_MS) == T0, "hour");
}

/* Exactly-on-boundary samples open the new bucket; grace keeps the previous
 * one open for 500 ms; after that it is late. */
static void test_boundary_and_grace(void)
{
	struct fixture f;
	fx_init(&f, T0 + 1000);
	reg(&f, 7, 0, 0);
	put(&f, 7, T0, 1.0, WT_Q_GOOD);        /* first ms of bucket T0 */
	put(&f, 7, T0 + 4999, 2.0, WT_Q_GOOD); /* last ms of bucket T0 */
	f.now = T0 + 5000;
	put(&f, 7, T0 + 5000, 10.0, WT_Q_GOOD); /* exactly on the boundary: next bucket */
	f.now = T0 + 5499;
	wt_rollup_tick(f.r);
	CHECK(count_events(&f.cap, EV_CLOSE) == 0, "closed inside the grace");
	put(&f, 7, T0 + 4000, 3.0, WT_Q_GOOD); /* answered just after the boundary */
	CHECK(wt_rollup_stats(f.r)->late == 0, "late inside grace");
	f.now = T0 + 5500;
	wt_rollup_tick(f.r);
	CHECK(count_events(&f.cap, EV_CLOSE) == 1, "one close at end + grace, got %zu",
	      count_events(&f.cap, EV_CLOSE));
	const struct wt_bucket *b = find_bucket(&f.cap, 7, T0);
	CHECK(b && b->count == 3 && b->min == 1.0 && b->max == 3.0 && b->sum == 6.0 &&
		      b->last == 2.0,
	      "bucket T0 = {1,2,3}, last at 4999 (got count %u last %g)", b ? b->count : 0,
	      b ? b->last : NAN);
	CHECK(f.cap.nev && f.cap.ev[0].start == T0, "boundary start");
	put(&f, 7, T0 + 4999, 99.0, WT_Q_GOOD);
	CHECK(wt_rollup_stats(f.r)->late == 1, "late after close");
	f.now = T0 + 10500;
	wt_rollup_tick(f.r);
	b = find_bucket(&f.cap, 7, T0 + 5000);
	CHECK(b && b->count == 1 && b->sum == 10.0, "boundary sample in the next bucket");
	CHECK(count_buckets(&f.cap, 7, T0) == 1, "late sample made no second row");
	fx_free(&f);
}

/* Times before 1970: floor alignment, and the day end at the epoch. */
static void test_negative_epoch(void)
{
	struct fixture f;
	fx_init(&f, -7000);
	reg(&f, 1, 0, 0);
	put(&f, 1, -6001, 5.0, WT_Q_GOOD); /* bucket -10000 */
	put(&f, 1, -5000, 6.0, WT_Q_GOOD); /* bucket -5000, on its boundary */
	f.now = -4000;
	put(&f, 1, -1, 7.0, WT_Q_GOOD); /* bucket -5000 */
	put(&f, 1, 0, 8.0, WT_Q_GOOD);  /* bucket 0, the first of 1970-01-01 */
	f.now = 5500;
	wt_rollup_tick(f.r);
	const struct wt_bucket *b = find_bucket(&f.cap, 1, -10000);
	CHECK(b && b->count == 1 && b->sum == 5.0, "bucket -10000");
	b = find_bucket(&f.cap, 1, -5000);
	CHECK(b && b->count == 2 && b->sum == 13.0 && b->last == 7.0, "bucket -5000");
	b = find_bucket(&f.cap, 1, 0);
	CHECK(b && b->count == 1 && b->sum == 8.0, "bucket 0");
	const struct wt_agg *h = find_agg(&f.cap, EV_HOUR, 1, -WT_HOUR_MS);
	CHECK(h && h->count == 3 && h->sum == 18.0 && h->min == 5.0 && h->max == 7.0,
	      "hour 1969-12-31T23");
	const struct wt_agg *d = find_agg(&f.cap, EV_DAY, 1, -WT_DAY_MS);
	CHECK(d && d->count == 3 && d->sum == 18.0, "day 1969-12-31");
	/* The hour and day close between bucket -5000 and bucket 0. */
	size_t close_m5 = 0, hour = 0, close_0 = 0;
	for (size_t e = 0; e < f.cap.nev; e++) {
		if (f.cap.ev[e].kind == EV_CLOSE && f.cap.ev[e].start == -5000)
			close_m5 = e + 1;
		if (f.cap.ev[e].kind == EV_HOUR && f.cap.ev[e].start == -WT_HOUR_MS)
			hour = e + 1;
		if (f.cap.ev[e].kind == EV_CLOSE && f.cap.ev[e].start == 0)
			close_0 = e + 1;
	}
	CHECK(close_m5 && hour && close_0 && close_m5 < hour && hour < close_0,
	      "order: close -5000 (%zu) < hour end (%zu) < close 0 (%zu)", close_m5, hour, close_0);
	fx_free(&f);
}

/* Hour and day aggregates across a midnight, and the weighted average. */
static void test_hour_day(void)
{
	int64_t mid = T0 + 3 * WT_HOUR_MS; /* 2026-03-02T00:00Z */
	struct fixture f;
	fx_init(&f, mid - 2 * WT_HOUR_MS);
	reg(&f, 2, 0, 0);
	/* 22:xx: one bucket with 2 samples, one with 1 */
	put(&f, 2, mid - 2 * WT_HOUR_MS + 100, 10.0, WT_Q_GOOD);
	put(&f, 2, mid - 2 * WT_HOUR_MS + 200, 20.0, WT_Q_GOOD);
	f.now = mid - WT_HOUR_MS - 3000;
	put(&f, 2, mid - WT_HOUR_MS - 4000, 60.0, WT_Q_ESTIMATED);
	/* 23:xx */
	f.now = mid - 1000;
	put(&f, 2, mid - 1000, -5.0, WT_Q_GOOD);
	/* 00:00:00.000 of the next day */
	f.now = mid;
	put(&f, 2, mid, 1000.0, WT_Q_GOOD);
	f.now = mid + WT_HOUR_MS + 500;
	wt_rollup_tick(f.r);
	const struct wt_agg *h22 = find_agg(&f.cap, EV_HOUR, 2, mid - 2 * WT_HOUR_MS);
	CHECK(h22 && h22->count == 3 && h22->sum == 90.0 && h22->min == 10.0 && h22->max == 60.0 &&
		      h22->quality == WT_Q_ESTIMATED,
	      "hour 22");
	const struct wt_agg *h23 = find_agg(&f.cap, EV_HOUR, 2, mid - WT_HOUR_MS);
	CHECK(h23 && h23->count == 1 && h23->sum == -5.0 && h23->quality == WT_Q_GOOD, "hour 23");
	const struct wt_agg *d = find_agg(&f.cap, EV_DAY, 2, mid - WT_DAY_MS);
	CHECK(d && d->count == 4 && d->sum == 85.0 && d->min == -5.0 && d->max == 60.0 &&
		      d->quality == WT_Q_ESTIMATED,
	      "day 03-01: avg is over samples (85/4), not over buckets");
	const struct wt_agg *h0 = find_agg(&f.cap, EV_HOUR, 2, mid);
	CHECK(h0 && h0->count == 1 && h0->sum == 1000.0, "hour 00 of the next day");
	CHECK(find_agg(&f.cap, EV_DAY, 2, mid) == NULL, "next day not closed yet");
	/* An hour with no samples still gets its (empty) agg call. */
	CHECK(count_events(&f.cap, EV_HOUR) == 4, "4 hour ends (one empty), got %zu",
	      count_events(&f.cap, EV_HOUR));
	CHECK(count_events(&f.cap, EV_DAY) == 1, "1 day end");
	/* from the bucket before the start (still in grace at creation) */
	CHECK(count_events(&f.cap, EV_CLOSE) == 3 * 720 + 1, "one close call per boundary, got %zu",
	      count_events(&f.cap, EV_CLOSE));
	CHECK(wt_rollup_stats(f.r)->hours_closed == 3 && wt_rollup_stats(f.r)->days_closed == 1,
	      "hours/days counted");
	fx_free(&f);
}

static void test_counters(void)
{
	struct fixture f;
	fx_init(&f, T0);
	reg(&f, 1, WT_MF_COUNTER, 0);       /* no wrap value */
	reg(&f, 2, WT_MF_COUNTER, 65536.0); /* 16-bit counter */
	reg(&f, 3, WT_MF_COUNTER, 0);       /* seeded */
	CHECK(wt_rollup_seed_counter(f.r, 3, 500.0) == 0, "seed counter");
	CHECK(wt_rollup_seed_counter(f.r, 3, 600.0) == -EBUSY, "seed twice");
	CHECK(wt_rollup_seed_counter(f.r, 99, 1.0) == -ENOENT, "seed unknown");
	reg(&f, 4, 0, 0);
	CHECK(wt_rollup_seed_counter(f.r, 4, 1.0) == -EINVAL, "seed a gauge");

	put(&f, 1, T0 + 100, 1000.0, WT_Q_GOOD); /* primes: no delta, no bucket */
	put(&f, 1, T0 + 200, 1010.0, WT_Q_GOOD);
	put(&f, 1, T0 + 300, 1025.0, WT_Q_GOOD);
	put(&f, 1, T0 + 250, 1012.0, WT_Q_GOOD); /* older than the last reading: stale */
	put(&f, 1, T0 + 300, 1025.0, WT_Q_GOOD); /* the same reading again: stale */
	put(&f, 2, T0 + 100, 65000.0, WT_Q_GOOD);
	put(&f, 2, T0 + 200, 65500.0, WT_Q_GOOD);
	put(&f, 3, T0 + 100, 530.0, WT_Q_GOOD); /* delta from the seed */
	f.now = T0 + 5000;
	put(&f, 1, T0 + 5100, 7.0, WT_Q_GOOD);     /* reset (reboot): delta = 7 */
	put(&f, 2, T0 + 5100, 64.0, WT_Q_GOOD);    /* wrap: 65536 - 65500 + 64 = 100 */
	put(&f, 2, T0 + 5200, 30000.0, WT_Q_GOOD); /* +29936 */
	put(&f, 2, T0 + 5300, 10.0, WT_Q_GOOD);    /* drop from mid-range: reset, delta 10 */
	put(&f, 2, T0 + 5400, 50000.0, WT_Q_GOOD); /* +49990 */
	put(&f, 2, T0 + 5500, 20.0, WT_Q_GOOD);    /* implied advance 15556 > 65536/8: reset */
	f.now = T0 + 10500;
	wt_rollup_tick(f.r);
	const struct wt_rollup_stats *st = wt_rollup_stats(f.r);
	const struct wt_bucket *b = find_bucket(&f.cap, 1, T0);
	CHECK(b && b->count == 2 && b->sum == 25.0 && b->min == 25.0 && b->max == 25.0 &&
		      b->last == 25.0,
	      "counter 1 bucket 0: delta 25 over 2 deltas");
	b = find_bucket(&f.cap, 1, T0 + 5000);
	CHECK(b && b->count == 1 && b->sum == 7.0, "reset delta = value");
	b = find_bucket(&f.cap, 2, T0);
	CHECK(b && b->sum == 500.0, "counter 2 bucket 0");
	b = find_bucket(&f.cap, 2, T0 + 5000);
	CHECK(b && b->count == 5 && b->sum == 100.0 + 29936.0 + 10.0 + 49990.0 + 20.0,
	      "wrap then reset: got %g", b ? b->sum : NAN);
	b = find_bucket(&f.cap, 3, T0);
	CHECK(b && b->sum == 30.0, "seeded counter's first delta");
	CHECK(st->stale == 2, "stale %" PRIu64, st->stale);
	CHECK(st->counter_wraps == 1, "wraps %" PRIu64, st->counter_wraps);
	CHECK(st->counter_resets == 3, "resets %" PRIu64, st->counter_resets);
	/* A counter reading beyond float range is garbage: dropped, raw kept. */
	f.now = T0 + 10600;
	uint64_t inf0 = st->inf;
	put(&f, 2, T0 + 10550, 1e39, WT_Q_GOOD);
	CHECK(st->inf == inf0 + 1, "counter beyond float range");
	/* A negative reading after a reset gives no negative energy. */
	f.now = T0 + 11000;
	put(&f, 1, T0 + 10900, -3.0, WT_Q_GOOD);
	CHECK(wt_rollup_peek(f.r, 1, WT_LEVEL_5S, &(struct wt_agg){0}), "open bucket");
	struct wt_agg a;
	CHECK(wt_rollup_peek(f.r, 1, WT_LEVEL_5S, &a) && a.sum == 0.0, "negative reset = 0");
	/* Hour sum = energy: 25 + 7 + 0 */
	CHECK(wt_rollup_peek(f.r, 1, WT_LEVEL_HOUR, &a) && a.sum == 32.0 && a.min == 0.0 &&
		      a.max == 25.0,
	      "hour energy %g min %g max %g", a.sum, a.min, a.max);
	fx_free(&f);
}

static void test_bad_samples(void)
{
	struct fixture f;
	fx_init(&f, T0 + 2000);
	reg(&f, 1, 0, 0);
	reg(&f, 2, WT_MF_COUNTER, 0);
	struct wt_sample s[] = {
		{.series = 1, .ts_ms = T0 + 100, .value = NAN},
		{.series = 1, .ts_ms = T0 + 100, .value = INFINITY},
		{.series = 1, .ts_ms = T0 + 100, .value = -INFINITY},
		{.series = 1, .ts_ms = T0 + 100, .value = 1e300}, /* beyond float */
		{.series = 2, .ts_ms = T0 + 100, .value = NAN},
		{.series = 5, .ts_ms = T0 + 100, .value = 1.0},         /* unknown */
		{.series = 4000000, .ts_ms = T0 + 100, .value = 1.0},   /* unknown, beyond cap */
		{.series = 1, .ts_ms = T0 + 2000 + 5001, .value = 1.0}, /* future */
		{.series = 1, .ts_ms = T0 + 2000 + 5000, .value = 4.0}, /* at the limit: kept */
		{.series = 1, .ts_ms = T0 - 5000 - 501, .value = 1.0},  /* closed before start */
		{.series = 1, .ts_ms = INT64_MIN, .value = 1.0},        /* late */
		{.series = 1, .ts_ms = INT64_MAX, .value = 1.0},        /* future */
		{.series = 1, .ts_ms = T0 + 300, .value = 2.0, .quality = WT_Q_BAD},
		{.series = 1, .ts_ms = T0 + 400, .value = 3.0, .quality = 77}, /* unknown = BAD */
		{.series = 1, .ts_ms = T0 + 200, .value = 1.0, .quality = WT_Q_GOOD},
	};
	wt_rollup_ingest(f.r, s, sizeof s / sizeof s[0]);
	const struct wt_rollup_stats *st = wt_rollup_stats(f.r);
	CHECK(st->nan == 2, "nan %" PRIu64, st->nan);
	CHECK(st->inf == 3, "inf %" PRIu64, st->inf);
	CHECK(st->unknown_series == 2, "unknown %" PRIu64, st->unknown_series);
	CHECK(st->future == 2, "future %" PRIu64, st->future);
	CHECK(st->late == 2, "late %" PRIu64, st->late);
	CHECK(st->samples == 4, "accepted %" PRIu64, st->samples);
	CHECK(st->bad_quality == 2, "bad %" PRIu64, st->bad_quality);
	f.now = T0 + 5000 + 5500;
	wt_rollup_tick(f.r);
	const struct wt_bucket *b = find_bucket(&f.cap, 1, T0);
	CHECK(b && b->count == 3 && b->sum == 6.0 && b->quality == WT_Q_BAD,
	      "BAD samples kept and mark the bucket");
	b = find_bucket(&f.cap, 1, T0 + 5000);
	CHECK(b && b->count == 1 && b->sum == 4.0 && b->quality == WT_Q_GOOD,
	      "sample at clock + 5000 lands in the next bucket");
	f.now = T0 + WT_HOUR_MS + 500;
	wt_rollup_tick(f.r);
	const struct wt_agg *h = find_agg(&f.cap, EV_HOUR, 1, T0);
	CHECK(h && h->quality == WT_Q_BAD && h->count == 4, "quality propagates to the hour");
	fx_free(&f);
}

/* Out of order inside an open bucket, and a bucket pushed out of its slot by
 * a newer one while still in grace. */
static void test_out_of_order(void)
{
	struct fixture f;
	fx_init(&f, T0 + 1000);
	reg(&f, 3, 0, 0);
	put(&f, 3, T0 + 4000, 4.0, WT_Q_GOOD);
	put(&f, 3, T0 + 1000, 1.0, WT_Q_GOOD); /* older, arrives later */
	put(&f, 3, T0 + 3000, 3.0, WT_Q_GOOD);
	f.now = T0 + 5200;
	put(&f, 3, T0 + 5100, 50.0, WT_Q_GOOD); /* next bucket while T0 is in grace */
	put(&f, 3, T0 + 4500, 4.5, WT_Q_BAD);   /* back to T0: folded, is the new last */
	put(&f, 3, T0 + 2000, 2.0, WT_Q_GOOD);  /* and again */
	struct wt_agg a;
	CHECK(wt_rollup_peek(f.r, 3, WT_LEVEL_5S, &a) && a.start_ms == T0 + 5000 && a.sum == 50.0,
	      "peek 5S gives the newest open bucket");
	CHECK(wt_rollup_peek(f.r, 3, WT_LEVEL_HOUR, &a) && a.count == 6 && a.sum == 64.5,
	      "peek hour includes both open buckets (count %u sum %g)", a.count, a.sum);
	f.now = T0 + 5500;
	wt_rollup_tick(f.r);
	const struct wt_bucket *b = find_bucket(&f.cap, 3, T0);
	CHECK(b && b->count == 5 && b->sum == 14.5 && b->min == 1.0 && b->max == 4.5 &&
		      b->last == 4.5 && b->quality == WT_Q_BAD,
	      "bucket T0 from slot and side list (count %u last %g)", b ? b->count : 0,
	      b ? b->last : NAN);
	CHECK(find_bucket(&f.cap, 3, T0 + 5000) == NULL, "next bucket still open");
	f.now = T0 + 10500;
	wt_rollup_tick(f.r);
	b = find_bucket(&f.cap, 3, T0 + 5000);
	CHECK(b && b->count == 1 && b->sum == 50.0, "next bucket");
	fx_free(&f);
}

/* A late tick closes each passed boundary separately, in order, with the
 * hour end between the right two. */
static void test_catch_up(void)
{
	int64_t h = T0 + WT_HOUR_MS; /* 22:00 */
	struct fixture f;
	fx_init(&f, h - 12000);
	reg(&f, 1, 0, 0);
	reg(&f, 2, 0, 0);
	int64_t starts[] = {h - 15000, h - 10000, h - 5000, h, h + 5000, h + 10000};
	for (int i = 0; i < 6; i++) {
		f.now = starts[i] + 100;
		put(&f, 1, starts[i] + 50, (double)i, WT_Q_GOOD);
		if (i % 2)
			put(&f, 2, starts[i] + 60, 100.0 + i, WT_Q_GOOD);
	}
	CHECK(f.cap.nev == 0, "nothing closed before the tick");
	f.now = h + 15000 + 500;
	wt_rollup_tick(f.r);
	size_t k = 0;
	bool hour_seen = false;
	for (size_t e = 0; e < f.cap.nev; e++) {
		const struct event *ev = &f.cap.ev[e];
		if (ev->kind == EV_HOUR) {
			CHECK(ev->start == T0 && k == 3, "hour end after the 3rd close, got %zu",
			      k);
			hour_seen = true;
			continue;
		}
		if (ev->kind != EV_CLOSE)
			continue;
		CHECK(ev->start == starts[k], "close %zu in order", k);
		CHECK(ev->n == (k % 2 ? 2u : 1u), "close %zu has %zu rows", k, ev->n);
		for (size_t i = ev->first; i < ev->first + ev->n; i++)
			CHECK(f.cap.buckets[i].start_ms == ev->start,
			      "row belongs to its boundary");
		k++;
	}
	CHECK(k == 6 && hour_seen, "6 closes (%zu) and an hour end", k);
	const struct wt_agg *a = find_agg(&f.cap, EV_HOUR, 1, T0);
	CHECK(a && a->count == 3 && a->sum == 3.0, "hour 21 holds buckets 0..2");
	CHECK(wt_rollup_stats(f.r)->buckets_closed == 9, "buckets closed");
	/* A 3-day pause: what is held still closes (hour 22, the day at
	 * midnight), then the empty boundaries are skipped. */
	f.now += 3 * WT_DAY_MS;
	size_t before = f.cap.nev;
	wt_rollup_tick(f.r);
	CHECK(f.cap.nev - before < 5000, "pause of 3 days: %zu calls", f.cap.nev - before);
	a = find_agg(&f.cap, EV_HOUR, 1, h);
	CHECK(a && a->count == 3 && a->sum == 12.0, "hour 22 closed during the catch-up");
	a = find_agg(&f.cap, EV_DAY, 1, T0 - 21 * WT_HOUR_MS);
	CHECK(a && a->count == 6 && a->sum == 15.0, "day closed during the catch-up");
	put(&f, 1, f.now - 100, 1.0, WT_Q_GOOD);
	CHECK(wt_rollup_stats(f.r)->late == 0, "engine follows the clock after a jump");
	int64_t bs = wt_rollup_align(f.now - 100, WT_BUCKET_MS);
	f.now = bs + 5500;
	before = f.cap.nev;
	wt_rollup_tick(f.r);
	CHECK(f.cap.nev - before == 1 && find_bucket(&f.cap, 1, bs),
	      "closing resumes after the jump: %zu calls", f.cap.nev - before);
	fx_free(&f);
}

static void test_flush(void)
{
	struct fixture f;
	fx_init(&f, T0 + 1000);
	reg(&f, 1, 0, 0);
	put(&f, 1, T0 + 100, 1.0, WT_Q_GOOD);
	f.now = T0 + 7000;
	put(&f, 1, T0 + 6000, 2.0, WT_Q_GOOD);
	put(&f, 1, T0 + 11000, 3.0, WT_Q_GOOD); /* within one bucket ahead */
	wt_rollup_flush(f.r);
	CHECK(find_bucket(&f.cap, 1, T0 + 5000) && find_bucket(&f.cap, 1, T0 + 10000),
	      "flush emits open buckets, also not yet due ones");
	const struct wt_agg *h = find_agg(&f.cap, EV_HOUR, 1, T0);
	CHECK(h && h->count == 3 && h->sum == 6.0, "provisional hour: %u", h ? h->count : 0);
	const struct wt_agg *d = find_agg(&f.cap, EV_DAY, 1, wt_rollup_align(T0, WT_DAY_MS));
	CHECK(d && d->count == 3 && d->sum == 6.0, "provisional day includes the open hour");
	put(&f, 1, T0 + 9000, 9.0, WT_Q_GOOD);
	CHECK(wt_rollup_stats(f.r)->late == 1, "a flushed bucket takes no more samples");
	/* The engine stays usable, and the final hour row includes everything. */
	f.now = T0 + 20000;
	put(&f, 1, T0 + 19000, 4.0, WT_Q_GOOD);
	f.now = T0 + WT_HOUR_MS + 500;
	wt_rollup_tick(f.r);
	h = find_agg(&f.cap, EV_HOUR, 1, T0);
	CHECK(h && h->count == 4 && h->sum == 10.0, "final hour after flush");
	CHECK(count_buckets(&f.cap, 1, T0 + 10000) == 1, "no duplicate row after flush");
	fx_free(&f);
}

static void test_register(void)
{
	struct fixture f;
	fx_init(&f, T0 + 1000);
	CHECK(wt_rollup_register(f.r, WT_ROLLUP_MAX_SERIES + 1, 0, 0) == -EINVAL, "too big");
	CHECK(wt_rollup_register(f.r, 1, WT_MF_COUNTER, -1) == -EINVAL, "negative wrap");
	CHECK(wt_rollup_register(f.r, 1, WT_MF_COUNTER, NAN) == -EINVAL, "NaN wrap");
	CHECK(wt_rollup_register(f.r, 1, 0, 0) == 0, "gauge");
	put(&f, 1, T0 + 10, 1.0, WT_Q_GOOD);
	CHECK(wt_rollup_register(f.r, 1, WT_MF_COUNTER, 0) == -EBUSY, "flag change while open");
	int e = 0;
	for (uint32_t i = 0; i < 256 && e == 0; i++)
		e = wt_rollup_register(f.r, 100 + i, WT_MF_COUNTER, 1000.0 + i);
	CHECK(e == -ENOSPC, "256th distinct wrap value");
	CHECK(wt_rollup_register(f.r, 500, WT_MF_COUNTER, 1000.0) == 0, "known wrap reused");
	struct wt_agg a = {.series = 1, .count = 1, .start_ms = T0 - WT_HOUR_MS};
	CHECK(wt_rollup_seed(f.r, WT_LEVEL_HOUR, &a) == -ERANGE, "seed for another hour");
	a.start_ms = T0;
	a.sum = NAN;
	CHECK(wt_rollup_seed(f.r, WT_LEVEL_HOUR, &a) == -EINVAL, "NaN seed");
	a.series = 9999;
	CHECK(wt_rollup_seed(f.r, WT_LEVEL_HOUR, &a) == -ENOENT, "seed unknown");
	CHECK(wt_rollup_open_start(f.r, WT_LEVEL_HOUR) == T0, "open hour");
	a = (struct wt_agg){.series = 1, .count = 1, .start_ms = T0};
	CHECK(wt_rollup_seed(f.r, WT_LEVEL_DAY, &a) == -ERANGE, "day seed with an hour start");
	a.start_ms = wt_rollup_align(T0, WT_DAY_MS);
	CHECK(wt_rollup_seed(f.r, WT_LEVEL_DAY, &a) == 0, "day seed");
	CHECK(wt_rollup_seed(f.r, WT_LEVEL_5S, &a) == -EINVAL, "5 s seed");
	a.min = 2.0;
	a.max = 1.0;
	CHECK(wt_rollup_seed(f.r, WT_LEVEL_DAY, &a) == -EINVAL, "min > max");
	/* counts saturate instead of wrapping */
	a = (struct wt_agg){.series = 300,
			    .count = UINT32_MAX - 5,
			    .start_ms = T0,
			    .min = 1,
			    .max = 2,
			    .sum = 3,
			    .quality = WT_Q_ESTIMATED};
	reg(&f, 300, 0, 0);
	CHECK(wt_rollup_seed(f.r, WT_LEVEL_HOUR, &a) == 0, "huge seed");
	put(&f, 300, T0 + 20, 5.0, WT_Q_GOOD);
	f.now = T0 + WT_HOUR_MS + 500;
	wt_rollup_tick(f.r);
	const struct wt_agg *h = find_agg(&f.cap, EV_HOUR, 300, T0);
	CHECK(h && h->count == (1u << 30) - 1 && h->quality == WT_Q_ESTIMATED && h->max == 5.0,
	      "saturated count %u q %u", h ? h->count : 0, h ? h->quality : 0);
	/* Registering a new series with an open bucket elsewhere keeps data. */
	put(&f, 1, f.now - 10, 1.0, WT_Q_GOOD);
	reg(&f, 300000, 0, 0);
	CHECK(wt_rollup_peek(f.r, 1, WT_LEVEL_5S, &a) && a.sum == 1.0, "data kept on growth");
	fx_free(&f);
}

/* A subscriber that feeds the engine back (as the structure aggregator
 * does) and tries to close from inside the callback. */
struct reenter {
	struct wt_rollup *r;
	int64_t *now;
	int calls;
};

static void reenter_close(void *ctx, int64_t start, const struct wt_bucket *b, size_t n)
{
	struct reenter *x = ctx;
	if (n == 0 || start != T0)
		return;
	x->calls++;
	if (b[0].series == 2) {
		/* the derived call: feeding the same bucket again is late */
		struct wt_sample s = {.series = 3, .ts_ms = start + 10, .value = 1.0};
		wt_rollup_ingest(x->r, &s, 1);
		return;
	}
	struct wt_sample s[2] = {
		/* a derived value for the bucket closing: comes back in a 2nd call */
		{.series = 2, .ts_ms = start, .value = 100.0 + b[0].sum},
		/* and an ordinary sample for the open bucket */
		{.series = 2, .ts_ms = start + WT_BUCKET_MS, .value = b[0].sum},
	};
	wt_rollup_ingest(x->r, s, 2);
	*x->now += 60000; /* a nested tick must not close anything */
	wt_rollup_tick(x->r);
	wt_rollup_flush(x->r);
	*x->now -= 60000;
}

static void test_reentrant(void)
{
	struct fixture f;
	fx_init(&f, T0 + 1000);
	reg(&f, 1, 0, 0);
	reg(&f, 2, 0, 0);
	reg(&f, 3, 0, 0);
	struct reenter x = {f.r, &f.now, 0};
	CHECK(wt_rollup_on_close(f.r, reenter_close, &x) == 0, "subscribe");
	put(&f, 1, T0 + 100, 7.0, WT_Q_GOOD);
	f.now = T0 + 5500;
	wt_rollup_tick(f.r);
	const struct wt_rollup_stats *st = wt_rollup_stats(f.r);
	CHECK(x.calls == 2 && count_events(&f.cap, EV_CLOSE) == 2,
	      "device call + derived call, nested tick/flush closed nothing (%d calls, %zu "
	      "closes)",
	      x.calls, count_events(&f.cap, EV_CLOSE));
	CHECK(f.cap.nev == 2 && f.cap.ev[0].start == T0 && f.cap.ev[0].n == 1 &&
		      f.cap.ev[1].start == T0 && f.cap.ev[1].n == 1 &&
		      f.cap.buckets[1].series == 2 && f.cap.buckets[1].sum == 107.0,
	      "second call for T0 carries the derived bucket");
	CHECK(st->derived == 1 && st->late == 1, "derived %" PRIu64 " late %" PRIu64, st->derived,
	      st->late);
	f.now = T0 + 10500;
	wt_rollup_tick(f.r);
	const struct wt_bucket *b = find_bucket(&f.cap, 2, T0 + 5000);
	CHECK(b && b->sum == 7.0, "fed-back sample in the next bucket");
	struct wt_agg a;
	CHECK(wt_rollup_peek(f.r, 2, WT_LEVEL_HOUR, &a) && a.count == 2 && a.sum == 114.0,
	      "derived bucket folded into the hour: count %u sum %g", a.count, a.sum);
	fx_free(&f);
}

/* A subscriber that always feeds the bucket after the one closing. */
static void feed_next(void *ctx, int64_t start, const struct wt_bucket *b, size_t n)
{
	struct reenter *x = ctx;
	x->calls++;
	struct wt_sample s = {.series = 2, .ts_ms = start + WT_BUCKET_MS, .value = (double)n};
	wt_rollup_ingest(x->r, &s, 1);
}

static void test_flush_feedback(void)
{
	struct fixture f;
	fx_init(&f, T0 + 1000);
	reg(&f, 1, 0, 0);
	reg(&f, 2, 0, 0);
	struct reenter x = {f.r, &f.now, 0};
	CHECK(wt_rollup_on_close(f.r, feed_next, &x) == 0, "subscribe");
	put(&f, 1, T0 + 100, 7.0, WT_Q_GOOD);
	wt_rollup_flush(f.r);
	/* closes T0 (feeds T0+5000), then the fed-back T0+5000 (feeds T0+10000,
	 * which stays open), and stops */
	CHECK(x.calls == 2, "flush terminates after one feedback round: %d closes", x.calls);
	const struct wt_bucket *b = find_bucket(&f.cap, 2, T0 + 5000);
	CHECK(b && b->sum == 1.0, "fed-back bucket emitted by the flush");
	fx_free(&f);
}

/* --- seeding equivalence ----------------------------------------------- */

/* Deterministic per-sample data for the seeding test. */
static double seed_value(uint32_t id, int64_t k)
{
	if (id % 3 == 0) /* counter: grows, resets once */
		return k < 1500 ? 5000.0 + 3.25 * (double)k : 0.5 * (double)(k - 1500);
	return 230.0 + (double)((k * 7919 + id * 31) % 97) / 10.0;
}

/* Feeds samples k in [k0, k1) (one per series per 5 s at +1200 ms) and ticks
 * after each boundary. */
static void seed_feed(struct fixture *f, int64_t start, int64_t k0, int64_t k1)
{
	for (int64_t k = k0; k < k1; k++) {
		int64_t ts = start + k * WT_BUCKET_MS + 1200;
		f->now = ts + 50;
		for (uint32_t id = 1; id <= 9; id++)
			put(f, id, ts, seed_value(id, k), id == 4 && k % 50 == 0 ? WT_Q_BAD : 0);
		f->now = start + (k + 1) * WT_BUCKET_MS + 600;
		wt_rollup_tick(f->r);
	}
}

static void test_seeding(void)
{
	/* Start 40 min before midnight, run 3 h; restart at 01:10 (mid-hour,
	 * with hour 00 of the new day closed). */
	int64_t mid = T0 + 3 * WT_HOUR_MS;
	int64_t start = mid - 40 * 60000;
	int64_t total = 3 * 720, cut = 110 * 12;
	struct fixture A, B1, B2;
	fx_init(&A, start);
	fx_init(&B1, start);
	for (uint32_t id = 1; id <= 9; id++) {
		reg(&A, id, id % 3 == 0 ? WT_MF_COUNTER : 0, 0);
		reg(&B1, id, id % 3 == 0 ? WT_MF_COUNTER : 0, 0);
	}
	seed_feed(&A, start, 0, total);
	seed_feed(&B1, start, 0, cut);
	/* What the writer stored so far: B1's rows. The restart seeds from them. */
	int64_t now = start + cut * WT_BUCKET_MS + 600;
	fx_init(&B2, now);
	for (uint32_t id = 1; id <= 9; id++)
		reg(&B2, id, id % 3 == 0 ? WT_MF_COUNTER : 0, 0);
	int64_t hs = wt_rollup_open_start(B2.r, WT_LEVEL_HOUR);
	int64_t ds = wt_rollup_open_start(B2.r, WT_LEVEL_DAY);
	CHECK(hs == wt_rollup_align(now, WT_HOUR_MS) && ds == mid, "open periods after restart");
	for (uint32_t id = 1; id <= 9; id++) {
		/* hour seed: fold the 5 s rows of the open hour, in order */
		struct wt_agg h = {.series = id, .start_ms = hs};
		for (size_t i = 0; i < B1.cap.nb; i++) {
			const struct wt_bucket *b = &B1.cap.buckets[i];
			if (b->series != id || b->start_ms < hs)
				continue;
			if (h.count == 0) {
				h.min = b->min;
				h.max = b->max;
				h.sum = b->sum;
			} else {
				h.min = fmin(h.min, b->min);
				h.max = fmax(h.max, b->max);
				h.sum += b->sum;
			}
			h.count += b->count;
			h.quality = h.quality > b->quality ? h.quality : b->quality;
		}
		CHECK(wt_rollup_seed(B2.r, WT_LEVEL_HOUR, &h) == 0, "seed hour %u", id);
		/* day seed: the day's closed hours */
		struct wt_agg d = {.series = id, .start_ms = ds};
		for (size_t e = 0; e < B1.cap.nev; e++) {
			const struct event *ev = &B1.cap.ev[e];
			if (ev->kind != EV_HOUR || ev->start < ds)
				continue;
			for (size_t i = ev->first; i < ev->first + ev->n; i++) {
				const struct wt_agg *a = &B1.cap.aggs[i];
				if (a->series != id)
					continue;
				if (d.count == 0) {
					d.min = a->min;
					d.max = a->max;
					d.sum = a->sum;
				} else {
					d.min = fmin(d.min, a->min);
					d.max = fmax(d.max, a->max);
					d.sum += a->sum;
				}
				d.count += a->count;
				d.quality = d.quality > a->quality ? d.quality : a->quality;
			}
		}
		CHECK(wt_rollup_seed(B2.r, WT_LEVEL_DAY, &d) == 0, "seed day %u", id);
		if (id % 3 == 0)
			CHECK(wt_rollup_seed_counter(B2.r, id, seed_value(id, cut - 1)) == 0,
			      "seed counter %u", id);
	}
	wt_rollup_free(B1.r);
	B1.r = NULL;
	seed_feed(&B2, start, cut, total);
	wt_rollup_flush(A.r);
	wt_rollup_flush(B2.r);
	/* Every hour and day row B2 emitted must equal A's, field by field. */
	size_t compared = 0;
	for (size_t e = 0; e < B2.cap.nev; e++) {
		const struct event *ev = &B2.cap.ev[e];
		if (ev->kind == EV_CLOSE)
			continue;
		for (size_t i = ev->first; i < ev->first + ev->n; i++) {
			const struct wt_agg *b = &B2.cap.aggs[i];
			const struct wt_agg *a = find_agg(&A.cap, ev->kind, b->series, ev->start);
			CHECK(a && a->count == b->count && a->sum == b->sum && a->min == b->min &&
				      a->max == b->max && a->quality == b->quality,
			      "%s %" PRId64
			      " series %u: A count %u sum %.17g, B count %u sum %.17g",
			      ev->kind == EV_HOUR ? "hour" : "day", ev->start, b->series,
			      a ? a->count : 0, a ? a->sum : NAN, b->count, b->sum);
			compared++;
		}
	}
	/* hours: the interrupted one, the next, and the provisional one; the
	 * open day (provisional). 9 series each. */
	CHECK(compared >= 9 * 3, "compared %zu rows", compared);
	const struct wt_agg *da = find_agg(&A.cap, EV_DAY, 3, mid);
	const struct wt_agg *db = find_agg(&B2.cap, EV_DAY, 3, mid);
	CHECK(da && db && da->sum == db->sum && da->sum > 0, "counter day energy equal");
	fx_free(&A);
	fx_free(&B1);
	fx_free(&B2);
}

/* --- the big one: three days against a naive reference ------------------ */

#define NSER 50
#define DAYS 3

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *g)
{
	g->s ^= g->s << 13;
	g->s ^= g->s >> 7;
	g->s ^= g->s << 17;
	return g->s;
}

static double rndf(struct rng *g) /* [0, 1) */
{
	return (double)(rnd(g) >> 11) / 9007199254740992.0;
}

/* One simulated series. */
struct sim_series {
	uint32_t id;
	bool counter;
	double wrap;
	int64_t period;   /* ms between polls */
	int64_t next_ts;  /* next reading's timestamp */
	double counter_v; /* device's counter */
	/* reference state */
	bool ref_has_prev;
	bool ref_has_ts;
	double ref_prev;
	int64_t ref_prev_ts;
};

/* A sample in flight: taken at ts, arriving at arrive. */
struct flight {
	int64_t arrive;
	struct wt_sample s;
};

/* Reference accumulator, computed by the test only from raw samples. */
struct ref_acc {
	uint32_t count;
	double sum, min, max, last;
	int64_t last_ts;
	uint8_t q;
};

static void ref_add(struct ref_acc *a, double v, int64_t ts, uint8_t q)
{
	double f = (float)v;
	if (a->count == 0) {
		a->min = a->max = f;
		a->last_ts = INT64_MIN;
	}
	a->min = f < a->min ? f : a->min;
	a->max = f > a->max ? f : a->max;
	if (ts >= a->last_ts) {
		a->last = f;
		a->last_ts = ts;
	}
	a->sum += v;
	a->count++;
	a->q = q > a->q ? q : a->q;
}

/* Accepted raw samples (value is the delta for counters) kept until their
 * bucket is checked, plus per-(series, hour/day) sums from the raw samples. */
struct ref {
	struct wt_sample *pending;
	size_t npend, cappend;
	struct ref_acc hour[NSER][DAYS * 24 + 8];
	struct ref_acc day[NSER][DAYS + 2];
	/* counters: hour/day min/max come from 5 s totals */
	double cmin_h[NSER][DAYS * 24 + 8], cmax_h[NSER][DAYS * 24 + 8];
	double cmin_d[NSER][DAYS + 2], cmax_d[NSER][DAYS + 2];
	bool cset_h[NSER][DAYS * 24 + 8], cset_d[NSER][DAYS + 2];
	int64_t closed_before; /* buckets starting before this are closed */
	uint64_t late, future, nan, inf, unknown, stale, resets, wraps, accepted;
	size_t buckets_checked, hours_checked, days_checked, hours_seen;
	struct sim_series *ser;
	int64_t hour0, day0; /* the simulation's first hour and day */
};

static int sim_index(const struct ref *R, uint32_t id)
{
	for (int i = 0; i < NSER; i++)
		if (R->ser[i].id == id)
			return i;
	return -1;
}

/* The reference's own reading of the rules, applied to one arriving sample. */
static void ref_ingest(struct ref *R, const struct wt_sample *s, int64_t now)
{
	int i = sim_index(R, s->series);
	if (i < 0) {
		R->unknown++;
		return;
	}
	if (isnan(s->value)) {
		R->nan++;
		return;
	}
	if (isinf(s->value)) {
		R->inf++;
		return;
	}
	if (s->ts_ms > now + 5000) {
		R->future++;
		return;
	}
	int64_t bstart = s->ts_ms - (((s->ts_ms % 5000) + 5000) % 5000);
	if (bstart < R->closed_before) {
		R->late++;
		return;
	}
	struct sim_series *ss = &R->ser[i];
	double v = s->value;
	if (ss->counter) {
		if (ss->ref_has_ts && s->ts_ms <= ss->ref_prev_ts) {
			R->stale++;
			return;
		}
		if (!ss->ref_has_prev) {
			ss->ref_has_prev = ss->ref_has_ts = true;
			ss->ref_prev = v;
			ss->ref_prev_ts = s->ts_ms;
			R->accepted++;
			return;
		}
		double d;
		if (v >= ss->ref_prev) {
			d = v - ss->ref_prev;
		} else if (ss->wrap > 0 && ss->wrap - ss->ref_prev + v <= ss->wrap / 8) {
			d = ss->wrap - ss->ref_prev + v;
			R->wraps++;
		} else {
			d = v;
			R->resets++;
		}
		ss->ref_prev = v;
		ss->ref_prev_ts = s->ts_ms;
		v = d;
	}
	R->accepted++;
	struct wt_sample p = *s;
	p.value = v;
	R->pending = grow(R->pending, &R->cappend, R->npend + 1, sizeof p);
	R->pending[R->npend++] = p;
	int64_t h = (s->ts_ms - R->hour0) / WT_HOUR_MS;
	int64_t d = (s->ts_ms - R->day0) / WT_DAY_MS;
	ref_add(&R->hour[i][h], v, s->ts_ms, s->quality);
	ref_add(&R->day[i][d], v, s->ts_ms, s->quality);
}

static void ref_counter_minmax(double *mn, double *mx, bool *set, double total)
{
	double f = (float)total;
	if (!*set || f < *mn)
		*mn = f;
	if (!*set || f > *mx)
		*mx = f;
	*set = true;
}

/* Close subscriber: checks the engine's rows for boundary B against the
 * naive grouping of pending raw samples by floor(ts / 5000). */
static void ref_close(void *ctx, int64_t B, const struct wt_bucket *b, size_t n)
{
	struct ref *R = ctx;
	struct ref_acc acc[NSER];
	memset(acc, 0, sizeof acc);
	size_t j = 0;
	for (size_t k = 0; k < R->npend; k++) {
		const struct wt_sample *p = &R->pending[k];
		int64_t bstart = p->ts_ms - (((p->ts_ms % 5000) + 5000) % 5000);
		if (bstart == B)
			ref_add(&acc[sim_index(R, p->series)], p->value, p->ts_ms, p->quality);
		else
			R->pending[j++] = *p;
		CHECK(bstart >= B, "reference holds a sample for %" PRId64 " past its close",
		      bstart);
	}
	R->npend = j;
	size_t expect = 0;
	for (int i = 0; i < NSER; i++)
		expect += acc[i].count > 0;
	CHECK(n == expect, "boundary %" PRId64 ": %zu rows, reference %zu", B, n, expect);
	for (size_t k = 0; k < n; k++) {
		int i = sim_index(R, b[k].series);
		CHECK(i >= 0 && b[k].start_ms == B, "row for series %u", b[k].series);
		if (i < 0)
			continue;
		const struct ref_acc *a = &acc[i];
		struct sim_series *ss = &R->ser[i];
		bool ok = b[k].count == a->count && near(b[k].sum, a->sum) && b[k].quality == a->q;
		if (ss->counter)
			ok = ok && b[k].min == b[k].sum && b[k].max == b[k].sum &&
			     b[k].last == b[k].sum;
		else
			ok = ok && b[k].min == a->min && b[k].max == a->max && b[k].last == a->last;
		CHECK(ok,
		      "bucket %" PRId64 " series %u: count %u/%u sum %.17g/%.17g min %g/%g max "
		      "%g/%g last %g/%g q %u/%u",
		      B, b[k].series, b[k].count, a->count, b[k].sum, a->sum, b[k].min, a->min,
		      b[k].max, a->max, b[k].last, a->last, b[k].quality, a->q);
		if (ss->counter) {
			int64_t h = (B - R->hour0) / WT_HOUR_MS, d = (B - R->day0) / WT_DAY_MS;
			ref_counter_minmax(&R->cmin_h[i][h], &R->cmax_h[i][h], &R->cset_h[i][h],
					   a->sum);
			ref_counter_minmax(&R->cmin_d[i][d], &R->cmax_d[i][d], &R->cset_d[i][d],
					   a->sum);
		}
		R->buckets_checked++;
	}
}

static void ref_agg(void *ctx, enum wt_level level, int64_t start, const struct wt_agg *a, size_t n)
{
	struct ref *R = ctx;
	bool hour = level == WT_LEVEL_HOUR;
	int64_t idx = hour ? (start - R->hour0) / WT_HOUR_MS : (start - R->day0) / WT_DAY_MS;
	if (hour)
		R->hours_seen++;
	size_t expect = 0;
	for (int i = 0; i < NSER; i++)
		expect += (hour ? R->hour[i][idx] : R->day[i][idx]).count > 0;
	CHECK(n == expect, "%s %" PRId64 ": %zu rows, reference %zu", hour ? "hour" : "day", start,
	      n, expect);
	for (size_t k = 0; k < n; k++) {
		int i = sim_index(R, a[k].series);
		if (i < 0)
			continue;
		const struct ref_acc *r = hour ? &R->hour[i][idx] : &R->day[i][idx];
		double mn = r->min, mx = r->max;
		if (R->ser[i].counter) {
			mn = hour ? R->cmin_h[i][idx] : R->cmin_d[i][idx];
			mx = hour ? R->cmax_h[i][idx] : R->cmax_d[i][idx];
		}
		CHECK(a[k].start_ms == start && a[k].count == r->count && near(a[k].sum, r->sum) &&
			      a[k].min == mn && a[k].max == mx && a[k].quality == r->q,
		      "%s %" PRId64 " series %u: count %u/%u sum %.17g/%.17g min %g/%g max %g/%g "
		      "q %u/%u",
		      hour ? "hour" : "day", start, a[k].series, a[k].count, r->count, a[k].sum,
		      r->sum, a[k].min, mn, a[k].max, mx, a[k].quality, r->q);
		if (hour)
			R->hours_checked++;
		else
			R->days_checked++;
	}
}

static double gauge_value(struct rng *g, int i, int64_t ts)
{
	double base = 100.0 + 37.0 * i;
	return base + 20.0 * sin((double)ts / 3.7e6 + i) + rndf(g) - 0.5;
}

static void test_simulation(void)
{
	struct rng g = {0x9e3779b97f4a7c15ULL};
	int64_t start = T0 - 7 * 60000 - 1234; /* 20:52:58.766 */
	int64_t end = start + DAYS * WT_DAY_MS;
	struct sim_series ser[NSER];
	struct ref *R = calloc(1, sizeof *R);
	if (!R)
		exit(2);
	R->ser = ser;
	R->hour0 = wt_rollup_align(start, WT_HOUR_MS);
	R->day0 = wt_rollup_align(start, WT_DAY_MS);

	int64_t now = start;
	struct wt_clock clock = {wt_clock_manual_now, &now};
	struct wt_rollup *r = wt_rollup_new(&clock);
	if (!r || wt_rollup_on_close(r, ref_close, R) < 0 || wt_rollup_on_agg(r, ref_agg, R) < 0)
		exit(2);
	R->closed_before = wt_rollup_align(start - 500, 5000);

	for (int i = 0; i < NSER; i++) {
		struct sim_series *s = &ser[i];
		memset(s, 0, sizeof *s);
		s->id = (uint32_t)(5 + 2 * i); /* even ids stay unknown */
		s->counter = i % 5 == 0;
		static const int64_t periods[] = {5000, 5000, 5000, 2000, 7000, 1000};
		s->period = periods[i % 6];
		s->next_ts = start + (int64_t)(rnd(&g) % (uint64_t)s->period);
		if (i == 0) { /* a 16-bit counter that wraps every few hours */
			s->wrap = 65536.0;
			s->counter_v = 60000.0;
		} else if (i == 5) { /* wrap value set, but it resets from mid-range */
			s->wrap = 4294967296.0;
			s->counter_v = 1e6;
		} else {
			s->counter_v = 1e5 * i;
		}
		int e = wt_rollup_register(r, s->id, s->counter ? WT_MF_COUNTER : 0, s->wrap);
		CHECK(e == 0, "register %u", s->id);
	}

	/* Samples in flight, delivered in arrival order. */
	struct flight *fl = NULL;
	size_t nfl = 0, capfl = 0;
	int64_t next_tick = wt_rollup_align(start, 5000) + 5000 + 600;
	int64_t pause_until = 0, min_arrive = INT64_MIN;
	bool reset_done[NSER] = {0};
	for (now = start; now < end; now += 100) {
		/* devices take readings */
		for (int i = 0; i < NSER; i++) {
			struct sim_series *s = &ser[i];
			while (s->next_ts <= now) {
				int64_t ts = s->next_ts;
				s->next_ts += s->period + (int64_t)(rnd(&g) % 601) - 300;
				double v;
				if (s->counter) {
					s->counter_v += 2.0 + 40.0 * rndf(&g);
					if (s->wrap > 0 && s->counter_v >= s->wrap)
						s->counter_v -= s->wrap;
					if (!reset_done[i] &&
					    ts > start + (int64_t)(i + 1) * 3600000 &&
					    (i == 5 || i == 10)) {
						s->counter_v = 3.0; /* reboot */
						reset_done[i] = true;
					}
					v = s->counter_v;
				} else {
					v = gauge_value(&g, i, ts);
				}
				uint64_t dice = rnd(&g) % 1000;
				uint8_t q = WT_Q_GOOD;
				if (dice < 3 && !s->counter)
					v = NAN;
				else if (dice < 4 && !s->counter)
					v = -INFINITY;
				else if (dice < 12)
					q = WT_Q_BAD;
				else if (dice < 20)
					q = WT_Q_ESTIMATED;
				int64_t lat = 20 + (int64_t)(rnd(&g) % 400);
				if (dice >= 990)
					lat += 2000 + (int64_t)(rnd(&g) % 6000); /* slow answer */
				int64_t sts = ts;
				if (dice == 989)
					sts = ts + 9000; /* device clock ahead: future */
				struct wt_sample smp = {
					.series = s->id, .quality = q, .ts_ms = sts, .value = v};
				fl = grow(fl, &capfl, nfl + 2, sizeof *fl);
				fl[nfl++] = (struct flight){ts + lat, smp};
				if (ts + lat < min_arrive)
					min_arrive = ts + lat;
				if (dice == 500) { /* a sample for an id nobody registered */
					smp.series = s->id + 1;
					fl[nfl++] = (struct flight){ts + lat, smp};
				}
			}
		}
		/* deliver what has arrived, oldest arrival first */
		struct wt_sample batch[256];
		size_t nb = 0;
		for (; nfl && now >= min_arrive;) {
			size_t best = nfl;
			for (size_t k = 0; k < nfl; k++)
				if (fl[k].arrive <= now &&
				    (best == nfl || fl[k].arrive < fl[best].arrive))
					best = k;
			if (best == nfl || nb == 256)
				break;
			batch[nb++] = fl[best].s;
			fl[best] = fl[--nfl];
		}
		min_arrive = INT64_MAX;
		for (size_t k = 0; k < nfl; k++)
			if (fl[k].arrive < min_arrive)
				min_arrive = fl[k].arrive;
		for (size_t k = 0; k < nb; k++)
			ref_ingest(R, &batch[k], now);
		wt_rollup_ingest(r, batch, nb);
		/* the timer: every boundary + 600 ms, with pauses of up to a minute */
		if (now >= next_tick && now >= pause_until) {
			wt_rollup_tick(r);
			int64_t cb = wt_rollup_align(now - 500, 5000);
			if (cb > R->closed_before)
				R->closed_before = cb;
			next_tick = wt_rollup_align(now, 5000) + 5000 + 600;
			if (rnd(&g) % 500 == 0)
				pause_until = now + 10000 + (int64_t)(rnd(&g) % 50000);
		}
	}
	wt_rollup_flush(r);

	const struct wt_rollup_stats *st = wt_rollup_stats(r);
	CHECK(R->npend == 0, "%zu accepted samples never emitted", R->npend);
	CHECK(st->late == R->late && st->future == R->future && st->nan == R->nan &&
		      st->inf == R->inf && st->unknown_series == R->unknown &&
		      st->stale == R->stale && st->counter_resets == R->resets &&
		      st->counter_wraps == R->wraps && st->samples == R->accepted,
	      "stats: late %" PRIu64 "/%" PRIu64 " future %" PRIu64 "/%" PRIu64 " nan %" PRIu64
	      "/%" PRIu64 " inf %" PRIu64 "/%" PRIu64 " unknown %" PRIu64 "/%" PRIu64
	      " stale %" PRIu64 "/%" PRIu64 " resets %" PRIu64 "/%" PRIu64 " wraps %" PRIu64
	      "/%" PRIu64 " accepted %" PRIu64 "/%" PRIu64,
	      st->late, R->late, st->future, R->future, st->nan, R->nan, st->inf, R->inf,
	      st->unknown_series, R->unknown, st->stale, R->stale, st->counter_resets, R->resets,
	      st->counter_wraps, R->wraps, st->samples, R->accepted);
	/* The scenario must actually exercise every path. */
	CHECK(R->late > 10 && R->future > 10 && R->nan > 10 && R->inf > 3 && R->unknown > 10 &&
		      R->stale > 0 && R->wraps >= 2 && R->resets >= 2,
	      "scenario coverage: late %" PRIu64 " future %" PRIu64 " nan %" PRIu64 " inf %" PRIu64
	      " unknown %" PRIu64 " stale %" PRIu64 " wraps %" PRIu64 " resets %" PRIu64,
	      R->late, R->future, R->nan, R->inf, R->unknown, R->stale, R->wraps, R->resets);
	CHECK(R->buckets_checked > 40000 * 3, "buckets checked %zu", R->buckets_checked);
	/* 72 hour ends + the provisional one, 50 series each */
	CHECK(R->hours_seen == DAYS * 24 + 1, "hour calls %zu", R->hours_seen);
	CHECK(R->hours_checked >= NSER * DAYS * 24, "hour rows checked %zu", R->hours_checked);
	CHECK(R->days_checked >= NSER * (DAYS + 1), "day rows checked %zu", R->days_checked);
	printf("simulation: %zu buckets, %zu hour rows, %zu day rows checked; late %" PRIu64
	       " future %" PRIu64 " nan %" PRIu64 " inf %" PRIu64 " unknown %" PRIu64
	       " stale %" PRIu64 " wraps %" PRIu64 " resets %" PRIu64 "; %zu bytes/series\n",
	       R->buckets_checked, R->hours_checked, R->days_checked, R->late, R->future, R->nan,
	       R->inf, R->unknown, R->stale, R->wraps, R->resets, wt_rollup_bytes_per_series(r));
	free(fl);
	free(R->pending);
	free(R);
	wt_rollup_free(r);
}

static void test_memory(void)
{
	struct fixture f;
	fx_init(&f, T0);
	CHECK(wt_rollup_reserve(f.r, 99999) == 0, "reserve");
	for (uint32_t id = 0; id < 100000; id++)
		reg(&f, id, id % 5 ? 0 : WT_MF_COUNTER, 0);
	struct wt_sample *s = malloc(100000 * sizeof *s);
	if (!s)
		exit(2);
	for (uint32_t id = 0; id < 100000; id++)
		s[id] = (struct wt_sample){.series = id, .ts_ms = T0 + 100, .value = id};
	wt_rollup_ingest(f.r, s, 100000);
	f.now = T0 + 5500 + 5000;
	wt_rollup_tick(f.r);
	size_t bps = wt_rollup_bytes_per_series(f.r);
	/* 72 bytes of state + the 56-byte output row (+ a little slack) */
	CHECK(bps >= 128 && bps <= 132, "bytes per series %zu", bps);
	free(s);
	fx_free(&f);
}

int main(void)
{
	test_align();
	test_boundary_and_grace();
	test_negative_epoch();
	test_hour_day();
	test_counters();
	test_bad_samples();
	test_out_of_order();
	test_catch_up();
	test_reentrant();
	test_flush_feedback();
	test_flush();
	test_register();
	test_seeding();
	test_memory();
	test_simulation();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all rollup checks passed\n");
	return 0;
}
