/* /api/v1/users: user administration (the "users" permission). */
#include "auth.h"
#include "db.h"
#include "log.h"
#include "password.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool username_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("._@-", *p)))
			return false;
	return true;
}

static void not_found(struct wt_api_req *r)
{
	wt_api_fail(r, 404, "USER_NOT_FOUND", "user %lld does not exist", (long long)r->ids[0]);
}

void wt_h_users_list(struct wt_api_req *r)
{
	char st[6];
	PGresult *res = wt_api_db_exec(r->db, "SELECT " WT_USER_COLS " FROM users u ORDER BY u.id",
				       0, NULL, st);
	if (!res) {
		wt_api_fail_db(r, "listing users");
		return;
	}
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, wt_auth_user_json(res, i));
	PQclear(res);
	wt_api_ok(r, 200, json_pack("{s:o}", "users", a));
}

static void reply_user(struct wt_api_req *r, int status, int64_t id)
{
	char uid[24], st[6];
	snprintf(uid, sizeof(uid), "%lld", (long long)id);
	const char *p[] = {uid};
	PGresult *res = wt_api_db_exec(r->db, "SELECT " WT_USER_COLS " FROM users u WHERE u.id = $1",
				       1, p, st);
	if (!res) {
		wt_api_fail_db(r, "reading the user");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		not_found(r);
		return;
	}
	wt_api_ok(r, status, wt_auth_user_json(res, 0));
	PQclear(res);
}

void wt_h_users_get(struct wt_api_req *r)
{
	reply_user(r, 200, r->ids[0]);
}

void wt_h_users_create(struct wt_api_req *r)
{
	const char *name = json_string_value(json_object_get(r->body, "username"));
	const char *pw = json_string_value(json_object_get(r->body, "password"));
	json_t *mc = json_object_get(r->body, "must_change");
	unsigned mask;
	char why[160], hash[WT_PASSWORD_HASH_MAX], roles[128], st[6];

	if (!username_ok(name)) {
		wt_api_fail(r, 400, "INVALID_REQUEST",
			    "field \"username\": 1 to 64 letters, digits or . _ @ -");
		return;
	}
	if (wt_auth_roles_parse_json(json_object_get(r->body, "roles"), "roles", &mask, why,
				     sizeof(why)) < 0) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "%s", why);
		return;
	}
	if (!wt_password_acceptable(&r->opt->password, pw, why, sizeof(why))) {
		wt_api_fail(r, 400, "WEAK_PASSWORD", "field \"password\": %s", why);
		return;
	}
	if (wt_password_hash(&r->opt->password, pw, hash, sizeof(hash)) < 0) {
		wt_api_fail(r, 500, "INTERNAL", "could not hash the password");
		return;
	}
	wt_auth_roles_to_pg(mask, roles, sizeof(roles));
	/* An administrator-chosen password is known to the administrator, so by
	 * default the user must pick their own at first login. */
	const char *p[] = {name, hash, roles, json_string_value(json_object_get(r->body, "full_name")),
			   json_string_value(json_object_get(r->body, "email")),
			   (mc && !json_is_true(mc)) ? "false" : "true"};
	PGresult *res = wt_api_db_exec(r->db,
				       "INSERT INTO users (username, source, password_hash, roles, full_name,"
				       " email, must_change, password_changed_at)"
				       " VALUES ($1, 'local', $2, $3, $4, $5, $6, now()) RETURNING id",
				       6, p, st);
	if (!res && strcmp(st, "23505") == 0) {
		wt_api_fail(r, 409, "USER_EXISTS", "user \"%s\" already exists", name);
		return;
	}
	if (!res) {
		wt_api_fail_db(r, "creating the user");
		return;
	}
	int64_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	wt_api_audit(r, "user_created", "info", r->who.username, "created user \"%s\" (%lld) with roles %s",
		     name, (long long)id, roles);
	reply_user(r, 201, id);
}

/* True when the change would leave no enabled administrator. */
static bool last_admin(struct wt_api_req *r, bool loses_admin)
{
	if (!loses_admin)
		return false;
	char uid[24], st[6];
	snprintf(uid, sizeof(uid), "%lld", (long long)r->ids[0]);
	const char *p[] = {uid};
	PGresult *res = wt_api_db_exec(r->db,
				       "SELECT count(*) FROM users WHERE 'admin' = ANY (roles)"
				       " AND NOT disabled AND id <> $1",
				       1, p, st);
	bool last = res && strcmp(PQgetvalue(res, 0, 0), "0") == 0;
	PQclear(res);
	return last;
}

void wt_h_users_update(struct wt_api_req *r)
{
	char uid[24], st[6], why[160], hash[WT_PASSWORD_HASH_MAX] = "", roles[128] = "";
	snprintf(uid, sizeof(uid), "%lld", (long long)r->ids[0]);
	const char *p0[] = {uid};
	PGresult *res = wt_api_db_exec(r->db, "SELECT source, roles, disabled FROM users WHERE id = $1",
				       1, p0, st);
	if (!res) {
		wt_api_fail_db(r, "reading the user");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		not_found(r);
		return;
	}
	bool ldap = strcmp(PQgetvalue(res, 0, 0), "ldap") == 0;
	bool was_admin = wt_auth_roles_from_pg(PQgetvalue(res, 0, 1)) & (1u << WT_ROLE_ADMIN);
	PQclear(res);

	json_t *jroles = json_object_get(r->body, "roles");
	json_t *jpw = json_object_get(r->body, "password");
	json_t *jdis = json_object_get(r->body, "disabled");
	unsigned mask = 0;
	if (ldap && (jroles || jpw)) {
		wt_api_fail(r, 409, "DIRECTORY_ACCOUNT",
			    "user %s comes from the directory: its roles follow its groups and its "
			    "password lives there",
			    uid);
		return;
	}
	if (jroles) {
		if (wt_auth_roles_parse_json(jroles, "roles", &mask, why, sizeof(why)) < 0) {
			wt_api_fail(r, 400, "INVALID_REQUEST", "%s", why);
			return;
		}
		wt_auth_roles_to_pg(mask, roles, sizeof(roles));
	}
	if (jpw) {
		if (!wt_password_acceptable(&r->opt->password, json_string_value(jpw), why,
					    sizeof(why))) {
			wt_api_fail(r, 400, "WEAK_PASSWORD", "field \"password\": %s", why);
			return;
		}
		if (wt_password_hash(&r->opt->password, json_string_value(jpw), hash, sizeof(hash)) < 0) {
			wt_api_fail(r, 500, "INTERNAL", "could not hash the password");
			return;
		}
	}
	bool loses = was_admin && ((jroles && !(mask & (1u << WT_ROLE_ADMIN))) || json_is_true(jdis));
	if (last_admin(r, loses)) {
		wt_api_fail(r, 409, "LAST_ADMIN", "user %s is the last enabled administrator", uid);
		return;
	}
	json_t *jmc = json_object_get(r->body, "must_change");
	json_t *jfn = json_object_get(r->body, "full_name");
	json_t *jem = json_object_get(r->body, "email");
	/* NULL parameters leave a column alone; one statement, so the change
	 * and the ended sessions/tokens are atomic. */
	const char *p[] = {uid,
			   jroles ? roles : NULL,
			   jpw ? hash : NULL,
			   jfn ? json_string_value(jfn) : NULL,
			   jem ? json_string_value(jem) : NULL,
			   /* a reset password is known to the admin: the user must replace it */
			   jmc ? (json_is_true(jmc) ? "true" : "false") : (jpw ? "true" : NULL),
			   jdis ? (json_is_true(jdis) ? "true" : "false") : NULL,
			   (jpw || json_is_true(jdis)) ? "true" : "false"};
	res = wt_api_db_exec(
		r->db,
		"WITH u AS (UPDATE users SET"
		"  roles = coalesce($2::text[], roles),"
		"  password_hash = coalesce($3, password_hash),"
		"  password_changed_at = CASE WHEN $3 IS NULL THEN password_changed_at ELSE now() END,"
		"  full_name = CASE WHEN $4::text IS NULL THEN full_name ELSE nullif($4, '') END,"
		"  email = CASE WHEN $5::text IS NULL THEN email ELSE nullif($5, '') END,"
		"  must_change = coalesce($6::boolean, must_change),"
		"  disabled = coalesce($7::boolean, disabled), updated_at = now()"
		"  WHERE id = $1 RETURNING id),"
		" s AS (DELETE FROM sessions WHERE user_id = $1 AND $8::boolean RETURNING 1)"
		" SELECT count(*) FROM u",
		8, p, st);
	if (!res) {
		wt_api_fail_db(r, "updating the user");
		return;
	}
	PQclear(res);
	char detail[200];
	snprintf(detail, sizeof(detail), "%s%s%s%s%s%s", jroles ? " roles" : "",
		 jpw ? " password" : "", jfn ? " full_name" : "", jem ? " email" : "",
		 jmc ? " must_change" : "", jdis ? " disabled" : "");
	wt_api_audit(r, "user_updated", "info", r->who.username, "changed user %s:%s", uid, detail);
	reply_user(r, 200, r->ids[0]);
}

void wt_h_users_delete(struct wt_api_req *r)
{
	char uid[24], st[6];
	snprintf(uid, sizeof(uid), "%lld", (long long)r->ids[0]);
	const char *p[] = {uid};
	PGresult *res = wt_api_db_exec(r->db, "SELECT username, roles, disabled FROM users WHERE id = $1",
				       1, p, st);
	if (!res) {
		wt_api_fail_db(r, "reading the user");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		not_found(r);
		return;
	}
	char name[80];
	snprintf(name, sizeof(name), "%s", PQgetvalue(res, 0, 0));
	bool admin = (wt_auth_roles_from_pg(PQgetvalue(res, 0, 1)) & (1u << WT_ROLE_ADMIN)) &&
		     PQgetvalue(res, 0, 2)[0] != 't';
	PQclear(res);
	if (last_admin(r, admin)) {
		wt_api_fail(r, 409, "LAST_ADMIN", "user %s is the last enabled administrator", uid);
		return;
	}
	/* Sessions and tokens go with the row (ON DELETE CASCADE). */
	res = wt_api_db_exec(r->db, "DELETE FROM users WHERE id = $1", 1, p, st);
	if (!res) {
		wt_api_fail_db(r, "deleting the user");
		return;
	}
	PQclear(res);
	wt_api_audit(r, "user_deleted", "info", r->who.username, "deleted user \"%s\" (%s)", name, uid);
	wt_api_ok(r, 204, NULL);
}
