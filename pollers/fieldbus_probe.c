/* `wattrack probe` for any URL scheme of the driver table (Modbus and
 * Redfish go here; SNMP keeps its own richer output in probe.c): bind and
 * poll once through the driver ops, optionally switch an outlet through
 * pollers/control.h (with its audit event) and poll again, print JSON. */
#include "fieldbus_probe.h"

#include <errno.h>
#include <event2/event.h>
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

int wt_fieldbus_probe_run(const char *url, const struct wt_probe_opts *o, json_t **out, char *err,
			  size_t errlen)
{
	*out = NULL;
	char scheme[32];
	size_t sl = strcspn(url, ":");
	if (sl == 0 || sl >= sizeof scheme || strncmp(url + sl, "://", 3) != 0) {
		snprintf(err, errlen, "not a URL");
		return WT_PROBE_USAGE;
	}
	memcpy(scheme, url, sl);
	scheme[sl] = 0;
	const struct wt_driver_ops *ops = wt_driver_find(scheme);
	if (!ops) {
		snprintf(err, errlen, "no driver for %s://", scheme);
		return WT_PROBE_USAGE;
	}
	static char mbdir[4096];
	struct wt_profile_set profiles = {0};
	if (o->profiles_dir) {
		snprintf(mbdir, sizeof mbdir, "%s/modbus", o->profiles_dir);
		wt_modbus_set_profiles_dir(mbdir);
		if (strncmp(scheme, "snmp", 4) == 0 &&
		    wt_profiles_load_dir(&profiles, o->profiles_dir) < 0) {
			snprintf(err, errlen, "cannot read profiles from %s", o->profiles_dir);
			return WT_PROBE_UNREACHABLE;
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
	int rc = WT_PROBE_USAGE;
	struct ctl_ask asks[WT_PROBE_MAX_CONTROLS];
	if (!p.base || ops->create(&env, 0, "probe", url, o->timeout_ms, o->retries, &inst, err,
				   errlen))
		goto out;
	poll_once(&p, ops, inst);
	rc = wt_probe_exit_class(p.result);
	json_t *samples_before = NULL;
	p.audit = json_array();
	p.controls = json_array();
	if (rc == WT_PROBE_OK && o->n_controls) {
		samples_before = samples_json(&p);
		struct wt_control *ctl = wt_control_new(p.base, &wt_clock_real, on_audit, &p);
		int failed = 0;
		for (int i = 0; ctl && i < o->n_controls; i++) {
			asks[i] = (struct ctl_ask){.p = &p,
						   .outlet = o->controls[i].outlet,
						   .unit = o->controls[i].unit,
						   .cmd = o->controls[i].cmd};
			struct wt_ctl_request req = {
				.device_id = 0,
				.device_name = "probe",
				.ops = ops,
				.inst = inst,
				.user = o->user ? o->user : "probe",
				.unit = asks[i].unit,
				.outlet = asks[i].outlet,
				.cmd = (enum wt_ctl_cmd)asks[i].cmd,
				.verify_ms = o->timeout_ms * 10,
			};
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
			rc = WT_PROBE_CONTROL;
		/* the next poll shows what the device now says */
		poll_once(&p, ops, inst);
	}
	char *desc = ops->describe ? ops->describe(inst) : NULL;
	json_t *j = desc ? json_loads(desc, 0, NULL) : NULL;
	free(desc);
	if (!j)
		j = json_pack("{s:i,s:s}", "format", 1, "protocol", ops->name);
	json_object_set_new(j, "status", json_string(wt_probe_result_name(p.result)));
	const char *le = ops->last_error(inst);
	json_object_set_new(j, "error", le && le[0] ? json_string(le) : json_null());
	json_object_set_new(j, "samples", samples_json(&p));
	if (samples_before) {
		json_object_set_new(j, "samples_before_control", samples_before);
		json_object_set(j, "control", json_array_get(p.controls, 0));
		json_object_set(j, "controls", p.controls);
		json_object_set(j, "audit", p.audit);
	}
	*out = j;
	ops->destroy(inst);
out:
	json_decref(p.audit);
	json_decref(p.controls);
	if (p.base)
		event_base_free(p.base);
	wt_profiles_free(&profiles);
	free(p.keys);
	free(p.last);
	free(p.seen);
	return rc;
}

int wt_fieldbus_probe_main(int argc, char **argv)
{
	return wt_probe_cli(argc, argv, wt_fieldbus_probe_run);
}
