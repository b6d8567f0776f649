/* The rollup engine: folds samples into wall-clock-aligned 5 s buckets and,
 * from those, hourly and daily aggregates, all in memory. Pure computation:
 * no I/O, no threads, no libevent. The clock is injected so tests can run
 * days of data in seconds. Not thread-safe: call from the loop thread.
 *
 * Series ids are dense small integers from the series table, so state is an
 * array indexed by id: O(1) per sample, no hashing, no strings.
 *
 * Time. Bucket k of a series covers [k*5000, (k+1)*5000) ms of Unix time
 * (floor division, so times before 1970 work too); hours and days are UTC
 * aligned the same way. A sample exactly on a boundary opens the new bucket.
 *
 * Closing. A bucket closes when its end + WT_ROLLUP_GRACE_MS <= clock now,
 * at the next wt_rollup_tick(). The grace lets a poll sent just before a
 * boundary and answered just after it still land in its own bucket.
 *
 * Sample rules (each outcome counted in struct wt_rollup_stats):
 * - unknown (never registered) series, NaN, +-inf: dropped.
 * - a value beyond float range (|v| > FLT_MAX): dropped, counted as inf
 *   (min/max/last are held as float, see below).
 * - ts more than one bucket ahead of the clock (ts > now + 5000): dropped as
 *   future; a device or poller clock that far off cannot be trusted.
 * - a bucket already closed (emitted to subscribers): dropped as late. It is
 *   not folded into the next bucket, because that would put a reading in a
 *   time slot it was not taken in, and the closed row has already gone to the
 *   writer and rules, so it cannot be amended without a second, conflicting
 *   row for the same (series, bucket). For the same reason, after the clock
 *   is stepped back, samples stamped before the last closed boundary count
 *   as late until the clock catches up.
 * - out of order within an open bucket: folded normally; last is the sample
 *   with the greatest timestamp (ties: the later to arrive), not the last to
 *   arrive.
 * - quality: the bucket takes the worst quality folded in; WT_Q_BAD samples
 *   are kept (folded) but mark the bucket BAD. Unknown quality codes count as
 *   BAD.
 *
 * Counters (WT_MF_COUNTER, e.g. energy in Wh) are stored as deltas:
 * - The first reading of a counter only primes it (no delta, no bucket),
 *   unless wt_rollup_seed_counter() gave the previous reading.
 * - value >= previous: delta = value - previous.
 * - value < previous, with a wrap value W set, previous <= W, value >= 0 and
 *   the implied advance W - previous + value <= W / 8 (previous in the top
 *   eighth of the range, value near zero): a wrap, delta = W - previous +
 *   value, counted in counter_wraps.
 * - any other drop is a reset (device reboot or counter cleared): delta =
 *   value (the energy since the reset; 0 if value < 0), counted in
 *   counter_resets.
 * - A counter reading not newer than the previous one is dropped (stale): the
 *   newer reading's delta already covers that interval, so nothing is lost.
 * - A 5 s counter bucket has min = max = sum = last = its total delta and
 *   count = the number of deltas in it; the hour/day sum is the total delta,
 *   min/max the smallest/largest 5 s delta.
 *
 * Precision. Sums are double. min, max and last are held as float (24-bit
 * mantissa, about 7 significant digits, far finer than any meter's accuracy
 * class), which keeps per-series state compact; they are widened to double
 * on the way out.
 *
 * Memory: 72 bytes of state per series id up to the highest registered,
 * plus one reusable output array of one struct wt_bucket (56 bytes) per
 * registered series: 128 bytes per series in all. */
#ifndef WT_ROLLUP_H
#define WT_ROLLUP_H

#include "clock.h"
#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wt_rollup;

/* How long after its end a 5 s bucket still accepts samples. */
#define WT_ROLLUP_GRACE_MS 500
#define WT_HOUR_MS 3600000LL
#define WT_DAY_MS 86400000LL
/* Highest series id the engine accepts (state is an array indexed by id). */
#define WT_ROLLUP_MAX_SERIES (1u << 26)

enum wt_level {
	WT_LEVEL_5S = 0,
	WT_LEVEL_HOUR,
	WT_LEVEL_DAY
};

/* An hourly or daily aggregate (min/avg/max where avg = sum/count of the
 * 5 s bucket averages, weighted by bucket sample count, i.e. the mean of all
 * samples). For counters sum is the energy delta over the period. */
struct wt_agg {
	uint32_t series;
	uint32_t count;   /* samples folded in (saturates at 2^30 - 1) */
	int64_t start_ms; /* UTC-aligned hour or day start */
	double min, max, sum;
	uint8_t quality;
};

/* Everything the engine counts; never reset while running. */
struct wt_rollup_stats {
	uint64_t samples;        /* accepted (including counter primes) */
	uint64_t late;           /* for an already closed bucket */
	uint64_t future;         /* too far ahead of the clock */
	uint64_t nan;            /* NaN values */
	uint64_t inf;            /* +-infinity values, or beyond float range */
	uint64_t unknown_series; /* id never registered */
	uint64_t counter_resets; /* counter went back: device reboot or reset */
	uint64_t counter_wraps;  /* counter passed its wrap value */
	uint64_t buckets_closed; /* 5 s buckets emitted */
	uint64_t stale;          /* counter reading not newer than the previous */
	uint64_t bad_quality;    /* accepted samples of BAD (or unknown) quality */
	uint64_t hours_closed;   /* hourly aggregates emitted (non-empty) */
	uint64_t days_closed;    /* daily aggregates emitted (non-empty) */
	uint64_t dropped_nomem;  /* samples or buckets lost to a failed allocation */
	uint64_t derived;        /* fed back by subscribers for the bucket closing */
};

typedef void (*wt_agg_fn)(void *ctx, enum wt_level level, int64_t start_ms,
			  const struct wt_agg *aggs, size_t n);

/* Creates an engine; buckets ending before clock now - grace count as
 * closed. Returns NULL when out of memory. */
struct wt_rollup *wt_rollup_new(const struct wt_clock *clock);
/* Frees without emitting anything (call wt_rollup_flush() first to keep it). */
void wt_rollup_free(struct wt_rollup *r);

/* Declares a series before samples arrive. flags are WT_MF_* of its metric.
 * wrap is the value at which a counter wraps (0 when it does not). Re-registering
 * updates flags and wrap. Returns 0, -EINVAL (id > WT_ROLLUP_MAX_SERIES, bad
 * wrap), -EBUSY (flags change while the series has an open bucket), -ENOSPC
 * (more than 255 distinct wrap values) or -ENOMEM. */
int wt_rollup_register(struct wt_rollup *r, uint32_t series, unsigned flags, double wrap)
	__attribute__((warn_unused_result));

/* Makes room for series ids up to max_series at once (the series table's
 * highest id), so registering them does not grow the array step by step.
 * Returns 0, -EINVAL or -ENOMEM. */
int wt_rollup_reserve(struct wt_rollup *r, uint32_t max_series) __attribute__((warn_unused_result));

/* Subscribers for closed 5 s buckets (live view, aggregator, rules,
 * writer) and for closed hours and days (writer). Called in order of
 * subscription, from wt_rollup_tick() and wt_rollup_flush(). The close
 * subscribers are called once per boundary (plus the derived call below),
 * in time order, even when no bucket closed there (n = 0), so they can rely
 * on it as a 5 s heartbeat;
 * agg subscribers likewise once per hour and day end. The arrays are only
 * valid during the call. A subscriber may call wt_rollup_ingest(), not
 * tick/flush/free. Samples it feeds for the bucket being closed (derived
 * series such as rack sums, stamped with that bucket's time) are accepted
 * during that first call and emitted in a second call for the same
 * boundary, after the first has reached every subscriber; samples for that
 * bucket fed during the second call are late. Samples fed for later buckets
 * are ordinary samples.
 * Returns 0 or -ENOMEM. */
int wt_rollup_on_close(struct wt_rollup *r, wt_close_fn fn, void *ctx);
int wt_rollup_on_agg(struct wt_rollup *r, wt_agg_fn fn, void *ctx);

/* Folds samples in. Bad samples are counted in stats, never fatal. Reads the
 * clock once per call. */
void wt_rollup_ingest(struct wt_rollup *r, const struct wt_sample *s, size_t n);

/* Closes every bucket (and hour, day) that the clock has passed, and calls
 * the subscribers. Call it from a timer just after each 5 s boundary +
 * grace. A late tick (paused process) closes each passed boundary in turn,
 * in order, with its own subscriber calls. After a forward clock jump of
 * more than an hour while nothing at all is held, the empty boundaries in
 * between are skipped without calls. */
void wt_rollup_tick(struct wt_rollup *r);

/* Closes everything still open, as at shutdown: every open 5 s bucket is
 * emitted (also ones not yet due; later samples for them count as late),
 * with the hour/day ends in between, plus one more round for samples that
 * subscribers fed back during it (derived series stamped into the next
 * bucket); what they feed in that round stays open. Then the open hour and the open day
 * (including that hour) are emitted to the agg subscribers as provisional
 * rows (the writer upserts them), without resetting them: the engine stays
 * usable and the final rows follow when the periods end. */
void wt_rollup_flush(struct wt_rollup *r);

/* Seeds the open hour or day of a series with what the database already
 * holds, so a restart continues the period correctly. Call before ingest.
 * The HOUR seed is everything already emitted for the open hour (its 5 s
 * rows, or a provisional hourly row written by flush). The DAY seed is the
 * day's CLOSED hours only (its hourly rows before the open hour): the open
 * hour folds into the day when it ends, so seeding it into both would count
 * it twice. a->start_ms must be the engine's open hour/day (the one holding
 * clock now - grace), else -ERANGE. Returns 0, -ENOENT (unknown series),
 * -EINVAL (bad level or values) or -ERANGE. */
int wt_rollup_seed(struct wt_rollup *r, enum wt_level level, const struct wt_agg *a);
/* Seeds a counter's last raw value, so the first delta after a restart is
 * right. Returns 0, -ENOENT (unknown series), -EINVAL (not a counter, not
 * finite) or -EBUSY (the counter already has a reading since start). */
int wt_rollup_seed_counter(struct wt_rollup *r, uint32_t series, double last_raw);

/* Start of the engine's open hour or day (the one seeds must be for), or
 * for WT_LEVEL_5S the oldest bucket not yet closed. */
int64_t wt_rollup_open_start(const struct wt_rollup *r, enum wt_level level);

/* The open (not yet closed) bucket, hour or day of a series; false if
 * empty. Lets queries include data still in memory: 5S gives the newest open
 * bucket; HOUR gives the open hour including its still open buckets; DAY the
 * open day including the open hour and buckets. */
bool wt_rollup_peek(const struct wt_rollup *r, uint32_t series, enum wt_level level,
		    struct wt_agg *out);

const struct wt_rollup_stats *wt_rollup_stats(const struct wt_rollup *r);
/* Bytes of memory held per registered series (for the benchmark): the
 * per-series state plus the engine's reusable output array, divided by the
 * number of registered series. */
size_t wt_rollup_bytes_per_series(const struct wt_rollup *r);

/* Bucket math, exposed for callers and tests: floor-aligned period start. */
int64_t wt_rollup_align(int64_t ts_ms, int64_t period_ms);

#endif
