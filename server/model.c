#include "model.h"

#include <string.h>

static const struct wt_metric_info metrics[WT_M__COUNT] = {
	[WT_M_VOLTAGE] = {"voltage", "V", 0},
	[WT_M_VOLTAGE_PEAK] = {"voltage_peak", "V", 0},
	[WT_M_VOLTAGE_DIP] = {"voltage_dip", "V", 0},
	[WT_M_CURRENT] = {"current", "A", WT_MF_SUMMABLE},
	[WT_M_CURRENT_PEAK] = {"current_peak", "A", 0},
	[WT_M_NEUTRAL_CURRENT] = {"neutral_current", "A", WT_MF_SUMMABLE},
	[WT_M_RESIDUAL_CURRENT] = {"residual_current", "A", WT_MF_SUMMABLE},
	[WT_M_POWER_ACTIVE] = {"power_active", "W", WT_MF_SUMMABLE},
	[WT_M_POWER_APPARENT] = {"power_apparent", "VA", WT_MF_SUMMABLE},
	[WT_M_POWER_REACTIVE] = {"power_reactive", "var", WT_MF_SUMMABLE},
	[WT_M_POWER_FACTOR] = {"power_factor", "", 0},
	[WT_M_ENERGY_ACTIVE] = {"energy_active", "Wh", WT_MF_COUNTER | WT_MF_SUMMABLE},
	[WT_M_ENERGY_APPARENT] = {"energy_apparent", "VAh", WT_MF_COUNTER | WT_MF_SUMMABLE},
	[WT_M_FREQUENCY] = {"frequency", "Hz", 0},
	[WT_M_THD_VOLTAGE] = {"thd_voltage", "%", 0},
	[WT_M_THD_CURRENT] = {"thd_current", "%", 0},
	[WT_M_CREST_FACTOR] = {"crest_factor", "", 0},
	[WT_M_PHASE_ANGLE] = {"phase_angle", "deg", 0},
	[WT_M_TEMPERATURE] = {"temperature", "Cel", 0},
	[WT_M_HUMIDITY] = {"humidity", "%RH", 0},
	[WT_M_BATTERY_CHARGE] = {"battery_charge", "%", 0},
	[WT_M_BATTERY_RUNTIME] = {"battery_runtime", "s", 0},
	[WT_M_LOAD_PERCENT] = {"load_percent", "%", 0},
	[WT_M_OUTLET_STATE] = {"outlet_state", "", WT_MF_STATE},
	[WT_M_BREAKER_TRIPPED] = {"breaker_tripped", "", WT_MF_STATE},
	[WT_M_ON_BATTERY] = {"on_battery", "", WT_MF_STATE},
	[WT_M_LOW_BATTERY] = {"low_battery", "", WT_MF_STATE},
	[WT_M_OVERLOAD] = {"overload", "", WT_MF_STATE},
	[WT_M_CONTACT] = {"contact", "", WT_MF_STATE},
	[WT_M_LEAK] = {"leak", "", WT_MF_STATE},
	[WT_M_CURRENT_RATING] = {"current_rating", "A", 0},
	[WT_M_HEADROOM] = {"headroom", "A", 0},
};

static const char *const entity_kinds[WT_ENT__COUNT] = {
	[WT_ENT_TOTAL] = "total",   [WT_ENT_INLET] = "inlet",
	[WT_ENT_PHASE] = "phase",   [WT_ENT_BRANCH] = "branch",
	[WT_ENT_OUTLET] = "outlet", [WT_ENT_SENSOR] = "sensor",
	[WT_ENT_BATTERY] = "battery", [WT_ENT_BYPASS] = "bypass",
	[WT_ENT_OUTPUT] = "output",
};

const struct wt_metric_info *wt_metric_info(enum wt_metric m)
{
	if ((unsigned)m >= WT_M__COUNT)
		return NULL;
	return &metrics[m];
}

int wt_metric_by_name(const char *name)
{
	for (int i = 0; i < WT_M__COUNT; i++)
		if (strcmp(metrics[i].name, name) == 0)
			return i;
	return -1;
}

const char *wt_entity_kind_name(enum wt_entity_kind k)
{
	if ((unsigned)k >= WT_ENT__COUNT)
		return NULL;
	return entity_kinds[k];
}

int wt_entity_kind_by_name(const char *name)
{
	for (int i = 0; i < WT_ENT__COUNT; i++)
		if (strcmp(entity_kinds[i], name) == 0)
			return i;
	return -1;
}
