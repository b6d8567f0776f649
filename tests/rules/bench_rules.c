/* Benchmark of the rules layer at data-centre scale: 1,000,000 device
 * series on 40,000 three-phase PDUs (an A and a B PDU in each of 20,000
 * racks, 1,000 rows, 50 rooms), 10,000 rules over every scope. Measures the
 * commit (resolution + aggregate plan) and full 5 s closes: every device
 * bucket evaluated, every rack/row/room aggregate summed, evaluated and fed
 * back. Times are CPU time of this thread (the machine is shared). Not a
 * test: it measures and prints.
 *
 *   bench_rules [--quick] [--closes N]
 *
 * Last line: RESULT rules series=.. rules=.. close_ms=.. eval_ns_per_series=.. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Aggregate ids: a counter, as a registry would hand them out. */
static uint32_t agg_base, agg_next;
static int reg(void *ctx, const struct wt_agg_key *k, uint32_t *id)
{
	(void)ctx;
	(void)k;
	*id = agg_next++; /* dense, after the device series, as the series table does */
	return 0;
}

static uint64_t fed_back;
static void sink(void *ctx, const struct wt_sample *s, size_t n)
{
	(void)ctx;
	(void)s;
	fed_back += n;
}

static uint64_t alarm_events;
static void on_alarm(void *ctx, const struct wt_alarm_event *ev)
{
	(void)ctx;
	(void)ev;
	alarm_events++;
}

/* Per PDU: 9 inlet series, 3 per phase, 7 outlets: 25. */
static const int inlet_metrics[9] = {
	WT_M_POWER_ACTIVE,  WT_M_POWER_APPARENT,  WT_M_POWER_REACTIVE,
	WT_M_ENERGY_ACTIVE, WT_M_NEUTRAL_CURRENT, WT_M_RESIDUAL_CURRENT,
	WT_M_VOLTAGE,       WT_M_FREQUENCY,       WT_M_POWER_FACTOR};
static const int phase_metrics[3] = {WT_M_CURRENT, WT_M_POWER_ACTIVE, WT_M_VOLTAGE};
#define PER_DEV 25
#define OUTLETS 7

static double typical(int metric)
{
	switch (metric) {
	case WT_M_VOLTAGE:
		return 230;
	case WT_M_FREQUENCY:
		return 50;
	case WT_M_POWER_FACTOR:
		return 0.95;
	case WT_M_CURRENT:
		return 4;
	case WT_M_NEUTRAL_CURRENT:
		return 0.5;
	case WT_M_RESIDUAL_CURRENT:
		return 0.01;
	case WT_M_ENERGY_ACTIVE:
		return 3.5;
	default:
		return 900;
	}
}

int main(int argc, char **argv)
{
	bool quick = false;
	int closes = 10;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--closes") == 0 && i + 1 < argc)
			closes = (int)strtol(argv[++i], NULL, 10);
	}
	int scale = quick ? 10 : 1;
	int rooms = 50 / scale, rows = 1000 / scale, racks = 20000 / scale;
	int nrules = 10000 / scale;
	int devs = racks * 2;
	if (quick)
		closes = 3;
	if (closes < 1)
		closes = 1;

	int64_t now = 1700000000000LL;
	struct wt_clock clock = {wt_clock_manual_now, &now};
	struct wt_rules *e = wt_rules_new(&clock);
	struct wt_agg_registry r = {reg, NULL};
	struct wt_sample_sink fb = {sink, NULL};
	wt_rules_set_registry(e, &r);
	wt_rules_set_feedback(e, &fb);
	if (wt_alarms_subscribe(wt_rules_alarms(e), on_alarm, NULL))
		return 1;

	/* structure: ids 1 site, 10.. rooms, rows, racks */
	struct wt_structure *st = wt_structure_new();
	int64_t room0 = 10, row0 = room0 + rooms, rack0 = row0 + rows;
	int rc = wt_structure_add(st, 1, 0, WT_EL_DC, "site", NULL, 0, 0);
	char name[32];
	for (int i = 0; i < rooms && !rc; i++) {
		snprintf(name, sizeof(name), "room %d", i);
		rc = wt_structure_add(st, room0 + i, 1, WT_EL_ROOM, name, NULL, 0, 0);
	}
	for (int i = 0; i < rows && !rc; i++) {
		snprintf(name, sizeof(name), "row %d", i);
		rc = wt_structure_add(st, row0 + i, room0 + i % rooms, WT_EL_ROW, name, NULL, 0, 0);
	}
	for (int i = 0; i < racks && !rc; i++) {
		snprintf(name, sizeof(name), "rack %d", i);
		rc = wt_structure_add(st, rack0 + i, row0 + i % rows, WT_EL_RACK, name, NULL, 0, 0);
	}
	for (int d = 0; d < devs && !rc; d++)
		rc = wt_structure_place(st, d + 1, rack0 + d / 2, d % 2 ? WT_FEED_B : WT_FEED_A);
	if (rc || wt_structure_index(st)) {
		fprintf(stderr, "structure failed\n");
		return 1;
	}
	wt_rules_set_structure(e, st);

	/* devices and their series: series id = d * 25 + k + 1 */
	static const char *const models[] = {"PX3-5190", "PX3-5466", "AP8858", "AP8959", "G4-1234"};
	size_t nseries = (size_t)devs * PER_DEV;
	agg_base = agg_next = (uint32_t)nseries + 1;
	int *metric_of = calloc(nseries + 1, sizeof(int));
	for (int d = 0; d < devs && !rc; d++) {
		snprintf(name, sizeof(name), "pdu %d", d + 1);
		struct wt_rules_device di = {d + 1, name, "PDU", models[d % 5], 16};
		rc = wt_rules_device_set(e, &di);
		uint32_t sid = (uint32_t)d * PER_DEV + 1;
		int64_t ent = (int64_t)d * 100 + 1;
		for (int k = 0; k < 9 && !rc; k++, sid++) {
			struct wt_rules_series s = {
				sid, d + 1, ent, WT_ENT_INLET, 1, 0, inlet_metrics[k], "Inlet"};
			metric_of[sid] = inlet_metrics[k];
			rc = wt_rules_series_set(e, &s);
		}
		for (int p = 1; p <= 3 && !rc; p++)
			for (int k = 0; k < 3 && !rc; k++, sid++) {
				struct wt_rules_series s = {
					sid, d + 1,      ent + p,          WT_ENT_PHASE,
					p,   (uint8_t)p, phase_metrics[k], "L"};
				metric_of[sid] = phase_metrics[k];
				rc = wt_rules_series_set(e, &s);
			}
		for (int o = 1; o <= OUTLETS && !rc; o++, sid++) {
			struct wt_rules_series s = {sid,           d + 1,   ent + 10 + o,
						    WT_ENT_OUTLET, o,       (uint8_t)(1 + o % 3),
						    WT_M_CURRENT,  "Outlet"};
			metric_of[sid] = WT_M_CURRENT;
			rc = wt_rules_series_set(e, &s);
		}
	}
	if (rc) {
		fprintf(stderr, "binding failed: %d\n", rc);
		return 1;
	}

	/* rules over every scope; thresholds above normal values, so the
	 * steady state is quiet except for the few set to trip */
	struct wt_rule *rules = calloc((size_t)nrules, sizeof(*rules));
	for (int i = 0; i < nrules; i++) {
		struct wt_rule *x = &rules[i];
		int kind = i % 20;
		x->id = i + 1;
		x->enabled = true;
		x->entity_kind = -1;
		x->hysteresis = 0.5;
		x->dwell_s = (int32_t)(i % 3) * 5;
		x->repeat_s = 1800;
		snprintf(name, sizeof(name), "rule %d", i + 1);
		x->name = strdup(name);
		uint64_t v = rnd();
		if (kind < 8) { /* entity: an outlet current */
			int d = (int)(v % (uint64_t)devs);
			x->scope = WT_SCOPE_ENTITY;
			x->scope_id = (int64_t)d * 100 + 11 + (int64_t)(v >> 32) % OUTLETS;
			x->metric = WT_M_CURRENT;
		} else if (kind < 15) { /* device */
			x->scope = WT_SCOPE_DEVICE;
			x->scope_id = 1 + (int64_t)(v % (uint64_t)devs);
			x->metric = (v >> 40) & 1 ? WT_M_VOLTAGE : WT_M_CURRENT;
		} else if (kind < 18) { /* rack/row/room aggregates */
			static const enum wt_scope sc[3] = {WT_SCOPE_RACK, WT_SCOPE_ROW,
							    WT_SCOPE_ROOM};
			int w = (int)((v >> 8) % 3);
			x->scope = sc[w];
			x->scope_id = w == 0   ? rack0 + (int64_t)(v % (uint64_t)racks)
				      : w == 1 ? row0 + (int64_t)(v % (uint64_t)rows)
					       : room0 + (int64_t)(v % (uint64_t)rooms);
			x->metric = (v >> 40) & 1 ? WT_M_POWER_ACTIVE : WT_M_CURRENT;
		} else if (kind == 18) { /* model */
			x->scope = WT_SCOPE_MODEL;
			x->scope_text = strdup(models[v % 5]);
			x->metric = WT_M_VOLTAGE;
		} else { /* global, per metric and some per kind */
			x->scope = WT_SCOPE_GLOBAL;
			x->metric = (int)(v % WT_M__COUNT);
			x->entity_kind = (v >> 20) & 1 ? WT_ENT_OUTLET : -1;
		}
		/* Realistic limits: per metric, and far higher for aggregates
		 * (a row carries many racks), so the steady state is quiet. */
		double base = x->metric == WT_M_VOLTAGE ? 230 : typical(x->metric) * 4;
		if (x->scope >= WT_SCOPE_DC)
			base = typical(x->metric) * 400;
		x->thr[WT_THR_CRIT_ABOVE] = base * 1.2;
		x->thr_on[WT_THR_CRIT_ABOVE] = true;
		x->thr[WT_THR_WARN_ABOVE] = base * 1.1;
		x->thr_on[WT_THR_WARN_ABOVE] = true;
		x->thr[WT_THR_WARN_BELOW] = x->metric == WT_M_VOLTAGE ? 207 : -1;
		x->thr_on[WT_THR_WARN_BELOW] = true;
	}
	/* a shallow copy (strings shared with the engine's set until it is
	 * replaced) to make the rule-edit commit below */
	struct wt_rule *rules_copy = malloc((size_t)nrules * sizeof(*rules_copy));
	memcpy(rules_copy, rules, (size_t)nrules * sizeof(*rules_copy));
	for (int i = 0; i < nrules; i++) {
		rules_copy[i].name = strdup(rules[i].name);
		rules_copy[i].scope_text = rules[i].scope_text ? strdup(rules[i].scope_text) : NULL;
	}
	wt_rules_set_rules(e, rules, (size_t)nrules);

	double c0 = cpu_ms();
	if (wt_rules_commit(e)) {
		fprintf(stderr, "commit failed\n");
		return 1;
	}
	double commit_ms = cpu_ms() - c0;
	size_t naggs = agg_next - agg_base;

	/* one close's buckets, built outside the timed part */
	struct wt_bucket *b = malloc(nseries * sizeof(*b));
	double *base = malloc(nseries * sizeof(double));
	for (size_t i = 0; i < nseries; i++) {
		uint32_t sid = (uint32_t)i + 1;
		base[i] = typical(metric_of[sid]) * (0.95 + (double)(rnd() % 1000) / 10000.0);
		b[i] = (struct wt_bucket){.series = sid, .count = 1, .quality = WT_Q_GOOD};
	}
	/* a few outlets run hot, so alarms are raised and cleared along the way */
	double total_cpu = 0, worst_cpu = 0, total_wall = 0;
	int64_t t = now - now % WT_BUCKET_MS;
	for (int c = 0; c < closes; c++) {
		for (size_t i = 0; i < nseries; i++) {
			double v = base[i] *
				   (0.98 + (double)((i + (size_t)c * 7919) % 40) / 1000.0);
			if (i % 50021 == 20 && c % 4 >= 2)
				v = 40; /* hot outlet */
			b[i].start_ms = t;
			b[i].min = b[i].max = b[i].sum = b[i].last = v;
		}
		/* one PDU in a hundred unreachable this close: partial racks */
		size_t n = 0;
		for (size_t i = 0; i < nseries; i++)
			if ((i / PER_DEV) % 100 != (size_t)c % 100)
				b[n++] = b[i];
		now = t + WT_BUCKET_MS + 500;
		double w0 = wall_ms(), k0 = cpu_ms();
		wt_rules_on_close(e, t, b, n);
		double k = cpu_ms() - k0, w = wall_ms() - w0;
		total_cpu += k;
		total_wall += w;
		if (k > worst_cpu)
			worst_cpu = k;
		/* restore the array for the next round */
		for (size_t i = 0; i < nseries; i++)
			b[i].series = (uint32_t)i + 1;
		t += WT_BUCKET_MS;
	}
	/* A rule edit: the same rules again, resolution only (no re-plan). */
	struct wt_rule *again = calloc((size_t)nrules, sizeof(*again));
	for (int i = 0; i < nrules; i++) {
		again[i] = rules_copy[i];
		again[i].name = strdup(rules_copy[i].name);
		again[i].scope_text = rules_copy[i].scope_text ? strdup(rules_copy[i].scope_text)
							       : NULL;
	}
	wt_rules_set_rules(e, again, (size_t)nrules);
	c0 = cpu_ms();
	if (wt_rules_commit(e)) {
		fprintf(stderr, "commit failed\n");
		return 1;
	}
	double rules_commit_ms = cpu_ms() - c0;
	const struct wt_rules_stats *s = wt_rules_stats(e);
	double close_ms = total_cpu / closes;
	printf("structure: %d rooms, %d rows, %d racks, %d PDUs\n", rooms, rows, racks, devs);
	printf("series: %zu device + %zu aggregate; rules: %d\n", nseries, naggs, nrules);
	printf("commit (resolution + aggregate plan): %.1f ms CPU\n", commit_ms);
	printf("commit after a rule edit (resolution only): %.1f ms CPU\n", rules_commit_ms);
	printf("close: %.1f ms CPU average, %.1f ms worst, %.1f ms wall average over %d closes\n",
	       close_ms, worst_cpu, total_wall / closes, closes);
	printf("per close: %.0f device buckets, %.0f evaluations, %.0f aggregates (%.0f partial), %.0f fed back\n",
	       (double)s->buckets / closes, (double)s->evaluations / closes,
	       (double)s->aggregates / closes, (double)s->partial / closes,
	       (double)fed_back / closes);
	printf("alarm events: %llu\n", (unsigned long long)alarm_events);
	printf("RESULT rules series=%zu rules=%d close_ms=%.1f eval_ns_per_series=%.1f commit_ms=%.0f "
	       "rule_commit_ms=%.0f aggregates=%zu\n",
	       nseries, nrules, close_ms, close_ms * 1e6 / (double)(nseries + naggs), commit_ms,
	       rules_commit_ms, naggs);
	for (int i = 0; i < nrules; i++)
		wt_rule_clear(&rules_copy[i]);
	free(rules_copy);
	free(b);
	free(base);
	free(metric_of);
	wt_rules_free(e);
	return 0;
}
