/* t_ber.c — BER encoding/decoding of wattrack-sim, and the SNMP request
 * handler fed with malformed and mutated datagrams (it must never crash or
 * answer garbage with data). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "sim_ber.h"
#include "sim_snmp.h"

#include "../lib/check.h"

static void test_int(void)
{
	static const struct {
		int64_t v;
		const char *hex;
	} cases[] = {{0, "020100"},         {127, "02017f"},        {128, "02020080"},
		     {-1, "0201ff"},        {-128, "020180"},       {-129, "0202ff7f"},
		     {256, "02020100"},     {2147483647, "02047fffffff"},
		     {-2147483648LL, "020480000000"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[32];
		struct ber_wr w = {buf, sizeof(buf), 0, false};
		ber_put_int(&w, BER_INTEGER, cases[i].v);
		char hex[80] = "";
		for (size_t k = 0; k < w.len; k++)
			snprintf(hex + 2 * k, sizeof(hex) - 2 * k, "%02x", buf[k]);
		CHECK(strcmp(hex, cases[i].hex) == 0, "int %lld encodes %s, want %s",
		      (long long)cases[i].v, hex, cases[i].hex);
		struct ber_rd rd = {buf, buf + w.len};
		int64_t back = 0;
		CHECK(ber_read_int(&rd, BER_INTEGER, &back) == 0 && back == cases[i].v, "int %lld round trip",
		      (long long)cases[i].v);
	}
	uint8_t buf[16];
	struct ber_wr w = {buf, sizeof(buf), 0, false};
	ber_put_uint(&w, BER_COUNTER32, 0xffffffffu);
	CHECK(w.len == 7 && buf[0] == 0x41 && buf[1] == 5 && buf[2] == 0 && buf[3] == 0xff,
	      "Counter32 max needs a leading zero");
	w.len = 0;
	ber_put_uint(&w, BER_GAUGE32, 0);
	CHECK(w.len == 3 && buf[2] == 0, "Gauge32 zero");
}

static void test_oid(void)
{
	uint32_t a[BER_MAX_OID], b[BER_MAX_OID];
	size_t na, nb;
	CHECK(oid_parse("1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.24", a, BER_MAX_OID, &na) == 0 && na == 16,
	      "parse");
	CHECK(oid_parse(".1.3.6.1.2.1.1.1.0", b, BER_MAX_OID, &nb) == 0 && nb == 9, "leading dot");
	CHECK(oid_parse("1.3.x", b, BER_MAX_OID, &nb) < 0, "bad OID text refused");
	CHECK(oid_parse("1.3.6.99999999999", b, BER_MAX_OID, &nb) < 0, "arc overflow refused");
	uint8_t buf[256];
	struct ber_wr w = {buf, sizeof(buf), 0, false};
	a[na++] = 4294967295u;
	ber_put_oid(&w, a, na);
	struct ber_rd rd = {buf, buf + w.len};
	CHECK(ber_read_oid(&rd, b, &nb) == 0 && oid_cmp(a, na, b, nb) == 0, "OID round trip with 2^32-1");
	uint32_t two[] = {2, 999, 3};
	w.len = 0;
	ber_put_oid(&w, two, 3);
	CHECK(w.len == 5 && buf[2] == 0x88 && buf[3] == 0x37 && buf[4] == 3, "2.999.3 encodes 88 37 03");
	rd = (struct ber_rd){buf, buf + w.len};
	CHECK(ber_read_oid(&rd, b, &nb) == 0 && nb == 3 && b[0] == 2 && b[1] == 999, "2.999.3 decodes");
	uint32_t x[] = {1, 3, 6}, y[] = {1, 3, 6, 1}, z[] = {1, 3, 7};
	CHECK(oid_cmp(x, 3, y, 4) < 0 && oid_cmp(y, 4, z, 3) < 0 && oid_cmp(z, 3, z, 3) == 0, "oid_cmp order");
}

static void test_lengths(void)
{
	/* nested TLVs whose content crosses the 127 and 255 byte boundaries */
	static uint8_t buf[70000];
	size_t sizes[] = {0, 1, 120, 127, 128, 200, 255, 256, 1000, 65000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct ber_wr w = {buf, sizeof(buf), 0, false};
		static uint8_t payload[65000];
		memset(payload, 'x', sizes[i]);
		size_t m = ber_begin(&w, BER_SEQUENCE);
		size_t m2 = ber_begin(&w, BER_SEQUENCE);
		ber_put_octets(&w, BER_OCTETS, payload, sizes[i]);
		ber_end(&w, m2);
		ber_end(&w, m);
		CHECK(!w.overflow, "size %zu fits", sizes[i]);
		struct ber_rd rd = {buf, buf + w.len}, s1, s2;
		const uint8_t *s;
		size_t l;
		CHECK(ber_enter(&rd, BER_SEQUENCE, &s1) == 0 && rd.p == buf + w.len &&
			      ber_enter(&s1, BER_SEQUENCE, &s2) == 0 && ber_read_octets(&s2, &s, &l) == 0 &&
			      l == sizes[i],
		      "size %zu parses back", sizes[i]);
		/* minimal length form */
		size_t hdr = sizes[i] + 2 < 128 ? 2 : sizes[i] + 4 < 256 ? 3 : 4;
		CHECK(buf[1] == (hdr == 2 ? w.len - 2 : hdr == 3 ? 0x81 : 0x82), "size %zu minimal length", sizes[i]);
	}
	struct ber_wr w = {buf, 10, 0, false};
	ber_put_octets(&w, BER_OCTETS, "0123456789abcdef", 16);
	CHECK(w.overflow, "overflow is flagged");
}

static void test_malformed(void)
{
	static const struct {
		const char *what;
		uint8_t b[8];
		size_t n;
	} bad[] = {
		{"empty", {0}, 0},
		{"length past the end", {0x02, 0x05, 0x01}, 3},
		{"indefinite length", {0x30, 0x80, 0x00, 0x00}, 4},
		{"5-byte length", {0x04, 0x85, 1, 1, 1, 1, 1}, 7},
		{"multi-byte tag", {0x1f, 0x01, 0x00}, 3},
		{"zero-length int", {0x02, 0x00}, 2},
		{"10-byte int", {0x02, 0x0a}, 2},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ber_rd rd = {bad[i].b, bad[i].b + bad[i].n};
		int64_t v;
		CHECK(ber_read_int(&rd, BER_INTEGER, &v) < 0, "%s refused", bad[i].what);
	}
	uint8_t oid[] = {0x06, 0x03, 0x2b, 0x86, 0x87}; /* last sub-identifier unfinished */
	struct ber_rd rd = {oid, oid + sizeof(oid)};
	uint32_t arcs[BER_MAX_OID];
	size_t n;
	CHECK(ber_read_oid(&rd, arcs, &n) < 0, "unfinished OID refused");
	uint8_t big[] = {0x06, 0x06, 0x2b, 0x90, 0x80, 0x80, 0x80, 0x00}; /* arc > 2^32 */
	rd = (struct ber_rd){big, big + sizeof(big)};
	CHECK(ber_read_oid(&rd, arcs, &n) < 0, "OID arc over 32 bits refused");
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xr(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_handler(void)
{
	struct sim *sim = sim_new();
	CHECK(sim != NULL, "sim_new");
	struct sim_device *d = sim_add_device(sim, SIM_MODEL_APC_RPDU2, SIM_PROTO_SNMP, SIM_WIRING_1PH, 1, 24);
	CHECK(d && sim_reindex(sim) == 0 && sim_snmp_init(sim) == 0, "fleet");
	/* v2c GETBULK for public-0 at 1.3.6.1.4.1.318, max-repetitions 30 */
	uint8_t req[128], out[65535];
	struct ber_wr w = {req, sizeof(req), 0, false};
	size_t m = ber_begin(&w, BER_SEQUENCE);
	ber_put_int(&w, BER_INTEGER, 1);
	ber_put_octets(&w, BER_OCTETS, "public-0", 8);
	size_t p = ber_begin(&w, BER_PDU_GETBULK);
	ber_put_int(&w, BER_INTEGER, 42);
	ber_put_int(&w, BER_INTEGER, 0);
	ber_put_int(&w, BER_INTEGER, 30);
	size_t l = ber_begin(&w, BER_SEQUENCE);
	size_t vb = ber_begin(&w, BER_SEQUENCE);
	uint32_t oid[] = {1, 3, 6, 1, 4, 1, 318};
	ber_put_oid(&w, oid, 7);
	ber_put_null(&w, BER_NULL);
	ber_end(&w, vb);
	ber_end(&w, l);
	ber_end(&w, p);
	ber_end(&w, m);
	uint32_t delay;
	size_t n = sim_snmp_handle(sim, NULL, req, w.len, out, sizeof(out), &delay);
	CHECK(n > 300 && out[0] == 0x30, "GETBULK answered (%zu bytes)", n);
	/* parse the answer: 30 varbinds, request id 42, no error */
	struct ber_rd rd = {out, out + n}, msg, pdu, vbl;
	int64_t ver, rid, es, ei;
	const uint8_t *c;
	size_t cl;
	uint8_t tag;
	size_t plen;
	int count = 0;
	if (ber_enter(&rd, BER_SEQUENCE, &msg) == 0 && ber_read_int(&msg, BER_INTEGER, &ver) == 0 &&
	    ber_read_octets(&msg, &c, &cl) == 0 && ber_read_tl(&msg, &tag, &plen) == 0) {
		pdu = (struct ber_rd){msg.p, msg.p + plen};
		if (ber_read_int(&pdu, BER_INTEGER, &rid) == 0 && ber_read_int(&pdu, BER_INTEGER, &es) == 0 &&
		    ber_read_int(&pdu, BER_INTEGER, &ei) == 0 && ber_enter(&pdu, BER_SEQUENCE, &vbl) == 0) {
			struct ber_rd one;
			while (ber_enter(&vbl, BER_SEQUENCE, &one) == 0)
				count++;
			CHECK(tag == BER_PDU_RESPONSE && rid == 42 && es == 0, "response header");
		}
	}
	CHECK(count == 30, "GETBULK gave %d varbinds, want 30", count);
	/* mutations of the valid request: no crash, no answer to unknown communities */
	uint8_t mut[128];
	for (int i = 0; i < 20000; i++) {
		memcpy(mut, req, w.len);
		size_t len = w.len;
		int k = 1 + (int)(xr() % 4);
		while (k--) {
			size_t at = xr() % len;
			switch (xr() % 3) {
			case 0: mut[at] = (uint8_t)xr(); break;
			case 1: mut[at] ^= (uint8_t)(1u << (xr() % 8)); break;
			default: len = at + 1; break;
			}
		}
		(void)sim_snmp_handle(sim, NULL, mut, len, out, sizeof(out), &delay);
	}
	for (int i = 0; i < 5000; i++) {
		size_t len = xr() % sizeof(mut);
		for (size_t j = 0; j < len; j++)
			mut[j] = (uint8_t)xr();
		if (len > 2) {
			mut[0] = 0x30;
			mut[1] = (uint8_t)(len - 2);
		}
		(void)sim_snmp_handle(sim, NULL, mut, len, out, sizeof(out), &delay);
	}
	/* a Response or Trap sent to the agent is not answered */
	uint8_t resp[128];
	memcpy(resp, req, w.len);
	/* 30 len | 02 01 01 | 04 08 "public-0" | PDU tag at 15 */
	CHECK(resp[15] == BER_PDU_GETBULK, "PDU tag found");
	resp[15] = BER_PDU_RESPONSE;
	CHECK(sim_snmp_handle(sim, NULL, resp, w.len, out, sizeof(out), &delay) == 0, "response PDU dropped");
	resp[15] = 0xa7; /* SNMPv2-Trap */
	CHECK(sim_snmp_handle(sim, NULL, resp, w.len, out, sizeof(out), &delay) == 0, "trap dropped");
	/* v1 GETBULK is not a v1 PDU */
	memcpy(resp, req, w.len);
	resp[4] = 0;
	CHECK(resp[2] == BER_INTEGER && sim_snmp_handle(sim, NULL, resp, w.len, out, sizeof(out), &delay) == 0,
	      "v1 GETBULK dropped");
	/* a truncated valid request is dropped */
	CHECK(sim_snmp_handle(sim, NULL, req, w.len - 3, out, sizeof(out), &delay) == 0,
	      "truncated request dropped");
	sim_snmp_stop();
	sim_free(sim);
}

int main(void)
{
	test_int();
	test_oid();
	test_lengths();
	test_malformed();
	test_handler();
	if (failures)
		printf("%d failures\n", failures);
	else
		printf("all BER checks passed\n");
	return failures ? 1 : 0;
}
