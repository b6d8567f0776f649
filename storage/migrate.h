/* Schema migrations: numbered SQL files NNNN_name.sql in a directory (the
 * installed datadir/wattrack/migrations, or the source tree's migrations/),
 * applied in order, each in its own transaction together with its row in
 * schema_migrations(version, name, applied_at, checksum). Gaps in the
 * numbering are allowed. Blocking: call at start-up or from a worker. */
#ifndef WT_MIGRATE_H
#define WT_MIGRATE_H

#include <libpq-fe.h>

/* Applies what is missing. Returns 0; -EPROTO if the database holds a version
 * newer than any file in dir ("upgrade wattrack") or an applied file's
 * checksum changed (the error names the file); -ENOENT if dir is unreadable;
 * -EIO on SQL errors. *applied (may be NULL) gets how many were applied.
 * A session advisory lock serialises concurrent instances. */
int wt_migrate(PGconn *c, const char *dir, int *applied) __attribute__((warn_unused_result));

/* The highest version among dir's files, or a negative errno. */
int wt_migrate_known_version(const char *dir) __attribute__((warn_unused_result));

/* The migrations directory to use: $WT_MIGRATIONS_DIR, else the installed
 * one if it exists, else the source tree's (running from the build dir). */
const char *wt_migrate_default_dir(void);

#endif
