/* Unit tests of the rules layer with a manual clock: scope precedence,
 * dwell / hysteresis / repeat, escalation, aggregates (checked against sums
 * computed here independently), partial racks, redundancy headroom,
 * built-in device alarms and restored alarms. */
#include "alarm.h"
#include "engine.h"
#include "rule.h"
#include "structure.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/check.h"

static int64_t now_ms;
static const struct wt_clock manual = {wt_clock_manual_now, &now_ms};

/* --- a registry: aggregate key -> series id from 100000 up --- */
#define REG_MAX 4096
static struct wt_agg_key reg_keys[REG_MAX];
static size_t reg_n;
static int reg_get(void *ctx, const struct wt_agg_key *k, uint32_t *id)
{
	(void)ctx;
	for (size_t i = 0; i < reg_n; i++)
		if (!memcmp(&reg_keys[i], k, sizeof(*k))) {
			*id = 100000 + (uint32_t)i;
			return 0;
		}
	if (reg_n == REG_MAX)
		return -1;
	memset(&reg_keys[reg_n], 0, sizeof(*k));
	reg_keys[reg_n] = *k;
	*id = 100000 + (uint32_t)reg_n++;
	return 0;
}

/* --- feedback: last value and quality per aggregate series --- */
static double fb_val[REG_MAX];
static int fb_q[REG_MAX];
static int64_t fb_ts[REG_MAX];
static bool fb_has[REG_MAX];
static void fb_emit(void *ctx, const struct wt_sample *s, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++) {
		uint32_t k = s[i].series - 100000;
		if (k < REG_MAX) {
			fb_val[k] = s[i].value;
			fb_q[k] = s[i].quality;
			fb_ts[k] = s[i].ts_ms;
			fb_has[k] = true;
		}
	}
}

/* --- alarm events --- */
static int ev_count[WT_ALARM_CHANGE__COUNT];
static char last_msg[512];
static void on_alarm(void *ctx, const struct wt_alarm_event *ev)
{
	(void)ctx;
	ev_count[ev->change]++;
	snprintf(last_msg, sizeof(last_msg), "%s", ev->alarm->message ? ev->alarm->message : "");
}
static void ev_reset(void)
{
	memset(ev_count, 0, sizeof(ev_count));
}

static struct wt_bucket bk(uint32_t series, int64_t start, double v)
{
	return (struct wt_bucket){.series = series,
				  .count = 1,
				  .start_ms = start,
				  .min = v,
				  .max = v,
				  .sum = v,
				  .last = v,
				  .quality = WT_Q_GOOD};
}

static void close_at(struct wt_rules *e, int64_t start, struct wt_bucket *b, size_t n)
{
	now_ms = start + WT_BUCKET_MS + 500;
	memset(fb_has, 0, sizeof(fb_has));
	wt_rules_on_close(e, start, b, n);
}

static struct wt_rule mkrule(int64_t id, const char *name, int metric, enum wt_scope scope,
			     int64_t scope_id, const char *text)
{
	struct wt_rule r = {.id = id,
			    .name = strdup(name),
			    .enabled = true,
			    .metric = metric,
			    .scope = scope,
			    .scope_id = scope_id,
			    .scope_text = text ? strdup(text) : NULL,
			    .entity_kind = -1};
	return r;
}

static void thr(struct wt_rule *r, int t, double v)
{
	r->thr[t] = v;
	r->thr_on[t] = true;
}

static uint32_t agg(struct wt_rules *e, int64_t el, enum wt_elem_kind k, int feed, int phase,
		    int metric)
{
	struct wt_agg_key key;
	memset(&key, 0, sizeof(key));
	key.element_id = el;
	key.element_kind = k;
	key.feed = (uint8_t)feed;
	key.phase = (uint8_t)phase;
	key.metric = (uint8_t)metric;
	return wt_rules_agg_series(e, &key);
}

/* Structure: dc 1 > room 10 > rows 100, 101 > racks 1000, 1001 (row 100), 1010 (row 101). */
static struct wt_structure *mkstructure(void)
{
	struct wt_structure *s = wt_structure_new();
	int rc = wt_structure_add(s, 1, 0, WT_EL_DC, "DC1", NULL, 0, 0);
	rc |= wt_structure_add(s, 10, 1, WT_EL_ROOM, "Room 1", "{\"floor\":2}", 0, 0);
	rc |= wt_structure_add(s, 100, 10, WT_EL_ROW, "Row A", NULL, 0, 0);
	rc |= wt_structure_add(s, 101, 10, WT_EL_ROW, "Row B", NULL, 0, 0);
	rc |= wt_structure_add(s, 1000, 100, WT_EL_RACK, "R1", NULL, 8000, 32);
	rc |= wt_structure_add(s, 1001, 100, WT_EL_RACK, "R2", NULL, 8000, 32);
	rc |= wt_structure_add(s, 1010, 101, WT_EL_RACK, "R3", NULL, 0, 0);
	rc |= wt_structure_place(s, 1, 1000, WT_FEED_A);
	rc |= wt_structure_place(s, 2, 1000, WT_FEED_B);
	rc |= wt_structure_place(s, 3, 1001, WT_FEED_A);
	rc |= wt_structure_place(s, 4, 1010, WT_FEED_NONE);
	rc |= wt_structure_index(s);
	CHECK(rc == 0, "structure builds");
	return s;
}

static void test_structure(void)
{
	struct wt_structure *s = wt_structure_new();
	CHECK(wt_structure_add(s, 5, 0, WT_EL_DC, "x", NULL, 0, 0) == 0, "add dc");
	CHECK(wt_structure_add(s, 6, 5, WT_EL_ROW, "row under dc", NULL, 0, 0) == 0, "add row");
	CHECK(wt_structure_index(s) != 0, "row directly under a data centre refused");
	wt_structure_free(s);
	s = wt_structure_new();
	CHECK(wt_structure_add(s, 5, 0, WT_EL_DC, "x", NULL, 0, 0) == 0, "add dc");
	CHECK(wt_structure_place(s, 9, 5, WT_FEED_A) == 0, "place");
	CHECK(wt_structure_index(s) != 0, "device placed in a data centre refused");
	wt_structure_free(s);
	CHECK(wt_feed_by_name("b") == WT_FEED_B && wt_elem_kind_by_name("rack") == WT_EL_RACK,
	      "names");
}

/* Pure state machine: thresholds, hysteresis, dwell, below thresholds. */
static void test_state_machine(void)
{
	struct wt_rule r = mkrule(1, "t", WT_M_VOLTAGE, WT_SCOPE_GLOBAL, 0, NULL);
	thr(&r, WT_THR_CRIT_ABOVE, 250);
	thr(&r, WT_THR_WARN_ABOVE, 240);
	thr(&r, WT_THR_WARN_BELOW, 210);
	thr(&r, WT_THR_CRIT_BELOW, 200);
	r.hysteresis = 2;
	const char *why;
	CHECK(wt_rule_validate(&r, &why) == 0, "valid rule");
	struct wt_rule_state st = {.thr = -1};
	struct wt_rule_step s = wt_rule_eval(&r, &st, 230, 0, 5000);
	CHECK(s.to == WT_SEV_OK, "230 V is ok");
	s = wt_rule_eval(&r, &st, 245, 5000, 10000);
	CHECK(s.to == WT_SEV_WARNING && s.thr == WT_THR_WARN_ABOVE, "245 V warning above");
	s = wt_rule_eval(&r, &st, 251, 10000, 15000);
	CHECK(s.to == WT_SEV_CRITICAL && s.thr == WT_THR_CRIT_ABOVE, "251 V critical");
	s = wt_rule_eval(&r, &st, 249, 15000, 20000);
	CHECK(s.to == WT_SEV_CRITICAL, "249 V stays critical inside the band");
	s = wt_rule_eval(&r, &st, 247.9, 20000, 25000);
	CHECK(s.to == WT_SEV_WARNING, "247.9 V drops to warning, got %d", s.to);
	s = wt_rule_eval(&r, &st, 238.5, 25000, 30000);
	CHECK(s.to == WT_SEV_WARNING, "238.5 V stays warning inside the band");
	s = wt_rule_eval(&r, &st, 237.9, 30000, 35000);
	CHECK(s.to == WT_SEV_OK, "237.9 V clears");
	s = wt_rule_eval(&r, &st, 199, 35000, 40000);
	CHECK(s.to == WT_SEV_CRITICAL && s.thr == WT_THR_CRIT_BELOW, "199 V critical below");
	s = wt_rule_eval(&r, &st, 201.5, 40000, 45000);
	CHECK(s.to == WT_SEV_CRITICAL, "201.5 V still critical below (band)");
	s = wt_rule_eval(&r, &st, 203, 45000, 50000);
	CHECK(s.to == WT_SEV_WARNING && s.thr == WT_THR_WARN_BELOW, "203 V warning below");

	/* dwell 10 s: needs two 5 s buckets in a row */
	struct wt_rule_state d = {.thr = -1};
	r.dwell_s = 10;
	s = wt_rule_eval(&r, &d, 260, 0, 5000);
	CHECK(s.to == WT_SEV_OK, "dwell: first bucket does not trip");
	s = wt_rule_eval(&r, &d, 230, 5000, 10000);
	CHECK(s.to == WT_SEV_OK, "dwell: back to normal resets");
	s = wt_rule_eval(&r, &d, 260, 10000, 15000);
	s = wt_rule_eval(&r, &d, 245, 15000, 20000);
	CHECK(s.to == WT_SEV_WARNING, "dwell: trips at the level held for 10 s (warning), got %d",
	      s.to);
	s = wt_rule_eval(&r, &d, 260, 20000, 25000);
	CHECK(s.to == WT_SEV_WARNING, "dwell: critical waits its own dwell");
	s = wt_rule_eval(&r, &d, 260, 25000, 30000);
	CHECK(s.to == WT_SEV_CRITICAL, "dwell: critical after 10 s");

	r.thr[WT_THR_WARN_ABOVE] = 260;
	CHECK(wt_rule_validate(&r, &why) != 0, "warning above critical refused");
	wt_rule_clear(&r);
}

static struct wt_rules *mkengine(void)
{
	struct wt_rules *e = wt_rules_new(&manual);
	struct wt_agg_registry reg = {reg_get, NULL};
	struct wt_sample_sink fb = {fb_emit, NULL};
	wt_rules_set_registry(e, &reg);
	wt_rules_set_feedback(e, &fb);
	CHECK(wt_alarms_subscribe(wt_rules_alarms(e), on_alarm, NULL) == 0, "subscribe");
	return e;
}

static void add_dev(struct wt_rules *e, int64_t id, const char *name, const char *type,
		    const char *model, double rating)
{
	struct wt_rules_device d = {id, name, type, model, rating};
	CHECK(wt_rules_device_set(e, &d) == 0, "device %lld", (long long)id);
}

static void add_ser(struct wt_rules *e, uint32_t sid, int64_t dev, int64_t ent, int kind, int idx,
		    int phase, int metric, const char *ename)
{
	struct wt_rules_series s = {sid, dev, ent, kind, idx, (uint8_t)phase, metric, ename};
	CHECK(wt_rules_series_set(e, &s) == 0, "series %u", sid);
}

static void test_precedence(void)
{
	struct wt_rules *e = mkengine();
	add_dev(e, 1, "PDU one", "PDU", "PX3", 16);
	add_dev(e, 2, "PDU two", "PDU", "PX3", 16);
	add_dev(e, 3, "PDU three", "PDU", "AP8", 16);
	add_dev(e, 4, "UPS four", "UPS", "SRT", 0);
	/* outlet current series */
	add_ser(e, 11, 1, 102, WT_ENT_OUTLET, 2, 0, WT_M_CURRENT, "Outlet # 2");
	add_ser(e, 12, 1, 103, WT_ENT_OUTLET, 3, 0, WT_M_CURRENT, "Outlet # 3");
	add_ser(e, 21, 2, 202, WT_ENT_OUTLET, 2, 0, WT_M_CURRENT, "Outlet # 2");
	add_ser(e, 31, 3, 302, WT_ENT_OUTLET, 2, 0, WT_M_CURRENT, "Outlet # 2");
	add_ser(e, 41, 4, 402, WT_ENT_OUTPUT, 1, 0, WT_M_CURRENT, "Output");
	add_ser(e, 42, 4, 403, WT_ENT_INLET, 1, 0, WT_M_CURRENT, "Input");
	add_ser(e, 13, 1, 100, WT_ENT_INLET, 1, 0, WT_M_CURRENT, "Inlet");
	add_ser(e, 14, 1, 100, WT_ENT_INLET, 1, 0, WT_M_VOLTAGE, "Inlet");
	wt_rules_set_structure(e, mkstructure());

	struct wt_rule *r = calloc(9, sizeof(*r));
	r[0] = mkrule(1, "global current", WT_M_CURRENT, WT_SCOPE_GLOBAL, 0, NULL);
	r[1] = mkrule(2, "PDU current", WT_M_CURRENT, WT_SCOPE_TYPE, 0, "pdu"); /* any case */
	r[2] = mkrule(3, "PX3 current", WT_M_CURRENT, WT_SCOPE_MODEL, 0, "PX3");
	r[3] = mkrule(4, "device 1 current", WT_M_CURRENT, WT_SCOPE_DEVICE, 1, NULL);
	r[4] = mkrule(5, "Alert test", WT_M_CURRENT, WT_SCOPE_ENTITY, 102, NULL);
	r[5] = mkrule(6, "inlets everywhere", WT_M_CURRENT, WT_SCOPE_GLOBAL, 0, NULL);
	r[5].entity_kind = WT_ENT_INLET;
	r[6] = mkrule(7, "rack R1 current", WT_M_CURRENT, WT_SCOPE_RACK, 1000, NULL);
	r[7] = mkrule(8, "room current", WT_M_CURRENT, WT_SCOPE_ROOM, 10, NULL);
	r[8] = mkrule(9, "room racks only", WT_M_POWER_ACTIVE, WT_SCOPE_ROOM, 10, NULL);
	r[8].entity_kind = WT_EL_RACK;
	for (int i = 0; i < 9; i++)
		thr(&r[i], WT_THR_WARN_ABOVE, 10 + i);
	wt_rules_set_rules(e, r, 9);
	/* aggregates need inlet series on placed devices */
	add_ser(e, 15, 1, 100, WT_ENT_INLET, 1, 0, WT_M_POWER_ACTIVE, "Inlet");
	add_ser(e, 22, 2, 200, WT_ENT_INLET, 1, 0, WT_M_CURRENT, "Inlet");
	add_ser(e, 23, 2, 200, WT_ENT_INLET, 1, 0, WT_M_POWER_ACTIVE, "Inlet");
	CHECK(wt_rules_commit(e) == 0, "commit");

#define RID(s) (wt_rules_resolved(e, (s)) ? wt_rules_resolved(e, (s))->id : 0)
	CHECK(RID(11) == 5, "entity rule beats device rule: %lld", (long long)RID(11));
	CHECK(RID(12) == 4, "device rule beats model rule: %lld", (long long)RID(12));
	CHECK(RID(21) == 3, "model rule beats type rule: %lld", (long long)RID(21));
	CHECK(RID(31) == 2, "type rule beats global rule: %lld", (long long)RID(31));
	CHECK(RID(41) == 1, "global rule for a UPS output: %lld", (long long)RID(41));
	CHECK(RID(42) == 6, "kind-specific global rule beats any-kind global: %lld",
	      (long long)RID(42));
	CHECK(RID(14) == 0, "no voltage rule: %lld", (long long)RID(14));
	uint32_t rack_i = agg(e, 1000, WT_EL_RACK, 0, 0, WT_M_CURRENT);
	uint32_t rack2_i = agg(e, 1001, WT_EL_RACK, 0, 0, WT_M_POWER_ACTIVE);
	uint32_t row_i = agg(e, 100, WT_EL_ROW, 0, 0, WT_M_CURRENT);
	uint32_t row_p = agg(e, 100, WT_EL_ROW, 0, 0, WT_M_POWER_ACTIVE);
	uint32_t rack_p = agg(e, 1000, WT_EL_RACK, WT_FEED_A, 0, WT_M_POWER_ACTIVE);
	CHECK(rack_i && row_i && row_p && rack_p, "aggregates exist");
	CHECK(rack2_i == 0, "rack R2 has no power members, so no aggregate");
	CHECK(RID(rack_i) == 7, "rack rule applies to the rack aggregate: %lld",
	      (long long)RID(rack_i));
	CHECK(RID(row_i) == 8, "room rule applies to a row aggregate: %lld", (long long)RID(row_i));
	CHECK(RID(row_p) == 0, "rack-only room rule skips the row: %lld", (long long)RID(row_p));
	CHECK(RID(rack_p) == 9, "rack-only room rule applies to racks: %lld",
	      (long long)RID(rack_p));
	CHECK(RID(13) == 4, "device rule beats kind-specific global rule: %lld",
	      (long long)RID(13));

	/* the message format */
	ev_reset();
	struct wt_bucket b[] = {bk(11, 0, 230.7)};
	close_at(e, 0, b, 1);
	CHECK(ev_count[WT_ALARM_RAISED] == 1, "raised");
	CHECK(strcmp(last_msg,
		     "Value of 230.7 A at \"Outlet # 2\" (2) outlet has exceeded the warning "
		     "threshold of 14 A via rule \"Alert test\" for PDU \"PDU one\"") == 0,
	      "message: %s", last_msg);

	/* deleting the rule clears its alarm at the next commit */
	struct wt_rule *r2 = calloc(1, sizeof(*r2));
	r2[0] = mkrule(1, "global current", WT_M_CURRENT, WT_SCOPE_GLOBAL, 0, NULL);
	thr(&r2[0], WT_THR_WARN_ABOVE, 1000);
	wt_rules_set_rules(e, r2, 1);
	CHECK(wt_rules_commit(e) == 0, "commit");
	CHECK(RID(11) == 1 && RID(rack_i) == 0, "new rule set resolved");
	close_at(e, 5000, b, 1);
	CHECK(ev_count[WT_ALARM_CLEARED] == 1,
	      "alarm of a changed rule clears when below the new threshold");
	wt_rules_free(e);
}

static void test_dwell_hysteresis_repeat(void)
{
	struct wt_rules *e = mkengine();
	add_dev(e, 1, "PDU one", "PDU", "PX3", 16);
	add_ser(e, 11, 1, 102, WT_ENT_OUTLET, 2, 0, WT_M_CURRENT, "Outlet 2");
	wt_rules_set_structure(e, mkstructure());
	struct wt_rule *r = calloc(1, sizeof(*r));
	r[0] = mkrule(1, "outlet", WT_M_CURRENT, WT_SCOPE_GLOBAL, 0, NULL);
	thr(&r[0], WT_THR_CRIT_ABOVE, 16);
	thr(&r[0], WT_THR_WARN_ABOVE, 12);
	r[0].hysteresis = 1;
	r[0].dwell_s = 10;
	r[0].repeat_s = 60;
	wt_rules_set_rules(e, r, 1);
	CHECK(wt_rules_commit(e) == 0, "commit");
	ev_reset();
	int64_t t = 1700000000000LL;
	struct wt_bucket b = bk(11, t, 13);
	close_at(e, t, &b, 1);
	CHECK(ev_count[WT_ALARM_RAISED] == 0, "dwell holds the first bucket");
	t += 5000;
	b = bk(11, t, 13);
	close_at(e, t, &b, 1);
	CHECK(ev_count[WT_ALARM_RAISED] == 1, "raised after 10 s");
	CHECK(wt_alarms_element_status(wt_rules_alarms(e), 1000) == WT_SEV_WARNING,
	      "rack is yellow");
	CHECK(wt_alarms_element_status(wt_rules_alarms(e), 1) == WT_SEV_WARNING, "dc is yellow");
	/* repeat: 60 s after raising, not before */
	int repeats_at_65s = -1;
	for (int i = 0; i < 13; i++) {
		t += 5000;
		b = bk(11, t, 12.5);
		close_at(e, t, &b, 1);
		if (i == 10)
			repeats_at_65s = ev_count[WT_ALARM_REPEAT];
	}
	CHECK(repeats_at_65s == 0, "no repeat before 60 s");
	CHECK(ev_count[WT_ALARM_REPEAT] == 1, "one repeat after 60 s, got %d",
	      ev_count[WT_ALARM_REPEAT]);
	t += 5000;
	b = bk(11, t, 11.2);
	close_at(e, t, &b, 1);
	CHECK(ev_count[WT_ALARM_CLEARED] == 0, "11.2 A is inside the hysteresis band");
	t += 5000;
	b = bk(11, t, 10.9);
	close_at(e, t, &b, 1);
	CHECK(ev_count[WT_ALARM_CLEARED] == 1, "10.9 A clears");
	CHECK(wt_alarms_element_status(wt_rules_alarms(e), 1000) == WT_SEV_OK, "rack green again");
	CHECK(wt_alarms_count(wt_rules_alarms(e)) == 1, "cleared alarm stays until acknowledged");
	int64_t id = wt_alarms_at(wt_rules_alarms(e), 0)->id;
	CHECK(wt_alarms_ack(wt_rules_alarms(e), id, "alice", "replaced the server") == 0, "ack");
	CHECK(wt_alarms_count(wt_rules_alarms(e)) == 0,
	      "acknowledged inactive alarm leaves memory");
	CHECK(ev_count[WT_ALARM_ACKED] == 1, "ack published");
	/* no repeat interval: never repeats */
	wt_rules_free(e);
}

/* Members are summed here independently of the engine. */
static void test_aggregates(void)
{
	struct wt_rules *e = mkengine();
	/* dev 1 feed A, dev 2 feed B in rack 1000; dev 3 feed A in rack 1001;
	 * dev 4 no feed in rack 1010; dev 5 unassigned. 3-phase PDUs. */
	add_dev(e, 1, "A-PDU", "PDU", "PX3", 16);
	add_dev(e, 2, "B-PDU", "PDU", "PX3", 16);
	add_dev(e, 3, "R2-PDU", "PDU", "PX3", 32);
	add_dev(e, 4, "R3-PDU", "PDU", "AP8", 16);
	add_dev(e, 5, "loose", "PDU", "AP8", 16);
	uint32_t sid = 1;
	/* per device: inlet P, S, Q, E, neutral; phases L1..L3 current and P; an outlet current */
	static const int inlet_m[] = {WT_M_POWER_ACTIVE,  WT_M_POWER_APPARENT,  WT_M_POWER_REACTIVE,
				      WT_M_ENERGY_ACTIVE, WT_M_NEUTRAL_CURRENT, WT_M_VOLTAGE};
	uint32_t inlet[6][6], phc[6][4], php[6][4], outlet[6];
	for (int d = 1; d <= 5; d++) {
		for (int m = 0; m < 6; m++) {
			inlet[d][m] = sid;
			add_ser(e, sid++, d, d * 100, WT_ENT_INLET, 1, 0, inlet_m[m], "I1");
		}
		for (int p = 1; p <= 3; p++) {
			phc[d][p] = sid;
			add_ser(e, sid++, d, d * 100 + p, WT_ENT_PHASE, p, p, WT_M_CURRENT, "L");
			php[d][p] = sid;
			add_ser(e, sid++, d, d * 100 + p, WT_ENT_PHASE, p, p, WT_M_POWER_ACTIVE,
				"L");
		}
		outlet[d] = sid;
		add_ser(e, sid++, d, d * 100 + 50, WT_ENT_OUTLET, 1, 1, WT_M_CURRENT, "O1");
	}
	wt_rules_set_structure(e, mkstructure());
	struct wt_rule *r = calloc(1, sizeof(*r));
	r[0] = mkrule(1, "headroom", WT_M_HEADROOM, WT_SCOPE_RACK, 1000, NULL);
	thr(&r[0], WT_THR_WARN_BELOW, 0);
	wt_rules_set_rules(e, r, 1);
	CHECK(wt_rules_commit(e) == 0, "commit");

	double val[256] = {0}, energy_total = 0;
	struct wt_bucket b[256];
	int64_t t = 1700000000000LL;
	for (int round = 0; round < 2; round++) {
		size_t n = 0;
		srand(42 + round);
		for (uint32_t s = 1; s < sid; s++) {
			val[s] = 1 + rand() % 1000 / 10.0;
			/* round 1: B-PDU unreachable, nothing of it arrives */
			if (round == 1 && s >= inlet[2][0] && s <= outlet[2])
				continue;
			b[n++] = bk(s, t, val[s]);
		}
		/* a counter bucket carries its delta in sum */
		ev_reset();
		close_at(e, t, b, n);
		bool bmiss = round == 1;
		double a1 = val[inlet[1][0]], a2 = bmiss ? 0 : val[inlet[2][0]];
		double a3 = val[inlet[3][0]], a4 = val[inlet[4][0]];
#define FB(s) ((s) ? fb_val[(s)-100000] : NAN)
#define FQ(s) ((s) ? fb_q[(s)-100000] : -1)
		uint32_t s;
		s = agg(e, 1000, WT_EL_RACK, 0, 0, WT_M_POWER_ACTIVE);
		CHECK(fabs(FB(s) - (a1 + a2)) < 1e-9,
		      "round %d rack power = sum of its PDUs: %g vs %g", round, FB(s), a1 + a2);
		CHECK(FQ(s) == (bmiss ? WT_Q_ESTIMATED : WT_Q_GOOD), "round %d rack quality %d",
		      round, FQ(s));
		uint32_t pres, exp;
		CHECK(wt_rules_agg_members(e, s, &pres, &exp) == 0 && exp == 2 &&
			      pres == (bmiss ? 1u : 2u),
		      "round %d members %u/%u", round, pres, exp);
		CHECK(fb_ts[s - 100000] == t, "feedback stamped with the closing bucket's time");
		s = agg(e, 1000, WT_EL_RACK, WT_FEED_A, 0, WT_M_POWER_ACTIVE);
		CHECK(fabs(FB(s) - a1) < 1e-9 && FQ(s) == WT_Q_GOOD,
		      "round %d feed A power = A-PDU", round);
		s = agg(e, 1000, WT_EL_RACK, WT_FEED_B, 0, WT_M_POWER_ACTIVE);
		CHECK(bmiss ? !fb_has[s - 100000] : fabs(FB(s) - a2) < 1e-9,
		      "round %d feed B power", round);
		s = agg(e, 100, WT_EL_ROW, 0, 0, WT_M_POWER_ACTIVE);
		CHECK(fabs(FB(s) - (a1 + a2 + a3)) < 1e-9, "round %d row power", round);
		s = agg(e, 100, WT_EL_ROW, WT_FEED_A, 0, WT_M_POWER_ACTIVE);
		CHECK(fabs(FB(s) - (a1 + a3)) < 1e-9, "round %d row feed A power", round);
		s = agg(e, 10, WT_EL_ROOM, 0, 0, WT_M_POWER_ACTIVE);
		CHECK(fabs(FB(s) - (a1 + a2 + a3 + a4)) < 1e-9,
		      "round %d room power (dev 5 unassigned)", round);
		s = agg(e, 1, WT_EL_DC, 0, 0, WT_M_ENERGY_ACTIVE);
		double en = val[inlet[1][3]] + (bmiss ? 0 : val[inlet[2][3]]) + val[inlet[3][3]] +
			    val[inlet[4][3]];
		energy_total += en;
		CHECK(fabs(FB(s) - energy_total) < 1e-9,
		      "round %d dc energy fed back as a running total of the deltas: %g vs %g",
		      round, FB(s), energy_total);
		s = agg(e, 10, WT_EL_ROOM, 0, 0, WT_M_NEUTRAL_CURRENT);
		double nc = val[inlet[1][4]] + (bmiss ? 0 : val[inlet[2][4]]) + val[inlet[3][4]] +
			    val[inlet[4][4]];
		CHECK(fabs(FB(s) - nc) < 1e-9, "round %d room neutral current", round);
		for (int p = 1; p <= 3; p++) {
			double ia = val[phc[1][p]], ib = bmiss ? 0 : val[phc[2][p]];
			s = agg(e, 1000, WT_EL_RACK, 0, p, WT_M_CURRENT);
			CHECK(fabs(FB(s) - (ia + ib)) < 1e-9, "round %d rack L%d current", round,
			      p);
			s = agg(e, 1000, WT_EL_RACK, WT_FEED_B, p, WT_M_POWER_ACTIVE);
			CHECK(bmiss || fabs(FB(s) - val[php[2][p]]) < 1e-9,
			      "round %d rack B L%d power", round, p);
			/* headroom: what feed A would carry if B failed, against A's 16 A */
			s = agg(e, 1000, WT_EL_RACK, WT_FEED_A, p, WT_M_HEADROOM);
			if (!bmiss)
				CHECK(fabs(FB(s) - (16 - (ia + ib))) < 1e-9, "headroom A L%d %g", p,
				      FB(s));
			else
				CHECK(!fb_has[s - 100000], "no headroom without feed B's reading");
		}
		CHECK(agg(e, 1001, WT_EL_RACK, WT_FEED_A, 1, WT_M_HEADROOM) == 0,
		      "single-feed rack has no headroom");
		CHECK(agg(e, 1000, WT_EL_RACK, 0, 0, WT_M_VOLTAGE) == 0, "voltage is not summed");
		CHECK(agg(e, 1000, WT_EL_RACK, 0, 1, WT_M_CURRENT) &&
			      agg(e, 1000, WT_EL_RACK, 0, 0, WT_M_CURRENT) == 0,
		      "phase currents do not make a total current");
		/* total power: the inlet only, phases not added on top */
		CHECK(fabs(FB(agg(e, 1010, WT_EL_RACK, 0, 0, WT_M_POWER_ACTIVE)) - a4) < 1e-9,
		      "no double counting");
		uint32_t rep, ex;
		CHECK(wt_rules_element_devices(e, 1000, &rep, &ex) == 0 && ex == 2 &&
			      rep == (bmiss ? 1u : 2u),
		      "round %d rack devices %u/%u", round, rep, ex);
		CHECK(wt_rules_element_devices(e, 1, &rep, &ex) == 0 && ex == 4,
		      "dc devices expected %u", ex);
		/* random currents up to 100 A against 16 A ratings: never redundant */
		if (round == 0)
			CHECK(ev_count[WT_ALARM_RAISED] >= 1, "negative headroom raises an alarm");
		t += 5000;
	}
	/* garbage never poisons a sum: unknown ids, infinities */
	{
		struct wt_bucket junk[3] = {bk(0, t, 1), bk(4000000000u, t, 1),
					    bk(inlet[1][0], t, INFINITY)};
		junk[2].sum = INFINITY;
		close_at(e, t, junk, 3);
		uint32_t rp = agg(e, 1000, WT_EL_RACK, WT_FEED_A, 0, WT_M_POWER_ACTIVE);
		CHECK(!fb_has[rp - 100000] || isfinite(fb_val[rp - 100000]),
		      "no infinite aggregate");
		t += 5000;
	}
	/* the feedback coming back closed (the rollup's second call for the
	 * same boundary) is ignored, not summed again, and keeps the counts */
	uint32_t rack_p = agg(e, 1000, WT_EL_RACK, 0, 0, WT_M_POWER_ACTIVE);
	struct wt_bucket back = bk(rack_p, t - 5000, 1e6);
	uint64_t before = wt_rules_stats(e)->buckets, closes = wt_rules_stats(e)->closes;
	uint32_t p0, x0, p1, x1, r0, y0, r1, y1;
	CHECK(wt_rules_agg_members(e, rack_p, &p0, &x0) == 0 &&
		      wt_rules_element_devices(e, 1000, &r0, &y0) == 0,
	      "counts");
	close_at(e, t - 5000, &back, 1);
	CHECK(wt_rules_stats(e)->buckets == before && wt_rules_stats(e)->closes == closes,
	      "aggregate bucket coming back is skipped");
	CHECK(!fb_has[rack_p - 100000], "and produces nothing");
	CHECK(wt_rules_agg_members(e, rack_p, &p1, &x1) == 0 && p1 == p0 && x1 == x0 &&
		      wt_rules_element_devices(e, 1000, &r1, &y1) == 0 && r1 == r0 && y1 == y0,
	      "member counts of the boundary survive its derived round");
	/* the next boundary with only that bucket: nothing either */
	back = bk(rack_p, t, 1e6);
	close_at(e, t, &back, 1);
	CHECK(wt_rules_stats(e)->buckets == before && !fb_has[rack_p - 100000],
	      "an aggregate bucket alone produces nothing");
	wt_rules_free(e);
}

static void test_escalation_and_device_alarms(void)
{
	struct wt_rules *e = mkengine();
	add_dev(e, 1, "A-PDU", "PDU", "PX3", 16);
	add_dev(e, 3, "R2-PDU", "PDU", "PX3", 16);
	add_dev(e, 4, "R3-PDU", "PDU", "PX3", 16);
	add_ser(e, 11, 1, 102, WT_ENT_OUTLET, 2, 0, WT_M_CURRENT, "O2");
	add_ser(e, 31, 3, 302, WT_ENT_OUTLET, 2, 0, WT_M_CURRENT, "O2");
	wt_rules_set_structure(e, mkstructure());
	struct wt_rule *r = calloc(1, sizeof(*r));
	r[0] = mkrule(1, "outlet", WT_M_CURRENT, WT_SCOPE_GLOBAL, 0, NULL);
	thr(&r[0], WT_THR_CRIT_ABOVE, 16);
	thr(&r[0], WT_THR_WARN_ABOVE, 12);
	wt_rules_set_rules(e, r, 1);
	CHECK(wt_rules_commit(e) == 0, "commit");
	struct wt_alarms *al = wt_rules_alarms(e);
	struct wt_bucket b[2] = {bk(11, 0, 13), bk(31, 0, 17)};
	close_at(e, 0, b, 2);
	CHECK(wt_alarms_element_status(al, 1000) == WT_SEV_WARNING, "R1 yellow");
	CHECK(wt_alarms_element_status(al, 1001) == WT_SEV_CRITICAL, "R2 red");
	CHECK(wt_alarms_element_status(al, 100) == WT_SEV_CRITICAL, "row red (worst below)");
	CHECK(wt_alarms_element_status(al, 101) == WT_SEV_OK, "other row green");
	CHECK(wt_alarms_element_status(al, 10) == WT_SEV_CRITICAL &&
		      wt_alarms_element_status(al, 1) == WT_SEV_CRITICAL,
	      "room and dc red");
	b[1] = bk(31, 5000, 14);
	b[0] = bk(11, 5000, 13);
	close_at(e, 5000, b, 2);
	CHECK(wt_alarms_element_status(al, 100) == WT_SEV_WARNING, "de-escalated: row yellow");
	b[1] = bk(31, 10000, 1);
	b[0] = bk(11, 10000, 1);
	close_at(e, 10000, b, 2);
	CHECK(wt_alarms_element_status(al, 1) == WT_SEV_OK, "all clear: dc green");

	ev_reset();
	wt_rules_device_comm(e, 4, true, "no answer after 3 tries");
	wt_rules_device_comm(e, 4, true, "no answer after 4 tries");
	CHECK(ev_count[WT_ALARM_RAISED] == 1, "communication loss raised once");
	CHECK(wt_alarms_element_status(al, 101) == WT_SEV_CRITICAL,
	      "comm loss escalates to the row");
	CHECK(strcmp(last_msg, "Communication lost with PDU \"R3-PDU\": no answer after 3 tries") ==
		      0,
	      "msg %s", last_msg);
	/* repeats every 60 s while lost, when asked to */
	wt_rules_set_comm_repeat(e, 60);
	for (int i = 0; i < 13; i++) {
		close_at(e, 15000 + (int64_t)i * 5000, NULL, 0);
		if (i == 10)
			CHECK(ev_count[WT_ALARM_REPEAT] == 0, "no repeat before 60 s");
	}
	CHECK(ev_count[WT_ALARM_REPEAT] == 1, "communication loss repeated after 60 s (%d)",
	      ev_count[WT_ALARM_REPEAT]);
	wt_rules_device_comm(e, 4, false, NULL);
	CHECK(ev_count[WT_ALARM_CLEARED] == 1 && wt_alarms_element_status(al, 101) == WT_SEV_OK,
	      "comm back");
	wt_rules_device_rebooted(e, 4);
	CHECK(ev_count[WT_ALARM_RAISED] == 2 && ev_count[WT_ALARM_CLEARED] == 2,
	      "reboot is an event");
	size_t unacked = 0;
	for (size_t i = 0; i < wt_alarms_count(al); i++)
		unacked += !wt_alarms_at(al, i)->acked &&
			   wt_alarms_at(al, i)->kind == WT_ALARM_REBOOT;
	CHECK(unacked == 1, "reboot listed until acknowledged");

	/* moving a device re-homes its alarm's escalation */
	wt_rules_device_comm(e, 4, true, NULL);
	struct wt_structure *s = mkstructure();
	CHECK(wt_structure_place(s, 4, 1000, WT_FEED_B) == 0, "move");
	wt_rules_set_structure(e, s);
	CHECK(wt_rules_commit(e) == 0, "commit");
	CHECK(wt_alarms_element_status(al, 101) == WT_SEV_OK &&
		      wt_alarms_element_status(al, 1000) == WT_SEV_CRITICAL,
	      "alarm follows the device to its new rack");
	wt_rules_free(e);
}

/* After a restart the alarm table is restored first; a condition that is
 * still true must not raise a second alarm. */
static void test_restore(void)
{
	struct wt_rules *e = mkengine();
	add_dev(e, 1, "A-PDU", "PDU", "PX3", 16);
	add_ser(e, 11, 1, 102, WT_ENT_OUTLET, 2, 0, WT_M_CURRENT, "O2");
	add_ser(e, 12, 1, 103, WT_ENT_OUTLET, 3, 0, WT_M_CURRENT, "O3");
	wt_rules_set_structure(e, mkstructure());
	struct wt_rule *r = calloc(1, sizeof(*r));
	r[0] = mkrule(1, "outlet", WT_M_CURRENT, WT_SCOPE_GLOBAL, 0, NULL);
	thr(&r[0], WT_THR_WARN_ABOVE, 12);
	wt_rules_set_rules(e, r, 1);
	struct wt_alarm a1 = {.id = 77,
			      .kind = WT_ALARM_THRESHOLD,
			      .active = true,
			      .severity = WT_SEV_WARNING,
			      .thr = WT_THR_WARN_ABOVE,
			      .value = 13,
			      .threshold = 12,
			      .rule_id = 1,
			      .series = 11,
			      .device_id = 1,
			      .element_id = 1000,
			      .message = "old"};
	struct wt_alarm a2 = a1;
	a2.id = 78;
	a2.series = 12;
	struct wt_alarm a3 = {.id = 79,
			      .kind = WT_ALARM_COMM_LOST,
			      .active = true,
			      .severity = WT_SEV_CRITICAL,
			      .thr = -1,
			      .device_id = 1,
			      .element_id = 1000,
			      .message = "lost"};
	CHECK(wt_alarms_restore(wt_rules_alarms(e), &a1) &&
		      wt_alarms_restore(wt_rules_alarms(e), &a2) &&
		      wt_alarms_restore(wt_rules_alarms(e), &a3),
	      "restore");
	CHECK(wt_rules_commit(e) == 0, "commit");
	CHECK(wt_alarms_element_status(wt_rules_alarms(e), 10) == WT_SEV_CRITICAL,
	      "restored alarms escalate");
	ev_reset();
	struct wt_bucket b[2] = {bk(11, 0, 14), bk(12, 0, 3)};
	close_at(e, 0, b, 2);
	CHECK(ev_count[WT_ALARM_RAISED] == 0, "still-true alarm not raised twice");
	CHECK(ev_count[WT_ALARM_CLEARED] == 1, "no-longer-true alarm cleared");
	wt_rules_device_comm(e, 1, true, NULL);
	CHECK(ev_count[WT_ALARM_RAISED] == 0, "restored comm loss not raised twice");
	wt_rules_device_comm(e, 1, false, NULL);
	CHECK(ev_count[WT_ALARM_CLEARED] == 2, "restored comm loss clears");
	CHECK(wt_alarms_get(wt_rules_alarms(e), 77)->active, "alarm 77 still active");

	/* the device leaves the inventory: its alarms clear, its series stop */
	ev_reset();
	wt_rules_device_comm(e, 1, true, NULL);
	CHECK(wt_rules_device_remove(e, 1) == 0, "remove device");
	CHECK(ev_count[WT_ALARM_CLEARED] == 2,
	      "threshold and comm alarms of a removed device clear (%d)",
	      ev_count[WT_ALARM_CLEARED]);
	CHECK(wt_rules_device_remove(e, 1) == -ENOENT, "removed twice");
	uint64_t unknown = wt_rules_stats(e)->unknown_series;
	int raised = ev_count[WT_ALARM_RAISED];
	struct wt_bucket gone = bk(11, 10000, 20);
	close_at(e, 10000, &gone, 1);
	CHECK(wt_rules_stats(e)->unknown_series == unknown + 1 &&
		      ev_count[WT_ALARM_RAISED] == raised,
	      "a removed device's bucket is not evaluated");
	wt_rules_free(e);

	/* restored alarms whose series and device are gone are cleared once at start-up */
	e = mkengine();
	add_dev(e, 2, "B-PDU", "PDU", "PX3", 16);
	wt_rules_set_structure(e, mkstructure());
	struct wt_alarm o1 = a1, o2 = a3;
	o1.series = 999;   /* never bound */
	o2.device_id = 42; /* unknown device */
	CHECK(wt_alarms_restore(wt_rules_alarms(e), &o1) &&
		      wt_alarms_restore(wt_rules_alarms(e), &o2),
	      "restore");
	CHECK(wt_rules_commit(e) == 0, "commit");
	ev_reset();
	CHECK(wt_rules_clear_orphans(e) == 2 && ev_count[WT_ALARM_CLEARED] == 2, "orphans cleared");
	CHECK(wt_alarms_element_status(wt_rules_alarms(e), 1) == WT_SEV_OK, "site green");
	wt_rules_free(e);
}

/* A rack's budget is a built-in rule on its all-feed aggregates. */
static void test_budget(void)
{
	struct wt_rules *e = mkengine();
	add_dev(e, 1, "A-PDU", "PDU", "PX3", 16);
	add_dev(e, 2, "B-PDU", "PDU", "PX3", 16);
	add_ser(e, 1, 1, 100, WT_ENT_INLET, 1, 0, WT_M_POWER_ACTIVE, "I1");
	add_ser(e, 2, 2, 200, WT_ENT_INLET, 1, 0, WT_M_POWER_ACTIVE, "I1");
	add_ser(e, 3, 1, 101, WT_ENT_PHASE, 1, 1, WT_M_CURRENT, "L1");
	add_ser(e, 4, 2, 201, WT_ENT_PHASE, 1, 1, WT_M_CURRENT, "L1");
	wt_rules_set_structure(e, mkstructure()); /* R1: 8000 W, 32 A */
	CHECK(wt_rules_commit(e) == 0, "commit");
	uint32_t p = agg(e, 1000, WT_EL_RACK, 0, 0, WT_M_POWER_ACTIVE);
	uint32_t i1 = agg(e, 1000, WT_EL_RACK, 0, 1, WT_M_CURRENT);
	uint32_t pa = agg(e, 1000, WT_EL_RACK, WT_FEED_A, 0, WT_M_POWER_ACTIVE);
	CHECK(wt_rules_resolved(e, p) && wt_rules_resolved(e, p)->id == -2000,
	      "power budget rule on the rack total");
	CHECK(wt_rules_resolved(e, i1) && wt_rules_resolved(e, i1)->id == -2001,
	      "current budget rule on L1");
	CHECK(!wt_rules_resolved(e, pa), "no budget rule on one feed");
	CHECK(!wt_rules_resolved(e, agg(e, 100, WT_EL_ROW, 0, 0, WT_M_POWER_ACTIVE)),
	      "no budget on the row");
	ev_reset();
	int64_t t = 0;
	for (int i = 0; i < 7; i++, t += 5000) {
		struct wt_bucket b[4] = {bk(1, t, 3800), bk(2, t, 3700), bk(3, t, 10),
					 bk(4, t, 10)};
		close_at(e, t, b, 4);
		if (i == 4)
			CHECK(ev_count[WT_ALARM_RAISED] == 0, "budget dwell of 30 s not yet over");
	}
	CHECK(ev_count[WT_ALARM_RAISED] == 1, "7500 W of 8000 W: warning after 30 s");
	CHECK(strstr(last_msg,
		     "Value of 7500 W for power_active of rack \"R1\" has exceeded the warning "
		     "threshold of 7200 W via rule \"Rack power budget\"") != NULL,
	      "msg %s", last_msg);
	/* an explicit rule on the rack wins over its budget */
	struct wt_rule *r = calloc(1, sizeof(*r));
	r[0] = mkrule(5, "my rack power", WT_M_POWER_ACTIVE, WT_SCOPE_RACK, 1000, NULL);
	thr(&r[0], WT_THR_WARN_ABOVE, 10000);
	wt_rules_set_rules(e, r, 1);
	CHECK(wt_rules_commit(e) == 0, "commit");
	CHECK(wt_rules_resolved(e, p) && wt_rules_resolved(e, p)->id == 5,
	      "explicit rack rule wins");
	CHECK(wt_rules_resolved(e, i1) && wt_rules_resolved(e, i1)->id == -2001,
	      "current budget stays");
	struct wt_bucket b[4] = {bk(1, t, 3800), bk(2, t, 3700), bk(3, t, 10), bk(4, t, 10)};
	close_at(e, t, b, 4);
	CHECK(ev_count[WT_ALARM_CLEARED] == 1, "under the explicit rule's threshold: cleared");
	wt_rules_free(e);
}

/* Samples evaluated as they arrive: the alarm does not wait for the close,
 * and the close does not evaluate the same series again. */
static void test_sample_mode(void)
{
	struct wt_rules *e = mkengine();
	add_dev(e, 1, "A-PDU", "PDU", "PX3", 16);
	add_ser(e, 11, 1, 102, WT_ENT_OUTLET, 2, 0, WT_M_CURRENT, "O2");
	add_ser(e, 12, 1, 100, WT_ENT_INLET, 1, 0, WT_M_ENERGY_ACTIVE, "I1");
	wt_rules_set_structure(e, mkstructure());
	struct wt_rule *r = calloc(2, sizeof(*r));
	r[0] = mkrule(1, "outlet", WT_M_CURRENT, WT_SCOPE_GLOBAL, 0, NULL);
	thr(&r[0], WT_THR_CRIT_ABOVE, 16);
	r[0].dwell_s = 10;
	r[1] = mkrule(2, "energy per 5 s", WT_M_ENERGY_ACTIVE, WT_SCOPE_GLOBAL, 0, NULL);
	thr(&r[1], WT_THR_WARN_ABOVE, 100);
	wt_rules_set_rules(e, r, 2);
	CHECK(wt_rules_commit(e) == 0, "commit");
	ev_reset();
	int64_t t = 1700000000000LL;
	struct wt_sample s1 = {11, WT_Q_GOOD, t + 1200, 20};
	now_ms = t + 1300;
	wt_rules_on_samples(e, &s1, 1);
	CHECK(ev_count[WT_ALARM_RAISED] == 0, "dwell 10 s holds the first sample");
	struct wt_sample s2 = {11, WT_Q_GOOD, t + 6200, 21}, s3 = {11, WT_Q_GOOD, t + 11200, 22};
	wt_rules_on_samples(e, &s2, 1);
	CHECK(ev_count[WT_ALARM_RAISED] == 0, "5 s held: not yet");
	now_ms = t + 11300;
	wt_rules_on_samples(e, &s3, 1);
	CHECK(ev_count[WT_ALARM_RAISED] == 1,
	      "raised on the sample that completes the dwell, before any close");
	/* the close of a bucket whose average is below the threshold must not
	 * clear it: the close leaves gauges to the sample path */
	struct wt_bucket b[2] = {bk(11, t + 10000, 10), bk(12, t + 10000, 150)};
	close_at(e, t + 10000, b, 2);
	CHECK(ev_count[WT_ALARM_CLEARED] == 0, "close does not re-evaluate sampled gauges");
	CHECK(ev_count[WT_ALARM_RAISED] == 2,
	      "counters are still evaluated at the close (delta 150 Wh)");
	struct wt_sample raw = {12, WT_Q_GOOD, t + 16000, 123456};
	wt_rules_on_samples(e, &raw, 1);
	CHECK(ev_count[WT_ALARM_RAISED] == 2, "a raw counter reading is not evaluated");
	struct wt_sample s4 = {11, WT_Q_GOOD, t + 16200, 3};
	wt_rules_on_samples(e, &s4, 1);
	CHECK(ev_count[WT_ALARM_CLEARED] == 1, "cleared by the next sample");
	wt_rules_free(e);
}

/* The alarm table under churn: many alarms raised, cleared and
 * acknowledged in mixed order; the id index must stay exact. */
static void test_alarm_table(void)
{
	struct wt_alarms *a = wt_alarms_new(&manual);
	int64_t ids[2000];
	for (int i = 0; i < 2000; i++) {
		struct wt_alarm t = {.kind = WT_ALARM_THRESHOLD,
				     .severity = WT_SEV_WARNING,
				     .thr = -1,
				     .series = (uint32_t)i + 1,
				     .message = "m"};
		struct wt_alarm *al = wt_alarms_raise(a, &t);
		ids[i] = al ? al->id : 0;
	}
	srand(7);
	int gone = 0;
	for (int k = 0; k < 2000; k++) {
		int i = (k * 7919) % 2000;
		struct wt_alarm *al = wt_alarms_get(a, ids[i]);
		if (!al)
			continue;
		if (rand() % 2) {
			wt_alarms_clear(a, al, 0);
			if (wt_alarms_ack(a, ids[i], "x", "") == 0)
				gone++;
		} else {
			CHECK(wt_alarms_ack(a, ids[i], "x", "") == 0, "ack active");
		}
	}
	CHECK(wt_alarms_count(a) == (size_t)(2000 - gone), "count %zu vs %d", wt_alarms_count(a),
	      2000 - gone);
	size_t found = 0;
	for (int i = 0; i < 2000; i++) {
		struct wt_alarm *al = wt_alarms_get(a, ids[i]);
		if (al) {
			found++;
			CHECK(al->id == ids[i] && al->series == (uint32_t)i + 1,
			      "index exact for %d", i);
		}
	}
	CHECK(found == wt_alarms_count(a), "every alarm in memory is found by id");
	wt_alarms_free(a);
}

int main(void)
{
	test_structure();
	test_state_machine();
	test_precedence();
	test_dwell_hysteresis_repeat();
	test_aggregates();
	test_escalation_and_device_alarms();
	test_restore();
	test_budget();
	test_sample_mode();
	test_alarm_table();
	printf("%d of %d checks passed\n", checks - failures, checks);
	return failures ? 1 : 0;
}
