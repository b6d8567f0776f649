/* sim_loadgen.c — wattrack-sim-load: a fast SNMP v2c load generator for the
 * simulator benchmark. Keeps a window of requests in flight over many
 * devices (communities public-<id>), counts responses and varbinds, and
 * reads the simulator's CPU time from /proc/PID/stat, so the figures are
 * per CPU-second of the simulator, not of the client. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "sim_ber.h"
#include "sim_usm.h"

/* SNMPv3 mode (-3): authPriv HMAC-SHA-96 + AES-128 as user wt-sha-aes, which
 * generated fleets give to every device whose id ends in 1. */
static struct {
	bool on;
	uint8_t eid[64];
	size_t elen;
	int64_t boots, time0;
	double t0;
	uint8_t auth_key[USM_MAX_KEY], priv_key[USM_MAX_KEY];
	uint64_t salt;
} v3;
static const char V3_USER[] = "wt-sha-aes";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of a process in seconds, or -1. */
static double cpu_of(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the command name may contain spaces */
	if (!p)
		return -1;
	unsigned long ut = 0, st = 0;
	/* fields after ")": state(3) ... utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static size_t build_req(uint8_t *buf, size_t cap, unsigned dev, int32_t reqid, bool bulk, int reps)
{
	char comm[32];
	int cl = snprintf(comm, sizeof(comm), "public-%u", dev);
	struct ber_wr w = {buf, cap, 0, false};
	size_t m = ber_begin(&w, BER_SEQUENCE);
	ber_put_int(&w, BER_INTEGER, 1);
	ber_put_octets(&w, BER_OCTETS, comm, (size_t)cl);
	size_t p = ber_begin(&w, bulk ? BER_PDU_GETBULK : BER_PDU_GET);
	ber_put_int(&w, BER_INTEGER, reqid);
	ber_put_int(&w, BER_INTEGER, 0);
	ber_put_int(&w, BER_INTEGER, bulk ? reps : 0);
	size_t l = ber_begin(&w, BER_SEQUENCE);
	static const uint32_t ent[] = {1, 3, 6, 1, 4, 1};
	static const uint32_t sys[][9] = {{1, 3, 6, 1, 2, 1, 1, 1, 0}, {1, 3, 6, 1, 2, 1, 1, 3, 0},
					  {1, 3, 6, 1, 2, 1, 1, 5, 0}};
	if (bulk) {
		size_t vb = ber_begin(&w, BER_SEQUENCE);
		ber_put_oid(&w, ent, 6);
		ber_put_null(&w, BER_NULL);
		ber_end(&w, vb);
	} else {
		for (int i = 0; i < 3; i++) {
			size_t vb = ber_begin(&w, BER_SEQUENCE);
			ber_put_oid(&w, sys[i], 9);
			ber_put_null(&w, BER_NULL);
			ber_end(&w, vb);
		}
	}
	ber_end(&w, l);
	ber_end(&w, p);
	ber_end(&w, m);
	return w.overflow ? 0 : w.len;
}

/* A v3 authPriv GET of three system scalars for device dev (context dev-N). */
static size_t build_v3(uint8_t *buf, size_t cap, unsigned dev, int32_t reqid)
{
	static const uint32_t sys[][9] = {{1, 3, 6, 1, 2, 1, 1, 1, 0}, {1, 3, 6, 1, 2, 1, 1, 3, 0},
					  {1, 3, 6, 1, 2, 1, 1, 5, 0}};
	uint8_t sp[512], ct[600];
	char ctx[32];
	int cl = snprintf(ctx, sizeof(ctx), "dev-%u", dev);
	struct ber_wr s = {sp, sizeof(sp), 0, false};
	size_t m = ber_begin(&s, BER_SEQUENCE);
	ber_put_octets(&s, BER_OCTETS, v3.eid, v3.elen);
	ber_put_octets(&s, BER_OCTETS, ctx, (size_t)cl);
	size_t p = ber_begin(&s, BER_PDU_GET);
	ber_put_int(&s, BER_INTEGER, reqid);
	ber_put_int(&s, BER_INTEGER, 0);
	ber_put_int(&s, BER_INTEGER, 0);
	size_t l = ber_begin(&s, BER_SEQUENCE);
	for (int i = 0; i < 3; i++) {
		size_t vb = ber_begin(&s, BER_SEQUENCE);
		ber_put_oid(&s, sys[i], 9);
		ber_put_null(&s, BER_NULL);
		ber_end(&s, vb);
	}
	ber_end(&s, l);
	ber_end(&s, p);
	ber_end(&s, m);
	uint32_t etime = (uint32_t)(v3.time0 + (int64_t)(now_s() - v3.t0));
	uint8_t salt[8];
	uint64_t sv = ++v3.salt;
	for (int i = 0; i < 8; i++)
		salt[i] = (uint8_t)(sv >> (56 - 8 * i));
	size_t ctl = 0;
	if (s.overflow || usm_crypt(SIM_PRIV_AES128, 1, v3.priv_key, (uint32_t)v3.boots, etime, salt, sp,
				    s.len, ct, &ctl) < 0)
		return 0;
	struct ber_wr w = {buf, cap, 0, false};
	m = ber_begin(&w, BER_SEQUENCE);
	ber_put_int(&w, BER_INTEGER, 3);
	size_t h = ber_begin(&w, BER_SEQUENCE);
	ber_put_int(&w, BER_INTEGER, reqid);
	ber_put_int(&w, BER_INTEGER, 65507);
	uint8_t fl = 7;
	ber_put_octets(&w, BER_OCTETS, &fl, 1);
	ber_put_int(&w, BER_INTEGER, 3);
	ber_end(&w, h);
	size_t so = ber_begin(&w, BER_OCTETS);
	size_t sq = ber_begin(&w, BER_SEQUENCE);
	ber_put_octets(&w, BER_OCTETS, v3.eid, v3.elen);
	ber_put_int(&w, BER_INTEGER, v3.boots);
	ber_put_int(&w, BER_INTEGER, etime);
	ber_put_octets(&w, BER_OCTETS, V3_USER, sizeof(V3_USER) - 1);
	uint8_t zeros[12] = {0};
	ber_put_octets(&w, BER_OCTETS, zeros, 12);
	size_t mac_at = w.len - 12;
	ber_put_octets(&w, BER_OCTETS, salt, 8);
	mac_at -= ber_end(&w, sq);
	mac_at -= ber_end(&w, so);
	ber_put_octets(&w, BER_OCTETS, ct, ctl);
	mac_at -= ber_end(&w, m);
	uint8_t mac[USM_MAX_MAC];
	if (w.overflow || usm_hmac(SIM_AUTH_SHA1, v3.auth_key, buf, w.len, mac) < 0)
		return 0;
	memcpy(buf + mac_at, mac, 12);
	return w.len;
}

/* Engine discovery: learns the agent's engine id, boots and time, then
 * localises the keys. 0 or -1. */
static int v3_discover(int fd)
{
	uint8_t req[256], resp[2048];
	struct ber_wr w = {req, sizeof(req), 0, false};
	size_t m = ber_begin(&w, BER_SEQUENCE);
	ber_put_int(&w, BER_INTEGER, 3);
	size_t h = ber_begin(&w, BER_SEQUENCE);
	ber_put_int(&w, BER_INTEGER, 1);
	ber_put_int(&w, BER_INTEGER, 65507);
	uint8_t fl = 4;
	ber_put_octets(&w, BER_OCTETS, &fl, 1);
	ber_put_int(&w, BER_INTEGER, 3);
	ber_end(&w, h);
	size_t so = ber_begin(&w, BER_OCTETS);
	size_t sq = ber_begin(&w, BER_SEQUENCE);
	ber_put_octets(&w, BER_OCTETS, NULL, 0);
	ber_put_int(&w, BER_INTEGER, 0);
	ber_put_int(&w, BER_INTEGER, 0);
	ber_put_octets(&w, BER_OCTETS, NULL, 0);
	ber_put_octets(&w, BER_OCTETS, NULL, 0);
	ber_put_octets(&w, BER_OCTETS, NULL, 0);
	ber_end(&w, sq);
	ber_end(&w, so);
	size_t sc = ber_begin(&w, BER_SEQUENCE);
	ber_put_octets(&w, BER_OCTETS, NULL, 0);
	ber_put_octets(&w, BER_OCTETS, NULL, 0);
	size_t p = ber_begin(&w, BER_PDU_GET);
	ber_put_int(&w, BER_INTEGER, 1);
	ber_put_int(&w, BER_INTEGER, 0);
	ber_put_int(&w, BER_INTEGER, 0);
	size_t l = ber_begin(&w, BER_SEQUENCE);
	ber_end(&w, l);
	ber_end(&w, p);
	ber_end(&w, sc);
	ber_end(&w, m);
	if (send(fd, req, w.len, 0) < 0)
		return -1;
	struct pollfd pfd = {fd, POLLIN, 0};
	if (poll(&pfd, 1, 2000) <= 0)
		return -1;
	ssize_t n = recv(fd, resp, sizeof(resp), 0);
	struct ber_rd rd = {resp, resp + (n > 0 ? n : 0)}, msg, hdr, spo, sp;
	int64_t v;
	const uint8_t *eid;
	if (n <= 0 || ber_enter(&rd, BER_SEQUENCE, &msg) < 0 || ber_read_int(&msg, BER_INTEGER, &v) < 0 ||
	    ber_enter(&msg, BER_SEQUENCE, &hdr) < 0 || ber_enter(&msg, BER_OCTETS, &spo) < 0 ||
	    ber_enter(&spo, BER_SEQUENCE, &sp) < 0 || ber_read_octets(&sp, &eid, &v3.elen) < 0 ||
	    v3.elen > sizeof(v3.eid) || ber_read_int(&sp, BER_INTEGER, &v3.boots) < 0 ||
	    ber_read_int(&sp, BER_INTEGER, &v3.time0) < 0)
		return -1;
	memcpy(v3.eid, eid, v3.elen);
	v3.t0 = now_s();
	if (usm_init() < 0 ||
	    usm_localize_key(SIM_AUTH_SHA1, "auth-wt-sha-aes", v3.eid, v3.elen, v3.auth_key) < 0 ||
	    usm_localize_key(SIM_AUTH_SHA1, "priv-wt-sha-aes", v3.eid, v3.elen, v3.priv_key) < 0)
		return -1;
	return 0;
}

/* Varbinds in a response, or -1 if it is not a clean response. */
static int count_vbs(const uint8_t *b, size_t n)
{
	if (v3.on) {
		/* encrypted: a v3 message with the priv flag is an answer (3 varbinds);
		 * reports travel authenticated only and are counted as bad */
		struct ber_rd rd = {b, b + n}, msg, hdr;
		int64_t v;
		const uint8_t *f;
		size_t fl;
		if (ber_enter(&rd, BER_SEQUENCE, &msg) < 0 || ber_read_int(&msg, BER_INTEGER, &v) < 0 ||
		    ber_enter(&msg, BER_SEQUENCE, &hdr) < 0 || ber_read_int(&hdr, BER_INTEGER, &v) < 0 ||
		    ber_read_int(&hdr, BER_INTEGER, &v) < 0 || ber_read_octets(&hdr, &f, &fl) < 0 || fl != 1)
			return -1;
		return (f[0] & 3) == 3 ? 3 : -1;
	}
	struct ber_rd rd = {b, b + n}, msg, pdu, vbl, one;
	int64_t v;
	const uint8_t *s;
	size_t sl, pl;
	uint8_t tag;
	if (ber_enter(&rd, BER_SEQUENCE, &msg) < 0 || ber_read_int(&msg, BER_INTEGER, &v) < 0 ||
	    ber_read_octets(&msg, &s, &sl) < 0 || ber_read_tl(&msg, &tag, &pl) < 0 || tag != BER_PDU_RESPONSE)
		return -1;
	pdu.p = msg.p;
	pdu.end = msg.p + pl;
	int64_t es;
	if (ber_read_int(&pdu, BER_INTEGER, &v) < 0 || ber_read_int(&pdu, BER_INTEGER, &es) < 0 || es != 0 ||
	    ber_read_int(&pdu, BER_INTEGER, &v) < 0 || ber_enter(&pdu, BER_SEQUENCE, &vbl) < 0)
		return -1;
	int c = 0;
	while (vbl.p < vbl.end && ber_enter(&vbl, BER_SEQUENCE, &one) == 0)
		c++;
	return c;
}

int main(int argc, char **argv)
{
	int port = 0, pid = 0, window = 64, reps = 25;
	unsigned devices = 0;
	double seconds = 5;
	bool bulk = true;
	int c;
	while ((c = getopt(argc, argv, "p:P:d:s:w:r:g3")) != -1) {
		switch (c) {
		case 'p': port = (int)strtol(optarg, NULL, 10); break;
		case 'P': pid = (int)strtol(optarg, NULL, 10); break;
		case 'd': devices = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': seconds = strtod(optarg, NULL); break;
		case 'w': window = (int)strtol(optarg, NULL, 10); break;
		case 'r': reps = (int)strtol(optarg, NULL, 10); break;
		case 'g': bulk = false; break;
		case '3': v3.on = true; break;
		default:
			fprintf(stderr, "usage: wattrack-sim-load -p PORT -P SIMPID -d DEVICES [-s SECONDS] "
					"[-w WINDOW] [-r REPETITIONS] [-g (GET instead of GETBULK)] [-3 (v3 authPriv GETs)]\n");
			return 2;
		}
	}
	if (port <= 0 || port > 65535 || !devices || window < 1 || window > 4096 || seconds <= 0) {
		fprintf(stderr, "wattrack-sim-load: -p, -d are required; -w 1..4096\n");
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 1;
	int sz = 8 << 20;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 1;
	static uint8_t req[1024], resp[65536];
	if (v3.on && v3_discover(fd) < 0) {
		fprintf(stderr, "wattrack-sim-load: v3 engine discovery failed\n");
		return 1;
	}
	unsigned long long sent = 0, responses = 0, varbinds = 0, bad = 0, lost = 0;
	unsigned next_dev = 0;
	int inflight = 0;
	double cpu0 = pid ? cpu_of(pid) : 0, t0 = now_s(), last_rx = t0;
	double end = t0 + seconds;
	while (now_s() < end) {
		while (inflight < window) {
			size_t n;
			if (v3.on) {
				/* devices 1, 11, 21, ... carry the user wt-sha-aes */
				n = build_v3(req, sizeof(req), next_dev * 10 + 1, (int32_t)(sent & 0x7fffffff));
				next_dev = (next_dev + 1) % (devices / 10 ? devices / 10 : 1);
			} else {
				n = build_req(req, sizeof(req), next_dev, (int32_t)(sent & 0x7fffffff), bulk, reps);
				next_dev = (next_dev + 1) % devices;
			}
			if (!n)
				break;
			if (send(fd, req, n, 0) < 0)
				break;
			sent++;
			inflight++;
		}
		struct pollfd pfd = {fd, POLLIN, 0};
		int pr = poll(&pfd, 1, 50);
		if (pr <= 0) {
			if (now_s() - last_rx > 0.5) { /* the window stalled: count the rest as lost */
				lost += (unsigned long long)inflight;
				inflight = 0;
				last_rx = now_s();
			}
			continue;
		}
		for (;;) {
			ssize_t r = recv(fd, resp, sizeof(resp), 0);
			if (r < 0)
				break;
			last_rx = now_s();
			if (inflight > 0)
				inflight--;
			int v = count_vbs(resp, (size_t)r);
			if (v < 0) {
				bad++;
				continue;
			}
			responses++;
			varbinds += (unsigned long long)v;
		}
	}
	double wall = now_s() - t0;
	double cpu = pid ? cpu_of(pid) - cpu0 : -1;
	printf("requests %llu responses %llu varbinds %llu bad %llu lost %llu wall_s %.2f sim_cpu_s %.2f\n",
	       sent, responses, varbinds, bad, lost, wall, cpu);
	printf("responses_per_s %.0f varbinds_per_s %.0f\n", responses / wall, varbinds / wall);
	if (cpu > 0)
		printf("responses_per_cpu_s %.0f varbinds_per_cpu_s %.0f\n", responses / cpu, varbinds / cpu);
	close(fd);
	if (v3.on)
		usm_fini();
	return responses ? 0 : 1;
}
