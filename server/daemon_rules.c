/* The rules engine wired to storage and PostgreSQL (daemon_rules.h); the
 * start-up order is the one rules/engine.h documents. */
#include "daemon_rules.h"

#include "log.h"
#include "rules/dbq.h"
#include "rules/engine.h"
#include "rules/rulesdb.h"
#include "storage/storage.h"
#include "workers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wt_drules {
	struct event_base *base;
	struct wt_workers *workers;
	struct wt_storage *storage;
	struct wt_rules *e;
	struct wt_dbq *q;
	struct wt_agg_cache *cache;
	size_t agg_registered; /* cache entries already registered in storage */
	char *conninfo;
	PGconn *pg; /* one reload job at a time */
	bool busy, again;
	bool store_set;
};

struct reload_job {
	struct wt_drules *r;
	struct wt_structure *st;
	struct wt_rule *rules;
	size_t n_rules;
	bool create_aggs; /* only create missing aggregate series */
	int rc;
};

static void feedback(void *ctx, const struct wt_sample *s, size_t n)
{
	struct wt_drules *r = ctx;
	wt_storage_ingest(r->storage, s, n);
}

void wt_drules_samples(void *ctx, const struct wt_sample *s, size_t n)
{
	struct wt_drules *r = ctx;
	wt_rules_on_samples(r->e, s, n);
}

static void on_alarm(void *ctx, const struct wt_alarm_event *ev)
{
	const struct wt_alarm *a = ev->alarm;
	(void)ctx;
	switch (ev->change) {
	case WT_ALARM_RAISED:
		wt_notice("alarm %lld raised (%s): %s", (long long)a->id,
			  wt_severity_name((enum wt_severity)a->severity), a->message ? a->message : "");
		break;
	case WT_ALARM_SEVERITY:
		wt_notice("alarm %lld now %s: %s", (long long)a->id,
			  wt_severity_name((enum wt_severity)a->severity), a->message ? a->message : "");
		break;
	case WT_ALARM_CLEARED:
		wt_notice("alarm %lld cleared: %s", (long long)a->id, a->message ? a->message : "");
		break;
	default:
		break;
	}
}

/* Registers aggregate series the cache learned since last time. */
static void register_aggs(struct wt_drules *r)
{
	size_t n = wt_agg_cache_count(r->cache);
	for (; r->agg_registered < n; r->agg_registered++) {
		struct wt_agg_key k;
		uint32_t id = wt_agg_cache_series_at(r->cache, r->agg_registered, &k);
		const struct wt_metric_info *mi = wt_metric_info((enum wt_metric)k.metric);
		if (id && wt_storage_register(r->storage, id, mi ? mi->flags : 0, 0) < 0)
			wt_error("rules: cannot register aggregate series %u", id);
	}
}

static void commit(struct wt_drules *r)
{
	if (wt_rules_commit(r->e) < 0)
		wt_error("rules: commit failed");
}

/* ---- reloads on a worker ---- */

static bool connect_pg(struct wt_drules *r)
{
	if (r->pg && PQstatus(r->pg) == CONNECTION_OK)
		return true;
	PQfinish(r->pg);
	r->pg = PQconnectdb(r->conninfo);
	if (PQstatus(r->pg) == CONNECTION_OK)
		return true;
	wt_error("rules: cannot connect: %s", PQerrorMessage(r->pg));
	return false;
}

static void reload_work(void *arg)
{
	struct reload_job *j = arg;
	struct wt_drules *r = j->r;

	j->rc = -EIO;
	if (!connect_pg(r))
		return;
	if (j->create_aggs) {
		j->rc = wt_agg_cache_create_missing(r->pg, r->cache);
		return;
	}
	j->rc = wt_rulesdb_load_structure(r->pg, &j->st);
	if (!j->rc)
		j->rc = wt_rulesdb_load_rules(r->pg, &j->rules, &j->n_rules);
}

static void submit(struct wt_drules *r, bool create_aggs);

static void reload_done(void *arg, bool cancelled)
{
	struct reload_job *j = arg;
	struct wt_drules *r = j->r;

	r->busy = false;
	if (cancelled || j->rc) {
		if (!cancelled)
			wt_error("rules: reload failed (%s)", strerror(-j->rc));
		if (j->st)
			wt_rules_set_structure(r->e, j->st); /* takes ownership */
		if (j->rules)
			wt_rulesdb_free_rules(j->rules, j->n_rules);
		free(j);
		return;
	}
	if (!j->create_aggs) {
		wt_rules_set_structure(r->e, j->st);
		wt_rules_set_rules(r->e, j->rules, j->n_rules);
		wt_info("rules: structure and %zu rule(s) reloaded", j->n_rules);
	}
	register_aggs(r);
	commit(r);
	bool more = wt_rules_agg_pending(r->e) > 0 && !j->create_aggs;
	free(j);
	if (r->again) {
		r->again = false;
		submit(r, false);
	} else if (more) {
		submit(r, true);
	}
}

static void submit(struct wt_drules *r, bool create_aggs)
{
	if (r->busy) {
		r->again = true;
		return;
	}
	struct reload_job *j = calloc(1, sizeof *j);
	if (!j)
		return;
	j->r = r;
	j->create_aggs = create_aggs;
	if (wt_workers_submit(r->workers, reload_work, reload_done, j) < 0) {
		free(j);
		return;
	}
	r->busy = true;
}

void wt_drules_maintain(struct wt_drules *r)
{
	if (!r->busy && wt_rules_agg_pending(r->e) > 0)
		submit(r, true);
}

void wt_drules_reload(void *drules)
{
	submit(drules, false);
}

/* ---- start-up ---- */

int wt_drules_start(struct wt_drules **out, struct event_base *base, struct wt_workers *workers,
		    struct wt_storage *storage, const char *conninfo, PGconn *pg)
{
	struct wt_drules *r = calloc(1, sizeof *r);
	struct wt_structure *st = NULL;
	struct wt_rule *rules = NULL;
	struct wt_alarm *al = NULL;
	size_t n_rules = 0, n_al = 0;
	int rc = -ENOMEM;

	if (!r)
		return -ENOMEM;
	r->base = base;
	r->workers = workers;
	r->storage = storage;
	r->conninfo = strdup(conninfo);
	r->e = wt_rules_new(&wt_clock_real);
	r->q = wt_dbq_open(conninfo, 0);
	r->cache = wt_agg_cache_new();
	if (!r->conninfo || !r->e || !r->q || !r->cache)
		goto fail;
	struct wt_alarm_store store = wt_dbq_alarm_store(r->q);
	wt_alarms_set_store(wt_rules_alarms(r->e), &store);
	if (wt_dbq_sync(r->q, 5000) < 0)
		wt_warn("rules: the alarm writer is not connected yet; alarm ids fall back");
	if ((rc = wt_rulesdb_load_bindings(pg, r->e)) < 0)
		goto fail;
	if ((rc = wt_rulesdb_load_structure(pg, &st)) < 0)
		goto fail;
	wt_rules_set_structure(r->e, st);
	if ((rc = wt_rulesdb_load_rules(pg, &rules, &n_rules)) < 0)
		goto fail;
	wt_rules_set_rules(r->e, rules, n_rules);
	if ((rc = wt_rulesdb_load_alarms(pg, &al, &n_al)) < 0)
		goto fail;
	for (size_t i = 0; i < n_al; i++)
		if (!wt_alarms_restore(wt_rules_alarms(r->e), &al[i]))
			wt_warn("rules: alarm %lld not restored", (long long)al[i].id);
	wt_rulesdb_free_alarms(al, n_al);
	if ((rc = wt_agg_cache_load(pg, r->cache)) < 0)
		goto fail;
	r->agg_registered = wt_agg_cache_count(r->cache); /* storage registered them at open */
	wt_rules_set_registry(r->e, &(struct wt_agg_registry){wt_agg_cache_lookup, r->cache});
	wt_rules_set_feedback(r->e, &(struct wt_sample_sink){feedback, r});
	if ((rc = wt_rules_commit(r->e)) < 0)
		goto fail;
	if (wt_rules_agg_pending(r->e)) {
		if ((rc = wt_agg_cache_create_missing(pg, r->cache)) < 0)
			goto fail;
		register_aggs(r);
		if ((rc = wt_rules_commit(r->e)) < 0)
			goto fail;
	}
	size_t orphans = wt_rules_clear_orphans(r->e);
	if (orphans)
		wt_notice("rules: %zu restored alarm(s) cleared: their series or device is gone",
			  orphans);
	if (wt_alarms_subscribe(wt_rules_alarms(r->e), on_alarm, r) < 0 ||
	    wt_rollup_on_close(wt_storage_rollup(storage), wt_rules_on_close, r->e) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	wt_info("rules: %zu rule(s), %zu alarm(s) restored", n_rules, n_al);
	*out = r;
	return 0;
fail:
	wt_error("rules: start-up failed: %s", strerror(-rc));
	wt_drules_free(r);
	return rc;
}

struct wt_rules *wt_drules_engine(struct wt_drules *r)
{
	return r->e;
}

struct wt_dbq *wt_drules_dbq(struct wt_drules *r)
{
	return r->q;
}

void wt_drules_free(struct wt_drules *r)
{
	if (!r)
		return;
	if (r->e)
		wt_rules_free(r->e);
	if (r->q)
		wt_dbq_close(r->q, 5000);
	if (r->cache)
		wt_agg_cache_free(r->cache);
	PQfinish(r->pg);
	free(r->conninfo);
	free(r);
}
