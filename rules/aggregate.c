/* Rack, row, room and data-centre aggregates. The plan (which series feed
 * which aggregate) is computed at commit; at each close every member
 * bucket adds its value to at most WT_AGG_MAX_CONTRIB aggregates, then
 * every aggregate with members is evaluated and fed back to the rollup. */
#include "engine_int.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FEEDBACK_CHUNK 4096

/* Currents do not add up across phases into anything meaningful; powers
 * and energies do. */
static bool current_like(unsigned m)
{
	return m == WT_M_CURRENT || m == WT_M_NEUTRAL_CURRENT || m == WT_M_RESIDUAL_CURRENT;
}

void wt_rules_agg_free(struct wt_rules *e)
{
	for (size_t i = 0; i < e->naggs; i++)
		if (e->aggs[i].series && e->aggs[i].series < e->nser) {
			e->ser[e->aggs[i].series].agg = -1;
			e->ser[e->aggs[i].series].was_agg = true;
		}
	free(e->aggs);
	free(e->contrib);
	for (size_t t = 0; t < e->naggtab; t++)
		free(e->aggtab[t]);
	free(e->aggtab);
	e->aggtab = NULL;
	e->naggtab = 0;
	e->aggs = NULL;
	e->contrib = NULL;
	e->naggs = e->nplain = e->ncontrib = 0;
}

static int32_t agg_get(struct wt_rules *e, size_t *cap, int32_t el, unsigned feed, unsigned phase,
		       unsigned metric)
{
	size_t t = (size_t)el * WT_FEED__COUNT + feed;
	if (t >= e->naggtab || phase > 3 || metric >= WT_M__COUNT)
		return -EINVAL;
	if (!e->aggtab[t]) {
		if (!(e->aggtab[t] = malloc(WT_AGG_SLOTS * sizeof(int32_t))))
			return -ENOMEM;
		for (size_t k = 0; k < WT_AGG_SLOTS; k++)
			e->aggtab[t][k] = -1;
	}
	int32_t *slot = &e->aggtab[t][phase * WT_M__COUNT + metric];
	if (*slot >= 0)
		return *slot;
	if (e->naggs == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct agg *a = realloc(e->aggs, c * sizeof(*a));
		if (!a)
			return -ENOMEM;
		e->aggs = a;
		*cap = c;
	}
	int32_t i = (int32_t)e->naggs;
	*slot = i;
	e->aggs[e->naggs++] = (struct agg){.element = el,
					   .feed = (uint8_t)feed,
					   .phase = (uint8_t)phase,
					   .metric = (uint8_t)metric,
					   .ha = -1,
					   .hb = -1};
	return i;
}

/* The phases (0 = total) a member series contributes to. */
static int targets(const struct wt_rules *e, const struct ser *s, uint8_t out[2])
{
	const struct dev *d = &e->devs[s->dev];
	uint64_t bit = 1ULL << s->metric;
	int n = 0;

	if (s->phase >= 1 && s->phase <= 3 && (s->kind == WT_ENT_INLET || s->kind == WT_ENT_PHASE))
		out[n++] = s->phase;
	/* One source per device for the total, never two: the inlet, else the
	 * device total, else (powers and energies only) its phases. */
	if (s->kind == WT_ENT_INLET)
		out[n++] = 0;
	else if (s->kind == WT_ENT_TOTAL && !(d->has_inlet & bit))
		out[n++] = 0;
	else if (s->kind == WT_ENT_PHASE && !current_like(s->metric) &&
		 !((d->has_inlet | d->has_total) & bit))
		out[n++] = 0;
	return n;
}

static bool member_kind(unsigned kind)
{
	return kind == WT_ENT_INLET || kind == WT_ENT_PHASE || kind == WT_ENT_TOTAL;
}

static bool is_member(const struct wt_rules *e, const struct ser *s)
{
	const struct wt_metric_info *mi = wt_metric_info((enum wt_metric)s->metric);
	return s->bound && s->dev >= 0 && e->devs[s->dev].rack >= 0 && member_kind(s->kind) && mi &&
	       (mi->flags & WT_MF_SUMMABLE);
}

static int plan_members(struct wt_rules *e, size_t *cap)
{
	size_t ccap = 0;

	for (size_t d = 0; d < e->ndevs; d++)
		e->devs[d].has_inlet = e->devs[d].has_total = 0;
	for (size_t i = 0; i < e->nser; i++) {
		struct ser *s = &e->ser[i];
		s->contrib_n = 0;
		if (!is_member(e, s))
			continue;
		if (s->kind == WT_ENT_INLET)
			e->devs[s->dev].has_inlet |= 1ULL << s->metric;
		else if (s->kind == WT_ENT_TOTAL)
			e->devs[s->dev].has_total |= 1ULL << s->metric;
	}
	for (size_t i = 0; i < e->nser; i++) {
		struct ser *s = &e->ser[i];
		if (!is_member(e, s))
			continue;
		const struct dev *d = &e->devs[s->dev];
		uint8_t ph[2];
		int nph = targets(e, s, ph);
		if (ccap < e->ncontrib + WT_AGG_MAX_CONTRIB) {
			size_t c = ccap ? ccap * 2 : 1024;
			int32_t *v = realloc(e->contrib, c * sizeof(*v));
			if (!v)
				return -ENOMEM;
			e->contrib = v;
			ccap = c;
		}
		s->contrib_off = (uint32_t)e->ncontrib;
		for (int32_t el = d->rack; el >= 0; el = e->st->el[el].parent)
			for (int f = 0; f < 2; f++) {
				unsigned feed = f ? d->feed : WT_FEED_NONE;
				if (f && feed == WT_FEED_NONE)
					continue;
				for (int p = 0; p < nph; p++) {
					int32_t a = agg_get(e, cap, el, feed, ph[p], s->metric);
					if (a < 0)
						return a;
					e->aggs[a].expected++;
					e->contrib[e->ncontrib++] = a;
					s->contrib_n++;
				}
			}
	}
	return 0;
}

static int plan_headroom(struct wt_rules *e, size_t *cap)
{
	const struct wt_structure *st = e->st;
	double(*rating)[2] = calloc(st->n ? st->n : 1, sizeof(*rating));
	if (!rating)
		return -ENOMEM;
	for (size_t d = 0; d < e->ndevs; d++) {
		const struct dev *v = &e->devs[d];
		if (v->rack >= 0 && (v->feed == WT_FEED_A || v->feed == WT_FEED_B) &&
		    v->rating_a > 0)
			rating[v->rack][v->feed - WT_FEED_A] += v->rating_a;
	}
	int rc = 0;
	for (size_t r = 0; r < st->n && !rc; r++) {
		if (st->el[r].kind != WT_EL_RACK || rating[r][0] <= 0 || rating[r][1] <= 0)
			continue;
		bool any = false;
		/* Phases L1..L3 first; the total only for racks without phase data. */
		static const unsigned order[4] = {1, 2, 3, 0};
		for (int k = 0; k < 4 && !rc; k++) {
			unsigned p = order[k];
			if (p == 0 && any)
				break;
			int32_t ia = wt_rules_agg_find(e, (int32_t)r, WT_FEED_A, p, WT_M_CURRENT);
			int32_t ib = wt_rules_agg_find(e, (int32_t)r, WT_FEED_B, p, WT_M_CURRENT);
			if (ia < 0 || ib < 0)
				continue;
			any = true;
			for (int f = 0; f < 2; f++) {
				int32_t h = agg_get(e, cap, (int32_t)r, WT_FEED_A + f, p,
						    WT_M_HEADROOM);
				if (h < 0) {
					rc = h;
					break;
				}
				e->aggs[h].ha = ia;
				e->aggs[h].hb = ib;
				e->aggs[h].rating = rating[r][f];
				e->aggs[h].expected = e->aggs[ia].expected + e->aggs[ib].expected;
			}
		}
	}
	free(rating);
	return rc;
}

static int plan_register(struct wt_rules *e)
{
	for (size_t i = 0; i < e->naggs; i++) {
		struct agg *a = &e->aggs[i];
		const struct wt_element *el = &e->st->el[a->element];
		struct wt_agg_key k = {el->id, el->kind, a->feed, a->phase, a->metric};
		uint32_t id = 0;
		if (!e->reg.series_id)
			continue; /* computed and reported, but neither stored nor evaluated */
		int rc = e->reg.series_id(e->reg.ctx, &k, &id);
		if (rc == -EAGAIN) {
			e->agg_pending++; /* the registry creates it; the next commit binds it */
			continue;
		}
		if (rc || !id) {
			wt_error("rules: no series for aggregate %s %lld feed %s phase %u %s: %d",
				 wt_elem_kind_name(el->kind), (long long)el->id,
				 wt_feed_name(a->feed), a->phase,
				 wt_metric_info((enum wt_metric)a->metric)->name, rc);
			continue;
		}
		rc = wt_rules_grow_series(e, id);
		if (rc)
			return rc;
		struct ser *s = &e->ser[id];
		if (s->bound || s->agg >= 0) {
			wt_error("rules: registry gave series %u to two owners; aggregate ignored",
				 id);
			continue;
		}
		a->series = id;
		s->agg = (int32_t)i;
		s->dev = -1;
		s->metric = a->metric;
		s->phase = a->phase;
	}
	return 0;
}

int wt_rules_agg_plan(struct wt_rules *e)
{
	size_t cap = 0;
	int rc;

	wt_rules_agg_free(e);
	e->agg_pending = 0;
	if (!e->st)
		return 0;
	e->aggtab = calloc(e->st->n * WT_FEED__COUNT + 1, sizeof(*e->aggtab));
	if (!e->aggtab)
		return -ENOMEM;
	e->naggtab = e->st->n * WT_FEED__COUNT;
	if ((rc = plan_members(e, &cap)) != 0)
		return rc;
	e->nplain = e->naggs;
	if ((rc = plan_headroom(e, &cap)) != 0)
		return rc;
	return plan_register(e);
}

void wt_rules_agg_add(struct wt_rules *e, const struct ser *s, double v, uint8_t quality)
{
	const int32_t *c = e->contrib + s->contrib_off;
	for (unsigned i = 0; i < s->contrib_n; i++) {
		struct agg *a = &e->aggs[c[i]];
		a->sum += v;
		a->present++;
		if (quality > a->qacc)
			a->qacc = quality;
	}
}

static void feedback_flush(struct wt_rules *e)
{
	if (e->fbuf_n && e->feedback.emit)
		e->feedback.emit(e->feedback.ctx, e->fbuf, e->fbuf_n);
	e->fbuf_n = 0;
}

static void emit(struct wt_rules *e, struct agg *a, int64_t start)
{
	e->stats.aggregates++;
	if (a->quality == WT_Q_ESTIMATED && a->last_present < a->expected)
		e->stats.partial++;
	if (!a->series)
		return;
	wt_rules_eval_one(e, a->series, a->value, start);
	if (!e->feedback.emit)
		return;
	if (!e->fbuf && !(e->fbuf = malloc(FEEDBACK_CHUNK * sizeof(*e->fbuf))))
		return;
	/* Counters (energy) go back as a running total, like a device's
	 * counter, so the rollup turns them into deltas with every other
	 * counter; a new plan starts from 0, which it reads as a reset. */
	const struct wt_metric_info *mi = wt_metric_info((enum wt_metric)a->metric);
	bool counter = mi && (mi->flags & WT_MF_COUNTER);
	if (counter)
		a->total += a->value;
	e->fbuf[e->fbuf_n++] = (struct wt_sample){.series = a->series,
						  .quality = a->quality,
						  .ts_ms = start,
						  .value = counter ? a->total : a->value};
	if (e->fbuf_n == FEEDBACK_CHUNK)
		feedback_flush(e);
}

void wt_rules_agg_finish(struct wt_rules *e, int64_t start)
{
	for (size_t i = 0; i < e->nplain; i++) {
		struct agg *a = &e->aggs[i];
		a->fresh = a->present > 0;
		a->last_present = a->present;
		if (a->fresh) {
			a->value = a->sum;
			a->quality = a->qacc;
			/* Partial is visible: a rack with a PDU missing is not just low. */
			if (a->present < a->expected && a->quality < WT_Q_ESTIMATED)
				a->quality = WT_Q_ESTIMATED;
			emit(e, a, start);
		}
		a->sum = 0;
		a->present = 0;
		a->qacc = WT_Q_GOOD;
	}
	for (size_t i = e->nplain; i < e->naggs; i++) {
		struct agg *h = &e->aggs[i];
		const struct agg *a = &e->aggs[h->ha], *b = &e->aggs[h->hb];
		h->fresh = a->fresh && b->fresh;
		h->last_present = h->fresh ? a->last_present + b->last_present : 0;
		if (!h->fresh)
			continue;
		h->value = h->rating - (a->value + b->value);
		h->quality = a->quality > b->quality ? a->quality : b->quality;
		emit(e, h, start);
	}
	feedback_flush(e);
}
