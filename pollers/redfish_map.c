/* Redfish -> canonical model. The tables below are the mapping; each row is
 * one line of pollers/profiles/REDFISH-MAPPING.md. */
#include "redfish_map.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/model.h"

void wt_rf_readings_clear(struct wt_rf_readings *r)
{
	r->n = 0;
	r->nt = 0;
}

void wt_rf_readings_free(struct wt_rf_readings *r)
{
	free(r->v);
	free(r->t);
	memset(r, 0, sizeof *r);
}

static int add(struct wt_rf_readings *r, int unit, int kind, long index, const char *name,
	       int metric, double value, bool is_static)
{
	if (!isfinite(value))
		return 0;
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 64;
		struct wt_rf_reading *nv = realloc(r->v, nc * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		r->v = nv;
		r->cap = nc;
	}
	struct wt_rf_reading *x = &r->v[r->n++];
	x->unit = unit;
	x->kind = kind;
	x->index = index;
	/* a longer name is cut on purpose (a warning-free truncation) */
	size_t nl = strnlen(name, sizeof x->name - 1);
	memcpy(x->name, name, nl);
	x->name[nl] = '\0';
	x->metric = metric;
	x->value = value;
	x->is_static = is_static;
	return 0;
}

static int add_threshold(struct wt_rf_readings *r, int unit, int kind, long index, int metric,
			 const char *which, double value)
{
	if (!isfinite(value))
		return 0;
	if (r->nt == r->capt) {
		size_t nc = r->capt ? r->capt * 2 : 16;
		struct wt_rf_threshold *nv = realloc(r->t, nc * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		r->t = nv;
		r->capt = nc;
	}
	struct wt_rf_threshold *t = &r->t[r->nt++];
	t->unit = unit;
	t->kind = kind;
	t->index = index;
	t->metric = metric;
	snprintf(t->which, sizeof t->which, "%s", which);
	t->value = value;
	return 0;
}

/* A number at a dotted path ("PowerWatts.ApparentVA"); false if absent or
 * not a number. */
static bool num_at(json_t *o, const char *path, double *out)
{
	char buf[96];
	snprintf(buf, sizeof buf, "%s", path);
	json_t *cur = o;
	for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok;
	     tok = strtok_r(NULL, ".", &save)) {
		if (!json_is_object(cur))
			return false;
		cur = json_object_get(cur, tok);
	}
	if (!json_is_number(cur))
		return false;
	*out = json_number_value(cur);
	return isfinite(*out);
}

static const char *str_at(json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One property -> one metric of the entity at hand. */
struct row {
	const char *path;
	int metric;
	double mul;
	bool is_static;
};

/* Circuit, Outlet (own entity): DSP0268 Circuit / Outlet properties. */
static const struct row circuit_rows[] = {
	{"CurrentAmps.Reading", WT_M_CURRENT, 1, false},
	{"Voltage.Reading", WT_M_VOLTAGE, 1, false},
	{"PowerWatts.Reading", WT_M_POWER_ACTIVE, 1, false},
	{"PowerWatts.ApparentVA", WT_M_POWER_APPARENT, 1, false},
	{"PowerWatts.ReactiveVAR", WT_M_POWER_REACTIVE, 1, false},
	{"PowerWatts.PowerFactor", WT_M_POWER_FACTOR, 1, false},
	{"EnergykWh.Reading", WT_M_ENERGY_ACTIVE, 1000, false}, /* kWh -> Wh */
	{"FrequencyHz.Reading", WT_M_FREQUENCY, 1, false},
	{"RatedCurrentAmps", WT_M_CURRENT_RATING, 1, true},
};

/* PowerDistributionMetrics -> total. */
static const struct row metrics_rows[] = {
	{"PowerWatts.Reading", WT_M_POWER_ACTIVE, 1, false},
	{"PowerWatts.ApparentVA", WT_M_POWER_APPARENT, 1, false},
	{"PowerWatts.ReactiveVAR", WT_M_POWER_REACTIVE, 1, false},
	{"PowerWatts.PowerFactor", WT_M_POWER_FACTOR, 1, false},
	{"EnergykWh.Reading", WT_M_ENERGY_ACTIVE, 1000, false},
};

/* Poly-phase objects of a Mains circuit: member -> phase entity. Line-to-
 * neutral members are phases 1..3 (L1..L3), line-to-line members phases
 * 4..6 (L1-L2, L2-L3, L3-L1). */
static const struct {
	const char *member;
	int phase;
	const char *name;
} phases[] = {
	{"Line1ToNeutral", 1, "L1"},  {"Line2ToNeutral", 2, "L2"},  {"Line3ToNeutral", 3, "L3"},
	{"Line1ToLine2", 4, "L1-L2"}, {"Line2ToLine3", 5, "L2-L3"}, {"Line3ToLine1", 6, "L3-L1"},
	{"Line1", 1, "L1"},           {"Line2", 2, "L2"},           {"Line3", 3, "L3"},
};

static const struct {
	const char *object;
	const char *field;
	int metric;
	double mul;
} poly_rows[] = {
	{"PolyPhaseVoltage", "Reading", WT_M_VOLTAGE, 1},
	{"PolyPhaseCurrentAmps", "Reading", WT_M_CURRENT, 1},
	{"PolyPhasePowerWatts", "Reading", WT_M_POWER_ACTIVE, 1},
	{"PolyPhasePowerWatts", "ApparentVA", WT_M_POWER_APPARENT, 1},
	{"PolyPhasePowerWatts", "ReactiveVAR", WT_M_POWER_REACTIVE, 1},
	{"PolyPhasePowerWatts", "PowerFactor", WT_M_POWER_FACTOR, 1},
	{"PolyPhaseEnergykWh", "Reading", WT_M_ENERGY_ACTIVE, 1000},
};

/* Circuit thresholds (CurrentAmps / Voltage Thresholds objects). */
static const char *const threshold_names[] = {"UpperCritical", "UpperCaution", "LowerCaution",
					      "LowerCritical"};

static int map_rows(json_t *res, const struct row *rows, size_t n, int unit, int kind, long index,
		    const char *name, struct wt_rf_readings *out)
{
	int rc;
	for (size_t i = 0; i < n; i++) {
		double v;
		if (num_at(res, rows[i].path, &v) &&
		    (rc = add(out, unit, kind, index, name, rows[i].metric, v * rows[i].mul,
			      rows[i].is_static)))
			return rc;
	}
	return 0;
}

static void entity_name(json_t *res, long index, const char *kind, char *out, size_t len)
{
	const char *id = str_at(res, "Id");
	if (id && *id)
		snprintf(out, len, "%s", id);
	else
		snprintf(out, len, "%s %ld", kind, index);
}

static int map_thresholds(json_t *obj, int unit, int kind, long index, int metric,
			  struct wt_rf_readings *out)
{
	json_t *th = json_is_object(obj) ? json_object_get(obj, "Thresholds") : NULL;
	if (!json_is_object(th))
		return 0;
	for (size_t i = 0; i < sizeof threshold_names / sizeof threshold_names[0]; i++) {
		double v;
		char p[64];
		snprintf(p, sizeof p, "%s.Reading", threshold_names[i]);
		int rc;
		if (num_at(th, p, &v) &&
		    (rc = add_threshold(out, unit, kind, index, metric, threshold_names[i], v)))
			return rc;
	}
	return 0;
}

int wt_rf_map_circuit(json_t *res, int unit, enum wt_rf_circuit_role role, long index,
		      struct wt_rf_readings *out)
{
	if (!json_is_object(res))
		return 0;
	char name[64];
	int kind = role == WT_RF_MAINS ? WT_ENT_INLET : WT_ENT_BRANCH;
	entity_name(res, index, role == WT_RF_MAINS ? "Mains" : "Branch", name, sizeof name);
	int rc = map_rows(res, circuit_rows, sizeof circuit_rows / sizeof circuit_rows[0], unit,
			  kind, index, name, out);
	if (rc)
		return rc;
	double v;
	/* a one-phase circuit may publish its voltage only as a poly-phase member */
	if (!num_at(res, "Voltage.Reading", &v) &&
	    num_at(res, "PolyPhaseVoltage.Line1ToNeutral.Reading", &v) &&
	    (rc = add(out, unit, kind, index, name, WT_M_VOLTAGE, v, false)))
		return rc;
	const char *bs = str_at(res, "BreakerState");
	if (bs && (rc = add(out, unit, kind, index, name, WT_M_BREAKER_TRIPPED,
			    strcmp(bs, "Tripped") == 0 ? 1 : 0, false)))
		return rc;
	if (num_at(res, "PolyPhaseCurrentAmps.Neutral.Reading", &v) &&
	    (rc = add(out, unit, kind, index, name, WT_M_NEUTRAL_CURRENT, v, false)))
		return rc;
	json_t *cur = json_object_get(res, "CurrentAmps");
	if ((rc = map_thresholds(cur, unit, kind, index, WT_M_CURRENT, out)))
		return rc;
	if (role != WT_RF_MAINS)
		return 0;
	/* per-phase values of a mains circuit become phase entities */
	for (size_t r = 0; r < sizeof poly_rows / sizeof poly_rows[0]; r++) {
		json_t *obj = json_object_get(res, poly_rows[r].object);
		if (!json_is_object(obj))
			continue;
		for (size_t p = 0; p < sizeof phases / sizeof phases[0]; p++) {
			json_t *m = json_object_get(obj, phases[p].member);
			double x;
			char pname[80];
			if (!json_is_object(m) || !num_at(m, poly_rows[r].field, &x))
				continue;
			long pidx = (index - 1) * 6 + phases[p].phase;
			if (index == 1)
				snprintf(pname, sizeof pname, "%s", phases[p].name);
			else
				snprintf(pname, sizeof pname, "%.60s %s", name, phases[p].name);
			if ((rc = add(out, unit, WT_ENT_PHASE, pidx, pname, poly_rows[r].metric,
				      x * poly_rows[r].mul, false)))
				return rc;
		}
	}
	return 0;
}

int wt_rf_outlet_state(json_t *res)
{
	const char *ps = str_at(res, "PowerState");
	if (!ps)
		return -1;
	if (strcmp(ps, "On") == 0)
		return 1;
	if (strcmp(ps, "Off") == 0)
		return 0;
	return -1; /* PoweringOn, PoweringOff, Paused: not a settled state */
}

int wt_rf_map_outlet(json_t *res, int unit, long index, struct wt_rf_readings *out, char *target,
		     size_t target_len)
{
	if (target_len)
		target[0] = 0;
	if (!json_is_object(res))
		return 0;
	char name[64];
	entity_name(res, index, "Outlet", name, sizeof name);
	int rc = map_rows(res, circuit_rows, sizeof circuit_rows / sizeof circuit_rows[0], unit,
			  WT_ENT_OUTLET, index, name, out);
	if (rc)
		return rc;
	double v;
	if (!num_at(res, "Voltage.Reading", &v) &&
	    num_at(res, "PolyPhaseVoltage.Line1ToNeutral.Reading", &v) &&
	    (rc = add(out, unit, WT_ENT_OUTLET, index, name, WT_M_VOLTAGE, v, false)))
		return rc;
	int st = wt_rf_outlet_state(res);
	if (st >= 0 &&
	    (rc = add(out, unit, WT_ENT_OUTLET, index, name, WT_M_OUTLET_STATE, st, false)))
		return rc;
	if ((rc = map_thresholds(json_object_get(res, "CurrentAmps"), unit, WT_ENT_OUTLET, index,
				 WT_M_CURRENT, out)))
		return rc;
	json_t *act = json_object_get(res, "Actions");
	json_t *pc = json_is_object(act) ? json_object_get(act, "#Outlet.PowerControl") : NULL;
	const char *t = str_at(pc, "target");
	if (t && target_len && t[0] == '/')
		snprintf(target, target_len, "%s", t);
	return 0;
}

int wt_rf_map_metrics(json_t *res, int unit, struct wt_rf_readings *out)
{
	if (!json_is_object(res))
		return 0;
	return map_rows(res, metrics_rows, sizeof metrics_rows / sizeof metrics_rows[0], unit,
			WT_ENT_TOTAL, 0, "Total", out);
}

/* Sensor.ReadingType -> metric, for environment sensors only. */
static const struct {
	const char *type;
	int metric;
} sensor_types[] = {
	{"Temperature", WT_M_TEMPERATURE},
	{"Humidity", WT_M_HUMIDITY},
	{"LiquidLevel", WT_M_LEAK},
};

static int sensor_metric(json_t *res)
{
	const char *t = str_at(res, "ReadingType");
	if (!t)
		return -1;
	for (size_t i = 0; i < sizeof sensor_types / sizeof sensor_types[0]; i++)
		if (strcmp(t, sensor_types[i].type) == 0)
			return sensor_types[i].metric;
	return -1;
}

bool wt_rf_sensor_wanted(json_t *res)
{
	return json_is_object(res) && sensor_metric(res) >= 0;
}

int wt_rf_map_sensor(json_t *res, int unit, long index, struct wt_rf_readings *out)
{
	int metric = json_is_object(res) ? sensor_metric(res) : -1;
	if (metric < 0)
		return 0;
	char name[64];
	const char *n = str_at(res, "Name");
	if (n && *n)
		snprintf(name, sizeof name, "%s", n);
	else
		entity_name(res, index, "Sensor", name, sizeof name);
	double v;
	int rc;
	if (num_at(res, "Reading", &v) &&
	    (rc = add(out, unit, WT_ENT_SENSOR, index, name, metric, v, false)))
		return rc;
	return map_thresholds(res, unit, WT_ENT_SENSOR, index, metric, out);
}

enum wt_rf_res wt_rf_res_type(json_t *res)
{
	const char *t = str_at(res, "@odata.type");
	if (!t)
		return WT_RF_UNKNOWN;
	static const struct {
		const char *prefix;
		enum wt_rf_res r;
	} types[] = {
		{"#ServiceRoot.", WT_RF_SERVICE_ROOT},
		{"#PowerEquipment.", WT_RF_POWER_EQUIPMENT},
		{"#PowerDistributionMetrics.", WT_RF_METRICS},
		{"#PowerDistribution.", WT_RF_PDU},
		{"#Circuit.", WT_RF_CIRCUIT},
		{"#Outlet.", WT_RF_OUTLET},
		{"#Sensor.", WT_RF_SENSOR},
		{"#Chassis.", WT_RF_CHASSIS},
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strncmp(t, types[i].prefix, strlen(types[i].prefix)) == 0)
			return types[i].r;
	if (strstr(t, "Collection."))
		return WT_RF_COLLECTION;
	return WT_RF_UNKNOWN;
}

bool wt_rf_odata_id(json_t *v, char *out, size_t len)
{
	const char *s = str_at(v, "@odata.id");
	if (!s || s[0] != '/' || strlen(s) >= len) {
		if (len)
			out[0] = 0;
		return false;
	}
	snprintf(out, len, "%s", s);
	return true;
}

bool wt_rf_is_expanded(json_t *v)
{
	if (!json_is_object(v))
		return false;
	const char *key;
	json_t *x;
	json_object_foreach(v, key, x) if (strcmp(key, "@odata.id") != 0) return true;
	return false;
}

/* Maps res and, recursively, expanded subresources, the way the poller
 * does with $expand. */
static int map_tree(json_t *res, int depth, struct wt_rf_readings *out)
{
	if (depth > 8 || !json_is_object(res))
		return 0;
	int rc = 0;
	switch (wt_rf_res_type(res)) {
	case WT_RF_CIRCUIT:
		return wt_rf_map_circuit(res, 1, WT_RF_MAINS, 1, out);
	case WT_RF_OUTLET: {
		char t[256];
		return wt_rf_map_outlet(res, 1, 1, out, t, sizeof t);
	}
	case WT_RF_METRICS:
		return wt_rf_map_metrics(res, 1, out);
	case WT_RF_SENSOR:
		return wt_rf_map_sensor(res, 1, 1, out);
	case WT_RF_COLLECTION: {
		json_t *m = json_object_get(res, "Members");
		size_t i;
		json_t *x;
		if (json_is_array(m))
			json_array_foreach(m, i,
					   x) if ((rc = map_tree(x, depth + 1, out))) return rc;
		return 0;
	}
	case WT_RF_PDU: {
		static const char *const subs[] = {"Mains",   "Branches", "Feeders", "Subfeeds",
						   "Outlets", "Metrics",  "Sensors"};
		for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
			if ((rc = map_tree(json_object_get(res, subs[i]), depth + 1, out)))
				return rc;
		return 0;
	}
	default:
		return 0;
	}
}

int wt_rf_map_text(const char *text, size_t len, struct wt_rf_readings *out)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	if (!root)
		return -EBADMSG;
	int rc = map_tree(root, 0, out);
	json_decref(root);
	return rc;
}
