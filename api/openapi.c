/* The OpenAPI 3 document, generated from the route table so the two can
 * never disagree: a route is documented by existing. */
#include "request.h"
#include "wt_build.h"

#include <stdio.h>
#include <string.h>

static json_t *field_schema(const struct wt_field *f)
{
	json_t *s;
	switch (f->type) {
	case WT_F_STRING:
		s = json_pack("{s:s,s:I}", "type", "string", "maxLength",
			      (json_int_t)(f->max_len ? f->max_len : 256));
		break;
	case WT_F_INTEGER: s = json_pack("{s:s}", "type", "integer"); break;
	case WT_F_NUMBER: s = json_pack("{s:s}", "type", "number"); break;
	case WT_F_BOOLEAN: s = json_pack("{s:s}", "type", "boolean"); break;
	case WT_F_STRING_ARRAY:
		s = json_pack("{s:s,s:{s:s},s:I}", "type", "array", "items", "type", "string",
			      "maxItems", (json_int_t)(f->max_len ? f->max_len : 256));
		break;
	case WT_F_OBJECT:
		s = json_pack("{s:s,s:I}", "type", "object", "maxProperties",
			      (json_int_t)(f->max_len ? f->max_len : 256));
		break;
	case WT_F_SCALAR:
		s = json_pack("{s:[{s:s,s:I},{s:s},{s:s}]}", "oneOf", "type", "string", "maxLength",
			      (json_int_t)(f->max_len ? f->max_len : 256), "type", "number", "type",
			      "boolean");
		break;
	default: s = json_object(); break;
	}
	if (f->doc)
		json_object_set_new(s, "description", json_string(f->doc));
	return s;
}

static json_t *body_schema(const struct wt_field *spec)
{
	json_t *props = json_object(), *req = json_array(), *any = NULL;
	for (const struct wt_field *f = spec; f->name; f++) {
		if (strcmp(f->name, WT_FIELD_ANY) == 0) {
			any = field_schema(f);
			continue;
		}
		json_object_set_new(props, f->name, field_schema(f));
		if (f->required)
			json_array_append_new(req, json_string(f->name));
	}
	json_t *s = json_pack("{s:s,s:o,s:o}", "type", "object", "properties", props,
			      "additionalProperties", any ? any : json_false());
	if (json_array_size(req))
		json_object_set_new(s, "required", req);
	else
		json_decref(req);
	return s;
}

/* "/api/v1/users/{id}" -> "users_id" style operation ids. */
static void operation_id(const struct wt_api_route *rt, char *out, size_t outlen)
{
	size_t o = (size_t)snprintf(out, outlen, "%s", wt_method_name(rt->method));
	for (size_t i = 0; i < o; i++)
		out[i] = (char)(out[i] >= 'A' && out[i] <= 'Z' ? out[i] + 32 : out[i]);
	for (const char *p = rt->path + strlen("/api/v1"); *p && o + 2 < outlen; p++) {
		if (*p == '/' || *p == '.')
			out[o++] = '_';
		else if (*p != '{' && *p != '}')
			out[o++] = *p;
	}
	out[o] = '\0';
}

/* Query parameters of the routes that take some, so clients can see them. */
struct qparam {
	unsigned method;
	const char *path, *name, *type;
	const char *const *enums; /* NULL-terminated, or NULL */
	int64_t min, max, dflt;   /* integers */
	const char *doc;
};
static const char *const list_filters[] = {"all", "assigned", "unassigned", NULL};
static const char *const list_sorts[] = {"name", "type", "alarm", "chain", NULL};
static const struct qparam query_params[] = {
	{WT_GET, "/api/v1/tokens", "all", "integer", NULL, 1, 1, 1,
	 "1: everyone's tokens (needs the users permission)"},
	{WT_GET, "/api/v1/devices", "filter", "string", list_filters, 0, 0, 0,
	 "assigned: in a rack; unassigned: not in one"},
	{WT_GET, "/api/v1/devices", "q", "string", NULL, 0, 0, 0,
	 "case-insensitive part of the name (at most 128 bytes)"},
	{WT_GET, "/api/v1/devices", "sort", "string", list_sorts, 0, 0, 0, "order (name)"},
	{WT_GET, "/api/v1/devices", "limit", "integer", NULL, 1, 1000, 100,
	 "devices per page; the reply's total counts all matches"},
	{WT_GET, "/api/v1/devices", "offset", "integer", NULL, 0, 2147483647, 0,
	 "matches to skip; the reply's next_offset is the next page's (null: last page)"},
};

static json_t *operation(const struct wt_api_route *rt)
{
	char opid[128], ok[8];
	operation_id(rt, opid, sizeof(opid));
	json_t *op = json_pack("{s:s,s:s,s:[s],s:s}", "operationId", opid, "summary", rt->summary,
			       "tags", rt->tag, "x-permission", wt_perm_name(rt->perm));
	if (rt->perm == WT_P_PUBLIC)
		json_object_set_new(op, "security", json_array());
	json_t *params = json_array();
	for (const char *p = strchr(rt->path, '{'); p; p = strchr(p + 1, '{')) {
		const char *e = strchr(p, '}');
		if (!e)
			break;
		json_array_append_new(params,
				      json_pack("{s:s%,s:s,s:b,s:{s:s,s:i}}", "name", p + 1,
						(size_t)(e - p - 1), "in", "path", "required", 1,
						"schema", "type", "integer", "minimum", 1));
	}
	for (size_t i = 0; i < sizeof(query_params) / sizeof(query_params[0]); i++) {
		const struct qparam *q = &query_params[i];
		if (q->method != rt->method || strcmp(q->path, rt->path) != 0)
			continue;
		json_t *schema = json_pack("{s:s}", "type", q->type);
		if (q->enums) {
			json_t *e = json_array();
			for (const char *const *v = q->enums; *v; v++)
				json_array_append_new(e, json_string(*v));
			json_object_set_new(schema, "enum", e);
		}
		if (strcmp(q->type, "integer") == 0) {
			json_object_set_new(schema, "minimum", json_integer(q->min));
			json_object_set_new(schema, "maximum", json_integer(q->max));
			json_object_set_new(schema, "default", json_integer(q->dflt));
		}
		json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:o,s:s}", "name", q->name, "in",
							"query", "required", 0, "schema", schema,
							"description", q->doc));
	}
	if (json_array_size(params))
		json_object_set_new(op, "parameters", params);
	else
		json_decref(params);
	if (rt->body)
		json_object_set_new(op, "requestBody",
				    json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content",
					      "application/json", "schema", body_schema(rt->body)));
	int status = rt->ok_status ? rt->ok_status : 200;
	snprintf(ok, sizeof(ok), "%d", status);
	json_t *responses = json_object();
	json_object_set_new(responses, ok,
			    status == 204 ? json_pack("{s:s}", "description", "done")
					  : json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "success",
						      "content", "application/json", "schema", "type",
						      "object"));
	json_object_set_new(responses, "default",
			    json_pack("{s:s}", "$ref", "#/components/responses/Error"));
	json_object_set_new(op, "responses", responses);
	return op;
}

json_t *wt_openapi_document(void)
{
	json_t *paths = json_object();
	for (size_t i = 0; i < wt_api_nroutes; i++) {
		const struct wt_api_route *rt = &wt_api_routes[i];
		json_t *item = json_object_get(paths, rt->path);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, rt->path, item);
		}
		char m[8];
		snprintf(m, sizeof(m), "%s", wt_method_name(rt->method));
		for (char *p = m; *p; p++)
			*p = (char)(*p + 32);
		json_object_set_new(item, m, operation(rt));
	}
	json_t *error = json_pack(
		"{s:s,s:{s:{s:{s:s,s:[s],s:{s:{s:s,s:[s,s],s:{s:{s:s,s:s},s:{s:s}}}}}}}}",
		"description", "an error: a stable code and a message naming what was wrong",
		"content", "application/json", "schema", "type", "object", "required", "error",
		"properties", "error", "type", "object", "required", "code", "message",
		"properties", "code", "type", "string", "description",
		"UPPER_CASE, stable: clients switch on it", "message", "type", "string");
	return json_pack(
		"{s:s,s:{s:s,s:s,s:s},s:o,s:{s:{s:o},s:{s:{s:s,s:s,s:s},s:{s:s,s:s}}},s:[{s:[]},{s:[]}]}",
		"openapi", "3.0.3", "info", "title", "wattrack API", "version", WT_VERSION,
		"description",
		"Power monitoring. Errors are {\"error\":{\"code\",\"message\"}}. Cookie-authenticated "
		"writes need the X-CSRF-Token header returned by POST /api/v1/session.",
		"paths", paths, "components", "responses", "Error", error, "securitySchemes", "cookie",
		"type", "apiKey", "in", "cookie", "name", "wt_session", "bearer", "type", "http",
		"scheme", "bearer", "security", "cookie", "bearer");
}
