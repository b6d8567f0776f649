/* Unit tests for the settings table, the configuration parser, the value
 * parsers, the dumper and reload. Prints every failure; exits 1 if any. */
#include "config.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/check.h"

/* ---- the table ---- */

static void test_table(void)
{
	size_t n;
	const struct wt_setting *t = wt_config_settings(&n);
	struct wt_config c;
	char err[256];

	CHECK(n >= 15, "table has %zu rows", n);
	CHECK(wt_config_defaults(&c) == 0, "defaults");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			CHECK(strcmp(t[i - 1].name, t[i].name) < 0, "table not sorted at %s",
			      t[i].name);
		CHECK(wt_config_find(t[i].name) == &t[i], "find %s", t[i].name);
		CHECK(t[i].doc && strlen(t[i].doc) > 10, "doc of %s", t[i].name);
		CHECK(t[i].type != WT_ST_ENUM || (t[i].values && t[i].values[0]),
		      "enum values of %s", t[i].name);
		int rc = wt_config_set(&c, t[i].name, t[i].def, err, sizeof(err));
		CHECK(rc == 0, "default of %s does not parse: %s", t[i].name, err);
		if (t[i].type == WT_ST_INT || t[i].type == WT_ST_DURATION ||
		    t[i].type == WT_ST_SIZE)
			CHECK(t[i].min <= t[i].max, "bounds of %s", t[i].name);
	}
	CHECK(wt_config_find("no.such") == NULL, "find unknown");
	CHECK(wt_config_find("") == NULL, "find empty");

	/* The values the daemon relies on. */
	CHECK(c.storage_flush_interval_ms == 60000, "flush default %" PRId64,
	      c.storage_flush_interval_ms);
	CHECK(c.retention_raw_ms == 14LL * 86400000, "retention.raw default");
	CHECK(c.retention_hourly_ms == 730LL * 86400000, "retention.hourly default");
	CHECK(c.retention_daily_ms == 3650LL * 86400000, "retention.daily default");
	CHECK(c.storage_spool_max == 1024ULL * 1024 * 1024, "spool_max default");
	CHECK(c.workers_threads == 4, "threads default");
	CHECK(c.poll_interval_ms == 5000, "poll.interval default");
	CHECK(c.log_level == WT_LOG_INFO, "log.level default");
	CHECK(strcmp(c.state_dir, "/var/lib/wattrack") == 0, "state_dir default");
	CHECK(strcmp(c.database_url, "") == 0, "database.url default");
	struct wt_config_diags d = {0};
	CHECK(wt_config_finish(&c, &d) == 0 && d.n == 0, "defaults pass the cross checks");
	CHECK(strcmp(c.storage_spool_dir, "/var/lib/wattrack/spool") == 0, "derived spool dir %s",
	      c.storage_spool_dir);
	wt_config_diags_free(&d);
	wt_config_free(&c);
}

/* ---- value parsers ---- */

static void test_duration(void)
{
	static const struct {
		const char *in;
		int rc;
		int64_t ms;
	} cases[] = {
		{"500ms", 0, 500},
		{"5s", 0, 5000},
		{"10m", 0, 600000},
		{"2h", 0, 7200000},
		{"7d", 0, 7 * 86400000LL},
		{"1h30m", 0, 5400000},
		{"1d2h3m4s5ms", 0, 86400000LL + 2 * 3600000 + 3 * 60000 + 4000 + 5},
		{"0", 0, 0},
		{"0s", 0, 0},
		{"3650d", 0, 3650 * 86400000LL},
		{"", -EINVAL, 0},
		{"5", -EINVAL, 0},
		{"s", -EINVAL, 0},
		{"5x", -EINVAL, 0},
		{"5 s", -EINVAL, 0},
		{" 5s", -EINVAL, 0},
		{"5s ", -EINVAL, 0},
		{"-5s", -EINVAL, 0},
		{"+5s", -EINVAL, 0},
		{"5S", -EINVAL, 0},
		{"1.5s", -EINVAL, 0},
		{"30m1h", -EINVAL, 0},
		{"5s5s", -EINVAL, 0},
		{"5sec", -EINVAL, 0},
		{"106751991168d", -ERANGE, 0},
		{"106751991167d", 0, 106751991167LL * 86400000},
		{"99999999999999999999999ms", -ERANGE, 0},
		{"9223372036854775807ms", 0, INT64_MAX},
		{"9223372036854775807ms1ms", -EINVAL, 0},
		{"9223372036854775s808ms", -ERANGE, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -1;
		int rc = wt_parse_duration(cases[i].in, &ms);
		CHECK(rc == cases[i].rc, "duration \"%s\": rc %d, want %d", cases[i].in, rc,
		      cases[i].rc);
		if (rc == 0 && cases[i].rc == 0)
			CHECK(ms == cases[i].ms, "duration \"%s\" = %" PRId64 ", want %" PRId64,
			      cases[i].in, ms, cases[i].ms);
	}

	static const struct {
		int64_t ms;
		const char *out;
	} fmt[] = {{0, "0"},         {500, "500ms"},   {1000, "1s"},
		   {90000, "90s"},   {60000, "1m"},    {5400000, "90m"},
		   {86400000, "1d"}, {1500, "1500ms"}, {3650 * 86400000LL, "3650d"}};
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		char buf[32];
		wt_format_duration(fmt[i].ms, buf, sizeof(buf));
		CHECK(strcmp(buf, fmt[i].out) == 0, "format %" PRId64 " = %s, want %s", fmt[i].ms,
		      buf, fmt[i].out);
	}
	/* format then parse gives the value back */
	srand(7);
	for (int i = 0; i < 5000; i++) {
		int64_t v = ((int64_t)rand() << 20 | rand()) % (40000LL * 86400000);
		if (i % 3 == 0)
			v -= v % 1000;
		char buf[32];
		int64_t back = -1;
		wt_format_duration(v, buf, sizeof(buf));
		CHECK(wt_parse_duration(buf, &back) == 0 && back == v, "roundtrip %" PRId64 " %s",
		      v, buf);
	}
}

static void test_size(void)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t b;
	} cases[] = {
		{"512kB", 0, 512 * 1024},
		{"1GB", 0, 1024ULL * 1024 * 1024},
		{"1gb", 0, 1024ULL * 1024 * 1024},
		{"3MiB", 0, 3 * 1024 * 1024},
		{"2TB", 0, 2ULL << 40},
		{"100B", 0, 100},
		{"16k", 0, 16384},
		{"0", 0, 0},
		{"5", -EINVAL, 0},
		{"", -EINVAL, 0},
		{"GB", -EINVAL, 0},
		{"1 GB", -EINVAL, 0},
		{"-1GB", -EINVAL, 0},
		{"1.5GB", -EINVAL, 0},
		{"1PB", -EINVAL, 0},
		{"1GBB", -EINVAL, 0},
		{"1kilobyte", -EINVAL, 0},
		{"99999999999TB", -ERANGE, 0},
		{"999999999999999999999999B", -ERANGE, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t b = 1;
		int rc = wt_parse_size(cases[i].in, &b);
		CHECK(rc == cases[i].rc, "size \"%s\": rc %d, want %d", cases[i].in, rc,
		      cases[i].rc);
		if (rc == 0 && cases[i].rc == 0)
			CHECK(b == cases[i].b, "size \"%s\" = %" PRIu64, cases[i].in, b);
	}
	char buf[32];
	wt_format_size(1024ULL * 1024 * 1024, buf, sizeof(buf));
	CHECK(strcmp(buf, "1GB") == 0, "format 1GB: %s", buf);
	wt_format_size(1000, buf, sizeof(buf));
	CHECK(strcmp(buf, "1000B") == 0, "format 1000B: %s", buf);
	wt_format_size(1536 * 1024, buf, sizeof(buf));
	CHECK(strcmp(buf, "1536kB") == 0, "format 1536kB: %s", buf);
	for (uint64_t v = 1; v < (1ULL << 60); v = v * 3 + 1) {
		uint64_t back = 0;
		wt_format_size(v, buf, sizeof(buf));
		CHECK(wt_parse_size(buf, &back) == 0 && back == v, "roundtrip %" PRIu64, v);
	}
	bool bv;
	CHECK(wt_parse_bool("YES", &bv) == 0 && bv, "bool YES");
	CHECK(wt_parse_bool("off", &bv) == 0 && !bv, "bool off");
	CHECK(wt_parse_bool("2", &bv) == -EINVAL, "bool 2");
}

/* ---- the parser: well-formed input ---- */

static bool has_diag(const struct wt_config_diags *d, int line, const char *key, const char *substr)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct wt_config_diag *g = &d->v[i];
		if (g->line != line)
			continue;
		if (key && (!g->key || strcmp(g->key, key) != 0))
			continue;
		if (substr && (!g->msg || !strstr(g->msg, substr)))
			continue;
		return true;
	}
	return false;
}

static void print_diags(const struct wt_config_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		char buf[1200];
		wt_config_diag_format(&d->v[i], buf, sizeof(buf));
		printf("    diag: %s\n", buf);
	}
}

static void test_good(void)
{
	static const char text[] = "# a comment\n"
				   "\n"
				   "   # an indented comment\n"
				   "database.url = \"postgresql://wt@db.example:5432/wattrack\"\n"
				   "state_dir=/srv/wattrack   # trailing comment\n"
				   "log.level = DEBUG\r\n"
				   "log.syslog = yes\n"
				   "\tstorage.flush_interval\t=\t30s\n"
				   "storage.spool_max = 512MB\n"
				   "storage.spool_dir = '/srv/spool dir/#x'\n"
				   "retention.raw = 7d\n"
				   "retention.hourly = 365d\n"
				   "retention.daily = 1000d\n"
				   "workers.threads = 8\n"
				   "poll.interval = 10s\n"
				   "poll.timeout = 1500ms\n"
				   "poll.retries = 0\n"
				   "workers.queue_max = 100";
	struct wt_config c;
	struct wt_config_diags d = {0};
	int rc = wt_config_load_buffer(&c, "good.conf", text, sizeof(text) - 1, &d);

	CHECK(rc == 0 && d.n == 0, "good config: rc %d, %zu problems", rc, d.n);
	print_diags(&d);
	CHECK(strcmp(c.database_url, "postgresql://wt@db.example:5432/wattrack") == 0, "url %s",
	      c.database_url);
	CHECK(strcmp(c.state_dir, "/srv/wattrack") == 0, "state_dir %s", c.state_dir);
	CHECK(c.log_level == WT_LOG_DEBUG, "log level %d", c.log_level);
	CHECK(c.log_syslog, "syslog");
	CHECK(c.storage_flush_interval_ms == 30000, "flush");
	CHECK(c.storage_spool_max == 512ULL << 20, "spool_max");
	CHECK(strcmp(c.storage_spool_dir, "/srv/spool dir/#x") == 0, "spool_dir %s",
	      c.storage_spool_dir);
	CHECK(c.retention_raw_ms == 7 * 86400000LL, "raw");
	CHECK(c.workers_threads == 8, "threads");
	CHECK(c.poll_timeout_ms == 1500, "timeout");
	CHECK(c.poll_retries == 0, "retries");
	CHECK(c.workers_queue_max == 100, "queue_max");
	CHECK(c.line[wt_config_find("log.level") - wt_config_settings(&(size_t){0})] == 6,
	      "line of log.level");

	/* A byte order mark at the start is skipped. */
	static const char bom[] = "\xef\xbb\xbfworkers.threads = 3\r\n";
	struct wt_config cb;
	struct wt_config_diags db = {0};
	CHECK(wt_config_load_buffer(&cb, "bom", bom, sizeof(bom) - 1, &db) == 0 &&
		      cb.workers_threads == 3,
	      "a UTF-8 BOM is skipped");
	print_diags(&db);
	wt_config_free(&cb);
	wt_config_diags_free(&db);

	/* Escapes, and the spool dir derived from state_dir. */
	static const char t2[] = "state_dir = \"/a \\\"b\\\" \\\\c/\"\n";
	struct wt_config c2;
	struct wt_config_diags d2 = {0};
	rc = wt_config_load_buffer(&c2, "t2", t2, sizeof(t2) - 1, &d2);
	CHECK(rc == 0, "escapes rc %d", rc);
	print_diags(&d2);
	CHECK(strcmp(c2.state_dir, "/a \"b\" \\c/") == 0, "escaped state_dir [%s]", c2.state_dir);
	CHECK(strcmp(c2.storage_spool_dir, "/a \"b\" \\c/spool") == 0, "derived spool [%s]",
	      c2.storage_spool_dir);

	/* The dump parses back to the same configuration. */
	char *dump = NULL;
	size_t dlen = 0;
	FILE *f = open_memstream(&dump, &dlen);
	wt_config_dump(&c, f);
	fclose(f);
	struct wt_config c3;
	struct wt_config_diags d3 = {0};
	rc = wt_config_load_buffer(&c3, "dump", dump, dlen, &d3);
	CHECK(rc == 0 && d3.n == 0, "dump re-parses: rc %d", rc);
	print_diags(&d3);
	size_t n;
	const struct wt_setting *t = wt_config_settings(&n);
	for (size_t i = 0; i < n; i++) {
		char a[512], b[512];
		wt_config_format(&c, &t[i], false, a, sizeof(a));
		wt_config_format(&c3, &t[i], false, b, sizeof(b));
		CHECK(strcmp(a, b) == 0, "dump roundtrip of %s: %s vs %s", t[i].name, a, b);
		CHECK(strstr(dump, t[i].name) != NULL, "dump lacks %s", t[i].name);
	}
	free(dump);
	wt_config_free(&c);
	wt_config_free(&c2);
	wt_config_free(&c3);
	wt_config_diags_free(&d);
	wt_config_diags_free(&d2);
	wt_config_diags_free(&d3);
}

/* ---- secrets ---- */

static void test_masking(void)
{
	static const struct {
		const char *url;
		const char *secret;
		const char *kept;
	} cases[] = {
		{"postgresql://wt:s3cret@db:5432/wattrack", "s3cret",
		 "postgresql://wt:****@db:5432"},
		{"postgres://wt:p%40ss@db/x?sslmode=require&password=other", "other", "sslmode"},
		{"postgres://db/x?password=topsecret", "topsecret",
		 "postgres://db/x?password=****"},
		{"host=db user=wt password=hunter2 dbname=w", "hunter2", "host=db user=wt"},
		{"host=db password = 'a b\\' c' dbname=w", "a b", "dbname=w"},
		{"password=abc", "abc", "password=****"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wt_config c;
		char err[256], out[512];
		CHECK(wt_config_defaults(&c) == 0, "defaults");
		CHECK(wt_config_set(&c, "database.url", cases[i].url, err, sizeof(err)) == 0,
		      "set url");
		wt_config_format(&c, wt_config_find("database.url"), true, out, sizeof(out));
		CHECK(!strstr(out, cases[i].secret), "masked url still holds the secret: %s", out);
		CHECK(strstr(out, cases[i].kept) != NULL, "masked url lost \"%s\": %s",
		      cases[i].kept, out);
		wt_config_format(&c, wt_config_find("database.url"), false, out, sizeof(out));
		CHECK(strstr(out, cases[i].secret) != NULL, "unmasked url: %s", out);
		char *dump = NULL;
		size_t dlen = 0;
		FILE *f = open_memstream(&dump, &dlen);
		wt_config_dump(&c, f);
		fclose(f);
		CHECK(!strstr(dump, cases[i].secret), "dump holds the secret");
		free(dump);
		wt_config_free(&c);
	}
}

/* ---- the parser: malformed input ---- */

static void test_malformed(void)
{
	static const struct {
		const char *text;
		int line;
		const char *key;
		const char *msg;
	} cases[] = {
		{"storage.flush_intreval = 30s\n", 1, "storage.flush_intreval",
		 "did you mean \"storage.flush_interval\""},
		{"\nflush_interval = 30s\n", 2, "flush_interval", "storage.flush_interval"},
		{"Log.Level = info\n", 1, "Log.Level", "did you mean \"log.level\""},
		{"completely.unrelated.thing = 1\n", 1, "completely.unrelated.thing",
		 "unknown setting"},
		{"poll.interval = fast\n", 1, "poll.interval", "not a duration"},
		{"poll.interval = 5\n", 1, "poll.interval", "not a duration"},
		{"storage.flush_interval = 2h\n", 1, "storage.flush_interval",
		 "out of range (5s..1m)"},
		{"storage.flush_interval = 0\n", 1, "storage.flush_interval", "out of range"},
		{"storage.spool_max = lots\n", 1, "storage.spool_max", "not a size"},
		{"storage.spool_max = 2kB\n", 1, "storage.spool_max", "out of range (1MB..1TB)"},
		{"workers.threads = many\n", 1, "workers.threads", "not an integer"},
		{"workers.threads = 0\n", 1, "workers.threads", "out of range (1..256)"},
		{"workers.threads = 99999999999999999999\n", 1, "workers.threads", "out of range"},
		{"workers.threads = 4x\n", 1, "workers.threads", "not an integer"},
		{"workers.threads =\n", 1, "workers.threads", "empty value"},
		{"log.syslog = maybe\n", 1, "log.syslog", "not a boolean"},
		{"log.level = loud\n", 1, "log.level", "error, warning, notice, info, debug"},
		{"log.level = info\n\nlog.level = debug\n", 3, "log.level",
		 "set twice (first on line 1)"},
		{"log.level info\n", 1, "log.level", "missing '='"},
		{"log.level\n", 1, "log.level", "missing '='"},
		{"state_dir = \"/var/lib/x\n", 1, "state_dir", "unterminated double quote"},
		{"state_dir = '/var/lib/x\n", 1, "state_dir", "unterminated single quote"},
		{"state_dir = \"/x\" junk\n", 1, "state_dir", "after the closing quote"},
		{"state_dir = \"/x\\q\"\n", 1, "state_dir", "unknown escape"},
		{"state_dir = /x\"y\n", 1, "state_dir", "quote inside an unquoted value"},
		{"state_dir = relative/dir\n", 1, "state_dir", "absolute path"},
		{"state_dir = \"\"\n", 1, "state_dir", "must not be empty"},
		{"storage.spool_dir = spool\n", 1, "storage.spool_dir", "absolute path"},
		{"state_dir = /x\nstorage.spool_dir = /x\n", 2, "storage.spool_dir", "of its own"},
		{"log.level = \xff\xfe\n", 1, "log.level", "invalid UTF-8"},
		{"state_dir = /caf\xc3\xa9\n# \xc0\xaf overlong\n", 2, NULL, "invalid UTF-8"},
		{"state_dir = /\xed\xa0\x80\n", 1, "state_dir", "invalid UTF-8"},
		{"= 5\n", 1, NULL, "expected `key = value`"},
		{"[storage]\n", 1, NULL, "expected `key = value`"},
		{"retention.raw = 30d\nretention.hourly = 20d\n", 2, "retention.hourly",
		 "longer than retention.hourly"},
		{"retention.hourly = 800d\nretention.daily = 700d\n", 2, "retention.daily",
		 "longer than retention.daily"},
		{"retention.raw = 36h\n", 1, "retention.raw", "whole number of days"},
		{"storage.flush_interval = 12s\n", 1, "storage.flush_interval", "multiple of 5s"},
		{"poll.interval = 2s\npoll.timeout = 3s\n", 2, "poll.timeout",
		 "shorter than poll.interval"},
		{"poll.timeout = 3s\npoll.interval = 2s\n", 2, "poll.interval",
		 "shorter than poll.interval"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wt_config c;
		struct wt_config_diags d = {0};
		int rc = wt_config_load_buffer(&c, "bad.conf", cases[i].text, strlen(cases[i].text),
					       &d);
		CHECK(rc == -EINVAL, "case %zu: rc %d, want -EINVAL", i, rc);
		bool ok = has_diag(&d, cases[i].line, cases[i].key, cases[i].msg);
		CHECK(ok, "case %zu: no problem on line %d key %s saying \"%s\"", i, cases[i].line,
		      cases[i].key ? cases[i].key : "-", cases[i].msg);
		if (!ok)
			print_diags(&d);
		for (size_t j = 0; j < d.n; j++)
			CHECK(d.v[j].file && strcmp(d.v[j].file, "bad.conf") == 0 && d.v[j].msg,
			      "case %zu: diag without file", i);
		wt_config_diags_free(&d);
		wt_config_free(&c);
	}

	/* An overlong line, then more problems: the parser never stops early. */
	size_t biglen = 10000;
	char *big = malloc(biglen + 200);
	size_t o = (size_t)snprintf(big, 200, "state_dir = /");
	memset(big + o, 'a', biglen);
	o += biglen;
	o += (size_t)snprintf(big + o, 200, "\nworkers.threads = 0\nbogus = 1\nlog.level\n");
	struct wt_config c;
	struct wt_config_diags d = {0};
	int rc = wt_config_load_buffer(&c, "big.conf", big, o, &d);
	CHECK(rc == -EINVAL, "overlong rc %d", rc);
	CHECK(has_diag(&d, 1, "state_dir", "longer than 4096 bytes"), "overlong line reported");
	CHECK(has_diag(&d, 2, "workers.threads", "out of range"), "line 2 reported");
	CHECK(has_diag(&d, 3, "bogus", "unknown setting"), "line 3 reported");
	CHECK(has_diag(&d, 4, "log.level", "missing '='"), "line 4 reported");
	CHECK(d.n == 4, "four problems, got %zu", d.n);
	if (d.n != 4)
		print_diags(&d);
	char line[1200];
	wt_config_diag_format(&d.v[1], line, sizeof(line));
	CHECK(strncmp(line, "big.conf:2: workers.threads: ", 29) == 0, "format: %s", line);
	wt_config_diags_free(&d);
	wt_config_free(&c);
	free(big);

	/* A NUL byte inside a line. */
	static const char nul[] = "log.level = in\0fo\nworkers.threads = 2\n";
	rc = wt_config_load_buffer(&c, "nul.conf", nul, sizeof(nul) - 1, &d);
	CHECK(rc == -EINVAL && has_diag(&d, 1, "log.level", "NUL byte"), "NUL byte reported");
	CHECK(c.workers_threads == 2, "line after the NUL still parsed");
	wt_config_diags_free(&d);
	wt_config_free(&c);

	/* A file that does not exist. */
	rc = wt_config_load(&c, "/nonexistent/wattrack.conf", &d);
	CHECK(rc == -ENOENT && d.n == 1 && strstr(d.v[0].msg, "cannot open"), "missing file: %d",
	      rc);
	wt_config_diags_free(&d);
	wt_config_free(&c);

	/* The API's entry point. */
	char err[256];
	CHECK(wt_config_defaults(&c) == 0, "defaults");
	CHECK(wt_config_set(&c, "nope", "1", err, sizeof(err)) == -ENOENT, "set unknown");
	CHECK(wt_config_set(&c, "poll.retries", "11", err, sizeof(err)) == -EINVAL &&
		      strstr(err, "out of range"),
	      "set out of range: %s", err);
	CHECK(wt_config_set(&c, "poll.retries", "3", err, sizeof(err)) == 0 && c.poll_retries == 3,
	      "set retries");
	wt_config_free(&c);
}

/* ---- random garbage never crashes and every problem is well-formed ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void test_fuzz(void)
{
	static const char seed[] = "database.url = \"postgresql://a:b@c/d\"\n"
				   "state_dir = /var/lib/wattrack # x\n"
				   "storage.flush_interval = 1h30m\n"
				   "storage.spool_max = 1GB\n"
				   "log.level = 'debug'\n";
	static const char alphabet[] = "=#\"'\\\n\r\t .abcdefghijklmnopqrstuvwxyz0123456789_-";
	char buf[1024];
	int iterations = 20000;

	for (int it = 0; it < iterations; it++) {
		size_t n;
		if (it % 3 == 0) {
			/* pure noise */
			n = rnd() % sizeof(buf);
			for (size_t i = 0; i < n; i++)
				buf[i] = it % 2 ? (char)rnd()
						: alphabet[rnd() % (sizeof(alphabet) - 1)];
		} else {
			/* mutations of a valid file */
			n = sizeof(seed) - 1;
			memcpy(buf, seed, n);
			int muts = 1 + (int)(rnd() % 8);
			for (int m = 0; m < muts; m++) {
				size_t at = rnd() % n;
				switch (rnd() % 4) {
				case 0:
					buf[at] = (char)rnd();
					break;
				case 1:
					buf[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
					break;
				case 2:
					if (n < sizeof(buf) - 1) {
						memmove(buf + at + 1, buf + at, n - at);
						buf[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
						n++;
					}
					break;
				default:
					memmove(buf + at, buf + at + 1, n - at - 1);
					n--;
					break;
				}
			}
		}
		int lines = 1;
		for (size_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
		struct wt_config c;
		struct wt_config_diags d = {0};
		int rc = wt_config_load_buffer(&c, "fuzz", buf, n, &d);
		CHECK(rc == 0 || rc == -EINVAL, "fuzz %d: rc %d", it, rc);
		CHECK((rc == 0) == (d.n == 0), "fuzz %d: rc %d with %zu problems", it, rc, d.n);
		for (size_t j = 0; j < d.n; j++)
			CHECK(d.v[j].msg && d.v[j].line >= 0 && d.v[j].line <= lines,
			      "fuzz %d: bad diag line %d of %d", it, d.v[j].line, lines);
		/* Whatever parsed must format and dump without trouble. */
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			wt_config_dump(&c, f);
			fclose(f);
		}
		wt_config_diags_free(&d);
		wt_config_free(&c);
		if (failures > 20)
			return;
	}
}

/* ---- reload ---- */

struct change {
	char name[64];
	bool applied;
	char old_v[128], new_v[128];
};

static struct change changes[16];
static int nchanges;

static void on_change(void *ctx, const struct wt_setting *s, bool applied, const char *o,
		      const char *n)
{
	(void)ctx;
	if (nchanges < 16) {
		snprintf(changes[nchanges].name, sizeof(changes[0].name), "%s", s->name);
		changes[nchanges].applied = applied;
		snprintf(changes[nchanges].old_v, sizeof(changes[0].old_v), "%s", o);
		snprintf(changes[nchanges].new_v, sizeof(changes[0].new_v), "%s", n);
	}
	nchanges++;
}

static void test_apply(void)
{
	static const char a[] = "log.level = info\nworkers.threads = 4\nstate_dir = /a\n"
				"database.url = \"postgres://u:pw1@h/d\"\n";
	static const char b[] = "log.level = debug\nworkers.threads = 6\nstate_dir = /a\n"
				"storage.spool_max = 2GB\ndatabase.url = \"postgres://u:pw2@h/d\"\n";
	struct wt_config ca, cb;
	struct wt_config_diags d = {0};

	CHECK(wt_config_load_buffer(&ca, "a", a, sizeof(a) - 1, &d) == 0, "load a");
	CHECK(wt_config_load_buffer(&cb, "b", b, sizeof(b) - 1, &d) == 0, "load b");
	print_diags(&d);
	nchanges = 0;
	int rc = wt_config_apply(&ca, &cb, on_change, NULL);
	CHECK(rc == 2, "two changes need a restart, got %d", rc);
	CHECK(nchanges == 4, "four changes reported, got %d", nchanges);
	for (int i = 0; i < nchanges && i < 16; i++) {
		if (strcmp(changes[i].name, "log.level") == 0)
			CHECK(changes[i].applied && strcmp(changes[i].new_v, "debug") == 0,
			      "log.level applied");
		else if (strcmp(changes[i].name, "storage.spool_max") == 0)
			CHECK(changes[i].applied && strcmp(changes[i].old_v, "1GB") == 0,
			      "spool_max applied");
		else if (strcmp(changes[i].name, "workers.threads") == 0)
			CHECK(!changes[i].applied, "threads needs a restart");
		else if (strcmp(changes[i].name, "database.url") == 0)
			CHECK(!changes[i].applied && !strstr(changes[i].old_v, "pw1") &&
				      !strstr(changes[i].new_v, "pw2"),
			      "url change reported masked: %s -> %s", changes[i].old_v,
			      changes[i].new_v);
		else
			CHECK(false, "unexpected change %s", changes[i].name);
	}
	CHECK(ca.log_level == WT_LOG_DEBUG, "log.level copied");
	CHECK(ca.storage_spool_max == 2ULL << 30, "spool_max copied");
	CHECK(ca.workers_threads == 4, "threads kept");
	CHECK(strstr(ca.database_url, "pw1") != NULL, "url kept");
	nchanges = 0;
	CHECK(wt_config_apply(&ca, &ca, on_change, NULL) == 0 && nchanges == 0, "no change");

	/* A copy is independent of its source and equal to it. */
	struct wt_config cc;
	char err[256];
	CHECK(wt_config_copy(&cc, &ca) == 0, "copy");
	CHECK(cc.database_url != ca.database_url && strcmp(cc.database_url, ca.database_url) == 0,
	      "copied url is a deep copy");
	CHECK(wt_config_apply(&cc, &ca, on_change, NULL) == 0 && nchanges == 0, "copy is equal");
	CHECK(wt_config_set(&cc, "state_dir", "/elsewhere", err, sizeof(err)) == 0, "set on copy");
	CHECK(strcmp(ca.state_dir, "/a") == 0, "source unchanged by the copy's change");
	wt_config_free(&cc);
	wt_config_free(&ca);
	wt_config_free(&cb);
	wt_config_diags_free(&d);
}

/* ---- the shipped sample file cannot drift from the table ---- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		size_t n = fread(buf + *len, 1, cap - *len, f);
		if (!n)
			break;
		*len += n;
	}
	fclose(f);
	return buf;
}

static void test_example(void)
{
	const char *root = getenv("WT_SOURCE_ROOT");
	char path[1024];
	size_t len;

	CHECK(root != NULL, "WT_SOURCE_ROOT is set");
	if (!root)
		return;
	snprintf(path, sizeof(path), "%s/packaging/wattrack.conf.example", root);
	char *text = slurp(path, &len);
	CHECK(text != NULL, "read %s", path);
	if (!text)
		return;

	struct wt_config c, defaults;
	struct wt_config_diags d = {0};
	CHECK(wt_config_load_buffer(&c, path, text, len, &d) == 0 && d.n == 0,
	      "the example parses cleanly");
	print_diags(&d);
	wt_config_diags_free(&d);
	wt_config_free(&c);

	/* Uncomment every "#key = value" line of a known key: each setting
	 * must be there exactly once, with its default. */
	char *on = malloc(len + 1);
	size_t o = 0;
	size_t n;
	const struct wt_setting *t = wt_config_settings(&n);
	int seen[WT_CONFIG_MAX_SETTINGS] = {0};
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;
		const char *l = text + pos;
		if (*l == '#') {
			const char *k = l + 1;
			while (*k == ' ')
				k++;
			size_t kl = strcspn(k, " =\n");
			for (size_t i = 0; i < n; i++) {
				if (strlen(t[i].name) == kl && strncmp(k, t[i].name, kl) == 0 &&
				    strncmp(k + kl, " = ", 3) == 0) {
					seen[i]++;
					l = k;
				}
			}
		}
		memcpy(on + o, l, end - (size_t)(l - text));
		o += end - (size_t)(l - text);
		pos = end;
	}
	for (size_t i = 0; i < n; i++)
		CHECK(seen[i] == 1, "%s appears %d times as \"#%s = default\" in the example",
		      t[i].name, seen[i], t[i].name);
	CHECK(wt_config_load_buffer(&c, "example-uncommented", on, o, &d) == 0 && d.n == 0,
	      "the uncommented example parses cleanly");
	print_diags(&d);
	CHECK(wt_config_defaults(&defaults) == 0, "defaults");
	struct wt_config_diags d2 = {0};
	CHECK(wt_config_finish(&defaults, &d2) == 0, "defaults finish");
	for (size_t i = 0; i < n; i++) {
		char a[512], b[512];
		wt_config_format(&c, &t[i], false, a, sizeof(a));
		wt_config_format(&defaults, &t[i], false, b, sizeof(b));
		CHECK(strcmp(a, b) == 0, "example shows %s = %s, the default is %s", t[i].name, a,
		      b);
	}
	wt_config_diags_free(&d);
	wt_config_diags_free(&d2);
	wt_config_free(&c);
	wt_config_free(&defaults);
	free(on);
	free(text);
}

int main(void)
{
	wt_log_setup(false, "test", WT_LOG_WARNING);
	test_table();
	test_duration();
	test_size();
	test_good();
	test_masking();
	test_malformed();
	test_fuzz();
	test_apply();
	test_example();
	printf("%d of %d checks passed\n", checks - failures, checks);
	return failures ? 1 : 0;
}
