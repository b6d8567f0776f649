#include "batch.h"

#include "pg.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define OID_INT2 21
#define OID_FLOAT4 700
#define ARR_HDR 20 /* ndim, flags, elemtype, dim, lbound */

static const unsigned char copy_sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

void wt_batch_free(struct wt_batch *b)
{
	if (!b)
		return;
	free(b->copy);
	free(b);
}

static int reserve(struct wt_batch *b, size_t more)
{
	if (b->copy_len + more <= b->copy_cap)
		return 0;
	size_t cap = b->copy_cap ? b->copy_cap : 4096;
	while (cap < b->copy_len + more)
		cap *= 2;
	unsigned char *n = realloc(b->copy, cap);
	if (!n)
		return -ENOMEM;
	b->copy = n;
	b->copy_cap = cap;
	return 0;
}

enum { AGG_ROW = 2 + 8 + 12 + 8 + 6 + 3 * 12 };

/* Callers reserve() what they put(); put() does not check. */
static unsigned char *put(struct wt_batch *b, size_t n)
{
	unsigned char *p = b->copy + b->copy_len;
	b->copy_len += n;
	return p;
}

static uint32_t fbits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float bitsf(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static struct wt_batch *batch_new(enum wt_level level, uint64_t id)
{
	struct wt_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->id = id;
	b->level = (uint8_t)level;
	b->min_ts = INT64_MAX;
	b->max_ts = INT64_MIN;
	if (reserve(b, 19) < 0) {
		free(b);
		return NULL;
	}
	unsigned char *p = put(b, 19);
	memcpy(p, copy_sig, 11);
	wt_be32(p + 11, 0);
	wt_be32(p + 15, 0);
	return b;
}

static int batch_end(struct wt_batch *b)
{
	if (reserve(b, 2) < 0)
		return -ENOMEM;
	wt_be16(put(b, 2), 0xffff);
	return 0;
}

static void note_ts(struct wt_batch *b, int64_t ts)
{
	if (ts < b->min_ts)
		b->min_ts = ts;
	if (ts > b->max_ts)
		b->max_ts = ts;
}

/* ---- window ---- */

int wt_window_init(struct wt_window *w, int64_t len_ms)
{
	memset(w, 0, sizeof(*w));
	if (len_ms < WT_BUCKET_MS || len_ms > WT_WINDOW_MAX_MS || len_ms % WT_BUCKET_MS)
		return -EINVAL;
	w->len_ms = len_ms;
	w->nb = (int)(len_ms / WT_BUCKET_MS);
	w->start_ms = INT64_MIN;
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint64_t)time(NULL) * 2654435761u;
	/* 40 random bits, 22 bits of sequence: 4M batches before the sequence
	 * runs into the random part, and two instances never collide. */
	w->next_id = (r & 0xffffffffffULL) << 22;
	return 0;
}

void wt_window_free(struct wt_window *w)
{
	if (w->mm)
		for (uint32_t i = 0; i < w->cap; i++)
			free(w->mm[i]);
	free(w->v);
	free(w->cnt);
	free(w->mm);
	free(w->q);
	free(w->live);
	memset(w, 0, sizeof(*w));
}

uint64_t wt_batch_new_id(struct wt_window *w)
{
	return (w->next_id++) & 0x7fffffffffffffffULL;
}

int64_t wt_window_align(const struct wt_window *w, int64_t ts)
{
	int64_t q = ts / w->len_ms;
	if (ts % w->len_ms < 0)
		q--;
	return q * w->len_ms;
}

static int grow(struct wt_window *w, uint32_t series)
{
	uint32_t cap = w->cap ? w->cap : 1024;
	while (cap <= series)
		cap *= 2;
	size_t nb = (size_t)w->nb;
	float *v = realloc(w->v, cap * nb * sizeof(float));
	if (!v)
		return -ENOMEM;
	w->v = v;
	uint8_t *cnt = realloc(w->cnt, cap * nb);
	if (!cnt)
		return -ENOMEM;
	w->cnt = cnt;
	float **mm = realloc(w->mm, cap * sizeof(float *));
	if (!mm)
		return -ENOMEM;
	w->mm = mm;
	uint8_t *q = realloc(w->q, cap);
	if (!q)
		return -ENOMEM;
	w->q = q;
	memset(w->cnt + w->cap * nb, 0, (cap - w->cap) * nb);
	memset(w->mm + w->cap, 0, (cap - w->cap) * sizeof(float *));
	memset(w->q + w->cap, 0xff, cap - w->cap);
	w->cap = cap;
	return 0;
}

int wt_window_add(struct wt_window *w, const struct wt_bucket *b)
{
	if (b->count == 0)
		return 0;
	if (w->start_ms == INT64_MIN)
		w->start_ms = wt_window_align(w, b->start_ms);
	if (b->start_ms < w->start_ms || b->start_ms >= w->start_ms + w->len_ms)
		return -ERANGE;
	if (b->series >= w->cap && grow(w, b->series) < 0)
		return -ENOMEM;
	size_t nb = (size_t)w->nb, s = b->series;
	size_t i = (size_t)((b->start_ms - w->start_ms) / WT_BUCKET_MS);
	if (w->q[s] == 0xff) {
		if (w->nlive == w->live_cap) {
			size_t c = w->live_cap ? w->live_cap * 2 : 1024;
			uint32_t *l = realloc(w->live, c * sizeof(*l));
			if (!l)
				return -ENOMEM;
			w->live = l;
			w->live_cap = c;
		}
		w->live[w->nlive++] = b->series;
		w->q[s] = 0;
	}
	if (b->quality > w->q[s])
		w->q[s] = b->quality;
	uint16_t c = b->count > 0xfffe ? 0xfffe : (uint16_t)b->count;
	float *mm = w->mm[s];
	if (c > 1 && !mm) {
		mm = w->mm[s] = malloc(2 * nb * sizeof(float) + nb * sizeof(uint16_t));
		if (!mm)
			return -ENOMEM;
		/* Buckets already here had one sample: min = max = avg. */
		uint16_t *ec = (uint16_t *)(mm + 2 * nb);
		for (size_t k = 0; k < nb; k++) {
			mm[k] = mm[nb + k] = w->cnt[s * nb + k] ? w->v[s * nb + k] : NAN;
			ec[k] = w->cnt[s * nb + k];
		}
	}
	/* A bucket closed twice (should not happen) keeps the last one. */
	w->cnt[s * nb + i] = c > 255 ? 255 : (uint8_t)c;
	w->v[s * nb + i] = (float)(b->sum / b->count);
	if (mm) {
		mm[i] = (float)b->min;
		mm[nb + i] = (float)b->max;
		((uint16_t *)(mm + 2 * nb))[i] = c;
	}
	return 0;
}

static void put_f4_array(struct wt_batch *b, const float *v, const uint16_t *cnt, int lo, int n,
			 float empty)
{
	unsigned char *p = put(b, 4 + ARR_HDR + (size_t)n * 8);
	wt_be32(p, (uint32_t)(ARR_HDR + n * 8));
	wt_be32(p + 4, 1);
	wt_be32(p + 8, 0);
	wt_be32(p + 12, OID_FLOAT4);
	wt_be32(p + 16, (uint32_t)n);
	wt_be32(p + 20, 1);
	p += 24;
	for (int k = 0; k < n; k++, p += 8) {
		wt_be32(p, 4);
		wt_be32(p + 4, fbits(cnt[lo + k] ? v[lo + k] : empty));
	}
}

/* Exact per-bucket counts of series s. */
static void exact_counts(const struct wt_window *w, size_t s, uint16_t *out)
{
	size_t nb = (size_t)w->nb;
	const uint16_t *ec = w->mm[s] ? (const uint16_t *)(w->mm[s] + 2 * nb) : NULL;
	for (size_t k = 0; k < nb; k++)
		out[k] = !w->cnt[s * nb + k] ? 0 : ec ? ec[k] : w->cnt[s * nb + k];
}

int wt_window_take(struct wt_window *w, wt_raw_fn raw_of, void *ctx, struct wt_batch **out)
{
	*out = NULL;
	if (w->nlive == 0) {
		w->start_ms = INT64_MIN;
		return 0;
	}
	struct wt_batch *b = batch_new(WT_LEVEL_5S, wt_batch_new_id(w));
	if (!b)
		return -ENOMEM;
	size_t nb = (size_t)w->nb;
	/* Worst case per row: 2 + 8 + 12 + 6 + 3 arrays of 4+20+8n + int2 array
	 * + 12 for raw. */
	if (reserve(b, w->nlive * (42 + 4 * (4 + ARR_HDR) + nb * 30) + 2) < 0) {
		wt_batch_free(b);
		return -ENOMEM;
	}
	for (size_t li = 0; li < w->nlive; li++) {
		uint32_t s = w->live[li];
		uint16_t cnt[WT_WINDOW_MAX_BUCKETS];
		float *v = w->v + (size_t)s * nb;
		exact_counts(w, s, cnt);
		int lo = 0, hi = w->nb - 1;
		bool ones = true;
		while (lo < w->nb && !cnt[lo])
			lo++;
		while (hi > lo && !cnt[hi])
			hi--;
		int n = hi - lo + 1;
		for (int k = lo; k <= hi; k++)
			if (cnt[k] > 1)
				ones = false;
		int64_t start = w->start_ms + (int64_t)lo * WT_BUCKET_MS;
		unsigned char *p = put(b, 2 + 8 + 12 + 6);
		wt_be16(p, WT_ROW5S_FIELDS);
		wt_be32(p + 2, 4);
		wt_be32(p + 6, s);
		wt_be32(p + 10, 8);
		wt_be64(p + 14, (uint64_t)wt_pg_ts_from_ms(start));
		wt_be32(p + 22, 2);
		wt_be16(p + 26, w->q[s]);
		/* cnt: NULL when every present bucket had one sample; gaps are
		 * NaN in v, so a NULL cnt still tells them apart. */
		if (ones) {
			wt_be32(put(b, 4), 0xffffffffu);
		} else {
			p = put(b, 4 + ARR_HDR + (size_t)n * 6);
			wt_be32(p, (uint32_t)(ARR_HDR + n * 6));
			wt_be32(p + 4, 1);
			wt_be32(p + 8, 0);
			wt_be32(p + 12, OID_INT2);
			wt_be32(p + 16, (uint32_t)n);
			wt_be32(p + 20, 1);
			p += 24;
			for (int k = 0; k < n; k++, p += 6) {
				wt_be32(p, 2);
				wt_be16(p + 4, cnt[lo + k]);
			}
		}
		put_f4_array(b, v, cnt, lo, n, NAN);
		float *mm = w->mm[s];
		if (ones || !mm) {
			wt_be32(put(b, 4), 0xffffffffu);
			wt_be32(put(b, 4), 0xffffffffu);
		} else {
			put_f4_array(b, mm, cnt, lo, n, NAN);
			put_f4_array(b, mm + nb, cnt, lo, n, NAN);
		}
		double raw;
		if (raw_of && raw_of(ctx, s, &raw)) {
			uint64_t u;
			memcpy(&u, &raw, 8);
			p = put(b, 12);
			wt_be32(p, 8);
			wt_be64(p + 4, u);
		} else {
			wt_be32(put(b, 4), 0xffffffffu);
		}
		b->rows++;
		for (int k = lo; k <= hi; k++)
			b->samples += cnt[k] != 0;
		note_ts(b, start);
		/* Reset the slot for the next window. */
		memset(w->cnt + (size_t)s * nb, 0, nb);
		free(w->mm[s]);
		w->mm[s] = NULL;
		w->q[s] = 0xff;
	}
	w->nlive = 0;
	w->start_ms = INT64_MIN;
	if (batch_end(b) < 0) {
		wt_batch_free(b);
		return -ENOMEM;
	}
	*out = b;
	return 0;
}

bool wt_window_peek(const struct wt_window *w, uint32_t s, struct wt_row5s *out)
{
	if (w->start_ms == INT64_MIN || s >= w->cap || w->q[s] == 0xff)
		return false;
	size_t nb = (size_t)w->nb;
	out->series = s;
	out->start_ms = w->start_ms;
	out->quality = w->q[s];
	out->nb = w->nb;
	exact_counts(w, s, out->cnt);
	for (size_t k = 0; k < nb; k++) {
		out->v[k] = out->cnt[k] ? w->v[s * nb + k] : NAN;
		out->mn[k] = w->mm[s] && out->cnt[k] ? w->mm[s][k] : out->v[k];
		out->mx[k] = w->mm[s] && out->cnt[k] ? w->mm[s][nb + k] : out->v[k];
	}
	return true;
}

size_t wt_window_bytes(const struct wt_window *w)
{
	return (size_t)w->nb * (sizeof(float) + sizeof(uint8_t)) + sizeof(float *) + 1;
}

/* ---- aggregates ---- */

int wt_batch_from_aggs(enum wt_level level, const struct wt_agg *a, size_t n, uint64_t id,
		       struct wt_batch **out)
{
	struct wt_batch *b = batch_new(level, id);
	*out = NULL;
	/* each row: field count, then series, start, count, quality and three
	 * float8s, each with its length word (AGG_ROW bytes) */
	if (!b || reserve(b, n * AGG_ROW + 2) < 0) {
		wt_batch_free(b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (a[i].count == 0)
			continue;
		unsigned char *p = put(b, AGG_ROW);
		wt_be16(p, 7);
		wt_be32(p + 2, 4);
		wt_be32(p + 6, a[i].series);
		wt_be32(p + 10, 8);
		wt_be64(p + 14, (uint64_t)wt_pg_ts_from_ms(a[i].start_ms));
		wt_be32(p + 22, 4);
		wt_be32(p + 26, a[i].count);
		wt_be32(p + 30, 2);
		wt_be16(p + 34, a[i].quality);
		const double d[3] = {a[i].min, a[i].max, a[i].sum};
		p += 36;
		for (int k = 0; k < 3; k++, p += 12) {
			uint64_t u;
			memcpy(&u, &d[k], 8);
			wt_be32(p, 8);
			wt_be64(p + 4, u);
		}
		b->rows++;
		b->samples++;
		note_ts(b, a[i].start_ms);
	}
	if (batch_end(b) < 0) {
		wt_batch_free(b);
		return -ENOMEM;
	}
	*out = b;
	return 0;
}

/* ---- decoding ---- */

/* Parses a one-dimensional binary array of int2 or float4 with at most
 * WT_WINDOW_MAX_BUCKETS elements. NULL elements are rejected. */
static int parse_array(const unsigned char *p, int len, uint32_t oid, int *n, float *fv,
		       uint16_t *iv)
{
	if (len < 12)
		return -EBADMSG;
	uint32_t ndim = wt_rd32(p), elem = wt_rd32(p + 8);
	if (elem != oid)
		return -EBADMSG;
	if (ndim == 0) {
		*n = 0;
		return 0;
	}
	if (ndim != 1 || len < ARR_HDR)
		return -EBADMSG;
	uint32_t dim = wt_rd32(p + 12);
	if (dim > WT_WINDOW_MAX_BUCKETS)
		return -EBADMSG;
	size_t esz = oid == OID_FLOAT4 ? 4 : 2;
	if ((size_t)len != ARR_HDR + dim * (4 + esz))
		return -EBADMSG;
	p += ARR_HDR;
	for (uint32_t k = 0; k < dim; k++, p += 4 + esz) {
		if (wt_rd32(p) != esz)
			return -EBADMSG;
		if (fv)
			fv[k] = bitsf(wt_rd32(p + 4));
		else
			iv[k] = wt_rd16(p + 4);
	}
	*n = (int)dim;
	return 0;
}

int wt_row5s_decode(const char *const f[WT_ROW5S_FIELDS], const int len[WT_ROW5S_FIELDS],
		    struct wt_row5s *r)
{
	const unsigned char *const *u = (const unsigned char *const *)f;
	int n = 0, m;

	if (len[0] != 4 || len[1] != 8 || len[2] != 2 || len[4] < 0)
		return -EBADMSG;
	r->series = wt_rd32(u[0]);
	r->start_ms = wt_pg_ts_to_ms((int64_t)wt_rd64(u[1]));
	uint16_t q = wt_rd16(u[2]);
	r->quality = q > 255 ? 255 : (uint8_t)q;
	if (parse_array(u[4], len[4], OID_FLOAT4, &n, r->v, NULL) < 0)
		return -EBADMSG;
	r->nb = n;
	if (len[3] >= 0) {
		if (parse_array(u[3], len[3], OID_INT2, &m, NULL, r->cnt) < 0 || m != n)
			return -EBADMSG;
	} else {
		for (int k = 0; k < n; k++)
			r->cnt[k] = isnan(r->v[k]) ? 0 : 1;
	}
	for (int k = 0; k < n; k++)
		if (r->cnt[k] && isnan(r->v[k]))
			r->cnt[k] = 0;
	if (len[5] >= 0 && len[6] >= 0) {
		if (parse_array(u[5], len[5], OID_FLOAT4, &m, r->mn, NULL) < 0 || m != n ||
		    parse_array(u[6], len[6], OID_FLOAT4, &m, r->mx, NULL) < 0 || m != n)
			return -EBADMSG;
	} else {
		memcpy(r->mn, r->v, (size_t)n * sizeof(float));
		memcpy(r->mx, r->v, (size_t)n * sizeof(float));
	}
	r->has_raw = len[7] == 8;
	if (len[7] != -1 && len[7] != 8)
		return -EBADMSG;
	if (r->has_raw) {
		uint64_t uu = wt_rd64(u[7]);
		memcpy(&r->raw, &uu, 8);
	}
	return 0;
}

/* Walks the tuples of a binary COPY stream with nfields fields each. */
static int walk_copy(const struct wt_batch *b, uint16_t want,
		     int (*row)(void *ctx, const char *const *f, const int *len), void *ctx)
{
	const unsigned char *p = b->copy, *end = b->copy + b->copy_len;
	if (b->copy_len < 21 || memcmp(p, copy_sig, 11) != 0)
		return -EBADMSG;
	p += 19;
	for (;;) {
		if (end - p < 2)
			return -EBADMSG;
		uint16_t nf = wt_rd16(p);
		p += 2;
		if (nf == 0xffff)
			return 0;
		if (nf != want)
			return -EBADMSG;
		const char *f[WT_ROW5S_FIELDS];
		int len[WT_ROW5S_FIELDS];
		for (int i = 0; i < nf; i++) {
			if (end - p < 4)
				return -EBADMSG;
			int32_t l = (int32_t)wt_rd32(p);
			p += 4;
			if (l < -1 || (l > 0 && end - p < l))
				return -EBADMSG;
			f[i] = (const char *)p;
			len[i] = l;
			if (l > 0)
				p += l;
		}
		int rc = row(ctx, f, len);
		if (rc)
			return rc < 0 ? rc : 0;
	}
}

struct walk5 {
	int (*fn)(void *ctx, const struct wt_row5s *row);
	void *ctx;
	struct wt_row5s r;
};

static int row5(void *ctx, const char *const *f, const int *len)
{
	struct walk5 *w = ctx;
	if (wt_row5s_decode(f, len, &w->r) < 0)
		return -EBADMSG;
	return w->fn(w->ctx, &w->r) ? 1 : 0;
}

int wt_batch_foreach_5s(const struct wt_batch *b, int (*fn)(void *ctx, const struct wt_row5s *row),
			void *ctx)
{
	if (b->level != WT_LEVEL_5S)
		return -EINVAL;
	struct walk5 *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->ctx = ctx;
	int rc = walk_copy(b, WT_ROW5S_FIELDS, row5, w);
	free(w);
	return rc;
}

struct walka {
	int (*fn)(void *ctx, const struct wt_agg *a);
	void *ctx;
};

static double rdf8(const char *p)
{
	uint64_t u = wt_rd64((const unsigned char *)p);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

static int rowa(void *ctx, const char *const *f, const int *len)
{
	struct walka *w = ctx;
	struct wt_agg a;
	if (len[0] != 4 || len[1] != 8 || len[2] != 4 || len[3] != 2 || len[4] != 8 ||
	    len[5] != 8 || len[6] != 8)
		return -EBADMSG;
	a.series = wt_rd32((const unsigned char *)f[0]);
	a.start_ms = wt_pg_ts_to_ms((int64_t)wt_rd64((const unsigned char *)f[1]));
	a.count = wt_rd32((const unsigned char *)f[2]);
	a.quality = (uint8_t)wt_rd16((const unsigned char *)f[3]);
	a.min = rdf8(f[4]);
	a.max = rdf8(f[5]);
	a.sum = rdf8(f[6]);
	return w->fn(w->ctx, &a) ? 1 : 0;
}

int wt_batch_foreach_agg(const struct wt_batch *b, int (*fn)(void *ctx, const struct wt_agg *a),
			 void *ctx)
{
	if (b->level == WT_LEVEL_5S)
		return -EINVAL;
	struct walka w = {fn, ctx};
	return walk_copy(b, 7, rowa, &w);
}
