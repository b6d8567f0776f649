/* /api/v1/tokens: API tokens for scripts (Authorization: Bearer). */
#include "auth.h"
#include "db.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_COLS                                                                            \
	"t.id, t.name, t.prefix, t.roles, t.user_id, u.username, " WT_SQL_ISO("t.created_at") \
	", " WT_SQL_ISO("t.expires_at") ", " WT_SQL_ISO("t.last_used_at") ", "                 \
	WT_SQL_ISO("t.revoked_at")

static json_t *opt_str(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static json_t *token_json(PGresult *res, int i)
{
	return json_pack("{s:I,s:s,s:s,s:o,s:I,s:s,s:o,s:o,s:o,s:o}", "id",
			 (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "name",
			 PQgetvalue(res, i, 1), "prefix", PQgetvalue(res, i, 2), "roles",
			 wt_auth_roles_json(wt_auth_roles_from_pg(PQgetvalue(res, i, 3))), "user_id",
			 (json_int_t)strtoll(PQgetvalue(res, i, 4), NULL, 10), "username",
			 PQgetvalue(res, i, 5), "created_at", opt_str(res, i, 6), "expires_at",
			 opt_str(res, i, 7), "last_used_at", opt_str(res, i, 8), "revoked_at",
			 opt_str(res, i, 9));
}

/* "all=1" among the query parameters. */
static bool query_all(const char *q)
{
	if (!q)
		return false;
	for (const char *p = q; p; p = strchr(p, '&')) {
		if (*p == '&')
			p++;
		if (strncmp(p, "all=1", 5) == 0 && (p[5] == '\0' || p[5] == '&'))
			return true;
	}
	return false;
}

void wt_h_tokens_list(struct wt_api_req *r)
{
	char uid[24], st[6];
	bool all = query_all(r->query);
	if (all && !wt_perm_allows(r->who.perms, WT_P_USERS)) {
		wt_api_fail(r, 403, "FORBIDDEN", "listing every user's tokens needs the \"users\" permission");
		return;
	}
	snprintf(uid, sizeof(uid), "%lld", (long long)r->who.user_id);
	const char *p[] = {uid, all ? "true" : "false"};
	PGresult *res = wt_api_db_exec(r->db,
				       "SELECT " TOKEN_COLS " FROM api_tokens t JOIN users u ON u.id = t.user_id"
				       " WHERE $2::boolean OR t.user_id = $1 ORDER BY t.id",
				       2, p, st);
	if (!res) {
		wt_api_fail_db(r, "listing tokens");
		return;
	}
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, token_json(res, i));
	PQclear(res);
	wt_api_ok(r, 200, json_pack("{s:o}", "tokens", a));
}

void wt_h_tokens_create(struct wt_api_req *r)
{
	char why[160], roles[128], uid[24], days[16], st[6];
	char secret[WT_SECRET_B64], token[WT_SECRET_B64 + 8], hash[WT_SHA256_HEX], prefix[16];
	unsigned mask = r->who.role_mask;

	/* A token cannot mint tokens: otherwise a leaked token could outlive
	 * its own revocation. */
	if (strcmp(r->who.via, "session") != 0) {
		wt_api_fail(r, 403, "SESSION_REQUIRED", "API tokens are created from a logged-in session");
		return;
	}
	json_t *jroles = json_object_get(r->body, "roles");
	if (jroles) {
		if (wt_auth_roles_parse_json(jroles, "roles", &mask, why, sizeof(why)) < 0) {
			wt_api_fail(r, 400, "INVALID_REQUEST", "%s", why);
			return;
		}
		/* Narrower means fewer permissions: an admin may hand a script
		 * a readonly token, a readonly user may not mint a power one. */
		unsigned extra = 0;
		for (int i = 0; i < WT_ROLE__COUNT; i++)
			if ((mask & (1u << i)) && !wt_perm_allows(r->who.perms, wt_role_perms(i)))
				extra |= 1u << i;
		if (extra) {
			wt_auth_roles_to_pg(extra, roles, sizeof(roles));
			wt_api_fail(r, 403, "ROLE_NOT_HELD",
				    "field \"roles\": cannot give a token roles %s you do not hold", roles);
			return;
		}
	}
	json_t *jdays = json_object_get(r->body, "expires_days");
	if (jdays && (json_integer_value(jdays) < 1 || json_integer_value(jdays) > 3650)) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"expires_days\": must be 1 to 3650");
		return;
	}
	if (wt_auth_random_secret(secret) < 0) {
		wt_api_fail(r, 500, "INTERNAL", "no randomness for a token");
		return;
	}
	/* The wt_ prefix lets secret scanners recognise leaked tokens. */
	snprintf(token, sizeof(token), "wt_%s", secret);
	snprintf(prefix, sizeof(prefix), "%.10s", token);
	wt_auth_sha256_hex(token, hash);
	wt_auth_roles_to_pg(mask, roles, sizeof(roles));
	snprintf(uid, sizeof(uid), "%lld", (long long)r->who.user_id);
	snprintf(days, sizeof(days), "%lld", jdays ? (long long)json_integer_value(jdays) : 0LL);
	const char *p[] = {uid, json_string_value(json_object_get(r->body, "name")), hash, prefix,
			   roles, jdays ? days : NULL};
	PGresult *res = wt_api_db_exec(
		r->db,
		"WITH t AS (INSERT INTO api_tokens (user_id, name, token_hash, prefix, roles, expires_at)"
		" VALUES ($1, $2, decode($3, 'hex'), $4, $5,"
		"  now() + make_interval(days => $6::int)) RETURNING *)"
		" SELECT " TOKEN_COLS " FROM t JOIN users u ON u.id = t.user_id",
		6, p, st);
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail_db(r, "creating the token");
		return;
	}
	json_t *j = token_json(res, 0);
	PQclear(res);
	json_object_set_new(j, "token", json_string(token));
	wt_api_audit(r, "token_created", "info", r->who.username, "created API token \"%.64s\" (%s) with roles %s",
		     json_string_value(json_object_get(j, "name")), prefix, roles);
	wt_api_ok(r, 201, j);
}

void wt_h_tokens_revoke(struct wt_api_req *r)
{
	char id[24], uid[24], st[6];
	snprintf(id, sizeof(id), "%lld", (long long)r->ids[0]);
	snprintf(uid, sizeof(uid), "%lld", (long long)r->who.user_id);
	const char *p[] = {id, uid, wt_perm_allows(r->who.perms, WT_P_USERS) ? "true" : "false"};
	PGresult *res = wt_api_db_exec(r->db,
				       "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())"
				       " WHERE id = $1 AND (user_id = $2 OR $3::boolean) RETURNING prefix",
				       3, p, st);
	if (!res) {
		wt_api_fail_db(r, "revoking the token");
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		/* Someone else's token reads as missing: ids are not an oracle. */
		wt_api_fail(r, 404, "TOKEN_NOT_FOUND", "token %s does not exist", id);
		return;
	}
	wt_api_audit(r, "token_revoked", "info", r->who.username, "revoked API token %s (%s)", id,
		     PQgetvalue(res, 0, 0));
	PQclear(res);
	wt_api_ok(r, 204, NULL);
}
