#include "notify_opts.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *keep(struct wt_notify_opts *c, char *s)
{
	if (!s)
		return NULL;
	if (c->nstrings == c->capstrings) {
		size_t cap = c->capstrings ? c->capstrings * 2 : 32;
		char **v = realloc(c->strings, cap * sizeof(*v));
		if (!v) {
			free(s);
			return NULL;
		}
		c->strings = v;
		c->capstrings = cap;
	}
	c->strings[c->nstrings++] = s;
	return s;
}

/* Copies s into c; *ok goes false on allocation failure. NULL stays NULL. */
static const char *dup(struct wt_notify_opts *c, const char *s, bool *ok)
{
	if (!s)
		return NULL;
	char *d = keep(c, strdup(s));
	if (!d)
		*ok = false;
	return d;
}

static void *keep_mem(struct wt_notify_opts *c, size_t size, bool *ok)
{
	void *p = keep(c, calloc(1, size ? size : 1));
	if (!p)
		*ok = false;
	return p;
}

/* An SMTP envelope address: local@domain, no spaces, controls or brackets
 * (they would break the SMTP command or inject headers). */
static bool address_ok(const char *a)
{
	if (!a || !*a || strlen(a) > 254)
		return false;
	const char *at = strchr(a, '@');
	if (!at || at == a || !at[1] || strchr(at + 1, '@'))
		return false;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("<>()[]\\,;:\"", *p))
			return false;
	return true;
}

void wt_notify_opts_free(struct wt_notify_opts *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nstrings; i++)
		free(c->strings[i]);
	free(c->strings);
	free(c);
}

int wt_notify_opts_copy(struct wt_notify_opts **out, const struct wt_notify_options *o)
{
	struct wt_notify_opts *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	bool ok = true;
	struct wt_notify_options *p = &c->pub;
	*p = *o;
	p->conninfo = dup(c, o->conninfo ? o->conninfo : "", &ok);
	p->hostname = dup(c, o->hostname, &ok);
	if (!p->queue_max)
		p->queue_max = 100000;
	if (p->max_attempts <= 0)
		p->max_attempts = 50;
	if (p->retry_base_s <= 0)
		p->retry_base_s = 10;
	if (p->retry_max_s <= 0)
		p->retry_max_s = 3600;
	if (p->poll_ms <= 0)
		p->poll_ms = 1000;
	if (p->retention_days == 0)
		p->retention_days = 90;

	struct wt_mail_options *m = &p->mail;
	const struct wt_mail_options *om = &o->mail;
	m->server = dup(c, om->server, &ok);
	m->cafile = dup(c, om->cafile, &ok);
	m->user = dup(c, om->user, &ok);
	m->password = dup(c, om->password, &ok);
	m->sender = dup(c, om->sender ? om->sender : "wattrack@localhost", &ok);
	m->subject = dup(c, om->subject ? om->subject : "wattrack", &ok);
	m->text_before = dup(c, om->text_before, &ok);
	m->text_after = dup(c, om->text_after, &ok);
	m->timezone = dup(c, om->timezone && *om->timezone ? om->timezone : "UTC", &ok);
	m->recipients = keep_mem(c, om->nrecipients * sizeof(*m->recipients), &ok);
	for (size_t i = 0; ok && i < om->nrecipients; i++) {
		m->recipients[i] = om->recipients[i];
		m->recipients[i].address = dup(c, om->recipients[i].address, &ok);
		if (ok && !address_ok(m->recipients[i].address)) {
			wt_error("notify: e-mail recipient %zu is not an address", i + 1);
			wt_notify_opts_free(c);
			return -EINVAL;
		}
	}
	if (ok && m->server && *m->server && !address_ok(m->sender)) {
		wt_error("notify: the e-mail sender is not an address");
		wt_notify_opts_free(c);
		return -EINVAL;
	}
	if (m->delay_min <= 0)
		m->delay_min = 5;
	if (m->holdoff_s < 0)
		m->holdoff_s = 0;
	if (!m->business_days && !m->business_start_min && !m->business_end_min) {
		m->business_days = 0x3e; /* Monday to Friday */
		m->business_start_min = 8 * 60;
		m->business_end_min = 18 * 60;
	}
	if (m->timeout_s <= 0)
		m->timeout_s = 30;
	if (m->report_hour <= 0 || m->report_hour > 23)
		m->report_hour = 7;
	if (m->report_wday <= 0 || m->report_wday > 7)
		m->report_wday = 1;

	struct wt_syslog_options *s = &p->syslog;
	s->server = dup(c, o->syslog.server, &ok);
	s->cafile = dup(c, o->syslog.cafile, &ok);
	if (s->server && *s->server) {
		int port = s->port ? s->port : (s->proto == WT_SYSLOG_TLS ? 6514 : 514);
		char t[320];
		snprintf(t, sizeof(t), "%s:%d", s->server, port);
		c->syslog_target = (char *)dup(c, t, &ok);
	}

	struct wt_trap_options *t = &p->traps;
	t->engine_id_hex = dup(c, o->traps.engine_id_hex, &ok);
	t->receivers = keep_mem(c, o->traps.nreceivers * sizeof(*t->receivers), &ok);
	c->trap_targets = keep_mem(c, (o->traps.nreceivers + 1) * sizeof(char *), &ok);
	for (size_t i = 0; ok && i < o->traps.nreceivers; i++) {
		const struct wt_trap_receiver *r = &o->traps.receivers[i];
		struct wt_trap_receiver *d = &t->receivers[i];
		*d = *r;
		d->host = dup(c, r->host, &ok);
		d->community = dup(c, r->community, &ok);
		d->user = dup(c, r->user, &ok);
		d->auth_pass = dup(c, r->auth_pass, &ok);
		d->priv_pass = dup(c, r->priv_pass, &ok);
		char tg[320];
		snprintf(tg, sizeof(tg), "%s:%d", r->host ? r->host : "", r->port ? r->port : 162);
		c->trap_targets[i] = (char *)dup(c, tg, &ok);
		if (ok && (!r->host || (r->version != 2 && r->version != 3) ||
			   (r->version == 3 && (!r->user || !r->auth_pass)))) {
			wt_error(
				"notify: trap receiver %zu: needs a host, version 2 or 3 and, for v3, "
				"a user with an authentication pass phrase",
				i + 1);
			wt_notify_opts_free(c);
			return -EINVAL;
		}
	}

	p->hooks = keep_mem(c, o->nhooks * sizeof(*p->hooks), &ok);
	for (size_t i = 0; ok && i < o->nhooks; i++) {
		const struct wt_hook *h = &o->hooks[i];
		struct wt_hook *d = &p->hooks[i];
		*d = *h;
		d->name = dup(c, h->name, &ok);
		d->metric = dup(c, h->metric, &ok);
		d->device_type = dup(c, h->device_type, &ok);
		d->change = dup(c, h->change, &ok);
		d->url = dup(c, h->url, &ok);
		size_t na = 0;
		while (h->argv && h->argv[na])
			na++;
		const char **av = keep_mem(c, (na + 1) * sizeof(char *), &ok);
		for (size_t k = 0; ok && k < na; k++)
			av[k] = dup(c, h->argv[k], &ok);
		d->argv = h->argv ? av : NULL;
		if (d->timeout_s <= 0)
			d->timeout_s = 30;
		if (ok && (!h->name || !*h->name ||
			   (!h->url && (!h->argv || !h->argv[0] || h->argv[0][0] != '/')))) {
			wt_error(
				"notify: hook %zu: needs a name and either a URL or a command with "
				"an absolute path",
				i + 1);
			wt_notify_opts_free(c);
			return -EINVAL;
		}
	}
	if (!ok) {
		wt_notify_opts_free(c);
		return -ENOMEM;
	}
	if (m->server && *m->server && m->nrecipients == 0)
		wt_warn("notify: e-mail server set but no recipients");
	*out = c;
	return 0;
}

int wt_notify_parse_recipients(char *list, struct wt_mail_recipient **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	char *save = NULL;
	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		enum wt_mail_schedule s = WT_SCHED_ALWAYS;
		enum wt_mail_report rep = WT_REPORT_NONE;
		char *opt = strchr(tok, ';');
		if (opt)
			*opt++ = '\0';
		while (opt) {
			char *next = strchr(opt, ';');
			if (next)
				*next++ = '\0';
			while (*opt == ' ' || *opt == '\t')
				opt++;
			char *se = opt + strlen(opt);
			while (se > opt && (se[-1] == ' ' || se[-1] == '\t'))
				*--se = '\0';
			if (strcmp(opt, "always") == 0)
				s = WT_SCHED_ALWAYS;
			else if (strcmp(opt, "business_hours") == 0)
				s = WT_SCHED_BUSINESS_HOURS;
			else if (strcmp(opt, "after_hours") == 0)
				s = WT_SCHED_AFTER_HOURS;
			else if (strcmp(opt, "daily") == 0)
				rep = WT_REPORT_DAILY;
			else if (strcmp(opt, "weekly") == 0)
				rep = WT_REPORT_WEEKLY;
			else {
				free(*out);
				*out = NULL;
				*n = 0;
				return -EINVAL;
			}
			opt = next;
		}
		char *end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*tok)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			struct wt_mail_recipient *v = realloc(*out, cap * sizeof(*v));
			if (!v) {
				free(*out);
				*out = NULL;
				*n = 0;
				return -ENOMEM;
			}
			*out = v;
		}
		(*out)[(*n)++] = (struct wt_mail_recipient){tok, s, rep};
	}
	return 0;
}
