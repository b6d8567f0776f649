/* SNMPv1/v2c message codec (see snmp_ber.h). Encoding computes every
 * length first and writes forwards once; decoding walks the message once,
 * each TLV bounded by the one that encloses it. */
#include "snmp_ber.h"

#include <errno.h>
#include <string.h>

/* ---- encoding ---- */

static size_t len_size(size_t n)
{
	return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 4;
}

static size_t tlv_size(size_t n)
{
	return 1 + len_size(n) + n;
}

static uint8_t *put_hdr(uint8_t *p, uint8_t tag, size_t n)
{
	*p++ = tag;
	if (n < 0x80) {
		*p++ = (uint8_t)n;
	} else {
		size_t k = len_size(n) - 1;
		*p++ = (uint8_t)(0x80 | k);
		while (k--)
			*p++ = (uint8_t)(n >> (8 * k));
	}
	return p;
}

/* Bytes of the shortest two's complement form of v. */
static size_t int_size(long v)
{
	uint64_t u = (uint64_t)v;
	size_t n = 8;
	while (n > 1) {
		uint8_t top = (uint8_t)(u >> (8 * (n - 1)));
		uint8_t next = (uint8_t)(u >> (8 * (n - 2)));
		if ((top == 0x00 && !(next & 0x80)) || (top == 0xff && (next & 0x80)))
			n--;
		else
			break;
	}
	return n;
}

static uint8_t *put_int(uint8_t *p, long v)
{
	size_t n = int_size(v);
	p = put_hdr(p, 0x02, n);
	while (n--)
		*p++ = (uint8_t)((uint64_t)v >> (8 * n));
	return p;
}

static size_t subid_size(uint64_t v)
{
	size_t k = 1;
	while (v >>= 7)
		k++;
	return k;
}

static uint8_t *put_subid(uint8_t *p, uint64_t v)
{
	size_t k = subid_size(v);
	while (k--)
		*p++ = (uint8_t)(((v >> (7 * k)) & 0x7f) | (k ? 0x80 : 0));
	return p;
}

/* Content length of an OID's encoding, or 0 if BER cannot carry it. */
static size_t oid_size(const unsigned long *o, size_t n)
{
	if (n < 2 || n > WT_BER_MAX_SUBIDS || o[0] > 2 || (o[0] < 2 && o[1] > 39))
		return 0;
	size_t size = 0;
	for (size_t i = 0; i < n; i++) {
		if (o[i] > 0xffffffffUL)
			return 0;
		if (i >= 2)
			size += subid_size(o[i]);
	}
	return size + subid_size((uint64_t)o[0] * 40 + o[1]);
}

static uint8_t *put_oid(uint8_t *p, const unsigned long *o, size_t n, size_t size)
{
	p = put_hdr(p, 0x06, size);
	p = put_subid(p, (uint64_t)o[0] * 40 + o[1]);
	for (size_t i = 2; i < n; i++)
		p = put_subid(p, o[i]);
	return p;
}

static size_t vb_size(const struct wt_ber_req *r, size_t i, size_t osize)
{
	return tlv_size(osize) + (r->ival ? tlv_size(int_size(r->ival[i])) : 2);
}

ssize_t wt_ber_encode_req(const struct wt_ber_req *r, uint8_t *out, size_t cap)
{
	if ((r->version != 0 && r->version != 1) ||
	    (r->type != WT_BER_GET && r->type != WT_BER_GETNEXT && r->type != WT_BER_SET &&
	     r->type != WT_BER_GETBULK) ||
	    (r->type == WT_BER_GETBULK && r->version == 0) || (r->type == WT_BER_SET && !r->ival))
		return -EINVAL;
	/* each OID's size once (the second pass reuses it up to WT_REQ_MAX) */
	uint16_t osz[WT_REQ_MAX];
	size_t vbl = 0;
	for (size_t i = 0; i < r->n; i++) {
		size_t os = oid_size(r->oid[i], r->oid_len[i]);
		if (!os)
			return -EINVAL;
		if (i < WT_REQ_MAX)
			osz[i] = (uint16_t)os;
		vbl += tlv_size(vb_size(r, i, os));
	}
	size_t pdu = tlv_size(int_size(r->reqid)) + tlv_size(int_size(r->f1)) +
		     tlv_size(int_size(r->f2)) + tlv_size(vbl);
	size_t msg = tlv_size(int_size(r->version)) + tlv_size(r->community_len) + tlv_size(pdu);
	size_t total = tlv_size(msg);
	if (total > 0xffffff)
		return -EINVAL;
	if (total > cap)
		return (ssize_t)total;
	uint8_t *p = put_hdr(out, 0x30, msg);
	p = put_int(p, r->version);
	p = put_hdr(p, 0x04, r->community_len);
	if (r->community_len)
		memcpy(p, r->community, r->community_len);
	p += r->community_len;
	p = put_hdr(p, r->type, pdu);
	p = put_int(p, r->reqid);
	p = put_int(p, r->f1);
	p = put_int(p, r->f2);
	p = put_hdr(p, 0x30, vbl);
	for (size_t i = 0; i < r->n; i++) {
		size_t os = i < WT_REQ_MAX ? osz[i] : oid_size(r->oid[i], r->oid_len[i]);
		p = put_hdr(p, 0x30, vb_size(r, i, os));
		p = put_oid(p, r->oid[i], r->oid_len[i], os);
		if (r->ival) {
			p = put_int(p, r->ival[i]);
		} else {
			*p++ = 0x05;
			*p++ = 0x00;
		}
	}
	return (ssize_t)(p - out);
}

/* ---- decoding ---- */

/* Reads a TLV header at *p: its tag and the length of its value, which
 * must fit before end. Multi-byte tags and the indefinite form are not
 * SNMP: refused. */
static long rd_tlv(const uint8_t **p, const uint8_t *end, uint8_t *tag)
{
	const uint8_t *q = *p;
	if (end - q < 2)
		return -1;
	*tag = *q++;
	if ((*tag & 0x1f) == 0x1f)
		return -1;
	size_t len = *q++;
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 4 || (size_t)(end - q) < k)
			return -1;
		len = 0;
		while (k--)
			len = len << 8 | *q++;
	}
	if ((size_t)(end - q) < len)
		return -1;
	*p = q;
	return (long)len;
}

long wt_ber_next(const uint8_t **p, const uint8_t *end, uint8_t want)
{
	const uint8_t *q = *p;
	uint8_t tag;
	long n = rd_tlv(&q, end, &tag);
	if (n < 0 || tag != want)
		return -1;
	*p = q;
	return n;
}

/* Two's complement of n bytes (1..max), sign-extended to 64 bits. */
static bool rd_twos(const uint8_t *v, size_t n, size_t max, uint64_t *out)
{
	if (n < 1 || n > max)
		return false;
	uint64_t x = (v[0] & 0x80) ? UINT64_MAX : 0;
	for (size_t i = 0; i < n; i++)
		x = x << 8 | v[i];
	*out = x;
	return true;
}

/* An INTEGER of the header or a value: up to 8 bytes, as net-snmp's long. */
static bool rd_long(const uint8_t *v, size_t n, long *out)
{
	uint64_t x;
	if (!rd_twos(v, n, 8, &x))
		return false;
	*out = (long)(int64_t)x;
	return true;
}

/* An unsigned of width bytes, big-endian and never sign-extended (a
 * short encoding with its top bit set reads as the positive number, as
 * net-snmp reads it); one more byte is allowed when it is a leading zero. */
static bool rd_unsigned(const uint8_t *v, size_t n, size_t width, uint64_t *out)
{
	if (n == width + 1) {
		if (v[0] != 0)
			return false;
		v++;
		n--;
	}
	if (n < 1 || n > width)
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x = x << 8 | v[i];
	*out = x;
	return true;
}

/* Sub-identifiers of an OID's content; written to dst when dst != NULL
 * (room for WT_BER_MAX_SUBIDS). Returns the count, or -1 for a
 * sub-identifier above 2^32-1 or more than WT_BER_MAX_SUBIDS of them.
 * Empty content reads as 0, a truncated last sub-identifier as what
 * it holds (both as net-snmp). */
static long rd_oid(const uint8_t *v, size_t n, unsigned long *dst)
{
	if (n == 0) {
		if (dst)
			dst[0] = 0;
		return 1;
	}
	size_t count = 0;
	const uint8_t *end = v + n;
	while (v < end) {
		uint64_t sub = 0;
		do {
			sub = sub << 7 | (*v & 0x7f);
			if (sub > 0xffffffffULL)
				return -1;
		} while ((*v++ & 0x80) && v < end);
		if (count == 0) {
			unsigned long a = sub < 40 ? 0 : sub < 80 ? 1 : 2;
			if (dst) {
				dst[0] = a;
				dst[1] = (unsigned long)(sub - 40 * a);
			}
			count = 2;
			continue;
		}
		if (count >= WT_BER_MAX_SUBIDS)
			return -1;
		if (dst)
			dst[count] = (unsigned long)sub;
		count++;
	}
	return (long)count;
}

static void set_value(struct wt_snmp_vb *vb, uint8_t tag, const uint8_t *v, size_t n,
		      char *sbuf)
{
	uint64_t u;
	long l;
	memset(&vb->v, 0, sizeof vb->v);
	vb->end_of_mib = false;
	switch (tag) {
	case 0x02: /* INTEGER */
		if (rd_long(v, n, &l)) {
			vb->v.type = WT_SV_INT;
			vb->v.i = l;
		} else {
			vb->v.type = WT_SV_OTHER;
		}
		break;
	case 0x41: /* Counter32 */
	case 0x42: /* Gauge32 */
	case 0x43: /* TimeTicks */
	case 0x47: /* UInteger32 */
		/* read into 64 bits and truncated, as net-snmp does */
		if (rd_unsigned(v, n, 8, &u)) {
			vb->v.type = WT_SV_UINT;
			vb->v.u = (uint32_t)u;
		} else {
			vb->v.type = WT_SV_OTHER;
		}
		break;
	case 0x46: /* Counter64 */
		if (rd_unsigned(v, n, 8, &u)) {
			vb->v.type = WT_SV_UINT;
			vb->v.u = u;
		} else {
			vb->v.type = WT_SV_OTHER;
		}
		break;
	case 0x44: /* Opaque: a float, double or 64-bit integer inside is not a string */
		if (n >= 2 && v[0] == 0x9f && v[1] >= 0x76 && v[1] <= 0x7b && v[1] != 0x77) {
			vb->v.type = WT_SV_OTHER;
			break;
		}
		/* fall through */
	case 0x04: /* OCTET STRING */
		vb->v.type = WT_SV_STR;
		vb->v.s = (const char *)v;
		vb->v.slen = n;
		break;
	case 0x40: /* IpAddress */
		if (n == 4) {
			char *w = sbuf;
			for (int i = 0; i < 4; i++) {
				unsigned b = v[i];
				if (i)
					*w++ = '.';
				if (b >= 100)
					*w++ = (char)('0' + b / 100);
				if (b >= 10)
					*w++ = (char)('0' + b / 10 % 10);
				*w++ = (char)('0' + b % 10);
			}
			*w = 0;
			vb->v.type = WT_SV_STR;
			vb->v.s = sbuf;
			vb->v.slen = (size_t)(w - sbuf);
		}
		break;
	case 0x06: { /* OBJECT IDENTIFIER */
		unsigned long o[WT_BER_MAX_SUBIDS];
		long k = rd_oid(v, n, o);
		if (k < 0) {
			vb->v.type = WT_SV_OTHER;
			break;
		}
		wt_oid_format(o, (size_t)k, sbuf, WT_OID_STR);
		vb->v.type = WT_SV_OID;
		vb->v.s = sbuf;
		vb->v.slen = strlen(sbuf);
		break;
	}
	case 0x82: /* endOfMibView */
		vb->end_of_mib = true;
		break;
	case 0x05: /* NULL */
	case 0x80: /* noSuchObject */
	case 0x81: /* noSuchInstance */
		break;
	default:
		vb->v.type = WT_SV_OTHER;
		break;
	}
}

static bool rd_header_int(const uint8_t **p, const uint8_t *end, long *out)
{
	long n = wt_ber_next(p, end, 0x02);
	if (n < 0 || !rd_long(*p, (size_t)n, out))
		return false;
	*p += n;
	return true;
}

int wt_ber_decode_msg(const uint8_t *buf, size_t len, struct wt_ber_msg *m,
		      const struct wt_ber_out *out)
{
	const uint8_t *p = buf, *end = buf + len;
	long n = wt_ber_next(&p, end, 0x30);
	long version;
	memset(m, 0, sizeof *m);
	if (n < 0)
		return -EBADMSG;
	end = p + n;
	if (!rd_header_int(&p, end, &version) || (version != 0 && version != 1))
		return -EBADMSG;
	m->version = (int)version;
	n = wt_ber_next(&p, end, 0x04); /* community */
	if (n < 0)
		return -EBADMSG;
	p += n;
	uint8_t tag;
	n = rd_tlv(&p, end, &tag);
	if (n < 0 || tag < 0xa0 || tag > 0xa8 || tag == 0xa4)
		return -EBADMSG;
	m->type = tag;
	end = p + n;
	if (!rd_header_int(&p, end, &m->reqid) || !rd_header_int(&p, end, &m->errstat) ||
	    !rd_header_int(&p, end, &m->errindex))
		return -EBADMSG;
	n = wt_ber_next(&p, end, 0x30);
	if (n < 0)
		return -EBADMSG;
	end = p + n;
	size_t i = 0, sub = 0;
	bool all = true;
	while (p < end) {
		n = wt_ber_next(&p, end, 0x30);
		if (n < 0)
			return -EBADMSG;
		const uint8_t *vend = p + n;
		long on = wt_ber_next(&p, vend, 0x06);
		if (on < 0)
			return -EBADMSG;
		const uint8_t *ov = p;
		p += on;
		long vn = rd_tlv(&p, vend, &tag);
		if (vn < 0)
			return -EBADMSG;
		bool room = i < out->max && sub + WT_BER_MAX_SUBIDS <= out->sub_cap;
		all = all && room;
		long k = rd_oid(ov, (size_t)on, room ? out->sub + sub : NULL);
		if (k < 0)
			return -EBADMSG;
		if (room) {
			struct wt_snmp_vb *vb = &out->vbs[i];
			vb->name = out->sub + sub;
			vb->name_len = (size_t)k;
			if (out->text)
				wt_oid_format(vb->name, vb->name_len, vb->oid, sizeof vb->oid);
			else
				vb->oid[0] = 0;
			set_value(vb, tag, p, (size_t)vn, out->sbuf[i]);
		}
		i++;
		sub += (size_t)k;
		p = vend; /* anything after the value inside the varbind is ignored */
	}
	/* a name is decoded only where a whole WT_BER_MAX_SUBIDS fit: the
	 * need says so */
	m->n = i;
	m->n_sub = sub + WT_BER_MAX_SUBIDS;
	if (!all)
		return -ENOSPC;
	return 0;
}

/* Every sub-identifier of every varbind of every poll comes through here
 * when text is asked for: hand-rolled, several times cheaper than snprintf. */
void wt_oid_format(const unsigned long *o, size_t n, char *out, size_t len)
{
	size_t w = 0;
	if (!len)
		return;
	for (size_t i = 0; i < n; i++) {
		char digits[24];
		size_t k = 0;
		unsigned long v = o[i];
		do {
			digits[k++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		if (w + k + (i ? 1 : 0) + 1 > len)
			break; /* truncated: the caller sees a shorter, non-matching OID */
		if (i)
			out[w++] = '.';
		while (k)
			out[w++] = digits[--k];
	}
	out[w] = 0;
}
