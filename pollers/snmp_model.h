/* From SNMP answers to a device model: profile selection, the bind plan
 * (what to walk, what to GET), the entities and readings a device has, and
 * the conversion of one raw value to a canonical number.
 *
 * Pure code: no I/O, no net-snmp types, so it is unit-tested and fuzzed on
 * its own. The engine (snmp_engine.c) fills a wt_snmp_store with answers. */
#ifndef WT_POLLERS_SNMP_MODEL_H
#define WT_POLLERS_SNMP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pollers/profile.h"

#define WT_OID_STR 160
#define WT_OID_MAXLEN 128 /* sub-identifiers in an OID (RFC 2578) */

enum wt_sv_type {
	WT_SV_NONE = 0, /* noSuchObject, noSuchInstance, endOfMibView, absent */
	WT_SV_INT,      /* INTEGER, Integer32 */
	WT_SV_UINT,     /* Counter32/64, Gauge32, TimeTicks, Unsigned32 */
	WT_SV_STR,      /* OCTET STRING (not NUL-terminated), also IpAddress as text */
	WT_SV_OID,      /* OBJECT IDENTIFIER, as dotted text in s */
	WT_SV_OTHER
};

/* A decoded varbind value. s is borrowed (not owned) unless inside a store. */
struct wt_snmp_val {
	uint8_t type; /* enum wt_sv_type */
	int64_t i;
	uint64_t u;
	const char *s;
	size_t slen;
};

/* A varbind handed to a callback; strings and name point into the response
 * and are valid during the callback only. oid (dotted text) is filled for
 * requests made with text OIDs, "" for binary requests (the poll path). */
struct wt_snmp_vb {
	char oid[WT_OID_STR];
	const unsigned long *name; /* the OID as sub-identifiers */
	size_t name_len;
	struct wt_snmp_val v;
	bool end_of_mib;
};

/* Turns a dotted OID into numbers; returns the count or -EINVAL. */
int wt_oid_parse(const char *s, unsigned long *out, size_t max);

/* An OID -> value map filled by the engine at bind time. Keys are dotted
 * OIDs without a leading dot. Later puts overwrite (duplicate OIDs happen
 * in real agents). */
struct wt_snmp_store;

struct wt_snmp_store *wt_snmp_store_new(void);
void wt_snmp_store_free(struct wt_snmp_store *st);
/* What a bound device keeps of its bind store: the rows of the tables the
 * model's entities walk (all wt_snmp_plan_build reads, when a plan is
 * rebuilt later), not the hundreds of values the bind read once. A new
 * store, or NULL when out of memory (st is not changed). */
struct wt_snmp_model;
struct wt_snmp_store *wt_snmp_store_for_plan(const struct wt_snmp_store *st,
					     const struct wt_snmp_model *m);
int wt_snmp_store_put(struct wt_snmp_store *st, const char *oid, const struct wt_snmp_val *v)
	__attribute__((warn_unused_result));
/* The stored value, or NULL if never stored. */
const struct wt_snmp_val *wt_snmp_store_get(const struct wt_snmp_store *st, const char *oid);
/* Calls fn for each stored OID strictly under prefix, in OID order. */
void wt_snmp_store_subtree(const struct wt_snmp_store *st, const char *prefix,
			   void (*fn)(void *ctx, const char *oid, const struct wt_snmp_val *v),
			   void *ctx);

/* A growable list of owned strings. */
struct wt_strv {
	char **v;
	size_t n;
};
int wt_strv_add(struct wt_strv *sv, const char *s) __attribute__((warn_unused_result));
void wt_strv_free(struct wt_strv *sv);

/* Compares dotted OIDs numerically (<0, 0, >0). */
int wt_oid_cmp(const char *a, const char *b);
/* True if oid is strictly below prefix. */
bool wt_oid_under(const char *oid, const char *prefix);

/* Turns a raw value into a canonical one: map / invalid list, then
 * raw * mul / div * scale + offset. scale is 10^-digits from digits_oid, 1
 * otherwise. Returns 0, -ENODATA (absent or "not available"), or -EINVAL
 * (not a number, or a value the enum map does not know). */
int wt_snmp_convert(const struct wt_prof_value *pv, double scale, const struct wt_snmp_val *raw,
		    double *out) __attribute__((warn_unused_result));

/* The sysObjectID prefixes and fallbacks that could match: OIDs whose GET
 * decides between candidates (match.probe) are added to probes. */
int wt_snmp_probe_oids(const struct wt_profile_set *set, const char *sysobjectid,
		       struct wt_strv *probes) __attribute__((warn_unused_result));
/* Picks the profile: the longest matching sysObjectID prefix whose probe
 * passes, else the first fallback whose probe passes, else NULL. */
const struct wt_profile *wt_snmp_select(const struct wt_profile_set *set, const char *sysobjectid,
					const struct wt_snmp_store *st);

/* Bind step 1: the table columns to walk. */
int wt_snmp_plan_walks(const struct wt_profile *p, struct wt_strv *walks)
	__attribute__((warn_unused_result));
/* Bind step 2 (after the walks are in st): every OID to GET once. */
int wt_snmp_plan_gets(const struct wt_profile *p, const struct wt_snmp_store *st,
		      struct wt_strv *gets) __attribute__((warn_unused_result));

struct wt_snmp_entity {
	int kind; /* enum wt_entity_kind */
	long index;
	int unit; /* daisy-chain unit, 1 when not chained */
	char name[96];
	char ctl_oid[WT_OID_STR]; /* "" when not switchable (else the on/off OID) */
	char sfx[64];             /* row suffix, to expand per-command control OIDs */
	const struct wt_prof_entity *tmpl;
};

struct wt_snmp_point {
	uint32_t entity; /* index into model->entities */
	int metric;      /* enum wt_metric */
	char oid[WT_OID_STR];
	const struct wt_prof_value *pv;
	double scale;
	bool is_static;
	bool via_get;    /* polled by GET: GETNEXT from its predecessor missed it once */
	uint32_t series; /* set by the resolver at bind */
	/* last reading */
	bool have;
	uint8_t quality;
	double value;
};

struct wt_snmp_model {
	const struct wt_profile *profile;
	char *ident[WT_ID__COUNT]; /* strings, NULL if unknown */
	double rating;             /* A, 0 if unknown */
	struct wt_snmp_entity *entities;
	size_t n_entities;
	struct wt_snmp_point *points;
	size_t n_points;
	int units[16]; /* distinct daisy-chain units seen */
	size_t n_units;
};

/* Bind step 3: entities and readings from the walks and GETs in st. Metrics
 * the device does not have are left out; an entity with no readings and no
 * control is left out. Never fails on bad device data, only on ENOMEM. */
int wt_snmp_model_build(const struct wt_profile *p, const struct wt_snmp_store *st,
			struct wt_snmp_model **out) __attribute__((warn_unused_result));
void wt_snmp_model_free(struct wt_snmp_model *m);

/* The OID and INTEGER that perform cmd on entity e; -ENOTSUP if it has none. */
int wt_snmp_control_oid(const struct wt_snmp_entity *e, int cmd, char *oid, size_t len, long *value)
	__attribute__((warn_unused_result));

/* Stores a polled raw value into a point; returns true if it gave a reading. */
bool wt_snmp_point_update(struct wt_snmp_point *pt, const struct wt_snmp_val *raw);

/* ---- poll plan ----
 * How the dynamic points of a bound model are read at every poll, in as
 * few requests as the device allows (SNMPv2c/v3):
 *  - table columns whose rows the bind walk counted are read by GETBULK
 *    repetitions from the column OID; each returned row is matched by its
 *    index (rows may be missing, the agent may stop early or run past the
 *    column: a short answer continues from the last index received);
 *  - scalars (x.0) and the cells of short columns are GETBULK
 *    non-repeaters: GETNEXT from the OID just before them (the previous row
 *    of the bind walk, or the parent of x.0), checked on return; a point
 *    missed that way is moved to the GET list (via_get) for good;
 *  - the rest (and everything on SNMPv1) by multi-OID GETs.
 * sysUpTime.0 rides in the first request. OIDs are kept as numbers and
 * compared as numbers; nothing is allocated per poll. */
struct wt_snmp_plan;

#define WT_REQ_MAX 128 /* varbinds in one request we send */

/* One request of a poll, filled by wt_snmp_plan_next. */
struct wt_snmp_req {
	bool bulk;
	int nonrep;
	int reps;
	const unsigned long *oid[WT_REQ_MAX];
	size_t oid_len[WT_REQ_MAX];
	size_t n;
	/* which plan entries this request carries (for wt_snmp_plan_read) */
	uint32_t first, count; /* non-repeaters (bulk) or GET entries */
	uint16_t col[WT_REQ_MAX];
	size_t n_col;
};

/* Builds the plan of model m (bound from st). bulk: the device speaks
 * v2c/v3. max_rep caps the repetitions of one GETBULK (the profile's
 * max_repetitions). Returns 0 or -ENOMEM. */
int wt_snmp_plan_build(const struct wt_snmp_model *m, const struct wt_snmp_store *st, bool bulk,
		       int max_rep, struct wt_snmp_plan **out) __attribute__((warn_unused_result));
void wt_snmp_plan_free(struct wt_snmp_plan *pl);
/* Starts a poll: every cursor back to its column, every entry unread. */
void wt_snmp_plan_start(struct wt_snmp_plan *pl);
/* Fills the next request of this poll with at most max_oids GET OIDs or
 * non-repeaters and at most max_rep repetitions. Returns true if there is
 * one, false when the poll is complete. Calling it again before
 * wt_snmp_plan_read (a smaller retry after tooBig) is allowed. */
bool wt_snmp_plan_next(struct wt_snmp_plan *pl, int max_oids, int max_rep, struct wt_snmp_req *req);
/* Reads the answer to req into the points of m (the model the plan was
 * built from). Indices of points that got a reading are appended to upd
 * (room for m->n_points); *uptime is set and true returned in *have_uptime
 * when sysUpTime.0 was in the answer. Never fails on bad device data. */
void wt_snmp_plan_read(struct wt_snmp_plan *pl, struct wt_snmp_model *m,
		       const struct wt_snmp_req *req, const struct wt_snmp_vb *vbs, size_t n,
		       uint32_t *upd, size_t *nu, uint64_t *uptime, bool *have_uptime);
/* SNMPv1 noSuchName at errindex (1-based) of GET req: drops that entry from
 * the plan so the batch can be re-sent without it. Returns the point index,
 * UINT32_MAX for sysUpTime.0, or -1 (as int64) if errindex is not in req. */
int64_t wt_snmp_plan_drop(struct wt_snmp_plan *pl, const struct wt_snmp_req *req, int errindex);
/* True when a point moved to the GET list: rebuild the plan before the next poll. */
bool wt_snmp_plan_dirty(const struct wt_snmp_plan *pl);

/* What a plan does, for tests and probe output. */
struct wt_snmp_plan_info {
	size_t columns;       /* table columns read by GETBULK repetitions */
	size_t column_points; /* points in them */
	size_t getnexts;      /* GETNEXT entries (incl. sysUpTime) */
	size_t gets;          /* GET entries (incl. sysUpTime on v1) */
	int repetitions;      /* rows of the longest column, capped */
};
void wt_snmp_plan_info(const struct wt_snmp_plan *pl, struct wt_snmp_plan_info *out);

#endif
