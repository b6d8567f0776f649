/* The alarm and audit writer: a dedicated thread with its own PostgreSQL
 * connection. The loop hands it alarm snapshots and audit events without
 * ever blocking; it writes them in batches (one transaction each), keeps
 * them queued while the database is away and reconnects with backoff.
 * The queue is bounded: past max_jobs new jobs are refused and counted,
 * never silently dropped.
 *
 * It also hands out alarm ids: blocks from the alarm_ids sequence, fetched
 * ahead of need; while the database is unreachable, ids fall back to
 * now_ms * 1024 + n, far above any sequence value. */
#ifndef WT_RULES_DBQ_H
#define WT_RULES_DBQ_H

#include "alarm.h"
#include "audit.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wt_dbq;

struct wt_dbq_stats {
	uint64_t queued;  /* accepted jobs */
	uint64_t written; /* jobs committed */
	uint64_t refused; /* queue full */
	uint64_t failed;  /* rejected by the database (logged) */
	uint64_t fallback_ids;
	size_t depth; /* jobs waiting now */
	bool connected;
};

/* Starts the writer thread (connects in the background). NULL on ENOMEM. */
struct wt_dbq *wt_dbq_open(const char *conninfo, size_t max_jobs);
/* Writes what is queued (waiting up to drain_ms while the database is
 * away), stops the thread and frees. */
void wt_dbq_close(struct wt_dbq *q, int drain_ms);

/* The alarm store hook for wt_alarms_set_store(): saves every change and
 * logs it in the audit log (repeats are not audited). */
struct wt_alarm_store wt_dbq_alarm_store(struct wt_dbq *q);
/* Queues an audit event (strings copied). -ENOSPC when the queue is full. */
int wt_dbq_audit(struct wt_dbq *q, const struct wt_audit_event *ev)
	__attribute__((warn_unused_result));
/* Waits until every queued job is written or timeout_ms passed; 0 or
 * -ETIMEDOUT. For start-up (first id block), tests and shutdown. */
int wt_dbq_sync(struct wt_dbq *q, int timeout_ms) __attribute__((warn_unused_result));
void wt_dbq_stats(struct wt_dbq *q, struct wt_dbq_stats *out);

#endif
