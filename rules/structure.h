/* The data-centre structure in memory: data centres contain rooms, rooms
 * rows, rows racks; a device sits in at most one rack on one power feed.
 * Pure data: the PostgreSQL side is rules/rulesdb.h. A structure is built,
 * then handed to the rules engine, which owns it; a change builds a new one
 * (the tree is small: 20,000 racks load in milliseconds). */
#ifndef WT_RULES_STRUCTURE_H
#define WT_RULES_STRUCTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idmap.h"

enum wt_elem_kind {
	WT_EL_DC = 0,
	WT_EL_ROOM,
	WT_EL_ROW,
	WT_EL_RACK,
	WT_EL__COUNT
};

/* Feed 0 doubles as "all feeds" in aggregate keys. */
enum wt_feed {
	WT_FEED_NONE = 0,
	WT_FEED_A,
	WT_FEED_B,
	WT_FEED_C,
	WT_FEED_D,
	WT_FEED__COUNT
};

struct wt_element {
	int64_t id;
	int64_t parent_id; /* 0 for a data centre */
	enum wt_elem_kind kind;
	char *name;
	char *attrs;     /* JSON object text, or NULL */
	double budget_w; /* rack power budget, 0 = none */
	double budget_a; /* rack current budget per phase, 0 = none */
	int32_t parent;  /* index of the parent, -1 for a data centre */
};

struct wt_placement {
	int64_t device_id;
	int64_t rack_id;
	enum wt_feed feed;
};

struct wt_structure {
	struct wt_element *el;
	size_t n, cap;
	struct wt_placement *pl;
	size_t npl, plcap;
	struct wt_idmap ids;    /* element id -> index */
	struct wt_idmap placed; /* device id -> placement index */
};

struct wt_structure *wt_structure_new(void);
void wt_structure_free(struct wt_structure *s);

/* Adds an element (copies strings). Parents may be added after children;
 * wt_structure_index() links them. */
int wt_structure_add(struct wt_structure *s, int64_t id, int64_t parent_id, enum wt_elem_kind kind,
		     const char *name, const char *attrs, double budget_w, double budget_a)
	__attribute__((warn_unused_result));
/* Places a device in a rack (replaces an earlier placement of that device). */
int wt_structure_place(struct wt_structure *s, int64_t device_id, int64_t rack_id,
		       enum wt_feed feed) __attribute__((warn_unused_result));
/* Builds the id index and parent links. -EINVAL if a parent is missing or
 * of the wrong kind, or a placement names no rack; the structure is then
 * unusable. */
int wt_structure_index(struct wt_structure *s) __attribute__((warn_unused_result));
/* Index of an element by id, or -1. Needs wt_structure_index(). */
int32_t wt_structure_find(const struct wt_structure *s, int64_t id);
/* The placement of a device, or NULL when it is unassigned. */
const struct wt_placement *wt_structure_placement(const struct wt_structure *s, int64_t device_id);

/* True if a child of kind child may sit under a parent of kind parent
 * (parent -1: top level, only a data centre). */
bool wt_elem_parent_ok(int parent_kind, enum wt_elem_kind child);
const char *wt_elem_kind_name(enum wt_elem_kind k); /* "site" for a data centre */
/* "site" (or "dc"), "room", "row", "rack" -> kind, or -1. */
int wt_elem_kind_by_name(const char *name);
/* "A".."D" or "none" -> feed; "" for unknown. */
const char *wt_feed_name(enum wt_feed f);
/* "A".."D", "none" -> feed, or -1. */
int wt_feed_by_name(const char *name);

#endif
