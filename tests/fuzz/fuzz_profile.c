/* Fuzz target: profile JSON through the loader. A bad profile must give an
 * error message, never a crash or a leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pollers/profile.h"
#include "server/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		wt_log_setup(false, "fuzz", WT_LOG_ERROR);
		init = 1;
	}
	char err[512];
	struct wt_profile *p = wt_profile_parse((const char *)data, size, "fuzz.json", err, sizeof err);
	if (!p && !err[0])
		abort(); /* every rejection says why */
	if (p) {
		for (size_t i = 0; i < p->n_entities; i++) {
			char out[160];
			const struct wt_prof_entity *en = &p->entities[i];
			for (size_t k = 0; k < en->n_metrics; k++)
				if (wt_prof_expand(en->metrics[k].v.oid ? en->metrics[k].v.oid : "1.3",
						   "1.2.3", 1, out, sizeof out) == 0 && !out[0])
					abort(); /* an expanded OID is never empty */
		}
	}
	wt_profile_free(p);
	return 0;
}
