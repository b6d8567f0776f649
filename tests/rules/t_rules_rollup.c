/* The rules engine wired to the real rollup engine, as the daemon wires it:
 * closed buckets go to wt_rules_on_close, aggregates come back through
 * wt_rollup_ingest stamped with the closing bucket's time. Checks that the
 * rollup emits every aggregate for the right bucket with the sum of its
 * members, energy as deltas, hourly like any series, and that nothing is
 * late, recursive or counted twice. Manual clock. */
#include "engine.h"
#include "rollup.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/check.h"

static int64_t now_ms;
static const struct wt_clock manual = {wt_clock_manual_now, &now_ms};
static struct wt_rollup *rollup;

#define NAGG 256
static struct wt_agg_key keys[NAGG];
static uint32_t nkeys;
#define AGG0 100

static int reg(void *ctx, const struct wt_agg_key *k, uint32_t *id)
{
	(void)ctx;
	for (uint32_t i = 0; i < nkeys; i++)
		if (!memcmp(&keys[i], k, sizeof(*k))) {
			*id = AGG0 + i;
			return 0;
		}
	if (nkeys == NAGG)
		return -1;
	memset(&keys[nkeys], 0, sizeof(keys[0]));
	keys[nkeys] = *k;
	*id = AGG0 + nkeys++;
	return 0;
}

static void feedback(void *ctx, const struct wt_sample *s, size_t n)
{
	(void)ctx;
	wt_rollup_ingest(rollup, s, n);
}

/* What the rollup emitted for aggregate series, by bucket index. */
#define NB 40
static double got[NB][NAGG];
static bool have[NB][NAGG];
static int64_t t0;
static int second_calls, boundaries;
static int64_t last_boundary = -1;

static void recorder(void *ctx, int64_t start, const struct wt_bucket *b, size_t n)
{
	(void)ctx;
	if (start == last_boundary)
		second_calls++;
	else
		boundaries++;
	last_boundary = start;
	for (size_t i = 0; i < n; i++) {
		uint32_t k = b[i].series - AGG0;
		int64_t bi = (b[i].start_ms - t0) / WT_BUCKET_MS;
		if (b[i].series >= AGG0 && k < NAGG && bi >= 0 && bi < NB) {
			const struct wt_metric_info *mi = wt_metric_info(
				(enum wt_metric)keys[k].metric);
			got[bi][k] = mi->flags & WT_MF_COUNTER ? b[i].sum : b[i].sum / b[i].count;
			have[bi][k] = true;
		}
	}
}

static double hour_sum[NAGG];
static uint32_t hour_count[NAGG];
static int64_t hour_start;
static void on_agg(void *ctx, enum wt_level level, int64_t start, const struct wt_agg *a, size_t n)
{
	(void)ctx;
	if (level != WT_LEVEL_HOUR)
		return;
	for (size_t i = 0; i < n; i++) {
		uint32_t k = a[i].series - AGG0;
		if (a[i].series >= AGG0 && k < NAGG) {
			hour_sum[k] = a[i].sum;
			hour_count[k] = a[i].count;
			hour_start = start;
		}
	}
}

static uint32_t find(int64_t el, int feed, int phase, int metric)
{
	for (uint32_t i = 0; i < nkeys; i++)
		if (keys[i].element_id == el && keys[i].feed == feed && keys[i].phase == phase &&
		    keys[i].metric == metric)
			return i;
	return UINT32_MAX;
}

int main(void)
{
	/* 60 s before an hour boundary, so the run crosses it */
	t0 = 1700002800000LL - 60000;
	now_ms = t0;
	rollup = wt_rollup_new(&manual);
	struct wt_rules *e = wt_rules_new(&manual);
	struct wt_agg_registry r = {reg, NULL};
	struct wt_sample_sink fb = {feedback, NULL};
	wt_rules_set_registry(e, &r);
	wt_rules_set_feedback(e, &fb);

	struct wt_structure *st = wt_structure_new();
	int rc = wt_structure_add(st, 1, 0, WT_EL_DC, "site", NULL, 0, 0);
	rc |= wt_structure_add(st, 10, 1, WT_EL_ROOM, "room", NULL, 0, 0);
	rc |= wt_structure_add(st, 100, 10, WT_EL_ROW, "row", NULL, 0, 0);
	rc |= wt_structure_add(st, 1000, 100, WT_EL_RACK, "rack", NULL, 0, 0);
	rc |= wt_structure_place(st, 1, 1000, WT_FEED_A);
	rc |= wt_structure_place(st, 2, 1000, WT_FEED_B);
	rc |= wt_structure_index(st);
	CHECK(rc == 0, "structure");
	wt_rules_set_structure(e, st);
	for (int d = 1; d <= 2; d++) {
		struct wt_rules_device dev = {d, d == 1 ? "A" : "B", "PDU", "X", 16};
		CHECK(wt_rules_device_set(e, &dev) == 0, "device");
	}
	/* series: 1,2 power; 3,4 energy; 5,6 L1 current (device 1, 2) */
	static const int metric[7] = {0,
				      WT_M_POWER_ACTIVE,
				      WT_M_POWER_ACTIVE,
				      WT_M_ENERGY_ACTIVE,
				      WT_M_ENERGY_ACTIVE,
				      WT_M_CURRENT,
				      WT_M_CURRENT};
	for (uint32_t s = 1; s <= 6; s++) {
		struct wt_rules_series si = {
			s, 2 - (int)(s % 2),  0,         s >= 5 ? WT_ENT_PHASE : WT_ENT_INLET,
			1, (uint8_t)(s >= 5), metric[s], "x"};
		CHECK(wt_rules_series_set(e, &si) == 0, "series %u", s);
		CHECK(wt_rollup_register(rollup, s,
					 wt_metric_info((enum wt_metric)metric[s])->flags, 0) == 0,
		      "register %u", s);
	}
	CHECK(wt_rules_commit(e) == 0, "commit");
	for (uint32_t k = 0; k < nkeys; k++)
		CHECK(wt_rollup_register(rollup, AGG0 + k,
					 wt_metric_info((enum wt_metric)keys[k].metric)->flags,
					 0) == 0,
		      "register aggregate %u", k);
	CHECK(wt_rollup_on_close(rollup, wt_rules_on_close, e) == 0, "subscribe rules");
	CHECK(wt_rollup_on_close(rollup, recorder, NULL) == 0, "subscribe recorder");
	CHECK(wt_rollup_on_agg(rollup, on_agg, NULL) == 0, "subscribe hourly");

	double p[NB][3], de[NB][3], energy[3] = {0, 5000, 9000};
	uint64_t device_buckets = 0;
	for (int k = 0; k < 30; k++) {
		int64_t t = t0 + (int64_t)k * WT_BUCKET_MS;
		p[k][1] = 1000 + k;
		p[k][2] = 2000 + 2 * k;
		struct wt_sample s[6];
		for (int d = 1; d <= 2; d++) {
			de[k][d] = p[k][d] * 5 / 3600.0;
			energy[d] += de[k][d];
			s[d - 1] = (struct wt_sample){(uint32_t)d, WT_Q_GOOD, t + 1000, p[k][d]};
			s[d + 1] = (struct wt_sample){(uint32_t)d + 2, WT_Q_GOOD, t + 1000,
						      energy[d]};
			s[d + 3] = (struct wt_sample){(uint32_t)d + 4, WT_Q_GOOD, t + 1000,
						      3.0 + d};
		}
		now_ms = t + 1100;
		wt_rollup_ingest(rollup, s, 6);
		now_ms = t + WT_BUCKET_MS + WT_ROLLUP_GRACE_MS + 10;
		wt_rollup_tick(rollup);
		device_buckets += k == 0 ? 4 : 6; /* the first counter readings only prime */
	}
	uint32_t rack_p = find(1000, 0, 0, WT_M_POWER_ACTIVE),
		 rack_pa = find(1000, WT_FEED_A, 0, WT_M_POWER_ACTIVE);
	uint32_t site_e = find(1, 0, 0, WT_M_ENERGY_ACTIVE),
		 rack_i1 = find(1000, 0, 1, WT_M_CURRENT);
	CHECK(rack_p < NAGG && rack_pa < NAGG && site_e < NAGG && rack_i1 < NAGG,
	      "aggregates registered");
	for (int k = 0; k < 30 && rack_p < NAGG; k++) {
		CHECK(have[k][rack_p] && fabs(got[k][rack_p] - (p[k][1] + p[k][2])) < 1e-3,
		      "bucket %d: rack power %g = %g, in its own bucket", k, got[k][rack_p],
		      p[k][1] + p[k][2]);
		CHECK(have[k][rack_pa] && fabs(got[k][rack_pa] - p[k][1]) < 1e-3,
		      "bucket %d: feed A", k);
		CHECK(have[k][rack_i1] && fabs(got[k][rack_i1] - 9.0) < 1e-6,
		      "bucket %d: L1 current", k);
		/* energy: devices prime at 0, the aggregate's running total at 1 */
		if (k >= 2)
			CHECK(have[k][site_e] &&
				      fabs(got[k][site_e] - (de[k][1] + de[k][2])) < 1e-6,
			      "bucket %d: site energy delta %g = %g", k, got[k][site_e],
			      de[k][1] + de[k][2]);
		else
			CHECK(!have[k][site_e], "bucket %d: the aggregate counter primes first", k);
	}
	const struct wt_rollup_stats *rs = wt_rollup_stats(rollup);
	CHECK(rs->late == 0, "no aggregate sample dropped as late (%llu)",
	      (unsigned long long)rs->late);
	CHECK(rs->derived > 0, "rollup counted the derived samples");
	CHECK(second_calls == 30, "one derived round per boundary (%d)", second_calls);
	/* boundaries include the empty heartbeat before the first bucket */
	CHECK(wt_rules_stats(e)->buckets == device_buckets &&
		      wt_rules_stats(e)->closes == (uint64_t)boundaries && boundaries >= 30,
	      "rules saw every device bucket once and each boundary once (%llu, %llu, %d)",
	      (unsigned long long)wt_rules_stats(e)->buckets,
	      (unsigned long long)wt_rules_stats(e)->closes, boundaries);
	/* the hour that ended after bucket 11: 12 buckets of rack power */
	double sum = 0;
	for (int k = 0; k < 12; k++)
		sum += p[k][1] + p[k][2];
	CHECK(hour_start == t0 + 60000 - 3600000, "hourly row for the hour that ended");
	CHECK(rack_p < NAGG && hour_count[rack_p] == 12 && fabs(hour_sum[rack_p] - sum) < 1e-2,
	      "rack power rolled up hourly: %u buckets, sum %g = %g",
	      rack_p < NAGG ? hour_count[rack_p] : 0, rack_p < NAGG ? hour_sum[rack_p] : 0, sum);
	wt_rules_free(e);
	wt_rollup_free(rollup);
	printf("%d of %d checks passed\n", checks - failures, checks);
	return failures ? 1 : 0;
}
