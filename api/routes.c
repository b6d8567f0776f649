/* The route table: every API operation is one row with its method, path,
 * required permission and handler. Later resources (devices, readings,
 * structure, rules, alarms, audit, outlets, export, stream) are added as
 * rows here, e.g.
 *   {WT_POST, "/api/v1/outlets/{id}/on", WT_P_OUTLET_ON, 0, NULL, wt_h_outlet_on, ...}
 * and appear in the OpenAPI document and the role checks automatically. */
#include "request.h"

#include <stdlib.h>
#include <string.h>

static const struct wt_field login_body[] = {
	{"username", WT_F_STRING, true, 128, "local or directory user name"},
	{"password", WT_F_STRING, true, 1024, "the password"},
	{NULL},
};

static const struct wt_field password_body[] = {
	{"current_password", WT_F_STRING, true, 1024, "the password now"},
	{"new_password", WT_F_STRING, true, 1024, "the new password (policy applies)"},
	{NULL},
};

static const struct wt_field user_create_body[] = {
	{"username", WT_F_STRING, true, 64, "letters, digits, . _ - @; unique"},
	{"password", WT_F_STRING, true, 1024, "initial password (policy applies)"},
	{"roles", WT_F_STRING_ARRAY, true, 8,
	 "any of admin, readwrite, power, poweron, poweroff, readonly"},
	{"full_name", WT_F_STRING, false, 128, "display name"},
	{"email", WT_F_STRING, false, 128, "e-mail address"},
	{"must_change", WT_F_BOOLEAN, false, 0, "force a password change at first login (true)"},
	{NULL},
};

static const struct wt_field user_update_body[] = {
	{"password", WT_F_STRING, false, 1024, "new password (policy applies); ends the user's sessions"},
	{"roles", WT_F_STRING_ARRAY, false, 8, "replaces the roles"},
	{"full_name", WT_F_STRING, false, 128, "display name"},
	{"email", WT_F_STRING, false, 128, "e-mail address"},
	{"must_change", WT_F_BOOLEAN, false, 0, "force a password change at next login"},
	{"disabled", WT_F_BOOLEAN, false, 0, "refuse logins and end sessions and tokens"},
	{NULL},
};

static const struct wt_field token_create_body[] = {
	{"name", WT_F_STRING, true, 64, "what the token is for"},
	{"roles", WT_F_STRING_ARRAY, false, 8, "a subset of the caller's roles (default: all of them)"},
	{"expires_days", WT_F_INTEGER, false, 0, "lifetime in days (default: no expiry)"},
	{NULL},
};

static const struct wt_field device_create_body[] = {
	{"name", WT_F_STRING, true, 200, "display name"},
	{"protocol", WT_F_STRING, true, 16, "snmp, modbus or redfish"},
	{"address", WT_F_STRING, true, 253, "host name or IP address"},
	{"port", WT_F_INTEGER, false, 0, "TCP/UDP port (161, 502 or 443 by protocol)"},
	{"unit", WT_F_INTEGER, false, 0, "daisy-chain unit or Modbus unit id (0)"},
	{"credentials", WT_F_OBJECT, false, 16,
	 "write-only: {community} | {user, auth_pass, priv_pass, auth, priv, level} | {user, password, tls, insecure}"},
	{"rating_a", WT_F_NUMBER, false, 0, "rated current, A"},
	{"feed", WT_F_STRING, false, 8, "A, B, C, D or none"},
	{"location", WT_F_STRING, false, 200, "free text"},
	{NULL},
};

static const struct wt_field device_update_body[] = {
	{"name", WT_F_STRING, false, 200, "display name"},
	{"protocol", WT_F_STRING, false, 16, "snmp, modbus or redfish"},
	{"address", WT_F_STRING, false, 253, "host name or IP address"},
	{"port", WT_F_INTEGER, false, 0, "TCP/UDP port"},
	{"unit", WT_F_INTEGER, false, 0, "daisy-chain unit or Modbus unit id"},
	{"credentials", WT_F_OBJECT, false, 16, "write-only; replaces the stored credentials whole"},
	{"rating_a", WT_F_NUMBER, false, 0, "rated current, A"},
	{"feed", WT_F_STRING, false, 8, "A, B, C, D or none"},
	{"location", WT_F_STRING, false, 200, "free text"},
	{NULL},
};

static const struct wt_field entity_update_body[] = {
	{"name", WT_F_STRING, false, 200, "name of the outlet, inlet, branch or sensor"},
	{"on_delay_s", WT_F_INTEGER, false, 0, "outlets: delay before switching on, s"},
	{"off_delay_s", WT_F_INTEGER, false, 0, "outlets: delay before switching off, s"},
	{NULL},
};

static const struct wt_field placement_body[] = {
	{"rack_id", WT_F_INTEGER, true, 0, "the rack"},
	{"feed", WT_F_STRING, false, 8, "A, B, C, D or none"},
	{NULL},
};

static const struct wt_field element_create_body[] = {
	{"kind", WT_F_STRING, true, 16, "datacenter, room, row or rack"},
	{"name", WT_F_STRING, true, 200, "display name"},
	{"parent_id", WT_F_INTEGER, false, 0, "the element above (none for a data centre)"},
	{"budget_w", WT_F_NUMBER, false, 0, "racks: power budget, W"},
	{"budget_a", WT_F_NUMBER, false, 0, "racks: current budget per phase, A"},
	{NULL},
};

static const struct wt_field element_update_body[] = {
	{"name", WT_F_STRING, false, 200, "display name"},
	{"parent_id", WT_F_INTEGER, false, 0, "move under another element of the level above"},
	{"budget_w", WT_F_NUMBER, false, 0, "racks: power budget, W (0: none)"},
	{"budget_a", WT_F_NUMBER, false, 0, "racks: current budget per phase, A (0: none)"},
	{NULL},
};

static const struct wt_field outlet_body[] = {
	{"confirm", WT_F_BOOLEAN, true, 0, "must be true: switching cuts or restores power"},
	{"reason", WT_F_STRING, true, 500, "why; written to the audit log"},
	{NULL},
};

static const struct wt_field rule_body[] = {
	{"name", WT_F_STRING, true, 200, "display name"},
	{"metric", WT_F_STRING, true, 32, "current, power_active, temperature, ..."},
	{"scope", WT_F_STRING, false, 16, "global (default), type, model, device, entity, dc, room, row, rack"},
	{"scope_id", WT_F_INTEGER, false, 0, "device, entity or element id for those scopes"},
	{"scope_text", WT_F_STRING, false, 64, "device type or model for those scopes"},
	{"target_kind", WT_F_STRING, false, 16, "only this kind of part (outlet, phase, ...) or element"},
	{"critical_above", WT_F_NUMBER, false, 0, "critical when above"},
	{"warning_above", WT_F_NUMBER, false, 0, "warning when above"},
	{"warning_below", WT_F_NUMBER, false, 0, "warning when below"},
	{"critical_below", WT_F_NUMBER, false, 0, "critical when below"},
	{"hysteresis", WT_F_NUMBER, false, 0, "clear only this far back past the threshold"},
	{"dwell_s", WT_F_INTEGER, false, 0, "raise only after the condition held this long"},
	{"repeat_s", WT_F_INTEGER, false, 0, "repeat notifications while active (0: never)"},
	{"enabled", WT_F_BOOLEAN, false, 0, "true (default)"},
	{NULL},
};

static const struct wt_field ack_body[] = {
	{"comment", WT_F_STRING, false, 1000, "why, what is being done"},
	{NULL},
};

static const struct wt_field audit_update_body[] = {
	{"state", WT_F_STRING, true, 16, "open, investigating or done"},
	{"comment", WT_F_STRING, false, 1000, "a comment recorded with the change"},
	{NULL},
};

static const struct wt_field audit_comment_body[] = {
	{"comment", WT_F_STRING, true, 1000, "the comment"},
	{NULL},
};

static const struct wt_field probe_body[] = {
	{"url", WT_F_STRING, true, 2048,
	 "snmp://COMMUNITY@HOST[:PORT], snmpv3://USER:AUTH:PRIV@HOST?auth=&priv=, "
	 "modbus://HOST[:PORT]?unit=N, redfish[+https]://USER:PASS@HOST (credentials write-only)"},
	{"timeout_ms", WT_F_INTEGER, false, 0, "per-request timeout, 100..10000 (1000)"},
	{"deadline_s", WT_F_INTEGER, false, 0,
	 "the whole probe, 1..300 (15, or 20 request timeouts if longer); past it: 504"},
	{NULL},
};

static const struct wt_field discovery_body[] = {
	{"targets", WT_F_STRING, false, 4096,
	 "comma-separated CIDRs and hosts (default: discovery.targets)"},
	{"ports", WT_F_STRING, false, 256, "\"161,21000-21199\" (default: discovery.ports)"},
	{"communities", WT_F_STRING, false, 1024,
	 "write-only: comma-separated, for this scan only (default: discovery.communities)"},
	{NULL},
};

static const struct wt_field settings_body[] = {
	{WT_FIELD_ANY, WT_F_SCALAR, false, 1024,
	 "setting name -> new value, e.g. {\"poll.interval\": \"10s\"}; reloadable settings only"},
	{NULL},
};

static const struct wt_field test_mail_body[] = {
	{"to", WT_F_STRING, true, 254, "one e-mail address"},
	{NULL},
};

const struct wt_api_route wt_api_routes[] = {
	{WT_GET, "/api/v1/version", WT_P_PUBLIC, WT_RF_LOOP, NULL, wt_h_version,
	 "Server version and API level", "meta", 200, NULL, NULL},
	{WT_GET, "/api/v1/health", WT_P_PUBLIC, WT_RF_LOOP, NULL, wt_h_health,
	 "Basic health: up, database reachable", "meta", 200, NULL, NULL},
	{WT_GET, "/api/v1/openapi.json", WT_P_PUBLIC, WT_RF_LOOP, NULL, wt_h_openapi,
	 "This OpenAPI 3 document", "meta", 200, NULL, NULL},
	{WT_GET, "/api/v1/roles", WT_P_READ, WT_RF_LOOP, NULL, wt_h_roles,
	 "Roles and the permissions each grants", "meta", 200, NULL, NULL},

	{WT_POST, "/api/v1/session", WT_P_PUBLIC, WT_RF_NO_CSRF, login_body, wt_h_login,
	 "Log in: sets the session cookie, returns the CSRF token", "session", 200, NULL, NULL},
	{WT_GET, "/api/v1/session", WT_P_AUTH, 0, NULL, wt_h_whoami,
	 "Who am I: user, roles, permissions", "session", 200, NULL, NULL},
	{WT_DELETE, "/api/v1/session", WT_P_AUTH, WT_RF_MUST_CHANGE_OK, NULL, wt_h_logout,
	 "Log out: ends this session", "session", 204, NULL, NULL},
	{WT_POST, "/api/v1/session/password", WT_P_AUTH, WT_RF_MUST_CHANGE_OK, password_body,
	 wt_h_change_password, "Change my password (local accounts)", "session", 204, NULL, NULL},

	{WT_GET, "/api/v1/users", WT_P_USERS, 0, NULL, wt_h_users_list, "List users", "users", 200, NULL, NULL},
	{WT_POST, "/api/v1/users", WT_P_USERS, 0, user_create_body, wt_h_users_create,
	 "Create a local user", "users", 201, NULL, NULL},
	{WT_GET, "/api/v1/users/{id}", WT_P_USERS, 0, NULL, wt_h_users_get, "One user", "users", 200, NULL, NULL},
	{WT_PATCH, "/api/v1/users/{id}", WT_P_USERS, 0, user_update_body, wt_h_users_update,
	 "Change a user's roles, password, names or state", "users", 200, NULL, NULL},
	{WT_DELETE, "/api/v1/users/{id}", WT_P_USERS, 0, NULL, wt_h_users_delete,
	 "Delete a user, their sessions and tokens", "users", 204, NULL, NULL},

	{WT_GET, "/api/v1/tokens", WT_P_AUTH, 0, NULL, wt_h_tokens_list,
	 "My API tokens (all users' with ?all=1 for user admins)", "tokens", 200, NULL, NULL},
	{WT_POST, "/api/v1/tokens", WT_P_AUTH, 0, token_create_body, wt_h_tokens_create,
	 "Create an API token; the secret is shown once", "tokens", 201, NULL, NULL},
	{WT_DELETE, "/api/v1/tokens/{id}", WT_P_AUTH, 0, NULL, wt_h_tokens_revoke,
	 "Revoke a token", "tokens", 204, NULL, NULL},
	{WT_GET, "/api/v1/health/detail", WT_P_READ, 0, NULL, wt_h_health_detail,
	 "Health of every subsystem: storage, spool, scheduler, workers", "meta", 200,
	 wt_h_health_detail_after, NULL},
	{WT_GET, "/api/v1/settings", WT_P_SETTINGS, 0, NULL, wt_h_settings,
	 "Effective settings (secrets masked), defaults, which apply on reload", "meta", 200,
	 wt_h_settings_after, NULL},
	{WT_PATCH, "/api/v1/settings", WT_P_SETTINGS, 0, settings_body, wt_h_settings_patch,
	 "Change reloadable settings: all or nothing, audited, written back to the "
	 "configuration file", "meta", 200, wt_h_settings_patch_after, wt_h_settings_patch_before},
	{WT_POST, "/api/v1/notifications/test-mail", WT_P_SETTINGS, 0, test_mail_body,
	 wt_h_test_mail, "Send a test e-mail with the notify.mail settings: delivered, or the "
	 "SMTP error", "meta", 200, NULL, NULL},
	{WT_GET, "/metrics", WT_P_READ, 0, NULL, wt_h_metrics,
	 "Prometheus metrics (text format 0.0.4): polls, failures, queues, spool, write latency",
	 "meta", 200, wt_h_metrics_after, NULL},

	{WT_GET, "/api/v1/devices", WT_P_READ, 0, NULL, wt_h_devices_list,
	 "Devices, a page at a time: ?filter=all|assigned|unassigned&q=name&"
	 "sort=name|type|alarm|chain&limit=100&offset=0 (total and next_offset in the reply)",
	 "devices",
	 200, wt_h_devices_list_after, wt_h_devices_list_before},
	{WT_POST, "/api/v1/devices", WT_P_CONFIGURE, 0, device_create_body, wt_h_devices_create,
	 "Add a device (credentials are write-only)", "devices", 201, wt_h_device_get_after, NULL},
	{WT_POST, "/api/v1/probe", WT_P_CONFIGURE, 0, probe_body, wt_h_probe,
	 "Probe a device URL before adding it: what `wattrack probe` prints (identity, profile, "
	 "readings); 429 beyond 4 at once, 504 past the deadline", "devices", 200,
	 wt_h_probe_after, NULL},
	{WT_POST, "/api/v1/discovery", WT_P_CONFIGURE, 0, discovery_body, wt_h_discovery_start,
	 "Start a discovery scan (409 while one runs); new SNMP devices are registered "
	 "unassigned", "devices", 202, wt_h_discovery_start_after, NULL},
	{WT_GET, "/api/v1/discovery", WT_P_READ, 0, NULL, wt_h_discovery_status,
	 "The running or last discovery scan: state, progress, found (with profile), skipped "
	 "(with why)", "devices", 200, wt_h_discovery_status_after, NULL},
	{WT_GET, "/api/v1/devices/{id}", WT_P_READ, 0, NULL, wt_h_device_get,
	 "One device: identity, totals, inlets, phases, branches, outlets, sensors with live readings",
	 "devices", 200, wt_h_device_get_after, NULL},
	{WT_PATCH, "/api/v1/devices/{id}", WT_P_CONFIGURE, 0, device_update_body,
	 wt_h_devices_update, "Edit a device: name, endpoint, credentials, rating, feed, location",
	 "devices", 200, wt_h_device_get_after, NULL},
	{WT_DELETE, "/api/v1/devices/{id}", WT_P_CONFIGURE, 0, NULL, wt_h_devices_delete,
	 "Remove a device and its history", "devices", 204, NULL, NULL},
	{WT_PATCH, "/api/v1/devices/{id}/entities/{id}", WT_P_CONFIGURE, 0, entity_update_body,
	 wt_h_entity_update, "Name an outlet, inlet, branch or sensor; outlet delays", "devices",
	 200, NULL, NULL},
	{WT_PUT, "/api/v1/devices/{id}/placement", WT_P_CONFIGURE, 0, placement_body,
	 wt_h_placement_set, "Assign a device to a rack and feed", "structure", 200,
	 wt_h_rules_changed, NULL},
	{WT_DELETE, "/api/v1/devices/{id}/placement", WT_P_CONFIGURE, 0, NULL,
	 wt_h_placement_delete, "Unassign a device from its rack", "structure", 204,
	 wt_h_rules_changed, NULL},

	{WT_POST, "/api/v1/devices/{id}/outlets/{id}/on", WT_P_OUTLET_ON, 0, outlet_body,
	 wt_h_outlet, "Switch an outlet on (answers once the device confirms)", "outlets", 200,
	 wt_h_outlet_after, NULL},
	{WT_POST, "/api/v1/devices/{id}/outlets/{id}/off", WT_P_OUTLET_OFF, 0, outlet_body,
	 wt_h_outlet, "Switch an outlet off (answers once the device confirms)", "outlets", 200,
	 wt_h_outlet_after, NULL},
	{WT_POST, "/api/v1/devices/{id}/outlets/{id}/cycle", WT_P_OUTLET_OFF, 0, outlet_body,
	 wt_h_outlet, "Power-cycle an outlet (needs outlet_on as well)", "outlets", 200,
	 wt_h_outlet_after, NULL},

	{WT_GET, "/api/v1/readings", WT_P_READ, 0, NULL, wt_h_readings,
	 "Time series: ?series=1,2&from=&to=|range=rt|4h|3d|1w|1m|1y&resolution=5s|hour|day|auto&points=N",
	 "readings", 200, NULL, NULL},

	{WT_GET, "/api/v1/structure", WT_P_READ, 0, NULL, wt_h_structure_list,
	 "Data centres, rooms, rows and racks with status and aggregates", "structure", 200,
	 wt_h_structure_list_after, NULL},
	{WT_POST, "/api/v1/structure", WT_P_CONFIGURE, 0, element_create_body,
	 wt_h_structure_create, "Create a data centre, room, row or rack", "structure", 201,
	 wt_h_structure_write_after, NULL},
	{WT_GET, "/api/v1/structure/{id}", WT_P_READ, 0, NULL, wt_h_structure_get,
	 "One element: status, aggregates, children, devices", "structure", 200,
	 wt_h_structure_get_after, NULL},
	{WT_PATCH, "/api/v1/structure/{id}", WT_P_CONFIGURE, 0, element_update_body,
	 wt_h_structure_update, "Rename, move or set the budgets of an element", "structure", 200,
	 wt_h_structure_write_after, NULL},
	{WT_DELETE, "/api/v1/structure/{id}", WT_P_CONFIGURE, 0, NULL, wt_h_structure_delete,
	 "Delete an element (?cascade=1: with its subtree; devices are unassigned)", "structure",
	 200, wt_h_rules_changed, NULL},

	{WT_GET, "/api/v1/rules", WT_P_READ, 0, NULL, wt_h_rules_list,
	 "Threshold rules with their four thresholds", "rules", 200, NULL, NULL},
	{WT_POST, "/api/v1/rules", WT_P_CONFIGURE, 0, rule_body, wt_h_rules_create,
	 "Create a rule", "rules", 201, wt_h_rules_changed, NULL},
	{WT_PUT, "/api/v1/rules/{id}", WT_P_CONFIGURE, 0, rule_body, wt_h_rules_replace,
	 "Replace a rule (a threshold left out is off)", "rules", 200, wt_h_rules_changed, NULL},
	{WT_DELETE, "/api/v1/rules/{id}", WT_P_CONFIGURE, 0, NULL, wt_h_rules_delete,
	 "Delete a rule", "rules", 204, wt_h_rules_changed, NULL},

	{WT_GET, "/api/v1/alarms", WT_P_READ, 0, NULL, wt_h_alarms_list,
	 "Alarms and history: ?state=active|cleared|all&severity=&acknowledged=&device_id=&from=&to=",
	 "alarms", 200, NULL, NULL},
	{WT_GET, "/api/v1/alarms/{id}", WT_P_READ, 0, NULL, wt_h_alarm_get, "One alarm", "alarms",
	 200, NULL, NULL},
	{WT_POST, "/api/v1/alarms/{id}/ack", WT_P_CONFIGURE, 0, ack_body, wt_h_alarm_ack,
	 "Acknowledge an alarm with a comment", "alarms", 200, wt_h_alarm_ack_after, NULL},

	{WT_GET, "/api/v1/audit", WT_P_READ, 0, NULL, wt_h_audit_list,
	 "Audit log: ?severity=&state=open|investigating|done&category=&from=&to=&limit=", "audit",
	 200, NULL, NULL},
	{WT_PATCH, "/api/v1/audit/{id}", WT_P_CONFIGURE, 0, audit_update_body, wt_h_audit_update,
	 "Change an audit entry's state, with an optional comment", "audit", 200, NULL, NULL},
	{WT_POST, "/api/v1/audit/{id}/comments", WT_P_CONFIGURE, 0, audit_comment_body,
	 wt_h_audit_comment, "Comment on an audit entry", "audit", 201, NULL, NULL},

	{WT_GET, "/api/v1/stream", WT_P_READ, WT_RF_STREAM, NULL, wt_h_stream,
	 "Live Server-Sent Events (reading, device, alarm, heartbeat, lost): ?device=ID or ?element=ID",
	 "stream", 200, NULL, NULL},

	{WT_GET, "/api/v1/export/readings.csv", WT_P_READ, 0, NULL, wt_h_export_readings,
	 "CSV of a readings query (same parameters as /readings)", "export", 200, NULL, NULL},
	{WT_GET, "/api/v1/export/devices.csv", WT_P_READ, 0, NULL, wt_h_export_devices,
	 "CSV of the device list (same parameters as /devices)", "export", 200,
	 wt_h_export_devices_after, wt_h_devices_list_before},
	{WT_GET, "/api/v1/export/alarms.csv", WT_P_READ, 0, NULL, wt_h_export_alarms,
	 "CSV of the alarm list (same parameters as /alarms)", "export", 200, NULL, NULL},
	{WT_GET, "/api/v1/export/audit.csv", WT_P_READ, 0, NULL, wt_h_export_audit,
	 "CSV of the audit log (same parameters as /audit)", "export", 200, NULL, NULL},
};
const size_t wt_api_nroutes = sizeof(wt_api_routes) / sizeof(wt_api_routes[0]);

const char *wt_method_name(unsigned m)
{
	switch (m) {
	case WT_GET: return "GET";
	case WT_POST: return "POST";
	case WT_PUT: return "PUT";
	case WT_PATCH: return "PATCH";
	case WT_DELETE: return "DELETE";
	default: return "?";
	}
}

/* A path id: 1..18 digits, no sign, no leading zero. */
static bool parse_id(const char *s, size_t len, int64_t *out)
{
	if (len == 0 || len > 18 || s[0] == '0')
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool wt_route_match(const char *pattern, const char *path, int64_t *ids, int *nids)
{
	const char *p = pattern, *s = path;
	int n = 0;

	while (*p && *s) {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			const char *se = strchr(s, '/');
			size_t len = se ? (size_t)(se - s) : strlen(s);
			if (!pe || n >= WT_API_MAX_IDS || !parse_id(s, len, &ids[n]))
				return false;
			n++;
			p = pe + 1;
			s += len;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	if (*p || *s)
		return false;
	*nids = n;
	return true;
}
