/* Resolution (which rule applies to each series), evaluation at each
 * close, and the built-in device alarms. Aggregates are in aggregate.c. */
#include "engine_int.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct wt_rules *wt_rules_new(const struct wt_clock *clock)
{
	struct wt_rules *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->clock = clock;
	e->alarms = wt_alarms_new(clock);
	if (!e->alarms) {
		free(e);
		return NULL;
	}
	e->dirty = true;
	e->dirty_plan = true;
	return e;
}

static void free_rules(struct wt_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wt_rule_clear(&r[i]);
	free(r);
}

void wt_rules_free(struct wt_rules *e)
{
	if (!e)
		return;
	wt_rules_agg_free(e);
	for (size_t i = 0; i < e->ndevs; i++) {
		free(e->devs[i].name);
		free(e->devs[i].type);
		free(e->devs[i].model);
	}
	free(e->devs);
	wt_idmap_free(&e->devmap);
	for (size_t i = 0; i < e->nser; i++)
		free(e->ser[i].entity_name);
	free(e->ser);
	wt_structure_free(e->st);
	wt_structure_free(e->st_next);
	free_rules(e->rules, e->nrules);
	if (e->have_rules_next)
		free_rules(e->rules_next, e->nrules_next);
	free(e->rule_next);
	free(e->budget_rule);
	wt_idmap_free(&e->rulemap);
	free(e->elem_expected);
	free(e->elem_reporting);
	free(e->elem_last_reporting);
	free(e->fbuf);
	wt_alarms_free(e->alarms);
	free(e);
}

void wt_rules_set_registry(struct wt_rules *e, const struct wt_agg_registry *reg)
{
	e->reg = *reg;
	e->dirty = true;
	e->dirty_plan = true;
}

void wt_rules_set_feedback(struct wt_rules *e, const struct wt_sample_sink *sink)
{
	e->feedback = *sink;
}

struct wt_alarms *wt_rules_alarms(struct wt_rules *e)
{
	return e->alarms;
}

const struct wt_structure *wt_rules_structure(const struct wt_rules *e)
{
	return e->st_next ? e->st_next : e->st;
}

const struct wt_rules_stats *wt_rules_stats(const struct wt_rules *e)
{
	return &e->stats;
}

/* Device types and models match case-insensitively ("pdu" is "PDU"). */
static uint64_t text_key(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; s && *s; s++)
		h = (h ^ (unsigned char)tolower((unsigned char)*s)) * 1099511628211ULL;
	return h;
}

static int set_str(char **dst, const char *src)
{
	char *s = strdup(src ? src : "");
	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

int wt_rules_device_set(struct wt_rules *e, const struct wt_rules_device *d)
{
	if (d->id <= 0)
		return -EINVAL;
	int32_t i = wt_idmap_get(&e->devmap, (uint64_t)d->id);
	if (i < 0) {
		if (e->ndevs == e->devcap) {
			size_t cap = e->devcap ? e->devcap * 2 : 64;
			struct dev *v = realloc(e->devs, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			e->devs = v;
			e->devcap = cap;
		}
		i = (int32_t)e->ndevs;
		int rc = wt_idmap_put(&e->devmap, (uint64_t)d->id, i);
		if (rc)
			return rc;
		e->devs[e->ndevs++] = (struct dev){.id = d->id, .rack = -1, .seen = INT64_MIN};
	}
	struct dev *v = &e->devs[i];
	v->removed = false;
	if (set_str(&v->name, d->name) || set_str(&v->type, d->type) ||
	    set_str(&v->model, d->model))
		return -ENOMEM;
	v->rating_a = d->rating_a > 0 ? d->rating_a : 0;
	v->type_key = text_key(v->type);
	v->model_key = text_key(v->model);
	e->dirty = true;
	e->dirty_plan = true;
	return 0;
}

int wt_rules_grow_series(struct wt_rules *e, uint32_t series)
{
	if (series < e->nser)
		return 0;
	if (series >= UINT32_MAX / 2)
		return -EINVAL;
	size_t n = e->nser ? e->nser : 1024;
	while (n <= series)
		n *= 2;
	struct ser *v = realloc(e->ser, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = e->nser; i < n; i++)
		v[i] = (struct ser){.dev = -1, .agg = -1, .rule = -1, .rs.thr = -1};
	e->ser = v;
	e->nser = n;
	return 0;
}

int wt_rules_series_set(struct wt_rules *e, const struct wt_rules_series *si)
{
	if (!si->series || si->device_id <= 0 || si->metric < 0 || si->metric >= WT_M__COUNT ||
	    si->entity_kind < 0 || si->entity_kind >= WT_ENT__COUNT || si->phase > 3)
		return -EINVAL;
	int rc = wt_rules_grow_series(e, si->series);
	if (rc)
		return rc;
	struct ser *s = &e->ser[si->series];
	if (s->agg >= 0)
		return -EEXIST; /* an aggregate owns that id */
	if (set_str(&s->entity_name, si->entity_name))
		return -ENOMEM;
	s->device_id = si->device_id;
	s->entity_id = si->entity_id;
	s->entity_index = (uint16_t)(si->entity_index < 0       ? 0
				     : si->entity_index > 65535 ? 65535
								: si->entity_index);
	s->kind = (uint8_t)si->entity_kind;
	s->phase = si->phase;
	s->metric = (uint8_t)si->metric;
	s->bound = true;
	e->dirty = true;
	e->dirty_plan = true;
	return 0;
}

void wt_rules_set_structure(struct wt_rules *e, struct wt_structure *s)
{
	wt_structure_free(e->st_next);
	e->st_next = s;
	e->dirty = true;
	e->dirty_plan = true;
}

static int rule_cmp(const void *a, const void *b)
{
	const struct wt_rule *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

void wt_rules_set_rules(struct wt_rules *e, struct wt_rule *rules, size_t n)
{
	if (e->have_rules_next)
		free_rules(e->rules_next, e->nrules_next);
	if (n)
		qsort(rules, n, sizeof(*rules), rule_cmp);
	e->rules_next = rules;
	e->nrules_next = n;
	e->have_rules_next = true;
	e->dirty = true;
}

/* ---- resolution ---- */

/* Rules are chained by (scope, object, metric, kind filter): resolution is
 * two hash probes per scope level (the object's own kind, then "any"),
 * never a walk over rules that cannot apply. kind_slot 0 is "any". The
 * object id keeps 48 bits; type/model texts are hashed and compared. */
static uint64_t rule_key(unsigned scope, uint64_t id, unsigned metric, unsigned kind_slot)
{
	return ((uint64_t)(scope + 1) << 58) | ((uint64_t)(kind_slot & 15) << 54) |
	       ((id & ((1ULL << 48) - 1)) << 6) | (metric & 63);
}

static uint64_t rule_key_of(const struct wt_rule *r)
{
	uint64_t id = r->scope == WT_SCOPE_TYPE || r->scope == WT_SCOPE_MODEL
			      ? text_key(r->scope_text)
		      : r->scope == WT_SCOPE_GLOBAL ? 0
						    : (uint64_t)r->scope_id;
	return rule_key(r->scope, id, (unsigned)r->metric,
			r->entity_kind < 0 ? 0 : (unsigned)r->entity_kind + 1);
}

static int build_rule_maps(struct wt_rules *e)
{
	wt_idmap_free(&e->rulemap);
	free(e->rule_next);
	e->rule_next = calloc(e->nrules ? e->nrules : 1, sizeof(*e->rule_next));
	for (size_t k = 0; e->rule_next && k < e->nrules; k++)
		e->rule_next[k] = -1;
	if (!e->rule_next)
		return -ENOMEM;
	/* Walk backwards and push to the front: chains end up in id order, so
	 * among equally specific rules the oldest wins, deterministically. */
	for (size_t k = e->nuser; k-- > 0;) {
		struct wt_rule *r = &e->rules[k];
		const char *why;
		if (!r->enabled)
			continue;
		if (wt_rule_validate(r, &why)) {
			wt_warn("rules: rule %lld \"%s\" ignored: %s", (long long)r->id,
				r->name ? r->name : "", why);
			continue;
		}
		uint64_t key = rule_key_of(r);
		e->rule_next[k] = wt_idmap_get(&e->rulemap, key);
		int rc = wt_idmap_put(&e->rulemap, key, (int32_t)k);
		if (rc)
			return rc;
	}
	return 0;
}

#define BUDGET_WARN 0.9
#define BUDGET_BAND 0.02
#define BUDGET_DWELL_S 30

static int build_budget_rules(struct wt_rules *e)
{
	for (size_t k = e->nuser; k < e->nrules; k++)
		wt_rule_clear(&e->rules[k]);
	e->nrules = e->nuser;
	free(e->budget_rule);
	e->budget_rule = NULL;
	if (!e->st)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < e->st->n; i++)
		n += (e->st->el[i].kind == WT_EL_RACK) *
		     ((e->st->el[i].budget_w > 0) + (e->st->el[i].budget_a > 0));
	e->budget_rule = malloc((e->st->n ? e->st->n : 1) * sizeof(*e->budget_rule));
	struct wt_rule *v = realloc(e->rules, (e->nuser + n + 1) * sizeof(*v));
	if (!e->budget_rule || !v) {
		if (v)
			e->rules = v;
		return -ENOMEM;
	}
	e->rules = v;
	for (size_t i = 0; i < e->st->n; i++) {
		const struct wt_element *el = &e->st->el[i];
		e->budget_rule[i][0] = e->budget_rule[i][1] = -1;
		if (el->kind != WT_EL_RACK)
			continue;
		for (int w = 0; w < 2; w++) {
			double b = w ? el->budget_a : el->budget_w;
			if (!(b > 0))
				continue;
			struct wt_rule *r = &e->rules[e->nrules];
			*r = (struct wt_rule){.id = -(2 * el->id + w),
					      .enabled = true,
					      .metric = w ? WT_M_CURRENT : WT_M_POWER_ACTIVE,
					      .scope = WT_SCOPE_RACK,
					      .scope_id = el->id,
					      .entity_kind = WT_EL_RACK,
					      .hysteresis = b * BUDGET_BAND,
					      .dwell_s = BUDGET_DWELL_S};
			r->thr[WT_THR_CRIT_ABOVE] = b;
			r->thr_on[WT_THR_CRIT_ABOVE] = true;
			r->thr[WT_THR_WARN_ABOVE] = b * BUDGET_WARN;
			r->thr_on[WT_THR_WARN_ABOVE] = true;
			r->name = strdup(w ? "Rack current budget" : "Rack power budget");
			if (!r->name)
				return -ENOMEM;
			e->budget_rule[i][w] = (int32_t)e->nrules++;
		}
	}
	return 0;
}

/* The oldest rule of a chain (text must match for type/model scopes). */
static int32_t first(const struct wt_rules *e, int32_t head, const char *text)
{
	for (int32_t i = head; i >= 0; i = e->rule_next[i])
		if (!text || strcasecmp(e->rules[i].scope_text, text) == 0)
			return i;
	return -1;
}

/* A rule naming the object's kind beats a rule for any kind. */
static int32_t lookup(const struct wt_rules *e, unsigned scope, uint64_t id, unsigned metric,
		      int kind, const char *text)
{
	int32_t r = -1, head;
	if (kind >= 0 && (head = wt_idmap_get(&e->rulemap, rule_key(scope, id, metric,
								    (unsigned)kind + 1))) >= 0)
		r = first(e, head, text);
	if (r < 0 && (head = wt_idmap_get(&e->rulemap, rule_key(scope, id, metric, 0))) >= 0)
		r = first(e, head, text);
	return r;
}

static int32_t resolve(const struct wt_rules *e, const struct ser *s)
{
	int32_t r;
	if (s->agg >= 0) {
		/* Aggregates: the nearest element's rule, from the aggregate's own
		 * element up to its data centre. */
		const struct agg *a = &e->aggs[s->agg];
		int kind = (int)e->st->el[a->element].kind;
		for (int32_t el = a->element; el >= 0; el = e->st->el[el].parent) {
			const struct wt_element *x = &e->st->el[el];
			r = lookup(e, WT_SCOPE_DC + x->kind, (uint64_t)x->id, a->metric, kind,
				   NULL);
			if (r >= 0)
				return r;
			/* The rack's own budget is more specific than any rule of its
			 * row or room: total power, and each phase's current. */
			if (el == a->element && e->budget_rule && a->feed == WT_FEED_NONE) {
				if (a->metric == WT_M_POWER_ACTIVE && a->phase == 0 &&
				    e->budget_rule[el][0] >= 0)
					return e->budget_rule[el][0];
				if (a->metric == WT_M_CURRENT && a->phase > 0 &&
				    e->budget_rule[el][1] >= 0)
					return e->budget_rule[el][1];
			}
		}
		return -1;
	}
	if (!s->bound || s->dev < 0)
		return -1;
	const struct dev *d = &e->devs[s->dev];
	if (s->entity_id > 0 &&
	    (r = lookup(e, WT_SCOPE_ENTITY, (uint64_t)s->entity_id, s->metric, s->kind, NULL)) >= 0)
		return r;
	if ((r = lookup(e, WT_SCOPE_DEVICE, (uint64_t)d->id, s->metric, s->kind, NULL)) >= 0)
		return r;
	if ((r = lookup(e, WT_SCOPE_MODEL, d->model_key, s->metric, s->kind, d->model)) >= 0)
		return r;
	if ((r = lookup(e, WT_SCOPE_TYPE, d->type_key, s->metric, s->kind, d->type)) >= 0)
		return r;
	return lookup(e, WT_SCOPE_GLOBAL, 0, s->metric, s->kind, NULL);
}

const struct wt_rule *wt_rules_resolved(const struct wt_rules *e, uint32_t series)
{
	if (series >= e->nser || e->ser[series].rule < 0)
		return NULL;
	return &e->rules[e->ser[series].rule];
}

/* Restored alarms (after a restart) take over their series' or device's
 * state, so a condition that is still true is not raised a second time. */
static void attach_alarms(struct wt_rules *e)
{
	for (size_t i = 0; i < wt_alarms_count(e->alarms); i++) {
		struct wt_alarm *al = wt_alarms_at(e->alarms, i);
		int32_t d = al->device_id > 0 ? wt_idmap_get(&e->devmap, (uint64_t)al->device_id)
					      : -1;
		if (d >= 0 && e->devs[d].rack >= 0)
			al->element_id = e->st->el[e->devs[d].rack].id;
		else if (d >= 0)
			al->element_id = 0;
		if (!al->active)
			continue;
		if (al->kind == WT_ALARM_THRESHOLD && al->series < e->nser &&
		    !e->ser[al->series].alarm) {
			struct ser *s = &e->ser[al->series];
			s->alarm = al;
			s->rs.level = al->severity;
			s->rs.thr = al->thr;
			s->rs.pending = 0;
		} else if (al->kind == WT_ALARM_COMM_LOST && d >= 0 && !e->devs[d].removed &&
			   !e->devs[d].comm) {
			e->devs[d].comm = al;
		}
	}
}

static void clear_series_alarm(struct wt_rules *e, struct ser *s)
{
	if (s->alarm)
		wt_alarms_clear(e->alarms, s->alarm, s->alarm->value);
	s->alarm = NULL;
	s->rs = (struct wt_rule_state){.thr = -1};
}

static int element_counts(struct wt_rules *e)
{
	size_t n = e->st ? e->st->n : 0;
	free(e->elem_expected);
	free(e->elem_reporting);
	free(e->elem_last_reporting);
	e->elem_expected = calloc(n + 1, sizeof(uint32_t));
	e->elem_reporting = calloc(n + 1, sizeof(uint32_t));
	e->elem_last_reporting = calloc(n + 1, sizeof(uint32_t));
	if (!e->elem_expected || !e->elem_reporting || !e->elem_last_reporting)
		return -ENOMEM;
	for (size_t d = 0; d < e->ndevs; d++)
		for (int32_t el = e->devs[d].rack; el >= 0; el = e->st->el[el].parent)
			e->elem_expected[el]++;
	return 0;
}

int wt_rules_commit(struct wt_rules *e)
{
	double t0 = mono_ms();
	int rc;

	/* A rules-only change keeps the aggregate plan: at a million series
	 * the plan is most of a commit's cost. */
	bool plan = e->dirty_plan || e->st_next || e->agg_pending;
	if (e->st_next) {
		wt_rules_agg_free(e); /* aggregates point into the old structure */
		wt_structure_free(e->st);
		e->st = e->st_next;
		e->st_next = NULL;
	}
	if (e->have_rules_next) {
		for (size_t i = 0; i < e->nser; i++)
			e->ser[i].rule = -1;
		free_rules(e->rules, e->nrules);
		e->rules = e->rules_next;
		e->nrules = e->nuser = e->nrules_next;
		e->rules_next = NULL;
		e->have_rules_next = false;
	}
	if (plan) {
		for (size_t d = 0; d < e->ndevs; d++) {
			struct dev *v = &e->devs[d];
			const struct wt_placement *p = e->st && !v->removed
							       ? wt_structure_placement(e->st,
											v->id)
							       : NULL;
			v->rack = p ? wt_structure_find(e->st, p->rack_id) : -1;
			v->feed = p && v->rack >= 0 ? (uint8_t)p->feed : WT_FEED_NONE;
		}
		for (size_t i = 0; i < e->nser; i++) {
			struct ser *s = &e->ser[i];
			s->was_agg = false;
			s->dev = s->bound ? wt_idmap_get(&e->devmap, (uint64_t)s->device_id) : -1;
		}
	}
	if ((plan && (rc = wt_rules_agg_plan(e)) != 0) || (plan && (rc = element_counts(e)) != 0) ||
	    (rc = build_budget_rules(e)) != 0 || (rc = build_rule_maps(e)) != 0) {
		wt_error("rules: commit failed (%s); rules and aggregates are not evaluated",
			 strerror(-rc));
		wt_rules_agg_free(e);
		for (size_t i = 0; i < e->nser; i++)
			e->ser[i].rule = -1;
		e->dirty = false;
		e->dirty_plan = true; /* the next commit plans again */
		return rc;
	}
	if (e->st)
		attach_alarms(e);
	for (size_t i = 0; i < e->nser; i++) {
		struct ser *s = &e->ser[i];
		s->rule = resolve(e, s);
		int64_t id = s->rule >= 0 ? e->rules[s->rule].id : 0;
		bool known = s->agg >= 0 || (s->bound && s->dev >= 0) || s->was_agg;
		if (id != s->rule_id)
			s->rs.pending = 0;
		/* A rule deleted, or an aggregate whose element is gone: its alarm
		 * can never clear by itself, so it clears now. */
		if (!id && known && (s->alarm || s->rs.level))
			clear_series_alarm(e, s);
		s->rule_id = id;
	}
	if (plan)
		wt_alarms_set_structure(e->alarms, e->st);
	e->dirty = e->dirty_plan = false;
	e->stats.commits++;
	e->stats.last_commit_ms = mono_ms() - t0;
	return 0;
}

/* ---- evaluation ---- */

static void fmt_num(char *buf, size_t n, double v)
{
	snprintf(buf, n, "%.6g", v);
}

static void message(const struct wt_rules *e, const struct ser *s, const struct wt_rule *r,
		    int8_t thr, uint8_t level, double v, char *buf, size_t n)
{
	const struct wt_metric_info *mi = wt_metric_info((enum wt_metric)s->metric);
	const char *unit = mi && mi->unit[0] ? mi->unit : "";
	const char *sp = unit[0] ? " " : "";
	char val[32], lim[32];
	fmt_num(val, sizeof(val), v);
	fmt_num(lim, sizeof(lim), thr >= 0 ? r->thr[thr] : 0);
	const char *verb = wt_thr_is_below(thr) ? "dropped below" : "exceeded";
	const char *sev = wt_severity_name((enum wt_severity)level);

	if (s->agg >= 0) {
		const struct agg *a = &e->aggs[s->agg];
		const struct wt_element *el = &e->st->el[a->element];
		char phase[8] = "";
		if (a->phase)
			snprintf(phase, sizeof(phase), " L%u", a->phase);
		char feed[16] = "";
		if (a->feed)
			snprintf(feed, sizeof(feed), " feed %s", wt_feed_name(a->feed));
		snprintf(
			buf, n,
			"Value of %s%s%s for %s%s%s of %s \"%s\" has %s the %s threshold of %s%s%s via rule \"%s\"",
			val, sp, unit, mi ? mi->name : "?", phase, feed,
			wt_elem_kind_name(el->kind), el->name, verb, sev, lim, sp, unit, r->name);
		return;
	}
	const struct dev *d = &e->devs[s->dev];
	snprintf(
		buf, n,
		"Value of %s%s%s at \"%s\" (%u) %s has %s the %s threshold of %s%s%s via rule \"%s\" for %s \"%s\"",
		val, sp, unit, s->entity_name ? s->entity_name : "", s->entity_index,
		wt_entity_kind_name((enum wt_entity_kind)s->kind), verb, sev, lim, sp, unit,
		r->name, d->type[0] ? d->type : "device", d->name);
}

/* Evaluates v observed over [t0, t1): a closed bucket, or one sample
 * (t0 == t1). */
static void eval_span(struct wt_rules *e, uint32_t series, double v, int64_t t0, int64_t t1)
{
	struct ser *s = &e->ser[series];
	if (s->rule < 0)
		return;
	const struct wt_rule *r = &e->rules[s->rule];
	e->stats.evaluations++;
	struct wt_rule_step st = wt_rule_eval(r, &s->rs, v, t0, t1);
	if (st.to == st.from) {
		if (s->alarm)
			wt_alarms_maybe_repeat(e->alarms, s->alarm, r->repeat_s);
		return;
	}
	if (st.to == WT_SEV_OK) {
		if (s->alarm)
			wt_alarms_clear(e->alarms, s->alarm, v);
		s->alarm = NULL;
		return;
	}
	char msg[512];
	message(e, s, r, st.thr, st.to, v, msg, sizeof(msg));
	double limit = st.thr >= 0 ? r->thr[st.thr] : 0;
	if (s->alarm) {
		wt_alarms_set_severity(e->alarms, s->alarm, st.to, st.thr, v, limit, msg);
		return;
	}
	const struct agg *a = s->agg >= 0 ? &e->aggs[s->agg] : NULL;
	const struct dev *d = s->dev >= 0 ? &e->devs[s->dev] : NULL;
	struct wt_alarm t = {
		.kind = WT_ALARM_THRESHOLD,
		.severity = st.to,
		.thr = st.thr,
		.value = v,
		.threshold = limit,
		.rule_id = r->id,
		.series = series,
		.device_id = d ? d->id : 0,
		.entity_id = a ? 0 : s->entity_id,
		.element_id = a                   ? e->st->el[a->element].id
			      : d && d->rack >= 0 ? e->st->el[d->rack].id
						  : 0,
		.message = msg,
		.rule_name = r->name,
	};
	s->alarm = wt_alarms_raise(e->alarms, &t);
}

void wt_rules_eval_one(struct wt_rules *e, uint32_t series, double v, int64_t start)
{
	eval_span(e, series, v, start, start + WT_BUCKET_MS);
}

static bool is_counter(unsigned metric)
{
	const struct wt_metric_info *mi = wt_metric_info((enum wt_metric)metric);
	return mi && (mi->flags & WT_MF_COUNTER);
}

void wt_rules_on_samples(void *ctx, const struct wt_sample *smp, size_t n)
{
	struct wt_rules *e = ctx;
	if (e->dirty && wt_rules_commit(e) != 0) {
		/* logged by the commit */
	}
	e->sample_mode = true;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = smp[i].series;
		if (id >= e->nser)
			continue;
		const struct ser *s = &e->ser[id];
		/* Counters are raw readings here: their rules apply to the
		 * bucket's delta, at the close. */
		if (s->rule < 0 || s->dev < 0 || s->agg >= 0 || smp[i].quality == WT_Q_BAD ||
		    is_counter(s->metric) || !isfinite(smp[i].value))
			continue;
		eval_span(e, id, smp[i].value, smp[i].ts_ms, smp[i].ts_ms);
	}
}

static double bucket_value(const struct wt_bucket *b, unsigned metric)
{
	const struct wt_metric_info *mi = wt_metric_info((enum wt_metric)metric);
	if (mi && (mi->flags & WT_MF_COUNTER))
		return b->sum; /* the delta over the bucket */
	if (mi && (mi->flags & WT_MF_STATE))
		return b->max; /* any trip inside the bucket counts */
	return b->count ? b->sum / b->count : b->last;
}

void wt_rules_on_close(void *ctx, int64_t start, const struct wt_bucket *b, size_t n)
{
	struct wt_rules *e = ctx;
	double t0 = mono_ms();

	if (e->dirty && wt_rules_commit(e) != 0) {
		/* logged by the commit; evaluate what the failed commit left */
	}
	/* The rollup calls a second time for the same boundary with what its
	 * subscribers fed back for it (our aggregates): evaluate any other
	 * derived series, but sum and count nothing again. */
	bool derived = e->closed_any && start == e->last_start;
	e->closed_any = true;
	e->last_start = start;
	if (!derived)
		e->stats.closes++;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = b[i].series;
		if (id >= e->nser) {
			e->stats.unknown_series++;
			continue;
		}
		struct ser *s = &e->ser[id];
		if (s->agg >= 0)
			continue; /* our own feedback, evaluated when it was computed */
		if (s->dev < 0) {
			e->stats.unknown_series++;
			continue;
		}
		e->stats.buckets++;
		struct dev *d = &e->devs[s->dev];
		if (d->seen != start && !derived) {
			d->seen = start;
			for (int32_t el = d->rack; el >= 0; el = e->st->el[el].parent)
				e->elem_reporting[el]++;
		}
		double v = bucket_value(&b[i], s->metric);
		if (!isfinite(v))
			continue; /* the rollup drops these; never let one poison a sum */
		if (s->contrib_n && !derived)
			wt_rules_agg_add(e, s, v, b[i].quality);
		/* With samples evaluated as they arrive, the close only does
		 * counters; else every device series is evaluated here. */
		if (s->rule >= 0 && b[i].quality != WT_Q_BAD &&
		    (!e->sample_mode || is_counter(s->metric)))
			wt_rules_eval_one(e, id, v, start);
	}
	if (derived) {
		e->stats.last_close_ms += mono_ms() - t0;
		return;
	}
	wt_rules_agg_finish(e, start);
	for (size_t d = 0; e->comm_repeat_s > 0 && d < e->ndevs; d++)
		if (e->devs[d].comm)
			wt_alarms_maybe_repeat(e->alarms, e->devs[d].comm, e->comm_repeat_s);
	if (e->st && e->elem_reporting) {
		uint32_t *t = e->elem_last_reporting;
		e->elem_last_reporting = e->elem_reporting;
		e->elem_reporting = t;
		memset(e->elem_reporting, 0, (e->st->n + 1) * sizeof(uint32_t));
	}
	e->stats.last_close_ms = mono_ms() - t0;
}

/* ---- device alarms ---- */

static struct dev *find_dev(struct wt_rules *e, int64_t id)
{
	int32_t i = id > 0 ? wt_idmap_get(&e->devmap, (uint64_t)id) : -1;
	return i < 0 || e->devs[i].removed ? NULL : &e->devs[i];
}

void wt_rules_series_unbind(struct wt_rules *e, uint32_t series)
{
	if (series >= e->nser || !e->ser[series].bound)
		return;
	struct ser *s = &e->ser[series];
	clear_series_alarm(e, s);
	s->bound = false;
	s->dev = -1;
	s->rule = -1;
	s->rule_id = 0;
	s->contrib_n = 0;
	e->dirty = e->dirty_plan = true;
}

int wt_rules_device_remove(struct wt_rules *e, int64_t device_id)
{
	struct dev *d = find_dev(e, device_id);
	if (!d)
		return -ENOENT;
	if (d->comm)
		wt_alarms_clear(e->alarms, d->comm, 0);
	d->comm = NULL;
	/* Rare (an operator deletes a device), so a scan is fine. */
	for (size_t i = 0; i < e->nser; i++)
		if (e->ser[i].bound && e->ser[i].device_id == device_id)
			wt_rules_series_unbind(e, (uint32_t)i);
	d->removed = true;
	d->rack = -1;
	e->dirty = e->dirty_plan = true;
	return 0;
}

size_t wt_rules_clear_orphans(struct wt_rules *e)
{
	size_t n = wt_alarms_count(e->alarms), cleared = 0;
	int64_t *ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids)
		return 0;
	/* by id: clearing an acknowledged alarm frees it and reorders the table */
	for (size_t i = 0; i < n; i++)
		ids[i] = wt_alarms_at(e->alarms, i)->id;
	for (size_t i = 0; i < n; i++) {
		struct wt_alarm *al = wt_alarms_get(e->alarms, ids[i]);
		if (!al || !al->active)
			continue;
		bool orphan = false;
		if (al->kind == WT_ALARM_THRESHOLD)
			orphan = al->series >= e->nser ||
				 (!e->ser[al->series].bound && e->ser[al->series].agg < 0);
		else if (al->kind == WT_ALARM_COMM_LOST)
			orphan = !find_dev(e, al->device_id);
		if (!orphan)
			continue;
		if (al->kind == WT_ALARM_THRESHOLD && al->series < e->nser &&
		    e->ser[al->series].alarm == al) {
			clear_series_alarm(e, &e->ser[al->series]);
		} else {
			int32_t d = al->device_id > 0
					    ? wt_idmap_get(&e->devmap, (uint64_t)al->device_id)
					    : -1;
			if (d >= 0 && e->devs[d].comm == al)
				e->devs[d].comm = NULL;
			wt_alarms_clear(e->alarms, al, al->value);
		}
		cleared++;
	}
	free(ids);
	return cleared;
}

static void device_alarm_tmpl(struct wt_rules *e, const struct dev *d, enum wt_alarm_kind k,
			      uint8_t sev, const char *msg, struct wt_alarm *t)
{
	*t = (struct wt_alarm){.kind = k,
			       .severity = sev,
			       .thr = -1,
			       .device_id = d->id,
			       .element_id = d->rack >= 0 && e->st ? e->st->el[d->rack].id : 0,
			       .message = (char *)msg};
}

void wt_rules_device_comm(struct wt_rules *e, int64_t device_id, bool lost, const char *reason)
{
	struct dev *d = find_dev(e, device_id);
	if (!d) {
		wt_warn("rules: communication state for unknown device %lld ignored",
			(long long)device_id);
		return;
	}
	if (!lost) {
		if (d->comm)
			wt_alarms_clear(e->alarms, d->comm, 0);
		d->comm = NULL;
		return;
	}
	if (d->comm)
		return;
	char msg[512];
	struct wt_alarm t;
	snprintf(msg, sizeof(msg), "Communication lost with %s \"%s\"%s%s",
		 d->type[0] ? d->type : "device", d->name, reason && reason[0] ? ": " : "",
		 reason ? reason : "");
	device_alarm_tmpl(e, d, WT_ALARM_COMM_LOST, WT_SEV_CRITICAL, msg, &t);
	d->comm = wt_alarms_raise(e->alarms, &t);
}

void wt_rules_set_comm_repeat(struct wt_rules *e, int32_t repeat_s)
{
	e->comm_repeat_s = repeat_s > 0 ? repeat_s : 0;
}

void wt_rules_device_rebooted(struct wt_rules *e, int64_t device_id)
{
	struct dev *d = find_dev(e, device_id);
	if (!d) {
		wt_warn("rules: reboot of unknown device %lld ignored", (long long)device_id);
		return;
	}
	char msg[256];
	struct wt_alarm t;
	snprintf(msg, sizeof(msg), "%s \"%s\" restarted", d->type[0] ? d->type : "device", d->name);
	device_alarm_tmpl(e, d, WT_ALARM_REBOOT, WT_SEV_WARNING, msg, &t);
	/* An event, not a condition: it is over at once, and stays listed until
	 * somebody acknowledges it. */
	struct wt_alarm *al = wt_alarms_raise(e->alarms, &t);
	if (al)
		wt_alarms_clear(e->alarms, al, 0);
}

/* ---- queries ---- */

size_t wt_rules_agg_pending(const struct wt_rules *e)
{
	return e->agg_pending;
}

uint32_t wt_rules_agg_series(const struct wt_rules *e, const struct wt_agg_key *k)
{
	int32_t el = e->st ? wt_structure_find(e->st, k->element_id) : -1;
	if (el < 0)
		return 0;
	int32_t a = wt_rules_agg_find(e, el, k->feed, k->phase, k->metric);
	return a < 0 ? 0 : e->aggs[a].series;
}

int wt_rules_agg_members(const struct wt_rules *e, uint32_t series, uint32_t *present,
			 uint32_t *expected)
{
	if (series >= e->nser || e->ser[series].agg < 0)
		return -ENOENT;
	const struct agg *a = &e->aggs[e->ser[series].agg];
	*present = a->last_present;
	*expected = a->expected;
	return 0;
}

int wt_rules_element_devices(const struct wt_rules *e, int64_t element_id, uint32_t *reporting,
			     uint32_t *expected)
{
	int32_t el = e->st && e->elem_expected ? wt_structure_find(e->st, element_id) : -1;
	if (el < 0)
		return -ENOENT;
	*reporting = e->elem_last_reporting[el];
	*expected = e->elem_expected[el];
	return 0;
}
