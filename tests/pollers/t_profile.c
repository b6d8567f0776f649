/* Unit tests: profile loader errors, OID templates, value conversion,
 * selection and model building over a hand-filled store. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pollers/profile.h"
#include "pollers/snmp_model.h"
#include "server/log.h"
#include "server/model.h"
#include "wt_build.h"

static int failures;
#define CHECK(c, ...)                                                                          \
	do {                                                                                   \
		if (!(c)) {                                                                    \
			failures++;                                                            \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                             \
			printf(__VA_ARGS__);                                                   \
			printf("\n");                                                          \
		}                                                                              \
	} while (0)

static struct wt_profile *parse(const char *json, char *err, size_t len)
{
	return wt_profile_parse(json, strlen(json), "test.json", err, len);
}

#define HEAD "{\"format\":1,\"name\":\"t\",\"device_type\":\"pdu\",\"match\":{\"sysobjectid\":[\".1.3.6.1.4.1.99\"]},"

static void expect_error(const char *json, const char *needle)
{
	char err[512];
	struct wt_profile *p = parse(json, err, sizeof err);
	CHECK(!p, "bad profile accepted: %s", json);
	CHECK(strstr(err, needle), "error \"%s\" lacks \"%s\"", err, needle);
	wt_profile_free(p);
}

static void test_errors(void)
{
	expect_error("{", "line 1");
	expect_error("[]", "$");
	expect_error(HEAD "\"entities\":[{\"kind\":\"outlet\",\"metrics\":{\"curent\":\"1.2.3\"}}]}",
		     "entities[0].metrics.curent: unknown metric");
	expect_error(HEAD "\"entities\":[{\"kind\":\"plug\",\"metrics\":{\"current\":\"1.2\"}}]}",
		     "entities[0].kind: unknown entity kind");
	expect_error(HEAD "\"entities\":[{\"kind\":\"outlet\",\"metrics\":{\"current\":\"1.2.{i}\"}}]}",
		     "placeholders need a walk");
	expect_error(HEAD "\"entities\":[{\"kind\":\"outlet\",\"walk\":\"1.2\",\"metrics\":{\"current\":{\"oid\":\"1.2.{x}\"}}}]}",
		     "unknown placeholder");
	expect_error(HEAD "\"entities\":[{\"kind\":\"outlet\",\"metrics\":{\"current\":{\"oid\":\"1.2.0\",\"div\":0}}}]}",
		     "entities[0].metrics.current.div: must not be 0");
	expect_error(HEAD "\"entities\":[{\"kind\":\"outlet\",\"metrics\":{\"current\":{\"oid\":\"1.2.0\",\"map\":{\"x\":1}}}}]}",
		     "is not an integer");
	expect_error(HEAD "\"entitys\":[]}", "unknown key \"entitys\"");
	expect_error("{\"format\":2}", "format: must be an integer in 1..1");
	expect_error(HEAD "\"entities\":[{\"kind\":\"outlet\",\"walk\":\"1.2\",\"metrics\":{\"current\":\"1.2.{i}\"},"
		     "\"control\":{\"oid\":\"1.3.{i}\",\"on\":1}}]}",
		     "needs at least \"on\" and \"off\"");
	expect_error("{\"format\":1,\"name\":\"t\",\"device_type\":\"pdu\",\"match\":{\"fallback\":true},"
		     "\"entities\":[{\"kind\":\"total\",\"metrics\":{\"current\":\"1.2.0\"}}]}",
		     "a fallback profile needs a \"probe\"");
}

static void test_expand(void)
{
	char out[64];
	CHECK(wt_prof_expand("1.2.{i}.5", "3.4", 1, out, sizeof out) == 0 && !strcmp(out, "1.2.3.4.5"),
	      "expand {i}: %s", out);
	CHECK(wt_prof_expand("1.{i2}.{i1}.{u}", "7.8", 3, out, sizeof out) == 0 && !strcmp(out, "1.8.7.3"),
	      "expand parts: %s", out);
	CHECK(wt_prof_expand("1.{i3}", "7.8", 1, out, sizeof out) == -EINVAL, "missing part");
	CHECK(wt_prof_expand("1.2.3.4.5.6.7.8.9", NULL, 1, out, 8) == -ENOSPC, "short buffer");
}

static void test_convert(void)
{
	struct wt_prof_value pv = {.mul = 1, .div = 10};
	struct wt_snmp_val v = {.type = WT_SV_INT, .i = 65};
	double d;
	CHECK(wt_snmp_convert(&pv, 1, &v, &d) == 0 && fabs(d - 6.5) < 1e-9, "div: %g", d);
	CHECK(wt_snmp_convert(&pv, 0.01, &v, &d) == 0 && fabs(d - 0.065) < 1e-9, "digits: %g", d);
	long long inv[] = {-1};
	pv.invalid = inv;
	pv.n_invalid = 1;
	v.i = -1;
	CHECK(wt_snmp_convert(&pv, 1, &v, &d) == -ENODATA, "invalid marker");
	struct wt_prof_map map[] = {{1, 0}, {2, 1}};
	struct wt_prof_value pm = {.mul = 1, .div = 1, .map = map, .n_map = 2};
	v.i = 2;
	CHECK(wt_snmp_convert(&pm, 1, &v, &d) == 0 && d == 1, "map");
	v.i = 7;
	CHECK(wt_snmp_convert(&pm, 1, &v, &d) == -EINVAL, "unmapped value");
	struct wt_snmp_val s = {.type = WT_SV_STR, .s = " 230.5 V", .slen = 8};
	pv.n_invalid = 0;
	CHECK(wt_snmp_convert(&pv, 1, &s, &d) == 0 && fabs(d - 23.05) < 1e-9, "string number: %g", d);
	s.s = "<private>";
	s.slen = 9;
	CHECK(wt_snmp_convert(&pv, 1, &s, &d) == -EINVAL, "private string");
	struct wt_snmp_val none = {0};
	CHECK(wt_snmp_convert(&pv, 1, &none, &d) == -ENODATA, "absent");
	CHECK(wt_oid_cmp("1.3.6.10", "1.3.6.9") > 0, "numeric OID order");
	CHECK(wt_oid_under("1.3.6.1.2", "1.3.6.1") && !wt_oid_under("1.3.6.10", "1.3.6.1"),
	      "under");
}

static void put_int(struct wt_snmp_store *st, const char *oid, long v)
{
	struct wt_snmp_val x = {.type = WT_SV_INT, .i = v};
	CHECK(wt_snmp_store_put(st, oid, &x) == 0, "put");
}

static void put_str(struct wt_snmp_store *st, const char *oid, const char *s)
{
	struct wt_snmp_val x = {.type = WT_SV_STR, .s = s, .slen = strlen(s)};
	CHECK(wt_snmp_store_put(st, oid, &x) == 0, "put");
}

static void test_model(void)
{
	const char *json = HEAD
		"\"identity\":{\"vendor\":{\"value\":\"Acme\"},\"model\":\"1.9.1.0\"},"
		"\"entities\":[{\"kind\":\"outlet\",\"walk\":\"1.5.1\",\"unit\":{\"part\":1},"
		"\"index_part\":2,\"name\":\"1.5.2.{i}\",\"max_rows\":3,"
		"\"metrics\":{\"current\":{\"oid\":\"1.5.3.{i}\",\"digits_oid\":\"1.5.4.{i}\"},"
		"\"outlet_state\":{\"oid\":\"1.5.5.{i}\",\"map\":{\"1\":0,\"2\":1}}},"
		"\"control\":{\"oid\":\"1.5.6.{i}\",\"on\":1,\"off\":2}}]}";
	char err[256];
	struct wt_profile *p = parse(json, err, sizeof err);
	CHECK(p, "parse: %s", err);
	if (!p)
		return;
	struct wt_snmp_store *st = wt_snmp_store_new();
	/* two units, the second with 2 outlets, plus a 4th row beyond max_rows */
	const char *rows[] = {"1.1", "1.2", "2.1", "2.2"};
	for (int i = 0; i < 4; i++) {
		char oid[64];
		snprintf(oid, sizeof oid, "1.5.1.%s", rows[i]);
		put_int(st, oid, i);
		snprintf(oid, sizeof oid, "1.5.3.%s", rows[i]);
		put_int(st, oid, 1234);
		snprintf(oid, sizeof oid, "1.5.4.%s", rows[i]);
		put_int(st, oid, 3);
		snprintf(oid, sizeof oid, "1.5.5.%s", rows[i]);
		put_int(st, oid, 2);
	}
	put_str(st, "1.5.2.1.1", "web01\x01");
	put_str(st, "1.9.1.0", "PDU-9000");
	struct wt_strv gets = {0};
	CHECK(wt_snmp_plan_gets(p, st, &gets) == 0, "plan");
	CHECK(gets.n == 1 + 3 * 4, "plan size %zu", gets.n);
	wt_strv_free(&gets);
	struct wt_snmp_model *m = NULL;
	CHECK(wt_snmp_model_build(p, st, &m) == 0 && m, "build");
	if (m) {
		CHECK(m->n_entities == 3, "rows limited to max_rows: %zu", m->n_entities);
		CHECK(m->n_points == 6, "points %zu", m->n_points);
		CHECK(!strcmp(m->ident[WT_ID_VENDOR], "Acme") && !strcmp(m->ident[WT_ID_MODEL], "PDU-9000"),
		      "identity");
		CHECK(!strcmp(m->entities[0].name, "web01?"), "sanitised name %s", m->entities[0].name);
		CHECK(m->entities[2].unit == 2 && m->entities[2].index == 1, "unit/index");
		CHECK(m->n_units == 2, "units %zu", m->n_units);
		CHECK(fabs(m->points[0].value - 1.234) < 1e-9, "digits scale %g", m->points[0].value);
		CHECK(m->points[1].value == 1, "state");
		CHECK(!strcmp(m->entities[1].ctl_oid, "1.5.6.1.2"), "ctl oid %s", m->entities[1].ctl_oid);
	}
	wt_snmp_model_free(m);
	struct wt_profile_set set = {0};
	CHECK(wt_profiles_add(&set, p) == 0, "add");
	CHECK(wt_snmp_select(&set, "1.3.6.1.4.1.99.7", st) == p, "prefix match");
	CHECK(wt_snmp_select(&set, "1.3.6.1.4.1.990", st) == NULL, "no match on partial number");
	wt_profiles_free(&set);
	wt_snmp_store_free(st);
}

static void test_shipped(void)
{
	struct wt_profile_set set = {0};
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/pollers/profiles", WT_SOURCE_ROOT);
	int n = wt_profiles_load_dir(&set, dir);
	/* every shipped profile loads: a broken one is logged and skipped, so
	 * count the files and compare */
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "ls %s/*.json | wc -l", dir);
	FILE *f = popen(cmd, "r");
	int files = -1;
	if (f) {
		if (fscanf(f, "%d", &files) != 1)
			files = -1;
		pclose(f);
	}
	CHECK(n > 0 && n == files, "shipped profiles: %d of %d loaded", n, files);
	CHECK(wt_profiles_find(&set, "rfc1628-ups") && wt_profiles_find(&set, "apc-rpdu2"),
	      "core profiles present");
	wt_profiles_free(&set);
}

int main(void)
{
	wt_log_setup(false, "t_profile", WT_LOG_WARNING);
	test_errors();
	test_expand();
	test_convert();
	test_model();
	test_shipped();
	if (failures)
		printf("%d failures\n", failures);
	else
		printf("all passed\n");
	return failures ? 1 : 0;
}
