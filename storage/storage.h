/* The storage layer as the daemon sees it: PostgreSQL schema and
 * migrations, the rollup engine, the batched COPY writer with its on-disk
 * spool, retention, and the query layer. */
#ifndef WT_STORAGE_H
#define WT_STORAGE_H

#include "clock.h"
#include "model.h"
#include "rollup.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct wt_storage;

struct wt_storage_options {
	const char *conninfo;       /* libpq conninfo or URI */
	const char *spool_dir;      /* finished batches go here while the DB is away */
	uint64_t spool_max_bytes;   /* cap; past it the spool is unhealthy and refuses */
	int flush_interval_ms;      /* writer flush window, at most 60000 by default */
	int retention_5s_days;      /* 14 */
	int retention_hourly_days;  /* 730 */
	int retention_daily_days;   /* 3650 */
};

/* Connects, applies migrations (refusing a schema newer than this build
 * knows), creates partitions ahead of need, seeds the open hour and day
 * from the database, and starts the writer on its own connection and
 * thread. Timers run on base. */
int wt_storage_open(struct wt_storage **out, const struct wt_storage_options *o,
		    struct event_base *base, const struct wt_clock *clock)
	__attribute__((warn_unused_result));

/* The rollup engine, for ingest and for subscribing to closed buckets. */
struct wt_rollup *wt_storage_rollup(struct wt_storage *s);

/* Applies reloadable options (flush window, retention, spool cap). */
void wt_storage_reload(struct wt_storage *s, const struct wt_storage_options *o);

struct wt_storage_health {
	bool db_connected;
	bool spool_healthy;      /* false when the spool hit its cap */
	uint64_t spool_bytes;
	uint64_t rows_written;
	uint64_t batches_spooled;
	uint64_t batches_replayed;
	double last_flush_ms;    /* write latency of the last batch */
};
void wt_storage_health(struct wt_storage *s, struct wt_storage_health *out);

/* Closes every open bucket, writes everything (or spools it), stops the
 * writer and frees. A clean shutdown loses nothing. */
void wt_storage_close(struct wt_storage *s);

#endif
