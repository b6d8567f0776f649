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

#include "../lib/check.h"

static struct wt_profile *parse(const char *json, char *err, size_t len)
{
	return wt_profile_parse(json, strlen(json), "test.json", err, len);
}

#define HEAD \
	"{\"format\":1,\"name\":\"t\",\"device_type\":\"pdu\",\"match\":{\"sysobjectid\":[\".1.3.6.1.4.1.99\"]},"

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
	expect_error(HEAD
		     "\"entities\":[{\"kind\":\"outlet\",\"metrics\":{\"curent\":\"1.2.3\"}}]}",
		     "entities[0].metrics.curent: unknown metric");
	expect_error(HEAD "\"entities\":[{\"kind\":\"plug\",\"metrics\":{\"current\":\"1.2\"}}]}",
		     "entities[0].kind: unknown entity kind");
	expect_error(HEAD
		     "\"entities\":[{\"kind\":\"outlet\",\"metrics\":{\"current\":\"1.2.{i}\"}}]}",
		     "placeholders need a walk");
	expect_error(
		HEAD
		"\"entities\":[{\"kind\":\"outlet\",\"walk\":\"1.2\",\"metrics\":{\"current\":{\"oid\":\"1.2.{x}\"}}}]}",
		"unknown placeholder");
	expect_error(
		HEAD
		"\"entities\":[{\"kind\":\"outlet\",\"metrics\":{\"current\":{\"oid\":\"1.2.0\",\"div\":0}}}]}",
		"entities[0].metrics.current.div: must not be 0");
	expect_error(
		HEAD
		"\"entities\":[{\"kind\":\"outlet\",\"metrics\":{\"current\":{\"oid\":\"1.2.0\",\"map\":{\"x\":1}}}}]}",
		"is not an integer");
	expect_error(HEAD "\"entitys\":[]}", "unknown key \"entitys\"");
	expect_error("{\"format\":2}", "format: must be an integer in 1..1");
	expect_error(
		HEAD
		"\"entities\":[{\"kind\":\"outlet\",\"walk\":\"1.2\",\"metrics\":{\"current\":\"1.2.{i}\"},"
		"\"control\":{\"oid\":\"1.3.{i}\",\"on\":1}}]}",
		"needs at least \"on\" and \"off\"");
	expect_error(
		"{\"format\":1,\"name\":\"t\",\"device_type\":\"pdu\",\"match\":{\"fallback\":true},"
		"\"entities\":[{\"kind\":\"total\",\"metrics\":{\"current\":\"1.2.0\"}}]}",
		"a fallback profile needs a \"probe\"");
}

static void test_expand(void)
{
	char out[64];
	CHECK(wt_prof_expand("1.2.{i}.5", "3.4", 1, out, sizeof out) == 0 &&
		      !strcmp(out, "1.2.3.4.5"),
	      "expand {i}: %s", out);
	CHECK(wt_prof_expand("1.{i2}.{i1}.{u}", "7.8", 3, out, sizeof out) == 0 &&
		      !strcmp(out, "1.8.7.3"),
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
	CHECK(wt_snmp_convert(&pv, 1, &s, &d) == 0 && fabs(d - 23.05) < 1e-9, "string number: %g",
	      d);
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
		CHECK(!strcmp(m->ident[WT_ID_VENDOR], "Acme") &&
			      !strcmp(m->ident[WT_ID_MODEL], "PDU-9000"),
		      "identity");
		CHECK(!strcmp(m->entities[0].name, "web01?"), "sanitised name %s",
		      m->entities[0].name);
		CHECK(m->entities[2].unit == 2 && m->entities[2].index == 1, "unit/index");
		CHECK(m->n_units == 2, "units %zu", m->n_units);
		CHECK(fabs(m->points[0].value - 1.234) < 1e-9, "digits scale %g",
		      m->points[0].value);
		CHECK(m->points[1].value == 1, "state");
		CHECK(!strcmp(m->entities[1].ctl_oid, "1.5.6.1.2"), "ctl oid %s",
		      m->entities[1].ctl_oid);
	}
	wt_snmp_model_free(m);
	struct wt_profile_set set = {0};
	CHECK(wt_profiles_add(&set, p) == 0, "add");
	CHECK(wt_snmp_select(&set, "1.3.6.1.4.1.99.7", st) == p, "prefix match");
	CHECK(wt_snmp_select(&set, "1.3.6.1.4.1.990", st) == NULL, "no match on partial number");
	wt_profiles_free(&set);
	wt_snmp_store_free(st);
}

/* ---- poll plan against a tiny in-test agent ---- */

struct agent_row {
	unsigned long oid[16];
	size_t len;
	long v;
};

struct agent {
	struct agent_row rows[128];
	size_t n;
	size_t max_vbs; /* answers cut to this many varbinds (a small agent), 0 = no limit */
	bool backwards; /* repeats the request's own OID: an agent going backwards */
	unsigned requests;
	struct wt_snmp_vb out[WT_REQ_MAX * 64];
};

static int row_cmp(const void *a, const void *b)
{
	const struct agent_row *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	for (size_t i = 0; i < n; i++)
		if (x->oid[i] != y->oid[i])
			return x->oid[i] < y->oid[i] ? -1 : 1;
	return (x->len > y->len) - (x->len < y->len);
}

static void agent_put(struct agent *a, const char *oid, long v)
{
	struct agent_row *r = &a->rows[a->n++];
	int n = wt_oid_parse(oid, r->oid, 16);
	r->len = n > 0 ? (size_t)n : 0;
	r->v = v;
	qsort(a->rows, a->n, sizeof a->rows[0], row_cmp);
}

/* GETNEXT: the first row after oid, or NULL (endOfMibView). */
static const struct agent_row *agent_next(const struct agent *a, const unsigned long *o, size_t n)
{
	struct agent_row key = {.len = n};
	memcpy(key.oid, o, n * sizeof *o);
	for (size_t i = 0; i < a->n; i++)
		if (row_cmp(&a->rows[i], &key) > 0)
			return &a->rows[i];
	return NULL;
}

static void vb_from(struct wt_snmp_vb *vb, const struct agent_row *r, const unsigned long *asked,
		    size_t asked_len)
{
	memset(vb, 0, sizeof *vb);
	if (!r) {
		vb->name = asked;
		vb->name_len = asked_len;
		vb->end_of_mib = true;
		return;
	}
	vb->name = r->oid;
	vb->name_len = r->len;
	vb->v.type = WT_SV_INT;
	vb->v.i = r->v;
	if (r->len == 9 && r->oid[7] == 3 && r->oid[8] == 0) { /* sysUpTime.0 is TimeTicks */
		vb->v.type = WT_SV_UINT;
		vb->v.u = (uint64_t)r->v;
	}
}

/* Answers req as an SNMPv2 agent would (RFC 3416 4.2.3 for GETBULK). */
static size_t agent_answer(struct agent *a, const struct wt_snmp_req *q)
{
	size_t n = 0;
	a->requests++;
	if (!q->bulk) {
		for (size_t i = 0; i < q->n; i++) {
			struct agent_row key = {.len = q->oid_len[i]};
			memcpy(key.oid, q->oid[i], key.len * sizeof key.oid[0]);
			const struct agent_row *hit = NULL;
			for (size_t k = 0; k < a->n && !hit; k++)
				if (row_cmp(&a->rows[k], &key) == 0)
					hit = &a->rows[k];
			vb_from(&a->out[n], hit, q->oid[i], q->oid_len[i]);
			if (!hit)
				a->out[n].end_of_mib = false; /* noSuchInstance */
			n++;
		}
		return n;
	}
	size_t nr = (size_t)q->nonrep;
	for (size_t i = 0; i < nr; i++, n++)
		vb_from(&a->out[n], agent_next(a, q->oid[i], q->oid_len[i]), q->oid[i],
			q->oid_len[i]);
	const unsigned long *cur[WT_REQ_MAX];
	size_t cur_len[WT_REQ_MAX];
	for (size_t i = nr; i < q->n; i++) {
		cur[i] = q->oid[i];
		cur_len[i] = q->oid_len[i];
	}
	for (int r = 0; r < q->reps; r++)
		for (size_t i = nr; i < q->n; i++) {
			const struct agent_row *hit = a->backwards && r > 0
							      ? NULL
							      : agent_next(a, cur[i], cur_len[i]);
			if (a->backwards && r > 0) {
				/* the same OID again */
				vb_from(&a->out[n], NULL, cur[i], cur_len[i]);
				a->out[n].end_of_mib = false;
				a->out[n].v.type = WT_SV_INT;
			} else {
				vb_from(&a->out[n], hit, cur[i], cur_len[i]);
			}
			if (hit) {
				cur[i] = hit->oid;
				cur_len[i] = hit->len;
			}
			n++;
		}
	if (a->max_vbs && n > a->max_vbs)
		n = a->max_vbs;
	return n;
}

/* Runs one poll of m through plan pl against agent a; returns readings. */
static size_t run_poll(struct wt_snmp_plan *pl, struct wt_snmp_model *m, struct agent *a,
		       int max_oids, int max_rep, uint64_t *up, bool *have_up)
{
	struct wt_snmp_req q;
	uint32_t upd[256];
	size_t nu = 0;
	*have_up = false;
	wt_snmp_plan_start(pl);
	for (int guard = 0; guard < 100 && wt_snmp_plan_next(pl, max_oids, max_rep, &q); guard++) {
		size_t n = agent_answer(a, &q);
		wt_snmp_plan_read(pl, m, &q, a->out, n, upd, &nu, up, have_up);
		CHECK(nu <= m->n_points, "update overflow");
	}
	return nu;
}

static void test_plan(void)
{
	/* an outlet table of 6 rows (dense columns: GETBULK), a phase table of
	 * 1 row (short: GETNEXT from the column), a scalar x.0 (GETNEXT from x)
	 * and a cell of a table with no walk (GET) */
	const char *json = HEAD
		"\"entities\":[{\"kind\":\"outlet\",\"walk\":\"1.7.1.1\","
		"\"metrics\":{\"current\":\"1.7.1.2.{i}\",\"power_active\":\"1.7.1.3.{i}\"}},"
		"{\"kind\":\"phase\",\"walk\":\"1.7.2.1\",\"metrics\":{\"voltage\":\"1.7.2.2.{i}\"}},"
		"{\"kind\":\"total\",\"index\":1,\"metrics\":{\"power_active\":\"1.7.3.0\","
		"\"frequency\":\"1.7.4.5\"}}]}";
	char err[256];
	struct wt_profile *p = parse(json, err, sizeof err);
	CHECK(p, "parse: %s", err);
	if (!p)
		return;
	struct wt_snmp_store *st = wt_snmp_store_new();
	struct agent *a = calloc(1, sizeof *a);
	char oid[64];
	for (int r = 1; r <= 6; r++) {
		for (int c = 1; c <= 3; c++) {
			snprintf(oid, sizeof oid, "1.7.1.%d.%d", c, r);
			put_int(st, oid, c * 100 + r);
			agent_put(a, oid, c * 100 + r);
		}
	}
	put_int(st, "1.7.2.1.1", 1);
	put_int(st, "1.7.2.2.1", 230);
	put_int(st, "1.7.3.0", 5000);
	put_int(st, "1.7.4.5", 50);
	agent_put(a, "1.7.2.1.1", 1);
	agent_put(a, "1.7.2.2.1", 230);
	agent_put(a, "1.7.3.0", 5000);
	agent_put(a, "1.7.4.5", 50);
	agent_put(a, "1.3.6.1.2.1.1.3.0", 777);
	agent_put(a, "1.7.9.9", 1); /* something after the tables */
	struct wt_snmp_model *m = NULL;
	CHECK(wt_snmp_model_build(p, st, &m) == 0 && m, "build");
	struct wt_snmp_plan *pl = NULL;
	CHECK(m && wt_snmp_plan_build(m, st, true, 20, &pl) == 0 && pl, "plan");
	if (!m || !pl)
		goto out;
	CHECK(m->n_points == 15, "points %zu", m->n_points);
	struct wt_snmp_plan_info info;
	wt_snmp_plan_info(pl, &info);
	CHECK(info.columns == 2 && info.column_points == 12 && info.repetitions == 6,
	      "2 columns of 6 rows repeated: %zu %zu %d", info.columns, info.column_points,
	      info.repetitions);
	CHECK(info.getnexts == 3 && info.gets == 1, "getnexts (uptime, voltage, x.0) %zu, gets %zu",
	      info.getnexts, info.gets);
	uint64_t up;
	bool have_up;
	size_t nu = run_poll(pl, m, a, 40, 20, &up, &have_up);
	CHECK(nu == 15 && a->requests == 2,
	      "clean: %zu readings in %u requests (1 GETBULK + 1 GET)", nu, a->requests);
	CHECK(have_up && up == 777, "sysUpTime by GETNEXT");
	CHECK(m->points[0].value == 201 && m->points[11].value == 306, "values by row: %g %g",
	      m->points[0].value, m->points[11].value);

	/* repetitions capped at 2: the columns continue from the last index */
	a->requests = 0;
	nu = run_poll(pl, m, a, 40, 2, &up, &have_up);
	CHECK(nu == 15 && a->requests == 4, "capped: %zu readings in %u requests", nu, a->requests);

	/* a small agent cutting every answer to 5 varbinds */
	a->requests = 0;
	a->max_vbs = 5;
	nu = run_poll(pl, m, a, 40, 20, &up, &have_up);
	CHECK(nu == 15, "short answers: %zu readings in %u requests", nu, a->requests);
	a->max_vbs = 0;

	/* a missing row (outlet 3's current) and the table ending early
	 * (outlet 6 gone): rows are matched by index, the rest still read */
	for (size_t i = 0; i < a->n; i++)
		if (a->rows[i].len == 5 && a->rows[i].oid[3] == 2 && a->rows[i].oid[4] == 3)
			a->rows[i].oid[3] = 8; /* moved out of the table */
	qsort(a->rows, a->n, sizeof a->rows[0], row_cmp);
	a->requests = 0;
	nu = run_poll(pl, m, a, 40, 20, &up, &have_up);
	CHECK(nu == 14 && !m->points[4].have, "missing row: %zu readings, outlet 3 current %d", nu,
	      m->points[4].have);
	CHECK(!wt_snmp_plan_dirty(pl), "a missing column row does not move points");

	/* an agent going backwards ends the column instead of looping */
	a->backwards = true;
	a->requests = 0;
	nu = run_poll(pl, m, a, 40, 20, &up, &have_up);
	CHECK(a->requests <= 3, "backwards agent: %u requests", a->requests);
	a->backwards = false;

	/* the phase row vanishes: its GETNEXT lands elsewhere, so it moves to
	 * the GET list (dirty plan, rebuilt) */
	for (size_t i = 0; i < a->n; i++)
		if (a->rows[i].len == 5 && a->rows[i].oid[2] == 2 && a->rows[i].oid[3] == 2)
			a->rows[i].oid[4] = 4;
	qsort(a->rows, a->n, sizeof a->rows[0], row_cmp);
	run_poll(pl, m, a, 40, 20, &up, &have_up);
	CHECK(wt_snmp_plan_dirty(pl), "a missed GETNEXT marks the plan dirty");
	struct wt_snmp_plan *pl2 = NULL;
	CHECK(wt_snmp_plan_build(m, st, true, 20, &pl2) == 0 && pl2, "rebuild");
	if (pl2) {
		wt_snmp_plan_info(pl2, &info);
		CHECK(info.gets == 2 && info.getnexts == 2, "moved to GET: %zu gets", info.gets);
		wt_snmp_plan_free(pl2);
	}

	/* SNMPv1: everything by GET, sysUpTime first; noSuchName drops one */
	struct wt_snmp_plan *v1 = NULL;
	CHECK(wt_snmp_plan_build(m, st, false, 20, &v1) == 0 && v1, "v1 plan");
	if (v1) {
		wt_snmp_plan_info(v1, &info);
		CHECK(info.gets == 16 && info.columns == 0 && info.getnexts == 0, "v1: %zu gets",
		      info.gets);
		struct wt_snmp_req q;
		wt_snmp_plan_start(v1);
		CHECK(wt_snmp_plan_next(v1, 10, 20, &q) && !q.bulk && q.n == 10, "v1 batch of 10");
		CHECK(wt_snmp_plan_drop(v1, &q, 1) == UINT32_MAX, "v1: sysUpTime dropped");
		CHECK(wt_snmp_plan_drop(v1, &q, 99) == -1, "v1: errindex out of range");
		wt_snmp_plan_info(v1, &info);
		CHECK(info.gets == 15, "v1 after drop: %zu", info.gets);
		wt_snmp_plan_free(v1);
	}
out:
	wt_snmp_plan_free(pl);
	wt_snmp_model_free(m);
	wt_snmp_store_free(st);
	free(a);
	wt_profile_free(p);
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
	test_plan();
	test_shipped();
	if (failures)
		printf("%d failures\n", failures);
	else
		printf("all passed\n");
	return failures ? 1 : 0;
}
