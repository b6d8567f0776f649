/* The query layer: one or many series over [from, to) at 5 s, hourly or
 * daily resolution, or automatically at the finest resolution whose point
 * count fits a budget. Reads PostgreSQL on a blocking connection (call it
 * from a worker) and merges what is still in memory (the writer's unflushed
 * window and queue, the engine's open bucket/hour/day) via
 * wt_storage_peek_points(), so a chart is never behind the live value.
 *
 * Consistency: memory is read first, then the database. A batch committed in
 * between shows up in both and is merged by timestamp (one point per
 * timestamp, the in-memory one wins: it is the same or newer data). */
#ifndef WT_QUERY_H
#define WT_QUERY_H

#include "storage.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define WT_QUERY_AUTO (-1)

struct wt_query_series {
	uint32_t series;
	struct wt_point *pts; /* ascending ts_ms, one per timestamp */
	size_t n;
};

struct wt_query_result {
	enum wt_level level; /* resolution actually used */
	int64_t step_ms;     /* 5000, 3600000 or 86400000 */
	size_t nseries;
	struct wt_query_series *series; /* in the order asked */
};

/* The finest level whose number of points over [from, to) is at most budget;
 * the daily level when none fits. Pure. */
enum wt_level wt_query_pick_level(int64_t from_ms, int64_t to_ms, size_t budget);

/* Reads ids[0..n) over [from, to). level is a WT_LEVEL_* or WT_QUERY_AUTO
 * (then budget decides; 0 means 1000 points). s may be NULL (database
 * only). Returns 0, -EINVAL (bad range/level) or -EIO; free out with
 * wt_query_result_free. */
int wt_query(PGconn *c, struct wt_storage *s, const uint32_t *ids, size_t n, int64_t from_ms,
	     int64_t to_ms, int level, size_t budget, struct wt_query_result *out)
	__attribute__((warn_unused_result));

void wt_query_result_free(struct wt_query_result *r);

/* The newest 5 s point of each of ids[0..n) (ascending, distinct) within
 * [from, to): memory first (it is the newer data), then, for the series
 * memory had nothing for, one indexed probe per series for the newest
 * database row instead of every row of the range. out[i] (n of them) gets it, count 0 when there is none. s may be
 * NULL. Returns 0, -EINVAL, -ENOMEM or -EIO. Blocking: call from a worker. */
int wt_query_latest(PGconn *c, struct wt_storage *s, const uint32_t *ids, size_t n, int64_t from_ms,
		    int64_t to_ms, struct wt_point *out) __attribute__((warn_unused_result));

#endif
