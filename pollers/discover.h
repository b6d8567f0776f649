/* Network discovery: scans CIDR ranges, host lists and ports with a list of
 * v2c communities and v3 users, identifies what answers by sysObjectID and
 * sysDescr, and reports every candidate as found or skipped-and-why.
 * Bounded concurrency and a start rate keep a /16 scan safe for the
 * network and for the loop. Secrets never appear in results or logs. */
#ifndef WT_POLLERS_DISCOVER_H
#define WT_POLLERS_DISCOVER_H

#include <stddef.h>

#include "pollers/profile.h"
#include "pollers/snmp_engine.h"

struct event_base;

struct wt_discover_conf {
	const char *const *targets; /* "10.1.0.0/16", "10.2.3.4", "pdu7.example" */
	size_t n_targets;
	const int *ports;           /* default {161} */
	size_t n_ports;
	const char *const *communities; /* v2c, tried in order */
	size_t n_communities;
	const struct wt_snmp_target *v3; /* v3 users (host/port ignored), tried after communities */
	size_t n_v3;
	int concurrency;  /* probes in flight, default 64 */
	int rate_per_s;   /* new probes started per second, default 500 */
	int timeout_ms;   /* per request, default 800 */
	int retries;      /* default 0 */
	size_t max_hosts; /* refuse larger scans, default 65536 (a /16) */
};

enum wt_discover_status {
	WT_DISC_FOUND = 0,      /* answered; profile may still be NULL ("no profile") */
	WT_DISC_NO_ANSWER,      /* nothing answered with any credential */
	WT_DISC_REFUSED,        /* an SNMPv3 agent answered but refused every user */
};

struct wt_discover_result {
	char host[64];
	int port;
	enum wt_discover_status status;
	int version;           /* 1, 2 or 3 when found */
	char credential[80];   /* "community #2" or "v3 user NAME": never a secret */
	char sysobjectid[160];
	char sysdescr[256];
	char sysname[128];
	const char *profile;   /* matched profile name, or NULL */
	char reason[160];      /* why skipped, or "no profile for sysObjectID X" */
};

typedef void (*wt_discover_result_fn)(void *ctx, const struct wt_discover_result *r);
typedef void (*wt_discover_done_fn)(void *ctx, size_t candidates);

struct wt_discover;

/* Starts a scan on the loop. Returns 0, -EINVAL (bad target; reason in
 * err), -E2BIG (more than max_hosts addresses) or -ENOMEM. on_result is
 * called once per host:port, on_done once at the end. */
int wt_discover_start(struct event_base *base, const struct wt_profile_set *profiles,
		      const struct wt_discover_conf *conf, wt_discover_result_fn on_result,
		      wt_discover_done_fn on_done, void *ctx, struct wt_discover **out, char *err,
		      size_t errlen) __attribute__((warn_unused_result));
/* Stops (if running) and frees: probes in flight are cancelled (sessions
 * closed, no further callbacks). Safe from inside on_done, not on_result. */
void wt_discover_free(struct wt_discover *d);
/* Stops starting probes and trying further credentials; requests in flight
 * end within one timeout (answers are still reported), then on_done runs,
 * from inside this call when nothing is in flight. Probes that end unanswered
 * because of the stop are not reported (see wt_discover_stopped). */
void wt_discover_stop(struct wt_discover *d);
/* Probes the stop ended before any answer (0 for NULL). */
size_t wt_discover_stopped(const struct wt_discover *d);
/* host:port candidates in the scan (0 for NULL). */
size_t wt_discover_candidates(const struct wt_discover *d);
/* Probes started and not yet reported (0 for NULL). */
size_t wt_discover_in_flight(const struct wt_discover *d);

/* `wattrack discover ...`: prints one JSON object per candidate, then a
 * summary line. Exit 0 if it ran, 64 on usage errors, 128+N when signal N
 * (SIGINT, SIGTERM) stopped it (wt_discover_stop, then the summary counts
 * "reported", "stopped" and "not_started"); a second signal leaves at once. */
int wt_discover_main(int argc, char **argv);

#endif
