/* The probe for the schemes without their own probe code (modbus://,
 * redfish://, redfish+https://; snmp:// works too): bind and poll once
 * through the driver ops, optionally switch outlets through
 * pollers/control.h and poll again. Output in
 * pollers/profiles/MODBUS-FORMAT.md ("wattrack probe for Modbus and
 * Redfish"); options and exit classes as in pollers/probe.h. */
#ifndef WT_POLLERS_FIELDBUS_PROBE_H
#define WT_POLLERS_FIELDBUS_PROBE_H

#include "pollers/probe.h"

/* As wt_probe_run, through the driver table. */
int wt_fieldbus_probe_run(const char *url, const struct wt_probe_opts *o, json_t **out, char *err,
			  size_t errlen);

/* The probe CLI with every scheme sent through the driver table. */
int wt_fieldbus_probe_main(int argc, char **argv);

#endif
