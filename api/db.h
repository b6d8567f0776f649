/* PostgreSQL for the API's workers: one connection per worker thread,
 * opened on first use, reopened after it breaks, closed when the thread
 * ends. Blocking: workers only. */
#ifndef WT_API_DB_H
#define WT_API_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* This thread's connection to conninfo, or NULL with why set. */
PGconn *wt_api_db(const char *conninfo, char *why, size_t whylen);

/* Runs a parameterised statement (text parameters and results). Returns the
 * result (caller PQclear()s) when its status is ok (tuples or command), or
 * NULL after logging; a broken connection is dropped so the next call
 * reconnects. sqlstate (6 bytes) gets the error code, "" if none. */
PGresult *wt_api_db_exec(PGconn *db, const char *sql, int nparams, const char *const *params,
			 char sqlstate[6]);

/* True when the last failure was the connection (not the statement). */
bool wt_api_db_broken(PGconn *db);

/* A process-wide count of successful writes through the API. Worker-side
 * caches of what the database says (device identity, series metadata)
 * remember the count they were filled under and are stale once it moved,
 * so a change made through the API is seen by the very next read. Any
 * thread. */
uint64_t wt_api_db_write_gen(void);
/* Called on the loop after every successful write request. */
void wt_api_db_wrote(void);

#endif
