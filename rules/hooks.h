/* Action hooks: a command run without a shell (posix_spawn, its own
 * process group, killed as a group at the timeout) or a webhook (HTTP POST
 * of the event JSON through libcurl). Blocking with a bounded time: the
 * notify thread only. */
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
