/* Query-string parameters for handlers (any thread: pure functions). */
#ifndef WT_API_QPARAM_H
#define WT_API_QPARAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copies the decoded value of name from query into out. Returns true when
 * present (an empty value counts), false when absent or longer than len-1. */
bool wt_qp_get(const char *query, const char *name, char *out, size_t len);

/* An integer parameter: 0 when absent (*v = dflt), 1 when parsed, -EINVAL
 * when present but not a whole number within [lo, hi]. */
int wt_qp_int(const char *query, const char *name, int64_t lo, int64_t hi, int64_t dflt,
	      int64_t *v) __attribute__((warn_unused_result));

/* A time parameter: Unix milliseconds, or an ISO 8601 UTC time
 * "YYYY-MM-DDTHH:MM:SS[Z]", or "now-<n><s|m|h|d|w|M|y>". Same returns. */
int wt_qp_time(const char *query, const char *name, int64_t now_ms, int64_t dflt, int64_t *v)
	__attribute__((warn_unused_result));

#endif
