#include "roles.h"

#include <string.h>

/* The whole authorization policy in one table: what each role may do. */
static const struct {
	const char *name;
	unsigned perms;
} roles[WT_ROLE__COUNT] = {
	[WT_ROLE_ADMIN] = {"admin", WT_P_AUTH | WT_P_READ | WT_P_CONFIGURE | WT_P_OUTLET_ON |
					    WT_P_OUTLET_OFF | WT_P_USERS | WT_P_SETTINGS},
	[WT_ROLE_READWRITE] = {"readwrite", WT_P_AUTH | WT_P_READ | WT_P_CONFIGURE},
	[WT_ROLE_POWER] = {"power", WT_P_AUTH | WT_P_READ | WT_P_OUTLET_ON | WT_P_OUTLET_OFF},
	[WT_ROLE_POWERON] = {"poweron", WT_P_AUTH | WT_P_READ | WT_P_OUTLET_ON},
	[WT_ROLE_POWEROFF] = {"poweroff", WT_P_AUTH | WT_P_READ | WT_P_OUTLET_OFF},
	[WT_ROLE_READONLY] = {"readonly", WT_P_AUTH | WT_P_READ},
};

const char *wt_role_name(enum wt_role r)
{
	return (unsigned)r < WT_ROLE__COUNT ? roles[r].name : "?";
}

int wt_role_parse(const char *name)
{
	for (int i = 0; i < WT_ROLE__COUNT; i++)
		if (strcmp(roles[i].name, name) == 0)
			return i;
	return -1;
}

unsigned wt_role_perms(enum wt_role r)
{
	return (unsigned)r < WT_ROLE__COUNT ? roles[r].perms : 0;
}

unsigned wt_roles_perms(unsigned role_mask)
{
	unsigned p = 0;
	for (int i = 0; i < WT_ROLE__COUNT; i++)
		if (role_mask & (1u << i))
			p |= roles[i].perms;
	return p;
}

const char *wt_perm_name(unsigned perm)
{
	switch (perm) {
	case WT_P_PUBLIC: return "public";
	case WT_P_AUTH: return "authenticated";
	case WT_P_READ: return "read";
	case WT_P_CONFIGURE: return "configure";
	case WT_P_OUTLET_ON: return "outlet_on";
	case WT_P_OUTLET_OFF: return "outlet_off";
	case WT_P_USERS: return "users";
	case WT_P_SETTINGS: return "settings";
	default: return "?";
	}
}

bool wt_perm_allows(unsigned perms, unsigned need)
{
	return (perms & need) == need;
}
