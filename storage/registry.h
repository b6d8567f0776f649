/* The device/entity/series registry in PostgreSQL. Blocking: call from
 * workers (or at start-up), each with its own PGconn. Series ids are
 * resolved once when a device's profile is bound; hot paths then carry the
 * integer. Get-or-create never burns identity values on the fast path, so
 * ids stay dense (the rollup indexes arrays by id). */
#ifndef WT_REGISTRY_H
#define WT_REGISTRY_H

#include "model.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* A device as the poller or the configuration knows it. NULL strings and
 * negative numbers mean "unknown / keep what is stored". */
struct wt_device_rec {
	const char *name;
	const char *protocol; /* snmp, modbus, redfish */
	const char *address;
	int port;
	int unit;                /* daisy-chain unit, Modbus unit id; 0 when none */
	const char *credentials; /* JSON; never logged, never returned by the API */
	const char *profile;
	const char *vendor, *model, *serial, *firmware;
	double rating_a;  /* < 0 unknown */
	int phases;       /* 1..3, <= 0 unknown */
	const char *feed; /* A, B, C, D, none */
	const char *location;
	const char *info; /* JSON object */
};

/* Inserts or updates the device with that endpoint (protocol, address,
 * port, unit); *id gets its id. Returns 0 or -EIO (-EINVAL on bad input). */
int wt_registry_upsert_device(PGconn *c, const struct wt_device_rec *d, int32_t *id)
	__attribute__((warn_unused_result));

/* Inserts or updates entity (device, kind, idx). The name is set only on
 * insert (operators edit it); attributes (JSON, may be NULL) are replaced.
 * parent_id <= 0 means none. */
int wt_registry_upsert_entity(PGconn *c, int32_t device_id, enum wt_entity_kind kind, int idx,
			      const char *name, int32_t parent_id, const char *attributes,
			      int32_t *id) __attribute__((warn_unused_result));

/* The series id of (entity, metric), created if missing. */
int wt_registry_series(PGconn *c, int32_t entity_id, enum wt_metric metric, uint32_t *id)
	__attribute__((warn_unused_result));

/* One device series wanted by wt_registry_series_bulk. */
struct wt_series_want {
	int32_t device_id;
	int32_t kind;       /* enum wt_entity_kind */
	int32_t idx;        /* the stored entity index */
	int32_t metric;     /* enum wt_metric */
	const char *name;   /* the entity's name if it is created; NULL: "<kind> <idx>" */
	int32_t entity_id;  /* out: the entity, 0 when it could not be had */
	uint32_t series_id; /* out: the series, 0 when it could not be had */
};

/* Gets or creates the entities and series of v[0..n) in a few statements
 * per 50,000 entries (INSERT ... SELECT FROM unnest() of what is missing,
 * then one join reading every id back), with the semantics of
 * wt_registry_upsert_entity (name set on insert only; parent and attributes
 * of an existing entity untouched) followed by wt_registry_series: safe
 * against concurrent callers (ON CONFLICT DO NOTHING; the read-back sees
 * their committed rows), no identity value used for a row that exists.
 * Entries with a bad kind/metric or a device that does not exist keep ids
 * 0. Returns 0, -ENOMEM, or -EIO when a statement failed (an open
 * transaction is then aborted: roll it, or a savepoint, back). */
int wt_registry_series_bulk(PGconn *c, struct wt_series_want *v, size_t n)
	__attribute__((warn_unused_result));

/* The id of an aggregate series owned by a structure element: owner_kind is
 * rack, row, room or site; phase 1..3 or 0 for all; feed 'A'..'D' or 0. */
int wt_registry_aggregate_series(PGconn *c, const char *owner_kind, int32_t owner_id,
				 enum wt_metric metric, int phase, char feed, uint32_t *id)
	__attribute__((warn_unused_result));

struct wt_series_info {
	uint32_t id;
	uint16_t metric; /* enum wt_metric */
	unsigned flags;  /* WT_MF_* of the metric */
};

/* Every series, ordered by id (to register them in the rollup at start). */
int wt_registry_list_series(PGconn *c, struct wt_series_info **out, size_t *n)
	__attribute__((warn_unused_result));

/* Makes the metrics table match server/model.c (names, units, flags).
 * wt_storage_open does it; series can only be created after it ran (FK). */
int wt_registry_sync_metrics(PGconn *c) __attribute__((warn_unused_result));

#endif
