/* HTTP for Redfish: libcurl multi driven by the libevent loop
 * (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION -> events, curl_multi_socket_action),
 * so no request ever blocks the loop. One client per loop, shared by every
 * Redfish device: curl's connection cache keeps connections alive and reuses
 * them per host. */
#ifndef WT_POLLERS_REDFISH_HTTP_H
#define WT_POLLERS_REDFISH_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct wt_rf_http;
struct wt_rf_req;

#define WT_RF_MAX_BODY (8u << 20) /* larger answers are a device error */

struct wt_rf_req_opts {
	const char *url;    /* absolute http(s) URL */
	const char *method; /* "GET" (default), "POST", "PATCH", "DELETE" */
	const char *body;   /* request body (JSON), or NULL */
	const char *user;   /* basic auth when set (with pass) */
	const char *pass;
	const char *token;   /* X-Auth-Token when set */
	bool insecure;       /* accept any certificate (self-signed devices) */
	const char *ca_file; /* trust this CA (PEM) instead of the system store */
	int timeout_ms;
};

/* The answer: err is 0, or a negative errno (-ETIMEDOUT, -ECONNREFUSED,
 * -EPROTO for TLS, -EMSGSIZE for a body over WT_RF_MAX_BODY, -EIO);
 * status the HTTP status; token the X-Auth-Token header (session logins)
 * and location the Location header, both "" when absent. body is
 * NUL-terminated and owned by the client (valid during the call). */
struct wt_rf_resp {
	int err;
	long status;
	const char *body;
	size_t len;
	const char *token;
	const char *location;
	const char *errtext; /* curl's reason when err != 0 */
};
typedef void (*wt_rf_resp_fn)(void *ctx, const struct wt_rf_resp *r);

/* The client of base (made on first use, counted). NULL on failure. */
struct wt_rf_http *wt_rf_http_get(struct event_base *base);
void wt_rf_http_put(struct wt_rf_http *h);

/* Starts a request; fn runs once, later, on the loop, unless the request is
 * cancelled first. *req (may be NULL) gets a handle for wt_rf_http_cancel.
 * Returns 0 or a negative errno. */
int wt_rf_http_request(struct wt_rf_http *h, const struct wt_rf_req_opts *o, wt_rf_resp_fn fn,
		       void *ctx, struct wt_rf_req **req) __attribute__((warn_unused_result));
/* Abandons a request; its callback will not run. */
void wt_rf_http_cancel(struct wt_rf_req *req);

/* Requests started / finished with an error, for tests and benchmarks. */
void wt_rf_http_counts(const struct wt_rf_http *h, unsigned long *started, unsigned long *failed,
		       unsigned long *connects);

#endif
