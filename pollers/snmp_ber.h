/* SNMPv1 and SNMPv2c messages in BER (RFC 1157, RFC 3416, X.690): the
 * codec of the poll path. net-snmp's single-session API still owns the
 * session: the UDP transport, the request list, request-id matching,
 * retransmissions and timeouts, and the completion callback. It calls this
 * codec through the build and parse hooks that API offers
 * (snmp_sess_add_ex), so a request is encoded straight from the plan's
 * binary OIDs and a response is decoded straight into our varbinds, with
 * no allocation per varbind (net-snmp's own parser allocates and clears a
 * 1.2 KB netsnmp_variable_list for every varbind). SNMPv3 keeps net-snmp's
 * codec: USM lives there.
 *
 * Everything decoded is untrusted: every length is checked against what
 * encloses it, and nothing is read outside the buffer. */
#ifndef WT_POLLERS_SNMP_BER_H
#define WT_POLLERS_SNMP_BER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pollers/snmp_model.h"

enum {
	WT_BER_GET = 0xa0,
	WT_BER_GETNEXT = 0xa1,
	WT_BER_RESPONSE = 0xa2,
	WT_BER_SET = 0xa3,
	WT_BER_GETBULK = 0xa5,
	WT_BER_REPORT = 0xa8,
};

#define WT_BER_MAX_SUBIDS 128 /* sub-identifiers in one OID, as net-snmp's MAX_OID_LEN */

/* One v1/v2c request. */
struct wt_ber_req {
	int version; /* the message's version field: 0 (v1) or 1 (v2c) */
	const uint8_t *community;
	size_t community_len;
	uint8_t type; /* WT_BER_GET, GETNEXT, GETBULK or SET */
	long reqid;
	long f1, f2; /* error-status, error-index (0); GETBULK: non-repeaters, max-repetitions */
	size_t n;
	const unsigned long *const *oid;
	const size_t *oid_len;
	const long *ival; /* SET: one INTEGER value per varbind; NULL: every value is NULL */
};

/* Encodes r at out. Returns the message's length; when that is more than
 * cap, nothing is written and the caller retries with that much room.
 * -EINVAL: an OID that BER cannot carry (fewer than 2 sub-identifiers, more
 * than WT_BER_MAX_SUBIDS, a first arc above 2, a second above 39 under arcs
 * 0 and 1, a sub-identifier above 2^32-1) or a bad version/type. */
ssize_t wt_ber_encode_req(const struct wt_ber_req *r, uint8_t *out, size_t cap);

/* The header of a decoded message. */
struct wt_ber_msg {
	int version; /* 0 (v1) or 1 (v2c) */
	uint8_t type;
	long reqid, errstat, errindex;
	size_t n;     /* varbinds in the message */
	size_t n_sub; /* sub-identifiers of their names */
};

/* Where decoded varbinds go: vbs[max], the names' sub-identifiers in
 * sub[sub_cap], and per varbind a WT_OID_STR buffer for the text of an
 * IpAddress or OBJECT IDENTIFIER value. With text, vbs[i].oid holds the
 * name as dotted text; else it is "" (the poll path compares numbers). */
struct wt_ber_out {
	struct wt_snmp_vb *vbs;
	size_t max;
	unsigned long *sub;
	size_t sub_cap;
	char (*sbuf)[WT_OID_STR];
	bool text;
};

/* Decodes a v1/v2c message of any PDU type except the v1 Trap. Values are
 * read as net-snmp reads them: INTEGER up to 8 bytes; Counter32, Gauge32,
 * TimeTicks and Unsigned32 as 32 bits (truncated) and Counter64 as 64,
 * both never sign-extended; OCTET STRING and plain
 * Opaque as bytes (an Opaque float, double or 64-bit integer is OTHER);
 * IpAddress of 4 bytes as dotted text; OBJECT IDENTIFIER as dotted text;
 * noSuchObject, noSuchInstance and NULL as no value; endOfMibView flagged;
 * a malformed value or any other type is a varbind without value (OTHER),
 * never a lost message. Strings and names point into buf and out->sub.
 * Returns 0; -ENOSPC when out is too small (m->n and m->n_sub then say how
 * much is needed, nothing else is valid); -EBADMSG for anything that is not
 * a well-formed v1/v2c message. */
int wt_ber_decode_msg(const uint8_t *buf, size_t len, struct wt_ber_msg *m,
		      const struct wt_ber_out *out);

/* Dotted text of an OID; truncated to what fits in len (never overflows). */
void wt_oid_format(const unsigned long *o, size_t n, char *out, size_t len);

/* Tag-length reader for hand-written parsers (the SNMPv3 engine discovery):
 * reads the header of a TLV with tag want at *p (bounded by end), moves *p
 * to its value and returns the value's length, or -1. */
long wt_ber_next(const uint8_t **p, const uint8_t *end, uint8_t want);

#endif
