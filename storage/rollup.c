/* The rollup engine. The rules (grace, late, future, counters, precision)
 * are in rollup.h; this file keeps them cheap.
 *
 * Layout: two arrays indexed by series id, 32 bytes of hot state (the open
 * 5 s bucket, all that ingest touches) and 40 bytes of cold state (hour,
 * day), 72 bytes per series in all. Each series holds ONE open bucket. The
 * only time a series needs two is when a sample for the next bucket arrives
 * while the previous one is still in its grace period; then the older
 * bucket moves to a small side list (normally empty) and is emitted from
 * there at its close.
 *
 * Closing boundary B scans the series array for open buckets at B. At 5 s
 * polling nearly every series has one, so the scan is the output, and it
 * costs no per-series bookkeeping (no touched lists), which keeps the state
 * compact; output is in series id order. */
#include "rollup.h"

#include "log.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
	SF_REGISTERED = 1u << 0,
	SF_COUNTER = 1u << 1,
	SF_HAS_PREV = 1u << 2, /* counter: raw holds the previous reading */
	SF_HAS_TS = 1u << 3    /* counter: bidx/last_off give that reading's time */
};

/* Per-series hot state: the open 5 s bucket, all that ingest touches (two
 * series per cache line). Gauges keep min, max, last in g[]; counters keep
 * min = max = last = sum (the delta), so g[0..1] hold the raw previous
 * reading as a double instead (ser_raw) and g[2] the index of the wrap
 * value (ser_wrap). */
struct ser {
	double sum;        /* sum of values, or the counter delta */
	float g[3];        /* gauge: min, max, last; counter: raw reading, wrap index */
	uint32_t count;    /* samples in the open bucket; 0 = none open */
	int32_t bidx;      /* open bucket index (ts / 5000); counter: of the last reading */
	uint16_t last_off; /* ms into the bucket of last (gauge) or of the last reading */
	uint8_t quality;
	uint8_t flags; /* SF_* */
};
_Static_assert(sizeof(struct ser) == 32, "hot per-series state grew");

/* Per-series cold state: the open hour and day, folded from closed
 * buckets; touched once per bucket at close, not per sample. Count and
 * quality share a word (count << 2 | quality; 0 = empty), which saves the
 * padding two separate quality bytes would cost. */
struct per {
	double hsum, dsum;
	float hmin, hmax, dmin, dmax;
	uint32_t hcq, dcq;
};
_Static_assert(sizeof(struct per) == 40, "cold per-series state grew");

/* Largest count an hour or day holds (2^30 - 1: over 12,000 samples a
 * second for a day); more saturates. */
#define CQ_MAX ((1u << 30) - 1)

static uint32_t cq_count(uint32_t cq)
{
	return cq >> 2;
}

static uint8_t cq_q(uint32_t cq)
{
	return (uint8_t)(cq & 3);
}

/* A bucket pushed out of its series' slot while still inside its grace. */
struct side {
	struct wt_bucket b;
	uint16_t last_off;
};

struct close_sub {
	wt_close_fn fn;
	void *ctx;
};

struct agg_sub {
	wt_agg_fn fn;
	void *ctx;
};

struct wt_rollup {
	struct wt_clock clock;
	struct ser *ser;
	struct per *per;
	uint32_t cap;       /* entries allocated in ser and per */
	uint32_t nreg;      /* registered series */
	int64_t next_close; /* start of the oldest bucket not yet closed */
	size_t open_slots;  /* series whose slot holds an open bucket */
	int64_t newest;     /* start of the newest bucket a sample was kept for */
	bool hour_any, day_any;
	bool busy;           /* inside tick/flush: closing is not reentrant */
	bool accept_closing; /* in the first close call: take samples for closing */
	int64_t closing;     /* the boundary being closed */
	size_t derived;      /* samples fed back for it during the first call */
	struct side *side;
	size_t nside, cap_side;
	void *scratch; /* output array handed to subscribers, reused */
	size_t scratch_bytes;
	struct close_sub *close_subs;
	size_t nclose_subs;
	struct agg_sub *agg_subs;
	size_t nagg_subs;
	double wraps[256]; /* [0] unused: wrap_idx 0 means none */
	unsigned nwraps;
	struct wt_complaint nomem;
	struct wt_rollup_stats st;
};

int64_t wt_rollup_align(int64_t ts_ms, int64_t period_ms)
{
	int64_t q = ts_ms / period_ms;
	if (ts_ms % period_ms < 0)
		q--;
	return q * period_ms;
}

static int64_t bucket_index(int64_t ts_ms)
{
	int64_t q = ts_ms / WT_BUCKET_MS;
	return ts_ms % WT_BUCKET_MS < 0 ? q - 1 : q;
}

static double ser_raw(const struct ser *sp)
{
	double d;
	memcpy(&d, sp->g, sizeof d);
	return d;
}

static void ser_set_raw(struct ser *sp, double d)
{
	memcpy(sp->g, &d, sizeof d);
}

static uint32_t ser_wrap(const struct ser *sp)
{
	uint32_t w;
	memcpy(&w, &sp->g[2], sizeof w);
	return w;
}

static void ser_set_wrap(struct ser *sp, uint32_t w)
{
	memcpy(&sp->g[2], &w, sizeof w);
}

static uint8_t worst(uint8_t a, uint8_t b)
{
	return a > b ? a : b;
}

static void slot_to_bucket(const struct ser *sp, uint32_t id, struct wt_bucket *o)
{
	o->series = id;
	o->count = sp->count;
	o->start_ms = (int64_t)sp->bidx * WT_BUCKET_MS;
	o->sum = sp->sum;
	o->quality = sp->quality;
	if (sp->flags & SF_COUNTER) {
		o->min = o->max = o->last = sp->sum;
	} else {
		o->min = sp->g[0];
		o->max = sp->g[1];
		o->last = sp->g[2];
	}
}

struct wt_rollup *wt_rollup_new(const struct wt_clock *clock)
{
	struct wt_rollup *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->clock = *clock;
	r->next_close = wt_rollup_align(wt_clock_now(&r->clock) - WT_ROLLUP_GRACE_MS, WT_BUCKET_MS);
	r->newest = INT64_MIN;
	return r;
}

void wt_rollup_free(struct wt_rollup *r)
{
	if (!r)
		return;
	free(r->ser);
	free(r->per);
	free(r->side);
	free(r->scratch);
	free(r->close_subs);
	free(r->agg_subs);
	free(r);
}

static int wrap_index(struct wt_rollup *r, double wrap, uint8_t *out)
{
	if (wrap == 0) {
		*out = 0;
		return 0;
	}
	for (unsigned i = 1; i <= r->nwraps; i++) {
		if (r->wraps[i] == wrap) {
			*out = (uint8_t)i;
			return 0;
		}
	}
	if (r->nwraps >= 255)
		return -ENOSPC;
	r->wraps[++r->nwraps] = wrap;
	*out = (uint8_t)r->nwraps;
	return 0;
}

/* Grows both arrays to want entries; on failure the capacity is unchanged
 * (a grown first array is harmless). */
static int resize(struct wt_rollup *r, uint64_t want)
{
	struct ser *n = realloc(r->ser, (size_t)want * sizeof *n);
	if (!n)
		return -ENOMEM;
	r->ser = n;
	struct per *p = realloc(r->per, (size_t)want * sizeof *p);
	if (!p)
		return -ENOMEM;
	r->per = p;
	memset(n + r->cap, 0, (size_t)(want - r->cap) * sizeof *n);
	memset(p + r->cap, 0, (size_t)(want - r->cap) * sizeof *p);
	r->cap = (uint32_t)want;
	return 0;
}

static int grow_series(struct wt_rollup *r, uint32_t series)
{
	if (series < r->cap)
		return 0;
	/* 1.5x: ids are dense and registered mostly in order, so slack is
	 * memory held for nothing; wt_rollup_reserve() avoids it entirely. */
	uint64_t want = (uint64_t)r->cap + r->cap / 2;
	if (want < 1024)
		want = 1024;
	if (want < (uint64_t)series + 1)
		want = (uint64_t)series + 1;
	if (want > (uint64_t)WT_ROLLUP_MAX_SERIES + 1)
		want = (uint64_t)WT_ROLLUP_MAX_SERIES + 1;
	return resize(r, want);
}

int wt_rollup_reserve(struct wt_rollup *r, uint32_t max_series)
{
	if (max_series > WT_ROLLUP_MAX_SERIES)
		return -EINVAL;
	if (max_series < r->cap)
		return 0;
	return resize(r, (uint64_t)max_series + 1);
}

int wt_rollup_register(struct wt_rollup *r, uint32_t series, unsigned flags, double wrap)
{
	if (series > WT_ROLLUP_MAX_SERIES || !(wrap >= 0) || isinf(wrap))
		return -EINVAL;
	bool counter = flags & WT_MF_COUNTER;
	uint8_t widx = 0;
	if (counter) {
		int e = wrap_index(r, wrap, &widx);
		if (e < 0)
			return e;
	}
	int e = grow_series(r, series);
	if (e < 0)
		return e;
	struct ser *sp = &r->ser[series];
	if (sp->flags & SF_REGISTERED) {
		if (!!(sp->flags & SF_COUNTER) != counter) {
			if (sp->count)
				return -EBUSY;
			/* A gauge's g[] is not a raw reading and vice versa. */
			sp->flags &= (uint8_t) ~(SF_COUNTER | SF_HAS_PREV | SF_HAS_TS);
			if (counter)
				sp->flags |= SF_COUNTER;
		}
	} else {
		sp->flags = SF_REGISTERED | (counter ? SF_COUNTER : 0);
		r->nreg++;
	}
	if (counter)
		ser_set_wrap(sp, widx);
	return 0;
}

int wt_rollup_on_close(struct wt_rollup *r, wt_close_fn fn, void *ctx)
{
	struct close_sub *n = realloc(r->close_subs, (r->nclose_subs + 1) * sizeof *n);
	if (!n)
		return -ENOMEM;
	n[r->nclose_subs++] = (struct close_sub){fn, ctx};
	r->close_subs = n;
	return 0;
}

int wt_rollup_on_agg(struct wt_rollup *r, wt_agg_fn fn, void *ctx)
{
	struct agg_sub *n = realloc(r->agg_subs, (r->nagg_subs + 1) * sizeof *n);
	if (!n)
		return -ENOMEM;
	n[r->nagg_subs++] = (struct agg_sub){fn, ctx};
	r->agg_subs = n;
	return 0;
}

static int side_reserve(struct wt_rollup *r)
{
	if (r->nside < r->cap_side)
		return 0;
	size_t want = r->cap_side ? r->cap_side * 2 : 64;
	struct side *n = realloc(r->side, want * sizeof *n);
	if (!n)
		return -ENOMEM;
	r->side = n;
	r->cap_side = want;
	return 0;
}

static void count_nomem(struct wt_rollup *r)
{
	r->st.dropped_nomem++;
	wt_complain(&r->nomem, WT_LOG_ERROR, "rollup: out of memory, samples dropped");
}

/* Moves the series' open bucket to the side list so the slot can take a
 * newer bucket. */
static int evict(struct wt_rollup *r, struct ser *sp, uint32_t id)
{
	if (side_reserve(r) < 0)
		return -ENOMEM;
	struct side *e = &r->side[r->nside++];
	slot_to_bucket(sp, id, &e->b);
	e->last_off = sp->last_off;
	return 0;
}

/* A sample for an open bucket older than the one in the series' slot (the
 * slot moved on while this bucket is still in its grace). Rare, so a
 * linear search. Returns false when out of memory. */
static bool side_fold(struct wt_rollup *r, uint32_t id, int64_t b, uint16_t off, double v, float f,
		      uint8_t q)
{
	int64_t start = b * WT_BUCKET_MS;
	for (size_t i = r->nside; i-- > 0;) {
		struct side *e = &r->side[i];
		if (e->b.series != id || e->b.start_ms != start)
			continue;
		e->b.count++;
		e->b.sum += v;
		if (f < e->b.min)
			e->b.min = f;
		if (f > e->b.max)
			e->b.max = f;
		if (off >= e->last_off) {
			e->b.last = f;
			e->last_off = off;
		}
		e->b.quality = worst(e->b.quality, q);
		return true;
	}
	if (side_reserve(r) < 0) {
		count_nomem(r);
		return false;
	}
	struct side *e = &r->side[r->nside++];
	e->b = (struct wt_bucket){.series = id,
				  .count = 1,
				  .start_ms = start,
				  .min = f,
				  .max = f,
				  .sum = v,
				  .last = f,
				  .quality = q};
	e->last_off = off;
	return true;
}

/* Returns false when the sample could not be kept (out of memory). */
static bool ingest_gauge(struct wt_rollup *r, struct ser *sp, uint32_t id, int64_t b, uint16_t off,
			 double v, uint8_t q)
{
	float f = (float)v;
	if (sp->count && sp->bidx == b) {
		sp->count++;
		sp->sum += v;
		if (f < sp->g[0])
			sp->g[0] = f;
		if (f > sp->g[1])
			sp->g[1] = f;
		if (off >= sp->last_off) {
			sp->g[2] = f;
			sp->last_off = off;
		}
		sp->quality = worst(sp->quality, q);
		return true;
	}
	if (sp->count && b < sp->bidx)
		return side_fold(r, id, b, off, v, f, q);
	if (sp->count) {
		if (evict(r, sp, id) < 0) {
			count_nomem(r);
			return false;
		}
	} else {
		r->open_slots++;
	}
	sp->count = 1;
	sp->bidx = (int32_t)b;
	sp->sum = v;
	sp->g[0] = sp->g[1] = sp->g[2] = f;
	sp->last_off = off;
	sp->quality = q;
	return true;
}

/* Turns a counter reading into a delta (rules in rollup.h). Returns false
 * when the sample was dropped (stale, or delta out of range). */
static bool ingest_counter(struct wt_rollup *r, struct ser *sp, uint32_t id, int64_t b, int64_t ts,
			   uint16_t off, double v, uint8_t q)
{
	if ((sp->flags & SF_HAS_TS) && ts <= (int64_t)sp->bidx * WT_BUCKET_MS + sp->last_off) {
		r->st.stale++;
		return false;
	}
	if (!(sp->flags & SF_HAS_PREV)) {
		/* Priming: the slot is empty (a delta needs a previous reading),
		 * so bidx/last_off are free to remember when this was. */
		ser_set_raw(sp, v);
		sp->flags |= SF_HAS_PREV | SF_HAS_TS;
		sp->bidx = (int32_t)b;
		sp->last_off = off;
		return true;
	}
	double prev = ser_raw(sp), d;
	if (v >= prev) {
		d = v - prev;
	} else {
		double w = r->wraps[ser_wrap(sp)];
		if (w > 0 && prev <= w && v >= 0 && w - prev + v <= w / 8) {
			d = w - prev + v;
			r->st.counter_wraps++;
		} else {
			d = v > 0 ? v : 0;
			r->st.counter_resets++;
		}
	}
	if (d > FLT_MAX) { /* only from readings near +-FLT_MAX: garbage */
		r->st.inf++;
		return false;
	}
	if (sp->count && sp->bidx != b) {
		/* Counter readings only move forward, so b is newer. */
		if (evict(r, sp, id) < 0) {
			count_nomem(r);
			return false; /* raw stays: the next delta covers this one */
		}
		sp->count = 0;
		r->open_slots--;
	}
	ser_set_raw(sp, v);
	sp->flags |= SF_HAS_TS;
	if (sp->count) {
		sp->count++;
		sp->sum += d;
		sp->quality = worst(sp->quality, q);
	} else {
		r->open_slots++;
		sp->count = 1;
		sp->sum = d;
		sp->quality = q;
	}
	sp->bidx = (int32_t)b;
	sp->last_off = off;
	return true;
}

void wt_rollup_ingest(struct wt_rollup *r, const struct wt_sample *s, size_t n)
{
	if (n == 0)
		return;
	int64_t now = wt_clock_now(&r->clock);
	int64_t limit = now + WT_BUCKET_MS;
	for (size_t i = 0; i < n; i++) {
		const struct wt_sample *x = &s[i];
		uint32_t id = x->series;
		if (id >= r->cap || !(r->ser[id].flags & SF_REGISTERED)) {
			r->st.unknown_series++;
			continue;
		}
		double v = x->value;
		if (isnan(v)) {
			r->st.nan++;
			continue;
		}
		if (isinf(v)) {
			r->st.inf++;
			continue;
		}
		if (x->ts_ms > limit) {
			r->st.future++;
			continue;
		}
		/* next_close is aligned, so this is "its bucket is closed", and
		 * it keeps absurd timestamps away from the bucket arithmetic. */
		bool derived = false;
		if (x->ts_ms < r->next_close) {
			if (!r->accept_closing || x->ts_ms < r->closing) {
				r->st.late++;
				continue;
			}
			derived = true;
		}
		int64_t b = bucket_index(x->ts_ms);
		if (b > INT32_MAX) { /* only with a clock beyond year 12000 */
			r->st.future++;
			continue;
		}
		uint16_t off = (uint16_t)(x->ts_ms - b * WT_BUCKET_MS);
		uint8_t q = x->quality > WT_Q_BAD ? WT_Q_BAD : x->quality;
		if (fabs(v) > FLT_MAX) {
			r->st.inf++;
			continue;
		}
		struct ser *sp = &r->ser[id];
		bool kept;
		if (sp->flags & SF_COUNTER)
			kept = ingest_counter(r, sp, id, b, x->ts_ms, off, v, q);
		else
			kept = ingest_gauge(r, sp, id, b, off, v, q);
		if (kept) {
			if (derived) {
				r->derived++;
				r->st.derived++;
			}
			if (b * WT_BUCKET_MS > r->newest)
				r->newest = b * WT_BUCKET_MS;
			r->st.samples++;
			if (q == WT_Q_BAD)
				r->st.bad_quality++;
		}
	}
}

/* The output array must hold every series plus the side list; sized before
 * subscribers run so nothing reallocates under them. */
static bool scratch_reserve(struct wt_rollup *r)
{
	size_t elem = sizeof(struct wt_bucket) > sizeof(struct wt_agg) ? sizeof(struct wt_bucket)
								       : sizeof(struct wt_agg);
	/* Open buckets and hour/day rows belong to registered series only. */
	size_t want = ((size_t)r->nreg + r->nside) * elem;
	if (want <= r->scratch_bytes)
		return true;
	want += (want / 16 < 4096 * elem ? want / 16 : 4096 * elem);
	void *n = realloc(r->scratch, want);
	if (!n)
		return false;
	r->scratch = n;
	r->scratch_bytes = want;
	return true;
}

static void acc_fold(float *mn, float *mx, double *sum, uint32_t *count, uint8_t *q, double bmin,
		     double bmax, double bsum, uint32_t bcount, uint8_t bq)
{
	float fmin = (float)bmin, fmax = (float)bmax;
	if (*count == 0) {
		*mn = fmin;
		*mx = fmax;
		*sum = bsum;
		*count = bcount;
		*q = bq;
		return;
	}
	if (fmin < *mn)
		*mn = fmin;
	if (fmax > *mx)
		*mx = fmax;
	*sum += bsum;
	*count = *count > UINT32_MAX - bcount ? UINT32_MAX : *count + bcount;
	*q = worst(*q, bq);
}

/* acc_fold for an hour or day of struct per. */
static void per_fold(float *mn, float *mx, double *sum, uint32_t *cq, double bmin, double bmax,
		     double bsum, uint32_t bcount, uint8_t bq)
{
	uint32_t c = cq_count(*cq);
	uint8_t q = cq_q(*cq);
	acc_fold(mn, mx, sum, &c, &q, bmin, bmax, bsum, bcount, bq);
	if (c > CQ_MAX)
		c = CQ_MAX;
	*cq = c << 2 | q;
}

static void emit_agg(struct wt_rollup *r, enum wt_level level, int64_t start,
		     const struct wt_agg *a, size_t n)
{
	for (size_t i = 0; i < r->nagg_subs; i++)
		r->agg_subs[i].fn(r->agg_subs[i].ctx, level, start, a, n);
}

/* Collects the hour's rows, folds each into its day and resets the hour
 * in one pass, then emits the rows (unless the output array is missing). */
static void close_hour(struct wt_rollup *r, int64_t start, bool have)
{
	struct wt_agg *out = r->scratch;
	size_t k = 0;
	for (uint32_t id = 0; id < r->cap && r->hour_any; id++) {
		struct per *pp = &r->per[id];
		if (!pp->hcq)
			continue;
		if (have)
			out[k++] = (struct wt_agg){.series = id,
						   .count = cq_count(pp->hcq),
						   .start_ms = start,
						   .min = pp->hmin,
						   .max = pp->hmax,
						   .sum = pp->hsum,
						   .quality = cq_q(pp->hcq)};
		else
			count_nomem(r);
		per_fold(&pp->dmin, &pp->dmax, &pp->dsum, &pp->dcq, pp->hmin, pp->hmax, pp->hsum,
			 cq_count(pp->hcq), cq_q(pp->hcq));
		pp->hcq = 0;
		r->day_any = true;
	}
	r->hour_any = false;
	r->st.hours_closed += k;
	emit_agg(r, WT_LEVEL_HOUR, start, out, k);
}

static void close_day(struct wt_rollup *r, int64_t start, bool have)
{
	struct wt_agg *out = r->scratch;
	size_t k = 0;
	if (r->day_any) {
		for (uint32_t id = 0; id < r->cap; id++) {
			struct per *pp = &r->per[id];
			if (!pp->dcq)
				continue;
			if (have)
				out[k++] = (struct wt_agg){.series = id,
							   .count = cq_count(pp->dcq),
							   .start_ms = start,
							   .min = pp->dmin,
							   .max = pp->dmax,
							   .sum = pp->dsum,
							   .quality = cq_q(pp->dcq)};
			else
				count_nomem(r);
			pp->dcq = 0;
		}
	}
	r->st.days_closed += k;
	r->day_any = false;
	emit_agg(r, WT_LEVEL_DAY, start, out, k);
}

/* Folds a closed bucket into its series' open hour. */
static void fold_hour(struct per *pp, const struct wt_bucket *b)
{
	per_fold(&pp->hmin, &pp->hmax, &pp->hsum, &pp->hcq, b->min, b->max, b->sum, b->count,
		 b->quality);
}

/* Collects every open bucket at B (side list and slots) into the output
 * array and folds each into its hour, in the same pass, while its series'
 * state is in cache. Without the array (out of memory) the 5 s rows are
 * lost (counted) but the hour still gets them. Returns the rows collected. */
static size_t collect(struct wt_rollup *r, int64_t B, bool have)
{
	struct wt_bucket *out = r->scratch, tmp;
	size_t k = 0, j = 0, folded = 0;
	for (size_t i = 0; i < r->nside; i++) {
		const struct wt_bucket *b = &r->side[i].b;
		if (b->start_ms != B) {
			r->side[j++] = r->side[i];
			continue;
		}
		fold_hour(&r->per[b->series], b);
		folded++;
		if (have)
			out[k++] = *b;
		else
			count_nomem(r);
	}
	r->nside = j;
	int32_t bi = (int32_t)(B / WT_BUCKET_MS);
	for (uint32_t id = 0; id < r->cap && r->open_slots; id++) {
		struct ser *sp = &r->ser[id];
		if (!sp->count || sp->bidx != bi)
			continue;
		struct wt_bucket *o = have ? &out[k] : &tmp;
		slot_to_bucket(sp, id, o);
		fold_hour(&r->per[id], o);
		folded++;
		if (have)
			k++;
		else
			count_nomem(r);
		sp->count = 0;
		r->open_slots--;
	}
	if (folded)
		r->hour_any = true;
	r->st.buckets_closed += k;
	return k;
}

static void emit_close(struct wt_rollup *r, int64_t B, size_t k)
{
	for (size_t i = 0; i < r->nclose_subs; i++)
		r->close_subs[i].fn(r->close_subs[i].ctx, B, r->scratch, k);
}

/* Closes the 5 s boundary starting at B (== r->next_close), then the hour
 * and day if they end with it. */
static void close_boundary(struct wt_rollup *r, int64_t B)
{
	bool have = scratch_reserve(r);
	size_t k = collect(r, B, have);
	/* From here on samples for B are late, except what subscribers feed
	 * back for B during this first call (derived series). */
	r->next_close = B + WT_BUCKET_MS;
	r->closing = B;
	r->derived = 0;
	r->accept_closing = true;
	emit_close(r, B, k);
	r->accept_closing = false;
	if (r->derived) {
		have = scratch_reserve(r);
		emit_close(r, B, collect(r, B, have));
	}
	int64_t end = B + WT_BUCKET_MS;
	if (wt_rollup_align(end, WT_HOUR_MS) == end)
		close_hour(r, end - WT_HOUR_MS, have);
	if (wt_rollup_align(end, WT_DAY_MS) == end)
		close_day(r, end - WT_DAY_MS, have);
}

static bool nothing_held(const struct wt_rollup *r)
{
	return r->open_slots == 0 && r->nside == 0 && !r->hour_any && !r->day_any;
}

void wt_rollup_tick(struct wt_rollup *r)
{
	if (r->busy)
		return;
	r->busy = true;
	int64_t now = wt_clock_now(&r->clock);
	int64_t target = wt_rollup_align(now - WT_ROLLUP_GRACE_MS, WT_BUCKET_MS);
	while (r->next_close < target) {
		if (target - r->next_close > WT_HOUR_MS && nothing_held(r)) {
			wt_notice("rollup: clock %lld s ahead with nothing held; skipping the "
				  "empty boundaries",
				  (long long)((target - r->next_close) / 1000));
			r->next_close = target;
			break;
		}
		close_boundary(r, r->next_close);
	}
	r->busy = false;
}

/* The open day of a series with its open hour folded in; false if empty. */
static bool day_with_hour(const struct per *pp, uint32_t id, int64_t ds, struct wt_agg *o)
{
	float mn = pp->dmin, mx = pp->dmax;
	double sum = pp->dsum;
	uint32_t count = cq_count(pp->dcq);
	uint8_t q = cq_q(pp->dcq);
	if (pp->hcq)
		acc_fold(&mn, &mx, &sum, &count, &q, pp->hmin, pp->hmax, pp->hsum,
			 cq_count(pp->hcq), cq_q(pp->hcq));
	*o = (struct wt_agg){.series = id,
			     .count = count,
			     .start_ms = ds,
			     .min = mn,
			     .max = mx,
			     .sum = sum,
			     .quality = q};
	return count > 0;
}

void wt_rollup_flush(struct wt_rollup *r)
{
	if (r->busy)
		return;
	r->busy = true;
	/* Up to the newest bucket open now, then one more round for samples
	 * that subscribers fed back meanwhile (derived series stamped into the
	 * next bucket). Going on until nothing is open would never end if a
	 * subscriber always feeds the next bucket. */
	for (int round = 0; round < 2; round++) {
		int64_t last = r->newest;
		while ((r->open_slots || r->nside) && r->next_close <= last)
			close_boundary(r, r->next_close);
	}
	if (!scratch_reserve(r)) {
		count_nomem(r);
		r->busy = false;
		return;
	}
	struct wt_agg *out = r->scratch;
	int64_t hs = wt_rollup_align(r->next_close, WT_HOUR_MS);
	int64_t ds = wt_rollup_align(r->next_close, WT_DAY_MS);
	size_t k = 0;
	for (uint32_t id = 0; id < r->cap && r->hour_any; id++) {
		const struct per *pp = &r->per[id];
		if (pp->hcq)
			out[k++] = (struct wt_agg){.series = id,
						   .count = cq_count(pp->hcq),
						   .start_ms = hs,
						   .min = pp->hmin,
						   .max = pp->hmax,
						   .sum = pp->hsum,
						   .quality = cq_q(pp->hcq)};
	}
	emit_agg(r, WT_LEVEL_HOUR, hs, out, k);
	k = 0;
	for (uint32_t id = 0; id < r->cap && (r->hour_any || r->day_any); id++) {
		struct wt_agg a;
		if (day_with_hour(&r->per[id], id, ds, &a))
			out[k++] = a;
	}
	emit_agg(r, WT_LEVEL_DAY, ds, out, k);
	r->busy = false;
}

static bool check_agg(const struct wt_agg *a)
{
	return isfinite(a->min) && isfinite(a->max) && isfinite(a->sum) && a->min <= a->max &&
	       fabs(a->min) <= FLT_MAX && fabs(a->max) <= FLT_MAX;
}

int wt_rollup_seed(struct wt_rollup *r, enum wt_level level, const struct wt_agg *a)
{
	if (a->series >= r->cap || !(r->ser[a->series].flags & SF_REGISTERED))
		return -ENOENT;
	if (a->count == 0)
		return 0;
	if (!check_agg(a))
		return -EINVAL;
	struct per *pp = &r->per[a->series];
	uint8_t q = a->quality > WT_Q_BAD ? WT_Q_BAD : a->quality;
	switch (level) {
	case WT_LEVEL_HOUR:
		if (a->start_ms != wt_rollup_align(r->next_close, WT_HOUR_MS))
			return -ERANGE;
		per_fold(&pp->hmin, &pp->hmax, &pp->hsum, &pp->hcq, a->min, a->max, a->sum,
			 a->count, q);
		r->hour_any = true;
		return 0;
	case WT_LEVEL_DAY:
		if (a->start_ms != wt_rollup_align(r->next_close, WT_DAY_MS))
			return -ERANGE;
		per_fold(&pp->dmin, &pp->dmax, &pp->dsum, &pp->dcq, a->min, a->max, a->sum,
			 a->count, q);
		r->day_any = true;
		return 0;
	case WT_LEVEL_5S:
		break;
	}
	return -EINVAL;
}

int wt_rollup_seed_counter(struct wt_rollup *r, uint32_t series, double last_raw)
{
	if (series >= r->cap || !(r->ser[series].flags & SF_REGISTERED))
		return -ENOENT;
	struct ser *sp = &r->ser[series];
	if (!(sp->flags & SF_COUNTER) || !isfinite(last_raw))
		return -EINVAL;
	if (sp->flags & SF_HAS_PREV)
		return -EBUSY;
	ser_set_raw(sp, last_raw);
	sp->flags |= SF_HAS_PREV;
	return 0;
}

int64_t wt_rollup_open_start(const struct wt_rollup *r, enum wt_level level)
{
	switch (level) {
	case WT_LEVEL_HOUR:
		return wt_rollup_align(r->next_close, WT_HOUR_MS);
	case WT_LEVEL_DAY:
		return wt_rollup_align(r->next_close, WT_DAY_MS);
	case WT_LEVEL_5S:
		break;
	}
	return r->next_close;
}

/* Folds the series' open buckets that start in [from, to) into an agg. */
static void peek_open(const struct wt_rollup *r, uint32_t id, int64_t from, int64_t to,
		      struct wt_agg *o)
{
	const struct ser *sp = &r->ser[id];
	float mn = (float)o->min, mx = (float)o->max;
	if (sp->count) {
		struct wt_bucket b;
		slot_to_bucket(sp, id, &b);
		if (b.start_ms >= from && b.start_ms < to)
			acc_fold(&mn, &mx, &o->sum, &o->count, &o->quality, b.min, b.max, b.sum,
				 b.count, b.quality);
	}
	for (size_t i = 0; i < r->nside; i++) {
		const struct wt_bucket *b = &r->side[i].b;
		if (b->series == id && b->start_ms >= from && b->start_ms < to)
			acc_fold(&mn, &mx, &o->sum, &o->count, &o->quality, b->min, b->max, b->sum,
				 b->count, b->quality);
	}
	o->min = mn;
	o->max = mx;
}

bool wt_rollup_peek(const struct wt_rollup *r, uint32_t series, enum wt_level level,
		    struct wt_agg *out)
{
	if (series >= r->cap || !(r->ser[series].flags & SF_REGISTERED))
		return false;
	const struct ser *sp = &r->ser[series];
	const struct per *pp = &r->per[series];
	memset(out, 0, sizeof *out);
	out->series = series;
	switch (level) {
	case WT_LEVEL_5S: {
		if (!sp->count)
			return false;
		struct wt_bucket b;
		slot_to_bucket(sp, series, &b);
		*out = (struct wt_agg){.series = series,
				       .count = b.count,
				       .start_ms = b.start_ms,
				       .min = b.min,
				       .max = b.max,
				       .sum = b.sum,
				       .quality = b.quality};
		return true;
	}
	case WT_LEVEL_HOUR: {
		int64_t hs = wt_rollup_align(r->next_close, WT_HOUR_MS);
		out->start_ms = hs;
		if (pp->hcq) {
			out->count = cq_count(pp->hcq);
			out->min = pp->hmin;
			out->max = pp->hmax;
			out->sum = pp->hsum;
			out->quality = cq_q(pp->hcq);
		}
		peek_open(r, series, hs, hs + WT_HOUR_MS, out);
		return out->count > 0;
	}
	case WT_LEVEL_DAY: {
		int64_t ds = wt_rollup_align(r->next_close, WT_DAY_MS);
		day_with_hour(pp, series, ds, out);
		peek_open(r, series, ds, ds + WT_DAY_MS, out);
		return out->count > 0;
	}
	}
	return false;
}

const struct wt_rollup_stats *wt_rollup_stats(const struct wt_rollup *r)
{
	return &r->st;
}

size_t wt_rollup_bytes_per_series(const struct wt_rollup *r)
{
	if (r->nreg == 0)
		return 0;
	size_t bytes = (size_t)r->cap * (sizeof(struct ser) + sizeof(struct per)) +
		       r->scratch_bytes + r->cap_side * sizeof(struct side) +
		       r->nclose_subs * sizeof(struct close_sub) +
		       r->nagg_subs * sizeof(struct agg_sub);
	return bytes / r->nreg;
}
