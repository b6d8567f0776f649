/* /api/v1/structure: data centres, rooms, rows and racks (create, rename,
 * budgets, move, delete), device placement, and each element's status and
 * aggregates. Writes go through rules/rulesdb.h, which audits them; the
 * rules engine reloads the structure from the database. */
#include "db.h"
#include "request.h"

#include "rules/alarm.h"
#include "rules/engine.h"
#include "rules/rulesdb.h"
#include "rules/structure.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *col_str(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static json_t *col_num(PGresult *res, int row, int col, bool real)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	const char *v = PQgetvalue(res, row, col);
	return real ? json_real(strtod(v, NULL)) : json_integer(strtoll(v, NULL, 10));
}

/* Maps a rulesdb result to the reply; returns true when rc was 0. */
static bool rulesdb_ok(struct wt_api_req *r, int rc, const char *what, int64_t id)
{
	switch (rc) {
	case 0: return true;
	case -ENOENT:
		wt_api_fail(r, 404, "NOT_FOUND", "%s: element, rack or device %lld does not exist",
			    what, (long long)id);
		return false;
	case -EINVAL:
		wt_api_fail(r, 400, "INVALID_REQUEST",
			    "%s: not allowed here (a site has no parent, a room sits in a site, a row in"
			    " a room, a rack in a row; names are 1 to 200 characters)",
			    what);
		return false;
	case -ENOTEMPTY:
		wt_api_fail(r, 409, "NOT_EMPTY",
			    "%s: element %lld still holds elements or devices (use ?cascade=1)", what,
			    (long long)id);
		return false;
	default: wt_api_fail_db(r, what); return false;
	}
}

#define ELEM_SQL                                                                              \
	"SELECT e.id, e.kind, e.parent_id, e.name, e.budget_w, e.budget_a, e.attributes,"      \
	" (SELECT count(*) FROM devices d WHERE d.rack_id = e.id),"                            \
	" (SELECT min(s.id) FROM series s WHERE s.owner_kind = e.kind AND s.owner_id = e.id"   \
	"   AND s.metric = 7 AND s.agg_phase IS NULL AND s.agg_feed IS NULL),"                  \
	" (SELECT min(s.id) FROM series s WHERE s.owner_kind = e.kind AND s.owner_id = e.id"   \
	"   AND s.metric = 3 AND s.agg_phase IS NULL AND s.agg_feed IS NULL),"                  \
	" coalesce((SELECT max(CASE a.severity WHEN 'critical' THEN 2 ELSE 1 END) FROM alarms a" \
	"   WHERE a.active AND (a.element_id = e.id OR a.device_id IN"                          \
	"   (SELECT d.id FROM devices d WHERE d.rack_id = e.id))), 0)"                          \
	" FROM structure_elements e"

static json_t *elements_json(struct wt_api_req *r, PGresult *res)
{
	int n = PQntuples(res);
	uint32_t *ids = calloc(2 * (size_t)n + 1, sizeof(*ids));
	double *v = calloc(2 * (size_t)n + 1, sizeof(*v));
	int64_t *ts = calloc(2 * (size_t)n + 1, sizeof(*ts));
	if (!ids || !v || !ts) {
		free(ids);
		free(v);
		free(ts);
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		ids[2 * i] = PQgetisnull(res, i, 8) ? 0 : (uint32_t)strtoul(PQgetvalue(res, i, 8), NULL, 10);
		ids[2 * i + 1] =
			PQgetisnull(res, i, 9) ? 0 : (uint32_t)strtoul(PQgetvalue(res, i, 9), NULL, 10);
	}
	if (wt_api_latest(r, ids, 2 * (size_t)n, v, ts) < 0) {
		free(ids);
		free(v);
		free(ts);
		wt_api_fail_db(r, "reading element aggregates");
		return NULL;
	}
	json_t *a = json_array();
	for (int i = 0; i < n; i++) {
		const char *kind = PQgetvalue(res, i, 1);
		json_t *attrs = json_loads(PQgetvalue(res, i, 6), 0, NULL);
		int sev = (int)strtol(PQgetvalue(res, i, 10), NULL, 10);
		json_t *e = json_pack(
			"{s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:{s:o,s:o,s:o,s:o}}", "id",
			col_num(res, i, 0, false), "kind", strcmp(kind, "site") == 0 ? "datacenter" : kind,
			"parent_id", col_num(res, i, 2, false), "name", col_str(res, i, 3), "budget_w",
			col_num(res, i, 4, true), "budget_a", col_num(res, i, 5, true), "attributes",
			attrs ? attrs : json_object(), "devices", col_num(res, i, 7, false), "status",
			sev >= 2 ? "critical" : sev == 1 ? "warning" : "ok", "aggregates", "power_w",
			isnan(v[2 * i]) ? json_null() : json_real(v[2 * i]), "current_a",
			isnan(v[2 * i + 1]) ? json_null() : json_real(v[2 * i + 1]), "power_series",
			ids[2 * i] ? json_integer(ids[2 * i]) : json_null(), "current_series",
			ids[2 * i + 1] ? json_integer(ids[2 * i + 1]) : json_null());
		json_array_append_new(a, e);
	}
	free(ids);
	free(v);
	free(ts);
	return a;
}

void wt_h_structure_list(struct wt_api_req *r)
{
	char st[6];
	PGresult *res = wt_api_db_exec(
		r->db,
		ELEM_SQL " ORDER BY array_position(ARRAY['site','room','row','rack'], e.kind), lower(e.name), e.id",
		0, NULL, st);
	if (!res) {
		wt_api_fail_db(r, "listing the structure");
		return;
	}
	json_t *a = elements_json(r, res);
	PQclear(res);
	if (a)
		wt_api_ok(r, 200, json_pack("{s:o}", "elements", a));
}

/* On the loop: the engine's alarm set is the live status (escalation
 * included); the alarms table may trail it by a write. */
static void merge_status(struct wt_api_req *r, json_t *e)
{
	struct wt_rules *rules = r->layers.rules;
	if (!rules)
		return;
	struct wt_alarms *al = wt_rules_alarms(rules);
	if (!al)
		return;
	json_int_t id = json_integer_value(json_object_get(e, "id"));
	uint8_t s = wt_alarms_element_status(al, id);
	uint32_t w = 0, c = 0;
	wt_alarms_element_counts(al, id, &w, &c);
	json_object_set_new(e, "status", json_string(s >= 2 ? "critical" : s == 1 ? "warning" : "ok"));
	json_object_set_new(e, "alarms", json_pack("{s:i,s:i}", "warning", (int)w, "critical", (int)c));
}

void wt_h_structure_list_after(struct wt_api_req *r)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(r->reply, "elements"), i, e)
		merge_status(r, e);
}

void wt_h_structure_get(struct wt_api_req *r)
{
	char id[24], st[6];
	snprintf(id, sizeof(id), "%lld", (long long)r->ids[0]);
	const char *p[] = {id};
	PGresult *res = wt_api_db_exec(r->db, ELEM_SQL " WHERE e.id = $1", 1, p, st);
	if (!res) {
		wt_api_fail_db(r, "reading the element");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail(r, 404, "ELEMENT_NOT_FOUND", "structure element %s does not exist", id);
		return;
	}
	json_t *a = elements_json(r, res);
	PQclear(res);
	if (!a)
		return;
	json_t *e = json_incref(json_array_get(a, 0));
	json_decref(a);
	res = wt_api_db_exec(r->db,
			     "SELECT id, kind, name FROM structure_elements WHERE parent_id = $1"
			     " ORDER BY lower(name), id",
			     1, p, st);
	if (!res) {
		json_decref(e);
		wt_api_fail_db(r, "reading the element's children");
		return;
	}
	json_t *ch = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(ch, json_pack("{s:o,s:s,s:o}", "id", col_num(res, i, 0, false),
						    "kind", PQgetvalue(res, i, 1), "name",
						    col_str(res, i, 2)));
	PQclear(res);
	json_object_set_new(e, "children", ch);
	res = wt_api_db_exec(r->db,
			     "SELECT id, name, feed FROM devices WHERE rack_id = $1 ORDER BY feed, lower(name)",
			     1, p, st);
	if (!res) {
		json_decref(e);
		wt_api_fail_db(r, "reading the rack's devices");
		return;
	}
	json_t *dv = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(dv, json_pack("{s:o,s:o,s:o}", "id", col_num(res, i, 0, false),
						    "name", col_str(res, i, 1), "feed",
						    col_str(res, i, 2)));
	PQclear(res);
	json_object_set_new(e, "device_list", dv);
	wt_api_ok(r, 200, e);
}

void wt_h_structure_get_after(struct wt_api_req *r)
{
	merge_status(r, r->reply);
}

/* After a structure write: the rules engine rebuilds its tree (aggregates,
 * escalation, rack rules) now, not at the next inventory change. */
void wt_h_structure_write_after(struct wt_api_req *r)
{
	wt_h_rules_changed(r);
	merge_status(r, r->reply);
}

static int kind_of(const char *s)
{
	if (!s)
		return -1;
	if (strcmp(s, "datacenter") == 0 || strcmp(s, "site") == 0)
		return WT_EL_DC;
	if (strcmp(s, "room") == 0)
		return WT_EL_ROOM;
	if (strcmp(s, "row") == 0)
		return WT_EL_ROW;
	if (strcmp(s, "rack") == 0)
		return WT_EL_RACK;
	return -1;
}

static bool budgets(struct wt_api_req *r, double *w, double *a)
{
	json_t *jw = json_object_get(r->body, "budget_w"), *ja = json_object_get(r->body, "budget_a");
	*w = jw ? json_number_value(jw) : 0;
	*a = ja ? json_number_value(ja) : 0;
	if (*w < 0 || *a < 0 || *w > 1e9 || *a > 1e6) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "budgets must be 0 (none) or positive");
		return false;
	}
	return true;
}

static void reply_element(struct wt_api_req *r, int64_t id, int status)
{
	r->ids[0] = id;
	wt_h_structure_get(r);
	if (!r->err_code)
		r->status = status;
}

void wt_h_structure_create(struct wt_api_req *r)
{
	int kind = kind_of(json_string_value(json_object_get(r->body, "kind")));
	if (kind < 0) {
		wt_api_fail(r, 400, "INVALID_REQUEST",
			    "field \"kind\": expected datacenter, room, row or rack");
		return;
	}
	double w, a;
	if (!budgets(r, &w, &a))
		return;
	json_t *jp = json_object_get(r->body, "parent_id");
	int64_t parent = jp ? json_integer_value(jp) : 0, id = 0;
	int rc = wt_rulesdb_element_create(r->db, r->who.username, kind, parent,
					   json_string_value(json_object_get(r->body, "name")), NULL,
					   w, a, &id);
	if (rulesdb_ok(r, rc, "creating the element", parent))
		reply_element(r, id, 201);
}

void wt_h_structure_update(struct wt_api_req *r)
{
	int64_t id = r->ids[0];
	json_t *b = r->body;
	const char *name = json_string_value(json_object_get(b, "name"));
	json_t *jp = json_object_get(b, "parent_id");
	if (json_object_size(b) == 0) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "the body changes nothing");
		return;
	}
	/* Each step is its own audited transaction; validate first so a bad
	 * field changes nothing. */
	double w, a;
	if (!budgets(r, &w, &a))
		return;
	if (name && !rulesdb_ok(r, wt_rulesdb_element_rename(r->db, r->who.username, id, name),
				"renaming the element", id))
		return;
	if (jp && !rulesdb_ok(r, wt_rulesdb_element_move(r->db, r->who.username, id,
							  json_integer_value(jp)),
			      "moving the element", id))
		return;
	if (json_object_get(b, "budget_w") || json_object_get(b, "budget_a")) {
		/* Keep the budget not named in the body. */
		char sid[24], st[6];
		snprintf(sid, sizeof(sid), "%lld", (long long)id);
		const char *p[] = {sid};
		PGresult *res = wt_api_db_exec(r->db,
					       "SELECT coalesce(budget_w, 0), coalesce(budget_a, 0),"
					       " attributes::text FROM structure_elements WHERE id = $1",
					       1, p, st);
		if (!res) {
			wt_api_fail_db(r, "reading the element");
			return;
		}
		if (PQntuples(res) != 1) {
			PQclear(res);
			rulesdb_ok(r, -ENOENT, "changing budgets", id);
			return;
		}
		if (!json_object_get(b, "budget_w"))
			w = strtod(PQgetvalue(res, 0, 0), NULL);
		if (!json_object_get(b, "budget_a"))
			a = strtod(PQgetvalue(res, 0, 1), NULL);
		char *attrs = strdup(PQgetvalue(res, 0, 2));
		PQclear(res);
		int rc = wt_rulesdb_element_update(r->db, r->who.username, id, attrs, w, a);
		free(attrs);
		if (!rulesdb_ok(r, rc, "changing budgets", id))
			return;
	}
	reply_element(r, id, 200);
}

void wt_h_structure_delete(struct wt_api_req *r)
{
	bool cascade = r->query && strstr(r->query, "cascade=1");
	long removed = 0;
	int rc = wt_rulesdb_element_delete(r->db, r->who.username, r->ids[0], cascade, &removed);
	if (rulesdb_ok(r, rc, "deleting the element", r->ids[0]))
		wt_api_ok(r, 200, json_pack("{s:I}", "removed", (json_int_t)removed));
}

void wt_h_placement_set(struct wt_api_req *r)
{
	const char *feed = json_string_value(json_object_get(r->body, "feed"));
	int f = feed ? wt_feed_by_name(feed) : WT_FEED_NONE;
	if (f < 0) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"feed\": expected A, B, C, D or none");
		return;
	}
	int64_t rack = json_integer_value(json_object_get(r->body, "rack_id"));
	int rc = wt_rulesdb_device_assign(r->db, r->who.username, r->ids[0], rack, f);
	if (rulesdb_ok(r, rc, "placing the device", rc == -ENOENT ? rack : r->ids[0]))
		wt_api_ok(r, 200, json_pack("{s:I,s:I,s:s}", "device_id", (json_int_t)r->ids[0],
					    "rack_id", (json_int_t)rack, "feed", feed ? feed : "none"));
}

void wt_h_placement_delete(struct wt_api_req *r)
{
	int rc = wt_rulesdb_device_unassign(r->db, r->who.username, r->ids[0]);
	if (rulesdb_ok(r, rc, "unassigning the device", r->ids[0]))
		wt_api_ok(r, 204, NULL);
}
