/* Unit tests of the storage layer's pure parts: partition naming and
 * expiry, the batch encoder/decoder, the spool's durability format and
 * corruption handling, and the query layer's resolution choice. */
#include "batch.h"
#include "log.h"
#include "partition.h"
#include "query.h"
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/check.h"

#define DAY 86400000LL
/* 2025-11-21T13:45:10Z */
#define T_NOV21 1763732710000LL

static void pname(enum wt_level l, int64_t ts, char *buf, size_t len)
{
	CHECK(wt_partition_name(l, ts, buf, len) == 0, "name for %" PRId64, ts);
}

static void test_names(void)
{
	char buf[64];
	int64_t lo, hi;
	enum wt_level l;

	/* 1763732710 s = 2025-11-21T13:45:10Z */
	CHECK(wt_partition_name(WT_LEVEL_5S, T_NOV21, buf, sizeof(buf)) == 0 &&
		      strcmp(buf, "samples_5s_p20251121") == 0,
	      "5s name: %s", buf);
	pname(WT_LEVEL_5S, 0, buf, sizeof(buf));
	CHECK(strcmp(buf, "samples_5s_p19700101") == 0, "epoch day: %s", buf);
	pname(WT_LEVEL_5S, -1, buf, sizeof(buf));
	CHECK(strcmp(buf, "samples_5s_p19691231") == 0, "before epoch: %s", buf);
	pname(WT_LEVEL_5S, 951782400000LL, buf, sizeof(buf)); /* 2000-02-29 */
	CHECK(strcmp(buf, "samples_5s_p20000229") == 0, "leap day: %s", buf);
	pname(WT_LEVEL_HOUR, 951782400000LL, buf, sizeof(buf));
	CHECK(strcmp(buf, "samples_1h_p200002") == 0, "month: %s", buf);
	pname(WT_LEVEL_DAY, 951782400000LL, buf, sizeof(buf));
	CHECK(strcmp(buf, "samples_1d_p2000") == 0, "year: %s", buf);
	/* Last millisecond of a day stays in that day. */
	pname(WT_LEVEL_5S, 951868799999LL, buf, sizeof(buf));
	CHECK(strcmp(buf, "samples_5s_p20000229") == 0, "end of day: %s", buf);
	pname(WT_LEVEL_5S, 951868800000LL, buf, sizeof(buf));
	CHECK(strcmp(buf, "samples_5s_p20000301") == 0, "next day: %s", buf);
	CHECK(wt_partition_name(WT_LEVEL_5S, 0, buf, 10) == -ENAMETOOLONG, "short buffer");

	wt_partition_range(WT_LEVEL_5S, 951782400000LL + 5000, &lo, &hi);
	CHECK(lo == 951782400000LL && hi == lo + DAY, "day range");
	/* February 2000 has 29 days; December rolls over the year. */
	wt_partition_range(WT_LEVEL_HOUR, 951782400000LL, &lo, &hi);
	CHECK(lo == 949363200000LL && hi == 951868800000LL, "month range %" PRId64 " %" PRId64, lo,
	      hi);
	wt_partition_range(WT_LEVEL_HOUR, 1765000000000LL, &lo, &hi); /* 2025-12-06 */
	CHECK(lo == 1764547200000LL && hi == 1767225600000LL, "december range");
	wt_partition_range(WT_LEVEL_DAY, 951782400000LL, &lo, &hi);
	CHECK(lo == 946684800000LL && hi == 978307200000LL, "year range (leap year 366 d)");

	/* Round trip over 3 years of days. */
	int bad = 0;
	for (int64_t t = 1700000000000LL; t < 1700000000000LL + 1100 * DAY; t += DAY / 3) {
		for (int lv = 0; lv < 3; lv++) {
			int64_t lo2, hi2, plo, phi;
			pname((enum wt_level)lv, t, buf, sizeof(buf));
			wt_partition_range((enum wt_level)lv, t, &lo2, &hi2);
			if (!wt_partition_parse(buf, &l, &plo, &phi) || (int)l != lv ||
			    plo != lo2 || phi != hi2 || t < lo2 || t >= hi2)
				bad++;
		}
	}
	CHECK(bad == 0, "%d name/range/parse round trips failed", bad);

	CHECK(!wt_partition_parse("samples_5s_p20260231", &l, &lo, &hi), "Feb 31 rejected");
	CHECK(!wt_partition_parse("samples_5s_pfoo", &l, &lo, &hi), "foreign name rejected");
	CHECK(!wt_partition_parse("samples_5s_p2026010", &l, &lo, &hi), "short name rejected");
	CHECK(!wt_partition_parse("samples_1h_p20260101", &l, &lo, &hi), "long month rejected");
	CHECK(!wt_partition_parse("devices", &l, &lo, &hi), "other table rejected");
	CHECK(wt_partition_parse("samples_1d_p2030", &l, &lo, &hi) && l == WT_LEVEL_DAY,
	      "year parsed");

	/* Expiry: a partition goes when all of it is older than the retention. */
	int64_t now = 1767225600000LL + 12 * 3600000LL; /* 2026-01-01 12:00 */
	wt_partition_range(WT_LEVEL_5S, now - 14 * DAY, &lo, &hi);
	CHECK(!wt_partition_expired(hi, now, 14), "day 14 back still holds data inside retention");
	wt_partition_range(WT_LEVEL_5S, now - 15 * DAY, &lo, &hi);
	CHECK(wt_partition_expired(hi, now, 14), "day 15 back expired");
	CHECK(!wt_partition_expired(hi, now, 0), "retention 0 keeps everything");
	CHECK(wt_partition_expired(now - 14 * DAY, now, 14), "boundary: hi == now - retention");
	CHECK(!wt_partition_expired(now - 14 * DAY + 1, now, 14), "boundary + 1 ms kept");
}

static void test_civil(void)
{
	int bad = 0;
	for (int64_t z = -800000; z < 800000; z += 7) {
		int y;
		unsigned m, d;
		wt_civil_from_days(z, &y, &m, &d);
		if (wt_days_from_civil(y, m, d) != z || m < 1 || m > 12 || d < 1 || d > 31)
			bad++;
	}
	CHECK(bad == 0, "civil round trip failed %d times", bad);
	CHECK(wt_days_from_civil(1970, 1, 1) == 0, "epoch");
	CHECK(wt_days_from_civil(2000, 3, 1) == 11017, "2000-03-01");
}

static void test_crc(void)
{
	CHECK(wt_crc32c(0, "123456789", 9) == 0xe3069283u, "crc32c check value %08x",
	      wt_crc32c(0, "123456789", 9));
	char buf[100];
	for (int i = 0; i < 100; i++)
		buf[i] = (char)(i * 7);
	/* Incremental equals one shot. */
	CHECK(wt_crc32c(wt_crc32c(0, buf, 37), buf + 37, 63) == wt_crc32c(0, buf, 100),
	      "crc incremental");
}

struct collect {
	struct wt_row5s rows[8];
	int n;
	struct wt_agg aggs[8];
	int na;
};

static int on_row(void *ctx, const struct wt_row5s *r)
{
	struct collect *c = ctx;
	if (c->n < 8)
		c->rows[c->n++] = *r;
	return 0;
}

static int on_agg(void *ctx, const struct wt_agg *a)
{
	struct collect *c = ctx;
	if (c->na < 8)
		c->aggs[c->na++] = *a;
	return 0;
}

/* Series 3 and 2 are "counters" with a known raw reading. */
static bool raw5(void *ctx, uint32_t series, double *raw)
{
	(void)ctx;
	if (series != 3 && series != 2)
		return false;
	*raw = 12345.678;
	return true;
}

static struct wt_bucket bk(uint32_t s, int64_t start, uint32_t count, double mn, double mx,
			   double sum, uint8_t q)
{
	return (struct wt_bucket){s, count, start, mn, mx, sum, sum / (count ? count : 1), q};
}

static void test_window(void)
{
	struct wt_window w;
	struct wt_batch *b = NULL;
	struct collect *c = calloc(1, sizeof(*c));
	const int64_t T = 1767225600000LL; /* minute aligned */

	CHECK(wt_window_init(&w, 7000) == -EINVAL, "window must be whole buckets");
	CHECK(wt_window_init(&w, 600000) == -EINVAL, "window capped");
	CHECK(wt_window_init(&w, 60000) == 0 && w.nb == 12, "60 s window");
	/* series 3: one sample per bucket, a gap at bucket 2, starts at bucket 1 */
	struct wt_bucket in[] = {
		bk(3, T + 5000, 1, 10.5, 10.5, 10.5, 0),
		bk(3, T + 15000, 1, 11.25, 11.25, 11.25, 1),
		bk(3, T + 20000, 1, 12, 12, 12, 0),
		/* series 2000: two samples in one bucket: min/max kept */
		bk(2000, T, 1, 5, 5, 5, 0),
		bk(2000, T + 55000, 2, 4, 8, 12, 0),
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		CHECK(wt_window_add(&w, &in[i]) == 0, "add %zu", i);
	struct wt_bucket late = bk(3, T + 60000, 1, 1, 1, 1, 0);
	CHECK(wt_window_add(&w, &late) == -ERANGE, "bucket outside the window refused");

	struct wt_row5s pk;
	CHECK(wt_window_peek(&w, 3, &pk) && pk.cnt[1] == 1 && pk.cnt[2] == 0 && pk.v[3] == 11.25f,
	      "peek open window");
	CHECK(!wt_window_peek(&w, 4, &pk), "peek unknown series");

	CHECK(wt_window_take(&w, raw5, NULL, &b) == 0 && b, "take");
	CHECK(b->rows == 2 && b->samples == 5, "rows %u samples %u", b->rows, b->samples);
	CHECK(b->min_ts == T && b->max_ts == T + 5000, "row start range");
	CHECK(wt_batch_foreach_5s(b, on_row, c) == 0 && c->n == 2, "decode %d rows", c->n);
	struct wt_row5s *r = &c->rows[0];
	CHECK(r->series == 3 && r->start_ms == T + 5000 && r->nb == 4,
	      "trimmed row: start %" PRId64 " nb %d", r->start_ms, r->nb);
	CHECK(r->cnt[0] == 1 && r->cnt[1] == 0 && r->cnt[2] == 1 && r->cnt[3] == 1, "gap kept");
	CHECK(r->v[0] == 10.5f && isnan(r->v[1]) && r->v[2] == 11.25f && r->v[3] == 12.0f,
	      "values");
	CHECK(r->mn[0] == 10.5f && r->mx[3] == 12.0f, "min = max = avg when single");
	CHECK(r->quality == 1, "worst quality");
	CHECK(r->has_raw && r->raw == 12345.678, "raw reading of a counter row");
	CHECK(!c->rows[1].has_raw, "no raw reading for a gauge");
	r = &c->rows[1];
	CHECK(r->series == 2000 && r->start_ms == T && r->nb == 12, "full row");
	CHECK(r->cnt[0] == 1 && r->cnt[11] == 2 && r->v[11] == 6.0f && r->mn[11] == 4.0f &&
		      r->mx[11] == 8.0f && r->mn[0] == 5.0f && r->mx[0] == 5.0f,
	      "counts and min/max");
	wt_batch_free(b);

	/* The window is empty again and slots were reset. */
	CHECK(wt_window_take(&w, NULL, NULL, &b) == 0 && b == NULL, "empty window gives no batch");
	struct wt_bucket again = bk(3, T + 60000, 1, 7, 7, 7, 0);
	CHECK(wt_window_add(&w, &again) == 0 && w.start_ms == T + 60000, "next window");
	CHECK(wt_window_take(&w, NULL, NULL, &b) == 0 && b && b->rows == 1, "one row");
	c->n = 0;
	CHECK(wt_batch_foreach_5s(b, on_row, c) == 0 && c->n == 1 && c->rows[0].nb == 1 &&
		      c->rows[0].quality == 0,
	      "slot reset between windows");
	wt_batch_free(b);

	/* Aggregates. */
	struct wt_agg ag[] = {{7, 720, T, 1.5, 9.25, 1234.5, 0},
			      {9, 0, T, 0, 0, 0, 0},
			      {8, 3, T, -1, 1, 0.125, 2}};
	CHECK(wt_batch_from_aggs(WT_LEVEL_HOUR, ag, 3, 42, &b) == 0 && b->rows == 2 &&
		      b->id == 42 && b->level == WT_LEVEL_HOUR,
	      "agg batch (empty aggregate skipped)");
	CHECK(wt_batch_foreach_agg(b, on_agg, c) == 0 && c->na == 2, "agg decode");
	CHECK(c->aggs[0].series == 7 && c->aggs[0].count == 720 && c->aggs[0].sum == 1234.5 &&
		      c->aggs[0].min == 1.5 && c->aggs[0].max == 9.25 && c->aggs[0].start_ms == T,
	      "agg fields");
	CHECK(c->aggs[1].quality == 2 && c->aggs[1].min == -1, "agg quality");
	/* A truncated stream is refused, not read past its end. */
	b->copy_len -= 5;
	c->na = 0;
	CHECK(wt_batch_foreach_agg(b, on_agg, c) == -EBADMSG, "truncated batch refused");
	wt_batch_free(b);

	/* Counts above 255 (a 60 Hz feed) stay exact through the side block. */
	struct wt_bucket big[] = {bk(5, T + 120000, 1, 2, 2, 2, 0),
				  bk(5, T + 125000, 300, 1, 3, 600, 0)};
	CHECK(wt_window_add(&w, &big[0]) == 0 && wt_window_add(&w, &big[1]) == 0, "add big");
	CHECK(wt_window_take(&w, NULL, NULL, &b) == 0 && b, "take big");
	c->n = 0;
	CHECK(wt_batch_foreach_5s(b, on_row, c) == 0 && c->n == 1 && c->rows[0].cnt[0] == 1 &&
		      c->rows[0].cnt[1] == 300 && c->rows[0].v[1] == 2.0f &&
		      c->rows[0].mn[0] == 2.0f,
	      "count 300 exact, earlier single bucket kept");
	wt_batch_free(b);

	uint64_t id1 = wt_batch_new_id(&w), id2 = wt_batch_new_id(&w);
	CHECK(id2 == id1 + 1 && id1 < (1ULL << 63), "batch ids sequential and positive");
	wt_window_free(&w);
	free(c);
}

static void test_spool(void)
{
	char dir[] = "/tmp/wt-spool-XXXXXX";
	struct wt_spool *s;
	struct wt_window w;
	struct wt_batch *b[3], *got;
	const int64_t T = 1767225600000LL;

	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	CHECK(wt_window_init(&w, 60000) == 0, "window");
	for (int i = 0; i < 3; i++) {
		struct wt_bucket x = bk((uint32_t)(i + 1), T + i * 60000, 1, i, i, i, 0);
		CHECK(wt_window_add(&w, &x) == 0 && wt_window_take(&w, raw5, NULL, &b[i]) == 0 &&
			      b[i],
		      "batch %d", i);
	}

	CHECK(wt_spool_open(&s, dir, 0) == 0, "open");
	for (int i = 0; i < 3; i++)
		CHECK(wt_spool_put(s, b[i], false) == 0, "put %d", i);
	CHECK(wt_spool_count(s) == 3 && wt_spool_bytes(s) > 0, "count");
	uint64_t bytes = wt_spool_bytes(s);
	wt_spool_close(s);

	/* Reopen: order kept; corrupt the second file; a stray .tmp is removed. */
	char path[256];
	snprintf(path, sizeof(path), "%s/0000000000000001.batch", dir);
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0, "open second file");
	if (fd >= 0) {
		CHECK(pwrite(fd, "X", 1, 70) == 1, "corrupt");
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/0000000000000003.batch.tmp", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	if (fd >= 0)
		close(fd);

	CHECK(wt_spool_open(&s, dir, 0) == 0 && wt_spool_count(s) == 3 &&
		      wt_spool_bytes(s) == bytes,
	      "reopen indexes 3 files");
	CHECK(access(path, F_OK) != 0, "stray tmp removed");
	CHECK(wt_spool_peek(s, &got) == 0 && got->id == b[0]->id && got->rows == 1 &&
		      got->copy_len == b[0]->copy_len &&
		      memcmp(got->copy, b[0]->copy, got->copy_len) == 0,
	      "first batch intact");
	wt_batch_free(got);
	CHECK(wt_spool_pop(s) == 0 && wt_spool_count(s) == 2, "pop");
	/* The corrupt one is quarantined (logged), the third comes next. */
	CHECK(wt_spool_peek(s, &got) == 0 && got->id == b[2]->id, "corrupt file skipped");
	wt_batch_free(got);
	snprintf(path, sizeof(path), "%s/0000000000000001.batch.bad", dir);
	CHECK(access(path, F_OK) == 0, "corrupt file kept aside as .bad");
	CHECK(wt_spool_pop(s) == 0 && wt_spool_count(s) == 0, "empty");
	CHECK(wt_spool_peek(s, &got) == -ENOENT, "peek on empty");

	/* Counters survive the round trip; the cap refuses unless forced. */
	wt_spool_set_max(s, b[1]->copy_len + 100);
	CHECK(wt_spool_put(s, b[1], false) == 0, "fits under cap");
	CHECK(wt_spool_put(s, b[2], false) == -ENOSPC, "cap refuses");
	CHECK(wt_spool_put(s, b[2], true) == 0, "forced past cap");
	struct collect *cc = calloc(1, sizeof(*cc));
	CHECK(wt_spool_peek(s, &got) == 0 && wt_batch_foreach_5s(got, on_row, cc) == 0 &&
		      cc->n == 1 && cc->rows[0].series == 2 && cc->rows[0].has_raw &&
		      cc->rows[0].raw == 12345.678 && cc->rows[0].start_ms == T + 60000,
	      "a spooled batch decodes with its raw reading");
	free(cc);
	wt_batch_free(got);
	CHECK(wt_spool_pop(s) == 0 && wt_spool_pop(s) == 0, "drain");
	wt_spool_close(s);
	for (int i = 0; i < 3; i++)
		wt_batch_free(b[i]);
	wt_window_free(&w);
	snprintf(path, sizeof(path), "%s/0000000000000001.batch.bad", dir);
	unlink(path);
	CHECK(rmdir(dir) == 0, "spool dir left empty");
}

static void test_pick(void)
{
	const int64_t H = 3600000LL;
	CHECK(wt_query_pick_level(0, H, 1000) == WT_LEVEL_5S, "1 h at 1000 points: 5 s (720)");
	CHECK(wt_query_pick_level(0, H, 719) == WT_LEVEL_HOUR, "1 h at 719 points: hourly");
	CHECK(wt_query_pick_level(0, DAY, 1000) == WT_LEVEL_HOUR, "1 day: hourly (24)");
	CHECK(wt_query_pick_level(0, 41 * DAY, 1000) == WT_LEVEL_HOUR, "41 days: 984 hours");
	CHECK(wt_query_pick_level(0, 42 * DAY, 1000) == WT_LEVEL_DAY, "42 days: daily");
	CHECK(wt_query_pick_level(0, 100000 * DAY, 10) == WT_LEVEL_DAY, "nothing fits: daily");
	CHECK(wt_query_pick_level(0, H, 0) == WT_LEVEL_5S, "budget 0 means 1000");
}

int main(void)
{
	wt_log_setup(false, "test", WT_LOG_WARNING);
	test_names();
	test_civil();
	test_crc();
	test_window();
	test_spool();
	test_pick();
	printf("%d of %d checks passed\n", checks - failures, checks);
	return failures ? 1 : 0;
}
