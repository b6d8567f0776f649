/* sim_redfish.c — Redfish server of wattrack-sim (implementation in progress). */
#include "sim_redfish.h"

#include <errno.h>

int sim_redfish_start(struct sim *sim, struct event_base *base)
{
	(void)sim;
	(void)base;
	return -ENOSYS;
}

void sim_redfish_stop(void)
{
}
