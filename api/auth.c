#include "auth.h"

#include "db.h"
#include "log.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wt_auth_random_secret(char *out)
{
	unsigned char raw[32];
	char b64[48];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
	size_t o = 0;
	for (const char *p = b64; *p && *p != '='; p++)
		out[o++] = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	out[o] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

void wt_auth_sha256_hex(const char *s, char *out)
{
	unsigned char md[32];
	unsigned int n = 0;
	static const char hex[] = "0123456789abcdef";
	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

unsigned wt_auth_roles_from_pg(const char *arr)
{
	unsigned mask = 0;
	char name[32];
	size_t n = 0;
	for (const char *p = arr; p && *p; p++) {
		if (*p == '{' || *p == '"')
			continue;
		if (*p == ',' || *p == '}') {
			name[n] = '\0';
			int r = n ? wt_role_parse(name) : -1;
			if (r >= 0)
				mask |= 1u << r;
			n = 0;
			continue;
		}
		if (n < sizeof(name) - 1)
			name[n++] = *p;
	}
	return mask;
}

void wt_auth_roles_to_pg(unsigned mask, char *out, size_t outlen)
{
	size_t o = 0;
	o += (size_t)snprintf(out + o, outlen - o, "{");
	for (int i = 0; i < WT_ROLE__COUNT && o < outlen; i++)
		if (mask & (1u << i))
			o += (size_t)snprintf(out + o, outlen - o, "%s%s", o > 1 ? "," : "",
					      wt_role_name(i));
	if (o < outlen)
		snprintf(out + o, outlen - o, "}");
}

json_t *wt_auth_roles_json(unsigned mask)
{
	json_t *a = json_array();
	for (int i = 0; i < WT_ROLE__COUNT; i++)
		if (mask & (1u << i))
			json_array_append_new(a, json_string(wt_role_name(i)));
	return a;
}

json_t *wt_auth_perms_json(unsigned perms)
{
	json_t *a = json_array();
	for (unsigned bit = 1; bit <= WT_P_SETTINGS; bit <<= 1)
		if (perms & bit)
			json_array_append_new(a, json_string(wt_perm_name(bit)));
	return a;
}

int wt_auth_roles_parse_json(json_t *arr, const char *field, unsigned *mask, char *why,
			     size_t whylen)
{
	size_t i;
	json_t *v;
	*mask = 0;
	json_array_foreach(arr, i, v) {
		int r = wt_role_parse(json_string_value(v));
		if (r < 0) {
			snprintf(why, whylen,
				 "field \"%s\": unknown role \"%.32s\" (admin, readwrite, power, "
				 "poweron, poweroff, readonly)",
				 field, json_string_value(v));
			return -1;
		}
		*mask |= 1u << r;
	}
	return 0;
}

void wt_auth_set_cookie(struct wt_api_req *r, const char *value)
{
	char buf[256];
	/* SameSite=Strict: the browser never sends it on a cross-site request;
	 * HttpOnly: scripts cannot read it; Secure whenever we are on HTTPS. */
	if (value)
		snprintf(buf, sizeof(buf), "wt_session=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s",
			 value, r->opt->session_max_s, r->tls ? "; Secure" : "");
	else
		snprintf(buf, sizeof(buf), "wt_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
			 r->tls ? "; Secure" : "");
	free(r->set_cookie);
	r->set_cookie = strdup(buf);
}

/* ---- the failed-login throttle ---- */

static void throttle_keys(struct wt_api_req *r, const char *username, char *ukey, size_t ulen,
			  char *akey, size_t alen)
{
	size_t o = (size_t)snprintf(ukey, ulen, "user:");
	for (const char *p = username; *p && o + 1 < ulen; p++)
		ukey[o++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
	ukey[o] = '\0';
	snprintf(akey, alen, "addr:%s", r->peer);
}

int wt_throttle_locked(struct wt_api_req *r, const char *username)
{
	char ukey[160], akey[80], st[6];
	throttle_keys(r, username, ukey, sizeof(ukey), akey, sizeof(akey));
	const char *p[] = {ukey, akey};
	PGresult *res = wt_api_db_exec(
		r->db,
		"SELECT coalesce(max(ceil(extract(epoch FROM locked_until - now()))), 0)::int "
		"FROM login_throttle WHERE key IN ($1, $2) AND locked_until > now()",
		2, p, st);
	if (!res)
		return 0;
	int s = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return s > 0 ? s : 0;
}

static void throttle_bump(struct wt_api_req *r, const char *key, int free_attempts)
{
	const struct wt_throttle_options *t = &r->opt->throttle;
	char window[16], freeb[16], base[16], max[16], st[6];
	snprintf(window, sizeof(window), "%d", t->window_s);
	snprintf(freeb, sizeof(freeb), "%d", free_attempts);
	snprintf(base, sizeof(base), "%d", t->base_delay_s);
	snprintf(max, sizeof(max), "%d", t->max_delay_s);
	const char *p[] = {key, window, freeb, base, max};
	/* One statement, so concurrent failures on several instances count
	 * exactly: a failure older than the window starts the count again;
	 * past the free attempts each failure doubles the lockout. */
	/* The new count is spelled out twice because SET sees the old row. */
#define NEWF "(CASE WHEN t.last_failure < now() - make_interval(secs => $2::int)" \
	     " THEN 1 ELSE t.failures + 1 END)"
#define LOCK(n) "CASE WHEN " n " > $3::int THEN now() + make_interval(secs =>" \
		" least($5::float8, $4::float8 * power(2, least(" n " - $3::int - 1, 30))))" \
		" ELSE NULL END"
	PGresult *res = wt_api_db_exec(
		r->db,
		"INSERT INTO login_throttle AS t (key, failures, last_failure, locked_until)"
		" VALUES ($1, 1, now(), " LOCK("1") ")"
		" ON CONFLICT (key) DO UPDATE SET failures = " NEWF ", last_failure = now(),"
		"  locked_until = " LOCK(NEWF),
		5, p, st);
#undef NEWF
#undef LOCK
	PQclear(res);
}

void wt_throttle_failed(struct wt_api_req *r, const char *username)
{
	char ukey[160], akey[80];
	throttle_keys(r, username, ukey, sizeof(ukey), akey, sizeof(akey));
	throttle_bump(r, ukey, r->opt->throttle.user_free);
	throttle_bump(r, akey, r->opt->throttle.addr_free);
}

void wt_throttle_succeeded(struct wt_api_req *r, const char *username)
{
	char ukey[160], akey[80], st[6];
	throttle_keys(r, username, ukey, sizeof(ukey), akey, sizeof(akey));
	const char *p[] = {ukey};
	PQclear(wt_api_db_exec(r->db, "DELETE FROM login_throttle WHERE key = $1", 1, p, st));
}

/* ---- per-request authentication ---- */

/* r->cred_hash, when the loop has not already computed it. */
static const char *cred_hash(struct wt_api_req *r, const char *secret)
{
	if (!r->cred_hash[0])
		wt_auth_sha256_hex(secret, r->cred_hash);
	return r->cred_hash;
}

static bool auth_token(struct wt_api_req *r)
{
	char st[6];
	const char *p[] = {cred_hash(r, r->bearer)};
	/* Reads must not cost a write each: last_used_at is refreshed at
	 * most once a minute (the UPDATE matches nothing otherwise). */
	PGresult *res = wt_api_db_exec(
		r->db,
		"WITH t AS (SELECT t.id AS tid, u.id AS uid, u.username, u.roles AS uroles,"
		"  t.roles AS troles, u.must_change, u.source,"
		"  coalesce(t.last_used_at < now() - interval '60 s', true) AS stale,"
		"  (extract(epoch FROM coalesce(t.expires_at, now() + interval '1 day') - now())"
		"   * 1000)::bigint AS valid_ms"
		" FROM api_tokens t JOIN users u ON u.id = t.user_id"
		" WHERE t.token_hash = decode($1, 'hex') AND NOT u.disabled"
		"  AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())),"
		" w AS (UPDATE api_tokens SET last_used_at = now()"
		"  WHERE id = (SELECT tid FROM t WHERE stale))"
		" SELECT tid, uid, username, uroles, troles, must_change, source, valid_ms FROM t",
		1, p, st);
	if (!res) {
		wt_api_fail_db(r, "checking the API token");
		return false;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		wt_api_fail(r, 401, "INVALID_TOKEN", "the API token is unknown, revoked or expired");
		return false;
	}
	struct wt_principal *w = &r->who;
	w->token_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	w->user_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(w->username, sizeof(w->username), "%s", PQgetvalue(res, 0, 2));
	/* A token never does more than its owner may do today: its roles are
	 * shown, its permissions are cut to the owner's current ones. */
	unsigned owner = wt_auth_roles_from_pg(PQgetvalue(res, 0, 3));
	w->role_mask = wt_auth_roles_from_pg(PQgetvalue(res, 0, 4));
	w->perms = (wt_roles_perms(w->role_mask) & wt_roles_perms(owner)) | WT_P_AUTH;
	w->must_change = PQgetvalue(res, 0, 5)[0] == 't';
	w->ldap = strcmp(PQgetvalue(res, 0, 6), "ldap") == 0;
	snprintf(w->via, sizeof(w->via), "token");
	r->cred_valid_ms = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
	PQclear(res);
	return true;
}

static bool auth_session(struct wt_api_req *r)
{
	char idle[16], max[16], st[6];
	const char *hash = cred_hash(r, r->session_cookie);
	snprintf(idle, sizeof(idle), "%d", r->opt->session_idle_s);
	snprintf(max, sizeof(max), "%d", r->opt->session_max_s);
	const char *p[] = {hash, idle, max};
	/* last_seen_at moves at most every idle/4 (15 s at most), so a busy
	 * console costs reads, not a write per request; the idle timeout is
	 * exact to that granularity. */
	PGresult *res = wt_api_db_exec(
		r->db,
		"WITH s AS (SELECT s.id_hash, u.id, u.username, u.roles, u.must_change, u.source,"
		"  s.csrf_token, s.last_seen_at < now() -"
		"   make_interval(secs => least(15, $2::int / 4.0)::float8) AS stale,"
		"  (extract(epoch FROM least(s.last_seen_at + make_interval(secs => $2::int),"
		"   s.created_at + make_interval(secs => $3::int)) - now()) * 1000)::bigint AS valid_ms"
		" FROM sessions s JOIN users u ON u.id = s.user_id"
		" WHERE s.id_hash = decode($1, 'hex') AND NOT u.disabled"
		"  AND s.last_seen_at > now() - make_interval(secs => $2::int)"
		"  AND s.created_at > now() - make_interval(secs => $3::int)),"
		" w AS (UPDATE sessions SET last_seen_at = now()"
		"  WHERE id_hash = (SELECT id_hash FROM s WHERE stale))"
		" SELECT id, username, roles, must_change, source, csrf_token, valid_ms FROM s",
		3, p, st);
	if (!res) {
		wt_api_fail_db(r, "checking the session");
		return false;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		wt_auth_set_cookie(r, NULL);
		wt_api_fail(r, 401, "SESSION_EXPIRED", "the session has expired or ended; log in again");
		return false;
	}
	struct wt_principal *w = &r->who;
	w->user_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(w->username, sizeof(w->username), "%s", PQgetvalue(res, 0, 1));
	w->role_mask = wt_auth_roles_from_pg(PQgetvalue(res, 0, 2));
	w->must_change = PQgetvalue(res, 0, 3)[0] == 't';
	w->ldap = strcmp(PQgetvalue(res, 0, 4), "ldap") == 0;
	snprintf(w->via, sizeof(w->via), "session");
	snprintf(r->cred_csrf, sizeof(r->cred_csrf), "%s", PQgetvalue(res, 0, 5));
	/* A cached session hides activity from last_seen_at, so it is
	 * rechecked at least as often as last_seen_at may move: the idle
	 * timeout stays exact to that granularity. */
	int64_t valid = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
	int64_t step = (int64_t)r->opt->session_idle_s * 1000 / 4;
	if (step > 15000)
		step = 15000;
	r->cred_valid_ms = valid < step ? valid : step;
	PQclear(res);
	return true;
}

bool wt_api_authorize(struct wt_api_req *r)
{
	const struct wt_api_route *rt = r->route;
	/* Synchronizer token: a cookie rides along on forged cross-site
	 * requests, the CSRF token (known only to our pages) does not. */
	bool write = r->method != WT_GET;
	if (write && !r->bearer && !(rt->flags & WT_RF_NO_CSRF)) {
		size_t n = r->csrf ? strlen(r->csrf) : 0;
		bool csrf_ok = n && n == strlen(r->cred_csrf) &&
			       CRYPTO_memcmp(r->csrf, r->cred_csrf, n) == 0;
		if (!csrf_ok) {
			wt_api_fail(r, 403, "CSRF_TOKEN_INVALID",
				    "%s %s with a session cookie needs the X-CSRF-Token header from "
				    "login",
				    wt_method_name(r->method), rt->path);
			return false;
		}
	}
	if (r->who.must_change && !(rt->flags & WT_RF_MUST_CHANGE_OK)) {
		wt_api_fail(r, 403, "PASSWORD_CHANGE_REQUIRED",
			    "user \"%s\" must change the password first "
			    "(POST /api/v1/session/password)",
			    r->who.username);
		return false;
	}
	if (!wt_perm_allows(r->who.perms, rt->perm)) {
		char roles[128];
		wt_auth_roles_to_pg(r->who.role_mask, roles, sizeof(roles));
		wt_api_fail(r, 403, "FORBIDDEN",
			    "%s %s needs the \"%s\" permission, which roles %s do not grant",
			    wt_method_name(r->method), rt->path, wt_perm_name(rt->perm), roles);
		return false;
	}
	return true;
}

bool wt_api_authenticate(struct wt_api_req *r)
{
	const struct wt_api_route *rt = r->route;
	if (rt->perm == WT_P_PUBLIC)
		return true;
	bool ok;
	if (r->bearer)
		ok = auth_token(r);
	else if (r->session_cookie)
		ok = auth_session(r);
	else {
		wt_api_fail(r, 401, "AUTH_REQUIRED",
			    "%s %s needs a session cookie or an Authorization: Bearer token",
			    wt_method_name(r->method), rt->path);
		return false;
	}
	if (!ok)
		return false;
	r->who.authenticated = true;
	if (!r->bearer)
		r->who.perms = wt_roles_perms(r->who.role_mask) | WT_P_AUTH;
	r->cred_verified = true;
	return wt_api_authorize(r);
}
