/* Fuzz target: Modbus TCP responses through libmodbus and our decoding.
 *
 * The input is [profile selector][function/count selector][response bytes].
 * The response bytes are what a device sends back on a socketpair to
 * libmodbus' read; whatever registers it accepts are decoded with every
 * value of the chosen profile (pollers/profiles/modbus), and the raw bytes
 * are decoded directly too, so the decoder is reached even when the frame
 * is refused. Span planning is fed needs made from the bytes. Nothing may
 * crash, leak or read outside a buffer. */
#include <errno.h>
#include <modbus.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pollers/modbus_map.h"
#include "server/log.h"
#include "wt_build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wt_mb_profile_set profiles;
static bool loaded;

static void free_profiles(void)
{
	wt_mb_profiles_free(&profiles);
}

static void load(void)
{
	if (loaded)
		return;
	loaded = true;
	wt_log_setup(false, "fuzz", WT_LOG_ERROR);
	char dir[4096];
	const char *root = getenv("WT_SOURCE_ROOT");
	snprintf(dir, sizeof dir, "%s/pollers/profiles/modbus",
		 root && *root ? root : WT_SOURCE_ROOT);
	if (wt_mb_profiles_load_dir(&profiles, dir) <= 0) {
		fprintf(stderr, "fuzz_modbus_response: no profiles in %s\n", dir);
		abort();
	}
	atexit(free_profiles);
}

static volatile double sink;

static void decode_all(const struct wt_mb_profile *p, const uint16_t *regs, size_t n)
{
	for (size_t e = 0; e < p->n_entities; e++) {
		const struct wt_mb_entity *en = &p->entities[e];
		for (size_t k = 0; k < en->n_metrics; k++) {
			const struct wt_mb_value *v = &en->metrics[k].v;
			size_t len = (size_t)wt_mb_value_regs(v);
			if (len > n)
				continue;
			size_t off = ((size_t)v->addr + k) % (n - len + 1);
			double x;
			if (wt_mb_decode(v, regs + off, &x))
				sink = x;
			long long raw;
			if (wt_mb_decode_raw(v, regs + off, &raw))
				sink = (double)raw;
		}
	}
	for (int i = 0; i < WT_ID__COUNT; i++) {
		size_t len = (size_t)wt_mb_value_regs(&p->ident[i]);
		if (!p->has_ident[i] || len > n)
			continue;
		char s[256];
		wt_mb_decode_str(&p->ident[i], regs, s, sizeof s);
		sink = (double)strlen(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load();
	if (size < 2 || size > 4096)
		return 0;
	const struct wt_mb_profile *p = profiles.v[data[0] % profiles.n];
	int fc = data[1] & 1 ? 4 : 3;
	int count = 1 + (data[1] >> 1) % WT_MB_MAX_READ;
	const uint8_t *rsp = data + 2;
	size_t rlen = size - 2;

	/* the raw bytes as registers, straight into the decoder */
	size_t nregs = rlen / 2;
	uint16_t *regs = calloc(nregs + 1, sizeof *regs);
	if (!regs)
		return 0;
	for (size_t i = 0; i < nregs; i++)
		regs[i] = (uint16_t)(rsp[2 * i] << 8 | rsp[2 * i + 1]);
	if (nregs)
		decode_all(p, regs, nregs);

	/* span planning over needs made from the bytes */
	struct wt_mb_need needs[64];
	struct wt_mb_span spans[64];
	size_t nn = 0;
	for (size_t i = 0; i + 1 < nregs && nn < 64; i += 2, nn++) {
		needs[nn].fc = regs[i] & 1 ? 4 : 3;
		needs[nn].addr = regs[i] % 65000;
		needs[nn].count = 1 + regs[i + 1] % 8;
	}
	size_t ns = wt_mb_plan(needs, nn, count, data[1] % 20, spans);
	for (size_t i = 0; i < ns; i++)
		if (spans[i].count < 1 || spans[i].count > WT_MB_MAX_READ)
			abort(); /* the planner must never ask for an impossible read */
	free(regs);

	/* the same bytes as a device's answer to libmodbus */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 0;
	modbus_t *ctx = modbus_new_tcp("127.0.0.1", 502);
	if (!ctx) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	modbus_set_socket(ctx, sv[0]);
	modbus_set_response_timeout(ctx, 0, 20000);
	modbus_set_byte_timeout(ctx, 0, 20000);
	if (rlen && write(sv[1], rsp, rlen) < 0) {
		/* a full socket buffer only shortens the answer */
	}
	shutdown(sv[1], SHUT_WR);
	uint16_t out[WT_MB_MAX_READ];
	int got = fc == 4 ? modbus_read_input_registers(ctx, 0, count, out)
			  : modbus_read_registers(ctx, 0, count, out);
	if (got > 0)
		decode_all(p, out, (size_t)got);
	modbus_close(ctx);
	modbus_free(ctx);
	close(sv[1]);
	return 0;
}
