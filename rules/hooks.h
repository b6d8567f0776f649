/* Action hooks: a command run without a shell (posix_spawn, its own
 * process group, killed as a group at the timeout) or a webhook (HTTP POST
 * of the event JSON through libcurl). Blocking with a bounded time: the
 * notify thread only.
 *
 * The command gets only these variables (and a fixed PATH), never the
 * daemon's environment: WATTRACK_ALARM_ID, _CHANGE (raised, severity,
 * cleared, repeat, acked), _KIND, _SEVERITY, _DEVICE, _DEVICE_ID,
 * _DEVICE_TYPE, _ENTITY, _METRIC, _VALUE, _THRESHOLD, _UNIT, _LOCATION,
 * _ROOM, _ROW, _RACK, _MESSAGE, _RULE, _TIME_MS, and WATTRACK_OUTBOX_ID.
 * Its exit status and first 4 KiB of output go to the audit log; a command
 * that ran is never run again for the same event, whatever its status.
 *
 * Example: a UPS on battery shuts down the servers it feeds.
 *   hook name         ups-on-battery
 *   filter            device_type=ups metric=on_battery change=raised
 *                     min_severity=error
 *   command           /usr/local/sbin/wattrack-shutdown-rack --grace 120
 *   timeout           60
 * where the script reads $WATTRACK_ALARM_RACK / $WATTRACK_ALARM_LOCATION to
 * pick the hosts (e.g. ssh -i /etc/wattrack/shutdown_key root@host poweroff)
 * and exits non-zero if any host refused, which the audit log then shows. */
#ifndef WT_RULES_HOOKS_H
#define WT_RULES_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#define WT_HOOK_OUTPUT_MAX 4096

struct wt_hook_result {
	int status; /* exit status, or -signal; HTTP status for a webhook */
	bool timed_out;
	bool truncated;                      /* output longer than WT_HOOK_OUTPUT_MAX */
	char output[WT_HOOK_OUTPUT_MAX + 1]; /* stdout and stderr, NUL-terminated */
	long long elapsed_ms;
};

/* Runs argv (argv[0] an absolute path) with exactly env (NULL-terminated
 * "NAME=value" strings), stdin from /dev/null, stdout+stderr captured.
 * 0 once the command ran (whatever its status) or a negative errno if it
 * could not start; r says how it ended. */
int wt_hook_run(const char *const *argv, const char *const *env, int timeout_s,
		struct wt_hook_result *r) __attribute__((warn_unused_result));
/* POSTs json to url (Content-Type: application/json). 0 on a 2xx answer;
 * -EPROTO for another status, -EIO when no answer; r gets status and body. */
int wt_hook_post(const char *url, const char *json, int timeout_s, struct wt_hook_result *r)
	__attribute__((warn_unused_result));

#endif
