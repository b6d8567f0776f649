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

/* An entry's key in entity or series order: pos is its index in the chunk
 * (entities: of the entry that names it), at its rank in the list a
 * statement got. */
struct bkey {
	int32_t a, b, c; /* (device, kind, idx) or (entity, metric, 0) */
	uint32_t pos, at;
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

/* The entry of k[0..n) (sorted, unique) with key (a, b, c), or NULL. */
static struct bkey *bkey_find(struct bkey *k, size_t n, int32_t a, int32_t b, int32_t c)
{
	struct bkey want = {a, b, c, 0, 0};
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (bkey_same(&k[mid], &want))
			return &k[mid];
		int d = k[mid].a != a ? (k[mid].a < a ? -1 : 1)
			: k[mid].b != b ? (k[mid].b < b ? -1 : 1)
					: (k[mid].c < c ? -1 : 1);
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The array parameters of k[0..n): entities (device, kind, idx, name),
 * series (entity, metric). False when out of memory. */
static bool build(struct lit *l, const struct bkey *k, size_t n, bool entity,
		  const struct wt_series_want *v)
{
	for (int j = 0; j < 4; j++)
		lit_reset(&l[j]);
	for (size_t j = 0; j < n; j++) {
		lit_int(&l[0], !j, k[j].a);
		if (!entity) {
			lit_int(&l[1], !j, k[j].b);
			continue;
		}
		const char *kn = wt_entity_kind_name((enum wt_entity_kind)k[j].b);
		const struct wt_series_want *w = &v[k[j].pos];
		char defname[64];
		lit_text(&l[1], !j, kn);
		lit_int(&l[2], !j, k[j].c);
		snprintf(defname, sizeof(defname), "%s %d", kn, (int)k[j].c);
		lit_text(&l[3], !j, w->name ? w->name : defname);
	}
	for (int j = 0; j < (entity ? 4 : 2); j++) {
		lit_end(&l[j], n);
		if (l[j].oom)
			return false;
	}
	return true;
}

/* Each row's id by the unique index, one probe per row (a correlated
 * subquery: a join would be planned as a scan of the whole table, which
 * holds millions of series on a large site). */
static const char *const find_sql[2] = {
	"SELECT u.o, (SELECT s.id FROM series s WHERE s.entity_id = u.e AND s.metric = u.m) "
	"FROM unnest($1::int[], $2::smallint[]) WITH ORDINALITY AS u(e, m, o)",
	"SELECT u.o, (SELECT e.id FROM entities e "
	"WHERE e.device_id = u.d AND e.kind = u.k AND e.idx = u.i) "
	"FROM unnest($1::int[], $2::text[], $3::int[]) WITH ORDINALITY AS u(d, k, i, o)"};
/* Only rows found missing are proposed, so identity values go to new rows
 * only; a row another transaction inserted meanwhile makes ON CONFLICT
 * skip ours (its id is read by a last find). Entities of a device that no
 * longer exists are not proposed (they would break the foreign key). */
static const char *const make_sql[2] = {
	"INSERT INTO series (entity_id, metric) SELECT u.e, u.m "
	"FROM unnest($1::int[], $2::smallint[]) WITH ORDINALITY AS u(e, m, o) "
	"ORDER BY u.o ON CONFLICT (entity_id, metric) DO NOTHING RETURNING id, entity_id, metric",
	"INSERT INTO entities (device_id, kind, idx, name) SELECT u.d, u.k, u.i, u.n "
	"FROM unnest($1::int[], $2::text[], $3::int[], $4::text[]) WITH ORDINALITY AS u(d, k, i, n, o) "
	"WHERE EXISTS (SELECT 1 FROM devices dv WHERE dv.id = u.d) "
	"ORDER BY u.o ON CONFLICT (device_id, kind, idx) DO NOTHING "
	"RETURNING id, device_id, kind, idx"};

/* Runs find_sql over k[0..n) and stores each id found in ids[k[x].at]. */
static int find(PGconn *c, bool entity, const struct bkey *k, size_t n, int32_t *ids,
		const struct wt_series_want *v, struct lit *l)
{
	PGresult *r;
	if (!build(l, k, n, entity, v))
		return -ENOMEM;
	const char *p[] = {l[0].p, l[1].p, l[2].p};
	if (wt_pg_query(c, entity ? "find entities" : "find series", &r, find_sql[entity],
			entity ? 3 : 2, p) < 0)
		return -EIO;
	for (int i = 0; i < PQntuples(r); i++) {
		long o = strtol(PQgetvalue(r, i, 0), NULL, 10);
		long id = PQgetisnull(r, i, 1) ? 0 : strtol(PQgetvalue(r, i, 1), NULL, 10);
		if (o >= 1 && (size_t)o <= n && id > 0 && id <= INT32_MAX)
			ids[k[o - 1].at] = (int32_t)id;
	}
	PQclear(r);
	return 0;
}

/* Gets or creates the rows of u[0..n) (sorted, unique; at = rank): ids[at]
 * gets each id, 0 when it cannot be had; made[at] is set for rows this call
 * inserted. Rows with fresh[at] (may be NULL) cannot exist yet and are not
 * looked for: series of an entity this transaction inserted (no other
 * transaction sees that entity, so none can have made its series). miss
 * has room for n. Rows are proposed in key order so concurrent callers take
 * the unique index's locks in the same order. */
static int get_or_make(PGconn *c, bool entity, struct bkey *u, size_t n, int32_t *ids,
		       const bool *fresh, bool *made, struct bkey *miss,
		       const struct wt_series_want *v, struct lit *l)
{
	PGresult *r;
	size_t m = 0;
	for (size_t j = 0; j < n; j++)
		if (!fresh || !fresh[u[j].at])
			miss[m++] = u[j];
	int rc = m ? find(c, entity, miss, m, ids, v, l) : 0;
	if (rc)
		return rc;
	m = 0;
	for (size_t j = 0; j < n; j++)
		if (!ids[u[j].at])
			miss[m++] = u[j];
	if (!m)
		return 0;
	if (!build(l, miss, m, entity, v))
		return -ENOMEM;
	const char *p[] = {l[0].p, l[1].p, l[2].p, l[3].p};
	if (wt_pg_query(c, entity ? "create entities" : "create series", &r, make_sql[entity],
			entity ? 4 : 2, p) < 0)
		return -EIO;
	for (int i = 0; i < PQntuples(r); i++) {
		long id = strtol(PQgetvalue(r, i, 0), NULL, 10);
		int32_t a = (int32_t)strtol(PQgetvalue(r, i, 1), NULL, 10);
		int32_t b = entity ? wt_entity_kind_by_name(PQgetvalue(r, i, 2))
				   : (int32_t)strtol(PQgetvalue(r, i, 2), NULL, 10);
		int32_t cc = entity ? (int32_t)strtol(PQgetvalue(r, i, 3), NULL, 10) : 0;
		struct bkey *x = bkey_find(miss, m, a, b, cc);
		if (x && id > 0 && id <= INT32_MAX) {
			ids[x->at] = (int32_t)id;
			made[x->at] = true;
		}
	}
	PQclear(r);
	/* what another transaction made meanwhile (or a device gone) */
	size_t left = 0;
	for (size_t j = 0; j < m; j++)
		if (!ids[miss[j].at])
			miss[left++] = miss[j];
	return left ? find(c, entity, miss, left, ids, v, l) : 0;
}

static bool want_ok(const struct wt_series_want *w)
{
	return w->device_id > 0 && wt_entity_kind_name((enum wt_entity_kind)w->kind) &&
	       wt_metric_info((enum wt_metric)w->metric);
}

static int bulk_chunk(PGconn *c, struct wt_series_want *v, size_t n, struct lit *l)
{
	size_t sz = n ? n : 1;
	struct bkey *k = malloc(sz * sizeof(*k)), *miss = malloc(sz * sizeof(*miss));
	uint32_t *grp = malloc(sz * sizeof(*grp));
	int32_t *ids = calloc(sz, sizeof(*ids));
	bool *made = calloc(sz, sizeof(*made)), *fresh = calloc(sz, sizeof(*fresh));
	int rc = -ENOMEM;
	size_t m = 0, u = 0;

	if (!k || !miss || !grp || !ids || !made || !fresh)
		goto out;
	for (size_t i = 0; i < n; i++) {
		v[i].entity_id = 0;
		v[i].series_id = 0;
		if (want_ok(&v[i]))
			k[m++] = (struct bkey){v[i].device_id, v[i].kind, v[i].idx, (uint32_t)i, 0};
	}
	qsort(k, m, sizeof(*k), cmp_bkey);
	/* one row per entity (the first entry of its run names it); grp[pos]
	 * = the entity's rank */
	for (size_t j = 0; j < m; j++) {
		if (!u || !bkey_same(&k[u - 1], &k[j])) {
			k[u] = k[j];
			k[u].at = (uint32_t)u;
			u++;
		}
		grp[k[j].pos] = (uint32_t)(u - 1);
	}
	if ((rc = get_or_make(c, true, k, u, ids, NULL, made, miss, v, l)))
		goto out;
	/* fresh[i]: entry i's entity was inserted just now */
	for (size_t i = 0; i < n; i++)
		if (want_ok(&v[i])) {
			v[i].entity_id = ids[grp[i]];
			fresh[i] = made[grp[i]];
		}

	/* series of the entries whose entity exists, in (entity, metric) order */
	size_t s = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i].entity_id > 0)
			k[s++] = (struct bkey){v[i].entity_id, v[i].metric, 0, (uint32_t)i, 0};
	qsort(k, s, sizeof(*k), cmp_bkey);
	/* a series asked twice in one chunk is proposed once */
	size_t us = 0;
	for (size_t j = 0; j < s; j++) {
		if (!us || !bkey_same(&k[us - 1], &k[j])) {
			k[us] = k[j];
			k[us].at = (uint32_t)us;
			/* made[] is free again: the series' fresh flags, by rank */
			made[us] = fresh[k[j].pos];
			us++;
		}
		grp[k[j].pos] = (uint32_t)(us - 1);
	}
	memcpy(fresh, made, us * sizeof(*fresh));
	memset(made, 0, sz * sizeof(*made));
	memset(ids, 0, sz * sizeof(*ids));
	if ((rc = get_or_make(c, false, k, us, ids, fresh, made, miss, v, l)))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (v[i].entity_id > 0)
			v[i].series_id = (uint32_t)ids[grp[i]];
	rc = 0;
out:
	free(k);
	free(miss);
	free(grp);
	free(ids);
	free(made);
	free(fresh);
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
