/* Device inventory: devices table <-> scheduler (daemon_devices.h). */
#include "daemon_devices.h"

#include "log.h"
#include "pollers/control.h"
#include "rules/engine.h"
#include "workers.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct row {
	long id;
	char *name, *url, *type, *model;
	double rating_a;
};

struct known {
	long id;
	char *url;   /* holds secrets: compared, never logged */
	char *ident; /* name|type|model|rating, for the rules engine */
};

struct scan {
	struct wt_devices *d;
	struct row *v;
	size_t n;
	bool ok;
};

struct state_upd {
	long id;
	const char *state; /* NULL: only the identity changes */
	char *ident[5];    /* vendor, model, serial, firmware, profile; NULL keeps the column */
};

struct state_job {
	struct wt_devices *d;
	struct state_upd *v;
	size_t n;
};

struct wt_devices {
	struct event_base *base;
	struct wt_workers *workers;
	struct wt_sched *sched;
	struct wt_rules *rules;
	struct wt_control *control;
	struct wt_devices_options o;
	char *conninfo;
	PGconn *pg_scan, *pg_state; /* one job each at a time */
	struct known *k;
	size_t nk;
	struct event *timer;
	bool scanning, stating;
	struct state_upd *pend;
	size_t n_pend, cap_pend;
	void (*on_change)(void *ctx);
	void *on_change_ctx;
	bool first_scan_done;
	bool readd_all; /* poll settings changed: re-add every device */
};

/* ---- URLs ---- */

/* Appends s percent-escaped (RFC 3986 unreserved kept). */
static void esc(char *out, size_t len, const char *s)
{
	size_t o = strlen(out);
	for (; s && *s && o + 4 < len; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, len - o, "%%%02X", ch);
	}
	out[o] = 0;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s && *s ? s : NULL;
}

static void cat(char *out, size_t len, const char *s)
{
	size_t o = strlen(out);
	snprintf(out + o, len - o, "%s", s);
}

/* Host part: IPv6 literals get brackets. */
static void host(char *out, size_t len, const char *addr, int port)
{
	size_t o = strlen(out);
	if (strchr(addr, ':'))
		snprintf(out + o, len - o, "[%s]:%d", addr, port);
	else
		snprintf(out + o, len - o, "%s:%d", addr, port);
}

/* Builds the driver URL; 0 or -EINVAL (why in err, no secret). */
static int build_url(const char *proto, const char *addr, int port, int unit, const char *creds,
		     char *out, size_t len, char *err, size_t errlen)
{
	json_t *j = json_loads(creds && *creds ? creds : "{}", 0, NULL);
	int rc = 0;

	out[0] = 0;
	if (!json_is_object(j)) {
		snprintf(err, errlen, "credentials are not a JSON object");
		json_decref(j);
		return -EINVAL;
	}
	if (strcmp(proto, "snmp") == 0) {
		const char *user = jstr(j, "user");
		if (user) {
			const char *ap = jstr(j, "auth_pass"), *pp = jstr(j, "priv_pass");
			cat(out, len, "snmpv3://");
			esc(out, len, user);
			if (ap) {
				cat(out, len, ":");
				esc(out, len, ap);
				if (pp) {
					cat(out, len, ":");
					esc(out, len, pp);
				}
			}
			cat(out, len, "@");
			host(out, len, addr, port);
			char q[256] = "";
			const char *keys[] = {"auth", "priv", "context", "level"};
			for (size_t i = 0; i < 4; i++) {
				const char *v = jstr(j, keys[i]);
				if (!v)
					continue;
				cat(q, sizeof q, q[0] ? "&" : "?");
				cat(q, sizeof q, keys[i]);
				cat(q, sizeof q, "=");
				esc(q, sizeof q, v);
			}
			cat(out, len, q);
		} else {
			const char *v = jstr(j, "version");
			cat(out, len, v && strcmp(v, "1") == 0 ? "snmpv1://" : "snmp://");
			esc(out, len, jstr(j, "community") ? jstr(j, "community") : "public");
			cat(out, len, "@");
			host(out, len, addr, port);
		}
	} else if (strcmp(proto, "modbus") == 0) {
		cat(out, len, "modbus://");
		host(out, len, addr, port);
		size_t o = strlen(out);
		snprintf(out + o, len - o, "?unit=%d", unit > 0 ? unit : 1);
		/* the profile column says what was detected; credentials may force one */
		const char *p = jstr(j, "profile");
		if (p && *p) {
			cat(out, len, "&profile=");
			esc(out, len, p);
		}
	} else if (strcmp(proto, "redfish") == 0) {
		json_t *tls = json_object_get(j, "tls");
		cat(out, len, json_is_true(tls) ? "redfish+https://" : "redfish://");
		const char *u = jstr(j, "user"), *pw = jstr(j, "password");
		if (u) {
			esc(out, len, u);
			if (pw) {
				cat(out, len, ":");
				esc(out, len, pw);
			}
			cat(out, len, "@");
		}
		host(out, len, addr, port);
		if (json_is_true(json_object_get(j, "insecure")))
			cat(out, len, "?insecure=1");
	} else {
		snprintf(err, errlen, "unknown protocol %s", proto);
		rc = -EINVAL;
	}
	json_decref(j);
	if (!rc && strlen(out) + 1 >= len) {
		snprintf(err, errlen, "URL too long");
		rc = -EINVAL;
	}
	return rc;
}

/* ---- scan (worker) ---- */

static bool connect_once(PGconn **pg, const char *conninfo, const char *what)
{
	if (*pg && PQstatus(*pg) == CONNECTION_OK)
		return true;
	PQfinish(*pg);
	*pg = PQconnectdb(conninfo);
	if (PQstatus(*pg) == CONNECTION_OK)
		return true;
	wt_error("devices: %s: cannot connect: %s", what, PQerrorMessage(*pg));
	return false;
}

static void scan_work(void *arg)
{
	struct scan *sc = arg;
	struct wt_devices *d = sc->d;

	if (!connect_once(&d->pg_scan, d->conninfo, "inventory"))
		return;
	PGresult *r = PQexec(d->pg_scan,
			     "SELECT id, name, protocol, address, port, unit, credentials::text, "
			     "coalesce(profile, ''), coalesce(info->>'type', 'device'), "
			     "coalesce(model, ''), coalesce(rating_a, 0) FROM devices "
			     "WHERE state <> 'disabled' ORDER BY id");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		wt_error("devices: reading the devices table: %s", PQerrorMessage(d->pg_scan));
		PQclear(r);
		return;
	}
	int n = PQntuples(r);
	sc->v = calloc((size_t)n + 1, sizeof *sc->v);
	if (!sc->v) {
		PQclear(r);
		return;
	}
	for (int i = 0; i < n; i++) {
		char url[1024], err[200];
		long id = strtol(PQgetvalue(r, i, 0), NULL, 10);
		if (build_url(PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
			      (int)strtol(PQgetvalue(r, i, 4), NULL, 10),
			      (int)strtol(PQgetvalue(r, i, 5), NULL, 10), PQgetvalue(r, i, 6), url,
			      sizeof url, err, sizeof err)) {
			wt_warn("devices: device %ld (%s) not polled: %s", id, PQgetvalue(r, i, 1),
				err);
			continue;
		}
		struct row *w = &sc->v[sc->n];
		w->id = id;
		w->name = strdup(PQgetvalue(r, i, 1));
		w->url = strdup(url);
		w->type = strdup(PQgetvalue(r, i, 8));
		w->model = strdup(PQgetvalue(r, i, 9));
		w->rating_a = strtod(PQgetvalue(r, i, 10), NULL);
		explicit_bzero(url, sizeof url);
		if (!w->name || !w->url || !w->type || !w->model) {
			free(w->name), free(w->url), free(w->type), free(w->model);
			continue;
		}
		sc->n++;
	}
	PQclear(r);
	sc->ok = true;
}

static void free_url(char *u)
{
	if (u) {
		explicit_bzero(u, strlen(u));
		free(u);
	}
}

static void free_scan(struct scan *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		free(sc->v[i].name);
		free_url(sc->v[i].url);
		free(sc->v[i].type);
		free(sc->v[i].model);
	}
	free(sc->v);
	free(sc);
}

static struct known *find_known(struct wt_devices *d, long id)
{
	size_t lo = 0, hi = d->nk;
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		if (d->k[m].id == id)
			return &d->k[m];
		if (d->k[m].id < id)
			lo = m + 1;
		else
			hi = m;
	}
	return NULL;
}

static void arm(struct wt_devices *d)
{
	struct timeval tv = {d->o.rescan_ms / 1000, (d->o.rescan_ms % 1000) * 1000};
	evtimer_add(d->timer, &tv);
}

/* On the loop: makes the scheduler match the table. */
static void scan_done(void *arg, bool cancelled)
{
	struct scan *sc = arg;
	struct wt_devices *d = sc->d;
	size_t added = 0, removed = 0, changed = 0;

	d->scanning = false;
	if (cancelled || !sc->ok || !d->sched) {
		free_scan(sc);
		if (!cancelled && d->sched)
			arm(d);
		return;
	}
	struct known *nk = calloc(sc->n + 1, sizeof *nk);
	if (!nk) {
		free_scan(sc);
		arm(d);
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < sc->n; i++) {
		struct row *w = &sc->v[i];
		char ident[512];
		snprintf(ident, sizeof ident, "%s|%s|%s|%g", w->name, w->type, w->model,
			 w->rating_a);
		struct known *k = find_known(d, w->id);
		if (k && !d->readd_all && strcmp(k->url, w->url) == 0) {
			nk[n] = *k;
			k->url = k->ident = NULL;
		} else {
			char err[200] = "";
			if (k) {
				if (d->control)
					wt_control_forget(d->control, w->id);
				(void)wt_sched_remove(d->sched, w->id);
				changed++;
				/* not "left the table" below; its identity carries over */
				free_url(k->url);
				k->url = NULL;
				nk[n].ident = k->ident;
				k->ident = NULL;
			}
			struct wt_dev_conf c = {
				.id = w->id,
				.name = w->name,
				.url = w->url,
				.interval_ms = d->o.interval_ms,
				.timeout_ms = d->o.timeout_ms,
				.retries = d->o.retries,
			};
			int rc = wt_sched_add(d->sched, &c, err, sizeof err);
			if (rc < 0) {
				wt_warn("devices: device %ld (%s) not polled: %s", w->id, w->name,
					err[0] ? err : strerror(-rc));
				continue;
			}
			if (!k)
				added++;
			nk[n].id = w->id;
			nk[n].url = w->url;
			w->url = NULL;
		}
		if (!nk[n].ident || strcmp(nk[n].ident, ident) != 0) {
			free(nk[n].ident);
			nk[n].ident = strdup(ident);
			if (d->rules) {
				struct wt_rules_device rd = {w->id, w->name, w->type, w->model,
							     w->rating_a};
				if (wt_rules_device_set(d->rules, &rd) < 0)
					wt_warn("devices: rules refused device %ld", w->id);
			}
			changed += k != NULL;
		}
		n++;
	}
	/* what is left in the old list left the table */
	for (size_t i = 0; i < d->nk; i++) {
		if (!d->k[i].url)
			continue;
		if (d->control)
			wt_control_forget(d->control, d->k[i].id);
		(void)wt_sched_remove(d->sched, d->k[i].id);
		if (d->rules && wt_rules_device_remove(d->rules, d->k[i].id) < 0)
			wt_debug("devices: rules did not know device %ld", d->k[i].id);
		removed++;
		free_url(d->k[i].url);
		free(d->k[i].ident);
	}
	for (size_t i = 0; i < d->nk; i++)
		if (!d->k[i].url)
			free(d->k[i].ident);
	free(d->k);
	d->k = nk;
	d->nk = n;
	d->readd_all = false;
	free_scan(sc);
	if (added || removed || changed || !d->first_scan_done) {
		wt_notice("devices: %zu polled (%zu added, %zu removed, %zu changed)", n, added,
			  removed, changed);
		if (d->on_change)
			d->on_change(d->on_change_ctx);
	}
	d->first_scan_done = true;
	arm(d);
}

static void scan(struct wt_devices *d)
{
	if (d->scanning)
		return;
	struct scan *sc = calloc(1, sizeof *sc);
	if (!sc) {
		arm(d);
		return;
	}
	sc->d = d;
	if (wt_workers_submit(d->workers, scan_work, scan_done, sc) < 0) {
		free(sc);
		arm(d); /* queue full: next time */
		return;
	}
	d->scanning = true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	scan(arg);
}

/* ---- state ---- */

static void state_work(void *arg)
{
	struct state_job *j = arg;
	struct wt_devices *d = j->d;

	if (!connect_once(&d->pg_state, d->conninfo, "state"))
		return;
	for (size_t i = 0; i < j->n; i++) {
		char id[32];
		snprintf(id, sizeof id, "%ld", j->v[i].id);
		char **f = j->v[i].ident;
		if (f[0] || f[1] || f[2] || f[3] || f[4]) {
			const char *p[6] = {id, f[0], f[1], f[2], f[3], f[4]};
			PGresult *r = PQexecParams(
				d->pg_state,
				"UPDATE devices SET vendor = coalesce($2, vendor), "
				"model = coalesce($3, model), serial = coalesce($4, serial), "
				"firmware = coalesce($5, firmware), profile = coalesce($6, profile), "
				"updated_at = now() WHERE id = $1",
				6, NULL, p, NULL, NULL, 0);
			if (PQresultStatus(r) != PGRES_COMMAND_OK)
				wt_error("devices: identity of %ld: %s", j->v[i].id,
					 PQerrorMessage(d->pg_state));
			PQclear(r);
		}
		if (!j->v[i].state)
			continue;
		const char *p[2] = {id, j->v[i].state};
		PGresult *r = PQexecParams(d->pg_state,
					   "UPDATE devices SET state = $2, updated_at = now() "
					   "WHERE id = $1 AND state <> 'disabled' AND state <> $2",
					   2, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			wt_error("devices: state of %ld: %s", j->v[i].id,
				 PQerrorMessage(d->pg_state));
		PQclear(r);
	}
}

static void flush_states(struct wt_devices *d);

static void state_done(void *arg, bool cancelled)
{
	struct state_job *j = arg;
	struct wt_devices *d = j->d;
	d->stating = false;
	for (size_t i = 0; i < j->n; i++)
		for (int k = 0; k < 5; k++)
			free(j->v[i].ident[k]);
	free(j->v);
	free(j);
	if (!cancelled)
		flush_states(d);
}

static void flush_states(struct wt_devices *d)
{
	if (d->stating || !d->n_pend)
		return;
	struct state_job *j = calloc(1, sizeof *j);
	if (!j)
		return;
	j->d = d;
	j->v = d->pend;
	j->n = d->n_pend;
	if (wt_workers_submit(d->workers, state_work, state_done, j) < 0) {
		free(j); /* kept queued; the next change retries */
		return;
	}
	d->pend = NULL;
	d->n_pend = d->cap_pend = 0;
	d->stating = true;
}

/* The queued update of a device, created if needed; NULL without memory. */
static struct state_upd *pending(struct wt_devices *d, long id)
{
	for (size_t i = 0; i < d->n_pend; i++)
		if (d->pend[i].id == id)
			return &d->pend[i];
	if (d->n_pend == d->cap_pend) {
		size_t nc = d->cap_pend ? d->cap_pend * 2 : 64;
		struct state_upd *v = realloc(d->pend, nc * sizeof *v);
		if (!v)
			return NULL;
		d->pend = v;
		d->cap_pend = nc;
	}
	struct state_upd *u = &d->pend[d->n_pend++];
	memset(u, 0, sizeof *u);
	u->id = id;
	return u;
}

static void set_field(char **f, json_t *v)
{
	const char *s = json_string_value(v);
	if (!s || !*s)
		return;
	free(*f);
	*f = strndup(s, 200);
}

/* What the driver read at bind (vendor, model, serial, firmware, profile),
 * through its describe op (pollers/PROBE.md); drivers without one are
 * skipped. */
static void read_identity(struct wt_devices *d, long id, struct state_upd *u)
{
	const struct wt_driver_ops *ops;
	void *inst;
	if (!d->sched || wt_sched_instance(d->sched, id, &ops, &inst) < 0 || !ops->describe)
		return;
	char *text = ops->describe(inst);
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (!j)
		return;
	json_t *idn = json_object_get(j, "identity");
	set_field(&u->ident[0], json_object_get(idn, "vendor"));
	set_field(&u->ident[1], json_object_get(idn, "model"));
	set_field(&u->ident[2], json_object_get(idn, "serial"));
	set_field(&u->ident[3], json_object_get(idn, "firmware"));
	set_field(&u->ident[4], json_object_get(json_object_get(j, "profile"), "name"));
	json_decref(j);
}

static const char *db_state(enum wt_dev_state s)
{
	switch (s) {
	case WT_DEV_OK:
	case WT_DEV_REBOOTED:
		return "ok";
	case WT_DEV_UNREACHABLE:
	case WT_DEV_AUTH_FAILED:
		return "comm_lost";
	case WT_DEV_NO_PROFILE:
		return "unknown";
	default:
		return NULL; /* NEW, FAILING: nothing to record yet */
	}
}

static bool lost(enum wt_dev_state s)
{
	return s == WT_DEV_UNREACHABLE || s == WT_DEV_AUTH_FAILED;
}

void wt_devices_state(void *ctx, long id, enum wt_dev_state from, enum wt_dev_state to,
		      const char *reason)
{
	struct wt_devices *d = ctx;

	if (to == WT_DEV_FAILING || to == WT_DEV_OK || to == WT_DEV_REBOOTED)
		wt_info("device %ld: %s -> %s%s%s", id, wt_dev_state_name(from),
			wt_dev_state_name(to), reason && *reason ? ": " : "", reason ? reason : "");
	else
		wt_warn("device %ld: %s -> %s%s%s", id, wt_dev_state_name(from),
			wt_dev_state_name(to), reason && *reason ? ": " : "", reason ? reason : "");
	if (d->rules) {
		if (lost(to) && !lost(from))
			wt_rules_device_comm(d->rules, id, true, reason);
		else if (!lost(to) && lost(from) && (to == WT_DEV_OK || to == WT_DEV_REBOOTED))
			wt_rules_device_comm(d->rules, id, false, NULL);
		if (to == WT_DEV_REBOOTED)
			wt_rules_device_rebooted(d->rules, id);
	}
	const char *st = db_state(to);
	bool bound = (to == WT_DEV_OK || to == WT_DEV_REBOOTED) &&
		     (from != WT_DEV_OK && from != WT_DEV_FAILING);
	if (!st && !bound)
		return;
	struct state_upd *u = pending(d, id);
	if (!u)
		return;
	if (st)
		u->state = st;
	if (bound)
		read_identity(d, id, u);
	flush_states(d);
}

/* ---- life cycle ---- */

int wt_devices_new(struct wt_devices **out, struct event_base *base, struct wt_workers *workers,
		   struct wt_sched *sched, struct wt_rules *rules, const struct wt_devices_options *o)
{
	struct wt_devices *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->base = base;
	d->workers = workers;
	d->sched = sched;
	d->rules = rules;
	d->o = *o;
	if (d->o.rescan_ms <= 0)
		d->o.rescan_ms = 10000;
	d->conninfo = strdup(o->conninfo);
	d->timer = evtimer_new(base, on_timer, d);
	if (!d->conninfo || !d->timer) {
		wt_devices_free(d);
		return -ENOMEM;
	}
	d->o.conninfo = d->conninfo;
	*out = d;
	return 0;
}

void wt_devices_on_change(struct wt_devices *d, void (*fn)(void *ctx), void *ctx)
{
	d->on_change = fn;
	d->on_change_ctx = ctx;
}

void wt_devices_start(struct wt_devices *d)
{
	scan(d);
}

void wt_devices_set_control(struct wt_devices *d, struct wt_control *c)
{
	d->control = c;
}

void wt_devices_set_poll(struct wt_devices *d, int interval_ms, int timeout_ms, int retries)
{
	if (d->o.interval_ms == interval_ms && d->o.timeout_ms == timeout_ms &&
	    d->o.retries == retries)
		return;
	d->o.interval_ms = interval_ms;
	d->o.timeout_ms = timeout_ms;
	d->o.retries = retries;
	d->readd_all = true;
	if (d->sched && !d->scanning) {
		evtimer_del(d->timer);
		scan(d);
	}
}

void wt_devices_stop(struct wt_devices *d)
{
	d->sched = NULL;
	d->control = NULL;
	evtimer_del(d->timer);
}

size_t wt_devices_count(const struct wt_devices *d)
{
	return d->nk;
}

void wt_devices_free(struct wt_devices *d)
{
	if (!d)
		return;
	if (d->timer)
		event_free(d->timer);
	for (size_t i = 0; i < d->nk; i++) {
		free_url(d->k[i].url);
		free(d->k[i].ident);
	}
	free(d->k);
	for (size_t i = 0; i < d->n_pend; i++)
		for (int k = 0; k < 5; k++)
			free(d->pend[i].ident[k]);
	free(d->pend);
	PQfinish(d->pg_scan);
	PQfinish(d->pg_state);
	free(d->conninfo);
	free(d);
}
