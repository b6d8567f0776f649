#include "traps.h"

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool ready;

void wt_traps_init(void)
{
	if (ready)
		return;
	/* the same settings as the SNMP poller's engine (first one wins) */
	setenv("MIBS", "", 0);
	setenv("MIBDIRS", "", 0);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
	netsnmp_register_loghandler(NETSNMP_LOGHANDLER_NONE, LOG_DEBUG);
	init_snmp("wattrack");
	ready = true;
}

static int hex_to_bin(const char *hex, u_char *out, size_t max, size_t *len)
{
	if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
		hex += 2;
	size_t n = strlen(hex);
	if (n % 2 || n / 2 > max || n < 10)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (u_char)v;
	}
	*len = n / 2;
	return 0;
}

/* RFC 3411 text-format engine id with a placeholder enterprise number
 * (RFC 5612 documentation PEN 32473) and the host name. */
static void default_engine_id(u_char *out, size_t *len)
{
	char host[64] = "wattrack";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	out[0] = 0x80;
	out[1] = 0x00;
	out[2] = 0x7e;
	out[3] = 0xd9; /* 32473 = 0x7ed9, with the high bit on the first byte */
	out[4] = 4;    /* text */
	size_t hl = strnlen(host, 27);
	memcpy(out + 5, host, hl);
	*len = 5 + hl;
}

static const oid sysuptime_oid[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
static const oid trapoid_oid[] = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};

static void add_str(netsnmp_pdu *pdu, unsigned sub, const char *v, size_t max)
{
	oid o[] = {WT_MIB_ROOT, 1, sub, 0};
	size_t n = v ? strnlen(v, max) : 0;
	snmp_pdu_add_variable(pdu, o, OID_LENGTH(o), ASN_OCTET_STR, (const u_char *)(v ? v : ""),
			      n);
}

int wt_trap_send(const struct wt_trap_receiver *r, const char *engine_id_hex,
		 const struct wt_trap_fields *f, char *errbuf, size_t errlen)
{
	netsnmp_session s;
	snmp_sess_init(&s);
	char peer[300];
	snprintf(peer, sizeof(peer), "udp:%s:%d", r->host, r->port ? r->port : 162);
	s.peername = peer;
	s.retries = 2;
	s.timeout = 1000000;
	u_char engine[32];
	size_t elen = 0;
	if (r->version == 3) {
		s.version = SNMP_VERSION_3;
		s.securityName = (char *)r->user;
		s.securityNameLen = strlen(r->user);
		s.securityModel = SNMP_SEC_MODEL_USM;
		s.securityLevel = r->priv_pass ? SNMP_SEC_LEVEL_AUTHPRIV
					       : SNMP_SEC_LEVEL_AUTHNOPRIV;
		s.securityAuthProto = snmp_duplicate_objid(usmHMACSHA1AuthProtocol,
							   USM_AUTH_PROTO_SHA_LEN);
		s.securityAuthProtoLen = USM_AUTH_PROTO_SHA_LEN;
		s.securityAuthKeyLen = USM_AUTH_KU_LEN;
		if (generate_Ku(s.securityAuthProto, (u_int)s.securityAuthProtoLen,
				(const u_char *)r->auth_pass, strlen(r->auth_pass),
				s.securityAuthKey, &s.securityAuthKeyLen) != SNMPERR_SUCCESS) {
			snprintf(errbuf, errlen, "cannot derive the SNMPv3 authentication key");
			SNMP_FREE(s.securityAuthProto);
			return -EINVAL;
		}
		if (r->priv_pass) {
			s.securityPrivProto = snmp_duplicate_objid(usmAESPrivProtocol,
								   USM_PRIV_PROTO_AES_LEN);
			s.securityPrivProtoLen = USM_PRIV_PROTO_AES_LEN;
			s.securityPrivKeyLen = USM_PRIV_KU_LEN;
			if (generate_Ku(s.securityAuthProto, (u_int)s.securityAuthProtoLen,
					(const u_char *)r->priv_pass, strlen(r->priv_pass),
					s.securityPrivKey,
					&s.securityPrivKeyLen) != SNMPERR_SUCCESS) {
				snprintf(errbuf, errlen, "cannot derive the SNMPv3 privacy key");
				SNMP_FREE(s.securityAuthProto);
				SNMP_FREE(s.securityPrivProto);
				return -EINVAL;
			}
		}
		if (!r->inform) {
			/* a trap's authoritative engine is the sender: us */
			if (!engine_id_hex ||
			    hex_to_bin(engine_id_hex, engine, sizeof(engine), &elen) < 0)
				default_engine_id(engine, &elen);
			s.securityEngineID = engine;
			s.securityEngineIDLen = elen;
			s.contextEngineID = engine;
			s.contextEngineIDLen = elen;
		}
	} else {
		s.version = SNMP_VERSION_2c;
		s.community = (u_char *)(r->community ? r->community : "public");
		s.community_len = strlen((const char *)s.community);
	}
	void *ss = snmp_sess_open(&s);
	/* the session copied what it needs */
	if (r->version == 3) {
		SNMP_FREE(s.securityAuthProto);
		SNMP_FREE(s.securityPrivProto);
	}
	if (!ss) {
		int liberr = 0, syserr = 0;
		char *msg = NULL;
		snmp_error(&s, &liberr, &syserr, &msg);
		snprintf(errbuf, errlen, "cannot open SNMP session to %s: %s", peer,
			 msg ? msg : "unknown error");
		free(msg);
		return -EIO;
	}
	netsnmp_pdu *pdu = snmp_pdu_create(r->inform ? SNMP_MSG_INFORM : SNMP_MSG_TRAP2);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	u_long ticks = (u_long)((ts.tv_sec * 100 + ts.tv_nsec / 10000000) & 0xffffffffUL);
	snmp_pdu_add_variable(pdu, sysuptime_oid, OID_LENGTH(sysuptime_oid), ASN_TIMETICKS,
			      (const u_char *)&ticks, sizeof(ticks));
	oid trap[] = {WT_MIB_ROOT, 0, (oid)f->kind};
	snmp_pdu_add_variable(pdu, trapoid_oid, OID_LENGTH(trapoid_oid), ASN_OBJECT_ID,
			      (const u_char *)trap, sizeof(trap));
	add_str(pdu, 1, f->alarm_id, 20);
	oid sev[] = {WT_MIB_ROOT, 1, 2, 0};
	long sv = f->severity;
	snmp_pdu_add_variable(pdu, sev, OID_LENGTH(sev), ASN_INTEGER, (const u_char *)&sv,
			      sizeof(sv));
	add_str(pdu, 3, f->device, 255);
	add_str(pdu, 4, f->entity, 255);
	add_str(pdu, 5, f->metric, 64);
	add_str(pdu, 6, f->value, 32);
	add_str(pdu, 7, f->threshold, 32);
	add_str(pdu, 8, f->location, 255);
	add_str(pdu, 9, f->message, 255);
	int rc = 0;
	if (r->inform) {
		netsnmp_pdu *resp = NULL;
		int st = snmp_sess_synch_response(ss, pdu, &resp);
		if (st != STAT_SUCCESS || !resp || resp->errstat != SNMP_ERR_NOERROR) {
			snprintf(errbuf, errlen, "inform to %s: %s", peer,
				 st == STAT_TIMEOUT ? "no acknowledgement"
				 : resp             ? snmp_errstring((int)resp->errstat)
					: snmp_api_errstring(snmp_sess_session(ss)->s_snmp_errno));
			rc = st == STAT_TIMEOUT ? -ETIMEDOUT : -EIO;
		}
		if (resp)
			snmp_free_pdu(resp);
	} else if (snmp_sess_send(ss, pdu) == 0) {
		snprintf(errbuf, errlen, "trap to %s: %s", peer,
			 snmp_api_errstring(snmp_sess_session(ss)->s_snmp_errno));
		snmp_free_pdu(pdu);
		rc = -EIO;
	}
	snmp_sess_close(ss);
	return rc;
}
