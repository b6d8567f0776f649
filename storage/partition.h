/* Time partitions of the sample tables and retention.
 *
 * 5 s data: one partition per UTC day   samples_5s_pYYYYMMDD
 * hourly:   one per UTC month           samples_1h_pYYYYMM
 * daily:    one per UTC year            samples_1d_pYYYY
 * Retention drops a whole partition once all of it is older than the
 * retention; rows are never DELETEd. Naming and the expiry decision are pure
 * functions (unit tested); the rest is blocking SQL for workers/the writer. */
#ifndef WT_PARTITION_H
#define WT_PARTITION_H

#include "rollup.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The parent table of a level: samples_5s, samples_1h, samples_1d. */
const char *wt_partition_parent(enum wt_level level);

/* [lo, hi) in Unix ms of the partition holding ts_ms. */
void wt_partition_range(enum wt_level level, int64_t ts_ms, int64_t *lo, int64_t *hi);

/* Writes the partition name for ts_ms; returns 0 or -ENAMETOOLONG. */
int wt_partition_name(enum wt_level level, int64_t ts_ms, char *buf, size_t len)
	__attribute__((warn_unused_result));

/* Parses a partition name back into level and range; false if it is not one
 * of ours (so retention never touches foreign tables). */
bool wt_partition_parse(const char *name, enum wt_level *level, int64_t *lo, int64_t *hi);

/* True when every row of a partition ending at hi is older than
 * now - retention_days, i.e. it may be dropped. retention_days <= 0 keeps. */
bool wt_partition_expired(int64_t hi, int64_t now_ms, int retention_days);

/* UTC civil date helpers (Howard Hinnant's algorithms), exposed for tests. */
int64_t wt_days_from_civil(int y, unsigned m, unsigned d);
void wt_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);

/* Creates the partition holding ts_ms if missing. */
int wt_partition_ensure(PGconn *c, enum wt_level level, int64_t ts_ms)
	__attribute__((warn_unused_result));

/* Creates partitions ahead of need: the current and next two days of 5 s
 * data, this and next month of hourly, this and next year of daily. */
int wt_partition_ahead(PGconn *c, int64_t now_ms) __attribute__((warn_unused_result));

/* Drops expired partitions of all three levels and prunes old batch ids;
 * *dropped (may be NULL) gets the count. */
int wt_retention_run(PGconn *c, int64_t now_ms, int days_5s, int days_1h, int days_1d, int *dropped)
	__attribute__((warn_unused_result));

#endif
