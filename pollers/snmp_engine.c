/* net-snmp single-session API driven by libevent. Each session has a read
 * event on its socket and a timer for net-snmp's retransmissions; the timer
 * is re-armed from snmp_sess_select_info2 after every send and read.
 *
 * v1/v2c sessions are opened with snmp_sess_add_ex and our message codec
 * (snmp_ber.c) as the session's build and parse hooks: net-snmp keeps the
 * transport, the request list, retries and request-id matching; requests
 * are encoded straight from binary OIDs and answers decoded straight into
 * the thread's varbind buffers. v3 sessions use net-snmp's codec (USM). */
#include "snmp_engine.h"

#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <net-snmp/library/large_fd_set.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "pollers/snmp_ber.h"
#include "server/log.h"

_Static_assert(sizeof(oid) == sizeof(unsigned long), "net-snmp oid is unsigned long");

struct wt_snmp_sess {
	void *sp;
	struct event_base *base;
	struct event *rd;
	struct event *tmo;
	struct event *watchdog; /* our own deadline: completes a request net-snmp never finishes */
	struct timeval limit;
	struct timeval try_tv; /* one try: net-snmp's first retransmission is due then */
	int reqid;             /* the request in flight; answers to older ones are ignored */
	/* SNMPv3 engine discovery, done by us without blocking before the
	 * net-snmp session is opened (net-snmp's own probe is synchronous) */
	struct wt_snmp_target *v3; /* credentials until the session is open */
	int disc_fd;
	struct event *disc_ev;
	int disc_tries;
	int32_t disc_msgid;
	wt_snmp_cb disc_cb;
	void *disc_ctx;
	int fd;
	bool busy;
	bool closing;
	int in_cb;
	wt_snmp_cb cb;
	void *ctx;
	int version;
	bool binary; /* the request in flight was sent with binary OIDs: no oid text */
	bool own_codec; /* v1/v2c: our build and parse hooks */
	/* a poll request (binary OIDs) in flight, for the build hook, which
	 * net-snmp calls again for every retransmission */
	const struct wt_snmp_req *req;
	long req_reqid;
};

/* Decoding happens on the thread that runs the session's loop, one answer
 * at a time, and the varbinds live only during the completion callback:
 * one set of buffers per thread serves every session (5,000 sessions with
 * a buffer each held 250 MB), as does one descriptor set for
 * snmp_sess_read2 (building one per read allocated for every descriptor
 * above 1023). */
#define DEC_MAX_VBS 4096 /* more varbinds than this in one answer: garbage */
struct dec_buf {
	struct wt_snmp_vb *vbs;
	char (*sbuf)[WT_OID_STR];
	size_t cap;
	unsigned long *sub;
	size_t sub_cap;
	/* what the parse hook decoded last */
	const struct wt_snmp_sess *owner;
	long reqid;
	size_t n;
	netsnmp_large_fd_set fds;
	bool fds_ready;
};
static pthread_key_t dec_key;
static pthread_once_t dec_once = PTHREAD_ONCE_INIT;

static void dec_free(void *p)
{
	struct dec_buf *d = p;
	if (!d)
		return;
	free(d->vbs);
	free(d->sbuf);
	free(d->sub);
	if (d->fds_ready)
		netsnmp_large_fd_set_cleanup(&d->fds);
	free(d);
}

static void dec_key_make(void)
{
	if (pthread_key_create(&dec_key, dec_free))
		abort();
}

static struct dec_buf *dec_get(void)
{
	pthread_once(&dec_once, dec_key_make);
	struct dec_buf *d = pthread_getspecific(dec_key);
	if (!d && (d = calloc(1, sizeof *d)) && pthread_setspecific(dec_key, d)) {
		free(d);
		d = NULL;
	}
	return d;
}

/* Room for n varbinds whose names have n_sub sub-identifiers in all. */
static int dec_reserve(struct dec_buf *d, size_t n, size_t n_sub)
{
	if (n > DEC_MAX_VBS)
		return -E2BIG;
	if (n > d->cap) {
		struct wt_snmp_vb *nv = realloc(d->vbs, n * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		d->vbs = nv;
		char(*ns)[WT_OID_STR] = realloc(d->sbuf, n * sizeof *ns);
		if (!ns)
			return -ENOMEM;
		d->sbuf = ns;
		d->cap = n;
	}
	if (n_sub > d->sub_cap) {
		unsigned long *ns = realloc(d->sub, n_sub * sizeof *ns);
		if (!ns)
			return -ENOMEM;
		d->sub = ns;
		d->sub_cap = n_sub;
	}
	return 0;
}

static bool engine_ready;

void wt_snmp_engine_init(void)
{
	if (engine_ready)
		return;
	/* MIB files are never needed (all OIDs are numeric) and loading them
	 * prints pages of warnings; config files could inject credentials. */
	setenv("MIBS", "", 0);
	setenv("MIBDIRS", "", 0);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_QUICK_PRINT, 1);
	netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_OID_OUTPUT_FORMAT,
			   NETSNMP_OID_OUTPUT_NUMERIC);
	netsnmp_register_loghandler(NETSNMP_LOGHANDLER_NONE, LOG_DEBUG);
	init_snmp("wattrack");
	engine_ready = true;
}

void wt_snmp_engine_shutdown(void)
{
	if (!engine_ready)
		return;
	/* this thread's buffers (other threads free theirs when they end) */
	pthread_once(&dec_once, dec_key_make);
	dec_free(pthread_getspecific(dec_key));
	pthread_setspecific(dec_key, NULL);
	snmp_shutdown("wattrack");
	engine_ready = false;
}

/* Decodes one varbind without trusting its declared lengths. */
static void decode_vb(const netsnmp_variable_list *v, struct wt_snmp_vb *out, char *sbuf,
		      size_t sbuflen, bool text)
{
	/* oid is always written (terminated) below; clearing all of *out would
	 * cost a WT_OID_STR memset per varbind on the hot path */
	memset(&out->v, 0, sizeof out->v);
	out->end_of_mib = false;
	out->name = v->name;
	out->name_len = v->name ? v->name_length : 0;
	if (text)
		wt_oid_format(v->name, out->name_len, out->oid, sizeof out->oid);
	else
		out->oid[0] = 0;
	switch (v->type) {
	case ASN_INTEGER:
		if (v->val.integer && v->val_len >= sizeof(long)) {
			out->v.type = WT_SV_INT;
			out->v.i = *v->val.integer;
		}
		break;
	case ASN_COUNTER:
	case ASN_GAUGE:
	case ASN_TIMETICKS:
	case ASN_UINTEGER:
		if (v->val.integer && v->val_len >= sizeof(long)) {
			out->v.type = WT_SV_UINT;
			out->v.u = (uint32_t)*v->val.integer;
		}
		break;
	case ASN_COUNTER64:
		if (v->val.counter64 && v->val_len >= sizeof(struct counter64)) {
			out->v.type = WT_SV_UINT;
			out->v.u = ((uint64_t)v->val.counter64->high << 32) | v->val.counter64->low;
		}
		break;
	case ASN_OCTET_STR:
	case ASN_OPAQUE:
		out->v.type = WT_SV_STR;
		out->v.s = v->val.string ? (const char *)v->val.string : "";
		out->v.slen = v->val.string ? v->val_len : 0;
		break;
	case ASN_IPADDRESS:
		if (v->val.string && v->val_len == 4) {
			snprintf(sbuf, sbuflen, "%u.%u.%u.%u", v->val.string[0], v->val.string[1],
				 v->val.string[2], v->val.string[3]);
			out->v.type = WT_SV_STR;
			out->v.s = sbuf;
			out->v.slen = strlen(sbuf);
		}
		break;
	case ASN_OBJECT_ID:
		if (v->val.objid) {
			wt_oid_format(v->val.objid, v->val_len / sizeof(oid), sbuf, sbuflen);
			out->v.type = WT_SV_OID;
			out->v.s = sbuf;
			out->v.slen = strlen(sbuf);
		}
		break;
	case SNMP_ENDOFMIBVIEW:
		out->end_of_mib = true;
		break;
	case SNMP_NOSUCHOBJECT:
	case SNMP_NOSUCHINSTANCE:
	case ASN_NULL:
		break;
	default:
		out->v.type = WT_SV_OTHER;
		break;
	}
}

size_t wt_snmp_pdu_decode(const struct snmp_pdu *pdu, struct wt_snmp_vb *vbs,
			  char (*sbuf)[WT_OID_STR], size_t max, bool text)
{
	size_t i = 0;
	for (const netsnmp_variable_list *v = pdu->variables; v && i < max;
	     v = v->next_variable, i++)
		decode_vb(v, &vbs[i], sbuf[i], WT_OID_STR, text);
	return i;
}

static int map_errstat(long e)
{
	switch (e) {
	case SNMP_ERR_NOERROR:
		return 0;
	case SNMP_ERR_TOOBIG:
		return -EMSGSIZE;
	case SNMP_ERR_NOACCESS:
	case SNMP_ERR_AUTHORIZATIONERROR:
	case SNMP_ERR_NOTWRITABLE:
	case SNMP_ERR_READONLY:
	case SNMP_ERR_NOCREATION:
		return -EACCES;
	case SNMP_ERR_WRONGVALUE:
	case SNMP_ERR_WRONGTYPE:
	case SNMP_ERR_WRONGLENGTH:
	case SNMP_ERR_BADVALUE:
	case SNMP_ERR_INCONSISTENTVALUE:
		return -EINVAL;
	case SNMP_ERR_NOSUCHNAME:
		return -ENOENT; /* v1: one OID of the PDU does not exist (errindex) */
	default:
		return -EIO;
	}
}

static void rearm(struct wt_snmp_sess *s);

/* Delivers a completion; the callback may send the next request or close. */
static void complete(struct wt_snmp_sess *s, int status, int errindex, const struct wt_snmp_vb *vbs,
		     size_t n)
{
	wt_snmp_cb cb = s->cb;
	void *ctx = s->ctx;
	s->busy = false;
	s->cb = NULL;
	s->reqid = 0;
	s->req = NULL;
	evtimer_del(s->watchdog);
	if (cb && !s->closing)
		cb(ctx, status, errindex, vbs, n);
}

static int on_response(int op, netsnmp_session *ns, int reqid, netsnmp_pdu *pdu, void *magic)
{
	struct wt_snmp_sess *s = magic;
	(void)ns;
	if (op == NETSNMP_CALLBACK_OP_RESEND)
		return 1; /* a retransmission, not a completion */
	if (!s->busy || reqid != s->reqid)
		return 1; /* a request we already gave up on (watchdog) */
	if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE) {
		/* SEC_ERROR: a v3 report (wrong digest, unknown user, not in time
		 * window after retries): the credentials are refused */
		complete(s,
			 op == NETSNMP_CALLBACK_OP_TIMED_OUT   ? -ETIMEDOUT
			 : op == NETSNMP_CALLBACK_OP_SEC_ERROR ? -EACCES
							       : -EIO,
			 0, NULL, 0);
		return 1;
	}
	if (pdu->command == SNMP_MSG_REPORT) {
		complete(s, -EACCES, 0, NULL, 0); /* v3 auth/engine trouble */
		return 1;
	}
	int status = map_errstat(pdu->errstat);
	struct dec_buf *d = dec_get();
	size_t n = 0;
	if (!d) {
		complete(s, -ENOMEM, 0, NULL, 0);
		return 1;
	}
	if (s->own_codec) {
		/* decoded by parse_hook just before net-snmp matched it to us */
		if (d->owner != s || d->reqid != reqid) {
			complete(s, -EIO, 0, NULL, 0);
			return 1;
		}
		n = d->n;
	} else {
		for (netsnmp_variable_list *v = pdu->variables; v; v = v->next_variable)
			n++;
		if (n > DEC_MAX_VBS)
			n = DEC_MAX_VBS; /* bounded work per response whatever the agent sends */
		if (dec_reserve(d, n, 0)) {
			complete(s, -ENOMEM, 0, NULL, 0);
			return 1;
		}
		n = wt_snmp_pdu_decode(pdu, d->vbs, d->sbuf, n, !s->binary);
	}
	d->owner = NULL;
	/* the callback may close the session: it is freed when on_read
	 * returns (closing is deferred while in_cb) */
	complete(s, status, (int)pdu->errindex, d->vbs, n);
	return 1;
}

/* net-snmp's parse hook for v1/v2c sessions: the answer's varbinds go
 * straight into this thread's buffers; the PDU carries the header only. */
static int parse_hook(netsnmp_session *sp, netsnmp_pdu *pdu, u_char *pkt, size_t len)
{
	struct wt_snmp_sess *s = sp->callback_magic;
	struct dec_buf *d = dec_get();
	struct wt_ber_msg m;
	int rc = -ENOMEM;
	if (!d)
		return SNMPERR_MALLOC;
	d->owner = NULL;
	for (int tries = 0; tries < 2; tries++) {
		struct wt_ber_out o = {.vbs = d->vbs,
				       .max = d->cap,
				       .sub = d->sub,
				       .sub_cap = d->sub_cap,
				       .sbuf = d->sbuf,
				       .text = !s->binary};
		rc = wt_ber_decode_msg(pkt, len, &m, &o);
		if (rc != -ENOSPC || dec_reserve(d, m.n, m.n_sub))
			break;
	}
	if (rc)
		return SNMPERR_ASN_PARSE_ERR; /* dropped: the request times out */
	if (m.version != (sp->version == SNMP_VERSION_1 ? 0 : 1))
		return SNMPERR_BAD_VERSION;
	if (m.type != WT_BER_RESPONSE && m.type != WT_BER_REPORT)
		return SNMPERR_UNKNOWN_PDU; /* a client socket takes answers only */
	pdu->version = sp->version;
	pdu->command = m.type;
	pdu->reqid = m.reqid;
	pdu->errstat = m.errstat;
	pdu->errindex = m.errindex;
	pdu->flags |= UCD_MSG_FLAG_RESPONSE_PDU;
	d->owner = s;
	d->reqid = m.reqid;
	d->n = m.n;
	return SNMP_ERR_NOERROR;
}

/* net-snmp's build hook for v1/v2c sessions, for the first send and every
 * retransmission: a poll request from its binary OIDs (the PDU carries no
 * varbinds), anything else from the PDU's varbinds (NULL values, or
 * INTEGERs for a SET). The message goes at the start of *buf. */
static int build_hook(netsnmp_session *sp, netsnmp_pdu *pdu, u_char **buf, size_t *buf_len,
		      size_t *offset)
{
	struct wt_snmp_sess *s = sp->callback_magic;
	struct wt_ber_req r = {.version = sp->version == SNMP_VERSION_1 ? 0 : 1,
			       .community = sp->community,
			       .community_len = sp->community_len,
			       .reqid = pdu->reqid};
	switch (pdu->command) {
	case SNMP_MSG_GET:
		r.type = WT_BER_GET;
		break;
	case SNMP_MSG_GETNEXT:
		r.type = WT_BER_GETNEXT;
		break;
	case SNMP_MSG_SET:
		r.type = WT_BER_SET;
		break;
	case SNMP_MSG_GETBULK:
		r.type = WT_BER_GETBULK;
		r.f1 = pdu->non_repeaters;
		r.f2 = pdu->max_repetitions;
		break;
	default:
		return -1;
	}
	const unsigned long *oidv[WT_REQ_MAX];
	size_t lenv[WT_REQ_MAX];
	long ival[WT_REQ_MAX];
	if (!pdu->variables && s->req && pdu->reqid == s->req_reqid) {
		r.n = s->req->n; /* a poll request */
		r.oid = s->req->oid;
		r.oid_len = s->req->oid_len;
	} else if (!pdu->variables) {
		/* a retransmission of a poll request we gave up on (watchdog): its
		 * OIDs are gone. An empty GET under its request-id ends it in
		 * net-snmp's list (the answer is ignored); failing the build would
		 * leave it there, holding up the session's timeouts. */
		r.type = WT_BER_GET;
		r.f1 = r.f2 = 0;
	} else {
		for (netsnmp_variable_list *v = pdu->variables; v; v = v->next_variable) {
			if (r.n == WT_REQ_MAX)
				return -1;
			oidv[r.n] = (const unsigned long *)v->name;
			lenv[r.n] = v->name_length;
			if (r.type == WT_BER_SET) {
				if (v->type != ASN_INTEGER || !v->val.integer)
					return -1; /* we only ever SET INTEGERs */
				ival[r.n] = *v->val.integer;
			}
			r.n++;
		}
		r.oid = oidv;
		r.oid_len = lenv;
		r.ival = r.type == WT_BER_SET ? ival : NULL;
	}
	ssize_t need = wt_ber_encode_req(&r, *buf, *buf_len);
	if (need > 0 && (size_t)need > *buf_len) {
		u_char *nb = realloc(*buf, (size_t)need);
		if (!nb)
			return -1;
		*buf = nb;
		*buf_len = (size_t)need;
		need = wt_ber_encode_req(&r, *buf, *buf_len);
	}
	if (need <= 0)
		return -1;
	*offset = (size_t)need;
	return 0;
}

static void disc_stop(struct wt_snmp_sess *s);

static void really_close(struct wt_snmp_sess *s)
{
	/* snmp_sess_close calls back for a request still in flight: that
	 * completion must reach no caller (the header's promise) and must find
	 * the session's events still allocated, so close net-snmp first */
	s->closing = true;
	s->busy = false;
	s->cb = NULL;
	if (s->sp) {
		snmp_sess_close(s->sp);
		s->sp = NULL;
	}
	disc_stop(s);
	if (s->v3) {
		memset(s->v3, 0, sizeof *s->v3); /* credentials */
		free(s->v3);
	}
	if (s->watchdog)
		event_free(s->watchdog);
	if (s->rd)
		event_free(s->rd);
	if (s->tmo)
		event_free(s->tmo);
	free(s);
}

/* The thread's descriptor set, grown to cover fd; false if it cannot be. */
static bool fds_cover(struct dec_buf *d, int fd)
{
	unsigned want = (unsigned)fd + 1;
	if (!d->fds_ready) {
		netsnmp_large_fd_set_init(&d->fds, want > FD_SETSIZE ? (int)want : FD_SETSIZE);
		d->fds_ready = true;
	} else if (want > d->fds.lfs_setsize) {
		unsigned grow = d->fds.lfs_setsize * 2;
		netsnmp_large_fd_set_resize(&d->fds, (int)(grow > want ? grow : want));
	}
	return want <= d->fds.lfs_setsize;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct wt_snmp_sess *s = arg;
	struct dec_buf *d = dec_get();
	(void)what;
	s->in_cb++;
	if (d && fds_cover(d, fd)) {
		netsnmp_large_fd_setfd(fd, &d->fds);
		snmp_sess_read2(s->sp, &d->fds);
		netsnmp_large_fd_clr(fd, &d->fds);
	} else {
		/* out of memory: a set of our own, so the datagram is still read */
		netsnmp_large_fd_set fds;
		netsnmp_large_fd_set_init(&fds, fd + 1);
		netsnmp_large_fd_setfd(fd, &fds);
		snmp_sess_read2(s->sp, &fds);
		netsnmp_large_fd_set_cleanup(&fds);
	}
	s->in_cb--;
	if (s->closing && !s->in_cb) {
		really_close(s);
		return;
	}
	/* hot path: no need to ask net-snmp (snmp_sess_select_info2 walks its
	 * request list and fd sets): a completed request needs no timer, and a
	 * next request armed its own in send_pdu */
	if (!s->busy)
		evtimer_del(s->tmo);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct wt_snmp_sess *s = arg;
	(void)fd;
	(void)what;
	if (!s->busy)
		return;
	/* net-snmp neither answered nor timed out (seen with SNMPv3 engine
	 * discovery towards a dead port): give up on this request ourselves */
	s->in_cb++;
	complete(s, -ETIMEDOUT, 0, NULL, 0);
	s->in_cb--;
	if (s->closing && !s->in_cb)
		really_close(s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct wt_snmp_sess *s = arg;
	(void)fd;
	(void)what;
	s->in_cb++;
	snmp_sess_timeout(s->sp);
	s->in_cb--;
	if (s->closing && !s->in_cb) {
		really_close(s);
		return;
	}
	rearm(s);
}

/* Asks net-snmp when its next retransmission or timeout is due. */
static void rearm(struct wt_snmp_sess *s)
{
	netsnmp_large_fd_set fds;
	int nfds = 0, block = 1;
	struct timeval tv = {0, 0};
	netsnmp_large_fd_set_init(&fds, s->fd + 1);
	snmp_sess_select_info2(s->sp, &nfds, &fds, &tv, &block);
	netsnmp_large_fd_set_cleanup(&fds);
	if (!block)
		evtimer_add(s->tmo, &tv);
	else
		evtimer_del(s->tmo);
}

static const oid *auth_proto(const char *name, size_t *len)
{
	static const struct {
		const char *n;
		const oid *o;
	} t[] = {
		{"MD5", usmHMACMD5AuthProtocol},
		{"SHA", usmHMACSHA1AuthProtocol},
		{"SHA1", usmHMACSHA1AuthProtocol},
		{"SHA-1", usmHMACSHA1AuthProtocol},
		{"SHA-224", usmHMAC128SHA224AuthProtocol},
		{"SHA-256", usmHMAC192SHA256AuthProtocol},
		{"SHA-384", usmHMAC256SHA384AuthProtocol},
		{"SHA-512", usmHMAC384SHA512AuthProtocol},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcasecmp(t[i].n, name) == 0) {
			*len = USM_AUTH_PROTO_MD5_LEN;
			return t[i].o;
		}
	return NULL;
}

static const oid *priv_proto(const char *name, size_t *len)
{
	if (strcasecmp(name, "DES") == 0) {
		*len = USM_PRIV_PROTO_DES_LEN;
		return usmDESPrivProtocol;
	}
	if (strcasecmp(name, "AES") == 0 || strcasecmp(name, "AES-128") == 0) {
		*len = USM_PRIV_PROTO_AES_LEN;
		return usmAESPrivProtocol;
	}
	if (strcasecmp(name, "AES-192") == 0) {
		*len = sizeof usmAES192PrivProtocol / sizeof(oid);
		return usmAES192PrivProtocol;
	}
	if (strcasecmp(name, "AES-256") == 0) {
		*len = sizeof usmAES256PrivProtocol / sizeof(oid);
		return usmAES256PrivProtocol;
	}
	return NULL;
}

/* Opens the net-snmp session; for v3 with the engine id we discovered. */
static int do_open(struct wt_snmp_sess *s, const struct wt_snmp_target *t, const u_char *engine,
		   size_t engine_len, char *err, size_t errlen)
{
	netsnmp_session ss;
	char peer[300];
	snmp_sess_init(&ss);
	if (strchr(t->host, ':'))
		snprintf(peer, sizeof peer, "udp6:[%s]:%d", t->host, t->port ? t->port : 161);
	else
		snprintf(peer, sizeof peer, "udp:%s:%d", t->host, t->port ? t->port : 161);
	ss.peername = peer;
	ss.timeout = (long)(t->timeout_ms > 0 ? t->timeout_ms : 1000) * 1000L;
	ss.retries = t->retries >= 0 ? t->retries : 0;
	switch (t->version) {
	case 1:
	case 2:
		ss.version = t->version == 1 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
		ss.community = (u_char *)(uintptr_t)t->community;
		ss.community_len = strlen(t->community);
		break;
	case 3: {
		ss.version = SNMP_VERSION_3;
		ss.securityName = (char *)(uintptr_t)t->user;
		ss.securityNameLen = strlen(t->user);
		ss.securityLevel = t->level == 2   ? SNMP_SEC_LEVEL_AUTHPRIV
				   : t->level == 1 ? SNMP_SEC_LEVEL_AUTHNOPRIV
						   : SNMP_SEC_LEVEL_NOAUTH;
		if (t->context[0]) {
			ss.contextName = (char *)(uintptr_t)t->context;
			ss.contextNameLen = strlen(t->context);
		}
		if (t->level >= 1) {
			size_t n;
			const oid *a = auth_proto(t->auth_proto[0] ? t->auth_proto : "SHA", &n);
			if (!a) {
				snprintf(err, errlen, "unknown auth protocol \"%s\"",
					 t->auth_proto);
				return -EINVAL;
			}
			ss.securityAuthProto = snmp_duplicate_objid(a, n);
			ss.securityAuthProtoLen = n;
			ss.securityAuthKeyLen = USM_AUTH_KU_LEN;
			if (generate_Ku(ss.securityAuthProto, (u_int)n,
					(const u_char *)t->auth_pass, strlen(t->auth_pass),
					ss.securityAuthKey,
					&ss.securityAuthKeyLen) != SNMPERR_SUCCESS) {
				snprintf(err, errlen,
					 "cannot derive the auth key (passphrase too short?)");
				SNMP_FREE(ss.securityAuthProto);
				return -EINVAL;
			}
		}
		if (t->level >= 2) {
			size_t n;
			const oid *p = priv_proto(t->priv_proto[0] ? t->priv_proto : "AES", &n);
			if (!p) {
				snprintf(err, errlen, "unknown privacy protocol \"%s\"",
					 t->priv_proto);
				SNMP_FREE(ss.securityAuthProto);
				return -EINVAL;
			}
			ss.securityPrivProto = snmp_duplicate_objid(p, n);
			ss.securityPrivProtoLen = n;
			ss.securityPrivKeyLen = USM_PRIV_KU_LEN;
			if (generate_Ku(ss.securityAuthProto, (u_int)ss.securityAuthProtoLen,
					(const u_char *)t->priv_pass, strlen(t->priv_pass),
					ss.securityPrivKey,
					&ss.securityPrivKeyLen) != SNMPERR_SUCCESS) {
				snprintf(err, errlen,
					 "cannot derive the privacy key (passphrase too short?)");
				SNMP_FREE(ss.securityAuthProto);
				SNMP_FREE(ss.securityPrivProto);
				return -EINVAL;
			}
		}
		break;
	}
	default:
		snprintf(err, errlen, "unsupported SNMP version %d", t->version);
		return -EINVAL;
	}
	if (t->version == 3) {
		/* the engine id is known (we discovered it): net-snmp must not
		 * probe, which it would do synchronously */
		ss.flags |= SNMP_FLAGS_DONT_PROBE;
		ss.securityEngineID = netsnmp_memdup(engine, engine_len);
		ss.securityEngineIDLen = engine_len;
	}
	ss.callback = on_response;
	ss.callback_magic = s;
	if (t->version == 3) {
		s->sp = snmp_sess_open(&ss);
	} else {
		/* as snmp_sess_open, with our codec as the session's hooks */
		netsnmp_transport *tr =
			netsnmp_tdomain_transport_full("snmp", peer, 0, "udp", NULL);
		s->sp = tr ? snmp_sess_add_ex(&ss, tr, NULL, parse_hook, NULL, NULL, build_hook,
					      NULL, NULL)
			   : NULL;
		if (!tr && !ss.s_snmp_errno)
			ss.s_snmp_errno = SNMPERR_BAD_ADDRESS;
		s->own_codec = s->sp != NULL;
	}
	/* the session copied what it needs; wipe key material from the stack */
	SNMP_FREE(ss.securityAuthProto);
	SNMP_FREE(ss.securityPrivProto);
	SNMP_FREE(ss.securityEngineID);
	memset(ss.securityAuthKey, 0, sizeof ss.securityAuthKey);
	memset(ss.securityPrivKey, 0, sizeof ss.securityPrivKey);
	if (!s->sp) {
		int e1, e2;
		char *msg = NULL;
		snmp_error(&ss, &e1, &e2, &msg);
		snprintf(err, errlen, "cannot open SNMP session to %s: %s", peer, msg ? msg : "?");
		free(msg);
		return -EIO;
	}
	netsnmp_transport *tr = snmp_sess_transport(s->sp);
	s->fd = tr ? tr->sock : -1;
	if (s->fd < 0 || !(s->rd = event_new(s->base, s->fd, EV_READ | EV_PERSIST, on_read, s)) ||
	    !(s->tmo = evtimer_new(s->base, on_timer, s)) || event_add(s->rd, NULL)) {
		snprintf(err, errlen, "cannot watch the SNMP socket");
		return -EIO;
	}
	return 0;
}

/* ---- SNMPv3 engine discovery (RFC 3414 4), without blocking ---- */

static size_t ber_len(uint8_t *p, size_t n)
{
	if (n < 0x80) {
		p[0] = (uint8_t)n;
		return 1;
	}
	p[0] = 0x82;
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	return 3;
}

/* Wraps body (at out+4, len n) in tag; returns the total length. */
static size_t ber_wrap(uint8_t *out, uint8_t tag, const uint8_t *body, size_t n)
{
	uint8_t hdr[4];
	hdr[0] = tag;
	size_t h = 1 + ber_len(hdr + 1, n);
	memmove(out + h, body, n);
	memcpy(out, hdr, h);
	return h + n;
}

static size_t ber_int32(uint8_t *out, int32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	return ber_wrap(out, 0x02, b, 4);
}

/* A reportable, unauthenticated GET with empty engine id and user: the
 * agent answers with a Report carrying its engine id, boots and time. */
static size_t build_discovery(uint8_t *out, int32_t msgid)
{
	uint8_t gd[64], sp[32], pdu[64], sc[96], msg[256];
	size_t n = 0;
	n += ber_int32(gd + n, msgid);
	n += ber_int32(gd + n, 65507);
	n += ber_wrap(gd + n, 0x04, (const uint8_t *)"\x04", 1); /* reportable */
	n += ber_int32(gd + n, 3);                               /* USM */
	uint8_t gds[80];
	size_t gdl = ber_wrap(gds, 0x30, gd, n);
	static const uint8_t usm_empty[] = {0x04, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01,
					    0x00, 0x04, 0x00, 0x04, 0x00, 0x04, 0x00};
	size_t spl = ber_wrap(sp, 0x30, usm_empty, sizeof usm_empty);
	uint8_t spo[40];
	size_t spol = ber_wrap(spo, 0x04, sp, spl);
	n = 0;
	n += ber_int32(pdu + n, msgid);
	n += ber_int32(pdu + n, 0);
	n += ber_int32(pdu + n, 0);
	n += ber_wrap(pdu + n, 0x30, (const uint8_t *)"", 0);
	uint8_t pdus[80];
	size_t pdul = ber_wrap(pdus, 0xa0, pdu, n);
	n = 0;
	n += ber_wrap(sc + n, 0x04, (const uint8_t *)"", 0);
	n += ber_wrap(sc + n, 0x04, (const uint8_t *)"", 0);
	memcpy(sc + n, pdus, pdul);
	n += pdul;
	uint8_t scs[110];
	size_t scl = ber_wrap(scs, 0x30, sc, n);
	n = 0;
	n += ber_int32(msg + n, 3);
	memcpy(msg + n, gds, gdl);
	n += gdl;
	memcpy(msg + n, spo, spol);
	n += spol;
	memcpy(msg + n, scs, scl);
	n += scl;
	return ber_wrap(out, 0x30, msg, n);
}

static bool ber_uint(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
	long n = wt_ber_next(p, end, 0x02);
	if (n < 1 || n > 5)
		return false;
	uint64_t v = 0;
	for (long i = 0; i < n; i++)
		v = v << 8 | (*p)[i];
	*p += n;
	*out = (uint32_t)v;
	return true;
}

/* Pulls engine id, boots and time out of a discovery Report; false if the
 * datagram is anything else. Everything is bounds-checked: it is untrusted. */
static bool parse_discovery(const uint8_t *buf, size_t len, uint8_t *engine, size_t *engine_len,
			    uint32_t *boots, uint32_t *etime)
{
	const uint8_t *p = buf, *end = buf + len;
	long n = wt_ber_next(&p, end, 0x30);
	uint32_t ver;
	if (n < 0)
		return false;
	end = p + n;
	if (!ber_uint(&p, end, &ver) || ver != 3)
		return false;
	n = wt_ber_next(&p, end, 0x30); /* msgGlobalData: skipped */
	if (n < 0)
		return false;
	p += n;
	n = wt_ber_next(&p, end, 0x04); /* msgSecurityParameters */
	if (n < 0)
		return false;
	const uint8_t *send = p + n;
	n = wt_ber_next(&p, send, 0x30);
	if (n < 0)
		return false;
	n = wt_ber_next(&p, send, 0x04);
	if (n < 5 || n > 32)
		return false;
	memcpy(engine, p, (size_t)n);
	*engine_len = (size_t)n;
	p += n;
	return ber_uint(&p, send, boots) && ber_uint(&p, send, etime);
}

static void disc_stop(struct wt_snmp_sess *s)
{
	if (s->disc_ev) {
		event_free(s->disc_ev);
		s->disc_ev = NULL;
	}
	if (s->disc_fd >= 0) {
		close(s->disc_fd);
		s->disc_fd = -1;
	}
}

static void disc_finish(struct wt_snmp_sess *s, int status)
{
	wt_snmp_cb cb = s->disc_cb;
	s->disc_cb = NULL;
	disc_stop(s);
	evtimer_del(s->watchdog);
	s->busy = false;
	if (cb && !s->closing) {
		s->in_cb++;
		cb(s->disc_ctx, status, 0, NULL, 0);
		s->in_cb--;
	}
	if (s->closing && !s->in_cb)
		really_close(s);
}

static int disc_send(struct wt_snmp_sess *s)
{
	uint8_t pkt[300];
	s->disc_msgid = (int32_t)(random() & 0x7fffffff);
	size_t n = build_discovery(pkt, s->disc_msgid);
	if (send(s->disc_fd, pkt, n, 0) < 0)
		return -errno;
	struct timeval tv = {s->v3->timeout_ms / 1000, (s->v3->timeout_ms % 1000) * 1000};
	event_add(s->disc_ev, &tv);
	return 0;
}

static void on_disc(evutil_socket_t fd, short what, void *arg)
{
	struct wt_snmp_sess *s = arg;
	if (what & EV_TIMEOUT) {
		if (s->disc_tries-- > 0 && disc_send(s) == 0)
			return;
		disc_finish(s, -ETIMEDOUT);
		return;
	}
	uint8_t buf[2048], engine[32];
	size_t elen;
	uint32_t boots, etime;
	ssize_t r = recv(fd, buf, sizeof buf, 0);
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		disc_finish(s, errno == ECONNREFUSED ? -ETIMEDOUT : -EIO); /* nothing listens */
		return;
	}
	if (!parse_discovery(buf, (size_t)r, engine, &elen, &boots, &etime))
		return; /* not our answer: keep waiting until the timeout */
	char err[200];
	int rc = do_open(s, s->v3, engine, elen, err, sizeof err);
	if (rc == 0) {
		/* from the Report, as RFC 3414 4 allows; a wrong clock is fixed by
		 * net-snmp on the first notInTimeWindow report */
		set_enginetime(engine, (u_int)elen, boots, etime, TRUE);
		wt_debug("SNMPv3 engine discovered (%zu bytes, boots %u)", elen, boots);
	} else {
		wt_warn("SNMPv3 session: %s", err);
	}
	memset(s->v3, 0, sizeof *s->v3);
	free(s->v3);
	s->v3 = NULL;
	disc_finish(s, rc);
}

int wt_snmp_sess_prepare(struct wt_snmp_sess *s, wt_snmp_cb cb, void *ctx)
{
	if (s->sp)
		return 1;
	if (!s->v3)
		return -EIO;
	if (s->busy || s->closing)
		return -EBUSY;
	char port[16];
	snprintf(port, sizeof port, "%d", s->v3->port ? s->v3->port : 161);
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
	if (getaddrinfo(s->v3->host, port, &hints, &ai) != 0 || !ai)
		return -EHOSTUNREACH;
	s->disc_fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = s->disc_fd < 0                                     ? -errno
		 : connect(s->disc_fd, ai->ai_addr, ai->ai_addrlen) ? -errno
								    : 0;
	freeaddrinfo(ai);
	if (!rc && !(s->disc_ev = event_new(s->base, s->disc_fd, EV_READ | EV_PERSIST, on_disc, s)))
		rc = -ENOMEM;
	s->disc_tries = s->v3->retries > 0 ? s->v3->retries : 0;
	if (!rc)
		rc = disc_send(s);
	if (rc) {
		disc_stop(s);
		return rc;
	}
	s->busy = true;
	s->disc_cb = cb;
	s->disc_ctx = ctx;
	return 0;
}

struct wt_snmp_sess *wt_snmp_sess_open(struct event_base *base, const struct wt_snmp_target *t,
				       char *err, size_t errlen)
{
	wt_snmp_engine_init();
	struct wt_snmp_sess *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->version = t->version;
	s->disc_fd = -1;
	s->fd = -1;
	/* every try plus slack: our own deadline behind net-snmp's */
	long ms = (long)(t->timeout_ms > 0 ? t->timeout_ms : 1000) *
			  ((t->retries >= 0 ? t->retries : 0) + 1) +
		  500;
	s->limit.tv_sec = ms / 1000;
	s->limit.tv_usec = (ms % 1000) * 1000;
	long try_ms = t->timeout_ms > 0 ? t->timeout_ms : 1000;
	long try_us = try_ms * 1000 + 1000; /* just after net-snmp's deadline */
	s->try_tv.tv_sec = try_us / 1000000;
	s->try_tv.tv_usec = try_us % 1000000;
	if (!(s->watchdog = evtimer_new(base, on_watchdog, s))) {
		snprintf(err, errlen, "out of memory");
		free(s);
		return NULL;
	}
	if (t->version == 3) {
		/* validate what can be validated now; open after discovery */
		size_t n;
		if ((t->level >= 1 && !auth_proto(t->auth_proto[0] ? t->auth_proto : "SHA", &n)) ||
		    (t->level >= 2 && !priv_proto(t->priv_proto[0] ? t->priv_proto : "AES", &n))) {
			snprintf(err, errlen, "unknown auth or privacy protocol");
			really_close(s);
			return NULL;
		}
		if (!(s->v3 = malloc(sizeof *s->v3))) {
			snprintf(err, errlen, "out of memory");
			really_close(s);
			return NULL;
		}
		*s->v3 = *t;
		if (s->v3->timeout_ms <= 0)
			s->v3->timeout_ms = 1000;
		return s;
	}
	if (do_open(s, t, NULL, 0, err, errlen)) {
		really_close(s);
		return NULL;
	}
	return s;
}

void wt_snmp_sess_close(struct wt_snmp_sess *s)
{
	if (!s)
		return;
	if (s->in_cb) {
		s->closing = true; /* freed when net-snmp returns to us */
		return;
	}
	really_close(s);
}

bool wt_snmp_sess_busy(const struct wt_snmp_sess *s)
{
	return s->busy;
}

static int add_null(netsnmp_pdu *pdu, const char *oidstr)
{
	oid o[MAX_OID_LEN];
	int n = wt_oid_parse(oidstr, (unsigned long *)o, MAX_OID_LEN);
	if (n < 0)
		return n;
	return snmp_add_null_var(pdu, o, (size_t)n) ? 0 : -ENOMEM;
}

static int send_pdu(struct wt_snmp_sess *s, netsnmp_pdu *pdu, wt_snmp_cb cb, void *ctx,
		    bool binary)
{
	s->binary = binary;
	s->busy = true;
	s->cb = cb;
	s->ctx = ctx;
	int id = snmp_sess_async_send(s->sp, pdu, on_response, s);
	if (!id) {
		snmp_free_pdu(pdu);
		s->busy = false;
		s->cb = NULL;
		return -EIO;
	}
	s->reqid = id;
	evtimer_add(s->watchdog, &s->limit);
	/* the first try's deadline is known; after it fires, net-snmp's own
	 * schedule (rearm) takes over for the retries */
	evtimer_add(s->tmo, &s->try_tv);
	return 0;
}

int wt_snmp_get(struct wt_snmp_sess *s, char *const *oids, size_t n, wt_snmp_cb cb, void *ctx)
{
	if (s->busy || s->closing)
		return -EBUSY;
	if (!s->sp)
		return -ENOTCONN;
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
	if (!pdu)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int rc = add_null(pdu, oids[i]);
		if (rc) {
			snmp_free_pdu(pdu);
			return rc;
		}
	}
	return send_pdu(s, pdu, cb, ctx, false);
}

int wt_snmp_getbulk(struct wt_snmp_sess *s, const char *oidstr, int max_rep, wt_snmp_cb cb,
		    void *ctx)
{
	if (s->busy || s->closing)
		return -EBUSY;
	if (!s->sp)
		return -ENOTCONN;
	netsnmp_pdu *pdu = snmp_pdu_create(s->version == 1 ? SNMP_MSG_GETNEXT : SNMP_MSG_GETBULK);
	if (!pdu)
		return -ENOMEM;
	if (s->version != 1) {
		pdu->non_repeaters = 0;
		pdu->max_repetitions = max_rep > 0 ? max_rep : 10;
	}
	int rc = add_null(pdu, oidstr);
	if (rc) {
		snmp_free_pdu(pdu);
		return rc;
	}
	return send_pdu(s, pdu, cb, ctx, false);
}

int wt_snmp_send_req(struct wt_snmp_sess *s, const struct wt_snmp_req *req, wt_snmp_cb cb,
		     void *ctx)
{
	if (s->busy || s->closing)
		return -EBUSY;
	if (!s->sp)
		return -ENOTCONN;
	if (!req->n || req->n > WT_REQ_MAX || (req->bulk && s->version == 1))
		return -EINVAL;
	for (size_t i = 0; i < req->n; i++)
		if (req->oid_len[i] < 2 || req->oid_len[i] > MAX_OID_LEN)
			return -EINVAL;
	netsnmp_pdu *pdu = snmp_pdu_create(req->bulk ? SNMP_MSG_GETBULK : SNMP_MSG_GET);
	if (!pdu)
		return -ENOMEM;
	if (req->bulk) {
		pdu->non_repeaters = req->nonrep;
		pdu->max_repetitions = req->reps;
	}
	if (s->own_codec) {
		/* no varbinds: build_hook encodes req itself, for every try */
		s->req = req;
		s->req_reqid = pdu->reqid;
	} else {
		for (size_t i = 0; i < req->n; i++)
			if (!snmp_add_null_var(pdu, (const oid *)req->oid[i], req->oid_len[i])) {
				snmp_free_pdu(pdu);
				return -ENOMEM;
			}
	}
	int rc = send_pdu(s, pdu, cb, ctx, true);
	if (rc)
		s->req = NULL;
	return rc;
}

int wt_snmp_set_int(struct wt_snmp_sess *s, const char *oidstr, long value, wt_snmp_cb cb,
		    void *ctx)
{
	if (s->busy || s->closing)
		return -EBUSY;
	if (!s->sp)
		return -ENOTCONN;
	oid o[MAX_OID_LEN];
	int n = wt_oid_parse(oidstr, (unsigned long *)o, MAX_OID_LEN);
	if (n < 0)
		return n;
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_SET);
	if (!pdu)
		return -ENOMEM;
	if (!snmp_pdu_add_variable(pdu, o, (size_t)n, ASN_INTEGER, &value, sizeof value)) {
		snmp_free_pdu(pdu);
		return -ENOMEM;
	}
	return send_pdu(s, pdu, cb, ctx, false);
}
