/* Fuzz target: an SNMP response message off the wire goes through our
 * v1/v2c codec (the parse hook of every v1/v2c session), is checked against
 * net-snmp's own parser (same header, names and values wherever both read
 * a value), and then through our response handling: the bind
 * store, profile selection, bind planning, model building and value
 * conversion for every shipped profile, and the poll path: the message's
 * varbinds (binary OIDs) read as the answer to every request of each
 * model's GETBULK and GET poll plans (row matching by index, short and
 * overlong answers, end of MIB, agents going backwards). Built with -fsanitize=fuzzer under
 * clang, and with fuzz_main.c (gcc) as a regression test over the corpus. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "pollers/profile.h"
#include "pollers/snmp_ber.h"
#include "pollers/snmp_engine.h"
#include "pollers/snmp_model.h"
#include "server/log.h"
#include "wt_build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wt_profile_set profiles;

static void setup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	wt_log_setup(false, "fuzz", WT_LOG_ERROR);
	wt_snmp_engine_init();
	char dir[4096];
	const char *root = getenv("WT_SOURCE_ROOT");
	snprintf(dir, sizeof dir, "%s/pollers/profiles", root ? root : WT_SOURCE_ROOT);
	if (wt_profiles_load_dir(&profiles, dir) <= 0) {
		fprintf(stderr, "fuzz: no profiles in %s\n", dir);
		abort();
	}
}

/* Feeds vbs as the answer to every request of a poll of m, bulk or not. */
static void exercise_poll(struct wt_snmp_model *m, const struct wt_snmp_store *st, bool bulk,
			  const struct wt_snmp_vb *vbs, size_t n)
{
	struct wt_snmp_plan *pl = NULL;
	if (wt_snmp_plan_build(m, st, bulk, 24, &pl))
		return;
	static struct wt_snmp_req req;
	uint32_t *upd = calloc(m->n_points + 1, sizeof *upd);
	for (int poll = 0; upd && poll < 2; poll++) {
		wt_snmp_plan_start(pl);
		/* the plan bounds its rounds; the cap here only keeps fuzzing fast */
		for (int round = 0; round < 64 && wt_snmp_plan_next(pl, 40, poll ? 3 : 24, &req);
		     round++) {
			size_t nu = 0;
			uint64_t up = 0;
			bool have_up = false;
			if (req.n == 0 || req.n > WT_REQ_MAX)
				abort(); /* a request is never empty or oversized */
			wt_snmp_plan_read(pl, m, &req, vbs, n, upd, &nu, &up, &have_up);
			if (nu > m->n_points)
				abort();
			for (size_t k = 0; k < nu; k++)
				if (upd[k] >= m->n_points ||
				    m->points[upd[k]].value != m->points[upd[k]].value)
					abort(); /* updates name real points, never NaN */
		}
	}
	free(upd);
	wt_snmp_plan_free(pl);
}

static void exercise_model(const struct wt_snmp_store *st, const char *soid,
			   const struct wt_snmp_vb *vbs, size_t n)
{
	const struct wt_profile *sel = wt_snmp_select(&profiles, soid, st);
	for (size_t i = 0; i < profiles.n; i++) {
		const struct wt_profile *p = profiles.v[i];
		struct wt_strv gets = {0};
		if (wt_snmp_plan_gets(p, st, &gets) == 0) {
			struct wt_snmp_model *m = NULL;
			if (wt_snmp_model_build(p, st, &m) == 0) {
				for (size_t k = 0; k < m->n_points; k++) {
					double v;
					const struct wt_snmp_val *raw = wt_snmp_store_get(
						st, m->points[k].oid);
					if (wt_snmp_convert(m->points[k].pv, m->points[k].scale,
							    raw, &v) == 0 &&
					    v != v)
						abort(); /* a NaN must never leave the converter */
				}
				exercise_poll(m, st, true, vbs, n);
				exercise_poll(m, st, false, vbs, n);
				for (size_t e = 0; e < m->n_entities; e++) {
					char oid[WT_OID_STR];
					long val;
					if (wt_snmp_control_oid(&m->entities[e], WT_CTL_OFF, oid,
								sizeof oid, &val) == 0 &&
					    !oid[0])
						abort(); /* a control OID is never empty */
				}
				wt_snmp_model_free(m);
			}
		}
		wt_strv_free(&gets);
	}
	(void)sel;
}

enum {
	MAX = 512
};

/* net-snmp's reading of the same message (through its own parser and our
 * varbind decoding, the SNMPv3 path) must agree with our codec wherever
 * both read a value: the differential half of this target. */
static void compare_netsnmp(u_char *buf, size_t size, const struct wt_ber_msg *m,
			    const struct wt_snmp_vb *vbs, size_t n)
{
	netsnmp_session ss;
	snmp_sess_init(&ss);
	ss.version = m->version == 0 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
	netsnmp_pdu *pdu = SNMP_MALLOC_TYPEDEF(netsnmp_pdu);
	if (pdu && snmp_parse(NULL, &ss, pdu, buf, size) == 0 && pdu->version != SNMP_VERSION_3) {
		static struct wt_snmp_vb nv[MAX];
		static char nsbuf[MAX][WT_OID_STR];
		size_t k = wt_snmp_pdu_decode(pdu, nv, nsbuf, MAX, true);
		if (pdu->command != m->type || pdu->reqid != m->reqid || pdu->errstat != m->errstat ||
		    pdu->errindex != m->errindex || k != n) {
			fprintf(stderr, "header differs: type %#x/%#x reqid %ld/%ld n %zu/%zu\n",
				pdu->command, m->type, pdu->reqid, m->reqid, k, n);
			abort();
		}
		for (size_t i = 0; i < k; i++) {
			const struct wt_snmp_val *a = &vbs[i].v, *b = &nv[i].v;
			if (strcmp(vbs[i].oid, nv[i].oid) || vbs[i].end_of_mib != nv[i].end_of_mib) {
				fprintf(stderr, "varbind %zu: name %s, net-snmp %s\n", i, vbs[i].oid,
					nv[i].oid);
				abort();
			}
			if (a->type == WT_SV_OTHER || b->type == WT_SV_OTHER)
				continue; /* a value one side cannot read: no reading either way */
			if (a->type != b->type || a->i != b->i || a->u != b->u || a->slen != b->slen ||
			    (a->slen && memcmp(a->s, b->s, a->slen))) {
				fprintf(stderr,
					"varbind %zu (%s): type %d/%d i %lld/%lld u %llu/%llu "
					"slen %zu/%zu\n",
					i, vbs[i].oid, a->type, b->type, (long long)a->i,
					(long long)b->i, (unsigned long long)a->u,
					(unsigned long long)b->u, a->slen, b->slen);
				abort();
			}
		}
	}
	if (pdu)
		snmp_free_pdu(pdu);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size > 65535)
		return 0;
	u_char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	/* our v1/v2c codec, as the session's parse hook runs it */
	static struct wt_snmp_vb vbs[MAX], bvbs[MAX];
	static char sbuf[MAX][WT_OID_STR];
	static unsigned long sub[MAX * WT_BER_MAX_SUBIDS], bsub[MAX * WT_BER_MAX_SUBIDS];
	struct wt_ber_msg m, bm;
	struct wt_ber_out o = {vbs, MAX, sub, sizeof sub / sizeof *sub, sbuf, true};
	int rc = wt_ber_decode_msg(buf, size, &m, &o);
	if (rc == 0) {
		if (m.n > MAX)
			abort();
		compare_netsnmp(buf, size, &m, vbs, m.n);
		struct wt_snmp_store *st = wt_snmp_store_new();
		char soid[WT_OID_STR] = "";
		for (size_t i = 0; st && i < m.n; i++) {
			if (wt_snmp_store_put(st, vbs[i].oid, &vbs[i].v))
				break;
			if (strcmp(vbs[i].oid, "1.3.6.1.2.1.1.2.0") == 0 &&
			    vbs[i].v.type == WT_SV_OID)
				snprintf(soid, sizeof soid, "%.*s", (int)vbs[i].v.slen, vbs[i].v.s);
		}
		/* the poll path decodes without OID text, to the same numbers */
		struct wt_ber_out bo = {bvbs, MAX, bsub, sizeof bsub / sizeof *bsub, sbuf, false};
		if (wt_ber_decode_msg(buf, size, &bm, &bo) || bm.n != m.n)
			abort();
		for (size_t i = 0; i < bm.n; i++)
			if (bvbs[i].oid[0] || bvbs[i].name_len != vbs[i].name_len ||
			    memcmp(bvbs[i].name, vbs[i].name, vbs[i].name_len * sizeof *vbs[i].name))
				abort();
		if (st)
			exercise_model(st, soid, bvbs, bm.n);
		wt_snmp_store_free(st);
	} else if (rc == -ENOSPC) {
		if (m.n <= MAX && m.n_sub <= sizeof sub / sizeof *sub)
			abort(); /* it fit */
	}
	free(buf);
	return 0;
}
