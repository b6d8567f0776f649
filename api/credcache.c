#include "credcache.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUCKETS 1024u

struct entry {
	struct entry *next;
	char kind;
	char hash[65];
	int64_t expires_ms;
	struct wt_principal who;
	char csrf[64];
};

struct wt_credcache {
	struct entry *b[BUCKETS];
	int ttl_ms;
	size_t max, n;
	uint64_t gen;
};

int64_t wt_credcache_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wt_credcache_new(struct wt_credcache **out, int ttl_ms, size_t max_entries)
{
	struct wt_credcache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ttl_ms = ttl_ms > 0 ? ttl_ms : 0;
	c->max = max_entries;
	c->gen = 1;
	*out = c;
	return 0;
}

static void wipe(struct entry *e)
{
	/* The hash is not the secret, but the CSRF token is one. */
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

void wt_credcache_clear(struct wt_credcache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < BUCKETS; i++) {
		struct entry *e = c->b[i];
		while (e) {
			struct entry *next = e->next;
			wipe(e);
			e = next;
		}
		c->b[i] = NULL;
	}
	c->n = 0;
	c->gen++;
}

void wt_credcache_free(struct wt_credcache *c)
{
	if (!c)
		return;
	wt_credcache_clear(c);
	free(c);
}

static unsigned bucket(const char *hash)
{
	/* The key is already a uniform hash: its first hex digits will do. */
	unsigned v = 0;
	for (int i = 0; i < 4 && hash[i]; i++)
		v = v * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : (hash[i] | 32) - 'a' + 10);
	return v % BUCKETS;
}

/* Drops expired entries of one chain. */
static void prune(struct wt_credcache *c, unsigned i, int64_t now_ms)
{
	struct entry **pp = &c->b[i];
	while (*pp) {
		struct entry *e = *pp;
		if (e->expires_ms <= now_ms) {
			*pp = e->next;
			wipe(e);
			c->n--;
		} else
			pp = &e->next;
	}
}

bool wt_credcache_get(struct wt_credcache *c, char kind, const char *hash, int64_t now_ms,
		      struct wt_principal *who, char *csrf, size_t csrf_len)
{
	if (!c || !c->n)
		return false;
	unsigned i = bucket(hash);
	prune(c, i, now_ms);
	for (struct entry *e = c->b[i]; e; e = e->next)
		if (e->kind == kind && strcmp(e->hash, hash) == 0) {
			*who = e->who;
			if (csrf && csrf_len)
				snprintf(csrf, csrf_len, "%s", e->csrf);
			return true;
		}
	return false;
}

uint64_t wt_credcache_gen(const struct wt_credcache *c)
{
	return c ? c->gen : 0;
}

void wt_credcache_put(struct wt_credcache *c, uint64_t gen, char kind, const char *hash,
		      int64_t now_ms, int64_t valid_ms, const struct wt_principal *who,
		      const char *csrf)
{
	if (!c || !c->ttl_ms || gen != c->gen || valid_ms <= 0 || strlen(hash) != 64)
		return;
	int64_t life = valid_ms < c->ttl_ms ? valid_ms : c->ttl_ms;
	unsigned i = bucket(hash);
	prune(c, i, now_ms);
	for (struct entry *e = c->b[i]; e; e = e->next)
		if (e->kind == kind && strcmp(e->hash, hash) == 0) {
			e->who = *who;
			e->expires_ms = now_ms + life;
			snprintf(e->csrf, sizeof(e->csrf), "%s", csrf ? csrf : "");
			return;
		}
	if (c->n >= c->max) {
		/* Full of live entries: a flood of distinct credentials. Start
		 * over rather than scan; the cost is one round trip each. */
		for (unsigned k = 0; k < BUCKETS; k++)
			prune(c, k, now_ms);
		if (c->n >= c->max) {
			uint64_t g = c->gen;
			wt_credcache_clear(c);
			c->gen = g; /* nothing changed: lookups in flight may still store */
		}
	}
	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return;
	e->kind = kind;
	memcpy(e->hash, hash, 65);
	e->expires_ms = now_ms + life;
	e->who = *who;
	snprintf(e->csrf, sizeof(e->csrf), "%s", csrf ? csrf : "");
	e->next = c->b[i];
	c->b[i] = e;
	c->n++;
}

size_t wt_credcache_size(const struct wt_credcache *c)
{
	return c ? c->n : 0;
}
