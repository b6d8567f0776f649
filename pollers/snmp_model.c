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

struct keep {
	struct wt_snmp_store *out;
	int err;
};

static void keep_cb(void *ctx, const char *oid, const struct wt_snmp_val *v)
{
	struct keep *k = ctx;
	if (!k->err)
		k->err = wt_snmp_store_put(k->out, oid, v);
}

struct wt_snmp_store *wt_snmp_store_for_plan(const struct wt_snmp_store *st,
					     const struct wt_snmp_model *m)
{
	struct keep k = {.out = wt_snmp_store_new()};
	if (!k.out)
		return NULL;
	for (size_t i = 0; i < m->n_entities && !k.err; i++) {
		const struct wt_prof_entity *t = m->entities[i].tmpl;
		bool seen = false;
		if (!t || !t->walk)
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = m->entities[j].tmpl == t;
		if (!seen)
			wt_snmp_store_subtree(st, t->walk, keep_cb, &k);
	}
	if (k.err) {
		wt_snmp_store_free(k.out);
		return NULL;
	}
	return k.out;
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
		int n = v->type == WT_SV_INT
				? snprintf(buf, sizeof buf, "%lld", (long long)v->i)
				: snprintf(buf, sizeof buf, "%llu", (unsigned long long)v->u);
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
					rc = add_expanded(gets, en->metrics[m].v.digits_oid, sfx,
							  unit);
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

int wt_snmp_control_oid(const struct wt_snmp_entity *e, int cmd, char *oid, size_t len, long *value)
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
			long long cnt = !cv                      ? -1
					: cv->type == WT_SV_INT  ? cv->i
					: cv->type == WT_SV_UINT ? (long long)cv->u
								 : -1;
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
				index = major >= 0 && index < en->index_stride
						? major * en->index_stride + index
						: -1;
			}
			char ioid[WT_OID_STR];
			if (en->index_oid &&
			    wt_prof_expand(en->index_oid, sfx, unit, ioid, sizeof ioid) == 0) {
				const struct wt_snmp_val *iv = wt_snmp_store_get(st, ioid);
				if (iv && iv->type == WT_SV_INT && iv->i >= 0 && iv->i < 1000000)
					index = (long)iv->i;
			}
			if (index < 0 || !row_passes(en, sfx, unit, st))
				continue;
			char *nm = NULL;
			char noid[WT_OID_STR];
			if (en->name_oid &&
			    wt_prof_expand(en->name_oid, sfx, unit, noid, sizeof noid) == 0)
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
				if ((rc = grow((void **)&m->points, &pcap, m->n_points,
					       sizeof *m->points)))
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
			const char *ct = en->control.oid ? en->control.oid
							 : en->control.cmd_oid[WT_CTL_ON];
			if (ct && wt_prof_expand(ct, sfx, unit, ctl, sizeof ctl))
				ctl[0] = 0;
			if (m->n_points == first_point && !ctl[0]) {
				free(nm);
				continue;
			}
			if ((rc = grow((void **)&m->entities, &ecap, m->n_entities,
				       sizeof *m->entities))) {
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
				fmt_name(ent->name, sizeof ent->name, en->name_fmt, en->kind, index,
					 unit);
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

/* ---- OIDs as numbers ---- */

int wt_oid_parse(const char *s, unsigned long *out, size_t max)
{
	size_t n = 0;
	if (*s == '.')
		s++;
	while (*s) {
		if (*s < '0' || *s > '9' || n >= max)
			return -EINVAL;
		unsigned long long v = 0;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (unsigned)(*s - '0');
			if (v > 0xFFFFFFFFull)
				return -EINVAL;
			s++;
		}
		out[n++] = (unsigned long)v;
		if (*s == '.') {
			s++;
			if (!*s)
				return -EINVAL;
		} else if (*s) {
			return -EINVAL;
		}
	}
	return n >= 2 ? (int)n : -EINVAL;
}

static int oidv_cmp(const unsigned long *a, size_t an, const unsigned long *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return (an > bn) - (an < bn);
}

static bool oidv_eq(const unsigned long *a, size_t an, const unsigned long *b, size_t bn)
{
	return an == bn && memcmp(a, b, an * sizeof *a) == 0;
}

/* ---- poll plan ---- */

#define UPTIME_POINT UINT32_MAX
#define PLAN_MAX_COLS 1024

/* An OID in the plan's arena. */
struct oref {
	uint32_t off;
	uint32_t len;
};

/* A GETNEXT (bulk) or GET entry: want is the point's OID, from is what we
 * send (its predecessor for GETNEXT, want itself for GET). */
struct pentry {
	struct oref from, want;
	uint32_t point; /* UPTIME_POINT for sysUpTime.0 */
};

struct pcol {
	struct oref prefix;
	uint32_t first, n; /* points in plan->col_pts[first..first+n), by OID */
	uint32_t rows;     /* repetitions that reach its last point (bind walk) */
	/* per poll */
	uint32_t next; /* first of its points not yet passed */
	uint32_t got;  /* rows received */
	bool done;
	size_t cur_len; /* last OID received, 0 = none yet (start at the prefix) */
	unsigned long cur[WT_OID_MAXLEN];
};

struct wt_snmp_plan {
	unsigned long *arena;
	size_t arena_n, arena_cap;
	struct pentry *nr; /* non-repeaters (bulk only) */
	size_t n_nr;
	struct pentry *gets;
	size_t n_gets;
	struct pcol *cols;
	size_t n_cols;
	uint32_t *col_pts;
	struct oref *want; /* each point's OID (len 0: static or unsendable) */
	size_t n_want;
	int max_rep;
	bool bulk;
	bool dirty;
	/* per poll */
	size_t nr_pos, get_pos;
	unsigned rounds, max_rounds;
};

static const unsigned long *oref_p(const struct wt_snmp_plan *pl, struct oref r)
{
	return pl->arena + r.off;
}

static int arena_add(struct wt_snmp_plan *pl, const unsigned long *o, size_t n, struct oref *out)
{
	if (pl->arena_n + n > pl->arena_cap) {
		size_t cap = pl->arena_cap ? pl->arena_cap * 2 : 1024;
		while (cap < pl->arena_n + n)
			cap *= 2;
		unsigned long *na = realloc(pl->arena, cap * sizeof *na);
		if (!na)
			return -ENOMEM;
		pl->arena = na;
		pl->arena_cap = cap;
	}
	memcpy(pl->arena + pl->arena_n, o, n * sizeof *o);
	out->off = (uint32_t)pl->arena_n;
	out->len = (uint32_t)n;
	pl->arena_n += n;
	return 0;
}

static int arena_parse(struct wt_snmp_plan *pl, const char *s, struct oref *out)
{
	unsigned long o[WT_OID_MAXLEN];
	int n = wt_oid_parse(s, o, WT_OID_MAXLEN);
	if (n < 0)
		return n;
	return arena_add(pl, o, (size_t)n, out);
}

static int entry_add(struct pentry **v, size_t *n, size_t *cap, struct pentry e)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct pentry *nv = realloc(*v, nc * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = e;
	return 0;
}

void wt_snmp_plan_free(struct wt_snmp_plan *pl)
{
	if (!pl)
		return;
	free(pl->arena);
	free(pl->nr);
	free(pl->gets);
	free(pl->cols);
	free(pl->col_pts);
	free(pl->want);
	free(pl);
}

/* A candidate column while the plan is built. */
struct ccol {
	char prefix[WT_OID_STR];
	const struct wt_prof_entity *tmpl;
	const struct wt_strv *rows; /* walk rows of its template */
	uint32_t *pts;
	long *pos; /* walk row position of each point, -1 if not in the walk */
	size_t n, cap;
	long last_pos;
	bool repeat;
};

struct tmpl_rows {
	const struct wt_prof_entity *tmpl;
	struct wt_strv rows;
};

static long find_row(const struct wt_strv *rows, const char *sfx, long hint)
{
	/* points follow the walk order, so the row is usually just after the last */
	for (size_t k = hint >= 0 ? (size_t)hint : 0; k < rows->n; k++)
		if (strcmp(rows->v[k], sfx) == 0)
			return (long)k;
	for (size_t k = 0; k < rows->n && (long)k < hint; k++)
		if (strcmp(rows->v[k], sfx) == 0)
			return (long)k;
	return -1;
}

/* The column prefix of a point read from a walked table: its OID without
 * the row suffix, when the template ends in ".{i}". */
static bool column_of(const struct wt_snmp_model *m, const struct wt_snmp_point *pt, char *prefix)
{
	const struct wt_snmp_entity *e = &m->entities[pt->entity];
	if (!e->tmpl || !e->tmpl->walk || !e->sfx[0] || !pt->pv || !pt->pv->oid)
		return false;
	size_t tl = strlen(pt->pv->oid), ol = strlen(pt->oid), sl = strlen(e->sfx);
	if (tl < 4 || strcmp(pt->pv->oid + tl - 4, ".{i}") != 0 || ol <= sl + 1 ||
	    pt->oid[ol - sl - 1] != '.' || strcmp(pt->oid + ol - sl, e->sfx) != 0)
		return false;
	memcpy(prefix, pt->oid, ol - sl - 1);
	prefix[ol - sl - 1] = 0;
	return true;
}

/* qsort has no context argument; plans are built on the loop thread only */
static const unsigned long *sort_arena;
static const struct oref *sort_want;

static int pt_oid_cmp(const void *a, const void *b)
{
	const struct oref *x = &sort_want[*(const uint32_t *)a],
			  *y = &sort_want[*(const uint32_t *)b];
	return oidv_cmp(sort_arena + x->off, x->len, sort_arena + y->off, y->len);
}

int wt_snmp_plan_build(const struct wt_snmp_model *m, const struct wt_snmp_store *st, bool bulk,
		       int max_rep, struct wt_snmp_plan **out)
{
	struct wt_snmp_plan *pl = calloc(1, sizeof *pl);
	struct ccol *cc = NULL;
	struct tmpl_rows *tr = NULL;
	struct oref *want = NULL;
	size_t n_cc = 0, cap_cc = 0, n_tr = 0, nr_cap = 0, get_cap = 0;
	int rc = 0;
	if (!pl)
		return -ENOMEM;
	pl->bulk = bulk;
	pl->max_rep = max_rep > 0 ? max_rep : 20;
	want = calloc(m->n_points + 1, sizeof *want);
	tr = calloc(m->n_entities + 1, sizeof *tr);
	if (!want || !tr) {
		rc = -ENOMEM;
		goto out;
	}
	static const unsigned long up_from[] = {1, 3, 6, 1, 2, 1, 1, 3};
	static const unsigned long up_want[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
	struct pentry up;
	up.point = UPTIME_POINT;
	if ((rc = arena_add(pl, up_from, 8, &up.from)) ||
	    (rc = arena_add(pl, up_want, 9, &up.want)))
		goto out;
	if (bulk)
		rc = entry_add(&pl->nr, &pl->n_nr, &nr_cap, up);
	else {
		up.from = up.want;
		rc = entry_add(&pl->gets, &pl->n_gets, &get_cap, up);
	}
	for (size_t i = 0; i < m->n_points && !rc; i++) {
		const struct wt_snmp_point *pt = &m->points[i];
		if (pt->is_static)
			continue;
		if ((rc = arena_parse(pl, pt->oid, &want[i]))) {
			if (rc != -EINVAL)
				goto out;
			rc = 0; /* an OID we cannot send: never polled */
			want[i].len = 0;
			continue;
		}
		char prefix[WT_OID_STR];
		if (!bulk || pt->via_get || !column_of(m, pt, prefix)) {
			struct pentry e = {.from = want[i], .want = want[i], .point = (uint32_t)i};
			size_t wl = want[i].len;
			if (bulk && !pt->via_get && wl > 2 &&
			    pl->arena[want[i].off + wl - 1] == 0) {
				/* x.0: GETNEXT from x lands on it */
				e.from.len--;
				rc = entry_add(&pl->nr, &pl->n_nr, &nr_cap, e);
			} else {
				rc = entry_add(&pl->gets, &pl->n_gets, &get_cap, e);
			}
			continue;
		}
		const struct wt_snmp_entity *e = &m->entities[pt->entity];
		size_t c = 0;
		while (c < n_cc && strcmp(cc[c].prefix, prefix) != 0)
			c++;
		if (c == n_cc) {
			if (n_cc == cap_cc) {
				size_t ncap = cap_cc ? cap_cc * 2 : 16;
				struct ccol *nv = realloc(cc, ncap * sizeof *nv);
				if (!nv) {
					rc = -ENOMEM;
					goto out;
				}
				cc = nv;
				cap_cc = ncap;
			}
			memset(&cc[c], 0, sizeof cc[c]);
			snprintf(cc[c].prefix, sizeof cc[c].prefix, "%s", prefix);
			cc[c].tmpl = e->tmpl;
			cc[c].last_pos = -1;
			size_t t = 0;
			while (t < n_tr && tr[t].tmpl != e->tmpl)
				t++;
			if (t == n_tr) {
				tr[t].tmpl = e->tmpl;
				n_tr++;
				/* every row the agent has, up to the profile's limit:
				 * predecessors must be the agent's real previous rows */
				struct rows r = {.max = (size_t)e->tmpl->max_rows,
						 .prefix = e->tmpl->walk};
				wt_snmp_store_subtree(st, e->tmpl->walk, row_cb, &r);
				tr[t].rows = r.sfx;
				if ((rc = r.err))
					goto out;
			}
			cc[c].rows = &tr[t].rows;
			n_cc++;
		}
		struct ccol *col = &cc[c];
		if (col->n == col->cap) {
			size_t ncap = col->cap ? col->cap * 2 : 16;
			uint32_t *np = realloc(col->pts, ncap * sizeof *np);
			long *npos = np ? realloc(col->pos, ncap * sizeof *npos) : NULL;
			if (np)
				col->pts = np;
			if (!npos) {
				rc = -ENOMEM;
				goto out;
			}
			col->pos = npos;
			col->cap = ncap;
		}
		long pos = find_row(col->rows, e->sfx, col->last_pos);
		col->pts[col->n] = (uint32_t)i;
		col->pos[col->n] = pos;
		col->n++;
		if (pos > col->last_pos)
			col->last_pos = pos;
	}
	if (rc)
		goto out;
	/* which columns are worth repeating: dense ones (at least half their
	 * rows are ours) at least half as long as the longest dense one; the
	 * short ones cost less as exact GETNEXTs than as wasted repetitions */
	long longest = 0;
	for (size_t c = 0; c < n_cc; c++) {
		long rows = cc[c].last_pos + 1;
		if (rows >= 2 && (long)cc[c].n * 2 >= rows && rows > longest)
			longest = rows;
	}
	size_t n_rep = 0, n_rep_pts = 0;
	for (size_t c = 0; c < n_cc; c++) {
		long rows = cc[c].last_pos + 1;
		cc[c].repeat = rows >= 2 && (long)cc[c].n * 2 >= rows && rows * 2 >= longest &&
			       n_rep < PLAN_MAX_COLS;
		if (cc[c].repeat) {
			n_rep++;
			n_rep_pts += cc[c].n;
		}
	}
	pl->cols = calloc(n_rep + 1, sizeof *pl->cols);
	pl->col_pts = calloc(n_rep_pts + 1, sizeof *pl->col_pts);
	if (!pl->cols || !pl->col_pts) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t c = 0; c < n_cc && !rc; c++) {
		struct ccol *col = &cc[c];
		if (col->repeat) {
			struct pcol *pc = &pl->cols[pl->n_cols++];
			rc = arena_parse(pl, col->prefix, &pc->prefix);
			continue;
		}
		/* cells of a short column: GETNEXT from the previous walked row */
		for (size_t k = 0; k < col->n && !rc; k++) {
			uint32_t pi = col->pts[k];
			struct pentry e = {.want = want[pi], .point = pi};
			if (col->pos[k] < 0) {
				e.from = want[pi];
				rc = entry_add(&pl->gets, &pl->n_gets, &get_cap, e);
				continue;
			}
			char pred[WT_OID_STR];
			if (col->pos[k] == 0)
				snprintf(pred, sizeof pred, "%s", col->prefix);
			else
				snprintf(pred, sizeof pred, "%s.%s", col->prefix,
					 col->rows->v[col->pos[k] - 1]);
			if (arena_parse(pl, pred, &e.from)) {
				e.from = want[pi];
				rc = entry_add(&pl->gets, &pl->n_gets, &get_cap, e);
			} else {
				rc = entry_add(&pl->nr, &pl->n_nr, &nr_cap, e);
			}
		}
	}
	if (rc)
		goto out;
	/* the arena is final now: sort each repeated column's points by OID */
	sort_arena = pl->arena;
	sort_want = want;
	size_t at = 0, k = 0;
	for (size_t c = 0; c < n_cc; c++) {
		if (!cc[c].repeat)
			continue;
		struct pcol *pc = &pl->cols[k++];
		pc->first = (uint32_t)at;
		pc->n = (uint32_t)cc[c].n;
		pc->rows = (uint32_t)(cc[c].last_pos + 1);
		memcpy(pl->col_pts + at, cc[c].pts, cc[c].n * sizeof *cc[c].pts);
		qsort(pl->col_pts + at, cc[c].n, sizeof *pl->col_pts, pt_oid_cmp);
		at += cc[c].n;
	}
out:
	for (size_t c = 0; c < n_cc; c++) {
		free(cc[c].pts);
		free(cc[c].pos);
	}
	free(cc);
	for (size_t t = 0; t < n_tr; t++)
		wt_strv_free(&tr[t].rows);
	free(tr);
	if (!rc) {
		pl->want = want;
		pl->n_want = m->n_points;
		want = NULL;
	}
	free(want);
	if (rc) {
		wt_snmp_plan_free(pl);
		return rc;
	}
	*out = pl;
	return 0;
}

void wt_snmp_plan_start(struct wt_snmp_plan *pl)
{
	pl->nr_pos = 0;
	pl->get_pos = 0;
	pl->rounds = 0;
	/* a hostile agent answering one row at a time must not keep a device
	 * busy for ever: every round makes progress, and there are few */
	size_t pts = 0;
	for (size_t c = 0; c < pl->n_cols; c++) {
		struct pcol *pc = &pl->cols[c];
		pc->next = 0;
		pc->got = 0;
		pc->cur_len = 0;
		pc->done = pc->n == 0;
		pts += pc->rows;
	}
	pl->max_rounds = (unsigned)(pl->n_nr + pl->n_gets + pts + 8);
}

int64_t wt_snmp_plan_drop(struct wt_snmp_plan *pl, const struct wt_snmp_req *req, int errindex)
{
	if (req->bulk || errindex < 1 || (size_t)errindex > req->count)
		return -1;
	size_t k = req->first + (size_t)errindex - 1;
	if (k >= pl->n_gets)
		return -1;
	uint32_t pi = pl->gets[k].point;
	memmove(&pl->gets[k], &pl->gets[k + 1], (pl->n_gets - k - 1) * sizeof *pl->gets);
	pl->n_gets--;
	return pi;
}

bool wt_snmp_plan_dirty(const struct wt_snmp_plan *pl)
{
	return pl->dirty;
}

void wt_snmp_plan_info(const struct wt_snmp_plan *pl, struct wt_snmp_plan_info *out)
{
	memset(out, 0, sizeof *out);
	out->columns = pl->n_cols;
	out->getnexts = pl->n_nr;
	out->gets = pl->n_gets;
	uint32_t rows = 0;
	for (size_t c = 0; c < pl->n_cols; c++) {
		out->column_points += pl->cols[c].n;
		if (pl->cols[c].rows > rows)
			rows = pl->cols[c].rows;
	}
	out->repetitions = (int)(rows < (uint32_t)pl->max_rep ? rows : (uint32_t)pl->max_rep);
}

bool wt_snmp_plan_next(struct wt_snmp_plan *pl, int max_oids, int max_rep, struct wt_snmp_req *req)
{
	size_t lim = max_oids < 1 ? 1 : max_oids > WT_REQ_MAX ? WT_REQ_MAX : (size_t)max_oids;
	req->n = 0;
	req->n_col = 0;
	req->first = 0;
	req->count = 0;
	req->nonrep = 0;
	req->reps = 0;
	if (pl->rounds >= pl->max_rounds)
		return false;
	bool cols_left = false;
	for (size_t c = 0; c < pl->n_cols && !cols_left; c++)
		cols_left = !pl->cols[c].done;
	if (pl->bulk && (pl->nr_pos < pl->n_nr || cols_left)) {
		req->bulk = true;
		req->first = (uint32_t)pl->nr_pos;
		while (pl->nr_pos + req->count < pl->n_nr && req->n < lim) {
			const struct pentry *e = &pl->nr[pl->nr_pos + req->count++];
			req->oid[req->n] = oref_p(pl, e->from);
			req->oid_len[req->n++] = e->from.len;
		}
		req->nonrep = (int)req->n;
		uint32_t reps = 0;
		for (size_t c = 0; c < pl->n_cols && req->n < WT_REQ_MAX; c++) {
			const struct pcol *pc = &pl->cols[c];
			if (pc->done)
				continue;
			req->col[req->n_col++] = (uint16_t)c;
			if (pc->cur_len) {
				req->oid[req->n] = pc->cur;
				req->oid_len[req->n++] = pc->cur_len;
			} else {
				req->oid[req->n] = oref_p(pl, pc->prefix);
				req->oid_len[req->n++] = pc->prefix.len;
			}
			uint32_t left = pc->rows > pc->got ? pc->rows - pc->got : 1;
			if (left > reps)
				reps = left;
		}
		if (reps > (uint32_t)pl->max_rep)
			reps = (uint32_t)pl->max_rep;
		if (max_rep >= 1 && reps > (uint32_t)max_rep)
			reps = (uint32_t)max_rep;
		/* bounded answers: at most ~1000 repeated varbinds per request */
		if (req->n_col && reps * req->n_col > 1024)
			reps = (uint32_t)(1024 / req->n_col);
		req->reps = req->n_col ? (int)(reps ? reps : 1) : 0;
		return req->n > 0;
	}
	if (pl->get_pos < pl->n_gets) {
		req->bulk = false;
		req->first = (uint32_t)pl->get_pos;
		while (pl->get_pos + req->count < pl->n_gets && req->n < lim) {
			const struct pentry *e = &pl->gets[pl->get_pos + req->count++];
			req->oid[req->n] = oref_p(pl, e->from);
			req->oid_len[req->n++] = e->from.len;
		}
		return req->n > 0;
	}
	return false;
}

/* Stores one answer into point pi (or sysUpTime). */
static void take(struct wt_snmp_model *m, uint32_t pi, const struct wt_snmp_vb *vb, uint32_t *upd,
		 size_t *nu, uint64_t *uptime, bool *have_uptime)
{
	if (pi == UPTIME_POINT) {
		if (vb->v.type == WT_SV_UINT) {
			*uptime = vb->v.u;
			*have_uptime = true;
		}
		return;
	}
	if (pi >= m->n_points)
		return;
	if (wt_snmp_point_update(&m->points[pi], &vb->v))
		upd[(*nu)++] = pi;
}

/* One repetition of a column: match the row by its index. */
static void col_take(struct wt_snmp_plan *pl, struct pcol *pc, struct wt_snmp_model *m,
		     const struct wt_snmp_vb *vb, uint32_t *upd, size_t *nu)
{
	const unsigned long *pfx = oref_p(pl, pc->prefix);
	if (vb->end_of_mib || !vb->name || vb->name_len <= pc->prefix.len ||
	    vb->name_len > WT_OID_MAXLEN ||
	    memcmp(vb->name, pfx, pc->prefix.len * sizeof *pfx) != 0 ||
	    (pc->cur_len && oidv_cmp(vb->name, vb->name_len, pc->cur, pc->cur_len) <= 0)) {
		/* past the column, end of the MIB, or an agent going backwards:
		 * rows not seen have no reading this time */
		for (; pc->next < pc->n; pc->next++)
			m->points[pl->col_pts[pc->first + pc->next]].have = false;
		pc->done = true;
		return;
	}
	memcpy(pc->cur, vb->name, vb->name_len * sizeof *pc->cur);
	pc->cur_len = vb->name_len;
	pc->got++;
	while (pc->next < pc->n) {
		uint32_t pi = pl->col_pts[pc->first + pc->next];
		const struct oref *w = &pl->want[pi];
		int c = oidv_cmp(oref_p(pl, *w), w->len, vb->name, vb->name_len);
		if (c > 0)
			break; /* a row that is not ours (filtered, beyond the count) */
		if (c == 0) {
			if (wt_snmp_point_update(&m->points[pi], &vb->v))
				upd[(*nu)++] = pi;
		} else {
			m->points[pi].have = false; /* its row was skipped: missing now */
		}
		pc->next++;
	}
	if (pc->next >= pc->n)
		pc->done = true; /* every row we read is behind us */
}

void wt_snmp_plan_read(struct wt_snmp_plan *pl, struct wt_snmp_model *m,
		       const struct wt_snmp_req *req, const struct wt_snmp_vb *vbs, size_t n,
		       uint32_t *upd, size_t *nu, uint64_t *uptime, bool *have_uptime)
{
	pl->rounds++;
	if (!req->bulk) {
		for (size_t i = 0; i < req->count; i++) {
			const struct pentry *e = &pl->gets[req->first + i];
			if (i < n && vbs[i].name &&
			    oidv_eq(vbs[i].name, vbs[i].name_len, oref_p(pl, e->want), e->want.len))
				take(m, e->point, &vbs[i], upd, nu, uptime, have_uptime);
			else if (e->point < m->n_points)
				m->points[e->point].have = false; /* another OID: no reading */
		}
		pl->get_pos = req->first + req->count;
		return;
	}
	for (size_t i = 0; i < req->count; i++) {
		const struct pentry *e = &pl->nr[req->first + i];
		if (i < n && vbs[i].name &&
		    oidv_eq(vbs[i].name, vbs[i].name_len, oref_p(pl, e->want), e->want.len)) {
			take(m, e->point, &vbs[i], upd, nu, uptime, have_uptime);
		} else if (e->point < m->n_points && i < n) {
			/* GETNEXT did not land on it (a row removed, a sparse
			 * column): a GET decides from the next poll on */
			m->points[e->point].have = false;
			m->points[e->point].via_get = true;
			pl->dirty = true;
		}
	}
	pl->nr_pos = req->first + req->count;
	if (!req->n_col)
		return;
	size_t nonrep = req->count < n ? req->count : n;
	uint32_t before[WT_REQ_MAX];
	for (size_t k = 0; k < req->n_col; k++)
		before[k] = pl->cols[req->col[k]].got;
	for (size_t j = nonrep; j < n; j++) {
		size_t k = (j - nonrep) % req->n_col;
		struct pcol *pc = &pl->cols[req->col[k]];
		if (!pc->done)
			col_take(pl, pc, m, &vbs[j], upd, nu);
	}
	for (size_t k = 0; k < req->n_col; k++) {
		struct pcol *pc = &pl->cols[req->col[k]];
		/* an answer with no row for a column although nothing else took
		 * the room: the agent will not give more */
		if (!pc->done && pc->got == before[k] && req->count == 0)
			pc->done = true;
	}
}
