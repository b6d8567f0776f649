/* t_physics.c — physics of wattrack-sim under a manual clock: sums, energy
 * integration and monotonicity, outlets off, delayed actions, reboots,
 * breaker trips, UPS drain and recharge, determinism. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

#include "../lib/check.h"

static int64_t now_ms = 1750000000000LL;
static int64_t clock_fn(void *ctx)
{
	(void)ctx;
	return now_ms;
}

static bool near(double a, double b, double tol)
{
	return fabs(a - b) <= tol * fmax(1.0, fmax(fabs(a), fabs(b)));
}

static void check_sums(const struct sim_device *d, const char *when)
{
	for (unsigned ui = 0; ui < d->pdu.n_units; ui++) {
		const struct sim_pdu_unit *u = &d->pdu.units[ui];
		double p = 0, lc[3] = {0}, bc[SIM_MAX_BRANCHES] = {0};
		for (unsigned o = 0; o < u->n_outlets; o++) {
			const struct sim_outlet *ol = &u->outlets[o];
			p += ol->power_w;
			lc[ol->line] += ol->current_a;
			bc[ol->branch] += ol->current_a;
			if (!ol->on)
				CHECK(ol->current_a == 0 && ol->power_w == 0, "%s: off outlet draws", when);
			else if (ol->power_w > 0)
				CHECK(near(ol->current_a, ol->power_w / (ol->voltage_v * ol->pf), 1e-9), "%s: I=P/(V*PF)", when);
		}
		CHECK(near(p, u->power_w, 1e-9), "%s: outlets %.3f W vs inlet %.3f W", when, p, u->power_w);
		double tc = 0;
		for (unsigned l = 0; l < u->n_lines; l++) {
			CHECK(near(lc[l], u->lines[l].current_a, 1e-9), "%s: line %u sum", when, l);
			tc += u->lines[l].current_a;
		}
		CHECK(near(tc, u->current_a, 1e-9), "%s: inlet current", when);
		for (unsigned b = 0; b < u->n_branches; b++)
			CHECK(near(bc[b], u->branches[b].current_a, 1e-9), "%s: branch %u sum", when, b);
	}
}

int main(void)
{
	struct sim *sim = sim_new();
	sim->now_fn = clock_fn;
	sim->start_ms = now_ms;
	struct sim_device *apc = sim_add_device(sim, SIM_MODEL_APC_RPDU2, SIM_PROTO_SNMP, SIM_WIRING_1PH, 1, 24);
	struct sim_device *eat = sim_add_device(sim, SIM_MODEL_EATON_EPDU, SIM_PROTO_SNMP, SIM_WIRING_WYE, 2, 30);
	struct sim_device *st4 = sim_add_device(sim, SIM_MODEL_SENTRY4, SIM_PROTO_SNMP, SIM_WIRING_DELTA, 1, 24);
	struct sim_device *ups = sim_add_device(sim, SIM_MODEL_APC_UPS, SIM_PROTO_SNMP, SIM_WIRING_1PH, 1, 0);
	CHECK(apc && eat && st4 && ups && sim_reindex(sim) == 0, "fleet");
	if (!apc || !eat || !st4 || !ups)
		return 1;
	struct sim_device *pdus[] = {apc, eat, st4};

	/* two days in 10 s steps: sums hold, energy is monotonic and integrates power */
	double e_prev[3] = {0}, e_int[3] = {0}, p_prev[3] = {0};
	for (int step = 0; step <= 2 * 8640; step++) {
		for (int i = 0; i < 3; i++) {
			sim_device_update(pdus[i], now_ms);
			const struct sim_pdu_unit *u = &pdus[i]->pdu.units[0];
			if (step % 500 == 0)
				check_sums(pdus[i], "2 days");
			CHECK(u->energy_wh >= e_prev[i], "energy monotonic");
			if (step > 0)
				e_int[i] += (p_prev[i] + u->power_w) / 2 * 10.0 / 3600.0;
			e_prev[i] = u->energy_wh;
			p_prev[i] = u->power_w;
		}
		now_ms += 10000;
	}
	for (int i = 0; i < 3; i++)
		CHECK(near(e_prev[i], e_int[i], 1e-6) && e_prev[i] > 1000, "energy %f Wh integrates power %f",
		      e_prev[i], e_int[i]);
	/* the daily cycle shows: power varies over the day */
	CHECK(apc->pdu.units[0].power_w > 100, "APC draws power");
	/* wye neutral: vector sum of line currents */
	{
		const struct sim_pdu_unit *u = &eat->pdu.units[1];
		double re = 0, im = 0;
		for (int l = 0; l < 3; l++) {
			re += u->lines[l].current_a * cos(2 * M_PI * l / 3);
			im += u->lines[l].current_a * sin(2 * M_PI * l / 3);
		}
		CHECK(near(hypot(re, im), u->neutral_a, 1e-9) && u->n_lines == 3, "wye neutral current");
		CHECK(st4->pdu.units[0].neutral_a == 0, "delta has no neutral");
		CHECK(apc->pdu.units[0].neutral_a == apc->pdu.units[0].current_a, "1ph neutral carries the line current");
	}

	/* outlet off now, delayed on, reboot cycle */
	CHECK(sim_outlet_control(apc, 0, 4, SIM_OUTLET_OFF, 0, now_ms) == 0, "off");
	CHECK(apc->pdu.units[0].outlets[4].current_a == 0, "off draws 0 A");
	check_sums(apc, "after off");
	CHECK(sim_outlet_control(apc, 0, 4, SIM_OUTLET_ON, 30, now_ms) == 0, "delayed on");
	now_ms += 29000;
	sim_device_update(apc, now_ms);
	CHECK(!apc->pdu.units[0].outlets[4].on, "still off before the delay");
	now_ms += 2000;
	sim_device_update(apc, now_ms);
	CHECK(apc->pdu.units[0].outlets[4].on, "on after the delay");
	CHECK(sim_outlet_control(apc, 0, 5, SIM_OUTLET_REBOOT, 0, now_ms) == 0, "reboot outlet");
	CHECK(!apc->pdu.units[0].outlets[5].on, "reboot: off first");
	now_ms += (int64_t)apc->reboot_s * 1000 + 1;
	sim_device_update(apc, now_ms);
	CHECK(apc->pdu.units[0].outlets[5].on, "reboot: on again");
	CHECK(sim_outlet_control(apc, 0, 24, SIM_OUTLET_OFF, 0, now_ms) == -ENOENT, "no outlet 25");
	CHECK(sim_outlet_control(apc, 1, 0, SIM_OUTLET_OFF, 0, now_ms) == -ENOENT, "no unit 2");
	apc->pdu.units[0].outlets[7].switchable = false;
	CHECK(sim_outlet_control(apc, 0, 7, SIM_OUTLET_OFF, 0, now_ms) == -EPERM, "metered-only outlet");

	/* device reboot: uptime and energy restart */
	double e_before = apc->pdu.units[0].energy_wh;
	CHECK(sim_uptime_ticks(apc, now_ms) > 100 * 86400, "uptime of days");
	sim_device_reboot(apc, now_ms);
	CHECK(apc->pdu.units[0].energy_wh == 0 && apc->pdu.units[0].outlets[0].energy_wh == 0 && e_before > 0,
	      "energy reset by reboot");
	CHECK(sim_uptime_ticks(apc, now_ms) == 0 && apc->boots == 2, "uptime reset, boots counted");

	/* a load step above the branch rating trips the breaker, its outlets go dark */
	unsigned br = apc->pdu.units[0].outlets[0].branch;
	CHECK(sim_load_step(apc, 0, 0, 5000, now_ms + 1000) == 0, "load step");
	CHECK(apc->pdu.units[0].branches[br].tripped, "breaker tripped");
	for (unsigned o = 0; o < 24; o++)
		if (apc->pdu.units[0].outlets[o].branch == br)
			CHECK(apc->pdu.units[0].outlets[o].current_a == 0, "tripped branch outlet draws 0");
	check_sums(apc, "after trip");

	/* UPS: mains failure drains, low battery, exhaustion, recharge */
	now_ms += 60000;
	sim_device_update(ups, now_ms);
	CHECK(!ups->ups.on_battery && ups->ups.battery_charge_pct == 100.0, "UPS healthy");
	CHECK(sim_ups_mains(ups, true, now_ms) == 0 && ups->ups.on_battery, "on battery");
	CHECK(sim_ups_mains(apc, true, now_ms) == -EINVAL, "mains on a PDU refused");
	double c = ups->ups.battery_charge_pct, rt = ups->ups.battery_runtime_s;
	bool saw_low = false;
	for (int i = 0; i < 600 && ups->ups.battery_charge_pct > 0; i++) {
		now_ms += 10000;
		sim_device_update(ups, now_ms);
		CHECK(ups->ups.battery_charge_pct <= c, "charge never rises on battery");
		c = ups->ups.battery_charge_pct;
		if (ups->ups.low_battery)
			saw_low = true;
	}
	CHECK(saw_low && ups->ups.battery_charge_pct == 0, "low battery then empty");
	CHECK(ups->ups.output.power_w[0] == 0 && ups->ups.battery_runtime_s < rt, "empty battery: no output");
	CHECK(ups->ups.seconds_on_battery > 60, "time on battery counted");
	CHECK(sim_ups_mains(ups, false, now_ms) == 0 && !ups->ups.on_battery, "mains back");
	now_ms += 600000;
	sim_device_update(ups, now_ms);
	CHECK(ups->ups.battery_charge_pct > 5 && ups->ups.output.power_w[0] > 0, "recharging, load back");
	CHECK(sim_load_step(ups, 0, 0, 10000, now_ms) == 0 && ups->ups.overload && ups->ups.load_pct > 100,
	      "overload above 100 %%");

	/* determinism: the same seed gives the same values at the same time */
	struct sim *sim2 = sim_new();
	sim2->now_fn = clock_fn;
	sim2->start_ms = sim->start_ms;
	struct sim_device *a2 = sim_add_device(sim2, SIM_MODEL_APC_RPDU2, SIM_PROTO_SNMP, SIM_WIRING_1PH, 1, 24);
	struct sim_device *a1 = sim_add_device(sim2, SIM_MODEL_APC_RPDU2, SIM_PROTO_SNMP, SIM_WIRING_1PH, 1, 24);
	struct sim *sim3 = sim_new();
	struct sim_device *b2 = sim_add_device(sim3, SIM_MODEL_APC_RPDU2, SIM_PROTO_SNMP, SIM_WIRING_1PH, 1, 24);
	sim_device_update(a2, now_ms);
	sim_device_update(b2, now_ms);
	sim_device_update(a1, now_ms);
	CHECK(a2->pdu.units[0].power_w == b2->pdu.units[0].power_w, "deterministic per seed");
	CHECK(a1->pdu.units[0].power_w != a2->pdu.units[0].power_w, "devices differ");
	sim_free(sim3);
	sim_free(sim2);
	sim_free(sim);
	if (failures)
		printf("%d failures\n", failures);
	else
		printf("all physics checks passed\n");
	return failures ? 1 : 0;
}
