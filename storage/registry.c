#include "registry.h"

#include "log.h"
#include "pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int one_id(PGresult *r, int32_t *id)
{
	if (PQntuples(r) < 1) {
		PQclear(r);
		return -ENOENT;
	}
	*id = (int32_t)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int wt_registry_upsert_device(PGconn *c, const struct wt_device_rec *d, int32_t *id)
{
	char port[16], unit[16], rating[40], phases[16];
	PGresult *r;

	if (!d->protocol || !d->address || d->port < 1 || d->port > 65535 || d->unit < 0)
		return -EINVAL;
	snprintf(port, sizeof(port), "%d", d->port);
	snprintf(unit, sizeof(unit), "%d", d->unit);
	snprintf(rating, sizeof(rating), "%.9g", d->rating_a);
	snprintf(phases, sizeof(phases), "%d", d->phases);
	const char *p[] = {d->name ? d->name : d->address,
			   d->protocol,
			   d->address,
			   port,
			   unit,
			   d->credentials,
			   d->profile,
			   d->vendor,
			   d->model,
			   d->serial,
			   d->firmware,
			   d->rating_a >= 0 ? rating : NULL,
			   d->phases > 0 ? phases : NULL,
			   d->feed,
			   d->location,
			   d->info};
	int rc = wt_pg_query(
		c, "upsert device", &r,
		"INSERT INTO devices (name, protocol, address, port, unit, credentials, profile, "
		"vendor, model, serial, firmware, rating_a, phases, feed, location, info) "
		"VALUES ($1, $2, $3, $4, $5, COALESCE($6::jsonb, '{}'), $7, $8, $9, $10, $11, $12, $13, "
		"COALESCE($14, 'none'), $15, COALESCE($16::jsonb, '{}')) "
		"ON CONFLICT (protocol, address, port, unit) DO UPDATE SET "
		"name = EXCLUDED.name, "
		"credentials = COALESCE($6::jsonb, devices.credentials), "
		"profile = COALESCE($7, devices.profile), vendor = COALESCE($8, devices.vendor), "
		"model = COALESCE($9, devices.model), serial = COALESCE($10, devices.serial), "
		"firmware = COALESCE($11, devices.firmware), "
		"rating_a = COALESCE($12::real, devices.rating_a), "
		"phases = COALESCE($13::smallint, devices.phases), "
		"feed = COALESCE($14, devices.feed), location = COALESCE($15, devices.location), "
		"info = COALESCE($16::jsonb, devices.info), updated_at = now() "
		"RETURNING id",
		16, p);
	return rc < 0 ? rc : one_id(r, id);
}

int wt_registry_upsert_entity(PGconn *c, int32_t device_id, enum wt_entity_kind kind, int idx,
			      const char *name, int32_t parent_id, const char *attributes,
			      int32_t *id)
{
	char dev[16], ix[16], par[16];
	PGresult *r;
	const char *kn = wt_entity_kind_name(kind);

	if (!kn || device_id <= 0)
		return -EINVAL;
	snprintf(dev, sizeof(dev), "%" PRId32, device_id);
	snprintf(ix, sizeof(ix), "%d", idx);
	snprintf(par, sizeof(par), "%" PRId32, parent_id);
	char defname[64];
	snprintf(defname, sizeof(defname), "%s %d", kn, idx);
	const char *p[] = {dev,       kn, ix, name ? name : defname, parent_id > 0 ? par : NULL,
			   attributes};
	int rc = wt_pg_query(
		c, "upsert entity", &r,
		"INSERT INTO entities (device_id, kind, idx, name, parent_id, attributes) "
		"VALUES ($1, $2, $3, $4, $5, COALESCE($6::jsonb, '{}')) "
		"ON CONFLICT (device_id, kind, idx) DO UPDATE SET "
		"parent_id = EXCLUDED.parent_id, "
		"attributes = COALESCE($6::jsonb, entities.attributes) RETURNING id",
		6, p);
	return rc < 0 ? rc : one_id(r, id);
}

/* Select first, insert only when missing: INSERT .. ON CONFLICT would
 * consume an identity value on every call and leave holes in the ids. */
static int get_or_create(PGconn *c, const char *sel, const char *ins, int n, const char **p,
			 uint32_t *id)
{
	PGresult *r;
	int32_t v;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (wt_pg_query(c, "find series", &r, sel, n, p) < 0)
			return -EIO;
		if (one_id(r, &v) == 0) {
			*id = (uint32_t)v;
			return 0;
		}
		/* Another instance may insert at the same moment: DO NOTHING, and
		 * the select above finds its row on the second pass. */
		if (wt_pg_query(c, "create series", &r, ins, n, p) < 0)
			return -EIO;
		if (one_id(r, &v) == 0) {
			*id = (uint32_t)v;
			return 0;
		}
	}
	return -EIO;
}

int wt_registry_series(PGconn *c, int32_t entity_id, enum wt_metric metric, uint32_t *id)
{
	char ent[16], met[16];
	if (!wt_metric_info(metric) || entity_id <= 0)
		return -EINVAL;
	snprintf(ent, sizeof(ent), "%" PRId32, entity_id);
	snprintf(met, sizeof(met), "%d", (int)metric);
	const char *p[] = {ent, met};
	return get_or_create(c, "SELECT id FROM series WHERE entity_id = $1 AND metric = $2",
			     "INSERT INTO series (entity_id, metric) VALUES ($1, $2) "
			     "ON CONFLICT (entity_id, metric) DO NOTHING RETURNING id",
			     2, p, id);
}

/* ---- bulk get-or-create (wt_registry_series_bulk) ---- */

/* Entries per round of statements: bounds the literals (a few MB) and the
 * server's memory for one statement. */
#define BULK_CHUNK 50000

/* A growing array literal ({1,2} or {"a","b"}) for one text parameter. */
struct lit {
	char *p;
	size_t len, cap;
	bool oom;
};

static void lit_put(struct lit *l, const char *s, size_t n)
{
	if (l->oom)
		return;
	if (l->len + n + 1 > l->cap) {
		size_t nc = l->cap ? l->cap : 4096;
		while (nc < l->len + n + 1)
			nc *= 2;
		char *q = realloc(l->p, nc);
		if (!q) {
			l->oom = true;
			return;
		}
		l->p = q;
		l->cap = nc;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
	l->p[l->len] = 0;
}

static void lit_int(struct lit *l, bool first, long v)
{
	char b[24];
	int k = snprintf(b, sizeof(b), "%s%ld", first ? "{" : ",", v);
	lit_put(l, b, (size_t)k);
}

/* A text element, double-quoted with " and \ escaped: device-supplied names
 * may hold any byte but NUL. */
static void lit_text(struct lit *l, bool first, const char *s)
{
	lit_put(l, first ? "{\"" : ",\"", 2);
	while (*s) {
		size_t run = strcspn(s, "\"\\");
		lit_put(l, s, run);
		s += run;
		if (*s) {
			const char esc[2] = {'\\', *s++};
			lit_put(l, esc, 2);
		}
	}
	lit_put(l, "\"", 1);
}

static void lit_end(struct lit *l, size_t n)
{
	lit_put(l, n ? "}" : "{}", n ? 1 : 2);
}

static void lit_reset(struct lit *l)
{
	l->len = 0;
	if (l->p)
		l->p[0] = 0;
}

/* An entry's key in entity or series order; pos is its index in the chunk. */
struct bkey {
	int32_t a, b, c; /* (device, kind, idx) or (entity, metric, 0) */
	uint32_t pos;
};

static int cmp_bkey(const void *x, const void *y)
{
	const struct bkey *p = x, *q = y;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	if (p->b != q->b)
		return p->b < q->b ? -1 : 1;
	if (p->c != q->c)
		return p->c < q->c ? -1 : 1;
	return p->pos < q->pos ? -1 : p->pos > q->pos;
}

static bool bkey_same(const struct bkey *p, const struct bkey *q)
{
	return p->a == q->a && p->b == q->b && p->c == q->c;
}

/* Reads (ordinality, id) rows into ids[ordinality - 1]; rows out of range
 * are ignored (they cannot come from our own query). */
static void read_ids(PGresult *r, int32_t *ids, size_t n)
{
	int rows = PQntuples(r);
	for (int i = 0; i < rows; i++) {
		long o = strtol(PQgetvalue(r, i, 0), NULL, 10);
		long id = strtol(PQgetvalue(r, i, 1), NULL, 10);
		if (o >= 1 && (size_t)o <= n && id > 0 && id <= INT32_MAX)
			ids[o - 1] = (int32_t)id;
	}
	PQclear(r);
}

/* Entities in (device, kind, idx) order and series in (entity, metric)
 * order, so concurrent callers take the unique-index locks in the same
 * order and cannot deadlock each other. Only what is missing is inserted
 * (the NOT EXISTS), so identity values are used by new rows only, and a
 * row inserted by another transaction meanwhile makes ON CONFLICT skip
 * ours; the read-back, a new statement, sees theirs. */
static int bulk_chunk(PGconn *c, struct wt_series_want *v, size_t n, struct lit *l)
{
	struct bkey *k = malloc((n ? n : 1) * sizeof(*k));
	uint32_t *grp = malloc((n ? n : 1) * sizeof(*grp));
	int32_t *ids = calloc(n ? n : 1, sizeof(*ids));
	PGresult *r = NULL;
	int rc = -ENOMEM;
	size_t m = 0, u = 0;

	if (!k || !grp || !ids)
		goto out;
	for (size_t i = 0; i < n; i++) {
		v[i].entity_id = 0;
		v[i].series_id = 0;
		if (v[i].device_id <= 0 || !wt_entity_kind_name((enum wt_entity_kind)v[i].kind) ||
		    !wt_metric_info((enum wt_metric)v[i].metric))
			continue;
		k[m++] = (struct bkey){v[i].device_id, v[i].kind, v[i].idx, (uint32_t)i};
	}
	qsort(k, m, sizeof(*k), cmp_bkey);
	/* one entry per entity (the first of its run names it); grp[pos] =
	 * the entity's rank */
	for (size_t j = 0; j < m; j++) {
		if (!u || !bkey_same(&k[u - 1], &k[j]))
			k[u++] = k[j];
		grp[k[j].pos] = (uint32_t)(u - 1);
	}

	for (size_t j = 0; j < u; j++)
		lit_int(&l[0], !j, k[j].a);
	lit_end(&l[0], u);
	for (size_t j = 0; j < u; j++)
		lit_text(&l[1], !j, wt_entity_kind_name((enum wt_entity_kind)k[j].b));
	lit_end(&l[1], u);
	for (size_t j = 0; j < u; j++)
		lit_int(&l[2], !j, k[j].c);
	lit_end(&l[2], u);
	for (size_t j = 0; j < u; j++) {
		const struct wt_series_want *w = &v[k[j].pos];
		char defname[64];
		snprintf(defname, sizeof(defname), "%s %d",
			 wt_entity_kind_name((enum wt_entity_kind)w->kind), (int)w->idx);
		lit_text(&l[3], !j, w->name ? w->name : defname);
	}
	lit_end(&l[3], u);
	if (l[0].oom || l[1].oom || l[2].oom || l[3].oom)
		goto out;
	const char *pe[] = {l[0].p, l[1].p, l[2].p, l[3].p};
	rc = -EIO;
	if (wt_pg_query(c, "create entities", &r,
			"INSERT INTO entities (device_id, kind, idx, name) "
			"SELECT u.d, u.k, u.i, u.n "
			"FROM unnest($1::int[], $2::text[], $3::int[], $4::text[]) "
			"WITH ORDINALITY AS u(d, k, i, n, o) "
			"WHERE EXISTS (SELECT 1 FROM devices dv WHERE dv.id = u.d) "
			"AND NOT EXISTS (SELECT 1 FROM entities e "
			"WHERE e.device_id = u.d AND e.kind = u.k AND e.idx = u.i) "
			"ORDER BY u.o ON CONFLICT (device_id, kind, idx) DO NOTHING",
			4, pe) < 0)
		goto out;
	PQclear(r);
	if (wt_pg_query(c, "find entities", &r,
			"SELECT u.o, e.id FROM unnest($1::int[], $2::text[], $3::int[]) "
			"WITH ORDINALITY AS u(d, k, i, o) JOIN entities e "
			"ON e.device_id = u.d AND e.kind = u.k AND e.idx = u.i",
			3, pe) < 0)
		goto out;
	read_ids(r, ids, u);
	r = NULL;

	/* series: the entries whose entity exists, in (entity, metric) order */
	size_t s = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].device_id <= 0 || !wt_entity_kind_name((enum wt_entity_kind)v[i].kind) ||
		    !wt_metric_info((enum wt_metric)v[i].metric))
			continue;
		v[i].entity_id = ids[grp[i]];
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].entity_id > 0)
			k[s++] = (struct bkey){v[i].entity_id, v[i].metric, 0, (uint32_t)i};
	qsort(k, s, sizeof(*k), cmp_bkey);
	for (int j = 0; j < 4; j++)
		lit_reset(&l[j]);
	for (size_t j = 0; j < s; j++)
		lit_int(&l[0], !j, k[j].a);
	lit_end(&l[0], s);
	for (size_t j = 0; j < s; j++)
		lit_int(&l[1], !j, k[j].b);
	lit_end(&l[1], s);
	rc = -ENOMEM;
	if (l[0].oom || l[1].oom)
		goto out;
	const char *ps[] = {l[0].p, l[1].p};
	rc = -EIO;
	if (wt_pg_query(c, "create series", &r,
			"INSERT INTO series (entity_id, metric) SELECT u.e, u.m "
			"FROM unnest($1::int[], $2::smallint[]) WITH ORDINALITY AS u(e, m, o) "
			"WHERE NOT EXISTS (SELECT 1 FROM series s "
			"WHERE s.entity_id = u.e AND s.metric = u.m) "
			"ORDER BY u.o ON CONFLICT (entity_id, metric) DO NOTHING",
			2, ps) < 0)
		goto out;
	PQclear(r);
	if (wt_pg_query(c, "find series", &r,
			"SELECT u.o, s.id FROM unnest($1::int[], $2::smallint[]) "
			"WITH ORDINALITY AS u(e, m, o) JOIN series s "
			"ON s.entity_id = u.e AND s.metric = u.m",
			2, ps) < 0)
		goto out;
	memset(ids, 0, s * sizeof(*ids));
	read_ids(r, ids, s);
	r = NULL;
	for (size_t j = 0; j < s; j++)
		v[k[j].pos].series_id = (uint32_t)ids[j];
	rc = 0;
out:
	for (int j = 0; j < 4; j++)
		lit_reset(&l[j]);
	free(k);
	free(grp);
	free(ids);
	return rc;
}

int wt_registry_series_bulk(PGconn *c, struct wt_series_want *v, size_t n)
{
	struct lit l[4] = {{0}};
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i += BULK_CHUNK)
		rc = bulk_chunk(c, v + i, n - i < BULK_CHUNK ? n - i : BULK_CHUNK, l);
	for (int j = 0; j < 4; j++)
		free(l[j].p);
	return rc;
}

int wt_registry_aggregate_series(PGconn *c, const char *owner_kind, int32_t owner_id,
				 enum wt_metric metric, int phase, char feed, uint32_t *id)
{
	char own[16], met[16], ph[8], fd[2] = {feed, 0};
	if (!wt_metric_info(metric) || !owner_kind || owner_id <= 0 || phase < 0 || phase > 3 ||
	    (feed && (feed < 'A' || feed > 'D')))
		return -EINVAL;
	snprintf(own, sizeof(own), "%" PRId32, owner_id);
	snprintf(met, sizeof(met), "%d", (int)metric);
	snprintf(ph, sizeof(ph), "%d", phase);
	const char *p[] = {owner_kind, own, met, phase ? ph : NULL, feed ? fd : NULL};
	return get_or_create(
		c,
		"SELECT id FROM series WHERE owner_kind = $1 AND owner_id = $2 AND metric = $3 "
		"AND agg_phase IS NOT DISTINCT FROM $4::smallint "
		"AND agg_feed IS NOT DISTINCT FROM $5::text",
		"INSERT INTO series (owner_kind, owner_id, metric, agg_phase, agg_feed) "
		"VALUES ($1, $2, $3, $4::smallint, $5::text) ON CONFLICT DO NOTHING RETURNING id",
		5, p, id);
}

int wt_registry_list_series(PGconn *c, struct wt_series_info **out, size_t *n)
{
	PGresult *r;
	*out = NULL;
	*n = 0;
	if (wt_pg_query(c, "list series", &r, "SELECT id, metric FROM series ORDER BY id", 0,
			NULL) < 0)
		return -EIO;
	size_t rows = (size_t)PQntuples(r);
	struct wt_series_info *v = calloc(rows ? rows : 1, sizeof(*v));
	if (!v) {
		PQclear(r);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < rows; i++) {
		long id = strtol(PQgetvalue(r, (int)i, 0), NULL, 10);
		long m = strtol(PQgetvalue(r, (int)i, 1), NULL, 10);
		const struct wt_metric_info *mi = wt_metric_info((enum wt_metric)m);
		if (id <= 0 || !mi) {
			wt_warn("registry: series %ld has unknown metric %ld; skipped", id, m);
			continue;
		}
		v[k++] = (struct wt_series_info){(uint32_t)id, (uint16_t)m, mi->flags};
	}
	PQclear(r);
	*out = v;
	*n = k;
	return 0;
}

int wt_registry_sync_metrics(PGconn *c)
{
	for (int m = 0; m < WT_M__COUNT; m++) {
		const struct wt_metric_info *mi = wt_metric_info((enum wt_metric)m);
		char id[8], fl[8];
		PGresult *r;
		snprintf(id, sizeof(id), "%d", m);
		snprintf(fl, sizeof(fl), "%u", mi->flags);
		const char *p[] = {id, mi->name, mi->unit, fl};
		if (wt_pg_query(
			    c, "sync metrics", &r,
			    "INSERT INTO metrics (id, name, unit, flags) VALUES ($1, $2, $3, $4) "
			    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
			    "unit = EXCLUDED.unit, flags = EXCLUDED.flags",
			    4, p) < 0)
			return -EIO;
		PQclear(r);
	}
	return 0;
}
