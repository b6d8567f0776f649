/* POST /api/v1/devices/{id}/outlets/{n}/on|off|cycle: outlet switching.
 * The body must confirm ({"confirm": true}) and give a reason; the request
 * (who, what, why) goes to the audit log before anything is switched, and
 * pollers/control.h records the result. "on" needs the outlet_on
 * permission, "off" outlet_off, "cycle" both (it switches off first).
 *
 * The worker checks the device and outlet and writes the audit entry; the
 * loop hands the command to the control layer and the reply waits until
 * the device confirms the new state or the command fails. */
#include "db.h"
#include "request.h"

#include "pollers/control.h"
#include "pollers/sched.h"
#include "rules/audit.h"
#include "rules/rulesdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERIFY_MS 15000

static int cmd_of(const struct wt_api_req *r)
{
	const char *p = strrchr(r->route->path, '/');
	if (p && strcmp(p, "/on") == 0)
		return WT_CTL_ON;
	if (p && strcmp(p, "/off") == 0)
		return WT_CTL_OFF;
	return WT_CTL_CYCLE;
}

void wt_h_outlet(struct wt_api_req *r)
{
	char id[24], idx[24], st[6], details[768], msg[1024];
	int cmd = cmd_of(r);
	const char *reason = json_string_value(json_object_get(r->body, "reason"));
	if (cmd == WT_CTL_CYCLE && !wt_perm_allows(r->who.perms, WT_P_OUTLET_ON | WT_P_OUTLET_OFF)) {
		wt_api_fail(r, 403, "FORBIDDEN",
			    "power-cycling needs the \"%s\" and \"%s\" permissions",
			    wt_perm_name(WT_P_OUTLET_ON), wt_perm_name(WT_P_OUTLET_OFF));
		return;
	}
	if (!json_is_true(json_object_get(r->body, "confirm"))) {
		wt_api_fail(r, 400, "CONFIRMATION_REQUIRED",
			    "field \"confirm\": must be true to switch an outlet");
		return;
	}
	if (!reason || !reason[strspn(reason, " \t\r\n")]) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"reason\": say why the outlet is switched");
		return;
	}
	snprintf(id, sizeof(id), "%lld", (long long)r->ids[0]);
	snprintf(idx, sizeof(idx), "%lld", (long long)r->ids[1]);
	const char *p[] = {id, idx};
	PGresult *res = wt_api_db_exec(r->db,
				       "SELECT d.name, greatest(d.unit, 1), e.name,"
				       " coalesce((e.attributes->>'unit')::int, greatest(d.unit, 1))"
				       " FROM devices d LEFT JOIN entities e ON e.device_id = d.id"
				       " AND e.kind = 'outlet' AND e.idx = $2 WHERE d.id = $1",
				       2, p, st);
	if (!res) {
		wt_api_fail_db(r, "reading the outlet");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail(r, 404, "DEVICE_NOT_FOUND", "device %s does not exist", id);
		return;
	}
	if (PQgetisnull(res, 0, 2)) {
		wt_api_fail(r, 404, "OUTLET_NOT_FOUND", "device %s \"%.64s\" has no outlet %s", id,
			    PQgetvalue(res, 0, 0), idx);
		PQclear(res);
		return;
	}
	json_t *j = json_pack("{s:I,s:s,s:I,s:s,s:i,s:s,s:s}", "device_id", (json_int_t)r->ids[0],
			      "device", PQgetvalue(res, 0, 0), "outlet", (json_int_t)r->ids[1],
			      "outlet_name", PQgetvalue(res, 0, 2), "unit",
			      (int)strtol(PQgetvalue(res, 0, 3), NULL, 10), "action",
			      wt_ctl_cmd_name(cmd), "reason", reason);
	PQclear(res);
	if (wt_api_need(r, r->layers.control, "outlet control") ||
	    wt_api_need(r, r->layers.sched, "scheduler")) {
		json_decref(j);
		return;
	}
	/* Who, what and why, before anything is switched. */
	char *dj = json_dumps(j, JSON_COMPACT);
	snprintf(details, sizeof(details), "%s", dj ? dj : "{}");
	free(dj);

	snprintf(msg, sizeof(msg), "%s asked to switch outlet %s (\"%.64s\") of \"%.64s\" %s: %.200s",
		 r->who.username, idx, json_string_value(json_object_get(j, "outlet_name")),
		 json_string_value(json_object_get(j, "device")), wt_ctl_cmd_name(cmd), reason);
	struct wt_audit_event ev = {
		.severity = cmd == WT_CTL_ON ? WT_AUDIT_INFO : WT_AUDIT_WARNING,
		.state = WT_AUDIT_OPEN,
		.category = WT_AUDIT_OUTLET,
		.actor = r->who.username,
		.object_kind = "device",
		.object_id = r->ids[0],
		.message = msg,
		.details = details,
	};
	int64_t aid = 0;
	if (wt_rulesdb_audit_insert(r->db, &ev, &aid) < 0) {
		json_decref(j);
		/* Never switch what could not be recorded. */
		wt_api_fail_db(r, "recording the request in the audit log");
		return;
	}
	json_object_set_new(j, "audit_id", json_integer(aid));
	wt_api_ok(r, 200, j);
}

static void on_done(void *ctx, int status, const char *reason)
{
	struct wt_api_req *r = ctx;
	if (status == 0) {
		json_object_set_new(r->reply, "result", json_string("ok"));
		wt_api_audit(r, "outlet_switched", "warning", r->who.username,
			     "outlet %lld of device %lld switched %s",
			     (long long)r->ids[1], (long long)r->ids[0],
			     json_string_value(json_object_get(r->reply, "action")));
	} else {
		int code = status == -ENOENT ? 404 : status == -EBUSY ? 409 :
			   status == -ETIMEDOUT || status == -EAGAIN ? 504 : status == -ECANCELED ? 503 : 502;
		wt_api_fail(r, code, "OUTLET_NOT_SWITCHED", "the device did not switch the outlet: %s",
			    reason ? reason : wt_control_reason(status));
	}
	wt_api_finish(r);
}

void wt_h_outlet_after(struct wt_api_req *r)
{
	const struct wt_driver_ops *ops = NULL;
	void *inst = NULL;
	if (wt_api_need(r, r->layers.control, "outlet control") ||
	    wt_api_need(r, r->layers.sched, "scheduler"))
		return;
	if (wt_sched_instance(r->layers.sched, (long)r->ids[0], &ops, &inst) != 0) {
		r->retry_after = 5;
		wt_api_fail(r, 503, "DEVICE_NOT_POLLED",
			    "device %lld is not being polled yet; retry shortly", (long long)r->ids[0]);
		return;
	}
	struct wt_ctl_request req = {
		.device_id = (long)r->ids[0],
		.device_name = json_string_value(json_object_get(r->reply, "device")),
		.ops = ops,
		.inst = inst,
		.user = r->who.username,
		.unit = (int)json_integer_value(json_object_get(r->reply, "unit")),
		.outlet = (long)r->ids[1],
		.cmd = cmd_of(r),
		.verify_ms = VERIFY_MS,
	};
	if (wt_control_outlet(r->layers.control, &req, on_done, r) < 0) {
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	r->deferred = true;
}
