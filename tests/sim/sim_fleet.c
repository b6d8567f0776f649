/* sim_fleet.c — demo, generated and JSON fleets of wattrack-sim. */
#include "sim_fleet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct v3_profile {
	const char *user;
	enum sim_auth_proto auth;
	enum sim_priv_proto priv;
};
/* The v3 users of generated fleets: one per auth/priv combination. */
static const struct v3_profile v3_profiles[] = {
	{"wt-md5-des", SIM_AUTH_MD5, SIM_PRIV_DES},
	{"wt-sha-aes", SIM_AUTH_SHA1, SIM_PRIV_AES128},
	{"wt-sha224-aes", SIM_AUTH_SHA224, SIM_PRIV_AES128},
	{"wt-sha256-aes", SIM_AUTH_SHA256, SIM_PRIV_AES128},
	{"wt-sha384-aes", SIM_AUTH_SHA384, SIM_PRIV_AES128},
	{"wt-sha512-aes", SIM_AUTH_SHA512, SIM_PRIV_AES128},
	{"wt-md5-auth", SIM_AUTH_MD5, SIM_PRIV_NONE},
	{"wt-sha-auth", SIM_AUTH_SHA1, SIM_PRIV_NONE},
	{"wt-sha256-des", SIM_AUTH_SHA256, SIM_PRIV_DES},
	{"wt-noauth", SIM_AUTH_NONE, SIM_PRIV_NONE},
};

static void set_v3(struct sim_device *d, unsigned k)
{
	const struct v3_profile *p = &v3_profiles[k % (sizeof(v3_profiles) / sizeof(v3_profiles[0]))];
	snprintf(d->creds.v3_user, sizeof(d->creds.v3_user), "%s", p->user);
	d->creds.v3_auth = p->auth;
	d->creds.v3_priv = p->priv;
	/* same user, same passwords everywhere: one engine, one user table */
	snprintf(d->creds.v3_auth_pass, sizeof(d->creds.v3_auth_pass), "auth-%s", p->user);
	snprintf(d->creds.v3_priv_pass, sizeof(d->creds.v3_priv_pass), "priv-%s", p->user);
}

static void place(struct sim_device *d, const char *room, unsigned row, unsigned rack, char feed,
		  unsigned u)
{
	snprintf(d->place.room, sizeof(d->place.room), "%s", room);
	snprintf(d->place.row, sizeof(d->place.row), "%s-R%u", room, row);
	snprintf(d->place.rack, sizeof(d->place.rack), "%s-R%u-K%02u", room, row, rack);
	d->place.feed = feed;
	d->place.u_position = (uint8_t)u;
}

static void set_http(struct sim_device *d)
{
	snprintf(d->creds.http_user, sizeof(d->creds.http_user), "admin");
	snprintf(d->creds.http_pass, sizeof(d->creds.http_pass), "pw-%s", d->name);
}

int sim_fleet_demo(struct sim *sim)
{
	static const char *const rooms[] = {"DC1-Hall-A", "DC1-Hall-B"};
	unsigned snmp_k = 0;
	for (unsigned r = 0; r < 2; r++) {
		for (unsigned row = 1; row <= 5; row++) {
			for (unsigned rack = 1; rack <= 9; rack++) {
				unsigned slot = (r * 45 + (row - 1) * 9 + rack - 1);
				for (unsigned f = 0; f < 2; f++) {
					enum sim_model m;
					enum sim_proto p = SIM_PROTO_SNMP;
					enum sim_wiring w = SIM_WIRING_1PH;
					unsigned units = 1, outlets = 0;
					switch (slot % 10) {
					case 0: case 1: case 2: m = SIM_MODEL_APC_RPDU2; break;
					case 3: case 4: m = SIM_MODEL_RARITAN_PX3; units = slot % 20 == 3 ? 2 : 1; break;
					case 5: m = SIM_MODEL_EATON_EPDU; w = SIM_WIRING_WYE; outlets = 30; break;
					case 6: m = SIM_MODEL_SENTRY4; w = SIM_WIRING_DELTA; outlets = 24; break;
					case 7: m = SIM_MODEL_EATON_EPDU; units = 2; outlets = 16; break;
					case 8: m = SIM_MODEL_MODBUS_PDU; p = SIM_PROTO_MODBUS; w = f ? SIM_WIRING_WYE : SIM_WIRING_1PH; break;
					default: m = SIM_MODEL_REDFISH_PDU; p = SIM_PROTO_REDFISH; w = SIM_WIRING_WYE; break;
					}
					struct sim_device *d = sim_add_device(sim, m, p, w, units, outlets);
					if (!d)
						return -ENOMEM;
					place(d, rooms[r], row, rack, f ? 'B' : 'A', 0);
					snprintf(d->name, sizeof(d->name), "pdu-%c%u-r%u-k%02u-%c", 'a' + r, 1, row, rack, f ? 'b' : 'a');
					if (p == SIM_PROTO_SNMP)
						set_v3(d, snmp_k++);
					else if (p == SIM_PROTO_REDFISH)
						set_http(d);
				}
			}
		}
		/* UPS row: three big three-phase UPS-MIB units, four APC Smart-UPS
		 * over SNMP, and over Modbus one APC, one Socomec, one Huawei. */
		for (unsigned i = 0; i < 10; i++) {
			enum sim_model m = i < 3 ? SIM_MODEL_UPS_MIB : i == 8 ? SIM_MODEL_SOCOMEC_UPS
					   : i == 9 ? SIM_MODEL_HUAWEI_UPS : SIM_MODEL_APC_UPS;
			enum sim_proto p = i >= 7 ? SIM_PROTO_MODBUS : SIM_PROTO_SNMP;
			struct sim_device *d = sim_add_device(sim, m, p, SIM_WIRING_1PH, 1, 0);
			if (!d)
				return -ENOMEM;
			place(d, rooms[r], 0, i + 1, i % 2 ? 'B' : 'A', 1);
			snprintf(d->place.row, sizeof(d->place.row), "%s-UPS", rooms[r]);
			snprintf(d->name, sizeof(d->name), "ups-%c-%02u", 'a' + r, i + 1);
			if (p == SIM_PROTO_SNMP)
				set_v3(d, snmp_k++);
		}
	}
	return 0;
}

static int parse_uint(const char *s, size_t len, unsigned *out)
{
	unsigned v = 0;
	if (!len || len > 7)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int sim_fleet_generate(struct sim *sim, const char *spec, const char **err)
{
	unsigned pdus = 0, ups = 0, modbus = 0, redfish = 0, outlets = 24, units = 1;
	const char *p = spec;
	while (*p) {
		const char *eq = strchr(p, '=');
		const char *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		if (!eq || eq > end) {
			*err = "expected key=value";
			return -EINVAL;
		}
		size_t kl = (size_t)(eq - p);
		unsigned v;
		if (parse_uint(eq + 1, (size_t)(end - eq - 1), &v) < 0) {
			*err = "expected a number";
			return -EINVAL;
		}
		if (kl == 4 && !strncmp(p, "pdus", 4)) pdus = v;
		else if (kl == 3 && !strncmp(p, "ups", 3)) ups = v;
		else if (kl == 6 && !strncmp(p, "modbus", 6)) modbus = v;
		else if (kl == 7 && !strncmp(p, "redfish", 7)) redfish = v;
		else if (kl == 7 && !strncmp(p, "outlets", 7)) outlets = v;
		else if (kl == 5 && !strncmp(p, "units", 5)) units = v;
		else {
			*err = "unknown key (pdus, ups, modbus, redfish, outlets, units)";
			return -EINVAL;
		}
		p = *end ? end + 1 : end;
	}
	if (outlets < 1 || outlets > SIM_MAX_OUTLETS || units < 1 || units > SIM_MAX_UNITS) {
		*err = "outlets must be 1..48 and units 1..4";
		return -EINVAL;
	}
	static const enum sim_model pdu_models[] = {SIM_MODEL_APC_RPDU2, SIM_MODEL_RARITAN_PX3,
						    SIM_MODEL_EATON_EPDU, SIM_MODEL_SENTRY4};
	static const enum sim_wiring wirings[] = {SIM_WIRING_1PH, SIM_WIRING_1PH, SIM_WIRING_WYE,
						  SIM_WIRING_DELTA};
	unsigned k = 0, rack = 0;
	for (unsigned i = 0; i < pdus; i++) {
		struct sim_device *d = sim_add_device(sim, pdu_models[i % 4], SIM_PROTO_SNMP,
						      wirings[i % 4], units, outlets);
		if (!d)
			return -ENOMEM;
		rack = i / 2;
		place(d, rack / 400 % 2 ? "Hall-B" : "Hall-A", rack / 20 % 20 + 1, rack % 20 + 1,
		      i % 2 ? 'B' : 'A', 0);
		set_v3(d, k++);
	}
	for (unsigned i = 0; i < ups; i++) {
		struct sim_device *d = sim_add_device(sim, i % 2 ? SIM_MODEL_APC_UPS : SIM_MODEL_UPS_MIB,
						      SIM_PROTO_SNMP, SIM_WIRING_1PH, 1, 0);
		if (!d)
			return -ENOMEM;
		place(d, "Hall-A", 0, i + 1, i % 2 ? 'B' : 'A', 1);
		set_v3(d, k++);
	}
	for (unsigned i = 0; i < modbus; i++) {
		struct sim_device *d = sim_add_device(sim, i % 4 == 3 ? SIM_MODEL_APC_UPS : SIM_MODEL_MODBUS_PDU,
						      SIM_PROTO_MODBUS, i % 2 ? SIM_WIRING_WYE : SIM_WIRING_1PH, 1, outlets > 24 ? 24 : outlets);
		if (!d)
			return -ENOMEM;
		place(d, "Hall-A", 30, i + 1, i % 2 ? 'B' : 'A', 0);
	}
	for (unsigned i = 0; i < redfish; i++) {
		struct sim_device *d = sim_add_device(sim, SIM_MODEL_REDFISH_PDU, SIM_PROTO_REDFISH,
						      SIM_WIRING_WYE, 1, outlets);
		if (!d)
			return -ENOMEM;
		place(d, "Hall-A", 31, i + 1, i % 2 ? 'B' : 'A', 0);
		set_http(d);
	}
	return 0;
}

/* Probe sockets stay open until every port is assigned, so the kernel
 * cannot hand the same port out twice. */
struct probes {
	int *fd;
	size_t n, cap;
};

/* Probes a free TCP port on addr by binding to port 0; the socket is kept in pr. */
static int free_tcp_port(struct probes *pr, const char *addr, uint16_t *port)
{
	if (pr->n == pr->cap) {
		size_t nc = pr->cap ? pr->cap * 2 : 64;
		int *nf = realloc(pr->fd, nc * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		pr->fd = nf;
		pr->cap = nc;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		close(fd);
		return -EINVAL;
	}
	socklen_t sl = sizeof(sa);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	*port = ntohs(sa.sin_port);
	pr->fd[pr->n++] = fd;
	return 0;
}

int sim_fleet_assign_ports(struct sim *sim)
{
	struct probes pr = {0};
	uint16_t mport = 0;
	unsigned on_port = 0;
	int rc = 0;
	for (size_t i = 0; i < sim->n_devices && rc == 0; i++) {
		struct sim_device *d = sim->devices[i];
		if (d->proto == SIM_PROTO_MODBUS && !d->ep.modbus_port) {
			if (!mport || on_port == 8) {
				if ((rc = free_tcp_port(&pr, sim->bind_addr, &mport)) < 0)
					break;
				on_port = 0;
			}
			d->ep.modbus_port = mport;
			d->ep.modbus_unit = (uint8_t)(1 + on_port * SIM_MAX_UNITS);
			on_port++;
		} else if (d->proto == SIM_PROTO_REDFISH && !d->ep.http_port) {
			if ((rc = free_tcp_port(&pr, sim->bind_addr, &d->ep.http_port)) < 0 ||
			    (rc = free_tcp_port(&pr, sim->bind_addr, &d->ep.https_port)) < 0)
				break;
		}
	}
	for (size_t i = 0; i < pr.n; i++)
		close(pr.fd[i]);
	free(pr.fd);
	return rc;
}

static const char *const auth_names[] = {"none", "md5", "sha", "sha224", "sha256", "sha384", "sha512"};
static const char *const priv_names[] = {"none", "des", "aes"};

static int name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

static void copy_str(char *dst, size_t cap, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (s)
		snprintf(dst, cap, "%s", s);
}

static int load_device(struct sim *sim, json_t *jd, const char **err)
{
	const char *model = json_string_value(json_object_get(jd, "model"));
	const char *proto = json_string_value(json_object_get(jd, "protocol"));
	const char *wiring = json_string_value(json_object_get(jd, "wiring"));
	int m = model ? sim_model_by_name(model) : -1;
	int p = proto ? sim_proto_by_name(proto) : SIM_PROTO_SNMP;
	int w = wiring ? sim_wiring_by_name(wiring) : SIM_WIRING_1PH;
	if (m < 0 || p < 0 || w < 0) {
		*err = "device needs a known model, protocol and wiring";
		return -EINVAL;
	}
	json_int_t units = json_integer_value(json_object_get(jd, "units"));
	json_int_t outlets = json_integer_value(json_object_get(jd, "outlets"));
	if (units < 0 || units > SIM_MAX_UNITS || outlets < 0 || outlets > SIM_MAX_OUTLETS) {
		*err = "units must be 0..4 and outlets 0..48";
		return -EINVAL;
	}
	struct sim_device *d = sim_add_device(sim, (enum sim_model)m, (enum sim_proto)p,
					      (enum sim_wiring)w, (unsigned)units, (unsigned)outlets);
	if (!d)
		return -ENOMEM;
	copy_str(d->name, sizeof(d->name), jd, "name");
	copy_str(d->serial, sizeof(d->serial), jd, "serial");
	copy_str(d->firmware, sizeof(d->firmware), jd, "firmware");
	json_t *pl = json_object_get(jd, "placement");
	if (pl) {
		copy_str(d->place.room, sizeof(d->place.room), pl, "room");
		copy_str(d->place.row, sizeof(d->place.row), pl, "row");
		copy_str(d->place.rack, sizeof(d->place.rack), pl, "rack");
		const char *feed = json_string_value(json_object_get(pl, "feed"));
		d->place.feed = feed && feed[0] >= 'A' && feed[0] <= 'D' ? feed[0] : 0;
		d->place.u_position = (uint8_t)json_integer_value(json_object_get(pl, "u"));
	}
	json_t *sn = json_object_get(jd, "snmp");
	if (sn) {
		copy_str(d->creds.community_ro, sizeof(d->creds.community_ro), sn, "community");
		copy_str(d->creds.community_rw, sizeof(d->creds.community_rw), sn, "write_community");
		copy_str(d->creds.v3_context, sizeof(d->creds.v3_context), sn, "context");
		json_t *v3 = json_object_get(sn, "v3");
		if (v3) {
			copy_str(d->creds.v3_user, sizeof(d->creds.v3_user), v3, "user");
			copy_str(d->creds.v3_auth_pass, sizeof(d->creds.v3_auth_pass), v3, "auth_pass");
			copy_str(d->creds.v3_priv_pass, sizeof(d->creds.v3_priv_pass), v3, "priv_pass");
			const char *a = json_string_value(json_object_get(v3, "auth"));
			const char *pr = json_string_value(json_object_get(v3, "priv"));
			int ai = a ? name_index(auth_names, 7, a) : 0;
			int pi = pr ? name_index(priv_names, 3, pr) : 0;
			if (ai < 0 || pi < 0) {
				*err = "v3 auth must be none/md5/sha/sha224/sha256/sha384/sha512, priv none/des/aes";
				return -EINVAL;
			}
			d->creds.v3_auth = (enum sim_auth_proto)ai;
			d->creds.v3_priv = (enum sim_priv_proto)pi;
		}
	}
	json_t *mb = json_object_get(jd, "modbus");
	if (mb) {
		d->ep.modbus_port = (uint16_t)json_integer_value(json_object_get(mb, "port"));
		d->ep.modbus_unit = (uint8_t)json_integer_value(json_object_get(mb, "unit"));
	}
	json_t *hp = json_object_get(jd, "http");
	if (hp) {
		d->ep.http_port = (uint16_t)json_integer_value(json_object_get(hp, "port"));
		d->ep.https_port = (uint16_t)json_integer_value(json_object_get(hp, "https_port"));
		copy_str(d->creds.http_user, sizeof(d->creds.http_user), hp, "user");
		copy_str(d->creds.http_pass, sizeof(d->creds.http_pass), hp, "password");
	} else if (p == SIM_PROTO_REDFISH) {
		set_http(d);
	}
	/* "switched": false makes a metered-only PDU: SETs are refused */
	json_t *sw = json_object_get(jd, "switched");
	if (json_is_boolean(sw) && d->kind == SIM_KIND_PDU)
		for (unsigned u = 0; u < d->pdu.n_units; u++)
			for (unsigned o = 0; o < d->pdu.units[u].n_outlets; o++)
				d->pdu.units[u].outlets[o].switchable = json_is_true(sw);
	json_t *seed = json_object_get(jd, "seed");
	if (json_is_integer(seed))
		d->seed = (uint64_t)json_integer_value(seed);
	return 0;
}

int sim_fleet_load(struct sim *sim, const char *path, const char **err)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	static char msg[256];
	if (!root) {
		snprintf(msg, sizeof(msg), "%s:%d: %s", path, je.line, je.text);
		*err = msg;
		return -EINVAL;
	}
	json_t *devs = json_object_get(root, "devices");
	if (!json_is_array(devs)) {
		json_decref(root);
		*err = "fleet needs a \"devices\" array";
		return -EINVAL;
	}
	size_t i;
	json_t *jd;
	int rc = 0;
	json_array_foreach(devs, i, jd) {
		if ((rc = load_device(sim, jd, err)) < 0)
			break;
	}
	json_decref(root);
	return rc;
}

int sim_fleet_write(const struct sim *sim, const char *path)
{
	json_t *root = json_object();
	json_t *devs = json_array();
	if (!root || !devs) {
		json_decref(root);
		json_decref(devs);
		return -ENOMEM;
	}
	json_object_set_new(root, "bind", json_string(sim->bind_addr));
	json_object_set_new(root, "snmp_port", json_integer(sim->snmp_port));
	json_object_set_new(root, "snmp_port_base", json_integer(sim->snmp_port_base));
	json_object_set_new(root, "control_port", json_integer(sim->control_port));
	for (size_t i = 0; i < sim->n_devices; i++) {
		const struct sim_device *d = sim->devices[i];
		char feed[2] = {d->place.feed, 0};
		json_t *jd = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:{s:s, s:s, s:s, s:s, s:i}}",
				       "id", (int)d->id, "name", d->name,
				       "kind", d->kind == SIM_KIND_PDU ? "pdu" : "ups",
				       "model", sim_model_name(d->model), "protocol", sim_proto_name(d->proto),
				       "wiring", d->kind == SIM_KIND_PDU ? sim_wiring_name(d->pdu.wiring) : (d->ups.n_lines == 3 ? "wye" : "1ph"),
				       "serial", d->serial, "firmware", d->firmware, "seed", (json_int_t)d->seed,
				       "placement", "room", d->place.room, "row", d->place.row, "rack", d->place.rack,
				       "feed", feed, "u", (int)d->place.u_position);
		if (!jd)
			continue;
		if (d->kind == SIM_KIND_PDU) {
			json_object_set_new(jd, "units", json_integer(d->pdu.n_units));
			json_object_set_new(jd, "outlets", json_integer(d->pdu.units[0].n_outlets));
			json_object_set_new(jd, "switched", json_boolean(d->pdu.units[0].outlets[0].switchable));
		}
		if (d->proto == SIM_PROTO_SNMP) {
			json_t *sn = json_pack("{s:i, s:s, s:s, s:s}", "port", (int)d->ep.snmp_port,
					       "community", d->creds.community_ro, "write_community",
					       d->creds.community_rw, "context", d->creds.v3_context);
			if (sn && d->creds.community_site[0])
				json_object_set_new(sn, "site_community",
						    json_string(d->creds.community_site));
			if (sn && d->creds.v3_user[0])
				json_object_set_new(sn, "v3", json_pack("{s:s, s:s, s:s, s:s, s:s}",
					"user", d->creds.v3_user, "auth", auth_names[d->creds.v3_auth],
					"auth_pass", d->creds.v3_auth_pass, "priv", priv_names[d->creds.v3_priv],
					"priv_pass", d->creds.v3_priv_pass));
			json_object_set_new(jd, "snmp", sn);
		} else if (d->proto == SIM_PROTO_MODBUS) {
			json_object_set_new(jd, "modbus", json_pack("{s:i, s:i}", "port", (int)d->ep.modbus_port,
								   "unit", (int)d->ep.modbus_unit));
		} else {
			json_object_set_new(jd, "http", json_pack("{s:i, s:i, s:s, s:s}", "port",
				(int)d->ep.http_port, "https_port", (int)d->ep.https_port, "user",
				d->creds.http_user, "password", d->creds.http_pass));
		}
		json_array_append_new(devs, jd);
	}
	json_object_set_new(root, "devices", devs);
	int rc = json_dump_file(root, path, JSON_INDENT(1)) == 0 ? 0 : -EIO;
	json_decref(root);
	return rc;
}
