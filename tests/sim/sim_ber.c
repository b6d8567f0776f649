/* sim_ber.c — BER reading and writing for the SNMP agent of wattrack-sim. */
#include "sim_ber.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ber_read_tl(struct ber_rd *rd, uint8_t *tag, size_t *len)
{
	if (rd->end - rd->p < 2)
		return -EBADMSG;
	*tag = *rd->p++;
	if ((*tag & 0x1f) == 0x1f) /* multi-byte tags never occur in SNMP */
		return -EBADMSG;
	uint8_t b = *rd->p++;
	size_t l;
	if (b < 0x80) {
		l = b;
	} else {
		unsigned n = b & 0x7f;
		if (n == 0 || n > 4 || rd->end - rd->p < (ptrdiff_t)n)
			return -EBADMSG; /* indefinite or absurd length */
		l = 0;
		for (unsigned i = 0; i < n; i++)
			l = (l << 8) | *rd->p++;
	}
	if ((size_t)(rd->end - rd->p) < l)
		return -EBADMSG;
	*len = l;
	return 0;
}

int ber_enter(struct ber_rd *rd, uint8_t tag, struct ber_rd *in)
{
	uint8_t t;
	size_t l;
	if (ber_read_tl(rd, &t, &l) < 0 || t != tag)
		return -EBADMSG;
	in->p = rd->p;
	in->end = rd->p + l;
	rd->p += l;
	return 0;
}

int ber_read_any(struct ber_rd *rd, uint8_t *tag, const uint8_t **v, size_t *len)
{
	if (ber_read_tl(rd, tag, len) < 0)
		return -EBADMSG;
	*v = rd->p;
	rd->p += *len;
	return 0;
}

int ber_read_int(struct ber_rd *rd, uint8_t tag, int64_t *v)
{
	uint8_t t;
	size_t l;
	if (ber_read_tl(rd, &t, &l) < 0 || t != tag || l == 0 || l > 9)
		return -EBADMSG;
	/* Counter64 values may need 9 bytes (leading zero); keep the low 64 bits. */
	uint64_t x = (rd->p[0] & 0x80) ? ~(uint64_t)0 : 0;
	for (size_t i = 0; i < l; i++)
		x = (x << 8) | rd->p[i];
	rd->p += l;
	*v = (int64_t)x;
	return 0;
}

int ber_read_octets(struct ber_rd *rd, const uint8_t **s, size_t *len)
{
	uint8_t t;
	if (ber_read_tl(rd, &t, len) < 0 || t != BER_OCTETS)
		return -EBADMSG;
	*s = rd->p;
	rd->p += *len;
	return 0;
}

int ber_read_oid(struct ber_rd *rd, uint32_t *arcs, size_t *n)
{
	uint8_t t;
	size_t l;
	if (ber_read_tl(rd, &t, &l) < 0 || t != BER_OID || l == 0)
		return -EBADMSG;
	const uint8_t *p = rd->p, *e = rd->p + l;
	rd->p = e;
	size_t k = 0;
	uint64_t v = 0;
	bool first = true;
	for (; p < e; p++) {
		v = (v << 7) | (*p & 0x7f);
		if (v > 0xffffffffull)
			return -EBADMSG;
		if (*p & 0x80)
			continue;
		if (first) {
			if (k + 2 > BER_MAX_OID)
				return -EBADMSG;
			arcs[k++] = v < 40 ? 0 : v < 80 ? 1 : 2;
			arcs[k++] = (uint32_t)(v < 80 ? v % 40 : v - 80);
			first = false;
		} else {
			if (k + 1 > BER_MAX_OID)
				return -EBADMSG;
			arcs[k++] = (uint32_t)v;
		}
		v = 0;
	}
	if (e[-1] & 0x80)
		return -EBADMSG; /* last sub-identifier unfinished */
	*n = k;
	return 0;
}

static bool room(struct ber_wr *w, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return false;
	}
	return true;
}

/* A constructed TLV reserves 4 header bytes (tag, 0x82, 2 length bytes) and
 * shifts its content down at ber_end if the length needs fewer. */
size_t ber_begin(struct ber_wr *w, uint8_t tag)
{
	size_t mark = w->len;
	if (room(w, 4)) {
		w->buf[w->len] = tag;
		w->len += 4;
	}
	return mark;
}

size_t ber_end(struct ber_wr *w, size_t mark)
{
	if (w->overflow)
		return 0;
	size_t clen = w->len - mark - 4;
	uint8_t *h = w->buf + mark;
	size_t hl;
	if (clen < 0x80) {
		h[1] = (uint8_t)clen;
		hl = 2;
	} else if (clen < 0x100) {
		h[1] = 0x81;
		h[2] = (uint8_t)clen;
		hl = 3;
	} else if (clen < 0x10000) {
		h[1] = 0x82;
		h[2] = (uint8_t)(clen >> 8);
		h[3] = (uint8_t)clen;
		hl = 4;
	} else {
		w->overflow = true;
		return 0;
	}
	if (hl < 4) {
		memmove(h + hl, h + 4, clen);
		w->len -= 4 - hl;
	}
	return 4 - hl;
}

static void put_len(struct ber_wr *w, size_t l)
{
	if (l < 0x80) {
		w->buf[w->len++] = (uint8_t)l;
	} else if (l < 0x100) {
		w->buf[w->len++] = 0x81;
		w->buf[w->len++] = (uint8_t)l;
	} else {
		w->buf[w->len++] = 0x82;
		w->buf[w->len++] = (uint8_t)(l >> 8);
		w->buf[w->len++] = (uint8_t)l;
	}
}

void ber_put_int(struct ber_wr *w, uint8_t tag, int64_t v)
{
	uint8_t tmp[8];
	int n = 8;
	for (int i = 7; i >= 0; i--) {
		tmp[i] = (uint8_t)v;
		v >>= 8;
	}
	int s = 0;
	/* strip redundant leading 0x00 / 0xff bytes */
	while (s < 7 && ((tmp[s] == 0 && !(tmp[s + 1] & 0x80)) ||
			 (tmp[s] == 0xff && (tmp[s + 1] & 0x80))))
		s++;
	n = 8 - s;
	if (!room(w, (size_t)n + 2))
		return;
	w->buf[w->len++] = tag;
	w->buf[w->len++] = (uint8_t)n;
	memcpy(w->buf + w->len, tmp + s, (size_t)n);
	w->len += (size_t)n;
}

void ber_put_uint(struct ber_wr *w, uint8_t tag, uint64_t v)
{
	uint8_t tmp[9];
	tmp[0] = 0;
	for (int i = 8; i >= 1; i--) {
		tmp[i] = (uint8_t)v;
		v >>= 8;
	}
	int s = 0;
	while (s < 8 && tmp[s] == 0 && !(tmp[s + 1] & 0x80))
		s++;
	int n = 9 - s;
	if (!room(w, (size_t)n + 2))
		return;
	w->buf[w->len++] = tag;
	w->buf[w->len++] = (uint8_t)n;
	memcpy(w->buf + w->len, tmp + s, (size_t)n);
	w->len += (size_t)n;
}

void ber_put_octets(struct ber_wr *w, uint8_t tag, const void *s, size_t len)
{
	if (len > 0xffff || !room(w, len + 4))
		return;
	w->buf[w->len++] = tag;
	put_len(w, len);
	if (len)
		memcpy(w->buf + w->len, s, len);
	w->len += len;
}

void ber_put_null(struct ber_wr *w, uint8_t tag)
{
	if (!room(w, 2))
		return;
	w->buf[w->len++] = tag;
	w->buf[w->len++] = 0;
}

static size_t put_subid(uint8_t *out, uint32_t v)
{
	uint8_t b[5];
	int k = 0;
	do {
		b[k++] = v & 0x7f;
		v >>= 7;
	} while (v);
	size_t l = 0;
	while (k > 1)
		out[l++] = b[--k] | 0x80;
	out[l++] = b[0];
	return l;
}

void ber_put_oid(struct ber_wr *w, const uint32_t *arcs, size_t n)
{
	uint8_t tmp[BER_MAX_OID * 5 + 5];
	size_t l = 0;
	if (n > BER_MAX_OID)
		n = BER_MAX_OID;
	if (n < 2) {
		tmp[l++] = n ? (uint8_t)(arcs[0] * 40) : 0;
	} else {
		l += put_subid(tmp, arcs[0] * 40 + arcs[1]);
		for (size_t i = 2; i < n; i++)
			l += put_subid(tmp + l, arcs[i]);
	}
	ber_put_octets(w, BER_OID, tmp, l);
}

void ber_put_raw(struct ber_wr *w, const void *s, size_t len)
{
	if (!room(w, len))
		return;
	memcpy(w->buf + w->len, s, len);
	w->len += len;
}

int oid_cmp(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	size_t n = na < nb ? na : nb;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return na < nb ? -1 : na > nb ? 1 : 0;
}

int oid_parse(const char *s, uint32_t *arcs, size_t max, size_t *n)
{
	size_t k = 0;
	if (*s == '.')
		s++;
	while (*s) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || v > 0xffffffffUL || k >= max)
			return -EINVAL;
		arcs[k++] = (uint32_t)v;
		s = end;
		if (*s == '.')
			s++;
		else if (*s)
			return -EINVAL;
	}
	*n = k;
	return k >= 2 ? 0 : -EINVAL;
}
