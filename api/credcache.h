/* A short-lived cache of verified credentials on the loop thread: the
 * SHA-256 of a session cookie or API token -> the principal PostgreSQL
 * returned for it. Authenticated reads then cost no database round trip.
 * Entries live at most the configured TTL and never past the session's or
 * token's own expiry; every successful write through the API empties the
 * cache (and bumps its generation, so a lookup that raced with the write
 * is not stored). Changes made by another instance are seen within the
 * TTL. Loop thread only. Internal to api/. */
#ifndef WT_API_CREDCACHE_H
#define WT_API_CREDCACHE_H

#include "request.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wt_credcache;

/* A cache holding at most max_entries for at most ttl_ms each; ttl_ms 0
 * gives a cache that stores nothing. */
int wt_credcache_new(struct wt_credcache **out, int ttl_ms, size_t max_entries)
	__attribute__((warn_unused_result));
void wt_credcache_free(struct wt_credcache *c);

/* Milliseconds on the monotonic clock the cache runs on. */
int64_t wt_credcache_now_ms(void);

/* True and the principal (and, for sessions, the CSRF token) when hash
 * (lower-case hex SHA-256) of that kind ('s' session, 't' token) is cached
 * and fresh at now_ms. */
bool wt_credcache_get(struct wt_credcache *c, char kind, const char *hash, int64_t now_ms,
		      struct wt_principal *who, char *csrf, size_t csrf_len);

/* The generation to hand back to wt_credcache_put. */
uint64_t wt_credcache_gen(const struct wt_credcache *c);

/* Stores a principal verified against the database when the request began
 * in generation gen (ignored when the cache was emptied since); valid_ms is
 * how long the credential itself stays valid. */
void wt_credcache_put(struct wt_credcache *c, uint64_t gen, char kind, const char *hash,
		      int64_t now_ms, int64_t valid_ms, const struct wt_principal *who,
		      const char *csrf);

/* Forgets everything (a logout, revocation, role or password change). */
void wt_credcache_clear(struct wt_credcache *c);

/* Entries held now (tests, /metrics). */
size_t wt_credcache_size(const struct wt_credcache *c);

#endif
