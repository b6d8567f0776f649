/* The protocol-independent side of polling: the driver ops every protocol
 * implements (SNMP now; Modbus and Redfish reuse the same table), the
 * series resolver drivers call at bind, and the result of one poll.
 *
 * A driver turns a device into samples (series_id, value, ts, quality)
 * handed to a struct wt_sample_sink, and knows nothing else. */
#ifndef WT_POLLERS_DRIVER_H
#define WT_POLLERS_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/clock.h"
#include "server/model.h"

struct event_base;
struct wt_profile_set;

/* Resolves (device, unit, entity, metric) to a stable series id once, at
 * bind. unit is the daisy-chain unit (1 when not chained): the daemon maps
 * each unit behind one address to its own device. Returns 0 or a negative
 * errno (the reading is then not polled). */
struct wt_series_resolver {
	int (*resolve)(void *ctx, long device_id, int unit, int kind, long index,
		       const char *entity_name, int metric, uint32_t *series);
	void *ctx;
};

/* What one poll came to. */
enum wt_poll_result {
	WT_POLL_OK = 0,
	WT_POLL_REBOOTED,    /* polled, and the device restarted since the last poll */
	WT_POLL_FAILED,      /* timeout, network or protocol failure */
	WT_POLL_NO_PROFILE,  /* the device answers but no profile matches it */
	WT_POLL_AUTH,        /* credentials refused */
};

/* Everything a driver instance needs; owned by the caller, outlives it. */
struct wt_driver_env {
	struct event_base *base;
	const struct wt_clock *clock;
	const struct wt_profile_set *profiles;
	struct wt_series_resolver resolver;
	struct wt_sample_sink sink;
};

typedef void (*wt_poll_done_fn)(void *ctx, enum wt_poll_result r);

#define WT_DRIVER_OPS_VERSION 1

struct wt_driver_ops {
	unsigned version; /* WT_DRIVER_OPS_VERSION */
	const char *name; /* URL scheme family: "snmp" */
	/* Creates an instance for one device endpoint URL. err gets a reason
	 * without secrets. */
	int (*create)(const struct wt_driver_env *env, long device_id, const char *name,
		      const char *url, int timeout_ms, int retries, void **inst, char *err,
		      size_t errlen);
	void (*destroy)(void *inst);
	/* Starts one poll (binding first when needed); calls done exactly once,
	 * later, from the loop. Returns 0, or a negative errno if it could not
	 * start (done is then not called). */
	int (*poll)(void *inst, wt_poll_done_fn done, void *ctx);
	/* Forgets the bound profile so the next poll re-reads static data. */
	void (*rebind)(void *inst);
	/* A short human reason for the last failure ("timeout", "no profile for
	 * sysObjectID 1.3.6.1.4.1.9999.1"), never a secret. */
	const char *(*last_error)(void *inst);
	/* --- optional ops appended by the Modbus/Redfish work (fieldbus); still
	 * version 1: NULL means unsupported. --- */
	/* Switches outlet (unit, index) with cmd (enum wt_ctl_cmd in
	 * pollers/profile.h), then re-reads its state until the device
	 * confirms or verify_ms passes. done(ctx, status) runs once, later, on
	 * the loop: 0 confirmed, -ENOENT no such outlet, -ENOTSUP not
	 * switchable or no such command, -EACCES no permission on the device,
	 * -EINVAL refused by the device, -ETIMEDOUT no answer, -EAGAIN accepted
	 * but not confirmed in time, -EIO other failure. Returns 0, or a
	 * negative errno if it could not start (done is then not called). The
	 * caller (pollers/control.h) serialises commands per device; destroy
	 * abandons a pending command without calling done. */
	int (*control)(void *inst, int unit, long outlet, int cmd, int verify_ms,
		       void (*done)(void *ctx, int status), void *ctx);
	/* What the device is, as malloc'd JSON text (identity, entities, last
	 * readings; format of pollers/PROBE.md), or NULL. For `wattrack probe`. */
	char *(*describe)(void *inst);
};

/* The driver for a URL scheme ("snmp", "snmpv3" -> the SNMP driver), or NULL. */
const struct wt_driver_ops *wt_driver_find(const char *scheme);

#endif
