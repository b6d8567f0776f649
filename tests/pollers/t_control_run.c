/* The fieldbus probe over any scheme of the driver table, SNMP included
 * (wattrack probe sends snmp:// to its own code): t_control.py switches
 * outlets over SNMP, Modbus and Redfish through the same pollers/control.h
 * path the daemon uses, and reads the next poll's samples. */
#include "pollers/fieldbus_probe.h"
#include "pollers/snmp_engine.h"

int main(int argc, char **argv)
{
	int rc = wt_fieldbus_probe_main(argc, argv);
	wt_snmp_engine_shutdown();
	return rc;
}
