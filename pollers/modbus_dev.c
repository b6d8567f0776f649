/* Modbus TCP devices on a worker pool: the hub (pool + shared gateway
 * connections), binding (profile by model register or name, identity,
 * counts, entities, span plan), polls, outlet control and the driver ops. */
#include "modbus_dev.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/log.h"
#include "server/model.h"
#include "server/workers.h"
#include "wt_build.h"

/* ---- the hub: one per process (one loop), made by the first device ---- */

struct mb_job;

struct mb_conn {
	char host[256];
	int port;
	modbus_t *ctx;              /* worker-owned while a job runs */
	int refs;                   /* devices using it */
	bool running;               /* a job is on a worker */
	struct mb_job *head, *tail; /* waiting for the connection */
	struct mb_conn *next;
};

struct mb_hub {
	struct event_base *base;
	struct wt_workers *pool;
	struct wt_mb_profile_set profiles;
	struct mb_conn *conns;
	int refs;
	int in_done; /* > 0 while a completion runs (the pool cannot be freed then) */
};

static struct mb_hub *g_hub;
static char g_profiles_dir[4096];
static int g_threads = 8;
static struct wt_modbus_stats g_stats;

void wt_modbus_set_profiles_dir(const char *dir)
{
	snprintf(g_profiles_dir, sizeof g_profiles_dir, "%s", dir ? dir : "");
}

void wt_modbus_set_threads(int threads)
{
	if (threads >= 1 && threads <= 256)
		g_threads = threads;
}

void wt_modbus_stats(struct wt_modbus_stats *out)
{
	/* counters written by workers; a torn read is harmless for figures */
	*out = g_stats;
}

static const char *profiles_dir(char *buf, size_t len)
{
	struct stat st;
	if (g_profiles_dir[0])
		return g_profiles_dir;
	const char *env = getenv("WT_PROFILES_DIR");
	if (env && *env) {
		snprintf(buf, len, "%s/modbus", env);
		if (stat(buf, &st) == 0)
			return buf;
	}
	snprintf(buf, len, "%s/profiles/modbus", WT_DATADIR);
	if (stat(buf, &st) == 0)
		return buf;
	snprintf(buf, len, "%s/pollers/profiles/modbus", WT_SOURCE_ROOT);
	return buf;
}

static struct mb_hub *hub_get(struct event_base *base)
{
	if (g_hub) {
		if (g_hub->base != base)
			return NULL; /* one loop per process */
		g_hub->refs++;
		return g_hub;
	}
	struct mb_hub *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->base = base;
	struct wt_workers_options o = {.threads = g_threads, .queue_max = 65536, .name = "modbus"};
	if (wt_workers_new(&h->pool, base, &o)) {
		free(h);
		return NULL;
	}
	char buf[4096];
	const char *dir = profiles_dir(buf, sizeof buf);
	int n = wt_mb_profiles_load_dir(&h->profiles, dir);
	if (n < 0)
		wt_warn("modbus: cannot read profiles from %s: %s", dir, strerror(-n));
	h->refs = 1;
	g_hub = h;
	return h;
}

static void hub_free(struct mb_hub *h)
{
	wt_workers_free(h->pool, true);
	while (h->conns) {
		struct mb_conn *c = h->conns;
		h->conns = c->next;
		if (c->ctx) {
			modbus_close(c->ctx);
			modbus_free(c->ctx);
		}
		free(c);
	}
	wt_mb_profiles_free(&h->profiles);
	free(h);
}

static void hub_deferred_free(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	if (g_hub && g_hub->refs == 0 && g_hub->in_done == 0) {
		hub_free(g_hub);
		g_hub = NULL;
	}
}

static void hub_put(struct mb_hub *h)
{
	if (--h->refs > 0)
		return;
	if (h->in_done) {
		/* the pool cannot be joined from its own completion: later */
		struct timeval tv = {0, 0};
		if (event_base_once(h->base, -1, EV_TIMEOUT, hub_deferred_free, NULL, &tv) == 0)
			return;
	}
	hub_free(h);
	g_hub = NULL;
}

static struct mb_conn *conn_get(struct mb_hub *h, const char *host, int port)
{
	for (struct mb_conn *c = h->conns; c; c = c->next)
		if (c->port == port && strcmp(c->host, host) == 0) {
			c->refs++;
			return c;
		}
	struct mb_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	snprintf(c->host, sizeof c->host, "%s", host);
	c->port = port;
	c->refs = 1;
	c->next = h->conns;
	h->conns = c;
	return c;
}

static void conn_put(struct mb_hub *h, struct mb_conn *c)
{
	if (--c->refs > 0 || c->running || c->head)
		return;
	for (struct mb_conn **pp = &h->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->ctx) {
		modbus_close(c->ctx);
		modbus_free(c->ctx);
		g_stats.connections--;
	}
	free(c);
}

/* ---- the device model built at bind ---- */

struct mb_point {
	int ent;
	int metric;
	const struct wt_mb_value *v;
	int addr; /* absolute */
	bool is_static;
	bool have;
	double value;
	bool resolved;
	uint32_t series;
};

struct mb_ent {
	int kind;
	long index;
	char name[64];
	int ctl_addr; /* -1: not switchable */
	const struct wt_mb_control *ctl;
	int state_pt; /* point with outlet_state, -1 */
};

struct mb_model {
	const struct wt_mb_profile *p;
	char ident[WT_ID__COUNT][80];
	double rating;
	struct mb_ent *ents;
	size_t n_ents;
	struct mb_point *pts;
	size_t n_pts, cap_pts;
	struct wt_mb_span *spans; /* dynamic points only */
	size_t n_spans;
	uint16_t *buf;    /* one slot per span register, sized at plan */
	size_t *span_off; /* offset of each span in buf */
};

static void model_free(struct mb_model *m)
{
	if (!m)
		return;
	free(m->ents);
	free(m->pts);
	free(m->spans);
	free(m->buf);
	free(m->span_off);
	free(m);
}

/* ---- jobs ---- */

enum job_kind {
	JOB_POLL,
	JOB_CTL_WRITE,
	JOB_CTL_READ
};

struct wt_mb_dev;

struct mb_job {
	enum job_kind kind;
	struct wt_mb_dev *dev;
	struct mb_conn *conn;
	struct mb_job *next;
	/* results */
	int rc;
	char err[160];
	/* bind: the new model when the device had none */
	struct mb_model *model;
	int last_exc; /* exception code of the last failed read, 0 */
	/* control */
	int ctl_ent;
	long long ctl_value;
	double state;
	bool have_state;
};

struct ctl_op {
	bool active;
	int ent;
	int cmd;
	int target;   /* 0 or 1 */
	bool saw_off; /* cycle: the outlet was seen off */
	int64_t deadline;
	struct event *timer;
	void (*done)(void *ctx, int status);
	void *ctx;
	bool read_queued;
};

struct wt_mb_dev {
	struct wt_driver_env env;
	struct mb_hub *hub;
	struct mb_conn *conn;
	long id;
	char name[96];
	struct wt_modbus_url url;
	int timeout_ms;
	int retries;
	struct mb_model *model;
	bool need_static; /* emit static values after the next poll */
	bool poll_busy;
	int jobs; /* queued or running */
	bool dying;
	wt_poll_done_fn done;
	void *done_ctx;
	char err[200];
	struct ctl_op ctl;
};

/* --- worker side: everything below until "loop side" runs on a worker --- */

static bool is_exception(int e)
{
	return e > MODBUS_ENOBASE && e <= MODBUS_ENOBASE + 11;
}

static const char *exc_name(int code)
{
	switch (code) {
	case 1:
		return "illegal function";
	case 2:
		return "illegal data address";
	case 3:
		return "illegal data value";
	case 4:
		return "server device failure";
	case 6:
		return "server busy";
	case 10:
		return "gateway path unavailable";
	case 11:
		return "gateway target failed to respond";
	default:
		return "exception";
	}
}

static void drop_conn(struct mb_conn *c)
{
	if (c->ctx) {
		modbus_close(c->ctx);
		modbus_free(c->ctx);
		c->ctx = NULL;
		__atomic_fetch_sub(&g_stats.connections, 1, __ATOMIC_RELAXED);
	}
}

static int ensure_conn(struct mb_job *j)
{
	struct mb_conn *c = j->conn;
	if (c->ctx)
		return 0;
	char port[16];
	snprintf(port, sizeof port, "%d", c->port);
	c->ctx = modbus_new_tcp_pi(c->host, port);
	if (!c->ctx) {
		snprintf(j->err, sizeof j->err, "cannot create a Modbus context: %s",
			 strerror(errno));
		return -ENOMEM;
	}
	int t = j->dev->timeout_ms;
	modbus_set_response_timeout(c->ctx, (uint32_t)(t / 1000), (uint32_t)(t % 1000) * 1000);
	modbus_set_byte_timeout(c->ctx, (uint32_t)(t / 1000), (uint32_t)(t % 1000) * 1000);
	if (modbus_connect(c->ctx) < 0) {
		int e = errno;
		snprintf(j->err, sizeof j->err, "connect: %s", modbus_strerror(e));
		modbus_free(c->ctx);
		c->ctx = NULL;
		return e == ETIMEDOUT || e == EINPROGRESS ? -ETIMEDOUT : -ECONNREFUSED;
	}
	__atomic_fetch_add(&g_stats.connections, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&g_stats.reconnects, 1, __ATOMIC_RELAXED);
	return 0;
}

/* One read with retries. A timeout or a broken connection closes the
 * connection (a late answer would otherwise be taken for the next one). */
static int read_regs(struct mb_job *j, int fc, int addr, int n, uint16_t *out)
{
	int tries = 1 + j->dev->retries;
	int rc = -EIO;
	for (int t = 0; t < tries; t++) {
		if ((rc = ensure_conn(j)))
			continue;
		modbus_set_slave(j->conn->ctx, j->dev->url.unit);
		__atomic_fetch_add(&g_stats.requests, 1, __ATOMIC_RELAXED);
		int got = fc == 4 ? modbus_read_input_registers(j->conn->ctx, addr, n, out)
				  : modbus_read_registers(j->conn->ctx, addr, n, out);
		if (got == n)
			return 0;
		int e = got < 0 ? errno : EMBBADDATA;
		if (is_exception(e)) {
			__atomic_fetch_add(&g_stats.exceptions, 1, __ATOMIC_RELAXED);
			int code = e - MODBUS_ENOBASE;
			j->last_exc = code;
			snprintf(j->err, sizeof j->err, "exception %d (%s) reading FC%d %d+%d",
				 code, exc_name(code), fc, addr, n);
			return -EPROTO; /* the device answered: no retry */
		}
		__atomic_fetch_add(&g_stats.errors, 1, __ATOMIC_RELAXED);
		snprintf(j->err, sizeof j->err, "%s reading FC%d %d+%d",
			 e == ETIMEDOUT ? "timeout" : modbus_strerror(e), fc, addr, n);
		rc = e == ETIMEDOUT ? -ETIMEDOUT : -EIO;
		drop_conn(j->conn);
	}
	return rc;
}

static int read_value_regs(struct mb_job *j, const struct wt_mb_value *v, int base, uint16_t *out)
{
	int a = v->rel ? base + v->addr : v->addr;
	if (a + wt_mb_value_regs(v) > 65536)
		return -EINVAL;
	return read_regs(j, v->fc, a, wt_mb_value_regs(v), out);
}

static bool matches(struct mb_job *j, const struct wt_mb_profile *p)
{
	if (!p->n_match)
		return false;
	for (size_t i = 0; i < p->n_match; i++) {
		const struct wt_mb_match *m = &p->match[i];
		uint16_t r[64];
		if (read_value_regs(j, &m->v, 0, r))
			return false;
		if (m->prefix) {
			char s[160];
			wt_mb_decode_str(&m->v, r, s, sizeof s);
			bool ok = false;
			for (char **pp = m->prefix; *pp && !ok; pp++)
				ok = strncmp(s, *pp, strlen(*pp)) == 0;
			if (!ok)
				return false;
		} else {
			long long raw;
			if (!wt_mb_decode_raw(&m->v, r, &raw))
				return false;
			bool ok = false;
			for (size_t k = 0; k < m->n_in && !ok; k++)
				ok = m->in[k] == raw;
			if (!ok)
				return false;
		}
	}
	return true;
}

static int add_point(struct mb_model *m, struct mb_point pt)
{
	if (m->n_pts == m->cap_pts) {
		size_t nc = m->cap_pts ? m->cap_pts * 2 : 64;
		struct mb_point *np = realloc(m->pts, nc * sizeof *np);
		if (!np)
			return -ENOMEM;
		m->pts = np;
		m->cap_pts = nc;
	}
	m->pts[m->n_pts++] = pt;
	return 0;
}

static void expand_name(const char *fmt, long idx, const char *kind, char *out, size_t len)
{
	size_t k = 0;
	for (const char *s = fmt; *s && k + 1 < len; s++) {
		if (strncmp(s, "{i}", 3) == 0) {
			int n = snprintf(out + k, len - k, "%ld", idx);
			if (n < 0 || (size_t)n >= len - k)
				break;
			k += (size_t)n;
			s += 2;
		} else if (strncmp(s, "{kind}", 6) == 0) {
			int n = snprintf(out + k, len - k, "%s", kind);
			if (n < 0 || (size_t)n >= len - k)
				break;
			k += (size_t)n;
			s += 5;
		} else {
			out[k++] = *s;
		}
	}
	out[k] = 0;
}

/* Plans the dynamic points' spans and sizes the buffer. */
static int plan(struct mb_model *m, int max_regs)
{
	struct wt_mb_need *needs = calloc(m->n_pts + 1, sizeof *needs);
	if (!needs)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < m->n_pts; i++) {
		if (m->pts[i].is_static)
			continue;
		needs[n].fc = m->pts[i].v->fc;
		needs[n].addr = m->pts[i].addr;
		needs[n].count = wt_mb_value_regs(m->pts[i].v);
		n++;
	}
	m->spans = calloc(n + 1, sizeof *m->spans);
	m->span_off = calloc(n + 1, sizeof *m->span_off);
	if (!m->spans || !m->span_off) {
		free(needs);
		return -ENOMEM;
	}
	m->n_spans = wt_mb_plan(needs, n, max_regs ? max_regs : m->p->max_regs, m->p->max_gap,
				m->spans);
	free(needs);
	size_t total = 0;
	for (size_t i = 0; i < m->n_spans; i++) {
		m->span_off[i] = total;
		total += (size_t)m->spans[i].count;
	}
	m->buf = calloc(total + 1, sizeof *m->buf);
	return m->buf ? 0 : -ENOMEM;
}

/* Binding: profile, identity, counts, entities, static values, plan. */
static int do_bind(struct mb_job *j)
{
	struct wt_mb_dev *d = j->dev;
	const struct wt_mb_profile_set *set = &d->hub->profiles;
	const struct wt_mb_profile *p = NULL;
	if (d->url.profile[0]) {
		p = wt_mb_profiles_find(set, d->url.profile);
		if (!p) {
			snprintf(j->err, sizeof j->err, "no Modbus profile named %s",
				 d->url.profile);
			return -ENOENT;
		}
	} else {
		for (size_t i = 0; i < set->n && !p; i++) {
			j->err[0] = 0;
			j->last_exc = 0;
			if (matches(j, set->v[i]))
				p = set->v[i];
			else if (!j->conn->ctx && j->err[0])
				return -ETIMEDOUT; /* the device does not answer at all */
			else if (j->last_exc == 10 || j->last_exc == 11)
				return -EHOSTUNREACH; /* the gateway has nothing on this unit id */
			else if (j->last_exc > 3)
				return -EIO; /* device failure or busy: not a mismatch, say why */
		}
		if (!p) {
			snprintf(j->err, sizeof j->err,
				 "no Modbus profile matches the model registers");
			return -ENOENT;
		}
	}
	struct mb_model *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->p = p;
	int rc = 0;
	uint16_t r[128];
	for (int i = 0; i < WT_ID__COUNT; i++) {
		if (p->ident_const[i])
			snprintf(m->ident[i], sizeof m->ident[i], "%s", p->ident_const[i]);
		if (!p->has_ident[i])
			continue;
		if ((rc = read_value_regs(j, &p->ident[i], 0, r)))
			goto fail;
		if (i == WT_ID_RATING) {
			if (!wt_mb_decode(&p->ident[i], r, &m->rating))
				m->rating = 0;
		} else {
			wt_mb_decode_str(&p->ident[i], r, m->ident[i], sizeof m->ident[i]);
		}
	}
	long counts[64] = {0};
	for (size_t i = 0; i < p->n_counts && i < 64; i++) {
		long long raw = 0;
		if ((rc = read_value_regs(j, &p->counts[i].v, 0, r)))
			goto fail;
		if (!wt_mb_decode_raw(&p->counts[i].v, r, &raw) || raw < 0)
			raw = 0;
		counts[i] = (long)raw;
	}
	size_t cap_ents = 0;
	for (size_t e = 0; e < p->n_entities; e++) {
		const struct wt_mb_entity *en = &p->entities[e];
		long n = en->count_ref >= 0 ? counts[en->count_ref] : en->count;
		if (n > en->max)
			n = en->max;
		for (long i = 0; i < n; i++) {
			if (m->n_ents == cap_ents) {
				cap_ents = cap_ents ? cap_ents * 2 : 32;
				struct mb_ent *ne = realloc(m->ents, cap_ents * sizeof *ne);
				if (!ne) {
					rc = -ENOMEM;
					goto fail;
				}
				m->ents = ne;
			}
			struct mb_ent *me = &m->ents[m->n_ents];
			memset(me, 0, sizeof *me);
			me->kind = en->kind;
			me->index = en->index + i;
			me->ctl_addr = -1;
			me->state_pt = -1;
			int base = en->base + en->stride * (int)i;
			const char *kn = wt_entity_kind_name(en->kind);
			if (en->has_name) {
				if ((rc = read_value_regs(j, &en->name, base, r)))
					goto fail;
				wt_mb_decode_str(&en->name, r, me->name, sizeof me->name);
			}
			if (!me->name[0])
				expand_name(en->name_fmt ? en->name_fmt : "{kind} {i}", me->index,
					    kn, me->name, sizeof me->name);
			if (en->control.has) {
				bool sw = true;
				if (en->control.has_switchable) {
					double x = 0;
					if ((rc = read_value_regs(j, &en->control.switchable, base,
								  r)))
						goto fail;
					sw = wt_mb_decode(&en->control.switchable, r, &x) && x != 0;
				}
				if (sw) {
					me->ctl_addr = en->control.addr +
						       en->control.stride * (int)i;
					me->ctl = &en->control;
				}
			}
			for (size_t k = 0; k < en->n_metrics; k++) {
				const struct wt_mb_metric *mm = &en->metrics[k];
				if (mm->has_when) {
					long long raw;
					if ((rc = read_value_regs(j, &mm->when, base, r)))
						goto fail;
					if (!wt_mb_decode_raw(&mm->when, r, &raw) ||
					    raw != mm->when_eq)
						continue;
				}
				struct mb_point pt = {
					.ent = (int)m->n_ents,
					.metric = mm->metric,
					.v = &mm->v,
					.addr = mm->v.rel ? base + mm->v.addr : mm->v.addr,
					.is_static = mm->v.is_static,
				};
				if (pt.addr + wt_mb_value_regs(&mm->v) > 65536)
					continue;
				if (pt.is_static) {
					if ((rc = read_value_regs(j, &mm->v, base, r)))
						goto fail;
					pt.have = wt_mb_decode(&mm->v, r, &pt.value);
				}
				if (mm->metric == WT_M_OUTLET_STATE && me->state_pt < 0)
					me->state_pt = (int)m->n_pts;
				if ((rc = add_point(m, pt)))
					goto fail;
			}
			m->n_ents++;
		}
	}
	if ((rc = plan(m, d->url.max_regs)))
		goto fail;
	j->model = m;
	return 0;
fail:
	model_free(m);
	return rc;
}

static int do_poll(struct mb_job *j, struct mb_model *m)
{
	int rc;
	for (size_t s = 0; s < m->n_spans; s++)
		if ((rc = read_regs(j, m->spans[s].fc, m->spans[s].addr, m->spans[s].count,
				    m->buf + m->span_off[s])))
			return rc;
	/* each point lies inside exactly one span of its function code */
	for (size_t i = 0; i < m->n_pts; i++) {
		struct mb_point *pt = &m->pts[i];
		if (pt->is_static)
			continue;
		pt->have = false;
		int len = wt_mb_value_regs(pt->v);
		for (size_t s = 0; s < m->n_spans; s++) {
			const struct wt_mb_span *sp = &m->spans[s];
			if (sp->fc == pt->v->fc && pt->addr >= sp->addr &&
			    pt->addr + len <= sp->addr + sp->count) {
				pt->have = wt_mb_decode(
					pt->v, m->buf + m->span_off[s] + (pt->addr - sp->addr),
					&pt->value);
				break;
			}
		}
	}
	return 0;
}

static int do_ctl_write(struct mb_job *j)
{
	int rc = ensure_conn(j);
	if (rc)
		return rc;
	struct mb_model *m = j->dev->model;
	const struct mb_ent *e = &m->ents[j->ctl_ent];
	modbus_set_slave(j->conn->ctx, j->dev->url.unit);
	__atomic_fetch_add(&g_stats.requests, 1, __ATOMIC_RELAXED);
	int got;
	if (e->ctl->regs == 2) {
		uint16_t v[2] = {(uint16_t)((unsigned long long)j->ctl_value >> 16),
				 (uint16_t)(j->ctl_value & 0xFFFF)};
		got = modbus_write_registers(j->conn->ctx, e->ctl_addr, 2, v);
	} else if (e->ctl->fc == 16) {
		uint16_t v = (uint16_t)j->ctl_value;
		got = modbus_write_registers(j->conn->ctx, e->ctl_addr, 1, &v);
	} else {
		got = modbus_write_register(j->conn->ctx, e->ctl_addr, (uint16_t)j->ctl_value);
	}
	if (got >= 1)
		return 0;
	int err = errno;
	if (is_exception(err)) {
		int code = err - MODBUS_ENOBASE;
		snprintf(j->err, sizeof j->err, "exception %d (%s) writing %d", code,
			 exc_name(code), e->ctl_addr);
		/* 1/2: the device has no such register or command; 4: this outlet
		 * cannot be switched (MODBUS-PDU-MAP.md); 3: value refused */
		return code == 3 ? -EINVAL : code == 1 || code == 2 || code == 4 ? -ENOTSUP : -EIO;
	}
	snprintf(j->err, sizeof j->err, "%s writing %d", modbus_strerror(err), e->ctl_addr);
	drop_conn(j->conn);
	return err == ETIMEDOUT ? -ETIMEDOUT : -EIO;
}

static int do_ctl_read(struct mb_job *j)
{
	struct mb_model *m = j->dev->model;
	const struct mb_ent *e = &m->ents[j->ctl_ent];
	if (e->state_pt < 0)
		return -ENOTSUP;
	const struct mb_point *pt = &m->pts[e->state_pt];
	uint16_t r[8];
	int rc = read_regs(j, pt->v->fc, pt->addr, wt_mb_value_regs(pt->v), r);
	if (rc)
		return rc;
	j->have_state = wt_mb_decode(pt->v, r, &j->state);
	return 0;
}

static void job_work(void *arg)
{
	struct mb_job *j = arg;
	if (j->dev->dying) {
		j->rc = -ECANCELED;
		return;
	}
	switch (j->kind) {
	case JOB_POLL:
		j->rc = 0;
		if (!j->dev->model)
			j->rc = do_bind(j);
		if (!j->rc)
			j->rc = do_poll(j, j->model ? j->model : j->dev->model);
		break;
	case JOB_CTL_WRITE:
		j->rc = do_ctl_write(j);
		break;
	case JOB_CTL_READ:
		j->rc = do_ctl_read(j);
		break;
	}
}

/* --- loop side --- */

static void job_done(void *arg, bool cancelled);
static void ctl_finish(struct wt_mb_dev *d, int status);

static void deferred_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	job_done(arg, false);
}

static void conn_kick(struct mb_conn *c)
{
	if (c->running || !c->head || !g_hub)
		return;
	struct mb_job *j = c->head;
	c->head = j->next;
	if (!c->head)
		c->tail = NULL;
	j->next = NULL;
	c->running = true;
	__atomic_fetch_add(&g_stats.jobs, 1, __ATOMIC_RELAXED);
	if (wt_workers_submit(g_hub->pool, job_work, job_done, j)) {
		j->rc = -EAGAIN;
		snprintf(j->err, sizeof j->err, "the Modbus worker queue is full");
		/* completes later on the loop, as if it had run: a poll's done is
		 * never called from inside poll() */
		struct timeval tv = {0, 0};
		if (event_base_once(g_hub->base, -1, EV_TIMEOUT, deferred_done, j, &tv))
			job_done(j, false);
	}
}

static void enqueue(struct mb_job *j)
{
	struct mb_conn *c = j->conn;
	j->dev->jobs++;
	if (c->tail)
		c->tail->next = j;
	else
		c->head = j;
	c->tail = j;
	conn_kick(c);
}

static void dev_free_now(struct wt_mb_dev *d)
{
	struct mb_hub *h = d->hub;
	if (d->ctl.timer)
		event_free(d->ctl.timer);
	model_free(d->model);
	conn_put(h, d->conn);
	free(d);
	hub_put(h);
}

static void emit(struct wt_mb_dev *d, bool with_static)
{
	struct mb_model *m = d->model;
	struct wt_sample *s = calloc(m->n_pts + 1, sizeof *s);
	if (!s)
		return;
	size_t n = 0;
	int64_t now = wt_clock_now(d->env.clock);
	for (size_t i = 0; i < m->n_pts; i++) {
		const struct mb_point *pt = &m->pts[i];
		if (!pt->have || !pt->resolved || (pt->is_static && !with_static))
			continue;
		s[n].series = pt->series;
		s[n].quality = WT_Q_GOOD;
		s[n].ts_ms = now;
		s[n].value = pt->value;
		n++;
	}
	if (n && d->env.sink.emit)
		d->env.sink.emit(d->env.sink.ctx, s, n);
	free(s);
}

static void resolve_all(struct wt_mb_dev *d)
{
	struct mb_model *m = d->model;
	for (size_t i = 0; i < m->n_pts; i++) {
		struct mb_point *pt = &m->pts[i];
		const struct mb_ent *e = &m->ents[pt->ent];
		pt->resolved = d->env.resolver.resolve &&
			       d->env.resolver.resolve(d->env.resolver.ctx, d->id, 1, e->kind,
						       e->index, e->name, pt->metric,
						       &pt->series) == 0;
	}
}

static void ctl_step(struct wt_mb_dev *d, bool first);

static void job_done(void *arg, bool cancelled)
{
	struct mb_job *j = arg;
	struct wt_mb_dev *d = j->dev;
	struct mb_conn *c = j->conn;
	if (g_hub)
		g_hub->in_done++;
	c->running = false;
	d->jobs--;
	if (cancelled && !j->rc)
		j->rc = -ECANCELED;
	if (d->dying) {
		model_free(j->model);
		free(j);
		conn_kick(c); /* before the device's conn reference goes */
		if (d->jobs == 0)
			dev_free_now(d);
		goto out;
	}
	if (j->rc && j->err[0])
		snprintf(d->err, sizeof d->err, "%s", j->err);
	switch (j->kind) {
	case JOB_POLL: {
		enum wt_poll_result r = WT_POLL_OK;
		if (j->model) {
			model_free(d->model);
			d->model = j->model;
			j->model = NULL;
			resolve_all(d);
			d->need_static = true;
		}
		if (j->rc == -ENOENT && !d->model)
			r = WT_POLL_NO_PROFILE;
		else if (j->rc)
			r = WT_POLL_FAILED;
		if (!j->rc) {
			d->err[0] = 0;
			emit(d, d->need_static);
			d->need_static = false;
		}
		d->poll_busy = false;
		wt_poll_done_fn done = d->done;
		void *ctx = d->done_ctx;
		free(j);
		conn_kick(c);
		if (done)
			done(ctx, r);
		goto out;
	}
	case JOB_CTL_WRITE:
		if (d->ctl.active) {
			if (j->rc)
				ctl_finish(d, j->rc);
			else
				ctl_step(d, true);
		}
		break;
	case JOB_CTL_READ:
		d->ctl.read_queued = false;
		if (d->ctl.active) {
			if (!j->rc && j->have_state) {
				int st = j->state != 0;
				if (!st)
					d->ctl.saw_off = true;
				bool cyc = d->ctl.cmd == WT_CTL_CYCLE ||
					   d->ctl.cmd == WT_CTL_DELAYED_CYCLE;
				if (cyc ? d->ctl.saw_off : st == d->ctl.target) {
					/* the next poll's state point shows it too */
					ctl_finish(d, 0);
					break;
				}
			}
			ctl_step(d, false);
		}
		break;
	}
	free(j);
	conn_kick(c);
out:
	if (g_hub)
		g_hub->in_done--;
}

/* ---- control ---- */

static void ctl_finish(struct wt_mb_dev *d, int status)
{
	d->ctl.active = false;
	if (d->ctl.timer)
		evtimer_del(d->ctl.timer);
	void (*done)(void *, int) = d->ctl.done;
	void *ctx = d->ctl.ctx;
	d->ctl.done = NULL;
	if (done)
		done(ctx, status);
}

static struct mb_job *new_job(struct wt_mb_dev *d, enum job_kind k)
{
	struct mb_job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->kind = k;
	j->dev = d;
	j->conn = d->conn;
	return j;
}

static void ctl_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct wt_mb_dev *d = arg;
	if (!d->ctl.active || d->ctl.read_queued)
		return;
	if (wt_clock_now(d->env.clock) >= d->ctl.deadline) {
		ctl_finish(d, -EAGAIN);
		return;
	}
	struct mb_job *j = new_job(d, JOB_CTL_READ);
	if (!j) {
		ctl_finish(d, -ENOMEM);
		return;
	}
	j->ctl_ent = d->ctl.ent;
	d->ctl.read_queued = true;
	enqueue(j);
}

/* Re-reads the outlet state (at once after the write, then every 200 ms)
 * until confirmed or the deadline. */
static void ctl_step(struct wt_mb_dev *d, bool first)
{
	struct timeval tv = {0, first ? 0 : 200000};
	evtimer_add(d->ctl.timer, &tv);
}

static int mb_control(void *inst, int unit, long outlet, int cmd, int verify_ms,
		      void (*done)(void *ctx, int status), void *ctx)
{
	struct wt_mb_dev *d = inst;
	if (cmd < 0 || cmd >= WT_CTL__COUNT || !done)
		return -EINVAL;
	if (d->ctl.active)
		return -EBUSY;
	if (!d->model)
		return -EAGAIN; /* not bound yet: poll first */
	int ent = -1;
	for (size_t i = 0; i < d->model->n_ents; i++)
		if ((d->model->ents[i].kind == WT_ENT_OUTLET ||
		     d->model->ents[i].kind == WT_ENT_OUTPUT) &&
		    d->model->ents[i].index == outlet && unit <= 1)
			ent = (int)i;
	if (ent < 0)
		return -ENOENT;
	const struct mb_ent *e = &d->model->ents[ent];
	if (e->ctl_addr < 0 || e->ctl->value[cmd] < 0 || e->state_pt < 0)
		return -ENOTSUP;
	if (!d->ctl.timer && !(d->ctl.timer = evtimer_new(d->env.base, ctl_timer, d)))
		return -ENOMEM;
	struct mb_job *j = new_job(d, JOB_CTL_WRITE);
	if (!j)
		return -ENOMEM;
	j->ctl_ent = ent;
	j->ctl_value = e->ctl->value[cmd];
	d->ctl = (struct ctl_op){
		.active = true,
		.ent = ent,
		.cmd = cmd,
		.target = cmd == WT_CTL_ON || cmd == WT_CTL_DELAYED_ON || cmd == WT_CTL_CYCLE ||
			  cmd == WT_CTL_DELAYED_CYCLE,
		.deadline = wt_clock_now(d->env.clock) + (verify_ms > 0 ? verify_ms : 10000),
		.timer = d->ctl.timer,
		.done = done,
		.ctx = ctx,
	};
	enqueue(j);
	return 0;
}

/* ---- driver ops ---- */

int wt_modbus_url_parse(const char *url, struct wt_modbus_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	u->port = 502;
	u->unit = 1;
	const char *p;
	if (strncmp(url, "modbus://", 9) == 0)
		p = url + 9;
	else if (strncmp(url, "modbus+tcp://", 13) == 0)
		p = url + 13;
	else {
		snprintf(err, errlen, "not a modbus:// URL");
		return -EINVAL;
	}
	size_t hl;
	const char *rest;
	if (*p == '[') {
		const char *e = strchr(p, ']');
		if (!e) {
			snprintf(err, errlen, "unterminated [IPv6] host");
			return -EINVAL;
		}
		hl = (size_t)(e - p - 1);
		if (hl >= sizeof u->host)
			goto bad_host;
		memcpy(u->host, p + 1, hl);
		rest = e + 1;
	} else {
		hl = strcspn(p, ":/?");
		if (hl == 0 || hl >= sizeof u->host)
			goto bad_host;
		memcpy(u->host, p, hl);
		rest = p + hl;
	}
	if (*rest == ':') {
		char *end;
		long port = strtol(rest + 1, &end, 10);
		if (end == rest + 1 || port < 1 || port > 65535) {
			snprintf(err, errlen, "bad port");
			return -EINVAL;
		}
		u->port = (int)port;
		rest = end;
	}
	if (*rest == '/')
		rest++;
	if (*rest == '?') {
		rest++;
		while (*rest) {
			size_t l = strcspn(rest, "&");
			char kv[128];
			if (l >= sizeof kv) {
				snprintf(err, errlen, "option too long");
				return -EINVAL;
			}
			memcpy(kv, rest, l);
			kv[l] = 0;
			rest += l + (rest[l] == '&');
			char *eq = strchr(kv, '=');
			if (!eq) {
				snprintf(err, errlen, "option without a value");
				return -EINVAL;
			}
			*eq = 0;
			const char *val = eq + 1;
			char *end;
			if (strcmp(kv, "unit") == 0) {
				long x = strtol(val, &end, 10);
				if (end == val || *end || x < 0 || x > 255) {
					snprintf(err, errlen, "unit must be 0..255");
					return -EINVAL;
				}
				u->unit = (int)x;
			} else if (strcmp(kv, "max_registers") == 0) {
				long x = strtol(val, &end, 10);
				if (end == val || *end || x < 1 || x > WT_MB_MAX_READ) {
					snprintf(err, errlen, "max_registers must be 1..125");
					return -EINVAL;
				}
				u->max_regs = (int)x;
			} else if (strcmp(kv, "profile") == 0) {
				if (!*val || strlen(val) >= sizeof u->profile) {
					snprintf(err, errlen, "bad profile name");
					return -EINVAL;
				}
				snprintf(u->profile, sizeof u->profile, "%s", val);
			} else {
				snprintf(err, errlen, "unknown option %s", kv);
				return -EINVAL;
			}
		}
	} else if (*rest) {
		snprintf(err, errlen, "unexpected text after the address");
		return -EINVAL;
	}
	return 0;
bad_host:
	snprintf(err, errlen, "bad host");
	return -EINVAL;
}

static int mb_create(const struct wt_driver_env *env, long device_id, const char *name,
		     const char *url, int timeout_ms, int retries, void **inst, char *err,
		     size_t errlen)
{
	struct wt_modbus_url u;
	int rc = wt_modbus_url_parse(url, &u, err, errlen);
	if (rc)
		return rc;
	struct mb_hub *h = hub_get(env->base);
	if (!h) {
		snprintf(err, errlen, "cannot start the Modbus workers");
		return -ENOMEM;
	}
	struct wt_mb_dev *d = calloc(1, sizeof *d);
	struct mb_conn *c = d ? conn_get(h, u.host, u.port) : NULL;
	if (!c) {
		free(d);
		hub_put(h);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->env = *env;
	d->hub = h;
	d->conn = c;
	d->id = device_id;
	snprintf(d->name, sizeof d->name, "%s", name ? name : "");
	d->url = u;
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
	d->retries = retries >= 0 && retries <= 5 ? retries : 1;
	*inst = d;
	return 0;
}

static void mb_destroy(void *inst)
{
	struct wt_mb_dev *d = inst;
	if (!d)
		return;
	d->dying = true;
	d->ctl.active = false;
	if (d->ctl.timer)
		evtimer_del(d->ctl.timer);
	/* drop this device's jobs that have not reached a worker */
	struct mb_conn *c = d->conn;
	struct mb_job **pp = &c->head;
	c->tail = NULL;
	while (*pp) {
		struct mb_job *j = *pp;
		if (j->dev == d) {
			*pp = j->next;
			d->jobs--;
			free(j);
		} else {
			c->tail = j;
			pp = &j->next;
		}
	}
	if (d->jobs == 0)
		dev_free_now(d);
}

static int mb_poll(void *inst, wt_poll_done_fn done, void *ctx)
{
	struct wt_mb_dev *d = inst;
	if (d->poll_busy)
		return -EBUSY;
	struct mb_job *j = new_job(d, JOB_POLL);
	if (!j)
		return -ENOMEM;
	d->poll_busy = true;
	d->done = done;
	d->done_ctx = ctx;
	enqueue(j);
	return 0;
}

static void mb_rebind(void *inst)
{
	struct wt_mb_dev *d = inst;
	/* a job on a worker may be reading the model: drop it when idle only */
	if (d->jobs == 0 && !d->ctl.active) {
		model_free(d->model);
		d->model = NULL;
	}
}

static const char *mb_last_error(void *inst)
{
	return ((struct wt_mb_dev *)inst)->err;
}

static const char *const ident_keys[WT_ID__COUNT] = {"vendor",   "model", "serial",
						     "firmware", "name",  "rating_a"};

static char *mb_describe(void *inst)
{
	struct wt_mb_dev *d = inst;
	json_t *o = json_object();
	char url[400];
	snprintf(url, sizeof url, "modbus://%s:%d?unit=%d", d->url.host, d->url.port, d->url.unit);
	json_object_set_new(o, "format", json_integer(1));
	json_object_set_new(o, "url", json_string(url));
	json_object_set_new(o, "protocol", json_string("modbus"));
	json_object_set_new(o, "error", d->err[0] ? json_string(d->err) : json_null());
	struct mb_model *m = d->model;
	if (!m) {
		json_object_set_new(o, "profile", json_null());
		goto out;
	}
	json_t *prof = json_object();
	json_object_set_new(prof, "name", json_string(m->p->name));
	json_object_set_new(prof, "file", m->p->file ? json_string(m->p->file) : json_null());
	json_object_set_new(prof, "device_type", json_string(m->p->device_type));
	json_object_set_new(o, "profile", prof);
	json_t *id = json_object();
	for (int i = 0; i < WT_ID__COUNT; i++)
		json_object_set_new(id, ident_keys[i],
				    i == WT_ID_RATING
					    ? (m->rating > 0 ? json_real(m->rating) : json_null())
				    : m->ident[i][0] ? json_string(m->ident[i])
						     : json_null());
	json_object_set_new(o, "identity", id);
	json_t *units = json_array();
	json_array_append_new(units, json_integer(1));
	json_object_set_new(o, "units", units);
	json_t *requests = json_array();
	for (size_t s = 0; s < m->n_spans; s++) {
		json_t *r = json_object();
		json_object_set_new(r, "fc", json_integer(m->spans[s].fc));
		json_object_set_new(r, "addr", json_integer(m->spans[s].addr));
		json_object_set_new(r, "count", json_integer(m->spans[s].count));
		json_array_append_new(requests, r);
	}
	json_object_set_new(o, "requests", requests);
	json_t *ents = json_array();
	for (size_t e = 0; e < m->n_ents; e++) {
		const struct mb_ent *en = &m->ents[e];
		json_t *je = json_object();
		json_object_set_new(je, "kind", json_string(wt_entity_kind_name(en->kind)));
		json_object_set_new(je, "index", json_integer(en->index));
		json_object_set_new(je, "unit", json_integer(1));
		json_object_set_new(je, "name", json_string(en->name));
		json_object_set_new(je, "switchable", json_boolean(en->ctl_addr >= 0));
		json_t *ctl = json_array();
		for (int c = 0; en->ctl_addr >= 0 && c < WT_CTL__COUNT; c++)
			if (en->ctl->value[c] >= 0)
				json_array_append_new(ctl, json_string(wt_ctl_cmd_name(c)));
		json_object_set_new(je, "controls", ctl);
		json_t *rs = json_array();
		for (size_t k = 0; k < m->n_pts; k++) {
			const struct mb_point *pt = &m->pts[k];
			if (pt->ent != (int)e)
				continue;
			const struct wt_metric_info *mi = wt_metric_info(pt->metric);
			json_t *r = json_object();
			json_object_set_new(r, "metric", json_string(mi ? mi->name : "?"));
			json_object_set_new(r, "value",
					    pt->have ? json_real(pt->value) : json_null());
			json_object_set_new(r, "unit", json_string(mi ? mi->unit : ""));
			json_object_set_new(r, "fc", json_integer(pt->v->fc));
			json_object_set_new(r, "register", json_integer(pt->addr));
			json_object_set_new(r, "static", json_boolean(pt->is_static));
			json_array_append_new(rs, r);
		}
		json_object_set_new(je, "readings", rs);
		json_array_append_new(ents, je);
	}
	json_object_set_new(o, "entities", ents);
out:;
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	json_decref(o);
	return s;
}

const struct wt_driver_ops wt_modbus_ops = {
	.version = WT_DRIVER_OPS_VERSION,
	.name = "modbus",
	.create = mb_create,
	.destroy = mb_destroy,
	.poll = mb_poll,
	.rebind = mb_rebind,
	.last_error = mb_last_error,
	.control = mb_control,
	.describe = mb_describe,
};
