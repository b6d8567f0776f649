/* Roles and permissions. Every route names one permission it needs; a
 * role is a set of permissions (the table in roles.c). A user holds any
 * number of roles; an API token holds the user's roles or fewer. */
#ifndef WT_ROLES_H
#define WT_ROLES_H

#include <stdbool.h>
#include <stddef.h>

/* Permission bits, one per kind of action a route performs. */
enum wt_perm {
	WT_P_PUBLIC = 0,            /* no authentication at all (login, version, health) */
	WT_P_AUTH = 1u << 0,        /* any authenticated user (whoami, own password, own tokens) */
	WT_P_READ = 1u << 1,        /* read devices, readings, structure, rules, alarms, audit */
	WT_P_CONFIGURE = 1u << 2,   /* change device setup, structure and rules; ack alarms */
	WT_P_OUTLET_ON = 1u << 3,   /* switch outlets on */
	WT_P_OUTLET_OFF = 1u << 4,  /* switch outlets off (and power-cycle, which needs both) */
	WT_P_USERS = 1u << 5,       /* manage users and everyone's tokens */
	WT_P_SETTINGS = 1u << 6,    /* server settings, TLS, LDAP */
};

enum wt_role {
	WT_ROLE_ADMIN = 0,
	WT_ROLE_READWRITE,
	WT_ROLE_POWER,
	WT_ROLE_POWERON,
	WT_ROLE_POWEROFF,
	WT_ROLE_READONLY,
	WT_ROLE__COUNT
};

/* Canonical role name ("admin", "readwrite", ...). */
const char *wt_role_name(enum wt_role r);
/* Role by name (exact, lower case); -1 when unknown. */
int wt_role_parse(const char *name);
/* The permissions a role grants. */
unsigned wt_role_perms(enum wt_role r);
/* The union of the permissions of every role in mask (bit i = role i). */
unsigned wt_roles_perms(unsigned role_mask);
/* Short description of a permission bit, for OpenAPI and /roles. */
const char *wt_perm_name(unsigned perm);
/* True when perms satisfy a route requiring need. */
bool wt_perm_allows(unsigned perms, unsigned need);

#endif
