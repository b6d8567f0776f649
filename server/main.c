/* wattrack: the daemon. Reads the configuration, starts the private
 * PostgreSQL cluster when no database.url is set, the worker pool, the
 * storage layer, the rules engine, the poll scheduler with the devices of
 * the devices table, and the HTTP API, then runs the libevent loop until
 * SIGTERM or SIGINT. SIGHUP re-reads the configuration.
 *
 * Data path: drivers -> sample sink -> storage (rollup, writer) and the
 * rules engine's tap; the rollup's 5 s closes -> rules (aggregates fed back
 * into storage, alarms to PostgreSQL through the alarm writer).
 *
 * Exit codes: 0 clean shutdown, 1 configuration or usage error, 2 runtime
 * failure. Every failure prints one line saying why. */
#include "api/api.h"
#include "config.h"
#include "daemon_devices.h"
#include "daemon_discovery.h"
#include "daemon_notify.h"
#include "daemon_rules.h"
#include "daemon_series.h"
#include "fsutil.h"
#include "log.h"
#include "pgcluster.h"
#include "pollers/control.h"
#include "pollers/discover.h"
#include "pollers/modbus_dev.h"
#include "pollers/probe.h"
#include "pollers/profile.h"
#include "pollers/sched.h"
#include "rules/dbq.h"
#include "storage.h"
#include "workers.h"
#include "wt_build.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_CONFIG 1
#define EXIT_RUNTIME 2

#define DEFAULT_CONFIG WT_SYSCONFDIR "/wattrack.conf"
#define MS_DAY 86400000LL
/* The janitor runs just after each 5 s boundary, like the rollup tick. */
#define JANITOR_MS 5000
#define JANITOR_GRACE_MS 500

struct daemon {
	struct event_base *base;
	struct wt_config cfg;
	const char *config_path; /* NULL: defaults only (no file) */
	bool config_explicit;    /* --config given: the file must exist */
	int cli_log_level;       /* -1 when --log-level was not given */
	struct wt_pgcluster *pg;
	struct wt_workers *workers;
	struct wt_storage *storage;
	struct wt_series_cache *series;
	struct wt_drules *rules;
	struct wt_dnotify *notify;
	struct wt_profile_set profiles;
	struct wt_driver_env env;
	struct wt_sched *sched;
	struct wt_devices *devices;
	struct wt_ddisc *discovery;
	struct wt_api *api;
	struct wt_control *control;
	struct event *ev_term, *ev_int, *ev_hup, *ev_janitor;
	int lock_fd; /* <state_dir>/wattrack.pid, locked while we run */
	const char *stop_signal;
	/* what the janitor last saw, to log changes once */
	bool spool_full, workers_congested;
	uint64_t workers_rejected;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: wattrack [OPTION]...\n"
		"       wattrack probe URL...\n"
		"       wattrack discover [OPTION]... TARGET...\n"
		"Centralized power monitoring for data centres.\n"
		"\n"
		"  -c, --config FILE     configuration file (default " DEFAULT_CONFIG ")\n"
		"      --check-config    report every problem in the configuration, then exit\n"
		"      --dump-config     print every effective setting (secrets masked), then exit\n"
		"  -l, --log-level L     error, warning, notice, info or debug (overrides log.level)\n"
		"  -V, --version         print the version, then exit\n"
		"  -h, --help            print this help, then exit\n"
		"\n"
		"Exit status: 0 clean shutdown, 1 configuration or usage error, 2 runtime failure.\n");
}

/* ---- configuration ---- */

static bool file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* Loads the configuration the daemon was told to use into c. On failure
 * every problem has been printed through report(). */
static int load_config(struct daemon *d, struct wt_config *c, void (*report)(const char *line))
{
	struct wt_config_diags diags = {0};
	int rc;

	if (!d->config_path) {
		rc = wt_config_defaults(c);
		if (rc == 0)
			rc = wt_config_finish(c, &diags);
	} else {
		rc = wt_config_load(c, d->config_path, &diags);
	}
	for (size_t i = 0; i < diags.n; i++) {
		char line[1200];
		wt_config_diag_format(&diags.v[i], line, sizeof(line));
		report(line);
	}
	if (rc == -ENOMEM)
		report("out of memory");
	wt_config_diags_free(&diags);
	return rc;
}

static void report_stderr(const char *line)
{
	fprintf(stderr, "%s\n", line);
}

static void report_log(const char *line)
{
	wt_error("reload: %s", line);
}

/* Every SNMP device has its own socket, so a fleet of thousands needs more
 * descriptors than a login shell's soft limit (1024): take the hard limit
 * (systemd's unit sets LimitNOFILE). Says what it got. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			wt_warn("open files limit stays %llu (%s): about as many devices can be polled",
				(unsigned long long)old, strerror(errno));
		else
			wt_info("open files limit raised from %llu to %llu",
				(unsigned long long)old, (unsigned long long)want);
	}
}

/* The loop wakes for every poll start and every answer. Letting the kernel
 * fire its timers up to LOOP_TIMER_SLACK_NS late (PR_SET_TIMERSLACK, this
 * thread only) lets it start the devices due within that window in one
 * wake instead of one wake each, and merges timer wakes with the answers'
 * wakes: at 2,000 PDUs a wake cost more CPU than decoding the answer.
 * Nothing on the loop needs its timers more exact than a few ms (polls are
 * seconds apart; their lateness is reported in wattrack_poll_late_max). */
#define LOOP_TIMER_SLACK_NS 10000000UL
static void loop_timer_slack(void)
{
	if (prctl(PR_SET_TIMERSLACK, LOOP_TIMER_SLACK_NS, 0, 0, 0) < 0)
		wt_debug("timer slack stays at its default: %s", strerror(errno));
}

static void apply_log_settings(struct daemon *d)
{
	int level = d->cli_log_level >= 0 ? d->cli_log_level : d->cfg.log_level;
	wt_log_setup(d->cfg.log_syslog, "wattrack", (enum wt_log_level)level);
}

static void storage_options(const struct wt_config *c, const char *conninfo,
			    struct wt_storage_options *o)
{
	memset(o, 0, sizeof(*o));
	o->conninfo = conninfo;
	o->spool_dir = c->storage_spool_dir;
	o->spool_max_bytes = c->storage_spool_max;
	o->flush_interval_ms = (int)c->storage_flush_interval_ms;
	/* Whole days: the validator refuses anything else. */
	o->retention_5s_days = (int)(c->retention_raw_ms / MS_DAY);
	o->retention_hourly_days = (int)(c->retention_hourly_ms / MS_DAY);
	o->retention_daily_days = (int)(c->retention_daily_ms / MS_DAY);
}

struct reload_counts {
	int applied, restart;
};

static void on_change(void *ctx, const struct wt_setting *s, bool applied, const char *old_v,
		      const char *new_v)
{
	struct reload_counts *n = ctx;

	if (applied) {
		n->applied++;
		wt_notice("reload: %s: %s -> %s", s->name, old_v, new_v);
	} else {
		n->restart++;
		wt_warn("reload: %s: %s -> %s needs a restart; still using %s", s->name, old_v,
			new_v, old_v);
	}
}

static void api_layers(struct daemon *d);

/* Puts the reloadable settings now in d->cfg into effect (after SIGHUP or
 * an API change); log settings are applied by the callers. */
static void apply_reloadable(struct daemon *d)
{
	if (d->storage) {
		struct wt_storage_options o;
		storage_options(&d->cfg, NULL, &o);
		wt_storage_reload(d->storage, &o);
	}
	if (d->devices)
		wt_devices_set_poll(d->devices, (int)d->cfg.poll_interval_ms,
				    (int)d->cfg.poll_timeout_ms, d->cfg.poll_retries);
	if (d->api)
		api_layers(d);
}

/* PATCH /api/v1/settings applied changes to d->cfg (and wrote them to the
 * file): the same effects as a SIGHUP. */
static void api_settings_changed(void *ctx)
{
	struct daemon *d = ctx;
	apply_log_settings(d);
	apply_reloadable(d);
}

static void reload(struct daemon *d)
{
	struct wt_config next;
	struct reload_counts n = {0};
	int rc;

	wt_debug("reload: SIGHUP received");
	/* A file created since start-up at the default place is picked up. */
	if (!d->config_path && file_exists(DEFAULT_CONFIG))
		d->config_path = DEFAULT_CONFIG;
	wt_notice("reload: reading %s", d->config_path ? d->config_path : "(defaults)");
	rc = load_config(d, &next, report_log);
	if (rc < 0) {
		wt_error("reload: %s has problems; keeping the running configuration",
			 d->config_path ? d->config_path : "the configuration");
		wt_config_free(&next);
		return;
	}
	rc = wt_config_apply(&d->cfg, &next, on_change, &n);
	wt_config_free(&next);
	if (rc < 0) {
		wt_error("reload: out of memory; the configuration may be partly applied");
		return;
	}
	apply_log_settings(d);
	if (d->cli_log_level >= 0 && n.applied)
		wt_notice("reload: --log-level %s still overrides log.level",
			  wt_config_find("log.level")->values[d->cli_log_level]);
	apply_reloadable(d);
	wt_notice("reload: done, %d change%s applied, %d need%s a restart", n.applied,
		  n.applied == 1 ? "" : "s", n.restart, n.restart == 1 ? "s" : "");
	wt_debug("reload: debug logging is on");
}

/* At debug level, every effective setting (secrets masked). */
static void log_settings(const struct daemon *d)
{
	size_t n;
	const struct wt_setting *t = wt_config_settings(&n);
	char v[512];

	for (size_t i = 0; i < n; i++) {
		wt_config_format(&d->cfg, &t[i], true, v, sizeof(v));
		wt_debug("setting %s = %s", t[i].name, v);
	}
}

/* ---- the loop ---- */

/* A start-up failure: logged, and also on stderr when the log goes to
 * syslog, so whoever started the daemon sees the reason. */
static void fatal(struct daemon *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fatal(struct daemon *d, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wt_error("%s", msg);
	if (d->cfg.log_syslog)
		fprintf(stderr, "wattrack: %s\n", msg);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	d->stop_signal = sig == SIGINT ? "SIGINT" : "SIGTERM";
	event_base_loopbreak(d->base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	reload(arg);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm_janitor(struct daemon *d)
{
	int64_t now = now_ms();
	int64_t next = now - now % JANITOR_MS + JANITOR_MS + JANITOR_GRACE_MS;
	/* Still before this boundary's grace: run at it. */
	if (next - JANITOR_MS > now)
		next -= JANITOR_MS;
	int64_t delay = next - now;
	struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000};
	evtimer_add(d->ev_janitor, &tv);
}

/* Periodic health watch: logs each change of the spool and the worker
 * queue once, not at every pass. (The writer reports its own connection.) */
static void on_janitor(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct wt_storage_health h;
	struct wt_workers_stats ws;

	(void)fd;
	(void)what;
	if (d->storage) {
		wt_storage_health(d->storage, &h);
		if (!h.spool_healthy != d->spool_full) {
			d->spool_full = !h.spool_healthy;
			if (d->spool_full)
				wt_error("the spool is full (%" PRIu64
					 " bytes, storage.spool_max); "
					 "new data is being refused",
					 h.spool_bytes);
			else
				wt_notice("the spool has room again");
		}
	}
	if (d->workers) {
		wt_workers_stats(d->workers, &ws);
		bool congested = wt_workers_congested(d->workers);
		if (congested != d->workers_congested) {
			d->workers_congested = congested;
			if (congested)
				wt_warn("worker queue is full (%zu jobs waiting, %d threads); "
					"raise workers.threads or workers.queue_max",
					ws.queued, ws.threads);
			else
				wt_notice("worker queue has room again");
		}
		if (ws.rejected != d->workers_rejected) {
			wt_warn("worker queue refused %" PRIu64 " job(s) since the last check",
				ws.rejected - d->workers_rejected);
			d->workers_rejected = ws.rejected;
		}
	}
	if (d->rules)
		wt_drules_maintain(d->rules);
	arm_janitor(d);
}

static void stop_cluster(struct daemon *d)
{
	char err[1024];

	if (!d->pg)
		return;
	if (wt_pgcluster_stop(d->pg, err, sizeof(err)) < 0)
		wt_error("private PostgreSQL: %s", err);
	d->pg = NULL;
}

static void teardown(struct daemon *d)
{
	/* Polling and the API first (no new samples or jobs), then the jobs
	 * (they may use storage), then storage (flushes every buffered sample
	 * into PostgreSQL or the spool; its last closes still reach the rules
	 * engine), then the rules (the alarm writer drains), then the
	 * database. */
	if (d->api) {
		wt_api_stop(d->api);
		d->api = NULL;
	}
	if (d->control) { /* pending outlet commands end as cancelled (audited) */
		wt_control_free(d->control);
		d->control = NULL;
	}
	if (d->series)
		wt_series_cache_set_targets(d->series, NULL, d->rules ? wt_drules_engine(d->rules) : NULL);
	if (d->discovery)
		wt_ddisc_stop(d->discovery);
	if (d->devices)
		wt_devices_stop(d->devices);
	if (d->sched) {
		wt_sched_free(d->sched);
		d->sched = NULL;
	}
	if (d->workers) {
		wt_workers_free(d->workers, true);
		d->workers = NULL;
	}
	if (d->storage) {
		wt_storage_close(d->storage);
		d->storage = NULL;
	}
	/* After storage (its last closes may still raise or clear alarms) and
	 * before the rules engine frees the alarm table notify listens to. */
	wt_dnotify_stop(d->notify, 5000);
	d->notify = NULL;
	wt_drules_free(d->rules);
	d->rules = NULL;
	wt_devices_free(d->devices);
	d->devices = NULL;
	wt_ddisc_free(d->discovery); /* after the pool: its registrations are done */
	d->discovery = NULL;
	wt_series_cache_free(d->series);
	d->series = NULL;
	wt_profiles_free(&d->profiles);
	stop_cluster(d);
	if (d->ev_term)
		event_free(d->ev_term);
	if (d->ev_int)
		event_free(d->ev_int);
	if (d->ev_hup)
		event_free(d->ev_hup);
	if (d->ev_janitor)
		event_free(d->ev_janitor);
	if (d->base)
		event_base_free(d->base);
	d->base = NULL;
	if (d->lock_fd >= 0) {
		close(d->lock_fd);
		d->lock_fd = -1;
	}
}

/* ---- the layers ---- */

static void on_samples(void *ctx, const struct wt_sample *s, size_t n)
{
	struct daemon *d = ctx;
	wt_storage_ingest(d->storage, s, n);
	if (d->rules)
		wt_drules_samples(d->rules, s, n);
}

static void on_api_audit(void *ctx, const struct wt_api_audit_event *ev)
{
	struct daemon *d = ctx;
	bool failed = strncmp(ev->kind, "login_", 6) == 0;
	bool login = strcmp(ev->kind, "login") == 0 || strcmp(ev->kind, "logout") == 0;
	struct wt_audit_event a = {
		.severity = strcmp(ev->severity, "warning") == 0 ? WT_AUDIT_WARNING : WT_AUDIT_INFO,
		.state = WT_AUDIT_DONE,
		.category = failed ? WT_AUDIT_LOGIN_FAILED : login ? WT_AUDIT_LOGIN : WT_AUDIT_CONFIG,
		.actor = ev->actor,
		.object_kind = "user",
		.message = ev->detail,
	};
	if (!d->rules || wt_dbq_audit(wt_drules_dbq(d->rules), &a) < 0)
		wt_warn("audit: event %s not recorded (queue full)", ev->kind);
}

/* Every outlet command attempt, refused ones included, goes to the audit log. */
static void on_ctl_audit(void *ctx, const struct wt_ctl_audit *a)
{
	struct daemon *d = ctx;
	char msg[300];
	snprintf(msg, sizeof(msg), "outlet %d/%ld of \"%s\": %s: %s", a->unit, a->outlet,
		 a->device_name ? a->device_name : "", a->action, a->result);
	struct wt_audit_event ev = {
		.severity = a->status ? WT_AUDIT_WARNING : WT_AUDIT_INFO,
		.state = WT_AUDIT_DONE,
		.category = WT_AUDIT_OUTLET,
		.actor = a->user && *a->user ? a->user : NULL,
		.object_kind = "device",
		.object_id = a->device_id,
		.message = msg,
	};
	wt_notice("audit: %s%s%s", msg, ev.actor ? " by " : "", ev.actor ? ev.actor : "");
	if (!d->rules || wt_dbq_audit(wt_drules_dbq(d->rules), &ev) < 0)
		wt_warn("audit: outlet event not recorded (queue full)");
}

/* The profiles directory: the setting, else the installed one, else the
 * source tree's (a build that was not installed). */
static const char *profiles_dir(const struct daemon *d, char *buf, size_t len)
{
	if (d->cfg.poll_profiles_dir && *d->cfg.poll_profiles_dir)
		return d->cfg.poll_profiles_dir;
	snprintf(buf, len, "%s/profiles", WT_DATADIR);
	if (file_exists(buf))
		return buf;
	snprintf(buf, len, "%s/pollers/profiles", WT_SOURCE_ROOT);
	return buf;
}

/* Gives the API the layers it reads and the reloadable api.* settings it
 * takes from them (again at each reload). */
static void api_layers(struct daemon *d)
{
	struct wt_api_layers layers = {
		.storage = d->storage,
		.rules = d->rules ? wt_drules_engine(d->rules) : NULL,
		.sched = d->sched,
		.control = d->control,
		.config = &d->cfg,
		/* struct wt_ddisc: wt_ddisc_start_scan, wt_ddisc_status */
		.discovery = d->discovery,
		/* re-reads structure and rules on a worker, then commits */
		.rules_changed = d->rules ? wt_drules_reload : NULL,
		.rules_changed_ctx = d->rules,
		.metrics_readings = d->cfg.api_metrics_readings,
		.discovery_scan = wt_ddisc_start_scan_with,
		.discovery_status = wt_ddisc_status,
		.notify = d->notify,
		.test_mail = wt_dnotify_test_mail,
		/* POST /probe runs this binary's `probe -` in a child */
		.probe_exe = "/proc/self/exe",
		/* PATCH /settings writes its changes back here, then calls us */
		.config_path = d->config_path,
		.settings_changed = api_settings_changed,
		.settings_changed_ctx = d,
	};
	wt_api_set_layers(d->api, &layers);
}

static int start_api(struct daemon *d, const char *conninfo)
{
	struct wt_api_options o;

	wt_api_options_default(&o);
	o.listen_address = d->cfg.api_listen;
	o.http_mode = (enum wt_http_mode)d->cfg.api_http;
	o.http_port = d->cfg.api_http_port;
	o.https_port = d->cfg.api_https_port;
	o.tls_cert_file = d->cfg.api_tls_cert;
	o.tls_key_file = d->cfg.api_tls_key;
	o.tls_key_passphrase = d->cfg.api_tls_key_passphrase;
	o.state_dir = d->cfg.state_dir;
	o.db_conninfo = conninfo;
	o.create_admin = true;
	int rc = wt_api_start(&d->api, &o, d->base, d->workers);
	if (rc < 0) {
		fatal(d, "cannot start the API on %s (http %d, https %d): %s", o.listen_address,
		      o.http_port, o.https_port, strerror(-rc));
		d->api = NULL;
		return rc;
	}
	wt_api_set_audit_hook(d->api, on_api_audit, d);
	api_layers(d);
	const char *host = strcmp(o.listen_address, "0.0.0.0") == 0 || strcmp(o.listen_address, "::") == 0
				   ? "localhost"
				   : o.listen_address;
	if (o.http_mode == WT_HTTP_ON)
		wt_notice("API listening on http://%s:%d/api/v1/", host, wt_api_http_port(d->api));
	if (o.https_port)
		wt_notice("API listening on https://%s:%d/api/v1/", host, wt_api_https_port(d->api));
	return 0;
}

/* Series cache, rules, drivers, scheduler, devices, API. Blocking reads
 * happen here, before the loop runs. */
static int start_layers(struct daemon *d, const char *conninfo)
{
	char dir[4096], mdir[4200];
	int rc;

	PGconn *pg = PQconnectdb(conninfo);
	if (PQstatus(pg) != CONNECTION_OK) {
		fatal(d, "cannot connect to PostgreSQL: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return -EIO;
	}
	rc = wt_series_cache_new(&d->series, d->base, d->workers, conninfo, d->storage);
	if (rc == 0)
		rc = wt_series_cache_load(d->series, pg);
	if (rc < 0) {
		fatal(d, "cannot load the series: %s", strerror(-rc));
		PQfinish(pg);
		return rc;
	}
	wt_info("%d device series known", rc);
	rc = wt_drules_start(&d->rules, d->base, d->workers, d->storage, conninfo, pg);
	PQfinish(pg);
	if (rc < 0) {
		fatal(d, "cannot start the rules engine: %s", strerror(-rc));
		d->rules = NULL;
		return rc;
	}
	/* Notifications subscribe to the engine's alarms before anything can
	 * raise one (polling starts below). */
	char nerr[1024];
	rc = wt_dnotify_start(&d->notify, &d->cfg, conninfo, d->base, d->workers,
			      wt_drules_engine(d->rules), nerr, sizeof(nerr));
	if (rc < 0) {
		fatal(d, "cannot start notifications: %s", nerr);
		d->notify = NULL;
		return rc;
	}

	const char *pdir = profiles_dir(d, dir, sizeof(dir));
	rc = wt_profiles_load_dir(&d->profiles, pdir);
	if (rc < 0) {
		fatal(d, "cannot read the profiles directory %s: %s", pdir, strerror(-rc));
		return rc;
	}
	wt_info("%d SNMP profiles loaded from %s", rc, pdir);
	snprintf(mdir, sizeof(mdir), "%s/modbus", pdir);
	wt_modbus_set_profiles_dir(mdir);

	d->env = (struct wt_driver_env){
		.base = d->base,
		.clock = &wt_clock_real,
		.profiles = &d->profiles,
		.resolver = wt_series_cache_resolver(d->series),
		.sink = {on_samples, d},
	};
	d->sched = wt_sched_new(&d->env);
	if (!d->sched) {
		fatal(d, "cannot create the poll scheduler");
		return -ENOMEM;
	}
	struct wt_devices_options dopt = {
		.conninfo = conninfo,
		.interval_ms = (int)d->cfg.poll_interval_ms,
		.timeout_ms = (int)d->cfg.poll_timeout_ms,
		.retries = d->cfg.poll_retries,
		.rescan_ms = (int)d->cfg.devices_rescan_ms,
	};
	rc = wt_devices_new(&d->devices, d->base, d->workers, d->sched,
			    wt_drules_engine(d->rules), &dopt);
	if (rc < 0) {
		fatal(d, "cannot start the device inventory: %s", strerror(-rc));
		return rc;
	}
	d->control = wt_control_new(d->base, &wt_clock_real, on_ctl_audit, d);
	if (!d->control) {
		fatal(d, "cannot create the outlet control queue");
		return -ENOMEM;
	}
	wt_devices_set_control(d->devices, d->control);
	wt_series_cache_set_targets(d->series, d->sched, wt_drules_engine(d->rules));
	wt_sched_on_state(d->sched, wt_devices_state, d->devices);
	wt_devices_on_change(d->devices, wt_drules_reload, d->rules);
	wt_devices_start(d->devices);

	/* Discovery registers what it finds; the inventory's rescan polls it. */
	struct wt_ddisc_options xo;
	char xerr[512];
	wt_ddisc_options_from_config(&d->cfg, conninfo, &xo);
	rc = wt_ddisc_new(&d->discovery, d->base, d->workers, &d->profiles,
			  wt_drules_dbq(d->rules), &xo, xerr, sizeof(xerr));
	if (rc < 0) {
		fatal(d, "cannot start discovery: %s", xerr);
		d->discovery = NULL;
		return rc;
	}
	wt_ddisc_start(d->discovery);

	return start_api(d, conninfo);
}

static int run(struct daemon *d)
{
	const char *conninfo = d->cfg.database_url;
	char err[2048];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	d->base = event_base_new();
	if (!d->base) {
		fprintf(stderr, "wattrack: cannot create the event loop\n");
		return EXIT_RUNTIME;
	}
	d->ev_term = evsignal_new(d->base, SIGTERM, on_stop_signal, d);
	d->ev_int = evsignal_new(d->base, SIGINT, on_stop_signal, d);
	d->ev_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	d->ev_janitor = evtimer_new(d->base, on_janitor, d);
	if (!d->ev_term || !d->ev_int || !d->ev_hup || !d->ev_janitor ||
	    evsignal_add(d->ev_term, NULL) < 0 || evsignal_add(d->ev_int, NULL) < 0 ||
	    evsignal_add(d->ev_hup, NULL) < 0) {
		fatal(d, "cannot install signal handlers");
		teardown(d);
		return EXIT_RUNTIME;
	}

	wt_notice("wattrack %s starting (pid %ld, config %s)", WT_VERSION, (long)getpid(),
		  d->config_path ? d->config_path : "defaults");
	log_settings(d);

	/* One daemon per state_dir: a second one would share the spool and
	 * take the first one's private cluster for a leftover and stop it. */
	char lock_path[4096];
	long holder;
	rc = wt_mkdir_p(d->cfg.state_dir, 0755); /* the postgres user traverses it */
	if (rc == 0) {
		snprintf(lock_path, sizeof(lock_path), "%s/wattrack.pid", d->cfg.state_dir);
		rc = wt_lock_pidfile(lock_path, &d->lock_fd, &holder);
	}
	if (rc == -EWOULDBLOCK) {
		fatal(d, "another wattrack (pid %ld) is running with state_dir %s", holder,
		      d->cfg.state_dir);
		teardown(d);
		return EXIT_RUNTIME;
	}
	if (rc < 0) {
		fatal(d, "cannot use state_dir %s: %s", d->cfg.state_dir, strerror(-rc));
		teardown(d);
		return EXIT_RUNTIME;
	}
	if (!*conninfo) {
		rc = wt_pgcluster_start(&d->pg, d->cfg.state_dir, err, sizeof(err));
		if (rc < 0) {
			fatal(d, "private PostgreSQL: %s", err);
			teardown(d);
			return EXIT_RUNTIME;
		}
		conninfo = wt_pgcluster_conninfo(d->pg);
	}

	/* The spool must exist before storage opens (with database.url set,
	 * nothing else creates the state directory). */
	rc = wt_mkdir_p(d->cfg.storage_spool_dir, 0750);
	if (rc < 0) {
		fatal(d, "cannot create the spool directory %s: %s", d->cfg.storage_spool_dir,
		      strerror(-rc));
		teardown(d);
		return EXIT_RUNTIME;
	}

	struct wt_workers_options wo = {
		.threads = d->cfg.workers_threads,
		.queue_max = (size_t)d->cfg.workers_queue_max,
		.name = "worker",
	};
	rc = wt_workers_new(&d->workers, d->base, &wo);
	if (rc < 0) {
		fatal(d, "cannot start %d worker threads: %s", wo.threads, strerror(-rc));
		teardown(d);
		return EXIT_RUNTIME;
	}

	struct wt_storage_options so;
	storage_options(&d->cfg, conninfo, &so);
	rc = wt_storage_open(&d->storage, &so, d->base, &wt_clock_real);
	if (rc < 0) {
		fatal(d, "cannot open storage (%s): %s", d->pg ? "private cluster" : "database.url",
		      strerror(-rc));
		d->storage = NULL;
		teardown(d);
		return EXIT_RUNTIME;
	}

	rc = start_layers(d, conninfo);
	if (rc < 0) {
		teardown(d);
		return EXIT_RUNTIME;
	}

	arm_janitor(d);
	loop_timer_slack();
	wt_notice("wattrack ready");
	rc = event_base_dispatch(d->base);
	if (rc < 0) {
		fatal(d, "the event loop failed");
		teardown(d);
		return EXIT_RUNTIME;
	}
	wt_notice("%s received: shutting down", d->stop_signal ? d->stop_signal : "stop");
	teardown(d);
	wt_notice("wattrack stopped");
	return 0;
}

/* ---- subcommands ---- */

static int probe_command(int argc, char **argv)
{
	/* Exit codes (0, 1, 2, 3, 64) are documented in pollers/probe.h. */
	return wt_probe_main(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'C'},
		{"dump-config", no_argument, NULL, 'D'},
		{"log-level", required_argument, NULL, 'l'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct daemon d = {.cli_log_level = -1, .lock_fd = -1};
	bool check = false, dump = false;
	int opt, rc;

	if (argc > 1 && strcmp(argv[1], "probe") == 0)
		return probe_command(argc, argv);
	/* Exit codes 0, 1 (profiles unreadable) and 64 (usage): pollers/discover.h. */
	if (argc > 1 && strcmp(argv[1], "discover") == 0)
		return wt_discover_main(argc - 1, argv + 1);

	while ((opt = getopt_long(argc, argv, "c:l:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d.config_path = optarg;
			d.config_explicit = true;
			break;
		case 'C':
			check = true;
			break;
		case 'D':
			dump = true;
			break;
		case 'l':
			d.cli_log_level = wt_log_level_parse(optarg);
			if (d.cli_log_level < 0) {
				fprintf(stderr,
					"wattrack: --log-level %s: not one of error, warning, "
					"notice, info, debug\n",
					optarg);
				return EXIT_CONFIG;
			}
			break;
		case 'V':
			printf("wattrack %s\n", WT_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "wattrack: unexpected argument \"%s\" (see --help)\n",
			argv[optind]);
		return EXIT_CONFIG;
	}

	wt_log_setup(false, "wattrack",
		     d.cli_log_level >= 0 ? (enum wt_log_level)d.cli_log_level : WT_LOG_INFO);
	if (!d.config_explicit && file_exists(DEFAULT_CONFIG))
		d.config_path = DEFAULT_CONFIG;

	rc = load_config(&d, &d.cfg, report_stderr);
	if (rc < 0) {
		fprintf(stderr, "wattrack: %s: configuration refused\n",
			d.config_path ? d.config_path : "defaults");
		wt_config_free(&d.cfg);
		return EXIT_CONFIG;
	}
	if (check) {
		/* The notify.* and discovery.* files and values, read as the
		 * daemon would read them at start-up. */
		char cerr[1024];
		struct wt_ddisc_options xo;
		const char *what = d.config_path ? d.config_path : "defaults";
		int bad = 0;
		rc = wt_dnotify_check(&d.cfg, cerr, sizeof(cerr));
		if (rc < 0) {
			fprintf(stderr, "%s\n", cerr);
			bad++;
		}
		wt_ddisc_options_from_config(&d.cfg, "", &xo);
		rc = wt_ddisc_check(&xo, cerr, sizeof(cerr));
		if (rc < 0) {
			fprintf(stderr, "%s\n", cerr);
			bad++;
		}
		if (bad) {
			fprintf(stderr, "wattrack: %s: configuration refused\n", what);
			wt_config_free(&d.cfg);
			return EXIT_CONFIG;
		}
		printf("%s: configuration OK\n", what);
		wt_config_free(&d.cfg);
		return 0;
	}
	if (dump) {
		wt_config_dump(&d.cfg, stdout);
		wt_config_free(&d.cfg);
		return 0;
	}
	if (!d.config_path)
		fprintf(stderr, "wattrack: no %s: running with the defaults\n", DEFAULT_CONFIG);

	apply_log_settings(&d);
	raise_nofile();
	rc = run(&d);
	wt_config_free(&d.cfg);
	libevent_global_shutdown();
	return rc;
}
