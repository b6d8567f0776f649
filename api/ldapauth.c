#include "ldapauth.h"

#include "log.h"
#include "roles.h"

#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

static bool empty(const char *s)
{
	return !s || !*s;
}

bool wt_ldap_enabled(const struct wt_ldap_options *o)
{
	return !empty(o->url);
}

int wt_ldap_escape_filter(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		/* Non-ASCII is escaped too: valid either way, and it keeps
		 * overlong or broken UTF-8 from reaching the server's parser. */
		bool esc = *p == '*' || *p == '(' || *p == ')' || *p == '\\' || *p >= 0x80 || *p < 0x20;
		size_t need = esc ? 3 : 1;
		if (o + need >= outlen)
			return -ENOSPC;
		if (esc) {
			out[o++] = '\\';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	if (o >= outlen)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}

int wt_ldap_escape_dn(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, n = strlen(in);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		bool special = strchr(",+\"\\<>;=", c) != NULL || (i == 0 && (c == ' ' || c == '#')) ||
			       (i == n - 1 && c == ' ');
		bool hexesc = c < 0x20;
		size_t need = hexesc ? 3 : special ? 2 : 1;
		if (o + need >= outlen)
			return -ENOSPC;
		if (hexesc) {
			out[o++] = '\\';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			if (special)
				out[o++] = '\\';
			out[o++] = (char)c;
		}
	}
	if (o >= outlen)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}

int wt_ldap_template_dn(const char *tmpl, const char *user, char *out, size_t outlen)
{
	char esc[512];
	size_t o = 0;
	bool found = false;

	if (wt_ldap_escape_dn(user, esc, sizeof(esc)) < 0)
		return -ENOSPC;
	for (const char *p = tmpl; *p;) {
		if (strncmp(p, "{0}", 3) == 0) {
			size_t l = strlen(esc);
			if (o + l >= outlen)
				return -ENOSPC;
			memcpy(out + o, esc, l);
			o += l;
			p += 3;
			found = true;
		} else {
			if (o + 1 >= outlen)
				return -ENOSPC;
			out[o++] = *p++;
		}
	}
	if (!found)
		return -EINVAL;
	out[o] = '\0';
	return 0;
}

/* Maps a libldap result code onto our errno contract. */
static int ldap_errno(int rc)
{
	switch (rc) {
	case LDAP_SUCCESS: return 0;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_UNWILLING_TO_PERFORM: return -EACCES;
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
	case LDAP_TIMEOUT:
	case LDAP_UNAVAILABLE:
	case LDAP_BUSY: return -EHOSTUNREACH;
	default: return -EIO;
	}
}

static int simple_bind(LDAP *ld, const char *dn, const char *pw)
{
	struct berval cred = {.bv_val = (char *)(pw ? pw : ""), .bv_len = pw ? strlen(pw) : 0};
	return ldap_sasl_bind_s(ld, dn ? dn : "", LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

static int connect_ldap(const struct wt_ldap_options *o, LDAP **out, char *why, size_t whylen)
{
	LDAP *ld = NULL;
	int rc = ldap_initialize(&ld, o->url);
	if (rc != LDAP_SUCCESS) {
		snprintf(why, whylen, "bad LDAP URL: %s", ldap_err2string(rc));
		return -EINVAL;
	}
	int v3 = LDAP_VERSION3, tmo = o->timeout_s > 0 ? o->timeout_s : 5;
	struct timeval tv = {.tv_sec = tmo};
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	bool tls = o->starttls || strncasecmp(o->url, "ldaps://", 8) == 0;
	if (tls) {
		int req = o->tls_verify ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
		int min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, zero = 0;
		ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &req);
		ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min);
		if (!empty(o->ca_file))
			ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, o->ca_file);
		/* Per-handle options only take effect in a fresh TLS context. */
		ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
	}
	if (o->starttls && strncasecmp(o->url, "ldaps://", 8) != 0) {
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			snprintf(why, whylen, "StartTLS with %s failed: %s", o->url,
				 ldap_err2string(rc));
			ldap_unbind_ext_s(ld, NULL, NULL);
			return -EHOSTUNREACH;
		}
	}
	*out = ld;
	return 0;
}

static void first_value(LDAP *ld, LDAPMessage *e, const char *attr, char *out, size_t outlen)
{
	struct berval **v = ldap_get_values_len(ld, e, attr);
	if (v && v[0]) {
		size_t n = v[0]->bv_len < outlen - 1 ? v[0]->bv_len : outlen - 1;
		memcpy(out, v[0]->bv_val, n);
		out[n] = '\0';
	}
	ldap_value_free_len(v);
}

static void add_role(struct wt_ldap_result *res, const char *role)
{
	if (wt_role_parse(role) < 0)
		return;
	for (int i = 0; i < res->nroles; i++)
		if (strcmp(res->roles[i], role) == 0)
			return;
	if (res->nroles < WT_LDAP_MAX_ROLES)
		snprintf(res->roles[res->nroles++], sizeof(res->roles[0]), "%.15s", role);
}

/* Applies "role:group;role:group" to one group (its DN and cn). */
static void map_group(const char *map, const char *dn, const char *cn, struct wt_ldap_result *res)
{
	const char *p = map;
	while (p && *p) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		if (colon) {
			char role[32], group[512];
			size_t rl = (size_t)(colon - p), gl = len - rl - 1;
			if (rl < sizeof(role) && gl < sizeof(group)) {
				memcpy(role, p, rl);
				role[rl] = '\0';
				memcpy(group, colon + 1, gl);
				group[gl] = '\0';
				if (strcasecmp(group, dn) == 0 || (*cn && strcasecmp(group, cn) == 0))
					add_role(res, role);
			}
		}
		p = end ? end + 1 : NULL;
	}
}

static int find_groups(LDAP *ld, const struct wt_ldap_options *o, const char *user,
		       struct wt_ldap_result *res, char *why, size_t whylen)
{
	if (empty(o->group_base))
		return 0;
	const char *mattr = empty(o->member_attr) ? "member" : o->member_attr;
	const char *gclass = empty(o->group_class) ? "groupOfNames" : o->group_class;
	bool by_uid = strcasecmp(mattr, "memberUid") == 0;
	char val[1600], filter[2048];
	if (wt_ldap_escape_filter(by_uid ? user : res->dn, val, sizeof(val)) < 0)
		return -EACCES;
	snprintf(filter, sizeof(filter), "(&(objectClass=%s)(%s=%s))", gclass, mattr, val);
	char *attrs[] = {"cn", NULL};
	struct timeval tv = {.tv_sec = o->timeout_s > 0 ? o->timeout_s : 5};
	LDAPMessage *msg = NULL;
	int rc = ldap_search_ext_s(ld, o->group_base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL,
				   NULL, &tv, 1000, &msg);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		snprintf(why, whylen, "group search under %s failed: %s", o->group_base,
			 ldap_err2string(rc));
		ldap_msgfree(msg);
		return ldap_errno(rc) == -EHOSTUNREACH ? -EHOSTUNREACH : -EIO;
	}
	for (LDAPMessage *e = ldap_first_entry(ld, msg); e; e = ldap_next_entry(ld, e)) {
		char *dn = ldap_get_dn(ld, e);
		char cn[256] = "";
		first_value(ld, e, "cn", cn, sizeof(cn));
		if (dn && o->group_roles)
			map_group(o->group_roles, dn, cn, res);
		ldap_memfree(dn);
	}
	ldap_msgfree(msg);
	return 0;
}

/* Search mode: finds the one entry for user with the service account. */
static int search_user(LDAP *ld, const struct wt_ldap_options *o, const char *user,
		       struct wt_ldap_result *res, char *why, size_t whylen)
{
	int rc = simple_bind(ld, o->bind_dn, o->bind_password);
	if (rc != LDAP_SUCCESS) {
		snprintf(why, whylen, "service bind as \"%s\" failed: %s",
			 empty(o->bind_dn) ? "(anonymous)" : o->bind_dn, ldap_err2string(rc));
		return ldap_errno(rc) == -EHOSTUNREACH ? -EHOSTUNREACH : -EINVAL;
	}
	char val[1024], filter[1400];
	if (wt_ldap_escape_filter(user, val, sizeof(val)) < 0)
		return -EACCES;
	snprintf(filter, sizeof(filter), "(&(objectClass=%s)(%s=%s))",
		 empty(o->user_class) ? "inetOrgPerson" : o->user_class,
		 empty(o->user_attr) ? "uid" : o->user_attr, val);
	char *attrs[] = {"cn", "displayName", "mail", NULL};
	struct timeval tv = {.tv_sec = o->timeout_s > 0 ? o->timeout_s : 5};
	LDAPMessage *msg = NULL;
	rc = ldap_search_ext_s(ld, empty(o->search_base) ? "" : o->search_base, LDAP_SCOPE_SUBTREE,
			       filter, attrs, 0, NULL, NULL, &tv, 2, &msg);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		snprintf(why, whylen, "user search failed: %s", ldap_err2string(rc));
		ldap_msgfree(msg);
		return ldap_errno(rc) == -EHOSTUNREACH ? -EHOSTUNREACH : -EIO;
	}
	int n = ldap_count_entries(ld, msg);
	if (n != 1 || rc == LDAP_SIZELIMIT_EXCEEDED) {
		snprintf(why, whylen, "%s users match", n == 0 ? "no" : "several");
		ldap_msgfree(msg);
		return -EACCES;
	}
	LDAPMessage *e = ldap_first_entry(ld, msg);
	char *dn = ldap_get_dn(ld, e);
	if (!dn || strlen(dn) >= sizeof(res->dn)) {
		ldap_memfree(dn);
		ldap_msgfree(msg);
		return -EACCES;
	}
	snprintf(res->dn, sizeof(res->dn), "%s", dn);
	ldap_memfree(dn);
	first_value(ld, e, "cn", res->display_name, sizeof(res->display_name));
	first_value(ld, e, "displayName", res->display_name, sizeof(res->display_name));
	first_value(ld, e, "mail", res->email, sizeof(res->email));
	ldap_msgfree(msg);
	return 0;
}

int wt_ldap_authenticate(const struct wt_ldap_options *o, const char *user, const char *password,
			 struct wt_ldap_result *res, char *why, size_t whylen)
{
	memset(res, 0, sizeof(*res));
	snprintf(why, whylen, "ok");
	if (!wt_ldap_enabled(o)) {
		snprintf(why, whylen, "LDAP is not configured");
		return -EINVAL;
	}
	/* An empty password is an "unauthenticated bind" (RFC 4513 5.1.2),
	 * which many servers accept: it must never count as a login. */
	if (empty(user) || empty(password)) {
		snprintf(why, whylen, "empty username or password");
		return -EACCES;
	}
	LDAP *ld = NULL;
	int rc = connect_ldap(o, &ld, why, whylen);
	if (rc < 0)
		return rc;

	if (!empty(o->bind_dn_template)) {
		rc = wt_ldap_template_dn(o->bind_dn_template, user, res->dn, sizeof(res->dn));
		if (rc < 0) {
			snprintf(why, whylen, "bind DN template %s", rc == -EINVAL ? "lacks {0}" :
				 "result is too long");
			rc = rc == -EINVAL ? -EINVAL : -EACCES;
			goto out;
		}
	} else {
		rc = search_user(ld, o, user, res, why, whylen);
		if (rc < 0)
			goto out;
	}

	int lrc = simple_bind(ld, res->dn, password);
	if (lrc != LDAP_SUCCESS) {
		rc = ldap_errno(lrc);
		snprintf(why, whylen, "bind as %s: %s", res->dn, ldap_err2string(lrc));
		if (rc != -EHOSTUNREACH)
			rc = -EACCES;
		goto out;
	}
	if (!empty(o->bind_dn_template)) {
		/* Read the user's own names; failure is harmless. */
		char *attrs[] = {"cn", "displayName", "mail", NULL};
		struct timeval tv = {.tv_sec = o->timeout_s > 0 ? o->timeout_s : 5};
		LDAPMessage *msg = NULL;
		if (ldap_search_ext_s(ld, res->dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL,
				      NULL, &tv, 1, &msg) == LDAP_SUCCESS) {
			LDAPMessage *e = ldap_first_entry(ld, msg);
			if (e) {
				first_value(ld, e, "cn", res->display_name, sizeof(res->display_name));
				first_value(ld, e, "displayName", res->display_name,
					    sizeof(res->display_name));
				first_value(ld, e, "mail", res->email, sizeof(res->email));
			}
		}
		ldap_msgfree(msg);
	}
	/* Groups are read with the service account when there is one: users
	 * often may not read group entries themselves. */
	if (!empty(o->bind_dn)) {
		lrc = simple_bind(ld, o->bind_dn, o->bind_password);
		if (lrc != LDAP_SUCCESS) {
			snprintf(why, whylen, "service rebind failed: %s", ldap_err2string(lrc));
			rc = ldap_errno(lrc) == -EHOSTUNREACH ? -EHOSTUNREACH : -EIO;
			goto out;
		}
	}
	rc = find_groups(ld, o, user, res, why, whylen);
	if (rc < 0)
		goto out;
	if (res->nroles == 0 && !empty(o->default_role))
		add_role(res, o->default_role);
	if (res->nroles == 0) {
		snprintf(why, whylen, "%s is in no group mapped to a role", res->dn);
		rc = -EPERM;
	}
out:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}
