/* sim_modbus.c — Modbus TCP server of wattrack-sim (implementation in progress). */
#include "sim_modbus.h"

#include <errno.h>

int sim_modbus_start(struct sim *sim, struct event_base *base)
{
	(void)sim;
	(void)base;
	return -ENOSYS;
}

void sim_modbus_stop(void)
{
}
