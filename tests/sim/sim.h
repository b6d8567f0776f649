/* sim.h — the device model of wattrack-sim: the fleet, its PDUs and UPSs,
 * their physics, outlet control and fault injection. Every protocol server
 * (SNMP, Modbus TCP, Redfish) and the control API read and change devices
 * only through this header.
 *
 * Threading: the whole simulator runs on one libevent loop. Nothing here is
 * thread-safe; call it from the loop thread only.
 *
 * Time: device state is brought up to date lazily. A protocol server calls
 * sim_device_update(dev, sim_now_ms(sim)) before it reads a device's values,
 * and then reads the plain fields below. Values are in SI units (V, A, W, VA,
 * Wh, degrees C, %, s); protocol servers scale them for their wire format. */
#ifndef WT_SIM_H
#define WT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_NAME_MAX 48
#define SIM_SECRET_MAX 64
#define SIM_MAX_UNITS 4     /* daisy-chained PDU units behind one address */
#define SIM_MAX_OUTLETS 48  /* per unit */
#define SIM_MAX_BRANCHES 12 /* per unit */
#define SIM_MAX_LINES 3     /* phases of an inlet / UPS line */
#define SIM_MAX_SENSORS 4   /* per unit */

enum sim_kind { SIM_KIND_PDU = 0, SIM_KIND_UPS };

/* A model fixes the MIB / register map / resource shape a device is served with. */
enum sim_model {
	SIM_MODEL_APC_RPDU2 = 0, /* APC PowerNet-MIB rPDU2 (SNMP) */
	SIM_MODEL_RARITAN_PX3,   /* Raritan PDU2-MIB (SNMP) */
	SIM_MODEL_EATON_EPDU,    /* EATON-EPDU-MIB (SNMP) */
	SIM_MODEL_SENTRY4,       /* ServerTech Sentry4-MIB (SNMP) */
	SIM_MODEL_UPS_MIB,       /* RFC 1628 UPS-MIB (SNMP) */
	SIM_MODEL_APC_UPS,       /* APC Smart-UPS: PowerNet upsBasic/upsAdv/upsHighPrec (SNMP)
				  * or the APC Modbus register map (Modbus) */
	SIM_MODEL_MODBUS_PDU,    /* the PDU register map of tests/sim/MODBUS-PDU-MAP.md */
	SIM_MODEL_REDFISH_PDU,   /* DSP0268 PowerDistribution, like DMTF public-pdu */
	SIM_MODEL_SOCOMEC_UPS,   /* Socomec Delphys, 3 lines: JBUS map (Modbus) or UPS-MIB (SNMP) */
	SIM_MODEL_HUAWEI_UPS,    /* Huawei UPS2000, 1 line: its Modbus map or UPS-MIB (SNMP) */
	SIM_MODEL_TRIPPLITE_ATS, /* Tripp Lite PDUMH..ATNET switched ATS/PDU: TRIPPLITE-PRODUCTS tlpAts (SNMP) */
	SIM_MODEL__COUNT
};

enum sim_proto { SIM_PROTO_SNMP = 0, SIM_PROTO_MODBUS, SIM_PROTO_REDFISH, SIM_PROTO__COUNT };

/* PDU wiring. For wye, line voltages are line-to-neutral; for delta, the
 * "phases" are the three line-to-line pairs L1-L2, L2-L3, L3-L1. */
enum sim_wiring { SIM_WIRING_1PH = 0, SIM_WIRING_WYE, SIM_WIRING_DELTA };

enum sim_outlet_action {
	SIM_OUTLET_NONE = 0,
	SIM_OUTLET_ON,
	SIM_OUTLET_OFF,
	SIM_OUTLET_REBOOT /* off, then on again after the device's reboot duration */
};

enum sim_auth_proto {
	SIM_AUTH_NONE = 0,
	SIM_AUTH_MD5,    /* HMAC-MD5-96 */
	SIM_AUTH_SHA1,   /* HMAC-SHA-96 */
	SIM_AUTH_SHA224, /* usmHMAC128SHA224AuthProtocol (RFC 7860) */
	SIM_AUTH_SHA256, /* usmHMAC192SHA256AuthProtocol */
	SIM_AUTH_SHA384, /* usmHMAC256SHA384AuthProtocol */
	SIM_AUTH_SHA512  /* usmHMAC384SHA512AuthProtocol */
};
enum sim_priv_proto { SIM_PRIV_NONE = 0, SIM_PRIV_DES, SIM_PRIV_AES128 };

/* SNMP error a device is told to answer with (fault injection). */
enum sim_snmp_err {
	SIM_SNMPERR_NONE = 0,
	SIM_SNMPERR_NOSUCHOBJECT, /* every varbind becomes noSuchObject */
	SIM_SNMPERR_TOOBIG,       /* error-status tooBig */
	SIM_SNMPERR_GENERR        /* error-status genErr */
};

/* Faults injected through the control API. All zero = a healthy device.
 * Each protocol server honours the generic ones through sim_fault_check()
 * and reads its own kind (snmp_error, http_status, modbus_exception). */
struct sim_faults {
	bool timeout;          /* never answer */
	uint32_t delay_ms;     /* answer this much later */
	uint8_t loss_pct;      /* drop this share of requests, 0..100 */
	bool garbage;          /* answer random bytes */
	bool truncated;        /* answer the first part of a valid response */
	bool disconnect;       /* TCP protocols: close the connection instead of answering */
	enum sim_snmp_err snmp_error;
	uint16_t snmp_max_size;   /* SNMP: largest response the agent sends (0 = 65000);
				   * a GET that does not fit answers tooBig, GETBULK stops early */
	uint16_t http_status;     /* Redfish: answer every request with this status (500, 401, ...) */
	uint8_t modbus_exception; /* Modbus: answer every request with this exception code */
};

/* Credentials a device accepts. Empty strings mean "not configured". */
struct sim_creds {
	char community_ro[SIM_SECRET_MAX]; /* v1/v2c read-only community */
	char community_rw[SIM_SECRET_MAX]; /* v1/v2c read-write community */
	/* a second, site-wide read community (--site-community), accepted besides
	 * community_ro on the device's own port only: on the shared port a
	 * community must name one device */
	char community_site[SIM_SECRET_MAX];
	char v3_user[SIM_NAME_MAX];        /* SNMPv3 USM user (noAuthNoPriv if auth NONE) */
	enum sim_auth_proto v3_auth;
	char v3_auth_pass[SIM_SECRET_MAX];
	enum sim_priv_proto v3_priv;
	char v3_priv_pass[SIM_SECRET_MAX];
	char v3_context[SIM_NAME_MAX]; /* contextName that selects this device on the shared port */
	char http_user[SIM_NAME_MAX];  /* Redfish basic auth / session login */
	char http_pass[SIM_SECRET_MAX];
};

/* Where the device answers. Ports are on the fleet's bind address (127.0.0.1). */
struct sim_endpoint {
	uint16_t snmp_port;  /* own UDP port in port-range mode, else the shared port */
	uint16_t modbus_port; /* Modbus TCP port (shared by several unit ids) */
	uint8_t modbus_unit;  /* Modbus unit id on that port */
	uint16_t http_port;   /* Redfish over HTTP, 0 = none */
	uint16_t https_port;  /* Redfish over HTTPS, 0 = none */
};

/* Placement hints, written to the fleet JSON so wattrack can be configured alike. */
struct sim_place {
	char room[SIM_NAME_MAX];
	char row[SIM_NAME_MAX];
	char rack[SIM_NAME_MAX];
	char feed; /* 'A'..'D', or 0 for none */
	uint8_t u_position;
};

/* A load profile: P(t) = base + step + cycle * sin(2 pi (t / 1 day) + phase)
 * + noise * n(t), n deterministic from the device seed, in [-1, 1]. */
struct sim_load {
	float base_w;
	float noise_w;
	float cycle_w;
	float cycle_phase; /* radians */
	float step_w;      /* added by a control-API load step */
	float pf;          /* power factor, 0 < pf <= 1 */
};

struct sim_outlet {
	char name[SIM_NAME_MAX];
	uint8_t line;   /* index into the unit's lines[] this outlet draws from */
	uint8_t branch; /* index into the unit's branches[] */
	bool switchable;
	bool metered;
	bool on;
	/* A delayed or two-step action: at pending_at_ms, do pending_action. */
	enum sim_outlet_action pending_action;
	int64_t pending_at_ms;
	struct sim_load load;
	/* Live values (after sim_device_update). */
	double voltage_v;
	double current_a;
	double power_w;
	double apparent_va;
	double pf;
	double energy_wh; /* monotonic except on a device reboot */
};

struct sim_branch {
	char name[SIM_NAME_MAX];
	uint8_t line;    /* the line it sits on */
	float rating_a;
	bool tripped;    /* a tripped breaker cuts its outlets (they draw 0) */
	double current_a;
	double power_w;
	double energy_wh;
};

/* One line of an inlet (L1/L2/L3, or L1-L2/L2-L3/L3-L1 for delta). */
struct sim_line {
	double voltage_v;
	double current_a;
	double power_w;
	double apparent_va;
	double pf;
	double energy_wh;
	float rating_a;
};

enum sim_sensor_kind { SIM_SENSOR_TEMPERATURE = 0, SIM_SENSOR_HUMIDITY };
struct sim_sensor {
	enum sim_sensor_kind kind;
	char name[SIM_NAME_MAX];
	float base;  /* degrees C or % RH around which it drifts */
	double value;
};

/* One PDU unit; several units daisy-chained behind one address form one device. */
struct sim_pdu_unit {
	uint8_t n_lines;    /* 1 (single phase) or 3 */
	uint8_t n_branches;
	uint8_t n_outlets;
	uint8_t n_sensors;
	float rating_a;     /* inlet rating */
	struct sim_line lines[SIM_MAX_LINES];
	struct sim_branch branches[SIM_MAX_BRANCHES];
	struct sim_outlet *outlets; /* n_outlets */
	struct sim_sensor sensors[SIM_MAX_SENSORS];
	/* Inlet totals. */
	double voltage_v;   /* line 1 voltage (the inlet's nominal reading) */
	double current_a;   /* sum of line currents (single phase: the one line) */
	double neutral_a;   /* wye: |vector sum| of line currents; 1ph: the line current; delta: 0 */
	double power_w;
	double apparent_va;
	double pf;
	double frequency_hz;
	double energy_wh;   /* monotonic except on a device reboot */
	double energy_vah;
};

struct sim_pdu {
	enum sim_wiring wiring;
	float nominal_v;    /* line-to-neutral (1ph/wye) or line-to-line (delta) */
	uint8_t n_units;
	struct sim_pdu_unit units[SIM_MAX_UNITS];
};

/* A UPS line group (input, output or bypass) with up to three phases. */
struct sim_ups_lines {
	double voltage_v[SIM_MAX_LINES];
	double current_a[SIM_MAX_LINES];
	double power_w[SIM_MAX_LINES];
	double apparent_va[SIM_MAX_LINES];
	double load_pct[SIM_MAX_LINES]; /* output only */
	double frequency_hz;
};

struct sim_ups {
	uint8_t n_lines;        /* 1 or 3 */
	float nominal_v;
	float rating_va;
	float rating_w;
	float battery_capacity_wh; /* usable energy at 100 % */
	float battery_nominal_v;
	float low_battery_pct;  /* low-battery below this charge */
	struct sim_load load;   /* the protected load */
	bool mains_failed;      /* control API: input power lost */
	bool output_off;        /* output switched off: no load, no drain (Modbus/SNMP control) */
	/* Live values. */
	struct sim_ups_lines input, output, bypass;
	double load_pct;        /* output power / rating, worst of W and VA */
	double battery_charge_pct;
	double battery_runtime_s;
	double battery_voltage_v;
	double battery_current_a;  /* positive while discharging */
	double battery_temp_c;
	double seconds_on_battery;
	bool on_battery;
	bool low_battery;
	bool overload;
	double output_energy_wh;   /* monotonic except on a device reboot */
};

struct sim_device {
	uint32_t id;         /* 0-based index in the fleet */
	enum sim_kind kind;
	enum sim_model model;
	enum sim_proto proto;
	char name[SIM_NAME_MAX];
	char serial[SIM_NAME_MAX];
	char firmware[SIM_NAME_MAX];
	char mac[18];
	uint64_t seed;       /* physics noise and identity are deterministic from this */
	int64_t boot_ms;     /* last (re)boot, Unix ms; sysUpTime counts from here */
	uint32_t boots;      /* SNMPv3 engineBoots */
	uint32_t reboot_s;   /* outlet reboot off-time */
	struct sim_endpoint ep;
	struct sim_creds creds;
	struct sim_place place;
	struct sim_faults faults;
	int64_t updated_ms;  /* physics is current up to here */
	uint64_t requests;   /* protocol requests seen (for the control API) */
	union {
		struct sim_pdu pdu;
		struct sim_ups ups;
	};
};

struct sim_index; /* private lookup tables */

struct sim {
	size_t n_devices;
	struct sim_device **devices; /* n_devices, devices[i]->id == i */
	char bind_addr[64];          /* always a loopback address */
	uint16_t snmp_port;          /* the shared SNMP UDP port */
	uint16_t snmp_port_base;     /* port-range mode: device i on base + i; 0 = off */
	uint16_t control_port;
	double time_scale;           /* simulated seconds per real second (default 1) */
	int64_t start_ms;            /* real time the simulator started */
	int64_t (*now_fn)(void *ctx); /* override for tests; NULL = real clock */
	void *now_ctx;
	struct sim_index *index;
};

/* --- fleet lifecycle (sim.c, sim_fleet.c) --- */

/* A new empty fleet bound to 127.0.0.1; NULL on allocation failure. */
struct sim *sim_new(void);
/* Frees the fleet and every device. NULL is fine. */
void sim_free(struct sim *sim);
/* Appends a device of that model with default identity, layout and load;
 * n_outlets (0 = model default) per unit, n_units daisy-chained (PDUs only). */
struct sim_device *sim_add_device(struct sim *sim, enum sim_model model, enum sim_proto proto,
				  enum sim_wiring wiring, unsigned n_units, unsigned n_outlets);
/* Rebuilds the lookup indexes after devices or credentials change; 0 or -errno. */
__attribute__((warn_unused_result)) int sim_reindex(struct sim *sim);

/* Current simulated time in Unix ms (real clock times time_scale, or now_fn). */
int64_t sim_now_ms(const struct sim *sim);

/* --- lookups (NULL if none) --- */
struct sim_device *sim_find_id(const struct sim *sim, uint32_t id);
struct sim_device *sim_find_name(const struct sim *sim, const char *name);
/* The SNMP device whose read-only or read-write community is c; *rw tells which. */
struct sim_device *sim_find_community(const struct sim *sim, const char *c, size_t len, bool *rw);
/* The SNMPv3 device selected by contextName (exact match). */
struct sim_device *sim_find_context(const struct sim *sim, const char *ctx, size_t len);
/* The SNMP device in port-range mode listening on port. */
struct sim_device *sim_find_snmp_port(const struct sim *sim, uint16_t port);
/* The Modbus device on (port, unit id). */
struct sim_device *sim_find_modbus(const struct sim *sim, uint16_t port, uint8_t unit);
/* The Redfish device on that HTTP or HTTPS port. */
struct sim_device *sim_find_http_port(const struct sim *sim, uint16_t port);

/* --- physics and control (sim_physics.c) --- */

/* Brings the device's physics up to now_ms: runs due delayed outlet actions,
 * integrates energy and battery, recomputes every live value. Cheap when
 * called again within the same millisecond. */
void sim_device_update(struct sim_device *dev, int64_t now_ms);
/* Recomputes live values at now_ms after a direct state change (outlet,
 * breaker, mains, output flags) without integrating any extra energy. */
void sim_device_refresh(struct sim_device *dev, int64_t now_ms);
/* Switches an outlet (unit and outlet 0-based) now or after delay_s seconds.
 * 0, -ENOENT (no such unit/outlet), -EPERM (not switchable), -EINVAL. */
__attribute__((warn_unused_result)) int sim_outlet_control(struct sim_device *dev, unsigned unit,
							  unsigned outlet,
							  enum sim_outlet_action action,
							  unsigned delay_s, int64_t now_ms);
/* Reboots the device: uptime and energy counters restart, engineBoots grows. */
void sim_device_reboot(struct sim_device *dev, int64_t now_ms);
/* Adds watts to one outlet's load (PDU) or to the load (UPS; outlet ignored). 0 or -ENOENT. */
__attribute__((warn_unused_result)) int sim_load_step(struct sim_device *dev, unsigned unit,
						     unsigned outlet, double watts, int64_t now_ms);
/* Cuts (failed=true) or restores the mains of a UPS. 0 or -EINVAL for a PDU. */
__attribute__((warn_unused_result)) int sim_ups_mains(struct sim_device *dev, bool failed,
						     int64_t now_ms);
/* Total outlets over all units of a PDU (0 for a UPS). */
unsigned sim_pdu_outlet_count(const struct sim_device *dev);
/* Uptime in hundredths of a second (sysUpTime). */
uint32_t sim_uptime_ticks(const struct sim_device *dev, int64_t now_ms);

/* --- fault injection (sim_fault.c) --- */

enum sim_fault_action {
	SIM_FA_ANSWER = 0, /* answer normally (maybe after *delay_ms) */
	SIM_FA_DROP,       /* do not answer: timeout or loss */
	SIM_FA_GARBAGE,    /* answer random bytes (sim_fault_garbage) */
	SIM_FA_TRUNCATE,   /* answer a prefix of the real response (sim_fault_truncate_len) */
	SIM_FA_ERROR,      /* answer the protocol's own error: faults.snmp_error,
			    * faults.http_status or faults.modbus_exception */
	SIM_FA_DISCONNECT  /* TCP protocols: close the connection (UDP: drop) */
};
/* Called by every protocol server once per request, before answering. Counts
 * the request, rolls the loss dice and returns what to do; *delay_ms gets the
 * delay to apply before sending (0 = none). */
enum sim_fault_action sim_fault_check(struct sim_device *dev, enum sim_proto proto,
				      uint32_t *delay_ms);
/* Fills buf with len deterministic-looking random bytes. */
void sim_fault_garbage(struct sim_device *dev, uint8_t *buf, size_t len);
/* Length to send of a len-byte response under the truncated fault (>= 1, < len). */
size_t sim_fault_truncate_len(size_t len);

/* --- names --- */
const char *sim_model_name(enum sim_model m);   /* "apc-rpdu2", ... */
int sim_model_by_name(const char *s);            /* -1 if unknown */
const char *sim_proto_name(enum sim_proto p);   /* "snmp", "modbus", "redfish" */
int sim_proto_by_name(const char *s);
const char *sim_wiring_name(enum sim_wiring w); /* "1ph", "wye", "delta" */
int sim_wiring_by_name(const char *s);
enum sim_kind sim_model_kind(enum sim_model m);

#endif
