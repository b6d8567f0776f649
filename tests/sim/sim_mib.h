/* sim_mib.h — MIB views of simulated devices. Each model is a table of
 * objects (OID template, ASN.1 type, value source, scale), like NUT's
 * mib2nut tables. For each device shape the table is expanded once into a
 * sorted OID index; values are computed from device state at request time. */
#ifndef WT_SIM_MIB_H
#define WT_SIM_MIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim.h"
#include "sim_ber.h"

/* Object flags. */
enum {
	MIB_RW = 1u << 0, /* writable with the read-write community / v3 user */
};

/* Where an object's value comes from. Measurements are multiplied by k and
 * rounded; enums use a (first value) and b (second value). */
enum mib_var {
	V_CONST = 0,   /* integer a */
	V_STR,         /* string s */
	V_OIDV,        /* OID value s */
	V_IDX,         /* the row's element number (1-based, as in the OID) */
	V_UNIT,        /* unit number, 1-based plus a (so a = -1 gives 0-based) */
	V_ELEM,        /* element number within its unit, 1-based */
	V_NOMINAL_V,   /* nominal voltage (PDU: line voltage of its wiring; UPS: output) */
	V_UNIXTIME,    /* seconds since 1970 now */
	/* system group and identity */
	V_SYSDESCR, V_SYSOBJID, V_UPTIME, V_NAME, V_SERIAL, V_FIRMWARE, V_MAC, V_MODEL_STR,
	V_LOCATION,
	/* counts */
	V_N_UNITS, V_N_OUTLETS, V_N_OUTLETS_ALL, V_N_LINES, V_N_LINES_ALL, V_N_BRANCHES,
	V_N_BRANCHES_ALL, V_N_SENSORS,
	/* PDU unit / inlet */
	V_IN_VOLTAGE, V_IN_CURRENT, V_IN_POWER, V_IN_VA, V_IN_PF, V_IN_ENERGY, V_IN_VAH, V_IN_FREQ,
	V_IN_RATING, V_IN_NEUTRAL, V_IN_LOADSTATE, V_IN_VAR, V_IN_UTIL,
	/* PDU line of the unit */
	V_LN_VOLTAGE, V_LN_CURRENT, V_LN_POWER, V_LN_VA, V_LN_PF, V_LN_ENERGY, V_LN_RATING,
	V_LN_LOADSTATE, V_LN_NAME, V_LN_VAR,
	/* branch */
	V_BR_CURRENT, V_BR_POWER, V_BR_RATING, V_BR_ENERGY, V_BR_TRIP, V_BR_LINE, V_BR_NAME,
	V_BR_LOADSTATE,
	/* outlet */
	V_OUT_NAME, V_OUT_VOLTAGE, V_OUT_CURRENT, V_OUT_POWER, V_OUT_VA, V_OUT_PF, V_OUT_ENERGY,
	V_OUT_STATE, V_OUT_BRANCH, V_OUT_LINE, V_OUT_PENDING, V_OUT_SWITCHABLE, V_OUT_VAR,
	V_OUT_CTRL_APC, V_OUT_CTRL_RARITAN, V_OUT_CTRL_EATON_OFF, V_OUT_CTRL_EATON_ON,
	V_OUT_CTRL_EATON_REBOOT, V_OUT_CTRL_ST4, V_OUT_ST4_STATE, V_OUT_CTRL_TRIPPLITE,
	/* environment sensors of the unit (first of the kind) */
	V_TEMP, V_HUMID, V_TEMP_F,
	/* environment sensor {s}: kind (a temperature, b humidity), name, value
	 * scaled by 10^a (temperature) or 10^b (humidity) */
	V_SENSOR_KIND, V_SENSOR_NAME, V_SENSOR_VALUE,
	/* labels */
	V_ST4_CORD_ID, V_ST4_LINE_LABEL, V_ST4_PHASE_LABEL, V_ST4_BRANCH_LABEL, V_ST4_OUTLET_ID,
	V_RARITAN_OUTLET_LABEL, V_RARITAN_OCP_LABEL,
	/* UPS */
	V_UPS_BATT_STATUS, V_UPS_SEC_ON_BATT, V_UPS_RUNTIME, V_UPS_CHARGE, V_UPS_BATT_V,
	V_UPS_BATT_I, V_UPS_BATT_TEMP, V_UPS_IN_FREQ, V_UPS_IN_V, V_UPS_IN_I, V_UPS_IN_P,
	V_UPS_OUT_SOURCE, V_UPS_OUT_FREQ, V_UPS_OUT_V, V_UPS_OUT_I, V_UPS_OUT_P, V_UPS_OUT_LOAD,
	V_UPS_BYP_FREQ, V_UPS_BYP_V, V_UPS_BYP_I, V_UPS_BYP_P, V_UPS_ALARMS, V_UPS_NOMINAL_V,
	V_UPS_RATING_VA, V_UPS_RATING_W, V_UPS_LOAD_PCT, V_UPS_N_LINES, V_UPS_IN_V1, V_UPS_OUT_V1,
	V_UPS_OUT_I1,
	V__COUNT
};

/* One object: an OID template with tokens for the instance, e.g.
 * "1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.{O}". Tokens: {u} unit 1-based, {U} unit
 * 0-based, {o} outlet in unit, {O} outlet numbered across units, {l} line in
 * unit, {L} line across units, {b} branch in unit, {B} branch across units,
 * {s} sensor in unit, {p} UPS line. */
struct mib_obj {
	const char *oid;
	uint8_t type;  /* BER_* */
	uint16_t var;  /* enum mib_var */
	double k;      /* scale for measurements (0 = 1) */
	int32_t a, b;  /* parameters (enum values, constants, offsets) */
	const char *s; /* constant string / OID */
	uint8_t flags; /* MIB_* */
};

struct mib_model {
	const char *sysobjid;
	const char *product; /* model name reported by the device */
	const char *vendor;
	const struct mib_obj *objs;
	size_t n_objs;
};

/* The model table for a device model; NULL if it has no SNMP view. */
const struct mib_model *mib_model_for(enum sim_model m);

struct mib_entry {
	uint32_t off;   /* into the view's arcs */
	uint16_t len;
	uint16_t obj;   /* index into the model's objs */
	uint8_t unit;   /* 0-based */
	uint8_t elem;   /* 0-based element in the unit */
	uint16_t inst;  /* 1-based instance number as it appears in the OID */
};

struct mib_view {
	const struct mib_model *model;
	uint32_t *arcs;
	size_t n;
	struct mib_entry *entries; /* sorted by OID */
};

/* The (cached) view for a device's model and shape; NULL on allocation failure. */
const struct mib_view *mib_view_get(const struct sim_device *dev);
/* Frees every cached view (at exit). */
void mib_views_free(void);
/* Index of the entry equal to oid (exact) or, if next, the first entry after
 * oid; -1 if none. */
long mib_find(const struct mib_view *v, const uint32_t *oid, size_t n, bool next);

/* A computed value ready to encode. */
struct mib_value {
	uint8_t type;
	int64_t i;
	const void *s;
	size_t slen;
	uint32_t oid[BER_MAX_OID];
	size_t oid_len;
	char buf[256];
};
/* Computes entry e of the view for dev at now_ms. */
void mib_value_get(struct sim_device *dev, const struct mib_view *v, long e, int64_t now_ms,
		   struct mib_value *out);
/* Encodes a value as a BER TLV. */
void mib_value_put(struct ber_wr *w, const struct mib_value *val);

/* SNMP error-status values used by SET. */
enum {
	SNMP_ERR_NOERROR = 0,
	SNMP_ERR_TOOBIG = 1,
	SNMP_ERR_NOSUCHNAME = 2,
	SNMP_ERR_BADVALUE = 3,
	SNMP_ERR_READONLY = 4,
	SNMP_ERR_GENERR = 5,
	SNMP_ERR_NOACCESS = 6,
	SNMP_ERR_WRONGTYPE = 7,
	SNMP_ERR_WRONGLENGTH = 8,
	SNMP_ERR_WRONGVALUE = 10,
	SNMP_ERR_NOCREATION = 11,
	SNMP_ERR_NOTWRITABLE = 17,
};
/* Validates a SET of entry e (phase 1, commit=false) or performs it
 * (commit=true). Returns an SNMP error-status, 0 on success. */
int mib_value_set(struct sim_device *dev, const struct mib_view *v, long e, uint8_t type,
		  int64_t ival, int64_t now_ms, bool commit);

#endif
