/* Runs the scheduler over the URLs given for DURATION ms and prints, as
 * JSON, each device's state and counters plus the scheduler's stats; the
 * Python test (t_sched.py) kills parts of the fleet and judges. */
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "pollers/profile.h"
#include "pollers/sched.h"
#include "pollers/snmp_engine.h"
#include "server/log.h"
#include "wt_build.h"

static unsigned long n_samples;
static unsigned long bad_series;

static void emit(void *ctx, const struct wt_sample *s, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++)
		if (s[i].series == 0 || s[i].series > 1000000)
			bad_series++;
	n_samples += n;
}

static int resolve(void *ctx, long dev, int unit, int kind, long index, const char *name,
		   int metric, uint32_t *series)
{
	unsigned *next = ctx;
	(void)dev, (void)unit, (void)kind, (void)index, (void)name, (void)metric;
	*series = (*next)++;
	return 0;
}

static void stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: t_sched_run DURATION_MS INTERVAL_MS TIMEOUT_MS URL...\n");
		return 64;
	}
	wt_log_setup(false, "t_sched", WT_LOG_ERROR);
	int duration = (int)strtol(argv[1], NULL, 10);

	if (duration <= 0)
		duration = 5000;
	int interval = (int)strtol(argv[2], NULL, 10);
	int timeout = (int)strtol(argv[3], NULL, 10);
	struct wt_profile_set profiles = {0};
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/pollers/profiles", WT_SOURCE_ROOT);
	if (wt_profiles_load_dir(&profiles, dir) <= 0)
		return 1;
	struct event_base *base = event_base_new();
	unsigned next = 1;
	struct wt_driver_env env = {
		.base = base,
		.clock = &wt_clock_real,
		.profiles = &profiles,
		.resolver = {.resolve = resolve, .ctx = &next},
		.sink = {.emit = emit},
	};
	struct wt_sched *s = wt_sched_new(&env);
	int ndev = argc - 4;
	for (int i = 0; i < ndev; i++) {
		char err[200];
		struct wt_dev_conf c = {
			.id = i + 1,
			.name = "dev",
			.url = argv[4 + i],
			.interval_ms = interval,
			.timeout_ms = timeout,
			.retries = 0,
			.fail_threshold = 2,
			.backoff_cap_ms = interval * 8,
		};
		if (wt_sched_add(s, &c, err, sizeof err)) {
			fprintf(stderr, "add %d: %s\n", i, err);
			return 1;
		}
	}
	struct event *t = evtimer_new(base, stop, base);
	struct timeval tv = {duration / 1000, (duration % 1000) * 1000};
	evtimer_add(t, &tv);
	event_base_dispatch(base);
	json_t *out = json_object();
	json_t *devs = json_array();
	for (int i = 0; i < ndev; i++) {
		struct wt_dev_status st;
		if (wt_sched_status(s, i + 1, &st))
			continue;
		json_t *d = json_object();
		json_object_set_new(d, "id", json_integer(i + 1));
		json_object_set_new(d, "state", json_string(wt_dev_state_name(st.state)));
		json_object_set_new(d, "polls", json_integer((json_int_t)st.polls));
		json_object_set_new(d, "ok", json_integer((json_int_t)st.ok));
		json_object_set_new(d, "missed", json_integer((json_int_t)st.missed));
		json_object_set_new(d, "interval_ms", json_integer(st.interval_ms));
		json_object_set_new(d, "next_due_ms", json_integer(st.next_due_ms));
		json_object_set_new(d, "reason", json_string(st.reason));
		json_array_append_new(devs, d);
	}
	struct wt_sched_stats ss;
	wt_sched_stats(s, &ss);
	json_object_set_new(out, "devices", devs);
	json_object_set_new(out, "samples", json_integer((json_int_t)n_samples));
	json_object_set_new(out, "bad_series", json_integer((json_int_t)bad_series));
	json_object_set_new(out, "late_ms_max", json_integer((json_int_t)ss.late_ms_max));
	json_object_set_new(out, "missed", json_integer((json_int_t)ss.missed));
	char *txt = json_dumps(out, JSON_COMPACT);
	puts(txt);
	free(txt);
	json_decref(out);
	event_free(t);
	wt_sched_free(s);
	event_base_free(base);
	wt_profiles_free(&profiles);
	wt_snmp_engine_shutdown();
	return 0;
}
