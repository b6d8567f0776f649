/* /api/v1/rules: threshold rules with the four thresholds (critical above,
 * warning above, warning below, critical below), hysteresis, dwell and
 * repeat; list, create, replace, delete. Storage and validation go through
 * rules/rulesdb.h (which audits); the daemon's rules engine reloads them
 * (wt_api_layers.rules_changed, called on the loop after a change). */
#include "db.h"
#include "request.h"

#include "rules/rule.h"
#include "rules/rulesdb.h"
#include "rules/structure.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const thr_key[WT_THR__COUNT] = {"critical_above", "warning_above",
						   "warning_below", "critical_below"};

static json_t *rule_json(const struct wt_rule *x)
{
	json_t *thr = json_object();
	for (int i = 0; i < WT_THR__COUNT; i++)
		json_object_set_new(thr, thr_key[i], x->thr_on[i] ? json_real(x->thr[i]) : json_null());
	const struct wt_metric_info *mi = wt_metric_info((enum wt_metric)x->metric);
	const char *kind = NULL;
	if (x->entity_kind >= 0)
		kind = x->scope >= WT_SCOPE_DC ? wt_elem_kind_name((enum wt_elem_kind)x->entity_kind)
					       : wt_entity_kind_name((enum wt_entity_kind)x->entity_kind);
	return json_pack("{s:I,s:s,s:b,s:s,s:s,s:s,s:I,s:s?,s:s?,s:o,s:f,s:i,s:i}", "id",
			 (json_int_t)x->id, "name", x->name ? x->name : "", "enabled", x->enabled,
			 "metric", mi ? mi->name : "?", "unit", mi ? mi->unit : "", "scope",
			 wt_scope_name(x->scope), "scope_id", (json_int_t)x->scope_id, "scope_text",
			 x->scope_text, "target_kind", kind, "thresholds", thr, "hysteresis",
			 x->hysteresis, "dwell_s", (int)x->dwell_s, "repeat_s", (int)x->repeat_s);
}

void wt_h_rules_list(struct wt_api_req *r)
{
	struct wt_rule *v = NULL;
	size_t n = 0;
	if (wt_rulesdb_load_rules(r->db, &v, &n) < 0) {
		wt_api_fail_db(r, "listing rules");
		return;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, rule_json(&v[i]));
	wt_rulesdb_free_rules(v, n);
	wt_api_ok(r, 200, json_pack("{s:o}", "rules", a));
}

/* Fills x from the body (a whole rule); false after failing r. The
 * strings point into r->body. */
static bool rule_from_body(struct wt_api_req *r, struct wt_rule *x)
{
	json_t *b = r->body;
	const char *metric = json_string_value(json_object_get(b, "metric"));
	const char *scope = json_string_value(json_object_get(b, "scope"));
	const char *kind = json_string_value(json_object_get(b, "target_kind"));
	x->name = (char *)json_string_value(json_object_get(b, "name"));
	x->enabled = !json_is_false(json_object_get(b, "enabled"));
	x->metric = wt_metric_by_name(metric);
	if (x->metric < 0) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"metric\": unknown metric \"%.64s\"", metric);
		return false;
	}
	int sc = scope ? wt_scope_by_name(scope) : WT_SCOPE_GLOBAL;
	if (sc < 0) {
		wt_api_fail(r, 400, "INVALID_REQUEST",
			    "field \"scope\": expected global, type, model, device, entity, dc, room, row or rack");
		return false;
	}
	x->scope = sc;
	x->scope_id = json_integer_value(json_object_get(b, "scope_id"));
	x->scope_text = (char *)json_string_value(json_object_get(b, "scope_text"));
	x->entity_kind = -1;
	if (kind) {
		x->entity_kind = sc >= WT_SCOPE_DC ? wt_elem_kind_by_name(kind) : wt_entity_kind_by_name(kind);
		if (x->entity_kind < 0) {
			wt_api_fail(r, 400, "INVALID_REQUEST", "field \"target_kind\": unknown kind \"%.32s\"", kind);
			return false;
		}
	}
	bool any = false;
	for (int i = 0; i < WT_THR__COUNT; i++) {
		json_t *v = json_object_get(b, thr_key[i]);
		x->thr_on[i] = v != NULL;
		x->thr[i] = v ? json_number_value(v) : 0;
		any |= x->thr_on[i];
		if (v && !isfinite(x->thr[i])) {
			wt_api_fail(r, 400, "INVALID_REQUEST", "field \"%s\": not a finite number", thr_key[i]);
			return false;
		}
	}
	if (!any) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "a rule needs at least one of critical_above, "
			    "warning_above, warning_below, critical_below");
		return false;
	}
	x->hysteresis = json_number_value(json_object_get(b, "hysteresis"));
	x->dwell_s = (int32_t)json_integer_value(json_object_get(b, "dwell_s"));
	x->repeat_s = (int32_t)json_integer_value(json_object_get(b, "repeat_s"));
	if (x->dwell_s < 0 || x->dwell_s > 86400 || x->repeat_s < 0 || x->repeat_s > 86400 * 7) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "dwell_s 0..86400, repeat_s 0..604800");
		return false;
	}
	return true;
}

static void save(struct wt_api_req *r, int64_t id, int status)
{
	struct wt_rule x;
	memset(&x, 0, sizeof(x));
	if (!rule_from_body(r, &x))
		return;
	x.id = id;
	const char *why = NULL;
	int rc = wt_rulesdb_rule_save(r->db, r->who.username, &x, &why);
	if (rc == -EINVAL) {
		wt_api_fail(r, 400, "INVALID_RULE", "%s", why ? why : "the rule is not valid");
		return;
	}
	if (rc == -ENOENT) {
		wt_api_fail(r, 404, "RULE_NOT_FOUND", "rule %lld does not exist", (long long)id);
		return;
	}
	if (rc < 0) {
		wt_api_fail_db(r, "saving the rule");
		return;
	}
	json_t *j = rule_json(&x); /* x.id is set by the save */
	wt_api_ok(r, status, j);
}

void wt_h_rules_create(struct wt_api_req *r)
{
	save(r, 0, 201);
}

void wt_h_rules_replace(struct wt_api_req *r)
{
	char id[24], st[6];
	snprintf(id, sizeof(id), "%lld", (long long)r->ids[0]);
	const char *p[] = {id};
	PGresult *res = wt_api_db_exec(r->db, "SELECT 1 FROM rules WHERE id = $1", 1, p, st);
	if (!res) {
		wt_api_fail_db(r, "reading the rule");
		return;
	}
	int n = PQntuples(res);
	PQclear(res);
	if (n != 1) {
		wt_api_fail(r, 404, "RULE_NOT_FOUND", "rule %s does not exist", id);
		return;
	}
	save(r, r->ids[0], 200);
}

void wt_h_rules_delete(struct wt_api_req *r)
{
	int rc = wt_rulesdb_rule_delete(r->db, r->who.username, r->ids[0]);
	if (rc == -ENOENT) {
		wt_api_fail(r, 404, "RULE_NOT_FOUND", "rule %lld does not exist", (long long)r->ids[0]);
		return;
	}
	if (rc < 0) {
		wt_api_fail_db(r, "deleting the rule");
		return;
	}
	wt_api_ok(r, 204, NULL);
}

/* On the loop after a change: the engine reloads its rules. */
void wt_h_rules_changed(struct wt_api_req *r)
{
	if (r->layers.rules_changed)
		r->layers.rules_changed(r->layers.rules_changed_ctx);
}
