/* Checks for the JSON data files of the pollers (SNMP and Modbus profiles):
 * the first problem is kept with its JSON path ("entities[2].metrics.x:
 * must be a string"), later ones are ignored, every check returns 0 or a
 * negative errno. */
#ifndef WT_POLLERS_JSONCHECK_H
#define WT_POLLERS_JSONCHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct wt_jerr {
	char *buf;  /* where the first problem is written */
	size_t len;
	bool set;   /* a problem was recorded */
};

/* Records "PATH: message" unless a problem is already recorded; -EINVAL. */
int wt_jerr_fail(struct wt_jerr *e, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Every key of obj is in the NULL-terminated allowed list; keys starting
 * with '_' are comments. */
int wt_json_check_keys(struct wt_jerr *e, const char *path, json_t *obj,
		       const char *const *allowed);
/* A string, copied into *out (free it). */
int wt_json_get_str(struct wt_jerr *e, const char *path, json_t *v, char **out);
/* An integer in lo..hi. */
int wt_json_get_int(struct wt_jerr *e, const char *path, json_t *v, long long lo, long long hi,
		    long long *out);
/* A finite number. */
int wt_json_get_num(struct wt_jerr *e, const char *path, json_t *v, double *out);

#endif
