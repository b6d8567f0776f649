/* sim_redfish.c — Redfish (DSP0268 PowerDistribution) server of wattrack-sim.
 *
 * Every Redfish device of the fleet gets its own evhttp on its HTTP port and
 * another on its HTTPS port (OpenSSL bufferevents, a self-signed certificate
 * made in memory at start). Resources are shaped like the DMTF public-pdu
 * mockup (realdata/redfish/public-pdu) and built from live device state at
 * request time; nothing is cached, so values follow the physics.
 *
 * Daisy-chained units of a device are RackPDUs/1..n. Outlets are numbered
 * 1..n per unit, branches are named by line letter and index (A1, A2, B1..),
 * each branch's outlets form the OutletGroup of the same name, sensors live
 * under RackPDUs/{n}/Sensors (Chassis/{n}/Sensors is the same collection).
 *
 *   /redfish/v1                          service root (no auth), ExpandQuery
 *   /redfish/v1/SessionService[/Sessions[/{id}]]   POST login, DELETE logout
 *   /redfish/v1/PowerEquipment/RackPDUs/{n}         PowerDistribution
 *     /Mains/AC1  /Branches/{A1..}  /Outlets/{1..}  /OutletGroups/{A1..}
 *     /Sensors/{id}  /Metrics
 *   POST .../Outlets/{k}/Outlet.PowerControl, .../OutletGroups/{id}/
 *   OutletGroup.PowerControl  {"PowerState": "On"|"Off"|"PowerCycle"}
 *   ?$expand=.|*|~[($levels=1..6)] on any resource */
#include "sim_redfish.h"

#include "log.h"
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#define RF_ROOT "/redfish/v1"
#define RF_MAX_LEVELS 6
#define RF_MAX_SESSIONS 256       /* per device, like a BMC's session table */
#define RF_SESSION_TIMEOUT_S 1800 /* default SessionService.SessionTimeout */
#define RF_MAX_BODY 65536

struct rf_port {
	uint16_t port;
	bool tls;
	struct evhttp *http;
	struct sim_device *dev;
};

struct rf_session {
	char id[17];
	char token[33];
	char user[SIM_NAME_MAX];
	uint32_t dev_id;
	int64_t last_ms; /* monotonic ms of the last use */
	struct rf_session *next;
};

/* A request held back by the delay fault. */
struct rf_pending {
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct rf_port *port;
	struct event *ev;
	int fa; /* enum sim_fault_action decided on arrival */
	struct rf_pending *prev, *next;
};

static struct {
	struct sim *sim;
	struct event_base *base;
	SSL_CTX *ssl;
	struct rf_port *ports;
	size_t n_ports;
	struct rf_session **sessions; /* [n_devices]: each device's own session table */
	struct rf_pending *pending;
	uint32_t *session_timeout_s; /* [n_devices] */
	size_t n_devices;
} g;

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Rounds to d decimals so JSON carries readable numbers. */
static json_t *num(double v, int d)
{
	double p = pow(10, d);
	if (!isfinite(v))
		return json_null();
	return json_real(round(v * p) / p);
}

static json_t *ref(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *ref(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_t *o = json_object();
	json_object_set_new_nocheck(o, "@odata.id", json_string(buf));
	return o;
}

static json_t *status_ok(bool enabled)
{
	json_t *o = json_object();
	json_object_set_new_nocheck(o, "State",
				    json_string_nocheck(enabled ? "Enabled" : "StandbyOffline"));
	json_object_set_new_nocheck(o, "Health", json_string_nocheck("OK"));
	return o;
}

/* A {DataSourceUri, Reading} excerpt of a sensor. */
static json_t *reading(const char *pdu, const char *sensor, double v, int d)
{
	char uri[200];
	snprintf(uri, sizeof(uri), "%s/Sensors/%s", pdu, sensor);
	json_t *o = json_object();
	json_object_set_new_nocheck(o, "DataSourceUri", json_string(uri));
	json_object_set_new_nocheck(o, "Reading", num(v, d));
	return o;
}

static json_t *power_reading(const char *pdu, const char *sensor, double w, double va, double pf)
{
	json_t *o = reading(pdu, sensor, w, 1);
	double var = va * va - w * w;
	json_object_set_new(o, "ApparentVA", num(va, 1));
	json_object_set_new(o, "ReactiveVAR", num(var > 0 ? sqrt(var) : 0, 1));
	json_object_set_new(o, "PowerFactor", num(pf, 2));
	return o;
}

/* ---- error replies (Redfish Base message registry) ---- */

static json_t *error_body(const char *msgid, const char *message)
{
	char code[96];
	snprintf(code, sizeof(code), "Base.1.16.%s", msgid);
	return json_pack("{s:{s:s,s:s,s:[{s:s,s:s,s:s,s:s}]}}", "error", "code", code, "message",
			 message, "@Message.ExtendedInfo", "@odata.type", "#Message.v1_1_1.Message",
			 "MessageId", code, "Message", message, "Severity", "Critical");
}

/* ---- resource context ---- */

/* Per-request scratch: the sensor list of one unit. */
struct rf_sensor;
struct rf_scache {
	struct rf_sensor *list;
	size_t n;
	unsigned unit;
};

struct rctx {
	struct sim_device *dev;
	struct rf_port *port;
	int64_t now_ms;
	struct rf_scache *sc;
};

static char line_letter(unsigned l)
{
	return (char)('A' + l);
}

/* Branch id: line letter and index on that line (A1, A2, B1, ...). */
static void branch_id(const struct sim_pdu_unit *u, unsigned b, char *buf, size_t len)
{
	unsigned k = 1;
	for (unsigned i = 0; i < b; i++)
		if (u->branches[i].line == u->branches[b].line)
			k++;
	snprintf(buf, len, "%c%u", line_letter(u->branches[b].line), k);
}

static int branch_by_id(const struct sim_pdu_unit *u, const char *id)
{
	char buf[16];
	for (unsigned b = 0; b < u->n_branches; b++) {
		branch_id(u, b, buf, sizeof(buf));
		if (strcmp(buf, id) == 0)
			return (int)b;
	}
	return -1;
}

/* Parses a 1-based decimal id no greater than max; -1 if not one. */
static int parse_index(const char *s, unsigned max)
{
	unsigned v = 0;
	if (!*s || *s == '0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return -1;
	}
	return v >= 1 ? (int)v - 1 : -1;
}

static const char *wiring_type(const struct sim_device *dev)
{
	switch (dev->pdu.wiring) {
	case SIM_WIRING_WYE:
		return "ThreePhase5Wire";
	case SIM_WIRING_DELTA:
		return "ThreePhase4Wire";
	default:
		return "OnePhase3Wire";
	}
}

static const char *nominal_voltage(const struct sim_device *dev)
{
	double v = dev->pdu.nominal_v;
	if (v < 130)
		return "AC120V";
	if (v < 250)
		return "AC200To240V";
	return "AC400V";
}

/* Names of a line's voltage in PolyPhaseVoltage: L-N for 1ph/wye, L-L for delta. */
static const char *line_voltage_key(const struct sim_device *dev, unsigned l)
{
	static const char *const ln[] = {"Line1ToNeutral", "Line2ToNeutral", "Line3ToNeutral"};
	static const char *const ll[] = {"Line1ToLine2", "Line2ToLine3", "Line3ToLine1"};
	return dev->pdu.wiring == SIM_WIRING_DELTA ? ll[l % 3] : ln[l % 3];
}

static void pdu_uri(const struct rctx *r, unsigned unit, char *buf, size_t len)
{
	(void)r;
	snprintf(buf, len, RF_ROOT "/PowerEquipment/RackPDUs/%u", unit + 1);
}

/* ---- sensors: one flat, generated list per unit ---- */

enum rf_skind {
	SK_VOLTAGE,
	SK_CURRENT,
	SK_POWER,
	SK_ENERGY,
	SK_FREQ,
	SK_TEMP,
	SK_HUMIDITY
};

struct rf_sensor {
	char id[32];
	char name[80];
	enum rf_skind kind;
	const char *context;  /* ElectricalContext, NULL for none */
	const char *physical; /* PhysicalContext */
	double reading;
	double va, pf; /* power sensors */
	double range_max;
	double caution, critical;         /* upper thresholds; 0 = none */
	double low_caution, low_critical; /* lower thresholds; 0 = none */
};

#define RF_MAX_UNIT_SENSORS \
	(SIM_MAX_LINES * 4 + 4 + SIM_MAX_BRANCHES * 3 + SIM_MAX_OUTLETS * 4 + SIM_MAX_SENSORS)

/* Voltage limits around the nominal: caution at 6 %, critical at 10 %. */
static void voltage_limits(const struct sim_device *dev, struct rf_sensor *s)
{
	double nv = dev->pdu.nominal_v > 0 ? dev->pdu.nominal_v : 230;
	s->caution = nv * 1.06;
	s->critical = nv * 1.10;
	s->low_caution = nv * 0.94;
	s->low_critical = nv * 0.90;
}

/* Fills out[] with every sensor of a unit; returns how many. */
static size_t unit_sensors(const struct sim_device *dev, unsigned unit, struct rf_sensor *out)
{
	const struct sim_pdu_unit *u = &dev->pdu.units[unit];
	static const char *const lctx[] = {"Line1", "Line2", "Line3"};
	size_t n = 0;
	struct rf_sensor *s;

	for (unsigned l = 0; l < u->n_lines; l++) {
		const struct sim_line *ln = &u->lines[l];
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "VoltageMains%u", l + 1);
		snprintf(s->name, sizeof(s->name), "Mains voltage %s", line_voltage_key(dev, l));
		s->kind = SK_VOLTAGE;
		s->context = line_voltage_key(dev, l);
		s->physical = "ACInput";
		s->reading = ln->voltage_v;
		s->range_max = 300;
		voltage_limits(dev, s);
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "CurrentMains%u", l + 1);
		snprintf(s->name, sizeof(s->name), "Mains current %s", lctx[l]);
		s->kind = SK_CURRENT;
		s->context = lctx[l];
		s->physical = "ACInput";
		s->reading = ln->current_a;
		s->range_max = ln->rating_a;
		s->caution = 0.8 * ln->rating_a;
		s->critical = ln->rating_a;
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "PowerMains%u", l + 1);
		snprintf(s->name, sizeof(s->name), "Mains power %s", line_voltage_key(dev, l));
		s->kind = SK_POWER;
		s->context = line_voltage_key(dev, l);
		s->physical = "ACInput";
		s->reading = ln->power_w;
		s->va = ln->apparent_va;
		s->pf = ln->pf;
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "EnergyMains%u", l + 1);
		snprintf(s->name, sizeof(s->name), "Mains energy %s", line_voltage_key(dev, l));
		s->kind = SK_ENERGY;
		s->context = line_voltage_key(dev, l);
		s->physical = "ACInput";
		s->reading = ln->energy_wh / 1000.0;
	}
	if (dev->pdu.wiring == SIM_WIRING_WYE) {
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "CurrentMainsNeutral");
		snprintf(s->name, sizeof(s->name), "Mains neutral current");
		s->kind = SK_CURRENT;
		s->context = "Neutral";
		s->physical = "ACInput";
		s->reading = u->neutral_a;
		s->range_max = u->rating_a;
	}
	s = &out[n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "FreqMains");
	snprintf(s->name, sizeof(s->name), "Mains frequency");
	s->kind = SK_FREQ;
	s->physical = "ACInput";
	s->reading = u->frequency_hz;
	s = &out[n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "PDUPower");
	snprintf(s->name, sizeof(s->name), "Rack PDU power");
	s->kind = SK_POWER;
	s->context = "Total";
	s->physical = "ACInput";
	s->reading = u->power_w;
	s->va = u->apparent_va;
	s->pf = u->pf;
	s = &out[n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "PDUEnergy");
	snprintf(s->name, sizeof(s->name), "Rack PDU energy");
	s->kind = SK_ENERGY;
	s->context = "Total";
	s->physical = "ACInput";
	s->reading = u->energy_wh / 1000.0;

	for (unsigned b = 0; b < u->n_branches; b++) {
		const struct sim_branch *br = &u->branches[b];
		char bid[16];
		branch_id(u, b, bid, sizeof(bid));
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "Current%s", bid);
		snprintf(s->name, sizeof(s->name), "Current branch %s", bid);
		s->kind = SK_CURRENT;
		s->context = lctx[br->line % 3];
		s->physical = "PowerSubsystem";
		s->reading = br->current_a;
		s->range_max = br->rating_a;
		s->caution = 0.8 * br->rating_a;
		s->critical = br->rating_a;
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "Power%s", bid);
		snprintf(s->name, sizeof(s->name), "Power branch %s", bid);
		s->kind = SK_POWER;
		s->context = line_voltage_key(dev, br->line);
		s->physical = "PowerSubsystem";
		s->reading = br->power_w;
		double v = u->lines[br->line % SIM_MAX_LINES].voltage_v;
		s->va = br->current_a * v;
		s->pf = s->va > 0 ? br->power_w / s->va : 0;
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "Energy%s", bid);
		snprintf(s->name, sizeof(s->name), "Energy branch %s", bid);
		s->kind = SK_ENERGY;
		s->context = "Total";
		s->physical = "PowerSubsystem";
		s->reading = br->energy_wh / 1000.0;
	}
	for (unsigned o = 0; o < u->n_outlets; o++) {
		const struct sim_outlet *ol = &u->outlets[o];
		if (!ol->metered)
			continue;
		const char *ctx = line_voltage_key(dev, ol->line);
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "VoltageOutlet%u", o + 1);
		snprintf(s->name, sizeof(s->name), "Voltage outlet %u", o + 1);
		s->kind = SK_VOLTAGE;
		s->context = ctx;
		s->physical = "PowerOutlet";
		s->reading = ol->voltage_v;
		s->range_max = 300;
		voltage_limits(dev, s);
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "CurrentOutlet%u", o + 1);
		snprintf(s->name, sizeof(s->name), "Current outlet %u", o + 1);
		s->kind = SK_CURRENT;
		s->context = lctx[ol->line % 3];
		s->physical = "PowerOutlet";
		s->reading = ol->current_a;
		s->range_max = 16;
		s->caution = 12.8;
		s->critical = 16;
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "PowerOutlet%u", o + 1);
		snprintf(s->name, sizeof(s->name), "Power outlet %u", o + 1);
		s->kind = SK_POWER;
		s->context = ctx;
		s->physical = "PowerOutlet";
		s->reading = ol->power_w;
		s->va = ol->apparent_va;
		s->pf = ol->on ? ol->pf : 0;
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "EnergyOutlet%u", o + 1);
		snprintf(s->name, sizeof(s->name), "Energy outlet %u", o + 1);
		s->kind = SK_ENERGY;
		s->context = "Total";
		s->physical = "PowerOutlet";
		s->reading = ol->energy_wh / 1000.0;
	}
	unsigned nt = 0, nh = 0;
	for (unsigned k = 0; k < u->n_sensors; k++) {
		const struct sim_sensor *se = &u->sensors[k];
		s = &out[n++];
		memset(s, 0, sizeof(*s));
		if (se->kind == SIM_SENSOR_TEMPERATURE) {
			snprintf(s->id, sizeof(s->id), "Temperature%u", ++nt);
			s->kind = SK_TEMP;
			s->range_max = 70;
			s->caution = 35;
			s->critical = 40;
			s->low_caution = 10;
		} else {
			snprintf(s->id, sizeof(s->id), "Humidity%u", ++nh);
			s->kind = SK_HUMIDITY;
			s->range_max = 100;
			s->caution = 55;
			s->critical = 66;
			s->low_caution = 20;
		}
		snprintf(s->name, sizeof(s->name), "%s", se->name);
		s->physical = "Room";
		s->reading = se->value;
	}
	return n;
}

static const char *const skind_type[] = {"Voltage",   "Current",     "Power",   "EnergykWh",
					 "Frequency", "Temperature", "Humidity"};
static const char *const skind_unit[] = {"V", "A", "W", "kW.h", "Hz", "Cel", "%"};

/* Object setters without key validation: keys here are ASCII literals, and
 * an expanded unit builds thousands of them per request. */
static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new_nocheck(o, k, json_string_nocheck(v));
}

static void set(json_t *o, const char *k, json_t *v)
{
	json_object_set_new_nocheck(o, k, v);
}

static json_t *threshold(double reading, const char *activation)
{
	json_t *t = json_object();
	set(t, "Reading", num(reading, 1));
	set_str(t, "Activation", activation);
	return t;
}

static json_t *sensor_json(const struct rctx *r, unsigned unit, const struct rf_sensor *s)
{
	static const double accuracy[] = {0.5, 1, 1, 0, 0.1, 0.5, 2};
	char pdu[96], uri[200];
	pdu_uri(r, unit, pdu, sizeof(pdu));
	json_t *o = json_object();
	set_str(o, "@odata.type", "#Sensor.v1_12_0.Sensor");
	set(o, "Id", json_string(s->id));
	set(o, "Name", json_string(s->name));
	set_str(o, "ReadingType", skind_type[s->kind]);
	set(o, "Status", status_ok(true));
	set(o, "Reading", num(s->reading, s->kind == SK_ENERGY ? 3 : 2));
	set_str(o, "ReadingUnits", skind_unit[s->kind]);
	if (s->context)
		set_str(o, "ElectricalContext", s->context);
	set_str(o, "PhysicalContext", s->physical);
	if (s->kind == SK_POWER) {
		double var = s->va * s->va - s->reading * s->reading;
		set(o, "ApparentVA", num(s->va, 1));
		set(o, "ReactiveVAR", num(var > 0 ? sqrt(var) : 0, 1));
		set(o, "PowerFactor", num(s->pf, 2));
	}
	if (s->range_max > 0) {
		set(o, "ReadingRangeMin", json_integer(0));
		set(o, "ReadingRangeMax", num(s->range_max, 1));
	}
	if (s->kind != SK_ENERGY) {
		bool one = s->kind == SK_VOLTAGE || s->kind == SK_POWER || s->kind == SK_TEMP;
		set(o, "Accuracy", json_real(accuracy[s->kind]));
		set(o, "Precision", json_integer(one ? 1 : 2));
		set_str(o, "SensingInterval", "PT1S");
	}
	if (s->critical > 0) {
		json_t *t = json_object();
		set(t, "UpperCritical", threshold(s->critical, "Increasing"));
		set(t, "UpperCaution", threshold(s->caution, "Increasing"));
		if (s->low_caution > 0)
			set(t, "LowerCaution", threshold(s->low_caution, "Decreasing"));
		if (s->low_critical > 0)
			set(t, "LowerCritical", threshold(s->low_critical, "Decreasing"));
		set(o, "Thresholds", t);
	}
	snprintf(uri, sizeof(uri), "%s/Sensors/%s", pdu, s->id);
	set(o, "@odata.id", json_string(uri));
	return o;
}

/* ---- resources ---- */

static json_t *collection(const char *type, const char *name, const char *uri, json_t *members)
{
	return json_pack("{s:s,s:s,s:I,s:o,s:s}", "@odata.type", type, "Name", name,
			 "Members@odata.count", (json_int_t)json_array_size(members), "Members",
			 members, "@odata.id", uri);
}

static json_t *service_root(const struct rctx *r)
{
	char uuid[40];
	uint64_t s = r->dev->seed;
	snprintf(uuid, sizeof(uuid), "%08x-%04x-%04x-%04x-%012llx", (unsigned)(s >> 32),
		 (unsigned)(s >> 16) & 0xffff, 0x4000 | ((unsigned)s & 0x0fff),
		 0x8000 | (r->dev->id & 0x3fff), (unsigned long long)(s & 0xffffffffffffull));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:{s:b,s:b,s:i,s:b,s:b},s:b,s:b,s:b,s:b},"
			 "s:o,s:o,s:o,s:{s:o},s:s}",
			 "@odata.type", "#ServiceRoot.v1_20_0.ServiceRoot", "Id", "RootService",
			 "Name", "Root Service", "RedfishVersion", "1.15.0", "UUID", uuid,
			 "ProtocolFeaturesSupported", "ExpandQuery", "ExpandAll", 1, "Levels", 1,
			 "MaxLevels", RF_MAX_LEVELS, "Links", 1, "NoLinks", 1, "SelectQuery", 0,
			 "FilterQuery", 0, "OnlyMemberQuery", 0, "ExcerptQuery", 0,
			 "PowerEquipment", ref(RF_ROOT "/PowerEquipment"), "SessionService",
			 ref(RF_ROOT "/SessionService"), "Chassis", ref(RF_ROOT "/Chassis"),
			 "Links", "Sessions", ref(RF_ROOT "/SessionService/Sessions"), "@odata.id",
			 RF_ROOT "/");
}

static json_t *power_equipment(void)
{
	return json_pack(
		"{s:s,s:s,s:s,s:o,s:o,s:s}", "@odata.type", "#PowerEquipment.v1_2_3.PowerEquipment",
		"Id", "PowerEquipment", "Name", "DCIM Power Equipment", "Status",
		json_pack("{s:s,s:s}", "State", "Enabled", "HealthRollup", "OK"), "RackPDUs",
		ref(RF_ROOT "/PowerEquipment/RackPDUs"), "@odata.id", RF_ROOT "/PowerEquipment");
}

static json_t *rack_pdus(const struct rctx *r)
{
	json_t *m = json_array();
	for (unsigned u = 0; u < r->dev->pdu.n_units; u++)
		json_array_append_new(m, ref(RF_ROOT "/PowerEquipment/RackPDUs/%u", u + 1));
	return collection("#PowerDistributionCollection.PowerDistributionCollection",
			  "RackPDU Collection", RF_ROOT "/PowerEquipment/RackPDUs", m);
}

static json_t *rack_pdu(const struct rctx *r, unsigned unit)
{
	const struct sim_device *d = r->dev;
	const struct sim_pdu_unit *u = &d->pdu.units[unit];
	char pdu[96], name[96], serial[80], id[12], uuid[40];
	pdu_uri(r, unit, pdu, sizeof(pdu));
	snprintf(id, sizeof(id), "%u", unit + 1);
	if (d->pdu.n_units > 1)
		snprintf(name, sizeof(name), "%s unit %u", d->name, unit + 1);
	else
		snprintf(name, sizeof(name), "%s", d->name);
	snprintf(serial, sizeof(serial), "%s%s%u", d->serial, unit ? "-" : "", unit ? unit + 1 : 0);
	if (!unit)
		snprintf(serial, sizeof(serial), "%s", d->serial);
	snprintf(uuid, sizeof(uuid), "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(d->seed >> 32),
		 (unsigned)(d->seed >> 16) & 0xffff, unit & 0xfff, d->id & 0xfff,
		 (unsigned long long)(d->seed & 0xffffffffffffull));
	double va = u->rating_a * d->pdu.nominal_v *
		    (d->pdu.wiring == SIM_WIRING_WYE     ? 3
		     : d->pdu.wiring == SIM_WIRING_DELTA ? 1.7320508
							 : 1);
	json_t *o = json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:I}", "@odata.type",
		"#PowerDistribution.v1_6_0.PowerDistribution", "Id", id, "EquipmentType", "RackPDU",
		"Name", name, "FirmwareVersion", d->firmware, "Manufacturer", "wattrack-sim",
		"Model", d->pdu.wiring == SIM_WIRING_1PH ? "WT-RFPDU-1P" : "WT-RFPDU-3P",
		"SerialNumber", serial, "PartNumber", "WT-RF-24", "UUID", uuid, "Status",
		status_ok(true), "PowerCapacityVA", (json_int_t)llround(va));
	json_object_set_new(o, "Version", json_string("1.0"));
	json_object_set_new(o, "ProductionDate", json_string("2024-01-15T08:00:00Z"));
	json_object_set_new(o, "AssetTag", json_string(d->name));
	json_t *place = json_object();
	if (d->place.room[0])
		json_object_set_new(place, "Room", json_string(d->place.room));
	if (d->place.row[0])
		json_object_set_new(place, "Row", json_string(d->place.row));
	if (d->place.rack[0])
		json_object_set_new(place, "Rack", json_string(d->place.rack));
	json_object_set_new(o, "Location", json_pack("{s:o}", "Placement", place));
	json_object_set_new(o, "Mains", ref("%s/Mains", pdu));
	json_object_set_new(o, "Branches", ref("%s/Branches", pdu));
	json_object_set_new(o, "Outlets", ref("%s/Outlets", pdu));
	json_object_set_new(o, "Sensors", ref("%s/Sensors", pdu));
	json_object_set_new(o, "Metrics", ref("%s/Metrics", pdu));
	json_object_set_new(o, "OutletGroups", ref("%s/OutletGroups", pdu));
	json_object_set_new(o, "Links",
			    json_pack("{s:[o]}", "Chassis", ref(RF_ROOT "/Chassis/%u", unit + 1)));
	json_object_set_new(o, "@odata.id", json_string(pdu));
	return o;
}

static json_t *mains_collection(const struct rctx *r, unsigned unit)
{
	char pdu[96], uri[128];
	pdu_uri(r, unit, pdu, sizeof(pdu));
	snprintf(uri, sizeof(uri), "%s/Mains", pdu);
	return collection("#CircuitCollection.CircuitCollection", "Mains Circuit Collection", uri,
			  json_pack("[o]", ref("%s/Mains/AC1", pdu)));
}

/* Line-to-line voltage of two wye phases 120 degrees apart. */
static double ll_voltage(double a, double b)
{
	return sqrt(a * a + b * b + a * b);
}

static json_t *mains(const struct rctx *r, unsigned unit)
{
	const struct sim_device *d = r->dev;
	const struct sim_pdu_unit *u = &d->pdu.units[unit];
	char pdu[96], uri[128];
	static const char *const lkey[] = {"Line1", "Line2", "Line3"};
	pdu_uri(r, unit, pdu, sizeof(pdu));
	snprintf(uri, sizeof(uri), "%s/Mains/AC1", pdu);

	json_t *pv = json_object(), *pc = json_object(), *pp = json_object();
	for (unsigned l = 0; l < u->n_lines; l++) {
		char sid[32];
		const struct sim_line *ln = &u->lines[l];
		snprintf(sid, sizeof(sid), "VoltageMains%u", l + 1);
		json_object_set_new(pv, line_voltage_key(d, l),
				    reading(pdu, sid, ln->voltage_v, 1));
		snprintf(sid, sizeof(sid), "CurrentMains%u", l + 1);
		json_object_set_new(pc, lkey[l], reading(pdu, sid, ln->current_a, 2));
		snprintf(sid, sizeof(sid), "PowerMains%u", l + 1);
		json_object_set_new(pp, line_voltage_key(d, l),
				    power_reading(pdu, sid, ln->power_w, ln->apparent_va, ln->pf));
	}
	if (d->pdu.wiring == SIM_WIRING_WYE) {
		static const char *const llk[] = {"Line1ToLine2", "Line2ToLine3", "Line3ToLine1"};
		for (unsigned l = 0; l < 3; l++)
			json_object_set_new(
				pv, llk[l],
				json_pack("{s:o}", "Reading",
					  num(ll_voltage(u->lines[l].voltage_v,
							 u->lines[(l + 1) % 3].voltage_v),
					      1)));
		json_object_set_new(pc, "Neutral",
				    reading(pdu, "CurrentMainsNeutral", u->neutral_a, 2));
	}
	json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:o,s:s}", "@odata.type",
			      "#Circuit.v1_9_0.Circuit", "Id", "AC1", "Name", "Mains AC Input",
			      "Status", status_ok(true), "CircuitType", "Mains", "PhaseWiringType",
			      wiring_type(d), "NominalVoltage", nominal_voltage(d),
			      "RatedCurrentAmps", num(u->rating_a, 1), "BreakerState", "Normal");
	if (u->n_lines == 1) {
		/* single-phase: the one line is the circuit's reading */
		json_object_set_new(o, "Voltage", reading(pdu, "VoltageMains1", u->voltage_v, 1));
		json_object_set_new(o, "CurrentAmps",
				    reading(pdu, "CurrentMains1", u->current_a, 2));
	}
	json_object_set_new(o, "PolyPhaseVoltage", pv);
	json_object_set_new(o, "PolyPhaseCurrentAmps", pc);
	json_object_set_new(o, "PowerWatts",
			    power_reading(pdu, "PDUPower", u->power_w, u->apparent_va, u->pf));
	json_object_set_new(o, "PolyPhasePowerWatts", pp);
	json_object_set_new(o, "FrequencyHz", reading(pdu, "FreqMains", u->frequency_hz, 2));
	json_object_set_new(o, "EnergykWh", reading(pdu, "PDUEnergy", u->energy_wh / 1000.0, 3));
	json_object_set_new(o, "Actions",
			    json_pack("{s:{s:s+}}", "#Circuit.ResetMetrics", "target", uri,
				      "/Circuit.ResetMetrics"));
	json_object_set_new(o, "@odata.id", json_string(uri));
	return o;
}

static json_t *branches_collection(const struct rctx *r, unsigned unit)
{
	const struct sim_pdu_unit *u = &r->dev->pdu.units[unit];
	char pdu[96], uri[128], bid[16];
	pdu_uri(r, unit, pdu, sizeof(pdu));
	snprintf(uri, sizeof(uri), "%s/Branches", pdu);
	json_t *m = json_array();
	for (unsigned b = 0; b < u->n_branches; b++) {
		branch_id(u, b, bid, sizeof(bid));
		json_array_append_new(m, ref("%s/Branches/%s", pdu, bid));
	}
	return collection("#CircuitCollection.CircuitCollection", "Branch Circuit Collection", uri,
			  m);
}

static json_t *branch(const struct rctx *r, unsigned unit, unsigned b)
{
	const struct sim_device *d = r->dev;
	const struct sim_pdu_unit *u = &d->pdu.units[unit];
	const struct sim_branch *br = &u->branches[b];
	char pdu[96], uri[160], bid[16], sid[40], name[96];
	pdu_uri(r, unit, pdu, sizeof(pdu));
	branch_id(u, b, bid, sizeof(bid));
	snprintf(uri, sizeof(uri), "%s/Branches/%s", pdu, bid);
	snprintf(name, sizeof(name), "Branch Circuit %s", bid);
	unsigned l = br->line % SIM_MAX_LINES;
	double v = u->lines[l].voltage_v;
	double va = br->current_a * v;

	json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:o,s:s}", "@odata.type",
			      "#Circuit.v1_9_0.Circuit", "Id", bid, "Name", name, "Status",
			      status_ok(true), "CircuitType", "Branch", "PhaseWiringType",
			      d->pdu.wiring == SIM_WIRING_DELTA ? "TwoPhase3Wire" : "OnePhase3Wire",
			      "NominalVoltage", nominal_voltage(d), "RatedCurrentAmps",
			      num(br->rating_a, 1), "BreakerState",
			      br->tripped ? "Tripped" : "Normal");
	snprintf(sid, sizeof(sid), "VoltageMains%u", l + 1);
	json_object_set_new(o, "Voltage", reading(pdu, sid, v, 1));
	json_object_set_new(o, "PolyPhaseVoltage",
			    json_pack("{s:o}", line_voltage_key(d, l), reading(pdu, sid, v, 1)));
	snprintf(sid, sizeof(sid), "Current%s", bid);
	json_object_set_new(o, "CurrentAmps", reading(pdu, sid, br->current_a, 2));
	json_object_set_new(o, "PolyPhaseCurrentAmps",
			    json_pack("{s:o}", "Line1", reading(pdu, sid, br->current_a, 2)));
	snprintf(sid, sizeof(sid), "Power%s", bid);
	json_object_set_new(
		o, "PowerWatts",
		power_reading(pdu, sid, br->power_w, va, va > 0 ? br->power_w / va : 0));
	json_object_set_new(
		o, "PolyPhasePowerWatts",
		json_pack("{s:o}", line_voltage_key(d, l),
			  power_reading(pdu, sid, br->power_w, va, va > 0 ? br->power_w / va : 0)));
	json_object_set_new(o, "FrequencyHz", reading(pdu, "FreqMains", u->frequency_hz, 2));
	snprintf(sid, sizeof(sid), "Energy%s", bid);
	json_object_set_new(o, "EnergykWh", reading(pdu, sid, br->energy_wh / 1000.0, 3));
	json_t *outs = json_array();
	for (unsigned k = 0; k < u->n_outlets; k++)
		if (u->outlets[k].branch == b)
			json_array_append_new(outs, ref("%s/Outlets/%u", pdu, k + 1));
	json_object_set_new(o, "Links", json_pack("{s:o}", "Outlets", outs));
	json_object_set_new(o, "Actions",
			    json_pack("{s:{s:s+},s:{s:s+}}", "#Circuit.BreakerControl", "target",
				      uri, "/Circuit.BreakerControl", "#Circuit.ResetMetrics",
				      "target", uri, "/Circuit.ResetMetrics"));
	json_object_set_new(o, "@odata.id", json_string(uri));
	return o;
}

static json_t *outlets_collection(const struct rctx *r, unsigned unit)
{
	const struct sim_pdu_unit *u = &r->dev->pdu.units[unit];
	char pdu[96], uri[128];
	pdu_uri(r, unit, pdu, sizeof(pdu));
	snprintf(uri, sizeof(uri), "%s/Outlets", pdu);
	json_t *m = json_array();
	for (unsigned k = 0; k < u->n_outlets; k++)
		json_array_append_new(m, ref("%s/Outlets/%u", pdu, k + 1));
	return collection("#OutletCollection.OutletCollection", "Outlet Collection", uri, m);
}

static const char *outlet_power_state(const struct sim_outlet *ol)
{
	if (ol->pending_action == SIM_OUTLET_ON)
		return ol->on ? "On" : "PoweringOn";
	if (ol->pending_action == SIM_OUTLET_OFF)
		return ol->on ? "PoweringOff" : "Off";
	return ol->on ? "On" : "Off";
}

static json_t *outlet(const struct rctx *r, unsigned unit, unsigned k)
{
	const struct sim_device *d = r->dev;
	const struct sim_pdu_unit *u = &d->pdu.units[unit];
	const struct sim_outlet *ol = &u->outlets[k];
	char pdu[96], uri[160], id[12], name[120], sid[40], bid[16];
	pdu_uri(r, unit, pdu, sizeof(pdu));
	snprintf(id, sizeof(id), "%u", k + 1);
	snprintf(uri, sizeof(uri), "%s/Outlets/%u", pdu, k + 1);
	branch_id(u, ol->branch % SIM_MAX_BRANCHES, bid, sizeof(bid));
	snprintf(name, sizeof(name), "%s, Branch Circuit %s", ol->name, bid);

	json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:I,s:s,s:s,s:I,s:I,s:s,s:b,s:s}",
			      "@odata.type", "#Outlet.v1_4_4.Outlet", "Id", id, "Name", name,
			      "Status", status_ok(true), "PhaseWiringType",
			      d->pdu.wiring == SIM_WIRING_DELTA ? "TwoPhase3Wire" : "OnePhase3Wire",
			      "VoltageType", "AC", "OutletType", "IEC_60320_C13",
			      "RatedCurrentAmps", (json_int_t)10, "NominalVoltage",
			      nominal_voltage(d), "IndicatorLED", ol->on ? "Lit" : "Off",
			      "PowerOnDelaySeconds", (json_int_t)0, "PowerOffDelaySeconds",
			      (json_int_t)0, "PowerState", outlet_power_state(ol), "PowerEnabled",
			      ol->switchable, "UserLabel", ol->name);
	if (ol->metered) {
		const char *vk = line_voltage_key(d, ol->line);
		snprintf(sid, sizeof(sid), "VoltageOutlet%u", k + 1);
		json_object_set_new(o, "Voltage", reading(pdu, sid, ol->voltage_v, 1));
		json_object_set_new(o, "PolyPhaseVoltage",
				    json_pack("{s:o}", vk, reading(pdu, sid, ol->voltage_v, 1)));
		snprintf(sid, sizeof(sid), "CurrentOutlet%u", k + 1);
		json_object_set_new(o, "CurrentAmps", reading(pdu, sid, ol->current_a, 2));
		json_object_set_new(
			o, "PolyPhaseCurrentAmps",
			json_pack("{s:o}", "Line1", reading(pdu, sid, ol->current_a, 2)));
		snprintf(sid, sizeof(sid), "PowerOutlet%u", k + 1);
		json_object_set_new(
			o, "PowerWatts",
			power_reading(pdu, sid, ol->power_w, ol->apparent_va, ol->on ? ol->pf : 0));
		json_object_set_new(o, "FrequencyHz",
				    reading(pdu, "FreqMains", u->frequency_hz, 2));
		snprintf(sid, sizeof(sid), "EnergyOutlet%u", k + 1);
		json_object_set_new(o, "EnergykWh", reading(pdu, sid, ol->energy_wh / 1000.0, 3));
	}
	json_t *act = json_object();
	if (ol->switchable)
		json_object_set_new(
			act, "#Outlet.PowerControl",
			json_pack("{s:s+,s:[sss]}", "target", uri, "/Outlet.PowerControl",
				  "PowerState@Redfish.AllowableValues", "On", "Off", "PowerCycle"));
	json_object_set_new(act, "#Outlet.ResetMetrics",
			    json_pack("{s:s+}", "target", uri, "/Outlet.ResetMetrics"));
	json_object_set_new(o, "Actions", act);
	json_object_set_new(o, "Links",
			    json_pack("{s:o}", "BranchCircuit", ref("%s/Branches/%s", pdu, bid)));
	json_object_set_new(o, "@odata.id", json_string(uri));
	return o;
}

/* Outlet groups: one per branch circuit (its outlets), as a PDU's
 * preconfigured groups; switching a group switches its outlets. */
static json_t *groups_collection(const struct rctx *r, unsigned unit)
{
	const struct sim_pdu_unit *u = &r->dev->pdu.units[unit];
	char pdu[96], uri[128], bid[16];
	pdu_uri(r, unit, pdu, sizeof(pdu));
	snprintf(uri, sizeof(uri), "%s/OutletGroups", pdu);
	json_t *m = json_array();
	for (unsigned b = 0; b < u->n_branches; b++) {
		branch_id(u, b, bid, sizeof(bid));
		json_array_append_new(m, ref("%s/OutletGroups/%s", pdu, bid));
	}
	return collection("#OutletGroupCollection.OutletGroupCollection", "Outlet Group Collection",
			  uri, m);
}

static json_t *outlet_group(const struct rctx *r, unsigned unit, unsigned b)
{
	const struct sim_pdu_unit *u = &r->dev->pdu.units[unit];
	char pdu[96], uri[160], bid[16], name[64];
	double w = 0, va = 0, wh = 0;
	bool any_on = false, any_switchable = false;
	pdu_uri(r, unit, pdu, sizeof(pdu));
	branch_id(u, b, bid, sizeof(bid));
	snprintf(uri, sizeof(uri), "%s/OutletGroups/%s", pdu, bid);
	snprintf(name, sizeof(name), "Outlets of branch %s", bid);
	json_t *outs = json_array();
	for (unsigned k = 0; k < u->n_outlets; k++) {
		const struct sim_outlet *ol = &u->outlets[k];
		if (ol->branch != b)
			continue;
		json_array_append_new(outs, ref("%s/Outlets/%u", pdu, k + 1));
		w += ol->power_w;
		va += ol->apparent_va;
		wh += ol->energy_wh;
		any_on |= ol->on;
		any_switchable |= ol->switchable;
	}
	json_t *o = json_object();
	json_object_set_new(o, "@odata.type", json_string("#OutletGroup.v1_2_0.OutletGroup"));
	json_object_set_new(o, "Id", json_string(bid));
	json_object_set_new(o, "Name", json_string(name));
	json_object_set_new(o, "Status", status_ok(true));
	json_object_set_new(o, "CreatedBy", json_string("wattrack-sim"));
	json_object_set_new(o, "PowerOnDelaySeconds", json_integer(0));
	json_object_set_new(o, "PowerOffDelaySeconds", json_integer(0));
	/* a group is On while any of its outlets is */
	json_object_set_new(o, "PowerState", json_string(any_on ? "On" : "Off"));
	json_object_set_new(o, "PowerEnabled", json_boolean(any_switchable));
	json_object_set_new(o, "Links", json_pack("{s:o}", "Outlets", outs));
	json_t *pw = json_object();
	json_object_set_new(pw, "Reading", num(w, 1));
	json_object_set_new(pw, "ApparentVA", num(va, 1));
	json_object_set_new(o, "PowerWatts", pw);
	json_t *en = json_object();
	json_object_set_new(en, "Reading", num(wh / 1000.0, 3));
	json_object_set_new(o, "EnergykWh", en);
	json_t *act = json_object();
	if (any_switchable)
		json_object_set_new(
			act, "#OutletGroup.PowerControl",
			json_pack("{s:s+,s:[sss]}", "target", uri, "/OutletGroup.PowerControl",
				  "PowerState@Redfish.AllowableValues", "On", "Off", "PowerCycle"));
	json_object_set_new(act, "#OutletGroup.ResetMetrics",
			    json_pack("{s:s+}", "target", uri, "/OutletGroup.ResetMetrics"));
	json_object_set_new(o, "Actions", act);
	json_object_set_new(o, "@odata.id", json_string(uri));
	return o;
}

/* The unit's sensor list, made once per request: an expanded Sensors
 * collection looks up every member, which would otherwise be quadratic. */
static const struct rf_sensor *sensor_list(const struct rctx *r, unsigned unit, size_t *n)
{
	struct rf_scache *sc = r->sc;
	if (!sc)
		return NULL;
	if (!sc->list || sc->unit != unit) {
		if (!sc->list)
			sc->list = calloc(RF_MAX_UNIT_SENSORS, sizeof(*sc->list));
		if (!sc->list)
			return NULL;
		sc->n = unit_sensors(r->dev, unit, sc->list);
		sc->unit = unit;
	}
	*n = sc->n;
	return sc->list;
}

static json_t *sensors_collection(const struct rctx *r, unsigned unit)
{
	char pdu[96], uri[128];
	size_t n = 0;
	const struct rf_sensor *s = sensor_list(r, unit, &n);
	if (!s)
		return NULL;
	pdu_uri(r, unit, pdu, sizeof(pdu));
	snprintf(uri, sizeof(uri), "%s/Sensors", pdu);
	json_t *m = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(m, ref("%s/Sensors/%s", pdu, s[i].id));
	return collection("#SensorCollection.SensorCollection", "Rack PDU Sensor Collection", uri,
			  m);
}

static json_t *sensor(const struct rctx *r, unsigned unit, const char *id)
{
	size_t n = 0;
	const struct rf_sensor *s = sensor_list(r, unit, &n);
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s[i].id, id) == 0)
			return sensor_json(r, unit, &s[i]);
	return NULL;
}

static json_t *metrics(const struct rctx *r, unsigned unit)
{
	const struct sim_pdu_unit *u = &r->dev->pdu.units[unit];
	char pdu[96], uri[128];
	pdu_uri(r, unit, pdu, sizeof(pdu));
	snprintf(uri, sizeof(uri), "%s/Metrics", pdu);
	json_t *o = json_pack("{s:s,s:s,s:s}", "@odata.type",
			      "#PowerDistributionMetrics.v1_4_0.PowerDistributionMetrics", "Id",
			      "Metrics", "Name", "Summary Metrics");
	json_object_set_new(o, "PowerWatts",
			    power_reading(pdu, "PDUPower", u->power_w, u->apparent_va, u->pf));
	json_object_set_new(o, "EnergykWh", reading(pdu, "PDUEnergy", u->energy_wh / 1000.0, 3));
	unsigned nt = 0, nh = 0;
	for (unsigned k = 0; k < u->n_sensors; k++) {
		char sid[32];
		const struct sim_sensor *se = &u->sensors[k];
		if (se->kind == SIM_SENSOR_TEMPERATURE && ++nt == 1) {
			snprintf(sid, sizeof(sid), "Temperature%u", nt);
			json_object_set_new(o, "TemperatureCelsius",
					    reading(pdu, sid, se->value, 1));
		} else if (se->kind == SIM_SENSOR_HUMIDITY && ++nh == 1) {
			snprintf(sid, sizeof(sid), "Humidity%u", nh);
			json_object_set_new(o, "HumidityPercent", reading(pdu, sid, se->value, 1));
		}
	}
	json_object_set_new(o, "Actions",
			    json_pack("{s:{s:s+}}", "#PowerDistributionMetrics.ResetMetrics",
				      "target", uri, "/PowerDistributionMetrics.ResetMetrics"));
	json_object_set_new(o, "@odata.id", json_string(uri));
	return o;
}

static json_t *chassis_collection(const struct rctx *r)
{
	json_t *m = json_array();
	for (unsigned u = 0; u < r->dev->pdu.n_units; u++)
		json_array_append_new(m, ref(RF_ROOT "/Chassis/%u", u + 1));
	return collection("#ChassisCollection.ChassisCollection", "Chassis Collection",
			  RF_ROOT "/Chassis", m);
}

static json_t *chassis(const struct rctx *r, unsigned unit)
{
	char pdu[96], uri[64], id[12];
	pdu_uri(r, unit, pdu, sizeof(pdu));
	snprintf(id, sizeof(id), "%u", unit + 1);
	snprintf(uri, sizeof(uri), RF_ROOT "/Chassis/%u", unit + 1);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:{s:o},s:s}", "@odata.type",
			 "#Chassis.v1_25_0.Chassis", "Id", id, "Name", "Rack PDU Chassis",
			 "ChassisType", "RackMount", "Manufacturer", "wattrack-sim", "SerialNumber",
			 r->dev->serial, "Status", status_ok(true), "Sensors",
			 ref("%s/Sensors", pdu), "Links", "PowerDistribution", ref("%s", pdu),
			 "@odata.id", uri);
}

static uint32_t session_timeout(const struct sim_device *dev)
{
	if (dev->id < g.n_devices && g.session_timeout_s[dev->id])
		return g.session_timeout_s[dev->id];
	return RF_SESSION_TIMEOUT_S;
}

static json_t *session_service(const struct rctx *r)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:b,s:I,s:o,s:s}", "@odata.type",
			 "#SessionService.v1_2_0.SessionService", "Id", "SessionService", "Name",
			 "Session Service", "Description", "Session Service", "Status",
			 status_ok(true), "ServiceEnabled", 1, "SessionTimeout",
			 (json_int_t)session_timeout(r->dev), "Sessions",
			 ref(RF_ROOT "/SessionService/Sessions"), "@odata.id",
			 RF_ROOT "/SessionService");
}

static bool session_expired(const struct sim_device *dev, const struct rf_session *s, int64_t now)
{
	return now - s->last_ms > (int64_t)session_timeout(dev) * 1000;
}

/* The device's session list with every expired session freed; NULL if the
 * device has none (or is out of range). */
static struct rf_session **sessions_of(const struct sim_device *dev)
{
	if (!g.sessions || dev->id >= g.n_devices)
		return NULL;
	int64_t now = mono_ms();
	struct rf_session **head = &g.sessions[dev->id], **pp = head;
	while (*pp) {
		struct rf_session *s = *pp;
		if (session_expired(dev, s, now)) {
			*pp = s->next;
			free(s);
		} else {
			pp = &s->next;
		}
	}
	return head;
}

static json_t *sessions_collection(const struct rctx *r)
{
	json_t *m = json_array();
	struct rf_session **head = sessions_of(r->dev);
	for (struct rf_session *s = head ? *head : NULL; s; s = s->next)
		json_array_append_new(m, ref(RF_ROOT "/SessionService/Sessions/%s", s->id));
	return collection("#SessionCollection.SessionCollection", "Session Collection",
			  RF_ROOT "/SessionService/Sessions", m);
}

static struct rf_session *session_by_id(const struct sim_device *dev, const char *id)
{
	struct rf_session **head = sessions_of(dev);
	for (struct rf_session *s = head ? *head : NULL; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static json_t *session_json(const struct rf_session *s)
{
	char uri[96];
	snprintf(uri, sizeof(uri), RF_ROOT "/SessionService/Sessions/%s", s->id);
	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "@odata.type", "#Session.v1_8_0.Session", "Id",
			 s->id, "Name", "User Session", "UserName", s->user, "@odata.id", uri);
}

/* ---- routing: path -> resource ---- */

#define RF_MAX_SEGS 8

/* Splits the part of path below /redfish/v1 into segments (in place). */
static int split_path(char *p, char **seg)
{
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(p, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == RF_MAX_SEGS)
			return -1;
		seg[n++] = t;
	}
	return n;
}

/* Builds the resource at path (below the service root, already normalised);
 * NULL if there is none. */
static json_t *build(const struct rctx *r, const char *path)
{
	char buf[512];
	char *seg[RF_MAX_SEGS];
	const struct sim_device *d = r->dev;

	if (strcmp(path, "/redfish") == 0)
		return json_pack("{s:s}", "v1", RF_ROOT "/");
	if (strncmp(path, RF_ROOT, strlen(RF_ROOT)) != 0)
		return NULL;
	snprintf(buf, sizeof(buf), "%s", path + strlen(RF_ROOT));
	if (buf[0] && buf[0] != '/')
		return NULL;
	int n = split_path(buf, seg);
	if (n < 0)
		return NULL;
	if (n == 0)
		return service_root(r);
	if (strcmp(seg[0], "SessionService") == 0) {
		if (n == 1)
			return session_service(r);
		if (strcmp(seg[1], "Sessions") != 0)
			return NULL;
		if (n == 2)
			return sessions_collection(r);
		if (n == 3) {
			struct rf_session *s = session_by_id(d, seg[2]);
			return s ? session_json(s) : NULL;
		}
		return NULL;
	}
	if (d->kind != SIM_KIND_PDU)
		return NULL;
	if (strcmp(seg[0], "Chassis") == 0) {
		if (n == 1)
			return chassis_collection(r);
		int unit = parse_index(seg[1], d->pdu.n_units);
		if (unit < 0)
			return NULL;
		if (n == 2)
			return chassis(r, (unsigned)unit);
		if (n == 3 && strcmp(seg[2], "Sensors") == 0)
			return sensors_collection(r, (unsigned)unit);
		return NULL;
	}
	if (strcmp(seg[0], "PowerEquipment") != 0)
		return NULL;
	if (n == 1)
		return power_equipment();
	if (strcmp(seg[1], "RackPDUs") != 0)
		return NULL;
	if (n == 2)
		return rack_pdus(r);
	int unit = parse_index(seg[2], d->pdu.n_units);
	if (unit < 0)
		return NULL;
	const struct sim_pdu_unit *u = &d->pdu.units[unit];
	if (n == 3)
		return rack_pdu(r, (unsigned)unit);
	const char *sub = seg[3];
	if (n == 4) {
		if (strcmp(sub, "Mains") == 0)
			return mains_collection(r, (unsigned)unit);
		if (strcmp(sub, "Branches") == 0)
			return branches_collection(r, (unsigned)unit);
		if (strcmp(sub, "Outlets") == 0)
			return outlets_collection(r, (unsigned)unit);
		if (strcmp(sub, "Sensors") == 0)
			return sensors_collection(r, (unsigned)unit);
		if (strcmp(sub, "Metrics") == 0)
			return metrics(r, (unsigned)unit);
		if (strcmp(sub, "OutletGroups") == 0)
			return groups_collection(r, (unsigned)unit);
		return NULL;
	}
	if (n != 5)
		return NULL;
	if (strcmp(sub, "Mains") == 0)
		return strcmp(seg[4], "AC1") == 0 ? mains(r, (unsigned)unit) : NULL;
	if (strcmp(sub, "Branches") == 0) {
		int b = branch_by_id(u, seg[4]);
		return b < 0 ? NULL : branch(r, (unsigned)unit, (unsigned)b);
	}
	if (strcmp(sub, "Outlets") == 0) {
		int k = parse_index(seg[4], u->n_outlets);
		return k < 0 ? NULL : outlet(r, (unsigned)unit, (unsigned)k);
	}
	if (strcmp(sub, "Sensors") == 0)
		return sensor(r, (unsigned)unit, seg[4]);
	if (strcmp(sub, "OutletGroups") == 0) {
		int b = branch_by_id(u, seg[4]);
		return b < 0 ? NULL : outlet_group(r, (unsigned)unit, (unsigned)b);
	}
	return NULL;
}

/* ---- $expand ---- */

struct expand_opts {
	char mode; /* '.' subordinate links, '*' all links, '~' Links only */
	int levels;
};

/* Parses "$expand" values: ".", "*", "~", each optionally "($levels=n)". */
static bool parse_expand(const char *v, struct expand_opts *e)
{
	if (!v || (v[0] != '.' && v[0] != '*' && v[0] != '~'))
		return false;
	e->mode = v[0];
	e->levels = 1;
	if (!v[1])
		return true;
	int lv = 0, used = 0;
	if (sscanf(v + 1, "($levels=%d)%n", &lv, &used) != 1 || v[1 + used] != 0)
		return false;
	if (lv < 1 || lv > RF_MAX_LEVELS)
		return false;
	e->levels = lv;
	return true;
}

static bool is_ref(json_t *v)
{
	return json_is_object(v) && json_object_size(v) == 1 &&
	       json_is_string(json_object_get(v, "@odata.id"));
}

static void expand_node(const struct rctx *r, json_t *node, const struct expand_opts *e, int levels,
			bool in_links);

/* Replaces a reference by the resource it names when the mode allows it. */
static json_t *expand_ref(const struct rctx *r, json_t *v, const struct expand_opts *e, int levels,
			  bool in_links)
{
	bool eligible = e->mode == '*' || (e->mode == '.' && !in_links) ||
			(e->mode == '~' && in_links);
	if (!eligible || levels < 1)
		return NULL;
	char path[512];
	snprintf(path, sizeof(path), "%s", json_string_value(json_object_get(v, "@odata.id")));
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = 0;
	json_t *res = build(r, path);
	if (res && levels > 1)
		expand_node(r, res, e, levels - 1, false);
	return res;
}

static void expand_node(const struct rctx *r, json_t *node, const struct expand_opts *e, int levels,
			bool in_links)
{
	if (json_is_object(node)) {
		const char *key;
		json_t *v;
		json_object_foreach(node, key, v)
		{
			bool links = in_links || strcmp(key, "Links") == 0;
			if (is_ref(v)) {
				json_t *res = expand_ref(r, v, e, levels, links);
				if (res)
					json_object_set_new(node, key, res);
			} else if (json_is_object(v) || json_is_array(v)) {
				expand_node(r, v, e, levels, links);
			}
		}
	} else if (json_is_array(node)) {
		for (size_t i = 0; i < json_array_size(node); i++) {
			json_t *v = json_array_get(node, i);
			if (is_ref(v)) {
				json_t *res = expand_ref(r, v, e, levels, in_links);
				if (res)
					json_array_set_new(node, i, res);
			} else if (json_is_object(v) || json_is_array(v)) {
				expand_node(r, v, e, levels, in_links);
			}
		}
	}
}

/* ---- replies ---- */

static void add_common_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "OData-Version", "4.0");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "Server", "wattrack-sim");
}

static int hold(struct evhttp_request *req, struct rf_port *port, int fa, uint32_t delay_ms);

static void truncate_written_cb(struct evhttp_connection *conn, void *arg)
{
	(void)arg;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	/* the client gets the prefix and then EOF, like a reset mid-transfer */
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

/* Sends body (may be NULL) as JSON with status; takes the body's reference. */
/* A growable text buffer for the serialiser below. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_str(struct sbuf *b, const char *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	size_t run = 0;
	sb_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		sb_put(b, s + run, i - run);
		run = i + 1;
		char esc[6] = {'\\', (char)ch, 0, 0, 0, 0};
		if (ch == '"' || ch == '\\') {
			sb_put(b, esc, 2);
		} else {
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hexd[ch >> 4];
			esc[5] = hexd[ch & 15];
			sb_put(b, esc, 6);
		}
	}
	sb_put(b, s + run, n - run);
	sb_put(b, "\"", 1);
}

/* Compact JSON of a tree, keys in insertion order. jansson's json_dumps
 * spends most of its time on cycle detection (a printf and a hash insert per
 * container), which this tree cannot have; this writer is several times
 * faster, and response cost matters when thousands of PDUs are polled. */
static void sb_json(struct sbuf *b, json_t *j)
{
	char num[40];
	int n;
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *v;
		bool first = true;
		sb_put(b, "{", 1);
		json_object_foreach(j, key, v)
		{
			if (!first)
				sb_put(b, ",", 1);
			first = false;
			sb_str(b, key, strlen(key));
			sb_put(b, ":", 1);
			sb_json(b, v);
		}
		sb_put(b, "}", 1);
		break;
	}
	case JSON_ARRAY:
		sb_put(b, "[", 1);
		for (size_t i = 0; i < json_array_size(j); i++) {
			if (i)
				sb_put(b, ",", 1);
			sb_json(b, json_array_get(j, i));
		}
		sb_put(b, "]", 1);
		break;
	case JSON_STRING:
		sb_str(b, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		sb_put(b, num, (size_t)n);
		break;
	case JSON_REAL: {
		double v = json_real_value(j);
		if (fabs(v) < 1e12) {
			/* readings carry at most 3 decimals (num()): integer arithmetic
			 * instead of printf, which dominated the cost of big bodies */
			long long m = llround(v * 1000);
			unsigned long long a = (unsigned long long)(m < 0 ? -m : m);
			char tmp[32];
			int k = (int)sizeof(tmp);
			unsigned long long ip = a / 1000;
			unsigned frac = (unsigned)(a % 1000);
			int dec = frac ? (frac % 100 == 0 ? 1 : frac % 10 == 0 ? 2 : 3) : 1;
			unsigned f = dec == 1 ? frac / 100 : dec == 2 ? frac / 10 : frac;
			for (int d = 0; d < dec; d++, f /= 10)
				tmp[--k] = (char)('0' + f % 10);
			tmp[--k] = '.';
			do {
				tmp[--k] = (char)('0' + ip % 10);
				ip /= 10;
			} while (ip);
			if (m < 0)
				tmp[--k] = '-';
			sb_put(b, tmp + k, sizeof(tmp) - (size_t)k);
		} else {
			n = snprintf(num, sizeof(num), "%.12g", v);
			sb_put(b, num, (size_t)n);
			if (!strpbrk(num, ".eEn"))
				sb_put(b, ".0", 2);
		}
		break;
	}
	case JSON_TRUE:
		sb_put(b, "true", 4);
		break;
	case JSON_FALSE:
		sb_put(b, "false", 5);
		break;
	default:
		sb_put(b, "null", 4);
		break;
	}
}

static void free_text(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

static char *json_text(json_t *j)
{
	struct sbuf b = {NULL, 0, 0, false};
	sb_json(&b, j);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static void reply_json(struct evhttp_request *req, int status, const char *reason, json_t *body,
		       int fa)
{
	char *txt = body ? json_text(body) : NULL;
	json_decref(body);
	add_common_headers(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (txt)
		evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
	if (fa == SIM_FA_TRUNCATE && txt && strlen(txt) > 1) {
		size_t full = strlen(txt), part = sim_fault_truncate_len(full);
		char cl[24];
		snprintf(cl, sizeof(cl), "%zu", full);
		evhttp_add_header(h, "Content-Length", cl);
		struct evbuffer *b = evbuffer_new();
		if (!b || hold(req, NULL, fa, 0) < 0) {
			if (b)
				evbuffer_free(b);
			free(txt);
			evhttp_send_reply(req, 500, "Internal Server Error", NULL);
			return;
		}
		evhttp_send_reply_start(req, status, reason);
		evbuffer_add(b, txt, part);
		evhttp_send_reply_chunk_with_cb(req, b, truncate_written_cb, NULL);
		evbuffer_free(b);
		free(txt);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (b && txt && evbuffer_add_reference(b, txt, strlen(txt), free_text, NULL) == 0)
		txt = NULL; /* the buffer owns it now: no copy of large bodies */
	evhttp_send_reply(req, status, reason, b);
	if (b)
		evbuffer_free(b);
	free(txt);
}

static void reply_error(struct evhttp_request *req, int status, const char *msgid,
			const char *message, int fa)
{
	static const struct {
		int code;
		const char *reason;
	} reasons[] = {{400, "Bad Request"},        {401, "Unauthorized"},
		       {403, "Forbidden"},          {404, "Not Found"},
		       {405, "Method Not Allowed"}, {500, "Internal Server Error"},
		       {501, "Not Implemented"},    {503, "Service Unavailable"}};
	const char *reason = "Error";
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			reason = reasons[i].reason;
	if (status == 401)
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Basic realm=\"wattrack-sim\"");
	reply_json(req, status, reason, error_body(msgid, message), fa);
}

/* ---- authentication ---- */

static bool secret_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

static bool creds_ok(const struct sim_device *dev, const char *user, const char *pass)
{
	return secret_eq(user, dev->creds.http_user) && secret_eq(pass, dev->creds.http_pass);
}

/* Decodes "Basic base64(user:pass)" and checks it. */
static bool basic_ok(const struct sim_device *dev, const char *hdr)
{
	if (strncasecmp(hdr, "Basic ", 6) != 0)
		return false;
	const char *b64 = hdr + 6;
	while (*b64 == ' ')
		b64++;
	size_t len = strlen(b64);
	if (len == 0 || len % 4 || len > 512)
		return false;
	unsigned char out[400];
	int n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return false;
	if (len >= 1 && b64[len - 1] == '=')
		n--;
	if (len >= 2 && b64[len - 2] == '=')
		n--;
	out[n] = 0;
	char *colon = memchr(out, ':', (size_t)n);
	if (!colon || memchr(out, 0, (size_t)n))
		return false;
	*colon = 0;
	return creds_ok(dev, (const char *)out, colon + 1);
}

static struct rf_session *session_by_token(const struct sim_device *dev, const char *tok)
{
	struct rf_session **head = sessions_of(dev);
	for (struct rf_session *s = head ? *head : NULL; s; s = s->next)
		if (secret_eq(s->token, tok)) {
			s->last_ms = mono_ms();
			return s;
		}
	return NULL;
}

/* True when the request carries valid credentials (or the device has none). */
static bool authorised(const struct sim_device *dev, struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	if (!dev->creds.http_user[0])
		return true;
	const char *tok = evhttp_find_header(in, "X-Auth-Token");
	if (tok && session_by_token(dev, tok))
		return true;
	const char *auth = evhttp_find_header(in, "Authorization");
	return auth && basic_ok(dev, auth);
}

static void hex(char *out, size_t bytes)
{
	unsigned char raw[32];
	static const char digits[] = "0123456789abcdef";
	if (bytes > sizeof(raw))
		bytes = sizeof(raw);
	if (RAND_bytes(raw, (int)bytes) != 1)
		for (size_t i = 0; i < bytes; i++)
			raw[i] = (unsigned char)random();
	for (size_t i = 0; i < bytes; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 15];
	}
	out[2 * bytes] = 0;
}

/* Reads the request body as a JSON object; NULL if it is not one. */
static json_t *body_json(struct evhttp_request *req)
{
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(b);
	if (len == 0 || len > RF_MAX_BODY)
		return NULL;
	unsigned char *p = evbuffer_pullup(b, (ev_ssize_t)len);
	json_t *j = p ? json_loadb((const char *)p, len, 0, NULL) : NULL;
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void session_create(const struct rctx *r, struct evhttp_request *req, int fa)
{
	json_t *b = body_json(req);
	const char *user = b ? json_string_value(json_object_get(b, "UserName")) : NULL;
	const char *pass = b ? json_string_value(json_object_get(b, "Password")) : NULL;
	if (!user || !pass) {
		json_decref(b);
		reply_error(req, 400, "PropertyMissing",
			    "UserName and Password are required to create a session.", fa);
		return;
	}
	if (r->dev->creds.http_user[0] && !creds_ok(r->dev, user, pass)) {
		json_decref(b);
		reply_error(req, 401, "ResourceAtUriUnauthorized", "Invalid user name or password.",
			    fa);
		return;
	}
	struct rf_session **head = sessions_of(r->dev);
	unsigned count = 0;
	for (struct rf_session *s = head ? *head : NULL; s; s = s->next)
		count++;
	if (!head || count >= RF_MAX_SESSIONS) {
		json_decref(b);
		reply_error(req, 503, "SessionLimitExceeded",
			    "The session establishment failed due to the number of simultaneous "
			    "sessions exceeding the limit of the implementation.",
			    fa);
		return;
	}
	struct rf_session *s = calloc(1, sizeof(*s));
	if (!s) {
		json_decref(b);
		reply_error(req, 500, "InternalError", "Out of memory.", fa);
		return;
	}
	hex(s->id, 8);
	hex(s->token, 16);
	snprintf(s->user, sizeof(s->user), "%s", user);
	json_decref(b);
	s->dev_id = r->dev->id;
	s->last_ms = mono_ms();
	s->next = *head;
	*head = s;
	char loc[96];
	snprintf(loc, sizeof(loc), RF_ROOT "/SessionService/Sessions/%s", s->id);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "X-Auth-Token", s->token);
	evhttp_add_header(h, "Location", loc);
	reply_json(req, 201, "Created", session_json(s), fa);
}

static void session_delete(const struct rctx *r, struct evhttp_request *req, const char *id, int fa)
{
	struct rf_session **head = sessions_of(r->dev);
	for (struct rf_session **pp = head; pp && *pp; pp = &(*pp)->next) {
		struct rf_session *s = *pp;
		if (strcmp(s->id, id) == 0) {
			*pp = s->next;
			free(s);
			reply_json(req, 204, "No Content", NULL, fa);
			return;
		}
	}
	reply_error(req, 404, "ResourceNotFound", "No such session.", fa);
}

static void session_service_patch(const struct rctx *r, struct evhttp_request *req, int fa)
{
	json_t *b = body_json(req);
	json_t *t = b ? json_object_get(b, "SessionTimeout") : NULL;
	/* DSP0268 allows 30..86400 s; the simulator accepts from 1 s so tests
	 * can watch a session expire without waiting half a minute */
	if (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > 86400) {
		json_decref(b);
		reply_error(req, 400, "PropertyValueIncorrect",
			    "SessionTimeout must be an integer from 1 to 86400.", fa);
		return;
	}
	if (r->dev->id < g.n_devices)
		g.session_timeout_s[r->dev->id] = (uint32_t)json_integer_value(t);
	json_decref(b);
	reply_json(req, 200, "OK", session_service(r), fa);
}

/* ---- actions ---- */

/* Reads {"PowerState": "On"|"Off"|"PowerCycle"}; answers the 400 itself and
 * returns false when the body is not that. */
static bool power_state_arg(struct evhttp_request *req, const char *action,
			    enum sim_outlet_action *act, int fa)
{
	json_t *b = body_json(req);
	const char *st = b ? json_string_value(json_object_get(b, "PowerState")) : NULL;
	bool ok = true;
	char msg[128];
	if (!st) {
		snprintf(msg, sizeof(msg), "The action %s requires the parameter PowerState.",
			 action);
		reply_error(req, 400, "ActionParameterMissing", msg, fa);
		ok = false;
	} else if (strcmp(st, "On") == 0) {
		*act = SIM_OUTLET_ON;
	} else if (strcmp(st, "Off") == 0) {
		*act = SIM_OUTLET_OFF;
	} else if (strcmp(st, "PowerCycle") == 0) {
		*act = SIM_OUTLET_REBOOT;
	} else {
		reply_error(req, 400, "ActionParameterValueNotInList",
			    "PowerState must be On, Off or PowerCycle.", fa);
		ok = false;
	}
	json_decref(b);
	return ok;
}

static void outlet_power_control(const struct rctx *r, struct evhttp_request *req, unsigned unit,
				 unsigned k, int fa)
{
	const struct sim_outlet *ol = &r->dev->pdu.units[unit].outlets[k];
	enum sim_outlet_action act;
	if (!power_state_arg(req, "Outlet.PowerControl", &act, fa))
		return;
	if (!ol->switchable) {
		reply_error(req, 400, "ActionNotSupported",
			    "The action Outlet.PowerControl is not supported by this outlet.", fa);
		return;
	}
	int rc = sim_outlet_control(r->dev, unit, k, act, 0, r->now_ms);
	if (rc < 0) {
		reply_error(req, 500, "InternalError", "The outlet could not be switched.", fa);
		return;
	}
	sim_device_update(r->dev, r->now_ms);
	reply_json(req, 204, "No Content", NULL, fa);
}

/* Switches every switchable outlet of a group (a branch's outlets). */
static void group_power_control(const struct rctx *r, struct evhttp_request *req, unsigned unit,
				unsigned b, int fa)
{
	const struct sim_pdu_unit *u = &r->dev->pdu.units[unit];
	enum sim_outlet_action act;
	if (!power_state_arg(req, "OutletGroup.PowerControl", &act, fa))
		return;
	unsigned switched = 0;
	for (unsigned k = 0; k < u->n_outlets; k++) {
		if (u->outlets[k].branch != b || !u->outlets[k].switchable)
			continue;
		if (sim_outlet_control(r->dev, unit, k, act, 0, r->now_ms) == 0)
			switched++;
	}
	if (!switched) {
		reply_error(req, 400, "ActionNotSupported",
			    "No outlet of this group can be switched.", fa);
		return;
	}
	sim_device_update(r->dev, r->now_ms);
	reply_json(req, 204, "No Content", NULL, fa);
}

/* POST on an action target: .../Outlets/{n}/Outlet.PowerControl or
 * .../Outlets/{n}/Actions/Outlet.PowerControl. */
static bool try_action(const struct rctx *r, struct evhttp_request *req, const char *path, int fa)
{
	char buf[512];
	char *seg[RF_MAX_SEGS];
	const struct sim_device *d = r->dev;
	if (d->kind != SIM_KIND_PDU || strncmp(path, RF_ROOT "/", strlen(RF_ROOT) + 1) != 0)
		return false;
	snprintf(buf, sizeof(buf), "%s", path + strlen(RF_ROOT));
	int n = split_path(buf, seg);
	if (n < 6 || strcmp(seg[0], "PowerEquipment") != 0 || strcmp(seg[1], "RackPDUs") != 0)
		return false;
	int unit = parse_index(seg[2], d->pdu.n_units);
	if (unit < 0)
		return false;
	const char *action = seg[n - 1];
	if (n == 7 && strcmp(seg[5], "Actions") != 0)
		return false;
	if (n > 7)
		return false;
	if (strcmp(seg[3], "OutletGroups") == 0 &&
	    strcmp(action, "OutletGroup.PowerControl") == 0) {
		int b = branch_by_id(&d->pdu.units[unit], seg[4]);
		if (b < 0)
			return false;
		group_power_control(r, req, (unsigned)unit, (unsigned)b, fa);
		return true;
	}
	if (strcmp(seg[3], "Outlets") == 0 && strcmp(action, "Outlet.PowerControl") == 0) {
		int k = parse_index(seg[4], d->pdu.units[unit].n_outlets);
		if (k < 0)
			return false;
		outlet_power_control(r, req, (unsigned)unit, (unsigned)k, fa);
		return true;
	}
	if (strstr(action, ".ResetMetrics") || strcmp(action, "Circuit.BreakerControl") == 0) {
		/* energy counters only restart on a device reboot in this model */
		reply_error(req, 501, "ActionNotSupported",
			    "The action is advertised for shape compatibility but not implemented "
			    "by the simulator.",
			    fa);
		return true;
	}
	return false;
}

/* ---- request dispatch ---- */

static void handle_req(struct rf_port *port, struct evhttp_request *req, int fa,
		       struct rf_scache *sc)
{
	struct rctx r = {.dev = port->dev, .port = port, .now_ms = sim_now_ms(g.sim), .sc = sc};
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *rawpath = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char path[512];

	if (fa == SIM_FA_GARBAGE) {
		uint8_t junk[160];
		char body[400];
		sim_fault_garbage(r.dev, junk, sizeof(junk));
		int n = snprintf(body, sizeof(body),
				 "{\"@odata.id\":\"%s\",\"Name\":", rawpath ? rawpath : "/");
		for (size_t i = 0; i < sizeof(junk) && n < (int)sizeof(body) - 1; i++)
			body[n++] = (char)(0x21 + junk[i] % 94); /* printable, never valid JSON */
		body[n] = 0;
		add_common_headers(req);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json; charset=utf-8");
		struct evbuffer *b = evbuffer_new();
		if (b)
			evbuffer_add(b, body, (size_t)n);
		evhttp_send_reply(req, 200, "OK", b);
		if (b)
			evbuffer_free(b);
		return;
	}
	if (fa == SIM_FA_ERROR) {
		int st = r.dev->faults.http_status;
		if (st == 401)
			reply_error(req, 401, "ResourceAtUriUnauthorized",
				    "Authentication is required (injected fault).", SIM_FA_ANSWER);
		else if (st >= 400 && st <= 599)
			reply_error(req, st, "InternalError",
				    "The request failed due to an internal service error (injected "
				    "fault).",
				    SIM_FA_ANSWER);
		else
			reply_error(req, 500, "InternalError", "Injected fault.", SIM_FA_ANSWER);
		return;
	}

	if (!rawpath) {
		reply_error(req, 400, "MalformedJSON", "Bad request line.", fa);
		return;
	}
	size_t dlen = 0;
	char *dec = evhttp_uridecode(rawpath, 0, &dlen);
	const char *p = dec ? dec : rawpath;
	if (dec && dlen != strlen(dec)) {
		/* an encoded NUL would cut the path short and alias another resource */
		free(dec);
		reply_error(req, 400, "ResourceNotFound", "The path is malformed.", fa);
		return;
	}
	if (strlen(p) >= sizeof(path)) {
		/* no resource has such a path; never match a truncated prefix */
		free(dec);
		reply_error(req, 404, "ResourceNotFound", "The resource does not exist.", fa);
		return;
	}
	snprintf(path, sizeof(path), "%s", p);
	free(dec);
	size_t plen = strlen(path);
	while (plen > 1 && path[plen - 1] == '/')
		path[--plen] = 0;

	struct expand_opts ex = {0, 0};
	if (query) {
		struct evkeyvalq q; /* evhttp_parse_query_str initialises it */
		if (evhttp_parse_query_str(query, &q) != 0) {
			reply_error(req, 400, "QueryParameterValueFormatError", "Bad query string.",
				    fa);
			return;
		}
		const char *e = evhttp_find_header(&q, "$expand");
		bool bad = e && !parse_expand(e, &ex);
		bool unsupported = false;
		for (struct evkeyval *kv = q.tqh_first; kv; kv = kv->next.tqe_next)
			if (kv->key[0] == '$' && strcmp(kv->key, "$expand") != 0)
				unsupported = true;
		evhttp_clear_headers(&q);
		if (bad) {
			reply_error(req, 400, "QueryParameterValueFormatError",
				    "$expand must be ., * or ~, optionally with ($levels=1..6).",
				    fa);
			return;
		}
		if (unsupported) {
			reply_error(req, 501, "QueryNotSupported",
				    "Only the $expand query parameter is supported.", fa);
			return;
		}
	}

	/* public: the version object, the service root and logging in */
	bool is_login = cmd == EVHTTP_REQ_POST &&
			strcmp(path, RF_ROOT "/SessionService/Sessions") == 0;
	bool is_public = (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) &&
			 (strcmp(path, "/redfish") == 0 || strcmp(path, RF_ROOT) == 0);
	if (is_login) {
		session_create(&r, req, fa);
		return;
	}
	if (!is_public && !authorised(r.dev, req)) {
		reply_error(req, 401, "ResourceAtUriUnauthorized",
			    "Valid credentials are required to access this resource.", fa);
		return;
	}

	sim_device_update(r.dev, r.now_ms);
	switch (cmd) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD: {
		json_t *res = build(&r, path);
		if (!res) {
			reply_error(req, 404, "ResourceNotFound", "The resource does not exist.",
				    fa);
			return;
		}
		if (ex.mode)
			expand_node(&r, res, &ex, ex.levels, false);
		reply_json(req, 200, "OK", res, fa);
		return;
	}
	case EVHTTP_REQ_POST:
		if (try_action(&r, req, path, fa))
			return;
		break;
	case EVHTTP_REQ_DELETE:
		if (strncmp(path, RF_ROOT "/SessionService/Sessions/",
			    strlen(RF_ROOT "/SessionService/Sessions/")) == 0) {
			session_delete(&r, req, path + strlen(RF_ROOT "/SessionService/Sessions/"),
				       fa);
			return;
		}
		break;
	case EVHTTP_REQ_PATCH:
		if (strcmp(path, RF_ROOT "/SessionService") == 0) {
			session_service_patch(&r, req, fa);
			return;
		}
		break;
	default:
		break;
	}
	json_t *exists = build(&r, path);
	if (exists) {
		json_decref(exists);
		reply_error(req, 405, "OperationNotAllowed",
			    "The HTTP method is not allowed on this resource.", fa);
	} else {
		reply_error(req, 404, "ResourceNotFound", "The resource does not exist.", fa);
	}
}

/* Answers one request (after the fault decision fa). */
static void handle(struct rf_port *port, struct evhttp_request *req, int fa)
{
	struct rf_scache sc = {NULL, 0, 0};
	handle_req(port, req, fa, &sc);
	free(sc.list);
}

/* ---- held requests: delayed, unanswered, cut off ----
 *
 * evhttp hands a request to us and frees it when we finish the reply. A
 * request we never finish (no answer, disconnect, truncated body) is, when
 * its client goes away, detached from its connection and left to us; a
 * delayed one must not be answered after its connection died. So every such
 * request is held here, and the connection's close callback settles it. */

static void hold_free(struct rf_pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		g.pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (p->ev)
		event_free(p->ev);
	free(p);
}

static void hold_conn_closed(struct evhttp_connection *conn, void *arg)
{
	(void)arg;
	struct rf_pending *p = g.pending;
	while (p) {
		struct rf_pending *next = p->next;
		if (p->conn == conn) {
			/* detached: ours to free; still attached: the connection frees it */
			if (!evhttp_request_get_connection(p->req))
				evhttp_request_free(p->req);
			hold_free(p);
		}
		p = next;
	}
}

static void hold_fire(evutil_socket_t fd, short what, void *arg)
{
	struct rf_pending *p = arg;
	(void)fd;
	(void)what;
	struct evhttp_request *req = p->req;
	struct rf_port *port = p->port;
	int fa = p->fa;
	struct evhttp_connection *conn = p->conn;
	hold_free(p);
	bool more = false;
	for (struct rf_pending *q = g.pending; q; q = q->next)
		more |= q->conn == conn;
	if (!more)
		evhttp_connection_set_closecb(conn, NULL, NULL);
	handle(port, req, fa);
}

/* Holds req until its connection closes, or until delay_ms if non-zero
 * (then it is handled with fault action fa). 0 or -ENOMEM. */
static int hold(struct evhttp_request *req, struct rf_port *port, int fa, uint32_t delay_ms)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	if (!conn)
		return -EINVAL;
	struct rf_pending *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (delay_ms) {
		p->ev = evtimer_new(g.base, hold_fire, p);
		if (!p->ev) {
			free(p);
			return -ENOMEM;
		}
	}
	p->req = req;
	p->conn = conn;
	p->port = port;
	p->fa = fa;
	p->next = g.pending;
	if (g.pending)
		g.pending->prev = p;
	g.pending = p;
	evhttp_connection_set_closecb(conn, hold_conn_closed, NULL);
	if (delay_ms) {
		struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
		evtimer_add(p->ev, &tv);
	}
	return 0;
}

static void disconnect(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	/* libevent sees the socket fail and frees the connection */
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

/* Responses leave in several segments (headers, a large body, TLS records):
 * without TCP_NODELAY, Nagle meets the client's delayed ACK and each answer
 * stalls for 40 ms. evhttp offers no hook for accepted sockets, so set it on
 * the first request of every connection (cheap when repeated). */
static void set_nodelay(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct rf_port *port = arg;
	uint32_t delay_ms = 0;
	set_nodelay(req);
	enum sim_fault_action fa = sim_fault_check(port->dev, SIM_PROTO_REDFISH, &delay_ms);

	if (fa == SIM_FA_DROP) {
		/* no answer, ever */
		if (hold(req, port, fa, 0) < 0)
			disconnect(req);
		return;
	}
	if (fa == SIM_FA_DISCONNECT) {
		if (hold(req, port, fa, 0) == 0)
			disconnect(req);
		else
			reply_error(req, 500, "InternalError", "Out of memory.", SIM_FA_ANSWER);
		return;
	}
	if (delay_ms && hold(req, port, fa, delay_ms) == 0)
		return;
	handle(port, req, fa);
}

/* ---- TLS ---- */

/* A fresh P-256 key and a self-signed certificate for 127.0.0.1/localhost. */
static SSL_CTX *make_ssl_ctx(void)
{
	SSL_CTX *ctx = NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_EXTENSION *ext = NULL;
	if (!key || !x)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(time(NULL) & 0x7fffffff));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400L);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"wattrack-sim",
				   -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
	if (!ext || !X509_add_ext(x, ext, -1))
		goto out;
	if (!X509_sign(x, key, EVP_sha256()))
		goto out;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		goto out;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
out:
	X509_EXTENSION_free(ext);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static struct bufferevent *ssl_bev_cb(struct event_base *base, void *arg)
{
	SSL *ssl = SSL_new(arg);
	if (!ssl)
		return NULL;
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* ---- lifecycle ---- */

static int port_open(struct rf_port *p)
{
	p->http = evhttp_new(g.base);
	if (!p->http)
		return -ENOMEM;
	evhttp_set_allowed_methods(p->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						    EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE);
	evhttp_set_max_body_size(p->http, RF_MAX_BODY);
	evhttp_set_timeout(p->http, 120);
	evhttp_set_gencb(p->http, request_cb, p);
	if (p->tls)
		evhttp_set_bevcb(p->http, ssl_bev_cb, g.ssl);
	const char *addr = g.sim->bind_addr[0] ? g.sim->bind_addr : "127.0.0.1";
	if (!evhttp_bind_socket_with_handle(p->http, addr, p->port)) {
		int err = errno ? errno : EADDRINUSE;
		wt_error("sim redfish: cannot listen on %s:%u: %s", addr, p->port, strerror(err));
		return -err;
	}
	return 0;
}

int sim_redfish_start(struct sim *sim, struct event_base *base)
{
	size_t n = 0;
	bool tls = false;
	int rc = 0;

	if (g.sim)
		return -EALREADY;
	for (size_t i = 0; i < sim->n_devices; i++) {
		const struct sim_device *d = sim->devices[i];
		if (d->proto != SIM_PROTO_REDFISH)
			continue;
		n += (d->ep.http_port != 0) + (d->ep.https_port != 0);
		tls |= d->ep.https_port != 0;
	}
	if (!n)
		return 0;
	g.sim = sim;
	g.base = base;
	g.ports = calloc(n, sizeof(*g.ports));
	g.session_timeout_s = calloc(sim->n_devices, sizeof(*g.session_timeout_s));
	g.sessions = calloc(sim->n_devices, sizeof(*g.sessions));
	g.n_devices = sim->n_devices;
	if (!g.ports || !g.session_timeout_s || !g.sessions) {
		sim_redfish_stop();
		return -ENOMEM;
	}
	if (tls) {
		g.ssl = make_ssl_ctx();
		if (!g.ssl) {
			wt_error("sim redfish: cannot make the TLS certificate");
			sim_redfish_stop();
			return -EPROTO;
		}
	}
	/* A port that cannot be bound costs its device, not the whole fleet:
	 * the others keep being served and the first error is returned. */
	size_t failed = 0;
	for (size_t i = 0; i < sim->n_devices; i++) {
		struct sim_device *d = sim->devices[i];
		if (d->proto != SIM_PROTO_REDFISH)
			continue;
		for (int t = 0; t < 2; t++) {
			uint16_t port = t ? d->ep.https_port : d->ep.http_port;
			if (!port)
				continue;
			struct rf_port *p = &g.ports[g.n_ports];
			p->port = port;
			p->tls = t;
			p->dev = d;
			int err = port_open(p);
			if (err < 0) {
				wt_error("sim redfish: device %s is not served on port %u", d->name,
					 port);
				if (p->http)
					evhttp_free(p->http);
				memset(p, 0, sizeof(*p));
				failed++;
				if (!rc)
					rc = err;
				continue;
			}
			g.n_ports++;
		}
	}
	if (!g.n_ports) {
		sim_redfish_stop();
		return rc ? rc : -EADDRINUSE;
	}
	wt_info("sim redfish: %zu listeners, %zu failed", g.n_ports, failed);
	return rc;
}

void sim_redfish_stop(void)
{
	/* held requests still belong to their connections: evhttp_free frees them */
	while (g.pending) {
		evhttp_connection_set_closecb(g.pending->conn, NULL, NULL);
		hold_free(g.pending);
	}
	for (size_t i = 0; i < g.n_ports; i++)
		if (g.ports[i].http)
			evhttp_free(g.ports[i].http);
	for (size_t i = 0; g.sessions && i < g.n_devices; i++)
		while (g.sessions[i]) {
			struct rf_session *s = g.sessions[i];
			g.sessions[i] = s->next;
			free(s);
		}
	free(g.sessions);
	if (g.ssl)
		SSL_CTX_free(g.ssl);
	free(g.ports);
	free(g.session_timeout_s);
	memset(&g, 0, sizeof(g));
}
