/* sim_json.c — device state and faults as JSON for the control API. */
#include "sim_json.h"

#include <errno.h>
#include <string.h>

static const char *const snmp_err_names[] = {"none", "nosuchobject", "toobig", "generr"};
static const char *const action_names[] = {"none", "on", "off", "reboot"};

json_t *sim_faults_json(const struct sim_faults *f)
{
	return json_pack("{s:i, s:b, s:i, s:i, s:b, s:b, s:b, s:s, s:i, s:i}", "snmp_max_size",
			 (int)f->snmp_max_size, "timeout", f->timeout,
			 "delay_ms", (int)f->delay_ms, "loss_pct", (int)f->loss_pct, "garbage",
			 f->garbage, "truncated", f->truncated, "disconnect", f->disconnect,
			 "snmp_error", snmp_err_names[f->snmp_error], "http_status",
			 (int)f->http_status, "modbus_exception", (int)f->modbus_exception);
}

static int get_bool(json_t *j, const char *k, bool *out, const char **err)
{
	json_t *v = json_object_get(j, k);
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		*err = "expected a boolean";
		return -EINVAL;
	}
	*out = json_is_true(v);
	return 0;
}

static int get_int(json_t *j, const char *k, long lo, long hi, long *out, const char **err)
{
	json_t *v = json_object_get(j, k);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		*err = "integer out of range";
		return -EINVAL;
	}
	*out = (long)json_integer_value(v);
	return 0;
}

int sim_faults_from_json(struct sim_faults *f, json_t *j, const char **err)
{
	if (!json_is_object(j)) {
		*err = "expected a JSON object";
		return -EINVAL;
	}
	struct sim_faults n = *f;
	bool clear = false;
	if (get_bool(j, "clear", &clear, err) < 0)
		return -EINVAL;
	if (clear)
		memset(&n, 0, sizeof(n));
	long delay = n.delay_ms, loss = n.loss_pct, hs = n.http_status, mx = n.modbus_exception;
	long msz = n.snmp_max_size;
	if (get_bool(j, "timeout", &n.timeout, err) < 0 || get_bool(j, "garbage", &n.garbage, err) < 0 ||
	    get_bool(j, "truncated", &n.truncated, err) < 0 ||
	    get_bool(j, "disconnect", &n.disconnect, err) < 0 ||
	    get_int(j, "delay_ms", 0, 600000, &delay, err) < 0 ||
	    get_int(j, "loss_pct", 0, 100, &loss, err) < 0 ||
	    get_int(j, "http_status", 0, 599, &hs, err) < 0 ||
	    get_int(j, "modbus_exception", 0, 255, &mx, err) < 0 ||
	    get_int(j, "snmp_max_size", 0, 65000, &msz, err) < 0)
		return -EINVAL;
	json_t *se = json_object_get(j, "snmp_error");
	if (se) {
		const char *s = json_string_value(se);
		int found = -1;
		for (int i = 0; s && i < 4; i++)
			if (strcmp(s, snmp_err_names[i]) == 0)
				found = i;
		if (found < 0) {
			*err = "snmp_error must be none, nosuchobject, toobig or generr";
			return -EINVAL;
		}
		n.snmp_error = (enum sim_snmp_err)found;
	}
	n.delay_ms = (uint32_t)delay;
	n.loss_pct = (uint8_t)loss;
	n.http_status = (uint16_t)hs;
	n.modbus_exception = (uint8_t)mx;
	if (msz && msz < 484) { /* RFC 3417: every agent takes 484-byte messages */
		*err = "snmp_max_size must be 0 or 484..65000";
		return -EINVAL;
	}
	n.snmp_max_size = (uint16_t)msz;
	*f = n;
	return 0;
}

static json_t *outlet_json(const struct sim_outlet *o, unsigned idx)
{
	return json_pack("{s:i, s:s, s:i, s:i, s:b, s:b, s:b, s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:{s:f, s:f, s:f, s:f, s:f}}",
			 "index", (int)idx, "name", o->name, "line", o->line + 1, "branch", o->branch + 1,
			 "switchable", o->switchable, "metered", o->metered, "on", o->on,
			 "pending", action_names[o->pending_action], "pending_at_ms",
			 (json_int_t)o->pending_at_ms, "voltage", o->voltage_v, "current", o->current_a,
			 "power", o->power_w, "apparent_power", o->apparent_va, "power_factor", o->pf,
			 "energy_wh", o->energy_wh, "load", "base_w", (double)o->load.base_w, "noise_w",
			 (double)o->load.noise_w, "cycle_w", (double)o->load.cycle_w, "step_w",
			 (double)o->load.step_w, "pf", (double)o->load.pf);
}

static json_t *unit_json(const struct sim_pdu *p, const struct sim_pdu_unit *u, unsigned idx)
{
	json_t *j = json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "index", (int)idx,
			      "voltage", u->voltage_v, "current", u->current_a, "neutral_current",
			      u->neutral_a, "power", u->power_w, "apparent_power", u->apparent_va,
			      "power_factor", u->pf, "frequency", u->frequency_hz, "energy_wh",
			      u->energy_wh, "energy_vah", u->energy_vah, "rating_a", (double)u->rating_a);
	if (!j)
		return NULL;
	json_t *lines = json_array(), *brs = json_array(), *outs = json_array(), *sens = json_array();
	static const char *const wye[] = {"L1", "L2", "L3"}, *const delta[] = {"L1-L2", "L2-L3", "L3-L1"};
	for (unsigned l = 0; l < u->n_lines; l++) {
		const struct sim_line *ln = &u->lines[l];
		json_array_append_new(lines, json_pack("{s:i, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
			"index", (int)l + 1, "name", p->wiring == SIM_WIRING_DELTA ? delta[l] : wye[l],
			"voltage", ln->voltage_v, "current", ln->current_a, "power", ln->power_w,
			"apparent_power", ln->apparent_va, "power_factor", ln->pf, "energy_wh",
			ln->energy_wh, "rating_a", (double)ln->rating_a));
	}
	for (unsigned b = 0; b < u->n_branches; b++) {
		const struct sim_branch *br = &u->branches[b];
		json_array_append_new(brs, json_pack("{s:i, s:s, s:i, s:f, s:b, s:f, s:f, s:f}", "index",
			(int)b + 1, "name", br->name, "line", br->line + 1, "rating_a",
			(double)br->rating_a, "tripped", br->tripped, "current", br->current_a, "power",
			br->power_w, "energy_wh", br->energy_wh));
	}
	for (unsigned o = 0; o < u->n_outlets; o++)
		json_array_append_new(outs, outlet_json(&u->outlets[o], o + 1));
	for (unsigned s = 0; s < u->n_sensors; s++)
		json_array_append_new(sens, json_pack("{s:i, s:s, s:s, s:f}", "index", (int)s + 1,
			"kind", u->sensors[s].kind == SIM_SENSOR_TEMPERATURE ? "temperature" : "humidity",
			"name", u->sensors[s].name, "value", u->sensors[s].value));
	json_object_set_new(j, "lines", lines);
	json_object_set_new(j, "branches", brs);
	json_object_set_new(j, "outlets", outs);
	json_object_set_new(j, "sensors", sens);
	return j;
}

static json_t *lines_json(const struct sim_ups_lines *l, unsigned n, bool load)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < n; i++) {
		json_t *o = json_pack("{s:i, s:f, s:f, s:f, s:f}", "index", (int)i + 1, "voltage",
				      l->voltage_v[i], "current", l->current_a[i], "power", l->power_w[i],
				      "apparent_power", l->apparent_va[i]);
		if (o && load)
			json_object_set_new(o, "load_pct", json_real(l->load_pct[i]));
		json_array_append_new(a, o);
	}
	return json_pack("{s:f, s:o}", "frequency", l->frequency_hz, "lines", a);
}

json_t *sim_device_json(struct sim_device *d, int64_t now_ms)
{
	sim_device_update(d, now_ms);
	char feed[2] = {d->place.feed, 0};
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:I, s:I, s:o, s:{s:s, s:s, s:s, s:s}}",
			      "id", (int)d->id, "name", d->name, "kind",
			      d->kind == SIM_KIND_PDU ? "pdu" : "ups", "model", sim_model_name(d->model),
			      "protocol", sim_proto_name(d->proto), "serial", d->serial, "firmware",
			      d->firmware, "mac", d->mac, "now_ms", (json_int_t)now_ms, "boot_ms",
			      (json_int_t)d->boot_ms, "uptime_ticks",
			      (json_int_t)sim_uptime_ticks(d, now_ms), "boots", (int)d->boots,
			      "requests", (json_int_t)d->requests, "seed", (json_int_t)d->seed,
			      "faults", sim_faults_json(&d->faults), "placement", "room", d->place.room,
			      "row", d->place.row, "rack", d->place.rack, "feed", feed);
	if (!j)
		return NULL;
	if (d->kind == SIM_KIND_PDU) {
		json_t *units = json_array();
		for (unsigned u = 0; u < d->pdu.n_units; u++)
			json_array_append_new(units, unit_json(&d->pdu, &d->pdu.units[u], u + 1));
		json_object_set_new(j, "pdu", json_pack("{s:s, s:f, s:o}", "wiring",
			sim_wiring_name(d->pdu.wiring), "nominal_v", (double)d->pdu.nominal_v, "units", units));
	} else {
		const struct sim_ups *u = &d->ups;
		json_t *up = json_pack("{s:i, s:f, s:f, s:f, s:b, s:b, s:b, s:b, s:b, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
			"lines", (int)u->n_lines, "nominal_v", (double)u->nominal_v, "rating_va",
			(double)u->rating_va, "rating_w", (double)u->rating_w, "mains_failed",
			u->mains_failed, "on_battery", u->on_battery, "low_battery", u->low_battery,
			"overload", u->overload, "output_off", u->output_off, "load_pct", u->load_pct,
			"battery_charge_pct", u->battery_charge_pct, "battery_runtime_s",
			u->battery_runtime_s, "battery_voltage", u->battery_voltage_v,
			"battery_current", u->battery_current_a, "battery_temperature",
			u->battery_temp_c, "seconds_on_battery", u->seconds_on_battery,
			"output_energy_wh", u->output_energy_wh);
		if (up) {
			json_object_set_new(up, "input", lines_json(&u->input, u->n_lines, false));
			json_object_set_new(up, "output", lines_json(&u->output, u->n_lines, true));
			json_object_set_new(up, "bypass", lines_json(&u->bypass, u->n_lines, false));
		}
		json_object_set_new(j, "ups", up);
	}
	return j;
}
