/* One API request in flight, as route handlers see it. The loop fills the
 * input half from the evhttp request (so workers never touch libevent),
 * a worker authenticates and runs the handler, and the loop sends what the
 * handler left in the output half. Internal to api/. */
#ifndef WT_API_REQUEST_H
#define WT_API_REQUEST_H

#include "api.h"
#include "roles.h"
#include "validate.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct evbuffer;

struct evhttp_request;
struct wt_api_req;

enum wt_method {
	WT_GET = 1u << 0,
	WT_POST = 1u << 1,
	WT_PUT = 1u << 2,
	WT_PATCH = 1u << 3,
	WT_DELETE = 1u << 4,
};

/* Route flags, documented where defined. */
enum {
	WT_RF_LOOP = 1u << 0,        /* handler runs on the loop: cheap, no DB */
	WT_RF_MUST_CHANGE_OK = 1u << 1, /* allowed while the password must be changed */
	WT_RF_NO_CSRF = 1u << 2,     /* a write that needs no CSRF token (login itself) */
	WT_RF_STREAM = 1u << 3,      /* on success the loop turns the reply into an event stream */
};

typedef void (*wt_api_handler)(struct wt_api_req *r);

struct wt_api_route {
	unsigned method;               /* one WT_* method */
	const char *path;              /* "/api/v1/users/{id}": {name} matches a positive integer */
	unsigned perm;                 /* WT_P_* needed; WT_P_PUBLIC: no credentials */
	unsigned flags;                /* WT_RF_* */
	const struct wt_field *body;   /* request body spec; NULL: no body accepted */
	wt_api_handler handler;
	const char *summary;           /* one line for OpenAPI */
	const char *tag;               /* OpenAPI tag: "session", "users", ... */
	int ok_status;                 /* status on success; 0 means 200 */
	/* Runs on the loop after a successful worker handler, to merge the
	 * in-memory state of the other layers (device states, alarms, stats)
	 * that only the loop thread may read. NULL: none. */
	wt_api_handler after;
	/* Runs on the loop before the request goes to a worker, to note cheap
	 * loop-side facts in r (e.g. a fresh cache). NULL: none. */
	wt_api_handler before;
};

#define WT_API_MAX_IDS 4

/* Who is calling, once authenticated. */
struct wt_principal {
	bool authenticated;
	int64_t user_id;
	char username[128];
	char via[8];          /* "session" or "token" */
	unsigned role_mask;   /* bit i = enum wt_role i */
	unsigned perms;
	bool must_change;
	bool ldap;            /* an LDAP-backed account */
	int64_t token_id;     /* when via token */
};

struct wt_api_req {
	/* input, set on the loop */
	struct wt_api *api;
	const struct wt_api_options *opt;
	const struct wt_api_route *route;
	unsigned method;
	int64_t ids[WT_API_MAX_IDS];
	int nids;
	json_t *body;            /* validated against route->body, or NULL */
	char *query;             /* raw query string or NULL */
	char peer[64];           /* client address */
	bool tls;
	char *session_cookie;    /* wt_session cookie value or NULL */
	char *bearer;            /* Authorization: Bearer value or NULL */
	char *csrf;              /* X-CSRF-Token header or NULL */

	struct wt_api_layers layers; /* snapshot of the pointers, taken on the loop */
	bool cache_hit;              /* set by a 'before' phase */
	uint64_t cache_gen;          /* the cache's generation the 'before' phase saw */

	/* credentials: their hash is computed once; a loop-side cache hit
	 * (credcache.h) skips the database check */
	char cred_hash[65];      /* hex SHA-256 of the cookie or token, "" if none */
	bool cred_cached;        /* who came from the cache (authorized on the loop) */
	bool cred_verified;      /* who was checked against PostgreSQL just now */
	uint64_t cred_gen;       /* cache generation when the request began */
	int64_t cred_valid_ms;   /* how long the checked credential may be trusted */
	char cred_csrf[64];      /* the session's CSRF token */

	/* on the worker */
	PGconn *db;              /* NULL for WT_RF_LOOP routes */
	struct wt_principal who;

	/* output */
	int status;
	json_t *reply;           /* 2xx body; NULL: 204 */
	struct evbuffer *text;   /* a non-JSON 2xx body (CSV, Prometheus, chart text); wins
				  * over reply; moved to the connection without a copy */
	const char *content_type; /* of text (static string) */
	const char *filename;     /* Content-Disposition attachment name (static), or NULL */
	const char *err_code;    /* set by wt_api_fail: the reply is an error */
	char err_msg[512];
	char *set_cookie;        /* a Set-Cookie value to send */
	int retry_after;         /* seconds, for 429/503 */
	struct {
		char kind[24];
		char severity[12];
		char actor[128];
		char detail[256];
	} audit[2];
	int naudit;

	bool deferred;               /* set by an 'after' phase: the reply comes later via
				      * wt_api_finish (e.g. when a device confirms) */
	struct evhttp_request *http; /* loop only */
	void *conn;                  /* loop only: the connection's guard */
};

/* Sets a successful non-JSON reply (takes ownership of text, malloc'ed;
 * referenced by the reply buffer, not copied). */
void wt_api_ok_text(struct wt_api_req *r, char *text, size_t len, const char *content_type,
		    const char *filename);
/* Sets a successful non-JSON reply built in an evbuffer (takes ownership).
 * NULL (evbuffer_new failed) sets 503. */
void wt_api_ok_buffer(struct wt_api_req *r, struct evbuffer *text, const char *content_type,
		      const char *filename);
/* Fails r with 503 SERVICE_UNAVAILABLE naming the missing subsystem; returns
 * true when it is missing (so: if (wt_api_need(r, l->rules, "rules")) return;). */
bool wt_api_need(struct wt_api_req *r, const void *layer, const char *name);
/* Sets a successful reply (takes ownership of body; NULL with 204). */
void wt_api_ok(struct wt_api_req *r, int status, json_t *body);
/* Sets an error reply: status, a stable UPPER_CASE code and a message
 * naming what was wrong and where. The loop sends it through the one
 * error function (wt_api_send_error). */
void wt_api_fail(struct wt_api_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Records an audit event; the loop logs it and hands it to the hook. */
void wt_api_audit(struct wt_api_req *r, const char *kind, const char *severity, const char *actor,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Sets a 503 DATABASE_UNAVAILABLE or 500 DATABASE_ERROR from a libpq failure. */
void wt_api_fail_db(struct wt_api_req *r, const char *what);

/* The table and how to walk it (routes.c). */
extern const struct wt_api_route wt_api_routes[];
extern const size_t wt_api_nroutes;
const char *wt_method_name(unsigned m);
/* Matches path against a pattern; fills ids. */
bool wt_route_match(const char *pattern, const char *path, int64_t *ids, int *nids);

/* Handlers, one file per resource. */
void wt_h_login(struct wt_api_req *r);
void wt_h_whoami(struct wt_api_req *r);
void wt_h_logout(struct wt_api_req *r);
void wt_h_change_password(struct wt_api_req *r);
void wt_h_users_list(struct wt_api_req *r);
void wt_h_users_create(struct wt_api_req *r);
void wt_h_users_get(struct wt_api_req *r);
void wt_h_users_update(struct wt_api_req *r);
void wt_h_users_delete(struct wt_api_req *r);
void wt_h_tokens_list(struct wt_api_req *r);
void wt_h_tokens_create(struct wt_api_req *r);
void wt_h_tokens_revoke(struct wt_api_req *r);
void wt_h_version(struct wt_api_req *r);
void wt_h_health(struct wt_api_req *r);
void wt_h_openapi(struct wt_api_req *r);
void wt_h_roles(struct wt_api_req *r);
void wt_h_health_detail(struct wt_api_req *r);
void wt_h_health_detail_after(struct wt_api_req *r);
void wt_h_metrics(struct wt_api_req *r);
void wt_h_metrics_after(struct wt_api_req *r);
void wt_h_devices_list(struct wt_api_req *r);
void wt_h_devices_list_before(struct wt_api_req *r);
void wt_h_devices_list_after(struct wt_api_req *r);
void wt_h_devices_list_json_after(struct wt_api_req *r);

/* The device-list cache (h_devices.c), one per server, loop thread only. */
struct wt_devcache;
struct wt_devcache **wt_api_devcache(struct wt_api *api);
/* Frees c (may be NULL) and the shared fleet read of api. */
void wt_devcache_free(struct wt_devcache *c, const struct wt_api *api);
/* The next list request reads the database again. */
void wt_devcache_invalidate(struct wt_devcache *c);
void wt_h_devices_create(struct wt_api_req *r);
void wt_h_device_get(struct wt_api_req *r);
void wt_h_device_get_after(struct wt_api_req *r);
void wt_h_devices_update(struct wt_api_req *r);
void wt_h_devices_delete(struct wt_api_req *r);
void wt_h_entity_update(struct wt_api_req *r);
void wt_h_placement_set(struct wt_api_req *r);
void wt_h_placement_delete(struct wt_api_req *r);
void wt_h_readings(struct wt_api_req *r);
void wt_h_structure_list(struct wt_api_req *r);
void wt_h_structure_list_after(struct wt_api_req *r);
void wt_h_structure_create(struct wt_api_req *r);
void wt_h_structure_get(struct wt_api_req *r);
void wt_h_structure_get_after(struct wt_api_req *r);
void wt_h_structure_write_after(struct wt_api_req *r);
void wt_h_structure_update(struct wt_api_req *r);
void wt_h_structure_delete(struct wt_api_req *r);
void wt_h_alarms_list(struct wt_api_req *r);
void wt_h_alarm_get(struct wt_api_req *r);
void wt_h_alarm_ack(struct wt_api_req *r);
void wt_h_alarm_ack_after(struct wt_api_req *r);
void wt_h_audit_list(struct wt_api_req *r);
void wt_h_audit_update(struct wt_api_req *r);
void wt_h_audit_comment(struct wt_api_req *r);
void wt_h_export_readings(struct wt_api_req *r);
void wt_h_export_devices(struct wt_api_req *r);
void wt_h_export_devices_after(struct wt_api_req *r);
void wt_h_export_alarms(struct wt_api_req *r);
void wt_h_export_audit(struct wt_api_req *r);
void wt_h_stream(struct wt_api_req *r);
void wt_h_outlet(struct wt_api_req *r);
void wt_h_rules_list(struct wt_api_req *r);
void wt_h_settings(struct wt_api_req *r);
void wt_h_settings_after(struct wt_api_req *r);
void wt_h_rules_create(struct wt_api_req *r);
void wt_h_rules_replace(struct wt_api_req *r);
void wt_h_rules_delete(struct wt_api_req *r);
void wt_h_rules_changed(struct wt_api_req *r);
void wt_h_outlet_after(struct wt_api_req *r);
/* POST /probe (h_probe.c): the worker checks the URL, the loop runs
 * `wattrack probe -` in a child process and answers when it ends. */
void wt_h_probe(struct wt_api_req *r);
void wt_h_probe_after(struct wt_api_req *r);
/* At shutdown: kills the probes still running and answers their requests
 * (503). Loop thread. */
void wt_h_probe_stop_all(void);
/* Discovery scans (h_discovery.c), on the loop. */
void wt_h_discovery_start(struct wt_api_req *r);
void wt_h_discovery_start_after(struct wt_api_req *r);
void wt_h_discovery_status(struct wt_api_req *r);
void wt_h_discovery_status_after(struct wt_api_req *r);
/* PATCH /settings (h_settings.c): checked on the loop, written back to the
 * file and audited on the worker, applied on the loop. */
void wt_h_settings_patch_before(struct wt_api_req *r);
void wt_h_settings_patch(struct wt_api_req *r);
void wt_h_settings_patch_after(struct wt_api_req *r);
/* POST /notifications/test-mail (h_settings.c), on the worker. */
void wt_h_test_mail(struct wt_api_req *r);

/* The live stream registry of this server (server.c). Loop thread only. */
struct wt_streams *wt_api_streams(struct wt_api *api);

/* Latest values (5 s level, last two minutes, memory included) of series
 * ids[0..n) (0 = none): out[i] NaN and ts[i] 0 when there is none. Worker. */
int wt_api_latest(struct wt_api_req *r, const uint32_t *ids, size_t n, double *out, int64_t *ts)
	__attribute__((warn_unused_result));

/* The OpenAPI 3 document built from the table (openapi.c). */
json_t *wt_openapi_document(void);

/* Authentication of a request's credentials (auth.c), on a worker. Sets
 * r->who or fails r with 401/403. Returns true when the handler may run. */
bool wt_api_authenticate(struct wt_api_req *r);
/* The checks after identification: CSRF for cookie writes, a pending
 * password change, the route's permission. Any thread; false after failing r. */
bool wt_api_authorize(struct wt_api_req *r);

/* Sends a deferred request's reply and frees it. Loop thread. */
void wt_api_finish(struct wt_api_req *r);

/* The layers given to wt_api_set_layers (server.c). Loop thread only. */
const struct wt_api_layers *wt_api_layers_get(const struct wt_api *api);

/* The shared health snapshot the loop keeps (server.c). */
json_t *wt_api_health_json(struct wt_api *api);

#endif
