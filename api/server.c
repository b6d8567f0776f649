/* The HTTP and HTTPS listeners, connection guards against slow clients,
 * dispatch through the route table, and the hand-off to workers.
 *
 * Request life: evhttp calls on_request once the request is whole; we
 * match the route, validate the body and copy what the handler needs into
 * a wt_api_req; a worker authenticates and runs the handler (or the loop
 * does, for public routes that need no database); back on the loop the
 * reply or the error is sent. */
#include "api.h"

#include "auth.h"
#include "credcache.h"
#include "db.h"
#include "log.h"
#include "reply.h"
#include "request.h"
#include "stream.h"
#include "tls.h"
#include "workers.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>

#define GUARD_BUCKETS 1024

/* One per TCP connection. Its deadline closes connections that do not
 * deliver a whole request in time (slowloris), and idle keep-alives. */
struct guard {
	struct guard *next;          /* hash chain */
	struct wt_api *api;
	struct bufferevent *bev;     /* the filter evhttp reads through */
	struct event *deadline;
	struct wt_api_req *pending;  /* request with a handler now, or NULL */
	bool tls;
	bool nodelay;                /* TCP_NODELAY set on the socket */
};

struct listener {
	struct wt_api *api;
	struct evhttp *http;
	bool tls;
	bool redirect;
	int port;
};

struct wt_api {
	struct wt_api_options opt;
	struct event_base *base;
	struct listener plain, secure;
	SSL_CTX *ssl;
	struct wt_workers *workers;
	bool own_workers;
	struct guard *guards[GUARD_BUCKETS];
	wt_api_audit_fn audit_fn;
	void *audit_ctx;
	struct event *bootstrap_ev;  /* retries the first-admin check until the DB answers */
	bool bootstrap_pending;
	int refs;                    /* guards and requests in flight, plus one while running */
	bool stopped;
	atomic_int db_ok;            /* last database access worked */
	time_t started;
	struct wt_api_layers layers; /* loop thread only */
	struct wt_streams *streams;  /* live event streams */
	struct wt_devcache *devcache; /* device list (h_devices.c) */
	struct wt_credcache *credcache; /* verified credentials (credcache.h) */
};

static void api_unref(struct wt_api *api);

/* ---- request output helpers (any thread: they only touch r) ---- */

void wt_api_ok(struct wt_api_req *r, int status, json_t *body)
{
	json_decref(r->reply);
	r->status = status;
	r->reply = body;
	r->err_code = NULL;
}

void wt_api_ok_buffer(struct wt_api_req *r, struct evbuffer *text, const char *content_type,
		      const char *filename)
{
	if (!text) {
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	json_decref(r->reply);
	r->reply = NULL;
	if (r->text)
		evbuffer_free(r->text);
	r->text = text;
	r->content_type = content_type;
	r->filename = filename;
	r->status = 200;
	r->err_code = NULL;
}

static void free_text(const void *data, size_t len, void *arg)
{
	(void)len, (void)arg;
	free((void *)data);
}

void wt_api_ok_text(struct wt_api_req *r, char *text, size_t len, const char *content_type,
		    const char *filename)
{
	struct evbuffer *b = evbuffer_new();
	if (b && evbuffer_add_reference(b, text, len, free_text, NULL) < 0) {
		evbuffer_free(b);
		b = NULL;
	}
	if (!b)
		free(text);
	wt_api_ok_buffer(r, b, content_type, filename);
}

bool wt_api_need(struct wt_api_req *r, const void *layer, const char *name)
{
	if (layer)
		return false;
	r->retry_after = 5;
	wt_api_fail(r, 503, "SERVICE_UNAVAILABLE", "the %s subsystem is not running in this server",
		    name);
	return true;
}

void wt_api_fail(struct wt_api_req *r, int status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err_msg, sizeof(r->err_msg), fmt, ap);
	va_end(ap);
	json_decref(r->reply);
	r->reply = NULL;
	if (r->text)
		evbuffer_free(r->text);
	r->text = NULL;
	r->status = status;
	r->err_code = code;
}

void wt_api_fail_db(struct wt_api_req *r, const char *what)
{
	if (r->db && wt_api_db_broken(r->db)) {
		atomic_store(&r->api->db_ok, 0);
		r->retry_after = 5;
		wt_api_fail(r, 503, "DATABASE_UNAVAILABLE", "the database is not reachable while %s",
			    what);
	} else {
		wt_api_fail(r, 500, "DATABASE_ERROR", "the database refused %s; see the server log",
			    what);
	}
}

void wt_api_audit(struct wt_api_req *r, const char *kind, const char *severity, const char *actor,
		  const char *fmt, ...)
{
	if (r->naudit >= (int)(sizeof(r->audit) / sizeof(r->audit[0])))
		return;
	va_list ap;
	va_start(ap, fmt);
	snprintf(r->audit[r->naudit].kind, sizeof(r->audit[0].kind), "%s", kind);
	snprintf(r->audit[r->naudit].severity, sizeof(r->audit[0].severity), "%s", severity);
	snprintf(r->audit[r->naudit].actor, sizeof(r->audit[0].actor), "%s", actor ? actor : "");
	vsnprintf(r->audit[r->naudit].detail, sizeof(r->audit[0].detail), fmt, ap);
	va_end(ap);
	r->naudit++;
}

json_t *wt_api_health_json(struct wt_api *api)
{
	struct wt_workers_stats ws;
	wt_workers_stats(api->workers, &ws);
	bool db = atomic_load(&api->db_ok);
	return json_pack("{s:s,s:s,s:I,s:{s:I,s:I,s:I}}", "status", db ? "ok" : "degraded",
			 "database", db ? "ok" : "unreachable", "uptime_s",
			 (json_int_t)(time(NULL) - api->started), "workers", "queued",
			 (json_int_t)ws.queued, "running", (json_int_t)ws.running, "rejected",
			 (json_int_t)ws.rejected);
}

/* ---- connection guards ---- */

static size_t guard_bucket(const struct bufferevent *bev)
{
	return ((uintptr_t)bev >> 4) % GUARD_BUCKETS;
}

static struct guard *guard_find(struct wt_api *api, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (!evcon)
		return NULL;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	for (struct guard *g = api->guards[guard_bucket(bev)]; g; g = g->next)
		if (g->bev == bev)
			return g;
	return NULL;
}

static void guard_arm(struct guard *g)
{
	struct timeval tv = {.tv_sec = g->api->opt.request_timeout_s};
	evtimer_add(g->deadline, &tv);
}

/* The client had its time: shut the socket down so evhttp sees EOF and
 * frees the connection itself (we never free evhttp's objects). */
static void guard_expired(evutil_socket_t fd_unused, short what, void *arg)
{
	struct guard *g = arg;
	if (g->pending)
		return; /* a handler is working for it: not the client's fault */
	evutil_socket_t fd = bufferevent_getfd(g->bev);
	if (fd >= 0) {
		wt_debug("api: closing a connection that sent no whole request in %d s",
			 g->api->opt.request_timeout_s);
		shutdown(fd, SHUT_RDWR);
	}
}

/* Called when evhttp finally frees the connection's bufferevent. */
static void guard_free(void *arg)
{
	struct guard *g = arg;
	struct wt_api *api = g->api;
	struct guard **pp = &api->guards[guard_bucket(g->bev)];
	while (*pp && *pp != g)
		pp = &(*pp)->next;
	if (*pp)
		*pp = g->next;
	if (g->pending)
		g->pending->conn = NULL;
	event_free(g->deadline);
	free(g);
	api_unref(api);
}

static struct bufferevent *guard_wrap(struct wt_api *api, struct bufferevent *under, bool tls)
{
	if (!under)
		return NULL;
	struct guard *g = calloc(1, sizeof(*g));
	if (!g) {
		bufferevent_free(under);
		return NULL;
	}
	/* A pass-through filter: its free callback is the only notice we get
	 * that evhttp is done with the connection. */
	struct bufferevent *bev =
		bufferevent_filter_new(under, NULL, NULL, BEV_OPT_CLOSE_ON_FREE, guard_free, g);
	if (!bev) {
		bufferevent_free(under);
		free(g);
		return NULL;
	}
	struct timeval io = {.tv_sec = api->opt.io_timeout_s > 0 ? api->opt.io_timeout_s : 30};
	bufferevent_set_timeouts(under, &io, &io);
	g->api = api;
	g->bev = bev;
	g->tls = tls;
	g->deadline = evtimer_new(api->base, guard_expired, g);
	size_t b = guard_bucket(bev);
	g->next = api->guards[b];
	api->guards[b] = g;
	api->refs++;
	guard_arm(g);
	return bev;
}

static struct bufferevent *bev_plain(struct event_base *base, void *arg)
{
	struct wt_api *api = arg;
	return guard_wrap(api, bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE), false);
}

static struct bufferevent *bev_tls(struct event_base *base, void *arg)
{
	struct wt_api *api = arg;
	SSL *ssl = SSL_new(api->ssl);
	if (!ssl)
		return NULL;
	struct bufferevent *under = bufferevent_openssl_socket_new(
		base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!under) {
		SSL_free(ssl);
		return NULL;
	}
	return guard_wrap(api, under, true);
}

/* ---- requests ---- */

static void req_free(struct wt_api_req *r)
{
	json_decref(r->body);
	json_decref(r->reply);
	if (r->text)
		evbuffer_free(r->text);
	free(r->query);
	free(r->session_cookie);
	free(r->bearer);
	free(r->csrf);
	free(r->set_cookie);
	free(r);
}

static void send_result(struct wt_api_req *r)
{
	struct wt_api *api = r->api;
	for (int i = 0; i < r->naudit; i++) {
		bool warn = strcmp(r->audit[i].severity, "warning") == 0;
		wt_log(warn ? WT_LOG_WARNING : WT_LOG_INFO, "api: audit %s by \"%s\": %s",
		       r->audit[i].kind, r->audit[i].actor, r->audit[i].detail);
		if (api->audit_fn) {
			struct wt_api_audit_event ev = {
				.kind = r->audit[i].kind,
				.severity = r->audit[i].severity,
				.actor = r->audit[i].actor,
				.source = r->peer,
				.detail = r->audit[i].detail,
			};
			api->audit_fn(api->audit_ctx, &ev);
		}
	}
	if (!r->http)
		return;
	struct guard *g = r->conn;
	bool stream = (r->route->flags & WT_RF_STREAM) && !r->err_code && api->streams;
	if (g) {
		g->pending = NULL;
		if (!stream)
			guard_arm(g); /* the next request on this keep-alive connection */
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->http);
	if (r->set_cookie)
		evhttp_add_header(h, "Set-Cookie", r->set_cookie);
	if (r->retry_after > 0) {
		char s[16];
		snprintf(s, sizeof(s), "%d", r->retry_after);
		evhttp_add_header(h, "Retry-After", s);
	}
	if (r->status == 401)
		evhttp_add_header(h, "WWW-Authenticate", "Bearer realm=\"wattrack\"");
	wt_debug("api: %s %s %s -> %d%s%s (%s)", r->peer, wt_method_name(r->method), r->route->path,
		 r->status ? r->status : 200, r->err_code ? " " : "", r->err_code ? r->err_code : "",
		 r->who.authenticated ? r->who.username : "-");
	if (r->err_code) {
		wt_api_send_error(r->http, r->status, r->err_code, r->err_msg, r->tls);
	} else if (stream) {
		wt_streams_attach(api->streams, r); /* takes r->http */
	} else if (r->text) {
		if (r->filename) {
			char cd[160];
			snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", r->filename);
			evhttp_add_header(h, "Content-Disposition", cd);
		}
		wt_api_send_buffer(r->http, r->status ? r->status : 200, r->content_type, r->text,
				   r->tls);
	} else
		wt_api_send_json(r->http, r->status ? r->status : 200, r->reply, r->tls);
	r->http = NULL;
}

/* A reply nothing on the loop will touch again (no 'after' phase, not a
 * stream) is serialised here, on the worker: a year of chart points or a
 * list of thousands of rows is milliseconds of formatting that would
 * otherwise stall every connection the loop serves. The loop then only
 * copies bytes. Errors are left to the one error function. */
static void serialise_on_worker(struct wt_api_req *r)
{
	if (r->err_code || !r->reply || r->text || r->route->after ||
	    (r->route->flags & WT_RF_STREAM))
		return;
	char *s = json_dumps(r->reply, JSON_COMPACT);
	if (!s)
		return; /* the loop tries again and reports the failure */
	int status = r->status; /* 200 or 201: the handler's */
	wt_api_ok_text(r, s, strlen(s), "application/json; charset=utf-8", NULL);
	if (!r->err_code)
		r->status = status;
}

static void job_work(void *arg)
{
	struct wt_api_req *r = arg;
	char why[256];
	r->db = wt_api_db(r->opt->db_conninfo, why, sizeof(why));
	if (!r->db) {
		atomic_store(&r->api->db_ok, 0);
		r->retry_after = 5;
		wt_api_fail(r, 503, "DATABASE_UNAVAILABLE", "the database is not reachable: %s", why);
		return;
	}
	atomic_store(&r->api->db_ok, 1);
	/* A cached principal was authorized on the loop already. */
	if (r->cred_cached || wt_api_authenticate(r))
		r->route->handler(r);
	r->db = NULL;
	serialise_on_worker(r);
}

static void job_done(void *arg, bool cancelled)
{
	struct wt_api_req *r = arg;
	struct wt_api *api = r->api;
	if (cancelled)
		wt_api_fail(r, 503, "SHUTTING_DOWN", "the server is stopping");
	else if (!r->err_code && r->route->after && r->who.authenticated && !api->stopped)
		r->route->after(r); /* never after stop: the layers may be gone */
	if (!cancelled && r->cred_verified)
		wt_credcache_put(api->credcache, r->cred_gen, r->bearer ? 't' : 's', r->cred_hash,
				 wt_credcache_now_ms(), r->cred_valid_ms, &r->who, r->cred_csrf);
	/* Any successful write may change what the device list shows, and
	 * may end a session, revoke a token or change roles or a password:
	 * those take effect on the very next request. */
	if (!cancelled && !r->err_code && r->method != WT_GET) {
		if (api->devcache)
			wt_devcache_invalidate(api->devcache);
		wt_api_db_wrote();
		wt_credcache_clear(api->credcache);
	}
	if (r->deferred && !r->err_code)
		return; /* wt_api_finish sends it */
	send_result(r);
	req_free(r);
	api_unref(api);
}

void wt_api_finish(struct wt_api_req *r)
{
	struct wt_api *api = r->api;
	send_result(r);
	req_free(r);
	api_unref(api);
}

static unsigned method_of(enum evhttp_cmd_type c)
{
	switch (c) {
	case EVHTTP_REQ_GET: return WT_GET;
	case EVHTTP_REQ_POST: return WT_POST;
	case EVHTTP_REQ_PUT: return WT_PUT;
	case EVHTTP_REQ_PATCH: return WT_PATCH;
	case EVHTTP_REQ_DELETE: return WT_DELETE;
	default: return 0;
	}
}

/* The value of cookie name in a Cookie header, or NULL. */
static char *cookie_value(const char *header, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = header; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1;
			size_t len = strcspn(v, ";");
			while (len && v[len - 1] == ' ')
				len--;
			return len ? strndup(v, len) : NULL;
		}
		p = strchr(p, ';');
	}
	return NULL;
}

static void send_redirect(struct listener *l, struct evhttp_request *req)
{
	struct wt_api *api = l->api;
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
	const char *uri = evhttp_request_get_uri(req);
	char hostname[256] = "localhost", loc[2048];
	if (host && *host) {
		/* Host may be "name:port" or "[v6]:port": keep the name only. */
		size_t n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
		if (n < sizeof(hostname) && !strpbrk(host, "\r\n/\\@"))
			snprintf(hostname, sizeof(hostname), "%.*s", (int)n, host);
	}
	snprintf(loc, sizeof(loc), "https://%s:%d%s", hostname, api->secure.port,
		 uri && uri[0] == '/' ? uri : "/");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
	json_t *j = json_pack("{s:s}", "redirect", loc);
	wt_api_send_json(req, 308, j, false);
	json_decref(j);
}

/* Hashes r's credential and looks it up; true with r->who set on a hit. */
static bool cred_from_cache(struct wt_api *api, struct wt_api_req *r)
{
	const char *secret = r->bearer ? r->bearer : r->session_cookie;
	if (!secret)
		return false;
	wt_auth_sha256_hex(secret, r->cred_hash);
	r->cred_gen = wt_credcache_gen(api->credcache);
	if (!wt_credcache_get(api->credcache, r->bearer ? 't' : 's', r->cred_hash,
			      wt_credcache_now_ms(), &r->who, r->cred_csrf, sizeof(r->cred_csrf)))
		return false;
	r->cred_cached = true;
	return true;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct listener *l = arg;
	struct wt_api *api = l->api;
	struct guard *g = guard_find(api, req);

	/* A whole request arrived: the next one gets a fresh deadline. */
	if (g)
		guard_arm(g);
	/* Replies larger than a segment otherwise end in a partial segment
	 * that Nagle holds until the client's delayed ACK: 40 ms a reply. */
	if (g && !g->nodelay) {
		struct evhttp_connection *ec = evhttp_request_get_connection(req);
		struct bufferevent *bev = ec ? evhttp_connection_get_bufferevent(ec) : NULL;
		evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
		int one = 1;
		if (fd >= 0)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		g->nodelay = true;
	}
	if (l->redirect) {
		send_redirect(l, req);
		return;
	}
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	unsigned method = method_of(evhttp_request_get_command(req));
	char msg[512];
	if (!path || !*path) {
		wt_api_send_error(req, 400, "BAD_REQUEST", "the request has no path", l->tls);
		return;
	}

	const struct wt_api_route *route = NULL;
	unsigned allowed = 0;
	int64_t ids[WT_API_MAX_IDS];
	int nids = 0;
	for (size_t i = 0; i < wt_api_nroutes; i++) {
		int64_t tmp[WT_API_MAX_IDS];
		int n = 0;
		if (!wt_route_match(wt_api_routes[i].path, path, tmp, &n))
			continue;
		allowed |= wt_api_routes[i].method;
		if (wt_api_routes[i].method == method && !route) {
			route = &wt_api_routes[i];
			memcpy(ids, tmp, sizeof(ids));
			nids = n;
		}
	}
	if (!allowed) {
		snprintf(msg, sizeof(msg), "no such resource: %.400s", path);
		wt_api_send_error(req, 404, "NOT_FOUND", msg, l->tls);
		return;
	}
	if (!route) {
		char allow[64] = "";
		for (unsigned m = WT_GET; m <= WT_DELETE; m <<= 1)
			if (allowed & m)
				snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
					 allow[0] ? ", " : "", wt_method_name(m));
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		snprintf(msg, sizeof(msg), "%.400s allows %s", path, allow);
		wt_api_send_error(req, 405, "METHOD_NOT_ALLOWED", msg, l->tls);
		return;
	}

	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct evkeyvalq *hdr = evhttp_request_get_input_headers(req);
	json_t *body = NULL;
	if (len > api->opt.max_body_bytes) {
		snprintf(msg, sizeof(msg), "the request body has %zu bytes; the limit is %zu", len,
			 api->opt.max_body_bytes);
		wt_api_send_error(req, 413, "PAYLOAD_TOO_LARGE", msg, l->tls);
		return;
	}
	if (route->body) {
		const char *ct = evhttp_find_header(hdr, "Content-Type");
		/* Only JSON: a cross-site HTML form cannot send it without a
		 * CORS preflight, which we never grant. */
		if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
		    (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
			snprintf(msg, sizeof(msg), "%s %s takes Content-Type: application/json",
				 wt_method_name(method), route->path);
			wt_api_send_error(req, 415, "UNSUPPORTED_MEDIA_TYPE", msg, l->tls);
			return;
		}
		body = wt_validate_body((const char *)evbuffer_pullup(in, -1), len, route->body, msg,
					sizeof(msg));
		if (!body) {
			wt_api_send_error(req, 400, "INVALID_REQUEST", msg, l->tls);
			return;
		}
	} else if (len > 0) {
		snprintf(msg, sizeof(msg), "%s %s takes no request body", wt_method_name(method),
			 route->path);
		wt_api_send_error(req, 400, "INVALID_REQUEST", msg, l->tls);
		return;
	}

	struct wt_api_req *r = calloc(1, sizeof(*r));
	if (!r) {
		json_decref(body);
		wt_api_send_error(req, 503, "OUT_OF_MEMORY", "the server is out of memory", l->tls);
		return;
	}
	r->api = api;
	r->opt = &api->opt;
	r->route = route;
	r->method = method;
	memcpy(r->ids, ids, sizeof(ids));
	r->nids = nids;
	r->body = body;
	r->tls = l->tls;
	r->http = req;
	r->layers = api->layers;
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	r->query = q ? strdup(q) : NULL;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;
	if (evcon)
		evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(r->peer, sizeof(r->peer), "%s", addr ? addr : "?");
	const char *auth = evhttp_find_header(hdr, "Authorization");
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && auth[7])
		r->bearer = strndup(auth + 7, 256);
	const char *cookie = evhttp_find_header(hdr, "Cookie");
	if (cookie)
		r->session_cookie = cookie_value(cookie, "wt_session");
	const char *csrf = evhttp_find_header(hdr, "X-CSRF-Token");
	if (csrf)
		r->csrf = strndup(csrf, 128);
	if (auth && !r->bearer) {
		wt_api_fail(r, 401, "AUTH_REQUIRED", "the Authorization header must be \"Bearer <token>\"");
		send_result(r);
		req_free(r);
		return;
	}

	if (route->perm == WT_P_PUBLIC && (route->flags & WT_RF_LOOP)) {
		route->handler(r);
		send_result(r);
		req_free(r);
		return;
	}
	if (route->perm != WT_P_PUBLIC && cred_from_cache(api, r) && !wt_api_authorize(r)) {
		send_result(r);
		req_free(r);
		return;
	}
	if (route->before)
		route->before(r);
	if (g) {
		g->pending = r;
		r->conn = g;
		evtimer_del(g->deadline);
	}
	api->refs++;
	/* Known credentials and an answer the loop already holds: no worker,
	 * no database (the handler's cache-hit path reads neither). */
	if (r->cred_cached && ((route->flags & WT_RF_LOOP) || r->cache_hit)) {
		route->handler(r);
		job_done(r, false);
		return;
	}
	int rc = wt_workers_submit(api->workers, job_work, job_done, r);
	if (rc < 0) {
		api->refs--;
		r->retry_after = 1;
		wt_api_fail(r, 503, "BUSY", "the server is overloaded; retry shortly");
		send_result(r);
		if (g)
			g->pending = NULL;
		req_free(r);
	}
}

/* ---- first start: an administrator with a one-time password ---- */

struct bootstrap {
	struct wt_api *api;
	bool done;
};

static void bootstrap_work(void *arg)
{
	struct bootstrap *b = arg;
	const struct wt_api_options *o = &b->api->opt;
	char why[256], pw[21], hash[WT_PASSWORD_HASH_MAX], st[6];
	PGconn *db = wt_api_db(o->db_conninfo, why, sizeof(why));
	if (!db) {
		atomic_store(&b->api->db_ok, 0);
		wt_warn("api: cannot check for an administrator yet: %s", why);
		return;
	}
	atomic_store(&b->api->db_ok, 1);
	PGresult *res = wt_api_db_exec(db, "SELECT EXISTS (SELECT 1 FROM users)", 0, NULL, st);
	if (!res)
		return;
	bool any = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (any) {
		b->done = true;
		return;
	}
	if (wt_password_random(pw, 20) < 0 || wt_password_hash(&o->password, pw, hash, sizeof(hash)) < 0)
		return;
	const char *p[] = {hash};
	/* ON CONFLICT: two instances starting on one empty database. */
	res = wt_api_db_exec(db,
			     "INSERT INTO users (username, source, password_hash, roles, must_change,"
			     " full_name) VALUES ('admin', 'local', $1, '{admin}', true,"
			     " 'Administrator') ON CONFLICT DO NOTHING RETURNING id",
			     1, p, st);
	if (!res)
		return;
	if (PQntuples(res) == 1)
		wt_notice("api: created user \"admin\" with one-time password %s "
			  "(it must be changed at first login and is not stored anywhere)",
			  pw);
	PQclear(res);
	b->done = true;
}

static void bootstrap_start(evutil_socket_t fd, short what, void *arg);

static void bootstrap_done(void *arg, bool cancelled)
{
	struct bootstrap *b = arg;
	struct wt_api *api = b->api;
	bool done = b->done;
	free(b);
	if (!done && !cancelled && !api->stopped) {
		struct timeval tv = {.tv_sec = 5};
		evtimer_add(api->bootstrap_ev, &tv);
	} else {
		api->bootstrap_pending = false;
	}
	api_unref(api);
}

static void bootstrap_start(evutil_socket_t fd, short what, void *arg)
{
	struct wt_api *api = arg;
	struct bootstrap *b = calloc(1, sizeof(*b));
	if (!b)
		return;
	b->api = api;
	api->refs++;
	if (wt_workers_submit(api->workers, bootstrap_work, bootstrap_done, b) < 0) {
		api->refs--;
		free(b);
		struct timeval tv = {.tv_sec = 5};
		evtimer_add(api->bootstrap_ev, &tv);
	}
}

/* ---- life cycle ---- */

void wt_api_options_default(struct wt_api_options *o)
{
	memset(o, 0, sizeof(*o));
	o->listen_address = "0.0.0.0";
	o->http_mode = WT_HTTP_REDIRECT;
	o->http_port = 8080;
	o->https_port = 8443;
	o->max_body_bytes = 1u << 20;
	o->max_header_bytes = 16u << 10;
	o->request_timeout_s = 15;
	o->io_timeout_s = 30;
	o->workers = 4;
	o->session_idle_s = 1800;
	o->session_max_s = 43200;
	o->auth_cache_ms = 5000;
	o->create_admin = true;
	o->password.min_length = 12;
	o->password.max_length = 1024;
	o->password.scrypt_log2n = 15;
	o->throttle.user_free = 5;
	o->throttle.addr_free = 20;
	o->throttle.base_delay_s = 2;
	o->throttle.max_delay_s = 900;
	o->throttle.window_s = 3600;
	o->ldap.tls_verify = true;
	o->ldap.timeout_s = 5;
}

static int listen_on(struct wt_api *api, struct listener *l, int port, bool tls, bool redirect)
{
	l->api = api;
	l->tls = tls;
	l->redirect = redirect;
	l->http = evhttp_new(api->base);
	if (!l->http)
		return -ENOMEM;
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	/* evhttp's own cap is a backstop for absurd bodies (it answers 413
	 * after draining); between our limit and it, on_request answers the
	 * JSON 413 itself. */
	evhttp_set_max_body_size(l->http, (ev_ssize_t)(api->opt.max_body_bytes * 4 + 4096));
	evhttp_set_max_headers_size(l->http, (ev_ssize_t)api->opt.max_header_bytes);
	/* No evhttp_set_timeout: on a filtered bufferevent it stalls replies
	 * (libevent 2.1); guard_wrap sets the idle timeouts on the socket. */
	evhttp_set_flags(l->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(l->http, on_request, l);
	evhttp_set_bevcb(l->http, tls ? bev_tls : bev_plain, api);
	struct evhttp_bound_socket *bs =
		evhttp_bind_socket_with_handle(l->http, api->opt.listen_address, (ev_uint16_t)port);
	if (!bs) {
		int e = errno ? errno : EADDRINUSE;
		wt_error("api: cannot listen on %s port %d: %s", api->opt.listen_address, port,
			 strerror(e));
		return -e;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	l->port = port;
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0)
		l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	wt_notice("api: %s on %s:%d%s", tls ? "HTTPS" : "HTTP", api->opt.listen_address, l->port,
		  redirect ? " (redirects to HTTPS)" : "");
	return 0;
}

static void api_free(struct wt_api *api)
{
	if (api->bootstrap_ev)
		event_free(api->bootstrap_ev);
	if (api->ssl)
		SSL_CTX_free(api->ssl);
	wt_devcache_free(api->devcache, api);
	wt_credcache_free(api->credcache);
	free(api);
}

static void api_unref(struct wt_api *api)
{
	if (--api->refs == 0)
		api_free(api);
}

int wt_api_start(struct wt_api **out, const struct wt_api_options *o, struct event_base *base,
		 struct wt_workers *workers)
{
	int rc;
	if (!o->db_conninfo) {
		wt_error("api: no database configured");
		return -EINVAL;
	}
	if (o->http_mode != WT_HTTP_OFF && o->https_port == 0 && o->http_mode == WT_HTTP_REDIRECT) {
		wt_error("api: HTTP redirects to HTTPS, but HTTPS is off");
		return -EINVAL;
	}
	struct wt_api *api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->opt = *o;
	api->base = base;
	api->refs = 1;
	api->started = time(NULL);
	atomic_store(&api->db_ok, 1);
	if (api->opt.request_timeout_s <= 0)
		api->opt.request_timeout_s = 15;
	if (api->opt.max_body_bytes == 0)
		api->opt.max_body_bytes = 1u << 20;
	if (api->opt.max_header_bytes == 0)
		api->opt.max_header_bytes = 16u << 10;
	if (wt_credcache_new(&api->credcache, api->opt.auth_cache_ms, 10000) < 0) {
		free(api);
		return -ENOMEM;
	}

	if (o->https_port > 0) {
		char why[512];
		rc = wt_tls_server_ctx(&api->ssl, o->tls_cert_file, o->tls_key_file,
				       o->tls_key_passphrase, o->state_dir, why, sizeof(why));
		if (rc < 0) {
			wt_error("api: TLS: %s", why);
			goto fail;
		}
	}
	if (workers) {
		api->workers = workers;
	} else {
		struct wt_workers_options wo = {
			.threads = o->workers > 0 ? o->workers : 4,
			.queue_max = 1024,
			.name = "api",
		};
		rc = wt_workers_new(&api->workers, base, &wo);
		if (rc < 0)
			goto fail;
		api->own_workers = true;
	}
	if ((rc = wt_streams_new(&api->streams, base)) < 0)
		goto fail;
	if (o->https_port > 0 && (rc = listen_on(api, &api->secure, o->https_port, true, false)) < 0)
		goto fail;
	if (o->http_mode != WT_HTTP_OFF &&
	    (rc = listen_on(api, &api->plain, o->http_port, false, o->http_mode == WT_HTTP_REDIRECT)) < 0)
		goto fail;
	api->bootstrap_ev = evtimer_new(base, bootstrap_start, api);
	if (o->create_admin) {
		api->bootstrap_pending = true;
		bootstrap_start(-1, 0, api);
	}
	*out = api;
	return 0;
fail:
	if (api->plain.http)
		evhttp_free(api->plain.http);
	if (api->secure.http)
		evhttp_free(api->secure.http);
	if (api->own_workers)
		wt_workers_free(api->workers, false);
	wt_streams_free(api->streams);
	api_free(api);
	return rc < 0 ? rc : -EIO;
}

void wt_api_set_audit_hook(struct wt_api *api, wt_api_audit_fn fn, void *ctx)
{
	api->audit_fn = fn;
	api->audit_ctx = ctx;
}

void wt_api_set_layers(struct wt_api *api, const struct wt_api_layers *l)
{
	if (l)
		api->layers = *l;
	else
		memset(&api->layers, 0, sizeof(api->layers));
	if (api->streams)
		wt_streams_set_layers(api->streams, &api->layers);
}

struct wt_devcache **wt_api_devcache(struct wt_api *api)
{
	return &api->devcache;
}

struct wt_streams *wt_api_streams(struct wt_api *api)
{
	return api->streams;
}

const struct wt_api_layers *wt_api_layers_get(const struct wt_api *api)
{
	return &api->layers;
}

int wt_api_http_port(const struct wt_api *api)
{
	return api->plain.http ? api->plain.port : 0;
}

int wt_api_https_port(const struct wt_api *api)
{
	return api->secure.http ? api->secure.port : 0;
}

/* At shutdown the loop will not turn again for this connection, so the
 * replies the drain just queued are written directly, as far as the socket
 * takes them without blocking. */
static void flush_now(struct guard *g)
{
	struct bufferevent *under = bufferevent_get_underlying(g->bev);
	/* A filter bufferevent has no descriptor of its own. */
	evutil_socket_t fd = under ? bufferevent_getfd(under) : -1;
	if (!under || fd < 0)
		return;
	struct evbuffer *out = bufferevent_get_output(under);
	if (!g->tls) {
		while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
			;
		return;
	}
	SSL *ssl = bufferevent_openssl_get_ssl(under);
	while (ssl && SSL_is_init_finished(ssl) && evbuffer_get_length(out) > 0) {
		size_t n = evbuffer_get_length(out) < 16384 ? evbuffer_get_length(out) : 16384;
		int w = SSL_write(ssl, evbuffer_pullup(out, (ev_ssize_t)n), (int)n);
		if (w <= 0)
			break;
		evbuffer_drain(out, (size_t)w);
	}
}

void wt_api_stop(struct wt_api *api)
{
	api->stopped = true;
	evtimer_del(api->bootstrap_ev);
	wt_h_probe_stop_all();
	/* Our own pool drains here, so every request in flight gets its
	 * answer before the listeners (and their connections) go. With a
	 * shared pool, late completions find r->http cleared below. */
	if (api->own_workers) {
		wt_workers_free(api->workers, true);
		api->own_workers = false;
	}
	/* Streams end with a last chunk the flush below still writes. */
	wt_streams_free(api->streams);
	api->streams = NULL;
	for (size_t b = 0; b < GUARD_BUCKETS; b++)
		for (struct guard *g = api->guards[b]; g; g = g->next) {
			if (g->pending) {
				g->pending->http = NULL;
				g->pending->conn = NULL;
				g->pending = NULL;
			}
			flush_now(g);
		}
	if (api->plain.http)
		evhttp_free(api->plain.http);
	if (api->secure.http)
		evhttp_free(api->secure.http);
	api->plain.http = api->secure.http = NULL;
	api_unref(api);
}
