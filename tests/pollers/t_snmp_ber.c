/* Unit tests of the v1/v2c codec (pollers/snmp_ber.c): requests encode to
 * the bytes net-snmp's own encoder produces for the same PDU, and to a
 * vector worked out by hand from X.690; answers decode every value type the
 * way net-snmp reads it; malformed messages are refused without reading
 * outside the buffer (each is decoded from an exact-size heap copy, so
 * ASan sees any overread). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "pollers/snmp_ber.h"
#include "pollers/snmp_engine.h"

#include "../lib/check.h"

enum {
	MAXV = 160
};
static struct wt_snmp_vb vbs[MAXV];
static char sbuf[MAXV][WT_OID_STR];
static unsigned long sub[MAXV * WT_BER_MAX_SUBIDS];

/* Decodes an exact-size copy of msg (text OIDs). */
static int decode(const uint8_t *msg, size_t len, struct wt_ber_msg *m)
{
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, msg, len);
	struct wt_ber_out o = {vbs, MAXV, sub, sizeof sub / sizeof *sub, sbuf, true};
	int rc = wt_ber_decode_msg(copy, len, m, &o);
	/* strings point into the message: keep them for the checks */
	static uint8_t *keep;
	free(keep);
	keep = copy;
	return rc;
}

static void test_encode_vector(void)
{
	/* GET sysDescr.0, v2c, "public", request-id 1 (X.690 by hand) */
	static const uint8_t want[] = {
		0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, 'p',  'u',  'b',  'l',  'i',  'c',  0xa0,
		0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
		0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00};
	static const unsigned long o[] = {1, 3, 6, 1, 2, 1, 1, 1, 0};
	const unsigned long *ov[] = {o};
	size_t ol[] = {9};
	struct wt_ber_req r = {.version = 1,
			       .community = (const uint8_t *)"public",
			       .community_len = 6,
			       .type = WT_BER_GET,
			       .reqid = 1,
			       .n = 1,
			       .oid = ov,
			       .oid_len = ol};
	uint8_t out[64];
	CHECK(wt_ber_encode_req(&r, out, 10) == (ssize_t)sizeof want,
	      "a short buffer gets the length needed");
	ssize_t n = wt_ber_encode_req(&r, out, sizeof out);
	CHECK(n == (ssize_t)sizeof want && !memcmp(out, want, sizeof want),
	      "GET sysDescr.0 encodes as X.690 says (%zd bytes)", n);

	static const unsigned long bad1[] = {3, 1}, bad2[] = {1, 40}, bad3[] = {1};
	const unsigned long *bv[] = {bad1};
	size_t bl[] = {2};
	r.oid = bv;
	r.oid_len = bl;
	CHECK(wt_ber_encode_req(&r, out, sizeof out) == -EINVAL, "first arc 3 refused");
	bv[0] = bad2;
	CHECK(wt_ber_encode_req(&r, out, sizeof out) == -EINVAL, "1.40 refused");
	bv[0] = bad3;
	bl[0] = 1;
	CHECK(wt_ber_encode_req(&r, out, sizeof out) == -EINVAL, "a one-arc OID refused");
	r.oid = ov;
	r.oid_len = ol;
	r.version = 0;
	r.type = WT_BER_GETBULK;
	CHECK(wt_ber_encode_req(&r, out, sizeof out) == -EINVAL, "GETBULK in v1 refused");
	r.type = WT_BER_SET;
	CHECK(wt_ber_encode_req(&r, out, sizeof out) == -EINVAL, "SET without values refused");
}

/* Our encoding of a request against net-snmp's encoding of the same PDU. */
static void same_as_netsnmp(int version, int cmd, long reqid, long f1, long f2, const char *comm,
			    const unsigned long *const *ov, const size_t *ol, size_t n,
			    const long *ival, const char *what)
{
	netsnmp_session ss;
	snmp_sess_init(&ss);
	ss.version = version == 0 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
	ss.community = (u_char *)(uintptr_t)comm;
	ss.community_len = strlen(comm);
	netsnmp_pdu *pdu = snmp_pdu_create(cmd);
	pdu->version = ss.version; /* as snmp_sess_async_send sets it */
	pdu->reqid = reqid;
	if (cmd == SNMP_MSG_GETBULK) {
		pdu->non_repeaters = f1;
		pdu->max_repetitions = f2;
	}
	for (size_t i = 0; i < n; i++) {
		if (ival)
			snmp_pdu_add_variable(pdu, (const oid *)ov[i], ol[i], ASN_INTEGER, &ival[i],
					      sizeof ival[i]);
		else
			snmp_add_null_var(pdu, (const oid *)ov[i], ol[i]);
	}
	size_t cap = 65536, off = 0;
	u_char *pkt = malloc(cap);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_REVERSE_ENCODE, 1);
	int brc = snmp_build(&pkt, &cap, &off, &ss, pdu);
	const u_char *theirs = pkt + cap - off;

	struct wt_ber_req r = {.version = version,
			       .community = (const uint8_t *)comm,
			       .community_len = strlen(comm),
			       .type = cmd == SNMP_MSG_GET       ? WT_BER_GET
				       : cmd == SNMP_MSG_GETNEXT ? WT_BER_GETNEXT
				       : cmd == SNMP_MSG_SET     ? WT_BER_SET
								 : WT_BER_GETBULK,
			       .reqid = reqid,
			       .f1 = cmd == SNMP_MSG_GETBULK ? f1 : 0,
			       .f2 = cmd == SNMP_MSG_GETBULK ? f2 : 0,
			       .n = n,
			       .oid = ov,
			       .oid_len = ol,
			       .ival = ival};
	size_t need = (size_t)wt_ber_encode_req(&r, NULL, 0);
	uint8_t *ours = malloc(need);
	ssize_t len = wt_ber_encode_req(&r, ours, need);
	CHECK(brc == 0 && len == (ssize_t)off && !memcmp(ours, theirs, off),
	      "%s: %zd bytes, net-snmp %zu (build rc %d)", what, len, off, brc);
	/* and it reads back */
	if (len > 0 && cmd != SNMP_MSG_SET) {
		struct wt_ber_msg m;
		int rc = decode(ours, (size_t)len, &m);
		CHECK(rc == 0 && m.n == n && m.reqid == reqid && m.version == version,
		      "%s decodes back (rc %d)", what, rc);
		for (size_t i = 0; rc == 0 && i < n; i++)
			CHECK(vbs[i].name_len == ol[i] &&
				      !memcmp(vbs[i].name, ov[i], ol[i] * sizeof *ov[i]),
			      "%s varbind %zu name", what, i);
	}
	free(ours);
	free(pkt);
	snmp_free_pdu(pdu);
}

static void test_encode_like_netsnmp(void)
{
	static const unsigned long a[] = {1, 3, 6, 1, 4, 1, 318, 1, 1, 26, 9, 4, 3, 1, 6, 1};
	static const unsigned long b[] = {1, 3, 6, 1, 4, 1, 13742, 6, 5, 4, 3, 1, 4, 1, 1};
	static const unsigned long c[] = {2, 999, 4294967295UL, 128, 127, 16383, 16384, 0};
	static const unsigned long d[] = {0, 39};
	const unsigned long *ov[] = {a, b, c, d};
	size_t ol[] = {16, 15, 8, 2};
	same_as_netsnmp(1, SNMP_MSG_GET, 1, 0, 0, "public", ov, ol, 4, NULL, "v2c GET");
	same_as_netsnmp(0, SNMP_MSG_GET, 0x7fffffff, 0, 0, "private", ov, ol, 4, NULL, "v1 GET");
	same_as_netsnmp(1, SNMP_MSG_GETNEXT, 128, 0, 0, "c", ov, ol, 2, NULL, "GETNEXT");
	same_as_netsnmp(1, SNMP_MSG_GETBULK, 33000, 1, 24, "public", ov, ol, 3, NULL, "GETBULK");
	long vals[] = {0, -1, 2, -129};
	same_as_netsnmp(1, SNMP_MSG_SET, 7, 0, 0, "write", ov, ol, 4, vals, "SET");
	/* long forms: a 300-byte community and 128 varbinds (over 64 KB? no: 3 KB) */
	char comm[301];
	memset(comm, 'x', 300);
	comm[300] = 0;
	const unsigned long *many[128];
	size_t ml[128];
	for (int i = 0; i < 128; i++) {
		many[i] = a;
		ml[i] = 16;
	}
	same_as_netsnmp(1, SNMP_MSG_GETBULK, 5, 0, 10, comm, many, ml, 128, NULL,
			"GETBULK of 128 varbinds, 300-byte community");
	static const unsigned long lng[WT_BER_MAX_SUBIDS] = {1, 3, 6, 1};
	const unsigned long *lv[] = {lng};
	size_t ll[] = {WT_BER_MAX_SUBIDS};
	same_as_netsnmp(1, SNMP_MSG_GET, 9, 0, 0, "public", lv, ll, 1, NULL, "a 128-arc OID");
}

/* A TLV with the shortest definite length. */
static size_t tlv(uint8_t *out, uint8_t tag, const uint8_t *v, size_t n)
{
	size_t h = 0;
	out[h++] = tag;
	if (n >= 256) {
		out[h++] = 0x82;
		out[h++] = (uint8_t)(n >> 8);
	} else if (n >= 128) {
		out[h++] = 0x81;
	}
	out[h++] = (uint8_t)n;
	memmove(out + h, v, n);
	return h + n;
}

/* A v2c Response (community "x") to request-id 0x1234 around the
 * varbinds vb (n bytes). */
static size_t response(uint8_t *out, const uint8_t *vb, size_t n)
{
	uint8_t a[1024], b[1024];
	size_t k = tlv(a, 0x30, vb, n);
	memcpy(b, "\x02\x02\x12\x34\x02\x01\x00\x02\x01\x00", 10);
	memcpy(b + 10, a, k);
	k = tlv(a, 0xa2, b, k + 10);
	memcpy(b, "\x02\x01\x01\x04\x01x", 6);
	memcpy(b + 6, a, k);
	return tlv(out, 0x30, b, k + 6);
}

static void test_decode_values(void)
{
	/* name 1.3.6.1.4.1.99.<k> (9 bytes with its header) then a value */
#define VB(k, ...)                                                                       \
	0x30, (uint8_t)(9 + sizeof((uint8_t[]){__VA_ARGS__})), 0x06, 0x07, 0x2b, 0x06, 0x01, \
		0x04, 0x01, 0x63, k, __VA_ARGS__
	static const uint8_t vb[] = {
		VB(1, 0x02, 0x01, 0xff),                                     /* INTEGER -1 */
		VB(2, 0x02, 0x04, 0x7f, 0xff, 0xff, 0xff),                   /* INTEGER 2^31-1 */
		VB(3, 0x41, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff),             /* Counter32 2^32-1 */
		VB(4, 0x42, 0x01, 0xff),                                     /* Gauge32 short: 255 */
		VB(5, 0x46, 0x09, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 1),          /* Counter64 2^63+1 */
		VB(6, 0x04, 0x03, 'a', 0x00, 'b'),                           /* OCTET STRING */
		VB(7, 0x40, 0x04, 10, 0, 255, 1),                            /* IpAddress */
		VB(8, 0x06, 0x03, 0x2b, 0x06, 0x01),                         /* OID 1.3.6.1 */
		VB(9, 0x05, 0x00),                                           /* NULL */
		VB(10, 0x80, 0x00),                                          /* noSuchObject */
		VB(11, 0x82, 0x00),                                          /* endOfMibView */
		VB(12, 0x44, 0x07, 0x9f, 0x78, 0x04, 0x3f, 0x80, 0x00, 0x00), /* Opaque float */
		VB(13, 0x02, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9),               /* INTEGER too long */
		VB(14, 0x49, 0x01, 0x00),                                    /* unknown type */
		VB(15, 0x43, 0x02, 0x01, 0x00),                              /* TimeTicks 256 */
		VB(16, 0x44, 0x02, 'o', 'k'),                                /* plain Opaque */
		VB(17, 0x40, 0x03, 1, 2, 3),                                 /* IpAddress of 3 */
	};
	uint8_t msg[512];
	size_t len = response(msg, vb, sizeof vb);
	struct wt_ber_msg m;
	int rc = decode(msg, len, &m);
	CHECK(rc == 0, "response decodes (rc %d)", rc);
	CHECK(m.version == 1 && m.type == WT_BER_RESPONSE && m.reqid == 0x1234 && m.errstat == 0 &&
		      m.n == 17,
	      "header: v%d type %#x reqid %ld n %zu", m.version, m.type, m.reqid, m.n);
	if (rc)
		return;
	CHECK(!strcmp(vbs[0].oid, "1.3.6.1.4.1.99.1") && vbs[0].name_len == 8 &&
		      vbs[0].name[6] == 99,
	      "name %s", vbs[0].oid);
	CHECK(vbs[0].v.type == WT_SV_INT && vbs[0].v.i == -1, "INTEGER -1");
	CHECK(vbs[1].v.type == WT_SV_INT && vbs[1].v.i == 2147483647, "INTEGER max");
	CHECK(vbs[2].v.type == WT_SV_UINT && vbs[2].v.u == 4294967295u, "Counter32 max");
	CHECK(vbs[3].v.type == WT_SV_UINT && vbs[3].v.u == 255,
	      "a short Gauge32 with its top bit set reads positive, as net-snmp reads it (%llu)",
	      (unsigned long long)vbs[3].v.u);
	CHECK(vbs[4].v.type == WT_SV_UINT && vbs[4].v.u == 0x8000000000000001ull, "Counter64");
	CHECK(vbs[5].v.type == WT_SV_STR && vbs[5].v.slen == 3 && !memcmp(vbs[5].v.s, "a\0b", 3),
	      "OCTET STRING with a NUL");
	CHECK(vbs[6].v.type == WT_SV_STR && !strcmp(vbs[6].v.s, "10.0.255.1"), "IpAddress %s",
	      vbs[6].v.s);
	CHECK(vbs[7].v.type == WT_SV_OID && !strcmp(vbs[7].v.s, "1.3.6.1"), "OID value");
	CHECK(vbs[8].v.type == WT_SV_NONE && !vbs[8].end_of_mib, "NULL");
	CHECK(vbs[9].v.type == WT_SV_NONE && !vbs[9].end_of_mib, "noSuchObject");
	CHECK(vbs[10].v.type == WT_SV_NONE && vbs[10].end_of_mib, "endOfMibView");
	CHECK(vbs[11].v.type == WT_SV_OTHER, "Opaque float is not a string");
	CHECK(vbs[12].v.type == WT_SV_OTHER, "a 9-byte INTEGER has no value");
	CHECK(vbs[13].v.type == WT_SV_OTHER && !strcmp(vbs[13].oid, "1.3.6.1.4.1.99.14"),
	      "an unknown type loses only its value");
	CHECK(vbs[14].v.type == WT_SV_UINT && vbs[14].v.u == 256, "TimeTicks");
	CHECK(vbs[15].v.type == WT_SV_STR && vbs[15].v.slen == 2, "plain Opaque");
	CHECK(vbs[16].v.type == WT_SV_NONE, "IpAddress of 3 bytes: no value");

	/* the poll path: no text, same numbers */
	struct wt_ber_out o = {vbs, MAXV, sub, sizeof sub / sizeof *sub, sbuf, false};
	CHECK(wt_ber_decode_msg(msg, len, &m, &o) == 0 && vbs[0].oid[0] == 0 &&
		      vbs[16].name_len == 8 && vbs[16].name[7] == 17,
	      "binary decode");

	/* too little room: the need, then success */
	static unsigned long small_sub[WT_BER_MAX_SUBIDS];
	struct wt_ber_out so = {vbs, 2, small_sub, WT_BER_MAX_SUBIDS, sbuf, false};
	rc = wt_ber_decode_msg(msg, len, &m, &so);
	CHECK(rc == -ENOSPC && m.n == 17 && m.n_sub == 17 * 8 + WT_BER_MAX_SUBIDS,
	      "ENOSPC with the need (rc %d, n %zu, n_sub %zu)", rc, m.n, m.n_sub);
}

static void expect_bad(const uint8_t *msg, size_t len, const char *what)
{
	struct wt_ber_msg m;
	int rc = decode(msg, len, &m);
	CHECK(rc == -EBADMSG, "%s refused (rc %d)", what, rc);
}

static void test_decode_malformed(void)
{
	static const uint8_t vb[] = {0x30, 0x0b, 0x06, 0x07, 0x2b, 0x06, 0x01,
				     0x04, 0x01, 0x63, 0x01, 0x05, 0x00};
	uint8_t msg[512];
	size_t len = response(msg, vb, sizeof vb);
	struct wt_ber_msg m;
	CHECK(decode(msg, len, &m) == 0 && m.n == 1, "the well-formed base decodes");
	for (size_t cut = 0; cut < len; cut++)
		expect_bad(msg, cut, "a truncated message"); /* every prefix */
	uint8_t b[512];
	/* offsets in the 35-byte base: 4 version, 8 PDU tag, 22 varbind,
	 * 24 name tag, 25 name length */
	CHECK(len == 35, "base message of %zu bytes", len);
	static const struct {
		size_t at;
		uint8_t byte;
		const char *what;
	} flips[] = {
		{4, 3, "version 3"},
		{8, 0xa4, "a v1 Trap"},
		{1, 35 + 10, "an outer length past the end"},
		{22, 0x31, "a varbind that is not a SEQUENCE"},
		{24, 0x04, "a name that is not an OID"},
		{25, 0x0c, "a name longer than its varbind"},
		{1, 0x80, "the indefinite length form"},
	};
	for (size_t i = 0; i < sizeof flips / sizeof *flips; i++) {
		memcpy(b, msg, len);
		b[flips[i].at] = flips[i].byte;
		expect_bad(b, len, flips[i].what);
	}

	/* a sub-identifier above 2^32-1 */
	static const uint8_t big[] = {0x30, 0x0a, 0x06, 0x06, 0x2b, 0x90,
				      0x80, 0x80, 0x80, 0x00, 0x05, 0x00};
	len = response(msg, big, sizeof big);
	expect_bad(msg, len, "a 33-bit sub-identifier");
	/* 129 sub-identifiers (0x2b holds two), then 128 */
	uint8_t oidc[128], inner[256], one[300];
	oidc[0] = 0x2b;
	memset(oidc + 1, 0x01, sizeof oidc - 1);
	for (size_t bytes = 128; bytes >= 127; bytes--) {
		size_t k = tlv(inner, 0x06, oidc, bytes);
		inner[k++] = 0x05;
		inner[k++] = 0x00;
		len = response(msg, one, tlv(one, 0x30, inner, k));
		if (bytes == 128)
			expect_bad(msg, len, "an OID of 129 sub-identifiers");
		else
			CHECK(decode(msg, len, &m) == 0 && vbs[0].name_len == 128,
			      "an OID of 128 sub-identifiers");
	}
}

int main(void)
{
	wt_snmp_engine_init();
	test_encode_vector();
	test_encode_like_netsnmp();
	test_decode_values();
	test_decode_malformed();
	wt_snmp_engine_shutdown();
	printf("%d checks, %d failed\n", checks, failures);
	return failures != 0;
}
