/* wattrack probe: one device, one bind + poll, JSON on stdout. */
#include "probe.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <unistd.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pollers/fieldbus_probe.h" /* fieldbus: modbus:// and redfish:// */
#include "pollers/profile.h"
#include "pollers/snmp_dev.h"
#include "server/log.h"
#include "server/model.h"
#include "wt_build.h"

struct probe {
	struct event_base *base;
	struct wt_snmp_dev *dev;
	enum wt_poll_result result;
	int ctl_status;
	bool done;
	uint32_t next_series;
};

static int resolve(void *ctx, long device_id, int unit, int kind, long index, const char *name,
		   int metric, uint32_t *series)
{
	struct probe *p = ctx;
	(void)device_id, (void)unit, (void)kind, (void)index, (void)name, (void)metric;
	*series = p->next_series++;
	return 0;
}

static void on_done(void *ctx, enum wt_poll_result r)
{
	struct probe *p = ctx;
	p->result = r;
	p->done = true;
	event_base_loopbreak(p->base);
}

static void on_ctl(void *ctx, int status)
{
	struct probe *p = ctx;
	p->ctl_status = status;
	p->done = true;
	event_base_loopbreak(p->base);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *build_json(const struct wt_snmp_target *t, struct probe *p)
{
	json_t *o = json_object();
	char safe_url[400];
	/* the URL printed back never carries the community or passwords */
	snprintf(safe_url, sizeof safe_url, "%s://%s:%d",
		 t->version == 3 ? "snmpv3" : t->version == 1 ? "snmpv1" : "snmp", t->host, t->port);
	json_object_set_new(o, "format", json_integer(1));
	json_object_set_new(o, "url", json_string(safe_url));
	json_object_set_new(o, "protocol", json_string("snmp"));
	json_object_set_new(o, "snmp_version",
			    json_string(t->version == 1 ? "1" : t->version == 2 ? "2c" : "3"));
	json_object_set_new(o, "status", json_string(wt_probe_result_name(p->result)));
	const char *err = wt_snmp_dev_error(p->dev);
	json_object_set_new(o, "error", err[0] ? json_string(err) : json_null());
	const struct wt_snmp_sysinfo *si = wt_snmp_dev_sysinfo(p->dev);
	json_t *sys = json_object();
	json_object_set_new(sys, "descr", json_string(si->descr));
	json_object_set_new(sys, "object_id", json_string(si->objectid));
	json_object_set_new(sys, "name", json_string(si->name));
	json_object_set_new(sys, "uptime_s", json_real((double)si->uptime_ticks / 100.0));
	json_object_set_new(o, "sys", sys);
	const struct wt_snmp_model *m = wt_snmp_dev_model(p->dev);
	if (!m) {
		json_object_set_new(o, "profile", json_null());
		return o;
	}
	json_t *prof = json_object();
	json_object_set_new(prof, "name", json_string(m->profile->name));
	json_object_set_new(prof, "file", str_or_null(m->profile->file));
	json_object_set_new(prof, "device_type", json_string(m->profile->device_type));
	json_object_set_new(o, "profile", prof);
	static const char *const idn[WT_ID__COUNT] = {"vendor", "model", "serial",
						      "firmware", "name", "rating_a"};
	json_t *id = json_object();
	for (int i = 0; i < WT_ID__COUNT; i++)
		json_object_set_new(id, idn[i],
				    i == WT_ID_RATING ? (m->rating > 0 ? json_real(m->rating) : json_null())
						      : str_or_null(m->ident[i]));
	json_object_set_new(o, "identity", id);
	json_t *units = json_array();
	for (size_t i = 0; i < m->n_units; i++)
		json_array_append_new(units, json_integer(m->units[i]));
	json_object_set_new(o, "units", units);
	json_t *ents = json_array();
	for (size_t e = 0; e < m->n_entities; e++) {
		const struct wt_snmp_entity *en = &m->entities[e];
		json_t *je = json_object();
		json_object_set_new(je, "kind", json_string(wt_entity_kind_name(en->kind)));
		json_object_set_new(je, "index", json_integer(en->index));
		json_object_set_new(je, "unit", json_integer(en->unit));
		json_object_set_new(je, "name", json_string(en->name));
		json_t *ctl = json_array();
		if (en->ctl_oid[0])
			for (int c = 0; c < WT_CTL__COUNT; c++)
				if (en->tmpl->control.value[c] >= 0)
					json_array_append_new(ctl, json_string(wt_ctl_cmd_name(c)));
		json_object_set_new(je, "switchable", json_boolean(en->ctl_oid[0] != 0));
		json_object_set_new(je, "controls", ctl);
		json_t *rs = json_array();
		for (size_t k = 0; k < m->n_points; k++) {
			const struct wt_snmp_point *pt = &m->points[k];
			if (pt->entity != e)
				continue;
			const struct wt_metric_info *mi = wt_metric_info(pt->metric);
			json_t *r = json_object();
			json_object_set_new(r, "metric", json_string(mi ? mi->name : "?"));
			json_object_set_new(r, "value", pt->have ? json_real(pt->value) : json_null());
			json_object_set_new(r, "unit", json_string(mi ? mi->unit : ""));
			json_object_set_new(r, "oid", json_string(pt->oid));
			json_object_set_new(r, "static", json_boolean(pt->is_static));
			json_array_append_new(rs, r);
		}
		json_object_set_new(je, "readings", rs);
		json_array_append_new(ents, je);
	}
	json_object_set_new(o, "entities", ents);
	return o;
}

const char *wt_probe_result_name(int r)
{
	switch (r) {
	case WT_POLL_OK:
		return "ok";
	case WT_POLL_REBOOTED:
		return "rebooted";
	case WT_POLL_NO_PROFILE:
		return "no_profile";
	case WT_POLL_AUTH:
		return "auth_failed";
	case WT_POLL_FAILED:
	default:
		return "unreachable";
	}
}

int wt_probe_exit_class(int r)
{
	return r == WT_POLL_OK || r == WT_POLL_REBOOTED ? WT_PROBE_OK
	       : r == WT_POLL_NO_PROFILE		? WT_PROBE_NO_PROFILE
							: WT_PROBE_UNREACHABLE;
}

static const char *default_profiles_dir(void)
{
	static char buf[4096];
	const char *env = getenv("WT_PROFILES_DIR");
	if (env && *env)
		return env;
	struct stat st;
	snprintf(buf, sizeof buf, "%s/profiles", WT_DATADIR);
	if (stat(buf, &st) == 0)
		return buf;
	snprintf(buf, sizeof buf, "%s/pollers/profiles", WT_SOURCE_ROOT);
	return buf;
}

static const char *ctl_reason(int st)
{
	switch (-st) {
	case 0: return NULL;
	case ENOENT: return "no such outlet";
	case ENOTSUP: return "not switchable, or the device has no such command";
	case EACCES: return "refused: no permission (read-only community or user)";
	case EINVAL: return "refused: the device rejected the value";
	case ETIMEDOUT: return "timeout";
	case EAGAIN: return "command accepted but the outlet state did not change in time";
	default: return strerror(-st);
	}
}

/* The one control an SNMP probe may run, after a successful read. */
static int snmp_control(struct probe *p, const struct wt_probe_control *c, int timeout,
			json_t *out)
{
	const struct wt_snmp_model *m = wt_snmp_dev_model(p->dev);
	size_t ent = (size_t)-1;
	for (size_t e = 0; m && e < m->n_entities; e++)
		if (m->entities[e].kind == WT_ENT_OUTLET && m->entities[e].index == c->outlet &&
		    m->entities[e].unit == c->unit)
			ent = e;
	int st;
	if (ent == (size_t)-1) {
		st = -ENOENT;
	} else {
		p->done = false;
		st = wt_snmp_dev_control(p->dev, ent, (enum wt_ctl_cmd)c->cmd, timeout * 5, on_ctl, p);
		if (st == 0) {
			if (!p->done)
				event_base_dispatch(p->base);
			st = p->ctl_status;
		}
	}
	const char *why = ctl_reason(st);
	json_object_set_new(out, "control",
			    json_pack("{s:I,s:i,s:s,s:b,s:o}", "outlet", (json_int_t)c->outlet,
				      "unit", c->unit, "command", wt_ctl_cmd_name(c->cmd), "ok",
				      st == 0, "error", why ? json_string(why) : json_null()));
	return st;
}

int wt_probe_run(const char *url, const struct wt_probe_opts *o, json_t **out, char *err,
		 size_t errlen)
{
	*out = NULL;
	/* fieldbus: Modbus and Redfish URLs go through the driver table */
	if (strncmp(url, "modbus", 6) == 0 || strncmp(url, "redfish", 7) == 0)
		return wt_fieldbus_probe_run(url, o, out, err, errlen);
	if (o->n_controls > 1) {
		snprintf(err, errlen, "an SNMP probe takes at most one --control");
		return WT_PROBE_USAGE;
	}
	struct wt_snmp_target t;
	if (wt_snmp_url_parse(url, &t, err, errlen))
		return WT_PROBE_USAGE;
	t.timeout_ms = o->timeout_ms;
	t.retries = o->retries;
	struct wt_profile_set profiles = {0};
	const char *pdir = o->profiles_dir ? o->profiles_dir : default_profiles_dir();
	if (wt_profiles_load_dir(&profiles, pdir) < 0) {
		snprintf(err, errlen, "cannot read profiles from %s", pdir);
		memset(&t, 0, sizeof t);
		return WT_PROBE_UNREACHABLE;
	}
	struct probe p = {.next_series = 1};
	p.base = event_base_new();
	struct wt_driver_env env = {
		.base = p.base,
		.clock = &wt_clock_real,
		.profiles = &profiles,
		.resolver = {.resolve = resolve, .ctx = &p},
	};
	int rc = WT_PROBE_UNREACHABLE;
	p.dev = p.base ? wt_snmp_dev_new(&env, 0, "probe", &t, err, errlen) : NULL;
	if (!p.dev) {
		/* what the URL asked for cannot be (protocol names, passphrase
		 * lengths, versions) is a usage error; anything else, e.g. a host
		 * name that does not resolve, means the device cannot be read */
		if (strncmp(err, "unknown ", 8) == 0 || strncmp(err, "cannot derive", 13) == 0 ||
		    strncmp(err, "unsupported", 11) == 0) {
			rc = WT_PROBE_USAGE;
			goto out;
		}
		*out = json_pack("{s:i,s:s,s:s,s:s,s:s}", "format", 1, "url", t.host, "protocol",
				 "snmp", "status", "unreachable", "error", err);
		goto out;
	}
	/* the poll may finish before the loop runs (a send that fails at
	 * once), and a loopbreak before dispatch is forgotten by libevent */
	if (wt_snmp_dev_poll(p.dev, on_done, &p) == 0 && !p.done)
		event_base_dispatch(p.base);
	rc = wt_probe_exit_class(p.result);
	*out = build_json(&t, &p);
	if (rc == WT_PROBE_OK && o->n_controls == 1 &&
	    snmp_control(&p, &o->controls[0], o->timeout_ms, *out) != 0)
		rc = WT_PROBE_CONTROL;
out:
	memset(&t, 0, sizeof t); /* no credentials left in memory we own */
	wt_snmp_dev_free(p.dev);
	if (p.base)
		event_base_free(p.base);
	wt_profiles_free(&profiles);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wattrack probe [options] URL|-\n"
		"  URL: snmp://COMMUNITY@HOST[:PORT]  snmpv1://COMMUNITY@HOST[:PORT]\n"
		"       snmpv3://USER:AUTHPASS:PRIVPASS@HOST[:PORT]?auth=SHA-256&priv=AES&context=X&level=authPriv\n"
		"       modbus://HOST[:PORT]?unit=N&profile=NAME\n"
		"       redfish://USER:PASS@HOST[:PORT]  redfish+https://...?insecure=1|ca=FILE\n"
		"  -: read the URL from the first line of stdin (keeps credentials out of ps)\n"
		"  -p, --profiles DIR    profile directory (default: installed profiles)\n"
		"  -t, --timeout MS      per-request timeout (default 1000)\n"
		"  -r, --retries N       retries per request (default 1)\n"
		"  -c, --control OUTLET:CMD[:UNIT]  switch an outlet (on, off, cycle, delayed_on,\n"
		"                        delayed_off, delayed_cycle) after reading the device\n"
		"                        (SNMP: once; Modbus, Redfish: up to 8, then a new poll)\n"
		"  -u, --user NAME       who asks (control audit events; default \"probe\")\n"
		"  -v, --verbose         log to stderr\n");
}

/* One line from stdin, without its line end. */
static int read_url(char *buf, size_t len)
{
	size_t n = 0;
	for (;;) {
		ssize_t k = read(0, buf + n, len - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
		if (memchr(buf, '\n', n) || n == len - 1)
			break;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] ? 0 : -EINVAL;
}

int wt_probe_cli(int argc, char **argv,
		 int (*run)(const char *, const struct wt_probe_opts *, json_t **, char *, size_t))
{
	static const struct option opts[] = {
		{"profiles", required_argument, NULL, 'p'}, {"timeout", required_argument, NULL, 't'},
		{"retries", required_argument, NULL, 'r'},  {"control", required_argument, NULL, 'c'},
		{"user", required_argument, NULL, 'u'},	    {"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},	    {NULL, 0, NULL, 0},
	};
	struct wt_probe_opts o = {.timeout_ms = 1000, .retries = 1, .user = "probe"};
	bool verbose = false;
	char *end;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:t:r:c:u:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.profiles_dir = optarg;
			break;
		case 't':
			o.timeout_ms = (int)strtol(optarg, &end, 10);
			if (*end)
				o.timeout_ms = -1;
			break;
		case 'r':
			o.retries = (int)strtol(optarg, &end, 10);
			if (*end)
				o.retries = -1;
			break;
		case 'c': {
			char cmd[32] = "";
			struct wt_probe_control k = {.outlet = -1, .unit = 1};
			int n = sscanf(optarg, "%ld:%31[a-z_]:%d", &k.outlet, cmd, &k.unit);
			k.cmd = wt_ctl_cmd_by_name(cmd);
			if (n < 2 || k.cmd < 0 || k.outlet < 0 || o.n_controls == WT_PROBE_MAX_CONTROLS) {
				fprintf(stderr, "wattrack probe: --control wants OUTLET:CMD[:UNIT] "
						"(at most %d)\n", WT_PROBE_MAX_CONTROLS);
				return WT_PROBE_USAGE;
			}
			o.controls[o.n_controls++] = k;
			break;
		}
		case 'u':
			o.user = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return WT_PROBE_USAGE;
		}
	}
	if (optind != argc - 1 || o.timeout_ms <= 0 || o.timeout_ms > 60000 || o.retries < 0 ||
	    o.retries > 10) {
		usage(stderr);
		return WT_PROBE_USAGE;
	}
	wt_log_setup(false, "wattrack-probe", verbose ? WT_LOG_DEBUG : WT_LOG_WARNING);
	static char stdin_url[WT_PROBE_URL_MAX + 2];
	const char *url = argv[optind];
	if (strcmp(url, "-") == 0) {
		if (read_url(stdin_url, sizeof stdin_url) < 0) {
			fprintf(stderr, "wattrack probe: no URL on stdin\n");
			return WT_PROBE_USAGE;
		}
		url = stdin_url;
	}
	json_t *out = NULL;
	char err[256] = "";
	int rc = run(url, &o, &out, err, sizeof err);
	explicit_bzero(stdin_url, sizeof stdin_url);
	if (err[0] && !out)
		fprintf(stderr, "wattrack probe: %s\n", err);
	if (out) {
		char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
						  JSON_REAL_PRECISION(10));
		if (s) {
			fputs(s, stdout);
			fputc('\n', stdout);
			free(s);
		}
		json_decref(out);
	}
	return rc;
}

int wt_probe_main(int argc, char **argv)
{
	int rc = wt_probe_cli(argc, argv, wt_probe_run);
	wt_snmp_engine_shutdown();
	return rc;
}
