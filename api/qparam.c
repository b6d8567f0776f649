#include "qparam.h"

#include <errno.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool wt_qp_get(const char *query, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);
	for (const char *p = query; p && *p;) {
		size_t seg = strcspn(p, "&");
		if (seg > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			/* evhttp_uridecode wants a NUL-terminated copy. */
			char *raw = strndup(p + nl + 1, seg - nl - 1);
			if (!raw)
				return false;
			size_t dlen = 0;
			char *dec = evhttp_uridecode(raw, 1, &dlen);
			free(raw);
			if (!dec)
				return false;
			bool ok = dlen < len && !memchr(dec, '\0', dlen);
			if (ok)
				memcpy(out, dec, dlen + 1);
			free(dec);
			return ok;
		}
		if (seg == nl && strncmp(p, name, nl) == 0) {
			if (len)
				out[0] = '\0';
			return len > 0;
		}
		p += seg;
		if (*p == '&')
			p++;
	}
	return false;
}

/* name= appears (its value may be too long to copy). */
static bool present(const char *query, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = query; p && *p;) {
		if (strncmp(p, name, nl) == 0 && (p[nl] == '=' || p[nl] == '&' || !p[nl]))
			return true;
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return false;
}

int wt_qp_int(const char *query, const char *name, int64_t lo, int64_t hi, int64_t dflt,
	      int64_t *v)
{
	char buf[32], *end;
	*v = dflt;
	if (!wt_qp_get(query, name, buf, sizeof(buf)))
		return present(query, name) ? -EINVAL : 0;
	errno = 0;
	long long x = strtoll(buf, &end, 10);
	if (errno || end == buf || *end || x < lo || x > hi)
		return -EINVAL;
	*v = x;
	return 1;
}

static int64_t unit_ms(char u)
{
	switch (u) {
	case 's': return 1000;
	case 'm': return 60000;
	case 'h': return 3600000;
	case 'd': return 86400000;
	case 'w': return 7 * 86400000LL;
	case 'M': return 30 * 86400000LL;
	case 'y': return 365 * 86400000LL;
	default: return 0;
	}
}

int wt_qp_time(const char *query, const char *name, int64_t now_ms, int64_t dflt, int64_t *v)
{
	char buf[40], *end;
	*v = dflt;
	if (!wt_qp_get(query, name, buf, sizeof(buf)))
		return present(query, name) ? -EINVAL : 0;
	if (strcmp(buf, "now") == 0) {
		*v = now_ms;
		return 1;
	}
	if (strncmp(buf, "now-", 4) == 0) {
		errno = 0;
		long long n = strtoll(buf + 4, &end, 10);
		int64_t u = unit_ms(*end);
		if (errno || end == buf + 4 || n < 0 || n > 100000 || !u || end[1])
			return -EINVAL;
		*v = now_ms - n * u;
		return 1;
	}
	if (strchr(buf, '-')) {
		struct tm tm = {0};
		const char *rest = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
		if (!rest || (*rest && strcmp(rest, "Z") != 0))
			return -EINVAL;
		*v = (int64_t)timegm(&tm) * 1000;
		return 1;
	}
	errno = 0;
	long long x = strtoll(buf, &end, 10);
	if (errno || end == buf || *end || x < 0)
		return -EINVAL;
	*v = x;
	return 1;
}
