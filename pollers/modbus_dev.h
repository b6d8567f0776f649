/* The Modbus TCP driver. libmodbus blocks, so every exchange runs on a
 * worker pool (server/workers.h) and its result comes back on the loop.
 *
 * Connections are shared per gateway address:port by every unit id behind
 * it (daisy chains, RS-485 gateways) and carry one job at a time: a poll of
 * one unit reads all its spans back to back, then the next unit's job gets
 * the connection. A dead or hanging gateway holds one worker for at most
 * the request timeout, never the loop or other gateways.
 *
 * URL: modbus://HOST[:PORT][?unit=N&profile=NAME&max_registers=N]
 * (port 502, unit 1 by default). Without profile= the profile is chosen by
 * its model registers (match). */
#ifndef WT_POLLERS_MODBUS_DEV_H
#define WT_POLLERS_MODBUS_DEV_H

#include <stdbool.h>
#include <stddef.h>

#include "pollers/driver.h"
#include "pollers/modbus_map.h"

extern const struct wt_driver_ops wt_modbus_ops;

/* Where Modbus profiles are read from when the first device is created:
 * dir, else $WT_PROFILES_DIR/modbus, else the installed profiles/modbus,
 * else the source tree's. Call before creating devices. */
void wt_modbus_set_profiles_dir(const char *dir);
/* Worker threads of the Modbus pool (default 8); before the first device. */
void wt_modbus_set_threads(int threads);

struct wt_modbus_url {
	char host[256];
	int port;
	int unit;
	int max_regs;     /* 0: the profile's */
	char profile[64]; /* "" : by model register */
};
/* Parses a modbus:// URL. Returns 0 or -EINVAL with a reason in err. */
int wt_modbus_url_parse(const char *url, struct wt_modbus_url *u, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Counters for tests and benchmarks (all devices of the process). */
struct wt_modbus_stats {
	unsigned long requests, errors, exceptions, reconnects, jobs;
	unsigned long connections; /* open now */
};
void wt_modbus_stats(struct wt_modbus_stats *out);

#endif
