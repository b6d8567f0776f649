/* `wattrack probe URL`: talks to one device, reads it once as the daemon
 * would, and describes what wattrack sees as JSON (format in
 * pollers/PROBE.md). The CLI and the API's POST /api/v1/probe (which runs
 * `wattrack probe -` in a child process, URL on stdin) share wt_probe_run. */
#ifndef WT_POLLERS_PROBE_H
#define WT_POLLERS_PROBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit classes: the process exit status of `wattrack probe`, and what
 * wt_probe_run returns. */
enum wt_probe_exit {
	WT_PROBE_OK = 0,          /* a profile was bound and the device read */
	WT_PROBE_UNREACHABLE = 1, /* the device could not be read (timeout, refused, auth) */
	WT_PROBE_NO_PROFILE = 2,  /* the device answered but no profile matches */
	WT_PROBE_CONTROL = 3,     /* an outlet command failed */
	WT_PROBE_USAGE = 64,      /* bad URL or options: no JSON, the reason in err */
};

#define WT_PROBE_MAX_CONTROLS 8
#define WT_PROBE_URL_MAX 2048

struct wt_probe_control {
	long outlet;
	int unit;
	int cmd; /* enum wt_ctl_cmd */
};

struct wt_probe_opts {
	const char *profiles_dir; /* NULL: the installed (or source tree's) profiles */
	int timeout_ms;           /* per request, 1..60000 */
	int retries;              /* per request, 0..10 */
	const char *user;         /* who asks, for control audit events ("probe") */
	int n_controls;           /* SNMP takes at most one */
	struct wt_probe_control controls[WT_PROBE_MAX_CONTROLS];
};

/* Probes url once (and switches outlets when asked). Sets *out to the JSON
 * description (caller owns it; never NULL unless WT_PROBE_USAGE) and
 * returns the exit class; err gets the reason for WT_PROBE_USAGE. Neither
 * the JSON nor err ever holds the URL's credentials. Uses its own
 * event_base; not for the daemon's loop (blocks until done). */
int wt_probe_run(const char *url, const struct wt_probe_opts *o, json_t **out, char *err,
		 size_t errlen);

/* "ok", "rebooted", "no_profile", "auth_failed" or "unreachable" for an
 * enum wt_poll_result. */
const char *wt_probe_result_name(int poll_result);
/* The exit class of a poll result (without controls). */
int wt_probe_exit_class(int poll_result);

/* The CLI: options, URL ("-": one line read from stdin, so that
 * credentials never show in ps), run, JSON on stdout. run is wt_probe_run
 * or wt_fieldbus_probe_run. Returns the exit status. */
int wt_probe_cli(int argc, char **argv,
		 int (*run)(const char *, const struct wt_probe_opts *, json_t **, char *, size_t));

/* argv[0] is "probe" (or the program name). Exit status: enum wt_probe_exit. */
int wt_probe_main(int argc, char **argv);

#endif
