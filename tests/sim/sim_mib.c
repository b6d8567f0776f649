/* sim_mib.c — expands model tables into sorted per-shape OID indexes and
 * computes values from live device state. */
#include "sim_mib.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A device shape: what decides the set of OIDs of a model. */
struct shape {
	enum sim_model model;
	uint8_t n_units, n_outlets, n_lines, n_branches, n_sensors;
};

struct view_cache {
	struct shape key;
	struct mib_view view;
	struct view_cache *next;
};
static struct view_cache *views;

static struct shape shape_of(const struct sim_device *d)
{
	struct shape s = {.model = d->model};
	if (d->kind == SIM_KIND_PDU) {
		s.n_units = d->pdu.n_units;
		s.n_outlets = d->pdu.units[0].n_outlets;
		s.n_lines = d->pdu.units[0].n_lines;
		s.n_branches = d->pdu.units[0].n_branches;
		s.n_sensors = d->pdu.units[0].n_sensors;
	} else {
		s.n_units = 1;
		s.n_lines = d->ups.n_lines;
	}
	return s;
}

static bool shape_eq(const struct shape *a, const struct shape *b)
{
	return a->model == b->model && a->n_units == b->n_units && a->n_outlets == b->n_outlets &&
	       a->n_lines == b->n_lines && a->n_branches == b->n_branches &&
	       a->n_sensors == b->n_sensors;
}

/* Element counts per unit for a token. */
static unsigned token_count(const struct shape *s, char t)
{
	switch (t) {
	case 'o':
	case 'O':
		return s->n_outlets;
	case 'l':
	case 'L':
	case 'p':
		return s->n_lines;
	case 'b':
	case 'B':
		return s->n_branches;
	case 's':
		return s->n_sensors;
	default:
		return 1;
	}
}

struct builder {
	uint32_t *arcs;
	size_t n_arcs, cap_arcs;
	struct mib_entry *e;
	size_t n, cap;
};

static int emit(struct builder *b, const char *tmpl, unsigned obj, unsigned unit, unsigned elem,
		unsigned flat)
{
	uint32_t tmp[BER_MAX_OID];
	size_t k = 0;
	const char *p = tmpl;
	while (*p && k < BER_MAX_OID) {
		if (*p == '{') {
			char t = p[1];
			uint32_t v;
			switch (t) {
			case 'u':
				v = unit + 1;
				break;
			case 'U':
				v = unit;
				break;
			case 'O':
			case 'L':
			case 'B':
				v = flat;
				break;
			default:
				v = elem + 1;
				break;
			}
			tmp[k++] = v;
			p += 3;
		} else {
			char *end;
			tmp[k++] = (uint32_t)strtoul(p, &end, 10);
			p = end;
		}
		if (*p == '.')
			p++;
	}
	if (b->n_arcs + k > b->cap_arcs) {
		size_t nc = b->cap_arcs ? b->cap_arcs * 2 : 4096;
		while (nc < b->n_arcs + k)
			nc *= 2;
		uint32_t *na = realloc(b->arcs, nc * sizeof(*na));
		if (!na)
			return -ENOMEM;
		b->arcs = na;
		b->cap_arcs = nc;
	}
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 256;
		struct mib_entry *ne = realloc(b->e, nc * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		b->e = ne;
		b->cap = nc;
	}
	memcpy(b->arcs + b->n_arcs, tmp, k * sizeof(*tmp));
	char tok = 0;
	for (const char *q = tmpl; *q; q++)
		if (q[0] == '{' && q[1] != 'u' && q[1] != 'U')
			tok = q[1];
	b->e[b->n++] = (struct mib_entry){
		.off = (uint32_t)b->n_arcs,
		.len = (uint16_t)k,
		.obj = (uint16_t)obj,
		.unit = (uint8_t)unit,
		.elem = (uint8_t)elem,
		.inst = (uint16_t)(tok == 'O' || tok == 'L' || tok == 'B' ? flat : elem + 1),
	};
	b->n_arcs += k;
	return 0;
}

static const uint32_t *sort_arcs;
static int cmp_entry(const void *a, const void *b)
{
	const struct mib_entry *x = a, *y = b;
	return oid_cmp(sort_arcs + x->off, x->len, sort_arcs + y->off, y->len);
}

static int view_build(const struct shape *s, struct mib_view *v)
{
	const struct mib_model *m = mib_model_for(s->model);
	if (!m)
		return -ENOENT;
	struct builder b = {0};
	for (unsigned i = 0; i < m->n_objs; i++) {
		const char *t = m->objs[i].oid;
		char tok = 0;
		bool has_unit = false;
		for (const char *q = t; *q; q++)
			if (q[0] == '{') {
				if (q[1] == 'u' || q[1] == 'U')
					has_unit = true;
				else
					tok = q[1];
			}
		int rc = 0;
		if (!tok && !has_unit) {
			rc = emit(&b, t, i, 0, 0, 1);
		} else {
			unsigned flat = 0;
			unsigned units = tok == 'p' ? 1 : s->n_units;
			for (unsigned u = 0; u < units && rc == 0; u++) {
				unsigned n = tok ? token_count(s, tok) : 1;
				for (unsigned e = 0; e < n && rc == 0; e++)
					rc = emit(&b, t, i, u, e, ++flat);
			}
		}
		if (rc < 0) {
			free(b.arcs);
			free(b.e);
			return rc;
		}
	}
	sort_arcs = b.arcs;
	qsort(b.e, b.n, sizeof(*b.e), cmp_entry);
	v->model = m;
	v->arcs = b.arcs;
	v->entries = b.e;
	v->n = b.n;
	return 0;
}

const struct mib_view *mib_view_get(const struct sim_device *dev)
{
	struct shape s = shape_of(dev);
	for (struct view_cache *c = views; c; c = c->next)
		if (shape_eq(&c->key, &s))
			return &c->view;
	struct view_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->key = s;
	if (view_build(&s, &c->view) < 0) {
		free(c);
		return NULL;
	}
	c->next = views;
	views = c;
	return &c->view;
}

void mib_views_free(void)
{
	while (views) {
		struct view_cache *c = views;
		views = c->next;
		free(c->view.arcs);
		free(c->view.entries);
		free(c);
	}
}

long mib_find(const struct mib_view *v, const uint32_t *oid, size_t n, bool next)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct mib_entry *e = &v->entries[mid];
		int c = oid_cmp(v->arcs + e->off, e->len, oid, n);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* lo: first entry >= oid */
	if (!next)
		return lo < v->n && oid_cmp(v->arcs + v->entries[lo].off, v->entries[lo].len, oid,
					    n) == 0
			       ? (long)lo
			       : -1;
	if (lo < v->n && oid_cmp(v->arcs + v->entries[lo].off, v->entries[lo].len, oid, n) == 0)
		lo++;
	return lo < v->n ? (long)lo : -1;
}

static const char *line_name(enum sim_wiring w, unsigned l)
{
	static const char *const wye[] = {"L1", "L2", "L3"};
	static const char *const delta[] = {"L1-L2", "L2-L3", "L3-L1"};
	if (l > 2)
		l = 2;
	return w == SIM_WIRING_DELTA ? delta[l] : wye[l];
}

static int loadstate(double cur, double rating)
{
	/* APC-style: lowLoad(1) normal(2) nearOverload(3) overload(4) */
	if (rating <= 0)
		return 2;
	double r = cur / rating;
	return r < 0.05 ? 1 : r < 0.8 ? 2 : r < 1.0 ? 3 : 4;
}

static const struct sim_sensor *sensor_of(const struct sim_pdu_unit *u, enum sim_sensor_kind k)
{
	for (unsigned i = 0; i < u->n_sensors; i++)
		if (u->sensors[i].kind == k)
			return &u->sensors[i];
	return NULL;
}

static void set_str(struct mib_value *out, const char *s)
{
	out->type = BER_OCTETS;
	size_t l = strlen(s);
	if (l >= sizeof(out->buf))
		l = sizeof(out->buf) - 1;
	memcpy(out->buf, s, l);
	out->buf[l] = 0;
	out->s = out->buf;
	out->slen = l;
}

static void set_oid(struct mib_value *out, const char *s)
{
	out->type = BER_OID;
	if (oid_parse(s, out->oid, BER_MAX_OID, &out->oid_len) < 0) {
		out->oid[0] = 0;
		out->oid[1] = 0;
		out->oid_len = 2;
	}
}

void mib_value_get(struct sim_device *dev, const struct mib_view *v, long ei, int64_t now_ms,
		   struct mib_value *out)
{
	const struct mib_entry *e = &v->entries[ei];
	const struct mib_obj *o = &v->model->objs[e->obj];
	double k = o->k != 0 ? o->k : 1.0;
	double x = 0;
	bool num = true;
	sim_device_update(dev, now_ms);
	out->type = o->type;
	out->i = 0;
	const bool pdu = dev->kind == SIM_KIND_PDU;
	const struct sim_pdu_unit *u = pdu ? &dev->pdu.units[e->unit < dev->pdu.n_units ? e->unit : 0] : NULL;
	const struct sim_outlet *ol = pdu && e->elem < u->n_outlets ? &u->outlets[e->elem] : NULL;
	const struct sim_line *ln = pdu && e->elem < SIM_MAX_LINES ? &u->lines[e->elem] : NULL;
	const struct sim_branch *br = pdu && e->elem < SIM_MAX_BRANCHES ? &u->branches[e->elem] : NULL;
	const struct sim_ups *up = pdu ? NULL : &dev->ups;
	unsigned pl = e->elem < SIM_MAX_LINES ? e->elem : 0;
	char tmp[200];
	switch ((enum mib_var)o->var) {
	case V_CONST: x = o->a; k = 1; break;
	case V_STR: set_str(out, o->s ? o->s : ""); num = false; break;
	case V_OIDV: set_oid(out, o->s ? o->s : "0.0"); num = false; break;
	case V_IDX: x = e->inst; k = 1; break;
	case V_UNIT: x = e->unit + 1 + o->a; k = 1; break;
	case V_ELEM: x = e->elem + 1; k = 1; break;
	case V_NOMINAL_V: x = pdu ? dev->pdu.nominal_v : up->nominal_v; break;
	case V_UNIXTIME: x = (double)(now_ms / 1000); k = 1; break;
	case V_SYSDESCR:
		snprintf(tmp, sizeof(tmp), "%s %s, firmware %s (wattrack-sim)", v->model->vendor,
			 v->model->product, dev->firmware);
		set_str(out, tmp);
		num = false;
		break;
	case V_SYSOBJID: set_oid(out, v->model->sysobjid); num = false; break;
	case V_UPTIME: x = sim_uptime_ticks(dev, now_ms); k = 1; break;
	case V_NAME: set_str(out, dev->name); num = false; break;
	case V_SERIAL: set_str(out, dev->serial); num = false; break;
	case V_FIRMWARE: set_str(out, dev->firmware); num = false; break;
	case V_MAC: set_str(out, dev->mac); num = false; break;
	case V_MODEL_STR: set_str(out, v->model->product); num = false; break;
	case V_LOCATION:
		snprintf(tmp, sizeof(tmp), "%s/%s/%s", dev->place.room, dev->place.row, dev->place.rack);
		set_str(out, tmp);
		num = false;
		break;
	case V_N_UNITS: x = pdu ? dev->pdu.n_units : 1; k = 1; break;
	case V_N_OUTLETS: x = pdu ? u->n_outlets : 0; k = 1; break;
	case V_N_OUTLETS_ALL: x = sim_pdu_outlet_count(dev); k = 1; break;
	case V_N_LINES: x = pdu ? u->n_lines : up->n_lines; k = 1; break;
	case V_N_LINES_ALL: x = pdu ? u->n_lines * dev->pdu.n_units : up->n_lines; k = 1; break;
	case V_N_BRANCHES: x = pdu ? u->n_branches : 0; k = 1; break;
	case V_N_BRANCHES_ALL: x = pdu ? u->n_branches * dev->pdu.n_units : 0; k = 1; break;
	case V_N_SENSORS: x = pdu ? u->n_sensors : 0; k = 1; break;
	case V_IN_VOLTAGE: x = pdu ? u->voltage_v : 0; break;
	case V_IN_CURRENT: x = pdu ? u->current_a : 0; break;
	case V_IN_POWER: x = pdu ? u->power_w : 0; break;
	case V_IN_VA: x = pdu ? u->apparent_va : 0; break;
	case V_IN_PF: x = pdu ? u->pf : 0; break;
	case V_IN_ENERGY: x = pdu ? u->energy_wh : 0; break;
	case V_IN_VAH: x = pdu ? u->energy_vah : 0; break;
	case V_IN_FREQ: x = pdu ? u->frequency_hz : 0; break;
	case V_IN_RATING: x = pdu ? u->rating_a : 0; break;
	case V_IN_NEUTRAL: x = pdu ? u->neutral_a : 0; break;
	case V_IN_LOADSTATE: {
		double worst = 0;
		for (unsigned l = 0; pdu && l < u->n_lines; l++)
			if (u->lines[l].current_a / u->rating_a > worst)
				worst = u->lines[l].current_a / u->rating_a;
		x = loadstate(worst, 1.0);
		k = 1;
		break;
	}
	case V_IN_VAR: x = pdu ? sqrt(fmax(0, u->apparent_va * u->apparent_va - u->power_w * u->power_w)) : 0; break;
	case V_IN_UTIL: x = pdu && u->rating_a > 0 ? u->current_a / (u->rating_a * u->n_lines) * 100 : 0; break;
	case V_LN_VOLTAGE: x = ln ? ln->voltage_v : 0; break;
	case V_LN_CURRENT: x = ln ? ln->current_a : 0; break;
	case V_LN_POWER: x = ln ? ln->power_w : 0; break;
	case V_LN_VA: x = ln ? ln->apparent_va : 0; break;
	case V_LN_PF: x = ln ? ln->pf : 0; break;
	case V_LN_ENERGY: x = ln ? ln->energy_wh : 0; break;
	case V_LN_RATING: x = ln ? ln->rating_a : 0; break;
	case V_LN_LOADSTATE: x = ln ? loadstate(ln->current_a, ln->rating_a) : 2; k = 1; break;
	case V_LN_NAME: set_str(out, line_name(pdu ? dev->pdu.wiring : SIM_WIRING_WYE, e->elem)); num = false; break;
	case V_LN_VAR: x = ln ? sqrt(fmax(0, ln->apparent_va * ln->apparent_va - ln->power_w * ln->power_w)) : 0; break;
	case V_BR_CURRENT: x = br ? br->current_a : 0; break;
	case V_BR_POWER: x = br ? br->power_w : 0; break;
	case V_BR_RATING: x = br ? br->rating_a : 0; break;
	case V_BR_ENERGY: x = br ? br->energy_wh : 0; break;
	case V_BR_TRIP: x = br && br->tripped ? o->b : o->a; k = 1; break;
	case V_BR_LINE: x = br ? br->line + 1 : 1; k = 1; break;
	case V_BR_NAME: set_str(out, br ? br->name : ""); num = false; break;
	case V_BR_LOADSTATE: x = br ? loadstate(br->current_a, br->rating_a) : 2; k = 1; break;
	case V_OUT_NAME: set_str(out, ol ? ol->name : ""); num = false; break;
	case V_OUT_VOLTAGE: x = ol ? ol->voltage_v : 0; break;
	case V_OUT_CURRENT: x = ol ? ol->current_a : 0; break;
	case V_OUT_POWER: x = ol ? ol->power_w : 0; break;
	case V_OUT_VA: x = ol ? ol->apparent_va : 0; break;
	case V_OUT_PF: x = ol ? ol->pf : 0; break;
	case V_OUT_ENERGY: x = ol ? ol->energy_wh : 0; break;
	case V_OUT_STATE: x = ol && ol->on ? o->b : o->a; k = 1; break;
	case V_OUT_BRANCH: x = ol ? ol->branch + 1 : 1; k = 1; break;
	case V_OUT_LINE: x = ol ? ol->line + 1 : 1; k = 1; break;
	case V_OUT_PENDING: x = ol && ol->pending_action != SIM_OUTLET_NONE ? o->b : o->a; k = 1; break;
	case V_OUT_SWITCHABLE: x = ol && ol->switchable ? o->b : o->a; k = 1; break;
	case V_OUT_VAR: x = ol ? sqrt(fmax(0, ol->apparent_va * ol->apparent_va - ol->power_w * ol->power_w)) : 0; break;
	case V_OUT_CTRL_APC: x = ol && ol->on ? 1 : 2; k = 1; break; /* immediateOn / immediateOff */
	case V_OUT_CTRL_RARITAN: x = ol && ol->on ? 1 : 0; k = 1; break;
	case V_OUT_CTRL_EATON_OFF:
	case V_OUT_CTRL_EATON_ON:
	case V_OUT_CTRL_EATON_REBOOT: x = -1; k = 1; break; /* no countdown running */
	case V_OUT_CTRL_ST4: x = 0; k = 1; break;               /* none */
	case V_OUT_CTRL_TRIPPLITE: x = 0; k = 1; break;         /* idle: "reading always returns 0" */
	case V_OUT_ST4_STATE:
		/* st4OutletControlState: off(4) on(5) pendOn(10) pendOff(11) */
		x = !ol ? 4 : ol->pending_action == SIM_OUTLET_ON ? 10 : ol->pending_action == SIM_OUTLET_OFF ? 11 : ol->on ? 5 : 4;
		k = 1;
		break;
	case V_TEMP: {
		const struct sim_sensor *se = pdu ? sensor_of(u, SIM_SENSOR_TEMPERATURE) : NULL;
		x = se ? se->value : 0;
		break;
	}
	case V_HUMID: {
		const struct sim_sensor *se = pdu ? sensor_of(u, SIM_SENSOR_HUMIDITY) : NULL;
		x = se ? se->value : 0;
		break;
	}
	case V_TEMP_F: {
		const struct sim_sensor *se = pdu ? sensor_of(u, SIM_SENSOR_TEMPERATURE) : NULL;
		x = se ? se->value * 9.0 / 5.0 + 32.0 : 0;
		break;
	}
	case V_SENSOR_KIND:
	case V_SENSOR_NAME:
	case V_SENSOR_VALUE: {
		const struct sim_sensor *se = pdu && e->elem < u->n_sensors ? &u->sensors[e->elem] : NULL;
		bool temp = !se || se->kind == SIM_SENSOR_TEMPERATURE;
		if (o->var == V_SENSOR_NAME) {
			set_str(out, se ? se->name : "");
			num = false;
		} else if (o->var == V_SENSOR_KIND) {
			x = temp ? o->a : o->b;
			k = 1;
		} else {
			x = se ? se->value : 0;
			k = pow(10.0, temp ? o->a : o->b);
		}
		break;
	}
	case V_ST4_CORD_ID:
		snprintf(tmp, sizeof(tmp), "%cA", 'A' + e->unit);
		set_str(out, tmp);
		num = false;
		break;
	case V_ST4_LINE_LABEL:
		snprintf(tmp, sizeof(tmp), "%cA:L%u", 'A' + e->unit, e->elem + 1);
		set_str(out, tmp);
		num = false;
		break;
	case V_ST4_PHASE_LABEL:
		snprintf(tmp, sizeof(tmp), "%cA:%s", 'A' + e->unit,
			 dev->pdu.wiring == SIM_WIRING_DELTA ? line_name(SIM_WIRING_DELTA, e->elem)
			 : dev->pdu.wiring == SIM_WIRING_WYE ? line_name(SIM_WIRING_WYE, e->elem) : "L1-N");
		set_str(out, tmp);
		num = false;
		break;
	case V_ST4_BRANCH_LABEL:
		snprintf(tmp, sizeof(tmp), "%cA:%s-BR%u", 'A' + e->unit,
			 line_name(dev->pdu.wiring, br ? br->line : 0), e->elem + 1);
		set_str(out, tmp);
		num = false;
		break;
	case V_ST4_OUTLET_ID:
		snprintf(tmp, sizeof(tmp), "%cA%u", 'A' + e->unit, e->elem + 1);
		set_str(out, tmp);
		num = false;
		break;
	case V_RARITAN_OUTLET_LABEL:
		snprintf(tmp, sizeof(tmp), "%u", e->elem + 1);
		set_str(out, tmp);
		num = false;
		break;
	case V_RARITAN_OCP_LABEL:
		snprintf(tmp, sizeof(tmp), "C%u", e->elem + 1);
		set_str(out, tmp);
		num = false;
		break;
	case V_UPS_BATT_STATUS: x = up && up->low_battery ? o->b : o->a; k = 1; break;
	case V_UPS_SEC_ON_BATT: x = up ? up->seconds_on_battery : 0; break;
	case V_UPS_RUNTIME: x = up ? up->battery_runtime_s : 0; break;
	case V_UPS_CHARGE: x = up ? up->battery_charge_pct : 0; break;
	case V_UPS_BATT_V: x = up ? up->battery_voltage_v : 0; break;
	case V_UPS_BATT_I: x = up ? up->battery_current_a : 0; break;
	case V_UPS_BATT_TEMP: x = up ? up->battery_temp_c : 0; break;
	case V_UPS_IN_FREQ: x = up ? up->input.frequency_hz : 0; break;
	case V_UPS_IN_V: x = up ? up->input.voltage_v[pl] : 0; break;
	case V_UPS_IN_I: x = up ? up->input.current_a[pl] : 0; break;
	case V_UPS_IN_P: x = up ? up->input.power_w[pl] : 0; break;
	case V_UPS_OUT_SOURCE: x = up && up->on_battery ? o->b : o->a; k = 1; break;
	case V_UPS_OUT_FREQ: x = up ? up->output.frequency_hz : 0; break;
	case V_UPS_OUT_V: x = up ? up->output.voltage_v[pl] : 0; break;
	case V_UPS_OUT_I: x = up ? up->output.current_a[pl] : 0; break;
	case V_UPS_OUT_P: x = up ? up->output.power_w[pl] : 0; break;
	case V_UPS_OUT_LOAD: x = up ? up->output.load_pct[pl] : 0; break;
	case V_UPS_BYP_FREQ: x = up ? up->bypass.frequency_hz : 0; break;
	case V_UPS_BYP_V: x = up ? up->bypass.voltage_v[pl] : 0; break;
	case V_UPS_BYP_I: x = up ? up->bypass.current_a[pl] : 0; break;
	case V_UPS_BYP_P: x = up ? up->bypass.power_w[pl] : 0; break;
	case V_UPS_ALARMS: x = up ? (up->on_battery ? 1 : 0) + (up->low_battery ? 1 : 0) + (up->overload ? 1 : 0) : 0; k = 1; break;
	case V_UPS_NOMINAL_V: x = up ? up->nominal_v : 0; break;
	case V_UPS_RATING_VA: x = up ? up->rating_va : 0; break;
	case V_UPS_RATING_W: x = up ? up->rating_w : 0; break;
	case V_UPS_LOAD_PCT: x = up ? up->load_pct : 0; break;
	case V_UPS_N_LINES: x = up ? up->n_lines : 1; k = 1; break;
	case V_UPS_IN_V1: x = up ? up->input.voltage_v[0] : 0; break;
	case V_UPS_OUT_V1: x = up ? up->output.voltage_v[0] : 0; break;
	case V_UPS_OUT_I1: x = up ? up->output.current_a[0] : 0; break;
	case V__COUNT: break;
	}
	if (num) {
		double r = nearbyint(x * k);
		if (o->type == BER_INTEGER) {
			if (r > 2147483647.0)
				r = 2147483647.0;
			if (r < -2147483648.0)
				r = -2147483648.0;
		} else if (o->type != BER_COUNTER64) {
			if (r < 0)
				r = 0;
			if (o->type == BER_COUNTER32)
				r = fmod(r, 4294967296.0);
			else if (r > 4294967295.0)
				r = 4294967295.0;
		}
		out->i = (int64_t)r;
		if (o->type == BER_OCTETS) { /* a number shown as text */
			snprintf(tmp, sizeof(tmp), "%lld", (long long)out->i);
			set_str(out, tmp);
		}
	}
}

void mib_value_put(struct ber_wr *w, const struct mib_value *val)
{
	switch (val->type) {
	case BER_INTEGER:
		ber_put_int(w, BER_INTEGER, val->i);
		break;
	case BER_COUNTER32:
	case BER_GAUGE32:
	case BER_TIMETICKS:
	case BER_COUNTER64:
		ber_put_uint(w, val->type, (uint64_t)val->i);
		break;
	case BER_OID:
		ber_put_oid(w, val->oid, val->oid_len);
		break;
	case BER_OCTETS:
	case BER_IPADDRESS:
		ber_put_octets(w, val->type, val->s, val->slen);
		break;
	default:
		ber_put_null(w, BER_NULL);
		break;
	}
}

int mib_value_set(struct sim_device *dev, const struct mib_view *v, long ei, uint8_t type,
		  int64_t ival, int64_t now_ms, bool commit)
{
	const struct mib_entry *e = &v->entries[ei];
	const struct mib_obj *o = &v->model->objs[e->obj];
	if (!(o->flags & MIB_RW))
		return SNMP_ERR_NOTWRITABLE;
	if (type != BER_INTEGER)
		return SNMP_ERR_WRONGTYPE;
	enum sim_outlet_action act = SIM_OUTLET_NONE;
	unsigned delay = 0;
	bool cancel = false;
	const struct sim_outlet *ol = dev->kind == SIM_KIND_PDU && e->elem < dev->pdu.units[e->unit].n_outlets
					      ? &dev->pdu.units[e->unit].outlets[e->elem]
					      : NULL;
	if (!ol)
		return SNMP_ERR_NOSUCHNAME;
	switch ((enum mib_var)o->var) {
	case V_OUT_CTRL_APC:
		/* immediateOn(1) immediateOff(2) immediateReboot(3) outletUnknown(4)
		 * delayedOn(5) delayedOff(6) delayedReboot(7) cancelPendingCommand(8) */
		switch (ival) {
		case 1: act = SIM_OUTLET_ON; break;
		case 2: act = SIM_OUTLET_OFF; break;
		case 3: act = SIM_OUTLET_REBOOT; break;
		case 5: act = SIM_OUTLET_ON; delay = 5; break;
		case 6: act = SIM_OUTLET_OFF; delay = 5; break;
		case 7: act = SIM_OUTLET_REBOOT; delay = 5; break;
		case 8: cancel = true; break;
		default: return SNMP_ERR_WRONGVALUE;
		}
		break;
	case V_OUT_CTRL_RARITAN:
		/* off(0) on(1) cycle(2) */
		if (ival < 0 || ival > 2)
			return SNMP_ERR_WRONGVALUE;
		act = ival == 0 ? SIM_OUTLET_OFF : ival == 1 ? SIM_OUTLET_ON : SIM_OUTLET_REBOOT;
		break;
	case V_OUT_CTRL_EATON_OFF:
	case V_OUT_CTRL_EATON_ON:
	case V_OUT_CTRL_EATON_REBOOT:
		/* seconds until the command runs; 0 = now, -1 = cancel */
		if (ival < -1 || ival > 99999)
			return SNMP_ERR_WRONGVALUE;
		if (ival == -1)
			cancel = true;
		act = o->var == V_OUT_CTRL_EATON_OFF  ? SIM_OUTLET_OFF
		      : o->var == V_OUT_CTRL_EATON_ON ? SIM_OUTLET_ON
						      : SIM_OUTLET_REBOOT;
		delay = ival > 0 ? (unsigned)ival : 0;
		break;
	case V_OUT_CTRL_ST4:
		/* none(0) on(1) off(2) reboot(3) queueOn(4) queueOff(5) queueReboot(6) */
		if (ival < 0 || ival > 6)
			return SNMP_ERR_WRONGVALUE;
		if (ival == 0)
			return SNMP_ERR_NOERROR;
		act = (ival - 1) % 3 == 0 ? SIM_OUTLET_ON : (ival - 1) % 3 == 1 ? SIM_OUTLET_OFF : SIM_OUTLET_REBOOT;
		delay = ival >= 4 ? 2 : 0;
		break;
	case V_OUT_CTRL_TRIPPLITE:
		/* tlpAtsOutletCommand / tlpPduOutletCommand: idle(0) turnOff(1)
		 * turnOn(2) cycle(3) */
		if (ival < 0 || ival > 3)
			return SNMP_ERR_WRONGVALUE;
		if (ival == 0)
			return SNMP_ERR_NOERROR;
		act = ival == 1 ? SIM_OUTLET_OFF : ival == 2 ? SIM_OUTLET_ON : SIM_OUTLET_REBOOT;
		break;
	default:
		return SNMP_ERR_NOTWRITABLE;
	}
	if (!ol->switchable)
		return SNMP_ERR_NOACCESS;
	if (!commit)
		return SNMP_ERR_NOERROR;
	if (cancel) {
		dev->pdu.units[e->unit].outlets[e->elem].pending_action = SIM_OUTLET_NONE;
		return SNMP_ERR_NOERROR;
	}
	return sim_outlet_control(dev, e->unit, e->elem, act, delay, now_ms) == 0 ? SNMP_ERR_NOERROR
										  : SNMP_ERR_GENERR;
}
