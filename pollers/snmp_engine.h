/* Asynchronous SNMP on the libevent loop, through net-snmp's single-session
 * API (snmp_sess_open / snmp_sess_async_send / snmp_sess_select_info2 with a
 * netsnmp_large_fd_set / snmp_sess_read2 / snmp_sess_timeout). One session
 * (one UDP socket) per device; no select(), no 1024-descriptor ceiling.
 *
 * A session carries at most one request at a time: the caller sends the
 * next one from the completion callback. Credentials live in the session
 * only and are never logged. */
#ifndef WT_POLLERS_SNMP_ENGINE_H
#define WT_POLLERS_SNMP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "pollers/snmp_model.h"

struct event_base;

struct wt_snmp_target {
	int version; /* 1, 2 (v2c) or 3 */
	char host[256];
	int port; /* 161 if 0 */
	char community[128];
	/* v3 */
	char user[64];
	char auth_proto[16]; /* MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512 */
	char auth_pass[128];
	char priv_proto[16]; /* DES, AES, AES-192, AES-256 */
	char priv_pass[128];
	char context[64];
	int level;      /* 0 noAuthNoPriv, 1 authNoPriv, 2 authPriv */
	int timeout_ms; /* per try; 1000 if 0 */
	int retries;    /* net-snmp retries per request */
};

/* Completion: status 0 (vbs valid), -ETIMEDOUT, -EMSGSIZE (tooBig),
 * -EACCES (noAccess/authorization/notWritable), -EINVAL (wrongValue and
 * similar), -ENOENT (v1 noSuchName), -EIO (other). errindex is the agent's error index. */
typedef void (*wt_snmp_cb)(void *ctx, int status, int errindex, const struct wt_snmp_vb *vbs,
			   size_t n);

struct wt_snmp_sess;

/* Initialises net-snmp once per process (no MIB files, no config files). */
void wt_snmp_engine_init(void);
/* Releases net-snmp's global state at exit. */
void wt_snmp_engine_shutdown(void);

/* Opens a session. Returns NULL and a reason in err on failure. For v3 the
 * engine id is discovered and cached by net-snmp for the session's life. */
struct wt_snmp_sess *wt_snmp_sess_open(struct event_base *base, const struct wt_snmp_target *t,
				       char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* SNMPv3 needs the agent's engine id before the first request. Returns 1
 * when the session is ready; else starts a non-blocking discovery and
 * returns 0, and cb gets status 0 (ready), -ETIMEDOUT or -EIO later; or a
 * negative errno if discovery cannot start. v1/v2c sessions are always
 * ready. get/getbulk/set return -ENOTCONN before that. */
int wt_snmp_sess_prepare(struct wt_snmp_sess *s, wt_snmp_cb cb, void *ctx)
	__attribute__((warn_unused_result));
/* Closes the session; a pending request completes with nothing (no callback).
 * Safe to call from inside the session's own callback. */
void wt_snmp_sess_close(struct wt_snmp_sess *s);
bool wt_snmp_sess_busy(const struct wt_snmp_sess *s);

/* GET of n OIDs in one PDU. -EBUSY if a request is in flight. */
int wt_snmp_get(struct wt_snmp_sess *s, char *const *oids, size_t n, wt_snmp_cb cb, void *ctx)
	__attribute__((warn_unused_result));
/* GETBULK (GETNEXT on v1) from one OID. */
int wt_snmp_getbulk(struct wt_snmp_sess *s, const char *oid, int max_rep, wt_snmp_cb cb, void *ctx)
	__attribute__((warn_unused_result));
/* Sends a poll request built by wt_snmp_plan_next: a GET, or a GETBULK with
 * its non-repeaters and repetitions, of binary OIDs. The answer's varbinds
 * carry name/name_len only (oid text is "": the poll path compares numbers).
 * -EBUSY if a request is in flight, -EINVAL for an empty or oversized request. */
int wt_snmp_send_req(struct wt_snmp_sess *s, const struct wt_snmp_req *req, wt_snmp_cb cb,
		     void *ctx) __attribute__((warn_unused_result));
/* SET of one INTEGER. */
int wt_snmp_set_int(struct wt_snmp_sess *s, const char *oid, long value, wt_snmp_cb cb, void *ctx)
	__attribute__((warn_unused_result));

struct snmp_pdu;
/* Decodes up to max varbinds of a received PDU (bounded whatever the agent
 * claims); sbuf gives each varbind room for IpAddress/OID text. name/name_len
 * always point into the PDU; the dotted oid text is written only if text.
 * Returns the count. Exposed for the fuzz target. */
size_t wt_snmp_pdu_decode(const struct snmp_pdu *pdu, struct wt_snmp_vb *vbs,
			  char (*sbuf)[WT_OID_STR], size_t max, bool text);

#endif
