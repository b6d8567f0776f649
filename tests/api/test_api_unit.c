/* Unit tests for the pure parts of api/: the JSON validator, password
 * hashes, LDAP escaping, route matching, the role table and the OpenAPI
 * document against the route table. */
#include "ldapauth.h"
#include "password.h"
#include "request.h"
#include "roles.h"
#include "validate.h"

#include <stdio.h>
#include <string.h>

#include "../lib/check.h"

static const struct wt_field spec[] = {
	{"name", WT_F_STRING, true, 8, NULL},
	{"rating_a", WT_F_NUMBER, false, 0, NULL},
	{"count", WT_F_INTEGER, false, 0, NULL},
	{"on", WT_F_BOOLEAN, false, 0, NULL},
	{"roles", WT_F_STRING_ARRAY, false, 2, NULL},
	{NULL},
};

static void test_validate(void)
{
	static const struct {
		const char *body;
		const char *want; /* substring of the message; NULL: valid */
	} cases[] = {
		{"{\"name\":\"pdu1\"}", NULL},
		{"{\"name\":\"pdu1\",\"rating_a\":16,\"count\":3,\"on\":true,\"roles\":[\"a\"]}", NULL},
		{"{\"name\":\"pdu1\",\"rating_a\":16.5}", NULL},
		{"{\"name\":\"pdu1\",\"rating_a\":\"16\"}",
		 "field \"rating_a\": expected a number, got a string"},
		{"{\"name\":\"pdu1\",\"count\":1.5}", "field \"count\": expected an integer, got a number"},
		{"{\"name\":\"pdu1\",\"on\":1}", "field \"on\": expected a boolean, got an integer"},
		{"{\"name\":\"pdu1\",\"roles\":\"admin\"}", "field \"roles\": expected an array of strings"},
		{"{\"name\":\"pdu1\",\"roles\":[\"a\",1]}", "field \"roles\": item 1: expected a string"},
		{"{\"name\":\"pdu1\",\"roles\":[\"a\",\"b\",\"c\"]}", "field \"roles\": more than 2 items"},
		{"{\"name\":\"pdu1\",\"bogus\":1}", "unknown field \"bogus\""},
		{"{\"rating_a\":1}", "missing field \"name\""},
		{"{\"name\":null}", "field \"name\": expected a string, got null"},
		{"{\"name\":\"123456789\"}", "field \"name\": longer than 8 bytes"},
		{"{\"name\":\"a\\u0000b\"}", "is not allowed"},
		{"[1,2]", "expected a JSON object, got an array"},
		{"{\"name\":", "malformed JSON at line 1"},
		{"{\"name\":\"a\",\"name\":\"b\"}", "malformed JSON"},
		{"", "got nothing"},
		{"{\"name\":\"\xff\xfe\"}", "malformed JSON"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char why[256] = "";
		json_t *o = wt_validate_body(cases[i].body, strlen(cases[i].body), spec, why, sizeof(why));
		if (!cases[i].want)
			CHECK(o != NULL, "case %zu should be valid, got: %s", i, why);
		else
			CHECK(!o && strstr(why, cases[i].want), "case %zu: want \"%s\", got \"%s\"", i,
			      cases[i].want, why);
		json_decref(o);
	}
}

/* Random mutations of valid bodies and paths never crash the parsers. */
static void test_garbage(void)
{
	static const char *seeds[] = {
		"{\"name\":\"pdu1\",\"rating_a\":16,\"count\":3,\"on\":true,\"roles\":[\"a\"]}",
		"{\"name\":\"x\",\"roles\":[\"a\",\"b\"]}",
		"/api/v1/users/123/tokens/4",
	};
	unsigned seed = 12345;
	char buf[256], why[256];
	int parsed = 0;
	for (int i = 0; i < 20000; i++) {
		const char *s = seeds[i % 3];
		size_t n = strlen(s);
		memcpy(buf, s, n + 1);
		for (int k = 0; k < 1 + i % 5; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % n;
			buf[at] = (char)(seed >> 16);
		}
		json_t *o = wt_validate_body(buf, n, spec, why, sizeof(why));
		parsed += o != NULL;
		json_decref(o);
		int64_t ids[WT_API_MAX_IDS];
		int nids;
		buf[n] = '\0';
		if (memchr(buf, '\0', n) == NULL)
			(void)wt_route_match("/api/v1/users/{id}/tokens/{id}", buf, ids, &nids);
	}
	CHECK(parsed < 20000, "mutations were mostly refused (%d parsed)", parsed);
}

static void test_password(void)
{
	struct wt_password_policy p = {.min_length = 12, .max_length = 64, .scrypt_log2n = 10};
	char h1[WT_PASSWORD_HASH_MAX], h2[WT_PASSWORD_HASH_MAX], why[128];
	CHECK(wt_password_hash(&p, "correct horse battery", h1, sizeof(h1)) == 0, "hash");
	CHECK(wt_password_hash(&p, "correct horse battery", h2, sizeof(h2)) == 0, "hash 2");
	CHECK(strncmp(h1, "$scrypt$ln=10,r=8,p=1$", 22) == 0, "parameter string: %s", h1);
	CHECK(strcmp(h1, h2) != 0, "salts differ");
	CHECK(wt_password_verify(h1, "correct horse battery"), "verify good");
	CHECK(!wt_password_verify(h1, "correct horse batterz"), "verify bad");
	CHECK(!wt_password_verify(h1, ""), "verify empty");
	CHECK(!wt_password_verify("$scrypt$ln=99,r=8,p=1$AAAA$AAAA", "x"), "absurd cost refused");
	CHECK(!wt_password_verify("garbage", "x"), "garbage");
	CHECK(!wt_password_verify("$scrypt$ln=10,r=8,p=1$", "x"), "truncated");
	CHECK(!wt_password_acceptable(&p, "short", why, sizeof(why)) && strstr(why, "at least 12"),
	      "min length: %s", why);
	CHECK(wt_password_acceptable(&p, "twelve chars", why, sizeof(why)), "12 ok");
	struct wt_password_policy weak = {.min_length = 3};
	CHECK(!wt_password_acceptable(&weak, "1234567", why, sizeof(why)), "floor of 8");
	struct wt_password_policy p11 = {.min_length = 12, .scrypt_log2n = 11};
	CHECK(!wt_password_needs_rehash(&p, h1), "same cost: no rehash");
	CHECK(wt_password_needs_rehash(&p11, h1), "raised cost: rehash");
	CHECK(wt_password_needs_rehash(&p, "garbage"), "unreadable: rehash");
	char r1[21], r2[21];
	CHECK(wt_password_random(r1, 20) == 0 && wt_password_random(r2, 20) == 0 &&
		      strlen(r1) == 20 && strcmp(r1, r2) != 0,
	      "random passwords");
}

static void test_ldap_escape(void)
{
	char out[256];
	CHECK(wt_ldap_escape_filter("*)(uid=*", out, sizeof(out)) == 0 &&
		      strcmp(out, "\\2a\\29\\28uid=\\2a") == 0,
	      "filter escape: %s", out);
	CHECK(wt_ldap_escape_filter("a\\b", out, sizeof(out)) == 0 && strcmp(out, "a\\5cb") == 0,
	      "backslash: %s", out);
	CHECK(wt_ldap_escape_filter("Jos\xc3\xa9", out, sizeof(out)) == 0 &&
		      strcmp(out, "Jos\\c3\\a9") == 0,
	      "utf8: %s", out);
	CHECK(wt_ldap_escape_filter("abcdef", out, 4) < 0, "overflow refused");
	CHECK(wt_ldap_escape_dn("a,b+c\"d\\e<f>g;h=i", out, sizeof(out)) == 0 &&
		      strcmp(out, "a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h\\=i") == 0,
	      "dn escape: %s", out);
	CHECK(wt_ldap_escape_dn(" #lead trail ", out, sizeof(out)) == 0 &&
		      strcmp(out, "\\ #lead trail\\ ") == 0,
	      "dn lead/trail: [%s]", out);
	CHECK(wt_ldap_escape_dn("#x", out, sizeof(out)) == 0 && strcmp(out, "\\#x") == 0,
	      "dn hash: %s", out);
	CHECK(wt_ldap_template_dn("uid={0},ou=people,dc=ex", "bob,ou=admins", out, sizeof(out)) == 0 &&
		      strcmp(out, "uid=bob\\,ou\\=admins,ou=people,dc=ex") == 0,
	      "template: %s", out);
	CHECK(wt_ldap_template_dn("uid=x,dc=ex", "bob", out, sizeof(out)) < 0, "template without {0}");
}

static void test_routes(void)
{
	int64_t ids[WT_API_MAX_IDS];
	int n = 0;
	CHECK(wt_route_match("/api/v1/users/{id}", "/api/v1/users/42", ids, &n) && n == 1 &&
		      ids[0] == 42,
	      "id match");
	CHECK(!wt_route_match("/api/v1/users/{id}", "/api/v1/users/abc", ids, &n), "non-numeric id");
	CHECK(!wt_route_match("/api/v1/users/{id}", "/api/v1/users/0", ids, &n), "zero id");
	CHECK(!wt_route_match("/api/v1/users/{id}", "/api/v1/users/-1", ids, &n), "negative id");
	CHECK(!wt_route_match("/api/v1/users/{id}", "/api/v1/users/12345678901234567890", ids, &n),
	      "overflowing id");
	CHECK(!wt_route_match("/api/v1/users/{id}", "/api/v1/users/", ids, &n), "empty id");
	CHECK(!wt_route_match("/api/v1/users/{id}", "/api/v1/users/1/x", ids, &n), "longer path");
	CHECK(!wt_route_match("/api/v1/users", "/api/v1/users/", ids, &n), "trailing slash");
	CHECK(wt_route_match("/api/v1/a/{id}/b/{id}", "/api/v1/a/7/b/9", ids, &n) && n == 2 &&
		      ids[1] == 9,
	      "two ids");
	/* Every row is sane: a method, a path under /api/v1 (or Prometheus'
	 * conventional /metrics), a handler, a tag, and no two rows with the
	 * same method and path. */
	for (size_t i = 0; i < wt_api_nroutes; i++) {
		const struct wt_api_route *r = &wt_api_routes[i];
		CHECK(r->handler && r->summary && r->tag &&
			      (strncmp(r->path, "/api/v1/", 8) == 0 || strcmp(r->path, "/metrics") == 0),
		      "route %zu incomplete", i);
		CHECK(!(r->perm == WT_P_PUBLIC && r->method != WT_GET && r->body == NULL),
		      "public write without a body spec: %s", r->path);
		for (size_t j = i + 1; j < wt_api_nroutes; j++)
			CHECK(!(r->method == wt_api_routes[j].method &&
				strcmp(r->path, wt_api_routes[j].path) == 0),
			      "duplicate route %s %s", wt_method_name(r->method), r->path);
	}
}

static void test_roles(void)
{
	/* The policy from the issue, spelled out independently of roles.c. */
	static const struct {
		const char *role;
		bool read, configure, on, off, users;
	} want[] = {
		{"admin", true, true, true, true, true},
		{"readwrite", true, true, false, false, false},
		{"power", true, false, true, true, false},
		{"poweron", true, false, true, false, false},
		{"poweroff", true, false, false, true, false},
		{"readonly", true, false, false, false, false},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int r = wt_role_parse(want[i].role);
		CHECK(r >= 0, "role %s exists", want[i].role);
		if (r < 0)
			continue;
		unsigned p = wt_role_perms(r);
		CHECK(wt_perm_allows(p, WT_P_READ) == want[i].read, "%s read", want[i].role);
		CHECK(wt_perm_allows(p, WT_P_CONFIGURE) == want[i].configure, "%s configure",
		      want[i].role);
		CHECK(wt_perm_allows(p, WT_P_OUTLET_ON) == want[i].on, "%s on", want[i].role);
		CHECK(wt_perm_allows(p, WT_P_OUTLET_OFF) == want[i].off, "%s off", want[i].role);
		CHECK(wt_perm_allows(p, WT_P_USERS) == want[i].users, "%s users", want[i].role);
		CHECK(wt_perm_allows(p, WT_P_SETTINGS) == want[i].users, "%s settings", want[i].role);
		CHECK(strcmp(wt_role_name(r), want[i].role) == 0, "name round trip");
	}
	CHECK(wt_role_parse("Admin") < 0 && wt_role_parse("") < 0 && wt_role_parse("root") < 0,
	      "unknown roles");
	CHECK(wt_roles_perms((1u << WT_ROLE_POWERON) | (1u << WT_ROLE_POWEROFF)) ==
		      wt_role_perms(WT_ROLE_POWER),
	      "poweron+poweroff = power");
}

static void test_openapi(void)
{
	json_t *doc = wt_openapi_document();
	json_t *paths = json_object_get(doc, "paths");
	CHECK(json_is_object(paths), "paths");
	CHECK(strcmp(json_string_value(json_object_get(doc, "openapi")), "3.0.3") == 0, "version");
	size_t ops = 0;
	for (size_t i = 0; i < wt_api_nroutes; i++) {
		char m[8];
		snprintf(m, sizeof(m), "%s", wt_method_name(wt_api_routes[i].method));
		for (char *p = m; *p; p++)
			*p = (char)(*p + 32);
		json_t *op = json_object_get(json_object_get(paths, wt_api_routes[i].path), m);
		CHECK(op != NULL, "%s %s missing from OpenAPI", m, wt_api_routes[i].path);
		CHECK(strcmp(json_string_value(json_object_get(op, "x-permission")),
			     wt_perm_name(wt_api_routes[i].perm)) == 0,
		      "permission of %s", wt_api_routes[i].path);
		CHECK((json_object_get(op, "requestBody") != NULL) == (wt_api_routes[i].body != NULL),
		      "request body of %s %s", m, wt_api_routes[i].path);
	}
	const char *path;
	json_t *item;
	json_object_foreach(paths, path, item) {
		const char *meth;
		json_t *op;
		json_object_foreach(item, meth, op) {
			ops++;
			bool found = false;
			for (size_t i = 0; i < wt_api_nroutes; i++)
				if (strcmp(wt_api_routes[i].path, path) == 0 &&
				    strcasecmp(wt_method_name(wt_api_routes[i].method), meth) == 0)
					found = true;
			CHECK(found, "OpenAPI has %s %s, the table does not", meth, path);
		}
	}
	CHECK(ops == wt_api_nroutes, "%zu operations for %zu routes", ops, wt_api_nroutes);
	json_decref(doc);
}

int main(void)
{
	test_validate();
	test_garbage();
	test_password();
	test_ldap_escape();
	test_routes();
	test_roles();
	test_openapi();
	printf("%d of %d checks passed\n", checks - failures, checks);
	return failures ? 1 : 0;
}
