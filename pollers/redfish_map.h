/* Redfish resources -> canonical readings (pure: no I/O, so the fuzzer and
 * the tests drive it directly). The mapping is the table in redfish_map.c,
 * documented row by row in pollers/profiles/REDFISH-MAPPING.md.
 *
 * Unknown properties and Oem sections are ignored; a property of the wrong
 * JSON type is skipped, never trusted. */
#ifndef WT_POLLERS_REDFISH_MAP_H
#define WT_POLLERS_REDFISH_MAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct wt_rf_reading {
	int unit; /* PowerDistribution member, 1-based */
	int kind; /* enum wt_entity_kind */
	long index;
	char name[64];
	int metric; /* enum wt_metric */
	double value;
	bool is_static; /* a rating: sent once per bind */
};

/* A threshold the device publishes (Sensor.Thresholds, Circuit.*Thresholds). */
struct wt_rf_threshold {
	int unit, kind;
	long index;
	int metric;
	char which[24]; /* "UpperCritical", "UpperCaution", "LowerCaution", "LowerCritical" */
	double value;
};

struct wt_rf_readings {
	struct wt_rf_reading *v;
	size_t n, cap;
	struct wt_rf_threshold *t;
	size_t nt, capt;
};

void wt_rf_readings_clear(struct wt_rf_readings *r);
void wt_rf_readings_free(struct wt_rf_readings *r);

/* What a resource is, from its @odata.type. */
enum wt_rf_res {
	WT_RF_UNKNOWN = 0,
	WT_RF_SERVICE_ROOT,
	WT_RF_POWER_EQUIPMENT,
	WT_RF_PDU, /* PowerDistribution (RackPDU, FloorPDU, TransferSwitch, ...) */
	WT_RF_CIRCUIT,
	WT_RF_OUTLET,
	WT_RF_METRICS, /* PowerDistributionMetrics */
	WT_RF_SENSOR,
	WT_RF_COLLECTION, /* any *Collection */
	WT_RF_CHASSIS,
};
enum wt_rf_res wt_rf_res_type(json_t *res);

/* Circuits: which collection they came from decides the entity kind. */
enum wt_rf_circuit_role {
	WT_RF_MAINS = 0,
	WT_RF_BRANCHES,
	WT_RF_FEEDERS,
	WT_RF_SUBFEEDS
};

/* Maps a Circuit at 1-based position index of its collection. Mains give an
 * inlet plus phase entities (L1..L3 line-to-neutral, L1-L2.. line-to-line);
 * branches, feeders and subfeeds give branch entities. Returns 0 or
 * -ENOMEM. */
int wt_rf_map_circuit(json_t *res, int unit, enum wt_rf_circuit_role role, long index,
		      struct wt_rf_readings *out) __attribute__((warn_unused_result));
/* Maps an Outlet at position index. Fills target (the Outlet.PowerControl
 * URI, "" when not switchable) when target_len > 0. */
int wt_rf_map_outlet(json_t *res, int unit, long index, struct wt_rf_readings *out, char *target,
		     size_t target_len) __attribute__((warn_unused_result));
/* PowerDistributionMetrics -> the total entity. */
int wt_rf_map_metrics(json_t *res, int unit, struct wt_rf_readings *out)
	__attribute__((warn_unused_result));
/* True for the environment sensors we keep (temperature, humidity, leak,
 * contact); others duplicate circuit readings. */
bool wt_rf_sensor_wanted(json_t *res);
/* Maps a Sensor as environment sensor index (1-based). */
int wt_rf_map_sensor(json_t *res, int unit, long index, struct wt_rf_readings *out)
	__attribute__((warn_unused_result));

/* The Outlet PowerState as 1 on / 0 off, or -1 when absent or unknown. */
int wt_rf_outlet_state(json_t *res);

/* Copies the @odata.id of v (an object), or "" ; true when it has one. */
bool wt_rf_odata_id(json_t *v, char *out, size_t len);
/* True when v carries more than a reference (an expanded resource). */
bool wt_rf_is_expanded(json_t *v);

/* Fuzz / test entry: parses text and maps whatever resource it is, and any
 * expanded members inside it. Never crashes on any input. Returns 0,
 * -EBADMSG (not JSON), -ENOMEM. */
int wt_rf_map_text(const char *text, size_t len, struct wt_rf_readings *out);

#endif
