/* Modbus register profiles (JSON files in pollers/profiles/modbus/, format in
 * pollers/profiles/MODBUS-FORMAT.md) and the pure half of the Modbus driver:
 * register decoding and span planning. Nothing here does I/O, so the
 * fuzzer and the unit tests drive it directly.
 *
 * A profile maps registers onto the canonical vocabulary (server/model.h):
 * function code (3 holding / 4 input), type with word and byte order,
 * scale (mul, div, a power-of-two divisor), enum and bit maps, entity +
 * metric, identity registers and outlet control registers. */
#ifndef WT_POLLERS_MODBUS_MAP_H
#define WT_POLLERS_MODBUS_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pollers/profile.h"

#define WT_MB_MAX_READ 125 /* registers per read request (Modbus limit) */

enum wt_mb_type {
	WT_MB_U16 = 0,
	WT_MB_S16,
	WT_MB_U32,
	WT_MB_S32,
	WT_MB_F32,
	WT_MB_F64,
	WT_MB_STR,
	WT_MB__TYPES
};

struct wt_mb_map {
	long long from;
	double to;
};

/* How one value is read and turned into a canonical number or string.
 * value = raw * mul / div + add; div may come from "pow2": n (div = 2^n). */
struct wt_mb_value {
	int fc;   /* 3 or 4 */
	int addr; /* absolute, or offset from the entity block (rel) */
	bool rel; /* addr is an offset inside the entity's block */
	enum wt_mb_type type;
	int len;         /* registers (derived from the type, or given for strings) */
	bool word_le;    /* multi-register values: first register = low word */
	bool byte_swap;  /* bytes swapped inside each register (strings: low byte first) */
	int bit;         /* -1, or the bit of the raw integer that gives 0/1 */
	bool bit_invert; /* the bit means "not": 1 -> 0 */
	double mul, div, add;
	struct wt_mb_map *map; /* enum map on the raw integer; values not in it are dropped */
	size_t n_map;
	long long *invalid; /* raw integers meaning "not available" */
	size_t n_invalid;
	bool na_markers; /* the usual markers (0xFFFF, 0x8000, 0xFFFFFFFF, 0x80000000, NaN) mean n/a
			  */
	bool is_static;  /* read at bind only */
};

struct wt_mb_metric {
	int metric; /* enum wt_metric */
	struct wt_mb_value v;
	/* kept only when this register (read at bind) equals when_eq */
	bool has_when;
	struct wt_mb_value when;
	long long when_eq;
};

/* Outlet control: write value[cmd] to a register (FC 6) or a register pair
 * (FC 16), then re-read the entity's outlet_state until it says so. */
struct wt_mb_control {
	bool has;
	int fc;   /* 6 or 16 */
	int addr; /* absolute; per instance addr + stride * (i - 1) */
	int stride;
	int regs;                       /* 1 or 2 (FC 16, big-endian words) */
	long long value[WT_CTL__COUNT]; /* -1 where the device has no such command */
	bool has_switchable;
	struct wt_mb_value switchable; /* nonzero = switchable; read at bind */
};

struct wt_mb_entity {
	int kind;         /* enum wt_entity_kind */
	long index;       /* index of the first instance */
	int count;        /* fixed number of instances (default 1) */
	int count_ref;    /* -1, or the profile count whose value gives the instances */
	int max;          /* instances beyond this are ignored */
	int base, stride; /* block of instance i starts at base + stride * (i - 1) */
	char *name_fmt;   /* "Outlet {i}", or NULL */
	bool has_name;
	struct wt_mb_value name; /* a string register with the entity's name */
	struct wt_mb_metric *metrics;
	size_t n_metrics;
	struct wt_mb_control control;
};

struct wt_mb_count {
	char *name;
	struct wt_mb_value v;
};

struct wt_mb_match {
	struct wt_mb_value v;
	long long *in; /* numeric values that select the profile */
	size_t n_in;
	char **prefix; /* string prefixes that select it (NULL-terminated) */
};

struct wt_mb_profile {
	char *name;
	char *file;
	char *description;
	char *device_type;
	int max_regs; /* per read request, 1..125 (default 120) */
	int max_gap;  /* unused registers a span may swallow to save a request (default 8) */
	struct wt_mb_match *match; /* all must hold; none: only chosen by name */
	size_t n_match;
	struct wt_mb_value ident[WT_ID__COUNT];
	bool has_ident[WT_ID__COUNT];
	char *ident_const[WT_ID__COUNT]; /* fixed identity text ("APC"), or NULL */
	struct wt_mb_count *counts;
	size_t n_counts;
	struct wt_mb_entity *entities;
	size_t n_entities;
};

struct wt_mb_profile_set {
	struct wt_mb_profile **v;
	size_t n;
};

/* Parses one profile from JSON text; NULL with "JSON path: what" in err. */
struct wt_mb_profile *wt_mb_profile_parse(const char *json, size_t len, const char *file, char *err,
					  size_t errlen) __attribute__((warn_unused_result));
void wt_mb_profile_free(struct wt_mb_profile *p);
/* Loads every *.json of dir; bad files are logged and skipped. Returns the
 * number loaded or a negative errno. */
int wt_mb_profiles_load_dir(struct wt_mb_profile_set *set, const char *dir)
	__attribute__((warn_unused_result));
void wt_mb_profiles_free(struct wt_mb_profile_set *set);
const struct wt_mb_profile *wt_mb_profiles_find(const struct wt_mb_profile_set *set,
						const char *name);

/* Registers a value occupies. */
int wt_mb_value_regs(const struct wt_mb_value *v);
/* Decodes a numeric value from its registers (regs has wt_mb_value_regs
 * entries). Returns true and the canonical value, or false when the device
 * says "not available" or the value is not in the enum map. */
bool wt_mb_decode(const struct wt_mb_value *v, const uint16_t *regs, double *out);
/* The raw integer of a value (for enum maps, "when" and match), false for
 * floats and strings. */
bool wt_mb_decode_raw(const struct wt_mb_value *v, const uint16_t *regs, long long *out);
/* Decodes a string value: ASCII, NUL/space trimmed, non-printables dropped. */
void wt_mb_decode_str(const struct wt_mb_value *v, const uint16_t *regs, char *out, size_t outlen);

/* A read request planned from the points of one poll. */
struct wt_mb_span {
	int fc;
	int addr;
	int count;
};
struct wt_mb_need {
	int fc;
	int addr;
	int count;
};
/* Plans read requests covering every need: sorted by (fc, addr), merged
 * while the gap is at most max_gap and the span stays within max_regs.
 * spans must hold n entries. Returns the number of spans. */
size_t wt_mb_plan(struct wt_mb_need *needs, size_t n, int max_regs, int max_gap,
		  struct wt_mb_span *spans);

#endif
