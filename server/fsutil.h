/* Small file-system helpers shared by the daemon's modules. */
#ifndef WT_FSUTIL_H
#define WT_FSUTIL_H

#include <sys/types.h>

/* mkdir -p: creates path and its missing parents. Parents get 0755; path
 * itself gets mode (an existing path is left as it is). 0 or -errno. */
int wt_mkdir_p(const char *path, mode_t mode) __attribute__((warn_unused_result));

/* Takes an exclusive lock on path (created 0644 if needed) and writes our
 * pid into it; the lock lasts until *fd is closed or the process exits.
 * Returns 0, -EWOULDBLOCK when another process holds it (*holder gets its
 * pid, or 0 if unknown), or another -errno. */
int wt_lock_pidfile(const char *path, int *fd, long *holder) __attribute__((warn_unused_result));

#endif
