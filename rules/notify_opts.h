/* A private deep copy of struct wt_notify_options with defaults applied
 * and derived targets (the outbox's target column per channel). */
#ifndef WT_RULES_NOTIFY_OPTS_H
#define WT_RULES_NOTIFY_OPTS_H

#include "notify.h"

struct wt_notify_opts {
	struct wt_notify_options pub; /* every string points into this copy */
	char *syslog_target;          /* "host:port" */
	char **trap_targets;          /* "host:port" per receiver */
	char **strings;               /* everything to free */
	size_t nstrings, capstrings;
};

/* Copies o, applies defaults and checks ranges. -EINVAL (logged) or -ENOMEM. */
int wt_notify_opts_copy(struct wt_notify_opts **out, const struct wt_notify_options *o)
	__attribute__((warn_unused_result));
void wt_notify_opts_free(struct wt_notify_opts *c);
/* "addr[;always|business_hours|after_hours][;daily|weekly], ..." -> recipients (malloc'd
 * array in *out, strings owned by the caller's copy of list). For the
 * config layer. -EINVAL on an unknown schedule. */
int wt_notify_parse_recipients(char *list, struct wt_mail_recipient **out, size_t *n)
	__attribute__((warn_unused_result));

#endif
