/* t_v3.c — SNMPv3 message processing of wattrack-sim at the byte level:
 * engine discovery report, an authenticated GET, the time window report
 * (authenticated), wrong digests, unknown users. */
#include <stdio.h>
#include <string.h>

#include "sim.h"
#include "sim_ber.h"
#include "sim_snmp.h"
#include "sim_usm.h"

#include "../lib/check.h"

static const uint32_t sysname[] = {1, 3, 6, 1, 2, 1, 1, 5, 0};

/* Builds a plaintext v3 GET of sysName.0; with a key, authenticated. */
static size_t build(uint8_t *buf, size_t cap, const uint8_t *eid, size_t elen, int64_t boots,
		    int64_t etime, const char *user, const uint8_t *key, uint8_t flags, const char *ctx)
{
	struct ber_wr w = {buf, cap, 0, false};
	size_t m = ber_begin(&w, BER_SEQUENCE);
	ber_put_int(&w, BER_INTEGER, 3);
	size_t h = ber_begin(&w, BER_SEQUENCE);
	ber_put_int(&w, BER_INTEGER, 99);
	ber_put_int(&w, BER_INTEGER, 65507);
	ber_put_octets(&w, BER_OCTETS, &flags, 1);
	ber_put_int(&w, BER_INTEGER, 3);
	ber_end(&w, h);
	size_t sp = ber_begin(&w, BER_OCTETS);
	size_t sq = ber_begin(&w, BER_SEQUENCE);
	ber_put_octets(&w, BER_OCTETS, eid, elen);
	ber_put_int(&w, BER_INTEGER, boots);
	ber_put_int(&w, BER_INTEGER, etime);
	ber_put_octets(&w, BER_OCTETS, user, strlen(user));
	uint8_t zeros[12] = {0};
	ber_put_octets(&w, BER_OCTETS, zeros, key ? 12 : 0);
	size_t mac_at = w.len - 12;
	ber_put_octets(&w, BER_OCTETS, NULL, 0);
	mac_at -= ber_end(&w, sq);
	mac_at -= ber_end(&w, sp);
	size_t s = ber_begin(&w, BER_SEQUENCE);
	ber_put_octets(&w, BER_OCTETS, eid, elen);
	ber_put_octets(&w, BER_OCTETS, ctx, strlen(ctx));
	size_t p = ber_begin(&w, BER_PDU_GET);
	ber_put_int(&w, BER_INTEGER, 4242);
	ber_put_int(&w, BER_INTEGER, 0);
	ber_put_int(&w, BER_INTEGER, 0);
	size_t l = ber_begin(&w, BER_SEQUENCE);
	size_t vb = ber_begin(&w, BER_SEQUENCE);
	ber_put_oid(&w, sysname, 9);
	ber_put_null(&w, BER_NULL);
	ber_end(&w, vb);
	ber_end(&w, l);
	ber_end(&w, p);
	ber_end(&w, s);
	mac_at -= ber_end(&w, m);
	if (key) {
		uint8_t mac[USM_MAX_MAC];
		if (usm_hmac(SIM_AUTH_MD5, key, buf, w.len, mac) == 0)
			memcpy(buf + mac_at, mac, 12);
	}
	return w.overflow ? 0 : w.len;
}

struct reply {
	uint8_t flags;
	const uint8_t *eid;
	size_t elen;
	int64_t boots, etime, reqid;
	uint8_t pdu;
	uint32_t oid[BER_MAX_OID];
	size_t oid_len;
	const uint8_t *str;
	size_t str_len;
};

static int parse(const uint8_t *b, size_t n, struct reply *r)
{
	struct ber_rd rd = {b, b + n}, msg, hdr, spo, sp, sc, pdu, vbl, vb;
	int64_t v;
	const uint8_t *f, *s;
	size_t fl, sl, pl;
	if (ber_enter(&rd, BER_SEQUENCE, &msg) < 0 || ber_read_int(&msg, BER_INTEGER, &v) < 0 || v != 3 ||
	    ber_enter(&msg, BER_SEQUENCE, &hdr) < 0 || ber_read_int(&hdr, BER_INTEGER, &v) < 0 ||
	    ber_read_int(&hdr, BER_INTEGER, &v) < 0 || ber_read_octets(&hdr, &f, &fl) < 0 || fl != 1 ||
	    ber_enter(&msg, BER_OCTETS, &spo) < 0 || ber_enter(&spo, BER_SEQUENCE, &sp) < 0 ||
	    ber_read_octets(&sp, &r->eid, &r->elen) < 0 || ber_read_int(&sp, BER_INTEGER, &r->boots) < 0 ||
	    ber_read_int(&sp, BER_INTEGER, &r->etime) < 0 || ber_enter(&msg, BER_SEQUENCE, &sc) < 0 ||
	    ber_read_octets(&sc, &s, &sl) < 0 || ber_read_octets(&sc, &s, &sl) < 0 ||
	    ber_read_tl(&sc, &r->pdu, &pl) < 0)
		return -1;
	r->flags = f[0];
	pdu.p = sc.p;
	pdu.end = sc.p + pl;
	if (ber_read_int(&pdu, BER_INTEGER, &r->reqid) < 0 || ber_read_int(&pdu, BER_INTEGER, &v) < 0 ||
	    ber_read_int(&pdu, BER_INTEGER, &v) < 0 || ber_enter(&pdu, BER_SEQUENCE, &vbl) < 0 ||
	    ber_enter(&vbl, BER_SEQUENCE, &vb) < 0 || ber_read_oid(&vb, r->oid, &r->oid_len) < 0)
		return -1;
	uint8_t t;
	if (ber_read_any(&vb, &t, &r->str, &r->str_len) < 0)
		return -1;
	return 0;
}

static bool oid_is(const struct reply *r, const char *s)
{
	uint32_t o[BER_MAX_OID];
	size_t n;
	return oid_parse(s, o, BER_MAX_OID, &n) == 0 && oid_cmp(o, n, r->oid, r->oid_len) == 0;
}

int main(void)
{
	struct sim *sim = sim_new();
	struct sim_device *d = sim_add_device(sim, SIM_MODEL_APC_RPDU2, SIM_PROTO_SNMP, SIM_WIRING_1PH, 1, 8);
	snprintf(d->creds.v3_user, sizeof(d->creds.v3_user), "alice");
	d->creds.v3_auth = SIM_AUTH_MD5;
	snprintf(d->creds.v3_auth_pass, sizeof(d->creds.v3_auth_pass), "maplesyrup");
	CHECK(sim_reindex(sim) == 0 && sim_snmp_init(sim) == 0, "agent");
	size_t elen;
	const uint8_t *eid = sim_snmp_engine_id(&elen);
	uint8_t key[USM_MAX_KEY], bad_key[USM_MAX_KEY];
	CHECK(usm_localize_key(SIM_AUTH_MD5, "maplesyrup", eid, elen, key) == 0, "key");
	memcpy(bad_key, key, sizeof(key));
	bad_key[3] ^= 0x40;
	static uint8_t req[1024], out[65535];
	uint32_t delay;
	struct reply r;

	/* discovery: empty engine id, reportable -> usmStatsUnknownEngineIDs with our engine */
	size_t n = build(req, sizeof(req), NULL, 0, 0, 0, "", NULL, 0x04, "");
	size_t m = sim_snmp_handle(sim, NULL, req, n, out, sizeof(out), &delay);
	CHECK(m && parse(out, m, &r) == 0 && r.pdu == BER_PDU_REPORT && oid_is(&r, "1.3.6.1.6.3.15.1.1.4.0") &&
		      r.elen == elen && memcmp(r.eid, eid, elen) == 0 && r.boots == 1 && r.reqid == 4242,
	      "discovery report");
	/* not reportable: no answer */
	n = build(req, sizeof(req), NULL, 0, 0, 0, "", NULL, 0x00, "");
	CHECK(sim_snmp_handle(sim, NULL, req, n, out, sizeof(out), &delay) == 0, "unreportable discovery silent");

	/* an authenticated GET in the time window */
	n = build(req, sizeof(req), eid, elen, r.boots, r.etime, "alice", key, 0x05, "dev-0");
	m = sim_snmp_handle(sim, NULL, req, n, out, sizeof(out), &delay);
	CHECK(m && parse(out, m, &r) == 0 && r.pdu == BER_PDU_RESPONSE && oid_is(&r, "1.3.6.1.2.1.1.5.0") &&
		      r.str_len == strlen(d->name) && memcmp(r.str, d->name, r.str_len) == 0 && (r.flags & 1),
	      "authenticated GET answered");
	/* outside the 150 s window: authenticated notInTimeWindows report */
	n = build(req, sizeof(req), eid, elen, 1, 100000, "alice", key, 0x05, "dev-0");
	m = sim_snmp_handle(sim, NULL, req, n, out, sizeof(out), &delay);
	CHECK(m && parse(out, m, &r) == 0 && r.pdu == BER_PDU_REPORT && oid_is(&r, "1.3.6.1.6.3.15.1.1.2.0") &&
		      (r.flags & 1) && r.etime < 1000,
	      "notInTimeWindows report, authenticated, with the engine's time");
	n = build(req, sizeof(req), eid, elen, 7, 0, "alice", key, 0x05, "dev-0");
	m = sim_snmp_handle(sim, NULL, req, n, out, sizeof(out), &delay);
	CHECK(m && parse(out, m, &r) == 0 && oid_is(&r, "1.3.6.1.6.3.15.1.1.2.0"), "wrong engineBoots report");
	/* wrong key: wrongDigests */
	n = build(req, sizeof(req), eid, elen, 1, 0, "alice", bad_key, 0x05, "dev-0");
	m = sim_snmp_handle(sim, NULL, req, n, out, sizeof(out), &delay);
	CHECK(m && parse(out, m, &r) == 0 && oid_is(&r, "1.3.6.1.6.3.15.1.1.5.0") && !(r.flags & 1),
	      "wrongDigests report");
	/* unknown user */
	n = build(req, sizeof(req), eid, elen, 1, 0, "mallory", NULL, 0x04, "dev-0");
	m = sim_snmp_handle(sim, NULL, req, n, out, sizeof(out), &delay);
	CHECK(m && parse(out, m, &r) == 0 && oid_is(&r, "1.3.6.1.6.3.15.1.1.3.0"), "unknownUserNames report");
	/* an auth user without auth: unsupportedSecLevels */
	n = build(req, sizeof(req), eid, elen, 1, 0, "alice", NULL, 0x04, "dev-0");
	m = sim_snmp_handle(sim, NULL, req, n, out, sizeof(out), &delay);
	CHECK(m && parse(out, m, &r) == 0 && oid_is(&r, "1.3.6.1.6.3.15.1.1.1.0"), "unsupportedSecLevels report");
	/* unknown context, authenticated */
	n = build(req, sizeof(req), eid, elen, 1, 0, "alice", key, 0x05, "dev-77");
	m = sim_snmp_handle(sim, NULL, req, n, out, sizeof(out), &delay);
	CHECK(m && parse(out, m, &r) == 0 && oid_is(&r, "1.3.6.1.6.3.12.1.5.0"), "unknownContexts report");
	/* a tampered authenticated message is refused */
	n = build(req, sizeof(req), eid, elen, 1, 0, "alice", key, 0x05, "dev-0");
	req[n - 3] ^= 1;
	m = sim_snmp_handle(sim, NULL, req, n, out, sizeof(out), &delay);
	CHECK(m && parse(out, m, &r) == 0 && oid_is(&r, "1.3.6.1.6.3.15.1.1.5.0"), "tampered message: wrongDigests");
	sim_snmp_stop();
	sim_free(sim);
	if (failures)
		printf("%d failures\n", failures);
	else
		printf("all v3 checks passed\n");
	return failures ? 1 : 0;
}
