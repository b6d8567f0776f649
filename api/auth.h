/* Credentials on the worker side: random secrets and their hashes, role
 * arrays, session/token checks and the failed-login throttle. Internal to
 * api/; everything here may block on PostgreSQL. */
#ifndef WT_API_AUTH_H
#define WT_API_AUTH_H

#include "request.h"

#include <stdbool.h>
#include <stddef.h>

#define WT_SECRET_B64 44   /* base64url of 32 bytes, plus NUL */
#define WT_SHA256_HEX 65

/* 32 random bytes as unpadded base64url into out (WT_SECRET_B64). */
int wt_auth_random_secret(char *out) __attribute__((warn_unused_result));
/* Lower-case hex SHA-256 of s into out (WT_SHA256_HEX). */
void wt_auth_sha256_hex(const char *s, char *out);

/* Role mask from a PostgreSQL text[] literal ("{admin,readonly}"). */
unsigned wt_auth_roles_from_pg(const char *arr);
/* PostgreSQL text[] literal of a role mask into out. */
void wt_auth_roles_to_pg(unsigned mask, char *out, size_t outlen);
/* JSON array of role names. */
json_t *wt_auth_roles_json(unsigned mask);
/* JSON array of permission names. */
json_t *wt_auth_perms_json(unsigned perms);
/* Role mask from a JSON array of names; -1 and why on an unknown name. */
int wt_auth_roles_parse_json(json_t *arr, const char *field, unsigned *mask, char *why,
			     size_t whylen) __attribute__((warn_unused_result));

/* Seconds the account or the address must still wait, 0 when free. */
int wt_throttle_locked(struct wt_api_req *r, const char *username);
/* Counts a failed attempt for the account and the address. */
void wt_throttle_failed(struct wt_api_req *r, const char *username);
/* Forgets the account's failures after a good login. */
void wt_throttle_succeeded(struct wt_api_req *r, const char *username);

/* Sets the Set-Cookie for a new session (or clears it with value NULL). */
void wt_auth_set_cookie(struct wt_api_req *r, const char *value);

/* ISO 8601 UTC text of a timestamptz column, NULL stays NULL. */
#define WT_SQL_ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* The columns wt_auth_user_json reads, in order, from users u. */
#define WT_USER_COLS                                                                       \
	"u.id, u.username, u.source, u.roles, u.must_change, u.disabled, u.full_name, "     \
	"u.email, " WT_SQL_ISO("u.created_at") ", " WT_SQL_ISO("u.last_login_at") ", "     \
	WT_SQL_ISO("u.password_changed_at")
/* A user as the API shows it, from a row selected with WT_USER_COLS. */
json_t *wt_auth_user_json(PGresult *res, int row);

#endif
