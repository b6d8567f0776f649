/* The rules layer in PostgreSQL (migrations 0010..0013). Every function
 * here blocks: call it from a worker (server/workers.h) or at start-up, each
 * caller with its own PGconn, then hand the result to the engine on the
 * loop (wt_rules_set_structure / wt_rules_set_rules / wt_alarms_restore).
 *
 * Changes run in one transaction together with their audit event, so the
 * audit log never misses a change and never lists one that did not happen.
 * Errors: -ENOENT no such object, -EINVAL refused by validation (a room in a
 * rack, a bad threshold order), -EEXIST a sibling has that name,
 * -ENOTEMPTY children or devices exist and cascade was not asked, -EIO the
 * database failed (logged). */
#ifndef WT_RULES_RULESDB_H
#define WT_RULES_RULESDB_H

#include "alarm.h"
#include "audit.h"
#include "engine.h"
#include "rule.h"
#include "structure.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- structure ---- */

/* Loads the whole tree and every device placement, indexed. */
int wt_rulesdb_load_structure(PGconn *c, struct wt_structure **out)
	__attribute__((warn_unused_result));

/* Creates an element under parent_id (0 for a site); attrs is a JSON object
 * text or NULL; budgets <= 0 mean none. *id gets the new id. */
int wt_rulesdb_element_create(PGconn *c, const char *actor, enum wt_elem_kind kind,
			      int64_t parent_id, const char *name, const char *attrs,
			      double budget_w, double budget_a, int64_t *id)
	__attribute__((warn_unused_result));
int wt_rulesdb_element_rename(PGconn *c, const char *actor, int64_t id, const char *name)
	__attribute__((warn_unused_result));
/* Sets attributes (JSON object text) and budgets of an element. */
int wt_rulesdb_element_update(PGconn *c, const char *actor, int64_t id, const char *attrs,
			      double budget_w, double budget_a) __attribute__((warn_unused_result));
/* Moves an element under another parent of the level above. */
int wt_rulesdb_element_move(PGconn *c, const char *actor, int64_t id, int64_t new_parent)
	__attribute__((warn_unused_result));
/* Deletes an element. With children or devices: -ENOTEMPTY, unless cascade,
 * which deletes the whole subtree and unassigns (never deletes) its devices;
 * *removed (may be NULL) gets the number of elements deleted. */
int wt_rulesdb_element_delete(PGconn *c, const char *actor, int64_t id, bool cascade, long *removed)
	__attribute__((warn_unused_result));
/* Puts a device in a rack on a feed (moving it if it was elsewhere). */
int wt_rulesdb_device_assign(PGconn *c, const char *actor, int64_t device_id, int64_t rack_id,
			     enum wt_feed feed) __attribute__((warn_unused_result));
int wt_rulesdb_device_unassign(PGconn *c, const char *actor, int64_t device_id)
	__attribute__((warn_unused_result));

/* ---- rules ---- */

/* Every rule, enabled or not (the engine skips disabled ones). */
int wt_rulesdb_load_rules(PGconn *c, struct wt_rule **out, size_t *n)
	__attribute__((warn_unused_result));
/* Inserts (r->id == 0; r->id gets the new id) or updates a rule, after
 * wt_rule_validate(); *why (may be NULL) says what was wrong on -EINVAL. */
int wt_rulesdb_rule_save(PGconn *c, const char *actor, struct wt_rule *r, const char **why)
	__attribute__((warn_unused_result));
int wt_rulesdb_rule_delete(PGconn *c, const char *actor, int64_t id)
	__attribute__((warn_unused_result));
void wt_rulesdb_free_rules(struct wt_rule *r, size_t n);

/* ---- alarms ---- */

/* The alarms to restore at start-up: active, or inactive but not yet
 * acknowledged. Free with wt_rulesdb_free_alarms. */
int wt_rulesdb_load_alarms(PGconn *c, struct wt_alarm **out, size_t *n)
	__attribute__((warn_unused_result));
void wt_rulesdb_free_alarms(struct wt_alarm *a, size_t n);
/* Writes one alarm snapshot (insert or update by id). */
int wt_rulesdb_alarm_save(PGconn *c, const struct wt_alarm *a) __attribute__((warn_unused_result));
/* Reserves a block of alarm ids: [*first, *first + *count). */
int wt_rulesdb_alarm_id_block(PGconn *c, int64_t *first, int64_t *count)
	__attribute__((warn_unused_result));

/* ---- audit ---- */

int wt_rulesdb_audit_insert(PGconn *c, const struct wt_audit_event *ev, int64_t *id)
	__attribute__((warn_unused_result));
/* Moves an entry to open/investigating/done, with an optional comment. */
int wt_rulesdb_audit_set_state(PGconn *c, const char *actor, int64_t id, enum wt_audit_state st,
			       const char *comment) __attribute__((warn_unused_result));
int wt_rulesdb_audit_comment(PGconn *c, const char *author, int64_t id, const char *comment)
	__attribute__((warn_unused_result));
/* Days to keep a retention class (0 = forever). */
int wt_rulesdb_audit_set_retention(PGconn *c, const char *actor, enum wt_audit_class cls, int days)
	__attribute__((warn_unused_result));
/* Deletes what each class's retention lets go, as of now_ms, in index
 * range batches; *deleted gets how many entries went. */
int wt_rulesdb_audit_expire(PGconn *c, int64_t now_ms, long *deleted)
	__attribute__((warn_unused_result));

/* ---- aggregate series ids (the engine's registry callback) ---- */

/* A thread-safe cache of aggregate series ids. The engine's commit looks
 * ids up on the loop and never blocks: a miss returns -EAGAIN and is
 * remembered; a worker then creates the missing series
 * (wt_agg_cache_create_missing) and the loop commits again. */
struct wt_agg_cache;
struct wt_agg_cache *wt_agg_cache_new(void);
void wt_agg_cache_free(struct wt_agg_cache *c);
/* Loads every aggregate series already in the series table. */
int wt_agg_cache_load(PGconn *c, struct wt_agg_cache *cache) __attribute__((warn_unused_result));
/* The registry callback: ctx is the cache. */
int wt_agg_cache_lookup(void *ctx, const struct wt_agg_key *key, uint32_t *id);
size_t wt_agg_cache_missing(struct wt_agg_cache *cache);
/* Creates the series for every remembered miss (get-or-create). */
int wt_agg_cache_create_missing(PGconn *c, struct wt_agg_cache *cache)
	__attribute__((warn_unused_result));
/* An id the cache learned, so the rollup can register it (0 if none):
 * the i-th entry, in insertion order. */
size_t wt_agg_cache_count(struct wt_agg_cache *cache);
uint32_t wt_agg_cache_series_at(struct wt_agg_cache *cache, size_t i, struct wt_agg_key *key);

/* ---- start-up ---- */

/* Binds every device and device series from the storage tables (devices,
 * entities, series) into the engine. Blocking, for start-up before the loop
 * runs; the device type is info->>'type', else "device". */
int wt_rulesdb_load_bindings(PGconn *c, struct wt_rules *e) __attribute__((warn_unused_result));

#endif
