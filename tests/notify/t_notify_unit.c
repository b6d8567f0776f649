/* Unit tests of the notify formatters and helpers: RFC 2047 encoded-words,
 * quoted-printable, RFC 5322 headers, RFC 5424 formatting and SD escaping,
 * zoneinfo time zones, recipient lists, hook processes. */
#include "hooks.h"
#include "mail.h"
#include "notify.h"
#include "notify_buf.h"
#include "notify_opts.h"
#include "notify_tz.h"
#include "syslog5424.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/check.h"

static size_t longest_line(const char *s)
{
	size_t best = 0, cur = 0;
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n') {
			cur = 0;
			continue;
		}
		if (++cur > best)
			best = cur;
	}
	return best;
}

static void test_encoded_words(void)
{
	struct nbuf b = {0};
	wt_mail_encode_header(&b, "plain ascii");
	CHECK(strcmp(b.s, "plain ascii") == 0, "ascii copied: %s", b.s);
	nbuf_free(&b);
	wt_mail_encode_header(&b, "Sál");
	CHECK(strcmp(b.s, "=?UTF-8?B?U8OhbA==?=") == 0, "short word: %s", b.s);
	nbuf_free(&b);
	/* 60 two-byte characters: several words, none cutting a character */
	char in[256];
	for (int i = 0; i < 60; i++)
		memcpy(in + 2 * i, "č", 2);
	in[120] = '\0';
	wt_mail_encode_header(&b, in);
	CHECK(longest_line(b.s) + 9 <= 78, "words fit after \"Subject: \": %zu", longest_line(b.s));
	int words = 0;
	for (const char *p = b.s; (p = strstr(p, "=?UTF-8?B?")); p++)
		words++;
	CHECK(words == 4, "120 bytes -> 4 words of <= 39 bytes: %d", words);
	nbuf_free(&b);
}

static void test_qp(void)
{
	struct nbuf b = {0};
	wt_mail_qp(&b, "a=b\ntrailing \nkůň");
	CHECK(strcmp(b.s, "a=3Db\r\ntrailing=20\r\nk=C5=AF=C5=88\r\n") == 0, "qp: %s", b.s);
	nbuf_free(&b);
	char lng[400];
	memset(lng, 'x', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	wt_mail_qp(&b, lng);
	CHECK(longest_line(b.s) <= 76, "soft line breaks keep lines <= 76: %zu", longest_line(b.s));
	nbuf_free(&b);
}

static void test_mail_format(void)
{
	struct nbuf b = {0};
	struct wt_mail_msg m = {.from = "wt@example.net",
				.to = "ops@example.com\r\nBcc: evil@example.org",
				.subject = "line\r\nInjected: yes",
				.message_id = "x.1@host",
				.date_ms = 1794992400000LL, /* Wed, 18 Nov 2026 09:00:00 */
				.text = "hello\n"};
	CHECK(wt_mail_format(&b, &m) == 0, "format");
	CHECK(strstr(b.s, "Date: Wed, 18 Nov 2026 09:00:00 +0000\r\n") != NULL, "date: %s", b.s);
	CHECK(strstr(b.s, "\r\nBcc:") == NULL && strstr(b.s, "\r\nInjected:") == NULL,
	      "no header injection through To or Subject");
	CHECK(strstr(b.s, "Message-ID: <x.1@host>\r\n") && strstr(b.s, "MIME-Version: 1.0\r\n"),
	      "message id and MIME version");
	nbuf_free(&b);
	m.to = "ops@example.com";
	m.html = "<p>x &amp; y</p>";
	CHECK(wt_mail_format(&b, &m) == 0, "html format");
	const char *alt = strstr(b.s, "Content-Type: multipart/alternative; boundary=\"");
	const char *plain = strstr(b.s, "\r\nContent-Type: text/plain; charset=UTF-8");
	const char *html = strstr(b.s, "\r\nContent-Type: text/html; charset=UTF-8");
	const char *end = strstr(b.s, "--=_wattrack_alt_boundary--\r\n");
	CHECK(alt && plain && html && end && alt < plain && plain < html && html < end,
	      "multipart/alternative with text then HTML: %s", b.s);
	nbuf_free(&b);
}

static void test_options(void)
{
	struct wt_mail_recipient bad[] = {{"ops@example.com\r\nRCPT TO:<x@y>", 0, 0}};
	struct wt_notify_options o = {.mail = {.server = "smtp.example.com",
					       .sender = "wt@x.org",
					       .recipients = bad,
					       .nrecipients = 1}};
	struct wt_notify_opts *c = NULL;
	CHECK(wt_notify_opts_copy(&c, &o) == -EINVAL, "CR/LF in a recipient refused");
	struct wt_mail_recipient good[] = {{"ops@example.com", 0, 0}};
	o.mail.recipients = good;
	o.mail.sender = "not an address";
	CHECK(wt_notify_opts_copy(&c, &o) == -EINVAL, "bad sender refused");
	o.mail.sender = "wt@x.org";
	CHECK(wt_notify_opts_copy(&c, &o) == 0 && c, "good options copied");
	if (c) {
		CHECK(c->pub.mail.delay_min == 5 && c->pub.mail.business_days == 0x3e &&
			      c->pub.mail.report_hour == 7 && c->pub.max_attempts == 50 &&
			      c->pub.retention_days == 90,
		      "defaults applied");
		wt_notify_opts_free(c);
	}
}

static void test_syslog(void)
{
	struct wt_sd_param sd[] = {{"device", "a\"b\\c]d"}, {"skip", NULL}, {"metric", "current"}};
	struct wt_syslog_msg m = {.facility = 16,
				  .severity = 2,
				  .ts_ms = 1794992400123LL,
				  .hostname = "host name",
				  .app_name = "wattrack",
				  .msgid = "ALARM_RAISED",
				  .procid = 42,
				  .params = sd,
				  .nparams = 3,
				  .msg = "text"};
	struct nbuf b = {0};
	CHECK(wt_syslog_format(&b, &m) == 0, "syslog format");
	const char *want = "<130>1 2026-11-18T09:00:00.123Z host_name wattrack 42 ALARM_RAISED "
			   "[wattrack@32473 device=\"a\\\"b\\\\c\\]d\" metric=\"current\"] text";
	CHECK(b.s && strcmp(b.s, want) == 0, "syslog:\n got %s\nwant %s", b.s, want);
	nbuf_free(&b);
	m.facility = 24;
	CHECK(wt_syslog_format(&b, &m) == -EINVAL, "facility out of range refused");
	nbuf_free(&b);
	m.facility = 1;
	m.nparams = 0;
	m.hostname = NULL;
	CHECK(wt_syslog_format(&b, &m) == 0 && strstr(b.s, "Z - wattrack 42 ALARM_RAISED - text"),
	      "nil hostname and SD: %s", b.s);
	nbuf_free(&b);
}

static void test_tz(void)
{
	struct wt_tz tz;
	struct wt_local_time lt;
	CHECK(wt_tz_load(&tz, "Europe/Prague") == 0, "Europe/Prague loads");
	wt_tz_local(&tz, 1782907200000LL, &lt); /* 2026-07-01 12:00 UTC */
	CHECK(lt.hour == 14 && strcmp(lt.abbr, "CEST") == 0, "summer: %d %s", lt.hour, lt.abbr);
	wt_tz_local(&tz, 1767268800000LL, &lt); /* 2026-01-01 12:00 UTC */
	CHECK(lt.hour == 13 && strcmp(lt.abbr, "CET") == 0 && lt.wday == 4, "winter: %d %s %d",
	      lt.hour, lt.abbr, lt.wday);
	wt_tz_free(&tz);
	CHECK(wt_tz_load(&tz, "+05:30") == 0, "fixed offset");
	wt_tz_local(&tz, 1767268800000LL, &lt);
	CHECK(lt.hour == 17 && lt.min == 30, "+05:30: %02d:%02d", lt.hour, lt.min);
	wt_tz_free(&tz);
	CHECK(wt_tz_load(&tz, "../../etc/passwd") == -EINVAL, "path escape refused");
	CHECK(wt_tz_load(&tz, "Mars/Olympus") == -EINVAL, "unknown zone refused");
	CHECK(wt_tz_load(&tz, "+25:00") == -EINVAL, "bad offset refused");
}

static void test_recipients(void)
{
	char list[] = " ops@x.com, day@x.com;business_hours ,night@x.com; after_hours,, ";
	struct wt_mail_recipient *r = NULL;
	size_t n = 0;
	CHECK(wt_notify_parse_recipients(list, &r, &n) == 0 && n == 3, "3 recipients: %zu", n);
	if (n == 3) {
		CHECK(strcmp(r[0].address, "ops@x.com") == 0 && r[0].schedule == WT_SCHED_ALWAYS,
		      "first");
		CHECK(strcmp(r[1].address, "day@x.com") == 0 &&
			      r[1].schedule == WT_SCHED_BUSINESS_HOURS,
		      "second: '%s'", r[1].address);
		CHECK(strcmp(r[2].address, "night@x.com") == 0 &&
			      r[2].schedule == WT_SCHED_AFTER_HOURS,
		      "third");
	}
	free(r);
	char bad[] = "a@x;weekends";
	CHECK(wt_notify_parse_recipients(bad, &r, &n) == -EINVAL && r == NULL, "bad schedule");
}

static void test_hooks(void)
{
	struct wt_hook_result *res = malloc(sizeof(*res));
	const char *const echo[] = {"/bin/sh", "-c", "echo \"$WATTRACK_ALARM_ID\"; exit 3", NULL};
	const char *const env[] = {"WATTRACK_ALARM_ID=77", NULL};
	CHECK(wt_hook_run(echo, env, 5, res) == 0 && res->status == 3 &&
		      strcmp(res->output, "77\n") == 0 && !res->timed_out,
	      "status and output: %d '%s'", res->status, res->output);
	const char *const rel[] = {"sh", NULL};
	CHECK(wt_hook_run(rel, env, 5, res) == -EINVAL, "relative path refused");
	const char *const missing[] = {"/nonexistent/cmd", NULL};
	CHECK(wt_hook_run(missing, env, 5, res) == -ENOENT, "missing command: -ENOENT");
	const char *const slow[] = {"/bin/sh", "-c", "sleep 20 & sleep 20", NULL};
	CHECK(wt_hook_run(slow, env, 1, res) == 0 && res->timed_out && res->elapsed_ms < 5000,
	      "timeout kills the group: %d %lld", res->timed_out, res->elapsed_ms);
	const char *const yes[] = {"/usr/bin/head", "-c", "100000", "/dev/zero", NULL};
	CHECK(wt_hook_run(yes, env, 5, res) == 0 && res->truncated && res->status == 0,
	      "output truncated at the cap, command not blocked");
	free(res);
}

int main(void)
{
	test_encoded_words();
	test_qp();
	test_mail_format();
	test_options();
	test_syslog();
	test_tz();
	test_recipients();
	test_hooks();
	if (failures)
		printf("%d failures\n", failures);
	else
		printf("all notify unit tests passed\n");
	return failures ? 1 : 0;
}
