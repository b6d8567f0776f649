/* The driver table: URL scheme -> ops. Modbus and Redfish add a row each. */
#include "driver.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pollers/snmp_dev.h"
/* fieldbus: Modbus and Redfish drivers */
#include "pollers/modbus_dev.h"
#include "pollers/redfish_dev.h"

static int snmp_create(const struct wt_driver_env *env, long device_id, const char *name,
		       const char *url, int timeout_ms, int retries, void **inst, char *err,
		       size_t errlen)
{
	struct wt_snmp_target t;
	int rc = wt_snmp_url_parse(url, &t, err, errlen);
	if (rc)
		return rc;
	t.timeout_ms = timeout_ms;
	t.retries = retries;
	struct wt_snmp_dev *d = wt_snmp_dev_new(env, device_id, name, &t, err, errlen);
	memset(&t, 0, sizeof t);
	if (!d)
		return -EINVAL;
	*inst = d;
	return 0;
}

static void snmp_destroy(void *inst)
{
	wt_snmp_dev_free(inst);
}

static int snmp_poll(void *inst, wt_poll_done_fn done, void *ctx)
{
	return wt_snmp_dev_poll(inst, done, ctx);
}

static void snmp_rebind(void *inst)
{
	wt_snmp_dev_rebind(inst);
}

static const char *snmp_last_error(void *inst)
{
	return wt_snmp_dev_error(inst);
}

/* fieldbus: outlet control through the driver table (pollers/control.h);
 * the outlet is found by (unit, index) in the bound model. */
static int snmp_control(void *inst, int unit, long outlet, int cmd, int verify_ms,
			void (*done)(void *ctx, int status), void *ctx)
{
	const struct wt_snmp_model *m = wt_snmp_dev_model(inst);
	if (!m)
		return -EAGAIN;
	if (cmd < 0 || cmd >= WT_CTL__COUNT)
		return -EINVAL;
	for (size_t e = 0; e < m->n_entities; e++)
		if (m->entities[e].kind == WT_ENT_OUTLET && m->entities[e].index == outlet &&
		    m->entities[e].unit == (unit > 0 ? unit : 1))
			return wt_snmp_dev_control(inst, e, (enum wt_ctl_cmd)cmd, verify_ms, done, ctx);
	return -ENOENT;
}

/* discowire: identity read at bind (sysDescr/sysObjectID and the profile's
 * identity OIDs), in the shape the Modbus/Redfish drivers return
 * (pollers/PROBE.md), so the inventory stores vendor/model/serial/firmware.
 * NULL before a bind succeeded. Never contains credentials. */
static char *snmp_describe(void *inst)
{
	static const char *const keys[WT_ID__COUNT] = {"vendor",   "model", "serial",
						       "firmware", "name",  "rating_a"};
	const struct wt_snmp_model *m = wt_snmp_dev_model(inst);
	const struct wt_snmp_sysinfo *si = wt_snmp_dev_sysinfo(inst);
	if (!m || !m->profile)
		return NULL;
	json_t *o = json_object();
	if (!o)
		return NULL;
	const char *e = wt_snmp_dev_error(inst);
	json_object_set_new(o, "format", json_integer(1));
	json_object_set_new(o, "protocol", json_string("snmp"));
	json_object_set_new(o, "error", e && *e ? json_string(e) : json_null());
	json_t *prof = json_object();
	json_object_set_new(prof, "name", json_string(m->profile->name));
	json_object_set_new(prof, "file",
			    m->profile->file ? json_string(m->profile->file) : json_null());
	json_object_set_new(prof, "device_type",
			    m->profile->device_type ? json_string(m->profile->device_type)
						    : json_null());
	json_object_set_new(o, "profile", prof);
	json_t *id = json_object();
	for (int i = 0; i < WT_ID__COUNT; i++)
		json_object_set_new(id, keys[i],
				    i == WT_ID_RATING
					    ? (m->rating > 0 ? json_real(m->rating) : json_null())
				    : m->ident[i] && *m->ident[i] ? json_string(m->ident[i])
								  : json_null());
	json_object_set_new(o, "identity", id);
	if (si) {
		json_t *sys = json_object();
		json_object_set_new(sys, "descr", json_string(si->descr));
		json_object_set_new(sys, "objectid", json_string(si->objectid));
		json_object_set_new(sys, "name", json_string(si->name));
		json_object_set_new(o, "system", sys);
	}
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static const struct wt_driver_ops snmp_ops = {
	.version = WT_DRIVER_OPS_VERSION,
	.name = "snmp",
	.create = snmp_create,
	.destroy = snmp_destroy,
	.poll = snmp_poll,
	.rebind = snmp_rebind,
	.last_error = snmp_last_error,
	.control = snmp_control,
	.describe = snmp_describe,
};

static const struct {
	const char *scheme;
	const struct wt_driver_ops *ops;
} drivers[] = {
	{"snmp", &snmp_ops},
	{"snmpv1", &snmp_ops},
	{"snmpv2c", &snmp_ops},
	{"snmpv3", &snmp_ops},
	/* fieldbus */
	{"modbus", &wt_modbus_ops},
	{"modbus+tcp", &wt_modbus_ops},
	{"redfish", &wt_redfish_ops},
	{"redfish+https", &wt_redfish_ops},
};

const struct wt_driver_ops *wt_driver_find(const char *scheme)
{
	for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
		if (strcmp(drivers[i].scheme, scheme) == 0)
			return drivers[i].ops->version == WT_DRIVER_OPS_VERSION ? drivers[i].ops : NULL;
	return NULL;
}
