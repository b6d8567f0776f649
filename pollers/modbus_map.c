/* Modbus profiles: JSON -> struct wt_mb_profile (errors name the file, the
 * JSON path and what is wrong; unknown keys are errors, "_" keys are
 * comments), register decoding and span planning. */
#include "modbus_map.h"

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

/* JSON paths in error messages are cut at the buffer size; that is fine */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static const char *const type_names[WT_MB__TYPES] = {
	[WT_MB_U16] = "uint16", [WT_MB_S16] = "int16",   [WT_MB_U32] = "uint32",
	[WT_MB_S32] = "int32",  [WT_MB_F32] = "float32", [WT_MB_F64] = "float64",
	[WT_MB_STR] = "string",
};

static const int type_regs[WT_MB__TYPES] = {1, 1, 2, 2, 2, 4, 0};

int wt_mb_value_regs(const struct wt_mb_value *v)
{
	return v->type == WT_MB_STR ? v->len : type_regs[v->type];
}

/* Defaults a value spec inherits from its entity or profile. */
struct vdef {
	int fc;
	bool rel;
	bool is_static;
};

static void value_free(struct wt_mb_value *v)
{
	free(v->map);
	free(v->invalid);
	v->map = NULL;
	v->invalid = NULL;
}

static int parse_value(struct wt_jerr *e, const char *path, json_t *j, const struct vdef *d,
		       const char *const *extra, struct wt_mb_value *v)
{
	static const char *const base_keys[] = {
		"fc",  "addr", "offset", "type", "len", "words",   "bytes", "bit",    "invert",
		"mul", "div",  "pow2",   "add",  "map", "invalid", "na",    "static", NULL};
	char sub[256];
	long long x;
	int rc;
	if (!json_is_object(j))
		return wt_jerr_fail(e, path, "must be an object");
	const char *key;
	json_t *val;
	json_object_foreach(j, key, val)
	{
		if (key[0] == '_')
			continue;
		bool ok = false;
		for (const char *const *a = base_keys; *a && !ok; a++)
			ok = strcmp(*a, key) == 0;
		for (const char *const *a = extra; a && *a && !ok; a++)
			ok = strcmp(*a, key) == 0;
		if (!ok)
			return wt_jerr_fail(e, path, "unknown key \"%s\"", key);
	}
	memset(v, 0, sizeof *v);
	v->fc = d->fc;
	v->bit = -1;
	v->mul = 1;
	v->div = 1;
	v->na_markers = true;
	v->is_static = d->is_static;
	v->type = WT_MB_U16;
	json_t *x_fc = json_object_get(j, "fc");
	if (x_fc) {
		snprintf(sub, sizeof sub, "%s.fc", path);
		if ((rc = wt_json_get_int(e, sub, x_fc, 3, 4, &x)))
			return rc;
		v->fc = (int)x;
	}
	if (v->fc != 3 && v->fc != 4)
		return wt_jerr_fail(e, path, "needs \"fc\": 3 (holding) or 4 (input)");
	json_t *a = json_object_get(j, "addr"), *o = json_object_get(j, "offset");
	if ((a != NULL) == (o != NULL))
		return wt_jerr_fail(e, path, "needs exactly one of \"addr\" or \"offset\"");
	if (o && !d->rel)
		return wt_jerr_fail(e, path, "\"offset\" only inside an entity with a \"base\"");
	snprintf(sub, sizeof sub, "%s.%s", path, a ? "addr" : "offset");
	if ((rc = wt_json_get_int(e, sub, a ? a : o, 0, 65535, &x)))
		return rc;
	v->addr = (int)x;
	v->rel = o != NULL;
	json_t *t = json_object_get(j, "type");
	if (t) {
		int found = -1;
		for (int i = 0; i < WT_MB__TYPES; i++)
			if (json_is_string(t) && strcmp(json_string_value(t), type_names[i]) == 0)
				found = i;
		if (found < 0)
			return wt_jerr_fail(e, path,
				    "type must be uint16, int16, uint32, int32, float32, float64 "
				    "or string");
		v->type = (enum wt_mb_type)found;
	}
	json_t *l = json_object_get(j, "len");
	if (v->type == WT_MB_STR) {
		snprintf(sub, sizeof sub, "%s.len", path);
		if (!l)
			return wt_jerr_fail(e, path, "a string needs \"len\" (registers)");
		if ((rc = wt_json_get_int(e, sub, l, 1, 64, &x)))
			return rc;
		v->len = (int)x;
	} else if (l) {
		return wt_jerr_fail(e, path, "\"len\" is for strings only");
	} else {
		v->len = type_regs[v->type];
	}
	json_t *w = json_object_get(j, "words");
	if (w) {
		if (!json_is_string(w) || (strcmp(json_string_value(w), "be") != 0 &&
					   strcmp(json_string_value(w), "le") != 0))
			return wt_jerr_fail(e, path, "words must be \"be\" (high word first) or \"le\"");
		v->word_le = strcmp(json_string_value(w), "le") == 0;
	}
	json_t *b = json_object_get(j, "bytes");
	if (b) {
		if (!json_is_string(b) || (strcmp(json_string_value(b), "be") != 0 &&
					   strcmp(json_string_value(b), "swap") != 0))
			return wt_jerr_fail(e, path, "bytes must be \"be\" or \"swap\"");
		v->byte_swap = strcmp(json_string_value(b), "swap") == 0;
	}
	json_t *bit = json_object_get(j, "bit");
	if (bit) {
		snprintf(sub, sizeof sub, "%s.bit", path);
		if ((rc = wt_json_get_int(e, sub, bit, 0, 63, &x)))
			return rc;
		if (v->type == WT_MB_F32 || v->type == WT_MB_F64 || v->type == WT_MB_STR)
			return wt_jerr_fail(e, path, "\"bit\" needs an integer type");
		v->bit = (int)x;
	}
	json_t *inv = json_object_get(j, "invert");
	if (inv) {
		if (!json_is_boolean(inv) || !bit)
			return wt_jerr_fail(e, path, "\"invert\" is a boolean beside \"bit\"");
		v->bit_invert = json_is_true(inv);
	}
	json_t *m;
	if ((m = json_object_get(j, "mul"))) {
		snprintf(sub, sizeof sub, "%s.mul", path);
		if ((rc = wt_json_get_num(e, sub, m, &v->mul)))
			return rc;
	}
	if ((m = json_object_get(j, "div"))) {
		snprintf(sub, sizeof sub, "%s.div", path);
		if ((rc = wt_json_get_num(e, sub, m, &v->div)))
			return rc;
		if (v->div == 0)
			return wt_jerr_fail(e, sub, "must not be 0");
	}
	if ((m = json_object_get(j, "pow2"))) {
		snprintf(sub, sizeof sub, "%s.pow2", path);
		if (json_object_get(j, "div"))
			return wt_jerr_fail(e, path, "\"pow2\" and \"div\" exclude each other");
		if ((rc = wt_json_get_int(e, sub, m, 0, 62, &x)))
			return rc;
		v->div = ldexp(1.0, (int)x);
	}
	if ((m = json_object_get(j, "add"))) {
		snprintf(sub, sizeof sub, "%s.add", path);
		if ((rc = wt_json_get_num(e, sub, m, &v->add)))
			return rc;
	}
	if ((m = json_object_get(j, "na"))) {
		if (!json_is_boolean(m))
			return wt_jerr_fail(e, path, "\"na\" must be a boolean");
		v->na_markers = json_is_true(m);
	}
	if ((m = json_object_get(j, "static"))) {
		if (!json_is_boolean(m))
			return wt_jerr_fail(e, path, "\"static\" must be a boolean");
		v->is_static = json_is_true(m);
	}
	if ((m = json_object_get(j, "map"))) {
		if (!json_is_object(m) || json_object_size(m) == 0)
			return wt_jerr_fail(e, path, "\"map\" must be a non-empty object {\"raw\": value}");
		v->map = calloc(json_object_size(m), sizeof *v->map);
		if (!v->map)
			return -ENOMEM;
		json_object_foreach(m, key, val)
		{
			char *end;
			errno = 0;
			long long from = strtoll(key, &end, 0);
			snprintf(sub, sizeof sub, "%s.map.%s", path, key);
			if (errno || end == key || *end)
				return wt_jerr_fail(e, sub, "keys must be integers");
			v->map[v->n_map].from = from;
			if ((rc = wt_json_get_num(e, sub, val, &v->map[v->n_map].to)))
				return rc;
			v->n_map++;
		}
	}
	if ((m = json_object_get(j, "invalid"))) {
		if (!json_is_array(m))
			return wt_jerr_fail(e, path, "\"invalid\" must be an array of integers");
		v->invalid = calloc(json_array_size(m) + 1, sizeof *v->invalid);
		if (!v->invalid)
			return -ENOMEM;
		size_t i;
		json_array_foreach(m, i, val)
		{
			snprintf(sub, sizeof sub, "%s.invalid[%zu]", path, i);
			if ((rc = wt_json_get_int(e, sub, val, INT64_MIN, INT64_MAX, &v->invalid[i])))
				return rc;
			v->n_invalid++;
		}
	}
	if (v->type == WT_MB_STR && (v->bit >= 0 || v->n_map))
		return wt_jerr_fail(e, path, "strings take no bit or map");
	return 0;
}

static int parse_metric(struct wt_jerr *e, const char *path, json_t *j, const struct vdef *d,
			struct wt_mb_metric *m)
{
	static const char *const extra[] = {"metric", "when", NULL};
	char sub[256];
	int rc = parse_value(e, path, j, d, extra, &m->v);
	if (rc)
		return rc;
	json_t *n = json_object_get(j, "metric");
	if (!json_is_string(n))
		return wt_jerr_fail(e, path, "needs \"metric\"");
	m->metric = wt_metric_by_name(json_string_value(n));
	if (m->metric < 0)
		return wt_jerr_fail(e, path, "unknown metric \"%s\"", json_string_value(n));
	if (m->v.type == WT_MB_STR)
		return wt_jerr_fail(e, path, "a metric cannot be a string");
	json_t *w = json_object_get(j, "when");
	if (w) {
		static const char *const wextra[] = {"equals", NULL};
		snprintf(sub, sizeof sub, "%s.when", path);
		struct vdef wd = *d;
		wd.is_static = true;
		if ((rc = parse_value(e, sub, w, &wd, wextra, &m->when)))
			return rc;
		m->has_when = true;
		long long x;
		snprintf(sub, sizeof sub, "%s.when.equals", path);
		if ((rc = wt_json_get_int(e, sub, json_object_get(w, "equals"), INT64_MIN, INT64_MAX, &x)))
			return rc;
		m->when_eq = x;
	}
	return 0;
}

static int parse_control(struct wt_jerr *e, const char *path, json_t *j, const struct vdef *d,
			 struct wt_mb_control *c)
{
	static const char *const keys[] = {"fc",     "addr",       "stride", "regs",
					   "values", "switchable", NULL};
	char sub[256];
	long long x;
	int rc;
	if (!json_is_object(j))
		return wt_jerr_fail(e, path, "must be an object");
	if ((rc = wt_json_check_keys(e, path, j, keys)))
		return rc;
	c->has = true;
	c->fc = 6;
	c->regs = 1;
	for (int i = 0; i < WT_CTL__COUNT; i++)
		c->value[i] = -1;
	json_t *v;
	if ((v = json_object_get(j, "fc"))) {
		snprintf(sub, sizeof sub, "%s.fc", path);
		if ((rc = wt_json_get_int(e, sub, v, 6, 16, &x)))
			return rc;
		if (x != 6 && x != 16)
			return wt_jerr_fail(e, sub, "must be 6 or 16");
		c->fc = (int)x;
	}
	snprintf(sub, sizeof sub, "%s.addr", path);
	if ((rc = wt_json_get_int(e, sub, json_object_get(j, "addr"), 0, 65535, &x)))
		return rc;
	c->addr = (int)x;
	if ((v = json_object_get(j, "stride"))) {
		snprintf(sub, sizeof sub, "%s.stride", path);
		if ((rc = wt_json_get_int(e, sub, v, 0, 1000, &x)))
			return rc;
		c->stride = (int)x;
	}
	if ((v = json_object_get(j, "regs"))) {
		snprintf(sub, sizeof sub, "%s.regs", path);
		if ((rc = wt_json_get_int(e, sub, v, 1, 2, &x)))
			return rc;
		c->regs = (int)x;
	}
	if (c->regs == 2 && c->fc != 16)
		return wt_jerr_fail(e, path, "two registers need fc 16");
	json_t *vals = json_object_get(j, "values");
	if (!json_is_object(vals))
		return wt_jerr_fail(e, path, "needs \"values\": {\"on\": N, \"off\": N, ...}");
	const char *key;
	json_object_foreach(vals, key, v)
	{
		int cmd = wt_ctl_cmd_by_name(key);
		snprintf(sub, sizeof sub, "%s.values.%s", path, key);
		if (cmd < 0)
			return wt_jerr_fail(e, sub, "unknown command");
		if ((rc = wt_json_get_int(e, sub, v, 0, c->regs == 2 ? 0xFFFFFFFFLL : 0xFFFF, &x)))
			return rc;
		c->value[cmd] = x;
	}
	if ((v = json_object_get(j, "switchable"))) {
		snprintf(sub, sizeof sub, "%s.switchable", path);
		struct vdef sd = *d;
		sd.is_static = true;
		if ((rc = parse_value(e, sub, v, &sd, NULL, &c->switchable)))
			return rc;
		c->has_switchable = true;
	}
	return 0;
}

static void entity_free(struct wt_mb_entity *en)
{
	free(en->name_fmt);
	value_free(&en->name);
	for (size_t i = 0; i < en->n_metrics; i++) {
		value_free(&en->metrics[i].v);
		value_free(&en->metrics[i].when);
	}
	free(en->metrics);
	value_free(&en->control.switchable);
}

static int parse_entity(struct wt_jerr *e, const char *path, json_t *j, struct wt_mb_profile *p,
			int fc, struct wt_mb_entity *en)
{
	static const char *const keys[] = {"kind", "index",   "count",   "max",
					   "base", "stride",  "name",    "name_reg",
					   "fc",   "metrics", "control", NULL};
	char sub[256];
	long long x;
	int rc;
	if (!json_is_object(j))
		return wt_jerr_fail(e, path, "must be an object");
	if ((rc = wt_json_check_keys(e, path, j, keys)))
		return rc;
	en->count = 1;
	en->count_ref = -1;
	en->max = 1024;
	en->index = 1;
	json_t *v = json_object_get(j, "kind");
	en->kind = json_is_string(v) ? wt_entity_kind_by_name(json_string_value(v)) : -1;
	if (en->kind < 0)
		return wt_jerr_fail(e, path, "needs a known \"kind\" (inlet, phase, outlet, ...)");
	if ((v = json_object_get(j, "index"))) {
		snprintf(sub, sizeof sub, "%s.index", path);
		if ((rc = wt_json_get_int(e, sub, v, 0, 1000000, &x)))
			return rc;
		en->index = (long)x;
	}
	if ((v = json_object_get(j, "count"))) {
		snprintf(sub, sizeof sub, "%s.count", path);
		if (json_is_string(v)) {
			for (size_t i = 0; i < p->n_counts; i++)
				if (strcmp(p->counts[i].name, json_string_value(v)) == 0)
					en->count_ref = (int)i;
			if (en->count_ref < 0)
				return wt_jerr_fail(e, sub, "no count named \"%s\"", json_string_value(v));
		} else {
			if ((rc = wt_json_get_int(e, sub, v, 0, 1024, &x)))
				return rc;
			en->count = (int)x;
		}
	}
	if ((v = json_object_get(j, "max"))) {
		snprintf(sub, sizeof sub, "%s.max", path);
		if ((rc = wt_json_get_int(e, sub, v, 1, 1024, &x)))
			return rc;
		en->max = (int)x;
	}
	bool has_base = false;
	if ((v = json_object_get(j, "base"))) {
		snprintf(sub, sizeof sub, "%s.base", path);
		if ((rc = wt_json_get_int(e, sub, v, 0, 65535, &x)))
			return rc;
		en->base = (int)x;
		has_base = true;
	}
	if ((v = json_object_get(j, "stride"))) {
		snprintf(sub, sizeof sub, "%s.stride", path);
		if ((rc = wt_json_get_int(e, sub, v, 0, 65535, &x)))
			return rc;
		en->stride = (int)x;
	}
	if ((v = json_object_get(j, "fc"))) {
		snprintf(sub, sizeof sub, "%s.fc", path);
		if ((rc = wt_json_get_int(e, sub, v, 3, 4, &x)))
			return rc;
		fc = (int)x;
	}
	if ((v = json_object_get(j, "name")) && (rc = wt_json_get_str(e, path, v, &en->name_fmt)))
		return rc;
	struct vdef d = {.fc = fc, .rel = has_base};
	if ((v = json_object_get(j, "name_reg"))) {
		snprintf(sub, sizeof sub, "%s.name_reg", path);
		struct vdef sd = d;
		sd.is_static = true;
		if ((rc = parse_value(e, sub, v, &sd, NULL, &en->name)))
			return rc;
		if (en->name.type != WT_MB_STR)
			return wt_jerr_fail(e, sub, "must be a string");
		en->has_name = true;
	}
	json_t *ms = json_object_get(j, "metrics");
	if (!json_is_array(ms) || json_array_size(ms) == 0)
		return wt_jerr_fail(e, path, "needs a non-empty \"metrics\" array");
	en->metrics = calloc(json_array_size(ms), sizeof *en->metrics);
	if (!en->metrics)
		return -ENOMEM;
	size_t i;
	json_array_foreach(ms, i, v)
	{
		snprintf(sub, sizeof sub, "%s.metrics[%zu]", path, i);
		rc = parse_metric(e, sub, v, &d, &en->metrics[i]);
		en->n_metrics = i + 1;
		if (rc)
			return rc;
	}
	if ((v = json_object_get(j, "control"))) {
		snprintf(sub, sizeof sub, "%s.control", path);
		if ((rc = parse_control(e, sub, v, &d, &en->control)))
			return rc;
		if (en->kind != WT_ENT_OUTLET && en->kind != WT_ENT_OUTPUT)
			return wt_jerr_fail(e, sub, "only outlets and outputs are switched");
	}
	return 0;
}

static const char *const ident_names[WT_ID__COUNT + 1] = {
	[WT_ID_VENDOR] = "vendor",     [WT_ID_MODEL] = "model", [WT_ID_SERIAL] = "serial",
	[WT_ID_FIRMWARE] = "firmware", [WT_ID_NAME] = "name",   [WT_ID_RATING] = "rating",
	[WT_ID__COUNT] = NULL,
};

void wt_mb_profile_free(struct wt_mb_profile *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->file);
	free(p->description);
	free(p->device_type);
	for (size_t i = 0; i < p->n_match; i++) {
		value_free(&p->match[i].v);
		free(p->match[i].in);
		for (char **s = p->match[i].prefix; s && *s; s++)
			free(*s);
		free(p->match[i].prefix);
	}
	free(p->match);
	for (int i = 0; i < WT_ID__COUNT; i++) {
		value_free(&p->ident[i]);
		free(p->ident_const[i]);
	}
	for (size_t i = 0; i < p->n_counts; i++) {
		free(p->counts[i].name);
		value_free(&p->counts[i].v);
	}
	free(p->counts);
	for (size_t i = 0; i < p->n_entities; i++)
		entity_free(&p->entities[i]);
	free(p->entities);
	free(p);
}

static int parse_profile(struct wt_jerr *e, json_t *root, struct wt_mb_profile *p)
{
	static const char *const keys[] = {"format",      "protocol", "name",  "description",
					   "device_type", "modbus",   "match", "identity",
					   "counts",      "entities", "tests", NULL};
	char sub[256];
	long long x;
	int rc;
	if (!json_is_object(root))
		return wt_jerr_fail(e, "$", "must be an object");
	if ((rc = wt_json_check_keys(e, "$", root, keys)))
		return rc;
	if ((rc = wt_json_get_int(e, "format", json_object_get(root, "format"), 1, 1, &x)))
		return rc;
	json_t *v = json_object_get(root, "protocol");
	if (!json_is_string(v) || strcmp(json_string_value(v), "modbus") != 0)
		return wt_jerr_fail(e, "protocol", "must be \"modbus\"");
	if ((rc = wt_json_get_str(e, "name", json_object_get(root, "name"), &p->name)))
		return rc;
	for (const char *c = p->name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		      *c == '_'))
			return wt_jerr_fail(e, "name", "must be [a-z0-9_-]+");
	if ((v = json_object_get(root, "description")) &&
	    (rc = wt_json_get_str(e, "description", v, &p->description)))
		return rc;
	if ((rc = wt_json_get_str(e, "device_type", json_object_get(root, "device_type"), &p->device_type)))
		return rc;
	p->max_regs = 120;
	p->max_gap = 8;
	int fc = 3;
	if ((v = json_object_get(root, "modbus"))) {
		static const char *const mk[] = {"max_registers", "max_gap", "fc", NULL};
		if (!json_is_object(v) || (rc = wt_json_check_keys(e, "modbus", v, mk)))
			return rc ? rc : wt_jerr_fail(e, "modbus", "must be an object");
		json_t *y;
		if ((y = json_object_get(v, "max_registers"))) {
			if ((rc = wt_json_get_int(e, "modbus.max_registers", y, 1, WT_MB_MAX_READ, &x)))
				return rc;
			p->max_regs = (int)x;
		}
		if ((y = json_object_get(v, "max_gap"))) {
			if ((rc = wt_json_get_int(e, "modbus.max_gap", y, 0, 124, &x)))
				return rc;
			p->max_gap = (int)x;
		}
		if ((y = json_object_get(v, "fc"))) {
			if ((rc = wt_json_get_int(e, "modbus.fc", y, 3, 4, &x)))
				return rc;
			fc = (int)x;
		}
	}
	struct vdef d = {.fc = fc, .is_static = true};
	if ((v = json_object_get(root, "match"))) {
		if (!json_is_array(v))
			return wt_jerr_fail(e, "match", "must be an array");
		p->match = calloc(json_array_size(v) + 1, sizeof *p->match);
		if (!p->match)
			return -ENOMEM;
		size_t i;
		json_t *m;
		json_array_foreach(v, i, m)
		{
			static const char *const extra[] = {"in", "prefix", NULL};
			struct wt_mb_match *mm = &p->match[i];
			p->n_match = i + 1;
			snprintf(sub, sizeof sub, "match[%zu]", i);
			if ((rc = parse_value(e, sub, m, &d, extra, &mm->v)))
				return rc;
			json_t *in = json_object_get(m, "in"), *pre = json_object_get(m, "prefix");
			if ((in != NULL) == (pre != NULL))
				return wt_jerr_fail(e, sub, "needs exactly one of \"in\" or \"prefix\"");
			if (in) {
				if (!json_is_array(in) || json_array_size(in) == 0)
					return wt_jerr_fail(e, sub, "\"in\" must be a non-empty array");
				mm->in = calloc(json_array_size(in), sizeof *mm->in);
				if (!mm->in)
					return -ENOMEM;
				size_t k;
				json_t *y;
				json_array_foreach(in, k, y)
				{
					if ((rc = wt_json_get_int(e, sub, y, INT64_MIN, INT64_MAX,
							  &mm->in[k])))
						return rc;
					mm->n_in++;
				}
			} else {
				if (mm->v.type != WT_MB_STR || !json_is_array(pre) ||
				    json_array_size(pre) == 0)
					return wt_jerr_fail(
						e, sub,
						"\"prefix\" is a non-empty array beside a string");
				mm->prefix = calloc(json_array_size(pre) + 1, sizeof *mm->prefix);
				if (!mm->prefix)
					return -ENOMEM;
				size_t k;
				json_t *y;
				json_array_foreach(
					pre, k,
					y) if ((rc = wt_json_get_str(e, sub, y, &mm->prefix[k]))) return rc;
			}
		}
	}
	if ((v = json_object_get(root, "identity"))) {
		if ((rc = wt_json_check_keys(e, "identity", v, ident_names)))
			return rc;
		for (int i = 0; i < WT_ID__COUNT; i++) {
			json_t *y = json_object_get(v, ident_names[i]);
			if (!y)
				continue;
			snprintf(sub, sizeof sub, "identity.%s", ident_names[i]);
			if (json_is_string(y)) {
				if ((rc = wt_json_get_str(e, sub, y, &p->ident_const[i])))
					return rc;
				continue;
			}
			if ((rc = parse_value(e, sub, y, &d, NULL, &p->ident[i])))
				return rc;
			if ((i == WT_ID_RATING) != (p->ident[i].type != WT_MB_STR))
				return wt_jerr_fail(e, sub,
					    i == WT_ID_RATING ? "must be numeric"
							      : "must be a string");
			p->has_ident[i] = true;
		}
	}
	if ((v = json_object_get(root, "counts"))) {
		if (!json_is_object(v))
			return wt_jerr_fail(e, "counts", "must be an object");
		p->counts = calloc(json_object_size(v) + 1, sizeof *p->counts);
		if (!p->counts)
			return -ENOMEM;
		const char *key;
		json_t *y;
		json_object_foreach(v, key, y)
		{
			if (key[0] == '_')
				continue;
			struct wt_mb_count *c = &p->counts[p->n_counts++];
			if (!(c->name = strdup(key)))
				return -ENOMEM;
			snprintf(sub, sizeof sub, "counts.%s", key);
			if ((rc = parse_value(e, sub, y, &d, NULL, &c->v)))
				return rc;
			if (c->v.type == WT_MB_STR)
				return wt_jerr_fail(e, sub, "must be an integer");
		}
	}
	json_t *ents = json_object_get(root, "entities");
	if (!json_is_array(ents) || json_array_size(ents) == 0)
		return wt_jerr_fail(e, "entities", "needs a non-empty array");
	p->entities = calloc(json_array_size(ents), sizeof *p->entities);
	if (!p->entities)
		return -ENOMEM;
	size_t i;
	json_array_foreach(ents, i, v)
	{
		snprintf(sub, sizeof sub, "entities[%zu]", i);
		p->n_entities = i + 1;
		if ((rc = parse_entity(e, sub, v, p, fc, &p->entities[i])))
			return rc;
	}
	return 0;
}

struct wt_mb_profile *wt_mb_profile_parse(const char *json, size_t len, const char *file, char *err,
					  size_t errlen)
{
	struct wt_jerr e = {.buf = err, .len = errlen};
	if (errlen)
		err[0] = 0;
	json_error_t je;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "line %d: %s", je.line, je.text);
		return NULL;
	}
	struct wt_mb_profile *p = calloc(1, sizeof *p);
	int rc = p ? parse_profile(&e, root, p) : -ENOMEM;
	json_decref(root);
	if (!rc && file && !(p->file = strdup(file)))
		rc = -ENOMEM;
	if (rc) {
		if (rc == -ENOMEM && !e.set)
			snprintf(err, errlen, "out of memory");
		wt_mb_profile_free(p);
		return NULL;
	}
	return p;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int wt_mb_profiles_load_dir(struct wt_mb_profile_set *set, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0 || de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *nn);
			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	int loaded = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		free(names[i]);
		FILE *f = fopen(path, "rb");
		if (!f) {
			wt_warn("modbus profile %s: skipped: %s", path, strerror(errno));
			continue;
		}
		char *buf = NULL;
		size_t len = 0, bcap = 0, r;
		char tmp[8192];
		while ((r = fread(tmp, 1, sizeof tmp, f)) > 0 && len < (4u << 20)) {
			if (len + r > bcap) {
				char *nb = realloc(buf, bcap = (len + r) * 2);
				if (!nb)
					break;
				buf = nb;
			}
			memcpy(buf + len, tmp, r);
			len += r;
		}
		fclose(f);
		char err[512];
		struct wt_mb_profile *p = buf ? wt_mb_profile_parse(buf, len, path, err, sizeof err)
					      : NULL;
		free(buf);
		if (!p) {
			wt_warn("modbus profile %s: skipped: %s", path, buf ? err : "empty");
			continue;
		}
		if (wt_mb_profiles_find(set, p->name)) {
			wt_warn("modbus profile %s: skipped: duplicate name %s", path, p->name);
			wt_mb_profile_free(p);
			continue;
		}
		struct wt_mb_profile **nv = realloc(set->v, (set->n + 1) * sizeof *nv);
		if (!nv) {
			wt_mb_profile_free(p);
			continue;
		}
		set->v = nv;
		set->v[set->n++] = p;
		loaded++;
	}
	free(names);
	return loaded;
}

void wt_mb_profiles_free(struct wt_mb_profile_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		wt_mb_profile_free(set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

const struct wt_mb_profile *wt_mb_profiles_find(const struct wt_mb_profile_set *set,
						const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i]->name, name) == 0)
			return set->v[i];
	return NULL;
}

/* ---- decoding ---- */

static uint16_t reg_at(const struct wt_mb_value *v, const uint16_t *regs, int i)
{
	uint16_t r = regs[i];
	return v->byte_swap ? (uint16_t)((r >> 8) | (r << 8)) : r;
}

/* The value's registers as one big-endian integer (up to 4 registers). */
static uint64_t raw_bits(const struct wt_mb_value *v, const uint16_t *regs)
{
	int n = type_regs[v->type];
	uint64_t x = 0;
	for (int i = 0; i < n; i++) {
		int k = v->word_le ? n - 1 - i : i;
		x = (x << 16) | reg_at(v, regs, k);
	}
	return x;
}

bool wt_mb_decode_raw(const struct wt_mb_value *v, const uint16_t *regs, long long *out)
{
	uint64_t b;
	switch (v->type) {
	case WT_MB_U16:
		*out = (long long)raw_bits(v, regs);
		return true;
	case WT_MB_S16:
		*out = (int16_t)raw_bits(v, regs);
		return true;
	case WT_MB_U32:
		*out = (long long)raw_bits(v, regs);
		return true;
	case WT_MB_S32:
		b = raw_bits(v, regs);
		*out = (int32_t)(uint32_t)b;
		return true;
	default:
		return false;
	}
}

static bool is_marker(const struct wt_mb_value *v, long long raw)
{
	switch (v->type) {
	case WT_MB_U16:
		return raw == 0xFFFF;
	case WT_MB_S16:
		return raw == INT16_MIN;
	case WT_MB_U32:
		return raw == 0xFFFFFFFFLL;
	case WT_MB_S32:
		return raw == INT32_MIN;
	default:
		return false;
	}
}

bool wt_mb_decode(const struct wt_mb_value *v, const uint16_t *regs, double *out)
{
	double x;
	long long raw;
	if (v->type == WT_MB_STR)
		return false;
	if (v->type == WT_MB_F32) {
		uint32_t b = (uint32_t)raw_bits(v, regs);
		float f;
		memcpy(&f, &b, sizeof f);
		x = f;
		if (!isfinite(x))
			return false;
	} else if (v->type == WT_MB_F64) {
		uint64_t b = raw_bits(v, regs);
		memcpy(&x, &b, sizeof x);
		if (!isfinite(x))
			return false;
	} else {
		if (!wt_mb_decode_raw(v, regs, &raw))
			return false;
		if (v->bit < 0 && v->na_markers && is_marker(v, raw))
			return false;
		for (size_t i = 0; i < v->n_invalid; i++)
			if (v->invalid[i] == raw)
				return false;
		if (v->bit >= 0) {
			raw = (int)(((unsigned long long)raw >> v->bit) & 1u);
			if (v->bit_invert)
				raw = !raw;
		}
		if (v->n_map) {
			for (size_t i = 0; i < v->n_map; i++)
				if (v->map[i].from == raw) {
					*out = v->map[i].to;
					return true;
				}
			return false;
		}
		x = (double)raw;
	}
	x = x * v->mul / v->div + v->add;
	if (!isfinite(x))
		return false;
	*out = x;
	return true;
}

void wt_mb_decode_str(const struct wt_mb_value *v, const uint16_t *regs, char *out, size_t outlen)
{
	size_t k = 0;
	if (!outlen)
		return;
	for (int i = 0; i < v->len; i++) {
		uint16_t r = regs[i];
		unsigned char c2[2] = {(unsigned char)(r >> 8), (unsigned char)(r & 0xFF)};
		if (v->byte_swap) {
			unsigned char t = c2[0];
			c2[0] = c2[1];
			c2[1] = t;
		}
		for (int j = 0; j < 2; j++) {
			if (c2[j] == 0)
				goto end;
			if (c2[j] >= 0x20 && c2[j] < 0x7F && k + 1 < outlen)
				out[k++] = (char)c2[j];
		}
	}
end:
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = 0;
}

/* ---- span planning ---- */

static int cmp_need(const void *a, const void *b)
{
	const struct wt_mb_need *x = a, *y = b;
	if (x->fc != y->fc)
		return x->fc - y->fc;
	if (x->addr != y->addr)
		return x->addr - y->addr;
	return y->count - x->count;
}

size_t wt_mb_plan(struct wt_mb_need *needs, size_t n, int max_regs, int max_gap,
		  struct wt_mb_span *spans)
{
	if (max_regs < 1 || max_regs > WT_MB_MAX_READ)
		max_regs = WT_MB_MAX_READ;
	if (max_gap < 0)
		max_gap = 0;
	qsort(needs, n, sizeof *needs, cmp_need);
	size_t ns = 0;
	for (size_t i = 0; i < n; i++) {
		const struct wt_mb_need *q = &needs[i];
		if (ns) {
			struct wt_mb_span *s = &spans[ns - 1];
			int end = s->addr + s->count; /* one past the last register */
			int qend = q->addr + q->count;
			if (s->fc == q->fc && q->addr <= end + max_gap &&
			    (qend > end ? qend : end) - s->addr <= max_regs) {
				if (qend > end)
					s->count = qend - s->addr;
				continue;
			}
		}
		spans[ns].fc = q->fc;
		spans[ns].addr = q->addr;
		/* a value longer than max_regs still gets one read of its own */
		spans[ns].count = q->count;
		ns++;
	}
	return ns;
}
