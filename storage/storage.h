/* The storage layer as the daemon sees it: PostgreSQL schema and
 * migrations, the rollup engine, the batched COPY writer with its on-disk
 * spool, retention, and the query layer.
 *
 * Threads. The rollup engine and the flush window live on the loop thread;
 * the writer runs on its own thread with its own connection; queries run on
 * workers. One mutex (taken by wt_storage_ingest, wt_storage_tick,
 * wt_storage_register, wt_storage_flush and wt_storage_peek_points) guards
 * the in-memory state, so a query on a worker can read it safely. Callers
 * that use the engine from wt_storage_rollup() directly (subscribing is
 * fine) must not call ingest/tick on it themselves: go through
 * wt_storage_ingest/wt_storage_tick. The mutex is recursive, so a close
 * subscriber (called inside wt_storage_tick) may call wt_storage_ingest.
 *
 * What a kill -9 can lose: the 5 s buckets of the open flush window (at
 * most flush_interval_ms of data, 60 s by default) and the batches queued
 * in memory but not yet committed or spooled (normally none: a batch is
 * written or spooled within milliseconds). Everything committed or spooled
 * survives; the hourly/daily rows of the open hour/day are rebuilt from the
 * 5 s rows at the next start. */
#ifndef WT_STORAGE_H
#define WT_STORAGE_H

#include "clock.h"
#include "model.h"
#include "rollup.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct wt_storage;

struct wt_storage_options {
	const char *conninfo;  /* libpq conninfo or URI */
	const char *spool_dir; /* finished batches go here while the DB is away */
	/* Spool cap (default 1 GiB). Past it the spool is unhealthy (health
	 * flag, error log): new 5 s batches are dropped and counted in
	 * samples_dropped; hourly/daily batches are still spooled (720x
	 * smaller), so long-term history stays complete. */
	uint64_t spool_max_bytes;
	int flush_interval_ms;      /* writer flush window, at most 60000 by default */
	int retention_5s_days;      /* 14 */
	int retention_hourly_days;  /* 730 */
	int retention_daily_days;   /* 3650 */
	const char *migrations_dir; /* NULL: wt_migrate_default_dir() */
};

/* Fills o with the defaults (60 s window, 14/730/3650 days, 1 GiB spool). */
void wt_storage_defaults(struct wt_storage_options *o);

/* Connects, applies migrations (refusing a schema newer than this build
 * knows), creates partitions ahead of need, registers every series of the
 * series table in the rollup engine, seeds the open hour and day and the
 * counters' last raw values from the database, and starts the writer on
 * its own connection and thread. Timers (5 s tick, hourly maintenance) run
 * on base; base may be NULL when the caller drives wt_storage_tick() (tests,
 * benchmarks). Zero or negative options take the defaults. */
int wt_storage_open(struct wt_storage **out, const struct wt_storage_options *o,
		    struct event_base *base, const struct wt_clock *clock)
	__attribute__((warn_unused_result));

/* The rollup engine, for subscribing to closed buckets. */
struct wt_rollup *wt_storage_rollup(struct wt_storage *s);

/* Registers a series created after open (wt_registry_series) in the
 * engine. flags: WT_MF_* of its metric; wrap: counter wrap value or 0. */
int wt_storage_register(struct wt_storage *s, uint32_t series, unsigned flags, double wrap)
	__attribute__((warn_unused_result));

/* Folds samples in (locks; remembers counters' raw values for restarts). */
void wt_storage_ingest(struct wt_storage *s, const struct wt_sample *samples, size_t n);

/* Closes what the clock has passed and hands finished windows to the
 * writer. The timer on base calls it; call it yourself when base is NULL. */
void wt_storage_tick(struct wt_storage *s);

/* Closes every open bucket (wt_rollup_flush) and hands the partial window
 * and provisional hour/day rows to the writer. */
void wt_storage_flush(struct wt_storage *s);

/* Waits until the writer has committed or spooled everything handed to it
 * (and replayed the spool when connected); with all, until everything is
 * in the database (the spool empty). 0 or -ETIMEDOUT. */
int wt_storage_sync(struct wt_storage *s, int timeout_ms, bool all)
	__attribute__((warn_unused_result));

/* Applies reloadable options (flush window, retention, spool cap). */
void wt_storage_reload(struct wt_storage *s, const struct wt_storage_options *o);

struct wt_storage_health {
	bool db_connected;
	bool spool_healthy; /* false when the spool hit its cap */
	uint64_t spool_bytes;
	uint64_t rows_written;
	uint64_t batches_spooled;
	uint64_t batches_replayed;
	double last_flush_ms;      /* write latency of the last batch */
	uint64_t samples_written;  /* 5 s buckets and aggregates committed */
	uint64_t samples_dropped;  /* refused by a full spool (logged) */
	uint64_t samples_rejected; /* refused by PostgreSQL (logged) */
	uint64_t spool_files;
	double write_ms_total; /* time spent in committed write transactions */
};
void wt_storage_health(struct wt_storage *s, struct wt_storage_health *out);

/* Bytes of memory per live series: the rollup's state plus the flush
 * window's slot (for the benchmark). */
size_t wt_storage_bytes_per_series(struct wt_storage *s);

/* One point of a chart: a 5 s bucket, an hour or a day. For counters avg is
 * delta/count, so the delta is avg * count. */
struct wt_point {
	int64_t ts_ms;
	double min, avg, max;
	uint32_t count;
	uint8_t quality;
};
typedef void (*wt_point_fn)(void *ctx, uint32_t series, const struct wt_point *p);

/* Calls fn for every point of the given series (ids sorted ascending) at
 * level within [from, to) that is still in memory: the open flush window,
 * batches not yet committed, and the engine's open bucket/hour/day. Takes
 * the storage lock, then the writer's; fn must not call back into storage. */
void wt_storage_peek_points(struct wt_storage *s, enum wt_level level, const uint32_t *ids,
			    size_t n, int64_t from, int64_t to, wt_point_fn fn, void *ctx);

/* Closes every open bucket, writes everything (or spools it), stops the
 * writer and frees. A clean shutdown loses nothing. */
void wt_storage_close(struct wt_storage *s);

#endif
