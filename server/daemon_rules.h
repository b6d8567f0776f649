/* The rules engine inside the daemon: start-up from the database (alarms
 * restored, bindings, structure, rules, aggregate series), subscription to
 * the rollup's closes, aggregates fed back into storage, alarms persisted
 * through the alarm/audit writer (rules/dbq.h) and logged, and reloads of
 * structure and rules on a worker when the inventory changes. Loop thread. */
#ifndef WT_DAEMON_RULES_H
#define WT_DAEMON_RULES_H

#include "model.h"

#include <libpq-fe.h>

struct event_base;
struct wt_workers;
struct wt_storage;
struct wt_rules;
struct wt_dbq;
struct wt_drules;

/* Blocking start-up on pg (before the loop runs). */
int wt_drules_start(struct wt_drules **out, struct event_base *base, struct wt_workers *workers,
		    struct wt_storage *storage, const char *conninfo, PGconn *pg)
	__attribute__((warn_unused_result));
struct wt_rules *wt_drules_engine(struct wt_drules *r);
struct wt_dbq *wt_drules_dbq(struct wt_drules *r);
/* Re-reads structure and rules on a worker, then commits (coalesced). */
void wt_drules_reload(void *drules);
/* Periodic: creates aggregate series the last commit still waits for (on a
 * worker). */
void wt_drules_maintain(struct wt_drules *r);
/* The drivers' sample tap (a wt_sample_sink emit; ctx is the wt_drules). */
void wt_drules_samples(void *ctx, const struct wt_sample *s, size_t n);
/* Call after the worker pool was freed; writes what the alarm writer holds. */
void wt_drules_free(struct wt_drules *r);

#endif
