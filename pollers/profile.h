/* Device profiles: data files (JSON) that map a device model's SNMP OIDs onto
 * the canonical entity/metric vocabulary (server/model.h). The format is
 * documented in pollers/profiles/FORMAT.md; this is its in-memory form.
 *
 * Profiles are loaded once at start-up from a directory. A bad file is
 * reported (file, JSON path, what is wrong) and skipped; it never stops the
 * others from loading. */
#ifndef WT_POLLERS_PROFILE_H
#define WT_POLLERS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#define WT_PROFILE_FORMAT 1

/* One entry of an enum map: device value -> canonical value. */
struct wt_prof_map {
	long long from;
	double to;
};

/* How one value is read and turned into a canonical number or string.
 * OIDs are templates: {i} is the row suffix of the entity's walk, {i1}..{i9}
 * its components, {u} the unit number. */
struct wt_prof_value {
	char *oid;          /* template; NULL for a constant */
	char *constant;     /* a fixed string value (identity), or NULL */
	double mul;         /* value * mul / div + offset */
	double div;
	double offset;
	char *digits_oid;   /* template: value / 10^digits, digits read at bind (Raritan) */
	struct wt_prof_map *map; /* enum map; values not in it are dropped */
	size_t n_map;
	long long *invalid; /* raw values meaning "not available" (-1, 65535...) */
	size_t n_invalid;
	bool is_static;     /* read at bind and after a reboot, not every poll */
};

struct wt_prof_metric {
	int metric;         /* enum wt_metric */
	struct wt_prof_value v;
};

/* Control values for switchable outlets; -1 where the MIB has no such command. */
enum wt_ctl_cmd {
	WT_CTL_ON = 0,
	WT_CTL_OFF,
	WT_CTL_CYCLE,
	WT_CTL_DELAYED_ON,
	WT_CTL_DELAYED_OFF,
	WT_CTL_DELAYED_CYCLE,
	WT_CTL__COUNT
};

struct wt_prof_control {
	char *oid;                    /* template of the writable OID, NULL if none */
	long long value[WT_CTL__COUNT]; /* INTEGER to SET for each command, -1 if absent */
	char *cmd_oid[WT_CTL__COUNT]; /* per-command OID (Eaton: one OID per command), or NULL */
};

/* A template that yields one entity, or one per row of a table walk. */
struct wt_prof_entity {
	int kind;           /* enum wt_entity_kind */
	char *walk;         /* column OID to walk; NULL: a single entity */
	int index_part;     /* suffix component giving the entity index: 1.., 0 = last */
	long index;         /* index of a single entity (no walk) */
	char *index_oid;    /* template of an OID holding the index (a "number" column) */
	int index_major_part; /* with index_stride: index = major * stride + index_part's value */
	long index_stride;
	int max_rows;       /* rows beyond this are ignored (tables longer than their count) */
	char *count_oid;    /* scalar holding the real row count (upsInputNumLines), or NULL */
	char *filter_oid;   /* template: a row is kept only if this OID's value is in filter_in */
	long long *filter_in;
	size_t n_filter;
	char *name_oid;     /* template of the entity's name, or NULL */
	char *name_fmt;     /* fallback name, "{kind} {index}" style, or NULL */
	bool require_name;  /* drop rows whose name OID is empty (unpopulated table rows) */
	char **empty_names; /* names that count as empty ("NA"), NULL-terminated, or NULL */
	int unit_part;      /* suffix component giving the daisy-chain unit, 0 = none */
	char *unit_oid;     /* template of an OID holding the unit number, or NULL */
	struct wt_prof_metric *metrics;
	size_t n_metrics;
	struct wt_prof_control control;
};

enum wt_ident_field {
	WT_ID_VENDOR = 0,
	WT_ID_MODEL,
	WT_ID_SERIAL,
	WT_ID_FIRMWARE,
	WT_ID_NAME,
	WT_ID_RATING,  /* A */
	WT_ID__COUNT
};

struct wt_profile {
	char *name;          /* unique, e.g. "apc-rpdu2" */
	char *file;          /* where it was loaded from */
	char *description;
	char *device_type;   /* "pdu", "ups", "ats", "sensor" */
	char **sysobjectid;  /* prefixes, dotted without leading dot */
	size_t n_sysobjectid;
	bool fallback;       /* tried when no sysObjectID matches (e.g. UPS-MIB) */
	char *probe_oid;     /* must exist (and match probe_equals) to select */
	char *probe_equals;
	int max_repetitions; /* GETBULK size for this model */
	int max_oids;        /* varbinds per GET for this model */
	struct wt_prof_value ident[WT_ID__COUNT];
	bool has_ident[WT_ID__COUNT];
	struct wt_prof_entity *entities;
	size_t n_entities;
};

struct wt_profile_set {
	struct wt_profile **v;
	size_t n;
};

/* Parses one profile from JSON text. On error returns NULL and writes
 * "JSON path: what is wrong" into err. */
struct wt_profile *wt_profile_parse(const char *json, size_t len, const char *file, char *err,
				    size_t errlen) __attribute__((warn_unused_result));
void wt_profile_free(struct wt_profile *p);

/* Loads every *.json in dir (sorted by name). Bad files are logged with the
 * reason and skipped; a duplicate name is skipped too. Returns the number of
 * profiles loaded, or a negative errno if dir cannot be read. */
int wt_profiles_load_dir(struct wt_profile_set *set, const char *dir)
	__attribute__((warn_unused_result));
/* Adds a parsed profile; takes ownership. -EEXIST if the name is taken. */
int wt_profiles_add(struct wt_profile_set *set, struct wt_profile *p)
	__attribute__((warn_unused_result));
void wt_profiles_free(struct wt_profile_set *set);
const struct wt_profile *wt_profiles_find(const struct wt_profile_set *set, const char *name);

/* Expands an OID template with a row suffix and unit. Returns 0, or -EINVAL
 * for an unknown placeholder / missing component, -ENOSPC if out is short. */
int wt_prof_expand(const char *tmpl, const char *suffix, int unit, char *out, size_t outlen)
	__attribute__((warn_unused_result));

const char *wt_ctl_cmd_name(enum wt_ctl_cmd c);
/* Returns the command with that name ("on", "delayed_cycle"), or -1. */
int wt_ctl_cmd_by_name(const char *s);

#endif
