/* One SNMP device: bind (identify, pick the profile, walk tables, read
 * static data) and poll (GETBULK/GET the dynamic readings in as few requests
 * as the device allows), one request in flight at a time. The scheduler drives it
 * through the driver ops (driver_snmp.c); probe uses it directly. */
#ifndef WT_POLLERS_SNMP_DEV_H
#define WT_POLLERS_SNMP_DEV_H

#include "pollers/driver.h"
#include "pollers/snmp_engine.h"
#include "pollers/snmp_model.h"

struct wt_snmp_dev;

/* Parses snmp://COMMUNITY@HOST:PORT, snmpv1://..., and
 * snmpv3://USER:AUTHPASS:PRIVPASS@HOST:PORT?auth=SHA-256&priv=AES&context=X&level=authPriv
 * (percent-escapes allowed in the user info). Returns 0 or -EINVAL with a
 * reason in err (never the secret). */
int wt_snmp_url_parse(const char *url, struct wt_snmp_target *t, char *err, size_t errlen)
	__attribute__((warn_unused_result));

struct wt_snmp_dev *wt_snmp_dev_new(const struct wt_driver_env *env, long device_id,
				    const char *name, const struct wt_snmp_target *t, char *err,
				    size_t errlen) __attribute__((warn_unused_result));
void wt_snmp_dev_free(struct wt_snmp_dev *d);
/* Starts one poll (with a bind first when not bound). */
int wt_snmp_dev_poll(struct wt_snmp_dev *d, wt_poll_done_fn done, void *ctx)
	__attribute__((warn_unused_result));
void wt_snmp_dev_rebind(struct wt_snmp_dev *d);
const char *wt_snmp_dev_error(const struct wt_snmp_dev *d);

/* What the device said about itself at bind. */
struct wt_snmp_sysinfo {
	char descr[256];
	char objectid[WT_OID_STR];
	char name[128];
	uint64_t uptime_ticks;
};
const struct wt_snmp_sysinfo *wt_snmp_dev_sysinfo(const struct wt_snmp_dev *d);
/* The bound model, NULL before bind or when no profile matched. */
const struct wt_snmp_model *wt_snmp_dev_model(const struct wt_snmp_dev *d);

/* Counters for tests and benchmarks. */
struct wt_snmp_dev_stats {
	unsigned long requests, timeouts, toobig, samples;
	unsigned long getbulk; /* poll requests sent as GETBULK (part of requests) */
	int max_oids;          /* current GET size / non-repeaters after adaptive halving */
	int max_rep;           /* current GETBULK repetitions after adaptive halving */
};
void wt_snmp_dev_stats(const struct wt_snmp_dev *d, struct wt_snmp_dev_stats *out);
/* How a poll reads the bound device (all zero before bind). */
void wt_snmp_dev_plan_info(const struct wt_snmp_dev *d, struct wt_snmp_plan_info *out);

/* Outlet control: SET the entity's control OID to the profile's value for
 * cmd, then re-read the outlet state until it matches (or verify_ms passes).
 * done gets 0, -ENOTSUP (not switchable / no such command), -EACCES
 * (refused: no permission), -EINVAL (the agent rejected the value),
 * -ETIMEDOUT, -EIO, or -EAGAIN (state not confirmed in time). entity is an
 * index into the model's entities. */
typedef void (*wt_snmp_ctl_done)(void *ctx, int status);
int wt_snmp_dev_control(struct wt_snmp_dev *d, size_t entity, enum wt_ctl_cmd cmd, int verify_ms,
			wt_snmp_ctl_done done, void *ctx) __attribute__((warn_unused_result));

#endif
