#include "audit.h"

#include <string.h>

static const char *const sev_names[WT_AUDIT_SEV__COUNT] = {"debug",   "log",   "info",
							   "warning", "error", "always"};
static const char *const state_names[WT_AUDIT_STATE__COUNT] = {"open", "investigating", "done"};
static const char *const cat_names[WT_AUDIT_CAT__COUNT] = {"alarm",  "login",     "login_failed",
							   "config", "structure", "rule",
							   "outlet", "device",    "system"};
static const char *const class_names[WT_AUDIT_CLASS__COUNT] = {
	"none", "info", "open_warning", "open_error", "closed_warning", "closed_error"};

enum wt_audit_class wt_audit_class_of(enum wt_audit_severity sev, enum wt_audit_state st)
{
	if (sev >= WT_AUDIT_ALWAYS)
		return WT_AUDIT_CLASS_NONE;
	if (sev <= WT_AUDIT_INFO)
		return WT_AUDIT_CLASS_INFO;
	if (sev == WT_AUDIT_WARNING)
		return st == WT_AUDIT_DONE ? WT_AUDIT_CLASS_CLOSED_WARNING
					   : WT_AUDIT_CLASS_OPEN_WARNING;
	return st == WT_AUDIT_DONE ? WT_AUDIT_CLASS_CLOSED_ERROR : WT_AUDIT_CLASS_OPEN_ERROR;
}

static int by_name(const char *const *names, int n, const char *name)
{
	for (int i = 0; name && i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

const char *wt_audit_severity_name(enum wt_audit_severity s)
{
	return (unsigned)s < WT_AUDIT_SEV__COUNT ? sev_names[s] : "";
}

const char *wt_audit_state_name(enum wt_audit_state s)
{
	return (unsigned)s < WT_AUDIT_STATE__COUNT ? state_names[s] : "";
}

const char *wt_audit_category_name(enum wt_audit_category c)
{
	return (unsigned)c < WT_AUDIT_CAT__COUNT ? cat_names[c] : "";
}

const char *wt_audit_class_name(enum wt_audit_class c)
{
	return (unsigned)c < WT_AUDIT_CLASS__COUNT ? class_names[c] : "";
}

int wt_audit_severity_by_name(const char *name)
{
	return by_name(sev_names, WT_AUDIT_SEV__COUNT, name);
}

int wt_audit_state_by_name(const char *name)
{
	return by_name(state_names, WT_AUDIT_STATE__COUNT, name);
}

int wt_audit_class_by_name(const char *name)
{
	return by_name(class_names, WT_AUDIT_CLASS__COUNT, name);
}
