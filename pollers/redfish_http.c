/* libcurl multi on libevent: curl tells us which sockets to watch and when
 * its next timeout is; libevent tells curl when a socket is ready or the
 * timer fired (curl_multi_socket_action). */
#include "redfish_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"

struct wt_rf_http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	int refs;
	struct wt_rf_req *reqs; /* in flight, for cleanup */
	unsigned long started, failed, connects;
	int in_cb; /* > 0 while a response callback runs */
	bool dead; /* put to zero during a callback: freed when it returns */
};

struct wt_rf_req {
	struct wt_rf_http *h;
	CURL *easy;
	struct curl_slist *headers;
	char *buf;
	size_t len, cap;
	bool too_big;
	char token[256];
	char location[512];
	char errbuf[CURL_ERROR_SIZE];
	wt_rf_resp_fn fn;
	void *ctx;
	struct wt_rf_req *prev, *next;
};

struct sock {
	struct event *ev;
	curl_socket_t fd;
};

static struct wt_rf_http *g_http;

static void check_done(struct wt_rf_http *h);
static void client_free(struct wt_rf_http *h);

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct wt_rf_http *h = arg;
	int action = (what & EV_READ ? CURL_CSELECT_IN : 0) |
		     (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(h->multi, fd, action, &running);
	check_done(h);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct wt_rf_http *h = arg;
	int running;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)e;
	struct wt_rf_http *h = userp;
	struct sock *sk = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (sk) {
			event_free(sk->ev);
			free(sk);
			curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	short ev = (short)((what & CURL_POLL_IN ? EV_READ : 0) |
			   (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
	if (!sk) {
		sk = calloc(1, sizeof *sk);
		if (!sk)
			return -1;
		sk->fd = s;
		curl_multi_assign(h->multi, s, sk);
	} else {
		event_free(sk->ev);
	}
	sk->ev = event_new(h->base, s, ev, on_socket, h);
	if (!sk->ev)
		return -1;
	event_add(sk->ev, NULL);
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	struct wt_rf_http *h = userp;
	if (timeout_ms < 0) {
		evtimer_del(h->timer);
		return 0;
	}
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	evtimer_add(h->timer, &tv);
	return 0;
}

static void req_unlink(struct wt_rf_req *r)
{
	struct wt_rf_http *h = r->h;
	if (r->prev)
		r->prev->next = r->next;
	else
		h->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

static void req_free(struct wt_rf_req *r)
{
	curl_multi_remove_handle(r->h->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->buf);
	free(r);
}

static int map_curl(CURLcode c)
{
	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return -ECONNREFUSED;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	case CURLE_WRITE_ERROR:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

static void check_done(struct wt_rf_http *h)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct wt_rf_req *r = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (!r)
			continue;
		CURLcode code = msg->data.result;
		req_unlink(r);
		struct wt_rf_resp resp = {.err = map_curl(code)};
		if (r->too_big)
			resp.err = -EMSGSIZE;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
		long nc = 0;
		curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &nc);
		h->connects += (unsigned long)nc;
		if (resp.err)
			h->failed++;
		resp.body = r->buf ? r->buf : "";
		resp.len = r->len;
		resp.token = r->token;
		resp.location = r->location;
		resp.errtext = r->errbuf[0] ? r->errbuf : curl_easy_strerror(code);
		/* the callback may cancel other requests or start new ones: r is
		 * already unlinked, so it is freed after */
		wt_rf_resp_fn fn = r->fn;
		void *ctx = r->ctx;
		h->in_cb++;
		fn(ctx, &resp);
		h->in_cb--;
		req_free(r);
		if (h->dead && h->in_cb == 0) {
			/* the last device went away in its callback */
			client_free(h);
			return;
		}
	}
}

struct wt_rf_http *wt_rf_http_get(struct event_base *base)
{
	if (g_http) {
		if (g_http->base != base)
			return NULL;
		g_http->refs++;
		return g_http;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	struct wt_rf_http *h = calloc(1, sizeof *h);
	if (!h)
		goto fail;
	h->base = base;
	h->multi = curl_multi_init();
	h->timer = evtimer_new(base, on_timer, h);
	if (!h->multi || !h->timer)
		goto fail;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	/* keep-alive: enough cached connections for a large fleet, a few per
	 * device (bounded parallel walks) */
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 4096L);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 4L);
	h->refs = 1;
	g_http = h;
	return h;
fail:
	if (h) {
		if (h->multi)
			curl_multi_cleanup(h->multi);
		if (h->timer)
			event_free(h->timer);
		free(h);
	}
	curl_global_cleanup();
	return NULL;
}

void wt_rf_http_put(struct wt_rf_http *h)
{
	if (!h || --h->refs > 0)
		return;
	g_http = NULL;
	if (h->in_cb) {
		/* inside check_done: curl's message queue is still being read */
		h->dead = true;
		return;
	}
	client_free(h);
}

static void client_free(struct wt_rf_http *h)
{
	while (h->reqs) {
		struct wt_rf_req *r = h->reqs;
		req_unlink(r);
		req_free(r);
	}
	curl_multi_cleanup(h->multi); /* closes cached connections (POLL_REMOVE frees our events) */
	event_free(h->timer);
	free(h);
	curl_global_cleanup();
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct wt_rf_req *r = ud;
	size_t n = size * nmemb;
	if (r->len + n + 1 > WT_RF_MAX_BODY) {
		r->too_big = true;
		return 0;
	}
	if (r->len + n + 1 > r->cap) {
		size_t nc = r->cap ? r->cap : 16384;
		while (nc < r->len + n + 1)
			nc *= 2;
		char *nb = realloc(r->buf, nc);
		if (!nb)
			return 0;
		r->buf = nb;
		r->cap = nc;
	}
	memcpy(r->buf + r->len, ptr, n);
	r->len += n;
	r->buf[r->len] = 0;
	return n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	const char *v = line + nl + 1;
	const char *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	size_t l = (size_t)(end - v);
	if (l >= outlen)
		l = outlen - 1;
	memcpy(out, v, l);
	out[l] = 0;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct wt_rf_req *r = ud;
	size_t n = size * nmemb;
	header_value(ptr, n, "X-Auth-Token", r->token, sizeof r->token);
	header_value(ptr, n, "Location", r->location, sizeof r->location);
	return n;
}

int wt_rf_http_request(struct wt_rf_http *h, const struct wt_rf_req_opts *o, wt_rf_resp_fn fn,
		       void *ctx, struct wt_rf_req **req)
{
	struct wt_rf_req *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->h = h;
	r->fn = fn;
	r->ctx = ctx;
	r->easy = curl_easy_init();
	if (!r->easy) {
		free(r);
		return -ENOMEM;
	}
	CURL *e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, o->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout_ms > 0 ? o->timeout_ms : 5000));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(o->timeout_ms > 0 ? o->timeout_ms : 5000));
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (o->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (o->ca_file) {
		curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	}
	if (o->user) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, o->user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, o->pass ? o->pass : "");
	}
	struct curl_slist *hs = curl_slist_append(NULL, "Accept: application/json");
	if (hs && o->body)
		hs = curl_slist_append(hs, "Content-Type: application/json");
	if (hs && o->token) {
		char th[300];
		snprintf(th, sizeof th, "X-Auth-Token: %s", o->token);
		hs = curl_slist_append(hs, th);
		memset(th, 0, sizeof th);
	}
	r->headers = hs;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hs);
	const char *m = o->method ? o->method : "GET";
	if (strcmp(m, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body ? o->body : "");
	} else if (strcmp(m, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
		if (o->body)
			curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body);
	}
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		curl_slist_free_all(r->headers);
		free(r);
		return -EIO;
	}
	r->next = h->reqs;
	if (h->reqs)
		h->reqs->prev = r;
	h->reqs = r;
	h->started++;
	if (req)
		*req = r;
	return 0;
}

void wt_rf_http_cancel(struct wt_rf_req *r)
{
	if (!r)
		return;
	req_unlink(r);
	req_free(r);
}

void wt_rf_http_counts(const struct wt_rf_http *h, unsigned long *started, unsigned long *failed,
		       unsigned long *connects)
{
	*started = h->started;
	*failed = h->failed;
	*connects = h->connects;
}
