/* sim_fault.c — per-request fault decisions shared by every protocol server. */
#include "sim.h"

static uint64_t fault_rng = 0x2545F4914F6CDD1Dull;

/* xorshift64*: loss dice and garbage bytes need speed, not quality. */
static uint64_t next_rand(void)
{
	fault_rng ^= fault_rng >> 12;
	fault_rng ^= fault_rng << 25;
	fault_rng ^= fault_rng >> 27;
	return fault_rng * 2685821657736338717ull;
}

enum sim_fault_action sim_fault_check(struct sim_device *dev, enum sim_proto proto,
				      uint32_t *delay_ms)
{
	const struct sim_faults *f = &dev->faults;
	dev->requests++;
	*delay_ms = f->delay_ms;
	if (f->timeout)
		return SIM_FA_DROP;
	if (f->loss_pct && next_rand() % 100 < f->loss_pct)
		return SIM_FA_DROP;
	if (f->disconnect)
		return proto == SIM_PROTO_SNMP ? SIM_FA_DROP : SIM_FA_DISCONNECT;
	if (f->garbage)
		return SIM_FA_GARBAGE;
	if (f->truncated)
		return SIM_FA_TRUNCATE;
	if ((proto == SIM_PROTO_SNMP && f->snmp_error != SIM_SNMPERR_NONE) ||
	    (proto == SIM_PROTO_REDFISH && f->http_status) ||
	    (proto == SIM_PROTO_MODBUS && f->modbus_exception))
		return SIM_FA_ERROR;
	return SIM_FA_ANSWER;
}

void sim_fault_garbage(struct sim_device *dev, uint8_t *buf, size_t len)
{
	(void)dev;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(next_rand() >> 56);
}

size_t sim_fault_truncate_len(size_t len)
{
	if (len < 2)
		return len;
	size_t n = len / 2;
	return n ? n : 1;
}
