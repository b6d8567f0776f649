/* Drives the daemon's series cache (server/daemon_series.c) against a real
 * PostgreSQL, for t_seriesbulk.py. Every mode prints "MODE ok ..." and
 * exits 0 when its expectations held, else prints what failed and exits 1.
 *
 *   seriesbulk_tool CONNINFO SPOOLDIR create NDEV
 *       one cache, nothing loaded: every series of NDEV devices (made here
 *       if missing) missed at once, created in bulk; then every key
 *       resolves from memory, and a second cache loaded from the database
 *       maps every key to the same id. Prints the creation rate.
 *   seriesbulk_tool CONNINFO SPOOLDIR race NDEV
 *       two caches on two connections miss the same series at the same
 *       moment (one in forward, one in reverse device order); both must
 *       get every series, with the same ids.
 *   seriesbulk_tool CONNINFO SPOOLDIR reuse NDEV
 *       after a "restart": a loaded cache answers every key at once; an
 *       empty cache misses them all and the worker finds the same ids.
 *   seriesbulk_tool CONNINFO SPOOLDIR bad NDEV
 *       one batch mixing good series with a device that does not exist and
 *       an entity name PostgreSQL refuses (invalid UTF-8): the bad ones
 *       fail, every good one is created.
 *
 * The series of a device: total (2 metrics), 3 phases (3 metrics each), 24
 * outlets on unit 1 and 8 on daisy-chained unit 2 (4 metrics each), named
 * with quotes and backslashes ("srv \"A\" \\ N") on unit 1 and by default
 * ("outlet N") on unit 2: 139 series per device. */
#include "daemon_series.h"
#include "log.h"
#include "model.h"
#include "storage/registry.h"
#include "storage/storage.h"
#include "workers.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PER_DEV 139
#define MAX_DEV 20000

struct want {
	long dev;
	int unit, kind;
	long idx;
	int metric;
	char name[48]; /* empty: the default name */
};

static int fails;
#define EXPECT(c, ...)                                                                             \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fails++;                                                                   \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Device ids of the NDEV devices snmp 127.0.0.1:20000+i, made if missing. */
static int devices(const char *conninfo, int n, long *ids)
{
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return -EIO;
	}
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof name, "pdu-%05d", i);
		struct wt_device_rec d = {.name = name,
					  .protocol = "snmp",
					  .address = "127.0.0.1",
					  .port = 20000 + i,
					  .rating_a = -1};
		int32_t id;
		if (wt_registry_upsert_device(c, &d, &id)) {
			PQfinish(c);
			return -EIO;
		}
		ids[i] = id;
	}
	PQfinish(c);
	return 0;
}

static size_t wants_of(long dev, struct want *w)
{
	size_t n = 0;
	static const int tm[] = {WT_M_POWER_ACTIVE, WT_M_ENERGY_ACTIVE};
	static const int pm[] = {WT_M_CURRENT, WT_M_VOLTAGE, WT_M_POWER_ACTIVE};
	static const int om[] = {WT_M_CURRENT, WT_M_POWER_ACTIVE, WT_M_ENERGY_ACTIVE,
				 WT_M_OUTLET_STATE};
	for (int m = 0; m < 2; m++)
		w[n++] = (struct want){dev, 0, WT_ENT_TOTAL, 1, tm[m], ""};
	for (int p = 1; p <= 3; p++)
		for (int m = 0; m < 3; m++)
			w[n++] = (struct want){dev, 0, WT_ENT_PHASE, p, pm[m], ""};
	for (int unit = 1; unit <= 2; unit++)
		for (int o = 1; o <= (unit == 1 ? 24 : 8); o++)
			for (int m = 0; m < 4; m++) {
				struct want *x = &w[n++];
				*x = (struct want){dev, unit, WT_ENT_OUTLET, o, om[m], ""};
				if (unit == 1)
					snprintf(x->name, sizeof x->name, "srv \"A\" \\ %d", o);
			}
	return n;
}

struct ctx {
	struct event_base *base;
	struct wt_series_cache *c[2];
	int nc;
	double deadline;
};

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct ctx *x = arg;
	(void)fd;
	(void)what;
	size_t pending = 0;
	for (int i = 0; i < x->nc; i++) {
		size_t known, p;
		uint64_t made;
		wt_series_cache_counts(x->c[i], &known, &made, &p);
		pending += p;
	}
	if (!pending || now_s() > x->deadline)
		event_base_loopbreak(x->base);
}

/* Runs the loop until no cache has a miss left (or 120 s). */
static void settle(struct ctx *x)
{
	struct event *ev = event_new(x->base, -1, EV_PERSIST, on_poll, x);
	struct timeval tv = {0, 10000};
	x->deadline = now_s() + 120;
	event_add(ev, &tv);
	event_base_dispatch(x->base);
	event_free(ev);
}

static int resolve(struct wt_series_cache *c, const struct want *w, uint32_t *id)
{
	struct wt_series_resolver r = wt_series_cache_resolver(c);
	return r.resolve(r.ctx, w->dev, w->unit, w->kind, w->idx, w->name[0] ? w->name : NULL,
			 w->metric, id);
}

/* Every key resolves from memory in c, to ids[i] if ids[i] is set (else
 * fills it); returns how many did not. */
static size_t check_all(struct wt_series_cache *c, const struct want *w, size_t n,
			uint32_t *ids, const char *what)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = 0;
		int rc = resolve(c, &w[i], &id);
		if (rc != 0 || (ids[i] && id != ids[i])) {
			if (bad++ < 5)
				EXPECT(0, "%s: device %ld unit %d kind %d idx %ld metric %d: rc %d id %u want %u",
				       what, w[i].dev, w[i].unit, w[i].kind, w[i].idx, w[i].metric, rc, id,
				       ids[i]);
			continue;
		}
		ids[i] = id;
	}
	EXPECT(!bad, "%s: %zu of %zu keys wrong", what, bad, n);
	return bad;
}

static struct wt_series_cache *cache(struct ctx *x, struct wt_workers *wk, const char *conninfo,
				     struct wt_storage *st, bool load)
{
	struct wt_series_cache *c;
	if (wt_series_cache_new(&c, x->base, wk, conninfo, st))
		return NULL;
	if (load) {
		PGconn *pg = PQconnectdb(conninfo);
		int n = wt_series_cache_load(c, pg);
		PQfinish(pg);
		if (n < 0) {
			wt_series_cache_free(c);
			return NULL;
		}
	}
	return c;
}

/* Misses every key in c (each must answer -EAGAIN), in reverse when asked. */
static void miss_all(struct wt_series_cache *c, const struct want *w, size_t n, bool reverse,
		     const char *what)
{
	size_t bad = 0;
	for (size_t j = 0; j < n; j++) {
		size_t i = reverse ? n - 1 - j : j;
		uint32_t id;
		if (resolve(c, &w[i], &id) != -EAGAIN)
			bad++;
	}
	EXPECT(!bad, "%s: %zu keys did not miss", what, bad);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s CONNINFO SPOOLDIR create|race|reuse|bad NDEV\n", argv[0]);
		return 2;
	}
	const char *conninfo = argv[1], *mode = argv[3];
	int ndev = (int)strtol(argv[4], NULL, 10);
	if (ndev < 1 || ndev > MAX_DEV)
		return 2;
	wt_log_setup(false, "seriesbulk", WT_LOG_INFO);

	char mig[4096];
	const char *root = getenv("WT_SOURCE_ROOT");
	snprintf(mig, sizeof mig, "%s/migrations", root ? root : ".");
	struct wt_storage_options o;
	wt_storage_defaults(&o);
	o.conninfo = conninfo;
	o.spool_dir = argv[2];
	o.migrations_dir = mig;
	struct wt_storage *st;
	if (wt_storage_open(&st, &o, NULL, &wt_clock_real)) {
		fprintf(stderr, "storage open failed\n");
		return 1;
	}
	long *dev = calloc((size_t)ndev, sizeof *dev);
	size_t n = (size_t)ndev * PER_DEV;
	struct want *w = calloc(n + 2, sizeof *w);
	uint32_t *ids = calloc(n + 2, sizeof *ids);
	if (!dev || !w || !ids || devices(conninfo, ndev, dev)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	size_t k = 0;
	for (int d = 0; d < ndev; d++)
		k += wants_of(dev[d], w + k);
	if (k != n) {
		fprintf(stderr, "%zu series per fleet, expected %zu\n", k, n);
		return 1;
	}

	struct ctx x = {.base = event_base_new()};
	struct wt_workers *wk;
	struct wt_workers_options wo = {.threads = 2, .queue_max = 64, .name = "seriesbulk"};
	if (!x.base || wt_workers_new(&wk, x.base, &wo)) {
		fprintf(stderr, "loop/workers failed\n");
		return 1;
	}

	if (!strcmp(mode, "create")) {
		x.c[0] = cache(&x, wk, conninfo, st, false);
		x.nc = 1;
		double t0 = now_s();
		miss_all(x.c[0], w, n, false, "create");
		settle(&x);
		double el = now_s() - t0;
		size_t known, pending;
		uint64_t made;
		wt_series_cache_counts(x.c[0], &known, &made, &pending);
		EXPECT(made == n && pending == 0, "created %" PRIu64 " of %zu, %zu pending", made, n,
		       pending);
		check_all(x.c[0], w, n, ids, "create: from memory");
		struct wt_series_cache *l = cache(&x, wk, conninfo, st, true);
		EXPECT(l, "loaded cache");
		if (l)
			check_all(l, w, n, ids, "create: loaded from the database");
		wt_series_cache_free(l);
		printf("create ok series=%zu seconds=%.3f series_per_s=%.0f\n", n, el,
		       (double)n / el);
	} else if (!strcmp(mode, "race")) {
		x.c[0] = cache(&x, wk, conninfo, st, false);
		x.c[1] = cache(&x, wk, conninfo, st, false);
		x.nc = 2;
		miss_all(x.c[0], w, n, false, "race A");
		miss_all(x.c[1], w, n, true, "race B");
		settle(&x);
		check_all(x.c[0], w, n, ids, "race: cache A");
		check_all(x.c[1], w, n, ids, "race: cache B has A's ids");
		struct wt_series_cache *l = cache(&x, wk, conninfo, st, true);
		EXPECT(l, "loaded cache");
		if (l)
			check_all(l, w, n, ids, "race: loaded from the database");
		wt_series_cache_free(l);
		printf("race ok series=%zu\n", n);
	} else if (!strcmp(mode, "reuse")) {
		x.c[0] = cache(&x, wk, conninfo, st, true);
		x.c[1] = cache(&x, wk, conninfo, st, false);
		x.nc = 2;
		check_all(x.c[0], w, n, ids, "reuse: loaded cache answers at once");
		miss_all(x.c[1], w, n, false, "reuse: empty cache");
		settle(&x);
		check_all(x.c[1], w, n, ids, "reuse: empty cache finds the same ids");
		printf("reuse ok series=%zu\n", n);
	} else if (!strcmp(mode, "bad")) {
		/* two extra keys: a device that does not exist, a name PostgreSQL
		 * refuses; both in the middle of the batch */
		w[n] = (struct want){dev[ndev - 1] + 100000, 0, WT_ENT_TOTAL, 1, WT_M_POWER_ACTIVE, ""};
		w[n + 1] = (struct want){dev[0], 0, WT_ENT_SENSOR, 7, WT_M_TEMPERATURE, "bad \xff\xfe"};
		struct want t = w[n / 2];
		w[n / 2] = w[n];
		w[n] = t;
		t = w[n / 3];
		w[n / 3] = w[n + 1];
		w[n + 1] = t;
		x.c[0] = cache(&x, wk, conninfo, st, false);
		x.nc = 1;
		miss_all(x.c[0], w, n + 2, false, "bad");
		settle(&x);
		uint32_t id;
		EXPECT(resolve(x.c[0], &w[n / 2], &id) == -EAGAIN, "missing device not created");
		EXPECT(resolve(x.c[0], &w[n / 3], &id) == -EAGAIN, "refused name not created");
		/* the two are queued again by those calls: every other key is made */
		size_t bad = 0;
		for (size_t i = 0; i < n + 2; i++)
			if (i != n / 2 && i != n / 3 && resolve(x.c[0], &w[i], &id) != 0)
				bad++;
		EXPECT(!bad, "bad: %zu good keys not created", bad);
		settle(&x);
		printf("bad ok series=%zu\n", n);
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		fails++;
	}

	wt_workers_free(wk, true);
	for (int i = 0; i < x.nc; i++)
		wt_series_cache_free(x.c[i]);
	event_base_free(x.base);
	wt_storage_close(st);
	free(dev);
	free(w);
	free(ids);
	return fails ? 1 : 0;
}
