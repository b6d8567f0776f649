/* sim.c — fleet lifecycle, device defaults, lookups and names of wattrack-sim. */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Open-addressing string -> device map; keys point into the devices. */
struct smap {
	size_t cap; /* power of two */
	const char **keys;
	struct sim_device **vals;
};

struct sim_index {
	struct smap community; /* ro and rw communities, value tagged via rw_flag */
	struct smap context;
	struct smap name;
	size_t n_modbus;
	struct sim_device **modbus; /* sorted by (port, unit) */
	size_t n_http;
	struct sim_device **http;   /* Redfish devices */
};

static uint64_t fnv1a(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int smap_init(struct smap *m, size_t n)
{
	size_t cap = 16;
	while (cap < n * 2 + 1)
		cap <<= 1;
	m->cap = cap;
	m->keys = calloc(cap, sizeof(*m->keys));
	m->vals = calloc(cap, sizeof(*m->vals));
	return m->keys && m->vals ? 0 : -ENOMEM;
}

static void smap_free(struct smap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* Adds key; a duplicate keeps the first device (fleets should not repeat keys). */
static void smap_put(struct smap *m, const char *key, struct sim_device *d)
{
	if (!key[0])
		return;
	size_t i = fnv1a(key, strlen(key)) & (m->cap - 1);
	while (m->keys[i]) {
		if (strcmp(m->keys[i], key) == 0)
			return;
		i = (i + 1) & (m->cap - 1);
	}
	m->keys[i] = key;
	m->vals[i] = d;
}

static struct sim_device *smap_get(const struct smap *m, const char *key, size_t len)
{
	if (!m->cap || !len)
		return NULL;
	size_t i = fnv1a(key, len) & (m->cap - 1);
	while (m->keys[i]) {
		if (strncmp(m->keys[i], key, len) == 0 && m->keys[i][len] == '\0')
			return m->vals[i];
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

static void index_free(struct sim_index *ix)
{
	if (!ix)
		return;
	smap_free(&ix->community);
	smap_free(&ix->context);
	smap_free(&ix->name);
	free(ix->modbus);
	free(ix->http);
	free(ix);
}

struct sim *sim_new(void)
{
	struct sim *sim = calloc(1, sizeof(*sim));
	if (!sim)
		return NULL;
	snprintf(sim->bind_addr, sizeof(sim->bind_addr), "127.0.0.1");
	sim->time_scale = 1.0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	sim->start_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return sim;
}

static void device_free(struct sim_device *d)
{
	if (!d)
		return;
	if (d->kind == SIM_KIND_PDU)
		for (unsigned u = 0; u < d->pdu.n_units; u++)
			free(d->pdu.units[u].outlets);
	free(d);
}

void sim_free(struct sim *sim)
{
	if (!sim)
		return;
	for (size_t i = 0; i < sim->n_devices; i++)
		device_free(sim->devices[i]);
	free(sim->devices);
	index_free(sim->index);
	free(sim);
}

int64_t sim_now_ms(const struct sim *sim)
{
	if (sim->now_fn)
		return sim->now_fn(sim->now_ctx);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t real = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (sim->time_scale == 1.0)
		return real;
	return sim->start_ms + (int64_t)((double)(real - sim->start_ms) * sim->time_scale);
}

/* splitmix64: the per-device deterministic generator. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static double urand(uint64_t *s)
{
	*s = mix64(*s);
	return (double)(*s >> 11) / 9007199254740992.0;
}

static const struct {
	const char *name;
	enum sim_kind kind;
	unsigned outlets;  /* default outlets per unit */
	unsigned branches; /* default breakers per unit (1ph) */
	const char *prefix;
} model_info[SIM_MODEL__COUNT] = {
	[SIM_MODEL_APC_RPDU2] = {"apc-rpdu2", SIM_KIND_PDU, 24, 2, "AP"},
	[SIM_MODEL_RARITAN_PX3] = {"raritan-px3", SIM_KIND_PDU, 24, 2, "RX"},
	[SIM_MODEL_EATON_EPDU] = {"eaton-epdu", SIM_KIND_PDU, 24, 2, "EA"},
	[SIM_MODEL_SENTRY4] = {"sentry4", SIM_KIND_PDU, 16, 2, "ST"},
	[SIM_MODEL_UPS_MIB] = {"ups-mib", SIM_KIND_UPS, 0, 0, "UM"},
	[SIM_MODEL_APC_UPS] = {"apc-ups", SIM_KIND_UPS, 0, 0, "AS"},
	[SIM_MODEL_MODBUS_PDU] = {"modbus-pdu", SIM_KIND_PDU, 16, 2, "MB"},
	[SIM_MODEL_REDFISH_PDU] = {"redfish-pdu", SIM_KIND_PDU, 24, 2, "RF"},
	[SIM_MODEL_SOCOMEC_UPS] = {"socomec-ups", SIM_KIND_UPS, 0, 0, "SC"},
	[SIM_MODEL_HUAWEI_UPS] = {"huawei-ups2000", SIM_KIND_UPS, 0, 0, "HW"},
	[SIM_MODEL_TRIPPLITE_ATS] = {"tripplite-ats", SIM_KIND_PDU, 16, 2, "TL"},
};

const char *sim_model_name(enum sim_model m)
{
	return (unsigned)m < SIM_MODEL__COUNT ? model_info[m].name : "?";
}

int sim_model_by_name(const char *s)
{
	for (int i = 0; i < SIM_MODEL__COUNT; i++)
		if (strcmp(s, model_info[i].name) == 0)
			return i;
	return -1;
}

enum sim_kind sim_model_kind(enum sim_model m)
{
	return (unsigned)m < SIM_MODEL__COUNT ? model_info[m].kind : SIM_KIND_PDU;
}

static const char *const proto_names[SIM_PROTO__COUNT] = {"snmp", "modbus", "redfish"};
const char *sim_proto_name(enum sim_proto p)
{
	return (unsigned)p < SIM_PROTO__COUNT ? proto_names[p] : "?";
}
int sim_proto_by_name(const char *s)
{
	for (int i = 0; i < SIM_PROTO__COUNT; i++)
		if (strcmp(s, proto_names[i]) == 0)
			return i;
	return -1;
}

static const char *const wiring_names[] = {"1ph", "wye", "delta"};
const char *sim_wiring_name(enum sim_wiring w)
{
	return (unsigned)w <= SIM_WIRING_DELTA ? wiring_names[w] : "?";
}
int sim_wiring_by_name(const char *s)
{
	for (int i = 0; i <= SIM_WIRING_DELTA; i++)
		if (strcmp(s, wiring_names[i]) == 0)
			return i;
	return -1;
}

/* Lays out one PDU unit: outlets spread round-robin over lines, branches
 * split evenly per line, loads drawn from the device seed. */
static int pdu_unit_init(struct sim_device *d, struct sim_pdu_unit *u, unsigned unit_no,
			 unsigned n_lines, unsigned n_outlets, uint64_t *rs)
{
	u->n_lines = (uint8_t)n_lines;
	u->n_outlets = (uint8_t)n_outlets;
	u->outlets = calloc(n_outlets, sizeof(*u->outlets));
	if (!u->outlets)
		return -ENOMEM;
	u->rating_a = n_lines == 3 ? 16.0f : 32.0f;
	/* two 16 A breakers per line, like the banks of the recorded PDUs */
	const unsigned per_line = 2;
	u->n_branches = (uint8_t)(n_lines * per_line);
	for (unsigned b = 0; b < u->n_branches; b++) {
		struct sim_branch *br = &u->branches[b];
		br->line = (uint8_t)(b / per_line);
		br->rating_a = 16.0f;
		snprintf(br->name, sizeof(br->name), "%c%u", 'A' + b / per_line, b % per_line + 1);
	}
	for (unsigned l = 0; l < n_lines; l++)
		u->lines[l].rating_a = u->rating_a;
	for (unsigned o = 0; o < n_outlets; o++) {
		struct sim_outlet *ol = &u->outlets[o];
		/* consecutive blocks per branch, like real PDUs' outlet banks */
		unsigned b = (unsigned)((uint64_t)o * u->n_branches / n_outlets);
		ol->branch = (uint8_t)b;
		ol->line = u->branches[b].line;
		ol->switchable = true; /* a fleet file may make a PDU metered-only */
		ol->metered = true;
		ol->on = true;
		snprintf(ol->name, sizeof(ol->name), "Outlet %u-%u", unit_no + 1, o + 1);
		double r = urand(rs);
		/* roughly a third of outlets carry a server, some idle, some empty */
		ol->load.base_w = (float)(r < 0.15 ? 0.0 : 60.0 + 240.0 * urand(rs));
		ol->load.noise_w = (float)(ol->load.base_w * 0.03);
		ol->load.cycle_w = (float)(ol->load.base_w * 0.15);
		ol->load.cycle_phase = (float)(urand(rs) * 6.283185307179586);
		ol->load.pf = (float)(0.90 + 0.09 * urand(rs));
	}
	u->n_sensors = 2;
	u->sensors[0].kind = SIM_SENSOR_TEMPERATURE;
	u->sensors[0].base = (float)(22.0 + 4.0 * urand(rs));
	snprintf(u->sensors[0].name, sizeof(u->sensors[0].name), "Temperature %u", unit_no + 1);
	u->sensors[1].kind = SIM_SENSOR_HUMIDITY;
	u->sensors[1].base = (float)(35.0 + 15.0 * urand(rs));
	snprintf(u->sensors[1].name, sizeof(u->sensors[1].name), "Humidity %u", unit_no + 1);
	return 0;
}

struct sim_device *sim_add_device(struct sim *sim, enum sim_model model, enum sim_proto proto,
				  enum sim_wiring wiring, unsigned n_units, unsigned n_outlets)
{
	if ((unsigned)model >= SIM_MODEL__COUNT || (unsigned)proto >= SIM_PROTO__COUNT)
		return NULL;
	struct sim_device **nd = realloc(sim->devices, (sim->n_devices + 1) * sizeof(*nd));
	if (!nd)
		return NULL;
	sim->devices = nd;
	struct sim_device *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->id = (uint32_t)sim->n_devices;
	d->kind = model_info[model].kind;
	d->model = model;
	d->proto = proto;
	d->seed = mix64(0x5157ull * (d->id + 1));
	uint64_t rs = d->seed;
	snprintf(d->name, sizeof(d->name), "%s-%05u", d->kind == SIM_KIND_PDU ? "pdu" : "ups",
		 d->id);
	snprintf(d->serial, sizeof(d->serial), "%s%02u%08llX", model_info[model].prefix,
		 (unsigned)(d->id % 100), (unsigned long long)(d->seed & 0xffffffffull));
	snprintf(d->firmware, sizeof(d->firmware), "%u.%u.%u", 6 + (unsigned)(d->seed % 3),
		 (unsigned)((d->seed >> 8) % 10), (unsigned)((d->seed >> 16) % 10));
	snprintf(d->mac, sizeof(d->mac), "00:C0:B7:%02X:%02X:%02X", (d->id >> 16) & 0xff,
		 (d->id >> 8) & 0xff, d->id & 0xff);
	d->boot_ms = sim->start_ms - (int64_t)(urand(&rs) * 30.0 * 86400000.0);
	d->boots = 1;
	d->reboot_s = 5;
	d->ep.snmp_port = sim->snmp_port;
	snprintf(d->creds.community_ro, sizeof(d->creds.community_ro), "public-%u", d->id);
	snprintf(d->creds.community_rw, sizeof(d->creds.community_rw), "private-%u", d->id);
	snprintf(d->creds.v3_context, sizeof(d->creds.v3_context), "dev-%u", d->id);
	d->updated_ms = 0;
	if (d->kind == SIM_KIND_PDU) {
		if (n_units < 1)
			n_units = 1;
		if (n_units > SIM_MAX_UNITS)
			n_units = SIM_MAX_UNITS;
		if (!n_outlets)
			n_outlets = model_info[model].outlets;
		if (n_outlets > SIM_MAX_OUTLETS)
			n_outlets = SIM_MAX_OUTLETS;
		d->pdu.wiring = wiring;
		d->pdu.nominal_v = wiring == SIM_WIRING_DELTA ? 208.0f : 230.0f;
		d->pdu.n_units = (uint8_t)n_units;
		unsigned lines = wiring == SIM_WIRING_1PH ? 1 : 3;
		for (unsigned u = 0; u < n_units; u++)
			if (pdu_unit_init(d, &d->pdu.units[u], u, lines, n_outlets, &rs) < 0) {
				device_free(d);
				return NULL;
			}
	} else {
		struct sim_ups *up = &d->ups;
		bool big = model == SIM_MODEL_UPS_MIB || model == SIM_MODEL_SOCOMEC_UPS;
		up->n_lines = big ? 3 : 1;
		up->nominal_v = 230.0f;
		up->rating_va = model == SIM_MODEL_UPS_MIB ? 80000.0f : big ? 60000.0f
				: model == SIM_MODEL_HUAWEI_UPS ? 3000.0f : 750.0f;
		up->rating_w = model == SIM_MODEL_APC_UPS ? 500.0f : up->rating_va * 0.9f;
		up->battery_nominal_v = big ? 480.0f : model == SIM_MODEL_HUAWEI_UPS ? 72.0f : 24.0f;
		/* about 15 min at 50 % load */
		up->battery_capacity_wh = (float)(up->rating_w * 0.5 * 0.25);
		up->low_battery_pct = 25.0f;
		up->load.base_w = (float)(up->rating_w * (0.30 + 0.3 * urand(&rs)));
		up->load.noise_w = up->load.base_w * 0.02f;
		up->load.cycle_w = up->load.base_w * 0.1f;
		up->load.cycle_phase = (float)(urand(&rs) * 6.283185307179586);
		up->load.pf = 0.95f;
		up->battery_charge_pct = 100.0;
	}
	sim->devices[sim->n_devices++] = d;
	return d;
}

static int cmp_modbus(const void *a, const void *b)
{
	const struct sim_device *x = *(struct sim_device *const *)a;
	const struct sim_device *y = *(struct sim_device *const *)b;
	if (x->ep.modbus_port != y->ep.modbus_port)
		return x->ep.modbus_port < y->ep.modbus_port ? -1 : 1;
	return (int)x->ep.modbus_unit - (int)y->ep.modbus_unit;
}

int sim_reindex(struct sim *sim)
{
	struct sim_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	size_t n = sim->n_devices;
	if (smap_init(&ix->community, n * 2) < 0 || smap_init(&ix->context, n) < 0 ||
	    smap_init(&ix->name, n) < 0)
		goto nomem;
	ix->modbus = calloc(n + 1, sizeof(*ix->modbus));
	ix->http = calloc(n + 1, sizeof(*ix->http));
	if (!ix->modbus || !ix->http)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		struct sim_device *d = sim->devices[i];
		smap_put(&ix->name, d->name, d);
		if (d->proto == SIM_PROTO_SNMP) {
			smap_put(&ix->community, d->creds.community_ro, d);
			smap_put(&ix->community, d->creds.community_rw, d);
			smap_put(&ix->context, d->creds.v3_context, d);
		} else if (d->proto == SIM_PROTO_MODBUS) {
			ix->modbus[ix->n_modbus++] = d;
		} else {
			ix->http[ix->n_http++] = d;
		}
	}
	qsort(ix->modbus, ix->n_modbus, sizeof(*ix->modbus), cmp_modbus);
	index_free(sim->index);
	sim->index = ix;
	return 0;
nomem:
	index_free(ix);
	return -ENOMEM;
}

struct sim_device *sim_find_id(const struct sim *sim, uint32_t id)
{
	return id < sim->n_devices ? sim->devices[id] : NULL;
}

struct sim_device *sim_find_name(const struct sim *sim, const char *name)
{
	return sim->index ? smap_get(&sim->index->name, name, strlen(name)) : NULL;
}

struct sim_device *sim_find_community(const struct sim *sim, const char *c, size_t len, bool *rw)
{
	if (!sim->index)
		return NULL;
	struct sim_device *d = smap_get(&sim->index->community, c, len);
	if (d && rw)
		*rw = strlen(d->creds.community_rw) == len &&
		      memcmp(d->creds.community_rw, c, len) == 0;
	return d;
}

struct sim_device *sim_find_context(const struct sim *sim, const char *ctx, size_t len)
{
	return sim->index ? smap_get(&sim->index->context, ctx, len) : NULL;
}

struct sim_device *sim_find_snmp_port(const struct sim *sim, uint16_t port)
{
	if (!sim->snmp_port_base || port < sim->snmp_port_base)
		return NULL;
	struct sim_device *d = sim_find_id(sim, (uint32_t)(port - sim->snmp_port_base));
	return d && d->proto == SIM_PROTO_SNMP ? d : NULL;
}

struct sim_device *sim_find_modbus(const struct sim *sim, uint16_t port, uint8_t unit)
{
	if (!sim->index)
		return NULL;
	size_t lo = 0, hi = sim->index->n_modbus;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		struct sim_device *d = sim->index->modbus[mid];
		if (d->ep.modbus_port < port || (d->ep.modbus_port == port && d->ep.modbus_unit < unit))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < sim->index->n_modbus) {
		struct sim_device *d = sim->index->modbus[lo];
		if (d->ep.modbus_port == port && d->ep.modbus_unit == unit)
			return d;
	}
	return NULL;
}

struct sim_device *sim_find_http_port(const struct sim *sim, uint16_t port)
{
	if (!sim->index || !port)
		return NULL;
	for (size_t i = 0; i < sim->index->n_http; i++) {
		struct sim_device *d = sim->index->http[i];
		if (d->ep.http_port == port || d->ep.https_port == port)
			return d;
	}
	return NULL;
}
