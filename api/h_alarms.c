/* /api/v1/alarms and /api/v1/audit: alarm lists and history with filters,
 * acknowledgement with a comment (through the rules engine's live alarm
 * set, on the loop), and the audit log (filters, state changes, comments). */
#include "auth.h"
#include "db.h"
#include "qparam.h"
#include "request.h"

#include "rules/alarm.h"
#include "rules/audit.h"
#include "rules/engine.h"
#include "rules/rulesdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *col_str(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static json_t *col_int(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null()
					  : json_integer(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

static json_t *col_real(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null()
					  : json_real(strtod(PQgetvalue(res, row, col), NULL));
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* from/to/limit common to both lists; false after failing r. */
static bool range_params(struct wt_api_req *r, char *from, char *to, char *limit)
{
	int64_t f, t, l, now = now_ms();
	if (wt_qp_time(r->query, "from", now, 0, &f) < 0 ||
	    wt_qp_time(r->query, "to", now, now + 86400000LL, &t) < 0) {
		wt_api_fail(r, 400, "INVALID_QUERY",
			    "parameters \"from\"/\"to\": Unix ms, YYYY-MM-DDTHH:MM:SSZ or now-<n><s|m|h|d|w|M|y>");
		return false;
	}
	if (wt_qp_int(r->query, "limit", 1, 10000, 1000, &l) < 0) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"limit\": 1 to 10000");
		return false;
	}
	snprintf(from, 24, "%lld", (long long)f);
	snprintf(to, 24, "%lld", (long long)t);
	snprintf(limit, 24, "%lld", (long long)l);
	return true;
}

#define ALARM_COLS                                                                             \
	"a.id, a.kind, a.active, a.severity, a.threshold_kind, a.value, a.threshold, a.rule_id, " \
	"a.rule_name, a.series_id, a.device_id, d.name, a.entity_id, a.element_id, a.message, "  \
	WT_SQL_ISO("a.raised_at") ", " WT_SQL_ISO("a.cleared_at") ", a.acked, "                 \
	WT_SQL_ISO("a.acked_at") ", a.acked_by, a.ack_comment"

static json_t *alarm_json(PGresult *res, int i)
{
	json_t *j = json_object();
	static const char *keys[] = {"id", "kind", "active", "severity", "threshold_kind", "value",
				     "threshold", "rule_id", "rule_name", "series_id", "device_id",
				     "device", "entity_id", "element_id", "message", "raised_at",
				     "cleared_at", "acked", "acked_at", "acked_by", "ack_comment"};
	for (int c = 0; c < 21; c++) {
		json_t *v;
		if (c == 2 || c == 17)
			v = json_boolean(strcmp(PQgetvalue(res, i, c), "t") == 0);
		else if (c == 5 || c == 6)
			v = col_real(res, i, c);
		else if (c == 0 || c == 7 || c == 9 || c == 10 || c == 12 || c == 13)
			v = col_int(res, i, c);
		else
			v = col_str(res, i, c);
		json_object_set_new(j, keys[c], v);
	}
	return j;
}

void wt_h_alarms_list(struct wt_api_req *r)
{
	char state[16] = "active", sev[16] = "", acked[8] = "", dev[24] = "", from[24], to[24],
	     limit[24], st[6];
	int64_t devid;
	wt_qp_get(r->query, "state", state, sizeof(state));
	wt_qp_get(r->query, "severity", sev, sizeof(sev));
	wt_qp_get(r->query, "acknowledged", acked, sizeof(acked));
	if (strcmp(state, "active") != 0 && strcmp(state, "cleared") != 0 &&
	    strcmp(state, "all") != 0) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"state\": expected active, cleared or all");
		return;
	}
	if (sev[0] && strcmp(sev, "warning") != 0 && strcmp(sev, "critical") != 0) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"severity\": expected warning or critical");
		return;
	}
	if (acked[0] && strcmp(acked, "true") != 0 && strcmp(acked, "false") != 0) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"acknowledged\": expected true or false");
		return;
	}
	if (wt_qp_int(r->query, "device_id", 1, INT32_MAX, 0, &devid) < 0) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"device_id\": a device id");
		return;
	}
	if (devid)
		snprintf(dev, sizeof(dev), "%lld", (long long)devid);
	if (!range_params(r, from, to, limit))
		return;
	const char *p[] = {state, sev[0] ? sev : NULL, acked[0] ? acked : NULL, devid ? dev : NULL,
			   from, to, limit};
	PGresult *res = wt_api_db_exec(
		r->db,
		"SELECT " ALARM_COLS " FROM alarms a LEFT JOIN devices d ON d.id = a.device_id"
		" WHERE ($1 = 'all' OR a.active = ($1 = 'active'))"
		" AND ($2::text IS NULL OR a.severity = $2) AND ($3::boolean IS NULL OR a.acked = $3)"
		" AND ($4::int IS NULL OR a.device_id = $4)"
		" AND a.raised_at < to_timestamp($6::float8 / 1000)"
		" AND coalesce(a.cleared_at, 'infinity') >= to_timestamp($5::float8 / 1000)"
		" ORDER BY a.active DESC, CASE a.severity WHEN 'critical' THEN 0 ELSE 1 END,"
		" a.raised_at DESC, a.id DESC LIMIT $7",
		7, p, st);
	if (!res) {
		wt_api_fail_db(r, "listing alarms");
		return;
	}
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, alarm_json(res, i));
	PQclear(res);
	wt_api_ok(r, 200, json_pack("{s:o}", "alarms", a));
}

void wt_h_alarm_get(struct wt_api_req *r)
{
	char id[24], st[6];
	snprintf(id, sizeof(id), "%lld", (long long)r->ids[0]);
	const char *p[] = {id};
	PGresult *res = wt_api_db_exec(r->db,
				       "SELECT " ALARM_COLS " FROM alarms a LEFT JOIN devices d"
				       " ON d.id = a.device_id WHERE a.id = $1",
				       1, p, st);
	if (!res) {
		wt_api_fail_db(r, "reading the alarm");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail(r, 404, "ALARM_NOT_FOUND", "alarm %s does not exist", id);
		return;
	}
	json_t *j = alarm_json(res, 0);
	PQclear(res);
	wt_api_ok(r, 200, j);
}

/* Worker half of an acknowledgement: the alarm must exist and not be
 * acknowledged yet; the loop half acks it in the engine's live set, which
 * saves it and writes the audit entry. */
void wt_h_alarm_ack(struct wt_api_req *r)
{
	if (wt_api_need(r, r->layers.rules, "rules"))
		return;
	wt_h_alarm_get(r);
	if (r->err_code)
		return;
	if (json_is_true(json_object_get(r->reply, "acked"))) {
		wt_api_fail(r, 409, "ALREADY_ACKNOWLEDGED", "alarm %lld was acknowledged by %s",
			    (long long)r->ids[0],
			    json_string_value(json_object_get(r->reply, "acked_by")) ?: "someone");
		return;
	}
}

void wt_h_alarm_ack_after(struct wt_api_req *r)
{
	struct wt_rules *rules = r->layers.rules;
	struct wt_alarms *al = rules ? wt_rules_alarms(rules) : NULL;
	if (wt_api_need(r, al, "rules"))
		return;
	const char *comment = json_string_value(json_object_get(r->body, "comment"));
	int rc = wt_alarms_ack(al, r->ids[0], r->who.username, comment ? comment : "");
	if (rc == -ENOENT) {
		wt_api_fail(r, 409, "ALREADY_ACKNOWLEDGED",
			    "alarm %lld is no longer open for acknowledgement", (long long)r->ids[0]);
		return;
	}
	if (rc < 0) {
		wt_api_fail(r, 500, "INTERNAL", "could not acknowledge alarm %lld", (long long)r->ids[0]);
		return;
	}
	json_object_set_new(r->reply, "acked", json_true());
	json_object_set_new(r->reply, "acked_by", json_string(r->who.username));
	json_object_set_new(r->reply, "ack_comment", json_string(comment ? comment : ""));
}

/* ---- audit log ---- */

#define AUDIT_COLS                                                                        \
	"l.id, " WT_SQL_ISO("l.ts") ", l.severity, l.state, l.category, l.actor, l.object_kind," \
	" l.object_id, l.message, l.details::text, (SELECT coalesce(json_agg(json_build_object(" \
	"'author', c.author, 'comment', c.comment, 'at', to_char(c.ts AT TIME ZONE 'UTC',"      \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) ORDER BY c.id), '[]')::text"                  \
	" FROM audit_comments c WHERE c.audit_id = l.id)"

static json_t *audit_json(PGresult *res, int i)
{
	long sev = strtol(PQgetvalue(res, i, 2), NULL, 10), stt = strtol(PQgetvalue(res, i, 3), NULL, 10);
	json_t *details = PQgetisnull(res, i, 9) ? json_null() : json_loads(PQgetvalue(res, i, 9), 0, NULL);
	json_t *comments = json_loads(PQgetvalue(res, i, 10), 0, NULL);
	return json_pack("{s:o,s:o,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", col_int(res, i, 0),
			 "ts", col_str(res, i, 1), "severity", wt_audit_severity_name(sev), "state",
			 wt_audit_state_name(stt), "category", col_str(res, i, 4), "actor",
			 col_str(res, i, 5), "object_kind", col_str(res, i, 6), "object_id",
			 col_int(res, i, 7), "message", col_str(res, i, 8), "details",
			 details ? details : json_null(), "comments", comments ? comments : json_array());
}

void wt_h_audit_list(struct wt_api_req *r)
{
	char sev[16] = "", state[16] = "", cat[16] = "", from[24], to[24], limit[24], s1[16], s2[16],
	     st[6];
	int sv = -1, stt = -1;
	if (wt_qp_get(r->query, "severity", sev, sizeof(sev)) &&
	    (sv = wt_audit_severity_by_name(sev)) < 0) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"severity\": unknown severity \"%s\"", sev);
		return;
	}
	if (wt_qp_get(r->query, "state", state, sizeof(state)) &&
	    (stt = wt_audit_state_by_name(state)) < 0) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameter \"state\": expected open, investigating or done");
		return;
	}
	wt_qp_get(r->query, "category", cat, sizeof(cat));
	if (!range_params(r, from, to, limit))
		return;
	snprintf(s1, sizeof(s1), "%d", sv);
	snprintf(s2, sizeof(s2), "%d", stt);
	const char *p[] = {sv >= 0 ? s1 : NULL, stt >= 0 ? s2 : NULL, cat[0] ? cat : NULL, from, to,
			   limit};
	PGresult *res = wt_api_db_exec(
		r->db,
		"SELECT " AUDIT_COLS " FROM audit_log l WHERE ($1::int IS NULL OR l.severity = $1)"
		" AND ($2::int IS NULL OR l.state = $2) AND ($3::text IS NULL OR l.category = $3)"
		" AND l.ts >= to_timestamp($4::float8 / 1000) AND l.ts < to_timestamp($5::float8 / 1000)"
		" ORDER BY l.ts DESC, l.id DESC LIMIT $6",
		6, p, st);
	if (!res) {
		wt_api_fail_db(r, "listing the audit log");
		return;
	}
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, audit_json(res, i));
	PQclear(res);
	wt_api_ok(r, 200, json_pack("{s:o}", "entries", a));
}

static void audit_reply(struct wt_api_req *r, int status)
{
	char id[24], st[6];
	snprintf(id, sizeof(id), "%lld", (long long)r->ids[0]);
	const char *p[] = {id};
	PGresult *res = wt_api_db_exec(r->db, "SELECT " AUDIT_COLS " FROM audit_log l WHERE l.id = $1",
				       1, p, st);
	if (!res) {
		wt_api_fail_db(r, "reading the audit entry");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail(r, 404, "AUDIT_NOT_FOUND", "audit entry %s does not exist", id);
		return;
	}
	json_t *j = audit_json(res, 0);
	PQclear(res);
	wt_api_ok(r, status, j);
}

void wt_h_audit_update(struct wt_api_req *r)
{
	const char *state = json_string_value(json_object_get(r->body, "state"));
	const char *comment = json_string_value(json_object_get(r->body, "comment"));
	int s = wt_audit_state_by_name(state);
	if (s < 0) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"state\": expected open, investigating or done");
		return;
	}
	int rc = wt_rulesdb_audit_set_state(r->db, r->who.username, r->ids[0], s, comment);
	if (rc == -ENOENT) {
		wt_api_fail(r, 404, "AUDIT_NOT_FOUND", "audit entry %lld does not exist", (long long)r->ids[0]);
		return;
	}
	if (rc < 0) {
		wt_api_fail_db(r, "changing the audit entry");
		return;
	}
	audit_reply(r, 200);
}

void wt_h_audit_comment(struct wt_api_req *r)
{
	const char *comment = json_string_value(json_object_get(r->body, "comment"));
	if (!comment || !comment[strspn(comment, " \t\r\n")]) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"comment\": must not be empty");
		return;
	}
	int rc = wt_rulesdb_audit_comment(r->db, r->who.username, r->ids[0], comment);
	if (rc == -ENOENT) {
		wt_api_fail(r, 404, "AUDIT_NOT_FOUND", "audit entry %lld does not exist", (long long)r->ids[0]);
		return;
	}
	if (rc < 0) {
		/* A foreign key refusal means the entry is not there. */
		audit_reply(r, 201);
		if (!r->err_code)
			wt_api_fail_db(r, "adding the comment");
		return;
	}
	audit_reply(r, 201);
}
