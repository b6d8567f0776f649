/* The series cache and its non-blocking resolver (daemon_series.h). */
#include "daemon_series.h"

#include "log.h"
#include "model.h"
#include "pollers/sched.h"
#include "rules/engine.h"
#include "storage/registry.h"
#include "storage/storage.h"
#include "workers.h"

#include <errno.h>
#include <pthread.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Values in the table: 0 = queued, FAILED = the worker could not create it
 * (a later bind queues it again). Series ids start at 1. */
#define QUEUED 0u
#define FAILED UINT32_MAX

struct key {
	int64_t device;
	int64_t idx;
	int32_t kind, metric;
};

struct slot {
	struct key k;
	uint32_t id;
	bool used;
};

#define NAME_MAX_LEN 127 /* an entity name longer than this is cut */

struct item {
	struct key k;
	uint32_t name;  /* offset of the entity name in the queue's names */
	int32_t entity; /* set by the worker */
	uint32_t id;    /* set by the worker; 0 on failure */
};

/* Misses waiting for a worker, or one batch in flight: the items and their
 * names (NUL-separated, so a 5,000-PDU bind of 660,000 series queues about
 * 30 MB, not 128 bytes of name per series). */
struct queue {
	struct item *v;
	size_t n, cap;
	char *names;
	size_t nlen, ncap;
};

struct batch {
	struct wt_series_cache *c;
	struct queue q;
	double work_s; /* the worker's time in PostgreSQL */
};

struct wt_series_cache {
	struct event_base *base;
	struct wt_workers *workers;
	struct wt_storage *storage;
	struct wt_sched *sched;
	struct wt_rules *rules;
	char *conninfo;
	PGconn *pg, *pg2; /* used by the one batch in flight only */
	struct slot *tab;
	size_t cap, used;
	struct queue pend;
	size_t n_busy; /* items of the batch in flight */
	bool busy;
	struct event *retry;
	struct event *soon; /* kicks once the loop has run every bind of this round */
	uint64_t created;
};

long wt_series_entity_index(int unit, long index)
{
	return unit > 1 ? (long)(unit - 1) * 1000 + index : index;
}

static uint64_t hash_key(const struct key *k)
{
	uint64_t h = 1469598103934665603ull;
	const int64_t f[4] = {k->device, k->idx, k->kind, k->metric};
	for (int i = 0; i < 4; i++) {
		h ^= (uint64_t)f[i];
		h *= 1099511628211ull;
		h ^= h >> 29;
	}
	return h;
}

static bool key_eq(const struct key *a, const struct key *b)
{
	return a->device == b->device && a->idx == b->idx && a->kind == b->kind &&
	       a->metric == b->metric;
}

static struct slot *lookup(struct wt_series_cache *c, const struct key *k)
{
	size_t m = c->cap - 1;
	for (size_t i = hash_key(k) & m;; i = (i + 1) & m) {
		if (!c->tab[i].used || key_eq(&c->tab[i].k, k))
			return &c->tab[i];
	}
}

static int grow(struct wt_series_cache *c)
{
	size_t ncap = c->cap ? c->cap * 2 : 4096;
	struct slot *old = c->tab;
	size_t ocap = c->cap;
	c->tab = calloc(ncap, sizeof *c->tab);
	if (!c->tab) {
		c->tab = old;
		return -ENOMEM;
	}
	c->cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].used)
			*lookup(c, &old[i].k) = old[i];
	free(old);
	return 0;
}

/* Inserts or updates; 0 or -ENOMEM. */
static int put(struct wt_series_cache *c, const struct key *k, uint32_t id)
{
	if ((c->used + 1) * 4 > c->cap * 3 && grow(c))
		return -ENOMEM;
	struct slot *s = lookup(c, k);
	if (!s->used) {
		s->used = true;
		s->k = *k;
		c->used++;
	}
	s->id = id;
	return 0;
}

static void on_retry(evutil_socket_t fd, short what, void *arg);

int wt_series_cache_new(struct wt_series_cache **out, struct event_base *base,
			struct wt_workers *workers, const char *conninfo, struct wt_storage *storage)
{
	struct wt_series_cache *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->base = base;
	c->workers = workers;
	c->storage = storage;
	c->conninfo = strdup(conninfo);
	c->soon = evtimer_new(base, on_retry, c);
	if (!c->conninfo || !c->soon || grow(c)) {
		wt_series_cache_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

int wt_series_cache_load(struct wt_series_cache *c, PGconn *pg)
{
	PGresult *r = PQexec(pg, "SELECT s.id, e.device_id, e.kind, e.idx, s.metric FROM series s "
				 "JOIN entities e ON e.id = s.entity_id");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		wt_error("series cache: %s", PQerrorMessage(pg));
		PQclear(r);
		return -EIO;
	}
	int n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		struct key k = {
			.device = strtoll(PQgetvalue(r, i, 1), NULL, 10),
			.kind = wt_entity_kind_by_name(PQgetvalue(r, i, 2)),
			.idx = strtoll(PQgetvalue(r, i, 3), NULL, 10),
			.metric = (int32_t)strtol(PQgetvalue(r, i, 4), NULL, 10),
		};
		if (k.kind < 0)
			continue;
		if (put(c, &k, (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10))) {
			PQclear(r);
			return -ENOMEM;
		}
	}
	PQclear(r);
	return n;
}

void wt_series_cache_set_targets(struct wt_series_cache *c, struct wt_sched *sched,
				 struct wt_rules *rules)
{
	c->sched = sched;
	c->rules = rules;
}

static void kick(struct wt_series_cache *c);

/* ---- the worker side ---- */

static bool exec_ok(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		wt_error("series cache: %s: %s", sql, PQerrorMessage(pg));
	PQclear(r);
	return ok;
}

/* Creates w[0..n) under a savepoint; when that fails (a device deleted
 * meanwhile, a name PostgreSQL refuses) the halves are tried apart, so k
 * bad entries cost about k * log2(n) small statements and the others are
 * still created. False when the connection or transaction is unusable. */
static bool create_range(PGconn *pg, struct wt_series_want *w, size_t n)
{
	if (!n)
		return true;
	if (!exec_ok(pg, "SAVEPOINT bulk"))
		return false;
	if (wt_registry_series_bulk(pg, w, n) == 0)
		return exec_ok(pg, "RELEASE SAVEPOINT bulk");
	if (!exec_ok(pg, "ROLLBACK TO SAVEPOINT bulk") || !exec_ok(pg, "RELEASE SAVEPOINT bulk"))
		return false;
	for (size_t i = 0; i < n; i++) {
		w[i].entity_id = 0;
		w[i].series_id = 0;
	}
	if (n == 1)
		return true; /* logged by the registry; its id stays 0 */
	return create_range(pg, w, n / 2) && create_range(pg, w + n / 2, n - n / 2);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A batch this large is split by device parity over two connections (two
 * transactions, disjoint entities, so no lock between them): PostgreSQL's
 * per-row foreign-key checks are most of the cost, and they use one core
 * per connection. */
#define SPLIT_MIN 20000

struct part {
	struct wt_series_cache *c;
	PGconn **pg;
	struct wt_series_want *w;
	size_t n;
};

static bool connect_pg(struct wt_series_cache *c, PGconn **pg)
{
	if (*pg && PQstatus(*pg) == CONNECTION_OK)
		return true;
	PQfinish(*pg);
	*pg = PQconnectdb(c->conninfo);
	if (PQstatus(*pg) != CONNECTION_OK) {
		wt_error("series cache: cannot connect: %s", PQerrorMessage(*pg));
		return false;
	}
	/* A batch's one-probe-per-row lookups are costed past jit_above_cost;
	 * compiling them takes longer than running them (180 ms of 380 ms per
	 * 50,000 series, measured). */
	(void)exec_ok(*pg, "SET jit = off");
	return true;
}

/* One transaction (one fsync) for the part; ids stay 0 when it fails. */
static void *run_part(void *arg)
{
	struct part *p = arg;
	bool ok = connect_pg(p->c, p->pg) && exec_ok(*p->pg, "BEGIN") &&
		  create_range(*p->pg, p->w, p->n) && exec_ok(*p->pg, "COMMIT");
	if (!ok) {
		if (*p->pg && PQtransactionStatus(*p->pg) != PQTRANS_IDLE)
			(void)exec_ok(*p->pg, "ROLLBACK");
		for (size_t i = 0; i < p->n; i++) {
			p->w[i].entity_id = 0;
			p->w[i].series_id = 0;
		}
	}
	return NULL;
}

/* Every queued miss at once, in a few statements per 50,000 series
 * (wt_registry_series_bulk). */
static void batch_work(void *arg)
{
	struct batch *b = arg;
	struct wt_series_cache *c = b->c;
	size_t n = b->q.n;
	double t0 = now_s();

	struct wt_series_want *w = calloc(n ? n : 1, sizeof(*w));
	size_t *from = calloc(n ? n : 1, sizeof(*from));
	if (!w || !from) {
		wt_error("series cache: no memory for %zu series", n);
		free(w);
		free(from);
		return;
	}
	/* even devices from the front, odd ones from the back */
	size_t na = 0, nb = 0;
	for (size_t i = 0; i < n; i++) {
		const struct item *it = &b->q.v[i];
		size_t j = it->k.device % 2 == 0 || n < SPLIT_MIN ? na++ : n - 1 - nb++;
		from[j] = i;
		w[j] = (struct wt_series_want){
			.device_id = it->k.device > 0 && it->k.device <= INT32_MAX ? (int32_t)it->k.device
										     : 0,
			.kind = it->k.kind,
			.idx = (int32_t)it->k.idx,
			.metric = it->k.metric,
			.name = b->q.names + it->name,
		};
	}
	struct part pa = {c, &c->pg, w, na}, pb = {c, &c->pg2, w + na, nb};
	pthread_t t;
	bool two = nb > 0 && pthread_create(&t, NULL, run_part, &pb) == 0;
	run_part(&pa);
	if (two)
		pthread_join(t, NULL);
	else if (nb)
		run_part(&pb);
	for (size_t j = 0; j < n; j++) {
		b->q.v[from[j]].entity = w[j].entity_id;
		b->q.v[from[j]].id = w[j].series_id;
	}
	free(w);
	free(from);
	b->work_s = now_s() - t0;
}

static int cmp_dev(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void queue_free(struct queue *q)
{
	free(q->v);
	free(q->names);
	memset(q, 0, sizeof(*q));
}

static void batch_done(void *arg, bool cancelled)
{
	struct batch *b = arg;
	struct wt_series_cache *c = b->c;
	int64_t *devs = calloc(b->q.n + 1, sizeof *devs);
	size_t nd = 0, failed = 0, made = 0;

	c->busy = false;
	c->n_busy = 0;
	for (size_t i = 0; i < b->q.n && !cancelled; i++) {
		struct item *it = &b->q.v[i];
		if (!it->id) {
			failed++;
			(void)put(c, &it->k, FAILED); /* the slot exists: no allocation */
			continue;
		}
		(void)put(c, &it->k, it->id);
		c->created++;
		made++;
		const struct wt_metric_info *mi = wt_metric_info((enum wt_metric)it->k.metric);
		if (wt_storage_register(c->storage, it->id, mi ? mi->flags : 0, 0) < 0)
			wt_error("series cache: cannot register series %u", it->id);
		if (c->rules) {
			int kind = it->k.kind;
			long idx = it->k.idx;
			struct wt_rules_series rs = {
				.series = it->id,
				.device_id = it->k.device,
				.entity_id = it->entity,
				.entity_kind = kind,
				.entity_index = (int)idx,
				.phase = (uint8_t)(kind == WT_ENT_PHASE && idx >= 1 && idx <= 3 ? idx : 0),
				.metric = it->k.metric,
				.entity_name = b->q.names + it->name,
			};
			int rc = wt_rules_series_set(c->rules, &rs);
			if (rc < 0 && rc != -EEXIST)
				wt_warn("series cache: rules did not take series %u: %s", it->id,
					strerror(-rc));
		}
		if (devs)
			devs[nd++] = it->k.device;
	}
	if (failed)
		wt_warn("series cache: %zu series could not be created (retried at the next bind)",
			failed);
	if (devs && c->sched && !cancelled) {
		qsort(devs, nd, sizeof *devs, cmp_dev);
		for (size_t i = 0; i < nd; i++)
			if (i == 0 || devs[i] != devs[i - 1])
				(void)wt_sched_rebind(c->sched, (long)devs[i]);
	}
	if (!cancelled && made)
		wt_info("series cache: %zu new series resolved (%.2f s in PostgreSQL, %.0f series/s)",
			made, b->work_s, b->work_s > 0 ? (double)b->q.n / b->work_s : 0.0);
	free(devs);
	queue_free(&b->q);
	free(b);
	if (!cancelled)
		kick(c);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	kick(arg);
}

/* Hands every queued miss to a worker when none is in flight: devices that
 * bind while a batch runs wait for the next one, so a fleet binding at
 * once is created in a handful of batches. */
static void kick(struct wt_series_cache *c)
{
	if (c->busy || !c->pend.n)
		return;
	struct batch *b = calloc(1, sizeof *b);
	if (!b)
		goto later;
	b->c = c;
	b->q = c->pend;
	if (wt_workers_submit(c->workers, batch_work, batch_done, b) < 0) {
		free(b);
		goto later;
	}
	c->n_busy = c->pend.n;
	memset(&c->pend, 0, sizeof(c->pend));
	c->busy = true;
	return;
later:
	/* queue full or no memory: the misses stay queued, try again soon */
	if (!c->retry)
		c->retry = evtimer_new(c->base, on_retry, c);
	if (c->retry && !evtimer_pending(c->retry, NULL)) {
		struct timeval tv = {1, 0};
		evtimer_add(c->retry, &tv);
	}
}

/* Appends a miss and its entity name; 0 or -ENOMEM (nothing appended). */
static int enqueue(struct queue *q, const struct key *k, const char *name)
{
	size_t len = strnlen(name, NAME_MAX_LEN);
	if (q->n == q->cap) {
		size_t nc = q->cap ? q->cap * 2 : 256;
		struct item *v = realloc(q->v, nc * sizeof *v);
		if (!v)
			return -ENOMEM;
		q->v = v;
		q->cap = nc;
	}
	if (q->nlen + len + 1 > q->ncap) {
		size_t nc = q->ncap ? q->ncap * 2 : 4096;
		while (nc < q->nlen + len + 1)
			nc *= 2;
		char *p = realloc(q->names, nc);
		if (!p)
			return -ENOMEM;
		q->names = p;
		q->ncap = nc;
	}
	memcpy(q->names + q->nlen, name, len);
	q->names[q->nlen + len] = 0;
	q->v[q->n++] = (struct item){.k = *k, .name = (uint32_t)q->nlen};
	q->nlen += len + 1;
	return 0;
}

static int resolve(void *ctx, long device_id, int unit, int kind, long index,
		   const char *entity_name, int metric, uint32_t *series)
{
	struct wt_series_cache *c = ctx;
	struct key k = {device_id, wt_series_entity_index(unit, index), kind, metric};

	if (kind < 0 || kind >= WT_ENT__COUNT || !wt_metric_info((enum wt_metric)metric))
		return -EINVAL;
	struct slot *s = lookup(c, &k);
	if (s->used && s->id != QUEUED && s->id != FAILED) {
		*series = s->id;
		return 0;
	}
	if (s->used && s->id == QUEUED)
		return -EAGAIN;
	if (c->pend.nlen + NAME_MAX_LEN + 1 > UINT32_MAX)
		return -ENOMEM; /* 4 GB of names queued: not a real fleet */
	char defname[64];
	if (!entity_name || !*entity_name) {
		snprintf(defname, sizeof defname, "%s %ld", wt_entity_kind_name(kind), index);
		entity_name = defname;
	}
	/* Reserve the table slot first: put() may grow the table, which moves
	 * the slot, but a queued item without its slot would be created twice. */
	if (put(c, &k, QUEUED))
		return -ENOMEM;
	if (enqueue(&c->pend, &k, entity_name)) {
		struct slot *q = lookup(c, &k);
		q->id = FAILED; /* the next bind asks again */
		return -ENOMEM;
	}
	/* Not kick() here: the other binds of this loop round (a fleet's
	 * devices answer together) join the same batch. */
	if (!c->busy && !evtimer_pending(c->soon, NULL)) {
		struct timeval tv = {0, 0};
		evtimer_add(c->soon, &tv);
	}
	return -EAGAIN;
}

struct wt_series_resolver wt_series_cache_resolver(struct wt_series_cache *c)
{
	return (struct wt_series_resolver){resolve, c};
}

void wt_series_cache_counts(const struct wt_series_cache *c, size_t *known, uint64_t *created,
			    size_t *pending)
{
	*known = c->used;
	*created = c->created;
	*pending = c->pend.n + c->n_busy;
}

void wt_series_cache_free(struct wt_series_cache *c)
{
	if (!c)
		return;
	if (c->retry)
		event_free(c->retry);
	if (c->soon)
		event_free(c->soon);
	PQfinish(c->pg);
	PQfinish(c->pg2);
	free(c->conninfo);
	free(c->tab);
	queue_free(&c->pend);
	free(c);
}
