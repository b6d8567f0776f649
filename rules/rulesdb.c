#include "rulesdb.h"

#include "idmap.h"
#include "log.h"
#include "model.h"
#include "registry.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* Runs a statement; maps SQLSTATE to an errno so callers can tell a refused
 * change (user error, logged at info) from a failing database (error). */
static int run(PGconn *c, const char *what, PGresult **out, const char *sql, int n,
	       const char *const *p)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (out)
		*out = NULL;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out)
			*out = r;
		else
			PQclear(r);
		return 0;
	}
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	int rc = -EIO;
	if (state && strcmp(state, "23505") == 0)
		rc = -EEXIST;
	else if (state && strcmp(state, "23503") == 0)
		rc = -ENOTEMPTY;
	else if (state && (strncmp(state, "22", 2) == 0 || strcmp(state, "23514") == 0 ||
			   strcmp(state, "23502") == 0))
		rc = -EINVAL;
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
	msg[strcspn(msg, "\n")] = 0;
	if (rc == -EIO)
		wt_error("rules db: %s: %s", what, msg);
	else
		wt_info("rules db: %s refused: %s", what, msg);
	PQclear(r);
	return rc;
}

static int begin(PGconn *c)
{
	return run(c, "begin", NULL, "BEGIN", 0, NULL);
}

static int finish(PGconn *c, int rc)
{
	if (rc == 0)
		return run(c, "commit", NULL, "COMMIT", 0, NULL);
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
	return rc;
}

#define I64(buf, v) (snprintf((buf), sizeof(buf), "%" PRId64, (int64_t)(v)), (buf))

static const char *dbl(char *buf, size_t n, double v)
{
	snprintf(buf, n, "%.17g", v);
	return buf;
}

static const char *ms_param(char *buf, size_t n, int64_t ms)
{
	if (!ms)
		return NULL;
	snprintf(buf, n, "%" PRId64, ms);
	return buf;
}

static int64_t get_i64(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static double get_dbl(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

static bool get_bool(PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static char *get_str(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

int wt_rulesdb_audit_insert(PGconn *c, const struct wt_audit_event *ev, int64_t *id)
{
	char ts[24], sev[24], st[24], oid[24];
	const char *p[] = {ms_param(ts, sizeof(ts), ev->ts_ms),
			   I64(sev, ev->severity),
			   I64(st, ev->state),
			   wt_audit_category_name(ev->category),
			   ev->actor,
			   ev->object_kind,
			   ev->object_id ? I64(oid, ev->object_id) : NULL,
			   ev->message ? ev->message : "",
			   ev->details};
	PGresult *r;
	int rc = run(
		c, "audit insert", &r,
		"INSERT INTO audit_log (ts, severity, state, category, actor, object_kind, "
		"object_id, message, details) VALUES (coalesce(to_timestamp($1::float8 / 1000), "
		"now()), $2, $3, $4, $5, $6, $7, $8, $9::jsonb) RETURNING id",
		9, p);
	if (rc)
		return rc;
	if (id)
		*id = get_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

static int audit(PGconn *c, const char *actor, enum wt_audit_category cat,
		 enum wt_audit_severity sev, const char *okind, int64_t oid, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static int audit(PGconn *c, const char *actor, enum wt_audit_category cat,
		 enum wt_audit_severity sev, const char *okind, int64_t oid, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct wt_audit_event ev = {.severity = sev,
				    .state = WT_AUDIT_OPEN,
				    .category = cat,
				    .actor = actor,
				    .object_kind = okind,
				    .object_id = oid,
				    .message = msg};
	return wt_rulesdb_audit_insert(c, &ev, NULL);
}

/* ---- structure ---- */

int wt_rulesdb_load_structure(PGconn *c, struct wt_structure **out)
{
	PGresult *r = NULL, *d = NULL;
	struct wt_structure *s = wt_structure_new();
	int rc = s ? 0 : -ENOMEM;

	*out = NULL;
	if (!rc)
		rc = run(c, "load structure", &r,
			 "SELECT id, kind, coalesce(parent_id, 0), name, attributes::text, "
			 "coalesce(budget_w, 0), coalesce(budget_a, 0) FROM structure_elements",
			 0, NULL);
	if (!rc)
		rc = run(c, "load placements", &d,
			 "SELECT id, rack_id, feed FROM devices WHERE rack_id IS NOT NULL", 0,
			 NULL);
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		int kind = wt_elem_kind_by_name(PQgetvalue(r, i, 1));
		const char *attrs = PQgetvalue(r, i, 4);
		rc = wt_structure_add(s, get_i64(r, i, 0), get_i64(r, i, 2),
				      (enum wt_elem_kind)kind, PQgetvalue(r, i, 3),
				      strcmp(attrs, "{}") ? attrs : NULL, get_dbl(r, i, 5),
				      get_dbl(r, i, 6));
	}
	for (int i = 0; !rc && i < PQntuples(d); i++) {
		int feed = wt_feed_by_name(PQgetvalue(d, i, 2));
		rc = wt_structure_place(s, get_i64(d, i, 0), get_i64(d, i, 1),
					feed < 0 ? WT_FEED_NONE : (enum wt_feed)feed);
	}
	if (!rc && (rc = wt_structure_index(s)) != 0)
		wt_error("rules db: the structure in the database is inconsistent");
	PQclear(r);
	PQclear(d);
	if (rc) {
		wt_structure_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Kind and name of an element (locked for the transaction); -ENOENT. */
static int element_get(PGconn *c, int64_t id, int *kind, char *name, size_t n)
{
	char b[24];
	const char *p[] = {I64(b, id)};
	PGresult *r;
	int rc = run(c, "element lookup", &r,
		     "SELECT kind, name FROM structure_elements WHERE id = $1 FOR UPDATE", 1, p);
	if (rc)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return -ENOENT;
	}
	*kind = wt_elem_kind_by_name(PQgetvalue(r, 0, 0));
	if (name)
		snprintf(name, n, "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}

int wt_rulesdb_element_create(PGconn *c, const char *actor, enum wt_elem_kind kind,
			      int64_t parent_id, const char *name, const char *attrs,
			      double budget_w, double budget_a, int64_t *id)
{
	char pname[256] = "", b1[24], b2[32], b3[32];
	int pkind = -1, rc;

	if ((unsigned)kind >= WT_EL__COUNT || !name || !name[0])
		return -EINVAL;
	if ((rc = begin(c)) != 0)
		return rc;
	if (parent_id > 0)
		rc = element_get(c, parent_id, &pkind, pname, sizeof(pname));
	else if (parent_id < 0)
		rc = -EINVAL;
	if (!rc && !wt_elem_parent_ok(pkind, kind))
		rc = -EINVAL;
	PGresult *r = NULL;
	if (!rc) {
		const char *p[] = {wt_elem_kind_name(kind),
				   parent_id > 0 ? I64(b1, parent_id) : NULL,
				   name,
				   attrs,
				   budget_w > 0 ? dbl(b2, sizeof(b2), budget_w) : NULL,
				   budget_a > 0 ? dbl(b3, sizeof(b3), budget_a) : NULL};
		rc = run(
			c, "create element", &r,
			"INSERT INTO structure_elements (kind, parent_id, name, attributes, budget_w, "
			"budget_a) VALUES ($1, $2, $3, coalesce($4::jsonb, '{}'), $5, $6) RETURNING id",
			6, p);
	}
	if (!rc) {
		*id = get_i64(r, 0, 0);
		PQclear(r);
		if (parent_id > 0)
			rc = audit(c, actor, WT_AUDIT_STRUCTURE, WT_AUDIT_INFO,
				   wt_elem_kind_name(kind), *id, "Created %s \"%s\" in %s \"%s\"",
				   wt_elem_kind_name(kind), name,
				   wt_elem_kind_name((enum wt_elem_kind)pkind), pname);
		else
			rc = audit(c, actor, WT_AUDIT_STRUCTURE, WT_AUDIT_INFO,
				   wt_elem_kind_name(kind), *id, "Created %s \"%s\"",
				   wt_elem_kind_name(kind), name);
	}
	return finish(c, rc);
}

int wt_rulesdb_element_rename(PGconn *c, const char *actor, int64_t id, const char *name)
{
	char old[256], b[24];
	int kind, rc;
	if (!name || !name[0])
		return -EINVAL;
	if ((rc = begin(c)) != 0)
		return rc;
	rc = element_get(c, id, &kind, old, sizeof(old));
	if (!rc) {
		const char *p[] = {I64(b, id), name};
		rc = run(
			c, "rename element", NULL,
			"UPDATE structure_elements SET name = $2, updated_at = now() WHERE id = $1",
			2, p);
	}
	if (!rc)
		rc = audit(c, actor, WT_AUDIT_STRUCTURE, WT_AUDIT_INFO,
			   wt_elem_kind_name((enum wt_elem_kind)kind), id,
			   "Renamed %s \"%s\" to \"%s\"",
			   wt_elem_kind_name((enum wt_elem_kind)kind), old, name);
	return finish(c, rc);
}

int wt_rulesdb_element_update(PGconn *c, const char *actor, int64_t id, const char *attrs,
			      double budget_w, double budget_a)
{
	char nm[256], b[24], b2[32], b3[32];
	int kind, rc;
	if ((rc = begin(c)) != 0)
		return rc;
	rc = element_get(c, id, &kind, nm, sizeof(nm));
	if (!rc) {
		const char *p[] = {I64(b, id), attrs,
				   budget_w > 0 ? dbl(b2, sizeof(b2), budget_w) : NULL,
				   budget_a > 0 ? dbl(b3, sizeof(b3), budget_a) : NULL};
		rc = run(c, "update element", NULL,
			 "UPDATE structure_elements SET attributes = coalesce($2::jsonb, '{}'), "
			 "budget_w = $3, budget_a = $4, updated_at = now() WHERE id = $1",
			 4, p);
	}
	if (!rc)
		rc = audit(c, actor, WT_AUDIT_STRUCTURE, WT_AUDIT_INFO,
			   wt_elem_kind_name((enum wt_elem_kind)kind), id,
			   "Changed attributes of %s \"%s\"",
			   wt_elem_kind_name((enum wt_elem_kind)kind), nm);
	return finish(c, rc);
}

int wt_rulesdb_element_move(PGconn *c, const char *actor, int64_t id, int64_t new_parent)
{
	char nm[256], pn[256], b1[24], b2[24];
	int kind, pkind, rc;
	if ((rc = begin(c)) != 0)
		return rc;
	rc = element_get(c, id, &kind, nm, sizeof(nm));
	if (!rc)
		rc = element_get(c, new_parent, &pkind, pn, sizeof(pn));
	if (!rc && !wt_elem_parent_ok(pkind, (enum wt_elem_kind)kind))
		rc = -EINVAL;
	if (!rc) {
		const char *p[] = {I64(b1, id), I64(b2, new_parent)};
		rc = run(
			c, "move element", NULL,
			"UPDATE structure_elements SET parent_id = $2, updated_at = now() WHERE id = $1",
			2, p);
	}
	if (!rc)
		rc = audit(c, actor, WT_AUDIT_STRUCTURE, WT_AUDIT_INFO,
			   wt_elem_kind_name((enum wt_elem_kind)kind), id,
			   "Moved %s \"%s\" to %s \"%s\"",
			   wt_elem_kind_name((enum wt_elem_kind)kind), nm,
			   wt_elem_kind_name((enum wt_elem_kind)pkind), pn);
	return finish(c, rc);
}

#define SUBTREE                                                                             \
	"WITH RECURSIVE sub AS (SELECT id FROM structure_elements WHERE id = $1 UNION ALL " \
	"SELECT e.id FROM structure_elements e JOIN sub ON e.parent_id = sub.id) "

int wt_rulesdb_element_delete(PGconn *c, const char *actor, int64_t id, bool cascade, long *removed)
{
	char nm[256], b[24];
	int kind, rc;
	long below = 0, devices = 0, gone = 0;
	PGresult *r = NULL;

	if (removed)
		*removed = 0;
	if ((rc = begin(c)) != 0)
		return rc;
	rc = element_get(c, id, &kind, nm, sizeof(nm));
	const char *p[] = {I64(b, id)};
	if (!rc)
		rc = run(c, "count subtree", &r,
			 SUBTREE
			 "SELECT (SELECT count(*) - 1 FROM sub), "
			 "(SELECT count(*) FROM devices WHERE rack_id IN (SELECT id FROM sub))",
			 1, p);
	if (!rc) {
		below = (long)get_i64(r, 0, 0);
		devices = (long)get_i64(r, 0, 1);
		PQclear(r);
		if ((below || devices) && !cascade)
			rc = -ENOTEMPTY;
	}
	if (!rc && devices)
		rc = run(c, "unassign subtree", NULL,
			 SUBTREE "UPDATE devices SET rack_id = NULL, updated_at = now() "
				 "WHERE rack_id IN (SELECT id FROM sub)",
			 1, p);
	if (!rc)
		rc = run(c, "delete subtree", &r,
			 SUBTREE "DELETE FROM structure_elements WHERE id IN (SELECT id FROM sub)",
			 1, p);
	if (!rc) {
		gone = strtol(PQcmdTuples(r), NULL, 10);
		PQclear(r);
		rc = audit(c, actor, WT_AUDIT_STRUCTURE,
			   below || devices ? WT_AUDIT_WARNING : WT_AUDIT_INFO,
			   wt_elem_kind_name((enum wt_elem_kind)kind), id,
			   "Deleted %s \"%s\" with %ld elements below; %ld devices unassigned",
			   wt_elem_kind_name((enum wt_elem_kind)kind), nm, below, devices);
	}
	rc = finish(c, rc);
	if (!rc && removed)
		*removed = gone;
	return rc;
}

static int device_name(PGconn *c, int64_t id, char *name, size_t n)
{
	char b[24];
	const char *p[] = {I64(b, id)};
	PGresult *r;
	int rc = run(c, "device lookup", &r, "SELECT name FROM devices WHERE id = $1 FOR UPDATE", 1,
		     p);
	if (rc)
		return rc;
	rc = PQntuples(r) == 1 ? 0 : -ENOENT;
	if (!rc)
		snprintf(name, n, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

int wt_rulesdb_device_assign(PGconn *c, const char *actor, int64_t device_id, int64_t rack_id,
			     enum wt_feed feed)
{
	char dn[256], rn[256], b1[24], b2[24];
	int kind, rc;
	if ((unsigned)feed >= WT_FEED__COUNT)
		return -EINVAL;
	if ((rc = begin(c)) != 0)
		return rc;
	rc = device_name(c, device_id, dn, sizeof(dn));
	if (!rc)
		rc = element_get(c, rack_id, &kind, rn, sizeof(rn));
	if (!rc && kind != WT_EL_RACK)
		rc = -EINVAL;
	if (!rc) {
		const char *p[] = {I64(b1, device_id), I64(b2, rack_id), wt_feed_name(feed)};
		rc = run(
			c, "assign device", NULL,
			"UPDATE devices SET rack_id = $2, feed = $3, updated_at = now() WHERE id = $1",
			3, p);
	}
	if (!rc)
		rc = audit(c, actor, WT_AUDIT_STRUCTURE, WT_AUDIT_INFO, "device", device_id,
			   "Assigned device \"%s\" to rack \"%s\", feed %s", dn, rn,
			   wt_feed_name(feed));
	return finish(c, rc);
}

int wt_rulesdb_device_unassign(PGconn *c, const char *actor, int64_t device_id)
{
	char dn[256], b[24];
	int rc;
	if ((rc = begin(c)) != 0)
		return rc;
	rc = device_name(c, device_id, dn, sizeof(dn));
	if (!rc) {
		const char *p[] = {I64(b, device_id)};
		rc = run(c, "unassign device", NULL,
			 "UPDATE devices SET rack_id = NULL, updated_at = now() WHERE id = $1", 1,
			 p);
	}
	if (!rc)
		rc = audit(c, actor, WT_AUDIT_STRUCTURE, WT_AUDIT_INFO, "device", device_id,
			   "Unassigned device \"%s\"", dn);
	return finish(c, rc);
}

/* ---- rules ---- */

#define RULE_COLS                                                                                \
	"id, name, enabled, metric, scope, coalesce(device_id, entity_id, element_id, 0), "      \
	"scope_text, target_kind, critical_above, critical_above_on, warning_above, "            \
	"warning_above_on, warning_below, warning_below_on, critical_below, critical_below_on, " \
	"hysteresis, dwell_s, repeat_s"

void wt_rulesdb_free_rules(struct wt_rule *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++)
		wt_rule_clear(&r[i]);
	free(r);
}

int wt_rulesdb_load_rules(PGconn *c, struct wt_rule **out, size_t *n)
{
	PGresult *r;
	*out = NULL;
	*n = 0;
	int rc = run(c, "load rules", &r, "SELECT " RULE_COLS " FROM rules ORDER BY id", 0, NULL);
	if (rc)
		return rc;
	int rows = PQntuples(r);
	struct wt_rule *v = calloc(rows ? (size_t)rows : 1, sizeof(*v));
	if (!v) {
		PQclear(r);
		return -ENOMEM;
	}
	for (int i = 0; i < rows; i++) {
		struct wt_rule *x = &v[i];
		x->id = get_i64(r, i, 0);
		x->name = get_str(r, i, 1);
		x->enabled = get_bool(r, i, 2);
		x->metric = (int)get_i64(r, i, 3);
		int sc = wt_scope_by_name(PQgetvalue(r, i, 4));
		x->scope = sc < 0 ? WT_SCOPE_GLOBAL : (enum wt_scope)sc;
		if (sc < 0)
			x->enabled = false;
		x->scope_id = get_i64(r, i, 5);
		x->scope_text = get_str(r, i, 6);
		x->entity_kind = -1;
		if (!PQgetisnull(r, i, 7))
			x->entity_kind = x->scope >= WT_SCOPE_DC
						 ? wt_elem_kind_by_name(PQgetvalue(r, i, 7))
						 : wt_entity_kind_by_name(PQgetvalue(r, i, 7));
		for (int t = 0; t < WT_THR__COUNT; t++) {
			x->thr[t] = get_dbl(r, i, 8 + 2 * t);
			x->thr_on[t] = get_bool(r, i, 9 + 2 * t);
		}
		x->hysteresis = get_dbl(r, i, 16);
		x->dwell_s = (int32_t)get_i64(r, i, 17);
		x->repeat_s = (int32_t)get_i64(r, i, 18);
		if (!x->name) {
			wt_rulesdb_free_rules(v, (size_t)rows);
			PQclear(r);
			return -ENOMEM;
		}
	}
	PQclear(r);
	*out = v;
	*n = (size_t)rows;
	return 0;
}

int wt_rulesdb_rule_save(PGconn *c, const char *actor, struct wt_rule *x, const char **why)
{
	const char *w = NULL;
	int rc = wt_rule_validate(x, &w);
	if (why)
		*why = w;
	if (rc)
		return rc;
	char id[24], met[24], sid[24], thr[4][32], hy[32], dw[24], rp[24];
	const char *kind = NULL;
	if (x->entity_kind >= 0)
		kind = x->scope >= WT_SCOPE_DC
			       ? wt_elem_kind_name((enum wt_elem_kind)x->entity_kind)
			       : wt_entity_kind_name((enum wt_entity_kind)x->entity_kind);
	I64(sid, x->scope_id);
	const char *p[] = {
		x->id ? I64(id, x->id) : NULL,
		x->name,
		x->enabled ? "t" : "f",
		I64(met, x->metric),
		wt_scope_name(x->scope),
		x->scope == WT_SCOPE_DEVICE ? sid : NULL,
		x->scope == WT_SCOPE_ENTITY ? sid : NULL,
		x->scope >= WT_SCOPE_DC ? sid : NULL,
		x->scope == WT_SCOPE_TYPE || x->scope == WT_SCOPE_MODEL ? x->scope_text : NULL,
		kind,
		x->thr_on[0] ? dbl(thr[0], 32, x->thr[0]) : NULL,
		x->thr_on[0] ? "t" : "f",
		x->thr_on[1] ? dbl(thr[1], 32, x->thr[1]) : NULL,
		x->thr_on[1] ? "t" : "f",
		x->thr_on[2] ? dbl(thr[2], 32, x->thr[2]) : NULL,
		x->thr_on[2] ? "t" : "f",
		x->thr_on[3] ? dbl(thr[3], 32, x->thr[3]) : NULL,
		x->thr_on[3] ? "t" : "f",
		dbl(hy, sizeof(hy), x->hysteresis),
		I64(dw, x->dwell_s),
		I64(rp, x->repeat_s),
	};
	if ((rc = begin(c)) != 0)
		return rc;
	PGresult *r;
	if (!x->id)
		rc = run(
			c, "insert rule", &r,
			"INSERT INTO rules (name, enabled, metric, scope, device_id, entity_id, element_id, "
			"scope_text, target_kind, critical_above, critical_above_on, warning_above, "
			"warning_above_on, warning_below, warning_below_on, critical_below, "
			"critical_below_on, hysteresis, dwell_s, repeat_s) VALUES ($2, $3, $4, $5, $6, $7, "
			"$8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) "
			"RETURNING id, $1::int IS NULL",
			21, p);
	else
		rc = run(
			c, "update rule", &r,
			"UPDATE rules SET name = $2, enabled = $3, metric = $4, scope = $5, device_id = $6, "
			"entity_id = $7, element_id = $8, scope_text = $9, target_kind = $10, "
			"critical_above = $11, critical_above_on = $12, warning_above = $13, "
			"warning_above_on = $14, warning_below = $15, warning_below_on = $16, "
			"critical_below = $17, critical_below_on = $18, hysteresis = $19, dwell_s = $20, "
			"repeat_s = $21, updated_at = now() WHERE id = $1 RETURNING id",
			21, p);
	if (!rc) {
		if (PQntuples(r) != 1)
			rc = -ENOENT;
		else
			x->id = get_i64(r, 0, 0);
		PQclear(r);
	}
	if (!rc)
		rc = audit(c, actor, WT_AUDIT_RULE, WT_AUDIT_INFO, "rule", x->id,
			   "%s rule \"%s\" (%s %s)", p[0] ? "Changed" : "Created", x->name,
			   wt_scope_name(x->scope),
			   wt_metric_info((enum wt_metric)x->metric)
				   ? wt_metric_info((enum wt_metric)x->metric)->name
				   : "?");
	return finish(c, rc);
}

int wt_rulesdb_rule_delete(PGconn *c, const char *actor, int64_t id)
{
	char b[24];
	const char *p[] = {I64(b, id)};
	PGresult *r;
	int rc = begin(c);
	if (rc)
		return rc;
	rc = run(c, "delete rule", &r, "DELETE FROM rules WHERE id = $1 RETURNING name", 1, p);
	if (!rc) {
		char nm[256] = "";
		if (PQntuples(r) != 1)
			rc = -ENOENT;
		else
			snprintf(nm, sizeof(nm), "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		if (!rc)
			rc = audit(c, actor, WT_AUDIT_RULE, WT_AUDIT_INFO, "rule", id,
				   "Deleted rule \"%s\"", nm);
	}
	return finish(c, rc);
}

/* ---- alarms ---- */

static const char *sev_db(uint8_t s)
{
	return s == WT_SEV_CRITICAL ? "critical" : "warning";
}

int wt_rulesdb_alarm_save(PGconn *c, const struct wt_alarm *a)
{
	char id[24], val[32], thr[32], rule[24], ser[24], dev[24], ent[24], el[24], t1[24], t2[24],
		t3[24], t4[24], t5[24];
	const char *p[] = {
		I64(id, a->id),
		wt_alarm_kind_name(a->kind),
		a->active ? "t" : "f",
		sev_db(a->severity),
		a->thr >= 0 ? wt_thr_name((enum wt_thr)a->thr) : NULL,
		a->kind == WT_ALARM_THRESHOLD ? dbl(val, sizeof(val), a->value) : NULL,
		a->kind == WT_ALARM_THRESHOLD ? dbl(thr, sizeof(thr), a->threshold) : NULL,
		a->rule_id ? I64(rule, a->rule_id) : NULL,
		a->rule_name,
		a->series ? I64(ser, a->series) : NULL,
		a->device_id ? I64(dev, a->device_id) : NULL,
		a->entity_id ? I64(ent, a->entity_id) : NULL,
		a->element_id ? I64(el, a->element_id) : NULL,
		a->message ? a->message : "",
		ms_param(t1, sizeof(t1), a->raised_ms),
		ms_param(t2, sizeof(t2), a->cleared_ms),
		ms_param(t3, sizeof(t3), a->updated_ms),
		ms_param(t4, sizeof(t4), a->last_notify_ms),
		a->acked ? "t" : "f",
		ms_param(t5, sizeof(t5), a->acked_ms),
		a->acked_by,
		a->ack_comment,
	};
	return run(
		c, "save alarm", NULL,
		"INSERT INTO alarms (id, kind, active, severity, threshold_kind, value, threshold, "
		"rule_id, rule_name, series_id, device_id, entity_id, element_id, message, raised_at, "
		"cleared_at, updated_at, last_notify_at, acked, acked_at, acked_by, ack_comment) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
		"to_timestamp($15::float8 / 1000), to_timestamp($16::float8 / 1000), "
		"to_timestamp($17::float8 / 1000), to_timestamp($18::float8 / 1000), $19, "
		"to_timestamp($20::float8 / 1000), $21, $22) "
		"ON CONFLICT (id) DO UPDATE SET active = EXCLUDED.active, severity = EXCLUDED.severity, "
		"threshold_kind = EXCLUDED.threshold_kind, value = EXCLUDED.value, "
		"threshold = EXCLUDED.threshold, element_id = EXCLUDED.element_id, "
		"message = EXCLUDED.message, cleared_at = EXCLUDED.cleared_at, "
		"updated_at = EXCLUDED.updated_at, last_notify_at = EXCLUDED.last_notify_at, "
		"acked = EXCLUDED.acked, acked_at = EXCLUDED.acked_at, acked_by = EXCLUDED.acked_by, "
		"ack_comment = EXCLUDED.ack_comment",
		22, p);
}

void wt_rulesdb_free_alarms(struct wt_alarm *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		wt_alarm_clear_strings(&a[i]);
	free(a);
}

#define MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

int wt_rulesdb_load_alarms(PGconn *c, struct wt_alarm **out, size_t *n)
{
	PGresult *r;
	*out = NULL;
	*n = 0;
	int rc = run(
		c, "load alarms", &r,
		"SELECT id, kind, active, severity, threshold_kind, value, threshold, rule_id, "
		"rule_name, series_id, device_id, entity_id, element_id, message, " MS("raised_at") ", " MS(
			"cleared_at") ", " MS("updated_at") ", " MS("last_notify_at") ", acked, " MS("acked_at") ", acked_by, ack_comment FROM alarms WHERE active OR NOT acked ORDER BY id",
		0, NULL);
	if (rc)
		return rc;
	int rows = PQntuples(r);
	struct wt_alarm *v = calloc(rows ? (size_t)rows : 1, sizeof(*v));
	if (!v) {
		PQclear(r);
		return -ENOMEM;
	}
	for (int i = 0; i < rows; i++) {
		struct wt_alarm *a = &v[i];
		a->id = get_i64(r, i, 0);
		const char *k = PQgetvalue(r, i, 1);
		a->kind = strcmp(k, "comm_lost") == 0 ? WT_ALARM_COMM_LOST
			  : strcmp(k, "reboot") == 0  ? WT_ALARM_REBOOT
						      : WT_ALARM_THRESHOLD;
		a->active = get_bool(r, i, 2);
		a->severity = strcmp(PQgetvalue(r, i, 3), "critical") == 0 ? WT_SEV_CRITICAL
									   : WT_SEV_WARNING;
		a->thr = -1;
		for (int t = 0; !PQgetisnull(r, i, 4) && t < WT_THR__COUNT; t++)
			if (strcmp(PQgetvalue(r, i, 4), wt_thr_name((enum wt_thr)t)) == 0)
				a->thr = (int8_t)t;
		a->value = get_dbl(r, i, 5);
		a->threshold = get_dbl(r, i, 6);
		a->rule_id = get_i64(r, i, 7);
		a->rule_name = get_str(r, i, 8);
		a->series = (uint32_t)get_i64(r, i, 9);
		a->device_id = get_i64(r, i, 10);
		a->entity_id = get_i64(r, i, 11);
		a->element_id = get_i64(r, i, 12);
		a->message = get_str(r, i, 13);
		a->raised_ms = get_i64(r, i, 14);
		a->cleared_ms = get_i64(r, i, 15);
		a->updated_ms = get_i64(r, i, 16);
		a->last_notify_ms = get_i64(r, i, 17);
		a->acked = get_bool(r, i, 18);
		a->acked_ms = get_i64(r, i, 19);
		a->acked_by = get_str(r, i, 20);
		a->ack_comment = get_str(r, i, 21);
	}
	PQclear(r);
	*out = v;
	*n = (size_t)rows;
	return 0;
}

int wt_rulesdb_alarm_id_block(PGconn *c, int64_t *first, int64_t *count)
{
	PGresult *r;
	int rc = run(c, "alarm id block", &r,
		     "SELECT nextval('alarm_ids'), (SELECT increment_by FROM pg_sequences "
		     "WHERE schemaname = current_schema() AND sequencename = 'alarm_ids')",
		     0, NULL);
	if (rc)
		return rc;
	*first = get_i64(r, 0, 0);
	*count = get_i64(r, 0, 1);
	PQclear(r);
	if (*first <= 0 || *count <= 0)
		return -EIO;
	return 0;
}

/* ---- audit ---- */

int wt_rulesdb_audit_set_state(PGconn *c, const char *actor, int64_t id, enum wt_audit_state st,
			       const char *comment)
{
	char b[24], s[24];
	if ((unsigned)st >= WT_AUDIT_STATE__COUNT)
		return -EINVAL;
	int rc = begin(c);
	if (rc)
		return rc;
	const char *p[] = {I64(b, id), I64(s, st)};
	PGresult *r;
	rc = run(c, "audit state", &r, "UPDATE audit_log SET state = $2 WHERE id = $1", 2, p);
	if (!rc) {
		if (strcmp(PQcmdTuples(r), "1") != 0)
			rc = -ENOENT;
		PQclear(r);
	}
	if (!rc && comment && comment[0]) {
		const char *q[] = {I64(b, id), actor ? actor : "", comment};
		rc = run(
			c, "audit comment", NULL,
			"INSERT INTO audit_comments (audit_id, author, comment) VALUES ($1, $2, $3)",
			3, q);
	}
	return finish(c, rc);
}

int wt_rulesdb_audit_comment(PGconn *c, const char *author, int64_t id, const char *comment)
{
	char b[24];
	if (!comment || !comment[0])
		return -EINVAL;
	const char *q[] = {I64(b, id), author ? author : "", comment};
	int rc = run(c, "audit comment", NULL,
		     "INSERT INTO audit_comments (audit_id, author, comment) VALUES ($1, $2, $3)",
		     3, q);
	return rc == -ENOTEMPTY ? -ENOENT : rc; /* FK: no such entry */
}

int wt_rulesdb_audit_set_retention(PGconn *c, const char *actor, enum wt_audit_class cls, int days)
{
	char b1[24], b2[24];
	if (cls <= WT_AUDIT_CLASS_NONE || cls >= WT_AUDIT_CLASS__COUNT || days < 0)
		return -EINVAL;
	int rc = begin(c);
	if (rc)
		return rc;
	const char *p[] = {I64(b1, cls), I64(b2, days)};
	rc = run(c, "audit retention", NULL,
		 "UPDATE audit_retention SET days = $2 WHERE class = $1", 2, p);
	if (!rc)
		rc = audit(c, actor, WT_AUDIT_CONFIG, WT_AUDIT_INFO, "audit_retention", cls,
			   "Audit retention for %s set to %d days%s", wt_audit_class_name(cls),
			   days, days ? "" : " (forever)");
	return finish(c, rc);
}

int wt_rulesdb_audit_expire(PGconn *c, int64_t now_ms, long *deleted)
{
	PGresult *r;
	*deleted = 0;
	int rc = run(c, "audit retention", &r,
		     "SELECT class, days FROM audit_retention ORDER BY class", 0, NULL);
	if (rc)
		return rc;
	int rows = PQntuples(r);
	int64_t days[WT_AUDIT_CLASS__COUNT] = {0};
	for (int i = 0; i < rows; i++) {
		int64_t k = get_i64(r, i, 0);
		if (k > 0 && k < WT_AUDIT_CLASS__COUNT)
			days[k] = get_i64(r, i, 1);
	}
	PQclear(r);
	for (int k = 1; k < WT_AUDIT_CLASS__COUNT && !rc; k++) {
		if (days[k] <= 0)
			continue; /* 0 keeps forever */
		char b1[24], b2[24];
		const char *p[] = {I64(b1, k), I64(b2, now_ms - days[k] * 86400000LL)};
		/* Batches keep each transaction short; every batch is one range
		 * scan of (retention_class, ts). */
		for (;;) {
			rc = run(
				c, "audit expire", &r,
				"DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE "
				"retention_class = $1 AND ts < to_timestamp($2::float8 / 1000) LIMIT 10000)",
				2, p);
			if (rc)
				break;
			long n = strtol(PQcmdTuples(r), NULL, 10);
			PQclear(r);
			*deleted += n;
			if (n < 10000)
				break;
		}
	}
	return rc;
}

/* ---- aggregate series cache ---- */

struct cache_ent {
	struct wt_agg_key key;
	uint32_t id;
};

struct wt_agg_cache {
	pthread_mutex_t lock;
	struct cache_ent *v;
	size_t n, cap;
	struct wt_idmap map; /* key -> index in v */
	struct wt_agg_key *miss;
	size_t nmiss, misscap;
	struct wt_idmap missed; /* key -> 1 */
};

static uint64_t cache_key(const struct wt_agg_key *k)
{
	return ((uint64_t)(uint32_t)k->element_id << 24) | ((uint64_t)k->element_kind << 20) |
	       ((uint64_t)k->feed << 12) | ((uint64_t)k->phase << 8) | k->metric;
}

struct wt_agg_cache *wt_agg_cache_new(void)
{
	struct wt_agg_cache *c = calloc(1, sizeof(*c));
	if (c)
		pthread_mutex_init(&c->lock, NULL);
	return c;
}

void wt_agg_cache_free(struct wt_agg_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->v);
	free(c->miss);
	wt_idmap_free(&c->map);
	wt_idmap_free(&c->missed);
	free(c);
}

static int cache_put(struct wt_agg_cache *c, const struct wt_agg_key *k, uint32_t id)
{
	uint64_t key = cache_key(k);
	int32_t at = wt_idmap_get(&c->map, key);
	if (at >= 0) {
		c->v[at].id = id;
		return 0;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct cache_ent *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	int rc = wt_idmap_put(&c->map, key, (int32_t)c->n);
	if (rc)
		return rc;
	c->v[c->n++] = (struct cache_ent){*k, id};
	return 0;
}

int wt_agg_cache_load(PGconn *c, struct wt_agg_cache *cache)
{
	PGresult *r;
	int rc = run(c, "load aggregate series", &r,
		     "SELECT id, owner_kind, owner_id, metric, coalesce(agg_phase, 0), "
		     "coalesce(agg_feed, 'none') FROM series WHERE owner_kind IS NOT NULL",
		     0, NULL);
	if (rc)
		return rc;
	pthread_mutex_lock(&cache->lock);
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		int kind = wt_elem_kind_by_name(PQgetvalue(r, i, 1));
		int feed = wt_feed_by_name(PQgetvalue(r, i, 5));
		if (kind < 0 || feed < 0)
			continue;
		struct wt_agg_key k;
		memset(&k, 0, sizeof(k));
		k.element_id = get_i64(r, i, 2);
		k.element_kind = (enum wt_elem_kind)kind;
		k.feed = (uint8_t)feed;
		k.phase = (uint8_t)get_i64(r, i, 4);
		k.metric = (uint8_t)get_i64(r, i, 3);
		rc = cache_put(cache, &k, (uint32_t)get_i64(r, i, 0));
	}
	pthread_mutex_unlock(&cache->lock);
	PQclear(r);
	return rc;
}

int wt_agg_cache_lookup(void *ctx, const struct wt_agg_key *k, uint32_t *id)
{
	struct wt_agg_cache *c = ctx;
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	int32_t at = wt_idmap_get(&c->map, cache_key(k));
	if (at >= 0) {
		*id = c->v[at].id;
	} else {
		rc = -EAGAIN;
		uint64_t key = cache_key(k);
		if (wt_idmap_get(&c->missed, key) < 0) {
			if (c->nmiss == c->misscap) {
				size_t cap = c->misscap ? c->misscap * 2 : 256;
				struct wt_agg_key *m = realloc(c->miss, cap * sizeof(*m));
				if (m) {
					c->miss = m;
					c->misscap = cap;
				}
			}
			if (c->nmiss < c->misscap && !wt_idmap_put(&c->missed, key, 1))
				c->miss[c->nmiss++] = *k;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

size_t wt_agg_cache_missing(struct wt_agg_cache *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->nmiss;
	pthread_mutex_unlock(&c->lock);
	return n;
}

size_t wt_agg_cache_count(struct wt_agg_cache *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

uint32_t wt_agg_cache_series_at(struct wt_agg_cache *c, size_t i, struct wt_agg_key *key)
{
	uint32_t id = 0;
	pthread_mutex_lock(&c->lock);
	if (i < c->n) {
		id = c->v[i].id;
		if (key)
			*key = c->v[i].key;
	}
	pthread_mutex_unlock(&c->lock);
	return id;
}

int wt_agg_cache_create_missing(PGconn *c, struct wt_agg_cache *cache)
{
	/* Take the list, create without holding the lock (the loop may look
	 * up meanwhile), then publish. */
	pthread_mutex_lock(&cache->lock);
	struct wt_agg_key *miss = cache->miss;
	size_t n = cache->nmiss;
	cache->miss = NULL;
	cache->nmiss = cache->misscap = 0;
	wt_idmap_free(&cache->missed);
	pthread_mutex_unlock(&cache->lock);

	int rc = 0;
	size_t done = 0;
	for (; done < n && !rc; done++) {
		const struct wt_agg_key *k = &miss[done];
		char feed = k->feed >= WT_FEED_A && k->feed <= WT_FEED_D
				    ? (char)('A' + k->feed - WT_FEED_A)
				    : 0;
		uint32_t id = 0;
		rc = wt_registry_aggregate_series(c, wt_elem_kind_name(k->element_kind),
						  (int32_t)k->element_id, (enum wt_metric)k->metric,
						  k->phase, feed, &id);
		if (!rc) {
			pthread_mutex_lock(&cache->lock);
			rc = cache_put(cache, k, id);
			pthread_mutex_unlock(&cache->lock);
		}
	}
	/* What failed goes back on the list for the next try. */
	for (size_t i = done ? done - 1 : 0; rc && i < n; i++) {
		uint32_t ignored;
		(void)wt_agg_cache_lookup(cache, &miss[i], &ignored);
	}
	free(miss);
	return rc;
}

/* ---- start-up bindings ---- */

static int parse_phase(const char *s, int kind, int idx)
{
	for (; s && *s; s++)
		if (*s >= '1' && *s <= '3')
			return *s - '0';
	return kind == WT_ENT_PHASE && idx >= 1 && idx <= 3 ? idx : 0;
}

int wt_rulesdb_load_bindings(PGconn *c, struct wt_rules *e)
{
	PGresult *r;
	int rc = run(c, "load devices", &r,
		     "SELECT id, name, coalesce(info->>'type', 'device'), coalesce(model, ''), "
		     "coalesce(rating_a, 0) FROM devices",
		     0, NULL);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		struct wt_rules_device d = {get_i64(r, i, 0), PQgetvalue(r, i, 1),
					    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
					    get_dbl(r, i, 4)};
		rc = wt_rules_device_set(e, &d);
	}
	PQclear(r);
	if (rc)
		return rc;
	rc = run(
		c, "load series", &r,
		"SELECT s.id, e.device_id, e.id, e.kind, e.idx, e.name, s.metric, "
		"coalesce(e.attributes->>'phase', '') FROM series s JOIN entities e ON e.id = s.entity_id",
		0, NULL);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		int kind = wt_entity_kind_by_name(PQgetvalue(r, i, 3));
		int idx = (int)get_i64(r, i, 4);
		if (kind < 0)
			continue;
		struct wt_rules_series s = {(uint32_t)get_i64(r, i, 0),
					    get_i64(r, i, 1),
					    get_i64(r, i, 2),
					    kind,
					    idx,
					    (uint8_t)parse_phase(PQgetvalue(r, i, 7), kind, idx),
					    (int)get_i64(r, i, 6),
					    PQgetvalue(r, i, 5)};
		rc = wt_rules_series_set(e, &s);
		if (rc == -EINVAL || rc == -EEXIST) {
			wt_warn("rules: series %u not bound (%s)", s.series, strerror(-rc));
			rc = 0;
		}
	}
	PQclear(r);
	return rc;
}
