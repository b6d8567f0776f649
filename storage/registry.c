#include "registry.h"

#include "log.h"
#include "pg.h"

#include <errno.h>
#include <inttypes.h>
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
