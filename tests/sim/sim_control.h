/* sim_control.h — the control API of wattrack-sim: a small HTTP/JSON
 * server on loopback for fault injection, reboots, load steps, mains
 * failures, manual outlet switching and ground-truth state (README.md). */
#ifndef WT_SIM_CONTROL_H
#define WT_SIM_CONTROL_H

struct sim;
struct event_base;

/* Listens on sim->bind_addr:sim->control_port (0 = pick one, written back). 0 or -errno. */
__attribute__((warn_unused_result)) int sim_control_start(struct sim *sim, struct event_base *base);
void sim_control_stop(void);

#endif
