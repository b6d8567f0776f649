/* The daemon's network discovery: runs pollers/discover.h scans of the
 * discovery.* targets, ports, communities and v3 users (at start-up, every
 * discovery.interval, and on demand from the API), and registers every SNMP
 * device that answered and is not in the devices table yet: unassigned (no
 * rack), with the profile its sysObjectID matched (or none: registered in
 * that state, never dropped), and the credential that worked (never
 * logged). Each new device is audited ("device appeared"); the inventory's
 * next rescan starts polling it. Devices already present are left exactly
 * as the operator has them. Loop thread only. */
#ifndef WT_DAEMON_DISCOVERY_H
#define WT_DAEMON_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct wt_workers;
struct wt_profile_set;
struct wt_dbq;
struct wt_config;
struct wt_ddisc;

struct wt_ddisc_options {
	const char *conninfo;
	const char *targets;     /* comma-separated CIDRs and hosts; empty: off */
	const char *ports;       /* "161,21000-21199" */
	const char *communities; /* comma-separated; secret */
	const char *v3_file;     /* JSON list of v3 users, or empty */
	int64_t interval_ms;     /* 0: only at start-up and on demand */
	int concurrency;
	int rate;       /* probes started per second */
	int timeout_ms; /* per request */
};

/* Fills o from the discovery.* settings (pointers into cfg). */
void wt_ddisc_options_from_config(const struct wt_config *cfg, const char *conninfo,
				  struct wt_ddisc_options *o);

/* Checks the discovery.* settings and reads the v3 file without scanning
 * (for --check-config). 0 or -EINVAL/-ENOENT/-ENOMEM, reason in err (never
 * a secret). */
int wt_ddisc_check(const struct wt_ddisc_options *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Blocking set-up (reads the v3 file). audit may be NULL. Returns 0 or
 * -EINVAL with the reason in err. Nothing is scanned before
 * wt_ddisc_start. */
int wt_ddisc_new(struct wt_ddisc **out, struct event_base *base, struct wt_workers *workers,
		 const struct wt_profile_set *profiles, struct wt_dbq *audit,
		 const struct wt_ddisc_options *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Runs the first scan now (when targets are set) and arms the interval. */
void wt_ddisc_start(struct wt_ddisc *d);
/* Starts a scan now. targets NULL or empty: the configured ones. Returns
 * the scan's number (> 0), -EBUSY while a scan runs, -EINVAL (bad target or
 * nothing to scan; why in err), -E2BIG (too many addresses) or -ENOMEM. */
int wt_ddisc_start_scan(struct wt_ddisc *d, const char *targets, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* One scan's request (the API's): each field NULL or empty means the
 * configured discovery.* value. ports and communities apply to this scan
 * only; communities is secret (never logged nor shown in the status). */
struct wt_ddisc_scan {
	const char *targets;
	const char *ports;
	const char *communities;
};
/* As wt_ddisc_start_scan, with the request's ports and communities. */
int wt_ddisc_start_scan_with(struct wt_ddisc *d, const struct wt_ddisc_scan *q, char *err,
			     size_t errlen) __attribute__((warn_unused_result));
/* The last scan's record as malloc'd JSON text: {"scan", "state" (idle,
 * running, done), "targets", "ports", "started", "finished", "candidates",
 * "probed", "found", "registered", "known", "no_profile", "skipped",
 * "results": [{"host", "port", "status" (found, no_answer, refused),
 * "credential" (a label, never the secret), "sysobjectid", "sysdescr",
 * "sysname", "profile", "reason", "device_id", "action" (registered, known,
 * failed, skipped)}]} (skipped entries beyond 1000 only counted). NULL on
 * out of memory. */
char *wt_ddisc_status(const struct wt_ddisc *d);
/* Stops scanning (before the worker pool is freed); registrations already
 * queued finish. */
void wt_ddisc_stop(struct wt_ddisc *d);
/* After the worker pool was drained and freed. */
void wt_ddisc_free(struct wt_ddisc *d);

#endif
