#include "pollers/jsoncheck.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wt_jerr_fail(struct wt_jerr *e, const char *path, const char *fmt, ...)
{
	if (e->set)
		return -EINVAL;
	e->set = true;
	int n = snprintf(e->buf, e->len, "%s: ", path);
	if (n < 0 || (size_t)n >= e->len)
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int wt_json_check_keys(struct wt_jerr *e, const char *path, json_t *obj,
		       const char *const *allowed)
{
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val)
	{
		if (key[0] == '_')
			continue;
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, key) == 0;
		if (!ok)
			return wt_jerr_fail(e, path, "unknown key \"%s\"", key);
	}
	return 0;
}

int wt_json_get_str(struct wt_jerr *e, const char *path, json_t *v, char **out)
{
	if (!json_is_string(v))
		return wt_jerr_fail(e, path, "must be a string");
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

int wt_json_get_int(struct wt_jerr *e, const char *path, json_t *v, long long lo, long long hi,
		    long long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return wt_jerr_fail(e, path, "must be an integer in %lld..%lld", lo, hi);
	*out = json_integer_value(v);
	return 0;
}

int wt_json_get_num(struct wt_jerr *e, const char *path, json_t *v, double *out)
{
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return wt_jerr_fail(e, path, "must be a finite number");
	*out = json_number_value(v);
	return 0;
}
