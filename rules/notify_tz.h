/* Time zones for business hours and mail timestamps, read from the system's
 * zoneinfo (TZif) files, so the notify thread never touches the process-wide
 * TZ/localtime state other threads use. */
#ifndef WT_RULES_NOTIFY_TZ_H
#define WT_RULES_NOTIFY_TZ_H

#include <stddef.h>
#include <stdint.h>

struct wt_tz_type {
	int32_t off_s;
	char abbr[24];
};

struct wt_tz {
	int64_t *trans; /* transition times, Unix seconds, ascending */
	uint8_t *idx;   /* type after each transition */
	size_t ntrans;
	struct wt_tz_type *types;
	size_t ntypes;
	struct wt_tz_type fixed; /* used when ntypes == 0 */
};

struct wt_local_time {
	int year, mon, mday, hour, min, sec;
	int wday; /* 0 = Sunday */
	char abbr[24];
};

/* "UTC", a fixed offset "+HH:MM"/"-HH:MM", or a zoneinfo name
 * ("Europe/Prague", looked up under $TZDIR or /usr/share/zoneinfo).
 * 0, -EINVAL (bad name or file) or -ENOMEM. */
int wt_tz_load(struct wt_tz *tz, const char *name) __attribute__((warn_unused_result));
void wt_tz_local(const struct wt_tz *tz, int64_t unix_ms, struct wt_local_time *out);
void wt_tz_free(struct wt_tz *tz);

#endif
