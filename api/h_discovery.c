/* POST /api/v1/discovery starts a network scan (server/daemon_discovery.h);
 * GET /api/v1/discovery shows the running or last one: state, progress,
 * what was found with its profile, what was skipped and why. The scanner
 * lives on the loop, so the work is done in the 'after' phase; the worker
 * only authenticates. Communities given for a scan are write-only: the
 * status names a credential by label ("community #1"), never its value. */
#include "request.h"
#include "server/daemon_discovery.h"
#include "server/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The scanner's record of the running or last scan as the reply. */
static void reply_status(struct wt_api_req *r, struct wt_ddisc *d, int status)
{
	char *st = r->layers.discovery_status(d);
	json_t *j = st ? json_loads(st, 0, NULL) : NULL;
	free(st);
	if (!j) {
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	wt_api_ok(r, status, j);
}

/* Host names, IPv4 addresses and CIDRs, comma-separated: the scanner
 * resolves names later, so a typo must be caught here. */
static bool targets_ok(const char *t)
{
	for (const char *p = t; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(".-_/, ", *p)))
			return false;
	return true;
}

void wt_h_discovery_start(struct wt_api_req *r)
{
	const char *t = json_string_value(json_object_get(r->body, "targets"));
	if (t && !targets_ok(t)) {
		wt_api_fail(r, 400, "INVALID_REQUEST",
			    "field \"targets\": expected comma-separated host names, IPv4 "
			    "addresses and CIDRs (10.0.0.0/24)");
		return;
	}
	wt_api_ok(r, 202, json_object());
}

void wt_h_discovery_start_after(struct wt_api_req *r)
{
	struct wt_ddisc *d = r->layers.discovery_scan && r->layers.discovery_status
				     ? r->layers.discovery
				     : NULL;
	if (wt_api_need(r, d, "discovery"))
		return;
	struct wt_ddisc_scan q = {
		.targets = json_string_value(json_object_get(r->body, "targets")),
		.ports = json_string_value(json_object_get(r->body, "ports")),
		.communities = json_string_value(json_object_get(r->body, "communities")),
	};
	char err[512] = "";
	int n = r->layers.discovery_scan(d, &q, err, sizeof(err));
	if (n == -EBUSY) {
		r->retry_after = 10;
		wt_api_fail(r, 409, "SCAN_RUNNING", "%s; follow it with GET /api/v1/discovery",
			    err);
		return;
	}
	if (n == -EINVAL || n == -E2BIG) {
		const char *field = strncmp(err, "discovery.ports", 15) == 0 ? "ports"
				    : strncmp(err, "communities", 11) == 0   ? "communities"
				    : strstr(err, "community")               ? "communities"
									     : "targets";
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"%s\": %s", field, err);
		return;
	}
	if (n < 0) {
		wt_api_fail(r, 503, "SCAN_NOT_STARTED", "the scan did not start: %s",
			    err[0] ? err : strerror(-n));
		return;
	}
	wt_api_audit(r, "discovery_started", "info", r->who.username,
		     "discovery scan %d of %.200s started%s", n,
		     q.targets && *q.targets ? q.targets : "the configured targets",
		     q.communities && *q.communities ? " with the request's communities" : "");
	reply_status(r, d, 202);
}

void wt_h_discovery_status(struct wt_api_req *r)
{
	wt_api_ok(r, 200, json_object());
}

void wt_h_discovery_status_after(struct wt_api_req *r)
{
	struct wt_ddisc *d = r->layers.discovery_status ? r->layers.discovery : NULL;
	if (wt_api_need(r, d, "discovery"))
		return;
	reply_status(r, d, 200);
}
