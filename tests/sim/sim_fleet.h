/* sim_fleet.h — building fleets: the built-in demo, generated large fleets,
 * and JSON fleet files (read and written with jansson). */
#ifndef WT_SIM_FLEET_H
#define WT_SIM_FLEET_H

#include "sim.h"

/* Adds the demo fleet: about 200 devices in two rooms, every model and
 * protocol, v1/v2c communities and v3 users. 0 or -errno. */
__attribute__((warn_unused_result)) int sim_fleet_demo(struct sim *sim);
/* Adds a generated fleet from "pdus=N,ups=M,modbus=K,redfish=R,outlets=O,units=U"
 * (any subset, any order). 0, -EINVAL (bad spec, *err set) or -ENOMEM. */
__attribute__((warn_unused_result)) int sim_fleet_generate(struct sim *sim, const char *spec,
							    const char **err);
/* Loads a fleet JSON file. 0 or -errno; on -EINVAL *err holds a message
 * (static storage). */
__attribute__((warn_unused_result)) int sim_fleet_load(struct sim *sim, const char *path,
							const char **err);
/* Writes the fleet (devices, endpoints, credentials, placement) as JSON. */
__attribute__((warn_unused_result)) int sim_fleet_write(const struct sim *sim, const char *path);
/* Gives Modbus and Redfish devices without a port one: Modbus devices share
 * a port per 8 devices (unit ids 1, 5, 9, ... leaving room for daisy-chained
 * units); Redfish devices get an HTTP and an HTTPS port each. Ports are
 * probed free on the bind address. 0 or -errno. */
__attribute__((warn_unused_result)) int sim_fleet_assign_ports(struct sim *sim);

#endif
