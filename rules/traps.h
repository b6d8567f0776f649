/* SNMP notifications (WATTRACK-MIB, packaging/WATTRACK-MIB.txt) through
 * net-snmp: v2c traps or informs, v3 traps (we are the authoritative
 * engine) or informs, SHA authentication and AES privacy. Blocking with a
 * bounded time (informs wait for the acknowledgement): notify thread only. */
#ifndef WT_RULES_TRAPS_H
#define WT_RULES_TRAPS_H

#include "notify.h"

#include <stddef.h>
#include <stdint.h>

/* The module's OIDs (experimental 9147). */
#define WT_MIB_ROOT 1, 3, 6, 1, 3, 9147

enum wt_trap_kind {
	WT_TRAP_RAISED = 1,
	WT_TRAP_CHANGED = 2,
	WT_TRAP_CLEARED = 3
};

struct wt_trap_fields {
	enum wt_trap_kind kind;
	int severity; /* wtAlarmSeverity: 1 cleared, 2 warning, 3 critical */
	const char *alarm_id, *device, *entity, *metric, *value, *threshold, *location, *message;
};

/* Initialises net-snmp's library once (no MIB loading, no config files
 * read); call on the loop thread before any send. */
void wt_traps_init(void);
/* Sends one notification to a receiver; errbuf says why on failure.
 * 0 or a negative errno. */
int wt_trap_send(const struct wt_trap_receiver *r, const char *engine_id_hex,
		 const struct wt_trap_fields *f, char *errbuf, size_t errlen)
	__attribute__((warn_unused_result));

#endif
