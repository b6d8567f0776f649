/* Two harnesses in one program (tests/pollers/meson.build builds it):
 *
 *   t_control_run [fieldbus probe args...]
 *     The fieldbus probe over any scheme of the driver table, SNMP included
 *     (wattrack probe sends snmp:// to its own code): t_control.py switches
 *     outlets over SNMP, Modbus and Redfish through the same pollers/control.h
 *     path the daemon uses, and reads the next poll's samples.
 *
 *   t_control_run --poll-stats URL POLLS [TIMEOUT_MS]
 *     Binds one SNMP device, polls it POLLS times back to back through
 *     wt_snmp_dev, and prints JSON: the requests of the bind and of each
 *     poll (wt_snmp_dev_stats), how many went as GETBULK, samples per poll,
 *     the poll plan and the adaptive sizes; and every dynamic reading whose
 *     polled value differs from the bind's (a static agent, such as snmpsimd
 *     serving a recording, must read the same through GETBULK polls as
 *     through the bind's GETs). t_sim.py and t_oracle.py assert on it. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pollers/fieldbus_probe.h"
#include "pollers/snmp_dev.h"
#include "pollers/snmp_engine.h"
#include "server/clock.h"
#include "server/log.h"
#include "wt_build.h"

#define MAX_SERIES 65536

struct run {
	struct event_base *base;
	enum wt_poll_result last;
	int done;
	size_t samples;
	int phase; /* 0 bind, 1 polls */
	/* last value per series, at bind and in the polls */
	double val[2][MAX_SERIES];
	bool seen[2][MAX_SERIES];
};

static void on_samples(void *ctx, const struct wt_sample *s, size_t n)
{
	struct run *r = ctx;
	r->samples += n;
	for (size_t i = 0; i < n; i++)
		if (s[i].series < MAX_SERIES) {
			r->val[r->phase][s[i].series] = s[i].value;
			r->seen[r->phase][s[i].series] = true;
		}
}

static int resolve(void *ctx, long device, int unit, int kind, long index, const char *name,
		   int metric, uint32_t *series)
{
	static uint32_t next = 1;
	(void)ctx, (void)device, (void)unit, (void)kind, (void)index, (void)name, (void)metric;
	*series = next++;
	return 0;
}

static void on_done(void *ctx, enum wt_poll_result res)
{
	struct run *r = ctx;
	r->last = res;
	r->done = 1;
	event_base_loopbreak(r->base);
}

static int poll_once(struct wt_snmp_dev *d, struct run *r)
{
	r->done = 0;
	if (wt_snmp_dev_poll(d, on_done, r))
		return -1;
	while (!r->done)
		event_base_loop(r->base, EVLOOP_ONCE);
	return r->last == WT_POLL_OK || r->last == WT_POLL_REBOOTED ? 0 : -1;
}

/* Prints a JSON string (OIDs and error texts only: no escapes needed beyond these). */
static void json_str(const char *v)
{
	putchar('"');
	for (; *v; v++)
		if (*v == '"' || *v == '\\')
			printf("\\%c", *v);
		else if ((unsigned char)*v >= 0x20)
			putchar(*v);
	putchar('"');
}

static int poll_stats(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: t_control_run --poll-stats URL POLLS [TIMEOUT_MS]\n");
		return 2;
	}
	int polls = (int)strtol(argv[3], NULL, 10);
	struct wt_snmp_target t;
	char err[256];
	if (wt_snmp_url_parse(argv[2], &t, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (argc > 4)
		t.timeout_ms = (int)strtol(argv[4], NULL, 10);
	struct wt_profile_set profiles = {0};
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/pollers/profiles", WT_SOURCE_ROOT);
	if (wt_profiles_load_dir(&profiles, dir) <= 0) {
		fprintf(stderr, "no profiles in %s\n", dir);
		return 2;
	}
	struct run *r = calloc(1, sizeof *r);
	struct wt_snmp_dev *d = NULL;
	int rc = 1;
	if (!r || !(r->base = event_base_new()))
		goto out;
	struct wt_driver_env env = {
		.base = r->base,
		.clock = &wt_clock_real,
		.profiles = &profiles,
		.resolver = {.resolve = resolve},
		.sink = {.emit = on_samples, .ctx = r},
	};
	d = wt_snmp_dev_new(&env, 1, "dut", &t, err, sizeof err);
	if (!d) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (poll_once(d, r)) {
		fprintf(stderr, "bind: %s\n", wt_snmp_dev_error(d));
		goto out;
	}
	struct wt_snmp_dev_stats b, a;
	wt_snmp_dev_stats(d, &b);
	size_t bind_samples = r->samples;
	r->samples = 0;
	r->phase = 1;
	int ok = 0;
	for (int i = 0; i < polls; i++)
		ok += poll_once(d, r) == 0;
	wt_snmp_dev_stats(d, &a);
	struct wt_snmp_plan_info pi = {0};
	wt_snmp_dev_plan_info(d, &pi);
	printf("{\"bind_requests\":%lu,\"bind_samples\":%zu,\"polls\":%d,\"ok\":%d,"
	       "\"requests\":%lu,\"getbulk\":%lu,\"samples\":%zu,\"timeouts\":%lu,\"toobig\":%lu,"
	       "\"max_oids\":%d,\"max_rep\":%d,\"columns\":%zu,\"column_points\":%zu,"
	       "\"getnexts\":%zu,\"gets\":%zu,\"repetitions\":%d,\"error\":",
	       b.requests, bind_samples, polls, ok, a.requests - b.requests, a.getbulk - b.getbulk,
	       r->samples, a.timeouts - b.timeouts, a.toobig - b.toobig, a.max_oids, a.max_rep,
	       pi.columns, pi.column_points, pi.getnexts, pi.gets, pi.repetitions);
	json_str(wt_snmp_dev_error(d));
	/* dynamic readings: bind value vs last polled value (null = none) */
	printf(",\"dynamic\":%s", "[");
	const struct wt_snmp_model *m = wt_snmp_dev_model(d);
	bool first = true;
	for (size_t i = 0; m && i < m->n_points; i++) {
		const struct wt_snmp_point *pt = &m->points[i];
		if (pt->is_static || pt->series >= MAX_SERIES)
			continue;
		printf("%s[", first ? "" : ",");
		first = false;
		json_str(pt->oid);
		for (int ph = 0; ph < 2; ph++) {
			if (r->seen[ph][pt->series])
				printf(",%.17g", r->val[ph][pt->series]);
			else
				printf(",null");
		}
		putchar(']');
	}
	printf("]}\n");
	rc = 0;
out:
	wt_snmp_dev_free(d);
	if (r && r->base)
		event_base_free(r->base);
	free(r);
	wt_profiles_free(&profiles);
	return rc;
}

int main(int argc, char **argv)
{
	int rc;
	if (argc > 1 && strcmp(argv[1], "--poll-stats") == 0) {
		wt_log_setup(false, "t_control_run", WT_LOG_WARNING);
		rc = poll_stats(argc, argv);
	} else {
		rc = wt_fieldbus_probe_main(argc, argv);
	}
	wt_snmp_engine_shutdown();
	return rc;
}
