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
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values in the table: 0 = queued, FAILED = the worker could not create it
 * (a later bind queues it again). Series ids start at 1. */
#define QUEUED 0u
#define FAILED UINT32_MAX
#define BATCH_MAX 2048

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

struct item {
	struct key k;
	char name[128];
	int64_t entity; /* set by the worker */
	uint32_t id;    /* set by the worker; 0 on failure */
};

struct batch {
	struct wt_series_cache *c;
	struct item *v;
	size_t n;
};

struct wt_series_cache {
	struct event_base *base;
	struct wt_workers *workers;
	struct wt_storage *storage;
	struct wt_sched *sched;
	struct wt_rules *rules;
	char *conninfo;
	PGconn *pg; /* used by the one batch in flight only */
	struct slot *tab;
	size_t cap, used;
	struct item *pend;
	size_t n_pend, cap_pend;
	bool busy;
	struct event *retry;
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
	if (!c->conninfo || grow(c)) {
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

static void batch_work(void *arg)
{
	struct batch *b = arg;
	struct wt_series_cache *c = b->c;

	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		PQfinish(c->pg);
		c->pg = PQconnectdb(c->conninfo);
		if (PQstatus(c->pg) != CONNECTION_OK) {
			wt_error("series cache: cannot connect: %s", PQerrorMessage(c->pg));
			return;
		}
	}
	/* One transaction for the batch (one fsync, not two per series); a
	 * savepoint per series, so one refusal (a device deleted meanwhile)
	 * costs only that series. */
	if (!exec_ok(c->pg, "BEGIN"))
		return;
	for (size_t i = 0; i < b->n; i++) {
		struct item *it = &b->v[i];
		int32_t eid;
		uint32_t sid;
		if (!exec_ok(c->pg, "SAVEPOINT s"))
			break;
		if (wt_registry_upsert_entity(c->pg, (int32_t)it->k.device,
					      (enum wt_entity_kind)it->k.kind, (int)it->k.idx,
					      it->name, 0, NULL, &eid) ||
		    wt_registry_series(c->pg, eid, (enum wt_metric)it->k.metric, &sid)) {
			/* logged by the registry; id stays 0 */
			if (!exec_ok(c->pg, "ROLLBACK TO SAVEPOINT s"))
				break;
			continue;
		}
		it->entity = eid;
		it->id = sid;
	}
	if (!exec_ok(c->pg, "COMMIT")) {
		exec_ok(c->pg, "ROLLBACK");
		for (size_t i = 0; i < b->n; i++)
			b->v[i].id = 0;
	}
}

static int cmp_dev(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void batch_done(void *arg, bool cancelled)
{
	struct batch *b = arg;
	struct wt_series_cache *c = b->c;
	int64_t *devs = calloc(b->n + 1, sizeof *devs);
	size_t nd = 0, failed = 0, made = 0;

	c->busy = false;
	for (size_t i = 0; i < b->n && !cancelled; i++) {
		struct item *it = &b->v[i];
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
				.entity_name = it->name,
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
		wt_info("series cache: %zu new series resolved", made);
	free(devs);
	free(b->v);
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

/* Sends the queued misses to a worker when none is in flight. */
static void kick(struct wt_series_cache *c)
{
	if (c->busy || !c->n_pend)
		return;
	struct batch *b = calloc(1, sizeof *b);
	size_t n = c->n_pend < BATCH_MAX ? c->n_pend : BATCH_MAX;
	if (b)
		b->v = malloc(n * sizeof *b->v);
	if (!b || !b->v) {
		free(b);
		goto later;
	}
	b->c = c;
	b->n = n;
	memcpy(b->v, c->pend, n * sizeof *b->v);
	if (wt_workers_submit(c->workers, batch_work, batch_done, b) < 0) {
		free(b->v);
		free(b);
		goto later;
	}
	memmove(c->pend, c->pend + n, (c->n_pend - n) * sizeof *c->pend);
	c->n_pend -= n;
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
	if (c->n_pend == c->cap_pend) {
		size_t nc = c->cap_pend ? c->cap_pend * 2 : 256;
		struct item *v = realloc(c->pend, nc * sizeof *v);
		if (!v)
			return -ENOMEM;
		c->pend = v;
		c->cap_pend = nc;
	}
	if (put(c, &k, QUEUED))
		return -ENOMEM;
	struct item *it = &c->pend[c->n_pend++];
	memset(it, 0, sizeof *it);
	it->k = k;
	if (entity_name && *entity_name)
		snprintf(it->name, sizeof it->name, "%s", entity_name);
	else
		snprintf(it->name, sizeof it->name, "%s %ld", wt_entity_kind_name(kind), index);
	kick(c);
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
	*pending = c->n_pend;
}

void wt_series_cache_free(struct wt_series_cache *c)
{
	if (!c)
		return;
	if (c->retry)
		event_free(c->retry);
	PQfinish(c->pg);
	free(c->conninfo);
	free(c->tab);
	free(c->pend);
	free(c);
}
