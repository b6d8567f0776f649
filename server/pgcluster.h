/* The private PostgreSQL cluster, used when database.url is empty: created
 * once under <state_dir>/pg, started at daemon start-up and stopped at
 * shutdown. It listens on a unix socket in <state_dir>/pg (mode 0700,
 * trust authentication for its owner) and on 127.0.0.1 with a free port
 * (scram-sha-256; the superuser password is in <state_dir>/pg/superuser.password).
 * Start-up messages go to <state_dir>/pg/postgresql.log, the server's own
 * log to <state_dir>/pg/data/log (a week, one file per weekday).
 *
 * initdb and postgres refuse to run as root: when the daemon's euid is 0
 * they run as the `postgres` system user, which then owns <state_dir>/pg.
 * Binaries come from the newest /usr/lib/postgresql/N/bin (or the one
 * matching an existing cluster; WT_PG_BINDIR overrides). Blocking: call
 * before the event loop runs. */
#ifndef WT_PGCLUSTER_H
#define WT_PGCLUSTER_H

#include <stddef.h>

struct wt_pgcluster;

/* Creates the cluster if needed (initdb, database "wattrack"), clears a
 * stale postmaster.pid, and starts it. On failure err holds a one-line
 * reason such as "initdb failed: <its stderr>". */
int wt_pgcluster_start(struct wt_pgcluster **out, const char *state_dir, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A libpq conninfo for the database "wattrack" over the unix socket. */
const char *wt_pgcluster_conninfo(const struct wt_pgcluster *pc);
/* The TCP port on 127.0.0.1. */
int wt_pgcluster_port(const struct wt_pgcluster *pc);
/* The data directory (<state_dir>/pg/data). */
const char *wt_pgcluster_datadir(const struct wt_pgcluster *pc);

/* Stops the server (pg_ctl stop -m fast: sessions are ended, committed
 * data is safe) and frees pc. Returns 0, or a negative errno with err set;
 * pc is freed either way. */
int wt_pgcluster_stop(struct wt_pgcluster *pc, char *err, size_t errlen);

#endif
