/* A storage driver for the PostgreSQL tests: runs the real migrations,
 * retention and the whole storage layer (rollup + writer + spool + query)
 * against a real PostgreSQL, fed with deterministic samples on a manual
 * clock, scripted line by line on stdin. SIGTERM closes storage cleanly
 * (wt_storage_close) and exits 0, as the daemon does.
 *
 *   storage_tool migrate CONNINFO DIR
 *   storage_tool retention CONNINFO NOW_MS DAYS_5S DAYS_1H DAYS_1D
 *   storage_tool drive CONNINFO SPOOL_DIR START_MS NSERIES [FLUSH_MS [SPOOL_MAX]]
 *   storage_tool registry CONNINFO   exercises the registry API, prints
 *     "FAIL ..." per broken expectation and "registry ok" when all held
 *   storage_tool realtime CONNINFO SPOOL_DIR NSERIES SECONDS
 *     the real clock and libevent timers (storage's own 5 s tick), one
 *     sample per series per second, until SECONDS pass or SIGTERM; prints
 *     "ingested N" (samples per series) after wt_storage_close.
 *
 * Samples (the tests compute the same values independently):
 *   series k (1-based position in creation order) is a counter (energy_active)
 *   when k % 5 == 0, else a gauge (power_active).
 *   gauge: one sample per bucket at bucket+1000, a second at bucket+3000
 *     when k % 4 == 0; value = gauge_value(k, ts).
 *   counter: one sample per bucket at bucket+2000, raw = counter_raw(k, ts).
 *
 * drive commands (each answered by one line starting with "ok" or "err"):
 *   run N      N buckets: ingest the bucket's samples, advance past its
 *              close, tick
 *   feed       ingest the next bucket's samples without closing it
 *   flush      wt_storage_flush
 *   sync MS    wait for the writer (committed or spooled)
 *   drain MS   wait until everything is in the database
 *   health     print the health counters
 *   now        print the manual clock
 *   query ID FROM TO LEVEL BUDGET   (LEVEL -1 = auto) prints the points
 *   ids        print the series ids in creation order
 *   quit       wt_storage_close and exit 0 */
#include "log.h"
#include "migrate.h"
#include "partition.h"
#include "pg.h"
#include "query.h"
#include "registry.h"
#include "storage.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static double gauge_value(int k, int64_t ts)
{
	/* Exact in float: multiples of 0.25 well below 2^20. */
	return 100.0 + k + (double)((ts / 1000 + 7 * k) % 97) * 0.25;
}

static double counter_raw(int k, int64_t ts, int64_t t0)
{
	int64_t s = (ts - t0) / 1000;
	return 1000.0 * k + (0.5 + (k % 5) * 0.5 + 1.0) * (double)s + (double)((ts / 5000) % 3);
}

struct drv {
	struct wt_storage *st;
	int64_t now;
	int64_t bucket; /* next bucket to feed */
	int64_t t0;
	int n;
	uint32_t *ids;
	bool fed; /* the bucket at 'bucket' has been fed already */
};

static void feed(struct drv *d)
{
	struct wt_sample *v = calloc((size_t)d->n * 2, sizeof(*v));
	size_t m = 0;
	for (int i = 0; i < d->n; i++) {
		int k = i + 1;
		if (k % 5 == 0) {
			int64_t ts = d->bucket + 2000;
			v[m++] = (struct wt_sample){d->ids[i], WT_Q_GOOD, ts,
						    counter_raw(k, ts, d->t0)};
		} else {
			int64_t ts = d->bucket + 1000;
			v[m++] = (struct wt_sample){d->ids[i], WT_Q_GOOD, ts, gauge_value(k, ts)};
			if (k % 4 == 0) {
				ts = d->bucket + 3000;
				v[m++] = (struct wt_sample){d->ids[i], WT_Q_GOOD, ts,
							    gauge_value(k, ts)};
			}
		}
	}
	d->now = d->bucket + 4000;
	wt_storage_ingest(d->st, v, m);
	free(v);
	d->fed = true;
}

static void run(struct drv *d, long steps)
{
	for (long i = 0; i < steps && !got_term; i++) {
		if (!d->fed)
			feed(d);
		d->now = d->bucket + WT_BUCKET_MS + WT_ROLLUP_GRACE_MS + 10;
		wt_storage_tick(d->st);
		d->bucket += WT_BUCKET_MS;
		d->fed = false;
	}
}

static int create_series(const char *conninfo, struct drv *d)
{
	PGconn *c = wt_pg_connect(conninfo, 10);
	int32_t dev, ent;
	if (!c)
		return -ENOTCONN;
	int rc = wt_migrate(c, wt_migrate_default_dir(), NULL);
	if (rc == 0)
		rc = wt_registry_sync_metrics(c);
	struct wt_device_rec rec = {.name = "driver pdu",
				    .protocol = "snmp",
				    .address = "127.0.0.1",
				    .port = 161,
				    .rating_a = 32,
				    .phases = 3,
				    .feed = "A",
				    .vendor = "test",
				    .credentials = "{\"community\": \"secret\"}"};
	if (rc == 0)
		rc = wt_registry_upsert_device(c, &rec, &dev);
	d->ids = calloc((size_t)d->n, sizeof(uint32_t));
	for (int i = 0; i < d->n && rc == 0; i++) {
		int k = i + 1;
		rc = wt_registry_upsert_entity(c, dev, WT_ENT_OUTLET, k, NULL, 0, NULL, &ent);
		if (rc == 0)
			rc = wt_registry_series(c, ent,
						k % 5 == 0 ? WT_M_ENERGY_ACTIVE : WT_M_POWER_ACTIVE,
						&d->ids[i]);
	}
	PQfinish(c);
	return rc;
}

static void print_health(struct drv *d)
{
	struct wt_storage_health h;
	wt_storage_health(d->st, &h);
	printf("ok connected=%d spool_healthy=%d spool_files=%" PRIu64 " spool_bytes=%" PRIu64
	       " rows=%" PRIu64 " samples=%" PRIu64 " spooled=%" PRIu64 " replayed=%" PRIu64
	       " dropped=%" PRIu64 " rejected=%" PRIu64 "\n",
	       h.db_connected, h.spool_healthy, h.spool_files, h.spool_bytes, h.rows_written,
	       h.samples_written, h.batches_spooled, h.batches_replayed, h.samples_dropped,
	       h.samples_rejected);
}

/* query ID[,ID...] FROM TO LEVEL BUDGET: one "points" block per series, in
 * the order asked. */
static void do_query(struct drv *d, const char *conninfo, const char *args)
{
	char idlist[256];
	long long from, to;
	int level;
	size_t budget;
	uint32_t ids[16];
	size_t n = 0;
	if (sscanf(args, "%255s %lld %lld %d %zu", idlist, &from, &to, &level, &budget) != 5) {
		printf("err usage: query ID[,ID..] FROM TO LEVEL BUDGET\n");
		return;
	}
	for (char *tok = strtok(idlist, ","); tok && n < 16; tok = strtok(NULL, ","))
		ids[n++] = (uint32_t)strtoul(tok, NULL, 10);
	PGconn *c = wt_pg_connect(conninfo, 10);
	struct wt_query_result r;
	int rc = c ? wt_query(c, d->st, ids, n, from, to, level, budget, &r) : -ENOTCONN;
	if (c)
		PQfinish(c);
	if (rc < 0) {
		printf("err query: %s\n", strerror(-rc));
		return;
	}
	for (size_t k = 0; k < r.nseries; k++) {
		printf("points level=%d n=%zu series=%" PRIu32 "\n", (int)r.level, r.series[k].n,
		       r.series[k].series);
		for (size_t i = 0; i < r.series[k].n; i++) {
			const struct wt_point *p = &r.series[k].pts[i];
			printf("%" PRId64 " %.9g %.9g %.9g %" PRIu32 "\n", p->ts_ms, p->min, p->avg,
			       p->max, p->count);
		}
	}
	printf("ok\n");
	wt_query_result_free(&r);
}

static int drive(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr,
			"usage: drive CONNINFO SPOOL START_MS NSERIES [FLUSH_MS [SPOOL_MAX]]\n");
		return 2;
	}
	const char *conninfo = argv[2];
	struct drv d = {0};
	struct wt_clock clock = {wt_clock_manual_now, &d.now};
	struct wt_storage_options o;
	char line[512];
	size_t len = 0;

	d.now = strtoll(argv[4], NULL, 10);
	d.t0 = 1767225600000LL; /* 2026-01-01: fixed, so restarts agree on raw values */
	d.bucket = wt_rollup_align(d.now, WT_BUCKET_MS);
	d.n = (int)strtol(argv[5], NULL, 10);
	if (d.n <= 0 || create_series(conninfo, &d) < 0) {
		fprintf(stderr, "drive: cannot create series\n");
		free(d.ids);
		return 1;
	}
	wt_storage_defaults(&o);
	o.conninfo = conninfo;
	o.spool_dir = argv[3];
	if (argc > 6)
		o.flush_interval_ms = (int)strtol(argv[6], NULL, 10);
	if (argc > 7)
		o.spool_max_bytes = strtoull(argv[7], NULL, 10);
	int rc = wt_storage_open(&d.st, &o, NULL, &clock);
	if (rc < 0) {
		fprintf(stderr, "drive: wt_storage_open: %s\n", strerror(-rc));
		free(d.ids);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (got_term)
			break;
		ssize_t r = read(0, line + len, sizeof(line) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		char *nl;
		bool quit = false;
		while (!quit && (nl = memchr(line, '\n', len))) {
			*nl = 0;
			char *cmd = line, *arg = strchr(line, ' ');
			if (arg)
				*arg++ = 0;
			else
				arg = "";
			if (strcmp(cmd, "run") == 0) {
				run(&d, strtol(arg, NULL, 10));
				printf("ok now=%" PRId64 "\n", d.now);
			} else if (strcmp(cmd, "feed") == 0) {
				feed(&d);
				printf("ok now=%" PRId64 "\n", d.now);
			} else if (strcmp(cmd, "flush") == 0) {
				wt_storage_flush(d.st);
				printf("ok\n");
			} else if (strcmp(cmd, "sync") == 0 || strcmp(cmd, "drain") == 0) {
				rc = wt_storage_sync(d.st, (int)strtol(arg, NULL, 10),
						     cmd[0] == 'd');
				printf(rc == 0 ? "ok\n" : "err timeout\n");
			} else if (strcmp(cmd, "health") == 0) {
				print_health(&d);
			} else if (strcmp(cmd, "now") == 0) {
				printf("ok %" PRId64 " %" PRId64 "\n", d.now, d.bucket);
			} else if (strcmp(cmd, "ids") == 0) {
				printf("ok");
				for (int i = 0; i < d.n; i++)
					printf(" %" PRIu32, d.ids[i]);
				printf("\n");
			} else if (strcmp(cmd, "bytes") == 0) {
				printf("ok %zu\n", wt_storage_bytes_per_series(d.st));
			} else if (strcmp(cmd, "query") == 0) {
				do_query(&d, conninfo, arg);
			} else if (strcmp(cmd, "quit") == 0) {
				quit = true;
			} else {
				printf("err unknown command %s\n", cmd);
			}
			fflush(stdout);
			size_t used = (size_t)(nl - line) + 1;
			memmove(line, nl + 1, len - used);
			len -= used;
		}
		if (quit)
			break;
		if (len == sizeof(line) - 1)
			len = 0; /* an overlong line: drop it */
	}
	wt_storage_close(d.st);
	printf("closed%s\n", got_term ? " on SIGTERM" : "");
	fflush(stdout);
	free(d.ids);
	return 0;
}

static int reg_fail;
#define EXPECT(cond, ...)                                   \
	do {                                                \
		if (!(cond)) {                              \
			reg_fail++;                         \
			printf("FAIL line %d: ", __LINE__); \
			printf(__VA_ARGS__);                \
			printf("\n");                       \
		}                                           \
	} while (0)

static int registry(const char *conninfo)
{
	PGconn *c = wt_pg_connect(conninfo, 10);
	int32_t d1, d2, d3, e1, e2, e3;
	uint32_t s1, s2, s3, a1, a2, a3, a4;
	if (!c)
		return 1;
	EXPECT(wt_migrate(c, wt_migrate_default_dir(), NULL) == 0, "migrate");
	EXPECT(wt_registry_sync_metrics(c) == 0, "sync metrics");
	EXPECT(wt_registry_sync_metrics(c) == 0, "sync metrics twice");

	struct wt_device_rec d = {.name = "pdu-a1",
				  .protocol = "snmp",
				  .address = "10.0.0.5",
				  .port = 161,
				  .unit = 0,
				  .credentials = "{\"community\": \"s3cret\"}",
				  .vendor = "Raritan",
				  .model = "PX3",
				  .rating_a = 32,
				  .phases = 3,
				  .feed = "B",
				  .info = "{\"rack\": \"R12\"}"};
	EXPECT(wt_registry_upsert_device(c, &d, &d1) == 0 && d1 > 0, "insert device");
	d.serial = "SN123";
	d.vendor = NULL; /* unknown now: keeps "Raritan" */
	d.rating_a = -1;
	EXPECT(wt_registry_upsert_device(c, &d, &d2) == 0 && d2 == d1, "same endpoint, same id");
	d.unit = 2; /* a daisy-chained unit behind the same address is another device */
	EXPECT(wt_registry_upsert_device(c, &d, &d3) == 0 && d3 != d1, "another unit");
	struct wt_device_rec bad = {.protocol = "snmp", .address = "x", .port = 0};
	int32_t dx;
	EXPECT(wt_registry_upsert_device(c, &bad, &dx) == -EINVAL, "port 0 refused");

	EXPECT(wt_registry_upsert_entity(c, d1, WT_ENT_OUTLET, 1, "web server", 0, NULL, &e1) == 0,
	       "entity");
	EXPECT(wt_registry_upsert_entity(c, d1, WT_ENT_OUTLET, 1, "renamed by poller", 0,
					 "{\"switchable\": true}", &e2) == 0 &&
		       e2 == e1,
	       "same entity, same id");
	EXPECT(wt_registry_upsert_entity(c, d1, WT_ENT_INLET, 1, NULL, 0, NULL, &e3) == 0 &&
		       e3 != e1,
	       "inlet 1 is another entity");

	EXPECT(wt_registry_series(c, e1, WT_M_POWER_ACTIVE, &s1) == 0, "series");
	EXPECT(wt_registry_series(c, e1, WT_M_POWER_ACTIVE, &s2) == 0 && s2 == s1, "same series");
	EXPECT(wt_registry_series(c, e1, WT_M_ENERGY_ACTIVE, &s3) == 0 && s3 == s1 + 1,
	       "ids stay dense (%u after %u)", s3, s1);
	EXPECT(wt_registry_series(c, e1, (enum wt_metric)999, &s3) == -EINVAL, "bad metric");

	EXPECT(wt_registry_aggregate_series(c, "rack", 7, WT_M_CURRENT, 1, 'A', &a1) == 0,
	       "rack aggregate");
	EXPECT(wt_registry_aggregate_series(c, "rack", 7, WT_M_CURRENT, 1, 'A', &a2) == 0 &&
		       a2 == a1,
	       "same aggregate");
	EXPECT(wt_registry_aggregate_series(c, "rack", 7, WT_M_CURRENT, 0, 0, &a3) == 0 && a3 != a1,
	       "all phases, all feeds is another series");
	EXPECT(wt_registry_aggregate_series(c, "rack", 7, WT_M_CURRENT, 0, 0, &a4) == 0 && a4 == a3,
	       "NULL qualifiers match themselves");
	EXPECT(wt_registry_aggregate_series(c, "room", 7, WT_M_CURRENT, 0, 0, &a4) == 0 && a4 != a3,
	       "a room is not a rack");
	EXPECT(wt_registry_aggregate_series(c, "rack", 7, WT_M_CURRENT, 4, 0, &a4) == -EINVAL,
	       "phase 4 refused");

	struct wt_series_info *si;
	size_t n;
	EXPECT(wt_registry_list_series(c, &si, &n) == 0 && n == 5, "list: %zu", n);
	if (n == 5) {
		EXPECT(si[0].id == s1 && si[0].metric == WT_M_POWER_ACTIVE &&
			       si[0].flags == WT_MF_SUMMABLE,
		       "first series and flags");
		EXPECT(si[1].flags & WT_MF_COUNTER, "energy is a counter");
	}
	free(si);
	PGresult *r;
	char e1s[16], d1s[16];
	snprintf(e1s, sizeof(e1s), "%d", e1);
	snprintf(d1s, sizeof(d1s), "%d", d1);
	const char *pp[] = {e1s, d1s};
	if (wt_pg_query(c, "check", &r,
			"SELECT vendor, serial, rating_a, feed, credentials->>'community', "
			"(SELECT name FROM entities WHERE id = $1) FROM devices WHERE id = $2",
			2, pp) == 0) {
		EXPECT(PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "Raritan") == 0 &&
			       strcmp(PQgetvalue(r, 0, 1), "SN123") == 0 &&
			       strcmp(PQgetvalue(r, 0, 2), "32") == 0 &&
			       strcmp(PQgetvalue(r, 0, 4), "s3cret") == 0 &&
			       strcmp(PQgetvalue(r, 0, 5), "web server") == 0,
		       "stored values (unknown fields kept, name set on insert only; the feed of an "
		       "unracked device is 'none' by a rules trigger): %s %s %s %s %s",
		       PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
		       PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 5));
		PQclear(r);
	}
	PQfinish(c);
	printf(reg_fail ? "registry failed\n" : "registry ok\n");
	return reg_fail ? 1 : 0;
}

struct rt {
	struct drv d;
	struct event_base *base;
	long ingested, seconds;
};

static void rt_feed(evutil_socket_t fd, short what, void *arg)
{
	struct rt *rt = arg;
	int64_t now = wt_clock_now(&wt_clock_real);
	struct wt_sample *v = calloc((size_t)rt->d.n, sizeof(*v));
	for (int i = 0; i < rt->d.n; i++)
		v[i] = (struct wt_sample){rt->d.ids[i], WT_Q_GOOD, now,
					  (i + 1) % 5 == 0 ? counter_raw(i + 1, now, rt->d.t0)
							   : gauge_value(i + 1, now)};
	wt_storage_ingest(rt->d.st, v, (size_t)rt->d.n);
	free(v);
	if (++rt->ingested >= rt->seconds)
		event_base_loopbreak(rt->base);
}

static void rt_term(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static int realtime(int argc, char **argv)
{
	struct rt rt = {0};
	struct wt_storage_options o;
	if (argc < 6)
		return 2;
	rt.d.n = (int)strtol(argv[4], NULL, 10);
	rt.seconds = strtol(argv[5], NULL, 10);
	rt.d.t0 = 1767225600000LL;
	if (rt.d.n <= 0 || create_series(argv[2], &rt.d) < 0)
		return 1;
	rt.base = event_base_new();
	wt_storage_defaults(&o);
	o.conninfo = argv[2];
	o.spool_dir = argv[3];
	int rc = wt_storage_open(&rt.d.st, &o, rt.base, &wt_clock_real);
	if (rc < 0) {
		fprintf(stderr, "realtime: wt_storage_open: %s\n", strerror(-rc));
		return 1;
	}
	struct event *feed_ev = event_new(rt.base, -1, EV_PERSIST, rt_feed, &rt);
	struct event *term_ev = evsignal_new(rt.base, SIGTERM, rt_term, rt.base);
	struct timeval one = {1, 0};
	event_add(feed_ev, &one);
	event_add(term_ev, NULL);
	printf("ready\n");
	fflush(stdout);
	event_base_dispatch(rt.base);
	event_free(feed_ev);
	event_free(term_ev);
	wt_storage_close(rt.d.st);
	event_base_free(rt.base);
	printf("ingested %ld\n", rt.ingested);
	free(rt.d.ids);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: read() returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	wt_log_setup(false, "storage_tool", WT_LOG_INFO);

	if (argc >= 4 && strcmp(argv[1], "migrate") == 0) {
		PGconn *c = wt_pg_connect(argv[2], 10);
		int applied = 0;
		if (!c)
			return 1;
		int rc = wt_migrate(c, argv[3], &applied);
		PQfinish(c);
		printf("applied=%d rc=%d\n", applied, rc);
		return rc == 0 ? 0 : rc == -EPROTO ? 3 : 1;
	}
	if (argc >= 7 && strcmp(argv[1], "retention") == 0) {
		PGconn *c = wt_pg_connect(argv[2], 10);
		int dropped = 0;
		if (!c)
			return 1;
		int rc = wt_retention_run(
			c, strtoll(argv[3], NULL, 10), (int)strtol(argv[4], NULL, 10),
			(int)strtol(argv[5], NULL, 10), (int)strtol(argv[6], NULL, 10), &dropped);
		PQfinish(c);
		printf("dropped=%d rc=%d\n", dropped, rc);
		return rc == 0 ? 0 : 1;
	}
	if (argc >= 2 && strcmp(argv[1], "drive") == 0)
		return drive(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "registry") == 0)
		return registry(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "realtime") == 0) {
		/* libevent's signal handling takes SIGTERM over. */
		signal(SIGTERM, SIG_DFL);
		return realtime(argc, argv);
	}
	fprintf(stderr, "usage: storage_tool migrate|retention|drive ...\n");
	return 2;
}
