/* The daemon's series cache: (device, unit, entity kind, index, metric) ->
 * series id, in memory, so a driver's bind never waits for PostgreSQL.
 *
 * Loaded once at start-up. A miss answers -EAGAIN and is queued; a worker
 * takes every queued miss at once and creates the entities (with their
 * names) and series in a few statements (wt_registry_series_bulk), the loop
 * then registers the id with storage, tells the rules engine, and asks the
 * scheduler to re-bind the devices that missed, so their next poll resolves
 * from memory. Loop thread only (except the worker jobs it submits).
 *
 * Entity index of daisy-chained units: unit 1 (or 0) keeps the driver's
 * index; unit u > 1 stores (u - 1) * 1000 + index, so each unit's entities
 * stay distinct under the one device of that address. */
#ifndef WT_DAEMON_SERIES_H
#define WT_DAEMON_SERIES_H

#include "pollers/driver.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct wt_workers;
struct wt_storage;
struct wt_sched;
struct wt_rules;
struct wt_series_cache;

int wt_series_cache_new(struct wt_series_cache **out, struct event_base *base,
			struct wt_workers *workers, const char *conninfo, struct wt_storage *storage)
	__attribute__((warn_unused_result));
/* Reads every device series (blocking: start-up, before the loop runs).
 * Returns the number loaded or a negative errno. */
int wt_series_cache_load(struct wt_series_cache *c, PGconn *pg) __attribute__((warn_unused_result));
/* Who to tell about new series (either may be NULL). */
void wt_series_cache_set_targets(struct wt_series_cache *c, struct wt_sched *sched,
				 struct wt_rules *rules);
/* The resolver to put in the drivers' environment. */
struct wt_series_resolver wt_series_cache_resolver(struct wt_series_cache *c);
/* Series known / created since start / misses not resolved yet (queued or
 * in the batch a worker is creating). */
void wt_series_cache_counts(const struct wt_series_cache *c, size_t *known, uint64_t *created,
			    size_t *pending);
/* Call after the worker pool was drained and freed. */
void wt_series_cache_free(struct wt_series_cache *c);

/* The stored entity index for a driver's (unit, index). */
long wt_series_entity_index(int unit, long index);

#endif
