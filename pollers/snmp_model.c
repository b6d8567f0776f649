/* Profile selection, bind planning and model building over a store of SNMP
 * answers. Everything a device sends is treated as hostile: lengths are
 * bounded, strings are copied with their length, numbers are range-checked. */
#include "snmp_model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/model.h"

/* ---- string lists ---- */

int wt_strv_add(struct wt_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return 0; /* a set: asking twice for one OID is waste */
	char **nv = realloc(sv->v, (sv->n + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	sv->v = nv;
	if (!(sv->v[sv->n] = strdup(s)))
		return -ENOMEM;
	sv->n++;
	return 0;
}

void wt_strv_free(struct wt_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

/* ---- OIDs ---- */

int wt_oid_cmp(const char *a, const char *b)
{
	for (;;) {
		if (!*a || !*b)
			return (*a != 0) - (*b != 0);
		unsigned long long x = strtoull(a, (char **)&a, 10);
		unsigned long long y = strtoull(b, (char **)&b, 10);
		if (x != y)
			return x < y ? -1 : 1;
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
	}
}

bool wt_oid_under(const char *oid, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(oid, prefix, n) == 0 && oid[n] == '.' && oid[n + 1];
}

/* ---- store ---- */

struct entry {
	char *oid;
	struct wt_snmp_val v;
	char *sbuf;
};

struct wt_snmp_store {
	struct entry *e;
	size_t n, cap; /* open addressing, cap a power of two */
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

struct wt_snmp_store *wt_snmp_store_new(void)
{
	struct wt_snmp_store *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->cap = 256;
	st->e = calloc(st->cap, sizeof *st->e);
	if (!st->e) {
		free(st);
		return NULL;
	}
	return st;
}

void wt_snmp_store_free(struct wt_snmp_store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->cap; i++) {
		free(st->e[i].oid);
		free(st->e[i].sbuf);
	}
	free(st->e);
	free(st);
}

static struct entry *slot(struct entry *tab, size_t cap, const char *oid)
{
	size_t i = hash_str(oid) & (cap - 1);
	while (tab[i].oid && strcmp(tab[i].oid, oid) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

int wt_snmp_store_put(struct wt_snmp_store *st, const char *oid, const struct wt_snmp_val *v)
{
	if ((st->n + 1) * 2 > st->cap) {
		size_t ncap = st->cap * 2;
		struct entry *ne = calloc(ncap, sizeof *ne);
		if (!ne)
			return -ENOMEM;
		for (size_t i = 0; i < st->cap; i++)
			if (st->e[i].oid)
				*slot(ne, ncap, st->e[i].oid) = st->e[i];
		free(st->e);
		st->e = ne;
		st->cap = ncap;
	}
	struct entry *e = slot(st->e, st->cap, oid);
	char *sbuf = NULL;
	if ((v->type == WT_SV_STR || v->type == WT_SV_OID) && v->s) {
		sbuf = malloc(v->slen + 1);
		if (!sbuf)
			return -ENOMEM;
		memcpy(sbuf, v->s, v->slen);
		sbuf[v->slen] = 0;
	}
	if (!e->oid) {
		if (!(e->oid = strdup(oid))) {
			free(sbuf);
			return -ENOMEM;
		}
		st->n++;
	}
	free(e->sbuf);
	e->sbuf = sbuf;
	e->v = *v;
	e->v.s = sbuf;
	if (!sbuf)
		e->v.slen = 0;
	return 0;
}

const struct wt_snmp_val *wt_snmp_store_get(const struct wt_snmp_store *st, const char *oid)
{
	struct entry *e = slot(st->e, st->cap, oid);
	return e->oid ? &e->v : NULL;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *const *x = a, *const *y = b;
	return wt_oid_cmp((*x)->oid, (*y)->oid);
}

void wt_snmp_store_subtree(const struct wt_snmp_store *st, const char *prefix,
			   void (*fn)(void *ctx, const char *oid, const struct wt_snmp_val *v),
			   void *ctx)
{
	size_t n = 0;
	for (size_t i = 0; i < st->cap; i++)
		if (st->e[i].oid && wt_oid_under(st->e[i].oid, prefix))
			n++;
	if (!n)
		return;
	struct entry **list = malloc(n * sizeof *list);
	if (!list)
		return;
	n = 0;
	for (size_t i = 0; i < st->cap; i++)
		if (st->e[i].oid && wt_oid_under(st->e[i].oid, prefix))
			list[n++] = &st->e[i];
	qsort(list, n, sizeof *list, entry_cmp);
	for (size_t i = 0; i < n; i++)
		fn(ctx, list[i]->oid, &list[i]->v);
	free(list);
}

/* ---- values ---- */

/* Parses a decimal number out of a device string (" 230.5 V" style). */
static bool str_number(const char *s, size_t len, double *out)
{
	char buf[64];
	size_t i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	size_t n = 0;
	while (i < len && n + 1 < sizeof buf && s[i] && s[i] != ' ')
		buf[n++] = s[i++];
	buf[n] = 0;
	if (!n)
		return false;
	char *end;
	double d = strtod(buf, &end);
	if (end == buf || !isfinite(d))
		return false;
	/* a unit glued to the number ("32A", "230V", "50Hz", "12%") is fine,
	 * anything else ("1.2.3", "12abc3") is not a number */
	for (const char *u = end; *u; u++)
		if (!((*u >= 'A' && *u <= 'Z') || (*u >= 'a' && *u <= 'z') || *u == '%'))
			return false;
	if (*end == 'e' || *end == 'E')
		return false;
	*out = d;
	return true;
}

int wt_snmp_convert(const struct wt_prof_value *pv, double scale, const struct wt_snmp_val *raw,
		    double *out)
{
	double x;
	bool integral = false;
	long long ival = 0;
	switch (raw ? raw->type : WT_SV_NONE) {
	case WT_SV_INT:
		x = (double)raw->i;
		ival = raw->i;
		integral = true;
		break;
	case WT_SV_UINT:
		x = (double)raw->u;
		integral = raw->u <= (uint64_t)INT64_MAX;
		ival = (long long)raw->u;
		break;
	case WT_SV_STR:
		if (!raw->s || !str_number(raw->s, raw->slen, &x))
			return -EINVAL;
		if (x == floor(x) && fabs(x) < 9e15) {
			integral = true;
			ival = (long long)x;
		}
		break;
	case WT_SV_NONE:
		return -ENODATA;
	default:
		return -EINVAL;
	}
	if (integral)
		for (size_t i = 0; i < pv->n_invalid; i++)
			if (pv->invalid[i] == ival)
				return -ENODATA;
	if (pv->n_map) {
		if (!integral)
			return -EINVAL;
		for (size_t i = 0; i < pv->n_map; i++)
			if (pv->map[i].from == ival) {
				*out = pv->map[i].to;
				return 0;
			}
		return -EINVAL;
	}
	x = x * pv->mul / pv->div * scale + pv->offset;
	if (!isfinite(x))
		return -EINVAL;
	*out = x;
	return 0;
}

/* ---- selection ---- */

static bool probe_passes(const struct wt_profile *p, const struct wt_snmp_store *st)
{
	if (!p->probe_oid)
		return true;
	const struct wt_snmp_val *v = wt_snmp_store_get(st, p->probe_oid);
	if (!v || v->type == WT_SV_NONE)
		return false;
	if (!p->probe_equals)
		return true;
	char buf[64];
	const char *s = NULL;
	size_t len = 0;
	if (v->type == WT_SV_STR || v->type == WT_SV_OID) {
		s = v->s ? v->s : "";
		len = v->slen;
	} else {
		int n = v->type == WT_SV_INT ? snprintf(buf, sizeof buf, "%lld", (long long)v->i)
					     : snprintf(buf, sizeof buf, "%llu",
							(unsigned long long)v->u);
		s = buf;
		len = n > 0 ? (size_t)n : 0;
	}
	return len == strlen(p->probe_equals) && memcmp(s, p->probe_equals, len) == 0;
}

/* Length of the longest sysObjectID prefix of p matching soid, 0 if none. */
static size_t soid_match(const struct wt_profile *p, const char *soid)
{
	size_t best = 0;
	if (!soid)
		return 0;
	for (size_t i = 0; i < p->n_sysobjectid; i++) {
		const char *pre = p->sysobjectid[i];
		size_t n = strlen(pre);
		if ((strcmp(soid, pre) == 0 || wt_oid_under(soid, pre)) && n > best)
			best = n;
	}
	return best;
}

int wt_snmp_probe_oids(const struct wt_profile_set *set, const char *sysobjectid,
		       struct wt_strv *probes)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct wt_profile *p = set->v[i];
		if (!p->probe_oid)
			continue;
		if (p->fallback || soid_match(p, sysobjectid)) {
			int rc = wt_strv_add(probes, p->probe_oid);
			if (rc)
				return rc;
		}
	}
	return 0;
}

const struct wt_profile *wt_snmp_select(const struct wt_profile_set *set, const char *sysobjectid,
					const struct wt_snmp_store *st)
{
	const struct wt_profile *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < set->n; i++) {
		size_t n = soid_match(set->v[i], sysobjectid);
		if (n > best_len && probe_passes(set->v[i], st)) {
			best = set->v[i];
			best_len = n;
		}
	}
	if (best)
		return best;
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i]->fallback && probe_passes(set->v[i], st))
			return set->v[i];
	return NULL;
}

/* ---- planning ---- */

int wt_snmp_plan_walks(const struct wt_profile *p, struct wt_strv *walks)
{
	for (size_t i = 0; i < p->n_entities; i++)
		if (p->entities[i].walk) {
			int rc = wt_strv_add(walks, p->entities[i].walk);
			if (rc)
				return rc;
		}
	return 0;
}

/* The rows of one entity template: suffixes found under its walk column. */
struct rows {
	struct wt_strv sfx;
	size_t max;
	const char *prefix;
	int err;
};

static void row_cb(void *ctx, const char *oid, const struct wt_snmp_val *v)
{
	struct rows *r = ctx;
	if (r->err || r->sfx.n >= r->max || v->type == WT_SV_NONE)
		return;
	const char *s = oid + strlen(r->prefix) + 1;
	if (strlen(s) >= 64)
		return; /* absurd index: not a row we can name */
	r->err = wt_strv_add(&r->sfx, s);
}

static int collect_rows(const struct wt_prof_entity *en, const struct wt_snmp_store *st,
			struct wt_strv *out)
{
	if (!en->walk)
		return wt_strv_add(out, "");
	struct rows r = {.max = (size_t)en->max_rows, .prefix = en->walk};
	wt_snmp_store_subtree(st, en->walk, row_cb, &r);
	*out = r.sfx;
	return r.err;
}

/* Integer value of suffix component k (1-based, 0 = last), or -1. */
static long suffix_part(const char *sfx, int k)
{
	const char *s = sfx;
	if (!*s)
		return -1;
	if (k == 0) {
		const char *d = strrchr(s, '.');
		s = d ? d + 1 : s;
	} else {
		for (int i = 1; i < k && s; i++) {
			s = strchr(s, '.');
			if (s)
				s++;
		}
		if (!s || !*s)
			return -1;
	}
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	return v;
}

static int unit_of(const struct wt_prof_entity *en, const char *sfx, const struct wt_snmp_store *st)
{
	if (en->unit_part) {
		long u = suffix_part(sfx, en->unit_part);
		return u >= 0 && u < 1000 ? (int)u : 1;
	}
	if (en->unit_oid) {
		char oid[WT_OID_STR];
		if (wt_prof_expand(en->unit_oid, sfx, 1, oid, sizeof oid) == 0) {
			const struct wt_snmp_val *v = wt_snmp_store_get(st, oid);
			if (v && v->type == WT_SV_INT && v->i >= 0 && v->i < 1000)
				return (int)v->i;
		}
	}
	return 1;
}

static int add_expanded(struct wt_strv *gets, const char *tmpl, const char *sfx, int unit)
{
	char oid[WT_OID_STR];
	if (!tmpl || wt_prof_expand(tmpl, sfx, unit, oid, sizeof oid))
		return 0; /* a row whose index does not fit the template has no such OID */
	return wt_strv_add(gets, oid);
}

int wt_snmp_plan_gets(const struct wt_profile *p, const struct wt_snmp_store *st,
		      struct wt_strv *gets)
{
	int rc = 0;
	for (int i = 0; i < WT_ID__COUNT && !rc; i++)
		if (p->ident[i].oid)
			rc = wt_strv_add(gets, p->ident[i].oid);
	for (size_t e = 0; e < p->n_entities && !rc; e++) {
		const struct wt_prof_entity *en = &p->entities[e];
		struct wt_strv rows = {0};
		if (en->count_oid)
			rc = wt_strv_add(gets, en->count_oid);
		if (!rc)
			rc = collect_rows(en, st, &rows);
		for (size_t r = 0; r < rows.n && !rc; r++) {
			const char *sfx = rows.v[r];
			if (en->unit_oid)
				rc = add_expanded(gets, en->unit_oid, sfx, 1);
			/* unit OIDs are read in the same round, so {u} in other
			 * templates uses the index-derived unit only */
			int unit = en->unit_part ? unit_of(en, sfx, st) : 1;
			if (!rc)
				rc = add_expanded(gets, en->name_oid, sfx, unit);
			if (!rc)
				rc = add_expanded(gets, en->index_oid, sfx, unit);
			if (!rc)
				rc = add_expanded(gets, en->filter_oid, sfx, unit);
			for (size_t m = 0; m < en->n_metrics && !rc; m++) {
				rc = add_expanded(gets, en->metrics[m].v.oid, sfx, unit);
				if (!rc)
					rc = add_expanded(gets, en->metrics[m].v.digits_oid, sfx, unit);
			}
		}
		wt_strv_free(&rows);
	}
	return rc;
}

/* ---- model ---- */

static char *val_string(const struct wt_snmp_val *v)
{
	char buf[128];
	switch (v ? v->type : WT_SV_NONE) {
	case WT_SV_STR:
	case WT_SV_OID: {
		/* keep printable ASCII only: names end up in JSON, logs and HTML */
		size_t n = 0;
		for (size_t i = 0; i < v->slen && n + 1 < sizeof buf; i++) {
			unsigned char c = (unsigned char)v->s[i];
			if (c == 0)
				break;
			buf[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		}
		while (n && buf[n - 1] == ' ')
			n--;
		buf[n] = 0;
		if (!n)
			return NULL;
		break;
	}
	case WT_SV_INT:
		snprintf(buf, sizeof buf, "%lld", (long long)v->i);
		break;
	case WT_SV_UINT:
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)v->u);
		break;
	default:
		return NULL;
	}
	return strdup(buf);
}

static void fmt_name(char *out, size_t len, const char *fmt, int kind, long index, int unit)
{
	size_t o = 0;
	if (!fmt) {
		snprintf(out, len, "%s %ld", wt_entity_kind_name(kind), index);
		return;
	}
	for (const char *p = fmt; *p && o + 1 < len; p++) {
		char tmp[32];
		const char *add = NULL;
		if (strncmp(p, "{index}", 7) == 0) {
			snprintf(tmp, sizeof tmp, "%ld", index);
			add = tmp;
			p += 6;
		} else if (strncmp(p, "{unit}", 6) == 0) {
			snprintf(tmp, sizeof tmp, "%d", unit);
			add = tmp;
			p += 5;
		} else if (strncmp(p, "{kind}", 6) == 0) {
			add = wt_entity_kind_name(kind);
			p += 5;
		}
		if (add) {
			size_t n = strlen(add);
			if (o + n >= len)
				break;
			memcpy(out + o, add, n);
			o += n;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = 0;
}

static double digits_scale(const struct wt_prof_value *pv, const char *sfx, int unit,
			   const struct wt_snmp_store *st)
{
	char oid[WT_OID_STR];
	if (!pv->digits_oid || wt_prof_expand(pv->digits_oid, sfx, unit, oid, sizeof oid))
		return 1;
	const struct wt_snmp_val *v = wt_snmp_store_get(st, oid);
	if (!v)
		return 1;
	long long d = v->type == WT_SV_INT ? v->i : v->type == WT_SV_UINT ? (long long)v->u : 0;
	if (d < 0 || d > 9)
		return 1; /* a device claiming 40 decimals is wrong; read it unscaled */
	return pow(10, -(double)d);
}

void wt_snmp_model_free(struct wt_snmp_model *m)
{
	if (!m)
		return;
	for (int i = 0; i < WT_ID__COUNT; i++)
		free(m->ident[i]);
	free(m->entities);
	free(m->points);
	free(m);
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 32;
	void *na = realloc(*arr, nc * elem);
	if (!na)
		return -ENOMEM;
	*arr = na;
	*cap = nc;
	return 0;
}

int wt_snmp_control_oid(const struct wt_snmp_entity *e, int cmd, char *oid, size_t len,
			long *value)
{
	if (cmd < 0 || cmd >= WT_CTL__COUNT || !e->ctl_oid[0] || e->tmpl->control.value[cmd] < 0)
		return -ENOTSUP;
	const char *t = e->tmpl->control.cmd_oid[cmd] ? e->tmpl->control.cmd_oid[cmd]
						      : e->tmpl->control.oid;
	if (!t || wt_prof_expand(t, e->sfx, e->unit, oid, len))
		return -ENOTSUP;
	*value = (long)e->tmpl->control.value[cmd];
	return 0;
}

bool wt_snmp_point_update(struct wt_snmp_point *pt, const struct wt_snmp_val *raw)
{
	double v;
	int rc = wt_snmp_convert(pt->pv, pt->scale, raw, &v);
	if (rc) {
		pt->have = false;
		return false;
	}
	pt->value = v;
	pt->quality = 0;
	pt->have = true;
	return true;
}

/* A row is kept when the profile's filter column holds one of its values. */
static bool row_passes(const struct wt_prof_entity *en, const char *sfx, int unit,
		       const struct wt_snmp_store *st)
{
	char oid[WT_OID_STR];
	if (!en->filter_oid)
		return true;
	if (wt_prof_expand(en->filter_oid, sfx, unit, oid, sizeof oid))
		return false;
	const struct wt_snmp_val *v = wt_snmp_store_get(st, oid);
	long long x;
	if (v && v->type == WT_SV_INT)
		x = v->i;
	else if (v && v->type == WT_SV_UINT && v->u <= INT64_MAX)
		x = (long long)v->u;
	else
		return false;
	for (size_t i = 0; i < en->n_filter; i++)
		if (en->filter_in[i] == x)
			return true;
	return false;
}

static void note_unit(struct wt_snmp_model *m, int unit)
{
	for (size_t i = 0; i < m->n_units; i++)
		if (m->units[i] == unit)
			return;
	if (m->n_units < sizeof m->units / sizeof m->units[0])
		m->units[m->n_units++] = unit;
}

int wt_snmp_model_build(const struct wt_profile *p, const struct wt_snmp_store *st,
			struct wt_snmp_model **out)
{
	struct wt_snmp_model *m = calloc(1, sizeof *m);
	size_t ecap = 0, pcap = 0;
	int rc = 0;
	if (!m)
		return -ENOMEM;
	m->profile = p;
	for (int i = 0; i < WT_ID__COUNT; i++) {
		const struct wt_prof_value *pv = &p->ident[i];
		if (!p->has_ident[i])
			continue;
		if (pv->constant) {
			m->ident[i] = strdup(pv->constant);
			continue;
		}
		const struct wt_snmp_val *v = wt_snmp_store_get(st, pv->oid);
		if (i == WT_ID_RATING) {
			double r;
			if (wt_snmp_convert(pv, 1, v, &r) == 0 && r > 0 && r < 100000) {
				char buf[32];
				snprintf(buf, sizeof buf, "%g", r);
				m->ident[i] = strdup(buf);
				m->rating = r;
			}
		} else {
			m->ident[i] = val_string(v);
		}
	}
	for (size_t e = 0; e < p->n_entities && !rc; e++) {
		const struct wt_prof_entity *en = &p->entities[e];
		struct wt_strv rows = {0};
		rc = collect_rows(en, st, &rows);
		size_t nrows = rows.n;
		if (en->count_oid) {
			/* agents that pad tables beyond their own line count (a 1-phase
			 * UPS with 3 input rows) are believed on the count */
			const struct wt_snmp_val *cv = wt_snmp_store_get(st, en->count_oid);
			long long cnt = !cv ? -1 : cv->type == WT_SV_INT ? cv->i
					       : cv->type == WT_SV_UINT ? (long long)cv->u : -1;
			if (cnt >= 0 && (size_t)cnt < nrows)
				nrows = (size_t)cnt;
		}
		for (size_t r = 0; r < nrows && !rc; r++) {
			const char *sfx = rows.v[r];
			int unit = unit_of(en, sfx, st);
			long index = en->walk ? suffix_part(sfx, en->index_part) : en->index;
			if (en->walk && en->index_major_part && index >= 0) {
				/* outlets numbered per infeed (Sentry3 AA1, AB1): make them unique */
				long major = suffix_part(sfx, en->index_major_part);
				index = major >= 0 && index < en->index_stride ? major * en->index_stride + index : -1;
			}
			char ioid[WT_OID_STR];
			if (en->index_oid && wt_prof_expand(en->index_oid, sfx, unit, ioid, sizeof ioid) == 0) {
				const struct wt_snmp_val *iv = wt_snmp_store_get(st, ioid);
				if (iv && iv->type == WT_SV_INT && iv->i >= 0 && iv->i < 1000000)
					index = (long)iv->i;
			}
			if (index < 0 || !row_passes(en, sfx, unit, st))
				continue;
			char *nm = NULL;
			char noid[WT_OID_STR];
			if (en->name_oid && wt_prof_expand(en->name_oid, sfx, unit, noid, sizeof noid) == 0)
				nm = val_string(wt_snmp_store_get(st, noid));
			for (char **en_n = en->empty_names; nm && en_n && *en_n; en_n++)
				if (strcmp(nm, *en_n) == 0) {
					free(nm);
					nm = NULL;
				}
			if (!nm && en->require_name)
				continue; /* an unpopulated row (HPE: 48 rows, 24 outlets) */
			size_t first_point = m->n_points;
			for (size_t k = 0; k < en->n_metrics; k++) {
				const struct wt_prof_metric *pm = &en->metrics[k];
				char oid[WT_OID_STR];
				if (wt_prof_expand(pm->v.oid, sfx, unit, oid, sizeof oid))
					continue;
				const struct wt_snmp_val *v = wt_snmp_store_get(st, oid);
				if (!v || v->type == WT_SV_NONE)
					continue; /* the device does not have this metric */
				if ((rc = grow((void **)&m->points, &pcap, m->n_points, sizeof *m->points)))
					break;
				struct wt_snmp_point *pt = &m->points[m->n_points];
				memset(pt, 0, sizeof *pt);
				pt->entity = (uint32_t)m->n_entities;
				pt->metric = pm->metric;
				snprintf(pt->oid, sizeof pt->oid, "%s", oid);
				pt->pv = &pm->v;
				pt->scale = digits_scale(&pm->v, sfx, unit, st);
				pt->is_static = pm->v.is_static;
				wt_snmp_point_update(pt, v);
				m->n_points++;
			}
			if (rc) {
				free(nm);
				break;
			}
			char ctl[WT_OID_STR] = "";
			const char *ct = en->control.oid ? en->control.oid : en->control.cmd_oid[WT_CTL_ON];
			if (ct && wt_prof_expand(ct, sfx, unit, ctl, sizeof ctl))
				ctl[0] = 0;
			if (m->n_points == first_point && !ctl[0]) {
				free(nm);
				continue;
			}
			if ((rc = grow((void **)&m->entities, &ecap, m->n_entities, sizeof *m->entities))) {
				free(nm);
				break;
			}
			struct wt_snmp_entity *ent = &m->entities[m->n_entities++];
			memset(ent, 0, sizeof *ent);
			ent->kind = en->kind;
			ent->index = index;
			ent->unit = unit;
			ent->tmpl = en;
			snprintf(ent->ctl_oid, sizeof ent->ctl_oid, "%s", ctl);
			snprintf(ent->sfx, sizeof ent->sfx, "%s", sfx);
			if (nm)
				snprintf(ent->name, sizeof ent->name, "%s", nm);
			else
				fmt_name(ent->name, sizeof ent->name, en->name_fmt, en->kind, index, unit);
			free(nm);
			note_unit(m, unit);
		}
		wt_strv_free(&rows);
	}
	if (rc) {
		wt_snmp_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}
