/* The audit log's vocabulary and event record. Events are written by the
 * alarm/audit writer (rules/dbq.h, non-blocking from the loop) or inside
 * the transaction of a blocking change (rules/rulesdb.h). */
#ifndef WT_RULES_AUDIT_H
#define WT_RULES_AUDIT_H

#include <stdint.h>

enum wt_audit_severity {
	WT_AUDIT_DEBUG = 0,
	WT_AUDIT_LOG,
	WT_AUDIT_INFO,
	WT_AUDIT_WARNING,
	WT_AUDIT_ERROR,
	WT_AUDIT_ALWAYS, /* never expires */
	WT_AUDIT_SEV__COUNT
};

enum wt_audit_state {
	WT_AUDIT_OPEN = 0,
	WT_AUDIT_INVESTIGATING,
	WT_AUDIT_DONE,
	WT_AUDIT_STATE__COUNT
};

enum wt_audit_category {
	WT_AUDIT_ALARM = 0,
	WT_AUDIT_LOGIN,
	WT_AUDIT_LOGIN_FAILED,
	WT_AUDIT_CONFIG,
	WT_AUDIT_STRUCTURE,
	WT_AUDIT_RULE,
	WT_AUDIT_OUTLET, /* outlet switching */
	WT_AUDIT_DEVICE, /* devices appearing and disappearing */
	WT_AUDIT_SYSTEM,
	WT_AUDIT_CAT__COUNT
};

/* Retention classes (audit_retention.class); severity "always" has none. */
enum wt_audit_class {
	WT_AUDIT_CLASS_NONE = 0,
	WT_AUDIT_CLASS_INFO,         /* debug, log, info */
	WT_AUDIT_CLASS_OPEN_WARNING, /* open or investigating */
	WT_AUDIT_CLASS_OPEN_ERROR,
	WT_AUDIT_CLASS_CLOSED_WARNING, /* done */
	WT_AUDIT_CLASS_CLOSED_ERROR,
	WT_AUDIT_CLASS__COUNT
};

struct wt_audit_event {
	int64_t ts_ms; /* 0: now, as the database sees it */
	enum wt_audit_severity severity;
	enum wt_audit_state state;
	enum wt_audit_category category;
	const char *actor; /* user, NULL for wattrack itself */
	const char *object_kind;
	int64_t object_id; /* 0: none */
	const char *message;
	const char *details; /* JSON object text or NULL */
};

/* The class an entry falls in; mirrors the generated column in 0013. */
enum wt_audit_class wt_audit_class_of(enum wt_audit_severity sev, enum wt_audit_state st);
const char *wt_audit_severity_name(enum wt_audit_severity s);
const char *wt_audit_state_name(enum wt_audit_state s);
const char *wt_audit_category_name(enum wt_audit_category c);
const char *wt_audit_class_name(enum wt_audit_class c);
/* Name -> value, or -1. */
int wt_audit_severity_by_name(const char *name);
int wt_audit_state_by_name(const char *name);
int wt_audit_class_by_name(const char *name);

#endif
