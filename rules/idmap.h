/* A map from 64-bit ids to dense indices (open addressing, linear probing),
 * used where the hot path or a rebuild must find an object by id in O(1).
 * Keys are never 0 (0 marks an empty slot). Internal to rules/. */
#ifndef WT_RULES_IDMAP_H
#define WT_RULES_IDMAP_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct wt_idmap {
	uint64_t *keys;
	int32_t *vals;
	size_t cap; /* power of two */
	size_t n;
};

static inline uint64_t wt_idmap_hash(uint64_t k)
{
	/* splitmix64 finaliser: ids are dense, so spread them. */
	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ULL;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebULL;
	k ^= k >> 31;
	return k;
}

static inline void wt_idmap_free(struct wt_idmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}

static inline int32_t wt_idmap_get(const struct wt_idmap *m, uint64_t key)
{
	if (!m->cap || !key)
		return -1;
	for (size_t i = wt_idmap_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return m->vals[i];
		if (!m->keys[i])
			return -1;
	}
}

static inline int wt_idmap_grow(struct wt_idmap *m, size_t cap);

/* Inserts or replaces. */
static inline int wt_idmap_put(struct wt_idmap *m, uint64_t key, int32_t val)
{
	if (!key)
		return -EINVAL;
	if ((m->n + 1) * 2 > m->cap) {
		int rc = wt_idmap_grow(m, m->cap ? m->cap * 2 : 64);
		if (rc)
			return rc;
	}
	for (size_t i = wt_idmap_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key) {
			m->vals[i] = val;
			return 0;
		}
		if (!m->keys[i]) {
			m->keys[i] = key;
			m->vals[i] = val;
			m->n++;
			return 0;
		}
	}
}

/* Removes a key (backward-shift deletion: no tombstones, so lookups stay
 * as short as before). */
static inline void wt_idmap_del(struct wt_idmap *m, uint64_t key)
{
	if (!m->cap || !key)
		return;
	size_t mask = m->cap - 1, i = wt_idmap_hash(key) & mask;
	while (m->keys[i] != key) {
		if (!m->keys[i])
			return;
		i = (i + 1) & mask;
	}
	for (size_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
		size_t home = wt_idmap_hash(m->keys[j]) & mask;
		/* move j back to the hole at i unless its home lies cyclically in (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		m->keys[i] = m->keys[j];
		m->vals[i] = m->vals[j];
		i = j;
	}
	m->keys[i] = 0;
	m->n--;
}

static inline int wt_idmap_grow(struct wt_idmap *m, size_t cap)
{
	struct wt_idmap g = {calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(int32_t)), cap, 0};
	if (!g.keys || !g.vals) {
		wt_idmap_free(&g);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i])
			(void)wt_idmap_put(&g, m->keys[i], m->vals[i]);
	wt_idmap_free(m);
	*m = g;
	return 0;
}

#endif
