/* Profile loader: JSON -> struct wt_profile, with errors that name the file,
 * the JSON path and what is wrong. Unknown keys are errors (a typo must not
 * silently drop a metric); keys starting with "_" are comments. */
#include "profile.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pollers/jsoncheck.h"
#include "server/log.h"
#include "server/model.h"

static const char *const ctl_names[WT_CTL__COUNT] = {
	[WT_CTL_ON] = "on",
	[WT_CTL_OFF] = "off",
	[WT_CTL_CYCLE] = "cycle",
	[WT_CTL_DELAYED_ON] = "delayed_on",
	[WT_CTL_DELAYED_OFF] = "delayed_off",
	[WT_CTL_DELAYED_CYCLE] = "delayed_cycle",
};

const char *wt_ctl_cmd_name(enum wt_ctl_cmd c)
{
	return (unsigned)c < WT_CTL__COUNT ? ctl_names[c] : "?";
}

int wt_ctl_cmd_by_name(const char *s)
{
	for (int i = 0; i < WT_CTL__COUNT; i++)
		if (strcmp(s, ctl_names[i]) == 0)
			return i;
	return -1;
}

static const char *const ident_names[WT_ID__COUNT] = {
	[WT_ID_VENDOR] = "vendor", [WT_ID_MODEL] = "model",	[WT_ID_SERIAL] = "serial",
	[WT_ID_FIRMWARE] = "firmware", [WT_ID_NAME] = "name", [WT_ID_RATING] = "rating",
};

/* Checks that every key of obj is in allowed (or a "_comment"). */
/* An OID or OID template: digits and dots, optional leading dot, and {i},
 * {i1}..{i9}, {u} placeholders. Stored without the leading dot. */
static int get_oid(struct wt_jerr *e, const char *path, json_t *v, char **out)
{
	if (!json_is_string(v))
		return wt_jerr_fail(e, path, "must be an OID string like \".1.3.6.1...\"");
	const char *s = json_string_value(v);
	if (*s == '.')
		s++;
	if (!*s)
		return wt_jerr_fail(e, path, "empty OID");
	for (const char *p = s; *p; p++) {
		if (*p == '{') {
			const char *q = strchr(p, '}');
			if (!q)
				return wt_jerr_fail(e, path, "unterminated placeholder in \"%s\"", s);
			size_t n = (size_t)(q - p - 1);
			bool ok = (n == 1 && (p[1] == 'i' || p[1] == 'u')) ||
				  (n == 2 && p[1] == 'i' && p[2] >= '1' && p[2] <= '9');
			if (!ok)
				return wt_jerr_fail(e, path, "unknown placeholder \"%.*s\" (use {i}, {i1}..{i9}, {u})",
					    (int)(n + 2), p);
			p = q;
		} else if (!(*p >= '0' && *p <= '9') && *p != '.') {
			return wt_jerr_fail(e, path, "bad character '%c' in OID \"%s\"", *p, s);
		}
	}
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int parse_value(struct wt_jerr *e, const char *path, json_t *j, struct wt_prof_value *v,
		       bool allow_const)
{
	static const char *const keys[] = {"oid",     "value",	"mul",	  "div", "offset",
					   "digits_oid", "map", "invalid", "static", NULL};
	char sub[256];
	int rc;
	v->mul = 1;
	v->div = 1;
	if (json_is_string(j))
		return get_oid(e, path, j, &v->oid);
	if (!json_is_object(j))
		return wt_jerr_fail(e, path, "must be an OID string or an object with \"oid\"");
	if ((rc = wt_json_check_keys(e, path, j, keys)))
		return rc;
	json_t *x;
	if ((x = json_object_get(j, "oid"))) {
		snprintf(sub, sizeof sub, "%s.oid", path);
		if ((rc = get_oid(e, sub, x, &v->oid)))
			return rc;
	}
	if ((x = json_object_get(j, "value"))) {
		snprintf(sub, sizeof sub, "%s.value", path);
		if (!allow_const)
			return wt_jerr_fail(e, sub, "a constant is only allowed in \"identity\"");
		if ((rc = wt_json_get_str(e, sub, x, &v->constant)))
			return rc;
	}
	if (!v->oid && !v->constant)
		return wt_jerr_fail(e, path, allow_const ? "needs \"oid\" or \"value\"" : "needs \"oid\"");
	if (v->oid && v->constant)
		return wt_jerr_fail(e, path, "has both \"oid\" and \"value\"");
	if ((x = json_object_get(j, "mul"))) {
		snprintf(sub, sizeof sub, "%s.mul", path);
		if ((rc = wt_json_get_num(e, sub, x, &v->mul)))
			return rc;
	}
	if ((x = json_object_get(j, "div"))) {
		snprintf(sub, sizeof sub, "%s.div", path);
		if ((rc = wt_json_get_num(e, sub, x, &v->div)))
			return rc;
		if (v->div == 0)
			return wt_jerr_fail(e, sub, "must not be 0");
	}
	if ((x = json_object_get(j, "offset"))) {
		snprintf(sub, sizeof sub, "%s.offset", path);
		if ((rc = wt_json_get_num(e, sub, x, &v->offset)))
			return rc;
	}
	if ((x = json_object_get(j, "digits_oid"))) {
		snprintf(sub, sizeof sub, "%s.digits_oid", path);
		if ((rc = get_oid(e, sub, x, &v->digits_oid)))
			return rc;
	}
	if ((x = json_object_get(j, "map"))) {
		snprintf(sub, sizeof sub, "%s.map", path);
		if (!json_is_object(x) || json_object_size(x) == 0)
			return wt_jerr_fail(e, sub, "must be a non-empty object {\"device value\": canonical value}");
		v->map = calloc(json_object_size(x), sizeof *v->map);
		if (!v->map)
			return -ENOMEM;
		const char *key;
		json_t *val;
		json_object_foreach(x, key, val)
		{
			char *end;
			errno = 0;
			long long from = strtoll(key, &end, 10);
			if (errno || end == key || *end)
				return wt_jerr_fail(e, sub, "key \"%s\" is not an integer", key);
			char sub2[300];
			snprintf(sub2, sizeof sub2, "%s.\"%s\"", sub, key);
			double to = 0;
			if ((rc = wt_json_get_num(e, sub2, val, &to)))
				return rc;
			v->map[v->n_map].from = from;
			v->map[v->n_map].to = to;
			v->n_map++;
		}
	}
	if ((x = json_object_get(j, "invalid"))) {
		snprintf(sub, sizeof sub, "%s.invalid", path);
		if (!json_is_array(x))
			return wt_jerr_fail(e, sub, "must be an array of integers");
		v->invalid = calloc(json_array_size(x) + 1, sizeof *v->invalid);
		if (!v->invalid)
			return -ENOMEM;
		size_t i;
		json_t *it;
		json_array_foreach(x, i, it)
		{
			char sub2[300];
			snprintf(sub2, sizeof sub2, "%s[%zu]", sub, i);
			if ((rc = wt_json_get_int(e, sub2, it, INT64_MIN, INT64_MAX, &v->invalid[i])))
				return rc;
			v->n_invalid++;
		}
	}
	if ((x = json_object_get(j, "static"))) {
		if (!json_is_boolean(x)) {
			snprintf(sub, sizeof sub, "%s.static", path);
			return wt_jerr_fail(e, sub, "must be true or false");
		}
		v->is_static = json_is_true(x);
	}
	return 0;
}

static void free_value(struct wt_prof_value *v)
{
	free(v->oid);
	free(v->constant);
	free(v->digits_oid);
	free(v->map);
	free(v->invalid);
}

static int parse_entity(struct wt_jerr *e, const char *path, json_t *j, struct wt_prof_entity *en)
{
	static const char *const keys[] = {"kind",	"walk",	    "index_part", "index", "index_oid", "count_oid", "filter", "index_major_part", "index_stride", "require_name", "empty_names",
					   "max_rows",	"name",	    "name_fmt",	  "unit",
					   "metrics",	"control", NULL};
	char sub[256];
	int rc;
	long long ll = 0;
	json_t *x;
	for (int c = 0; c < WT_CTL__COUNT; c++)
		en->control.value[c] = -1;
	if (!json_is_object(j))
		return wt_jerr_fail(e, path, "must be an object");
	if ((rc = wt_json_check_keys(e, path, j, keys)))
		return rc;
	snprintf(sub, sizeof sub, "%s.kind", path);
	x = json_object_get(j, "kind");
	if (!json_is_string(x))
		return wt_jerr_fail(e, sub, "missing: one of total, inlet, phase, branch, outlet, sensor, "
				    "battery, bypass, output");
	en->kind = wt_entity_kind_by_name(json_string_value(x));
	if (en->kind < 0)
		return wt_jerr_fail(e, sub, "unknown entity kind \"%s\"", json_string_value(x));
	if ((x = json_object_get(j, "walk"))) {
		snprintf(sub, sizeof sub, "%s.walk", path);
		if ((rc = get_oid(e, sub, x, &en->walk)))
			return rc;
		if (strchr(en->walk, '{'))
			return wt_jerr_fail(e, sub, "a walk OID cannot hold placeholders");
	}
	if ((x = json_object_get(j, "index_part"))) {
		snprintf(sub, sizeof sub, "%s.index_part", path);
		if ((rc = wt_json_get_int(e, sub, x, 0, 9, &ll)))
			return rc;
		en->index_part = (int)ll;
	}
	if ((x = json_object_get(j, "index_major_part"))) {
		snprintf(sub, sizeof sub, "%s.index_major_part", path);
		if ((rc = wt_json_get_int(e, sub, x, 1, 9, &ll)))
			return rc;
		en->index_major_part = (int)ll;
		x = json_object_get(j, "index_stride");
		snprintf(sub, sizeof sub, "%s.index_stride", path);
		if ((rc = wt_json_get_int(e, sub, x, 2, 1000000, &ll)))
			return rc;
		en->index_stride = (long)ll;
	}
	if ((x = json_object_get(j, "index"))) {
		snprintf(sub, sizeof sub, "%s.index", path);
		if (en->walk)
			return wt_jerr_fail(e, sub, "\"index\" is for single entities; a walk takes its index "
					    "from the row (index_part)");
		if ((rc = wt_json_get_int(e, sub, x, 0, 1000000, &ll)))
			return rc;
		en->index = (long)ll;
	}
	if ((x = json_object_get(j, "index_oid"))) {
		snprintf(sub, sizeof sub, "%s.index_oid", path);
		if (!en->walk)
			return wt_jerr_fail(e, sub, "\"index_oid\" needs a walk");
		if ((rc = get_oid(e, sub, x, &en->index_oid)))
			return rc;
	}
	if ((x = json_object_get(j, "count_oid"))) {
		snprintf(sub, sizeof sub, "%s.count_oid", path);
		if (!en->walk)
			return wt_jerr_fail(e, sub, "\"count_oid\" needs a walk");
		if ((rc = get_oid(e, sub, x, &en->count_oid)))
			return rc;
		if (strchr(en->count_oid, '{'))
			return wt_jerr_fail(e, sub, "no placeholders here");
	}
	if ((x = json_object_get(j, "filter"))) {
		static const char *const fkeys[] = {"oid", "in", NULL};
		snprintf(sub, sizeof sub, "%s.filter", path);
		if (!en->walk)
			return wt_jerr_fail(e, sub, "a filter needs a walk");
		if (!json_is_object(x))
			return wt_jerr_fail(e, sub, "must be {\"oid\": template, \"in\": [integers]}");
		if ((rc = wt_json_check_keys(e, sub, x, fkeys)))
			return rc;
		char sub2[300];
		snprintf(sub2, sizeof sub2, "%s.oid", sub);
		if ((rc = get_oid(e, sub2, json_object_get(x, "oid"), &en->filter_oid)))
			return rc;
		json_t *in = json_object_get(x, "in");
		snprintf(sub2, sizeof sub2, "%s.in", sub);
		if (!json_is_array(in) || json_array_size(in) == 0)
			return wt_jerr_fail(e, sub2, "must be a non-empty array of integers");
		en->filter_in = calloc(json_array_size(in), sizeof *en->filter_in);
		if (!en->filter_in)
			return -ENOMEM;
		size_t k;
		json_t *it;
		json_array_foreach(in, k, it)
		{
			char sub3[340];
			snprintf(sub3, sizeof sub3, "%s[%zu]", sub2, k);
			if ((rc = wt_json_get_int(e, sub3, it, INT64_MIN, INT64_MAX, &en->filter_in[k])))
				return rc;
			en->n_filter++;
		}
	}
	en->max_rows = 4096;
	if ((x = json_object_get(j, "max_rows"))) {
		snprintf(sub, sizeof sub, "%s.max_rows", path);
		if ((rc = wt_json_get_int(e, sub, x, 1, 4096, &ll)))
			return rc;
		en->max_rows = (int)ll;
	}
	if ((x = json_object_get(j, "name"))) {
		snprintf(sub, sizeof sub, "%s.name", path);
		if ((rc = get_oid(e, sub, x, &en->name_oid)))
			return rc;
	}
	if ((x = json_object_get(j, "require_name"))) {
		snprintf(sub, sizeof sub, "%s.require_name", path);
		if (!json_is_boolean(x))
			return wt_jerr_fail(e, sub, "must be true or false");
		en->require_name = json_is_true(x);
	}
	if ((x = json_object_get(j, "empty_names"))) {
		snprintf(sub, sizeof sub, "%s.empty_names", path);
		if (!json_is_array(x))
			return wt_jerr_fail(e, sub, "must be an array of strings");
		en->empty_names = calloc(json_array_size(x) + 1, sizeof *en->empty_names);
		if (!en->empty_names)
			return -ENOMEM;
		size_t k;
		json_t *it;
		json_array_foreach(x, k, it)
		{
			char sub2[300];
			snprintf(sub2, sizeof sub2, "%s[%zu]", sub, k);
			if ((rc = wt_json_get_str(e, sub2, it, &en->empty_names[k])))
				return rc;
		}
	}
	if ((x = json_object_get(j, "name_fmt"))) {
		snprintf(sub, sizeof sub, "%s.name_fmt", path);
		if ((rc = wt_json_get_str(e, sub, x, &en->name_fmt)))
			return rc;
	}
	if ((x = json_object_get(j, "unit"))) {
		static const char *const ukeys[] = {"part", "oid", NULL};
		snprintf(sub, sizeof sub, "%s.unit", path);
		if (!json_is_object(x))
			return wt_jerr_fail(e, sub, "must be {\"part\": N} or {\"oid\": template}");
		if ((rc = wt_json_check_keys(e, sub, x, ukeys)))
			return rc;
		json_t *y;
		if ((y = json_object_get(x, "part"))) {
			char sub2[300];
			snprintf(sub2, sizeof sub2, "%s.part", sub);
			if ((rc = wt_json_get_int(e, sub2, y, 1, 9, &ll)))
				return rc;
			en->unit_part = (int)ll;
		}
		if ((y = json_object_get(x, "oid"))) {
			char sub2[300];
			snprintf(sub2, sizeof sub2, "%s.oid", sub);
			if ((rc = get_oid(e, sub2, y, &en->unit_oid)))
				return rc;
		}
		if (!en->unit_part == !en->unit_oid)
			return wt_jerr_fail(e, sub, "needs exactly one of \"part\" or \"oid\"");
		if (!en->walk)
			return wt_jerr_fail(e, sub, "a unit needs a walk");
	}
	snprintf(sub, sizeof sub, "%s.metrics", path);
	x = json_object_get(j, "metrics");
	if (!json_is_object(x) || json_object_size(x) == 0)
		return wt_jerr_fail(e, sub, "must be a non-empty object {\"metric name\": value}");
	en->metrics = calloc(json_object_size(x), sizeof *en->metrics);
	if (!en->metrics)
		return -ENOMEM;
	const char *key;
	json_t *val;
	json_object_foreach(x, key, val)
	{
		char sub2[300];
		if (key[0] == '_')
			continue; /* a comment */
		snprintf(sub2, sizeof sub2, "%s.%s", sub, key);
		struct wt_prof_metric *m = &en->metrics[en->n_metrics];
		m->metric = wt_metric_by_name(key);
		if (m->metric < 0)
			return wt_jerr_fail(e, sub2, "unknown metric \"%s\" (see server/model.h)", key);
		en->n_metrics++;
		if ((rc = parse_value(e, sub2, val, &m->v, false)))
			return rc;
		if (!en->walk && m->v.oid && strchr(m->v.oid, '{'))
			return wt_jerr_fail(e, sub2, "placeholders need a walk");
	}
	if ((x = json_object_get(j, "control"))) {
		static const char *const ckeys[] = {"oid",	   "on",	  "off",
						    "cycle",	   "delayed_on",  "delayed_off",
						    "delayed_cycle", NULL};
		snprintf(sub, sizeof sub, "%s.control", path);
		if (!json_is_object(x))
			return wt_jerr_fail(e, sub, "must be an object");
		if ((rc = wt_json_check_keys(e, sub, x, ckeys)))
			return rc;
		char sub2[300];
		json_t *coid = json_object_get(x, "oid");
		snprintf(sub2, sizeof sub2, "%s.oid", sub);
		if (coid && (rc = get_oid(e, sub2, coid, &en->control.oid)))
			return rc;
		for (int c = 0; c < WT_CTL__COUNT; c++) {
			json_t *y = json_object_get(x, ctl_names[c]);
			if (!y)
				continue;
			snprintf(sub2, sizeof sub2, "%s.%s", sub, ctl_names[c]);
			if (json_is_object(y)) {
				/* {"oid": ..., "value": N}: this command has its own OID */
				static const char *const okeys[] = {"oid", "value", NULL};
				char sub3[340];
				if ((rc = wt_json_check_keys(e, sub2, y, okeys)))
					return rc;
				snprintf(sub3, sizeof sub3, "%s.oid", sub2);
				if ((rc = get_oid(e, sub3, json_object_get(y, "oid"), &en->control.cmd_oid[c])))
					return rc;
				snprintf(sub3, sizeof sub3, "%s.value", sub2);
				if ((rc = wt_json_get_int(e, sub3, json_object_get(y, "value"), 0, INT32_MAX,
						  &en->control.value[c])))
					return rc;
				continue;
			}
			if (!en->control.oid)
				return wt_jerr_fail(e, sub2, "a plain value needs control.oid");
			if ((rc = wt_json_get_int(e, sub2, y, 0, INT32_MAX, &en->control.value[c])))
				return rc;
		}
		if (en->control.value[WT_CTL_ON] < 0 || en->control.value[WT_CTL_OFF] < 0)
			return wt_jerr_fail(e, sub, "needs at least \"on\" and \"off\"");
	}
	return 0;
}

static void free_entity(struct wt_prof_entity *en)
{
	free(en->walk);
	free(en->name_oid);
	free(en->index_oid);
	free(en->count_oid);
	for (char **n = en->empty_names; n && *n; n++)
		free(*n);
	free(en->empty_names);
	free(en->filter_oid);
	free(en->filter_in);
	free(en->name_fmt);
	free(en->unit_oid);
	for (size_t i = 0; i < en->n_metrics; i++)
		free_value(&en->metrics[i].v);
	free(en->metrics);
	free(en->control.oid);
	for (int c = 0; c < WT_CTL__COUNT; c++)
		free(en->control.cmd_oid[c]);
}

void wt_profile_free(struct wt_profile *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->file);
	free(p->description);
	free(p->device_type);
	for (size_t i = 0; i < p->n_sysobjectid; i++)
		free(p->sysobjectid[i]);
	free(p->sysobjectid);
	free(p->probe_oid);
	free(p->probe_equals);
	for (int i = 0; i < WT_ID__COUNT; i++)
		free_value(&p->ident[i]);
	for (size_t i = 0; i < p->n_entities; i++)
		free_entity(&p->entities[i]);
	free(p->entities);
	free(p);
}

static int parse_match(struct wt_jerr *e, json_t *j, struct wt_profile *p)
{
	static const char *const keys[] = {"sysobjectid", "probe", "fallback", NULL};
	int rc;
	if (!json_is_object(j))
		return wt_jerr_fail(e, "match", "missing or not an object");
	if ((rc = wt_json_check_keys(e, "match", j, keys)))
		return rc;
	json_t *x = json_object_get(j, "sysobjectid");
	if (x) {
		if (!json_is_array(x))
			return wt_jerr_fail(e, "match.sysobjectid", "must be an array of OID prefixes");
		p->sysobjectid = calloc(json_array_size(x) + 1, sizeof *p->sysobjectid);
		if (!p->sysobjectid)
			return -ENOMEM;
		size_t i;
		json_t *it;
		json_array_foreach(x, i, it)
		{
			char sub[64];
			snprintf(sub, sizeof sub, "match.sysobjectid[%zu]", i);
			if ((rc = get_oid(e, sub, it, &p->sysobjectid[i])))
				return rc;
			p->n_sysobjectid++;
			if (strchr(p->sysobjectid[i], '{'))
				return wt_jerr_fail(e, sub, "no placeholders here");
		}
	}
	if ((x = json_object_get(j, "fallback"))) {
		if (!json_is_boolean(x))
			return wt_jerr_fail(e, "match.fallback", "must be true or false");
		p->fallback = json_is_true(x);
	}
	if ((x = json_object_get(j, "probe"))) {
		static const char *const pkeys[] = {"oid", "equals", NULL};
		if (!json_is_object(x))
			return wt_jerr_fail(e, "match.probe", "must be {\"oid\": ..., \"equals\": ...}");
		if ((rc = wt_json_check_keys(e, "match.probe", x, pkeys)))
			return rc;
		if ((rc = get_oid(e, "match.probe.oid", json_object_get(x, "oid"), &p->probe_oid)))
			return rc;
		if (strchr(p->probe_oid, '{'))
			return wt_jerr_fail(e, "match.probe.oid", "no placeholders here");
		json_t *y = json_object_get(x, "equals");
		if (y && (rc = wt_json_get_str(e, "match.probe.equals", y, &p->probe_equals)))
			return rc;
	}
	if (p->n_sysobjectid == 0 && !p->fallback)
		return wt_jerr_fail(e, "match", "needs \"sysobjectid\" prefixes or \"fallback\": true");
	if (p->fallback && !p->probe_oid)
		return wt_jerr_fail(e, "match", "a fallback profile needs a \"probe\"");
	return 0;
}

static int parse_profile(struct wt_jerr *e, json_t *root, struct wt_profile *p)
{
	static const char *const keys[] = {"format",   "name",	   "description", "device_type",
					   "match",    "snmp",	   "identity",	  "entities",
					   "tests",    "extends", NULL};
	static const char *const types[] = {"pdu", "ups", "ats", "sensor", NULL};
	int rc;
	long long ll = 0;
	if (!json_is_object(root))
		return wt_jerr_fail(e, "$", "a profile is a JSON object");
	if ((rc = wt_json_check_keys(e, "$", root, keys)))
		return rc;
	if ((rc = wt_json_get_int(e, "format", json_object_get(root, "format"), WT_PROFILE_FORMAT,
			  WT_PROFILE_FORMAT, &ll)))
		return rc;
	if ((rc = wt_json_get_str(e, "name", json_object_get(root, "name"), &p->name)))
		return rc;
	for (const char *c = p->name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
			return wt_jerr_fail(e, "name", "use lower-case letters, digits, '-' and '_'");
	if (!*p->name)
		return wt_jerr_fail(e, "name", "empty");
	json_t *x;
	if ((x = json_object_get(root, "description")) &&
	    (rc = wt_json_get_str(e, "description", x, &p->description)))
		return rc;
	if ((rc = wt_json_get_str(e, "device_type", json_object_get(root, "device_type"), &p->device_type)))
		return rc;
	bool tok = false;
	for (const char *const *t = types; *t; t++)
		tok |= strcmp(*t, p->device_type) == 0;
	if (!tok)
		return wt_jerr_fail(e, "device_type", "must be pdu, ups, ats or sensor");
	if ((rc = parse_match(e, json_object_get(root, "match"), p)))
		return rc;
	p->max_repetitions = 20;
	p->max_oids = 40;
	if ((x = json_object_get(root, "snmp"))) {
		static const char *const skeys[] = {"max_repetitions", "max_oids", NULL};
		if (!json_is_object(x))
			return wt_jerr_fail(e, "snmp", "must be an object");
		if ((rc = wt_json_check_keys(e, "snmp", x, skeys)))
			return rc;
		json_t *y;
		if ((y = json_object_get(x, "max_repetitions"))) {
			if ((rc = wt_json_get_int(e, "snmp.max_repetitions", y, 1, 200, &ll)))
				return rc;
			p->max_repetitions = (int)ll;
		}
		if ((y = json_object_get(x, "max_oids"))) {
			if ((rc = wt_json_get_int(e, "snmp.max_oids", y, 1, 128, &ll)))
				return rc;
			p->max_oids = (int)ll;
		}
	}
	if ((x = json_object_get(root, "identity"))) {
		static const char *const ikeys[] = {"vendor", "model", "serial", "firmware",
						    "name",   "rating", NULL};
		if (!json_is_object(x))
			return wt_jerr_fail(e, "identity", "must be an object");
		if ((rc = wt_json_check_keys(e, "identity", x, ikeys)))
			return rc;
		for (int i = 0; i < WT_ID__COUNT; i++) {
			json_t *y = json_object_get(x, ident_names[i]);
			if (!y)
				continue;
			char sub[64];
			snprintf(sub, sizeof sub, "identity.%s", ident_names[i]);
			if ((rc = parse_value(e, sub, y, &p->ident[i], true)))
				return rc;
			if (p->ident[i].oid && strchr(p->ident[i].oid, '{'))
				return wt_jerr_fail(e, sub, "identity OIDs cannot hold placeholders");
			p->has_ident[i] = true;
		}
	}
	x = json_object_get(root, "entities");
	if (!json_is_array(x) || json_array_size(x) == 0)
		return wt_jerr_fail(e, "entities", "must be a non-empty array");
	p->entities = calloc(json_array_size(x), sizeof *p->entities);
	if (!p->entities)
		return -ENOMEM;
	size_t i;
	json_t *it;
	json_array_foreach(x, i, it)
	{
		char sub[64];
		snprintf(sub, sizeof sub, "entities[%zu]", i);
		p->n_entities++;
		if ((rc = parse_entity(e, sub, it, &p->entities[i])))
			return rc;
	}
	if ((x = json_object_get(root, "tests")) && !json_is_object(x))
		return wt_jerr_fail(e, "tests", "must be an object (read by the test harness only)");
	return 0;
}

static struct wt_profile *parse_root(json_t *root, const char *file, char *err, size_t errlen)
{
	struct wt_jerr e = {.buf = err, .len = errlen};
	struct wt_profile *p = calloc(1, sizeof *p);
	int rc = p ? parse_profile(&e, root, p) : -ENOMEM;
	if (rc == 0 && file && !(p->file = strdup(file)))
		rc = -ENOMEM;
	if (rc) {
		if (!e.set)
			snprintf(err, errlen, "%s", strerror(-rc));
		wt_profile_free(p);
		return NULL;
	}
	return p;
}

struct wt_profile *wt_profile_parse(const char *json, size_t len, const char *file, char *err,
				    size_t errlen)
{
	json_error_t jerr;
	if (errlen)
		err[0] = 0;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	struct wt_profile *p = NULL;
	if (json_is_object(root) && json_object_get(root, "extends"))
		snprintf(err, errlen, "extends: only resolved when loading a profile directory");
	else
		p = parse_root(root, file, err, errlen);
	json_decref(root);
	return p;
}

/* "extends": BASE: the base's entities come first, then the child's; the
 * child's identity fields and other keys override the base's. */
static json_t *merge_extends(json_t *base, json_t *child)
{
	json_t *m = json_deep_copy(base);
	if (!m)
		return NULL;
	json_object_del(m, "tests");
	json_object_del(m, "extends");
	const char *key;
	json_t *val;
	json_object_foreach(child, key, val)
	{
		if (strcmp(key, "extends") == 0)
			continue;
		json_t *mine = json_object_get(m, key);
		if (strcmp(key, "entities") == 0 && json_is_array(mine) && json_is_array(val)) {
			json_array_extend(mine, val);
		} else if (strcmp(key, "identity") == 0 && json_is_object(mine) && json_is_object(val)) {
			json_object_update(mine, val);
		} else {
			json_object_set(m, key, val);
		}
	}
	return m;
}

const struct wt_profile *wt_profiles_find(const struct wt_profile_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i]->name, name) == 0)
			return set->v[i];
	return NULL;
}

int wt_profiles_add(struct wt_profile_set *set, struct wt_profile *p)
{
	if (wt_profiles_find(set, p->name))
		return -EEXIST;
	struct wt_profile **nv = realloc(set->v, (set->n + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	set->v = nv;
	set->v[set->n++] = p;
	return 0;
}

void wt_profiles_free(struct wt_profile_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		wt_profile_free(set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int json_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	int rc = 0;
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		if (cap >= (16u << 20)) {
			rc = -EFBIG;
			break;
		}
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	if (!buf)
		rc = -ENOMEM;
	else if (ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

int wt_profiles_load_dir(struct wt_profile_set *set, const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, json_filter, name_cmp);
	if (n < 0) {
		int rc = -errno;
		wt_error("profiles: cannot read directory %s: %s", dir, strerror(errno));
		return rc;
	}
	json_t **roots = calloc((size_t)n + 1, sizeof *roots);
	char **paths = calloc((size_t)n + 1, sizeof *paths);
	if (!roots || !paths) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
		free(roots);
		free(paths);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		free(names[i]);
		paths[i] = strdup(path);
		char *buf = NULL;
		size_t len = 0;
		int rc = read_file(path, &buf, &len);
		if (rc) {
			wt_error("profile %s: skipped: %s", path, strerror(-rc));
			continue;
		}
		json_error_t jerr;
		roots[i] = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
		free(buf);
		if (!roots[i])
			wt_error("profile %s: skipped: line %d column %d: %s", path, jerr.line,
				 jerr.column, jerr.text);
	}
	free(names);
	/* resolve "extends" a few levels deep; a chain longer than that, a cycle
	 * or a missing base is reported on the child */
	for (int pass = 0; pass < 4; pass++) {
		for (int i = 0; i < n; i++) {
			json_t *ext = roots[i] ? json_object_get(roots[i], "extends") : NULL;
			if (!json_is_string(ext))
				continue;
			for (int k = 0; k < n; k++) {
				json_t *nm = roots[k] ? json_object_get(roots[k], "name") : NULL;
				if (k == i || !json_is_string(nm) ||
				    strcmp(json_string_value(nm), json_string_value(ext)) != 0 ||
				    json_object_get(roots[k], "extends"))
					continue;
				json_t *m = merge_extends(roots[k], roots[i]);
				if (m) {
					json_decref(roots[i]);
					roots[i] = m;
				}
				break;
			}
		}
	}
	int loaded = 0;
	for (int i = 0; i < n; i++) {
		if (!roots[i]) {
			free(paths[i]);
			continue;
		}
		char err[512];
		struct wt_profile *p = NULL;
		json_t *ext = json_object_get(roots[i], "extends");
		if (ext)
			snprintf(err, sizeof err, "extends: no loadable base profile named \"%s\"",
				 json_is_string(ext) ? json_string_value(ext) : "?");
		else
			p = parse_root(roots[i], paths[i], err, sizeof err);
		json_decref(roots[i]);
		if (!p) {
			wt_error("profile %s: skipped: %s", paths[i] ? paths[i] : "?", err);
			free(paths[i]);
			continue;
		}
		int rc = wt_profiles_add(set, p);
		if (rc) {
			wt_error("profile %s: skipped: %s", paths[i],
				 rc == -EEXIST ? "another file already uses this name" : strerror(-rc));
			wt_profile_free(p);
		} else {
			loaded++;
		}
		free(paths[i]);
	}
	free(roots);
	free(paths);
	return loaded;
}

int wt_prof_expand(const char *tmpl, const char *suffix, int unit, char *out, size_t outlen)
{
	size_t o = 0;
	for (const char *p = tmpl; *p; p++) {
		char tmp[160];
		const char *add = NULL;
		size_t alen = 0;
		if (*p != '{') {
			if (o + 1 >= outlen)
				return -ENOSPC;
			out[o++] = *p;
			continue;
		}
		const char *q = strchr(p, '}');
		if (!q)
			return -EINVAL;
		if (q - p == 2 && p[1] == 'i') {
			if (!suffix)
				return -EINVAL;
			add = suffix;
			alen = strlen(suffix);
		} else if (q - p == 2 && p[1] == 'u') {
			snprintf(tmp, sizeof tmp, "%d", unit);
			add = tmp;
			alen = strlen(tmp);
		} else if (q - p == 3 && p[1] == 'i' && p[2] >= '1' && p[2] <= '9') {
			if (!suffix)
				return -EINVAL;
			int want = p[2] - '0';
			const char *s = suffix;
			for (int k = 1; k < want && s; k++) {
				s = strchr(s, '.');
				if (s)
					s++;
			}
			if (!s || !*s)
				return -EINVAL;
			add = s;
			const char *dot = strchr(s, '.');
			alen = dot ? (size_t)(dot - s) : strlen(s);
		} else {
			return -EINVAL;
		}
		if (o + alen >= outlen)
			return -ENOSPC;
		memcpy(out + o, add, alen);
		o += alen;
		p = q;
	}
	if (o >= outlen)
		return -ENOSPC;
	out[o] = 0;
	return 0;
}
