/* sim_control.c — HTTP/JSON control API of wattrack-sim (evhttp). */
#include "sim_control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "sim.h"
#include "sim_json.h"
#include "sim_snmp.h"

static struct evhttp *http;
static struct sim *csim;

static void reply_json(struct evhttp_request *req, int status, json_t *j)
{
	struct evbuffer *b = evbuffer_new();
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (b && s)
		evbuffer_add(b, s, strlen(s));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", b);
	free(s);
	json_decref(j);
	if (b)
		evbuffer_free(b);
}

/* Every error leaves through here: {"error":{"code","message"}}. */
static void reply_error(struct evhttp_request *req, int status, const char *code, const char *msg)
{
	reply_json(req, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

static json_t *read_body(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	if (len == 0)
		return json_object();
	if (len > 65536)
		return NULL;
	char *buf = malloc(len + 1);
	if (!buf)
		return NULL;
	evbuffer_remove(in, buf, len);
	buf[len] = 0;
	json_t *j = json_loads(buf, 0, NULL);
	free(buf);
	return j;
}

static struct sim_device *lookup(const char *seg, size_t len)
{
	char name[SIM_NAME_MAX];
	if (len == 0 || len >= sizeof(name))
		return NULL;
	memcpy(name, seg, len);
	name[len] = 0;
	char *end;
	unsigned long id = strtoul(name, &end, 10);
	if (*end == 0)
		return sim_find_id(csim, (uint32_t)id);
	return sim_find_name(csim, name);
}

static bool parse_idx(const char **p, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(*p, &end, 10);
	if (end == *p || v == 0 || v > 255)
		return false;
	*out = (unsigned)v - 1;
	*p = *end == '/' ? end + 1 : end;
	return true;
}

static void stats(struct evhttp_request *req)
{
	struct sim_snmp_stats st;
	sim_snmp_get_stats(&st);
	reply_json(req, 200, json_pack("{s:I, s:i, s:i, s:{s:I, s:I, s:I, s:I, s:I}}", "devices",
				       (json_int_t)csim->n_devices, "snmp_port", (int)csim->snmp_port,
				       "control_port", (int)csim->control_port, "snmp", "requests",
				       (json_int_t)st.requests, "responses", (json_int_t)st.responses,
				       "varbinds", (json_int_t)st.varbinds, "dropped",
				       (json_int_t)st.dropped, "reports", (json_int_t)st.reports));
}

static void list_devices(struct evhttp_request *req)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < csim->n_devices; i++) {
		const struct sim_device *d = csim->devices[i];
		json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:s, s:s}", "id", (int)d->id, "name",
						   d->name, "kind", d->kind == SIM_KIND_PDU ? "pdu" : "ups",
						   "model", sim_model_name(d->model), "protocol",
						   sim_proto_name(d->proto)));
	}
	reply_json(req, 200, json_pack("{s:o}", "devices", a));
}

static void device_action(struct evhttp_request *req, struct sim_device *d, const char *rest,
			  enum evhttp_cmd_type cmd)
{
	int64_t now = sim_now_ms(csim);
	if (*rest == 0) {
		if (cmd != EVHTTP_REQ_GET)
			return reply_error(req, 405, "METHOD_NOT_ALLOWED", "GET only");
		json_t *j = sim_device_json(d, now);
		return j ? reply_json(req, 200, j) : reply_error(req, 500, "INTERNAL", "out of memory");
	}
	if (cmd == EVHTTP_REQ_DELETE && strcmp(rest, "faults") == 0) {
		memset(&d->faults, 0, sizeof(d->faults));
		return reply_json(req, 200, sim_faults_json(&d->faults));
	}
	if (cmd != EVHTTP_REQ_POST && cmd != EVHTTP_REQ_PUT)
		return reply_error(req, 405, "METHOD_NOT_ALLOWED", "POST expected");
	json_t *body = read_body(req);
	if (!json_is_object(body)) {
		json_decref(body);
		return reply_error(req, 400, "BAD_JSON", "body must be a JSON object");
	}
	const char *err = NULL;
	int rc = 0;
	if (strcmp(rest, "faults") == 0) {
		rc = sim_faults_from_json(&d->faults, body, &err);
	} else if (strcmp(rest, "reboot") == 0) {
		sim_device_reboot(d, now);
	} else if (strcmp(rest, "mains") == 0) {
		json_t *f = json_object_get(body, "failed");
		if (!json_is_boolean(f))
			err = "expected {\"failed\": true|false}", rc = -EINVAL;
		else if ((rc = sim_ups_mains(d, json_is_true(f), now)) < 0)
			err = "not a UPS";
	} else if (strcmp(rest, "output") == 0 && d->kind == SIM_KIND_UPS) {
		json_t *f = json_object_get(body, "on");
		if (!json_is_boolean(f))
			err = "expected {\"on\": true|false}", rc = -EINVAL;
		else
			d->ups.output_off = !json_is_true(f), sim_device_refresh(d, now);
	} else if (strcmp(rest, "load") == 0) {
		json_t *w = json_object_get(body, "watts");
		json_int_t unit = json_integer_value(json_object_get(body, "unit"));
		json_int_t outlet = json_integer_value(json_object_get(body, "outlet"));
		if (!json_is_number(w))
			err = "expected {\"unit\": n, \"outlet\": n, \"watts\": w}", rc = -EINVAL;
		else if ((rc = sim_load_step(d, unit > 0 ? (unsigned)unit - 1 : 0,
					     outlet > 0 ? (unsigned)outlet - 1 : 0, json_number_value(w), now)) < 0)
			err = "no such unit or outlet";
	} else if (strncmp(rest, "outlets/", 8) == 0) {
		const char *p = rest + 8;
		unsigned unit, outlet;
		const char *a = json_string_value(json_object_get(body, "action"));
		json_int_t delay = json_integer_value(json_object_get(body, "delay"));
		enum sim_outlet_action act = !a ? SIM_OUTLET_NONE : !strcmp(a, "on") ? SIM_OUTLET_ON
					     : !strcmp(a, "off") ? SIM_OUTLET_OFF
					     : !strcmp(a, "reboot") ? SIM_OUTLET_REBOOT : SIM_OUTLET_NONE;
		if (!parse_idx(&p, &unit) || !parse_idx(&p, &outlet) || *p)
			err = "path is outlets/UNIT/OUTLET (1-based)", rc = -EINVAL;
		else if (act == SIM_OUTLET_NONE || delay < 0 || delay > 86400)
			err = "expected {\"action\": \"on\"|\"off\"|\"reboot\", \"delay\": s}", rc = -EINVAL;
		else if ((rc = sim_outlet_control(d, unit, outlet, act, (unsigned)delay, now)) < 0)
			err = rc == -EPERM ? "outlet not switchable" : "no such unit or outlet";
	} else if (strncmp(rest, "breakers/", 9) == 0 && d->kind == SIM_KIND_PDU) {
		const char *p = rest + 9;
		unsigned unit, br;
		json_t *t = json_object_get(body, "tripped");
		if (!parse_idx(&p, &unit) || !parse_idx(&p, &br) || *p || !json_is_boolean(t) ||
		    unit >= d->pdu.n_units || br >= d->pdu.units[unit].n_branches)
			err = "path is breakers/UNIT/BRANCH, body {\"tripped\": bool}", rc = -EINVAL;
		else {
			sim_device_update(d, now);
			d->pdu.units[unit].branches[br].tripped = json_is_true(t);
			sim_device_refresh(d, now);
		}
	} else {
		json_decref(body);
		return reply_error(req, 404, "NOT_FOUND", "unknown device action");
	}
	json_decref(body);
	if (rc == 0 && !err)
		wt_info("control: %s %s", d->name, rest);
	if (rc < 0 || err)
		return reply_error(req, rc == -ENOENT ? 404 : 400, rc == -ENOENT ? "NOT_FOUND" : "BAD_REQUEST",
				   err ? err : "invalid request");
	json_t *j = sim_device_json(d, now);
	reply_json(req, 200, j);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	(void)arg;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char path[512];
	size_t l = strcspn(uri, "?");
	if (l >= sizeof(path))
		return reply_error(req, 414, "URI_TOO_LONG", "path too long");
	memcpy(path, uri, l);
	path[l] = 0;
	if (strcmp(path, "/api/stats") == 0)
		return stats(req);
	if (strcmp(path, "/api/devices") == 0)
		return list_devices(req);
	if (strncmp(path, "/api/devices/", 13) == 0) {
		const char *seg = path + 13;
		size_t sl = strcspn(seg, "/");
		struct sim_device *d = lookup(seg, sl);
		if (!d)
			return reply_error(req, 404, "NOT_FOUND", "no such device");
		const char *rest = seg + sl;
		if (*rest == '/')
			rest++;
		return device_action(req, d, rest, cmd);
	}
	reply_error(req, 404, "NOT_FOUND", "unknown path");
}

int sim_control_start(struct sim *sim, struct event_base *base)
{
	csim = sim;
	http = evhttp_new(base);
	if (!http)
		return -ENOMEM;
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						 EVHTTP_REQ_DELETE);
	evhttp_set_gencb(http, on_request, NULL);
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, sim->bind_addr, sim->control_port);
	if (!bs) {
		wt_error("control: cannot bind %s:%u", sim->bind_addr, sim->control_port);
		return -EADDRINUSE;
	}
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl) == 0)
		sim->control_port = ntohs(sa.sin_port);
	return 0;
}

void sim_control_stop(void)
{
	if (http)
		evhttp_free(http);
	http = NULL;
}
