#include "notify_tz.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static bool name_ok(const char *s)
{
	if (!*s || *s == '/' || strstr(s, ".."))
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr("_+-/", *s)))
			return false;
	return true;
}

static int parse_tzif(struct wt_tz *tz, const unsigned char *d, size_t len)
{
	if (len < 44 || memcmp(d, "TZif", 4) != 0)
		return -EINVAL;
	/* skip the version 1 block; use the 64-bit one of version 2+ */
	uint32_t c[6];
	for (int i = 0; i < 6; i++)
		c[i] = be32(d + 20 + 4 * i);
	size_t v1 = (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
	int tsize = 4;
	const unsigned char *p = d + 44;
	if (d[4] >= '2') {
		if (44 + v1 + 44 > len || memcmp(d + 44 + v1, "TZif", 4) != 0)
			return -EINVAL;
		p = d + 44 + v1 + 44;
		for (int i = 0; i < 6; i++)
			c[i] = be32(p - 24 + 4 * i);
		tsize = 8;
	}
	size_t need = (size_t)c[3] * (size_t)(tsize + 1) + (size_t)c[4] * 6 + c[5];
	if (c[4] == 0 || c[4] > 256 || (size_t)(p - d) + need > len)
		return -EINVAL;
	tz->trans = calloc(c[3] + 1, sizeof(int64_t));
	tz->idx = calloc(c[3] + 1, 1);
	tz->types = calloc(c[4], sizeof(*tz->types));
	if (!tz->trans || !tz->idx || !tz->types)
		return -ENOMEM;
	for (uint32_t i = 0; i < c[3]; i++)
		tz->trans[i] = tsize == 8 ? be64(p + 8 * i) : (int32_t)be32(p + 4 * i);
	p += (size_t)c[3] * tsize;
	for (uint32_t i = 0; i < c[3]; i++) {
		if (p[i] >= c[4])
			return -EINVAL;
		tz->idx[i] = p[i];
	}
	p += c[3];
	const unsigned char *abbrs = p + (size_t)c[4] * 6;
	for (uint32_t i = 0; i < c[4]; i++) {
		tz->types[i].off_s = (int32_t)be32(p + 6 * i);
		unsigned ai = p[6 * i + 5];
		if (ai < c[5])
			snprintf(tz->types[i].abbr, sizeof(tz->types[i].abbr), "%.*s",
				 (int)strnlen((const char *)abbrs + ai, c[5] - ai),
				 (const char *)abbrs + ai);
	}
	tz->ntrans = c[3];
	tz->ntypes = c[4];
	return 0;
}

int wt_tz_load(struct wt_tz *tz, const char *name)
{
	memset(tz, 0, sizeof(*tz));
	if (!name || !*name || strcmp(name, "UTC") == 0 || strcmp(name, "Z") == 0) {
		snprintf(tz->fixed.abbr, sizeof(tz->fixed.abbr), "UTC");
		return 0;
	}
	if (name[0] == '+' || name[0] == '-') {
		int h = 0, m = 0;
		char extra;
		if (sscanf(name + 1, "%2d:%2d%c", &h, &m, &extra) != 2 || h > 14 || m > 59)
			return -EINVAL;
		tz->fixed.off_s = (name[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
		snprintf(tz->fixed.abbr, sizeof(tz->fixed.abbr), "%c%02d%02d", name[0], h, m);
		return 0;
	}
	if (!name_ok(name))
		return -EINVAL;
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -EINVAL;
	unsigned char *buf = malloc(1 << 17);
	size_t len = buf ? fread(buf, 1, 1 << 17, f) : 0;
	fclose(f);
	if (!buf)
		return -ENOMEM;
	int rc = parse_tzif(tz, buf, len);
	free(buf);
	if (rc < 0)
		wt_tz_free(tz);
	return rc;
}

void wt_tz_local(const struct wt_tz *tz, int64_t unix_ms, struct wt_local_time *out)
{
	int64_t t = unix_ms / 1000 - (unix_ms % 1000 < 0 ? 1 : 0);
	const struct wt_tz_type *ty = &tz->fixed;
	if (tz->ntypes) {
		ty = &tz->types[0];
		/* binary search for the last transition at or before t; past the
		 * last one the zone keeps its last type */
		size_t lo = 0, hi = tz->ntrans;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (tz->trans[mid] <= t)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo > 0)
			ty = &tz->types[tz->idx[lo - 1]];
	}
	time_t lt = (time_t)(t + ty->off_s);
	struct tm tm;
	gmtime_r(&lt, &tm);
	out->year = tm.tm_year + 1900;
	out->mon = tm.tm_mon + 1;
	out->mday = tm.tm_mday;
	out->hour = tm.tm_hour;
	out->min = tm.tm_min;
	out->sec = tm.tm_sec;
	out->wday = tm.tm_wday;
	snprintf(out->abbr, sizeof(out->abbr), "%s", ty->abbr);
}

void wt_tz_free(struct wt_tz *tz)
{
	free(tz->trans);
	free(tz->idx);
	free(tz->types);
	tz->trans = NULL;
	tz->idx = NULL;
	tz->types = NULL;
	tz->ntrans = tz->ntypes = 0;
}
