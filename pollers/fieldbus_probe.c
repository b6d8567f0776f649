/* `wattrack probe` for any URL scheme of the driver table (Modbus and
 * Redfish go here; SNMP keeps its own richer output in probe.c): bind and
 * poll once through the driver ops, optionally switch an outlet through
 * pollers/control.h (with its audit event) and poll again, print JSON. */
#include "fieldbus_probe.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pollers/control.h"
#include "pollers/modbus_dev.h"
#include "pollers/profile.h"
#include "server/log.h"
#include "server/model.h"
#include "wt_build.h"

struct series_key {
	int unit, kind, metric;
	long index;
	char name[96];
};

struct fprobe {
	struct event_base *base;
	struct series_key *keys;
	size_t n_keys;
	double *last; /* per series, NAN when not seen this poll */
	bool *seen;
	enum wt_poll_result result;
	bool done;
	int ctl_pending;
	json_t *audit;    /* every audit event, in order */
	json_t *controls; /* every command's answer, in order of completion */
};

static int resolve(void *ctx, long device_id, int unit, int kind, long index, const char *name,
		   int metric, uint32_t *series)
{
	struct fprobe *p = ctx;
	(void)device_id;
	struct series_key *nk = realloc(p->keys, (p->n_keys + 1) * sizeof *nk);
	double *nl = realloc(p->last, (p->n_keys + 1) * sizeof *nl);
	bool *ns = nl ? realloc(p->seen, (p->n_keys + 1) * sizeof *ns) : NULL;
	if (nk)
		p->keys = nk;
	if (nl)
		p->last = nl;
	if (ns)
		p->seen = ns;
	if (!nk || !nl || !ns)
		return -ENOMEM;
	struct series_key *k = &p->keys[p->n_keys];
	k->unit = unit;
	k->kind = kind;
	k->index = index;
	k->metric = metric;
	snprintf(k->name, sizeof k->name, "%s", name ? name : "");
	p->seen[p->n_keys] = false;
	p->last[p->n_keys] = 0;
	*series = (uint32_t)p->n_keys++;
	return 0;
}

static void emit(void *ctx, const struct wt_sample *s, size_t n)
{
	struct fprobe *p = ctx;
	for (size_t i = 0; i < n; i++)
		if (s[i].series < p->n_keys) {
			p->last[s[i].series] = s[i].value;
			p->seen[s[i].series] = true;
		}
}

static void on_done(void *ctx, enum wt_poll_result r)
{
	struct fprobe *p = ctx;
	p->result = r;
	p->done = true;
	event_base_loopbreak(p->base);
}

struct ctl_ask {
	struct fprobe *p;
	long outlet;
	int unit, cmd;
};

static void on_ctl(void *ctx, int status, const char *reason)
{
	struct ctl_ask *a = ctx;
	struct fprobe *p = a->p;
	json_t *jc = json_pack("{s:I,s:i,s:s,s:b}", "outlet", (json_int_t)a->outlet, "unit",
			       a->unit, "command", wt_ctl_cmd_name(a->cmd), "ok", status == 0);
	json_object_set_new(jc, "error", status ? json_string(reason) : json_null());
	json_array_append_new(p->controls, jc);
	if (--p->ctl_pending == 0)
		event_base_loopbreak(p->base);
}

static void on_audit(void *ctx, const struct wt_ctl_audit *a)
{
	struct fprobe *p = ctx;
	json_array_append_new(p->audit, json_pack("{s:s,s:I,s:s,s:i,s:I,s:s,s:s,s:I}", "user",
						  a->user, "device_id", (json_int_t)a->device_id,
						  "device", a->device_name, "unit", a->unit,
						  "outlet", (json_int_t)a->outlet, "action",
						  a->action, "result", a->result, "duration_ms",
						  (json_int_t)(a->finished_ms - a->requested_ms)));
}

static json_t *samples_json(struct fprobe *p)
{
	json_t *a = json_array();
	for (size_t i = 0; i < p->n_keys; i++) {
		if (!p->seen[i])
			continue;
		const struct series_key *k = &p->keys[i];
		const struct wt_metric_info *mi = wt_metric_info(k->metric);
		json_array_append_new(a, json_pack("{s:i,s:s,s:I,s:s,s:s,s:f}", "unit", k->unit,
						   "kind", wt_entity_kind_name(k->kind), "index",
						   (json_int_t)k->index, "name", k->name, "metric",
						   mi ? mi->name : "?", "value", p->last[i]));
	}
	return a;
}

static const char *result_name(enum wt_poll_result r)
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
	default:
		return "unreachable";
	}
}

static int poll_once(struct fprobe *p, const struct wt_driver_ops *ops, void *inst)
{
	for (size_t i = 0; i < p->n_keys; i++)
		p->seen[i] = false;
	p->done = false;
	int rc = ops->poll(inst, on_done, p);
	if (rc) {
		p->result = WT_POLL_FAILED;
		return rc;
	}
	while (!p->done)
		event_base_loop(p->base, EVLOOP_ONCE);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wattrack probe [options] URL\n"
		"  URL: modbus://HOST[:PORT]?unit=N&profile=NAME\n"
		"       redfish://USER:PASS@HOST[:PORT]  redfish+https://...?insecure=1|ca=FILE\n"
		"  -p, --profiles DIR   profile directory (Modbus profiles in DIR/modbus)\n"
		"  -t, --timeout MS     per-request timeout (default 1000)\n"
		"  -r, --retries N      retries per request (default 1)\n"
		"  -c, --control OUTLET:CMD[:UNIT]  switch an outlet, then poll again (repeatable:\n"
		"                       all are queued at once and run one after the other)\n"
		"  -u, --user NAME      who asks (audit event; default \"probe\")\n"
		"  -v, --verbose        log to stderr\n");
}

int wt_fieldbus_probe_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"profiles", required_argument, NULL, 'p'},
		{"timeout", required_argument, NULL, 't'},
		{"retries", required_argument, NULL, 'r'},
		{"control", required_argument, NULL, 'c'},
		{"user", required_argument, NULL, 'u'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *pdir = NULL, *user = "probe";
	const char *controls[8];
	int n_controls = 0;
	int timeout = 1000, retries = 1, c;
	bool verbose = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:t:r:c:u:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pdir = optarg;
			break;
		case 't':
			timeout = (int)strtol(optarg, NULL, 10);
			break;
		case 'r':
			retries = (int)strtol(optarg, NULL, 10);
			break;
		case 'c':
			if (n_controls == 8) {
				fprintf(stderr, "wattrack probe: at most 8 --control\n");
				return 64;
			}
			controls[n_controls++] = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (optind != argc - 1 || timeout <= 0 || timeout > 60000 || retries < 0 || retries > 10) {
		usage(stderr);
		return 64;
	}
	wt_log_setup(false, "wattrack-probe", verbose ? WT_LOG_DEBUG : WT_LOG_WARNING);
	const char *url = argv[optind];
	char scheme[32];
	size_t sl = strcspn(url, ":");
	if (sl == 0 || sl >= sizeof scheme || strncmp(url + sl, "://", 3) != 0) {
		fprintf(stderr, "wattrack probe: not a URL\n");
		return 64;
	}
	memcpy(scheme, url, sl);
	scheme[sl] = 0;
	const struct wt_driver_ops *ops = wt_driver_find(scheme);
	if (!ops) {
		fprintf(stderr, "wattrack probe: no driver for %s://\n", scheme);
		return 64;
	}
	struct ctl_ask asks[8];
	for (int i = 0; i < n_controls; i++) {
		char cmd[32] = "";
		long idx = -1;
		int unit = 1;
		int n = sscanf(controls[i], "%ld:%31[a-z_]:%d", &idx, cmd, &unit);
		int k = wt_ctl_cmd_by_name(cmd);
		if (n < 2 || k < 0 || idx < 0) {
			fprintf(stderr, "wattrack probe: --control wants OUTLET:CMD[:UNIT]\n");
			return 64;
		}
		asks[i] = (struct ctl_ask){.outlet = idx, .unit = unit, .cmd = k};
	}
	static char mbdir[4096];
	struct wt_profile_set profiles = {0};
	if (pdir) {
		snprintf(mbdir, sizeof mbdir, "%s/modbus", pdir);
		wt_modbus_set_profiles_dir(mbdir);
		if (strncmp(scheme, "snmp", 4) == 0 && wt_profiles_load_dir(&profiles, pdir) < 0) {
			fprintf(stderr, "wattrack probe: cannot read profiles from %s\n", pdir);
			return 1;
		}
	}
	struct fprobe p = {0};
	p.base = event_base_new();
	struct wt_driver_env env = {
		.base = p.base,
		.clock = &wt_clock_real,
		.profiles = &profiles,
		.resolver = {.resolve = resolve, .ctx = &p},
		.sink = {.emit = emit, .ctx = &p},
	};
	void *inst = NULL;
	char err[256] = "";
	int rc = 1;
	if (ops->create(&env, 0, "probe", url, timeout, retries, &inst, err, sizeof err)) {
		fprintf(stderr, "wattrack probe: %s\n", err);
		rc = 64;
		goto out;
	}
	poll_once(&p, ops, inst);
	rc = p.result == WT_POLL_OK || p.result == WT_POLL_REBOOTED ? 0
	     : p.result == WT_POLL_NO_PROFILE                       ? 2
								    : 1;
	json_t *samples_before = NULL;
	p.audit = json_array();
	p.controls = json_array();
	if (rc == 0 && n_controls) {
		samples_before = samples_json(&p);
		struct wt_control *ctl = wt_control_new(p.base, &wt_clock_real, on_audit, &p);
		int failed = 0;
		for (int i = 0; ctl && i < n_controls; i++) {
			struct wt_ctl_request req = {
				.device_id = 0,
				.device_name = "probe",
				.ops = ops,
				.inst = inst,
				.user = user,
				.unit = asks[i].unit,
				.outlet = asks[i].outlet,
				.cmd = (enum wt_ctl_cmd)asks[i].cmd,
				.verify_ms = timeout * 10,
			};
			asks[i].p = &p;
			if (wt_control_outlet(ctl, &req, on_ctl, &asks[i]) == 0)
				p.ctl_pending++;
			else
				failed++;
		}
		while (p.ctl_pending > 0)
			event_base_loop(p.base, EVLOOP_ONCE);
		wt_control_free(ctl);
		size_t i;
		json_t *x;
		json_array_foreach(p.controls, i, x) if (!json_is_true(json_object_get(x, "ok")))
			failed++;
		if (failed || !ctl)
			rc = 3;
		/* the next poll shows what the device now says */
		poll_once(&p, ops, inst);
	}
	char *desc = ops->describe ? ops->describe(inst) : NULL;
	json_t *out = desc ? json_loads(desc, 0, NULL) : NULL;
	free(desc);
	if (!out)
		out = json_pack("{s:i,s:s}", "format", 1, "protocol", ops->name);
	json_object_set_new(out, "status", json_string(result_name(p.result)));
	const char *le = ops->last_error(inst);
	json_object_set_new(out, "error", le && le[0] ? json_string(le) : json_null());
	json_object_set_new(out, "samples", samples_json(&p));
	if (samples_before) {
		json_object_set_new(out, "samples_before_control", samples_before);
		json_object_set(out, "control", json_array_get(p.controls, 0));
		json_object_set(out, "controls", p.controls);
		json_object_set(out, "audit", p.audit);
	}
	char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
	json_decref(out);
	ops->destroy(inst);
out:
	json_decref(p.audit);
	json_decref(p.controls);
	event_base_free(p.base);
	wt_profiles_free(&profiles);
	free(p.keys);
	free(p.last);
	free(p.seen);
	return rc;
}
