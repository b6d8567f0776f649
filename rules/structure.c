#include "structure.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "site" is a data centre: the word the series table uses for its owner. */
static const char *const kind_names[WT_EL__COUNT] = {"site", "room", "row", "rack"};
static const char *const feed_names[WT_FEED__COUNT] = {"none", "A", "B", "C", "D"};

const char *wt_elem_kind_name(enum wt_elem_kind k)
{
	return (unsigned)k < WT_EL__COUNT ? kind_names[k] : "";
}

int wt_elem_kind_by_name(const char *name)
{
	for (int i = 0; name && i < WT_EL__COUNT; i++)
		if (strcmp(name, kind_names[i]) == 0)
			return i;
	return name && strcmp(name, "dc") == 0 ? WT_EL_DC : -1;
}

const char *wt_feed_name(enum wt_feed f)
{
	return (unsigned)f < WT_FEED__COUNT ? feed_names[f] : "";
}

int wt_feed_by_name(const char *name)
{
	for (int i = 0; name && i < WT_FEED__COUNT; i++)
		if (strcasecmp(name, feed_names[i]) == 0)
			return i;
	return -1;
}

bool wt_elem_parent_ok(int parent_kind, enum wt_elem_kind child)
{
	if ((unsigned)child >= WT_EL__COUNT)
		return false;
	if (parent_kind < 0)
		return child == WT_EL_DC;
	return parent_kind + 1 == (int)child;
}

struct wt_structure *wt_structure_new(void)
{
	return calloc(1, sizeof(struct wt_structure));
}

void wt_structure_free(struct wt_structure *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->el[i].name);
		free(s->el[i].attrs);
	}
	free(s->el);
	free(s->pl);
	wt_idmap_free(&s->ids);
	wt_idmap_free(&s->placed);
	free(s);
}

int wt_structure_add(struct wt_structure *s, int64_t id, int64_t parent_id, enum wt_elem_kind kind,
		     const char *name, const char *attrs, double budget_w, double budget_a)
{
	if (id <= 0 || (unsigned)kind >= WT_EL__COUNT || !name || s->n >= INT32_MAX)
		return -EINVAL;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct wt_element *el = realloc(s->el, cap * sizeof(*el));
		if (!el)
			return -ENOMEM;
		s->el = el;
		s->cap = cap;
	}
	struct wt_element *e = &s->el[s->n];
	*e = (struct wt_element){.id = id,
				 .parent_id = parent_id,
				 .kind = kind,
				 .budget_w = budget_w,
				 .budget_a = budget_a,
				 .parent = -1};
	e->name = strdup(name);
	e->attrs = attrs ? strdup(attrs) : NULL;
	if (!e->name || (attrs && !e->attrs)) {
		free(e->name);
		free(e->attrs);
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

int wt_structure_place(struct wt_structure *s, int64_t device_id, int64_t rack_id,
		       enum wt_feed feed)
{
	if (device_id <= 0 || rack_id <= 0 || (unsigned)feed >= WT_FEED__COUNT)
		return -EINVAL;
	int32_t at = wt_idmap_get(&s->placed, (uint64_t)device_id);
	if (at < 0) {
		if (s->npl == s->plcap) {
			size_t cap = s->plcap ? s->plcap * 2 : 64;
			struct wt_placement *pl = realloc(s->pl, cap * sizeof(*pl));
			if (!pl)
				return -ENOMEM;
			s->pl = pl;
			s->plcap = cap;
		}
		at = (int32_t)s->npl;
		int rc = wt_idmap_put(&s->placed, (uint64_t)device_id, at);
		if (rc)
			return rc;
		s->npl++;
	}
	s->pl[at] = (struct wt_placement){device_id, rack_id, feed};
	return 0;
}

int wt_structure_index(struct wt_structure *s)
{
	wt_idmap_free(&s->ids);
	for (size_t i = 0; i < s->n; i++) {
		if (wt_idmap_get(&s->ids, (uint64_t)s->el[i].id) >= 0)
			return -EINVAL; /* duplicate id */
		int rc = wt_idmap_put(&s->ids, (uint64_t)s->el[i].id, (int32_t)i);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct wt_element *e = &s->el[i];
		e->parent = e->parent_id ? wt_idmap_get(&s->ids, (uint64_t)e->parent_id) : -1;
		if (e->parent_id && e->parent < 0)
			return -EINVAL;
		if (!wt_elem_parent_ok(e->parent < 0 ? -1 : (int)s->el[e->parent].kind, e->kind))
			return -EINVAL;
	}
	for (size_t i = 0; i < s->npl; i++) {
		int32_t r = wt_idmap_get(&s->ids, (uint64_t)s->pl[i].rack_id);
		if (r < 0 || s->el[r].kind != WT_EL_RACK)
			return -EINVAL;
	}
	return 0;
}

int32_t wt_structure_find(const struct wt_structure *s, int64_t id)
{
	return id > 0 ? wt_idmap_get(&s->ids, (uint64_t)id) : -1;
}

const struct wt_placement *wt_structure_placement(const struct wt_structure *s, int64_t device_id)
{
	int32_t at = device_id > 0 ? wt_idmap_get(&s->placed, (uint64_t)device_id) : -1;
	return at < 0 ? NULL : &s->pl[at];
}
