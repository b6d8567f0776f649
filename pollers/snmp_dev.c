/* SNMP device: bind and poll as a chain of single in-flight requests.
 *
 * Bind: system group -> profile probes -> table walks (GETBULK) -> one GET
 * round of every templated OID -> model -> poll plan. Poll: the plan's
 * requests (snmp_model.h): GETBULKs of table columns and exact GETNEXT
 * non-repeaters on v2c/v3, GETs of max_oids varbinds on v1 and for the rest.
 * tooBig or a timeout halves the repetitions or the OIDs per request
 * (remembered for the device) and the request is re-sent once. */
#include "snmp_dev.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"

#define SYS_DESCR "1.3.6.1.2.1.1.1.0"
#define SYS_OBJECTID "1.3.6.1.2.1.1.2.0"
#define SYS_UPTIME "1.3.6.1.2.1.1.3.0"
#define SYS_NAME "1.3.6.1.2.1.1.5.0"
#define MAX_WALK_ROWS 20000
#define STATIC_REFRESH_MS (3600 * 1000)
#define NO_SERIES UINT32_MAX

enum step {
	ST_IDLE = 0,
	ST_SYS,
	ST_PROBE,
	ST_WALK,
	ST_GETS,
	ST_POLL,
	ST_CTL_SET,
	ST_CTL_VERIFY,
};

struct wt_snmp_dev {
	struct wt_driver_env env;
	long id;
	char name[96];
	char peer[300]; /* host:port for logs, no credentials */
	struct wt_snmp_sess *sess;
	int version;

	bool bound;
	bool need_rebind;
	int64_t bound_at_ms;
	struct wt_snmp_store *store;
	const struct wt_profile *profile;
	struct wt_snmp_model *model;
	struct wt_snmp_sysinfo sys;
	bool have_uptime;
	uint64_t last_uptime;

	int max_oids;
	int max_rep;
	struct wt_snmp_dev_stats stats;

	enum step step;
	wt_poll_done_fn done;
	void *done_ctx;
	bool retried;
	bool rebooted;

	/* bind GETs / probes */
	struct wt_strv list;
	size_t pos, batch;
	/* walks */
	struct wt_strv walks;
	size_t walk_idx;
	char walk_cur[WT_OID_STR];
	size_t walk_rows;
	/* poll */
	struct wt_snmp_plan *plan;
	struct wt_snmp_req req; /* the request in flight */
	uint32_t *upd;          /* points updated by one answer */
	int poll_rep;           /* GETBULK repetitions after adaptive halving */
	struct wt_sample *samples;

	/* control */
	size_t ctl_entity;
	int ctl_cmd;
	int64_t ctl_deadline;
	struct event *ctl_timer;
	wt_snmp_ctl_done ctl_done;
	void *ctl_ctx;

	bool v3_answered; /* engine discovery answered in this bind */
	int ok_streak;    /* clean polls since the last halving */
	bool shrunk;      /* this poll needed a smaller GET */
	bool sized;       /* max_oids was taken from the profile once */
	char err[200];
};

static int64_t now_ms(const struct wt_snmp_dev *d)
{
	return wt_clock_now(d->env.clock);
}

/* ---- URL ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes n bytes of s into out; %00 is refused. */
static int unescape(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -EINVAL;
			int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
			if (h < 0 || l < 0 || (h | l) == 0)
				return -EINVAL;
			c = (char)(h * 16 + l);
			i += 2;
		}
		if (o + 1 >= outlen)
			return -ENOSPC;
		out[o++] = c;
	}
	out[o] = 0;
	return 0;
}

int wt_snmp_url_parse(const char *url, struct wt_snmp_target *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	t->timeout_ms = 1000;
	t->retries = 1;
	const char *rest;
	if (strncmp(url, "snmp://", 7) == 0 || strncmp(url, "snmpv2c://", 10) == 0) {
		t->version = 2;
		rest = strstr(url, "://") + 3;
	} else if (strncmp(url, "snmpv1://", 9) == 0) {
		t->version = 1;
		rest = url + 9;
	} else if (strncmp(url, "snmpv3://", 9) == 0) {
		t->version = 3;
		rest = url + 9;
	} else {
		snprintf(err, errlen, "not an SNMP URL (snmp://, snmpv1://, snmpv3://)");
		return -EINVAL;
	}
	const char *at = strrchr(rest, '@');
	const char *hostpart = at ? at + 1 : rest;
	const char *q = strchr(hostpart, '?');
	size_t hlen = q ? (size_t)(q - hostpart) : strlen(hostpart);
	if (hlen && hostpart[hlen - 1] == '/')
		hlen--;
	char hp[sizeof t->host];
	if (hlen == 0 || hlen >= sizeof hp) {
		snprintf(err, errlen, "missing or too long host");
		return -EINVAL;
	}
	memcpy(hp, hostpart, hlen);
	hp[hlen] = 0;
	char *portp = NULL;
	if (hp[0] == '[') {
		char *rb = strchr(hp, ']');
		if (!rb) {
			snprintf(err, errlen, "bad IPv6 address");
			return -EINVAL;
		}
		*rb = 0;
		snprintf(t->host, sizeof t->host, "%s", hp + 1);
		if (rb[1] == ':')
			portp = rb + 2;
	} else {
		char *colon = strrchr(hp, ':');
		if (colon) {
			*colon = 0;
			portp = colon + 1;
		}
		snprintf(t->host, sizeof t->host, "%s", hp);
	}
	t->port = 161;
	if (portp) {
		char *end;
		long p = strtol(portp, &end, 10);
		if (*end || p < 1 || p > 65535) {
			snprintf(err, errlen, "bad port");
			return -EINVAL;
		}
		t->port = (int)p;
	}
	if (!t->host[0]) {
		snprintf(err, errlen, "missing host");
		return -EINVAL;
	}
	size_t ulen = at ? (size_t)(at - rest) : 0;
	if (t->version != 3) {
		if (!at) {
			snprintf(t->community, sizeof t->community, "public");
		} else if (unescape(rest, ulen, t->community, sizeof t->community)) {
			snprintf(err, errlen, "bad community escape");
			return -EINVAL;
		}
		if (q) {
			snprintf(err, errlen, "query options are for snmpv3:// only");
			return -EINVAL;
		}
		return 0;
	}
	/* USER[:AUTHPASS[:PRIVPASS]] */
	char ui[400];
	if (!at || ulen >= sizeof ui) {
		snprintf(err, errlen, "snmpv3:// needs USER@HOST");
		return -EINVAL;
	}
	memcpy(ui, rest, ulen);
	ui[ulen] = 0;
	char *f[3] = {ui, NULL, NULL};
	char *c1 = strchr(ui, ':');
	if (c1) {
		*c1 = 0;
		f[1] = c1 + 1;
		char *c2 = strchr(f[1], ':');
		if (c2) {
			*c2 = 0;
			f[2] = c2 + 1;
		}
	}
	if (unescape(f[0], strlen(f[0]), t->user, sizeof t->user) || !t->user[0] ||
	    (f[1] && unescape(f[1], strlen(f[1]), t->auth_pass, sizeof t->auth_pass)) ||
	    (f[2] && unescape(f[2], strlen(f[2]), t->priv_pass, sizeof t->priv_pass))) {
		snprintf(err, errlen, "bad user info in snmpv3:// URL");
		return -EINVAL;
	}
	t->level = f[2] ? 2 : f[1] ? 1 : 0;
	snprintf(t->auth_proto, sizeof t->auth_proto, "SHA");
	snprintf(t->priv_proto, sizeof t->priv_proto, "AES");
	if (q) {
		char opts[512];
		snprintf(opts, sizeof opts, "%s", q + 1);
		char *save = NULL;
		for (char *kv = strtok_r(opts, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(kv, '=');
			if (!eq) {
				snprintf(err, errlen, "bad option \"%.40s\"", kv);
				return -EINVAL;
			}
			*eq = 0;
			const char *v = eq + 1;
			if (strcmp(kv, "auth") == 0) {
				snprintf(t->auth_proto, sizeof t->auth_proto, "%s", v);
			} else if (strcmp(kv, "priv") == 0) {
				snprintf(t->priv_proto, sizeof t->priv_proto, "%s", v);
			} else if (strcmp(kv, "context") == 0) {
				if (unescape(v, strlen(v), t->context, sizeof t->context)) {
					snprintf(err, errlen, "bad context");
					return -EINVAL;
				}
			} else if (strcmp(kv, "level") == 0) {
				if (strcasecmp(v, "noAuthNoPriv") == 0)
					t->level = 0;
				else if (strcasecmp(v, "authNoPriv") == 0)
					t->level = 1;
				else if (strcasecmp(v, "authPriv") == 0)
					t->level = 2;
				else {
					snprintf(
						err, errlen,
						"level must be noAuthNoPriv, authNoPriv or authPriv");
					return -EINVAL;
				}
			} else {
				snprintf(err, errlen, "unknown option \"%.40s\"", kv);
				return -EINVAL;
			}
		}
	}
	if ((t->level >= 1 && strlen(t->auth_pass) < 8) ||
	    (t->level >= 2 && strlen(t->priv_pass) < 8)) {
		snprintf(err, errlen, "SNMPv3 passphrases need at least 8 characters for level");
		return -EINVAL;
	}
	return 0;
}

/* ---- lifecycle ---- */

static void on_ctl_timer(evutil_socket_t fd, short what, void *arg);

struct wt_snmp_dev *wt_snmp_dev_new(const struct wt_driver_env *env, long device_id,
				    const char *name, const struct wt_snmp_target *t, char *err,
				    size_t errlen)
{
	struct wt_snmp_dev *d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->env = *env;
	d->id = device_id;
	snprintf(d->name, sizeof d->name, "%s", name ? name : "");
	snprintf(d->peer, sizeof d->peer, "%s:%d", t->host, t->port);
	d->version = t->version;
	d->max_oids = 40;
	d->max_rep = 20;
	d->sess = wt_snmp_sess_open(env->base, t, err, errlen);
	d->ctl_timer = evtimer_new(env->base, on_ctl_timer, d);
	if (!d->sess || !d->ctl_timer) {
		wt_snmp_dev_free(d);
		return NULL;
	}
	return d;
}

static void unbind(struct wt_snmp_dev *d)
{
	wt_snmp_model_free(d->model);
	d->model = NULL;
	d->profile = NULL;
	wt_snmp_store_free(d->store);
	d->store = NULL;
	wt_snmp_plan_free(d->plan);
	d->plan = NULL;
	free(d->upd);
	d->upd = NULL;
	free(d->samples);
	d->samples = NULL;
	d->bound = false;
}

void wt_snmp_dev_free(struct wt_snmp_dev *d)
{
	if (!d)
		return;
	wt_snmp_sess_close(d->sess);
	if (d->ctl_timer)
		event_free(d->ctl_timer);
	unbind(d);
	wt_strv_free(&d->list);
	wt_strv_free(&d->walks);
	free(d);
}

void wt_snmp_dev_rebind(struct wt_snmp_dev *d)
{
	d->need_rebind = true;
}

const char *wt_snmp_dev_error(const struct wt_snmp_dev *d)
{
	return d->err;
}

const struct wt_snmp_sysinfo *wt_snmp_dev_sysinfo(const struct wt_snmp_dev *d)
{
	return &d->sys;
}

const struct wt_snmp_model *wt_snmp_dev_model(const struct wt_snmp_dev *d)
{
	return d->bound ? d->model : NULL;
}

void wt_snmp_dev_stats(const struct wt_snmp_dev *d, struct wt_snmp_dev_stats *out)
{
	*out = d->stats;
	out->max_oids = d->max_oids;
	out->max_rep = d->poll_rep;
}

void wt_snmp_dev_plan_info(const struct wt_snmp_dev *d, struct wt_snmp_plan_info *out)
{
	if (d->plan)
		wt_snmp_plan_info(d->plan, out);
	else
		memset(out, 0, sizeof *out);
}

/* Ends the current operation and reports it. */
static void finish(struct wt_snmp_dev *d, enum wt_poll_result r)
{
	wt_poll_done_fn done = d->done;
	void *ctx = d->done_ctx;
	d->step = ST_IDLE;
	d->done = NULL;
	if (done)
		done(ctx, r);
}

static void fail_status(struct wt_snmp_dev *d, int status, const char *what)
{
	snprintf(d->err, sizeof d->err, "%s: %s", what,
		 status == -ETIMEDOUT ? "timeout"
		 : status == -EACCES  ? "access refused (community or credentials)"
				      : strerror(-status));
	if (status == -ETIMEDOUT)
		d->stats.timeouts++;
	finish(d, status == -EACCES ? WT_POLL_AUTH : WT_POLL_FAILED);
}

/* ---- bind ---- */

static void bind_next_get(struct wt_snmp_dev *d);
static void walk_next(struct wt_snmp_dev *d);
static void bind_finish(struct wt_snmp_dev *d);
static void poll_send(struct wt_snmp_dev *d);
static void on_bind_get(void *ctx, int status, int errindex, const struct wt_snmp_vb *vbs,
			size_t n);

static void store_vb(struct wt_snmp_dev *d, const struct wt_snmp_vb *vb)
{
	if (wt_snmp_store_put(d->store, vb->oid, &vb->v))
		snprintf(d->err, sizeof d->err, "out of memory");
}

static void copy_str(char *dst, size_t len, const struct wt_snmp_val *v)
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

static void start_list(struct wt_snmp_dev *d, enum step st)
{
	d->step = st;
	d->pos = 0;
	d->retried = false;
	bind_next_get(d);
}

static void after_sys(struct wt_snmp_dev *d)
{
	const struct wt_snmp_val *v;
	copy_str(d->sys.descr, sizeof d->sys.descr, wt_snmp_store_get(d->store, SYS_DESCR));
	copy_str(d->sys.objectid, sizeof d->sys.objectid,
		 wt_snmp_store_get(d->store, SYS_OBJECTID));
	if (d->sys.objectid[0] == '.') /* some agents send it as a ".1.3..." string (HPE) */
		memmove(d->sys.objectid, d->sys.objectid + 1, strlen(d->sys.objectid));
	copy_str(d->sys.name, sizeof d->sys.name, wt_snmp_store_get(d->store, SYS_NAME));
	v = wt_snmp_store_get(d->store, SYS_UPTIME);
	if (v && v->type == WT_SV_UINT) {
		d->sys.uptime_ticks = v->u;
		d->last_uptime = v->u;
		d->have_uptime = true;
	}
	wt_strv_free(&d->list);
	if (wt_snmp_probe_oids(d->env.profiles, d->sys.objectid, &d->list)) {
		snprintf(d->err, sizeof d->err, "out of memory");
		finish(d, WT_POLL_FAILED);
		return;
	}
	start_list(d, ST_PROBE);
}

static void after_probe(struct wt_snmp_dev *d)
{
	d->profile = wt_snmp_select(d->env.profiles, d->sys.objectid, d->store);
	if (!d->profile) {
		snprintf(d->err, sizeof d->err, "no profile for sysObjectID %s",
			 d->sys.objectid[0] ? d->sys.objectid : "(none)");
		finish(d, WT_POLL_NO_PROFILE);
		return;
	}
	d->max_rep = d->profile->max_repetitions;
	/* the profile's size on the first bind (the system group was read at
	 * the default); later binds keep what halving taught us */
	if (d->max_oids > d->profile->max_oids || !d->sized)
		d->max_oids = d->profile->max_oids;
	d->sized = true;
	/* a halving survives a re-bind: it is what the device taught us */
	if (d->poll_rep < 1 || d->poll_rep > d->profile->max_repetitions)
		d->poll_rep = d->profile->max_repetitions;
	wt_strv_free(&d->walks);
	if (wt_snmp_plan_walks(d->profile, &d->walks)) {
		snprintf(d->err, sizeof d->err, "out of memory");
		finish(d, WT_POLL_FAILED);
		return;
	}
	d->step = ST_WALK;
	d->walk_idx = 0;
	d->walk_cur[0] = 0;
	d->retried = false;
	walk_next(d);
}

static void after_walks(struct wt_snmp_dev *d)
{
	wt_strv_free(&d->list);
	if (wt_snmp_plan_gets(d->profile, d->store, &d->list)) {
		snprintf(d->err, sizeof d->err, "out of memory");
		finish(d, WT_POLL_FAILED);
		return;
	}
	start_list(d, ST_GETS);
}

static void list_done(struct wt_snmp_dev *d)
{
	switch (d->step) {
	case ST_SYS:
		after_sys(d);
		break;
	case ST_PROBE:
		after_probe(d);
		break;
	case ST_GETS:
		bind_finish(d);
		break;
	default:
		break;
	}
}

static void bind_next_get(struct wt_snmp_dev *d)
{
	if (d->pos >= d->list.n) {
		list_done(d);
		return;
	}
	size_t n = d->list.n - d->pos;
	if (n > (size_t)d->max_oids)
		n = (size_t)d->max_oids;
	d->batch = n;
	d->stats.requests++;
	int rc = wt_snmp_get(d->sess, d->list.v + d->pos, n, on_bind_get, d);
	if (rc)
		fail_status(d, rc, "send");
}

static bool shrink(struct wt_snmp_dev *d, int status)
{
	/* tooBig, or a timeout on a multi-OID request (agents that silently drop
	 * large PDUs): halve and retry once at the smaller size */
	if (status == -EMSGSIZE)
		d->stats.toobig++;
	if ((status == -EMSGSIZE || status == -ETIMEDOUT) && d->max_oids > 1 && !d->retried) {
		d->max_oids = d->max_oids / 2 ? d->max_oids / 2 : 1;
		d->shrunk = true;
		d->retried = status == -ETIMEDOUT; /* a second timeout is a dead device */
		if (status == -ETIMEDOUT)
			d->stats.timeouts++;
		return true;
	}
	return false;
}

static void on_bind_get(void *ctx, int status, int errindex, const struct wt_snmp_vb *vbs, size_t n)
{
	struct wt_snmp_dev *d = ctx;
	if (status == -ENOENT && errindex >= 1 && (size_t)errindex <= d->batch) {
		/* SNMPv1: one OID does not exist; note it and re-ask for the rest */
		size_t k = d->pos + (size_t)errindex - 1;
		struct wt_snmp_val none = {0};
		if (wt_snmp_store_put(d->store, d->list.v[k], &none)) {
			fail_status(d, -ENOMEM, "bind");
			return;
		}
		free(d->list.v[k]);
		memmove(&d->list.v[k], &d->list.v[k + 1], (d->list.n - k - 1) * sizeof(char *));
		d->list.n--;
		bind_next_get(d);
		return;
	}
	if (status) {
		if (shrink(d, status)) {
			bind_next_get(d);
			return;
		}
		if (status == -ETIMEDOUT && d->step == ST_SYS && d->v3_answered) {
			/* the agent answered discovery a moment ago but drops our
			 * authenticated request: it rejects the user, keys or
			 * protocols (its Report is unauthenticated, so net-snmp
			 * waits for a real answer until the timeout) */
			fail_status(d, -EACCES, "identify");
			return;
		}
		fail_status(d, status, d->step == ST_SYS ? "identify" : "bind");
		return;
	}
	d->retried = false;
	for (size_t i = 0; i < n && i < d->batch; i++) {
		/* store under the OID we asked for: agents may echo another one */
		if (strcmp(vbs[i].oid, d->list.v[d->pos + i]) != 0) {
			struct wt_snmp_vb copy = vbs[i];
			snprintf(copy.oid, sizeof copy.oid, "%s", d->list.v[d->pos + i]);
			copy.v.type = WT_SV_NONE;
			store_vb(d, &copy);
		} else {
			store_vb(d, &vbs[i]);
		}
	}
	d->pos += d->batch;
	bind_next_get(d);
}

static void on_walk(void *ctx, int status, int errindex, const struct wt_snmp_vb *vbs, size_t n)
{
	struct wt_snmp_dev *d = ctx;
	(void)errindex;
	if (status == -ENOENT) { /* v1 end of MIB */
		n = 0;
		status = 0;
	}
	if (status) {
		if ((status == -EMSGSIZE || status == -ETIMEDOUT) && d->max_rep > 1 &&
		    !d->retried) {
			d->max_rep /= 2;
			d->retried = status == -ETIMEDOUT;
			walk_next(d);
			return;
		}
		fail_status(d, status, "walk");
		return;
	}
	d->retried = false;
	const char *prefix = d->walks.v[d->walk_idx];
	bool more = n > 0;
	for (size_t i = 0; i < n; i++) {
		if (vbs[i].end_of_mib || !wt_oid_under(vbs[i].oid, prefix) ||
		    (d->walk_cur[0] && wt_oid_cmp(vbs[i].oid, d->walk_cur) <= 0) ||
		    ++d->walk_rows > MAX_WALK_ROWS) {
			/* left the column, end of MIB, or an agent going backwards:
			 * this walk is over either way */
			more = false;
			break;
		}
		store_vb(d, &vbs[i]);
		snprintf(d->walk_cur, sizeof d->walk_cur, "%s", vbs[i].oid);
	}
	if (!more) {
		d->walk_idx++;
		d->walk_cur[0] = 0;
		d->walk_rows = 0;
	}
	walk_next(d);
}

static void walk_next(struct wt_snmp_dev *d)
{
	if (d->walk_idx >= d->walks.n) {
		after_walks(d);
		return;
	}
	const char *from = d->walk_cur[0] ? d->walk_cur : d->walks.v[d->walk_idx];
	d->stats.requests++;
	int rc = wt_snmp_getbulk(d->sess, from, d->max_rep, on_walk, d);
	if (rc)
		fail_status(d, rc, "walk");
}

/* Hands the readings of points idx[0..n) (all points if idx is NULL) to the sink. */
static void emit_points(struct wt_snmp_dev *d, const uint32_t *idx, size_t n)
{
	size_t k = 0;
	int64_t ts = now_ms(d);
	for (size_t i = 0; i < n; i++) {
		const struct wt_snmp_point *pt = &d->model->points[idx ? idx[i] : i];
		if (!pt->have || pt->series == NO_SERIES)
			continue;
		d->samples[k].series = pt->series;
		d->samples[k].quality = pt->quality;
		d->samples[k].ts_ms = ts;
		d->samples[k].value = pt->value;
		k++;
	}
	d->stats.samples += k;
	if (k && d->env.sink.emit)
		d->env.sink.emit(d->env.sink.ctx, d->samples, k);
}

static void bind_finish(struct wt_snmp_dev *d)
{
	struct wt_snmp_model *m;
	if (wt_snmp_model_build(d->profile, d->store, &m)) {
		snprintf(d->err, sizeof d->err, "out of memory");
		finish(d, WT_POLL_FAILED);
		return;
	}
	wt_snmp_model_free(d->model);
	d->model = m;
	wt_snmp_plan_free(d->plan);
	d->plan = NULL;
	free(d->upd);
	free(d->samples);
	d->upd = calloc(m->n_points + 1, sizeof *d->upd);
	d->samples = calloc(m->n_points + 1, sizeof *d->samples);
	if (!d->upd || !d->samples ||
	    wt_snmp_plan_build(m, d->store, d->version != 1, d->profile->max_repetitions,
			       &d->plan)) {
		snprintf(d->err, sizeof d->err, "out of memory");
		finish(d, WT_POLL_FAILED);
		return;
	}
	for (size_t i = 0; i < m->n_points; i++) {
		struct wt_snmp_point *pt = &m->points[i];
		const struct wt_snmp_entity *e = &m->entities[pt->entity];
		pt->series = NO_SERIES;
		if (d->env.resolver.resolve &&
		    d->env.resolver.resolve(d->env.resolver.ctx, d->id, e->unit, e->kind, e->index,
					    e->name, pt->metric, &pt->series))
			pt->series = NO_SERIES;
	}
	/* the bind's values were read once; a plan rebuilt later needs only
	 * the walked tables' rows (about 2.5 KB of a 60 KB store per PDU) */
	struct wt_snmp_store *kept = wt_snmp_store_for_plan(d->store, m);
	if (kept) {
		wt_snmp_store_free(d->store);
		d->store = kept;
	}
	d->bound = true;
	d->need_rebind = false;
	d->bound_at_ms = now_ms(d);
	d->err[0] = 0;
	/* the bind GET read every reading once: that is this interval's poll */
	emit_points(d, NULL, m->n_points);
	finish(d, d->rebooted ? WT_POLL_REBOOTED : WT_POLL_OK);
}

static void on_prepared(void *ctx, int status, int errindex, const struct wt_snmp_vb *vbs, size_t n)
{
	struct wt_snmp_dev *d = ctx;
	(void)errindex, (void)vbs, (void)n;
	if (status) {
		fail_status(d, status, "SNMPv3 engine discovery");
		return;
	}
	d->v3_answered = true;
	start_list(d, ST_SYS);
}

static void start_bind(struct wt_snmp_dev *d)
{
	unbind(d);
	d->store = wt_snmp_store_new();
	wt_strv_free(&d->list);
	if (!d->store || wt_strv_add(&d->list, SYS_DESCR) || wt_strv_add(&d->list, SYS_OBJECTID) ||
	    wt_strv_add(&d->list, SYS_UPTIME) || wt_strv_add(&d->list, SYS_NAME)) {
		snprintf(d->err, sizeof d->err, "out of memory");
		finish(d, WT_POLL_FAILED);
		return;
	}
	d->step = ST_SYS;
	d->v3_answered = false;
	int r = wt_snmp_sess_prepare(d->sess, on_prepared, d);
	if (r == 1)
		start_list(d, ST_SYS);
	else if (r < 0)
		fail_status(d, r, "SNMPv3 engine discovery");
}

/* ---- poll ---- */

static void note_uptime(struct wt_snmp_dev *d, uint64_t up)
{
	/* TimeTicks wrap after 497 days: a small value after a huge one is a
	 * wrap, not a reboot */
	bool wrap = d->last_uptime > 0xF0000000ull && up < 0x10000000ull;
	if (d->have_uptime && up < d->last_uptime && !wrap) {
		d->rebooted = true;
		d->need_rebind = true;
	}
	d->last_uptime = up;
	d->sys.uptime_ticks = up;
	d->have_uptime = true;
}

/* tooBig, or a timeout (agents that silently drop large PDUs): halve what
 * made the request big (the repetitions of a GETBULK, else the OIDs per
 * request), remember it for the device, and retry once at the smaller size. */
static bool poll_shrink(struct wt_snmp_dev *d, int status)
{
	if (status == -EMSGSIZE)
		d->stats.toobig++;
	if ((status != -EMSGSIZE && status != -ETIMEDOUT) || d->retried)
		return false;
	const struct wt_snmp_req *q = &d->req;
	if (q->bulk && q->n_col && q->reps > 1)
		d->poll_rep = q->reps / 2;
	else if (d->max_oids > 1 && q->n > 1)
		d->max_oids = (int)(q->n / 2 ? q->n / 2 : 1);
	else
		return false;
	d->shrunk = true;
	d->retried = status == -ETIMEDOUT; /* a second timeout is a dead device */
	if (status == -ETIMEDOUT)
		d->stats.timeouts++;
	return true;
}

static void poll_complete(struct wt_snmp_dev *d)
{
	enum wt_poll_result r = d->rebooted ? WT_POLL_REBOOTED : WT_POLL_OK;
	/* a halving is remembered, but one lost datagram must not shrink a
	 * device for ever: after 20 clean polls, try a quarter more */
	if (d->shrunk) {
		d->ok_streak = 0;
	} else if (++d->ok_streak >= 20 && d->profile &&
		   (d->max_oids < d->profile->max_oids ||
		    d->poll_rep < d->profile->max_repetitions)) {
		d->max_oids += d->max_oids / 4 ? d->max_oids / 4 : 1;
		if (d->max_oids > d->profile->max_oids)
			d->max_oids = d->profile->max_oids;
		d->poll_rep += d->poll_rep / 4 ? d->poll_rep / 4 : 1;
		if (d->poll_rep > d->profile->max_repetitions)
			d->poll_rep = d->profile->max_repetitions;
		d->ok_streak = 0;
	}
	if (wt_snmp_plan_dirty(d->plan)) {
		/* a point GETNEXT missed goes to the GET list */
		struct wt_snmp_plan *np;
		if (wt_snmp_plan_build(d->model, d->store, d->version != 1,
				       d->profile->max_repetitions, &np) == 0) {
			wt_snmp_plan_free(d->plan);
			d->plan = np;
		}
	}
	d->shrunk = false;
	d->rebooted = false;
	d->err[0] = 0;
	finish(d, r);
}

static void on_poll(void *ctx, int status, int errindex, const struct wt_snmp_vb *vbs, size_t n)
{
	struct wt_snmp_dev *d = ctx;
	if (status == -ENOENT) {
		/* v1: one OID of the batch does not exist. sysUpTime missing
		 * (agents without it) is dropped for good; a reading that vanished
		 * (firmware change, outlet removed) means the layout is re-read next
		 * time rather than guessed. The rest of the batch is asked again. */
		int64_t pi = wt_snmp_plan_drop(d->plan, &d->req, errindex);
		if (pi >= 0) {
			if (pi != UINT32_MAX)
				d->need_rebind = true;
			poll_send(d);
			return;
		}
		d->need_rebind = true;
		status = 0;
		n = 0;
	}
	if (status) {
		if (poll_shrink(d, status)) {
			poll_send(d);
			return;
		}
		fail_status(d, status, "poll");
		return;
	}
	d->retried = false;
	size_t nu = 0;
	uint64_t up = 0;
	bool have_up = false;
	wt_snmp_plan_read(d->plan, d->model, &d->req, vbs, n, d->upd, &nu, &up, &have_up);
	if (have_up)
		note_uptime(d, up);
	if (nu)
		emit_points(d, d->upd, nu);
	poll_send(d);
}

static void poll_send(struct wt_snmp_dev *d)
{
	if (!wt_snmp_plan_next(d->plan, d->max_oids, d->poll_rep, &d->req)) {
		poll_complete(d);
		return;
	}
	d->stats.requests++;
	if (d->req.bulk)
		d->stats.getbulk++;
	int rc = wt_snmp_send_req(d->sess, &d->req, on_poll, d);
	if (rc)
		fail_status(d, rc, "poll");
}

int wt_snmp_dev_poll(struct wt_snmp_dev *d, wt_poll_done_fn done, void *ctx)
{
	if (d->step != ST_IDLE || wt_snmp_sess_busy(d->sess))
		return -EBUSY;
	d->done = done;
	d->done_ctx = ctx;
	d->retried = false;
	if (d->bound && now_ms(d) - d->bound_at_ms > STATIC_REFRESH_MS)
		d->need_rebind = true;
	if (!d->bound || d->need_rebind) {
		start_bind(d);
		return 0;
	}
	d->step = ST_POLL;
	d->shrunk = false;
	wt_snmp_plan_start(d->plan);
	poll_send(d);
	return 0;
}

/* ---- control ---- */

static void ctl_finish(struct wt_snmp_dev *d, int status)
{
	wt_snmp_ctl_done done = d->ctl_done;
	d->step = ST_IDLE;
	d->ctl_done = NULL;
	if (done)
		done(d->ctl_ctx, status);
}

static struct wt_snmp_point *state_point(struct wt_snmp_dev *d, size_t entity)
{
	for (size_t i = 0; i < d->model->n_points; i++)
		if (d->model->points[i].entity == entity &&
		    d->model->points[i].metric == WT_M_OUTLET_STATE)
			return &d->model->points[i];
	return NULL;
}

static void ctl_verify_send(struct wt_snmp_dev *d);
static void on_ctl_timer(evutil_socket_t fd, short what, void *arg);

static void on_ctl_verify(void *ctx, int status, int errindex, const struct wt_snmp_vb *vbs,
			  size_t n)
{
	struct wt_snmp_dev *d = ctx;
	(void)errindex;
	struct wt_snmp_point *pt = state_point(d, d->ctl_entity);
	if (status == 0 && n == 1 && pt && wt_snmp_point_update(pt, &vbs[0].v)) {
		double want = d->ctl_cmd == WT_CTL_OFF ? 0 : 1;
		if (pt->value == want) {
			ctl_finish(d, 0);
			return;
		}
	}
	if (now_ms(d) >= d->ctl_deadline) {
		ctl_finish(d, status == -ETIMEDOUT ? -ETIMEDOUT : -EAGAIN);
		return;
	}
	struct timeval tv = {0, 300 * 1000};
	evtimer_add(d->ctl_timer, &tv);
}

static void on_ctl_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ctl_verify_send(arg);
}

static void ctl_verify_send(struct wt_snmp_dev *d)
{
	struct wt_snmp_point *pt = state_point(d, d->ctl_entity);
	if (!pt) {
		ctl_finish(d, 0);
		return;
	}
	char *oids[1] = {pt->oid};
	int rc = wt_snmp_get(d->sess, oids, 1, on_ctl_verify, d);
	if (rc)
		ctl_finish(d, rc);
}

static void on_ctl_set(void *ctx, int status, int errindex, const struct wt_snmp_vb *vbs, size_t n)
{
	struct wt_snmp_dev *d = ctx;
	(void)errindex;
	(void)vbs;
	(void)n;
	if (status) {
		ctl_finish(d, status == -ENOENT ? -EACCES : status);
		return;
	}
	/* delayed commands act later and cycle passes through off: confirm
	 * only what can be seen now */
	bool verifiable = (d->ctl_cmd == WT_CTL_ON || d->ctl_cmd == WT_CTL_OFF) &&
			  state_point(d, d->ctl_entity);
	if (!verifiable) {
		ctl_finish(d, 0);
		return;
	}
	d->step = ST_CTL_VERIFY;
	ctl_verify_send(d);
}

int wt_snmp_dev_control(struct wt_snmp_dev *d, size_t entity, enum wt_ctl_cmd cmd, int verify_ms,
			wt_snmp_ctl_done done, void *ctx)
{
	if (!d->bound || !d->model || entity >= d->model->n_entities)
		return -ENOENT;
	const struct wt_snmp_entity *e = &d->model->entities[entity];
	char oid[WT_OID_STR];
	long value;
	if (wt_snmp_control_oid(e, (int)cmd, oid, sizeof oid, &value))
		return -ENOTSUP;
	if (d->step != ST_IDLE || wt_snmp_sess_busy(d->sess))
		return -EBUSY;
	d->step = ST_CTL_SET;
	d->ctl_entity = entity;
	d->ctl_cmd = (int)cmd;
	d->ctl_done = done;
	d->ctl_ctx = ctx;
	d->ctl_deadline = now_ms(d) + (verify_ms > 0 ? verify_ms : 5000);
	wt_info("device %ld %s: outlet %ld %s", d->id, d->name, e->index, wt_ctl_cmd_name(cmd));
	int rc = wt_snmp_set_int(d->sess, oid, value, on_ctl_set, d);
	if (rc) {
		d->step = ST_IDLE;
		return rc;
	}
	return 0;
}
