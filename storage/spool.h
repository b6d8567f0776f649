/* The on-disk spool: finished batches that could not reach PostgreSQL.
 * Each batch is one file NNNNNNNNNNNNNNNN.batch (a 64-bit sequence number, so
 * names sort in write order) holding a header with a CRC-32C over the whole
 * content; it is written to a temporary name, fsync'd, renamed and the
 * directory fsync'd, so after a crash a file is either complete or absent.
 * Replay is oldest first. A corrupt file is renamed *.bad, logged and
 * skipped, never silently dropped. Used only by the writer thread. */
#ifndef WT_SPOOL_H
#define WT_SPOOL_H

#include "batch.h"

#include <stdbool.h>
#include <stdint.h>

struct wt_spool;

/* Opens (creating) dir and indexes the files already there. */
int wt_spool_open(struct wt_spool **out, const char *dir, uint64_t max_bytes)
	__attribute__((warn_unused_result));
void wt_spool_close(struct wt_spool *s);
void wt_spool_set_max(struct wt_spool *s, uint64_t max_bytes);

/* Appends a batch durably. Returns 0, -ENOSPC when the cap would be passed
 * (unless force), or -errno of the failed write. */
int wt_spool_put(struct wt_spool *s, const struct wt_batch *b, bool force)
	__attribute__((warn_unused_result));

/* Loads the oldest batch (caller frees). -ENOENT when empty. */
int wt_spool_peek(struct wt_spool *s, struct wt_batch **out) __attribute__((warn_unused_result));
/* Removes the oldest batch (after it was written). */
int wt_spool_pop(struct wt_spool *s) __attribute__((warn_unused_result));

uint64_t wt_spool_bytes(const struct wt_spool *s);
size_t wt_spool_count(const struct wt_spool *s);
/* CRC-32C (Castagnoli), exposed for tests. */
uint32_t wt_crc32c(uint32_t crc, const void *data, size_t len);

#endif
