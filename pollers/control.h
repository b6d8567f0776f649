/* Outlet control over every protocol (SNMP, Modbus, Redfish): one function
 * to switch an outlet on, off or cycle it (now, or after the device's own
 * delay), through the driver's control op (pollers/driver.h).
 *
 * Commands to one device are serialised: a second command waits until the
 * first is confirmed or failed. A command finishes when the device confirms
 * the new state by re-reading it, or fails with a clear reason. Every
 * attempt, refused ones included, becomes one audit event through the hook
 * given at creation (the daemon connects it to the audit log; pollers never
 * include rules/). */
#ifndef WT_POLLERS_CONTROL_H
#define WT_POLLERS_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "pollers/driver.h"
#include "pollers/profile.h"

struct event_base;
struct wt_control;

/* What was asked, for wt_control_outlet. The strings are copied. */
struct wt_ctl_request {
	long device_id;
	const char *device_name;
	const struct wt_driver_ops *ops; /* the device's driver */
	void *inst;                      /* its instance (owned by the scheduler) */
	const char *user;                /* who asked ("" for the system) */
	int unit;                        /* daisy-chain unit, 1 when not chained */
	long outlet;                     /* outlet index as the poller reports it */
	enum wt_ctl_cmd cmd;
	int verify_ms; /* how long to wait for the confirming re-read */
};

/* One audit event: every attempt, with its result. */
struct wt_ctl_audit {
	const char *user;
	long device_id;
	const char *device_name;
	int unit;
	long outlet;
	const char *action; /* "on", "off", "cycle", "delayed_on", ... */
	int status;         /* 0 or a negative errno as listed in driver.h */
	const char *result; /* "ok", "not switchable", "refused", "timeout", "no permission",
			       "no such outlet", "not confirmed", "busy", "cancelled", "failed" */
	int64_t requested_ms, finished_ms;
};
typedef void (*wt_ctl_audit_fn)(void *ctx, const struct wt_ctl_audit *a);

/* The caller's answer: status 0 or a negative errno, reason as in audit. */
typedef void (*wt_ctl_done_fn)(void *ctx, int status, const char *reason);

struct wt_control *wt_control_new(struct event_base *base, const struct wt_clock *clock,
				  wt_ctl_audit_fn audit, void *audit_ctx)
	__attribute__((warn_unused_result));
/* Pending commands end with -ECANCELED (done and audit called). */
void wt_control_free(struct wt_control *c);

/* Queues a command; done runs once, later, on the loop. Returns 0, or
 * -ENOMEM (nothing called). */
int wt_control_outlet(struct wt_control *c, const struct wt_ctl_request *req, wt_ctl_done_fn done,
		      void *ctx) __attribute__((warn_unused_result));

/* Call right before the device's instance is destroyed: its queued and
 * running commands end with -ECANCELED. */
void wt_control_forget(struct wt_control *c, long device_id);

/* The short reason for a status ("not switchable", "timeout", ...). */
const char *wt_control_reason(int status);

#endif
