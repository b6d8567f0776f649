/* Small libpq helpers shared by the storage layer: run a statement and log a
 * failure once with its context. Blocking: call from workers or the writer
 * thread, never from the loop. */
#ifndef WT_PG_H
#define WT_PG_H

#include <libpq-fe.h>
#include <stdint.h>

/* Connects (blocking, connect_timeout applied when conninfo has none);
 * returns NULL and logs on failure. Logging says why, never the password. */
PGconn *wt_pg_connect(const char *conninfo, int timeout_s);

/* Runs sql (may hold several statements) and expects a command or tuples
 * result; returns 0, or -EIO after logging "what: error". */
int wt_pg_exec(PGconn *c, const char *what, const char *sql) __attribute__((warn_unused_result));

/* Like wt_pg_exec but returns the result (PGRES_TUPLES_OK or COMMAND_OK) in
 * *out for the caller to PQclear; text parameters. */
int wt_pg_query(PGconn *c, const char *what, PGresult **out, const char *sql, int nparams,
		const char *const *params) __attribute__((warn_unused_result));

/* PostgreSQL binary timestamps are microseconds since 2000-01-01 UTC. */
#define WT_PG_EPOCH_MS 946684800000LL
static inline int64_t wt_pg_ts_from_ms(int64_t ms)
{
	return (ms - WT_PG_EPOCH_MS) * 1000;
}
static inline int64_t wt_pg_ts_to_ms(int64_t us)
{
	/* floor division: timestamps before 2000 are negative */
	int64_t q = us / 1000;
	if (us % 1000 < 0)
		q--;
	return q + WT_PG_EPOCH_MS;
}

/* Big-endian helpers for the binary COPY and result formats. */
static inline void wt_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}
static inline void wt_be16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}
static inline void wt_be64(unsigned char *p, uint64_t v)
{
	wt_be32(p, (uint32_t)(v >> 32));
	wt_be32(p + 4, (uint32_t)v);
}
static inline uint32_t wt_rd32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint16_t wt_rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint64_t wt_rd64(const unsigned char *p)
{
	return (uint64_t)wt_rd32(p) << 32 | wt_rd32(p + 4);
}

#endif
