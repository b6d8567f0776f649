/* The periodic status report e-mail (daily or weekly per recipient): fleet
 * state, open alarms and energy per room over the period, from what the
 * database holds. Blocking: the notify thread only. */
#ifndef WT_RULES_NOTIFY_REPORT_H
#define WT_RULES_NOTIFY_REPORT_H

#include "notify_buf.h"

#include <libpq-fe.h>
#include <stdint.h>

/* Appends the report body for [from_ms, to_ms) to out. 0, -EIO (query
 * failed, logged) or -ENOMEM. */
int wt_notify_report_text(PGconn *c, struct nbuf *out, int64_t from_ms, int64_t to_ms,
			  const char *hostname, const char *period_name)
	__attribute__((warn_unused_result));

#endif
