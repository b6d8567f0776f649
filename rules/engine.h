/* The rules engine: structure aggregates, rule resolution and evaluation,
 * built-in device alarms. It subscribes to the rollup's 5 s close
 * (wt_rules_on_close is a wt_close_fn) and never blocks: persistence goes
 * through the alarm store hook (rules/dbq.h) and the aggregate registry
 * callback. Loop thread only.
 *
 * Life cycle: feed devices, series, structure and rules (any order, any
 * time), then wt_rules_commit() - or let the next close do it. A commit
 * recomputes, once, which rule applies to every series and which
 * aggregates every series feeds, so a close is O(buckets + aggregates) with
 * no rule scans and no strings.
 *
 * Wiring in the daemon (rules/rulesdb.h and rules/dbq.h have the rest):
 *  start-up, blocking, before the loop runs:
 *    e = wt_rules_new(clock); q = wt_dbq_open(conninfo, 0);
 *    store = wt_dbq_alarm_store(q); wt_alarms_set_store(wt_rules_alarms(e), &store);
 *    wt_dbq_sync(q, 5000)                       first block of alarm ids
 *    wt_rulesdb_load_bindings(c, e)             devices and their series
 *    wt_rulesdb_load_structure(c, &st); wt_rules_set_structure(e, st);
 *    wt_rulesdb_load_rules(c, &r, &n); wt_rules_set_rules(e, r, n);
 *    wt_rulesdb_load_alarms(c, &a, &n); wt_alarms_restore() each; free them
 *    cache = wt_agg_cache_new(); wt_agg_cache_load(c, cache);
 *    wt_rules_set_registry(e, &(struct wt_agg_registry){wt_agg_cache_lookup, cache});
 *    wt_rules_commit(e); if wt_rules_agg_pending(e): wt_agg_cache_create_missing(c, cache)
 *      and commit again; wt_rollup_register() the new aggregate series
 *      (wt_agg_cache_series_at; metric flags as for every series);
 *    wt_rules_clear_orphans(e).
 *  hooks: wt_rollup_on_close(rollup, wt_rules_on_close, e);
 *    wt_rules_set_feedback(e, sink that calls wt_rollup_ingest);
 *    the drivers' sample sink also calls wt_rules_on_samples(e, ...);
 *    the poller's device state machine calls wt_rules_device_comm/_rebooted;
 *    notifications and the push stream wt_alarms_subscribe().
 *  changes (API): wt_rulesdb_* on a worker; its completion reloads what
 *    changed (wt_rulesdb_load_structure / _load_rules on a worker, then
 *    wt_rules_set_* + wt_rules_commit on the loop, then create missing
 *    aggregate series as at start-up). Alarm acknowledgement is
 *    wt_alarms_ack() on the loop; the store writes it.
 *  janitor: wt_rulesdb_audit_expire() daily on a worker.
 *  shutdown: wt_rules_free(e); wt_dbq_close(q, 5000); wt_agg_cache_free(cache). */
#ifndef WT_RULES_ENGINE_H
#define WT_RULES_ENGINE_H

#include "alarm.h"
#include "clock.h"
#include "model.h"
#include "rule.h"
#include "structure.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wt_rules;

/* What the engine must know about a device (strings copied). */
struct wt_rules_device {
	int64_t id;
	const char *name;
	/* "PDU", "UPS", "ATS", "sensor": matched by type rules, shown in messages */
	const char *type;
	const char *model; /* matched by model rules */
	double rating_a;   /* inlet breaker rating per phase, A; 0 unknown (no headroom) */
};

/* A device series as bound from its profile. phase: 0 for a whole inlet or
 * device, 1..3 for line L1..L3 (a single-phase inlet may say 1). */
struct wt_rules_series {
	uint32_t series;
	int64_t device_id;
	int64_t entity_id;
	int entity_kind; /* enum wt_entity_kind */
	int entity_index;
	uint8_t phase;
	int metric; /* enum wt_metric */
	const char *entity_name;
};

/* The identity of an aggregate series. feed 0 means all feeds. Headroom
 * series have metric WT_M_HEADROOM and feed A or B: the current that feed
 * could still take on that phase if the other feed failed (rating minus
 * the load of both), negative when the rack is not redundant. Energy
 * aggregates are evaluated on each bucket's energy (the sum of the members'
 * deltas) and fed back as a running total, a counter like a device's: so
 * they register in the rollup with their metric's flags like every other
 * series, and a new plan or a restart (total back to 0) reads as a counter
 * reset, which the rollup handles. */
struct wt_agg_key {
	int64_t element_id;
	enum wt_elem_kind element_kind;
	uint8_t feed;   /* enum wt_feed */
	uint8_t phase;  /* 0 total, 1..3 */
	uint8_t metric; /* enum wt_metric */
};

/* Aggregate series ids, called at commit time on the loop, so it must not
 * block: rules/rulesdb.h has a cache (wt_agg_cache_lookup) that answers
 * -EAGAIN for ids not created yet; such aggregates are computed but neither
 * evaluated nor fed back until a later commit finds their id
 * (wt_rules_agg_pending tells how many wait). */
struct wt_agg_registry {
	int (*series_id)(void *ctx, const struct wt_agg_key *key, uint32_t *id);
	void *ctx;
};

struct wt_rules_stats {
	uint64_t closes;
	uint64_t buckets;        /* device buckets seen */
	uint64_t evaluations;    /* buckets that had a rule */
	uint64_t aggregates;     /* aggregate buckets produced */
	uint64_t partial;        /* of which with members missing */
	uint64_t unknown_series; /* buckets for series never bound */
	uint64_t commits;
	double last_close_ms; /* wall time of the last close */
	double last_commit_ms;
};

struct wt_rules *wt_rules_new(const struct wt_clock *clock);
void wt_rules_free(struct wt_rules *e);

void wt_rules_set_registry(struct wt_rules *e, const struct wt_agg_registry *reg);
/* Where aggregate samples go back into the rollup (wt_rollup_ingest), so
 * they are rolled up and stored like all others. They carry the closing
 * bucket's own start time: the rollup accepts such derived samples during
 * the close call and hands them out in a second call for the same boundary,
 * which the engine recognises and skips for its own aggregates (already
 * evaluated) and never sums again: nothing recurses or counts twice. */
void wt_rules_set_feedback(struct wt_rules *e, const struct wt_sample_sink *sink);

int wt_rules_device_set(struct wt_rules *e, const struct wt_rules_device *d)
	__attribute__((warn_unused_result));
int wt_rules_series_set(struct wt_rules *e, const struct wt_rules_series *s)
	__attribute__((warn_unused_result));
/* A device left the inventory: its series are unbound and its alarms
 * (thresholds and communication loss) clear. -ENOENT if unknown. */
int wt_rules_device_remove(struct wt_rules *e, int64_t device_id)
	__attribute__((warn_unused_result));
/* A series left its device's profile: unbound, its alarm clears. */
void wt_rules_series_unbind(struct wt_rules *e, uint32_t series);
/* After start-up (bindings, structure, rules and restored alarms loaded and
 * committed): clears restored alarms whose series or device no longer
 * exists, since nothing would ever clear them. Returns how many. */
size_t wt_rules_clear_orphans(struct wt_rules *e);
/* Replaces the structure (takes ownership, also on error; must be indexed). */
void wt_rules_set_structure(struct wt_rules *e, struct wt_structure *s);
/* Replaces the rule set (takes ownership of the array and its strings).
 * Invalid rules are logged and ignored.
 *
 * Racks with a budget get built-in rules on their all-feeds aggregates
 * unless a rule scoped to that rack covers the metric: "Rack power budget"
 * on total active power (warning above 90 %, critical above 100 % of
 * budget_w) and "Rack current budget" on each phase's current (same, of
 * budget_a); hysteresis 2 % of the budget, dwell 30 s. Their rule ids are
 * negative: -(2 * rack id) and -(2 * rack id + 1). */
void wt_rules_set_rules(struct wt_rules *e, struct wt_rule *rules, size_t n);

/* Recomputes resolution and the aggregate plan now. */
int wt_rules_commit(struct wt_rules *e) __attribute__((warn_unused_result));
/* Aggregates of the last commit still waiting for a series id. */
size_t wt_rules_agg_pending(const struct wt_rules *e);

/* The rollup close subscriber (a wt_close_fn; ctx is the engine): sums and
 * evaluates the aggregates, and evaluates device buckets (their average;
 * the maximum for state metrics; the delta for counters). */
void wt_rules_on_close(void *ctx, int64_t bucket_start_ms, const struct wt_bucket *buckets,
		       size_t n);
/* Optional, and what the daemon should do: a tap on the drivers' sample
 * sink (a wt_sample_sink emit; ctx is the engine) beside the rollup's
 * ingest. Device gauges and states are then evaluated on each sample as it
 * arrives, so an alarm trips within one poll instead of at the next close;
 * from the first call on, closes evaluate only counters and aggregates.
 * Dwell is measured in sample time. */
void wt_rules_on_samples(void *ctx, const struct wt_sample *samples, size_t n);

/* Built-in alarm conditions, called by the poller's device state machine. */
/* lost: raises one critical "Communication lost" alarm (repeat calls are
 * harmless); !lost clears it. reason (may be NULL, never a secret) goes
 * into the message. */
void wt_rules_device_comm(struct wt_rules *e, int64_t device_id, bool lost, const char *reason);
void wt_rules_device_rebooted(struct wt_rules *e, int64_t device_id);
/* Repeat interval of communication-loss notifications (0, the default:
 * none), checked at every close. */
void wt_rules_set_comm_repeat(struct wt_rules *e, int32_t repeat_s);

struct wt_alarms *wt_rules_alarms(struct wt_rules *e);
const struct wt_structure *wt_rules_structure(const struct wt_rules *e);
const struct wt_rules_stats *wt_rules_stats(const struct wt_rules *e);

/* The rule that applies to a series (NULL: none). */
const struct wt_rule *wt_rules_resolved(const struct wt_rules *e, uint32_t series);
/* The aggregate series for a key, or 0 when it has no members. */
uint32_t wt_rules_agg_series(const struct wt_rules *e, const struct wt_agg_key *key);
/* Members that reported in the last close / members expected; -ENOENT if
 * the series is not an aggregate. Headroom reports its two feeds' members. */
int wt_rules_agg_members(const struct wt_rules *e, uint32_t series, uint32_t *present,
			 uint32_t *expected) __attribute__((warn_unused_result));
/* Devices under an element that reported in the last close / placed there. */
int wt_rules_element_devices(const struct wt_rules *e, int64_t element_id, uint32_t *reporting,
			     uint32_t *expected) __attribute__((warn_unused_result));

#endif
