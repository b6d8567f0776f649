/* /api/v1/session: login, whoami, logout, change password. */
#include "auth.h"
#include "db.h"
#include "ldapauth.h"
#include "log.h"
#include "password.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *opt_str(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

json_t *wt_auth_user_json(PGresult *res, int row)
{
	return json_pack("{s:I,s:s,s:s,s:o,s:b,s:b,s:o,s:o,s:o,s:o,s:o}", "id",
			 (json_int_t)strtoll(PQgetvalue(res, row, 0), NULL, 10), "username",
			 PQgetvalue(res, row, 1), "source", PQgetvalue(res, row, 2), "roles",
			 wt_auth_roles_json(wt_auth_roles_from_pg(PQgetvalue(res, row, 3))),
			 "must_change", PQgetvalue(res, row, 4)[0] == 't', "disabled",
			 PQgetvalue(res, row, 5)[0] == 't', "full_name", opt_str(res, row, 6), "email",
			 opt_str(res, row, 7), "created_at", opt_str(res, row, 8), "last_login_at",
			 opt_str(res, row, 9), "password_changed_at", opt_str(res, row, 10));
}

/* Burns the same scrypt time for an unknown user as for a known one, so
 * response times do not reveal which accounts exist. */
static void dummy_verify(const struct wt_api_req *r, const char *pw)
{
	char fake[160];
	int ln = r->opt->password.scrypt_log2n > 0 ? r->opt->password.scrypt_log2n : 15;
	snprintf(fake, sizeof(fake),
		 "$scrypt$ln=%d,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA==$"
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		 ln);
	(void)wt_password_verify(fake, pw);
}

/* Creates the session row and sets the cookie; fills the login reply. */
static void start_session(struct wt_api_req *r, int64_t user_id)
{
	char sid[WT_SECRET_B64], csrf[WT_SECRET_B64], hash[WT_SHA256_HEX], uid[24], st[6];
	if (wt_auth_random_secret(sid) < 0 || wt_auth_random_secret(csrf) < 0) {
		wt_api_fail(r, 500, "INTERNAL", "no randomness for a session id");
		return;
	}
	wt_auth_sha256_hex(sid, hash);
	snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
	char idle[16], max[16];
	snprintf(idle, sizeof(idle), "%d", r->opt->session_idle_s);
	snprintf(max, sizeof(max), "%d", r->opt->session_max_s);
	/* Expired sessions are swept here: logins are rare, and the index on
	 * last_seen_at keeps it cheap. */
	const char *pe[] = {idle, max};
	PQclear(wt_api_db_exec(r->db,
			       "DELETE FROM sessions WHERE last_seen_at < now() - make_interval(secs => $1::int)"
			       " OR created_at < now() - make_interval(secs => $2::int)",
			       2, pe, st));
	const char *p[] = {hash, uid, csrf, r->peer};
	PGresult *res = wt_api_db_exec(
		r->db,
		"WITH s AS (INSERT INTO sessions (id_hash, user_id, csrf_token, source)"
		" VALUES (decode($1, 'hex'), $2, $3, $4) RETURNING user_id),"
		" l AS (UPDATE users SET last_login_at = now() WHERE id = $2 RETURNING id)"
		" SELECT " WT_USER_COLS " FROM users u WHERE u.id = $2",
		4, p, st);
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail_db(r, "starting a session");
		return;
	}
	json_t *user = wt_auth_user_json(res, 0);
	bool must_change = PQgetvalue(res, 0, 4)[0] == 't';
	unsigned roles = wt_auth_roles_from_pg(PQgetvalue(res, 0, 3));
	PQclear(res);
	wt_auth_set_cookie(r, sid);
	wt_api_ok(r, 200,
		  json_pack("{s:o,s:s,s:b,s:o,s:i}", "user", user, "csrf_token", csrf, "must_change",
			    must_change, "permissions",
			    wt_auth_perms_json(wt_roles_perms(roles) | WT_P_AUTH), "idle_timeout_s",
			    r->opt->session_idle_s));
}

static void login_failed(struct wt_api_req *r, const char *user, const char *why)
{
	wt_throttle_failed(r, user);
	wt_api_audit(r, "login_failed", "warning", user, "failed login from %s: %s", r->peer, why);
	wt_api_fail(r, 401, "INVALID_CREDENTIALS", "wrong username or password");
}

/* Directory login: the account row mirrors the directory, roles included,
 * refreshed at every login. */
static void login_ldap(struct wt_api_req *r, const char *user, const char *pw)
{
	struct wt_ldap_result lr;
	char why[256];
	int rc = wt_ldap_authenticate(&r->opt->ldap, user, pw, &lr, why, sizeof(why));
	if (rc == -EACCES) {
		login_failed(r, user, why);
		return;
	}
	if (rc == -EPERM) {
		wt_api_audit(r, "login_failed", "warning", user, "directory login from %s: %s", r->peer,
			     why);
		wt_api_fail(r, 403, "NO_ROLE",
			    "user \"%s\" is in no directory group that maps to a wattrack role", user);
		return;
	}
	if (rc == -EHOSTUNREACH) {
		wt_warn("api: LDAP: %s", why);
		wt_api_fail(r, 503, "LDAP_UNAVAILABLE",
			    "the directory server cannot be reached (%s); local accounts still work",
			    why);
		return;
	}
	if (rc < 0) {
		wt_warn("api: LDAP: %s", why);
		wt_api_fail(r, 500, "LDAP_ERROR", "directory login failed: %s", why);
		return;
	}
	unsigned mask = 0;
	for (int i = 0; i < lr.nroles; i++) {
		int role = wt_role_parse(lr.roles[i]);
		if (role >= 0)
			mask |= 1u << role;
	}
	char roles[128], st[6];
	wt_auth_roles_to_pg(mask, roles, sizeof(roles));
	const char *p[] = {user, roles, lr.display_name[0] ? lr.display_name : NULL,
			   lr.email[0] ? lr.email : NULL, lr.dn};
	PGresult *res = wt_api_db_exec(
		r->db,
		"INSERT INTO users AS u (username, source, roles, full_name, email, ldap_dn)"
		" VALUES ($1, 'ldap', $2, $3, $4, $5)"
		" ON CONFLICT (lower(username)) DO UPDATE SET roles = $2, full_name = $3, email = $4,"
		"  ldap_dn = $5, updated_at = now() WHERE u.source = 'ldap'"
		" RETURNING u.id, u.disabled",
		5, p, st);
	if (!res && strcmp(st, "23514") == 0) {
		/* The username check constraint: not a name we can store. */
		wt_api_fail(r, 400, "INVALID_USERNAME",
			    "directory user name \"%.64s\" has characters wattrack does not accept",
			    user);
		return;
	}
	if (!res) {
		wt_api_fail_db(r, "recording the directory user");
		return;
	}
	if (PQntuples(res) != 1) {
		/* A local account of that name appeared meanwhile: never merge. */
		PQclear(res);
		login_failed(r, user, "a local account has this name");
		return;
	}
	int64_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	bool disabled = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (disabled) {
		wt_api_fail(r, 403, "ACCOUNT_DISABLED", "user \"%s\" is disabled", user);
		return;
	}
	wt_throttle_succeeded(r, user);
	start_session(r, id);
	if (!r->err_code)
		wt_api_audit(r, "login", "info", user, "directory login from %s as %s", r->peer,
			     roles);
}

void wt_h_login(struct wt_api_req *r)
{
	const char *user = json_string_value(json_object_get(r->body, "username"));
	const char *pw = json_string_value(json_object_get(r->body, "password"));
	char st[6];

	int wait = wt_throttle_locked(r, user);
	if (wait > 0) {
		r->retry_after = wait;
		wt_api_audit(r, "login_throttled", "warning", user,
			     "login from %s refused: too many failed attempts", r->peer);
		wt_api_fail(r, 429, "TOO_MANY_ATTEMPTS",
			    "too many failed logins for this account or address; retry in %d s", wait);
		return;
	}
	const char *p[] = {user};
	PGresult *res = wt_api_db_exec(r->db,
				       "SELECT id, source, password_hash, disabled FROM users"
				       " WHERE lower(username) = lower($1)",
				       1, p, st);
	if (!res) {
		wt_api_fail_db(r, "looking up the user");
		return;
	}
	bool found = PQntuples(res) == 1;
	bool local = found && strcmp(PQgetvalue(res, 0, 1), "local") == 0;
	if (!local) {
		PQclear(res);
		if (wt_ldap_enabled(&r->opt->ldap) && *pw) {
			login_ldap(r, user, pw);
			return;
		}
		dummy_verify(r, pw);
		login_failed(r, user, found ? "directory account but LDAP is off" : "no such user");
		return;
	}
	int64_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	bool ok = wt_password_verify(PQgetvalue(res, 0, 2), pw);
	bool rehash = ok && wt_password_needs_rehash(&r->opt->password, PQgetvalue(res, 0, 2));
	bool disabled = PQgetvalue(res, 0, 3)[0] == 't';
	PQclear(res);
	if (rehash) {
		/* The cost was raised (or lowered) since this hash was made: the
		 * clear password is at hand only now, so re-hash it. */
		char hash[WT_PASSWORD_HASH_MAX], uid[24];
		snprintf(uid, sizeof(uid), "%lld", (long long)id);
		if (wt_password_hash(&r->opt->password, pw, hash, sizeof(hash)) == 0) {
			const char *q[] = {uid, hash};
			PQclear(wt_api_db_exec(r->db, "UPDATE users SET password_hash = $2 WHERE id = $1",
					       2, q, st));
		}
	}
	if (!ok) {
		login_failed(r, user, "wrong password");
		return;
	}
	if (disabled) {
		wt_api_fail(r, 403, "ACCOUNT_DISABLED", "user \"%s\" is disabled", user);
		return;
	}
	wt_throttle_succeeded(r, user);
	start_session(r, id);
	if (!r->err_code)
		wt_api_audit(r, "login", "info", user, "login from %s", r->peer);
}

void wt_h_whoami(struct wt_api_req *r)
{
	char uid[24], st[6];
	snprintf(uid, sizeof(uid), "%lld", (long long)r->who.user_id);
	const char *p[] = {uid};
	PGresult *res = wt_api_db_exec(r->db, "SELECT " WT_USER_COLS " FROM users u WHERE u.id = $1",
				       1, p, st);
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail_db(r, "reading the user");
		return;
	}
	json_t *user = wt_auth_user_json(res, 0);
	PQclear(res);
	/* Effective roles: for a token, its own (narrower) set. */
	wt_api_ok(r, 200,
		  json_pack("{s:o,s:s,s:o,s:o}", "user", user, "via", r->who.via, "roles",
			    wt_auth_roles_json(r->who.role_mask), "permissions",
			    wt_auth_perms_json(r->who.perms)));
}

void wt_h_logout(struct wt_api_req *r)
{
	if (strcmp(r->who.via, "session") != 0) {
		wt_api_fail(r, 400, "NOT_A_SESSION",
			    "this request uses an API token; revoke it with DELETE /api/v1/tokens/{id}");
		return;
	}
	char hash[WT_SHA256_HEX], st[6];
	wt_auth_sha256_hex(r->session_cookie, hash);
	const char *p[] = {hash};
	PGresult *res = wt_api_db_exec(r->db, "DELETE FROM sessions WHERE id_hash = decode($1, 'hex')",
				       1, p, st);
	if (!res) {
		wt_api_fail_db(r, "ending the session");
		return;
	}
	PQclear(res);
	wt_auth_set_cookie(r, NULL);
	wt_api_audit(r, "logout", "info", r->who.username, "logout from %s", r->peer);
	wt_api_ok(r, 204, NULL);
}

void wt_h_change_password(struct wt_api_req *r)
{
	const char *cur = json_string_value(json_object_get(r->body, "current_password"));
	const char *neu = json_string_value(json_object_get(r->body, "new_password"));
	char uid[24], st[6], why[128], hash[WT_PASSWORD_HASH_MAX];

	if (r->who.ldap) {
		wt_api_fail(r, 409, "DIRECTORY_ACCOUNT",
			    "user \"%s\" is a directory account; change the password in the directory",
			    r->who.username);
		return;
	}
	int wait = wt_throttle_locked(r, r->who.username);
	if (wait > 0) {
		r->retry_after = wait;
		wt_api_fail(r, 429, "TOO_MANY_ATTEMPTS", "too many failed attempts; retry in %d s",
			    wait);
		return;
	}
	snprintf(uid, sizeof(uid), "%lld", (long long)r->who.user_id);
	const char *p[] = {uid};
	PGresult *res = wt_api_db_exec(r->db, "SELECT password_hash FROM users WHERE id = $1", 1, p,
				       st);
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail_db(r, "reading the user");
		return;
	}
	bool ok = wt_password_verify(PQgetvalue(res, 0, 0), cur);
	PQclear(res);
	if (!ok) {
		wt_throttle_failed(r, r->who.username);
		wt_api_audit(r, "password_change_failed", "warning", r->who.username,
			     "wrong current password from %s", r->peer);
		wt_api_fail(r, 403, "WRONG_PASSWORD", "field \"current_password\": not the current password");
		return;
	}
	if (!wt_password_acceptable(&r->opt->password, neu, why, sizeof(why))) {
		wt_api_fail(r, 400, "WEAK_PASSWORD", "field \"new_password\": %s", why);
		return;
	}
	if (strcmp(cur, neu) == 0) {
		wt_api_fail(r, 400, "WEAK_PASSWORD",
			    "field \"new_password\": must differ from the current password");
		return;
	}
	if (wt_password_hash(&r->opt->password, neu, hash, sizeof(hash)) < 0) {
		wt_api_fail(r, 500, "INTERNAL", "could not hash the password");
		return;
	}
	/* Other sessions of this user end: whoever else had them must log in
	 * with the new password. This one stays. */
	char sh[WT_SHA256_HEX];
	wt_auth_sha256_hex(r->session_cookie ? r->session_cookie : "", sh);
	const char *q[] = {uid, hash, sh};
	res = wt_api_db_exec(r->db,
			     "WITH u AS (UPDATE users SET password_hash = $2, must_change = false,"
			     " password_changed_at = now(), updated_at = now() WHERE id = $1 RETURNING id)"
			     " DELETE FROM sessions WHERE user_id = $1 AND id_hash <> decode($3, 'hex')",
			     3, q, st);
	if (!res) {
		wt_api_fail_db(r, "storing the password");
		return;
	}
	PQclear(res);
	wt_throttle_succeeded(r, r->who.username);
	wt_api_audit(r, "password_changed", "info", r->who.username, "password changed from %s",
		     r->peer);
	wt_api_ok(r, 204, NULL);
}
