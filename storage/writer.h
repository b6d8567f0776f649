/* The batch writer: a thread with its own PostgreSQL connection that writes
 * finished batches with binary COPY, each batch in one transaction together
 * with its id in storage_batches (so a replay is never a duplicate). While
 * the database is unreachable, batches go to the on-disk spool and are
 * replayed, oldest first, before anything newer once it is back. Reconnects
 * with exponential back-off (100 ms doubling to 5 s). Also runs partition
 * creation and retention, so the loop never blocks on SQL.
 *
 * Thread-safety: every function may be called from any thread; submit only
 * takes a mutex for a pointer append, so the loop never blocks on I/O. */
#ifndef WT_WRITER_H
#define WT_WRITER_H

#include "batch.h"

#include <stdbool.h>
#include <stdint.h>

struct wt_writer;

struct wt_writer_stats {
	bool db_connected;
	bool spool_healthy; /* false once the cap refused a batch, until it drains */
	uint64_t spool_bytes;
	uint64_t spool_files;
	uint64_t rows_written;
	uint64_t samples_written; /* 5 s buckets and aggregates committed */
	uint64_t batches_written;
	uint64_t batches_spooled;
	uint64_t batches_replayed;
	uint64_t batches_duplicate; /* replays skipped: already in the database */
	uint64_t samples_dropped;   /* 5 s buckets refused by a full spool */
	uint64_t samples_rejected;  /* batches PostgreSQL refused for their content */
	uint64_t queued;            /* batches waiting in memory */
	double last_flush_ms;
	double write_ms_total; /* time spent in committed write transactions */
};

/* Starts the thread. spool_max 0 = no cap. The first connection is tried
 * at once; failing is not an error (batches spool). */
int wt_writer_start(struct wt_writer **out, const char *conninfo, const char *spool_dir,
		    uint64_t spool_max) __attribute__((warn_unused_result));

/* Hands a batch over (ownership passes); never blocks on I/O. */
void wt_writer_submit(struct wt_writer *w, struct wt_batch *b);

/* Asks the thread to create partitions ahead of now_ms and apply retention. */
void wt_writer_maintain(struct wt_writer *w, int64_t now_ms, int days_5s, int days_1h, int days_1d);

void wt_writer_set_spool_max(struct wt_writer *w, uint64_t max_bytes);

/* Calls fn for every batch not yet committed or spooled (under the writer
 * lock: keep fn short, never call back into the writer). */
void wt_writer_visit(struct wt_writer *w, void (*fn)(void *ctx, const struct wt_batch *b),
		     void *ctx);

/* Waits until the queue is empty and, if connected, the spool replayed;
 * with all, also until the spool is empty (waiting for the database to
 * return). Returns 0 or -ETIMEDOUT. For tests, benchmarks and shutdown. */
int wt_writer_sync(struct wt_writer *w, int timeout_ms, bool all)
	__attribute__((warn_unused_result));

void wt_writer_stats(struct wt_writer *w, struct wt_writer_stats *out);

/* Writes or spools everything queued, stops the thread and frees. Returns
 * true when everything reached the database (the spool is empty). */
bool wt_writer_stop(struct wt_writer *w);

#endif
