/* sim_models.c — the SNMP models of wattrack-sim as data: OIDs, types,
 * scales and table indexing copied from real recordings in
 * ../shared/realdata/snmprec (named above each table), values bound to the
 * simulated physics. A new model is a new table here. */
#include "sim_mib.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define I BER_INTEGER
#define S BER_OCTETS
#define G BER_GAUGE32
#define C32 BER_COUNTER32
#define TT BER_TIMETICKS
#define OI BER_OID

/* RFC 1213 system group, common to every model. */
#define SYSTEM_GROUP                                                        \
	{"1.3.6.1.2.1.1.1.0", S, V_SYSDESCR, 0, 0, 0, NULL, 0},             \
	{"1.3.6.1.2.1.1.2.0", OI, V_SYSOBJID, 0, 0, 0, NULL, 0},            \
	{"1.3.6.1.2.1.1.3.0", TT, V_UPTIME, 0, 0, 0, NULL, 0},              \
	{"1.3.6.1.2.1.1.4.0", S, V_STR, 0, 0, 0, "noc@example.net", 0},     \
	{"1.3.6.1.2.1.1.5.0", S, V_NAME, 0, 0, 0, NULL, 0},                 \
	{"1.3.6.1.2.1.1.6.0", S, V_LOCATION, 0, 0, 0, NULL, 0},             \
	{"1.3.6.1.2.1.1.7.0", I, V_CONST, 0, 72, 0, NULL, 0}

/* APC PowerNet-MIB rPDU2 — apc-ap8641-metered-switched-pdu.snmprec.
 * Units of a daisy chain are "modules"; phases, banks and outlets are
 * numbered across modules. Power in hundredths of kW, energy in tenths of
 * kWh, current in tenths of A. */
#define R2 "1.3.6.1.4.1.318.1.1.26"
static const struct mib_obj apc_rpdu2[] = {
	SYSTEM_GROUP,
	{R2 ".1.0", I, V_N_UNITS, 0, 0, 0, NULL, 0},
	{R2 ".2.1.1.{u}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".2.1.2.{u}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".2.1.3.{u}", S, V_NAME, 0, 0, 0, NULL, 0},
	{R2 ".2.1.4.{u}", S, V_LOCATION, 0, 0, 0, NULL, 0},
	{R2 ".2.1.5.{u}", S, V_STR, 0, 0, 0, "02", 0},
	{R2 ".2.1.6.{u}", S, V_FIRMWARE, 0, 0, 0, NULL, 0},
	{R2 ".2.1.7.{u}", S, V_STR, 0, 0, 0, "04/16/2019", 0},
	{R2 ".2.1.8.{u}", S, V_MODEL_STR, 0, 0, 0, NULL, 0},
	{R2 ".2.1.9.{u}", S, V_SERIAL, 0, 0, 0, NULL, 0},
	{R2 ".2.1.10.{u}", S, V_STR, 0, 0, 0, "noc", 0},
	{R2 ".2.1.11.{u}", S, V_STR, 0, 0, 0, "1.0.8", 0},
	{R2 ".2.1.12.{u}", S, V_STR, 0, 0, 0, "Rack Power Distribution Unit", 0},
	{R2 ".2.1.13.{u}", S, V_SERIAL, 0, 0, 0, NULL, 0},
	{R2 ".3.0", I, V_N_UNITS, 0, 0, 0, NULL, 0},
	/* rPDU2DeviceStatusTable */
	{R2 ".4.3.1.1.{u}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".4.3.1.2.{u}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".4.3.1.3.{u}", S, V_NAME, 0, 0, 0, NULL, 0},
	{R2 ".4.3.1.4.{u}", I, V_IN_LOADSTATE, 0, 0, 0, NULL, 0},
	{R2 ".4.3.1.5.{u}", I, V_IN_POWER, 0.1, 0, 0, NULL, 0},
	{R2 ".4.3.1.6.{u}", I, V_IN_POWER, 0.1, 0, 0, NULL, 0},
	{R2 ".4.3.1.9.{u}", I, V_IN_ENERGY, 0.01, 0, 0, NULL, 0},
	{R2 ".4.3.1.11.{u}", I, V_CONST, 0, 2, 0, NULL, 0},
	{R2 ".4.3.1.12.{u}", I, V_CONST, 0, 1, 0, NULL, 0},
	{R2 ".4.3.1.16.{u}", I, V_IN_VA, 0.1, 0, 0, NULL, 0},
	{R2 ".4.3.1.17.{u}", I, V_IN_PF, 100, 0, 0, NULL, 0},
	{R2 ".5.0", I, V_N_LINES_ALL, 0, 0, 0, NULL, 0},
	/* rPDU2PhaseStatusTable */
	{R2 ".6.3.1.1.{L}", I, V_IDX, 0, 0, 0, NULL, 0},
	{R2 ".6.3.1.2.{L}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".6.3.1.3.{L}", I, V_ELEM, 0, 0, 0, NULL, 0},
	{R2 ".6.3.1.4.{L}", I, V_LN_LOADSTATE, 0, 0, 0, NULL, 0},
	{R2 ".6.3.1.5.{L}", I, V_LN_CURRENT, 10, 0, 0, NULL, 0},
	{R2 ".6.3.1.6.{L}", I, V_LN_VOLTAGE, 1, 0, 0, NULL, 0},
	{R2 ".6.3.1.7.{L}", I, V_LN_POWER, 0.1, 0, 0, NULL, 0},
	{R2 ".6.3.1.8.{L}", I, V_LN_VA, 0.1, 0, 0, NULL, 0},
	{R2 ".6.3.1.9.{L}", I, V_LN_PF, 100, 0, 0, NULL, 0},
	{R2 ".6.3.1.10.{L}", I, V_LN_CURRENT, 10, 0, 0, NULL, 0},
	{R2 ".7.0", I, V_N_BRANCHES_ALL, 0, 0, 0, NULL, 0},
	/* rPDU2BankStatusTable */
	{R2 ".8.3.1.1.{B}", I, V_IDX, 0, 0, 0, NULL, 0},
	{R2 ".8.3.1.2.{B}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".8.3.1.3.{B}", I, V_ELEM, 0, 0, 0, NULL, 0},
	{R2 ".8.3.1.4.{B}", I, V_BR_LOADSTATE, 0, 0, 0, NULL, 0},
	{R2 ".8.3.1.5.{B}", I, V_BR_CURRENT, 10, 0, 0, NULL, 0},
	{R2 ".8.3.1.6.{B}", I, V_BR_CURRENT, 10, 0, 0, NULL, 0},
	{R2 ".9.1.0", I, V_N_OUTLETS_ALL, 0, 0, 0, NULL, 0},
	/* rPDU2OutletSwitchedConfigTable */
	{R2 ".9.2.1.1.1.{O}", I, V_IDX, 0, 0, 0, NULL, 0},
	{R2 ".9.2.1.1.2.{O}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".9.2.1.1.3.{O}", S, V_OUT_NAME, 0, 0, 0, NULL, 0},
	{R2 ".9.2.1.1.4.{O}", I, V_ELEM, 0, 0, 0, NULL, 0},
	{R2 ".9.2.1.1.5.{O}", I, V_CONST, 0, 0, 0, NULL, 0},
	{R2 ".9.2.1.1.6.{O}", I, V_CONST, 0, 0, 0, NULL, 0},
	{R2 ".9.2.1.1.7.{O}", I, V_CONST, 0, 5, 0, NULL, 0},
	/* rPDU2OutletSwitchedPropertiesTable */
	{R2 ".9.2.2.1.1.{O}", I, V_IDX, 0, 0, 0, NULL, 0},
	{R2 ".9.2.2.1.2.{O}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".9.2.2.1.3.{O}", S, V_OUT_NAME, 0, 0, 0, NULL, 0},
	{R2 ".9.2.2.1.4.{O}", I, V_ELEM, 0, 0, 0, NULL, 0},
	{R2 ".9.2.2.1.5.{O}", I, V_OUT_LINE, 0, 0, 0, NULL, 0},
	{R2 ".9.2.2.1.6.{O}", I, V_OUT_BRANCH, 0, 0, 0, NULL, 0},
	/* rPDU2OutletSwitchedStatusTable: state off(1) on(2); pending yes(1) no(2) */
	{R2 ".9.2.3.1.1.{O}", I, V_IDX, 0, 0, 0, NULL, 0},
	{R2 ".9.2.3.1.2.{O}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".9.2.3.1.3.{O}", S, V_OUT_NAME, 0, 0, 0, NULL, 0},
	{R2 ".9.2.3.1.4.{O}", I, V_ELEM, 0, 0, 0, NULL, 0},
	{R2 ".9.2.3.1.5.{O}", I, V_OUT_STATE, 0, 1, 2, NULL, 0},
	{R2 ".9.2.3.1.6.{O}", I, V_OUT_PENDING, 0, 2, 1, NULL, 0},
	/* rPDU2OutletSwitchedControlTable */
	{R2 ".9.2.4.1.1.{O}", I, V_IDX, 0, 0, 0, NULL, 0},
	{R2 ".9.2.4.1.2.{O}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".9.2.4.1.3.{O}", S, V_OUT_NAME, 0, 0, 0, NULL, 0},
	{R2 ".9.2.4.1.4.{O}", I, V_ELEM, 0, 0, 0, NULL, 0},
	{R2 ".9.2.4.1.5.{O}", I, V_OUT_CTRL_APC, 0, 0, 0, NULL, MIB_RW},
	{R2 ".9.3.0", I, V_N_OUTLETS_ALL, 0, 0, 0, NULL, 0},
	/* rPDU2OutletMeteredPropertiesTable */
	{R2 ".9.4.2.1.1.{O}", I, V_IDX, 0, 0, 0, NULL, 0},
	{R2 ".9.4.2.1.2.{O}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".9.4.2.1.3.{O}", S, V_OUT_NAME, 0, 0, 0, NULL, 0},
	{R2 ".9.4.2.1.4.{O}", I, V_ELEM, 0, 0, 0, NULL, 0},
	{R2 ".9.4.2.1.5.{O}", I, V_OUT_LINE, 0, 0, 0, NULL, 0},
	{R2 ".9.4.2.1.6.{O}", I, V_CONST, 0, 2500, 0, NULL, 0},
	{R2 ".9.4.2.1.7.{O}", I, V_OUT_BRANCH, 0, 0, 0, NULL, 0},
	/* rPDU2OutletMeteredStatusTable */
	{R2 ".9.4.3.1.1.{O}", I, V_IDX, 0, 0, 0, NULL, 0},
	{R2 ".9.4.3.1.2.{O}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".9.4.3.1.3.{O}", S, V_OUT_NAME, 0, 0, 0, NULL, 0},
	{R2 ".9.4.3.1.4.{O}", I, V_ELEM, 0, 0, 0, NULL, 0},
	{R2 ".9.4.3.1.5.{O}", I, V_OUT_STATE, 0, 1, 2, NULL, 0},
	{R2 ".9.4.3.1.6.{O}", I, V_OUT_CURRENT, 10, 0, 0, NULL, 0},
	{R2 ".9.4.3.1.7.{O}", I, V_OUT_POWER, 1, 0, 0, NULL, 0},
	{R2 ".9.4.3.1.8.{O}", I, V_OUT_POWER, 1, 0, 0, NULL, 0},
	{R2 ".9.4.3.1.11.{O}", I, V_OUT_ENERGY, 0.01, 0, 0, NULL, 0},
	{R2 ".9.4.3.1.12.{O}", S, V_STR, 0, 0, 0, "C13", 0},
	/* rPDU2SensorTempHumidityStatusTable: one probe per module; type
	 * temperatureHumidity(2), statuses normal(4), tenths of degrees */
	{R2 ".10.1.0", I, V_N_UNITS, 0, 0, 0, NULL, 0},
	{R2 ".10.2.2.1.1.{u}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".10.2.2.1.2.{u}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".10.2.2.1.3.{u}", S, V_STR, 0, 0, 0, "Temp/Humidity", 0},
	{R2 ".10.2.2.1.4.{u}", I, V_UNIT, 0, 0, 0, NULL, 0},
	{R2 ".10.2.2.1.5.{u}", I, V_CONST, 0, 2, 0, NULL, 0},
	{R2 ".10.2.2.1.6.{u}", I, V_CONST, 0, 1, 0, NULL, 0},
	{R2 ".10.2.2.1.7.{u}", I, V_TEMP_F, 10, 0, 0, NULL, 0},
	{R2 ".10.2.2.1.8.{u}", I, V_TEMP, 10, 0, 0, NULL, 0},
	{R2 ".10.2.2.1.9.{u}", I, V_CONST, 0, 4, 0, NULL, 0},
	{R2 ".10.2.2.1.10.{u}", I, V_HUMID, 1, 0, 0, NULL, 0},
	{R2 ".10.2.2.1.11.{u}", I, V_CONST, 0, 4, 0, NULL, 0},
};

/* Raritan PDU2-MIB — raritan-px3-5493u-k2.snmprec. Index pduId (the unit of a
 * daisy chain), then inlet / overCurrentProtector / outlet, then sensor type:
 * rmsCurrent(1) rmsVoltage(4) activePower(5) apparentPower(6) powerFactor(7)
 * activeEnergy(8) onOff(14) trip(15) frequency(23). Values are Gauge32
 * scaled by 10^decimalDigits from the *SensorConfiguration tables. */
#define RX "1.3.6.1.4.1.13742.6"
#define RX_DIGITS(tbl, idx, st, d) {RX ".3." tbl ".4.1.7." idx "." st, G, V_CONST, 0, d, 0, NULL, 0}
#define RX_MEAS(tbl, idx, st, var, k)                                                  \
	{RX ".5." tbl ".3.1.2." idx "." st, I, V_CONST, 0, 1, 0, NULL, 0},             \
	{RX ".5." tbl ".3.1.3." idx "." st, I, V_CONST, 0, 4, 0, NULL, 0},             \
	{RX ".5." tbl ".3.1.4." idx "." st, G, var, k, 0, 0, NULL, 0},                 \
	{RX ".5." tbl ".3.1.5." idx "." st, G, V_UNIXTIME, 0, 0, 0, NULL, 0},          \
	{RX ".5." tbl ".3.1.6." idx "." st, I, var, k, 0, 0, NULL, 0}
static const struct mib_obj raritan_px3[] = {
	SYSTEM_GROUP,
	{RX ".3.2.1.1.3.{u}", S, V_MODEL_STR, 0, 0, 0, NULL, 0},
	{RX ".3.2.1.1.4.{u}", S, V_SERIAL, 0, 0, 0, NULL, 0},
	/* inletConfigurationTable */
	{RX ".3.3.3.1.2.{u}.1", S, V_STR, 0, 0, 0, "I1", 0},
	{RX ".3.3.3.1.3.{u}.1", S, V_STR, 0, 0, 0, "", 0},
	{RX ".3.3.3.1.6.{u}.1", S, V_STR, 0, 0, 0, "200-240V", 0},
	{RX ".3.3.3.1.7.{u}.1", S, V_STR, 0, 0, 0, "32A", 0},
	RX_DIGITS("3", "{u}.1", "1", 3), RX_DIGITS("3", "{u}.1", "4", 0),
	RX_DIGITS("3", "{u}.1", "5", 0), RX_DIGITS("3", "{u}.1", "6", 0),
	RX_DIGITS("3", "{u}.1", "7", 2), RX_DIGITS("3", "{u}.1", "8", 0),
	RX_DIGITS("3", "{u}.1", "23", 1),
	/* overCurrentProtectorConfigurationTable */
	{RX ".3.4.3.1.2.{u}.{b}", S, V_RARITAN_OCP_LABEL, 0, 0, 0, NULL, 0},
	{RX ".3.4.3.1.3.{u}.{b}", S, V_STR, 0, 0, 0, "", 0},
	{RX ".3.4.3.1.5.{u}.{b}", S, V_STR, 0, 0, 0, "16A", 0},
	RX_DIGITS("4", "{u}.{b}", "1", 3), RX_DIGITS("4", "{u}.{b}", "15", 0),
	/* outletConfigurationTable */
	{RX ".3.5.3.1.2.{u}.{o}", S, V_RARITAN_OUTLET_LABEL, 0, 0, 0, NULL, 0},
	{RX ".3.5.3.1.3.{u}.{o}", S, V_OUT_NAME, 0, 0, 0, NULL, 0},
	{RX ".3.5.3.1.29.{u}.{o}", S, V_STR, 0, 0, 0, "IEC 60320 C13", 0},
	RX_DIGITS("5", "{u}.{o}", "1", 3), RX_DIGITS("5", "{u}.{o}", "4", 0),
	RX_DIGITS("5", "{u}.{o}", "5", 0), RX_DIGITS("5", "{u}.{o}", "6", 0),
	RX_DIGITS("5", "{u}.{o}", "7", 2), RX_DIGITS("5", "{u}.{o}", "8", 0),
	RX_DIGITS("5", "{u}.{o}", "14", 0), RX_DIGITS("5", "{u}.{o}", "23", 1),
	/* externalSensorConfigurationTable: type temperature(10) humidity(11),
	 * decimal digits 1 and 0 */
	{RX ".3.6.3.1.2.{u}.{s}", I, V_SENSOR_KIND, 0, 10, 11, NULL, 0},
	{RX ".3.6.3.1.4.{u}.{s}", S, V_SENSOR_NAME, 0, 0, 0, NULL, 0},
	{RX ".3.6.3.1.17.{u}.{s}", G, V_SENSOR_KIND, 0, 1, 0, NULL, 0},
	/* outletSwitchControlTable: switchingOperation off(0) on(1) cycle(2);
	 * outletSwitchingState on(7) off(8) */
	{RX ".4.1.2.1.2.{u}.{o}", I, V_OUT_CTRL_RARITAN, 0, 0, 0, NULL, MIB_RW},
	{RX ".4.1.2.1.3.{u}.{o}", I, V_OUT_STATE, 0, 8, 7, NULL, 0},
	{RX ".4.1.2.1.4.{u}.{o}", G, V_UNIXTIME, 0, 0, 0, NULL, 0},
	/* measurements */
	RX_MEAS("2", "{u}.1", "1", V_IN_CURRENT, 1000), RX_MEAS("2", "{u}.1", "4", V_IN_VOLTAGE, 1),
	RX_MEAS("2", "{u}.1", "5", V_IN_POWER, 1), RX_MEAS("2", "{u}.1", "6", V_IN_VA, 1),
	RX_MEAS("2", "{u}.1", "7", V_IN_PF, 100), RX_MEAS("2", "{u}.1", "8", V_IN_ENERGY, 1),
	RX_MEAS("2", "{u}.1", "23", V_IN_FREQ, 10),
	RX_MEAS("3", "{u}.{b}", "1", V_BR_CURRENT, 1000),
	/* trip sensor: value 0 closed, 1 open (tripped) */
	{RX ".5.3.3.1.2.{u}.{b}.15", I, V_CONST, 0, 1, 0, NULL, 0},
	{RX ".5.3.3.1.3.{u}.{b}.15", I, V_BR_TRIP, 0, 1, 2, NULL, 0},
	{RX ".5.3.3.1.4.{u}.{b}.15", G, V_BR_TRIP, 0, 0, 1, NULL, 0},
	{RX ".5.3.3.1.5.{u}.{b}.15", G, V_UNIXTIME, 0, 0, 0, NULL, 0},
	{RX ".5.3.3.1.6.{u}.{b}.15", I, V_BR_TRIP, 0, 0, 1, NULL, 0},
	RX_MEAS("4", "{u}.{o}", "1", V_OUT_CURRENT, 1000), RX_MEAS("4", "{u}.{o}", "4", V_OUT_VOLTAGE, 1),
	RX_MEAS("4", "{u}.{o}", "5", V_OUT_POWER, 1), RX_MEAS("4", "{u}.{o}", "6", V_OUT_VA, 1),
	RX_MEAS("4", "{u}.{o}", "7", V_OUT_PF, 100), RX_MEAS("4", "{u}.{o}", "8", V_OUT_ENERGY, 1),
	/* onOff sensor: state on(7) off(8), value 1 on 0 off */
	{RX ".5.4.3.1.2.{u}.{o}.14", I, V_CONST, 0, 1, 0, NULL, 0},
	{RX ".5.4.3.1.3.{u}.{o}.14", I, V_OUT_STATE, 0, 8, 7, NULL, 0},
	{RX ".5.4.3.1.4.{u}.{o}.14", G, V_OUT_STATE, 0, 0, 1, NULL, 0},
	{RX ".5.4.3.1.5.{u}.{o}.14", G, V_UNIXTIME, 0, 0, 0, NULL, 0},
	{RX ".5.4.3.1.6.{u}.{o}.14", I, V_OUT_STATE, 0, 0, 1, NULL, 0},
	RX_MEAS("4", "{u}.{o}", "23", V_IN_FREQ, 10),
	/* externalSensorMeasurementsTable (pduId.sensorID) */
	{RX ".5.5.3.1.2.{u}.{s}", I, V_CONST, 0, 1, 0, NULL, 0},
	{RX ".5.5.3.1.3.{u}.{s}", I, V_CONST, 0, 4, 0, NULL, 0},
	{RX ".5.5.3.1.4.{u}.{s}", I, V_SENSOR_VALUE, 0, 1, 0, NULL, 0},
	{RX ".5.5.3.1.5.{u}.{s}", G, V_UNIXTIME, 0, 0, 0, NULL, 0},
};

/* EATON-EPDU-MIB — eaton-epdu-ma-24out.snmprec. Strongly indexed: unit
 * (0-based daisy-chain position), input, then voltage/current/power index or
 * outlet. mV, mA, W, Wh, power factor x1000, frequency x10. */
#define EA "1.3.6.1.4.1.534.6.6.7"
static const struct mib_obj eaton_epdu[] = {
	SYSTEM_GROUP,
	{EA ".1.2.1.3.{U}", S, V_MODEL_STR, 0, 0, 0, NULL, 0},
	{EA ".1.2.1.4.{U}", S, V_SERIAL, 0, 0, 0, NULL, 0},
	{EA ".1.2.1.5.{U}", S, V_FIRMWARE, 0, 0, 0, NULL, 0},
	/* inputTable */
	{EA ".3.1.1.2.{U}.1", I, V_CONST, 0, 1, 0, NULL, 0},
	{EA ".3.1.1.3.{U}.1", I, V_IN_FREQ, 10, 0, 0, NULL, 0},
	{EA ".3.1.1.4.{U}.1", I, V_CONST, 0, 0, 0, NULL, 0},
	{EA ".3.1.1.5.{U}.1", I, V_N_LINES, 0, 0, 0, NULL, 0},
	{EA ".3.1.1.6.{U}.1", I, V_N_LINES, 0, 0, 0, NULL, 0},
	{EA ".3.1.1.7.{U}.1", I, V_N_LINES, 0, 0, 0, NULL, 0},
	{EA ".3.1.1.10.{U}.1", S, V_STR, 0, 0, 0, "Feed A", 0},
	/* inputVoltageTable */
	{EA ".3.2.1.2.{U}.1.{l}", I, V_ELEM, 0, 0, 0, NULL, 0},
	{EA ".3.2.1.3.{U}.1.{l}", I, V_LN_VOLTAGE, 1000, 0, 0, NULL, 0},
	{EA ".3.2.1.4.{U}.1.{l}", I, V_CONST, 0, 0, 0, NULL, 0},
	/* inputCurrentTable */
	{EA ".3.3.1.2.{U}.1.{l}", I, V_ELEM, 0, 0, 0, NULL, 0},
	{EA ".3.3.1.3.{U}.1.{l}", I, V_LN_RATING, 1000, 0, 0, NULL, 0},
	{EA ".3.3.1.4.{U}.1.{l}", I, V_LN_CURRENT, 1000, 0, 0, NULL, 0},
	{EA ".3.3.1.5.{U}.1.{l}", I, V_CONST, 0, 3, 0, NULL, 0},
	{EA ".3.3.1.6.{U}.1.{l}", I, V_CONST, 0, 0, 0, NULL, 0},
	{EA ".3.3.1.12.{U}.1.{l}", S, V_LN_NAME, 0, 0, 0, NULL, 0},
	/* inputPowerTable */
	{EA ".3.4.1.2.{U}.1.{l}", I, V_ELEM, 0, 0, 0, NULL, 0},
	{EA ".3.4.1.3.{U}.1.{l}", I, V_LN_VA, 1, 0, 0, NULL, 0},
	{EA ".3.4.1.4.{U}.1.{l}", I, V_LN_POWER, 1, 0, 0, NULL, 0},
	{EA ".3.4.1.5.{U}.1.{l}", G, V_LN_ENERGY, 1, 0, 0, NULL, 0},
	{EA ".3.4.1.6.{U}.1.{l}", G, V_CONST, 0, 0, 0, NULL, 0},
	{EA ".3.4.1.7.{U}.1.{l}", I, V_LN_PF, 1000, 0, 0, NULL, 0},
	{EA ".3.4.1.8.{U}.1.{l}", I, V_LN_VAR, 1, 0, 0, NULL, 0},
	/* inputTotalPowerTable */
	{EA ".3.5.1.3.{U}.1", I, V_IN_VA, 1, 0, 0, NULL, 0},
	{EA ".3.5.1.4.{U}.1", I, V_IN_POWER, 1, 0, 0, NULL, 0},
	{EA ".3.5.1.5.{U}.1", G, V_IN_ENERGY, 1, 0, 0, NULL, 0},
	{EA ".3.5.1.6.{U}.1", G, V_CONST, 0, 0, 0, NULL, 0},
	{EA ".3.5.1.7.{U}.1", I, V_IN_PF, 1000, 0, 0, NULL, 0},
	{EA ".3.5.1.8.{U}.1", I, V_IN_VAR, 1, 0, 0, NULL, 0},
	/* outletTable */
	{EA ".6.1.1.2.{U}.{o}", S, V_RARITAN_OUTLET_LABEL, 0, 0, 0, NULL, 0},
	{EA ".6.1.1.3.{U}.{o}", S, V_OUT_NAME, 0, 0, 0, NULL, 0},
	{EA ".6.1.1.4.{U}.{o}", I, V_CONST, 0, 1, 0, NULL, 0},
	{EA ".6.1.1.5.{U}.{o}", I, V_CONST, 0, 22, 0, NULL, 0},
	{EA ".6.1.1.7.{U}.{o}", I, V_OUT_LINE, 0, 0, 0, NULL, 0},
	/* outletCurrentTable */
	{EA ".6.4.1.2.{U}.{o}", I, V_CONST, 0, 16000, 0, NULL, 0},
	{EA ".6.4.1.3.{U}.{o}", I, V_OUT_CURRENT, 1000, 0, 0, NULL, 0},
	{EA ".6.4.1.4.{U}.{o}", I, V_CONST, 0, 0, 0, NULL, 0},
	/* outletPowerTable */
	{EA ".6.5.1.2.{U}.{o}", I, V_OUT_VA, 1, 0, 0, NULL, 0},
	{EA ".6.5.1.3.{U}.{o}", I, V_OUT_POWER, 1, 0, 0, NULL, 0},
	{EA ".6.5.1.4.{U}.{o}", G, V_OUT_ENERGY, 1, 0, 0, NULL, 0},
	{EA ".6.5.1.5.{U}.{o}", G, V_CONST, 0, 0, 0, NULL, 0},
	{EA ".6.5.1.6.{U}.{o}", I, V_OUT_PF, 1000, 0, 0, NULL, 0},
	{EA ".6.5.1.7.{U}.{o}", I, V_OUT_VAR, 1, 0, 0, NULL, 0},
	/* outletControlTable: status off(0) on(1); commands take a delay in s,
	 * 0 = now, -1 = cancel */
	{EA ".6.6.1.2.{U}.{o}", I, V_OUT_STATE, 0, 0, 1, NULL, 0},
	{EA ".6.6.1.3.{U}.{o}", I, V_OUT_CTRL_EATON_OFF, 0, 0, 0, NULL, MIB_RW},
	{EA ".6.6.1.4.{U}.{o}", I, V_OUT_CTRL_EATON_ON, 0, 0, 0, NULL, MIB_RW},
	{EA ".6.6.1.5.{U}.{o}", I, V_OUT_CTRL_EATON_REBOOT, 0, 0, 0, NULL, MIB_RW},
	{EA ".6.6.1.6.{U}.{o}", I, V_CONST, 0, 1, 0, NULL, 0},
	{EA ".6.6.1.7.{U}.{o}", I, V_CONST, 0, 1, 0, NULL, 0},
	{EA ".6.6.1.8.{U}.{o}", I, V_CONST, 0, 10, 0, NULL, 0},
	{EA ".6.6.1.9.{U}.{o}", I, V_OUT_SWITCHABLE, 0, 2, 1, NULL, 0},
	{EA ".6.6.1.10.{U}.{o}", I, V_CONST, 0, 120, 0, NULL, 0},
};

/* Sentry4-MIB — servertech-sentry4-smart.snmprec (its outlet table, absent
 * from that recording, follows the MIB: st4OutletConfigTable .8.2,
 * st4OutletMonitorTable .8.3, st4OutletControlTable .8.5, indexed like the
 * other st4 tables by unit.cord.outlet). Voltage x10, current x100, power
 * factor x100, cord energy in tenths of kWh, outlet energy in Wh. */
#define ST "1.3.6.1.4.1.1718.4.1"
static const struct mib_obj sentry4[] = {
	SYSTEM_GROUP,
	{ST ".1.1.3.0", S, V_FIRMWARE, 0, 0, 0, NULL, 0},
	{ST ".2.2.1.4.{u}", S, V_SERIAL, 0, 0, 0, NULL, 0},
	{ST ".2.2.1.5.{u}", S, V_MODEL_STR, 0, 0, 0, NULL, 0},
	{ST ".2.3.1.1.{u}", I, V_CONST, 0, 0, 0, NULL, 0},
	/* st4InputCordConfigTable */
	{ST ".3.2.1.2.{u}.1", S, V_ST4_CORD_ID, 0, 0, 0, NULL, 0},
	{ST ".3.2.1.3.{u}.1", S, V_NAME, 0, 0, 0, NULL, 0},
	{ST ".3.2.1.7.{u}.1", I, V_NOMINAL_V, 10, 0, 0, NULL, 0},
	{ST ".3.2.1.10.{u}.1", I, V_IN_RATING, 1, 0, 0, NULL, 0},
	{ST ".3.2.1.20.{u}.1", I, V_N_LINES, 0, 0, 0, NULL, 0},
	{ST ".3.2.1.21.{u}.1", I, V_N_LINES, 0, 0, 0, NULL, 0},
	{ST ".3.2.1.22.{u}.1", I, V_N_BRANCHES, 0, 0, 0, NULL, 0},
	{ST ".3.2.1.23.{u}.1", I, V_N_BRANCHES, 0, 0, 0, NULL, 0},
	{ST ".3.2.1.24.{u}.1", I, V_N_OUTLETS, 0, 0, 0, NULL, 0},
	/* st4InputCordMonitorTable */
	{ST ".3.3.1.1.{u}.1", I, V_CONST, 0, 1, 0, NULL, 0},
	{ST ".3.3.1.2.{u}.1", I, V_CONST, 0, 0, 0, NULL, 0},
	{ST ".3.3.1.3.{u}.1", I, V_IN_POWER, 1, 0, 0, NULL, 0},
	{ST ".3.3.1.4.{u}.1", I, V_CONST, 0, 0, 0, NULL, 0},
	{ST ".3.3.1.5.{u}.1", I, V_IN_VA, 1, 0, 0, NULL, 0},
	{ST ".3.3.1.6.{u}.1", I, V_CONST, 0, 0, 0, NULL, 0},
	{ST ".3.3.1.7.{u}.1", I, V_IN_UTIL, 10, 0, 0, NULL, 0},
	{ST ".3.3.1.8.{u}.1", I, V_IN_PF, 100, 0, 0, NULL, 0},
	{ST ".3.3.1.9.{u}.1", I, V_CONST, 0, 0, 0, NULL, 0},
	{ST ".3.3.1.10.{u}.1", I, V_IN_ENERGY, 0.01, 0, 0, NULL, 0},
	{ST ".3.3.1.11.{u}.1", I, V_IN_FREQ, 10, 0, 0, NULL, 0},
	/* st4LineConfigTable / st4LineMonitorTable */
	{ST ".4.2.1.4.{u}.1.{l}", S, V_ST4_LINE_LABEL, 0, 0, 0, NULL, 0},
	{ST ".4.3.1.1.{u}.1.{l}", I, V_CONST, 0, 1, 0, NULL, 0},
	{ST ".4.3.1.2.{u}.1.{l}", I, V_CONST, 0, 0, 0, NULL, 0},
	{ST ".4.3.1.3.{u}.1.{l}", I, V_LN_CURRENT, 100, 0, 0, NULL, 0},
	/* st4PhaseConfigTable / st4PhaseMonitorTable */
	{ST ".5.2.1.4.{u}.1.{l}", S, V_ST4_PHASE_LABEL, 0, 0, 0, NULL, 0},
	{ST ".5.3.1.1.{u}.1.{l}", I, V_CONST, 0, 1, 0, NULL, 0},
	{ST ".5.3.1.2.{u}.1.{l}", I, V_CONST, 0, 0, 0, NULL, 0},
	{ST ".5.3.1.3.{u}.1.{l}", I, V_LN_VOLTAGE, 10, 0, 0, NULL, 0},
	{ST ".5.3.1.4.{u}.1.{l}", I, V_CONST, 0, 0, 0, NULL, 0},
	{ST ".5.3.1.6.{u}.1.{l}", I, V_LN_CURRENT, 100, 0, 0, NULL, 0},
	{ST ".5.3.1.8.{u}.1.{l}", I, V_LN_POWER, 1, 0, 0, NULL, 0},
	{ST ".5.3.1.11.{u}.1.{l}", I, V_CONST, 0, 0, 0, NULL, 0},
	/* st4BranchConfigTable / st4BranchMonitorTable */
	{ST ".7.2.1.4.{u}.1.{b}", S, V_ST4_BRANCH_LABEL, 0, 0, 0, NULL, 0},
	{ST ".7.3.1.1.{u}.1.{b}", I, V_BR_TRIP, 0, 1, 0, NULL, 0},
	{ST ".7.3.1.2.{u}.1.{b}", I, V_CONST, 0, 0, 0, NULL, 0},
	{ST ".7.3.1.3.{u}.1.{b}", I, V_BR_CURRENT, 100, 0, 0, NULL, 0},
	{ST ".7.3.1.4.{u}.1.{b}", I, V_CONST, 0, 0, 0, NULL, 0},
	/* st4OutletConfigTable */
	{ST ".8.2.1.2.{u}.1.{o}", S, V_ST4_OUTLET_ID, 0, 0, 0, NULL, 0},
	{ST ".8.2.1.3.{u}.1.{o}", S, V_OUT_NAME, 0, 0, 0, NULL, 0},
	/* st4OutletMonitorTable */
	{ST ".8.3.1.1.{u}.1.{o}", I, V_OUT_STATE, 0, 0, 1, NULL, 0},
	{ST ".8.3.1.2.{u}.1.{o}", I, V_CONST, 0, 0, 0, NULL, 0},
	{ST ".8.3.1.3.{u}.1.{o}", I, V_OUT_CURRENT, 100, 0, 0, NULL, 0},
	{ST ".8.3.1.4.{u}.1.{o}", I, V_CONST, 0, 0, 0, NULL, 0},
	{ST ".8.3.1.6.{u}.1.{o}", I, V_OUT_VOLTAGE, 10, 0, 0, NULL, 0},
	{ST ".8.3.1.7.{u}.1.{o}", I, V_OUT_POWER, 1, 0, 0, NULL, 0},
	{ST ".8.3.1.9.{u}.1.{o}", I, V_OUT_VA, 1, 0, 0, NULL, 0},
	{ST ".8.3.1.10.{u}.1.{o}", I, V_OUT_PF, 100, 0, 0, NULL, 0},
	{ST ".8.3.1.14.{u}.1.{o}", I, V_OUT_ENERGY, 1, 0, 0, NULL, 0},
	/* st4OutletControlTable: action none(0) on(1) off(2) reboot(3)
	 * queueOn(4) queueOff(5) queueReboot(6) */
	{ST ".8.5.1.1.{u}.1.{o}", I, V_OUT_ST4_STATE, 0, 0, 0, NULL, 0},
	{ST ".8.5.1.2.{u}.1.{o}", I, V_OUT_CTRL_ST4, 0, 0, 0, NULL, MIB_RW},
	/* st4TempSensorConfigTable / MonitorTable (tenths of a degree) */
	{ST ".9.2.1.2.{u}.1", S, V_ST4_CORD_ID, 0, 0, 0, NULL, 0},
	{ST ".9.3.1.1.{u}.1", I, V_TEMP, 10, 0, 0, NULL, 0},
	{ST ".9.3.1.2.{u}.1", I, V_CONST, 0, 0, 0, NULL, 0},
	{ST ".10.2.1.2.{u}.1", S, V_ST4_CORD_ID, 0, 0, 0, NULL, 0},
	{ST ".10.3.1.1.{u}.1", I, V_HUMID, 1, 0, 0, NULL, 0},
	{ST ".10.3.1.2.{u}.1", I, V_CONST, 0, 0, 0, NULL, 0},
};

/* RFC 1628 UPS-MIB — eaton-93e-80kva-ups / generex-cs141-abb-ups.snmprec.
 * Frequencies x10, currents x10, battery voltage x10, runtime in minutes. */
#define UM "1.3.6.1.2.1.33.1"
static const struct mib_obj ups_mib[] = {
	SYSTEM_GROUP,
	{UM ".1.1.0", S, V_STR, 0, 0, 0, "wattrack-sim", 0},
	{UM ".1.2.0", S, V_MODEL_STR, 0, 0, 0, NULL, 0},
	{UM ".1.3.0", S, V_FIRMWARE, 0, 0, 0, NULL, 0},
	{UM ".1.4.0", S, V_FIRMWARE, 0, 0, 0, NULL, 0},
	{UM ".1.5.0", S, V_NAME, 0, 0, 0, NULL, 0},
	{UM ".1.6.0", S, V_STR, 0, 0, 0, "", 0},
	/* battery: status normal(2) low(3) */
	{UM ".2.1.0", I, V_UPS_BATT_STATUS, 0, 2, 3, NULL, 0},
	{UM ".2.2.0", I, V_UPS_SEC_ON_BATT, 1, 0, 0, NULL, 0},
	{UM ".2.3.0", I, V_UPS_RUNTIME, 1.0 / 60.0, 0, 0, NULL, 0},
	{UM ".2.4.0", I, V_UPS_CHARGE, 1, 0, 0, NULL, 0},
	{UM ".2.5.0", I, V_UPS_BATT_V, 10, 0, 0, NULL, 0},
	{UM ".2.6.0", I, V_UPS_BATT_I, 10, 0, 0, NULL, 0},
	{UM ".2.7.0", I, V_UPS_BATT_TEMP, 1, 0, 0, NULL, 0},
	/* input */
	{UM ".3.1.0", C32, V_CONST, 0, 0, 0, NULL, 0},
	{UM ".3.2.0", I, V_UPS_N_LINES, 0, 0, 0, NULL, 0},
	{UM ".3.3.1.2.{p}", I, V_UPS_IN_FREQ, 10, 0, 0, NULL, 0},
	{UM ".3.3.1.3.{p}", I, V_UPS_IN_V, 1, 0, 0, NULL, 0},
	{UM ".3.3.1.4.{p}", I, V_UPS_IN_I, 10, 0, 0, NULL, 0},
	{UM ".3.3.1.5.{p}", I, V_UPS_IN_P, 1, 0, 0, NULL, 0},
	/* output: source normal(3) battery(5) */
	{UM ".4.1.0", I, V_UPS_OUT_SOURCE, 0, 3, 5, NULL, 0},
	{UM ".4.2.0", I, V_UPS_OUT_FREQ, 10, 0, 0, NULL, 0},
	{UM ".4.3.0", I, V_UPS_N_LINES, 0, 0, 0, NULL, 0},
	{UM ".4.4.1.2.{p}", I, V_UPS_OUT_V, 1, 0, 0, NULL, 0},
	{UM ".4.4.1.3.{p}", I, V_UPS_OUT_I, 10, 0, 0, NULL, 0},
	{UM ".4.4.1.4.{p}", I, V_UPS_OUT_P, 1, 0, 0, NULL, 0},
	{UM ".4.4.1.5.{p}", I, V_UPS_OUT_LOAD, 1, 0, 0, NULL, 0},
	/* bypass */
	{UM ".5.1.0", I, V_UPS_BYP_FREQ, 10, 0, 0, NULL, 0},
	{UM ".5.2.0", I, V_UPS_N_LINES, 0, 0, 0, NULL, 0},
	{UM ".5.3.1.2.{p}", I, V_UPS_BYP_V, 1, 0, 0, NULL, 0},
	{UM ".5.3.1.3.{p}", I, V_UPS_BYP_I, 10, 0, 0, NULL, 0},
	{UM ".5.3.1.4.{p}", I, V_UPS_BYP_P, 1, 0, 0, NULL, 0},
	/* alarms */
	{UM ".6.1.0", G, V_UPS_ALARMS, 0, 0, 0, NULL, 0},
	/* config */
	{UM ".9.1.0", I, V_UPS_NOMINAL_V, 1, 0, 0, NULL, 0},
	{UM ".9.2.0", I, V_CONST, 0, 500, 0, NULL, 0},
	{UM ".9.3.0", I, V_UPS_NOMINAL_V, 1, 0, 0, NULL, 0},
	{UM ".9.4.0", I, V_CONST, 0, 500, 0, NULL, 0},
	{UM ".9.5.0", I, V_UPS_RATING_VA, 1, 0, 0, NULL, 0},
	{UM ".9.6.0", I, V_UPS_RATING_W, 1, 0, 0, NULL, 0},
	{UM ".9.7.0", I, V_CONST, 0, 3, 0, NULL, 0},
};

/* APC PowerNet-MIB UPS — apc-smt750-nmc2-ups.snmprec: upsBasic, upsAdv and
 * upsHighPrec (tenths). Output status onLine(2) onBattery(3); battery status
 * normal(2) low(3); runtime in TimeTicks. */
#define AU "1.3.6.1.4.1.318.1.1.1"
static const struct mib_obj apc_ups[] = {
	SYSTEM_GROUP,
	{AU ".1.1.1.0", S, V_MODEL_STR, 0, 0, 0, NULL, 0},
	{AU ".1.1.2.0", S, V_NAME, 0, 0, 0, NULL, 0},
	{AU ".1.2.1.0", S, V_FIRMWARE, 0, 0, 0, NULL, 0},
	{AU ".1.2.3.0", S, V_SERIAL, 0, 0, 0, NULL, 0},
	{AU ".2.1.1.0", I, V_UPS_BATT_STATUS, 0, 2, 3, NULL, 0},
	{AU ".2.1.2.0", TT, V_UPS_SEC_ON_BATT, 100, 0, 0, NULL, 0},
	{AU ".2.2.1.0", G, V_UPS_CHARGE, 1, 0, 0, NULL, 0},
	{AU ".2.2.2.0", G, V_UPS_BATT_TEMP, 1, 0, 0, NULL, 0},
	{AU ".2.2.3.0", TT, V_UPS_RUNTIME, 100, 0, 0, NULL, 0},
	{AU ".2.2.4.0", I, V_CONST, 0, 1, 0, NULL, 0},
	{AU ".2.3.1.0", G, V_UPS_CHARGE, 10, 0, 0, NULL, 0},
	{AU ".2.3.2.0", G, V_UPS_BATT_TEMP, 10, 0, 0, NULL, 0},
	{AU ".2.3.4.0", I, V_UPS_BATT_V, 10, 0, 0, NULL, 0},
	{AU ".3.2.1.0", G, V_UPS_IN_V1, 1, 0, 0, NULL, 0},
	{AU ".3.2.4.0", G, V_UPS_IN_FREQ, 1, 0, 0, NULL, 0},
	{AU ".3.3.1.0", G, V_UPS_IN_V1, 10, 0, 0, NULL, 0},
	{AU ".3.3.4.0", G, V_UPS_IN_FREQ, 10, 0, 0, NULL, 0},
	{AU ".4.1.1.0", I, V_UPS_OUT_SOURCE, 0, 2, 3, NULL, 0},
	{AU ".4.2.1.0", G, V_UPS_OUT_V1, 1, 0, 0, NULL, 0},
	{AU ".4.2.2.0", G, V_UPS_OUT_FREQ, 1, 0, 0, NULL, 0},
	{AU ".4.2.3.0", G, V_UPS_LOAD_PCT, 1, 0, 0, NULL, 0},
	{AU ".4.2.4.0", G, V_UPS_OUT_I1, 1, 0, 0, NULL, 0},
	{AU ".4.3.1.0", G, V_UPS_OUT_V1, 10, 0, 0, NULL, 0},
	{AU ".4.3.2.0", G, V_UPS_OUT_FREQ, 10, 0, 0, NULL, 0},
	{AU ".4.3.3.0", G, V_UPS_LOAD_PCT, 10, 0, 0, NULL, 0},
	{AU ".4.3.4.0", G, V_UPS_OUT_I1, 10, 0, 0, NULL, 0},
};

/* TRIPPLITE-PRODUCTS tlpAts — tripplite-pdumh20atnet-ats-pdu.snmprec (a
 * PDUMH20ATNET: switched PDU behind an automatic transfer switch). Rows are
 * indexed by tlpDeviceIndex (the unit, 1) then source / phase / outlet. Both
 * input sources carry the unit's supply. Voltage and frequency in tenths,
 * output current in hundredths of A (Gauge32, the voltage an INTEGER, as
 * recorded). Outlets: state off(1) on(2), controllable TruthValue true(1)
 * false(2), command idle(0) turnOff(1) turnOn(2) cycle(3) (the MIB's
 * tlpAtsOutletCommand, entry column 6; it always reads 0). */
#define TL "1.3.6.1.4.1.850.1.1"
static const struct mib_obj tripplite_ats[] = {
	SYSTEM_GROUP,
	/* tlpDeviceTable */
	{TL ".1.1.0", G, V_N_UNITS, 0, 0, 0, NULL, 0},
	{TL ".1.2.1.1.{u}", G, V_UNIT, 0, 0, 0, NULL, 0},
	{TL ".1.2.1.2.{u}", I, V_CONST, 0, 1, 0, NULL, 0},
	{TL ".1.2.1.3.{u}", OI, V_OIDV, 0, 0, 0, "1.3.6.1.4.1.850.1.1.3.4", 0},
	{TL ".1.2.1.4.{u}", S, V_STR, 0, 0, 0, "TRIPP LITE", 0},
	{TL ".1.2.1.5.{u}", S, V_MODEL_STR, 0, 0, 0, NULL, 0},
	{TL ".1.2.1.6.{u}", S, V_NAME, 0, 0, 0, NULL, 0},
	{TL ".1.2.1.10.{u}", I, V_CONST, 0, 2, 0, NULL, 0},
	/* tlpDeviceIdentTable */
	{TL ".2.1.1.4.{u}", S, V_FIRMWARE, 0, 0, 0, NULL, 0},
	{TL ".2.1.1.5.{u}", S, V_SERIAL, 0, 0, 0, NULL, 0},
	/* tlpAtsIdentNumAts, tlpAtsIdentTable (2 sources, 1 phase, outlets) */
	{TL ".3.4.1.1.0", G, V_N_UNITS, 0, 0, 0, NULL, 0},
	{TL ".3.4.1.2.1.1.{u}", G, V_CONST, 0, 2, 0, NULL, 0},
	{TL ".3.4.1.2.1.2.{u}", G, V_N_LINES, 0, 0, 0, NULL, 0},
	{TL ".3.4.1.2.1.3.{u}", G, V_N_LINES, 0, 0, 0, NULL, 0},
	{TL ".3.4.1.2.1.4.{u}", G, V_N_OUTLETS, 0, 0, 0, NULL, 0},
	{TL ".3.4.1.2.1.6.{u}", G, V_N_BRANCHES, 0, 0, 0, NULL, 0},
	/* tlpAtsInputPhaseTable: <unit>.<phase 1>.<source> */
	{TL ".3.4.3.1.2.1.1.{u}.1.1", G, V_CONST, 0, 1, 0, NULL, 0},
	{TL ".3.4.3.1.2.1.1.{u}.1.2", G, V_CONST, 0, 2, 0, NULL, 0},
	{TL ".3.4.3.1.2.1.2.{u}.1.1", G, V_CONST, 0, 1, 0, NULL, 0},
	{TL ".3.4.3.1.2.1.2.{u}.1.2", G, V_CONST, 0, 2, 0, NULL, 0},
	{TL ".3.4.3.1.2.1.4.{u}.1.1", G, V_IN_FREQ, 10, 0, 0, NULL, 0},
	{TL ".3.4.3.1.2.1.4.{u}.1.2", G, V_IN_FREQ, 10, 0, 0, NULL, 0},
	{TL ".3.4.3.1.2.1.5.{u}.1.1", G, V_IN_VOLTAGE, 10, 0, 0, NULL, 0},
	{TL ".3.4.3.1.2.1.5.{u}.1.2", G, V_IN_VOLTAGE, 10, 0, 0, NULL, 0},
	/* tlpAtsOutputTable: <unit>.<phase> */
	{TL ".3.4.3.2.1.1.1.{u}.{l}", G, V_ELEM, 0, 0, 0, NULL, 0},
	{TL ".3.4.3.2.1.1.4.{u}.{l}", I, V_LN_VOLTAGE, 10, 0, 0, NULL, 0},
	{TL ".3.4.3.2.1.1.5.{u}.{l}", G, V_LN_CURRENT, 100, 0, 0, NULL, 0},
	{TL ".3.4.3.2.1.1.7.{u}.{l}", G, V_LN_CURRENT, 100, 0, 0, NULL, 0},
	{TL ".3.4.3.2.1.1.11.{u}.{l}", G, V_IN_FREQ, 10, 0, 0, NULL, 0},
	/* tlpAtsOutletTable: <unit>.<outlet> */
	{TL ".3.4.3.3.1.1.1.{u}.{o}", G, V_ELEM, 0, 0, 0, NULL, 0},
	{TL ".3.4.3.3.1.1.2.{u}.{o}", S, V_OUT_NAME, 0, 0, 0, NULL, 0},
	{TL ".3.4.3.3.1.1.4.{u}.{o}", I, V_OUT_STATE, 0, 1, 2, NULL, 0},
	{TL ".3.4.3.3.1.1.5.{u}.{o}", I, V_OUT_SWITCHABLE, 0, 2, 1, NULL, 0},
	{TL ".3.4.3.3.1.1.6.{u}.{o}", I, V_OUT_CTRL_TRIPPLITE, 0, 0, 0, NULL, MIB_RW},
	{TL ".3.4.3.3.1.1.15.{u}.{o}", I, V_OUT_BRANCH, 0, 0, 0, NULL, 0},
};

static const struct mib_model models[SIM_MODEL__COUNT] = {
	[SIM_MODEL_APC_RPDU2] = {"1.3.6.1.4.1.318.1.3.4.6", "AP8641", "APC", apc_rpdu2, N(apc_rpdu2)},
	[SIM_MODEL_RARITAN_PX3] = {"1.3.6.1.4.1.13742.6", "PX3-5493U-K2", "Raritan", raritan_px3,
				   N(raritan_px3)},
	[SIM_MODEL_EATON_EPDU] = {"1.3.6.1.4.1.534.6.6.7", "EMA114-10", "Eaton", eaton_epdu,
				  N(eaton_epdu)},
	[SIM_MODEL_SENTRY4] = {"1.3.6.1.4.1.1718.4", "C2S42CE-YCMFAM00", "Server Technology",
			       sentry4, N(sentry4)},
	[SIM_MODEL_UPS_MIB] = {"1.3.6.1.2.1.33", "UPS 80 kVA", "wattrack-sim", ups_mib, N(ups_mib)},
	[SIM_MODEL_APC_UPS] = {"1.3.6.1.4.1.318.1.3.27", "Smart-UPS X 750", "APC", apc_ups,
			       N(apc_ups)},
	/* their network cards answer the RFC 1628 UPS-MIB on a net-snmp agent
	 * (socomec-netvision-rfc-ups / huawei-ups5000-gse200m.snmprec) */
	[SIM_MODEL_SOCOMEC_UPS] = {"1.3.6.1.4.1.8072.3.2.10", "DELPHYS MX 60", "Socomec", ups_mib,
				   N(ups_mib)},
	[SIM_MODEL_HUAWEI_UPS] = {"1.3.6.1.4.1.8072.3.2.10", "UPS2000-A-3KTTS", "Huawei", ups_mib,
				  N(ups_mib)},
	[SIM_MODEL_TRIPPLITE_ATS] = {"1.3.6.1.4.1.850.1.1.1", "PDUMH20ATNET", "Tripp Lite",
				     tripplite_ats, N(tripplite_ats)},
};

const struct mib_model *mib_model_for(enum sim_model m)
{
	if ((unsigned)m >= SIM_MODEL__COUNT || !models[m].objs)
		return NULL;
	return &models[m];
}
