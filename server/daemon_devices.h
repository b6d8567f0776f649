/* The daemon's device inventory: keeps the scheduler in step with the
 * devices table (read at start-up and every rescan interval on a worker, so
 * devices added or removed through the API or SQL take effect without a
 * restart), writes device state changes back (on a worker), and feeds the
 * rules engine's built-in communication-loss and reboot alarms.
 *
 * Driver URLs are built from protocol, address, port, unit and the
 * credentials JSON (never logged):
 *   snmp:    {"community": "..."} (v2c; "version": "1" for v1) or
 *            {"user", "auth_pass", "priv_pass", "auth", "priv", "context", "level"} (v3)
 *   modbus:  {} (the unit column is the unit id; "profile" forces a profile)
 * The profile, vendor, model, serial and firmware columns are filled in from
 * what the driver reads at bind.
 *   redfish: {"user", "password", "tls": bool, "insecure": bool}
 * Loop thread only. */
#ifndef WT_DAEMON_DEVICES_H
#define WT_DAEMON_DEVICES_H

#include "pollers/sched.h"

#include <stddef.h>

struct event_base;
struct wt_workers;
struct wt_rules;
struct wt_devices;
struct wt_control;

struct wt_devices_options {
	const char *conninfo;
	int interval_ms; /* poll interval */
	int timeout_ms;  /* per request */
	int retries;
	int rescan_ms; /* how often the devices table is re-read */
};

int wt_devices_new(struct wt_devices **out, struct event_base *base, struct wt_workers *workers,
		   struct wt_sched *sched, struct wt_rules *rules,
		   const struct wt_devices_options *o) __attribute__((warn_unused_result));
/* Called after each inventory change (devices added, removed or changed). */
void wt_devices_on_change(struct wt_devices *d, void (*fn)(void *ctx), void *ctx);
/* Reads the table now (then every rescan_ms). */
void wt_devices_start(struct wt_devices *d);
/* The scheduler's state callback (ctx is the inventory). */
void wt_devices_state(void *ctx, long device_id, enum wt_dev_state from, enum wt_dev_state to,
		      const char *reason);
/* Outlet control: its commands for a device end before the device goes. */
void wt_devices_set_control(struct wt_devices *d, struct wt_control *c);
/* New poll settings (SIGHUP): every device is re-added with them at the
 * next rescan, which follows at once. */
void wt_devices_set_poll(struct wt_devices *d, int interval_ms, int timeout_ms, int retries);
/* Before the scheduler is freed: later completions no longer touch it. */
void wt_devices_stop(struct wt_devices *d);
/* Devices in the scheduler now. */
size_t wt_devices_count(const struct wt_devices *d);
/* Call after the worker pool was drained and freed. */
void wt_devices_free(struct wt_devices *d);

#endif
