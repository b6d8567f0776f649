/* Threshold rules: definition and the pure per-series state machine
 * (thresholds with hysteresis, dwell, repeat). Resolution of which rule
 * applies to a series lives in the engine (rules/engine.h). */
#ifndef WT_RULES_RULE_H
#define WT_RULES_RULE_H

#include <stdbool.h>
#include <stdint.h>

/* Redfish threshold vocabulary, in this order. */
enum wt_thr {
	WT_THR_CRIT_ABOVE = 0,
	WT_THR_WARN_ABOVE,
	WT_THR_WARN_BELOW,
	WT_THR_CRIT_BELOW,
	WT_THR__COUNT
};

/* Alarm severity, also a series' level: ordered so max() is "worst". */
enum wt_severity {
	WT_SEV_OK = 0,
	WT_SEV_WARNING = 1,
	WT_SEV_CRITICAL = 2
};

/* Who a rule applies to, from least to most specific for device series.
 * Structure scopes (room, row, rack, dc) apply to aggregate series of that
 * element and of the elements below it; the nearest element wins. */
enum wt_scope {
	WT_SCOPE_GLOBAL = 0, /* every device series */
	WT_SCOPE_TYPE,       /* devices of a type ("pdu", "ups", "sensor"; any case) */
	WT_SCOPE_MODEL,      /* devices of a model (any case) */
	WT_SCOPE_DEVICE,     /* one device */
	WT_SCOPE_ENTITY,     /* one entity: outlet, branch, inlet, phase, sensor */
	WT_SCOPE_DC,
	WT_SCOPE_ROOM,
	WT_SCOPE_ROW,
	WT_SCOPE_RACK,
	WT_SCOPE__COUNT
};

struct wt_rule {
	int64_t id;
	char *name;
	bool enabled;
	int metric; /* enum wt_metric */
	enum wt_scope scope;
	int64_t scope_id; /* device, entity or element id */
	char *scope_text; /* device type or model */
	int entity_kind;  /* only entities of this kind (enum wt_entity_kind), -1 any */
	double thr[WT_THR__COUNT];
	bool thr_on[WT_THR__COUNT];
	double hysteresis; /* clear only past threshold -/+ this band (>= 0) */
	int32_t dwell_s;   /* trip only after the condition held this long */
	int32_t repeat_s;  /* repeat notification every N s while active, 0 none */
};

/* Per-series evaluation state; zero-initialised means "ok, nothing pending". */
struct wt_rule_state {
	uint8_t level;         /* enum wt_severity currently raised */
	uint8_t pending;       /* level waiting for its dwell, 0 none */
	int8_t thr;            /* enum wt_thr that holds the current level, -1 none */
	int64_t pending_since; /* start of the first bucket over the pending level */
};

/* What one evaluation decided. */
struct wt_rule_step {
	uint8_t from, to; /* levels before and after */
	int8_t thr;       /* enum wt_thr that tripped (to > OK), else -1 */
};

/* Checks a rule's fields (thresholds ordered, band >= 0, ...); 0 or -EINVAL
 * with a reason in *why. */
int wt_rule_validate(const struct wt_rule *r, const char **why) __attribute__((warn_unused_result));

/* Feeds one value observed over [t_start, t_end) into the state machine.
 * Raising needs the condition to hold for dwell_s (measured from the start
 * of the first exceeding bucket to t_end); lowering needs the value past
 * the threshold by the hysteresis band and happens at once. */
struct wt_rule_step wt_rule_eval(const struct wt_rule *r, struct wt_rule_state *st, double v,
				 int64_t t_start, int64_t t_end);

/* True for the two "below" thresholds. */
static inline bool wt_thr_is_below(int t)
{
	return t == WT_THR_WARN_BELOW || t == WT_THR_CRIT_BELOW;
}
const char *wt_thr_name(enum wt_thr t);           /* "critical_above", ... */
const char *wt_severity_name(enum wt_severity s); /* "ok", "warning", "critical" */
const char *wt_scope_name(enum wt_scope s);       /* "global", "type", ... */
int wt_scope_by_name(const char *name);           /* or -1 */
void wt_rule_clear(struct wt_rule *r);            /* frees strings */

#endif
