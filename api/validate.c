#include "validate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *wt_field_type_name(enum wt_field_type t)
{
	switch (t) {
	case WT_F_STRING: return "string";
	case WT_F_INTEGER: return "integer";
	case WT_F_NUMBER: return "number";
	case WT_F_BOOLEAN: return "boolean";
	case WT_F_STRING_ARRAY: return "array of strings";
	case WT_F_OBJECT: return "object";
	case WT_F_SCALAR: return "string, number or boolean";
	}
	return "?";
}

/* How the client's value reads in a message: "a string", "null", ... */
static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "something else";
}

static const char *expected(enum wt_field_type t)
{
	switch (t) {
	case WT_F_STRING: return "a string";
	case WT_F_INTEGER: return "an integer";
	case WT_F_NUMBER: return "a number";
	case WT_F_BOOLEAN: return "a boolean";
	case WT_F_STRING_ARRAY: return "an array of strings";
	case WT_F_OBJECT: return "an object";
	case WT_F_SCALAR: return "a string, number or boolean";
	}
	return "?";
}

static bool type_ok(const struct wt_field *f, const char *name, json_t *v, char *why,
		    size_t whylen)
{
	size_t max = f->max_len ? f->max_len : 256;
	switch (f->type) {
	case WT_F_SCALAR:
		if (json_is_number(v) || json_is_boolean(v))
			return true;
		/* strings are checked as strings */
		__attribute__((fallthrough));
	case WT_F_STRING:
		if (!json_is_string(v))
			break;
		if (json_string_length(v) > max) {
			snprintf(why, whylen, "field \"%.64s\": longer than %zu bytes", name, max);
			return false;
		}
		if (memchr(json_string_value(v), '\0', json_string_length(v))) {
			snprintf(why, whylen, "field \"%.64s\": contains a NUL character", name);
			return false;
		}
		return true;
	case WT_F_INTEGER:
		if (json_is_integer(v))
			return true;
		break;
	case WT_F_NUMBER:
		if (json_is_number(v))
			return true;
		break;
	case WT_F_BOOLEAN:
		if (json_is_boolean(v))
			return true;
		break;
	case WT_F_STRING_ARRAY: {
		if (!json_is_array(v))
			break;
		if (json_array_size(v) > max) {
			snprintf(why, whylen, "field \"%.64s\": more than %zu items", name, max);
			return false;
		}
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) {
			if (!json_is_string(item) || json_string_length(item) > 256) {
				snprintf(why, whylen, "field \"%s\": item %zu: expected a string, got %s",
					 name, i, json_kind(item));
				return false;
			}
		}
		return true;
	}
	case WT_F_OBJECT: {
		if (!json_is_object(v))
			break;
		if (json_object_size(v) > max) {
			snprintf(why, whylen, "field \"%.64s\": more than %zu keys", name, max);
			return false;
		}
		const char *k;
		json_t *item;
		json_object_foreach(v, k, item) {
			if (!(json_is_string(item) || json_is_boolean(item) || json_is_integer(item)) ||
			    (json_is_string(item) && json_string_length(item) > 1024) || strlen(k) > 64) {
				snprintf(why, whylen,
					 "field \"%s\": key \"%.64s\": expected a string, boolean or integer, got %s",
					 name, k, json_kind(item));
				return false;
			}
		}
		return true;
	}
	}
	snprintf(why, whylen, "field \"%.64s\": expected %s, got %s", name, expected(f->type),
		 json_kind(v));
	return false;
}

int wt_validate_object(json_t *obj, const struct wt_field *spec, char *why, size_t whylen)
{
	if (!json_is_object(obj)) {
		snprintf(why, whylen, "request body: expected a JSON object, got %s", json_kind(obj));
		return -EINVAL;
	}
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		const struct wt_field *f = spec, *any = NULL;
		while (f && f->name && strcmp(f->name, key) != 0) {
			if (strcmp(f->name, WT_FIELD_ANY) == 0)
				any = f;
			f++;
		}
		if ((!f || !f->name) && any)
			f = any;
		if (!f || !f->name) {
			snprintf(why, whylen, "unknown field \"%.64s\"", key);
			return -EINVAL;
		}
		if (!type_ok(f, key, v, why, whylen))
			return -EINVAL;
	}
	for (const struct wt_field *f = spec; f && f->name; f++) {
		if (f->required && !json_object_get(obj, f->name)) {
			snprintf(why, whylen, "missing field \"%s\" (%s)", f->name, expected(f->type));
			return -EINVAL;
		}
	}
	return 0;
}

json_t *wt_validate_body(const char *body, size_t len, const struct wt_field *spec, char *why,
			 size_t whylen)
{
	json_error_t err;
	if (len == 0) {
		snprintf(why, whylen, "request body: expected a JSON object, got nothing");
		return NULL;
	}
	/* REJECT_DUPLICATES: {"roles":[...],"roles":[...]} is ambiguous. */
	json_t *obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	if (!obj) {
		snprintf(why, whylen, "malformed JSON at line %d column %d: %s", err.line, err.column,
			 err.text);
		return NULL;
	}
	if (wt_validate_object(obj, spec, why, whylen) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}
