#include "partition.h"

#include "log.h"
#include "pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS 86400000LL

static const char *const parents[] = {"samples_5s", "samples_1h", "samples_1d"};

const char *wt_partition_parent(enum wt_level level)
{
	return parents[level];
}

int64_t wt_days_from_civil(int y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void wt_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const int64_t yy = (int64_t)yoe + era * 400;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b < 0) ? q - 1 : q;
}

void wt_partition_range(enum wt_level level, int64_t ts_ms, int64_t *lo, int64_t *hi)
{
	int64_t day = floor_div(ts_ms, DAY_MS);
	int y;
	unsigned m, d;

	switch (level) {
	case WT_LEVEL_5S:
		*lo = day * DAY_MS;
		*hi = *lo + DAY_MS;
		return;
	case WT_LEVEL_HOUR:
		wt_civil_from_days(day, &y, &m, &d);
		*lo = wt_days_from_civil(y, m, 1) * DAY_MS;
		*hi = (m == 12 ? wt_days_from_civil(y + 1, 1, 1)
			       : wt_days_from_civil(y, m + 1, 1)) *
		      DAY_MS;
		return;
	case WT_LEVEL_DAY:
		wt_civil_from_days(day, &y, &m, &d);
		*lo = wt_days_from_civil(y, 1, 1) * DAY_MS;
		*hi = wt_days_from_civil(y + 1, 1, 1) * DAY_MS;
		return;
	}
}

int wt_partition_name(enum wt_level level, int64_t ts_ms, char *buf, size_t len)
{
	int y, n = 0;
	unsigned m, d;

	wt_civil_from_days(floor_div(ts_ms, DAY_MS), &y, &m, &d);
	switch (level) {
	case WT_LEVEL_5S:
		n = snprintf(buf, len, "samples_5s_p%04d%02u%02u", y, m, d);
		break;
	case WT_LEVEL_HOUR:
		n = snprintf(buf, len, "samples_1h_p%04d%02u", y, m);
		break;
	case WT_LEVEL_DAY:
		n = snprintf(buf, len, "samples_1d_p%04d", y);
		break;
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool wt_partition_parse(const char *name, enum wt_level *level, int64_t *lo, int64_t *hi)
{
	static const size_t want_len[] = {8, 6, 4};
	for (int l = WT_LEVEL_5S; l <= WT_LEVEL_DAY; l++) {
		size_t plen = strlen(parents[l]);
		if (strncmp(name, parents[l], plen) != 0 || strncmp(name + plen, "_p", 2) != 0)
			continue;
		const char *s = name + plen + 2;
		int y, m = 1, d = 1;
		if (strlen(s) != want_len[l] || !digits(s, 4, &y))
			return false;
		if (l <= WT_LEVEL_HOUR && !digits(s + 4, 2, &m))
			return false;
		if (l == WT_LEVEL_5S && !digits(s + 6, 2, &d))
			return false;
		if (m < 1 || m > 12 || d < 1 || d > 31)
			return false;
		int64_t ts = wt_days_from_civil(y, (unsigned)m, (unsigned)d) * DAY_MS;
		/* Reject names like 20260231 that do not round-trip. */
		char again[64];
		if (wt_partition_name((enum wt_level)l, ts, again, sizeof(again)) < 0 ||
		    strcmp(again, name) != 0)
			return false;
		*level = (enum wt_level)l;
		wt_partition_range((enum wt_level)l, ts, lo, hi);
		return true;
	}
	return false;
}

bool wt_partition_expired(int64_t hi, int64_t now_ms, int retention_days)
{
	if (retention_days <= 0)
		return false;
	return hi <= now_ms - (int64_t)retention_days * DAY_MS;
}

static void iso(int64_t ms, char *buf, size_t len)
{
	int y;
	unsigned m, d;
	wt_civil_from_days(floor_div(ms, DAY_MS), &y, &m, &d);
	snprintf(buf, len, "%04d-%02u-%02u 00:00:00+00", y, m, d);
}

int wt_partition_ensure(PGconn *c, enum wt_level level, int64_t ts_ms)
{
	char name[64], lo_s[40], hi_s[40], sql[512];
	int64_t lo, hi;

	if (wt_partition_name(level, ts_ms, name, sizeof(name)) < 0)
		return -EINVAL;
	wt_partition_range(level, ts_ms, &lo, &hi);
	iso(lo, lo_s, sizeof(lo_s));
	iso(hi, hi_s, sizeof(hi_s));
	/* Partitions are always day-aligned, so the ISO date is exact. */
	snprintf(sql, sizeof(sql),
		 "SET client_min_messages = warning;"
		 "CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')",
		 name, parents[level], lo_s, hi_s);
	return wt_pg_exec(c, "create partition", sql);
}

int wt_partition_ahead(PGconn *c, int64_t now_ms)
{
	int64_t lo, hi;
	for (int i = 0; i < 3; i++)
		if (wt_partition_ensure(c, WT_LEVEL_5S, now_ms + i * DAY_MS) < 0)
			return -EIO;
	int64_t t = now_ms;
	for (int i = 0; i < 2; i++) {
		if (wt_partition_ensure(c, WT_LEVEL_HOUR, t) < 0)
			return -EIO;
		wt_partition_range(WT_LEVEL_HOUR, t, &lo, &hi);
		t = hi;
	}
	t = now_ms;
	for (int i = 0; i < 2; i++) {
		if (wt_partition_ensure(c, WT_LEVEL_DAY, t) < 0)
			return -EIO;
		wt_partition_range(WT_LEVEL_DAY, t, &lo, &hi);
		t = hi;
	}
	return 0;
}

int wt_retention_run(PGconn *c, int64_t now_ms, int days_5s, int days_1h, int days_1d, int *dropped)
{
	const int days[] = {days_5s, days_1h, days_1d};
	PGresult *r;
	int n = 0, rc = 0;

	if (dropped)
		*dropped = 0;
	rc = wt_pg_query(
		c, "list partitions", &r,
		"SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
		"JOIN pg_class p ON p.oid = i.inhparent "
		"WHERE p.relname IN ('samples_5s', 'samples_1h', 'samples_1d') "
		"ORDER BY 1",
		0, NULL);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *name = PQgetvalue(r, i, 0);
		enum wt_level lvl;
		int64_t lo, hi;
		char sql[128];

		if (!wt_partition_parse(name, &lvl, &lo, &hi) ||
		    !wt_partition_expired(hi, now_ms, days[lvl]))
			continue;
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
		if ((rc = wt_pg_exec(c, "drop partition", sql)) < 0)
			break;
		wt_notice("retention: dropped partition %s", name);
		n++;
	}
	PQclear(r);
	if (rc == 0) {
		/* Batch ids only guard against replaying a spooled batch twice; a
		 * batch cannot sit in the spool for 90 days unnoticed. */
		char sql[160], ts[32];
		snprintf(ts, sizeof(ts), "%" PRId64, (int64_t)(now_ms - 90 * DAY_MS));
		snprintf(sql, sizeof(sql),
			 "DELETE FROM storage_batches WHERE ts < to_timestamp(%s / 1000.0)", ts);
		rc = wt_pg_exec(c, "prune storage_batches", sql);
	}
	if (dropped)
		*dropped = n;
	return rc;
}
