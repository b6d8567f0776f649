/* `wattrack probe URL` for the schemes without their own probe code
 * (modbus://, redfish://, redfish+https://): same options and exit codes as
 * pollers/probe.h; the output is described in pollers/profiles/MODBUS-FORMAT.md
 * ("wattrack probe for Modbus and Redfish"). */
#ifndef WT_POLLERS_FIELDBUS_PROBE_H
#define WT_POLLERS_FIELDBUS_PROBE_H

int wt_fieldbus_probe_main(int argc, char **argv);

#endif
