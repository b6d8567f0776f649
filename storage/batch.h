/* Writer batches: the in-memory flush window of closed 5 s buckets (indexed by
 * series id, integers and floats only) and its encoding straight into
 * PostgreSQL's binary COPY format, plus hourly/daily aggregate batches.
 * A batch is immutable once encoded, so the writer thread, the spool and a
 * query can read it concurrently. Not thread-safe otherwise. */
#ifndef WT_BATCH_H
#define WT_BATCH_H

#include "model.h"
#include "rollup.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A 5 s row holds at most this many buckets: the flush window is capped at
 * 300 s, and the query layer looks back this far for rows spanning 'from'. */
#define WT_WINDOW_MAX_MS 300000
#define WT_WINDOW_MAX_BUCKETS (WT_WINDOW_MAX_MS / WT_BUCKET_MS)

struct wt_batch {
	uint64_t id;   /* unique; recorded in storage_batches with the rows */
	uint8_t level; /* enum wt_level: which table */
	uint32_t rows;
	uint32_t samples;       /* 5 s buckets or aggregates carried */
	int64_t min_ts, max_ts; /* oldest and newest row start, Unix ms */
	unsigned char *copy;    /* complete binary COPY stream (header..trailer) */
	size_t copy_len, copy_cap;
	struct wt_batch *next; /* writer queue link */
};

void wt_batch_free(struct wt_batch *b);

/* One decoded 5 s row. cnt[i] == 0 marks a bucket with no sample. */
struct wt_row5s {
	uint32_t series;
	int64_t start_ms;
	uint8_t quality;
	bool has_raw; /* counters: raw reading at the end of the row */
	double raw;
	int nb;
	uint16_t cnt[WT_WINDOW_MAX_BUCKETS];
	float v[WT_WINDOW_MAX_BUCKETS], mn[WT_WINDOW_MAX_BUCKETS], mx[WT_WINDOW_MAX_BUCKETS];
};

/* Decodes the binary fields (series, start, quality, cnt, v, mn, mx, raw) of
 * a 5 s row, from a COPY stream or a binary query result; len -1 is NULL.
 * Returns 0 or -EBADMSG for anything malformed (never trusts lengths). */
#define WT_ROW5S_FIELDS 8
int wt_row5s_decode(const char *const f[WT_ROW5S_FIELDS], const int len[WT_ROW5S_FIELDS],
		    struct wt_row5s *out) __attribute__((warn_unused_result));

/* Calls fn for each row of a 5 s batch; stops early if fn returns nonzero.
 * Returns 0 or -EBADMSG. */
int wt_batch_foreach_5s(const struct wt_batch *b, int (*fn)(void *ctx, const struct wt_row5s *row),
			void *ctx) __attribute__((warn_unused_result));
/* Same for an hourly/daily batch. */
int wt_batch_foreach_agg(const struct wt_batch *b, int (*fn)(void *ctx, const struct wt_agg *a),
			 void *ctx) __attribute__((warn_unused_result));

/* The flush window: per series, bucket averages, counts and (only when some
 * bucket had more than one sample) minima and maxima. */
struct wt_window {
	int nb; /* buckets per window */
	int64_t len_ms;
	int64_t start_ms; /* current window start; INT64_MIN when empty */
	uint32_t cap;     /* slots allocated: highest series id + 1 */
	float *v;         /* cap * nb */
	uint8_t *cnt;     /* cap * nb, 0 = empty; exact in the side block when one exists */
	/* Per series NULL, or (only when some bucket had more than one sample)
	 * a side block: nb minima, nb maxima (float), nb exact counts (uint16).
	 * At a 5 s poll interval it stays NULL: 5 bytes per bucket per series. */
	float **mm;
	uint8_t *q;     /* worst quality; 0xff = series has nothing in this window */
	uint32_t *live; /* series with data in this window */
	size_t nlive, live_cap;
	uint64_t next_id; /* batch ids: random base + sequence */
};

/* len_ms: multiple of 5000 in [5000, WT_WINDOW_MAX_MS]. */
int wt_window_init(struct wt_window *w, int64_t len_ms) __attribute__((warn_unused_result));
void wt_window_free(struct wt_window *w);
/* Aligned start of the window holding ts. */
int64_t wt_window_align(const struct wt_window *w, int64_t ts_ms);
/* Adds a closed bucket. A bucket outside the current window is the
 * caller's bug (flush first); returns -ERANGE then, -ENOMEM on allocation. */
int wt_window_add(struct wt_window *w, const struct wt_bucket *b)
	__attribute__((warn_unused_result));
/* Gives a counter's latest raw reading; false for gauges. */
typedef bool (*wt_raw_fn)(void *ctx, uint32_t series, double *raw);
/* Encodes the window into a 5 s batch (NULL when empty) and empties it.
 * raw_of (may be NULL) fills the raw column of counters. */
int wt_window_take(struct wt_window *w, wt_raw_fn raw_of, void *ctx, struct wt_batch **out)
	__attribute__((warn_unused_result));
/* Copies series' row in the open window (false when it has nothing). */
bool wt_window_peek(const struct wt_window *w, uint32_t series, struct wt_row5s *out);
/* Bytes held per series slot (for the RAM figure). */
size_t wt_window_bytes(const struct wt_window *w);

/* Encodes closed hours or days into a batch. */
int wt_batch_from_aggs(enum wt_level level, const struct wt_agg *aggs, size_t n, uint64_t id,
		       struct wt_batch **out) __attribute__((warn_unused_result));

/* A fresh batch id (random 64-bit base, then sequential; positive int8). */
uint64_t wt_batch_new_id(struct wt_window *w);

#endif
