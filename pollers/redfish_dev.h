/* The Redfish driver: DSP0268 PowerDistribution devices (rack PDUs, floor
 * PDUs, transfer switches) over libcurl multi on the loop
 * (pollers/redfish_http.h), mapped by pollers/redfish_map.h.
 *
 * Bind: service root (is $expand offered?), a session login when asked,
 * PowerEquipment -> RackPDUs / FloorPDUs / TransferSwitches members (unit
 * 1..n in that order), each unit's environment sensors (its own Sensors, or
 * its chassis'). Poll: each unit with $expand=.($levels=2) when offered
 * (one request), else a walk of the links with at most 4 requests in
 * flight per device.
 *
 * URL: redfish://[USER:PASS@]HOST[:PORT] (HTTP) and
 *      redfish+https://[USER:PASS@]HOST[:PORT] (TLS, verified by default)
 * options: ?auth=session|basic|none (default session when credentials are
 * given; a service without SessionService falls back to basic),
 * ca=/path/ca.pem (trust this CA), insecure=1 (accept a self-signed
 * certificate), expand=0 (never use $expand). */
#ifndef WT_POLLERS_REDFISH_DEV_H
#define WT_POLLERS_REDFISH_DEV_H

#include <stdbool.h>
#include <stddef.h>

#include "pollers/driver.h"

extern const struct wt_driver_ops wt_redfish_ops;

enum wt_rf_auth {
	WT_RF_AUTH_SESSION = 0,
	WT_RF_AUTH_BASIC,
	WT_RF_AUTH_NONE
};

struct wt_redfish_url {
	bool tls;
	char host[256];
	int port;
	char user[128];
	char pass[128];
	enum wt_rf_auth auth;
	bool insecure;
	char ca[512];
	bool no_expand;
};
/* Parses a redfish:// or redfish+https:// URL (percent-escapes allowed in
 * the user info). Returns 0 or -EINVAL with a reason (never the password). */
int wt_redfish_url_parse(const char *url, struct wt_redfish_url *u, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
