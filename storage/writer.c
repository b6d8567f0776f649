#include "writer.h"

#include "log.h"
#include "partition.h"
#include "pg.h"
#include "spool.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define KNOWN_PARTS 64
/* Past this many bytes waiting in memory (PostgreSQL slower than ingest),
 * batches go to the spool instead: bounded memory, nothing dropped. */
#define QUEUE_HIGH_BYTES (256u << 20)

struct wt_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* work arrived, or stop */
	pthread_cond_t idle; /* the queue drained */

	/* Under lock. */
	struct wt_batch *head, *tail, *busy; /* busy: being written, still visible */
	size_t queued_bytes;
	bool stop, maint_due;
	int64_t maint_now;
	int maint_days[3];
	struct wt_writer_stats st;

	/* Writer thread only. */
	char *conninfo;
	PGconn *conn;
	struct wt_spool *spool;
	int64_t retry_at; /* monotonic ms */
	int backoff_ms;
	bool temp_ready;
	bool stop_tried;               /* one connection attempt at stop, then spool */
	int64_t known[3][KNOWN_PARTS]; /* partitions known to exist (lo) */
	int nknown[3];
	struct wt_complaint down, full, slow;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void disconnect(struct wt_writer *w)
{
	if (w->conn)
		PQfinish(w->conn);
	w->conn = NULL;
	w->temp_ready = false;
	memset(w->nknown, 0, sizeof(w->nknown));
	w->retry_at = mono_ms() + w->backoff_ms;
	w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
	pthread_mutex_lock(&w->lock);
	w->st.db_connected = false;
	pthread_mutex_unlock(&w->lock);
}

static void try_connect(struct wt_writer *w)
{
	w->conn = wt_pg_connect(w->conninfo, 5);
	if (!w->conn ||
	    wt_pg_exec(w->conn, "writer session", "SET client_min_messages = warning") < 0) {
		wt_complain(&w->down, WT_LOG_ERROR,
			    "writer: PostgreSQL unreachable; batches go to the spool, retrying");
		disconnect(w);
		return;
	}
	w->backoff_ms = BACKOFF_MIN_MS;
	wt_complain_release(&w->down, WT_LOG_NOTICE, "writer: connected to PostgreSQL");
	pthread_mutex_lock(&w->lock);
	w->st.db_connected = true;
	pthread_mutex_unlock(&w->lock);
}

/* Connection-level failures (class 08, shutdown 57P0x) mean retry later;
 * anything else is about the batch itself. */
static bool conn_lost(PGconn *c, const PGresult *r)
{
	if (PQstatus(c) != CONNECTION_OK)
		return true;
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return !state || strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
	       strcmp(state, "53300") == 0;
}

static int fail(struct wt_writer *w, PGresult *r, const char *what, uint64_t id)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", PQerrorMessage(w->conn));
	msg[strcspn(msg, "\n")] = 0;
	bool lost = conn_lost(w->conn, r);
	PQclear(r);
	if (lost) {
		wt_warn("writer: batch %" PRIu64 ": %s: %s", id, what, msg);
		return -ENOTCONN;
	}
	wt_error("writer: batch %" PRIu64 " refused by PostgreSQL: %s: %s", id, what, msg);
	PGresult *rb = PQexec(w->conn, "ROLLBACK");
	bool ok = PQresultStatus(rb) == PGRES_COMMAND_OK;
	PQclear(rb);
	return ok ? -EBADMSG : -ENOTCONN;
}

static int ensure_parts(struct wt_writer *w, const struct wt_batch *b)
{
	int l = b->level;
	int64_t t = b->min_ts, lo, hi;
	while (t <= b->max_ts) {
		wt_partition_range((enum wt_level)l, t, &lo, &hi);
		bool have = false;
		for (int i = 0; i < w->nknown[l]; i++)
			if (w->known[l][i] == lo)
				have = true;
		if (!have) {
			if (wt_partition_ensure(w->conn, (enum wt_level)l, t) < 0)
				return conn_lost(w->conn, NULL) ? -ENOTCONN : -EBADMSG;
			if (w->nknown[l] == KNOWN_PARTS)
				w->nknown[l] = 0;
			w->known[l][w->nknown[l]++] = lo;
		}
		t = hi;
	}
	return 0;
}

static int copy_in(struct wt_writer *w, const char *sql, const struct wt_batch *b)
{
	PGresult *r = PQexec(w->conn, sql);
	if (PQresultStatus(r) != PGRES_COPY_IN)
		return fail(w, r, "COPY", b->id);
	PQclear(r);
	/* libpq grows its output buffer to the largest piece: 64 KiB pieces keep
	 * it small without costing throughput. */
	size_t off = 0;
	while (off < b->copy_len) {
		size_t n = b->copy_len - off > (1u << 16) ? (1u << 16) : b->copy_len - off;
		if (PQputCopyData(w->conn, (const char *)b->copy + off, (int)n) != 1)
			return fail(w, NULL, "COPY data", b->id);
		off += n;
	}
	if (PQputCopyEnd(w->conn, NULL) != 1)
		return fail(w, NULL, "COPY end", b->id);
	r = PQgetResult(w->conn);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return fail(w, r, "COPY", b->id);
	PQclear(r);
	while ((r = PQgetResult(w->conn)))
		PQclear(r);
	return 0;
}

static int exec_ok(struct wt_writer *w, const char *what, const char *sql, int n,
		   const char *const *params, const struct wt_batch *b, PGresult **keep)
{
	PGresult *r = PQexecParams(w->conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return fail(w, r, what, b->id);
	if (keep)
		*keep = r;
	else
		PQclear(r);
	return 0;
}

/* Returns 0 written, 1 already in the database, -ENOTCONN retry later,
 * -EBADMSG the database refused the content. */
static int write_batch(struct wt_writer *w, const struct wt_batch *b)
{
	static const char *const upsert[] = {
		NULL,
		"INSERT INTO samples_1h SELECT * FROM wt_agg_in ON CONFLICT (series, start) DO "
		"UPDATE SET count = EXCLUDED.count, quality = EXCLUDED.quality, min = EXCLUDED.min, "
		"max = EXCLUDED.max, sum = EXCLUDED.sum WHERE samples_1h.count <= EXCLUDED.count",
		"INSERT INTO samples_1d SELECT * FROM wt_agg_in ON CONFLICT (series, start) DO "
		"UPDATE SET count = EXCLUDED.count, quality = EXCLUDED.quality, min = EXCLUDED.min, "
		"max = EXCLUDED.max, sum = EXCLUDED.sum WHERE samples_1d.count <= EXCLUDED.count",
	};
	char id[24], rows[16], ts[24];
	PGresult *r = NULL;
	int rc;

	if (b->rows && (rc = ensure_parts(w, b)) < 0)
		return rc;
	if ((rc = exec_ok(w, "BEGIN", "BEGIN", 0, NULL, b, NULL)) < 0)
		return rc;
	snprintf(id, sizeof(id), "%" PRIu64, b->id);
	snprintf(rows, sizeof(rows), "%" PRIu32, b->rows);
	snprintf(ts, sizeof(ts), "%" PRId64, b->rows ? b->max_ts : 0);
	const char *p[] = {id, rows, ts};
	rc = exec_ok(w, "batch id",
		     "INSERT INTO storage_batches (id, rows, ts) "
		     "VALUES ($1, $2, to_timestamp($3::int8 / 1000.0)) ON CONFLICT (id) DO NOTHING",
		     3, p, b, &r);
	if (rc < 0)
		return rc;
	bool dup = strcmp(PQcmdTuples(r), "0") == 0;
	PQclear(r);
	if (dup) {
		rc = exec_ok(w, "ROLLBACK", "ROLLBACK", 0, NULL, b, NULL);
		return rc < 0 ? rc : 1;
	}
	if (b->level == WT_LEVEL_5S) {
		rc = copy_in(w,
			     "COPY samples_5s (series, start, quality, cnt, v, mn, mx, raw) "
			     "FROM STDIN (FORMAT binary)",
			     b);
		/* Where the 5 s data ends, for crash repair at the next start. A
		 * row holds at most one window, so its start + window is an upper
		 * bound that stays inside the last row's hour for aligned windows. */
		if (rc == 0)
			rc = exec_ok(
				w, "storage_state",
				"INSERT INTO storage_state (id, data_end) VALUES (1, "
				"to_timestamp($1::int8 / 1000.0 + 5)) ON CONFLICT (id) DO UPDATE "
				"SET data_end = GREATEST(storage_state.data_end, EXCLUDED.data_end), "
				"clean = false",
				1, p + 2, b, NULL);
	} else {
		if (!w->temp_ready) {
			rc = exec_ok(
				w, "temp table",
				"CREATE TEMP TABLE IF NOT EXISTS wt_agg_in (series int4, start "
				"timestamptz, count int4, quality int2, min float8, max float8, "
				"sum float8) ON COMMIT DELETE ROWS",
				0, NULL, b, NULL);
			if (rc < 0)
				return rc;
			w->temp_ready = true;
		}
		rc = copy_in(w, "COPY wt_agg_in FROM STDIN (FORMAT binary)", b);
		if (rc == 0)
			rc = exec_ok(w, "upsert aggregates", upsert[b->level], 0, NULL, b, NULL);
	}
	if (rc == 0)
		rc = exec_ok(w, "COMMIT", "COMMIT", 0, NULL, b, NULL);
	return rc;
}

/* Writes one batch with timing and stats; returns write_batch's code. */
static int write_counted(struct wt_writer *w, const struct wt_batch *b, bool replay)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = write_batch(w, b);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_mutex_lock(&w->lock);
	if (rc == 0) {
		w->st.rows_written += b->rows;
		w->st.samples_written += b->samples;
		w->st.batches_written++;
		w->st.last_flush_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
				      (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		w->st.write_ms_total += w->st.last_flush_ms;
	}
	if (rc == 1)
		w->st.batches_duplicate++;
	if (rc >= 0 && replay)
		w->st.batches_replayed++;
	if (rc == -EBADMSG)
		w->st.samples_rejected += b->samples;
	pthread_mutex_unlock(&w->lock);
	if (rc == -ENOTCONN)
		disconnect(w);
	return rc;
}

static void update_spool_stats(struct wt_writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->st.spool_bytes = wt_spool_bytes(w->spool);
	w->st.spool_files = wt_spool_count(w->spool);
	if (w->st.spool_files == 0 && !w->st.spool_healthy) {
		w->st.spool_healthy = true;
		wt_complain_release(&w->full, WT_LOG_NOTICE,
				    "writer: spool drained, healthy again");
	}
	pthread_mutex_unlock(&w->lock);
}

static void spool_batch(struct wt_writer *w, const struct wt_batch *b)
{
	/* Hourly and daily batches are ~720x smaller than the 5 s data they
	 * summarise; past the cap they are still spooled so long-term history
	 * stays complete, while 5 s batches are refused (and counted). */
	int rc = wt_spool_put(w->spool, b, b->level != WT_LEVEL_5S);
	pthread_mutex_lock(&w->lock);
	if (rc == 0) {
		w->st.batches_spooled++;
	} else {
		w->st.samples_dropped += b->samples;
		w->st.spool_healthy = false;
	}
	pthread_mutex_unlock(&w->lock);
	if (rc == -ENOSPC)
		wt_complain(&w->full, WT_LOG_ERROR,
			    "writer: spool is full (%" PRIu64 " bytes); 5 s data is being "
			    "dropped until PostgreSQL is back (hourly/daily data is still kept)",
			    wt_spool_bytes(w->spool));
	else if (rc < 0)
		wt_error("writer: batch %" PRIu64 " (%" PRIu32 " samples) lost: spool write "
			 "failed: %s",
			 b->id, b->samples, strerror(-rc));
	update_spool_stats(w);
}

/* Replays the spool oldest first while connected. */
static void replay(struct wt_writer *w)
{
	while (w->conn && wt_spool_count(w->spool)) {
		struct wt_batch *b;
		int rc = wt_spool_peek(w->spool, &b);
		if (rc == -ENOENT)
			break;
		if (rc < 0)
			return;
		rc = write_counted(w, b, true);
		if (rc == -ENOTCONN) {
			wt_batch_free(b);
			return;
		}
		/* Written, duplicate or refused (logged): done with this file. */
		if (rc == 0 || rc == 1)
			wt_debug("writer: replayed spooled batch %" PRIu64, b->id);
		wt_batch_free(b);
		if (wt_spool_pop(w->spool) < 0)
			return;
		update_spool_stats(w);
	}
}

static void maintain(struct wt_writer *w, int64_t now, const int days[3])
{
	int dropped = 0;
	if (wt_partition_ahead(w->conn, now) < 0 ||
	    wt_retention_run(w->conn, now, days[0], days[1], days[2], &dropped) < 0) {
		if (conn_lost(w->conn, NULL))
			disconnect(w);
		return;
	}
	if (dropped)
		memset(w->nknown, 0, sizeof(w->nknown));
}

static void *run(void *arg)
{
	struct wt_writer *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		for (;;) {
			bool spool_work = wt_spool_count(w->spool) &&
					  (w->conn || mono_ms() >= w->retry_at);
			if (w->head || w->stop || spool_work || (w->maint_due && w->conn))
				break;
			if (wt_spool_count(w->spool) || w->maint_due) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				int64_t wait = w->retry_at - mono_ms();
				if (wait < 1)
					wait = 1;
				ts.tv_sec += wait / 1000;
				ts.tv_nsec += (wait % 1000) * 1000000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				pthread_cond_timedwait(&w->wake, &w->lock, &ts);
				if (!w->conn && mono_ms() >= w->retry_at)
					break;
			} else {
				pthread_cond_wait(&w->wake, &w->lock);
			}
		}
		struct wt_batch *b = w->head;
		bool stopping = w->stop, maint = w->maint_due;
		bool backlog = w->queued_bytes > QUEUE_HIGH_BYTES;
		int64_t mnow = w->maint_now;
		int days[3] = {w->maint_days[0], w->maint_days[1], w->maint_days[2]};
		w->busy = b;
		if (b) {
			w->head = b->next;
			if (!w->head)
				w->tail = NULL;
		}
		pthread_mutex_unlock(&w->lock);

		if (!w->conn && (mono_ms() >= w->retry_at || (stopping && !w->stop_tried))) {
			w->stop_tried = stopping;
			try_connect(w);
		}
		if (w->conn && maint) {
			pthread_mutex_lock(&w->lock);
			w->maint_due = false;
			pthread_mutex_unlock(&w->lock);
			maintain(w, mnow, days);
		}
		if (w->conn)
			replay(w);
		if (b) {
			int rc = -ENOTCONN;
			if (w->conn && wt_spool_count(w->spool) == 0 && !backlog)
				rc = write_counted(w, b, false);
			if (rc == -ENOTCONN) {
				if (backlog && w->conn)
					wt_complain(
						&w->slow, WT_LOG_WARNING,
						"writer: PostgreSQL is slower than ingest; %zu MiB "
						"queued, overflowing to the spool",
						(size_t)(QUEUE_HIGH_BYTES >> 20));
				spool_batch(w, b);
			}
			pthread_mutex_lock(&w->lock);
			w->busy = NULL;
			w->st.queued--;
			w->queued_bytes -= b->copy_len;
			pthread_mutex_unlock(&w->lock);
			wt_batch_free(b);
		}
		pthread_mutex_lock(&w->lock);
		bool done = stopping && !w->head;
		if (!w->head && (!w->conn || wt_spool_count(w->spool) == 0))
			pthread_cond_broadcast(&w->idle);
		pthread_mutex_unlock(&w->lock);
		if (done)
			break;
	}
	if (w->conn)
		PQfinish(w->conn);
	w->conn = NULL;
	return NULL;
}

int wt_writer_start(struct wt_writer **out, const char *conninfo, const char *spool_dir,
		    uint64_t spool_max)
{
	struct wt_writer *w = calloc(1, sizeof(*w));
	int rc;
	if (!w)
		return -ENOMEM;
	w->conninfo = strdup(conninfo ? conninfo : "");
	w->backoff_ms = BACKOFF_MIN_MS;
	w->st.spool_healthy = true;
	if (!w->conninfo) {
		free(w);
		return -ENOMEM;
	}
	if ((rc = wt_spool_open(&w->spool, spool_dir, spool_max)) < 0) {
		free(w->conninfo);
		free(w);
		return rc;
	}
	w->st.spool_bytes = wt_spool_bytes(w->spool);
	w->st.spool_files = wt_spool_count(w->spool);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->idle, NULL);
	if ((rc = pthread_create(&w->thread, NULL, run, w)) != 0) {
		wt_spool_close(w->spool);
		free(w->conninfo);
		free(w);
		return -rc;
	}
	*out = w;
	return 0;
}

void wt_writer_submit(struct wt_writer *w, struct wt_batch *b)
{
	b->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = b;
	else
		w->head = b;
	w->tail = b;
	w->st.queued++;
	w->queued_bytes += b->copy_len;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void wt_writer_maintain(struct wt_writer *w, int64_t now_ms, int d5, int dh, int dd)
{
	pthread_mutex_lock(&w->lock);
	w->maint_due = true;
	w->maint_now = now_ms;
	w->maint_days[0] = d5;
	w->maint_days[1] = dh;
	w->maint_days[2] = dd;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void wt_writer_set_spool_max(struct wt_writer *w, uint64_t max_bytes)
{
	/* The spool is the writer thread's; its cap is a plain word read there. */
	pthread_mutex_lock(&w->lock);
	wt_spool_set_max(w->spool, max_bytes);
	pthread_mutex_unlock(&w->lock);
}

void wt_writer_visit(struct wt_writer *w, void (*fn)(void *ctx, const struct wt_batch *b),
		     void *ctx)
{
	pthread_mutex_lock(&w->lock);
	if (w->busy)
		fn(ctx, w->busy);
	for (struct wt_batch *b = w->head; b; b = b->next)
		fn(ctx, b);
	pthread_mutex_unlock(&w->lock);
}

int wt_writer_sync(struct wt_writer *w, int timeout_ms, bool all)
{
	struct timespec ts;
	int rc = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->lock);
	while (rc == 0 &&
	       (w->head || w->busy || ((all || w->st.db_connected) && w->st.spool_files)))
		rc = pthread_cond_timedwait(&w->idle, &w->lock, &ts);
	pthread_mutex_unlock(&w->lock);
	return rc == 0 ? 0 : -ETIMEDOUT;
}

void wt_writer_stats(struct wt_writer *w, struct wt_writer_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->st;
	pthread_mutex_unlock(&w->lock);
}

bool wt_writer_stop(struct wt_writer *w)
{
	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	struct wt_writer_stats st = w->st;
	if (st.spool_files)
		wt_notice("writer: %" PRIu64 " batches remain in the spool for the next start",
			  st.spool_files);
	wt_spool_close(w->spool);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->lock);
	free(w->conninfo);
	free(w);
	return st.spool_files == 0;
}
