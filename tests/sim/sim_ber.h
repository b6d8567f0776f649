/* sim_ber.h — the minimal BER (X.690) subset SNMP needs, hand-written for
 * speed: reading TLVs, integers, octet strings and OIDs, and writing them
 * forward with length fix-ups. Every reader checks bounds; bad input from
 * the network returns -EBADMSG, never crashes. */
#ifndef WT_SIM_BER_H
#define WT_SIM_BER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BER_MAX_OID 128

enum {
	BER_INTEGER = 0x02,
	BER_OCTETS = 0x04,
	BER_NULL = 0x05,
	BER_OID = 0x06,
	BER_SEQUENCE = 0x30,
	BER_IPADDRESS = 0x40,
	BER_COUNTER32 = 0x41,
	BER_GAUGE32 = 0x42,
	BER_TIMETICKS = 0x43,
	BER_OPAQUE = 0x44,
	BER_COUNTER64 = 0x46,
	BER_NOSUCHOBJECT = 0x80,
	BER_NOSUCHINSTANCE = 0x81,
	BER_ENDOFMIBVIEW = 0x82,
	BER_PDU_GET = 0xa0,
	BER_PDU_GETNEXT = 0xa1,
	BER_PDU_RESPONSE = 0xa2,
	BER_PDU_SET = 0xa3,
	BER_PDU_GETBULK = 0xa5,
	BER_PDU_REPORT = 0xa8,
};

struct ber_rd {
	const uint8_t *p;
	const uint8_t *end;
};

/* Reads a tag and a definite length; rd->p is left at the content, which is
 * guaranteed to lie within the buffer. 0 or -EBADMSG. */
__attribute__((warn_unused_result)) int ber_read_tl(struct ber_rd *rd, uint8_t *tag, size_t *len);
/* Reads a TLV of the expected tag and returns a reader over its content. */
__attribute__((warn_unused_result)) int ber_enter(struct ber_rd *rd, uint8_t tag, struct ber_rd *in);
/* Reads an INTEGER (any tag given) into a signed 64-bit value. */
__attribute__((warn_unused_result)) int ber_read_int(struct ber_rd *rd, uint8_t tag, int64_t *v);
/* Reads an OCTET STRING (pointer into the buffer). */
__attribute__((warn_unused_result)) int ber_read_octets(struct ber_rd *rd, const uint8_t **s, size_t *len);
/* Reads an OID into arcs (at most BER_MAX_OID). */
__attribute__((warn_unused_result)) int ber_read_oid(struct ber_rd *rd, uint32_t *arcs, size_t *n);
/* Reads any TLV, returning its tag and content. */
__attribute__((warn_unused_result)) int ber_read_any(struct ber_rd *rd, uint8_t *tag, const uint8_t **v,
						     size_t *len);

struct ber_wr {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow; /* set once anything did not fit; the message is then unusable */
};

/* Opens a constructed TLV; returns the mark to give to ber_end. */
size_t ber_begin(struct ber_wr *w, uint8_t tag);
/* Closes the TLV opened at mark, writing its minimal length; returns how
 * many bytes the content moved back (offsets taken inside it shift so). */
size_t ber_end(struct ber_wr *w, size_t mark);
void ber_put_int(struct ber_wr *w, uint8_t tag, int64_t v);
/* Unsigned 32/64-bit application types (Counter32, Gauge32, TimeTicks, Counter64). */
void ber_put_uint(struct ber_wr *w, uint8_t tag, uint64_t v);
void ber_put_octets(struct ber_wr *w, uint8_t tag, const void *s, size_t len);
void ber_put_null(struct ber_wr *w, uint8_t tag);
void ber_put_oid(struct ber_wr *w, const uint32_t *arcs, size_t n);
/* Appends raw bytes (an already encoded TLV). */
void ber_put_raw(struct ber_wr *w, const void *s, size_t len);

/* Compares two OIDs lexicographically: <0, 0, >0. */
int oid_cmp(const uint32_t *a, size_t na, const uint32_t *b, size_t nb);
/* Parses dotted text ("1.3.6.1..." or ".1.3...") into arcs; 0 or -EINVAL. */
__attribute__((warn_unused_result)) int oid_parse(const char *s, uint32_t *arcs, size_t max, size_t *n);

#endif
