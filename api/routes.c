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

const struct wt_api_route wt_api_routes[] = {
	{WT_GET, "/api/v1/version", WT_P_PUBLIC, WT_RF_LOOP, NULL, wt_h_version,
	 "Server version and API level", "meta", 200},
	{WT_GET, "/api/v1/health", WT_P_PUBLIC, WT_RF_LOOP, NULL, wt_h_health,
	 "Basic health: up, database reachable", "meta", 200},
	{WT_GET, "/api/v1/openapi.json", WT_P_PUBLIC, WT_RF_LOOP, NULL, wt_h_openapi,
	 "This OpenAPI 3 document", "meta", 200},
	{WT_GET, "/api/v1/roles", WT_P_READ, WT_RF_LOOP, NULL, wt_h_roles,
	 "Roles and the permissions each grants", "meta", 200},

	{WT_POST, "/api/v1/session", WT_P_PUBLIC, WT_RF_NO_CSRF, login_body, wt_h_login,
	 "Log in: sets the session cookie, returns the CSRF token", "session", 200},
	{WT_GET, "/api/v1/session", WT_P_AUTH, 0, NULL, wt_h_whoami,
	 "Who am I: user, roles, permissions", "session", 200},
	{WT_DELETE, "/api/v1/session", WT_P_AUTH, WT_RF_MUST_CHANGE_OK, NULL, wt_h_logout,
	 "Log out: ends this session", "session", 204},
	{WT_POST, "/api/v1/session/password", WT_P_AUTH, WT_RF_MUST_CHANGE_OK, password_body,
	 wt_h_change_password, "Change my password (local accounts)", "session", 204},

	{WT_GET, "/api/v1/users", WT_P_USERS, 0, NULL, wt_h_users_list, "List users", "users", 200},
	{WT_POST, "/api/v1/users", WT_P_USERS, 0, user_create_body, wt_h_users_create,
	 "Create a local user", "users", 201},
	{WT_GET, "/api/v1/users/{id}", WT_P_USERS, 0, NULL, wt_h_users_get, "One user", "users", 200},
	{WT_PATCH, "/api/v1/users/{id}", WT_P_USERS, 0, user_update_body, wt_h_users_update,
	 "Change a user's roles, password, names or state", "users", 200},
	{WT_DELETE, "/api/v1/users/{id}", WT_P_USERS, 0, NULL, wt_h_users_delete,
	 "Delete a user, their sessions and tokens", "users", 204},

	{WT_GET, "/api/v1/tokens", WT_P_AUTH, 0, NULL, wt_h_tokens_list,
	 "My API tokens (all users' with ?all=1 for user admins)", "tokens", 200},
	{WT_POST, "/api/v1/tokens", WT_P_AUTH, 0, token_create_body, wt_h_tokens_create,
	 "Create an API token; the secret is shown once", "tokens", 201},
	{WT_DELETE, "/api/v1/tokens/{id}", WT_P_AUTH, 0, NULL, wt_h_tokens_revoke,
	 "Revoke a token", "tokens", 204},
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
