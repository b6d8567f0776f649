/* The rollup engine: folds samples into wall-clock-aligned 5 s buckets and,
 * from those, hourly and daily aggregates, all in memory. Pure computation:
 * no I/O, no threads, no libevent. The clock is injected so tests can run
 * days of data in seconds. Not thread-safe: call from the loop thread.
 *
 * Series ids are dense small integers from the series table, so state is an
 * array indexed by id: O(1) per sample, no hashing, no strings. */
#ifndef WT_ROLLUP_H
#define WT_ROLLUP_H

#include "clock.h"
#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wt_rollup;

enum wt_level { WT_LEVEL_5S = 0, WT_LEVEL_HOUR, WT_LEVEL_DAY };

/* An hourly or daily aggregate (min/avg/max where avg = sum/count of the
 * 5 s bucket averages, weighted by bucket sample count). For counters sum is
 * the energy delta over the period. */
struct wt_agg {
	uint32_t series;
	uint32_t count;   /* samples folded in */
	int64_t start_ms; /* UTC-aligned hour or day start */
	double min, max, sum;
	uint8_t quality;
};

/* Everything the engine counts; never reset while running. */
struct wt_rollup_stats {
	uint64_t samples;        /* accepted */
	uint64_t late;           /* for an already closed bucket */
	uint64_t future;         /* too far ahead of the clock */
	uint64_t nan;            /* NaN values */
	uint64_t inf;            /* +-infinity values */
	uint64_t unknown_series; /* id never registered */
	uint64_t counter_resets; /* counter went back: device reboot or reset */
	uint64_t counter_wraps;  /* counter passed its wrap value */
	uint64_t buckets_closed;
};

typedef void (*wt_agg_fn)(void *ctx, enum wt_level level, int64_t start_ms,
			  const struct wt_agg *aggs, size_t n);

struct wt_rollup *wt_rollup_new(const struct wt_clock *clock);
void wt_rollup_free(struct wt_rollup *r);

/* Declares a series before samples arrive. flags are WT_MF_* of its metric.
 * wrap is the value at which a counter wraps (0 when it does not). */
int wt_rollup_register(struct wt_rollup *r, uint32_t series, unsigned flags, double wrap)
	__attribute__((warn_unused_result));

/* Subscribers for closed 5 s buckets (live view, aggregator, rules,
 * writer) and for closed hours and days (writer). Called in order of
 * subscription, from wt_rollup_tick(). */
int wt_rollup_on_close(struct wt_rollup *r, wt_close_fn fn, void *ctx);
int wt_rollup_on_agg(struct wt_rollup *r, wt_agg_fn fn, void *ctx);

/* Folds samples in. Bad samples are counted in stats, never fatal. */
void wt_rollup_ingest(struct wt_rollup *r, const struct wt_sample *s, size_t n);

/* Closes every bucket (and hour, day) that the clock has passed, and calls
 * the subscribers. Call it from a timer just after each 5 s boundary. */
void wt_rollup_tick(struct wt_rollup *r);

/* Closes everything still open, as at shutdown. */
void wt_rollup_flush(struct wt_rollup *r);

/* Seeds the open hour or day of a series with what the database already
 * holds, so a restart continues the period correctly. */
void wt_rollup_seed(struct wt_rollup *r, enum wt_level level, const struct wt_agg *a);
/* Seeds a counter's last raw value, so the first delta after a restart is
 * right. */
void wt_rollup_seed_counter(struct wt_rollup *r, uint32_t series, double last_raw);

/* The open (not yet closed) bucket, hour or day of a series; false if
 * empty. Lets queries include data still in memory. */
bool wt_rollup_peek(const struct wt_rollup *r, uint32_t series, enum wt_level level,
		    struct wt_agg *out);

const struct wt_rollup_stats *wt_rollup_stats(const struct wt_rollup *r);
/* Bytes of memory held per registered series (for the benchmark). */
size_t wt_rollup_bytes_per_series(const struct wt_rollup *r);

#endif
