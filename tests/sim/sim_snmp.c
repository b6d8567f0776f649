/* sim_snmp.c — SNMP v1/v2c/v3 agent of wattrack-sim: hand-written BER on
 * the hot path, MIB views generated from device state, USM with cached
 * localised keys, fault injection per device. */
#include "sim_snmp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sim.h"
#include "sim_ber.h"
#include "sim_mib.h"
#include "sim_usm.h"

#define SNMP_BUF 65535
#define MAX_VB 256       /* varbinds per request we accept */
#define MAX_BULK_VB 2048 /* varbinds per GETBULK response */
#define V2C_MAX_MSG 65000

struct usm_user {
	char name[SIM_NAME_MAX];
	enum sim_auth_proto auth;
	enum sim_priv_proto priv;
	const struct sim_device *dev; /* whose passwords */
	bool keyed;                   /* keys localised (lazily, once) */
	bool bad;                     /* passwords unusable */
	uint8_t auth_key[USM_MAX_KEY];
	uint8_t priv_key[USM_MAX_KEY];
};

/* Keys of one user localised to one device's own engine (port-range mode). */
struct dev_keys {
	const struct usm_user *user;
	bool bad;
	uint8_t auth_key[USM_MAX_KEY];
	uint8_t priv_key[USM_MAX_KEY];
};

/* The authoritative engine of a message: the shared one, or in port-range
 * mode the device's own (its id, its boots, its time since boot). */
struct engine {
	uint8_t id[24];
	size_t len;
	uint32_t boots, time;
	const uint8_t *auth_key, *priv_key; /* the user's keys at this engine */
};

struct sock {
	int fd;
	struct event *ev;
	struct sim_device *dev; /* port-range mode: the device on this port */
};

struct agent {
	struct sim *sim;
	struct event_base *base;
	struct sock *socks;
	size_t n_socks;
	uint8_t engine_id[16];
	size_t engine_len;
	int64_t engine_start_ms;
	uint32_t engine_boots;
	struct usm_user *users;
	size_t n_users;
	struct dev_keys **dkeys; /* per device id, lazily */
	size_t n_dkeys;
	uint64_t salt;
	struct sim_snmp_stats st;
	uint8_t in[SNMP_BUF];
	uint8_t out[SNMP_BUF];
	uint8_t scratch[SNMP_BUF + 64];
	uint8_t scratch2[SNMP_BUF + 64];
};

static struct agent *ag;
static uint32_t last_delay; /* delay chosen by the fault check of the current request */

static const uint32_t oid_unknown_engine[] = {1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0};
static const uint32_t oid_unknown_user[] = {1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0};
static const uint32_t oid_wrong_digest[] = {1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0};
static const uint32_t oid_not_in_time[] = {1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0};
static const uint32_t oid_unsupported_level[] = {1, 3, 6, 1, 6, 3, 15, 1, 1, 1, 0};
static const uint32_t oid_decryption_error[] = {1, 3, 6, 1, 6, 3, 15, 1, 1, 6, 0};
static const uint32_t oid_unknown_context[] = {1, 3, 6, 1, 6, 3, 12, 1, 5, 0};

/* ---- agent set-up ---- */

static struct usm_user *user_find(const uint8_t *name, size_t len)
{
	for (size_t i = 0; i < ag->n_users; i++)
		if (strlen(ag->users[i].name) == len && memcmp(ag->users[i].name, name, len) == 0)
			return &ag->users[i];
	return NULL;
}

static int users_build(struct sim *sim)
{
	free(ag->users);
	ag->users = NULL;
	ag->n_users = 0;
	size_t cap = 0;
	for (size_t i = 0; i < sim->n_devices; i++) {
		const struct sim_device *d = sim->devices[i];
		if (d->proto != SIM_PROTO_SNMP || !d->creds.v3_user[0])
			continue;
		/* A user name seen again keeps its first definition: one engine,
		 * one user table. */
		if (user_find((const uint8_t *)d->creds.v3_user, strlen(d->creds.v3_user)))
			continue;
		if (ag->n_users == cap) {
			cap = cap ? cap * 2 : 16;
			struct usm_user *nu = realloc(ag->users, cap * sizeof(*nu));
			if (!nu)
				return -ENOMEM;
			ag->users = nu;
		}
		struct usm_user *u = &ag->users[ag->n_users++];
		memset(u, 0, sizeof(*u));
		memcpy(u->name, d->creds.v3_user, sizeof(u->name));
		u->auth = d->creds.v3_auth;
		u->priv = u->auth == SIM_AUTH_NONE ? SIM_PRIV_NONE : d->creds.v3_priv;
		u->dev = d;
	}
	return 0;
}

/* Localises a user's keys on first use: 1 MiB of hashing per key, so never
 * per request. */
static bool user_keys(struct usm_user *u)
{
	if (u->keyed)
		return !u->bad;
	u->keyed = true;
	if (u->auth != SIM_AUTH_NONE &&
	    usm_localize_key(u->auth, u->dev->creds.v3_auth_pass, ag->engine_id, ag->engine_len,
			     u->auth_key) < 0)
		u->bad = true;
	if (u->priv != SIM_PRIV_NONE &&
	    usm_localize_key(u->auth, u->dev->creds.v3_priv_pass, ag->engine_id, ag->engine_len,
			     u->priv_key) < 0)
		u->bad = true;
	if (u->bad)
		wt_warn("snmp: v3 user %s has a password shorter than 8 characters", u->name);
	return !u->bad;
}

int sim_snmp_init(struct sim *sim)
{
	if (!ag) {
		ag = calloc(1, sizeof(*ag));
		if (!ag)
			return -ENOMEM;
	}
	ag->sim = sim;
	/* RFC 3411 engine id: enterprise (private 8072 net-snmp style) + text format */
	static const uint8_t eid[] = {0x80, 0x00, 0x1f, 0x88, 0x04, 'w', 't', '-', 's', 'i', 'm'};
	memcpy(ag->engine_id, eid, sizeof(eid));
	ag->engine_len = sizeof(eid);
	ag->engine_start_ms = sim_now_ms(sim);
	ag->engine_boots = 1;
	ag->salt = (uint64_t)ag->engine_start_ms * 2654435761u;
	if (usm_init() < 0)
		wt_warn("snmp: OpenSSL legacy provider not available: DES privacy disabled");
	for (size_t i = 0; i < ag->n_dkeys; i++)
		free(ag->dkeys[i]);
	free(ag->dkeys);
	ag->n_dkeys = sim->n_devices;
	ag->dkeys = calloc(sim->n_devices + 1, sizeof(*ag->dkeys));
	if (!ag->dkeys)
		return -ENOMEM;
	return users_build(sim);
}

static uint32_t engine_time(void);

static void engine_of(const struct sim_device *port_dev, struct engine *e)
{
	if (!port_dev) {
		memcpy(e->id, ag->engine_id, ag->engine_len);
		e->len = ag->engine_len;
		e->boots = ag->engine_boots;
		e->time = engine_time();
		return;
	}
	/* RFC 3411 format 5 (octets): "wtsim" and the device id */
	static const uint8_t pre[] = {0x80, 0x00, 0x1f, 0x88, 0x05, 'w', 't', 's', 'i', 'm'};
	memcpy(e->id, pre, sizeof(pre));
	for (int i = 0; i < 4; i++)
		e->id[sizeof(pre) + i] = (uint8_t)(port_dev->id >> (24 - 8 * i));
	e->len = sizeof(pre) + 4;
	e->boots = port_dev->boots;
	int64_t t = (sim_now_ms(ag->sim) - port_dev->boot_ms) / 1000;
	e->time = t < 0 ? 0 : (uint32_t)t;
}

/* Sets e's key pointers for user u: cached per user (shared engine) or per
 * device (its own engine), localised once. false if the passwords are bad. */
static bool engine_keys(struct engine *e, const struct sim_device *port_dev, struct usm_user *u)
{
	if (!port_dev) {
		if (!user_keys(u))
			return false;
		e->auth_key = u->auth_key;
		e->priv_key = u->priv_key;
		return true;
	}
	if (port_dev->id >= ag->n_dkeys)
		return false;
	struct dev_keys *k = ag->dkeys[port_dev->id];
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k)
			return false;
		ag->dkeys[port_dev->id] = k;
	}
	if (k->user != u) {
		k->user = u;
		k->bad = (u->auth != SIM_AUTH_NONE &&
			  usm_localize_key(u->auth, u->dev->creds.v3_auth_pass, e->id, e->len, k->auth_key) < 0) ||
			 (u->priv != SIM_PRIV_NONE &&
			  usm_localize_key(u->auth, u->dev->creds.v3_priv_pass, e->id, e->len, k->priv_key) < 0);
	}
	e->auth_key = k->auth_key;
	e->priv_key = k->priv_key;
	return !k->bad;
}

const uint8_t *sim_snmp_engine_id(size_t *len)
{
	*len = ag ? ag->engine_len : 0;
	return ag ? ag->engine_id : NULL;
}

static uint32_t engine_time(void)
{
	int64_t t = (sim_now_ms(ag->sim) - ag->engine_start_ms) / 1000;
	return t < 0 ? 0 : (uint32_t)t;
}

/* ---- PDU processing ---- */

struct pdu_req {
	uint8_t type;
	int64_t reqid, a, b;
	const uint8_t *vbl; /* the whole varbind-list TLV, for echoing */
	size_t vbl_len;
	size_t n;
	uint32_t oid[MAX_VB][BER_MAX_OID];
	size_t oid_len[MAX_VB];
	uint8_t vtype[MAX_VB];
	int64_t ival[MAX_VB];
};

/* Only requests are answered; responses, traps, informs and reports sent to
 * the agent, and GETBULK in v1, are dropped like real agents do. */
static bool is_request(uint8_t type, int version)
{
	return type == BER_PDU_GET || type == BER_PDU_GETNEXT || type == BER_PDU_SET ||
	       (type == BER_PDU_GETBULK && version != 0);
}

static int parse_pdu(struct ber_rd *rd, struct pdu_req *r)
{
	uint8_t tag;
	size_t len;
	if (ber_read_tl(rd, &tag, &len) < 0)
		return -EBADMSG;
	struct ber_rd p = {rd->p, rd->p + len};
	rd->p += len;
	r->type = tag;
	if (ber_read_int(&p, BER_INTEGER, &r->reqid) < 0 || ber_read_int(&p, BER_INTEGER, &r->a) < 0 ||
	    ber_read_int(&p, BER_INTEGER, &r->b) < 0)
		return -EBADMSG;
	r->vbl = p.p;
	struct ber_rd vbl;
	if (ber_enter(&p, BER_SEQUENCE, &vbl) < 0)
		return -EBADMSG;
	r->vbl_len = (size_t)(p.p - r->vbl);
	r->n = 0;
	while (vbl.p < vbl.end) {
		if (r->n >= MAX_VB)
			return -E2BIG;
		struct ber_rd vb;
		if (ber_enter(&vbl, BER_SEQUENCE, &vb) < 0 ||
		    ber_read_oid(&vb, r->oid[r->n], &r->oid_len[r->n]) < 0)
			return -EBADMSG;
		const uint8_t *v;
		size_t vl;
		uint8_t vt;
		if (ber_read_any(&vb, &vt, &v, &vl) < 0)
			return -EBADMSG;
		r->vtype[r->n] = vt;
		r->ival[r->n] = 0;
		if (vt == BER_INTEGER && vl >= 1 && vl <= 8) {
			int64_t x = (v[0] & 0x80) ? -1 : 0;
			for (size_t i = 0; i < vl; i++)
				x = (int64_t)(((uint64_t)x << 8) | v[i]);
			r->ival[r->n] = x;
		}
		r->n++;
	}
	return 0;
}

static void put_vb_value(struct ber_wr *w, const uint32_t *oid, size_t n, const struct mib_value *v)
{
	size_t m = ber_begin(w, BER_SEQUENCE);
	ber_put_oid(w, oid, n);
	mib_value_put(w, v);
	ber_end(w, m);
}

static void put_vb_exc(struct ber_wr *w, const uint32_t *oid, size_t n, uint8_t exc)
{
	size_t m = ber_begin(w, BER_SEQUENCE);
	ber_put_oid(w, oid, n);
	ber_put_null(w, exc);
	ber_end(w, m);
}

/* Writes a Response PDU header; the caller writes the varbind list. */
static size_t pdu_begin(struct ber_wr *w, uint8_t type, int64_t reqid, int es, int ei)
{
	size_t m = ber_begin(w, type);
	ber_put_int(w, BER_INTEGER, reqid);
	ber_put_int(w, BER_INTEGER, es);
	ber_put_int(w, BER_INTEGER, ei);
	return m;
}

static void pdu_error(struct ber_wr *w, size_t start, const struct pdu_req *r, int es, int ei,
		      bool echo)
{
	w->len = start;
	w->overflow = false;
	size_t m = pdu_begin(w, BER_PDU_RESPONSE, r->reqid, es, ei);
	if (echo) {
		ber_put_raw(w, r->vbl, r->vbl_len);
	} else {
		size_t l = ber_begin(w, BER_SEQUENCE);
		ber_end(w, l);
	}
	ber_end(w, m);
}

/* Is there any object under oid minus its last arc (so the object exists
 * but not this instance)? */
static bool object_exists(const struct mib_view *v, const uint32_t *oid, size_t n)
{
	if (n < 2)
		return false;
	long e = mib_find(v, oid, n - 1, true);
	if (e < 0)
		return false;
	const struct mib_entry *en = &v->entries[e];
	return en->len >= n - 1 && oid_cmp(v->arcs + en->off, n - 1, oid, n - 1) == 0;
}

/* Answers r for dev into w; w->cap bounds the whole message. */
static void handle_pdu(struct sim_device *dev, bool rw, int version, struct pdu_req *r,
		       struct ber_wr *w)
{
	int64_t now = sim_now_ms(ag->sim);
	const struct mib_view *v = mib_view_get(dev);
	size_t start = w->len;
	bool v1 = version == 0;
	if (!v) {
		pdu_error(w, start, r, SNMP_ERR_GENERR, 1, true);
		return;
	}
	switch (dev->faults.snmp_error) {
	case SIM_SNMPERR_TOOBIG:
		pdu_error(w, start, r, SNMP_ERR_TOOBIG, 0, false);
		return;
	case SIM_SNMPERR_GENERR:
		pdu_error(w, start, r, SNMP_ERR_GENERR, 1, true);
		return;
	case SIM_SNMPERR_NOSUCHOBJECT:
		if (v1) {
			pdu_error(w, start, r, SNMP_ERR_NOSUCHNAME, 1, true);
			return;
		} else {
			size_t m = pdu_begin(w, BER_PDU_RESPONSE, r->reqid, 0, 0);
			size_t l = ber_begin(w, BER_SEQUENCE);
			for (size_t i = 0; i < r->n; i++)
				put_vb_exc(w, r->oid[i], r->oid_len[i], BER_NOSUCHOBJECT);
			ber_end(w, l);
			ber_end(w, m);
			if (w->overflow)
				pdu_error(w, start, r, SNMP_ERR_TOOBIG, 0, false);
			return;
		}
	case SIM_SNMPERR_NONE:
		break;
	}
	struct mib_value val;
	if (r->type == BER_PDU_SET) {
		if (!rw) {
			pdu_error(w, start, r, v1 ? SNMP_ERR_NOSUCHNAME : SNMP_ERR_NOACCESS, 1, true);
			return;
		}
		long idx[MAX_VB];
		for (size_t i = 0; i < r->n; i++) {
			idx[i] = mib_find(v, r->oid[i], r->oid_len[i], false);
			int es;
			if (idx[i] < 0)
				es = v1 ? SNMP_ERR_NOSUCHNAME : object_exists(v, r->oid[i], r->oid_len[i]) ? SNMP_ERR_NOCREATION : SNMP_ERR_NOTWRITABLE;
			else
				es = mib_value_set(dev, v, idx[i], r->vtype[i], r->ival[i], now, false);
			if (es && v1) /* RFC 2576 4.3: map v2 errors to v1 */
				es = es == SNMP_ERR_NOTWRITABLE || es == SNMP_ERR_NOACCESS || es == SNMP_ERR_NOCREATION ? SNMP_ERR_NOSUCHNAME
				     : es == SNMP_ERR_WRONGTYPE || es == SNMP_ERR_WRONGVALUE || es == SNMP_ERR_WRONGLENGTH ? SNMP_ERR_BADVALUE
				     : es;
			if (es) {
				pdu_error(w, start, r, es, (int)i + 1, true);
				return;
			}
		}
		for (size_t i = 0; i < r->n; i++)
			if (mib_value_set(dev, v, idx[i], r->vtype[i], r->ival[i], now, true)) {
				pdu_error(w, start, r, v1 ? SNMP_ERR_GENERR : 14 /* commitFailed */, (int)i + 1, true);
				return;
			}
		pdu_error(w, start, r, 0, 0, true);
		ag->st.varbinds += r->n;
		return;
	}
	size_t m = pdu_begin(w, BER_PDU_RESPONSE, r->reqid, 0, 0);
	size_t l = ber_begin(w, BER_SEQUENCE);
	size_t nvb = 0;
	if (r->type == BER_PDU_GET || r->type == BER_PDU_GETNEXT) {
		bool next = r->type == BER_PDU_GETNEXT;
		for (size_t i = 0; i < r->n; i++) {
			long e = mib_find(v, r->oid[i], r->oid_len[i], next);
			if (e < 0) {
				if (v1) {
					pdu_error(w, start, r, SNMP_ERR_NOSUCHNAME, (int)i + 1, true);
					return;
				}
				put_vb_exc(w, r->oid[i], r->oid_len[i],
					   next ? BER_ENDOFMIBVIEW
					   : object_exists(v, r->oid[i], r->oid_len[i]) ? BER_NOSUCHINSTANCE
											: BER_NOSUCHOBJECT);
				continue;
			}
			mib_value_get(dev, v, e, now, &val);
			const struct mib_entry *en = &v->entries[e];
			put_vb_value(w, v->arcs + en->off, en->len, &val);
			nvb++;
		}
		if (w->overflow) {
			pdu_error(w, start, r, SNMP_ERR_TOOBIG, 0, false);
			return;
		}
	} else if (r->type == BER_PDU_GETBULK && !v1) {
		size_t nonrep = r->a < 0 ? 0 : (size_t)r->a;
		if (nonrep > r->n)
			nonrep = r->n;
		size_t reps = r->b < 0 ? 0 : (size_t)r->b;
		size_t nrep = r->n - nonrep;
		if (nrep && reps > MAX_BULK_VB / nrep)
			reps = MAX_BULK_VB / nrep;
		long cur[MAX_VB], last[MAX_VB];
		bool stop = false;
		for (size_t i = 0; i < nonrep && !stop; i++) {
			size_t before = w->len;
			long e = mib_find(v, r->oid[i], r->oid_len[i], true);
			if (e < 0) {
				put_vb_exc(w, r->oid[i], r->oid_len[i], BER_ENDOFMIBVIEW);
			} else {
				mib_value_get(dev, v, e, now, &val);
				put_vb_value(w, v->arcs + v->entries[e].off, v->entries[e].len, &val);
				nvb++;
			}
			if (w->overflow) {
				w->len = before;
				w->overflow = false;
				stop = true;
			}
		}
		for (size_t i = 0; i < nrep; i++) {
			cur[i] = -2; /* not started */
			last[i] = -1;
		}
		for (size_t rep = 0; rep < reps && !stop; rep++) {
			bool any = false;
			for (size_t j = 0; j < nrep && !stop; j++) {
				size_t i = nonrep + j;
				size_t before = w->len;
				long e;
				/* RFC 3416 4.2.3: an ended repeater repeats the last name it had */
				const uint32_t *o = r->oid[i];
				size_t on = r->oid_len[i];
				if (last[j] >= 0) {
					o = v->arcs + v->entries[last[j]].off;
					on = v->entries[last[j]].len;
				}
				if (cur[j] == -2)
					e = mib_find(v, r->oid[i], r->oid_len[i], true);
				else
					e = cur[j] < 0 || (size_t)cur[j] + 1 >= v->n ? -1 : cur[j] + 1;
				cur[j] = e;
				if (e >= 0)
					last[j] = e;
				if (e < 0) {
					put_vb_exc(w, o, on, BER_ENDOFMIBVIEW);
				} else {
					any = true;
					mib_value_get(dev, v, e, now, &val);
					put_vb_value(w, v->arcs + v->entries[e].off, v->entries[e].len, &val);
					nvb++;
				}
				if (w->overflow) {
					w->len = before;
					w->overflow = false;
					stop = true;
				}
			}
			if (!any)
				break; /* every repeater at endOfMibView */
		}
	} else {
		/* v1 GETBULK or an unknown PDU type: answer genErr */
		pdu_error(w, start, r, SNMP_ERR_GENERR, 0, true);
		return;
	}
	ber_end(w, l);
	ber_end(w, m);
	ag->st.varbinds += nvb;
}

/* ---- v1 / v2c ---- */

static size_t finish(struct ber_wr *w)
{
	return w->overflow ? 0 : w->len;
}

static size_t handle_community(struct sim_device *port_dev, int64_t version, struct ber_rd *msg,
			       uint8_t *out, size_t cap)
{
	const uint8_t *comm;
	size_t clen;
	if (ber_read_octets(msg, &comm, &clen) < 0)
		return 0;
	bool rw = false;
	struct sim_device *dev;
	if (port_dev) {
		dev = port_dev;
		rw = strlen(dev->creds.community_rw) == clen && memcmp(dev->creds.community_rw, comm, clen) == 0;
		bool ro = strlen(dev->creds.community_ro) == clen &&
			  memcmp(dev->creds.community_ro, comm, clen) == 0;
		bool site = dev->creds.community_site[0] &&
			    strlen(dev->creds.community_site) == clen &&
			    memcmp(dev->creds.community_site, comm, clen) == 0;
		if (!rw && !ro && !site)
			return 0;
	} else {
		dev = sim_find_community(ag->sim, (const char *)comm, clen, &rw);
		if (!dev)
			return 0; /* unknown community: agents stay silent */
	}
	static struct pdu_req r;
	if (parse_pdu(msg, &r) < 0 || !is_request(r.type, (int)version))
		return 0;
	uint32_t delay;
	enum sim_fault_action fa = sim_fault_check(dev, SIM_PROTO_SNMP, &delay);
	last_delay = delay;
	if (fa == SIM_FA_DROP || fa == SIM_FA_DISCONNECT)
		return 0;
	if (fa == SIM_FA_GARBAGE) {
		size_t n = 40 + (size_t)(dev->requests % 60);
		sim_fault_garbage(dev, out, n);
		return n;
	}
	size_t lim = dev->faults.snmp_max_size >= 484 ? dev->faults.snmp_max_size : V2C_MAX_MSG;
	struct ber_wr w = {out, cap < lim ? cap : lim, 0, false};
	size_t m = ber_begin(&w, BER_SEQUENCE);
	ber_put_int(&w, BER_INTEGER, version);
	ber_put_octets(&w, BER_OCTETS, comm, clen);
	handle_pdu(dev, rw, (int)version, &r, &w);
	ber_end(&w, m);
	size_t n = finish(&w);
	if (fa == SIM_FA_TRUNCATE)
		n = sim_fault_truncate_len(n);
	return n;
}

/* ---- v3 ---- */

struct v3_msg {
	int64_t msg_id, max_size, sec_model;
	uint8_t flags;
	const uint8_t *eid, *user, *authp, *privp;
	size_t eid_len, user_len, authp_len, privp_len;
	int64_t boots, time;
};

/* Writes a complete v3 message around pdu (already encoded, pdu_len bytes).
 * level: 0 noAuth, 1 auth, 3 authPriv. */
static size_t v3_wrap(const struct v3_msg *in, const struct engine *e, struct usm_user *u, int level,
		      const uint8_t *ctx, size_t ctx_len, const uint8_t *pdu, size_t pdu_len,
		      uint8_t *out, size_t cap)
{
	struct ber_wr w = {out, cap, 0, false};
	uint32_t boots = e->boots, etime = e->time;
	size_t macl = level ? usm_mac_len(u->auth) : 0;
	uint8_t salt[8] = {0};
	size_t m = ber_begin(&w, BER_SEQUENCE);
	ber_put_int(&w, BER_INTEGER, 3);
	size_t h = ber_begin(&w, BER_SEQUENCE);
	ber_put_int(&w, BER_INTEGER, in->msg_id);
	ber_put_int(&w, BER_INTEGER, 65507);
	uint8_t fl = (uint8_t)(level & 3);
	ber_put_octets(&w, BER_OCTETS, &fl, 1);
	ber_put_int(&w, BER_INTEGER, 3);
	ber_end(&w, h);
	size_t sp = ber_begin(&w, BER_OCTETS);
	size_t sq = ber_begin(&w, BER_SEQUENCE);
	ber_put_octets(&w, BER_OCTETS, e->id, e->len);
	ber_put_int(&w, BER_INTEGER, boots);
	ber_put_int(&w, BER_INTEGER, etime);
	ber_put_octets(&w, BER_OCTETS, in->user, in->user_len);
	uint8_t zeros[USM_MAX_MAC] = {0};
	ber_put_octets(&w, BER_OCTETS, zeros, macl);
	size_t mac_at = w.len - macl;
	if (level == 3) {
		uint64_t s = ++ag->salt;
		if (u->priv == SIM_PRIV_DES) {
			/* DES salt: engineBoots then a local counter */
			salt[0] = (uint8_t)(boots >> 24);
			salt[1] = (uint8_t)(boots >> 16);
			salt[2] = (uint8_t)(boots >> 8);
			salt[3] = (uint8_t)boots;
			for (int i = 0; i < 4; i++)
				salt[4 + i] = (uint8_t)(s >> (24 - 8 * i));
		} else {
			for (int i = 0; i < 8; i++)
				salt[i] = (uint8_t)(s >> (56 - 8 * i));
		}
		ber_put_octets(&w, BER_OCTETS, salt, 8);
	} else {
		ber_put_octets(&w, BER_OCTETS, NULL, 0);
	}
	mac_at -= ber_end(&w, sq);
	mac_at -= ber_end(&w, sp);
	/* scoped PDU */
	struct ber_wr sw = {ag->scratch2, sizeof(ag->scratch2) - 16, 0, false};
	struct ber_wr *pw = level == 3 ? &sw : &w;
	size_t s0 = ber_begin(pw, BER_SEQUENCE);
	ber_put_octets(pw, BER_OCTETS, e->id, e->len);
	ber_put_octets(pw, BER_OCTETS, ctx, ctx_len);
	ber_put_raw(pw, pdu, pdu_len);
	ber_end(pw, s0);
	if (level == 3) {
		if (sw.overflow)
			return 0;
		size_t elen = 0;
		if (usm_crypt(u->priv, 1, e->priv_key, boots, etime, salt, sw.buf, sw.len,
			      ag->scratch, &elen) < 0)
			return 0;
		ber_put_octets(&w, BER_OCTETS, ag->scratch, elen);
	}
	mac_at -= ber_end(&w, m);
	if (w.overflow)
		return 0;
	if (level) {
		uint8_t mac[USM_MAX_MAC];
		if (usm_hmac(u->auth, e->auth_key, w.buf, w.len, mac) < 0)
			return 0;
		memcpy(w.buf + mac_at, mac, macl);
	}
	return w.len;
}

/* A Report PDU carrying one usmStats counter. */
static size_t v3_report(const struct v3_msg *in, const struct engine *e, struct usm_user *u,
			int level, int64_t reqid,
			const uint32_t *oid, size_t oid_len, uint64_t count, uint8_t *out, size_t cap)
{
	uint8_t pdu[256];
	struct ber_wr w = {pdu, sizeof(pdu), 0, false};
	size_t m = pdu_begin(&w, BER_PDU_REPORT, reqid, 0, 0);
	size_t l = ber_begin(&w, BER_SEQUENCE);
	size_t vb = ber_begin(&w, BER_SEQUENCE);
	ber_put_oid(&w, oid, oid_len);
	ber_put_uint(&w, BER_COUNTER32, count);
	ber_end(&w, vb);
	ber_end(&w, l);
	ber_end(&w, m);
	ag->st.reports++;
	return v3_wrap(in, e, u, level, NULL, 0, pdu, w.len, out, cap);
}

/* Reads the request-id of a plaintext scoped PDU, for reports. */
static int64_t scoped_reqid(const uint8_t *p, size_t len)
{
	struct ber_rd rd = {p, p + len}, sp, pdu;
	const uint8_t *s;
	size_t sl;
	int64_t id = 0;
	uint8_t tag;
	size_t l;
	if (ber_enter(&rd, BER_SEQUENCE, &sp) < 0 || ber_read_octets(&sp, &s, &sl) < 0 ||
	    ber_read_octets(&sp, &s, &sl) < 0 || ber_read_tl(&sp, &tag, &l) < 0)
		return 0;
	pdu.p = sp.p;
	pdu.end = sp.p + l;
	if (ber_read_int(&pdu, BER_INTEGER, &id) < 0)
		return 0;
	return id;
}

static size_t handle_v3(struct sim_device *port_dev, const uint8_t *msg_start, size_t msg_len,
			struct ber_rd *msg, uint8_t *out, size_t cap)
{
	struct v3_msg m = {0};
	struct ber_rd hdr, spo, sp;
	const uint8_t *fl;
	size_t fll;
	if (ber_enter(msg, BER_SEQUENCE, &hdr) < 0 || ber_read_int(&hdr, BER_INTEGER, &m.msg_id) < 0 ||
	    ber_read_int(&hdr, BER_INTEGER, &m.max_size) < 0 || ber_read_octets(&hdr, &fl, &fll) < 0 ||
	    fll != 1 || ber_read_int(&hdr, BER_INTEGER, &m.sec_model) < 0 || m.sec_model != 3)
		return 0;
	m.flags = fl[0];
	if (ber_enter(msg, BER_OCTETS, &spo) < 0 || ber_enter(&spo, BER_SEQUENCE, &sp) < 0 ||
	    ber_read_octets(&sp, &m.eid, &m.eid_len) < 0 ||
	    ber_read_int(&sp, BER_INTEGER, &m.boots) < 0 || ber_read_int(&sp, BER_INTEGER, &m.time) < 0 ||
	    ber_read_octets(&sp, &m.user, &m.user_len) < 0 ||
	    ber_read_octets(&sp, &m.authp, &m.authp_len) < 0 ||
	    ber_read_octets(&sp, &m.privp, &m.privp_len) < 0)
		return 0;
	bool auth = m.flags & 1, priv = m.flags & 2;
	if (priv && !auth)
		return 0;
	size_t limit = m.max_size > 484 && (size_t)m.max_size < cap ? (size_t)m.max_size : cap;
	const uint8_t *data = msg->p;
	size_t data_len = (size_t)(msg->end - msg->p);
	struct engine eng;
	engine_of(port_dev, &eng);
	/* discovery: unknown engine id */
	if (m.eid_len != eng.len || memcmp(m.eid, eng.id, m.eid_len) != 0) {
		if (!(m.flags & 4))
			return 0;
		int64_t reqid = priv ? 0 : scoped_reqid(data, data_len);
		return v3_report(&m, &eng, NULL, 0, reqid, oid_unknown_engine, 11, ++ag->st.reports, out, limit);
	}
	struct usm_user *u = user_find(m.user, m.user_len);
	if (!u) {
		int64_t reqid = priv ? 0 : scoped_reqid(data, data_len);
		return v3_report(&m, &eng, NULL, 0, reqid, oid_unknown_user, 11, ag->st.reports, out, limit);
	}
	int ulevel = u->auth == SIM_AUTH_NONE ? 0 : u->priv == SIM_PRIV_NONE ? 1 : 3;
	int rlevel = (auth ? 1 : 0) | (priv ? 2 : 0);
	if (rlevel > ulevel || (u->auth != SIM_AUTH_NONE && !auth)) {
		int64_t reqid = priv ? 0 : scoped_reqid(data, data_len);
		return v3_report(&m, &eng, NULL, 0, reqid, oid_unsupported_level, 11, ag->st.reports, out, limit);
	}
	if (auth) {
		if (!engine_keys(&eng, port_dev, u))
			return 0;
		size_t macl = usm_mac_len(u->auth);
		if (m.authp_len != macl || msg_len > sizeof(ag->scratch))
			return v3_report(&m, &eng, NULL, 0, 0, oid_wrong_digest, 11, ag->st.reports, out, limit);
		memcpy(ag->scratch, msg_start, msg_len);
		memset(ag->scratch + (m.authp - msg_start), 0, macl);
		uint8_t mac[USM_MAX_MAC];
		if (usm_hmac(u->auth, eng.auth_key, ag->scratch, msg_len, mac) < 0 ||
		    memcmp(mac, m.authp, macl) != 0)
			return v3_report(&m, &eng, NULL, 0, 0, oid_wrong_digest, 11, ag->st.reports, out, limit);
		/* RFC 3414 3.2.7: outside the 150 s window -> authenticated report */
		int64_t et = eng.time;
		if (m.boots != eng.boots || m.time > et + 150 || m.time < et - 150)
			return v3_report(&m, &eng, u, 1, 0, oid_not_in_time, 11, ag->st.reports, out, limit);
	}
	const uint8_t *sp_data = data;
	size_t sp_len = data_len;
	if (priv) {
		struct ber_rd enc = {data, data + data_len};
		const uint8_t *ct;
		size_t ctl;
		size_t pl = 0;
		if (ber_read_octets(&enc, &ct, &ctl) < 0 || m.privp_len != 8 || ctl > SNMP_BUF ||
		    usm_crypt(u->priv, 0, eng.priv_key, (uint32_t)m.boots, (uint32_t)m.time, m.privp, ct,
			      ctl, ag->scratch, &pl) < 0)
			return v3_report(&m, &eng, u, 1, 0, oid_decryption_error, 11, ag->st.reports, out, limit);
		sp_data = ag->scratch;
		sp_len = pl;
	}
	struct ber_rd rd = {sp_data, sp_data + sp_len}, scoped;
	const uint8_t *ceid, *ctx;
	size_t ceid_len, ctx_len;
	if (ber_enter(&rd, BER_SEQUENCE, &scoped) < 0 || ber_read_octets(&scoped, &ceid, &ceid_len) < 0 ||
	    ber_read_octets(&scoped, &ctx, &ctx_len) < 0)
		return 0;
	static struct pdu_req r;
	if (parse_pdu(&scoped, &r) < 0 || !is_request(r.type, 3))
		return 0;
	struct sim_device *dev = NULL;
	if (port_dev && (ctx_len == 0 || (strlen(port_dev->creds.v3_context) == ctx_len &&
					  memcmp(port_dev->creds.v3_context, ctx, ctx_len) == 0)))
		dev = port_dev;
	else if (!port_dev)
		dev = sim_find_context(ag->sim, (const char *)ctx, ctx_len);
	if (!dev)
		return v3_report(&m, &eng, u, rlevel, r.reqid, oid_unknown_context, 10, ag->st.reports, out, limit);
	/* The user must be one of this device's users: a device's credentials
	 * guard it even on the shared port. */
	if (strlen(dev->creds.v3_user) != m.user_len || memcmp(dev->creds.v3_user, m.user, m.user_len) != 0)
		return v3_report(&m, &eng, u, rlevel, r.reqid, oid_unknown_context, 10, ag->st.reports, out, limit);
	uint32_t delay;
	enum sim_fault_action fa = sim_fault_check(dev, SIM_PROTO_SNMP, &delay);
	last_delay = delay;
	if (fa == SIM_FA_DROP || fa == SIM_FA_DISCONNECT)
		return 0;
	if (fa == SIM_FA_GARBAGE) {
		size_t n = 40 + (size_t)(dev->requests % 60);
		sim_fault_garbage(dev, out, n);
		return n;
	}
	if (dev->faults.snmp_max_size >= 484 && dev->faults.snmp_max_size < limit)
		limit = dev->faults.snmp_max_size;
	static uint8_t pdu[SNMP_BUF];
	/* leave room for the v3 envelope (headers, auth, privacy padding) */
	size_t room = limit > 200 ? limit - 200 : limit;
	struct ber_wr w = {pdu, room, 0, false};
	handle_pdu(dev, u->priv != SIM_PRIV_NONE || u->auth != SIM_AUTH_NONE, 3, &r, &w);
	if (w.overflow)
		return 0;
	size_t n = v3_wrap(&m, &eng, u, rlevel, ctx, ctx_len, pdu, w.len, out, limit);
	if (fa == SIM_FA_TRUNCATE)
		n = sim_fault_truncate_len(n);
	return n;
}

size_t sim_snmp_handle(struct sim *sim, struct sim_device *port_dev, const uint8_t *in, size_t len,
		       uint8_t *out, size_t cap, uint32_t *delay_ms)
{
	(void)sim;
	*delay_ms = 0;
	struct ber_rd rd = {in, in + len}, msg;
	int64_t version;
	if (ber_enter(&rd, BER_SEQUENCE, &msg) < 0 || ber_read_int(&msg, BER_INTEGER, &version) < 0)
		return 0;
	size_t n = 0;
	last_delay = 0;
	if (version == 0 || version == 1)
		n = handle_community(port_dev, version, &msg, out, cap);
	else if (version == 3)
		n = handle_v3(port_dev, in, (size_t)(rd.p - in), &msg, out, cap);
	*delay_ms = last_delay;
	return n;
}

/* ---- sockets ---- */

/* A response held back by the delay fault; kept on a list so that stopping
 * the agent frees the ones still waiting. */
struct delayed {
	struct delayed *prev, *next;
	struct event *ev;
	int fd;
	struct sockaddr_storage to;
	socklen_t tolen;
	size_t len;
	uint8_t data[];
};
static struct delayed *delayed_list;

static void delayed_free(struct delayed *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		delayed_list = d->next;
	if (d->next)
		d->next->prev = d->prev;
	if (d->ev)
		event_free(d->ev);
	free(d);
}

static void send_delayed(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct delayed *d = arg;
	if (sendto(d->fd, d->data, d->len, 0, (struct sockaddr *)&d->to, d->tolen) >= 0)
		ag->st.responses++;
	delayed_free(d);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct sock *s = arg;
	for (int i = 0; i < 256; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, ag->in, sizeof(ag->in), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		ag->st.requests++;
		uint32_t delay = 0;
		size_t out = sim_snmp_handle(ag->sim, s->dev, ag->in, (size_t)n, ag->out, sizeof(ag->out), &delay);
		if (!out) {
			ag->st.dropped++;
			continue;
		}
		if (delay) {
			struct delayed *d = calloc(1, sizeof(*d) + out);
			if (!d)
				continue;
			d->fd = fd;
			memcpy(&d->to, &from, fl);
			d->tolen = fl;
			d->len = out;
			memcpy(d->data, ag->out, out);
			d->next = delayed_list;
			if (delayed_list)
				delayed_list->prev = d;
			delayed_list = d;
			struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
			d->ev = evtimer_new(ag->base, send_delayed, d);
			if (!d->ev || evtimer_add(d->ev, &tv) < 0)
				delayed_free(d);
			continue;
		}
		if (sendto(fd, ag->out, out, 0, (struct sockaddr *)&from, fl) >= 0)
			ag->st.responses++;
	}
}

static int open_udp(const char *addr, uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int sz = 4 << 20;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(*port)};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		close(fd);
		return -EINVAL;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	socklen_t sl = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		*port = ntohs(sa.sin_port);
	return fd;
}

static int add_sock(int fd, struct sim_device *dev)
{
	struct sock *s = &ag->socks[ag->n_socks];
	s->fd = fd;
	s->dev = dev;
	s->ev = event_new(ag->base, fd, EV_READ | EV_PERSIST, on_read, s);
	if (!s->ev || event_add(s->ev, NULL) < 0) {
		close(fd);
		return -ENOMEM;
	}
	ag->n_socks++;
	return 0;
}

int sim_snmp_start(struct sim *sim, struct event_base *base)
{
	int rc = sim_snmp_init(sim);
	if (rc < 0)
		return rc;
	ag->base = base;
	size_t want = 1 + (sim->snmp_port_base ? sim->n_devices : 0);
	ag->socks = calloc(want, sizeof(*ag->socks));
	if (!ag->socks)
		return -ENOMEM;
	if (sim->snmp_port_base) {
		/* one descriptor per device: raise the soft limit to the hard one */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	uint16_t port = sim->snmp_port;
	int fd = open_udp(sim->bind_addr, &port);
	if (fd < 0) {
		wt_error("snmp: cannot bind %s:%u: %s", sim->bind_addr, sim->snmp_port, strerror(-fd));
		return fd;
	}
	sim->snmp_port = port;
	if ((rc = add_sock(fd, NULL)) < 0)
		return rc;
	for (size_t i = 0; sim->snmp_port_base && i < sim->n_devices; i++) {
		struct sim_device *d = sim->devices[i];
		if (d->proto != SIM_PROTO_SNMP)
			continue;
		uint32_t p32 = (uint32_t)sim->snmp_port_base + d->id;
		if (p32 > 65535)
			return -ERANGE;
		uint16_t p = (uint16_t)p32;
		fd = open_udp(sim->bind_addr, &p);
		if (fd < 0) {
			wt_error("snmp: cannot bind port %u for %s: %s", p, d->name, strerror(-fd));
			return fd;
		}
		d->ep.snmp_port = p;
		if ((rc = add_sock(fd, d)) < 0)
			return rc;
	}
	for (size_t i = 0; !sim->snmp_port_base && i < sim->n_devices; i++)
		sim->devices[i]->ep.snmp_port = sim->snmp_port;
	return 0;
}

void sim_snmp_stop(void)
{
	if (!ag)
		return;
	while (delayed_list)
		delayed_free(delayed_list);
	for (size_t i = 0; i < ag->n_socks; i++) {
		event_free(ag->socks[i].ev);
		close(ag->socks[i].fd);
	}
	free(ag->socks);
	free(ag->users);
	for (size_t i = 0; i < ag->n_dkeys; i++)
		free(ag->dkeys[i]);
	free(ag->dkeys);
	free(ag);
	ag = NULL;
	mib_views_free();
	usm_fini();
}

void sim_snmp_get_stats(struct sim_snmp_stats *st)
{
	if (ag)
		*st = ag->st;
	else
		memset(st, 0, sizeof(*st));
}
