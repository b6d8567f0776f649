#include "rule.h"

#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const thr_names[WT_THR__COUNT] = {"critical_above", "warning_above",
						     "warning_below", "critical_below"};
static const char *const sev_names[] = {"ok", "warning", "critical"};
static const char *const scope_names[WT_SCOPE__COUNT] = {
	"global", "type", "model", "device", "entity", "site", "room", "row", "rack"};

const char *wt_thr_name(enum wt_thr t)
{
	return (unsigned)t < WT_THR__COUNT ? thr_names[t] : "";
}

const char *wt_severity_name(enum wt_severity s)
{
	return (unsigned)s <= WT_SEV_CRITICAL ? sev_names[s] : "";
}

const char *wt_scope_name(enum wt_scope s)
{
	return (unsigned)s < WT_SCOPE__COUNT ? scope_names[s] : "";
}

int wt_scope_by_name(const char *name)
{
	for (int i = 0; name && i < WT_SCOPE__COUNT; i++)
		if (strcmp(name, scope_names[i]) == 0)
			return i;
	return -1;
}

void wt_rule_clear(struct wt_rule *r)
{
	free(r->name);
	free(r->scope_text);
	r->name = r->scope_text = NULL;
}

int wt_rule_validate(const struct wt_rule *r, const char **why)
{
	const char *w = NULL;
	const double *t = r->thr;
	const bool *on = r->thr_on;

	if (!r->name || !r->name[0])
		w = "rule has no name";
	else if (r->metric < 0 || r->metric >= WT_M__COUNT)
		w = "unknown metric";
	else if ((unsigned)r->scope >= WT_SCOPE__COUNT)
		w = "unknown scope";
	else if ((r->scope == WT_SCOPE_TYPE || r->scope == WT_SCOPE_MODEL) &&
		 (!r->scope_text || !r->scope_text[0]))
		w = "type and model scopes need a name";
	else if (r->scope >= WT_SCOPE_DEVICE && r->scope_id <= 0)
		w = "scope needs an id";
	else if (!(r->hysteresis >= 0) || !isfinite(r->hysteresis))
		w = "hysteresis must be a finite value >= 0";
	else if (r->dwell_s < 0 || r->repeat_s < 0)
		w = "dwell and repeat must be >= 0";
	else if (!on[0] && !on[1] && !on[2] && !on[3])
		w = "no threshold enabled";
	else {
		for (int i = 0; i < WT_THR__COUNT; i++)
			if (on[i] && !isfinite(t[i]))
				w = "threshold is not a finite number";
		/* Enabled thresholds must be ordered: crit above >= warn above >
		 * warn below >= crit below, or the levels contradict each other. */
		if (!w && on[WT_THR_CRIT_ABOVE] && on[WT_THR_WARN_ABOVE] &&
		    t[WT_THR_CRIT_ABOVE] < t[WT_THR_WARN_ABOVE])
			w = "critical above is lower than warning above";
		if (!w && on[WT_THR_CRIT_BELOW] && on[WT_THR_WARN_BELOW] &&
		    t[WT_THR_CRIT_BELOW] > t[WT_THR_WARN_BELOW])
			w = "critical below is higher than warning below";
		for (int a = 0; !w && a < 2; a++)
			for (int b = 2; !w && b < 4; b++)
				if (on[a] && on[b] && t[a] <= t[b])
					w = "an upper threshold is not above a lower threshold";
	}
	if (why)
		*why = w;
	return w ? -EINVAL : 0;
}

/* The level v is at with every threshold moved by band towards "ok"
 * (band 0: the plain level). Sets *thr to the deciding threshold. */
static uint8_t level_of(const struct wt_rule *r, double v, double band, int8_t *thr)
{
	static const uint8_t order[] = {WT_THR_CRIT_ABOVE, WT_THR_CRIT_BELOW, WT_THR_WARN_ABOVE,
					WT_THR_WARN_BELOW};
	for (size_t i = 0; i < sizeof(order); i++) {
		int t = order[i];
		if (!r->thr_on[t])
			continue;
		bool hit = wt_thr_is_below(t) ? v < r->thr[t] + band : v > r->thr[t] - band;
		if (hit) {
			*thr = (int8_t)t;
			return t == WT_THR_CRIT_ABOVE || t == WT_THR_CRIT_BELOW ? WT_SEV_CRITICAL
										: WT_SEV_WARNING;
		}
	}
	*thr = -1;
	return WT_SEV_OK;
}

struct wt_rule_step wt_rule_eval(const struct wt_rule *r, struct wt_rule_state *st, double v,
				 int64_t t_start, int64_t t_end)
{
	struct wt_rule_step step = {st->level, st->level, st->thr};
	int8_t thr_enter, thr_hold;

	if (isnan(v))
		return step;
	uint8_t enter = level_of(r, v, 0, &thr_enter);

	if (enter > st->level) {
		if (!st->pending) {
			st->pending = enter;
			st->pending_since = t_start;
		} else if (enter < st->pending) {
			st->pending = enter; /* only the lower level held the whole time */
		}
		if (t_end - st->pending_since >= (int64_t)r->dwell_s * 1000) {
			uint8_t to = st->pending;
			/* the threshold of the level we raise to */
			if (to != enter) /* raised to warning while critical: same direction */
				thr_enter = (int8_t)(wt_thr_is_below(thr_enter)
							     ? WT_THR_WARN_BELOW
							     : WT_THR_WARN_ABOVE);
			st->level = to;
			st->thr = thr_enter;
			st->pending = 0;
			if (enter > to) { /* the higher level starts its own dwell now */
				st->pending = enter;
				st->pending_since = t_start;
			}
		}
		step.to = st->level;
		step.thr = st->thr;
		return step;
	}
	st->pending = 0;
	if (st->level > WT_SEV_OK) {
		uint8_t hold = level_of(r, v, r->hysteresis, &thr_hold);
		uint8_t to = hold < st->level ? hold : st->level;
		int8_t thr = hold < st->level ? thr_hold : st->thr;
		if (enter > to) {
			to = enter;
			thr = thr_enter;
		}
		if (to < st->level) {
			st->level = to;
			st->thr = to ? thr : -1;
		}
	}
	step.to = st->level;
	step.thr = st->thr;
	return step;
}
