/* GET /api/v1/stream: resolves what the client subscribes to (?device=ID
 * or ?element=ID; neither: device states and alarms of the whole fleet,
 * no readings) into series, devices and elements on the worker; the loop
 * then turns the request into an event stream (stream.c). */
#include "db.h"
#include "qparam.h"
#include "request.h"
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One more than a stream follows, so the loop can tell the client its
 * subscription was cut (WT_STREAM_SERIES_MAX). */
#define SERIES_LIMIT "20001"
_Static_assert(WT_STREAM_SERIES_MAX == 20000, "SERIES_LIMIT is WT_STREAM_SERIES_MAX + 1");

static json_t *int_column(PGresult *res)
{
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, json_integer(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
	return a;
}

/* Runs sql with one parameter and returns its first column as an array, or
 * NULL after failing r. */
static json_t *ids_of(struct wt_api_req *r, const char *sql, const char *param, const char *what)
{
	char st[6];
	const char *p[] = {param};
	PGresult *res = wt_api_db_exec(r->db, sql, param ? 1 : 0, param ? p : NULL, st);
	if (!res) {
		wt_api_fail_db(r, what);
		return NULL;
	}
	json_t *a = int_column(res);
	PQclear(res);
	return a;
}

void wt_h_stream(struct wt_api_req *r)
{
	int64_t dev, el;
	char id[24];
	if (wt_qp_int(r->query, "device", 1, INT32_MAX, 0, &dev) < 0 ||
	    wt_qp_int(r->query, "element", 1, INT32_MAX, 0, &el) < 0) {
		wt_api_fail(r, 400, "INVALID_QUERY", "parameters \"device\"/\"element\": an id");
		return;
	}
	if (dev && el) {
		wt_api_fail(r, 400, "INVALID_QUERY",
			    "subscribe to a device or an element, not both");
		return;
	}
	json_t *series = NULL, *devices = NULL, *elements = NULL;
	if (dev) {
		snprintf(id, sizeof(id), "%lld", (long long)dev);
		devices = ids_of(r, "SELECT id FROM devices WHERE id = $1", id,
				 "reading the device");
		if (devices && json_array_size(devices) == 0) {
			json_decref(devices);
			wt_api_fail(r, 404, "DEVICE_NOT_FOUND", "device %s does not exist", id);
			return;
		}
		series =
			devices ? ids_of(r,
					 "SELECT s.id FROM series s JOIN entities e ON e.id = s.entity_id"
					 " WHERE e.device_id = $1 ORDER BY s.id LIMIT " SERIES_LIMIT,
					 id, "reading the device's series")
				: NULL;
		elements = json_array();
	} else if (el) {
		snprintf(id, sizeof(id), "%lld", (long long)el);
		elements = ids_of(
			r,
			"WITH RECURSIVE t(id) AS (SELECT id FROM structure_elements WHERE id = $1"
			" UNION ALL SELECT e.id FROM structure_elements e JOIN t ON e.parent_id = t.id)"
			" SELECT id FROM t",
			id, "reading the structure");
		if (elements && json_array_size(elements) == 0) {
			json_decref(elements);
			wt_api_fail(r, 404, "ELEMENT_NOT_FOUND",
				    "structure element %s does not exist", id);
			return;
		}
		devices =
			elements
				? ids_of(r,
					 "WITH RECURSIVE t(id) AS (SELECT id FROM structure_elements WHERE id = $1"
					 " UNION ALL SELECT e.id FROM structure_elements e JOIN t ON e.parent_id = t.id)"
					 " SELECT d.id FROM devices d JOIN t ON d.rack_id = t.id ORDER BY d.id",
					 id, "reading the element's devices")
				: NULL;
		/* The aggregates of the element and of everything in it first,
		 * then its devices' series: past the limit a site stream still
		 * carries its totals. */
		series =
			devices ? ids_of(r,
					 "WITH RECURSIVE t(id, kind) AS (SELECT id, kind FROM structure_elements"
					 " WHERE id = $1 UNION ALL SELECT e.id, e.kind FROM structure_elements e"
					 " JOIN t ON e.parent_id = t.id)"
					 " SELECT id FROM (SELECT s.id, 0 AS pri FROM series s JOIN t"
					 " ON s.owner_kind = t.kind AND s.owner_id = t.id"
					 " UNION ALL SELECT s.id, 1 FROM series s JOIN entities e ON e.id = s.entity_id"
					 " JOIN devices d ON d.id = e.device_id JOIN t ON d.rack_id = t.id) x"
					 " ORDER BY pri, id LIMIT " SERIES_LIMIT,
					 id, "reading the element's series")
				: NULL;
	} else {
		devices = ids_of(r, "SELECT id FROM devices ORDER BY id", NULL, "listing devices");
		series = json_array();
		elements = json_array();
	}
	if (!series || !devices || !elements) {
		json_decref(series);
		json_decref(devices);
		json_decref(elements);
		return;
	}
	wt_api_ok(r, 200,
		  json_pack("{s:o,s:o,s:o,s:b}", "series", series, "devices", devices, "elements",
			    elements, "all", !dev && !el));
}
