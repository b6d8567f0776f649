/* sim_snmp.h — the SNMP v1/v2c/v3 agent of wattrack-sim: one UDP port for
 * the whole fleet (devices told apart by community or v3 contextName), or
 * one port per device in port-range mode. */
#ifndef WT_SIM_SNMP_H
#define WT_SIM_SNMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim;
struct sim_device;
struct event_base;

struct sim_snmp_stats {
	uint64_t requests;  /* datagrams received */
	uint64_t responses; /* datagrams sent */
	uint64_t varbinds;  /* varbinds answered */
	uint64_t dropped;   /* not answered: bad community, faults, malformed */
	uint64_t reports;   /* v3 reports sent */
};

/* Binds sim->snmp_port (0 = pick one, written back) and, when
 * sim->snmp_port_base is set, one port per SNMP device. 0 or -errno. */
__attribute__((warn_unused_result)) int sim_snmp_start(struct sim *sim, struct event_base *base);
/* Closes every socket and frees the agent; safe when not started. */
void sim_snmp_stop(void);
void sim_snmp_get_stats(struct sim_snmp_stats *st);

/* Handles one request datagram as if it arrived on a socket bound to
 * port_dev (NULL = the shared port). Returns the response length in out
 * (0 = no answer); *delay_ms gets a fault-injected delay. For tests and
 * fuzzing; needs sim_snmp_init first. */
size_t sim_snmp_handle(struct sim *sim, struct sim_device *port_dev, const uint8_t *in, size_t len,
		       uint8_t *out, size_t cap, uint32_t *delay_ms);
/* Prepares the agent state without sockets (engine id, users). 0 or -errno. */
__attribute__((warn_unused_result)) int sim_snmp_init(struct sim *sim);
/* The agent's SNMPv3 engine id. */
const uint8_t *sim_snmp_engine_id(size_t *len);

#endif
