/* LDAP / Active Directory authentication through OpenLDAP. Blocking (binds,
 * searches): call on a worker, never on the loop.
 *
 * Two ways to find the user's DN:
 *  - a bind-DN template, "uid={0},ou=people,dc=example,dc=com", where {0} is
 *    the username escaped per RFC 4514;
 *  - a search with a service account (bind_dn + bind_password; anonymous
 *    when both are empty) under search_base for
 *    (&(objectClass=<user_class>)(<user_attr>=<username>)), the value
 *    escaped per RFC 4515, exactly one entry required.
 * Then the user's own password is bound against that DN. Groups are found
 * under group_base as (&(objectClass=<group_class>)(<member_attr>=<v>)) where
 * v is the user's DN, or the username when member_attr is memberUid
 * (posixGroup). Each group maps to a role through group_roles. */
#ifndef WT_LDAPAUTH_H
#define WT_LDAPAUTH_H

#include <stdbool.h>
#include <stddef.h>

struct wt_ldap_options {
	const char *url;             /* ldap://host:389 or ldaps://host:636; NULL/"": LDAP off */
	bool starttls;               /* StartTLS on an ldap:// URL (required, not opportunistic) */
	const char *ca_file;         /* CA bundle to verify the server; NULL: system default */
	bool tls_verify;             /* verify the server certificate (true) */
	int timeout_s;               /* network and operation timeout (5) */
	const char *bind_dn_template;/* "uid={0},ou=people,dc=x"; set: template mode */
	const char *bind_dn;         /* search mode: service account; "": anonymous */
	const char *bind_password;   /* never logged */
	const char *search_base;     /* where users live */
	const char *user_class;      /* "inetOrgPerson", "posixAccount", AD: "user" */
	const char *user_attr;       /* "uid", AD: "sAMAccountName" */
	const char *group_base;      /* where groups live; NULL/"": no groups */
	const char *group_class;     /* "groupOfNames", "posixGroup", AD: "group" */
	const char *member_attr;     /* "member" (DN) or "memberUid" (username) */
	/* "role:group;role:group": group is a full DN or a cn value, matched
	 * case-insensitively. e.g. "admin:cn=wt-admins,ou=groups,dc=x;readonly:ops" */
	const char *group_roles;
	const char *default_role;    /* role for users in no mapped group; "": refuse them */
};

#define WT_LDAP_MAX_ROLES 8

struct wt_ldap_result {
	char dn[512];
	char display_name[128];
	char email[128];
	int nroles;
	char roles[WT_LDAP_MAX_ROLES][16]; /* canonical role names, no duplicates */
};

/* True when the options turn LDAP on. */
bool wt_ldap_enabled(const struct wt_ldap_options *o);

/* Authenticates user/password. Returns 0 and fills res, -EACCES for a wrong
 * password or an unknown user (indistinguishable to callers on purpose),
 * -EPERM when the user is in no group that maps to a role and there is no
 * default role, -EHOSTUNREACH when the server cannot be reached (or TLS
 * fails), -EINVAL on bad configuration. why gets a human reason without
 * secrets, for the log. */
int wt_ldap_authenticate(const struct wt_ldap_options *o, const char *user, const char *password,
			 struct wt_ldap_result *res, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* RFC 4515 filter value escaping: * ( ) \ NUL and non-ASCII bytes become
 * \xx. Returns 0 or -ENOSPC. */
int wt_ldap_escape_filter(const char *in, char *out, size_t outlen)
	__attribute__((warn_unused_result));
/* RFC 4514 attribute value escaping for a DN: , + " \ < > ; = and a leading
 * space or #, a trailing space, NUL. Returns 0 or -ENOSPC. */
int wt_ldap_escape_dn(const char *in, char *out, size_t outlen) __attribute__((warn_unused_result));

/* Builds the DN from a template, replacing every {0} with the escaped
 * user. Returns 0, -EINVAL without {0}, or -ENOSPC. */
int wt_ldap_template_dn(const char *tmpl, const char *user, char *out, size_t outlen)
	__attribute__((warn_unused_result));

#endif
