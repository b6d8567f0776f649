/* sim_physics.c — lazy, deterministic physics of simulated PDUs and UPSs:
 * load profiles, I = P / (V * PF), branch/line/inlet sums, neutral current,
 * energy integration, UPS battery charge and drain, delayed outlet actions. */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define TWO_PI 6.283185307179586
#define DAY_MS 86400000.0

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Deterministic noise in [-1, 1] for (seed, salt, second): the same second
 * reads the same value whichever protocol asks, so servers agree. */
static double noise(uint64_t seed, uint64_t salt, int64_t now_ms)
{
	uint64_t h = mix64(seed ^ mix64(salt) ^ (uint64_t)(now_ms / 1000));
	return (double)(h >> 11) / 4503599627370496.0 - 1.0;
}

static double load_watts(const struct sim_load *l, uint64_t seed, uint64_t salt, int64_t now_ms)
{
	double day = fmod((double)now_ms, DAY_MS) / DAY_MS;
	double p = l->base_w + l->step_w + l->cycle_w * sin(TWO_PI * day + l->cycle_phase) +
		   l->noise_w * noise(seed, salt, now_ms);
	return p > 0 ? p : 0;
}

/* Line voltage: nominal with a slow wander and a little noise. */
static double line_voltage(double nominal, uint64_t seed, unsigned line, int64_t now_ms)
{
	double day = fmod((double)now_ms, DAY_MS) / DAY_MS;
	return nominal * (1.0 + 0.012 * sin(TWO_PI * day * 24 + line)) +
	       0.3 * noise(seed, 1000 + line, now_ms);
}

static void apply_outlet_action(struct sim_outlet *o, enum sim_outlet_action a, int64_t at_ms,
				unsigned reboot_s)
{
	o->pending_action = SIM_OUTLET_NONE;
	switch (a) {
	case SIM_OUTLET_ON:
		o->on = true;
		break;
	case SIM_OUTLET_OFF:
		o->on = false;
		break;
	case SIM_OUTLET_REBOOT:
		o->on = false;
		o->pending_action = SIM_OUTLET_ON;
		o->pending_at_ms = at_ms + (int64_t)reboot_s * 1000;
		break;
	case SIM_OUTLET_NONE:
		break;
	}
}

static void pdu_update(struct sim_device *d, int64_t now_ms, double dt_h)
{
	struct sim_pdu *p = &d->pdu;
	double freq = 50.0 + 0.02 * noise(d->seed, 7, now_ms);
	for (unsigned ui = 0; ui < p->n_units; ui++) {
		struct sim_pdu_unit *u = &p->units[ui];
		for (unsigned l = 0; l < u->n_lines; l++) {
			struct sim_line *ln = &u->lines[l];
			ln->voltage_v = line_voltage(p->nominal_v, d->seed, l, now_ms);
			ln->current_a = ln->power_w = ln->apparent_va = 0;
		}
		double bcur[SIM_MAX_BRANCHES] = {0}, bpow[SIM_MAX_BRANCHES] = {0};
		double ltot_p[SIM_MAX_LINES] = {0};
		for (unsigned oi = 0; oi < u->n_outlets; oi++) {
			struct sim_outlet *o = &u->outlets[oi];
			while (o->pending_action != SIM_OUTLET_NONE && o->pending_at_ms <= now_ms)
				apply_outlet_action(o, o->pending_action, o->pending_at_ms, d->reboot_s);
			struct sim_branch *br = &u->branches[o->branch];
			double v = u->lines[o->line].voltage_v;
			double pw = 0;
			if (o->on && !br->tripped)
				pw = load_watts(&o->load, d->seed, ui * 64 + oi, now_ms);
			double old = o->power_w;
			o->voltage_v = v;
			o->power_w = pw;
			o->pf = pw > 0 ? o->load.pf : 0;
			o->current_a = pw > 0 ? pw / (v * o->load.pf) : 0;
			o->apparent_va = v * o->current_a;
			o->energy_wh += (old + pw) * 0.5 * dt_h;
			bcur[o->branch] += o->current_a;
			bpow[o->branch] += pw;
			ltot_p[o->line] += pw;
			u->lines[o->line].current_a += o->current_a;
			u->lines[o->line].apparent_va += o->apparent_va;
		}
		for (unsigned b = 0; b < u->n_branches; b++) {
			struct sim_branch *br = &u->branches[b];
			/* A breaker trips when its outlets draw more than its rating. */
			if (!br->tripped && bcur[b] > br->rating_a) {
				br->tripped = true;
				for (unsigned oi = 0; oi < u->n_outlets; oi++) {
					struct sim_outlet *o = &u->outlets[oi];
					if (o->branch != b)
						continue;
					u->lines[o->line].current_a -= o->current_a;
					u->lines[o->line].apparent_va -= o->apparent_va;
					ltot_p[o->line] -= o->power_w;
					o->current_a = o->power_w = o->apparent_va = o->pf = 0;
				}
				bcur[b] = bpow[b] = 0;
			}
			double old = br->power_w;
			br->current_a = bcur[b];
			br->power_w = bpow[b];
			br->energy_wh += (old + bpow[b]) * 0.5 * dt_h;
		}
		double tp = 0, ts = 0, tc = 0;
		double nre = 0, nim = 0;
		for (unsigned l = 0; l < u->n_lines; l++) {
			struct sim_line *ln = &u->lines[l];
			double old = ln->power_w;
			ln->power_w = ltot_p[l];
			ln->pf = ln->apparent_va > 0 ? ln->power_w / ln->apparent_va : 0;
			ln->energy_wh += (old + ln->power_w) * 0.5 * dt_h;
			tp += ln->power_w;
			ts += ln->apparent_va;
			tc += ln->current_a;
			nre += ln->current_a * cos(TWO_PI * l / 3.0);
			nim += ln->current_a * sin(TWO_PI * l / 3.0);
		}
		double oldp = u->power_w, olds = u->apparent_va;
		u->voltage_v = u->lines[0].voltage_v;
		u->current_a = tc;
		/* wye: the phasor sum of the line currents; single phase: the
		 * neutral carries the line current back; delta has no neutral */
		u->neutral_a = p->wiring == SIM_WIRING_WYE ? sqrt(nre * nre + nim * nim)
			       : p->wiring == SIM_WIRING_1PH ? tc : 0;
		u->power_w = tp;
		u->apparent_va = ts;
		u->pf = ts > 0 ? tp / ts : 0;
		u->frequency_hz = freq;
		u->energy_wh += (oldp + tp) * 0.5 * dt_h;
		u->energy_vah += (olds + ts) * 0.5 * dt_h;
		for (unsigned s = 0; s < u->n_sensors; s++) {
			struct sim_sensor *se = &u->sensors[s];
			double day = fmod((double)now_ms, DAY_MS) / DAY_MS;
			if (se->kind == SIM_SENSOR_TEMPERATURE)
				se->value = se->base + 1.5 * sin(TWO_PI * day) + tp / 2000.0 +
					    0.1 * noise(d->seed, 2000 + ui * 8 + s, now_ms);
			else
				se->value = se->base - 3.0 * sin(TWO_PI * day) +
					    0.2 * noise(d->seed, 2000 + ui * 8 + s, now_ms);
		}
	}
}

static void ups_update(struct sim_device *d, int64_t now_ms, double dt_h)
{
	struct sim_ups *u = &d->ups;
	unsigned n = u->n_lines ? u->n_lines : 1;
	double pw = load_watts(&u->load, d->seed, 4242, now_ms);
	bool mains = !u->mains_failed;
	if ((!mains && u->battery_charge_pct <= 0.0) || u->output_off)
		pw = 0; /* battery exhausted or output switched off: no load */
	double dt_s = dt_h * 3600.0;
	double freq = 50.0 + 0.02 * noise(d->seed, 7, now_ms);
	if (mains) {
		u->on_battery = false;
		u->seconds_on_battery = 0;
		/* recharge to full in one hour */
		u->battery_charge_pct += dt_s * 100.0 / 3600.0;
		if (u->battery_charge_pct > 100.0)
			u->battery_charge_pct = 100.0;
	} else {
		u->on_battery = true;
		u->seconds_on_battery += dt_s;
		double used_wh = pw * dt_h / 0.92;
		if (u->battery_capacity_wh > 0)
			u->battery_charge_pct -= used_wh * 100.0 / u->battery_capacity_wh;
		if (u->battery_charge_pct < 0)
			u->battery_charge_pct = 0;
		if (u->battery_charge_pct <= 0.0)
			pw = 0; /* drained in this step: the output drops now */
	}
	double pf = u->load.pf > 0 ? u->load.pf : 1.0;
	double old_out = 0;
	for (unsigned l = 0; l < n; l++)
		old_out += u->output.power_w[l];
	u->output.frequency_hz = mains ? freq : 50.0;
	u->input.frequency_hz = mains ? freq : 0;
	u->bypass.frequency_hz = mains ? freq : 0;
	for (unsigned l = 0; l < n; l++) {
		double vin = mains ? line_voltage(u->nominal_v, d->seed, l, now_ms) : 0;
		double vout = u->nominal_v + 0.2 * noise(d->seed, 3000 + l, now_ms);
		double pl = pw / n;
		u->output.voltage_v[l] = !u->output_off && (pw > 0 || mains) ? vout : 0;
		u->output.power_w[l] = pl;
		u->output.current_a[l] = pl > 0 ? pl / (vout * pf) : 0;
		u->output.apparent_va[l] = vout * u->output.current_a[l];
		u->output.load_pct[l] = u->rating_va > 0 ? u->output.apparent_va[l] * n * 100.0 / u->rating_va : 0;
		u->input.voltage_v[l] = vin;
		double charge_w = mains && u->battery_charge_pct < 100.0 ? u->rating_w * 0.05 / n : 0;
		double pin = mains ? pl / 0.95 + charge_w : 0;
		u->input.power_w[l] = pin;
		u->input.current_a[l] = vin > 0 ? pin / (vin * 0.99) : 0;
		u->input.apparent_va[l] = vin * u->input.current_a[l];
		u->bypass.voltage_v[l] = vin;
		u->bypass.current_a[l] = 0;
		u->bypass.power_w[l] = 0;
		u->bypass.apparent_va[l] = 0;
	}
	double s = pw / pf;
	double lw = u->rating_w > 0 ? pw * 100.0 / u->rating_w : 0;
	double lva = u->rating_va > 0 ? s * 100.0 / u->rating_va : 0;
	u->load_pct = lw > lva ? lw : lva;
	u->overload = u->load_pct > 100.0;
	u->low_battery = u->battery_charge_pct < u->low_battery_pct;
	u->battery_runtime_s = u->battery_charge_pct <= 0.0 ? 0.0 : pw > 1.0 ? u->battery_capacity_wh * u->battery_charge_pct / 100.0 *
						  0.92 / pw * 3600.0
				       : 86400.0;
	u->battery_voltage_v = u->battery_nominal_v * (0.92 + 0.14 * u->battery_charge_pct / 100.0) -
			       (u->on_battery ? u->battery_nominal_v * 0.03 : 0);
	u->battery_current_a = u->on_battery && u->battery_voltage_v > 0
				       ? pw / 0.92 / u->battery_voltage_v
				       : 0;
	u->battery_temp_c = 24.0 + 2.0 * u->load_pct / 100.0 + 0.1 * noise(d->seed, 9, now_ms);
	u->output_energy_wh += (old_out + pw) * 0.5 * dt_h;
}

void sim_device_update(struct sim_device *dev, int64_t now_ms)
{
	if (dev->updated_ms && now_ms <= dev->updated_ms)
		return;
	double dt_h = dev->updated_ms ? (double)(now_ms - dev->updated_ms) / 3600000.0 : 0;
	if (dt_h > 24.0) /* a sleeping simulator does not invent a day of energy */
		dt_h = 24.0;
	if (dev->kind == SIM_KIND_PDU)
		pdu_update(dev, now_ms, dt_h);
	else
		ups_update(dev, now_ms, dt_h);
	dev->updated_ms = now_ms;
}

void sim_device_refresh(struct sim_device *dev, int64_t now_ms)
{
	sim_device_update(dev, now_ms);
	/* integrated up to now: recompute the live values with no time passing */
	if (dev->kind == SIM_KIND_PDU)
		pdu_update(dev, dev->updated_ms, 0);
	else
		ups_update(dev, dev->updated_ms, 0);
}

int sim_outlet_control(struct sim_device *dev, unsigned unit, unsigned outlet,
		       enum sim_outlet_action action, unsigned delay_s, int64_t now_ms)
{
	if (dev->kind != SIM_KIND_PDU || unit >= dev->pdu.n_units ||
	    outlet >= dev->pdu.units[unit].n_outlets)
		return -ENOENT;
	if (action < SIM_OUTLET_ON || action > SIM_OUTLET_REBOOT)
		return -EINVAL;
	struct sim_outlet *o = &dev->pdu.units[unit].outlets[outlet];
	if (!o->switchable)
		return -EPERM;
	sim_device_update(dev, now_ms);
	if (delay_s == 0) {
		apply_outlet_action(o, action, now_ms, dev->reboot_s);
	} else {
		o->pending_action = action;
		o->pending_at_ms = now_ms + (int64_t)delay_s * 1000;
	}
	sim_device_refresh(dev, now_ms);
	return 0;
}

void sim_device_reboot(struct sim_device *dev, int64_t now_ms)
{
	sim_device_update(dev, now_ms);
	dev->boot_ms = now_ms;
	dev->boots++;
	if (dev->kind == SIM_KIND_PDU) {
		for (unsigned ui = 0; ui < dev->pdu.n_units; ui++) {
			struct sim_pdu_unit *u = &dev->pdu.units[ui];
			u->energy_wh = u->energy_vah = 0;
			for (unsigned l = 0; l < u->n_lines; l++)
				u->lines[l].energy_wh = 0;
			for (unsigned b = 0; b < u->n_branches; b++)
				u->branches[b].energy_wh = 0;
			for (unsigned o = 0; o < u->n_outlets; o++) {
				u->outlets[o].energy_wh = 0;
				u->outlets[o].pending_action = SIM_OUTLET_NONE;
			}
		}
	} else {
		dev->ups.output_energy_wh = 0;
	}
}

int sim_load_step(struct sim_device *dev, unsigned unit, unsigned outlet, double watts,
		  int64_t now_ms)
{
	sim_device_update(dev, now_ms);
	if (dev->kind == SIM_KIND_UPS) {
		dev->ups.load.step_w += (float)watts;
	} else {
		if (unit >= dev->pdu.n_units || outlet >= dev->pdu.units[unit].n_outlets)
			return -ENOENT;
		dev->pdu.units[unit].outlets[outlet].load.step_w += (float)watts;
	}
	sim_device_refresh(dev, now_ms);
	return 0;
}

int sim_ups_mains(struct sim_device *dev, bool failed, int64_t now_ms)
{
	if (dev->kind != SIM_KIND_UPS)
		return -EINVAL;
	sim_device_update(dev, now_ms);
	dev->ups.mains_failed = failed;
	sim_device_refresh(dev, now_ms);
	return 0;
}

unsigned sim_pdu_outlet_count(const struct sim_device *dev)
{
	if (dev->kind != SIM_KIND_PDU)
		return 0;
	unsigned n = 0;
	for (unsigned u = 0; u < dev->pdu.n_units; u++)
		n += dev->pdu.units[u].n_outlets;
	return n;
}

uint32_t sim_uptime_ticks(const struct sim_device *dev, int64_t now_ms)
{
	int64_t d = now_ms - dev->boot_ms;
	if (d < 0)
		d = 0;
	return (uint32_t)((uint64_t)(d / 10) & 0xffffffffu);
}
