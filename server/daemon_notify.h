/* Notifications inside the daemon: the notify.* settings (and the JSON
 * files notify.hooks_file and notify.traps_file) turned into
 * struct wt_notify_options, the notify module started on the alarm table of
 * the rules engine, and the names its messages need (device, type, entity,
 * metric, unit) kept in a loop-side cache read from PostgreSQL on a worker.
 * Loop thread, except wt_dnotify_test_mail* (blocking: a worker).
 *
 * notify.hooks_file: a JSON array, one object per hook:
 *   {"name": "ups-shutdown",                      (required, unique)
 *    "command": ["/usr/local/sbin/x", "--grace", "120"],   argv, no shell;
 *    or "url": "https://host/hook",               (exactly one of the two)
 *    "min_severity": "error", "metric": "on_battery", "device_type": "UPS",
 *    "change": "raised", "timeout": "60s"}        (filters optional)
 * notify.traps_file: a JSON array, one object per receiver:
 *   {"host": "nms1", "port": 162, "version": 2, "community": "…",
 *    "inform": false}  or, for v3,
 *   {"host": "nms2", "version": 3, "user": "wt", "auth_pass": "…",
 *    "priv_pass": "…"}                             (SHA / AES; no priv: authNoPriv)
 * Unknown keys are errors (a typo must not silently disable a filter). */
#ifndef WT_DAEMON_NOTIFY_H
#define WT_DAEMON_NOTIFY_H

#include "config.h"

#include <stddef.h>

struct event_base;
struct wt_workers;
struct wt_rules;
struct wt_notify;
struct wt_dnotify;

/* Checks the notify.* settings and reads both JSON files without starting
 * anything (for --check-config and the API's "check before apply"). 0 or
 * -EINVAL/-ENOENT/-ENOMEM with the reason ("file:line: key: message") in err. */
int wt_dnotify_check(const struct wt_config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Blocking start-up (before the loop runs): builds the options, reads the
 * names once, starts the notify thread on the engine's alarms. Call after
 * the rules engine started.
 * Errors as wt_dnotify_check (logged by the caller), or -ENOMEM. */
int wt_dnotify_start(struct wt_dnotify **out, const struct wt_config *cfg, const char *conninfo,
		     struct event_base *base, struct wt_workers *workers, struct wt_rules *engine,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

/* The running notify module (stats, sync), or NULL. */
struct wt_notify *wt_dnotify_notify(struct wt_dnotify *d);

/* Sends a test e-mail to `to` with the running mail settings; on failure
 * err gets the SMTP server's reply. Blocking: on a worker. 0 or -errno. */
int wt_dnotify_test_mail(struct wt_dnotify *d, const char *to, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* The same with the mail settings of cfg (a settings page testing values
 * before they are saved). Blocking: on a worker. */
int wt_dnotify_test_mail_cfg(const struct wt_config *cfg, const char *to, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Writes queued events to the outbox (up to drain_ms), stops the thread
 * and frees. Call after the worker pool was freed and before the rules
 * engine (its alarm table) is freed. NULL is a no-op. */
void wt_dnotify_stop(struct wt_dnotify *d, int drain_ms);

#endif
