#include "stream.h"

#include "log.h"
#include "reply.h"
#include "request.h"

#include "pollers/sched.h"
#include "rules/alarm.h"
#include "rules/engine.h"
#include "storage/rollup.h"
#include "storage/storage.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* One formatted event, shared by every client it goes to (a reading of a
 * device followed by 200 consoles is serialised once, queued 200 times). */
struct blob {
	unsigned refs;
	size_t len;
	char text[];
};

/* A reading event's points of one tick: the buckets in the peek window
 * (15 s back, 5 s ahead: at most 4), ascending, each formatted once. */
#define TICK_PTS 4
struct tick_series {
	uint8_t n;
	struct wt_point p[TICK_PTS];
	struct blob *ev[TICK_PTS];
};

struct client {
	struct client *next, *prev;
	struct wt_streams *s;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	uint32_t *series; /* sorted */
	int64_t *last_ts; /* per series: newest point sent */
	uint32_t *last_cnt;
	size_t nseries;
	long *devices;
	int8_t *dstate; /* last state sent, -1 none */
	size_t ndev;
	int64_t *elements;
	size_t nel;
	bool all;
	bool tls;
	bool snapshot;                       /* the active alarms are still to be sent */
	struct blob *q[WT_STREAM_QUEUE_MAX]; /* ring of events */
	size_t qhead, qlen;
	uint64_t lost;
	int64_t last_write; /* monotonic ms */
};

struct wt_streams {
	struct event_base *base;
	struct event *tick;
	struct client *clients;
	size_t n;
	struct wt_api_layers layers;
	int64_t alarm_mark;  /* newest alarm update already published */
	uint64_t lost_total; /* events dropped for slow clients, ever */
	/* The union of the clients' series, peeked once a tick. */
	uint32_t *useries;
	struct tick_series *upts;
	size_t nuseries;
	bool union_stale;
	/* Buckets of followed series closed since the last tick: a bucket
	 * the storage flushes at its close (and every derived aggregate,
	 * which is closed as it is made) is never seen by a peek. */
	struct closed_pt *closed;
	size_t nclosed, closed_cap;
	struct close_hook *hook;
};

struct closed_pt {
	uint32_t series;
	struct wt_point p;
};

/* The rollup has no unsubscribe, and a storage may outlive the registry:
 * each subscription is a static slot that forwards to its registry while
 * that lives (s NULL after), and is taken again by a later registry on the
 * same rollup. Loop thread only. */
struct close_hook {
	struct wt_rollup *rollup;
	struct wt_streams *s;
};
#define CLOSE_HOOKS 8
static struct close_hook close_hooks[CLOSE_HOOKS];

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- events ---- */

/* JSON has no NaN or infinity (a device may still report one): null. */
static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static struct blob *blob_new(const char *event, json_t *data)
{
	char *js = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	if (!js)
		return NULL;
	size_t len = strlen(event) + strlen(js) + sizeof("event: \ndata: \n\n");
	struct blob *b = malloc(sizeof(*b) + len);
	if (b) {
		int n = snprintf(b->text, len, "event: %s\ndata: %s\n\n", event, js);
		b->len = n > 0 && (size_t)n < len ? (size_t)n : 0;
		b->refs = 1;
	}
	free(js);
	return b;
}

static void blob_unref(struct blob *b)
{
	if (b && --b->refs == 0)
		free(b);
}

/* Queues b (NULL: it could not be made, which counts as lost) and takes
 * a reference of its own. */
static void enqueue_blob(struct client *c, struct blob *b)
{
	if (!b) {
		c->lost++;
		c->s->lost_total++;
		return;
	}
	if (c->qlen == WT_STREAM_QUEUE_MAX) {
		/* Slow consumer: the oldest event goes, the client is told. */
		blob_unref(c->q[c->qhead]);
		c->q[c->qhead] = NULL;
		c->qhead = (c->qhead + 1) % WT_STREAM_QUEUE_MAX;
		c->qlen--;
		c->lost++;
		c->s->lost_total++;
	}
	b->refs++;
	c->q[(c->qhead + c->qlen) % WT_STREAM_QUEUE_MAX] = b;
	c->qlen++;
}

static void enqueue(struct client *c, const char *event, json_t *data)
{
	struct blob *b = blob_new(event, data);
	enqueue_blob(c, b);
	blob_unref(b);
}

static size_t socket_backlog(struct client *c)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
	if (!bev)
		return 0;
	size_t n = evbuffer_get_length(bufferevent_get_output(bev));
	struct bufferevent *under = bufferevent_get_underlying(bev);
	if (under)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

static void send_chunk(struct client *c, const char *text)
{
	struct evbuffer *b = evbuffer_new();
	if (!b)
		return;
	evbuffer_add(b, text, strlen(text));
	evhttp_send_reply_chunk(c->req, b);
	evbuffer_free(b);
	c->last_write = mono_ms();
}

/* Moves queued events to the socket while it keeps up: as many as fit
 * under WT_STREAM_SOCKET_MAX, in one chunk (one write for the lot). */
static void pump(struct client *c)
{
	size_t backlog = socket_backlog(c);
	if (backlog >= WT_STREAM_SOCKET_MAX)
		return;
	struct evbuffer *out = evbuffer_new();
	if (!out)
		return;
	if (c->qlen && c->lost) {
		char lost[96];
		int n = snprintf(lost, sizeof(lost), "event: lost\ndata: {\"dropped\":%llu}\n\n",
				 (unsigned long long)c->lost);
		c->lost = 0;
		evbuffer_add(out, lost, (size_t)n);
	}
	while (c->qlen && backlog + evbuffer_get_length(out) < WT_STREAM_SOCKET_MAX) {
		struct blob *b = c->q[c->qhead];
		c->q[c->qhead] = NULL;
		c->qhead = (c->qhead + 1) % WT_STREAM_QUEUE_MAX;
		c->qlen--;
		evbuffer_add(out, b->text, b->len);
		blob_unref(b);
	}
	if (evbuffer_get_length(out) == 0 &&
	    mono_ms() - c->last_write >= WT_STREAM_HEARTBEAT_S * 1000) {
		char hb[64];
		int n = snprintf(hb, sizeof(hb), "event: heartbeat\ndata: {\"ts\":%lld}\n\n",
				 (long long)now_ms());
		evbuffer_add(out, hb, (size_t)n);
	}
	if (evbuffer_get_length(out)) {
		evhttp_send_reply_chunk(c->req, out);
		c->last_write = mono_ms();
		wt_api_flush(c->req);
	}
	evbuffer_free(out);
}

static void client_free(struct client *c)
{
	for (size_t i = 0; i < c->qlen; i++)
		blob_unref(c->q[(c->qhead + i) % WT_STREAM_QUEUE_MAX]);
	free(c->series);
	free(c->last_ts);
	free(c->last_cnt);
	free(c->devices);
	free(c->dstate);
	free(c->elements);
	free(c);
}

static void unlink_client(struct client *c)
{
	struct wt_streams *s = c->s;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n--;
	s->union_stale = true;
}

/* evhttp is closing the connection (client left, or an I/O error): the
 * request goes with it, so forget both. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
	struct client *c = arg;
	(void)evcon;
	wt_debug("api: stream client left (%zu streams remain)", c->s->n - 1);
	/* evhttp detaches a reply still being sent from a failed incoming
	 * connection and leaves the request to us: ending it frees it. */
	if (!evhttp_request_get_connection(c->req))
		evhttp_send_reply_end(c->req);
	unlink_client(c);
	client_free(c);
}

/* ---- the tick ---- */

/* Rebuilds the union of the clients' series after an attach or a close. */
static int union_rebuild(struct wt_streams *s)
{
	size_t total = 0, m = 0;
	for (struct client *c = s->clients; c; c = c->next)
		total += c->nseries;
	uint32_t *u = malloc((total + 1) * sizeof(*u));
	if (!u)
		return -ENOMEM;
	for (struct client *c = s->clients; c; c = c->next) {
		memcpy(u + m, c->series, c->nseries * sizeof(*u));
		m += c->nseries;
	}
	qsort(u, m, sizeof(*u), cmp_u32);
	size_t k = 0;
	for (size_t i = 0; i < m; i++)
		if (k == 0 || u[k - 1] != u[i])
			u[k++] = u[i];
	struct tick_series *t = calloc(k + 1, sizeof(*t));
	if (!t) {
		free(u);
		return -ENOMEM;
	}
	free(s->useries);
	free(s->upts); /* empty: tick_reset ran after the last tick */
	s->useries = u;
	s->upts = t;
	s->nuseries = k;
	s->union_stale = false;
	return 0;
}

/* Forgets the last tick's points and their events. */
static void tick_reset(struct wt_streams *s)
{
	for (size_t i = 0; s->upts && i < s->nuseries; i++) {
		struct tick_series *t = &s->upts[i];
		for (size_t k = 0; k < t->n; k++) {
			blob_unref(t->ev[k]);
			t->ev[k] = NULL;
		}
		t->n = 0;
	}
}

static void on_point(void *ctx, uint32_t series, const struct wt_point *p)
{
	struct wt_streams *s = ctx;
	uint32_t *hit = bsearch(&series, s->useries, s->nuseries, sizeof(uint32_t), cmp_u32);
	if (!hit)
		return;
	struct tick_series *t = &s->upts[hit - s->useries];
	/* Sources come oldest first; the last point seen for a timestamp is
	 * the newest state of that bucket. */
	size_t k = t->n;
	while (k > 0 && t->p[k - 1].ts_ms > p->ts_ms)
		k--;
	if (k > 0 && t->p[k - 1].ts_ms == p->ts_ms) {
		t->p[k - 1] = *p;
		return;
	}
	if (t->n == TICK_PTS) {
		if (k == 0)
			return; /* older than every bucket kept */
		memmove(&t->p[0], &t->p[1], (TICK_PTS - 1) * sizeof(t->p[0]));
		k--;
		t->n--;
	}
	memmove(&t->p[k + 1], &t->p[k], (t->n - k) * sizeof(t->p[0]));
	t->p[k] = *p;
	t->n++;
}

/* Queues the client's changed readings from this tick's points. */
static void client_readings(struct wt_streams *s, struct client *c)
{
	for (size_t i = 0; i < c->nseries; i++) {
		uint32_t *hit = bsearch(&c->series[i], s->useries, s->nuseries, sizeof(uint32_t),
					cmp_u32);
		if (!hit)
			continue;
		struct tick_series *t = &s->upts[hit - s->useries];
		for (size_t k = 0; k < t->n; k++) {
			const struct wt_point *p = &t->p[k];
			/* A bucket still filling is sent again when more samples arrive. */
			if (p->ts_ms < c->last_ts[i] ||
			    (p->ts_ms == c->last_ts[i] && p->count == c->last_cnt[i]))
				continue;
			c->last_ts[i] = p->ts_ms;
			c->last_cnt[i] = p->count;
			if (!t->ev[k])
				t->ev[k] = blob_new(
					"reading", json_pack("{s:I,s:I,s:o,s:o,s:o,s:i}", "series",
							     (json_int_t)c->series[i], "ts",
							     (json_int_t)p->ts_ms, "min",
							     num(p->min), "avg", num(p->avg), "max",
							     num(p->max), "count", (int)p->count));
			enqueue_blob(c, t->ev[k]);
		}
	}
}

static void on_bucket_close(void *ctx, int64_t start, const struct wt_bucket *b, size_t n)
{
	struct close_hook *h = ctx;
	struct wt_streams *s = h->s;
	(void)start;
	if (!s || !s->clients || !s->nuseries)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!b[i].count ||
		    !bsearch(&b[i].series, s->useries, s->nuseries, sizeof(uint32_t), cmp_u32))
			continue;
		if (s->nclosed == s->closed_cap) {
			/* Bounded: two closes a tick at most, normally one. */
			size_t cap = s->closed_cap ? s->closed_cap * 2 : 256;
			if (cap > 4 * s->nuseries + 256)
				return;
			struct closed_pt *np = realloc(s->closed, cap * sizeof(*np));
			if (!np)
				return;
			s->closed = np;
			s->closed_cap = cap;
		}
		s->closed[s->nclosed++] = (struct closed_pt){b[i].series,
							     {b[i].start_ms, b[i].min,
							      b[i].sum / b[i].count, b[i].max,
							      b[i].count, b[i].quality}};
	}
}

/* Follows the closes of the storage's rollup (see struct close_hook). */
static void hook_storage(struct wt_streams *s, struct wt_storage *storage)
{
	struct wt_rollup *r = storage ? wt_storage_rollup(storage) : NULL;
	if (s->hook && s->hook->rollup == r)
		return;
	if (s->hook)
		s->hook->s = NULL;
	s->hook = NULL;
	if (!r)
		return;
	for (size_t i = 0; i < CLOSE_HOOKS && !s->hook; i++)
		if (close_hooks[i].rollup == r && !close_hooks[i].s)
			s->hook = &close_hooks[i];
	for (size_t i = 0; i < CLOSE_HOOKS && !s->hook; i++)
		if (!close_hooks[i].rollup &&
		    wt_rollup_on_close(r, on_bucket_close, &close_hooks[i]) == 0) {
			close_hooks[i].rollup = r;
			s->hook = &close_hooks[i];
		}
	if (s->hook)
		s->hook->s = s;
	else
		wt_warn("api: streams cannot follow bucket closes; aggregates reach them only "
			"between flushes");
}

static bool client_wants_alarm(const struct client *c, const struct wt_alarm *a)
{
	if (c->all)
		return true;
	for (size_t i = 0; i < c->ndev; i++)
		if (a->device_id && c->devices[i] == a->device_id)
			return true;
	for (size_t i = 0; i < c->nel; i++)
		if (a->element_id && c->elements[i] == a->element_id)
			return true;
	if (a->series) {
		uint32_t sid = a->series;
		if (bsearch(&sid, c->series, c->nseries, sizeof(uint32_t), cmp_u32))
			return true;
	}
	return false;
}

static json_t *alarm_json(const struct wt_alarm *a)
{
	return json_pack("{s:I,s:s,s:b,s:s,s:I,s:I,s:I,s:o,s:o,s:s,s:b,s:I,s:I}", "id",
			 (json_int_t)a->id, "kind", wt_alarm_kind_name(a->kind), "active",
			 a->active, "severity", a->severity >= 2 ? "critical" : "warning",
			 "device_id", (json_int_t)a->device_id, "element_id",
			 (json_int_t)a->element_id, "series", (json_int_t)a->series, "value",
			 num(a->value), "threshold", num(a->threshold), "message",
			 a->message ? a->message : "", "acked", a->acked, "raised_ms",
			 (json_int_t)a->raised_ms, "updated_ms", (json_int_t)a->updated_ms);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct wt_streams *s = arg;
	(void)fd;
	(void)what;
	struct wt_alarms *alarms = s->layers.rules ? wt_rules_alarms(s->layers.rules) : NULL;
	int64_t mark = s->alarm_mark;
	if (!s->clients) {
		/* Nobody to tell: a client that comes later starts from a
		 * snapshot of the active alarms, not from old changes. */
		size_t na = alarms ? wt_alarms_count(alarms) : 0;
		for (size_t i = 0; i < na; i++)
			if (wt_alarms_at(alarms, i)->updated_ms > mark)
				mark = wt_alarms_at(alarms, i)->updated_ms;
		s->alarm_mark = mark;
		return;
	}
	int64_t now = now_ms();
	tick_reset(s);
	/* What closed since the last tick, then one look at storage for every
	 * client (under its lock); a point seen twice is the same bucket. */
	bool peeked = false;
	if (s->layers.storage && (!s->union_stale || union_rebuild(s) == 0) && s->nuseries) {
		for (size_t i = 0; i < s->nclosed; i++)
			on_point(s, s->closed[i].series, &s->closed[i].p);
		wt_storage_peek_points(s->layers.storage, WT_LEVEL_5S, s->useries, s->nuseries,
				       now - 15000, now + 5000, on_point, s);
		peeked = true;
	}
	s->nclosed = 0;
	for (struct client *c = s->clients; c; c = c->next) {
		if (peeked)
			client_readings(s, c);
		for (size_t i = 0; s->layers.sched && i < c->ndev; i++) {
			struct wt_dev_status ds;
			if (wt_sched_status(s->layers.sched, c->devices[i], &ds) != 0 ||
			    (int)ds.state == c->dstate[i])
				continue;
			c->dstate[i] = (int8_t)ds.state;
			enqueue(c, "device",
				json_pack("{s:I,s:s,s:s}", "id", (json_int_t)c->devices[i], "state",
					  wt_dev_state_name(ds.state), "reason",
					  ds.state == WT_DEV_OK ? "" : ds.reason));
		}
		size_t na = alarms ? wt_alarms_count(alarms) : 0;
		for (size_t i = 0; i < na; i++) {
			const struct wt_alarm *a = wt_alarms_at(alarms, i);
			/* A new client (a console reconnecting after a network
			 * blip too) first gets every active alarm it follows. */
			bool send = c->snapshot ? a->active || a->updated_ms > s->alarm_mark
						: a->updated_ms > s->alarm_mark;
			if (send && client_wants_alarm(c, a))
				enqueue(c, "alarm", alarm_json(a));
			if (a->updated_ms > mark)
				mark = a->updated_ms;
		}
		c->snapshot = false;
	}
	s->alarm_mark = mark;
	for (struct client *c = s->clients; c; c = c->next)
		pump(c);
}

/* ---- life ---- */

int wt_streams_new(struct wt_streams **out, struct event_base *base)
{
	struct wt_streams *s = calloc(1, sizeof(*s));
	if (!s)
		return -12; /* ENOMEM */
	s->base = base;
	s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
	if (!s->tick) {
		free(s);
		return -12;
	}
	/* Half a second: a change reaches the client within one poll interval
	 * plus well under a second. Idle (no clients) the tick does nothing. */
	struct timeval tv = {0, 500000};
	event_add(s->tick, &tv);
	s->alarm_mark = now_ms();
	*out = s;
	return 0;
}

void wt_streams_set_layers(struct wt_streams *s, const struct wt_api_layers *l)
{
	if (l)
		s->layers = *l;
	else
		memset(&s->layers, 0, sizeof(s->layers));
	hook_storage(s, s->layers.storage);
}

size_t wt_streams_count(const struct wt_streams *s)
{
	return s ? s->n : 0;
}

void wt_streams_stats(const struct wt_streams *s, struct wt_streams_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	out->clients = s->n;
	out->lost_total = s->lost_total;
	for (struct client *c = s->clients; c; c = c->next) {
		out->queued_events += c->qlen;
		out->backlog_bytes += socket_backlog(c);
	}
}

static size_t int_array(json_t *a, int64_t **out)
{
	size_t n = json_array_size(a), i;
	json_t *v;
	*out = calloc(n + 1, sizeof(int64_t));
	if (!*out)
		return 0;
	json_array_foreach(a, i, v)(*out)[i] = json_integer_value(v);
	return n;
}

void wt_streams_attach(struct wt_streams *s, struct wt_api_req *r)
{
	struct evhttp_request *req = r->http;
	r->http = NULL;
	struct client *c = calloc(1, sizeof(*c));
	json_t *sub = r->reply;
	int64_t *tmp = NULL;
	size_t n = c ? int_array(json_object_get(sub, "series"), &tmp) : 0;
	bool truncated = n > WT_STREAM_SERIES_MAX;
	if (truncated)
		n = WT_STREAM_SERIES_MAX; /* the element's aggregates come first */
	if (c && tmp) {
		c->series = calloc(n + 1, sizeof(uint32_t));
		c->last_ts = calloc(n + 1, sizeof(int64_t));
		c->last_cnt = calloc(n + 1, sizeof(uint32_t));
		for (size_t i = 0; c->series && i < n; i++)
			c->series[i] = (uint32_t)tmp[i];
		c->nseries = n;
		if (c->series)
			qsort(c->series, n, sizeof(uint32_t), cmp_u32);
	}
	free(tmp);
	tmp = NULL;
	n = c ? int_array(json_object_get(sub, "devices"), &tmp) : 0;
	if (c && tmp) {
		c->devices = calloc(n + 1, sizeof(long));
		c->dstate = malloc(n + 1);
		for (size_t i = 0; c->devices && c->dstate && i < n; i++) {
			c->devices[i] = (long)tmp[i];
			c->dstate[i] = -1;
		}
		c->ndev = n;
	}
	free(tmp);
	if (c)
		c->nel = int_array(json_object_get(sub, "elements"), &c->elements);
	if (!c || !c->series || !c->last_ts || !c->last_cnt || !c->devices || !c->dstate ||
	    !c->elements) {
		if (c)
			client_free(c);
		wt_api_send_error(req, 503, "OUT_OF_MEMORY", "the server is out of memory", r->tls);
		return;
	}
	if (!evhttp_request_get_connection(req)) {
		/* The client left while the worker resolved its subscription:
		 * evhttp detached the request; ending it frees it. */
		client_free(c);
		evhttp_send_reply_end(req);
		return;
	}
	c->all = json_is_true(json_object_get(sub, "all"));
	c->snapshot = true;
	c->tls = r->tls;
	c->s = s;
	c->req = req;
	c->evcon = evhttp_request_get_connection(req);
	/* A stream is long-lived and the client never writes: only a stalled
	 * write may end it, never a quiet read side. */
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
	struct bufferevent *under = bev ? bufferevent_get_underlying(bev) : NULL;
	struct timeval wto = {60, 0};
	if (under)
		bufferevent_set_timeouts(under, NULL, &wto);
	/* The kernel's share of a stalled client stays small too (Linux
	 * would otherwise grow the send buffer up to tcp_wmem's 4 MB). */
	evutil_socket_t fd = under ? bufferevent_getfd(under) : -1;
	int sndbuf = WT_STREAM_SNDBUF;
	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	evhttp_connection_set_closecb(c->evcon, on_close, c);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
	evhttp_add_header(h, "X-Accel-Buffering", "no");
	wt_api_common_headers(req, r->tls);
	evhttp_send_reply_start(req, 200, "OK");
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	s->n++;
	s->union_stale = true;
	char hello[256];
	snprintf(
		hello, sizeof(hello),
		"retry: 3000\nevent: hello\ndata: {\"series\":%zu,\"devices\":%zu,\"elements\":%zu,"
		"\"heartbeat_s\":%d,\"series_truncated\":%s}\n\n",
		c->nseries, c->ndev, c->nel, WT_STREAM_HEARTBEAT_S, truncated ? "true" : "false");
	if (truncated)
		wt_info("api: stream from %s follows its first %d series only", r->peer,
			WT_STREAM_SERIES_MAX);
	send_chunk(c, hello);
	wt_api_flush(req);
}

void wt_streams_free(struct wt_streams *s)
{
	if (!s)
		return;
	while (s->clients) {
		struct client *c = s->clients;
		evhttp_connection_set_closecb(c->evcon, NULL, NULL);
		struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
		send_chunk(c, "event: bye\ndata: {}\n\n");
		evhttp_send_reply_end(c->req);
		/* Through the filter now: the server's stop writes what reached
		 * the socket's own buffer. */
		if (bev)
			bufferevent_flush(bev, EV_WRITE, BEV_FLUSH);
		/* The loop will not turn again for this socket: write the last
		 * chunk now. bufferevent_sock keeps the output's start frozen
		 * while it owns writing; it is being torn down, so release it. */
		struct bufferevent *under = bev ? bufferevent_get_underlying(bev) : NULL;
		evutil_socket_t fd = under ? bufferevent_getfd(under) : -1;
		if (fd >= 0 && !c->tls) {
			struct evbuffer *out = bufferevent_get_output(under);
			evbuffer_unfreeze(out, 1);
			while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
				;
		}
		unlink_client(c);
		client_free(c);
	}
	event_free(s->tick);
	if (s->hook)
		s->hook->s = NULL;
	free(s->closed);
	tick_reset(s);
	free(s->useries);
	free(s->upts);
	free(s);
}
