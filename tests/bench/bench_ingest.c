/* Ingest benchmark: synthetic samples for many series at 5 s through the
 * real rollup + writer into PostgreSQL on a manual clock (faster than real
 * time), against a raw COPY of the very same rows into the same table layout
 * in the same run. Also compares storage layouts. Not a test: it prints.
 *
 *   bench_ingest ingest CONNINFO SERIES MINUTES
 *   bench_ingest layouts CONNINFO SERIES MINUTES
 *
 * Run it through tests/bench/run ingest [--quick], which starts PostgreSQL.
 * Last line of "ingest": RESULT ingest samples_per_s=.. copy_baseline_samples_per_s=..
 *   ratio=.. cpu_us_per_sample=.. disk_bytes_per_sample=.. ram_bytes_per_series=.. */
#include "batch.h"
#include "log.h"
#include "migrate.h"
#include "pg.h"
#include "registry.h"
#include "storage.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double process_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PGconn *conn_or_die(const char *ci)
{
	PGconn *c = wt_pg_connect(ci, 10);
	if (!c) {
		fprintf(stderr, "bench: cannot connect\n");
		exit(1);
	}
	return c;
}

static void exec_or_die(PGconn *c, const char *sql)
{
	if (wt_pg_exec(c, "bench", sql) < 0)
		exit(1);
}

static double scalar(PGconn *c, const char *sql)
{
	PGresult *r;
	if (wt_pg_query(c, "bench", &r, sql, 0, NULL) < 0)
		exit(1);
	double v = PQntuples(r) && !PQgetisnull(r, 0, 0) ? strtod(PQgetvalue(r, 0, 0), NULL) : 0;
	PQclear(r);
	return v;
}

/* N series on N/64 PDUs of 64 outlets; every 5th is an energy counter. */
static uint32_t *make_series(PGconn *c, int n, unsigned **flags)
{
	char sql[1024];
	exec_or_die(c, "SET client_min_messages = warning");
	if (wt_migrate(c, wt_migrate_default_dir(), NULL) < 0 || wt_registry_sync_metrics(c) < 0)
		exit(1);
	snprintf(
		sql, sizeof(sql),
		"INSERT INTO devices (name, protocol, address, port) SELECT 'bench ' || g, 'snmp', "
		"'10.' || (g / 65536) || '.' || (g / 256 %% 256) || '.' || (g %% 256), 161 "
		"FROM generate_series(1, %d) g;"
		"INSERT INTO entities (device_id, kind, idx, name) SELECT d.id, 'outlet', o, "
		"'outlet ' || o FROM devices d, generate_series(1, 64) o ORDER BY d.id, o;"
		"INSERT INTO series (entity_id, metric) SELECT id, CASE WHEN id %% 5 = 0 THEN %d "
		"ELSE %d END FROM entities ORDER BY id LIMIT %d",
		(n + 63) / 64, WT_M_ENERGY_ACTIVE, WT_M_POWER_ACTIVE, n);
	exec_or_die(c, sql);
	PGresult *r;
	if (wt_pg_query(c, "bench", &r, "SELECT id, metric FROM series ORDER BY id", 0, NULL) < 0)
		exit(1);
	uint32_t *ids = calloc((size_t)n, sizeof(*ids));
	*flags = calloc((size_t)n, sizeof(**flags));
	for (int i = 0; i < n && i < PQntuples(r); i++) {
		ids[i] = (uint32_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
		(*flags)[i] = wt_metric_info((enum wt_metric)strtol(PQgetvalue(r, i, 1), NULL, 10))
				      ->flags;
	}
	PQclear(r);
	return ids;
}

static double gauge(uint32_t id, int64_t ts)
{
	return 230.0 + (double)((id * 2654435761u + (uint64_t)ts / 5000 * 40503u) % 1000) * 0.01;
}

static double counter(uint32_t id, int64_t ts, int64_t t0)
{
	return (double)id * 1000.0 + (double)(ts - t0) / 1000.0 * (1.0 + id % 7);
}

/* Reads a COPY TO STDOUT (binary) of rows into chunks of 'per' rows, each a
 * complete COPY stream, ready to be sent as the baseline. */
struct chunk {
	unsigned char *data;
	size_t len, cap;
	int rows;
};

static void chunk_add(struct chunk *c, const void *p, size_t n)
{
	if (c->len + n > c->cap) {
		c->cap = (c->len + n) * 2;
		c->data = realloc(c->data, c->cap);
		if (!c->data)
			exit(1);
	}
	memcpy(c->data + c->len, p, n);
	c->len += n;
}

static const unsigned char copy_hdr[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n',
					   0,   0,   0,   0,   0,   0,   0,    0,    0};

static struct chunk *read_rows(PGconn *c, const char *sql, int per, int *nchunks)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		fprintf(stderr, "bench: %s", PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
	int cap = 16, n = 0;
	struct chunk *v = calloc((size_t)cap, sizeof(*v));
	char *buf;
	int len;
	bool first = true;
	while ((len = PQgetCopyData(c, &buf, 0)) > 0) {
		const unsigned char *p = (const unsigned char *)buf;
		size_t l = (size_t)len;
		if (first) {
			p += 19;
			l -= 19;
			first = false;
		}
		if (l == 2 && p[0] == 0xff && p[1] == 0xff) {
			PQfreemem(buf);
			continue;
		}
		if (n == 0 || v[n - 1].rows == per) {
			if (n == cap) {
				cap *= 2;
				v = realloc(v, (size_t)cap * sizeof(*v));
			}
			memset(&v[n], 0, sizeof(v[n]));
			chunk_add(&v[n], copy_hdr, 19);
			n++;
		}
		chunk_add(&v[n - 1], p, l);
		v[n - 1].rows++;
		PQfreemem(buf);
	}
	while ((r = PQgetResult(c)))
		PQclear(r);
	for (int i = 0; i < n; i++)
		chunk_add(&v[i], "\xff\xff", 2);
	*nchunks = n;
	return v;
}

/* Sends chunks with COPY, one transaction each (as the writer does);
 * returns the wall time. */
static double copy_chunks(PGconn *c, const char *copy_sql, struct chunk *v, int n)
{
	double t0 = wall_s();
	for (int i = 0; i < n; i++) {
		exec_or_die(c, "BEGIN");
		PGresult *r = PQexec(c, copy_sql);
		if (PQresultStatus(r) != PGRES_COPY_IN) {
			fprintf(stderr, "bench: %s", PQerrorMessage(c));
			exit(1);
		}
		PQclear(r);
		if (PQputCopyData(c, (const char *)v[i].data, (int)v[i].len) != 1 ||
		    PQputCopyEnd(c, NULL) != 1)
			exit(1);
		r = PQgetResult(c);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "bench: COPY: %s", PQerrorMessage(c));
			exit(1);
		}
		PQclear(r);
		while ((r = PQgetResult(c)))
			PQclear(r);
		exec_or_die(c, "COMMIT");
	}
	return wall_s() - t0;
}

/* Resident memory after giving freed heap back, so the figure is what is
 * held, not what malloc keeps cached. */
static long rss_kb(void)
{
	malloc_trim(0);
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * 4;
}

static int run_ingest(const char *ci, int n, int minutes)
{
	PGconn *c = conn_or_die(ci);
	unsigned *flags;
	uint32_t *ids = make_series(c, n, &flags);
	/* An hour-aligned start, like a real day. */
	int64_t now = 1767225600000LL + 10 * 3600000LL;
	const int64_t t0 = now;
	struct wt_clock clock = {wt_clock_manual_now, &now};
	struct wt_storage_options o;
	struct wt_storage *st;

	wt_storage_defaults(&o);
	o.conninfo = ci;
	o.spool_dir = getenv("WT_BENCH_SPOOL") ? getenv("WT_BENCH_SPOOL") : "/tmp/wt-bench-spool";
	long rss0 = rss_kb();
	if (wt_storage_open(&st, &o, NULL, &clock) < 0)
		return 1;

	/* Baseline table: same layout, same partitioning and index, fresh. */
	exec_or_die(c, "CREATE TABLE bench_raw (LIKE samples_5s) PARTITION BY RANGE (start);"
		       "CREATE INDEX ON bench_raw (series, start);"
		       "CREATE TABLE bench_raw_p PARTITION OF bench_raw FOR VALUES FROM "
		       "('2026-01-01') TO ('2026-01-02')");

	/* Interleaved per flush window, so the load of a shared machine hits
	 * both sides alike: our window (ingest, rollup, encoding, COPY through
	 * the writer, commit; pipelining disabled by waiting for the commit),
	 * then a raw COPY of exactly the rows it stored. */
	int buckets = minutes * 12;
	struct wt_sample *v = calloc((size_t)n, sizeof(*v));
	double cpu = 0, ours_s = 0, base_s = 0, p0 = process_cpu_s(), gen_cpu = 0;
	double mt0 = thread_cpu_s();
	long rss_steady = 0;
	int nb_chunks = 0;
	if (minutes < 3)
		minutes = 3;
	for (int m = 0; m < minutes; m++) {
		int64_t w0 = t0 + (int64_t)m * 60000;
		double t_start = wall_s(), gen = 0;
		for (int k = 0; k < 12; k++) {
			int64_t bs = w0 + (int64_t)k * WT_BUCKET_MS;
			double g0 = wall_s(), gc0 = thread_cpu_s();
			for (int i = 0; i < n; i++) {
				int64_t ts = bs + 1000 +
					     (i % 64) * 30; /* a device's outlets together */
				v[i] = (struct wt_sample){ids[i], WT_Q_GOOD, ts,
							  flags[i] & WT_MF_COUNTER
								  ? counter(ids[i], ts, t0)
								  : gauge(ids[i], ts)};
			}
			gen += wall_s() - g0;
			gen_cpu += thread_cpu_s() - gc0;
			now = bs + 4000;
			double c0 = thread_cpu_s();
			/* Pollers deliver one device (64 series) at a time. */
			for (int i = 0; i < n; i += 64)
				wt_storage_ingest(st, v + i, (size_t)(n - i < 64 ? n - i : 64));
			now = bs + WT_BUCKET_MS + WT_ROLLUP_GRACE_MS + 10;
			wt_storage_tick(st);
			cpu += thread_cpu_s() - c0;
		}
		if (wt_storage_sync(st, 600000, true) < 0)
			fprintf(stderr, "bench: writer did not finish a window\n");
		ours_s += wall_s() - t_start - gen;
		if (m == 2)
			rss_steady = rss_kb();

		/* The baseline's own buffers must not count in our RSS: the
		 * first three windows' baselines run after the measurement. */
		if (m < 2)
			continue;
		for (int mm = m == 2 ? 0 : m; mm <= m; mm++) {
			int64_t b0 = t0 + (int64_t)mm * 60000;
			char sql[512];
			snprintf(
				sql, sizeof(sql),
				"COPY (SELECT series, start, quality, cnt, v, mn, mx, raw FROM samples_5s "
				"WHERE start >= to_timestamp(%" PRId64 " / 1000.0) AND start < "
				"to_timestamp(%" PRId64
				" / 1000.0) ORDER BY series) TO STDOUT (FORMAT "
				"binary)",
				b0, b0 + 60000);
			int nch;
			struct chunk *ch = read_rows(c, sql, n, &nch);
			base_s += copy_chunks(c, "COPY bench_raw FROM STDIN (FORMAT binary)", ch,
					      nch);
			nb_chunks += nch;
			for (int i = 0; i < nch; i++)
				free(ch[i].data);
			free(ch);
		}
	}
	double writer_cpu = process_cpu_s() - p0 - (thread_cpu_s() - mt0);
	size_t bps = wt_storage_bytes_per_series(st);
	size_t rb = wt_rollup_bytes_per_series(wt_storage_rollup(st));
	struct wt_storage_health h;
	wt_storage_health(st, &h);
	double writer_s = h.write_ms_total / 1e3;
	wt_storage_close(st);

	/* A restart in the middle of the hour: open seeds the open hour from
	 * its 5 s rows and the counters from their newest rows. */
	double r0 = wall_s();
	if (wt_storage_open(&st, &o, NULL, &clock) < 0)
		return 1;
	double reopen_s = wall_s() - r0;
	wt_storage_close(st);

	double samples = scalar(c, "SELECT sum(array_length(v, 1)) FROM samples_5s");
	double disk = scalar(
		c, "SELECT sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i "
		   "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'samples_5s'");
	double rows = scalar(c, "SELECT count(*) FROM samples_5s");
	double bsamples = scalar(c, "SELECT sum(array_length(v, 1)) FROM bench_raw");
	double wall = ours_s, base = base_s;
	int nch = nb_chunks;
	(void)gen_cpu;
	double ours = samples / wall, baseline = bsamples / base;
	printf("scale: %d series, %d minutes (%d buckets), %.0f samples, %.0f rows\n", n, minutes,
	       buckets, samples, rows);
	printf("ours: %.2f s wall for everything (ingest, rollup, encoding, COPY, commit): %.0f "
	       "samples/s\n",
	       wall, ours);
	printf("ours: loop thread %.3f s CPU (rollup + encoding) = %.3f us/sample; writer thread "
	       "and libpq %.3f s CPU; sample generation excluded\n",
	       cpu, cpu * 1e6 / samples, writer_cpu);
	printf("baseline: raw COPY of the same %.0f samples in %d transactions: %.2f s = %.0f "
	       "samples/s\n",
	       bsamples, nch, base, baseline);
	printf("disk: %.0f bytes for %.0f samples (heap + index) = %.2f bytes/sample\n", disk,
	       samples, disk / samples);
	printf("ram: %zu bytes/series (rollup %zu + flush window + counter state); RSS growth at "
	       "steady state %.0f bytes/series (includes malloc and libpq overhead)\n",
	       bps, rb, (double)(rss_steady - rss0) * 1024.0 / n);
	printf("writer alone: %" PRIu64 " rows in %.2f s of write transactions (batch id, COPY, "
	       "commit) = %.0f samples/s, %.3f x the raw COPY\n",
	       h.rows_written, writer_s, samples / writer_s, samples / writer_s / baseline);
	printf("restart: wt_storage_open with %d series and %d minutes of the hour to seed: %.2f s\n",
	       n, minutes % 60, reopen_s);
	printf("RESULT ingest samples_per_s=%.0f copy_baseline_samples_per_s=%.0f ratio=%.3f "
	       "cpu_us_per_sample=%.3f disk_bytes_per_sample=%.2f ram_bytes_per_series=%zu\n",
	       ours, baseline, ours / baseline, cpu * 1e6 / samples, disk / samples, bps);
	free(v);
	free(ids);
	free(flags);
	PQfinish(c);
	return 0;
}

/* ---- layout comparison ---- */

static void put32(struct chunk *c, uint32_t v)
{
	unsigned char b[4];
	wt_be32(b, v);
	chunk_add(c, b, 4);
}

static void put16(struct chunk *c, uint16_t v)
{
	unsigned char b[2];
	wt_be16(b, v);
	chunk_add(c, b, 2);
}

static void put64(struct chunk *c, uint64_t v)
{
	unsigned char b[8];
	wt_be64(b, v);
	chunk_add(c, b, 8);
}

/* One row per sample: (series, ts, quality, v real, mn, mx, cnt NULL). */
static void enc_row(struct chunk *c, const uint32_t *ids, int n, int64_t w0,
		    double (*val)(uint32_t, int64_t))
{
	chunk_add(c, copy_hdr, 19);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 12; k++) {
			int64_t ts = w0 + k * WT_BUCKET_MS;
			float f = (float)val(ids[i], ts);
			uint32_t u;
			memcpy(&u, &f, 4);
			put16(c, 7);
			put32(c, 4);
			put32(c, ids[i]);
			put32(c, 8);
			put64(c, (uint64_t)wt_pg_ts_from_ms(ts));
			put32(c, 2);
			put16(c, 0);
			put32(c, 4);
			put32(c, u);
			put32(c, 0xffffffffu);
			put32(c, 0xffffffffu);
			put32(c, 0xffffffffu);
			c->rows++;
		}
	chunk_add(c, "\xff\xff", 2);
}

/* One row per series per minute with float8[12] (min/max NULL). */
static void enc_f8(struct chunk *c, const uint32_t *ids, int n, int64_t w0,
		   double (*val)(uint32_t, int64_t))
{
	chunk_add(c, copy_hdr, 19);
	for (int i = 0; i < n; i++) {
		put16(c, 7);
		put32(c, 4);
		put32(c, ids[i]);
		put32(c, 8);
		put64(c, (uint64_t)wt_pg_ts_from_ms(w0));
		put32(c, 2);
		put16(c, 0);
		put32(c, 0xffffffffu);
		put32(c, 20 + 12 * 12);
		put32(c, 1);
		put32(c, 0);
		put32(c, 701);
		put32(c, 12);
		put32(c, 1);
		for (int k = 0; k < 12; k++) {
			double d = val(ids[i], w0 + k * WT_BUCKET_MS);
			uint64_t u;
			memcpy(&u, &d, 8);
			put32(c, 8);
			put64(c, u);
		}
		put32(c, 0xffffffffu);
		put32(c, 0xffffffffu);
		c->rows++;
	}
	chunk_add(c, "\xff\xff", 2);
}

static double gauge_v(uint32_t id, int64_t ts)
{
	return gauge(id, ts);
}

static int run_layouts(const char *ci, int n, int minutes)
{
	PGconn *c = conn_or_die(ci);
	uint32_t *ids = calloc((size_t)n, sizeof(*ids));
	const int64_t t0 = 1767225600000LL + 10 * 3600000LL;
	for (int i = 0; i < n; i++)
		ids[i] = (uint32_t)i + 1;
	exec_or_die(
		c,
		"SET client_min_messages = warning;"
		"CREATE TABLE l_row (series int4 NOT NULL, ts timestamptz NOT NULL, quality int2 "
		"NOT NULL, v real NOT NULL, mn real, mx real, cnt int2) PARTITION BY RANGE (ts);"
		"CREATE INDEX ON l_row (series, ts);"
		"CREATE TABLE l_row_p PARTITION OF l_row FOR VALUES FROM ('2026-01-01') TO "
		"('2026-01-02');"
		"CREATE TABLE l_f8 (series int4 NOT NULL, start timestamptz NOT NULL, quality int2 "
		"NOT NULL, cnt int2[], v float8[] NOT NULL, mn float8[], mx float8[]) PARTITION BY "
		"RANGE (start);"
		"CREATE INDEX ON l_f8 (series, start);"
		"CREATE TABLE l_f8_p PARTITION OF l_f8 FOR VALUES FROM ('2026-01-01') TO "
		"('2026-01-02');"
		"CREATE TABLE l_f4 (series int4 NOT NULL, start timestamptz NOT NULL, quality int2 "
		"NOT NULL, cnt int2[], v real[] NOT NULL, mn real[], mx real[], raw float8) PARTITION BY "
		"RANGE (start);"
		"CREATE INDEX ON l_f4 (series, start);"
		"CREATE TABLE l_f4_p PARTITION OF l_f4 FOR VALUES FROM ('2026-01-01') TO "
		"('2026-01-02');");
	struct {
		const char *name, *table, *copy;
		double enc_s, copy_s;
	} L[] = {
		{"row per 5 s sample (float4, index series+ts)", "l_row",
		 "COPY l_row FROM STDIN (FORMAT binary)", 0, 0},
		{"row per series per minute, float8[12]", "l_f8",
		 "COPY l_f8 FROM STDIN (FORMAT binary)", 0, 0},
		{"row per series per minute, float4[12] (chosen)", "l_f4",
		 "COPY l_f4 FROM STDIN (FORMAT binary)", 0, 0},
	};
	struct wt_window w;
	if (wt_window_init(&w, 60000) < 0)
		return 1;
	if (minutes < 3)
		minutes = 3;
	for (int m = 0; m < minutes; m++) {
		int64_t w0 = t0 + (int64_t)m * 60000;
		for (int l = 0; l < 3; l++) {
			struct chunk ch = {0};
			double e0 = thread_cpu_s();
			if (l == 0)
				enc_row(&ch, ids, n, w0, gauge_v);
			else if (l == 1)
				enc_f8(&ch, ids, n, w0, gauge_v);
			else {
				struct wt_batch *b;
				for (int k = 0; k < 12; k++)
					for (int i = 0; i < n; i++) {
						double d = gauge(ids[i], w0 + k * WT_BUCKET_MS);
						struct wt_bucket bk = {
							ids[i], 1, w0 + k * WT_BUCKET_MS, d, d, d,
							d,      0};
						if (wt_window_add(&w, &bk) < 0)
							return 1;
					}
				if (wt_window_take(&w, NULL, NULL, &b) < 0 || !b)
					return 1;
				chunk_add(&ch, b->copy, b->copy_len);
				wt_batch_free(b);
			}
			L[l].enc_s += thread_cpu_s() - e0;
			L[l].copy_s += copy_chunks(c, L[l].copy, &ch, 1);
			free(ch.data);
		}
	}
	wt_window_free(&w);
	double samples = (double)n * minutes * 12;
	printf("layouts: %d series x %d minutes = %.0f samples, one transaction per minute\n", n,
	       minutes, samples);
	for (int l = 0; l < 3; l++) {
		char sql[256];
		snprintf(sql, sizeof(sql), "SELECT pg_total_relation_size('%s_p')", L[l].table);
		double disk = scalar(c, sql);
		snprintf(sql, sizeof(sql), "SELECT pg_relation_size('%s_p')", L[l].table);
		double heap = scalar(c, sql);
		printf("  %-48s COPY %9.0f samples/s  %6.2f bytes/sample (heap %5.2f + index %5.2f)"
		       "  encode %.3f us/sample\n",
		       L[l].name, samples / L[l].copy_s, disk / samples, heap / samples,
		       (disk - heap) / samples, L[l].enc_s * 1e6 / samples);
	}
	free(ids);
	PQfinish(c);
	return 0;
}

int main(int argc, char **argv)
{
	wt_log_setup(false, "bench_ingest", WT_LOG_WARNING);
	if (getenv("WT_BENCH_VERBOSE"))
		wt_log_setup(false, "bench_ingest", WT_LOG_INFO);
	if (argc < 5) {
		fprintf(stderr, "usage: bench_ingest ingest|layouts CONNINFO SERIES MINUTES\n");
		return 2;
	}
	int n = (int)strtol(argv[3], NULL, 10), minutes = (int)strtol(argv[4], NULL, 10);
	if (n <= 0 || minutes <= 0 || minutes > 600)
		return 2;
	if (strcmp(argv[1], "layouts") == 0)
		return run_layouts(argv[2], n, minutes);
	return run_ingest(argv[2], n, minutes);
}
