/* Validates a JSON request body against a per-route field spec, so every
 * handler sees only well-typed input and every client gets the same kind of
 * message: `field "rating_a": expected a number, got a string`. The same
 * spec feeds the OpenAPI request schema. */
#ifndef WT_VALIDATE_H
#define WT_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum wt_field_type {
	WT_F_STRING = 0,
	WT_F_INTEGER,
	WT_F_NUMBER,        /* integer or real */
	WT_F_BOOLEAN,
	WT_F_STRING_ARRAY,
	WT_F_OBJECT,        /* a flat object: string, boolean or integer values (max_len: most keys) */
	WT_F_SCALAR,        /* a string, number or boolean (settings values) */
};

/* A field named WT_FIELD_ANY matches every key the spec does not name (a
 * map such as PATCH /settings); max_len and type apply to each value. */
#define WT_FIELD_ANY "*"

struct wt_field {
	const char *name;
	enum wt_field_type type;
	bool required;
	size_t max_len;   /* strings: most bytes, arrays: most items; 0 = 256 */
	const char *doc;  /* one line for the OpenAPI schema */
};

/* A spec is an array of fields ended by {NULL}. */

/* Parses body (len bytes, not NUL-terminated) as one JSON object and checks
 * it against spec: unknown fields, missing required fields, wrong types,
 * over-long strings. Returns the object (caller owns it) or NULL with a
 * message in why naming the field or the position of the syntax error. */
json_t *wt_validate_body(const char *body, size_t len, const struct wt_field *spec, char *why,
			 size_t whylen);

/* Checks an already parsed object; returns 0 or -EINVAL with why. */
int wt_validate_object(json_t *obj, const struct wt_field *spec, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* JSON type name of a field type ("string", "integer", ...). */
const char *wt_field_type_name(enum wt_field_type t);

#endif
