/* Daemon-side discovery: scans on the loop (pollers/discover.h), registers
 * what it found on a worker (storage/registry.h), audits new devices. See
 * daemon_discovery.h. */
#include "daemon_discovery.h"

#include "config.h"
#include "log.h"
#include "pollers/discover.h"
#include "rules/audit.h"
#include "rules/dbq.h"
#include "storage/registry.h"
#include "workers.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_PORTS 4096
#define MAX_COMMUNITIES 32
#define MAX_V3 32
#define MAX_TARGETS 256
#define MAX_SKIPPED_KEPT 1000
#define V3_FILE_MAX (256 * 1024)

enum action {
	ACT_PENDING = 0,
	ACT_REGISTERED,
	ACT_KNOWN,
	ACT_FAILED,
	ACT_SKIPPED
};
static const char *const action_names[] = {"pending", "registered", "known", "failed", "skipped"};

struct entry {
	struct wt_discover_result r;
	char profile[96]; /* copied: r.profile points into the profile set */
	enum action action;
	long device_id;
};

/* One scan's record. */
struct scan {
	int number;
	char *targets;
	bool running;
	int64_t started_ms, finished_ms;
	size_t candidates, probed, found, registered, known, no_profile, skipped;
	struct entry *v;
	size_t n, cap;
};

/* A registration handed to a worker. */
struct reg_job {
	struct wt_ddisc *d;
	int scan;     /* scan number: the record may have been replaced */
	size_t entry; /* index into that scan's entries */
	char host[64];
	int port;
	char name[192];
	char profile[96];
	char info[512];
	char *credentials; /* JSON; secret: wiped and freed */
	/* results */
	int rc;
	bool existed;
	int32_t id;
	char err[200];
};

struct wt_ddisc {
	struct event_base *base;
	struct wt_workers *workers;
	const struct wt_profile_set *profiles;
	struct wt_dbq *audit;
	char *conninfo;
	char *targets_cfg;
	char *ports_text;
	int ports[MAX_PORTS];
	size_t n_ports;
	char *communities_buf; /* secret; split in place */
	const char *communities[MAX_COMMUNITIES];
	size_t n_communities;
	struct wt_snmp_target v3[MAX_V3]; /* secret */
	size_t n_v3;
	int64_t interval_ms;
	int concurrency, rate, timeout_ms;
	/* the running scan: its target strings live in scan_targets_buf */
	struct wt_discover *disc;
	/* what the running (or last) scan uses: the configured ports and
	 * communities, or the ones an API request gave for that scan only */
	int scan_ports[MAX_PORTS];
	size_t n_scan_ports;
	char *scan_ports_text;
	char *scan_comm_buf; /* secret; split in place into scan_comms */
	const char *scan_comms[MAX_COMMUNITIES];
	size_t n_scan_comms;
	char *scan_targets_buf;
	const char *scan_targets[MAX_TARGETS];
	struct scan last;
	int next_number;
	struct event *timer;
	PGconn *pg; /* the worker's; one job at a time */
	bool job_running;
	struct reg_job **queue; /* waiting for the worker */
	size_t nq, capq;
	bool stopped;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wipe_free(char *s)
{
	if (!s)
		return;
	volatile char *p = s;
	while (*p)
		*p++ = 0;
	free(s);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	return s;
}

/* Splits buf in place on commas; empty items dropped. Returns the count or
 * -E2BIG. */
static int split(char *buf, const char **out, size_t max)
{
	size_t n = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		t = trim(t);
		if (!*t)
			continue;
		if (n == max)
			return -E2BIG;
		out[n++] = t;
	}
	return (int)n;
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* "161,21000-21199" -> ports. */
static int parse_ports(const char *text, int *ports, size_t *n, char *err, size_t errlen)
{
	char *buf = strdup(text ? text : "");
	const char *items[MAX_PORTS];
	if (!buf)
		return -ENOMEM;
	int k = split(buf, items, MAX_PORTS);
	*n = 0;
	if (k <= 0) {
		snprintf(err, errlen, "discovery.ports: %s", k == 0 ? "no port" : "too many items");
		free(buf);
		return -EINVAL;
	}
	for (int i = 0; i < k; i++) {
		char item[64];
		snprintf(item, sizeof item, "%s", items[i]);
		char *dash = strchr(item, '-');
		long a, b;
		if (dash)
			*dash = 0;
		if (!parse_int(trim(item), 1, 65535, &a) ||
		    (dash && !parse_int(trim(dash + 1), 1, 65535, &b))) {
			snprintf(err, errlen, "discovery.ports: \"%.40s\" is not a port or a range",
				 items[i]);
			free(buf);
			return -EINVAL;
		}
		if (!dash)
			b = a;
		if (b < a) {
			snprintf(err, errlen,
				 "discovery.ports: range \"%.40s\" ends before it starts",
				 items[i]);
			free(buf);
			return -EINVAL;
		}
		for (long p = a; p <= b; p++) {
			if (*n == MAX_PORTS) {
				snprintf(err, errlen, "discovery.ports: more than %d ports",
					 MAX_PORTS);
				free(buf);
				return -EINVAL;
			}
			ports[(*n)++] = (int)p;
		}
	}
	free(buf);
	return 0;
}

static int level_of(const char *s, int dflt)
{
	if (!s)
		return dflt;
	if (strcmp(s, "noAuthNoPriv") == 0)
		return 0;
	if (strcmp(s, "authNoPriv") == 0)
		return 1;
	if (strcmp(s, "authPriv") == 0)
		return 2;
	return -1;
}

static const char *level_name(int l)
{
	return l == 2 ? "authPriv" : l == 1 ? "authNoPriv" : "noAuthNoPriv";
}

static bool copy_field(char *dst, size_t len, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return true;
	const char *s = json_string_value(v);
	if (!s || strlen(s) >= len)
		return false;
	snprintf(dst, len, "%s", s);
	return true;
}

/* Reads the v3 users file: a JSON list of {"user", "auth", "auth_pass",
 * "priv", "priv_pass", "context", "level"}. Warns when others may read it. */
static int read_v3_file(const char *path, struct wt_snmp_target *v3, size_t *n, bool warn,
			char *err, size_t errlen)
{
	struct stat st;
	json_error_t je;
	*n = 0;
	if (!path || !*path)
		return 0;
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "discovery.v3_file: %s: %s", path, strerror(errno));
		return -ENOENT;
	}
	if (st.st_size > V3_FILE_MAX) {
		snprintf(err, errlen, "discovery.v3_file: %s: larger than %d bytes", path,
			 V3_FILE_MAX);
		return -EINVAL;
	}
	if (warn && (st.st_mode & 077))
		wt_warn("discovery.v3_file %s holds SNMPv3 passwords and is readable by "
			"group or others (mode %03o); chmod 600 it",
			path, (unsigned)(st.st_mode & 0777));
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
		return -EINVAL;
	}
	int rc = 0;
	if (!json_is_array(j)) {
		snprintf(err, errlen, "%s: not a JSON list of SNMPv3 users", path);
		rc = -EINVAL;
		goto out;
	}
	size_t i;
	json_t *u;
	json_array_foreach(j, i, u)
	{
		if (*n == MAX_V3) {
			snprintf(err, errlen, "%s: more than %d users", path, MAX_V3);
			rc = -EINVAL;
			goto out;
		}
		struct wt_snmp_target *t = &v3[*n];
		memset(t, 0, sizeof *t);
		t->version = 3;
		const char *bad = NULL;
		if (!json_is_object(u))
			bad = "not an object";
		else if (!copy_field(t->user, sizeof t->user, u, "user") || !t->user[0])
			bad = "\"user\" missing or too long";
		else if (!copy_field(t->auth_proto, sizeof t->auth_proto, u, "auth") ||
			 !copy_field(t->auth_pass, sizeof t->auth_pass, u, "auth_pass") ||
			 !copy_field(t->priv_proto, sizeof t->priv_proto, u, "priv") ||
			 !copy_field(t->priv_pass, sizeof t->priv_pass, u, "priv_pass") ||
			 !copy_field(t->context, sizeof t->context, u, "context"))
			bad = "a field is not a string or is too long";
		if (!bad) {
			int dflt = t->priv_pass[0] ? 2 : t->auth_pass[0] ? 1 : 0;
			t->level = level_of(json_string_value(json_object_get(u, "level")), dflt);
			if (t->level < 0)
				bad = "\"level\" is not noAuthNoPriv, authNoPriv or authPriv";
			else if (t->level >= 1 && !t->auth_pass[0])
				bad = "\"auth_pass\" missing for this level";
			else if (t->level == 2 && !t->priv_pass[0])
				bad = "\"priv_pass\" missing for authPriv";
			if (t->level >= 1 && !t->auth_proto[0])
				snprintf(t->auth_proto, sizeof t->auth_proto, "SHA");
			if (t->level == 2 && !t->priv_proto[0])
				snprintf(t->priv_proto, sizeof t->priv_proto, "AES");
		}
		if (bad) {
			snprintf(err, errlen, "%s: user #%zu: %s", path, i + 1, bad);
			memset(t, 0, sizeof *t);
			rc = -EINVAL;
			goto out;
		}
		(*n)++;
	}
out:
	json_decref(j);
	if (rc < 0) {
		memset(v3, 0, sizeof *v3 * MAX_V3);
		*n = 0;
	}
	return rc;
}

void wt_ddisc_options_from_config(const struct wt_config *cfg, const char *conninfo,
				  struct wt_ddisc_options *o)
{
	memset(o, 0, sizeof *o);
	o->conninfo = conninfo;
	o->targets = cfg->discovery_targets;
	o->ports = cfg->discovery_ports;
	o->communities = cfg->discovery_communities;
	o->v3_file = cfg->discovery_v3_file;
	o->interval_ms = cfg->discovery_interval_ms;
	o->concurrency = cfg->discovery_concurrency;
	o->rate = cfg->discovery_rate;
	o->timeout_ms = 800;
}

/* Parses everything into d (d zeroed by the caller). */
static int configure(struct wt_ddisc *d, const struct wt_ddisc_options *o, bool warn, char *err,
		     size_t errlen)
{
	int rc = parse_ports(o->ports, d->ports, &d->n_ports, err, errlen);
	if (rc < 0)
		return rc;
	d->communities_buf = strdup(o->communities ? o->communities : "");
	if (!d->communities_buf)
		return -ENOMEM;
	rc = split(d->communities_buf, d->communities, MAX_COMMUNITIES);
	if (rc < 0) {
		snprintf(err, errlen, "discovery.communities: more than %d", MAX_COMMUNITIES);
		return -EINVAL;
	}
	d->n_communities = (size_t)rc;
	for (size_t i = 0; i < d->n_communities; i++)
		if (strlen(d->communities[i]) >= sizeof d->v3[0].community) {
			snprintf(err, errlen, "discovery.communities: community #%zu is too long",
				 i + 1);
			return -EINVAL;
		}
	rc = read_v3_file(o->v3_file, d->v3, &d->n_v3, warn, err, errlen);
	if (rc < 0)
		return rc;
	if (o->targets && *o->targets && d->n_communities + d->n_v3 == 0) {
		snprintf(
			err, errlen,
			"discovery.targets is set but there is no community and no v3 user to try");
		return -EINVAL;
	}
	d->targets_cfg = strdup(o->targets ? o->targets : "");
	d->ports_text = strdup(o->ports ? o->ports : "");
	if (!d->targets_cfg || !d->ports_text)
		return -ENOMEM;
	d->interval_ms = o->interval_ms;
	d->concurrency = o->concurrency;
	d->rate = o->rate;
	d->timeout_ms = o->timeout_ms;
	return 0;
}

static void release_config(struct wt_ddisc *d)
{
	wipe_free(d->communities_buf);
	d->communities_buf = NULL;
	memset(d->v3, 0, sizeof d->v3);
	free(d->targets_cfg);
	free(d->ports_text);
	wipe_free(d->scan_comm_buf);
	d->scan_comm_buf = NULL;
	free(d->scan_ports_text);
	d->scan_ports_text = NULL;
}

int wt_ddisc_check(const struct wt_ddisc_options *o, char *err, size_t errlen)
{
	struct wt_ddisc *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	int rc = configure(d, o, false, err, errlen);
	if (rc == 0 && *d->targets_cfg) {
		/* the targets themselves: parsed by the scanner */
		char *buf = strdup(d->targets_cfg);
		const char *t[MAX_TARGETS];
		int n = buf ? split(buf, t, MAX_TARGETS) : -ENOMEM;
		if (n < 0) {
			snprintf(err, errlen, "discovery.targets: more than %d items", MAX_TARGETS);
			rc = n == -ENOMEM ? -ENOMEM : -EINVAL;
		} else {
			struct event_base *b = event_base_new();
			struct wt_discover *disc = NULL;
			struct wt_profile_set none = {0};
			struct wt_discover_conf c = {
				.targets = t,
				.n_targets = (size_t)n,
				.ports = d->ports,
				.n_ports = d->n_ports,
				.communities = d->communities,
				.n_communities = d->n_communities,
				.v3 = d->v3,
				.n_v3 = d->n_v3,
			};
			char e2[200] = "";
			rc = b ? wt_discover_start(b, &none, &c, NULL, NULL, NULL, &disc, e2,
						   sizeof e2)
			       : -ENOMEM;
			if (rc < 0)
				snprintf(err, errlen, "discovery.targets: %s", e2);
			wt_discover_free(disc);
			if (b)
				event_base_free(b);
		}
		free(buf);
	}
	release_config(d);
	free(d);
	return rc;
}

/* ---- registration on a worker ---- */

static void reg_work(void *arg)
{
	struct reg_job *j = arg;
	struct wt_ddisc *d = j->d;

	if (!d->pg || PQstatus(d->pg) != CONNECTION_OK) {
		PQfinish(d->pg);
		d->pg = PQconnectdb(d->conninfo);
		if (PQstatus(d->pg) != CONNECTION_OK) {
			snprintf(j->err, sizeof j->err, "cannot connect to PostgreSQL: %.150s",
				 PQerrorMessage(d->pg));
			j->rc = -EIO;
			return;
		}
	}
	/* Present already (any unit): the operator's record stays as it is. */
	char port[16];
	snprintf(port, sizeof port, "%d", j->port);
	const char *params[] = {j->host, port};
	PGresult *r = PQexecParams(
		d->pg,
		"SELECT id FROM devices WHERE protocol = 'snmp' AND address = $1 "
		"AND port = $2::int ORDER BY id LIMIT 1",
		2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(j->err, sizeof j->err, "%.190s", PQerrorMessage(d->pg));
		j->rc = -EIO;
		PQclear(r);
		return;
	}
	if (PQntuples(r) > 0) {
		j->existed = true;
		j->id = (int32_t)strtol(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		j->rc = 0;
		return;
	}
	PQclear(r);
	struct wt_device_rec rec = {
		.name = j->name,
		.protocol = "snmp",
		.address = j->host,
		.port = j->port,
		.unit = 0,
		.credentials = j->credentials,
		.profile = j->profile[0] ? j->profile : NULL,
		.rating_a = -1,
		.phases = -1,
		.feed = "none",
		.info = j->info,
	};
	j->rc = wt_registry_upsert_device(d->pg, &rec, &j->id);
	if (j->rc < 0)
		snprintf(j->err, sizeof j->err, "%.190s", PQerrorMessage(d->pg));
}

static void submit_next(struct wt_ddisc *d);

static void job_free(struct reg_job *j)
{
	wipe_free(j->credentials);
	free(j);
}

static void reg_done(void *arg, bool cancelled)
{
	struct reg_job *j = arg;
	struct wt_ddisc *d = j->d;
	d->job_running = false;
	struct entry *e = j->scan == d->last.number && j->entry < d->last.n ? &d->last.v[j->entry]
									    : NULL;
	if (cancelled) {
		if (e)
			e->action = ACT_FAILED;
	} else if (j->rc < 0) {
		wt_error("discovery: %s:%d: cannot register: %s", j->host, j->port, j->err);
		if (e) {
			e->action = ACT_FAILED;
			snprintf(e->r.reason, sizeof e->r.reason, "not registered: %.140s", j->err);
		}
	} else if (j->existed) {
		wt_debug("discovery: %s:%d is device %d already; left as it is", j->host, j->port,
			 (int)j->id);
		if (e) {
			e->action = ACT_KNOWN;
			e->device_id = j->id;
		}
		if (j->scan == d->last.number)
			d->last.known++;
	} else {
		char msg[400];
		snprintf(msg, sizeof msg, "device appeared: \"%s\" at %s:%d (snmp, %s), unassigned",
			 j->name, j->host, j->port, j->profile[0] ? j->profile : "no profile");
		wt_notice("discovery: %s: device %d", msg, (int)j->id);
		if (e) {
			e->action = ACT_REGISTERED;
			e->device_id = j->id;
		}
		if (j->scan == d->last.number)
			d->last.registered++;
		struct wt_audit_event ev = {
			.severity = WT_AUDIT_INFO,
			.state = WT_AUDIT_DONE,
			.category = WT_AUDIT_DEVICE,
			.object_kind = "device",
			.object_id = j->id,
			.message = msg,
		};
		if (d->audit && wt_dbq_audit(d->audit, &ev) < 0)
			wt_warn("audit: discovery event not recorded (queue full)");
	}
	job_free(j);
	submit_next(d);
}

static void submit_next(struct wt_ddisc *d)
{
	while (!d->job_running && d->nq) {
		struct reg_job *j = d->queue[0];
		memmove(d->queue, d->queue + 1, (d->nq - 1) * sizeof *d->queue);
		d->nq--;
		if (wt_workers_submit(d->workers, reg_work, reg_done, j) == 0) {
			d->job_running = true;
			return;
		}
		/* pool full or shutting down: the next scan finds it again */
		wt_warn("discovery: %s:%d not registered now (worker queue full); the next scan "
			"retries",
			j->host, j->port);
		if (j->scan == d->last.number && j->entry < d->last.n)
			d->last.v[j->entry].action = ACT_FAILED;
		job_free(j);
	}
}

/* The credentials JSON (server/daemon_devices.h) of what answered. */
static char *credentials_for(const struct wt_ddisc *d, const struct wt_discover_result *r)
{
	json_t *o = json_object();
	size_t idx;
	char *text = NULL;
	if (!o)
		return NULL;
	if (sscanf(r->credential, "community #%zu", &idx) == 1 && idx >= 1 &&
	    idx <= d->n_scan_comms) {
		json_object_set_new(o, "community", json_string(d->scan_comms[idx - 1]));
		if (r->version == 1)
			json_object_set_new(o, "version", json_string("1"));
	} else if (strncmp(r->credential, "v3 user ", 8) == 0) {
		const struct wt_snmp_target *t = NULL;
		for (size_t i = 0; i < d->n_v3 && !t; i++)
			if (strcmp(d->v3[i].user, r->credential + 8) == 0)
				t = &d->v3[i];
		if (!t)
			goto out;
		json_object_set_new(o, "user", json_string(t->user));
		if (t->level >= 1) {
			json_object_set_new(o, "auth", json_string(t->auth_proto));
			json_object_set_new(o, "auth_pass", json_string(t->auth_pass));
		}
		if (t->level == 2) {
			json_object_set_new(o, "priv", json_string(t->priv_proto));
			json_object_set_new(o, "priv_pass", json_string(t->priv_pass));
		}
		if (t->context[0])
			json_object_set_new(o, "context", json_string(t->context));
		json_object_set_new(o, "level", json_string(level_name(t->level)));
	} else {
		goto out;
	}
	text = json_dumps(o, JSON_COMPACT);
out:
	json_decref(o);
	return text;
}

static void queue_registration(struct wt_ddisc *d, size_t entry)
{
	const struct entry *e = &d->last.v[entry];
	if (d->nq == d->capq) {
		size_t cap = d->capq ? d->capq * 2 : 16;
		struct reg_job **q = reallocarray(d->queue, cap, sizeof *q);
		if (!q) {
			d->last.v[entry].action = ACT_FAILED;
			return;
		}
		d->queue = q;
		d->capq = cap;
	}
	struct reg_job *j = calloc(1, sizeof *j);
	if (!j) {
		d->last.v[entry].action = ACT_FAILED;
		return;
	}
	j->d = d;
	j->scan = d->last.number;
	j->entry = entry;
	snprintf(j->host, sizeof j->host, "%s", e->r.host);
	j->port = e->r.port;
	snprintf(j->profile, sizeof j->profile, "%s", e->profile);
	if (e->r.sysname[0])
		snprintf(j->name, sizeof j->name, "%.100s (%.63s:%d)", e->r.sysname, e->r.host,
			 e->r.port);
	else
		snprintf(j->name, sizeof j->name, "%s:%d", e->r.host, e->r.port);
	json_t *info = json_pack("{s:{s:i,s:s,s:s,s:s?}}", "discovery", "scan", d->last.number,
				 "sysobjectid", e->r.sysobjectid, "credential", e->r.credential,
				 "note", e->profile[0] ? NULL : e->r.reason);
	char *it = info ? json_dumps(info, JSON_COMPACT) : NULL;
	json_decref(info);
	snprintf(j->info, sizeof j->info, "%s", it && strlen(it) < sizeof j->info ? it : "{}");
	free(it);
	j->credentials = credentials_for(d, &e->r);
	if (!j->credentials) {
		d->last.v[entry].action = ACT_FAILED;
		free(j);
		return;
	}
	d->queue[d->nq++] = j;
	submit_next(d);
}

/* ---- scans ---- */

static void on_result(void *ctx, const struct wt_discover_result *r)
{
	struct wt_ddisc *d = ctx;
	struct scan *s = &d->last;
	s->probed++;
	bool found = r->status == WT_DISC_FOUND;
	if (found) {
		s->found++;
		if (!r->profile)
			s->no_profile++;
	} else {
		s->skipped++;
		wt_debug("discovery: %s:%d skipped: %s", r->host, r->port, r->reason);
		if (s->skipped > MAX_SKIPPED_KEPT)
			return;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct entry *v = reallocarray(s->v, cap, sizeof *v);
		if (!v)
			return; /* counted, not kept */
		s->v = v;
		s->cap = cap;
	}
	struct entry *e = &s->v[s->n];
	memset(e, 0, sizeof *e);
	e->r = *r;
	e->r.profile = NULL;
	snprintf(e->profile, sizeof e->profile, "%s", r->profile ? r->profile : "");
	e->action = found ? ACT_PENDING : ACT_SKIPPED;
	s->n++;
	if (found) {
		wt_info("discovery: %s:%d answered (%s, sysObjectID %s, %s)", r->host, r->port,
			r->credential, r->sysobjectid, r->profile ? r->profile : "no profile");
		queue_registration(d, s->n - 1);
	}
}

static void on_done(void *ctx, size_t candidates)
{
	struct wt_ddisc *d = ctx;
	struct scan *s = &d->last;
	s->running = false;
	s->candidates = candidates;
	s->finished_ms = now_ms();
	wt_notice("discovery: scan %d of %s done in %.1f s: %zu candidates, %zu found (%zu "
		  "without a profile), %zu skipped",
		  s->number, s->targets, (double)(s->finished_ms - s->started_ms) / 1000.0,
		  candidates, s->found, s->no_profile, s->skipped);
	/* What was skipped and why, a bounded number of lines (a /16 would
	 * flood the log; the API's status has the first 1000). */
	size_t shown = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->v[i];
		if (e->action != ACT_SKIPPED)
			continue;
		if (shown++ == 20) {
			wt_notice("discovery: ... and %zu more skipped", s->skipped - 20);
			break;
		}
		wt_notice("discovery: skipped %s:%d: %s", e->r.host, e->r.port, e->r.reason);
	}
	/* The scanner itself is freed by the next scan or wt_ddisc_free, never
	 * from inside its own callback. */
}

static void scan_reset(struct scan *s)
{
	free(s->targets);
	free(s->v);
	memset(s, 0, sizeof *s);
}

/* The ports and communities of the next scan: the request's, or the
 * configured ones. 0 or -EINVAL/-ENOMEM with the reason in err. */
static int scan_lists(struct wt_ddisc *d, const struct wt_ddisc_scan *q, char *err, size_t errlen)
{
	int ports[MAX_PORTS];
	size_t n_ports = 0;
	const char *ptext = q->ports && *q->ports ? q->ports : d->ports_text;
	int rc = parse_ports(ptext, ports, &n_ports, err, errlen);
	if (rc < 0)
		return rc;
	char *pcopy = strdup(ptext);
	bool own = q->communities && *q->communities;
	size_t clen = 1;
	for (size_t i = 0; !own && i < d->n_communities; i++)
		clen += strlen(d->communities[i]) + 1;
	char *cbuf = own ? strdup(q->communities) : calloc(1, clen);
	const char *comms[MAX_COMMUNITIES];
	if (!pcopy || !cbuf) {
		free(pcopy);
		wipe_free(cbuf);
		return -ENOMEM;
	}
	if (own) {
		rc = split(cbuf, comms, MAX_COMMUNITIES);
		for (int i = 0; rc > 0 && i < rc; i++)
			if (strlen(comms[i]) >= sizeof d->v3[0].community)
				rc = -ENAMETOOLONG;
		if (rc < 0) {
			snprintf(err, errlen, "communities: %s",
				 rc == -E2BIG ? "too many" : "one is too long");
			free(pcopy);
			wipe_free(cbuf);
			return -EINVAL;
		}
	} else {
		/* the configured list, already split: copy its items in order */
		size_t off = 0;
		for (size_t i = 0; i < d->n_communities; i++) {
			size_t len = strlen(d->communities[i]);
			memcpy(cbuf + off, d->communities[i], len + 1);
			comms[i] = cbuf + off;
			off += len + 1;
		}
		rc = (int)d->n_communities;
	}
	if (rc + (int)d->n_v3 == 0) {
		snprintf(err, errlen, "no community and no SNMPv3 user to try");
		free(pcopy);
		wipe_free(cbuf);
		return -EINVAL;
	}
	memcpy(d->scan_ports, ports, sizeof ports);
	d->n_scan_ports = n_ports;
	free(d->scan_ports_text);
	d->scan_ports_text = pcopy;
	wipe_free(d->scan_comm_buf);
	d->scan_comm_buf = cbuf;
	memcpy(d->scan_comms, comms, sizeof comms);
	d->n_scan_comms = (size_t)rc;
	return 0;
}

int wt_ddisc_start_scan(struct wt_ddisc *d, const char *targets, char *err, size_t errlen)
{
	struct wt_ddisc_scan q = {.targets = targets};
	return wt_ddisc_start_scan_with(d, &q, err, errlen);
}

int wt_ddisc_start_scan_with(struct wt_ddisc *d, const struct wt_ddisc_scan *q, char *err,
			     size_t errlen)
{
	const char *targets = q->targets;
	if (d->stopped) {
		snprintf(err, errlen, "shutting down");
		return -ESHUTDOWN;
	}
	if (d->last.running) {
		snprintf(err, errlen, "scan %d is still running", d->last.number);
		return -EBUSY;
	}
	if (!targets || !*targets)
		targets = d->targets_cfg;
	if (!*targets) {
		snprintf(err, errlen, "no targets (discovery.targets is empty)");
		return -EINVAL;
	}
	/* the previous scan is over, so its lists may be replaced */
	int lrc = scan_lists(d, q, err, errlen);
	if (lrc < 0)
		return lrc;
	char *buf = strdup(targets), *copy = strdup(targets);
	if (!buf || !copy) {
		free(buf);
		free(copy);
		return -ENOMEM;
	}
	int n = split(buf, d->scan_targets, MAX_TARGETS);
	if (n <= 0) {
		snprintf(err, errlen, n == 0 ? "no targets" : "more than %d targets", MAX_TARGETS);
		free(buf);
		free(copy);
		return -EINVAL;
	}
	/* the previous scan is over: free it (never from inside its callbacks) */
	wt_discover_free(d->disc);
	d->disc = NULL;
	free(d->scan_targets_buf);
	d->scan_targets_buf = buf;
	struct wt_discover_conf c = {
		.targets = d->scan_targets,
		.n_targets = (size_t)n,
		.ports = d->scan_ports,
		.n_ports = d->n_scan_ports,
		.communities = d->scan_comms,
		.n_communities = d->n_scan_comms,
		.v3 = d->v3,
		.n_v3 = d->n_v3,
		.concurrency = d->concurrency,
		.rate_per_s = d->rate,
		.timeout_ms = d->timeout_ms,
	};
	scan_reset(&d->last);
	d->last.number = ++d->next_number;
	d->last.targets = copy;
	d->last.started_ms = now_ms();
	d->last.running = true;
	int rc = wt_discover_start(d->base, d->profiles, &c, on_result, on_done, d, &d->disc, err,
				   errlen);
	if (rc < 0) {
		d->last.running = false;
		d->last.finished_ms = d->last.started_ms;
		d->disc = NULL;
		return rc;
	}
	wt_notice("discovery: scan %d of %s (ports %s, %zu communit%s, %zu v3 user%s) started",
		  d->last.number, copy, d->scan_ports_text, d->n_scan_comms,
		  d->n_scan_comms == 1 ? "y" : "ies", d->n_v3, d->n_v3 == 1 ? "" : "s");
	return d->last.number;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct wt_ddisc *d = arg;
	char err[256];
	(void)fd;
	(void)what;
	int rc = wt_ddisc_start_scan(d, NULL, err, sizeof err);
	if (rc < 0 && rc != -EBUSY)
		wt_error("discovery: cannot start a scan: %s", err);
	if (d->interval_ms > 0) {
		struct timeval tv = {(time_t)(d->interval_ms / 1000),
				     (suseconds_t)(d->interval_ms % 1000) * 1000};
		evtimer_add(d->timer, &tv);
	}
}

int wt_ddisc_new(struct wt_ddisc **out, struct event_base *base, struct wt_workers *workers,
		 const struct wt_profile_set *profiles, struct wt_dbq *audit,
		 const struct wt_ddisc_options *o, char *err, size_t errlen)
{
	struct wt_ddisc *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->base = base;
	d->workers = workers;
	d->profiles = profiles;
	d->audit = audit;
	d->conninfo = strdup(o->conninfo ? o->conninfo : "");
	int rc = d->conninfo ? configure(d, o, true, err, errlen) : -ENOMEM;
	if (rc == 0 && !(d->timer = evtimer_new(base, on_timer, d)))
		rc = -ENOMEM;
	if (rc < 0) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		wt_ddisc_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void wt_ddisc_start(struct wt_ddisc *d)
{
	if (!d || !*d->targets_cfg)
		return;
	struct timeval now = {0, 0};
	evtimer_add(d->timer, &now);
}

static const char *status_name(enum wt_discover_status s)
{
	return s == WT_DISC_FOUND ? "found" : s == WT_DISC_REFUSED ? "refused" : "no_answer";
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

char *wt_ddisc_status(const struct wt_ddisc *d)
{
	const struct scan *s = &d->last;
	json_t *o = json_object(), *res = json_array();
	if (!o || !res) {
		json_decref(o);
		json_decref(res);
		return NULL;
	}
	json_object_set_new(o, "scan", json_integer(s->number));
	json_object_set_new(o, "state",
			    json_string(s->number == 0 ? "idle"
					: s->running   ? "running"
						       : "done"));
	json_object_set_new(o, "targets", str_or_null(s->targets));
	json_object_set_new(o, "ports", str_or_null(d->scan_ports_text ? d->scan_ports_text : d->ports_text));
	json_object_set_new(o, "started",
			    s->started_ms ? json_integer(s->started_ms) : json_null());
	json_object_set_new(o, "finished",
			    !s->running && s->finished_ms ? json_integer(s->finished_ms)
							  : json_null());
	json_object_set_new(o, "candidates", json_integer((json_int_t)s->candidates));
	json_object_set_new(o, "probed", json_integer((json_int_t)s->probed));
	json_object_set_new(o, "found", json_integer((json_int_t)s->found));
	json_object_set_new(o, "registered", json_integer((json_int_t)s->registered));
	json_object_set_new(o, "known", json_integer((json_int_t)s->known));
	json_object_set_new(o, "no_profile", json_integer((json_int_t)s->no_profile));
	json_object_set_new(o, "skipped", json_integer((json_int_t)s->skipped));
	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->v[i];
		json_t *r = json_object();
		if (!r)
			break;
		json_object_set_new(r, "host", json_string(e->r.host));
		json_object_set_new(r, "port", json_integer(e->r.port));
		json_object_set_new(r, "status", json_string(status_name(e->r.status)));
		json_object_set_new(r, "credential", str_or_null(e->r.credential));
		json_object_set_new(r, "sysobjectid", str_or_null(e->r.sysobjectid));
		json_object_set_new(r, "sysdescr", str_or_null(e->r.sysdescr));
		json_object_set_new(r, "sysname", str_or_null(e->r.sysname));
		json_object_set_new(r, "profile", str_or_null(e->profile));
		json_object_set_new(r, "reason", str_or_null(e->r.reason));
		json_object_set_new(r, "device_id",
				    e->device_id > 0 ? json_integer(e->device_id) : json_null());
		json_object_set_new(r, "action", json_string(action_names[e->action]));
		json_array_append_new(res, r);
	}
	json_object_set_new(o, "results", res);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

void wt_ddisc_stop(struct wt_ddisc *d)
{
	if (!d)
		return;
	d->stopped = true;
	if (d->timer)
		evtimer_del(d->timer);
	if (d->last.running)
		wt_warn("discovery: scan %d stopped before it finished", d->last.number);
	wt_discover_free(d->disc);
	d->disc = NULL;
	d->last.running = false;
	/* queued registrations not handed to a worker yet are dropped: the
	 * next start-up's scan finds those devices again */
	for (size_t i = 0; i < d->nq; i++)
		job_free(d->queue[i]);
	d->nq = 0;
}

void wt_ddisc_free(struct wt_ddisc *d)
{
	if (!d)
		return;
	wt_discover_free(d->disc);
	for (size_t i = 0; i < d->nq; i++)
		job_free(d->queue[i]);
	free(d->queue);
	if (d->timer)
		event_free(d->timer);
	PQfinish(d->pg);
	scan_reset(&d->last);
	free(d->scan_targets_buf);
	release_config(d);
	free(d->conninfo);
	free(d);
}
