/* sim_modbus.h — Modbus TCP server of wattrack-sim: serves every Modbus device of the fleet. */
#ifndef WT_SIM_MODBUS_H
#define WT_SIM_MODBUS_H

struct sim;
struct event_base;

/* Listen on every Modbus port of the fleet and answer each device on its unit id; 0 or -errno. */
__attribute__((warn_unused_result)) int sim_modbus_start(struct sim *sim, struct event_base *base);

/* Close every Modbus listener and connection; safe to call when not started. */
void sim_modbus_stop(void);

#endif
