/* Discovery: candidates (address x port) are started from a paced timer,
 * at most `concurrency` at a time; each tries the credentials in order with
 * one GET of the system group, then the profile probes, on its own session. */
#include "discover.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pollers/snmp_dev.h"
#include "pollers/snmp_model.h"
#include "server/log.h"
#include "wt_build.h"

#define SYS_DESCR "1.3.6.1.2.1.1.1.0"
#define SYS_OBJECTID "1.3.6.1.2.1.1.2.0"
#define SYS_NAME "1.3.6.1.2.1.1.5.0"
#define TICK_MS 20

struct range {
	uint32_t first, last; /* IPv4, host order; names use first = last = 0 */
	char name[256];       /* a host name or IPv6 address, or "" */
};

struct probe;

struct wt_discover {
	struct event_base *base;
	const struct wt_profile_set *profiles;
	struct wt_discover_conf conf;
	int default_port;
	struct range *ranges;
	size_t n_ranges;
	size_t total, started, finished;
	/* iterator */
	size_t ri, pi;
	uint64_t addr;
	double allowance;
	int in_flight;
	struct event *tick;
	wt_discover_result_fn on_result;
	wt_discover_done_fn on_done;
	void *ctx;
	bool done;
	bool stopping; /* wt_discover_stop: no new probes, no further credentials */
	size_t n_stopped; /* probes ended by the stop without an answer (not reported) */
	bool ticking; /* inside on_tick: on_done waits until the loop there is over */
	/* every probe in flight, so that freeing a scan mid-way (daemon stop,
	 * SIGTERM) closes their sessions instead of leaking them */
	struct probe *probes;
};

struct probe {
	struct wt_discover *d;
	struct probe *prev, *next;
	struct wt_discover_result r;
	size_t cred;
	bool refused;
	struct wt_snmp_sess *sess;
	struct wt_strv probes;
	struct wt_snmp_store *st;
};

static void next_cred(struct probe *p);

static int parse_target(const char *t, struct range *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	const char *slash = strchr(t, '/');
	char ip[64];
	struct in_addr a;
	if (slash) {
		size_t n = (size_t)(slash - t);
		char *end;
		long bits = strtol(slash + 1, &end, 10);
		if (n >= sizeof ip || *end || bits < 8 || bits > 32) {
			snprintf(err, errlen, "bad CIDR \"%.60s\" (IPv4, /8 to /32)", t);
			return -EINVAL;
		}
		memcpy(ip, t, n);
		ip[n] = 0;
		if (inet_pton(AF_INET, ip, &a) != 1) {
			snprintf(err, errlen, "bad CIDR address \"%.60s\"", ip);
			return -EINVAL;
		}
		uint32_t mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
		uint32_t net = ntohl(a.s_addr) & mask;
		r->first = net;
		r->last = net | ~mask;
		if (bits <= 30) { /* skip network and broadcast addresses */
			r->first++;
			r->last--;
		}
		return 0;
	}
	if (!*t || strlen(t) >= 64) {
		snprintf(err, errlen, "bad target \"%.60s\"", t);
		return -EINVAL;
	}
	if (inet_pton(AF_INET, t, &a) == 1) {
		r->first = r->last = ntohl(a.s_addr);
		return 0;
	}
	snprintf(r->name, sizeof r->name, "%s", t);
	return 0;
}

static size_t range_size(const struct range *r)
{
	return r->name[0] ? 1 : (size_t)(r->last - r->first) + 1;
}

static void report(struct probe *p)
{
	struct wt_discover *d = p->d;
	if (d->on_result)
		d->on_result(d->ctx, &p->r);
}

/* Unlinks and frees; closing the session drops its pending request without
 * a callback, so nothing refers to p afterwards. */
static void probe_free(struct probe *p)
{
	struct wt_discover *d = p->d;
	if (p->prev)
		p->prev->next = p->next;
	else if (d->probes == p)
		d->probes = p->next;
	if (p->next)
		p->next->prev = p->prev;
	wt_snmp_sess_close(p->sess);
	wt_strv_free(&p->probes);
	wt_snmp_store_free(p->st);
	free(p);
}

static void maybe_done(struct wt_discover *d)
{
	if (!d->done && !d->ticking && (d->started == d->total || d->stopping) &&
	    d->in_flight == 0) {
		d->done = true;
		event_del(d->tick);
		if (d->on_done)
			d->on_done(d->ctx, d->total);
	}
}

static void probe_end(struct probe *p)
{
	struct wt_discover *d = p->d;
	report(p);
	probe_free(p);
	d->in_flight--;
	d->finished++;
	maybe_done(d);
}

/* A probe the stop ended before any credential answered: its result is
 * unknown, so it is counted, not reported as "no answer". */
static void probe_stopped(struct probe *p)
{
	struct wt_discover *d = p->d;
	d->n_stopped++;
	probe_free(p);
	d->in_flight--;
	d->finished++;
	maybe_done(d);
}

static void copy_val(char *dst, size_t len, const struct wt_snmp_val *v)
{
	size_t n = 0;
	if (v && (v->type == WT_SV_STR || v->type == WT_SV_OID))
		for (size_t i = 0; i < v->slen && n + 1 < len; i++) {
			unsigned char c = (unsigned char)v->s[i];
			if (!c)
				break;
			dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		}
	dst[n] = 0;
}

static void found(struct probe *p)
{
	const struct wt_profile *prof =
		wt_snmp_select(p->d->profiles, p->r.sysobjectid, p->st);
	p->r.status = WT_DISC_FOUND;
	p->r.profile = prof ? prof->name : NULL;
	if (!prof)
		snprintf(p->r.reason, sizeof p->r.reason, "no profile for sysObjectID %.120s",
			 p->r.sysobjectid[0] ? p->r.sysobjectid : "(none)");
	probe_end(p);
}

static void on_probe_oids(void *ctx, int status, int errindex, const struct wt_snmp_vb *vbs,
			  size_t n)
{
	struct probe *p = ctx;
	(void)errindex;
	for (size_t i = 0; status == 0 && i < n; i++)
		if (wt_snmp_store_put(p->st, vbs[i].oid, &vbs[i].v))
			break;
	found(p); /* a probe that fails just means "not that profile" */
}

static void on_sys(void *ctx, int status, int errindex, const struct wt_snmp_vb *vbs, size_t n)
{
	struct probe *p = ctx;
	(void)errindex;
	if (status) {
		if (status == -EACCES)
			p->refused = true;
		wt_snmp_sess_close(p->sess);
		p->sess = NULL;
		p->cred++;
		next_cred(p);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(vbs[i].oid, SYS_DESCR) == 0)
			copy_val(p->r.sysdescr, sizeof p->r.sysdescr, &vbs[i].v);
		else if (strcmp(vbs[i].oid, SYS_OBJECTID) == 0)
			copy_val(p->r.sysobjectid, sizeof p->r.sysobjectid, &vbs[i].v);
		else if (strcmp(vbs[i].oid, SYS_NAME) == 0)
			copy_val(p->r.sysname, sizeof p->r.sysname, &vbs[i].v);
	}
	if (p->r.sysobjectid[0] == '.')
		memmove(p->r.sysobjectid, p->r.sysobjectid + 1, strlen(p->r.sysobjectid));
	if (!(p->st = wt_snmp_store_new()) ||
	    wt_snmp_probe_oids(p->d->profiles, p->r.sysobjectid, &p->probes) || p->probes.n == 0 ||
	    wt_snmp_get(p->sess, p->probes.v, p->probes.n > 40 ? 40 : p->probes.n, on_probe_oids, p))
		found(p);
}

static void send_sys(struct probe *p)
{
	static char *const sys[] = {(char *)SYS_DESCR, (char *)SYS_OBJECTID, (char *)SYS_NAME};
	if (wt_snmp_get(p->sess, sys, 3, on_sys, p))
		on_sys(p, -EIO, 0, NULL, 0);
}

static void on_prepared(void *ctx, int status, int errindex, const struct wt_snmp_vb *vbs,
			size_t n)
{
	struct probe *p = ctx;
	(void)errindex, (void)vbs, (void)n;
	if (status) {
		on_sys(p, status, 0, NULL, 0);
		return;
	}
	send_sys(p);
}

static void next_cred(struct probe *p)
{
	struct wt_discover *d = p->d;
	size_t nc = d->conf.n_communities, nv = d->conf.n_v3;
	if (d->stopping && p->cred < nc + nv) {
		probe_stopped(p);
		return;
	}
	for (; p->cred < nc + nv; p->cred++) {
		struct wt_snmp_target t;
		memset(&t, 0, sizeof t);
		if (p->cred < nc) {
			t.version = 2;
			snprintf(t.community, sizeof t.community, "%s", d->conf.communities[p->cred]);
			snprintf(p->r.credential, sizeof p->r.credential, "community #%zu", p->cred + 1);
		} else {
			t = d->conf.v3[p->cred - nc];
			snprintf(p->r.credential, sizeof p->r.credential, "v3 user %.60s", t.user);
		}
		snprintf(t.host, sizeof t.host, "%s", p->r.host);
		t.port = p->r.port;
		t.timeout_ms = d->conf.timeout_ms;
		t.retries = d->conf.retries;
		p->r.version = t.version;
		char err[200];
		p->sess = wt_snmp_sess_open(d->base, &t, err, sizeof err);
		memset(&t, 0, sizeof t);
		if (!p->sess) {
			snprintf(p->r.reason, sizeof p->r.reason, "%.150s", err);
			continue;
		}
		int r = wt_snmp_sess_prepare(p->sess, on_prepared, p);
		if (r == 1)
			send_sys(p);
		else if (r < 0)
			on_sys(p, r, 0, NULL, 0);
		return;
	}
	p->r.status = p->refused ? WT_DISC_REFUSED : WT_DISC_NO_ANSWER;
	p->r.credential[0] = 0;
	p->r.version = 0;
	if (!p->r.reason[0] || p->refused)
		snprintf(p->r.reason, sizeof p->r.reason,
			 p->refused ? "an SNMPv3 agent refused every user"
				    : "no answer with any of %zu credentials",
			 nc + nv);
	probe_end(p);
}

static bool next_candidate(struct wt_discover *d, char *host, size_t hlen, int *port)
{
	while (d->ri < d->n_ranges) {
		const struct range *r = &d->ranges[d->ri];
		if (d->pi == 0 && d->addr == 0)
			d->addr = (uint64_t)r->first + 1; /* +1: 0 means "not started" */
		uint64_t a = d->addr - 1;
		if (r->name[0] || a <= r->last) {
			if (r->name[0]) {
				snprintf(host, hlen, "%.63s", r->name);
			} else {
				struct in_addr ia = {.s_addr = htonl((uint32_t)a)};
				inet_ntop(AF_INET, &ia, host, (socklen_t)hlen);
			}
			*port = d->conf.n_ports ? d->conf.ports[d->pi] : d->default_port;
			size_t np = d->conf.n_ports ? d->conf.n_ports : 1;
			if (++d->pi >= np) {
				d->pi = 0;
				if (r->name[0] || a == r->last) {
					d->ri++;
					d->addr = 0;
				} else {
					d->addr++;
				}
			}
			return true;
		}
		d->ri++;
		d->addr = 0;
	}
	return false;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct wt_discover *d = arg;
	(void)fd, (void)what;
	/* a probe can end inside next_cred (no session could be opened); on_done,
	 * which may free d, must not run until this loop no longer needs d */
	d->ticking = true;
	d->allowance += d->conf.rate_per_s * (TICK_MS / 1000.0);
	if (d->allowance > d->conf.rate_per_s)
		d->allowance = d->conf.rate_per_s; /* no bursts after a stall */
	while (d->allowance >= 1 && d->in_flight < d->conf.concurrency && d->started < d->total) {
		struct probe *p = calloc(1, sizeof *p);
		if (!p)
			break;
		p->d = d;
		if (!next_candidate(d, p->r.host, sizeof p->r.host, &p->r.port)) {
			free(p);
			d->started = d->total;
			break;
		}
		p->next = d->probes;
		if (d->probes)
			d->probes->prev = p;
		d->probes = p;
		d->started++;
		d->in_flight++;
		d->allowance -= 1;
		next_cred(p);
	}
	d->ticking = false;
	maybe_done(d);
}

int wt_discover_start(struct event_base *base, const struct wt_profile_set *profiles,
		      const struct wt_discover_conf *conf, wt_discover_result_fn on_result,
		      wt_discover_done_fn on_done, void *ctx, struct wt_discover **out, char *err,
		      size_t errlen)
{
	struct wt_discover *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->base = base;
	d->profiles = profiles;
	d->conf = *conf;
	d->default_port = 161;
	if (d->conf.concurrency <= 0)
		d->conf.concurrency = 64;
	if (d->conf.rate_per_s <= 0)
		d->conf.rate_per_s = 500;
	if (d->conf.timeout_ms <= 0)
		d->conf.timeout_ms = 800;
	if (d->conf.retries < 0)
		d->conf.retries = 0;
	if (d->conf.max_hosts == 0)
		d->conf.max_hosts = 65536;
	d->on_result = on_result;
	d->on_done = on_done;
	d->ctx = ctx;
	d->ranges = calloc(conf->n_targets + 1, sizeof *d->ranges);
	if (!d->ranges) {
		free(d);
		return -ENOMEM;
	}
	size_t hosts = 0;
	for (size_t i = 0; i < conf->n_targets; i++) {
		int rc = parse_target(conf->targets[i], &d->ranges[i], err, errlen);
		if (rc) {
			wt_discover_free(d);
			return rc;
		}
		hosts += range_size(&d->ranges[i]);
		d->n_ranges++;
	}
	for (size_t i = 0; i < conf->n_ports; i++)
		if (conf->ports[i] < 1 || conf->ports[i] > 65535) {
			snprintf(err, errlen, "bad port %d", conf->ports[i]);
			wt_discover_free(d);
			return -EINVAL;
		}
	if (hosts > d->conf.max_hosts) {
		snprintf(err, errlen, "%zu addresses: more than the limit of %zu", hosts, d->conf.max_hosts);
		wt_discover_free(d);
		return -E2BIG;
	}
	if (conf->n_communities + conf->n_v3 == 0) {
		snprintf(err, errlen, "no community and no SNMPv3 user to try");
		wt_discover_free(d);
		return -EINVAL;
	}
	d->total = hosts * (conf->n_ports ? conf->n_ports : 1);
	struct timeval tv = {0, TICK_MS * 1000};
	if (!(d->tick = event_new(base, -1, EV_PERSIST, on_tick, d)) || event_add(d->tick, &tv)) {
		wt_discover_free(d);
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

void wt_discover_stop(struct wt_discover *d)
{
	if (!d || d->stopping || d->done)
		return;
	d->stopping = true;
	if (d->tick)
		event_del(d->tick);
	maybe_done(d);
}

size_t wt_discover_stopped(const struct wt_discover *d)
{
	return d ? d->n_stopped : 0;
}

size_t wt_discover_candidates(const struct wt_discover *d)
{
	return d ? d->total : 0;
}

size_t wt_discover_in_flight(const struct wt_discover *d)
{
	return d ? (size_t)d->in_flight : 0;
}

void wt_discover_free(struct wt_discover *d)
{
	if (!d)
		return;
	while (d->probes)
		probe_free(d->probes);
	if (d->tick)
		event_free(d->tick);
	free(d->ranges);
	free(d);
}

/* ---- CLI ---- */

struct cli {
	struct event_base *base;
	struct wt_discover *d;
	size_t found, no_profile, skipped, reported;
	int stopped_by; /* the signal that ended the scan early, or 0 */
	bool done;
};

static void cli_result(void *ctx, const struct wt_discover_result *r)
{
	struct cli *c = ctx;
	static const char *const st[] = {"found", "no_answer", "refused"};
	c->reported++;
	json_t *o = json_pack("{s:s, s:i, s:s}", "host", r->host, "port", r->port, "status",
			      st[r->status]);
	if (r->status == WT_DISC_FOUND) {
		json_object_set_new(o, "snmp_version",
				    json_string(r->version == 1 ? "1" : r->version == 2 ? "2c" : "3"));
		json_object_set_new(o, "credential", json_string(r->credential));
		json_object_set_new(o, "sys_object_id", json_string(r->sysobjectid));
		json_object_set_new(o, "sys_descr", json_string(r->sysdescr));
		json_object_set_new(o, "sys_name", json_string(r->sysname));
		json_object_set_new(o, "profile", r->profile ? json_string(r->profile) : json_null());
		c->found++;
		if (!r->profile)
			c->no_profile++;
	} else {
		c->skipped++;
	}
	json_object_set_new(o, "reason", r->reason[0] ? json_string(r->reason) : json_null());
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s) {
		puts(s);
		free(s);
	}
	json_decref(o);
}

static void cli_done(void *ctx, size_t n)
{
	struct cli *c = ctx;
	if (c->stopped_by)
		printf("{\"summary\":{\"candidates\":%zu,\"reported\":%zu,\"found\":%zu,"
		       "\"no_profile\":%zu,\"skipped\":%zu,\"stopped\":%zu,\"not_started\":%zu}}\n",
		       n, c->reported, c->found, c->no_profile, c->skipped, wt_discover_stopped(c->d),
		       n - c->reported - wt_discover_stopped(c->d));
	else
		printf("{\"summary\":{\"candidates\":%zu,\"found\":%zu,\"no_profile\":%zu,"
		       "\"skipped\":%zu}}\n",
		       n, c->found, c->no_profile, c->skipped);
	c->done = true;
	event_base_loopbreak(c->base);
}

/* The first SIGINT/SIGTERM stops the scan: no new probes, and requests in
 * flight end within one timeout (answers still reported); the summary says
 * how far it got. A second one leaves at once, cancelling what is in flight. */
static void cli_signal(evutil_socket_t sig, short what, void *ctx)
{
	struct cli *c = ctx;
	(void)what;
	if (c->stopped_by) {
		event_base_loopbreak(c->base);
		return;
	}
	c->stopped_by = (int)sig;
	fprintf(stderr, "wattrack discover: stopping (signal %d): waiting for %zu probes in flight\n",
		(int)sig, wt_discover_in_flight(c->d));
	wt_discover_stop(c->d);
}

int wt_discover_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'P'},	   {"community", required_argument, NULL, 'c'},
		{"v3", required_argument, NULL, '3'},	   {"concurrency", required_argument, NULL, 'n'},
		{"rate", required_argument, NULL, 'R'},	   {"timeout", required_argument, NULL, 't'},
		{"profiles", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ports[64];
	size_t np = 0;
	const char *comms[64];
	size_t nc = 0;
	struct wt_snmp_target v3[16];
	size_t nv = 0;
	struct wt_discover_conf conf = {0};
	const char *pdir = NULL;
	int c, rc = 64;
	optind = 1;
	while ((c = getopt_long(argc, argv, "P:c:3:n:R:t:p:h", opts, NULL)) != -1) {
		char err[200];
		switch (c) {
		case 'P':
			if (np < 64)
				ports[np++] = (int)strtol(optarg, NULL, 10);
			break;
		case 'c':
			if (nc < 64)
				comms[nc++] = optarg;
			break;
		case '3':
			/* snmpv3://USER:AUTH:PRIV@any?auth=..: host is ignored */
			if (nv < 16 && wt_snmp_url_parse(optarg, &v3[nv], err, sizeof err) == 0 &&
			    v3[nv].version == 3)
				nv++;
			else {
				if (nv < 16 && v3[nv].version != 3)
					snprintf(err, sizeof err, "not an snmpv3:// URL");
				fprintf(stderr, "wattrack discover: --v3: %s\n", err);
				return 64;
			}
			break;
		case 'n':
			conf.concurrency = (int)strtol(optarg, NULL, 10);
			break;
		case 'R':
			conf.rate_per_s = (int)strtol(optarg, NULL, 10);
			break;
		case 't':
			conf.timeout_ms = (int)strtol(optarg, NULL, 10);
			break;
		case 'p':
			pdir = optarg;
			break;
		case 'h':
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: wattrack discover [options] TARGET...\n"
				"  TARGET: 10.1.0.0/16, 10.2.3.4 or a host name\n"
				"  -P, --port N          (repeat; default 161)\n"
				"  -c, --community STR   v2c community to try (repeat)\n"
				"  -3, --v3 URL          snmpv3://USER:AUTH:PRIV@-?auth=..&priv=.. (repeat)\n"
				"  -n, --concurrency N   probes in flight (default 64)\n"
				"  -R, --rate N          new probes per second (default 500)\n"
				"  -t, --timeout MS      per request (default 800)\n"
				"  -p, --profiles DIR\n");
			return c == 'h' ? 0 : 64;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "wattrack discover: no target\n");
		return 64;
	}
	wt_log_setup(false, "wattrack-discover", WT_LOG_WARNING);
	struct wt_profile_set profiles = {0};
	char dbuf[4096];
	if (!pdir) {
		snprintf(dbuf, sizeof dbuf, "%s/pollers/profiles", WT_SOURCE_ROOT);
		pdir = getenv("WT_PROFILES_DIR") ? getenv("WT_PROFILES_DIR") : dbuf;
	}
	if (wt_profiles_load_dir(&profiles, pdir) < 0)
		return 1;
	conf.targets = (const char *const *)(argv + optind);
	conf.n_targets = (size_t)(argc - optind);
	conf.ports = ports;
	conf.n_ports = np;
	conf.communities = comms;
	conf.n_communities = nc;
	conf.v3 = v3;
	conf.n_v3 = nv;
	struct cli cli = {.base = event_base_new()};
	struct event *sigs[2] = {NULL, NULL};
	char err[200];
	int r = -ENOMEM;
	if (cli.base) {
		sigs[0] = evsignal_new(cli.base, SIGINT, cli_signal, &cli);
		sigs[1] = evsignal_new(cli.base, SIGTERM, cli_signal, &cli);
		if (sigs[0] && sigs[1] && !evsignal_add(sigs[0], NULL) && !evsignal_add(sigs[1], NULL))
			r = wt_discover_start(cli.base, &profiles, &conf, cli_result, cli_done, &cli,
					      &cli.d, err, sizeof err);
		else
			snprintf(err, sizeof err, "cannot set up the event loop");
	} else {
		snprintf(err, sizeof err, "cannot create the event loop");
	}
	if (r) {
		fprintf(stderr, "wattrack discover: %s\n", err);
		rc = r == -ENOMEM ? 1 : 64;
	} else {
		event_base_dispatch(cli.base);
		rc = 0;
		if (cli.stopped_by) {
			if (!cli.done)
				fprintf(stderr, "wattrack discover: cancelled %zu probes in flight\n",
					wt_discover_in_flight(cli.d));
			fprintf(stderr, "wattrack discover: stopped by signal %d after %zu results\n",
				cli.stopped_by, cli.reported);
			rc = 128 + cli.stopped_by;
		}
	}
	wt_discover_free(cli.d); /* cancels the probes still in flight */
	for (int i = 0; i < 2; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (cli.base)
		event_base_free(cli.base);
	wt_profiles_free(&profiles);
	memset(v3, 0, sizeof v3);
	wt_snmp_engine_shutdown();
	return rc;
}
