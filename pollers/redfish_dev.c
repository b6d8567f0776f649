/* Redfish devices: a step machine (root, login, PowerEquipment, unit
 * collections, units and their sensors, then polls) over a bounded queue of
 * GETs, each answer mapped by redfish_map.c. Everything runs on the loop. */
#include "redfish_dev.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pollers/profile.h"
#include "pollers/redfish_http.h"
#include "pollers/redfish_map.h"
#include "server/log.h"
#include "server/model.h"

#define RF_PAR 4 /* requests in flight per device */
#define RF_URI 256
#define RF_MAX_UNITS 64
#define RF_MAX_SENSORS 256
#define RF_MAX_OUTLETS 1024

enum step {
	S_IDLE = 0,
	S_ROOT,
	S_LOGIN,
	S_PE,
	S_COLLS,
	S_UNITS,
	S_POLL,
};

enum role {
	R_ROOT,
	R_PE,
	R_PECOLL,
	R_UNIT_BIND,
	R_CHASSIS,
	R_SENSCOLL_BIND,
	R_SENSOR_BIND,
	R_UNIT,
	R_COLL,
	R_MEMBER,
	R_METRICS,
	R_SENSCOLL,
	R_SENSOR,
};

/* Collections below a PowerDistribution and what their members are. */
enum sub {
	SUB_MAINS,
	SUB_BRANCHES,
	SUB_FEEDERS,
	SUB_SUBFEEDS,
	SUB_OUTLETS,
	SUB__N
};
static const char *const sub_keys[SUB__N] = {"Mains", "Branches", "Feeders", "Subfeeds", "Outlets"};

struct item {
	enum role role;
	int unit;
	int sub;
	long index;
	int levels; /* $expand levels, 0 none */
	char uri[RF_URI];
	struct item *next;
};

struct wt_rf_dev;

struct slot {
	struct wt_rf_dev *dev;
	struct wt_rf_req *req;
	struct item *it;
};

struct unit {
	char uri[RF_URI];
	long key; /* collection order, then member order */
	char sensors[RF_URI];
	bool sensors_inline; /* the unit's own Sensors (expanded with it) */
	char ident[WT_ID__COUNT][80];
	char type[24];
};

struct sensor_ref {
	int unit;
	long pos;   /* position in its collection */
	long index; /* rank among the unit's environment sensors */
	char uri[RF_URI];
};

struct outlet {
	int unit;
	long index;
	char uri[RF_URI];
	char target[RF_URI];
	int state;
};

struct cache_ent {
	uint64_t key;
	int64_t series; /* -1: the resolver refused */
	bool used;
};

struct ctl {
	bool active;
	int cmd;
	int target;
	bool saw_off;
	int64_t deadline;
	char uri[RF_URI];
	struct wt_rf_req *req;
	struct event *timer;
	void (*done)(void *ctx, int status);
	void *ctx;
};

struct wt_rf_dev {
	struct wt_driver_env env;
	struct wt_rf_http *http;
	long id;
	char name[96];
	struct wt_redfish_url url;
	char base[300]; /* scheme://host:port */
	int timeout_ms;
	enum step step;
	bool bound;
	bool expand;
	char token[256];
	char session_uri[RF_URI]; /* Location of our session, deleted at destroy */
	char pe_uri[RF_URI];
	bool session_unsupported;
	bool auth_retried;
	bool static_sent;
	struct unit units[RF_MAX_UNITS];
	int n_units;
	struct sensor_ref *sensors;
	size_t n_sensors;
	struct outlet *outlets, *outlets_next;
	size_t n_outlets, n_outlets_next;
	struct item *qhead, *qtail;
	struct slot slots[RF_PAR];
	int inflight;
	struct wt_rf_req *login_req;
	struct wt_rf_readings rd;
	struct cache_ent *cache;
	size_t cache_cap, cache_n;
	wt_poll_done_fn done;
	void *done_ctx;
	char err[200];
	enum wt_poll_result fail_result;
	bool failed;
	struct ctl ctl;
	unsigned long requests;
};

/* ---- URL ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -EINVAL;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (k + 1 >= outlen)
			return -ENOSPC;
		out[k++] = c;
	}
	out[k] = 0;
	return 0;
}

int wt_redfish_url_parse(const char *url, struct wt_redfish_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	const char *p;
	if (strncmp(url, "redfish://", 10) == 0) {
		p = url + 10;
		u->port = 80;
	} else if (strncmp(url, "redfish+https://", 16) == 0 ||
		   strncmp(url, "redfishs://", 11) == 0) {
		p = strchr(url, ':') + 3;
		u->tls = true;
		u->port = 443;
	} else {
		snprintf(err, errlen, "not a redfish:// or redfish+https:// URL");
		return -EINVAL;
	}
	const char *hostpart = p;
	size_t auth_len = strcspn(p, "/?");
	const char *at = memchr(p, '@', auth_len);
	/* the last '@' before the path ends the user info (passwords may hold '@' escaped) */
	for (const char *q = p; q < p + auth_len; q++)
		if (*q == '@')
			at = q;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		size_t ul = colon ? (size_t)(colon - p) : (size_t)(at - p);
		if (pct_decode(p, ul, u->user, sizeof u->user) ||
		    (colon &&
		     pct_decode(colon + 1, (size_t)(at - colon - 1), u->pass, sizeof u->pass))) {
			snprintf(err, errlen, "bad user info");
			memset(u, 0, sizeof *u);
			return -EINVAL;
		}
		hostpart = at + 1;
	}
	const char *rest;
	if (*hostpart == '[') {
		const char *e = strchr(hostpart, ']');
		if (!e || (size_t)(e - hostpart + 2) > sizeof u->host) {
			snprintf(err, errlen, "bad [IPv6] host");
			goto bad;
		}
		memcpy(u->host, hostpart, (size_t)(e - hostpart + 1));
		rest = e + 1;
	} else {
		size_t hl = strcspn(hostpart, ":/?");
		if (hl == 0 || hl >= sizeof u->host) {
			snprintf(err, errlen, "bad host");
			goto bad;
		}
		memcpy(u->host, hostpart, hl);
		rest = hostpart + hl;
	}
	for (const char *c = u->host; *c; c++)
		if (*c <= ' ' || *c == '#' || *c == '%') {
			snprintf(err, errlen, "bad host");
			goto bad;
		}
	if (*rest == ':') {
		char *end;
		long port = strtol(rest + 1, &end, 10);
		if (end == rest + 1 || port < 1 || port > 65535) {
			snprintf(err, errlen, "bad port");
			goto bad;
		}
		u->port = (int)port;
		rest = end;
	}
	while (*rest == '/')
		rest++;
	if (strncmp(rest, "redfish/v1", 10) == 0)
		rest += 10;
	while (*rest == '/')
		rest++;
	u->auth = u->user[0] ? WT_RF_AUTH_SESSION : WT_RF_AUTH_NONE;
	if (*rest == '?') {
		rest++;
		while (*rest) {
			size_t l = strcspn(rest, "&");
			char kv[600];
			if (l >= sizeof kv) {
				snprintf(err, errlen, "option too long");
				goto bad;
			}
			memcpy(kv, rest, l);
			kv[l] = 0;
			rest += l + (rest[l] == '&');
			char *eq = strchr(kv, '=');
			const char *val = eq ? eq + 1 : "1";
			if (eq)
				*eq = 0;
			if (strcmp(kv, "insecure") == 0) {
				u->insecure = strcmp(val, "1") == 0 || strcmp(val, "true") == 0;
			} else if (strcmp(kv, "expand") == 0) {
				u->no_expand = strcmp(val, "0") == 0 || strcmp(val, "false") == 0;
			} else if (strcmp(kv, "ca") == 0) {
				if (pct_decode(val, strlen(val), u->ca, sizeof u->ca) ||
				    !u->ca[0]) {
					snprintf(err, errlen, "bad ca path");
					goto bad;
				}
			} else if (strcmp(kv, "auth") == 0) {
				if (strcmp(val, "session") == 0)
					u->auth = WT_RF_AUTH_SESSION;
				else if (strcmp(val, "basic") == 0)
					u->auth = WT_RF_AUTH_BASIC;
				else if (strcmp(val, "none") == 0)
					u->auth = WT_RF_AUTH_NONE;
				else {
					snprintf(err, errlen,
						 "auth must be session, basic or none");
					goto bad;
				}
			} else {
				snprintf(err, errlen, "unknown option %s", kv);
				goto bad;
			}
		}
	} else if (*rest) {
		snprintf(err, errlen, "unexpected path after the address");
		goto bad;
	}
	if (u->auth != WT_RF_AUTH_NONE && !u->user[0]) {
		snprintf(err, errlen, "auth=%s needs USER:PASS@ in the URL",
			 u->auth == WT_RF_AUTH_BASIC ? "basic" : "session");
		goto bad;
	}
	return 0;
bad:
	memset(u, 0, sizeof *u);
	return -EINVAL;
}

/* ---- series cache: (unit, kind, index, metric) -> series ---- */

static uint64_t ckey(const struct wt_rf_reading *r)
{
	return ((uint64_t)(uint16_t)r->unit << 48) | ((uint64_t)(uint8_t)r->kind << 40) |
	       ((uint64_t)(uint8_t)r->metric << 32) | (uint32_t)r->index;
}

static struct cache_ent *cache_slot(struct wt_rf_dev *d, uint64_t key)
{
	if ((d->cache_n + 1) * 2 > d->cache_cap) {
		size_t nc = d->cache_cap ? d->cache_cap * 2 : 256;
		struct cache_ent *nt = calloc(nc, sizeof *nt);
		if (!nt)
			return NULL;
		for (size_t i = 0; i < d->cache_cap; i++) {
			if (!d->cache[i].used)
				continue;
			size_t h = (size_t)(d->cache[i].key * 0x9E3779B97F4A7C15ull) & (nc - 1);
			while (nt[h].used)
				h = (h + 1) & (nc - 1);
			nt[h] = d->cache[i];
		}
		free(d->cache);
		d->cache = nt;
		d->cache_cap = nc;
	}
	size_t h = (size_t)(key * 0x9E3779B97F4A7C15ull) & (d->cache_cap - 1);
	while (d->cache[h].used && d->cache[h].key != key)
		h = (h + 1) & (d->cache_cap - 1);
	return &d->cache[h];
}

static void emit_readings(struct wt_rf_dev *d)
{
	struct wt_sample *s = calloc(d->rd.n + 1, sizeof *s);
	if (!s)
		return;
	size_t n = 0;
	int64_t now = wt_clock_now(d->env.clock);
	for (size_t i = 0; i < d->rd.n; i++) {
		const struct wt_rf_reading *r = &d->rd.v[i];
		if (r->is_static && d->static_sent)
			continue;
		uint64_t key = ckey(r);
		struct cache_ent *c = cache_slot(d, key);
		if (!c)
			break;
		if (!c->used) {
			uint32_t series = 0;
			int rc = d->env.resolver.resolve
					 ? d->env.resolver.resolve(d->env.resolver.ctx, d->id,
								   r->unit, r->kind, r->index,
								   r->name, r->metric, &series)
					 : -ENOSYS;
			c->used = true;
			c->key = key;
			c->series = rc ? -1 : (int64_t)series;
			d->cache_n++;
		}
		if (c->series < 0)
			continue;
		s[n].series = (uint32_t)c->series;
		s[n].quality = WT_Q_GOOD;
		s[n].ts_ms = now;
		s[n].value = r->value;
		n++;
	}
	d->static_sent = true;
	if (n && d->env.sink.emit)
		d->env.sink.emit(d->env.sink.ctx, s, n);
	free(s);
}

/* ---- the queue ---- */

static void on_resp(void *ctx, const struct wt_rf_resp *r);
static void step_done(struct wt_rf_dev *d);

static void auth_opts(struct wt_rf_dev *d, struct wt_rf_req_opts *o)
{
	o->insecure = d->url.insecure;
	o->ca_file = d->url.ca[0] ? d->url.ca : NULL;
	o->timeout_ms = d->timeout_ms;
	if (d->token[0])
		o->token = d->token;
	else if (d->url.auth == WT_RF_AUTH_BASIC ||
		 (d->url.auth == WT_RF_AUTH_SESSION && d->session_unsupported)) {
		o->user = d->url.user;
		o->pass = d->url.pass;
	}
}

static void fail(struct wt_rf_dev *d, enum wt_poll_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pump(struct wt_rf_dev *d)
{
	while (!d->failed && d->qhead && d->inflight < RF_PAR) {
		int k = 0;
		while (d->slots[k].it)
			k++;
		struct item *it = d->qhead;
		d->qhead = it->next;
		if (!d->qhead)
			d->qtail = NULL;
		it->next = NULL;
		char url[700];
		if (it->levels > 0)
			snprintf(url, sizeof url, "%s%s?$expand=.($levels=%d)", d->base, it->uri,
				 it->levels);
		else
			snprintf(url, sizeof url, "%s%s", d->base, it->uri);
		struct wt_rf_req_opts o = {.url = url};
		auth_opts(d, &o);
		d->slots[k].it = it;
		d->inflight++;
		d->requests++;
		d->slots[k].dev = d;
		int rc = wt_rf_http_request(d->http, &o, on_resp, &d->slots[k], &d->slots[k].req);
		if (rc) {
			d->slots[k].it = NULL;
			d->slots[k].req = NULL;
			d->inflight--;
			free(it);
			fail(d, WT_POLL_FAILED, "cannot start a request: %s", strerror(-rc));
			return;
		}
	}
	if (!d->failed && !d->qhead && d->inflight == 0)
		step_done(d);
}

static void enqueue(struct wt_rf_dev *d, enum role role, int unit, int sub, long index, int levels,
		    const char *uri)
{
	if (d->failed || !uri || uri[0] != '/' || strlen(uri) >= RF_URI)
		return;
	struct item *it = calloc(1, sizeof *it);
	if (!it) {
		fail(d, WT_POLL_FAILED, "out of memory");
		return;
	}
	it->role = role;
	it->unit = unit;
	it->sub = sub;
	it->index = index;
	it->levels = levels;
	snprintf(it->uri, sizeof it->uri, "%s", uri);
	if (d->qtail)
		d->qtail->next = it;
	else
		d->qhead = it;
	d->qtail = it;
}

static void drop_all(struct wt_rf_dev *d)
{
	for (int k = 0; k < RF_PAR; k++) {
		if (d->slots[k].req)
			wt_rf_http_cancel(d->slots[k].req);
		free(d->slots[k].it);
		d->slots[k].req = NULL;
		d->slots[k].it = NULL;
	}
	d->inflight = 0;
	while (d->qhead) {
		struct item *it = d->qhead;
		d->qhead = it->next;
		free(it);
	}
	d->qtail = NULL;
	if (d->login_req) {
		wt_rf_http_cancel(d->login_req);
		d->login_req = NULL;
	}
}

static void finish(struct wt_rf_dev *d, enum wt_poll_result r)
{
	d->step = S_IDLE;
	wt_poll_done_fn done = d->done;
	void *ctx = d->done_ctx;
	d->done = NULL;
	if (done)
		done(ctx, r);
}

static void fail(struct wt_rf_dev *d, enum wt_poll_result r, const char *fmt, ...)
{
	if (d->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof d->err, fmt, ap);
	va_end(ap);
	d->failed = true;
	d->fail_result = r;
}

/* ---- steps ---- */

static void start_login(struct wt_rf_dev *d);
static void start_poll_step(struct wt_rf_dev *d);

static int cmp_unit(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
}

static int cmp_sensor(const void *a, const void *b)
{
	const struct sensor_ref *x = a, *y = b;
	if (x->unit != y->unit)
		return x->unit - y->unit;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void step_done(struct wt_rf_dev *d)
{
	switch (d->step) {
	case S_ROOT:
		if (!d->pe_uri[0]) {
			fail(d, WT_POLL_NO_PROFILE, "the service has no PowerEquipment");
			break;
		}
		if (d->url.auth == WT_RF_AUTH_SESSION && !d->session_unsupported && !d->token[0]) {
			start_login(d);
			return;
		}
		d->step = S_PE;
		enqueue(d, R_PE, 0, 0, 0, 0, d->pe_uri);
		pump(d);
		return;
	case S_LOGIN:
		d->step = d->bound ? S_POLL : S_PE;
		if (d->bound)
			start_poll_step(d);
		else {
			enqueue(d, R_PE, 0, 0, 0, 0, d->pe_uri);
			pump(d);
		}
		return;
	case S_PE:
		d->step = S_COLLS;
		pump(d); /* the collections were queued while mapping PowerEquipment */
		return;
	case S_COLLS:
		if (d->n_units == 0) {
			fail(d, WT_POLL_NO_PROFILE,
			     "PowerEquipment lists no power distribution units");
			break;
		}
		qsort(d->units, (size_t)d->n_units, sizeof d->units[0], cmp_unit);
		d->step = S_UNITS;
		d->n_sensors = 0;
		for (int u = 0; u < d->n_units; u++)
			enqueue(d, R_UNIT_BIND, u + 1, 0, 0, 0, d->units[u].uri);
		pump(d);
		return;
	case S_UNITS: {
		qsort(d->sensors, d->n_sensors, sizeof d->sensors[0], cmp_sensor);
		long rank = 0;
		for (size_t i = 0; i < d->n_sensors; i++) {
			rank = i && d->sensors[i - 1].unit == d->sensors[i].unit ? rank + 1 : 1;
			d->sensors[i].index = rank;
		}
		d->bound = true;
		d->static_sent = false;
		start_poll_step(d);
		return;
	}
	case S_POLL: {
		/* the outlets seen in this poll are what control addresses */
		struct outlet *t = d->outlets;
		d->outlets = d->outlets_next;
		d->n_outlets = d->n_outlets_next;
		d->outlets_next = t;
		d->n_outlets_next = 0;
		d->err[0] = 0;
		d->auth_retried = false;
		emit_readings(d);
		finish(d, WT_POLL_OK);
		return;
	}
	default:
		return;
	}
	/* a step that failed */
	drop_all(d);
	finish(d, d->fail_result);
}

static void start_poll_step(struct wt_rf_dev *d)
{
	d->step = S_POLL;
	wt_rf_readings_clear(&d->rd);
	d->n_outlets_next = 0;
	for (int u = 0; u < d->n_units; u++) {
		enqueue(d, R_UNIT, u + 1, 0, 0, d->expand ? 2 : 0, d->units[u].uri);
		if (d->expand && d->units[u].sensors_inline)
			continue;
		if (d->expand && d->units[u].sensors[0]) {
			enqueue(d, R_SENSCOLL, u + 1, 0, 0, 1, d->units[u].sensors);
			continue;
		}
		for (size_t i = 0; i < d->n_sensors; i++)
			if (d->sensors[i].unit == u + 1)
				enqueue(d, R_SENSOR, u + 1, 0, d->sensors[i].index, 0,
					d->sensors[i].uri);
	}
	pump(d);
}

static void on_login(void *ctx, const struct wt_rf_resp *r)
{
	struct wt_rf_dev *d = ctx;
	d->login_req = NULL;
	if (r->err) {
		fail(d, WT_POLL_FAILED, "session login: %s", r->errtext);
	} else if (r->status == 201 || r->status == 200) {
		if (!r->token[0])
			fail(d, WT_POLL_FAILED, "session login answered without X-Auth-Token");
		else
			snprintf(d->token, sizeof d->token, "%s", r->token);
		/* Location may be absolute (http://host/redfish/...) or a path */
		const char *loc = strstr(r->location, "/redfish/");
		snprintf(d->session_uri, sizeof d->session_uri, "%s", loc ? loc : "");
	} else if (r->status == 401 || r->status == 403) {
		fail(d, WT_POLL_AUTH, "session login refused (HTTP %ld)", r->status);
	} else if (r->status == 404 || r->status == 405 || r->status == 501) {
		/* no SessionService: basic authentication on every request */
		d->session_unsupported = true;
	} else {
		fail(d, WT_POLL_FAILED, "session login: HTTP %ld", r->status);
	}
	if (d->failed) {
		drop_all(d);
		finish(d, d->fail_result);
		return;
	}
	step_done(d);
}

static void start_login(struct wt_rf_dev *d)
{
	d->step = S_LOGIN;
	char url[400];
	snprintf(url, sizeof url, "%s/redfish/v1/SessionService/Sessions", d->base);
	json_t *b = json_pack("{s:s,s:s}", "UserName", d->url.user, "Password", d->url.pass);
	char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	struct wt_rf_req_opts o = {.url = url,
				   .method = "POST",
				   .body = body ? body : "{}",
				   .insecure = d->url.insecure,
				   .ca_file = d->url.ca[0] ? d->url.ca : NULL,
				   .timeout_ms = d->timeout_ms};
	d->requests++;
	int rc = wt_rf_http_request(d->http, &o, on_login, d, &d->login_req);
	if (body) {
		memset(body, 0, strlen(body));
		free(body);
	}
	if (rc) {
		d->login_req = NULL;
		fail(d, WT_POLL_FAILED, "cannot start the session login");
		drop_all(d);
		finish(d, d->fail_result);
	}
}

/* ---- mapping answers ---- */

static void add_unit(struct wt_rf_dev *d, json_t *m, long key, const char *type)
{
	char uri[RF_URI];
	if (d->n_units >= RF_MAX_UNITS || !wt_rf_odata_id(m, uri, sizeof uri))
		return;
	struct unit *u = &d->units[d->n_units++];
	memset(u, 0, sizeof *u);
	snprintf(u->uri, sizeof u->uri, "%s", uri);
	snprintf(u->type, sizeof u->type, "%s", type);
	u->key = key;
}

static void add_sensor_ref(struct wt_rf_dev *d, int unit, long pos, const char *uri)
{
	if (d->n_sensors >= RF_MAX_SENSORS)
		return;
	struct sensor_ref *s = realloc(d->sensors, (d->n_sensors + 1) * sizeof *s);
	if (!s)
		return;
	d->sensors = s;
	s = &d->sensors[d->n_sensors++];
	s->unit = unit;
	s->pos = pos;
	s->index = 0;
	snprintf(s->uri, sizeof s->uri, "%s", uri);
}

static void add_outlet(struct wt_rf_dev *d, int unit, long index, const char *uri, json_t *res,
		       const char *target)
{
	if (d->n_outlets_next >= RF_MAX_OUTLETS)
		return;
	struct outlet *o = realloc(d->outlets_next, (d->n_outlets_next + 1) * sizeof *o);
	if (!o)
		return;
	d->outlets_next = o;
	o = &d->outlets_next[d->n_outlets_next++];
	o->unit = unit;
	o->index = index;
	snprintf(o->uri, sizeof o->uri, "%s", uri);
	snprintf(o->target, sizeof o->target, "%s", target);
	o->state = wt_rf_outlet_state(res);
}

static void map_member(struct wt_rf_dev *d, json_t *res, int unit, int sub, long index,
		       const char *uri)
{
	int rc = 0;
	if (sub == SUB_OUTLETS) {
		char target[RF_URI];
		rc = wt_rf_map_outlet(res, unit, index, &d->rd, target, sizeof target);
		char self[RF_URI];
		if (!wt_rf_odata_id(res, self, sizeof self))
			snprintf(self, sizeof self, "%s", uri);
		add_outlet(d, unit, index, self, res, target);
	} else {
		static const enum wt_rf_circuit_role roles[] = {WT_RF_MAINS, WT_RF_BRANCHES,
								WT_RF_FEEDERS, WT_RF_SUBFEEDS};
		/* feeders and subfeeds share the branch numbering after the branches */
		long off = sub == SUB_FEEDERS ? 1000 : sub == SUB_SUBFEEDS ? 2000 : 0;
		rc = wt_rf_map_circuit(res, unit, roles[sub], index + off, &d->rd);
	}
	if (rc)
		fail(d, WT_POLL_FAILED, "out of memory");
}

static void map_collection(struct wt_rf_dev *d, json_t *coll, int unit, int sub)
{
	json_t *m = json_object_get(coll, "Members");
	if (!json_is_array(m))
		return;
	size_t i;
	json_t *x;
	json_array_foreach(m, i, x)
	{
		char uri[RF_URI];
		wt_rf_odata_id(x, uri, sizeof uri);
		if (wt_rf_is_expanded(x))
			map_member(d, x, unit, sub, (long)i + 1, uri);
		else if (uri[0])
			enqueue(d, R_MEMBER, unit, sub, (long)i + 1, 0, uri);
	}
}

/* Environment sensors of an expanded Sensors collection. */
static void map_sensor_coll(struct wt_rf_dev *d, json_t *coll, int unit)
{
	json_t *m = json_object_get(coll, "Members");
	if (!json_is_array(m))
		return;
	size_t i;
	json_t *x;
	long rank = 0;
	json_array_foreach(m, i, x)
	{
		if (!wt_rf_sensor_wanted(x))
			continue;
		if (wt_rf_map_sensor(x, unit, ++rank, &d->rd))
			fail(d, WT_POLL_FAILED, "out of memory");
	}
}

static void map_unit_bind(struct wt_rf_dev *d, json_t *res, int unit)
{
	struct unit *u = &d->units[unit - 1];
	static const char *const keys[WT_ID__COUNT] = {"Manufacturer",    "Model", "SerialNumber",
						       "FirmwareVersion", "Name",  NULL};
	for (int i = 0; i < WT_ID__COUNT; i++) {
		json_t *v = keys[i] ? json_object_get(res, keys[i]) : NULL;
		if (json_is_string(v))
			snprintf(u->ident[i], sizeof u->ident[i], "%s", json_string_value(v));
	}
	const char *et = json_string_value(json_object_get(res, "EquipmentType"));
	if (et)
		snprintf(u->type, sizeof u->type, "%s", et);
	char uri[RF_URI];
	if (wt_rf_odata_id(json_object_get(res, "Sensors"), uri, sizeof uri)) {
		snprintf(u->sensors, sizeof u->sensors, "%s", uri);
		u->sensors_inline = true;
		enqueue(d, R_SENSCOLL_BIND, unit, 0, 0, d->expand ? 1 : 0, uri);
		return;
	}
	json_t *links = json_object_get(res, "Links");
	json_t *ch = json_is_object(links) ? json_object_get(links, "Chassis") : NULL;
	if (json_is_array(ch) && wt_rf_odata_id(json_array_get(ch, 0), uri, sizeof uri))
		enqueue(d, R_CHASSIS, unit, 0, 0, 0, uri);
}

static void process(struct wt_rf_dev *d, const struct item *it, json_t *res)
{
	char uri[RF_URI];
	switch (it->role) {
	case R_ROOT: {
		json_t *pf = json_object_get(res, "ProtocolFeaturesSupported");
		json_t *eq = json_is_object(pf) ? json_object_get(pf, "ExpandQuery") : NULL;
		json_t *mx = json_is_object(eq) ? json_object_get(eq, "MaxLevels") : NULL;
		/* "." with levels: NoLinks and Levels advertised, at least 2 levels */
		d->expand = !d->url.no_expand && json_is_object(eq) &&
			    json_is_true(json_object_get(eq, "NoLinks")) &&
			    json_is_true(json_object_get(eq, "Levels")) && json_is_integer(mx) &&
			    json_integer_value(mx) >= 2;
		wt_rf_odata_id(json_object_get(res, "PowerEquipment"), d->pe_uri, sizeof d->pe_uri);
		break;
	}
	case R_PE: {
		static const char *const colls[] = {"RackPDUs", "FloorPDUs", "TransferSwitches",
						    "PowerShelves"};
		d->n_units = 0;
		for (size_t i = 0; i < sizeof colls / sizeof colls[0]; i++)
			if (wt_rf_odata_id(json_object_get(res, colls[i]), uri, sizeof uri))
				enqueue(d, R_PECOLL, 0, (int)i, 0, 0, uri);
		break;
	}
	case R_PECOLL: {
		static const char *const types[] = {"RackPDU", "FloorPDU", "TransferSwitch",
						    "PowerShelf"};
		json_t *m = json_object_get(res, "Members");
		size_t i;
		json_t *x;
		if (json_is_array(m))
			json_array_foreach(m, i, x)
				add_unit(d, x, (long)it->sub * 100000 + (long)i, types[it->sub]);
		break;
	}
	case R_UNIT_BIND:
		map_unit_bind(d, res, it->unit);
		break;
	case R_CHASSIS:
		if (wt_rf_odata_id(json_object_get(res, "Sensors"), uri, sizeof uri)) {
			snprintf(d->units[it->unit - 1].sensors, RF_URI, "%s", uri);
			enqueue(d, R_SENSCOLL_BIND, it->unit, 0, 0, d->expand ? 1 : 0, uri);
		}
		break;
	case R_SENSCOLL_BIND: {
		json_t *m = json_object_get(res, "Members");
		size_t i;
		json_t *x;
		if (!json_is_array(m))
			break;
		json_array_foreach(m, i, x)
		{
			if (!wt_rf_odata_id(x, uri, sizeof uri))
				continue;
			if (wt_rf_is_expanded(x)) {
				if (wt_rf_sensor_wanted(x))
					add_sensor_ref(d, it->unit, (long)i, uri);
			} else {
				enqueue(d, R_SENSOR_BIND, it->unit, 0, (long)i, 0, uri);
			}
		}
		break;
	}
	case R_SENSOR_BIND:
		if (wt_rf_sensor_wanted(res))
			add_sensor_ref(d, it->unit, it->index, it->uri);
		break;
	case R_UNIT: {
		for (int s = 0; s < SUB__N; s++) {
			json_t *v = json_object_get(res, sub_keys[s]);
			if (!json_is_object(v))
				continue;
			if (json_is_array(json_object_get(v, "Members")))
				map_collection(d, v, it->unit, s);
			else if (wt_rf_odata_id(v, uri, sizeof uri))
				enqueue(d, R_COLL, it->unit, s, 0, 0, uri);
		}
		json_t *mt = json_object_get(res, "Metrics");
		if (wt_rf_is_expanded(mt)) {
			if (wt_rf_map_metrics(mt, it->unit, &d->rd))
				fail(d, WT_POLL_FAILED, "out of memory");
		} else if (wt_rf_odata_id(mt, uri, sizeof uri)) {
			enqueue(d, R_METRICS, it->unit, 0, 0, 0, uri);
		}
		json_t *se = json_object_get(res, "Sensors");
		if (d->expand && json_is_object(se) &&
		    json_is_array(json_object_get(se, "Members")))
			map_sensor_coll(d, se, it->unit);
		else if (d->expand && d->units[it->unit - 1].sensors_inline)
			/* $expand offered but not applied: read the bound sensors */
			for (size_t i = 0; i < d->n_sensors; i++)
				if (d->sensors[i].unit == it->unit)
					enqueue(d, R_SENSOR, it->unit, 0, d->sensors[i].index, 0,
						d->sensors[i].uri);
		break;
	}
	case R_COLL:
		map_collection(d, res, it->unit, it->sub);
		break;
	case R_MEMBER:
		map_member(d, res, it->unit, it->sub, it->index, it->uri);
		break;
	case R_METRICS:
		if (wt_rf_map_metrics(res, it->unit, &d->rd))
			fail(d, WT_POLL_FAILED, "out of memory");
		break;
	case R_SENSCOLL: {
		json_t *m = json_object_get(res, "Members");
		bool expanded = json_is_array(m) && json_array_size(m) > 0 &&
				wt_rf_is_expanded(json_array_get(m, 0));
		if (expanded)
			map_sensor_coll(d, res, it->unit);
		else /* $expand offered but not applied */
			for (size_t i = 0; i < d->n_sensors; i++)
				if (d->sensors[i].unit == it->unit)
					enqueue(d, R_SENSOR, it->unit, 0, d->sensors[i].index, 0,
						d->sensors[i].uri);
		break;
	}
	case R_SENSOR:
		if (wt_rf_map_sensor(res, it->unit, it->index, &d->rd))
			fail(d, WT_POLL_FAILED, "out of memory");
		break;
	}
}

static void restart_after_401(struct wt_rf_dev *d)
{
	drop_all(d);
	d->token[0] = 0;
	d->auth_retried = true;
	d->failed = false;
	wt_rf_readings_clear(&d->rd);
	start_login(d);
}

static void on_resp(void *ctx, const struct wt_rf_resp *r)
{
	struct slot *sl = ctx;
	struct wt_rf_dev *d = sl->dev;
	struct item *it = sl->it;
	sl->req = NULL; /* the handle dies with this callback */
	sl->it = NULL;
	d->inflight--;
	if (d->failed) {
		free(it);
		return;
	}
	if (r->err) {
		fail(d, WT_POLL_FAILED, "%s: %s", it->uri,
		     r->err == -ETIMEDOUT  ? "timeout"
		     : r->err == -EMSGSIZE ? "answer too large"
					   : r->errtext);
	} else if (r->status == 401 && d->url.auth == WT_RF_AUTH_SESSION &&
		   !d->session_unsupported && !d->auth_retried && d->token[0]) {
		/* the session expired or was deleted: log in again, once per poll */
		free(it);
		restart_after_401(d);
		return;
	} else if (r->status == 401 || r->status == 403) {
		fail(d, WT_POLL_AUTH, "%s: HTTP %ld (credentials refused)", it->uri, r->status);
	} else if (r->status != 200) {
		fail(d, WT_POLL_FAILED, "%s: HTTP %ld", it->uri, r->status);
	} else {
		json_error_t je;
		json_t *res = json_loadb(r->body, r->len, 0, &je);
		if (!json_is_object(res))
			fail(d, WT_POLL_FAILED, "%s: malformed JSON (line %d: %s)", it->uri,
			     je.line, res ? "not an object" : je.text);
		else
			process(d, it, res);
		json_decref(res);
	}
	free(it);
	if (d->failed) {
		drop_all(d);
		finish(d, d->fail_result);
		return;
	}
	pump(d);
}

/* ---- control ---- */

static void ctl_finish(struct wt_rf_dev *d, int status)
{
	d->ctl.active = false;
	if (d->ctl.req) {
		wt_rf_http_cancel(d->ctl.req);
		d->ctl.req = NULL;
	}
	if (d->ctl.timer)
		evtimer_del(d->ctl.timer);
	void (*done)(void *, int) = d->ctl.done;
	d->ctl.done = NULL;
	if (done)
		done(d->ctl.ctx, status);
}

static void ctl_read_resp(void *ctx, const struct wt_rf_resp *r);

static void ctl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct wt_rf_dev *d = arg;
	if (!d->ctl.active)
		return;
	if (wt_clock_now(d->env.clock) >= d->ctl.deadline) {
		ctl_finish(d, -EAGAIN);
		return;
	}
	char url[700];
	snprintf(url, sizeof url, "%s%s", d->base, d->ctl.uri);
	struct wt_rf_req_opts o = {.url = url};
	auth_opts(d, &o);
	if (wt_rf_http_request(d->http, &o, ctl_read_resp, d, &d->ctl.req))
		ctl_finish(d, -EIO);
}

/* Re-reads the outlet: at once after the command, then every 250 ms. */
static void ctl_again(struct wt_rf_dev *d, bool first)
{
	struct timeval tv = {0, first ? 0 : 250000};
	evtimer_add(d->ctl.timer, &tv);
}

static void ctl_read_resp(void *ctx, const struct wt_rf_resp *r)
{
	struct wt_rf_dev *d = ctx;
	d->ctl.req = NULL;
	if (!r->err && r->status == 200) {
		json_t *res = json_loadb(r->body, r->len, 0, NULL);
		int st = wt_rf_outlet_state(res);
		const char *ps = json_string_value(json_object_get(res, "PowerState"));
		/* off, or off and coming back (a power cycle in progress) */
		if (st == 0 || (ps && strcmp(ps, "PoweringOn") == 0))
			d->ctl.saw_off = true;
		json_decref(res);
		bool cyc = d->ctl.cmd == WT_CTL_CYCLE || d->ctl.cmd == WT_CTL_DELAYED_CYCLE;
		if (cyc ? d->ctl.saw_off : st == d->ctl.target) {
			ctl_finish(d, 0);
			return;
		}
	} else if (!r->err && (r->status == 401 || r->status == 403)) {
		ctl_finish(d, -EACCES);
		return;
	}
	ctl_again(d, false);
}

static void ctl_post_resp(void *ctx, const struct wt_rf_resp *r)
{
	struct wt_rf_dev *d = ctx;
	d->ctl.req = NULL;
	if (r->err) {
		snprintf(d->err, sizeof d->err, "outlet control: %s", r->errtext);
		ctl_finish(d, r->err == -ETIMEDOUT ? -ETIMEDOUT : -EIO);
		return;
	}
	if (r->status >= 200 && r->status < 300) {
		ctl_again(d, true);
		return;
	}
	snprintf(d->err, sizeof d->err, "outlet control: HTTP %ld", r->status);
	int st;
	if (r->status == 401 || r->status == 403)
		st = -EACCES;
	else if (r->status == 404 || r->status == 405 || r->status == 501 ||
		 (r->body && strstr(r->body, "ActionNotSupported")))
		st = -ENOTSUP;
	else if (r->status >= 400 && r->status < 500)
		st = -EINVAL;
	else
		st = -EIO;
	ctl_finish(d, st);
}

static int rf_control(void *inst, int unit, long outlet, int cmd, int verify_ms,
		      void (*done)(void *ctx, int status), void *ctx)
{
	struct wt_rf_dev *d = inst;
	if (cmd < 0 || cmd >= WT_CTL__COUNT || !done)
		return -EINVAL;
	if (d->ctl.active)
		return -EBUSY;
	if (!d->bound)
		return -EAGAIN;
	const struct outlet *o = NULL;
	for (size_t i = 0; i < d->n_outlets; i++)
		if (d->outlets[i].unit == (unit > 0 ? unit : 1) && d->outlets[i].index == outlet)
			o = &d->outlets[i];
	if (!o)
		return -ENOENT;
	if (!o->target[0])
		return -ENOTSUP;
	if (!d->ctl.timer && !(d->ctl.timer = evtimer_new(d->env.base, ctl_timer_cb, d)))
		return -ENOMEM;
	/* Redfish applies the outlet's PowerOnDelaySeconds / PowerOffDelaySeconds
	 * itself, so the delayed commands send the same PowerState */
	const char *ps = cmd == WT_CTL_ON || cmd == WT_CTL_DELAYED_ON     ? "On"
			 : cmd == WT_CTL_OFF || cmd == WT_CTL_DELAYED_OFF ? "Off"
									  : "PowerCycle";
	char url[700], body[64];
	snprintf(url, sizeof url, "%s%s", d->base, o->target);
	snprintf(body, sizeof body, "{\"PowerState\":\"%s\"}", ps);
	struct wt_rf_req_opts ro = {.url = url, .method = "POST", .body = body};
	auth_opts(d, &ro);
	d->ctl.active = true;
	d->ctl.cmd = cmd;
	d->ctl.target = strcmp(ps, "Off") != 0;
	d->ctl.saw_off = false;
	d->ctl.deadline = wt_clock_now(d->env.clock) + (verify_ms > 0 ? verify_ms : 10000);
	snprintf(d->ctl.uri, sizeof d->ctl.uri, "%s", o->uri);
	d->ctl.done = done;
	d->ctl.ctx = ctx;
	int rc = wt_rf_http_request(d->http, &ro, ctl_post_resp, d, &d->ctl.req);
	if (rc) {
		d->ctl.active = false;
		d->ctl.done = NULL;
		return rc;
	}
	return 0;
}

/* ---- driver ops ---- */

static int rf_create(const struct wt_driver_env *env, long device_id, const char *name,
		     const char *url, int timeout_ms, int retries, void **inst, char *err,
		     size_t errlen)
{
	(void)retries; /* a poll is many requests; the scheduler's back-off is the retry */
	struct wt_rf_dev *d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = wt_redfish_url_parse(url, &d->url, err, errlen);
	if (rc) {
		free(d);
		return rc;
	}
	d->http = wt_rf_http_get(env->base);
	if (!d->http) {
		memset(&d->url, 0, sizeof d->url);
		free(d);
		snprintf(err, errlen, "cannot start the HTTP client");
		return -ENOMEM;
	}
	d->env = *env;
	d->id = device_id;
	snprintf(d->name, sizeof d->name, "%s", name ? name : "");
	snprintf(d->base, sizeof d->base, "%s://%s:%d", d->url.tls ? "https" : "http", d->url.host,
		 d->url.port);
	/* a poll is a walk of several requests: each gets the device timeout */
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	*inst = d;
	return 0;
}

static void on_logout(void *ctx, const struct wt_rf_resp *r)
{
	(void)ctx, (void)r; /* best effort: the session times out anyway */
}

static void rf_destroy(void *inst)
{
	struct wt_rf_dev *d = inst;
	if (!d)
		return;
	drop_all(d);
	if (d->token[0] && d->session_uri[0]) {
		/* free the BMC's session slot; the shared client owns the request
		 * (it is dropped if this was the last device) */
		char url[700];
		snprintf(url, sizeof url, "%s%s", d->base, d->session_uri);
		struct wt_rf_req_opts o = {.url = url, .method = "DELETE"};
		auth_opts(d, &o);
		if (wt_rf_http_request(d->http, &o, on_logout, NULL, NULL))
			wt_debug("device %ld: cannot delete the Redfish session", d->id);
	}
	if (d->ctl.req)
		wt_rf_http_cancel(d->ctl.req);
	if (d->ctl.timer)
		event_free(d->ctl.timer);
	wt_rf_http_put(d->http);
	wt_rf_readings_free(&d->rd);
	free(d->sensors);
	free(d->outlets);
	free(d->outlets_next);
	free(d->cache);
	memset(&d->url, 0, sizeof d->url);
	memset(d->token, 0, sizeof d->token);
	free(d);
}

static int rf_poll(void *inst, wt_poll_done_fn done, void *ctx)
{
	struct wt_rf_dev *d = inst;
	if (d->step != S_IDLE)
		return -EBUSY;
	d->done = done;
	d->done_ctx = ctx;
	d->failed = false;
	d->auth_retried = false;
	if (d->bound) {
		if (d->url.auth == WT_RF_AUTH_SESSION && !d->session_unsupported && !d->token[0]) {
			start_login(d);
			return 0;
		}
		start_poll_step(d);
		return 0;
	}
	d->step = S_ROOT;
	d->n_units = 0;
	d->n_sensors = 0;
	d->pe_uri[0] = 0;
	enqueue(d, R_ROOT, 0, 0, 0, 0, "/redfish/v1/");
	pump(d);
	return 0;
}

static void rf_rebind(void *inst)
{
	struct wt_rf_dev *d = inst;
	if (d->step == S_IDLE)
		d->bound = false;
}

static const char *rf_last_error(void *inst)
{
	return ((struct wt_rf_dev *)inst)->err;
}

static json_t *entity_json(const struct wt_rf_reading *r)
{
	json_t *je = json_object();
	json_object_set_new(je, "kind", json_string(wt_entity_kind_name(r->kind)));
	json_object_set_new(je, "index", json_integer(r->index));
	json_object_set_new(je, "unit", json_integer(r->unit));
	json_object_set_new(je, "name", json_string(r->name));
	json_object_set_new(je, "readings", json_array());
	json_object_set_new(je, "thresholds", json_array());
	return je;
}

static char *rf_describe(void *inst)
{
	struct wt_rf_dev *d = inst;
	json_t *o = json_object();
	char url[400];
	snprintf(url, sizeof url, "%s://%s:%d", d->url.tls ? "redfish+https" : "redfish",
		 d->url.host, d->url.port);
	json_object_set_new(o, "format", json_integer(1));
	json_object_set_new(o, "url", json_string(url));
	json_object_set_new(o, "protocol", json_string("redfish"));
	json_object_set_new(o, "error", d->err[0] ? json_string(d->err) : json_null());
	json_object_set_new(o, "expand", json_boolean(d->expand));
	json_object_set_new(o, "auth",
			    json_string(d->token[0]                      ? "session"
					: d->url.auth == WT_RF_AUTH_NONE ? "none"
									 : "basic"));
	json_object_set_new(o, "http_requests", json_integer((json_int_t)d->requests));
	if (!d->bound) {
		json_object_set_new(o, "profile", json_null());
		goto out;
	}
	json_t *prof = json_object();
	json_object_set_new(prof, "name", json_string("redfish-power-distribution"));
	json_object_set_new(prof, "file", json_null());
	json_object_set_new(
		prof, "device_type",
		json_string(strcmp(d->units[0].type, "TransferSwitch") == 0 ? "ats" : "pdu"));
	json_object_set_new(o, "profile", prof);
	static const char *const idk[WT_ID__COUNT] = {"vendor",   "model", "serial",
						      "firmware", "name",  "rating_a"};
	json_t *id = json_object();
	for (int i = 0; i < WT_ID__COUNT; i++)
		json_object_set_new(id, idk[i],
				    d->units[0].ident[i][0] ? json_string(d->units[0].ident[i])
							    : json_null());
	json_object_set_new(o, "identity", id);
	json_t *units = json_array();
	for (int u = 0; u < d->n_units; u++) {
		json_t *ju = json_object();
		json_object_set_new(ju, "unit", json_integer(u + 1));
		json_object_set_new(ju, "uri", json_string(d->units[u].uri));
		json_object_set_new(ju, "type", json_string(d->units[u].type));
		json_object_set_new(ju, "model", json_string(d->units[u].ident[WT_ID_MODEL]));
		json_object_set_new(ju, "serial", json_string(d->units[u].ident[WT_ID_SERIAL]));
		json_array_append_new(units, ju);
	}
	json_object_set_new(o, "units", units);
	/* entities in the order first seen; readings grouped under them */
	json_t *ents = json_array();
	json_t *byk = json_object();
	for (size_t i = 0; i < d->rd.n; i++) {
		const struct wt_rf_reading *r = &d->rd.v[i];
		char k[96];
		snprintf(k, sizeof k, "%d/%d/%ld", r->unit, r->kind, r->index);
		json_t *je = json_object_get(byk, k);
		if (!je) {
			je = entity_json(r);
			bool sw = false;
			for (size_t q = 0; r->kind == WT_ENT_OUTLET && q < d->n_outlets; q++)
				if (d->outlets[q].unit == r->unit &&
				    d->outlets[q].index == r->index)
					sw = d->outlets[q].target[0] != 0;
			json_object_set_new(je, "switchable", json_boolean(sw));
			json_array_append_new(ents, je);
			json_object_set(byk, k, je);
		}
		const struct wt_metric_info *mi = wt_metric_info(r->metric);
		json_t *jr = json_object();
		json_object_set_new(jr, "metric", json_string(mi ? mi->name : "?"));
		json_object_set_new(jr, "value", json_real(r->value));
		json_object_set_new(jr, "unit", json_string(mi ? mi->unit : ""));
		json_object_set_new(jr, "static", json_boolean(r->is_static));
		json_array_append_new(json_object_get(je, "readings"), jr);
	}
	for (size_t i = 0; i < d->rd.nt; i++) {
		const struct wt_rf_threshold *t = &d->rd.t[i];
		char k[96];
		snprintf(k, sizeof k, "%d/%d/%ld", t->unit, t->kind, t->index);
		json_t *je = json_object_get(byk, k);
		if (!je)
			continue;
		const struct wt_metric_info *mi = wt_metric_info(t->metric);
		json_t *jt = json_object();
		json_object_set_new(jt, "metric", json_string(mi ? mi->name : "?"));
		json_object_set_new(jt, "which", json_string(t->which));
		json_object_set_new(jt, "value", json_real(t->value));
		json_array_append_new(json_object_get(je, "thresholds"), jt);
	}
	json_decref(byk);
	json_object_set_new(o, "entities", ents);
out:;
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	json_decref(o);
	return s;
}

const struct wt_driver_ops wt_redfish_ops = {
	.version = WT_DRIVER_OPS_VERSION,
	.name = "redfish",
	.create = rf_create,
	.destroy = rf_destroy,
	.poll = rf_poll,
	.rebind = rf_rebind,
	.last_error = rf_last_error,
	.control = rf_control,
	.describe = rf_describe,
};
