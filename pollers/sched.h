/* Poll scheduler and device state machine, protocol-independent: every
 * device has its own due time (starts spread over the interval), at most one
 * poll in flight, and a lifecycle changed in one function. Drivers are found
 * by URL scheme through the ops table (driver.h), so Modbus and Redfish
 * devices are scheduled by the same code. */
#ifndef WT_POLLERS_SCHED_H
#define WT_POLLERS_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pollers/driver.h"

enum wt_dev_state {
	WT_DEV_NEW = 0,      /* added, never polled */
	WT_DEV_OK,           /* last poll gave readings */
	WT_DEV_REBOOTED,     /* polled, and it restarted since (static data re-read) */
	WT_DEV_FAILING,      /* failures below the threshold: still polled at its interval */
	WT_DEV_UNREACHABLE,  /* communication lost: N failures in a row, backing off */
	WT_DEV_NO_PROFILE,   /* answers, but no profile matches; kept and retried slowly */
	WT_DEV_AUTH_FAILED,  /* credentials refused */
	WT_DEV__COUNT
};

const char *wt_dev_state_name(enum wt_dev_state s);

struct wt_dev_conf {
	long id;
	const char *name;
	const char *url;     /* snmp://..., snmpv3://... (secrets stay in the driver) */
	int interval_ms;     /* default 5000 */
	int timeout_ms;      /* per request, default 1000 */
	int retries;         /* per request, default 1 */
	int fail_threshold;  /* failures in a row before UNREACHABLE, default 3 */
	int backoff_cap_ms;  /* longest back-off, default 300000 */
};

struct wt_sched_stats {
	uint64_t polls;      /* polls started */
	uint64_t ok;         /* finished with readings */
	uint64_t failed;
	uint64_t missed;     /* due while the previous poll was still running */
	uint64_t late_ms_max; /* worst start lateness seen on a healthy device */
};

struct wt_dev_status {
	enum wt_dev_state state;
	int fails;           /* failures in a row */
	int interval_ms;     /* current (backed-off) interval */
	int64_t next_due_ms; /* when the next poll starts (Unix ms) */
	uint64_t polls, ok, missed;
	char reason[200];    /* last failure, no secrets */
};

/* Called on every state change (for alarms: communication loss is one). */
typedef void (*wt_state_fn)(void *ctx, long device_id, enum wt_dev_state from,
			    enum wt_dev_state to, const char *reason);

struct wt_sched;

struct wt_sched *wt_sched_new(const struct wt_driver_env *env) __attribute__((warn_unused_result));
/* Stops every device (pending polls are abandoned) and frees. */
void wt_sched_free(struct wt_sched *s);
void wt_sched_on_state(struct wt_sched *s, wt_state_fn fn, void *ctx);
/* Adds a device and schedules its first poll within one interval. Returns 0,
 * -EEXIST, -EINVAL (bad URL; reason in err without secrets), -ENOMEM. */
int wt_sched_add(struct wt_sched *s, const struct wt_dev_conf *c, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Removes a device; -ENOENT if unknown. */
int wt_sched_remove(struct wt_sched *s, long id);
int wt_sched_status(const struct wt_sched *s, long id, struct wt_dev_status *out)
	__attribute__((warn_unused_result));
/* Makes the device re-bind (re-read static data, re-resolve its series) at
 * its next poll; while a poll runs, right after it ends. -ENOENT if unknown. */
int wt_sched_rebind(struct wt_sched *s, long id);
/* The device's driver and instance (for outlet control, pollers/control.h;
 * valid until it is removed). -ENOENT if unknown. */
int wt_sched_instance(const struct wt_sched *s, long id, const struct wt_driver_ops **ops,
		      void **inst) __attribute__((warn_unused_result));
void wt_sched_stats(const struct wt_sched *s, struct wt_sched_stats *out);

#endif
