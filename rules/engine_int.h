/* Internals shared by engine.c (resolution, evaluation, device alarms) and
 * aggregate.c (the aggregate plan and its computation at each close). */
#ifndef WT_RULES_ENGINE_INT_H
#define WT_RULES_ENGINE_INT_H

#include "engine.h"
#include "idmap.h"

#define WT_AGG_MAX_CONTRIB 16 /* 4 levels x (all + own feed) x (phase + total) */

struct dev {
	int64_t id;
	char *name, *type, *model;
	double rating_a;
	uint64_t type_key, model_key; /* hashed once, for resolution */
	int32_t rack;                 /* element index, -1 unassigned (set at commit) */
	uint8_t feed;
	struct wt_alarm *comm;         /* active communication-lost alarm */
	int64_t seen;                  /* bucket start of the last close it reported in */
	uint64_t has_inlet, has_total; /* metric bits present (commit scratch) */
	bool removed;                  /* gone from the inventory; the slot stays for its id */
};

/* Everything per series id: what it is, which rule applies, its state. */
struct ser {
	int64_t device_id;
	int64_t entity_id;
	char *entity_name;
	int64_t rule_id;      /* id of the resolved rule, to notice a change at commit */
	int32_t dev;          /* device index (commit), -1 */
	int32_t agg;          /* aggregate index, -1 for device series */
	int32_t rule;         /* resolved rule index, -1 none */
	uint32_t contrib_off; /* into wt_rules.contrib */
	uint8_t contrib_n;
	uint8_t kind, phase, metric;
	uint16_t entity_index;
	bool bound;   /* device series: bound by wt_rules_series_set */
	bool was_agg; /* an aggregate before this commit */
	struct wt_rule_state rs;
	struct wt_alarm *alarm;
};

struct agg {
	uint32_t series;
	int32_t element;
	uint8_t feed, phase, metric;
	uint8_t qacc;    /* worst member quality so far in this close */
	uint8_t quality; /* of the last value */
	bool fresh;      /* had members in the last close */
	uint32_t expected, present, last_present;
	double sum, value;
	double total; /* counters: cumulative, for the feedback */
	/* headroom only: the two current aggregates and each feed's rating */
	int32_t ha, hb;
	double rating;
};

struct wt_rules {
	const struct wt_clock *clock;
	struct wt_alarms *alarms;
	struct wt_agg_registry reg;
	struct wt_sample_sink feedback;
	bool dirty;         /* something changed: commit before the next close */
	bool dirty_plan;    /* devices, series, structure or registry changed: re-plan aggregates */
	bool sample_mode;   /* device series are evaluated per sample (wt_rules_on_samples) */
	bool closed_any;    /* last_start is valid */
	int64_t last_start; /* bucket start of the last close */
	int32_t comm_repeat_s; /* communication-loss repeat, 0 none */

	struct dev *devs;
	size_t ndevs, devcap;
	struct wt_idmap devmap;

	struct ser *ser;
	size_t nser; /* highest series id + 1 */

	struct wt_structure *st, *st_next;
	/* rules[0, nuser) are the operator's; rules[nuser, nrules) are the
	 * built-in rack budget rules, rebuilt at every commit */
	struct wt_rule *rules, *rules_next;
	size_t nrules, nuser, nrules_next;
	int32_t (*budget_rule)[2]; /* per element: power, current budget rule, -1 */
	bool have_rules_next;
	int32_t *rule_next;      /* chain of rules with the same key */
	struct wt_idmap rulemap; /* (scope, id, metric, kind) -> first rule */

	struct agg *aggs;
	size_t naggs, nplain; /* headroom aggregates follow the nplain plain ones */
	size_t agg_pending;   /* aggregates whose series the registry has yet to create */
	/* per (element, feed): a table [phase][metric] -> aggregate, or NULL:
	 * direct indexing, because the plan looks up millions of them */
	int32_t **aggtab;
	size_t naggtab;
	int32_t *contrib;
	size_t ncontrib;

	uint32_t *elem_expected, *elem_reporting, *elem_last_reporting;

	struct wt_sample *fbuf;
	size_t fbuf_n;

	struct wt_rules_stats stats;
};

#define WT_AGG_SLOTS (4 * WT_M__COUNT)

/* The aggregate of (element index, feed, phase, metric), or -1. */
static inline int32_t wt_rules_agg_find(const struct wt_rules *e, int32_t el, unsigned feed,
					unsigned phase, unsigned metric)
{
	if (el < 0 || feed >= WT_FEED__COUNT || phase > 3 || metric >= WT_M__COUNT)
		return -1;
	size_t t = (size_t)el * WT_FEED__COUNT + feed;
	if (t >= e->naggtab || !e->aggtab[t])
		return -1;
	return e->aggtab[t][phase * WT_M__COUNT + metric];
}

/* aggregate.c */
int wt_rules_agg_plan(struct wt_rules *e) __attribute__((warn_unused_result));
void wt_rules_agg_add(struct wt_rules *e, const struct ser *s, double v, uint8_t quality);
void wt_rules_agg_finish(struct wt_rules *e, int64_t bucket_start_ms);
void wt_rules_agg_free(struct wt_rules *e);

/* engine.c, for aggregate.c: evaluates one value of a series. */
void wt_rules_eval_one(struct wt_rules *e, uint32_t series, double v, int64_t bucket_start_ms);
int wt_rules_grow_series(struct wt_rules *e, uint32_t series) __attribute__((warn_unused_result));

#endif
