/* Benchmark of the rollup engine: N series (20% counters), several 5 s
 * buckets, the last one ending an hour. Samples arrive in batches of one
 * device's series (64 consecutive ids), devices in a shuffled order, as the
 * pollers deliver them. Prints ns/sample for ingest and for close, the
 * hour close, and bytes/series, all as CPU time of the thread. Not a test:
 * it measures and prints.
 *
 *   bench_rollup [--quick] [--series N] [--buckets K]
 *
 * Last line: RESULT rollup ingest_ns=.. close_ns=.. hour_close_ms=.. bytes_per_series=.. */
#include "rollup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEVICE_SERIES 64

/* CPU time of this thread: on a shared machine wall time measures the
 * neighbours; the cost of the engine is the CPU it uses. */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Subscribers do what a cheap real one does: read every row once. */
static uint64_t seen_rows;
static double seen_sum;

static void on_close(void *ctx, int64_t start, const struct wt_bucket *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		seen_sum += b[i].sum;
	seen_rows += n;
}

static void on_agg(void *ctx, enum wt_level level, int64_t start, const struct wt_agg *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		seen_sum += a[i].sum;
	seen_rows += n;
}

static long parse_long(const char *s, long dflt)
{
	char *end;
	long v = strtol(s, &end, 10);
	return (*s && !*end && v > 0) ? v : dflt;
}

int main(int argc, char **argv)
{
	long nser = 1000000, nbuckets = 6;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			nser = 100000;
		} else if (strcmp(argv[i], "--series") == 0 && i + 1 < argc) {
			nser = parse_long(argv[++i], nser);
		} else if (strcmp(argv[i], "--buckets") == 0 && i + 1 < argc) {
			nbuckets = parse_long(argv[++i], nbuckets);
		} else {
			fprintf(stderr, "usage: %s [--quick] [--series N] [--buckets K]\n",
				argv[0]);
			return 2;
		}
	}
	if (nser > (long)WT_ROLLUP_MAX_SERIES)
		nser = WT_ROLLUP_MAX_SERIES;
	/* The run ends exactly at an hour end, so the last close also closes the hour. */
	int64_t hour_end = 1772398800LL * 1000 + WT_HOUR_MS;
	int64_t t0 = hour_end - nbuckets * WT_BUCKET_MS;
	int64_t now = t0;
	struct wt_clock clock = {wt_clock_manual_now, &now};
	struct wt_rollup *r = wt_rollup_new(&clock);
	if (!r || wt_rollup_on_close(r, on_close, NULL) < 0 ||
	    wt_rollup_on_agg(r, on_agg, NULL) < 0 || wt_rollup_reserve(r, (uint32_t)nser - 1) < 0) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	for (long id = 0; id < nser; id++) {
		if (wt_rollup_register(r, (uint32_t)id, id % 5 == 0 ? WT_MF_COUNTER : 0, 0) < 0) {
			fprintf(stderr, "register failed\n");
			return 1;
		}
	}

	/* Device order, shuffled once: which device answers first varies. */
	long ndev = (nser + DEVICE_SERIES - 1) / DEVICE_SERIES;
	long *order = malloc((size_t)ndev * sizeof *order);
	struct wt_sample *s = malloc((size_t)nser * sizeof *s);
	double *counter = calloc((size_t)nser, sizeof *counter);
	if (!order || !s || !counter) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (long d = 0; d < ndev; d++)
		order[d] = d;
	for (long d = ndev - 1; d > 0; d--) {
		long j = (long)(rnd() % (uint64_t)(d + 1)), t = order[d];
		order[d] = order[j];
		order[j] = t;
	}

	double ingest_ns = 0, close_ns = 0, hour_ns = 0;
	uint64_t ingested = 0, closed_rows = 0;
	/* Bucket -1 primes the counters (a first reading gives no delta), so it
	 * is not measured. */
	for (long k = -1; k < nbuckets; k++) {
		int64_t bstart = t0 + k * WT_BUCKET_MS;
		size_t n = 0;
		for (long d = 0; d < ndev; d++) {
			int64_t ts = bstart + 200 + (int64_t)(rnd() % 4500);
			for (long id = order[d] * DEVICE_SERIES;
			     id < (order[d] + 1) * DEVICE_SERIES && id < nser; id++) {
				double v;
				if (id % 5 == 0)
					v = counter[id] += 1.0 + (double)(rnd() % 100) / 10.0;
				else
					v = 230.0 + (double)(rnd() % 1000) / 100.0;
				s[n++] = (struct wt_sample){
					.series = (uint32_t)id, .ts_ms = ts, .value = v};
			}
		}
		now = bstart + 4900;
		double t = now_ns();
		for (size_t i = 0; i < n; i += DEVICE_SERIES)
			wt_rollup_ingest(r, s + i, n - i < DEVICE_SERIES ? n - i : DEVICE_SERIES);
		double dt = now_ns() - t;
		uint64_t before = wt_rollup_stats(r)->buckets_closed;
		now = bstart + WT_BUCKET_MS + WT_ROLLUP_GRACE_MS;
		t = now_ns();
		wt_rollup_tick(r);
		double ct = now_ns() - t;
		if (k < 0)
			continue;
		ingest_ns += dt;
		ingested += n;
		if (bstart + WT_BUCKET_MS == hour_end) {
			/* Time the hour close apart: bucket close, then the hour. */
			hour_ns = ct;
		} else {
			close_ns += ct;
			closed_rows += wt_rollup_stats(r)->buckets_closed - before;
		}
	}
	const struct wt_rollup_stats *st = wt_rollup_stats(r);
	double ing = ingest_ns / (double)ingested;
	double cls = closed_rows ? close_ns / (double)closed_rows : 0;
	size_t bps = wt_rollup_bytes_per_series(r);
	printf("series %ld, buckets %ld, samples %" PRIu64 " accepted %" PRIu64
	       ", rows seen by subscribers %" PRIu64 "\n",
	       nser, nbuckets, ingested, st->samples, seen_rows);
	printf("ingest: %.1f ns/sample\n", ing);
	printf("close (5 s boundary, incl. subscriber call and hour fold): %.1f ns/sample\n", cls);
	printf("close of the last boundary + hour end: %.1f ms (%.1f ns/series)\n", hour_ns / 1e6,
	       hour_ns / (double)nser);
	printf("memory: %zu bytes/series (72 state, the rest the output array)\n", bps);
	printf("RESULT rollup ingest_ns=%.1f close_ns=%.1f hour_close_ms=%.1f bytes_per_series=%zu "
	       "series=%ld\n",
	       ing, cls, hour_ns / 1e6, bps, nser);
	free(order);
	free(s);
	free(counter);
	wt_rollup_free(r);
	return seen_sum < 0; /* keeps the subscribers' work observable */
}
