/* sim_modbus.c — Modbus TCP server of wattrack-sim.
 *
 * One listener per Modbus port of the fleet; several unit ids per port (a
 * daisy chain behind one gateway). MBAP framing is done by hand on
 * bufferevents, so thousands of connections cost one loop and no threads.
 *
 * Register maps are data (struct mb_block / struct mb_field tables below):
 * the APC Smart-UPS, Socomec Delphys JBUS and Huawei UPS2000 maps follow
 * realdata/modbus (one registers file each), and the PDU map is documented in
 * tests/sim/MODBUS-PDU-MAP.md (with the UPS maps' particulars). A read walks
 * the fields overlapping the requested span; values are computed from the
 * live device state at request time. Faults come from sim_fault_check() per
 * request; a delayed answer holds the connection's later answers, so they
 * keep their order like on a serial gateway. */
#include "sim_modbus.h"

#include "log.h"
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* ---- protocol constants ---- */

#define MB_FC_READ_HOLDING 3
#define MB_FC_READ_INPUT 4
#define MB_FC_WRITE_SINGLE 6
#define MB_FC_WRITE_MULTIPLE 16
#define MB_FC_DEVICE_ID 43 /* encapsulated interface, MEI type 14: read device identification */

#define MB_EX_ILLEGAL_FUNCTION 1
#define MB_EX_ILLEGAL_ADDRESS 2
#define MB_EX_ILLEGAL_VALUE 3
#define MB_EX_DEVICE_FAILURE 4
#define MB_EX_GATEWAY_TARGET 11 /* gateway: target device failed to respond */

#define MB_MAX_READ 125  /* registers per read (Modbus spec) */
#define MB_MAX_WRITE 123 /* registers per FC16 */
#define MB_MBAP_LEN 7
#define MB_MAX_ADU 260
#define MB_IDLE_TIMEOUT_S 300 /* idle clients are closed, like real gateways do */
/* Answers queued for a client that does not read: above HIGH the connection
 * stops reading requests until the queue drains below LOW (bounded memory). */
#define MB_OUT_HIGH (256 * 1024)
#define MB_OUT_LOW (64 * 1024)

/* ---- register maps as data ---- */

enum mb_type {
	T_U16 = 0,
	T_S16,
	T_U32, /* big-endian word order: first register = high word */
	T_S32,
	T_U32_LE, /* little-endian word order: first register = low word */
	T_F32,    /* IEEE 754, big-endian word order (ABCD) */
	T_F32_LE, /* IEEE 754, word-swapped (CDAB) */
	T_STR,    /* ASCII, two characters per register, high byte first */
	T_STR_LO  /* ASCII, two characters per register, low byte first (Socomec) */
};

enum {
	TAB_HOLDING = 1u << 0,
	TAB_INPUT = 1u << 1
};
enum {
	F_WRITE = 1u << 0
};

/* Which instances a block repeats over. */
enum mb_per {
	PER_ONE = 0,
	PER_LINE,
	PER_BRANCH,
	PER_OUTLET,
	PER_SENSOR
};

struct mb_field {
	uint16_t off;  /* register offset inside one block instance */
	uint8_t type;  /* enum mb_type */
	uint8_t nregs; /* T_STR only; other types imply their size */
	float scale;   /* raw = round(value * scale) */
	uint16_t src;  /* model-specific value id */
	uint8_t flags; /* F_* */
	uint8_t arg;   /* added to the instance: the outlet group of an APC group field */
};

struct mb_block {
	uint8_t tables; /* TAB_* this block is readable through */
	uint16_t start;
	uint16_t stride; /* registers per instance */
	uint8_t per;     /* enum mb_per */
	const struct mb_field *fields;
	size_t n_fields;
};

struct mb_ctx {
	struct sim_device *dev;
	unsigned unit; /* PDU unit in the daisy chain */
	int64_t now_ms;
};

struct mb_model {
	const char *name;
	uint8_t tables; /* tables the device implements at all (else illegal function) */
	const struct mb_block *blocks;
	size_t n_blocks;
	/* Numeric value of src for instance inst; false = not available. */
	bool (*value)(const struct mb_ctx *c, uint16_t src, unsigned inst, double *v);
	/* String value of src into buf (NUL padded to len). */
	void (*string)(const struct mb_ctx *c, uint16_t src, unsigned inst, char *buf, size_t len);
	/* Applies a write of a whole field; 0 or a Modbus exception code. */
	int (*write)(const struct mb_ctx *c, const struct mb_field *f, unsigned inst,
		     const uint16_t *words);
};

static unsigned field_regs(const struct mb_field *f)
{
	switch (f->type) {
	case T_U16:
	case T_S16:
		return 1;
	case T_STR:
	case T_STR_LO:
		return f->nregs;
	default:
		return 2;
	}
}

static uint16_t clamp_u16(double r)
{
	if (!(r >= 0))
		return 0;
	return r > 65535 ? 65535 : (uint16_t)r;
}

static uint16_t clamp_s16(double r)
{
	if (r < -32768)
		r = -32768;
	if (r > 32767)
		r = 32767;
	return (uint16_t)(int16_t)r;
}

/* Encodes one field's value into words[field_regs(f)]. */
static void encode_field(const struct mb_model *m, const struct mb_ctx *c, const struct mb_field *f,
			 unsigned inst, uint16_t *words)
{
	double v = 0;
	bool ok;
	uint32_t u = 0;

	if (f->type == T_STR || f->type == T_STR_LO) {
		char s[2 * 64 + 1];
		unsigned n = f->nregs > 64 ? 64 : f->nregs;
		memset(s, 0, sizeof(s));
		m->string(c, f->src, inst + f->arg, s, 2 * n);
		for (unsigned i = 0; i < n; i++) {
			uint8_t a = (uint8_t)s[2 * i], b = (uint8_t)s[2 * i + 1];
			words[i] = f->type == T_STR ? (uint16_t)((a << 8) | b)
						    : (uint16_t)((b << 8) | a);
		}
		return;
	}
	ok = m->value(c, f->src, inst + f->arg, &v) && isfinite(v);
	if (f->type == T_F32 || f->type == T_F32_LE) {
		float fl = ok ? (float)(v * f->scale) : NAN;
		memcpy(&u, &fl, sizeof(u));
	} else if (!ok) {
		/* "not available" markers used by real devices */
		switch (f->type) {
		case T_U16:
			words[0] = 0xFFFF;
			return;
		case T_S16:
			words[0] = 0x8000;
			return;
		case T_S32:
			u = 0x80000000u;
			break;
		default:
			u = 0xFFFFFFFFu;
			break;
		}
	} else {
		double r = round(v * f->scale);
		switch (f->type) {
		case T_U16:
			words[0] = clamp_u16(r);
			return;
		case T_S16:
			words[0] = clamp_s16(r);
			return;
		case T_S32:
			if (r < INT32_MIN)
				r = INT32_MIN;
			if (r > INT32_MAX)
				r = INT32_MAX;
			u = (uint32_t)(int32_t)r;
			break;
		default:
			if (!(r >= 0))
				r = 0;
			if (r > UINT32_MAX)
				r = UINT32_MAX;
			u = (uint32_t)r;
			break;
		}
	}
	if (f->type == T_U32_LE || f->type == T_F32_LE) {
		words[0] = (uint16_t)(u & 0xFFFF);
		words[1] = (uint16_t)(u >> 16);
	} else {
		words[0] = (uint16_t)(u >> 16);
		words[1] = (uint16_t)(u & 0xFFFF);
	}
}

/* Decodes a written field into an integer (strings are handled by the model). */
static int64_t decode_int(const struct mb_field *f, const uint16_t *w)
{
	switch (f->type) {
	case T_U16:
		return w[0];
	case T_S16:
		return (int16_t)w[0];
	case T_U32:
		return ((uint32_t)w[0] << 16) | w[1];
	case T_S32:
		return (int32_t)(((uint32_t)w[0] << 16) | w[1]);
	case T_U32_LE:
		return ((uint32_t)w[1] << 16) | w[0];
	default:
		return 0;
	}
}

/* ---- the APC Smart-UPS map (realdata/modbus/apc-smart-ups-modbus-registers.txt) ---- */

enum apc_src {
	A_STATUS = 1,
	A_CHANGE_CAUSE,
	A_MOG_STATUS,
	A_SOG0_STATUS,
	A_SOG1_STATUS,
	A_SOG2_STATUS,
	A_SIGNAL,
	A_POWER_ERR,
	A_BATT_ERR,
	A_TEST_STATUS,
	A_CAL_STATUS,
	A_RUNTIME,
	A_CHARGE,
	A_BATT_V,
	A_BATT_DATE_MAINT,
	A_BATT_TEMP,
	A_LOAD_W_PCT,
	A_LOAD_VA_PCT,
	A_OUT_A,
	A_OUT_V,
	A_OUT_HZ,
	A_OUT_WH,
	A_INPUT_STATUS,
	A_IN_V,
	A_EFFICIENCY,
	A_TIMER_OFF, /* every timer: -1 = not active */
	A_FIRMWARE,
	A_MODEL,
	A_SERIAL,
	A_VA_NOMINAL,
	A_W_NOMINAL,
	A_SOG_CONFIG,
	A_MFR_DATE,
	A_BATT_DATE,
	A_UPS_ID,
	A_GROUP_NAME, /* inst = group 0..3 */
	A_XFER_HIGH,
	A_XFER_LOW,
	A_DELAY_OFF, /* inst = group 0..3 */
	A_DELAY_ON,
	A_DELAY_REBOOT,
	A_CMD_UPS,
	A_CMD_OUTLET,
	A_CMD_TEST,
	A_CMD_CAL,
	A_CMD_UI
};

/* APC binary-point scale: value = raw / 2^n, so raw = value * 2^n. */
#define BP(n) ((float)(1u << (n)))

/* Register tables read best one row per register. */
/* clang-format off */
static const struct mb_field apc_status_f[] = {
	{0, T_U32, 0, 1, A_STATUS, 0, 0},
	{2, T_U16, 0, 1, A_CHANGE_CAUSE, 0, 0},
	{3, T_U32, 0, 1, A_MOG_STATUS, 0, 0},
	{6, T_U32, 0, 1, A_SOG0_STATUS, 0, 0},
	{9, T_U32, 0, 1, A_SOG1_STATUS, 0, 0},
	{12, T_U32, 0, 1, A_SOG2_STATUS, 0, 0},
	{18, T_U16, 0, 1, A_SIGNAL, 0, 0},
	{20, T_U32, 0, 1, A_POWER_ERR, 0, 0},
	{22, T_U16, 0, 1, A_BATT_ERR, 0, 0},
	{23, T_U16, 0, 1, A_TEST_STATUS, 0, 0},
	{24, T_U16, 0, 1, A_CAL_STATUS, 0, 0},
};
static const struct mb_field apc_dynamic_f[] = {
	{0, T_U32, 0, 1, A_RUNTIME, 0, 0},           /* 128 */
	{2, T_U16, 0, BP(9), A_CHARGE, 0, 0},        /* 130 */
	{3, T_S16, 0, BP(5), A_BATT_V, 0, 0},        /* 131 */
	{5, T_U16, 0, 1, A_BATT_DATE_MAINT, 0, 0},   /* 133 */
	{7, T_S16, 0, BP(7), A_BATT_TEMP, 0, 0},     /* 135 */
	{8, T_U16, 0, BP(8), A_LOAD_W_PCT, 0, 0},    /* 136 */
	{10, T_U16, 0, BP(8), A_LOAD_VA_PCT, 0, 0},  /* 138 */
	{12, T_U16, 0, BP(5), A_OUT_A, 0, 0},        /* 140 */
	{14, T_U16, 0, BP(6), A_OUT_V, 0, 0},        /* 142 */
	{16, T_U16, 0, BP(7), A_OUT_HZ, 0, 0},       /* 144 */
	{17, T_U32, 0, 1, A_OUT_WH, 0, 0},           /* 145 */
	{22, T_U16, 0, 1, A_INPUT_STATUS, 0, 0},     /* 150 */
	{23, T_U16, 0, BP(6), A_IN_V, 0, 0},         /* 151 */
	{26, T_S16, 0, BP(7), A_EFFICIENCY, 0, 0},   /* 154 */
	{27, T_S16, 0, 1, A_TIMER_OFF, 0, 0},        /* 155 ups.timer.shutdown */
	{28, T_S16, 0, 1, A_TIMER_OFF, 0, 0},        /* 156 ups.timer.start */
	{29, T_S32, 0, 1, A_TIMER_OFF, 0, 0},        /* 157 ups.timer.reboot */
	{31, T_S16, 0, 1, A_TIMER_OFF, 0, 0},        /* 159 group 1 */
	{32, T_S16, 0, 1, A_TIMER_OFF, 0, 0},
	{33, T_S32, 0, 1, A_TIMER_OFF, 0, 0},
	{35, T_S16, 0, 1, A_TIMER_OFF, 0, 0},        /* 163 group 2 */
	{36, T_S16, 0, 1, A_TIMER_OFF, 0, 0},
	{37, T_S32, 0, 1, A_TIMER_OFF, 0, 0},
	{39, T_S16, 0, 1, A_TIMER_OFF, 0, 0},        /* 167 group 3 */
	{40, T_S16, 0, 1, A_TIMER_OFF, 0, 0},
	{41, T_S32, 0, 1, A_TIMER_OFF, 0, 0},
};
static const struct mb_field apc_inventory_f[] = {
	{0, T_STR, 8, 1, A_FIRMWARE, 0, 0},     /* 516 */
	{16, T_STR, 16, 1, A_MODEL, 0, 0},      /* 532 */
	{48, T_STR, 8, 1, A_SERIAL, 0, 0},      /* 564 */
	{72, T_U16, 0, 1, A_VA_NOMINAL, 0, 0},  /* 588 */
	{73, T_U16, 0, 1, A_W_NOMINAL, 0, 0},   /* 589 */
	{74, T_U16, 0, 1, A_SOG_CONFIG, 0, 0},  /* 590 */
	{75, T_U16, 0, 1, A_MFR_DATE, 0, 0},    /* 591 */
	{79, T_U16, 0, 1, A_BATT_DATE, F_WRITE, 0}, /* 595 */
	{80, T_STR, 8, 1, A_UPS_ID, F_WRITE, 0},    /* 596 */
	{88, T_STR, 8, 1, A_GROUP_NAME, F_WRITE, 0},  /* 604 outlet.group.0.name */
	{96, T_STR, 8, 1, A_GROUP_NAME, F_WRITE, 1},  /* 612 */
	{104, T_STR, 8, 1, A_GROUP_NAME, F_WRITE, 2}, /* 620 */
	{112, T_STR, 8, 1, A_GROUP_NAME, F_WRITE, 3}, /* 628 */
};
static const struct mb_field apc_static_f[] = {
	{0, T_U16, 0, 1, A_XFER_HIGH, F_WRITE, 0},    /* 1026 */
	{1, T_U16, 0, 1, A_XFER_LOW, F_WRITE, 0},     /* 1027 */
	{3, T_S16, 0, 1, A_DELAY_OFF, F_WRITE, 0},    /* 1029 group 0 */
	{4, T_S16, 0, 1, A_DELAY_ON, F_WRITE, 0},     /* 1030 */
	{5, T_S32, 0, 1, A_DELAY_REBOOT, F_WRITE, 0}, /* 1031 */
	{8, T_S16, 0, 1, A_DELAY_OFF, F_WRITE, 1},    /* 1034 group 1 */
	{9, T_S16, 0, 1, A_DELAY_ON, F_WRITE, 1},
	{10, T_S32, 0, 1, A_DELAY_REBOOT, F_WRITE, 1},
	{13, T_S16, 0, 1, A_DELAY_OFF, F_WRITE, 2},   /* 1039 group 2 */
	{14, T_S16, 0, 1, A_DELAY_ON, F_WRITE, 2},
	{15, T_S32, 0, 1, A_DELAY_REBOOT, F_WRITE, 2},
	{18, T_S16, 0, 1, A_DELAY_OFF, F_WRITE, 3},   /* 1044 group 3 */
	{19, T_S16, 0, 1, A_DELAY_ON, F_WRITE, 3},
	{20, T_S32, 0, 1, A_DELAY_REBOOT, F_WRITE, 3},
};
static const struct mb_field apc_command_f[] = {
	{0, T_U32, 0, 1, A_CMD_UPS, F_WRITE, 0},    /* 1536 */
	{2, T_U32, 0, 1, A_CMD_OUTLET, F_WRITE, 0}, /* 1538 */
	{5, T_U16, 0, 1, A_CMD_TEST, F_WRITE, 0},   /* 1541 */
	{6, T_U16, 0, 1, A_CMD_CAL, F_WRITE, 0},    /* 1542 */
	{7, T_U16, 0, 1, A_CMD_UI, F_WRITE, 0},     /* 1543 */
};

#define NF(a) (sizeof(a) / sizeof((a)[0]))

/* The blocks NUT polls; inside a block, unlisted registers read as 0. */
static const struct mb_block apc_blocks[] = {
	{TAB_HOLDING, 0, 27, PER_ONE, apc_status_f, NF(apc_status_f)},
	{TAB_HOLDING, 128, 44, PER_ONE, apc_dynamic_f, NF(apc_dynamic_f)},
	{TAB_HOLDING, 516, 120, PER_ONE, apc_inventory_f, NF(apc_inventory_f)},
	{TAB_HOLDING, 1026, 22, PER_ONE, apc_static_f, NF(apc_static_f)},
	{TAB_HOLDING, 1536, 8, PER_ONE, apc_command_f, NF(apc_command_f)},
};
/* clang-format on */

/* UPSStatus_BF bits. */
#define APC_ST_ONLINE (1u << 1)
#define APC_ST_ONBATTERY (1u << 2)
#define APC_ST_OUTPUT_OFF (1u << 4)
#define APC_ST_OVERLOAD (1u << 21)
/* OutletStatus_BF bits. */
#define APC_OS_ON (1u << 0)
#define APC_OS_OFF (1u << 1)
#define APC_OS_PENDING_ON_DELAY (1u << 8)
#define APC_OS_PENDING_OFF_DELAY (1u << 9)
/* OutletCommand_BF bits. */
#define APC_OC_CANCEL (1u << 0)
#define APC_OC_ON (1u << 1)
#define APC_OC_OFF (1u << 2)
#define APC_OC_SHUTDOWN (1u << 3)
#define APC_OC_REBOOT (1u << 4)
#define APC_OC_USE_ON_DELAY (1u << 6)
#define APC_OC_USE_OFF_DELAY (1u << 7)
#define APC_OC_TARGET_MOG (1u << 8)
#define APC_OC_TARGET_SOGS (7u << 9)
#define APC_OC_CMD_MASK (APC_OC_CANCEL | APC_OC_ON | APC_OC_OFF | APC_OC_SHUTDOWN | APC_OC_REBOOT)

#define APC_GROUPS 4
#define APC_SOG_PRESENT 0x3 /* MOG and SOG0, like an SMT/SMX 1U unit */

/* Per-UPS state the device model does not carry: the APC writable settings,
 * the switched outlet groups and pending group commands (the main group is
 * the model's sim_ups.output_off), and the Huawei booleans. Kept per device
 * id, so a write reads back. */
struct apc_state {
	bool init;
	bool output_off[APC_GROUPS];
	/* A pending group command: at pending_at_ms switch output_off to pending_off. */
	int64_t pending_at_ms[APC_GROUPS];
	bool pending_off[APC_GROUPS];
	bool pending_back_on[APC_GROUPS]; /* reboot: come back on after the on-delay */
	uint16_t xfer_high, xfer_low;
	uint16_t batt_date;
	int16_t delay_off[APC_GROUPS], delay_on[APC_GROUPS];
	int32_t delay_reboot[APC_GROUPS];
	char ups_id[17];
	char group_name[APC_GROUPS][17];
	uint16_t test_status;
	uint16_t hw_flags; /* Huawei: bit0 autostart (1044), bit1 bypass on shutdown (1045),
			    * bit2 beeper disabled (1046) */
};

static struct {
	struct sim *sim;
	struct event_base *base;
	struct mb_port *ports;
	size_t n_ports;
	struct mb_conn *conns; /* every open connection, for stop */
	struct apc_state *apc; /* [sim->n_devices], lazily initialised per device */
	uint16_t **pdu_delay;  /* [sim->n_devices], see pdu_delays() */
	size_t n_apc;
} g;

static struct apc_state *apc_state(struct sim_device *dev)
{
	if (dev->id >= g.n_apc)
		return NULL;
	struct apc_state *s = &g.apc[dev->id];
	if (!s->init) {
		s->init = true;
		double nv = dev->ups.nominal_v > 0 ? dev->ups.nominal_v : 230;
		s->xfer_high = (uint16_t)lround(nv * 1.1);
		s->xfer_low = (uint16_t)lround(nv * 0.85);
		s->batt_date = 8766; /* 2024-01-01 */
		for (int i = 0; i < APC_GROUPS; i++) {
			s->delay_off[i] = 90;
			s->delay_on[i] = 0;
			s->delay_reboot[i] = 8;
			s->pending_at_ms[i] = 0;
			snprintf(s->group_name[i], sizeof(s->group_name[i]),
				 i == 0 ? "Main Outlets" : "Outlet Group %d", i);
		}
		snprintf(s->ups_id, sizeof(s->ups_id), "%.16s", dev->name);
	}
	return s;
}

/* Runs due delayed group commands of a UPS. The main outlet group is the
 * model's output (sim_ups.output_off), so SNMP, the control API and the
 * physics see the same switch; switched groups live here only. */
static void apc_run_pending(struct sim_device *dev, struct apc_state *s, int64_t now_ms)
{
	s->output_off[0] = dev->ups.output_off;
	for (int i = 0; i < APC_GROUPS; i++) {
		if (!s->pending_at_ms[i] || now_ms < s->pending_at_ms[i])
			continue;
		s->output_off[i] = s->pending_off[i];
		s->pending_at_ms[i] = 0;
		if (s->pending_back_on[i]) {
			s->pending_back_on[i] = false;
			s->pending_off[i] = false;
			s->pending_at_ms[i] =
				now_ms + 1000 * (int64_t)(s->delay_on[i] > 0 ? s->delay_on[i] : 0) +
				1000 * (int64_t)(s->delay_reboot[i] > 0 ? s->delay_reboot[i] : 0);
		}
	}
	dev->ups.output_off = s->output_off[0];
}

static uint32_t apc_group_status(const struct apc_state *s, unsigned grp)
{
	if (!(APC_SOG_PRESENT & (1u << grp)))
		return 0;
	uint32_t bf = s->output_off[grp] ? APC_OS_OFF : APC_OS_ON;
	if (s->pending_at_ms[grp])
		bf |= s->pending_off[grp] ? APC_OS_PENDING_OFF_DELAY : APC_OS_PENDING_ON_DELAY;
	return bf;
}

static bool apc_value(const struct mb_ctx *c, uint16_t src, unsigned inst, double *v)
{
	const struct sim_ups *u = &c->dev->ups;
	struct apc_state *s = apc_state(c->dev);
	if (!s)
		return false;
	apc_run_pending(c->dev, s, c->now_ms);
	bool out_off = s->output_off[0];
	double rating_w = u->rating_w > 0 ? u->rating_w : 1;
	double rating_va = u->rating_va > 0 ? u->rating_va : 1;
	double out_w = 0, out_va = 0, out_a = 0;
	for (unsigned i = 0; i < u->n_lines && i < SIM_MAX_LINES; i++) {
		out_w += u->output.power_w[i];
		out_va += u->output.apparent_va[i];
		out_a += u->output.current_a[i];
	}
	if (out_off)
		out_w = out_va = out_a = 0;

	switch (src) {
	case A_STATUS: {
		uint32_t bf = u->on_battery ? APC_ST_ONBATTERY : APC_ST_ONLINE;
		if (out_off)
			bf |= APC_ST_OUTPUT_OFF;
		if (u->overload)
			bf |= APC_ST_OVERLOAD;
		*v = bf;
		return true;
	}
	case A_CHANGE_CAUSE:
		/* UPSStatusChangeCause_EN: 2 = LowInputVoltage, 8 = AcceptableInput,
		 * 12 = ProtocolCommand (the output was switched off by a command) */
		*v = u->on_battery ? 2 : out_off ? 12 : 8;
		return true;
	case A_MOG_STATUS:
		*v = apc_group_status(s, 0);
		return true;
	case A_SOG0_STATUS:
		*v = apc_group_status(s, 1);
		return true;
	case A_SOG1_STATUS:
		*v = apc_group_status(s, 2);
		return true;
	case A_SOG2_STATUS:
		*v = apc_group_status(s, 3);
		return true;
	case A_SIGNAL:
		*v = u->low_battery ? (1u << 1) : 0; /* ShutdownImminent */
		return true;
	case A_POWER_ERR:
		*v = u->overload ? 1 : 0; /* bit0 output overload */
		return true;
	case A_BATT_ERR:
		*v = 0;
		return true;
	case A_TEST_STATUS:
		*v = s->test_status;
		return true;
	case A_CAL_STATUS:
		*v = 0;
		return true;
	case A_RUNTIME:
		*v = u->battery_runtime_s;
		return true;
	case A_CHARGE:
		*v = u->battery_charge_pct;
		return true;
	case A_BATT_V:
		*v = u->battery_voltage_v;
		return true;
	case A_BATT_DATE_MAINT:
		*v = s->batt_date + 4 * 365; /* replace four years after install */
		return true;
	case A_BATT_TEMP:
		*v = u->battery_temp_c;
		return true;
	case A_LOAD_W_PCT:
		*v = 100.0 * out_w / rating_w;
		return true;
	case A_LOAD_VA_PCT:
		*v = 100.0 * out_va / rating_va;
		return true;
	case A_OUT_A:
		*v = out_a;
		return true;
	case A_OUT_V:
		*v = out_off ? 0 : u->output.voltage_v[0];
		return true;
	case A_OUT_HZ:
		*v = u->output.frequency_hz;
		return true;
	case A_OUT_WH:
		*v = u->output_energy_wh;
		return true;
	case A_INPUT_STATUS:
		*v = 0;
		return true;
	case A_IN_V:
		*v = u->input.voltage_v[0];
		return true;
	case A_EFFICIENCY: {
		/* Negative raw values are reasons, not percentages (NUT's
		 * apc_efficiency_map): -1 not available, -2 load too low, -3 output
		 * off, -4 on battery. Return raw / 2^7 so the field's scale yields
		 * the raw reason code. */
		double in_w = 0;
		for (unsigned i = 0; i < u->n_lines && i < SIM_MAX_LINES; i++)
			in_w += u->input.power_w[i];
		if (out_off)
			*v = -3.0 / BP(7);
		else if (u->on_battery)
			*v = -4.0 / BP(7);
		else if (in_w <= 0)
			*v = -1.0 / BP(7);
		else if (out_w < 0.05 * rating_w)
			*v = -2.0 / BP(7);
		else
			*v = fmin(100.0 * out_w / in_w, 100);
		return true;
	}
	case A_TIMER_OFF:
		*v = -1;
		return true;
	case A_VA_NOMINAL:
		*v = u->rating_va;
		return true;
	case A_W_NOMINAL:
		*v = u->rating_w;
		return true;
	case A_SOG_CONFIG:
		*v = APC_SOG_PRESENT;
		return true;
	case A_MFR_DATE:
		*v = 8400; /* 2022-12-31 */
		return true;
	case A_BATT_DATE:
		*v = s->batt_date;
		return true;
	case A_DELAY_OFF:
		*v = s->delay_off[inst < APC_GROUPS ? inst : 0];
		return true;
	case A_DELAY_ON:
		*v = s->delay_on[inst < APC_GROUPS ? inst : 0];
		return true;
	case A_DELAY_REBOOT:
		*v = s->delay_reboot[inst < APC_GROUPS ? inst : 0];
		return true;
	case A_XFER_HIGH:
		*v = s->xfer_high;
		return true;
	case A_XFER_LOW:
		*v = s->xfer_low;
		return true;
	case A_CMD_UPS:
	case A_CMD_OUTLET:
	case A_CMD_TEST:
	case A_CMD_CAL:
	case A_CMD_UI:
		*v = 0; /* command registers read back as zero */
		return true;
	default:
		return false;
	}
}

/* The outlet group of a group-indexed APC field. */
static unsigned apc_group_of(const struct mb_field *f)
{
	return f->arg < APC_GROUPS ? f->arg : 0;
}

static void apc_string(const struct mb_ctx *c, uint16_t src, unsigned inst, char *buf, size_t len)
{
	struct apc_state *s = apc_state(c->dev);
	const char *str = "";
	char tmp[64];
	switch (src) {
	case A_FIRMWARE:
		str = c->dev->firmware;
		break;
	case A_MODEL:
		snprintf(tmp, sizeof(tmp), "Smart-UPS %.0f", (double)c->dev->ups.rating_va);
		str = tmp;
		break;
	case A_SERIAL:
		str = c->dev->serial;
		break;
	case A_UPS_ID:
		str = s ? s->ups_id : "";
		break;
	case A_GROUP_NAME:
		str = s && inst < APC_GROUPS ? s->group_name[inst] : "";
		break;
	}
	size_t n = strlen(str);
	memcpy(buf, str, n < len ? n : len);
}

static int apc_outlet_command(const struct mb_ctx *c, struct apc_state *s, uint32_t cmd)
{
	uint32_t what = cmd & APC_OC_CMD_MASK;
	/* exactly one command bit, as the APC document requires */
	if (!what || (what & (what - 1)))
		return MB_EX_ILLEGAL_VALUE;
	uint32_t targets = cmd & (APC_OC_TARGET_MOG | APC_OC_TARGET_SOGS);
	if (!targets)
		targets = APC_OC_TARGET_MOG;
	for (unsigned grp = 0; grp < APC_GROUPS; grp++) {
		if (!(targets & (APC_OC_TARGET_MOG << grp)))
			continue;
		if (!(APC_SOG_PRESENT & (1u << grp)))
			return MB_EX_ILLEGAL_VALUE;
	}
	for (unsigned grp = 0; grp < APC_GROUPS; grp++) {
		if (!(targets & (APC_OC_TARGET_MOG << grp)))
			continue;
		int64_t off_delay = (cmd & APC_OC_USE_OFF_DELAY) ? 1000LL * s->delay_off[grp] : 0;
		int64_t on_delay = (cmd & APC_OC_USE_ON_DELAY) ? 1000LL * s->delay_on[grp] : 0;
		s->pending_back_on[grp] = false;
		switch (what) {
		case APC_OC_CANCEL:
			s->pending_at_ms[grp] = 0;
			break;
		case APC_OC_ON:
			if (on_delay) {
				s->pending_off[grp] = false;
				s->pending_at_ms[grp] = c->now_ms + on_delay;
			} else {
				s->output_off[grp] = false;
				s->pending_at_ms[grp] = 0;
			}
			break;
		case APC_OC_OFF:
		case APC_OC_SHUTDOWN:
			if (off_delay) {
				s->pending_off[grp] = true;
				s->pending_at_ms[grp] = c->now_ms + off_delay;
			} else {
				s->output_off[grp] = true;
				s->pending_at_ms[grp] = 0;
			}
			break;
		case APC_OC_REBOOT:
			s->output_off[grp] = off_delay == 0 ? true : s->output_off[grp];
			s->pending_off[grp] = true;
			s->pending_back_on[grp] = true;
			s->pending_at_ms[grp] = c->now_ms + off_delay;
			break;
		}
	}
	return 0;
}

static int apc_write(const struct mb_ctx *c, const struct mb_field *f, unsigned inst,
		     const uint16_t *w)
{
	struct apc_state *s = apc_state(c->dev);
	int64_t x = decode_int(f, w);
	unsigned grp = apc_group_of(f);
	(void)inst;
	if (!s)
		return MB_EX_DEVICE_FAILURE;
	apc_run_pending(c->dev, s, c->now_ms);
	switch (f->src) {
	case A_BATT_DATE:
		s->batt_date = (uint16_t)x;
		return 0;
	case A_UPS_ID:
	case A_GROUP_NAME: {
		char *dst = f->src == A_UPS_ID ? s->ups_id : s->group_name[grp];
		for (unsigned i = 0; i < 8; i++) {
			dst[2 * i] = (char)(w[i] >> 8);
			dst[2 * i + 1] = (char)(w[i] & 0xFF);
		}
		dst[16] = 0;
		for (unsigned i = 0; i < 16; i++)
			if (dst[i] && (dst[i] < 0x20 || dst[i] > 0x7e))
				return MB_EX_ILLEGAL_VALUE;
		return 0;
	}
	case A_XFER_HIGH:
		if (x < (int64_t)s->xfer_low + 10 || x > 300)
			return MB_EX_ILLEGAL_VALUE;
		s->xfer_high = (uint16_t)x;
		return 0;
	case A_XFER_LOW:
		if (x < 80 || x > (int64_t)s->xfer_high - 10)
			return MB_EX_ILLEGAL_VALUE;
		s->xfer_low = (uint16_t)x;
		return 0;
	case A_DELAY_OFF:
	case A_DELAY_ON:
		if (x < -1 || x > 32767)
			return MB_EX_ILLEGAL_VALUE;
		if (f->src == A_DELAY_OFF)
			s->delay_off[grp] = (int16_t)x;
		else
			s->delay_on[grp] = (int16_t)x;
		return 0;
	case A_DELAY_REBOOT:
		if (x < 0 || x > 86400)
			return MB_EX_ILLEGAL_VALUE;
		s->delay_reboot[grp] = (int32_t)x;
		return 0;
	case A_CMD_OUTLET: {
		int ex = apc_outlet_command(c, s, (uint32_t)x);
		c->dev->ups.output_off = s->output_off[0];
		sim_device_update(c->dev, c->now_ms);
		return ex;
	}
	case A_CMD_TEST:
		if (x & 1)
			s->test_status = (1u << 2) | (1u << 6); /* passed, source protocol */
		else if (x & 2)
			s->test_status = (1u << 5) | (1u << 6); /* aborted */
		else
			return MB_EX_ILLEGAL_VALUE;
		return 0;
	case A_CMD_UPS:
	case A_CMD_CAL:
	case A_CMD_UI:
		return x ? 0 : MB_EX_ILLEGAL_VALUE;
	default:
		return MB_EX_ILLEGAL_ADDRESS;
	}
}

/* ---- the wattrack-sim PDU map (tests/sim/MODBUS-PDU-MAP.md) ---- */

enum pdu_src {
	P_MAP_VERSION = 1,
	P_MODEL_ID,
	P_VENDOR,
	P_MODEL,
	P_SERIAL,
	P_FIRMWARE,
	P_NAME,
	P_N_LINES,
	P_N_BRANCHES,
	P_N_OUTLETS,
	P_N_SENSORS,
	P_WIRING,
	P_RATING,
	P_NOMINAL_V,
	P_UPTIME,
	P_UNIT_INDEX,
	P_N_UNITS,
	/* inlet */
	P_IN_V,
	P_IN_A,
	P_IN_W,
	P_IN_VA,
	P_IN_PF,
	P_IN_HZ,
	P_IN_WH,
	P_IN_NEUTRAL,
	P_IN_VAH,
	/* per line */
	P_L_V,
	P_L_A,
	P_L_W,
	P_L_VA,
	P_L_PF,
	P_L_WH,
	P_L_RATING,
	/* per branch */
	P_B_A,
	P_B_W,
	P_B_WH,
	P_B_RATING,
	P_B_TRIPPED,
	P_B_LINE,
	/* per outlet */
	P_O_STATE,
	P_O_A,
	P_O_V,
	P_O_W,
	P_O_WH,
	P_O_PF,
	P_O_VA,
	P_O_BRANCH,
	P_O_FLAGS,
	P_O_CONTROL,
	P_O_DELAY,
	/* per sensor */
	P_S_KIND,
	P_S_VALUE
};

#define PDU_MAP_VERSION 1
#define PDU_MODEL_ID 0x5754 /* "WT" */

/* Register tables read best one row per register. */
/* clang-format off */
static const struct mb_field pdu_ident_f[] = {
	{0, T_U16, 0, 1, P_MAP_VERSION, 0, 0},
	{1, T_U16, 0, 1, P_MODEL_ID, 0, 0},
	{2, T_STR, 8, 1, P_VENDOR, 0, 0},
	{10, T_STR, 16, 1, P_MODEL, 0, 0},
	{26, T_STR, 8, 1, P_SERIAL, 0, 0},
	{34, T_STR, 8, 1, P_FIRMWARE, 0, 0},
	{42, T_STR, 16, 1, P_NAME, 0, 0},
	{58, T_U16, 0, 1, P_N_LINES, 0, 0},
	{59, T_U16, 0, 1, P_N_BRANCHES, 0, 0},
	{60, T_U16, 0, 1, P_N_OUTLETS, 0, 0},
	{61, T_U16, 0, 1, P_N_SENSORS, 0, 0},
	{62, T_U16, 0, 1, P_WIRING, 0, 0},
	{63, T_U16, 0, 10, P_RATING, 0, 0},
	{64, T_U16, 0, 1, P_NOMINAL_V, 0, 0},
	{65, T_U32, 0, 1, P_UPTIME, 0, 0},
	{67, T_U16, 0, 1, P_UNIT_INDEX, 0, 0},
	{68, T_U16, 0, 1, P_N_UNITS, 0, 0},
};
static const struct mb_field pdu_inlet_f[] = {
	{0, T_F32, 0, 1, P_IN_V, 0, 0},        /* 100 */
	{2, T_F32, 0, 1, P_IN_A, 0, 0},        /* 102 */
	{4, T_S32, 0, 1, P_IN_W, 0, 0},        /* 104 */
	{6, T_U32, 0, 1, P_IN_VA, 0, 0},       /* 106 */
	{8, T_S16, 0, 1000, P_IN_PF, 0, 0},    /* 108 */
	{9, T_U16, 0, 100, P_IN_HZ, 0, 0},     /* 109 */
	{10, T_U32_LE, 0, 1, P_IN_WH, 0, 0},   /* 110 */
	{12, T_F32_LE, 0, 1, P_IN_NEUTRAL, 0, 0}, /* 112 */
	{14, T_U32_LE, 0, 1, P_IN_VAH, 0, 0},  /* 114 */
};
static const struct mb_field pdu_line_f[] = {
	{0, T_U16, 0, 10, P_L_V, 0, 0},
	{1, T_U16, 0, 100, P_L_A, 0, 0},
	{2, T_S32, 0, 1, P_L_W, 0, 0},
	{4, T_U32, 0, 1, P_L_VA, 0, 0},
	{6, T_S16, 0, 1000, P_L_PF, 0, 0},
	{7, T_U32, 0, 1, P_L_WH, 0, 0},
	{9, T_F32_LE, 0, 1, P_L_A, 0, 0},
	{11, T_U16, 0, 10, P_L_RATING, 0, 0},
};
static const struct mb_field pdu_branch_f[] = {
	{0, T_U16, 0, 100, P_B_A, 0, 0},
	{1, T_S32, 0, 1, P_B_W, 0, 0},
	{3, T_U32_LE, 0, 1, P_B_WH, 0, 0},
	{5, T_U16, 0, 10, P_B_RATING, 0, 0},
	{6, T_U16, 0, 1, P_B_TRIPPED, 0, 0},
	{7, T_U16, 0, 1, P_B_LINE, 0, 0},
};
static const struct mb_field pdu_outlet_f[] = {
	{0, T_U16, 0, 1, P_O_STATE, 0, 0},
	{1, T_U16, 0, 100, P_O_A, 0, 0},
	{2, T_U16, 0, 10, P_O_V, 0, 0},
	{3, T_F32, 0, 1, P_O_W, 0, 0},
	{5, T_U32, 0, 1, P_O_WH, 0, 0},
	{7, T_S16, 0, 1000, P_O_PF, 0, 0},
	{8, T_F32_LE, 0, 1, P_O_VA, 0, 0},
	{10, T_U16, 0, 1, P_O_BRANCH, 0, 0},
	{11, T_U16, 0, 1, P_O_FLAGS, 0, 0},
};
static const struct mb_field pdu_sensor_f[] = {
	{0, T_U16, 0, 1, P_S_KIND, 0, 0},
	{1, T_S16, 0, 10, P_S_VALUE, 0, 0},
	{2, T_F32, 0, 1, P_S_VALUE, 0, 0},
};
static const struct mb_field pdu_control_f[] = {
	{0, T_U16, 0, 1, P_O_CONTROL, F_WRITE, 0},
};
static const struct mb_field pdu_delay_f[] = {
	{0, T_U16, 0, 1, P_O_DELAY, F_WRITE, 0},
};

static const struct mb_block pdu_blocks[] = {
	{TAB_HOLDING, 0, 69, PER_ONE, pdu_ident_f, NF(pdu_ident_f)},
	{TAB_INPUT, 100, 16, PER_ONE, pdu_inlet_f, NF(pdu_inlet_f)},
	{TAB_INPUT, 200, 20, PER_LINE, pdu_line_f, NF(pdu_line_f)},
	{TAB_INPUT, 300, 10, PER_BRANCH, pdu_branch_f, NF(pdu_branch_f)},
	{TAB_INPUT, 500, 4, PER_SENSOR, pdu_sensor_f, NF(pdu_sensor_f)},
	{TAB_INPUT, 1000, 12, PER_OUTLET, pdu_outlet_f, NF(pdu_outlet_f)},
	{TAB_HOLDING, 2000, 1, PER_OUTLET, pdu_control_f, NF(pdu_control_f)},
	{TAB_HOLDING, 2100, 1, PER_OUTLET, pdu_delay_f, NF(pdu_delay_f)},
};
/* clang-format on */

#define PDU_MAX_DELAY_S 3600

/* Per-outlet control delays written to 2100+n, kept per device id and
 * allocated on the first write (most PDUs never get one). */
static uint16_t *pdu_delays(const struct sim_device *dev, bool create)
{
	if (dev->id >= g.n_apc)
		return NULL;
	if (!g.pdu_delay[dev->id] && create)
		g.pdu_delay[dev->id] = calloc(SIM_MAX_UNITS * SIM_MAX_OUTLETS, sizeof(uint16_t));
	return g.pdu_delay[dev->id];
}

/* Outlet control values (holding 2000 + n). */
#define PDU_CTL_OFF 0
#define PDU_CTL_ON 1
#define PDU_CTL_REBOOT 2

static const struct sim_pdu_unit *pdu_unit(const struct mb_ctx *c)
{
	return &c->dev->pdu.units[c->unit];
}

static bool pdu_value(const struct mb_ctx *c, uint16_t src, unsigned i, double *v)
{
	const struct sim_pdu_unit *u = pdu_unit(c);
	const struct sim_line *l = &u->lines[i < SIM_MAX_LINES ? i : 0];
	const struct sim_branch *b = &u->branches[i < SIM_MAX_BRANCHES ? i : 0];
	const struct sim_outlet *o = i < u->n_outlets ? &u->outlets[i] : NULL;
	const struct sim_sensor *s = &u->sensors[i < SIM_MAX_SENSORS ? i : 0];

	switch (src) {
	case P_MAP_VERSION:
		*v = PDU_MAP_VERSION;
		return true;
	case P_MODEL_ID:
		*v = PDU_MODEL_ID;
		return true;
	case P_N_LINES:
		*v = u->n_lines;
		return true;
	case P_N_BRANCHES:
		*v = u->n_branches;
		return true;
	case P_N_OUTLETS:
		*v = u->n_outlets;
		return true;
	case P_N_SENSORS:
		*v = u->n_sensors;
		return true;
	case P_WIRING:
		*v = c->dev->pdu.wiring;
		return true;
	case P_RATING:
		*v = u->rating_a;
		return true;
	case P_NOMINAL_V:
		*v = c->dev->pdu.nominal_v;
		return true;
	case P_UPTIME:
		*v = sim_uptime_ticks(c->dev, c->now_ms) / 100.0;
		*v = floor(*v);
		return true;
	case P_UNIT_INDEX:
		*v = c->unit + 1;
		return true;
	case P_N_UNITS:
		*v = c->dev->pdu.n_units;
		return true;
	case P_IN_V:
		*v = u->voltage_v;
		return true;
	case P_IN_A:
		*v = u->current_a;
		return true;
	case P_IN_W:
		*v = u->power_w;
		return true;
	case P_IN_VA:
		*v = u->apparent_va;
		return true;
	case P_IN_PF:
		*v = u->pf;
		return true;
	case P_IN_HZ:
		*v = u->frequency_hz;
		return true;
	case P_IN_WH:
		*v = u->energy_wh;
		return true;
	case P_IN_NEUTRAL:
		*v = u->neutral_a;
		return true;
	case P_IN_VAH:
		*v = u->energy_vah;
		return true;
	case P_L_V:
		*v = l->voltage_v;
		return true;
	case P_L_A:
		*v = l->current_a;
		return true;
	case P_L_W:
		*v = l->power_w;
		return true;
	case P_L_VA:
		*v = l->apparent_va;
		return true;
	case P_L_PF:
		*v = l->pf;
		return true;
	case P_L_WH:
		*v = l->energy_wh;
		return true;
	case P_L_RATING:
		*v = l->rating_a;
		return true;
	case P_B_A:
		*v = b->current_a;
		return true;
	case P_B_W:
		*v = b->power_w;
		return true;
	case P_B_WH:
		*v = b->energy_wh;
		return true;
	case P_B_RATING:
		*v = b->rating_a;
		return true;
	case P_B_TRIPPED:
		*v = b->tripped;
		return true;
	case P_B_LINE:
		*v = b->line + 1;
		return true;
	case P_S_KIND:
		*v = s->kind;
		return true;
	case P_S_VALUE:
		*v = s->value;
		return true;
	default:
		break;
	}
	if (!o)
		return false;
	switch (src) {
	case P_O_STATE:
	case P_O_CONTROL:
		*v = o->on;
		return true;
	case P_O_DELAY: {
		const uint16_t *dl = pdu_delays(c->dev, false);
		*v = dl ? dl[c->unit * SIM_MAX_OUTLETS + i] : 0;
		return true;
	}
	case P_O_A:
		*v = o->current_a;
		return o->metered;
	case P_O_V:
		*v = o->voltage_v;
		return o->metered;
	case P_O_W:
		*v = o->power_w;
		return o->metered;
	case P_O_WH:
		*v = o->energy_wh;
		return o->metered;
	case P_O_PF:
		*v = o->on ? o->pf : 0;
		return o->metered;
	case P_O_VA:
		*v = o->apparent_va;
		return o->metered;
	case P_O_BRANCH:
		*v = o->branch + 1;
		return true;
	case P_O_FLAGS:
		*v = (o->switchable ? 1 : 0) | (o->metered ? 2 : 0) |
		     (o->pending_action != SIM_OUTLET_NONE ? 4 : 0);
		return true;
	default:
		return false;
	}
}

static void pdu_string(const struct mb_ctx *c, uint16_t src, unsigned inst, char *buf, size_t len)
{
	const char *str = "";
	(void)inst;
	switch (src) {
	case P_VENDOR:
		str = "wattrack-sim";
		break;
	case P_MODEL:
		str = c->dev->pdu.wiring == SIM_WIRING_1PH ? "WT-MBPDU-1P" : "WT-MBPDU-3P";
		break;
	case P_SERIAL:
		str = c->dev->serial;
		break;
	case P_FIRMWARE:
		str = c->dev->firmware;
		break;
	case P_NAME:
		str = c->dev->name;
		break;
	}
	size_t n = strlen(str);
	memcpy(buf, str, n < len ? n : len);
}

static int pdu_write(const struct mb_ctx *c, const struct mb_field *f, unsigned inst,
		     const uint16_t *w)
{
	enum sim_outlet_action act;
	if (f->src == P_O_DELAY) {
		if (w[0] > PDU_MAX_DELAY_S)
			return MB_EX_ILLEGAL_VALUE;
		uint16_t *dl = pdu_delays(c->dev, true);
		if (!dl)
			return MB_EX_DEVICE_FAILURE;
		dl[c->unit * SIM_MAX_OUTLETS + inst] = w[0];
		return 0;
	}
	if (f->src != P_O_CONTROL)
		return MB_EX_ILLEGAL_ADDRESS;
	switch (w[0]) {
	case PDU_CTL_OFF:
		act = SIM_OUTLET_OFF;
		break;
	case PDU_CTL_ON:
		act = SIM_OUTLET_ON;
		break;
	case PDU_CTL_REBOOT:
		act = SIM_OUTLET_REBOOT;
		break;
	default:
		return MB_EX_ILLEGAL_VALUE;
	}
	const uint16_t *dl = pdu_delays(c->dev, false);
	unsigned delay = dl ? dl[c->unit * SIM_MAX_OUTLETS + inst] : 0;
	int rc = sim_outlet_control(c->dev, c->unit, inst, act, delay, c->now_ms);
	if (rc == -ENOENT)
		return MB_EX_ILLEGAL_ADDRESS;
	if (rc < 0)
		return MB_EX_DEVICE_FAILURE; /* -EPERM: outlet is not switchable */
	sim_device_update(c->dev, c->now_ms);
	return 0;
}

static const struct mb_model model_apc = {
	.name = "apc-ups",
	.tables = TAB_HOLDING,
	.blocks = apc_blocks,
	.n_blocks = NF(apc_blocks),
	.value = apc_value,
	.string = apc_string,
	.write = apc_write,
};

static const struct mb_model model_pdu = {
	.name = "modbus-pdu",
	.tables = TAB_HOLDING | TAB_INPUT,
	.blocks = pdu_blocks,
	.n_blocks = NF(pdu_blocks),
	.value = pdu_value,
	.string = pdu_string,
	.write = pdu_write,
};

/* ---- Socomec Delphys JBUS map (realdata/modbus/socomec-delphys-jbus-registers.txt) ----
 * Holding and input registers alike (NUT reads them with FC 3), unsigned 16-bit,
 * 0xFFFF where a value does not exist (phases 2-3 of a single-phase unit). */

enum socomec_src {
	S_CODE = 1,
	S_KVA10,
	S_SERIAL,
	S_NOM_IN_V,
	S_NOM_OUT_V,
	S_NOM_IN_HZ,
	S_NOM_OUT_HZ,
	S_BATT_AH10,
	S_BATT_CELLS,
	S_CLOCK0, /* packed time and date, four registers */
	S_CLOCK1,
	S_CLOCK2,
	S_CLOCK3,
	S_STATUS0,
	S_STATUS1,
	S_STATUS2,
	S_STATUS3,
	S_STATUS4,
	S_ALARM0,
	S_ALARM1,
	S_ALARM2,
	S_ALARM3,
	S_LOAD1, /* ..S_LOAD3 */
	S_LOAD2,
	S_LOAD3,
	S_LOAD,
	S_CHARGE,
	S_BYP_V1, /* ..3 */
	S_BYP_V2,
	S_BYP_V3,
	S_OUT_V1, /* ..3 */
	S_OUT_V2,
	S_OUT_V3,
	S_OUT_A1, /* ..3 */
	S_OUT_A2,
	S_OUT_A3,
	S_BYP_HZ,
	S_OUT_HZ,
	S_BATT_V,
	S_AMBIENT,
	S_RUNTIME_MIN,
	S_BATT_A
};

#define SOCOMEC_CODE_DELPHYS_MX 515

/* Register tables read best one row per register. */
/* clang-format off */
static const struct mb_field socomec_ident_f[] = {
	{0, T_U16, 0, 1, S_CODE, 0, 0},      /* 0x1000 UPS code */
	{1, T_U16, 0, 1, S_KVA10, 0, 0},     /* 0x1001 kVA * 10 */
	{3, T_STR_LO, 5, 1, S_SERIAL, 0, 0}, /* 0x1003..0x1007 */
};
static const struct mb_field socomec_status_f[] = {
	{0, T_U16, 0, 1, S_STATUS0, 0, 0}, {1, T_U16, 0, 1, S_STATUS1, 0, 0},
	{2, T_U16, 0, 1, S_STATUS2, 0, 0}, {3, T_U16, 0, 1, S_STATUS3, 0, 0},
	{4, T_U16, 0, 1, S_STATUS4, 0, 0},
};
static const struct mb_field socomec_alarm_f[] = {
	{0, T_U16, 0, 1, S_ALARM0, 0, 0}, {1, T_U16, 0, 1, S_ALARM1, 0, 0},
	{2, T_U16, 0, 1, S_ALARM2, 0, 0}, {3, T_U16, 0, 1, S_ALARM3, 0, 0},
};
static const struct mb_field socomec_meas_f[] = {
	{0, T_U16, 0, 1, S_LOAD1, 0, 0},   {1, T_U16, 0, 1, S_LOAD2, 0, 0},
	{2, T_U16, 0, 1, S_LOAD3, 0, 0},   {3, T_U16, 0, 1, S_LOAD, 0, 0},
	{4, T_U16, 0, 1, S_CHARGE, 0, 0},  {5, T_U16, 0, 1, S_BATT_AH10, 0, 0},
	{6, T_U16, 0, 1, S_BYP_V1, 0, 0},  {7, T_U16, 0, 1, S_BYP_V2, 0, 0},
	{8, T_U16, 0, 1, S_BYP_V3, 0, 0},  {9, T_U16, 0, 1, S_OUT_V1, 0, 0},
	{10, T_U16, 0, 1, S_OUT_V2, 0, 0}, {11, T_U16, 0, 1, S_OUT_V3, 0, 0},
	{15, T_U16, 0, 1, S_OUT_A1, 0, 0}, {16, T_U16, 0, 1, S_OUT_A2, 0, 0},
	{17, T_U16, 0, 1, S_OUT_A3, 0, 0}, {18, T_U16, 0, 10, S_BYP_HZ, 0, 0},
	{19, T_U16, 0, 10, S_OUT_HZ, 0, 0}, {20, T_U16, 0, 10, S_BATT_V, 0, 0},
	{22, T_U16, 0, 1, S_AMBIENT, 0, 0}, {23, T_U16, 0, 1, S_RUNTIME_MIN, 0, 0},
	{24, T_U16, 0, 10, S_BATT_A, 0, 0},
};
static const struct mb_field socomec_nominal_f[] = {
	{0, T_U16, 0, 1, S_NOM_IN_V, 0, 0},  {1, T_U16, 0, 1, S_NOM_OUT_V, 0, 0},
	{2, T_U16, 0, 1, S_NOM_IN_HZ, 0, 0}, {3, T_U16, 0, 1, S_NOM_OUT_HZ, 0, 0},
	{8, T_U16, 0, 1, S_BATT_AH10, 0, 0}, {9, T_U16, 0, 1, S_BATT_CELLS, 0, 0},
};
static const struct mb_field socomec_clock_f[] = {
	{0, T_U16, 0, 1, S_CLOCK0, 0, 0}, {1, T_U16, 0, 1, S_CLOCK1, 0, 0},
	{2, T_U16, 0, 1, S_CLOCK2, 0, 0}, {3, T_U16, 0, 1, S_CLOCK3, 0, 0},
};

/* The blocks NUT's socomec_jbus reads, with their lengths. */
static const struct mb_block socomec_blocks[] = {
	{TAB_HOLDING | TAB_INPUT, 0x1000, 12, PER_ONE, socomec_ident_f, NF(socomec_ident_f)},
	{TAB_HOLDING | TAB_INPUT, 0x1020, 6, PER_ONE, socomec_status_f, NF(socomec_status_f)},
	{TAB_HOLDING | TAB_INPUT, 0x1040, 4, PER_ONE, socomec_alarm_f, NF(socomec_alarm_f)},
	{TAB_HOLDING | TAB_INPUT, 0x1060, 48, PER_ONE, socomec_meas_f, NF(socomec_meas_f)},
	{TAB_HOLDING | TAB_INPUT, 0x10E0, 32, PER_ONE, socomec_nominal_f, NF(socomec_nominal_f)},
	{TAB_HOLDING | TAB_INPUT, 0x1360, 4, PER_ONE, socomec_clock_f, NF(socomec_clock_f)},
};
/* clang-format on */

static double ups_out_w(const struct sim_ups *u)
{
	double w = 0;
	for (unsigned i = 0; i < u->n_lines && i < SIM_MAX_LINES; i++)
		w += u->output.power_w[i];
	return w;
}

static bool socomec_value(const struct mb_ctx *c, uint16_t src, unsigned inst, double *v)
{
	const struct sim_ups *u = &c->dev->ups;
	unsigned nl = u->n_lines < SIM_MAX_LINES ? u->n_lines : SIM_MAX_LINES;
	double ah = u->battery_nominal_v > 0 ? u->battery_capacity_wh / u->battery_nominal_v : 0;
	time_t t = (time_t)(c->now_ms / 1000);
	struct tm tm;
	(void)inst;
	gmtime_r(&t, &tm);
	switch (src) {
	case S_CODE:
		*v = SOCOMEC_CODE_DELPHYS_MX;
		return true;
	case S_KVA10:
		*v = u->rating_va / 100.0;
		return true;
	case S_NOM_IN_V:
	case S_NOM_OUT_V:
		*v = u->nominal_v;
		return true;
	case S_NOM_IN_HZ:
	case S_NOM_OUT_HZ:
		*v = u->output.frequency_hz > 55 ? 60 : 50;
		return true;
	case S_BATT_AH10:
		*v = ah * 10;
		return true;
	case S_BATT_CELLS:
		*v = u->battery_nominal_v / 2; /* 2 V lead-acid cells */
		return true;
	/* NUT: time = (r1 & 0xFF):(r0 >> 8):(r0 & 0xFF), date = (r3 + 2000)/(r2 >> 8)/(r1 >> 8) */
	case S_CLOCK0:
		*v = (tm.tm_min << 8) | tm.tm_sec;
		return true;
	case S_CLOCK1:
		*v = (tm.tm_mday << 8) | tm.tm_hour;
		return true;
	case S_CLOCK2:
		*v = (tm.tm_mon + 1) << 8;
		return true;
	case S_CLOCK3:
		*v = tm.tm_year + 1900 - 2000;
		return true;
	case S_STATUS0: {
		unsigned w = 0;
		if (!u->mains_failed)
			w |= 1u << 0 | 1u << 2; /* rectifier input present, rectifier on */
		if (!u->output_off)
			w |= 1u << 1; /* inverter on */
		if (!u->output_off && !u->on_battery)
			w |= 1u << 3; /* load protected by inverter */
		if (u->on_battery)
			w |= 1u << 5;
		if (u->low_battery)
			w |= 1u << 15; /* battery near end of backup time */
		*v = w;
		return true;
	}
	case S_STATUS1:
		*v = 1u << 0 | (!u->mains_failed ? 1u << 10 : 0) |
		     (!u->on_battery && u->battery_charge_pct < 99.5 ? 1u << 11 : 0);
		return true;
	case S_STATUS2:
		*v = 1; /* unit operating */
		return true;
	case S_STATUS3:
		*v = 0;
		return true;
	case S_STATUS4:
		*v = 1u << 2 | 1u << 3 | (!u->output_off ? 1u << 6 : 0) | 1u << 9 |
		     (!u->on_battery ? 1u << 12 : 0);
		return true;
	case S_ALARM0:
		*v = (u->overload || u->on_battery ? 1u << 0 : 0) | (u->overload ? 1u << 2 : 0) |
		     (u->mains_failed ? 1u << 5 | 1u << 6 : 0);
		return true;
	case S_ALARM1:
		*v = u->low_battery ? 1u << 15 : 0; /* imminent stop */
		return true;
	case S_ALARM2:
		*v = 0;
		return true;
	case S_ALARM3:
		*v = u->battery_charge_pct <= 0.5 ? 1u << 1 : 0; /* battery discharged */
		return true;
	case S_LOAD1:
	case S_LOAD2:
	case S_LOAD3: {
		unsigned i = src - S_LOAD1;
		if (i >= nl)
			return false;
		*v = u->output_off ? 0 : u->output.load_pct[i];
		return true;
	}
	case S_LOAD:
		*v = u->output_off ? 0 : u->load_pct;
		return true;
	case S_CHARGE:
		*v = u->battery_charge_pct;
		return true;
	case S_BYP_V1:
	case S_BYP_V2:
	case S_BYP_V3:
		if (src - S_BYP_V1 >= (int)nl)
			return false;
		*v = u->bypass.voltage_v[src - S_BYP_V1];
		return true;
	case S_OUT_V1:
	case S_OUT_V2:
	case S_OUT_V3:
		if (src - S_OUT_V1 >= (int)nl)
			return false;
		*v = u->output.voltage_v[src - S_OUT_V1];
		return true;
	case S_OUT_A1:
	case S_OUT_A2:
	case S_OUT_A3:
		if (src - S_OUT_A1 >= (int)nl)
			return false;
		*v = u->output.current_a[src - S_OUT_A1];
		return true;
	case S_BYP_HZ:
		*v = u->bypass.frequency_hz;
		return true;
	case S_OUT_HZ:
		*v = u->output.frequency_hz;
		return true;
	case S_BATT_V:
		*v = u->battery_voltage_v;
		return true;
	case S_AMBIENT:
		*v = u->battery_temp_c;
		return true;
	case S_RUNTIME_MIN:
		/* 0xFFFF while on mains, as the real unit (and NUT) expect */
		if (!u->on_battery)
			return false;
		*v = floor(u->battery_runtime_s / 60.0);
		return true;
	case S_BATT_A:
		*v = u->battery_current_a > 0 ? u->battery_current_a : 0;
		return true;
	default:
		return false;
	}
}

static void socomec_string(const struct mb_ctx *c, uint16_t src, unsigned inst, char *buf,
			   size_t len)
{
	(void)inst;
	if (src == S_SERIAL) {
		size_t n = strlen(c->dev->serial);
		memcpy(buf, c->dev->serial, n < len ? n : len);
	}
}

static int no_write(const struct mb_ctx *c, const struct mb_field *f, unsigned inst,
		    const uint16_t *w)
{
	(void)c;
	(void)f;
	(void)inst;
	(void)w;
	return MB_EX_ILLEGAL_ADDRESS;
}

static const struct mb_model model_socomec = {
	.name = "socomec-ups",
	.tables = TAB_HOLDING | TAB_INPUT,
	.blocks = socomec_blocks,
	.n_blocks = NF(socomec_blocks),
	.value = socomec_value,
	.string = socomec_string,
	.write = no_write,
};

/* ---- Huawei UPS2000 map (realdata/modbus/huawei-ups2000-modbus-registers.txt) ----
 * At the addresses of that map (0-based holding registers 1000.., 2000..,
 * 9009, alarms 40156..), which is what pollers/profiles/modbus/huawei-ups2000.json
 * reads: a simulator that answered elsewhere would only agree with itself.
 * Fixed-point values are uint16 with 0x7FFF meaning "invalid". Identity comes
 * from FC 43 / MEI 14, object 0x87. */

enum huawei_src {
	H_IN_V = 1,
	H_IN_HZ,
	H_BYP_V,
	H_BYP_HZ,
	H_OUT_V,
	H_OUT_A,
	H_OUT_HZ,
	H_OUT_W,
	H_OUT_VA,
	H_LOAD,
	H_STATUS,
	H_TEMP,
	H_LOAD_ON,    /* 1029: write 1 = load on */
	H_SHUTDOWN,   /* 1030: write 1 = load off (or to bypass when 1045 = 1) */
	H_BATT_FLAGS, /* 1043: bit2 self-test, bit6 low battery */
	H_AUTOSTART,  /* 1044 */
	H_BYP_ON_OFF, /* 1045 */
	H_BEEPER_OFF, /* 1046 */
	H_SD_RETURN,  /* 1047..1048: off after r0 * 6 s, back on after r1 minutes */
	H_SD_RETURN_ON,
	H_SD_STAYOFF, /* 1049: off after r * 6 s, stay off */
	H_BATT_V,
	H_CHARGER,
	H_CHARGE,
	H_RUNTIME,
	H_PACKS,
	H_TEST_DEEP,
	H_TEST_STOP,
	H_TEST_QUICK,
	H_CAPACITY,
	H_NOMINAL_VA,
	H_ALARM_BYPASS,  /* 40161 */
	H_ALARM_BATT,    /* 40164 */
	H_ALARM_OVERLOAD /* 40173 */
};

#define HW_INVALID_FIXED 0x7FFF

/* Register tables read best one row per register. */
/* clang-format off */
static const struct mb_field huawei_sys_f[] = {
	{0, T_U16, 0, 10, H_IN_V, 0, 0},
	{3, T_U16, 0, 10, H_IN_HZ, 0, 0},
	{4, T_U16, 0, 10, H_BYP_V, 0, 0},
	{7, T_U16, 0, 10, H_BYP_HZ, 0, 0},
	{8, T_U16, 0, 10, H_OUT_V, 0, 0},
	{11, T_U16, 0, 10, H_OUT_A, 0, 0},
	{14, T_U16, 0, 10, H_OUT_HZ, 0, 0},
	{15, T_U16, 0, 0.01f, H_OUT_W, 0, 0},
	{18, T_U16, 0, 0.01f, H_OUT_VA, 0, 0},
	{21, T_U16, 0, 10, H_LOAD, 0, 0},
	{24, T_U16, 0, 1, H_STATUS, 0, 0},
	{27, T_U16, 0, 10, H_TEMP, 0, 0},
	{29, T_U16, 0, 1, H_LOAD_ON, F_WRITE, 0},
	{30, T_U16, 0, 1, H_SHUTDOWN, F_WRITE, 0},
	{43, T_U16, 0, 1, H_BATT_FLAGS, 0, 0},
	{44, T_U16, 0, 1, H_AUTOSTART, F_WRITE, 0},
	{45, T_U16, 0, 1, H_BYP_ON_OFF, F_WRITE, 0},
	{46, T_U16, 0, 1, H_BEEPER_OFF, F_WRITE, 0},
	{47, T_U16, 0, 1, H_SD_RETURN, F_WRITE, 0},
	{48, T_U16, 0, 1, H_SD_RETURN_ON, F_WRITE, 0},
	{49, T_U16, 0, 1, H_SD_STAYOFF, F_WRITE, 0},
};
static const struct mb_field huawei_batt_f[] = {
	{0, T_U16, 0, 10, H_BATT_V, 0, 0},
	{2, T_U16, 0, 1, H_CHARGER, 0, 0},
	{3, T_U16, 0, 1, H_CHARGE, 0, 0},
	{4, T_U32, 0, 1, H_RUNTIME, 0, 0},
	{7, T_U16, 0, 1, H_PACKS, 0, 0},
	{21, T_U16, 0, 1, H_TEST_DEEP, F_WRITE, 0},
	{23, T_U16, 0, 1, H_TEST_STOP, F_WRITE, 0},
	{28, T_U16, 0, 1, H_TEST_QUICK, F_WRITE, 0},
	{33, T_U16, 0, 1, H_CAPACITY, 0, 0},
};
static const struct mb_field huawei_rated_f[] = {
	{9, T_U16, 0, 0.01f, H_NOMINAL_VA, 0, 0},
};
static const struct mb_field huawei_alarm_f[] = {
	{5, T_U16, 0, 1, H_ALARM_BYPASS, 0, 0},    /* 40161 */
	{8, T_U16, 0, 1, H_ALARM_BATT, 0, 0},      /* 40164 */
	{17, T_U16, 0, 1, H_ALARM_OVERLOAD, 0, 0}, /* 40173 */
};

static const struct mb_block huawei_blocks[] = {
	{TAB_HOLDING, 1000, 50, PER_ONE, huawei_sys_f, NF(huawei_sys_f)},
	{TAB_HOLDING, 2000, 34, PER_ONE, huawei_batt_f, NF(huawei_batt_f)},
	{TAB_HOLDING, 9000, 10, PER_ONE, huawei_rated_f, NF(huawei_rated_f)},
	{TAB_HOLDING, 40156, 27, PER_ONE, huawei_alarm_f, NF(huawei_alarm_f)},
};
/* clang-format on */

/* Huawei settings and timers live in the same per-device side table as the
 * APC ones (struct apc_state): group 0 is the UPS output. */
static bool huawei_value(const struct mb_ctx *c, uint16_t src, unsigned inst, double *v)
{
	const struct sim_ups *u = &c->dev->ups;
	struct apc_state *s = apc_state(c->dev);
	(void)inst;
	if (!s)
		return false;
	apc_run_pending(c->dev, s, c->now_ms);
	bool off = u->output_off;
	switch (src) {
	case H_IN_V:
		*v = u->input.voltage_v[0];
		return true;
	case H_IN_HZ:
		*v = u->input.frequency_hz;
		return true;
	case H_BYP_V:
		*v = u->bypass.voltage_v[0];
		return true;
	case H_BYP_HZ:
		*v = u->bypass.frequency_hz;
		return true;
	case H_OUT_V:
		*v = off ? 0 : u->output.voltage_v[0];
		return true;
	case H_OUT_A:
		*v = off ? 0 : u->output.current_a[0];
		return true;
	case H_OUT_HZ:
		*v = u->output.frequency_hz;
		return true;
	case H_OUT_W:
		*v = off ? 0 : ups_out_w(u);
		return true;
	case H_OUT_VA:
		*v = off ? 0 : u->output.apparent_va[0];
		return true;
	case H_LOAD:
		*v = off ? 0 : u->load_pct;
		return true;
	case H_STATUS:
		/* 0 off, 1 bypass, 2 normal (OL), 3 battery (OB), 5 ECO */
		*v = off ? 0 : u->on_battery ? 3 : 2;
		return true;
	case H_TEMP:
		*v = u->battery_temp_c + 8; /* the inverter runs warmer than the battery */
		return true;
	case H_BATT_FLAGS:
		*v = (s->test_status ? 1u << 2 : 0) | (u->low_battery ? 1u << 6 : 0);
		return true;
	case H_AUTOSTART:
		*v = s->hw_flags & 1;
		return true;
	case H_BYP_ON_OFF:
		*v = (s->hw_flags >> 1) & 1;
		return true;
	case H_BEEPER_OFF:
		*v = (s->hw_flags >> 2) & 1;
		return true;
	case H_LOAD_ON:
	case H_SHUTDOWN:
	case H_SD_RETURN:
	case H_SD_RETURN_ON:
	case H_SD_STAYOFF:
	case H_TEST_DEEP:
	case H_TEST_STOP:
	case H_TEST_QUICK:
		*v = 0;
		return true;
	case H_BATT_V:
		*v = u->battery_voltage_v;
		return true;
	case H_CHARGER:
		*v = u->on_battery ? 5 : u->battery_charge_pct < 99.5 ? 3 : 2;
		return true;
	case H_CHARGE:
		*v = floor(u->battery_charge_pct + 0.5);
		return true;
	case H_RUNTIME:
		*v = u->battery_runtime_s;
		return true;
	case H_PACKS:
		*v = 1;
		return true;
	case H_CAPACITY:
		*v = u->battery_nominal_v > 0
			     ? floor(u->battery_capacity_wh / u->battery_nominal_v + 0.5)
			     : 0;
		return true;
	case H_NOMINAL_VA:
		*v = u->rating_va;
		return true;
	case H_ALARM_BYPASS:
		*v = u->mains_failed ? (1u << 1 | 1u << 2) : 0;
		return true;
	case H_ALARM_BATT:
		*v = u->low_battery ? 1u << 3 : 0; /* battery undervoltage */
		return true;
	case H_ALARM_OVERLOAD:
		*v = u->overload ? (u->load_pct > 110 ? 1u << 3 : 1u << 5) : 0;
		return true;
	default:
		return false;
	}
}

static void huawei_string(const struct mb_ctx *c, uint16_t src, unsigned inst, char *buf,
			  size_t len)
{
	(void)c;
	(void)src;
	(void)inst;
	(void)buf;
	(void)len;
}

static int huawei_write(const struct mb_ctx *c, const struct mb_field *f, unsigned inst,
			const uint16_t *w)
{
	struct apc_state *s = apc_state(c->dev);
	struct sim_ups *u = &c->dev->ups;
	unsigned x = w[0];
	(void)inst;
	if (!s)
		return MB_EX_DEVICE_FAILURE;
	apc_run_pending(c->dev, s, c->now_ms);
	switch (f->src) {
	case H_AUTOSTART:
	case H_BYP_ON_OFF:
	case H_BEEPER_OFF: {
		unsigned bit = f->src == H_AUTOSTART ? 0 : f->src == H_BYP_ON_OFF ? 1 : 2;
		if (x > 1)
			return MB_EX_ILLEGAL_VALUE;
		s->hw_flags = (uint16_t)((s->hw_flags & ~(1u << bit)) | (x << bit));
		return 0;
	}
	case H_LOAD_ON:
		if (x != 1)
			return MB_EX_ILLEGAL_VALUE;
		s->pending_at_ms[0] = 0;
		s->output_off[0] = false;
		break;
	case H_SHUTDOWN:
		if (x != 1)
			return MB_EX_ILLEGAL_VALUE;
		s->pending_at_ms[0] = 0;
		s->output_off[0] = true;
		break;
	case H_SD_STAYOFF:
		if (x > 990)
			return MB_EX_ILLEGAL_VALUE;
		s->pending_back_on[0] = false;
		s->pending_off[0] = true;
		s->pending_at_ms[0] = c->now_ms + 6000LL * x; /* units of 0.1 min */
		if (!x) {
			s->output_off[0] = true;
			s->pending_at_ms[0] = 0;
		}
		break;
	case H_SD_RETURN:
		if (x > 990)
			return MB_EX_ILLEGAL_VALUE;
		s->pending_back_on[0] = true;
		s->pending_off[0] = true;
		s->delay_on[0] = (int16_t)(s->delay_on[0] > 0 ? s->delay_on[0] : 60);
		s->delay_reboot[0] = 0;
		s->pending_at_ms[0] = c->now_ms + 6000LL * x;
		break;
	case H_SD_RETURN_ON:
		if (x > 99)
			return MB_EX_ILLEGAL_VALUE;
		s->delay_on[0] = (int16_t)(60 * x);
		return 0;
	case H_TEST_QUICK:
	case H_TEST_DEEP:
		if (x != 1)
			return MB_EX_ILLEGAL_VALUE;
		s->test_status = 1;
		return 0;
	case H_TEST_STOP:
		if (x != 1)
			return MB_EX_ILLEGAL_VALUE;
		s->test_status = 0;
		return 0;
	default:
		return MB_EX_ILLEGAL_ADDRESS;
	}
	u->output_off = s->output_off[0];
	sim_device_update(c->dev, c->now_ms);
	return 0;
}

static const struct mb_model model_huawei = {
	.name = "huawei-ups2000",
	.tables = TAB_HOLDING,
	.blocks = huawei_blocks,
	.n_blocks = NF(huawei_blocks),
	.value = huawei_value,
	.string = huawei_string,
	.write = huawei_write,
};

static const struct mb_model *model_of(const struct sim_device *dev)
{
	if (dev->model == SIM_MODEL_SOCOMEC_UPS)
		return &model_socomec;
	if (dev->model == SIM_MODEL_HUAWEI_UPS)
		return &model_huawei;
	if (dev->kind == SIM_KIND_UPS)
		return &model_apc;
	return &model_pdu;
}

/* ---- register access through a map ---- */

static unsigned block_instances(const struct mb_ctx *c, const struct mb_block *b)
{
	if (b->per == PER_ONE)
		return 1;
	if (c->dev->kind != SIM_KIND_PDU)
		return 0;
	const struct sim_pdu_unit *u = pdu_unit(c);
	switch (b->per) {
	case PER_LINE:
		return u->n_lines;
	case PER_BRANCH:
		return u->n_branches;
	case PER_OUTLET:
		return u->n_outlets;
	case PER_SENSOR:
		return u->n_sensors;
	default:
		return 0;
	}
}

/* Finds the block holding addr in table tab; sets *inst and *off. */
static const struct mb_block *find_block(const struct mb_model *m, const struct mb_ctx *c,
					 unsigned tab, unsigned addr, unsigned *inst, unsigned *off)
{
	for (size_t i = 0; i < m->n_blocks; i++) {
		const struct mb_block *b = &m->blocks[i];
		if (!(b->tables & tab) || addr < b->start)
			continue;
		unsigned n = block_instances(c, b);
		if (addr >= b->start + (unsigned)b->stride * n)
			continue;
		*inst = (addr - b->start) / b->stride;
		*off = (addr - b->start) % b->stride;
		return b;
	}
	return NULL;
}

static const struct mb_field *find_field(const struct mb_block *b, unsigned off)
{
	for (size_t i = 0; i < b->n_fields; i++) {
		const struct mb_field *f = &b->fields[i];
		if (off >= f->off && off < f->off + field_regs(f))
			return f;
	}
	return NULL;
}

/* Reads count registers from addr; 0 or a Modbus exception code. */
static int map_read(const struct mb_model *m, const struct mb_ctx *c, unsigned tab, unsigned addr,
		    unsigned count, uint16_t *out)
{
	if (!(m->tables & tab))
		return MB_EX_ILLEGAL_FUNCTION;
	unsigned a = addr;
	while (a < addr + count) {
		unsigned inst, off;
		const struct mb_block *b = find_block(m, c, tab, a, &inst, &off);
		if (!b)
			return MB_EX_ILLEGAL_ADDRESS;
		const struct mb_field *f = find_field(b, off);
		if (!f) {
			out[a - addr] = 0; /* reserved register inside a block */
			a++;
			continue;
		}
		uint16_t words[64];
		encode_field(m, c, f, inst, words);
		unsigned n = field_regs(f);
		for (unsigned k = off - f->off; k < n && a < addr + count; k++, a++)
			out[a - addr] = words[k];
	}
	return 0;
}

/* Writes count registers at addr; every register must belong to a writable
 * field and every field must be written whole. 0 or an exception code. */
static int map_write(const struct mb_model *m, const struct mb_ctx *c, unsigned addr,
		     unsigned count, const uint16_t *vals)
{
	if (!(m->tables & TAB_HOLDING))
		return MB_EX_ILLEGAL_FUNCTION;
	/* validate the whole span first, so a bad write changes nothing */
	for (unsigned a = addr; a < addr + count;) {
		unsigned inst, off;
		const struct mb_block *b = find_block(m, c, TAB_HOLDING, a, &inst, &off);
		const struct mb_field *f = b ? find_field(b, off) : NULL;
		if (!f || !(f->flags & F_WRITE) || off != f->off ||
		    a + field_regs(f) > addr + count)
			return MB_EX_ILLEGAL_ADDRESS;
		a += field_regs(f);
	}
	for (unsigned a = addr; a < addr + count;) {
		unsigned inst, off;
		const struct mb_block *b = find_block(m, c, TAB_HOLDING, a, &inst, &off);
		const struct mb_field *f = find_field(b, off);
		int ex = m->write(c, f, inst, vals + (a - addr));
		if (ex)
			return ex;
		a += field_regs(f);
	}
	return 0;
}

/* ---- ports, connections and MBAP framing ---- */

struct mb_unit {
	struct sim_device *dev;
	uint8_t unit; /* PDU unit index in the device's daisy chain */
};

struct mb_port {
	uint16_t port;
	struct evconnlistener *lis;
	struct mb_unit units[256];
};

struct mb_conn {
	struct bufferevent *bev;
	struct mb_port *port;
	struct event *delay_ev;   /* a delayed answer is waiting */
	struct evbuffer *delayed; /* its bytes */
	bool close_after_delay;
	bool backpressure; /* reading paused until the client reads its answers */
	struct mb_conn *prev, *next;
};

static void conn_free(struct mb_conn *cn)
{
	if (cn->prev)
		cn->prev->next = cn->next;
	else
		g.conns = cn->next;
	if (cn->next)
		cn->next->prev = cn->prev;
	if (cn->delay_ev)
		event_free(cn->delay_ev);
	if (cn->delayed)
		evbuffer_free(cn->delayed);
	bufferevent_free(cn->bev);
	free(cn);
}

static void put_u16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get_u16(const uint8_t *p)
{
	return ((unsigned)p[0] << 8) | p[1];
}

/* Builds an exception ADU; returns its length. */
static size_t build_exception(uint8_t *rsp, const uint8_t *req, uint8_t fc, int ex)
{
	memcpy(rsp, req, 4); /* transaction and protocol id */
	put_u16(rsp + 4, 3);
	rsp[6] = req[6];
	rsp[7] = (uint8_t)(fc | 0x80);
	rsp[8] = (uint8_t)ex;
	return 9;
}

/* FC 43 / MEI 14 of the Huawei UPS2000: basic identification (objects 0-2)
 * and the vendor's extended object 0x87 (device count) with 0x88, the
 * description string "1=model;2=firmware;3=protocol;4=ESN;..." NUT parses.
 * Returns the response length, or 0 with *ex set. */
static size_t huawei_device_id(const struct mb_ctx *c, const uint8_t *req, size_t plen,
			       uint8_t *rsp, int *ex)
{
	const uint8_t *pdu = req + 8;
	if (plen != 3 || pdu[0] != 0x0E) {
		*ex = MB_EX_ILLEGAL_VALUE;
		return 0;
	}
	uint8_t code = pdu[1], obj = pdu[2];
	char desc[160];
	snprintf(desc, sizeof(desc), "1=UPS2000A;2=%s;3=P1.0-D1.0;4=%s;5=0;6=0", c->dev->firmware,
		 c->dev->serial);
	struct {
		uint8_t id;
		const char *s;
		uint8_t len;
		uint8_t raw[4];
	} objs[5] = {
		{0x00, "Huawei", 6, {0}},
		{0x01, "UPS2000A", 8, {0}},
		{0x02, c->dev->firmware, (uint8_t)strlen(c->dev->firmware), {0}},
		{0x87, NULL, 4, {0, 0, 0, 1}},
		{0x88, desc, (uint8_t)strlen(desc), {0}},
	};
	size_t first, last; /* object slots to send */
	if (code == 1) {
		first = 0, last = 2;
	} else if (code == 3 && obj == 0x87) {
		first = 3, last = 4;
	} else if (code == 4) {
		for (first = 0; first < 5 && objs[first].id != obj; first++)
			;
		if (first == 5) {
			*ex = MB_EX_ILLEGAL_ADDRESS;
			return 0;
		}
		last = first;
	} else {
		*ex = code >= 1 && code <= 4 ? MB_EX_ILLEGAL_ADDRESS : MB_EX_ILLEGAL_VALUE;
		return 0;
	}
	size_t n = 8;
	memcpy(rsp, req, 4);
	rsp[6] = req[6];
	rsp[7] = MB_FC_DEVICE_ID;
	rsp[n++] = 0x0E;
	rsp[n++] = code;
	rsp[n++] = code == 3 ? 0x03 : 0x01; /* conformity level */
	rsp[n++] = 0x00;                    /* no more follows */
	rsp[n++] = 0x00;
	rsp[n++] = (uint8_t)(last - first + 1);
	for (size_t i = first; i <= last; i++) {
		rsp[n++] = objs[i].id;
		rsp[n++] = objs[i].len;
		memcpy(rsp + n, objs[i].s ? (const void *)objs[i].s : objs[i].raw, objs[i].len);
		n += objs[i].len;
	}
	put_u16(rsp + 4, (unsigned)(n - 6));
	return n;
}

/* Answers one request ADU (len bytes, MBAP included) into rsp; returns the
 * response length, 0 for no answer. *delay_ms and *drop tell the transport
 * what else to do. */
static size_t handle_adu(struct mb_conn *cn, const uint8_t *req, size_t len, uint8_t *rsp,
			 uint32_t *delay_ms, bool *drop)
{
	uint8_t uid = req[6];
	uint8_t fc = req[7];
	const uint8_t *pdu = req + 8;
	size_t plen = len - 8;
	struct mb_unit *mu = &cn->port->units[uid];
	*delay_ms = 0;
	*drop = false;

	if (!mu->dev)
		return build_exception(rsp, req, fc, MB_EX_GATEWAY_TARGET);

	struct mb_ctx c = {.dev = mu->dev, .unit = mu->unit, .now_ms = sim_now_ms(g.sim)};
	enum sim_fault_action fa = sim_fault_check(c.dev, SIM_PROTO_MODBUS, delay_ms);
	switch (fa) {
	case SIM_FA_DROP:
		return 0;
	case SIM_FA_DISCONNECT:
		*drop = true;
		return 0;
	case SIM_FA_GARBAGE: {
		size_t n = 9 + (c.dev->requests % 24);
		sim_fault_garbage(c.dev, rsp, n);
		return n;
	}
	case SIM_FA_ERROR:
		return build_exception(rsp, req, fc,
				       c.dev->faults.modbus_exception
					       ? c.dev->faults.modbus_exception
					       : MB_EX_DEVICE_FAILURE);
	default:
		break;
	}

	sim_device_update(c.dev, c.now_ms);
	const struct mb_model *m = model_of(c.dev);
	uint16_t regs[MB_MAX_READ];
	size_t n = 0;
	int ex = 0;

	switch (fc) {
	case MB_FC_READ_HOLDING:
	case MB_FC_READ_INPUT: {
		if (plen != 4) {
			ex = MB_EX_ILLEGAL_VALUE;
			break;
		}
		unsigned addr = get_u16(pdu), count = get_u16(pdu + 2);
		if (count < 1 || count > MB_MAX_READ) {
			ex = MB_EX_ILLEGAL_VALUE;
			break;
		}
		if (addr + count > 0x10000) {
			ex = MB_EX_ILLEGAL_ADDRESS;
			break;
		}
		ex = map_read(m, &c, fc == MB_FC_READ_HOLDING ? TAB_HOLDING : TAB_INPUT, addr,
			      count, regs);
		if (ex)
			break;
		memcpy(rsp, req, 4);
		put_u16(rsp + 4, 3 + 2 * count);
		rsp[6] = uid;
		rsp[7] = fc;
		rsp[8] = (uint8_t)(2 * count);
		for (unsigned i = 0; i < count; i++)
			put_u16(rsp + 9 + 2 * i, regs[i]);
		n = 9 + 2 * count;
		break;
	}
	case MB_FC_WRITE_SINGLE: {
		if (plen != 4) {
			ex = MB_EX_ILLEGAL_VALUE;
			break;
		}
		uint16_t val = (uint16_t)get_u16(pdu + 2);
		ex = map_write(m, &c, get_u16(pdu), 1, &val);
		if (ex)
			break;
		memcpy(rsp, req, 12); /* echo of the request */
		n = 12;
		break;
	}
	case MB_FC_WRITE_MULTIPLE: {
		if (plen < 5) {
			ex = MB_EX_ILLEGAL_VALUE;
			break;
		}
		unsigned addr = get_u16(pdu), count = get_u16(pdu + 2), bytes = pdu[4];
		if (count < 1 || count > MB_MAX_WRITE || bytes != 2 * count || plen != 5 + bytes) {
			ex = MB_EX_ILLEGAL_VALUE;
			break;
		}
		if (addr + count > 0x10000) {
			ex = MB_EX_ILLEGAL_ADDRESS;
			break;
		}
		for (unsigned i = 0; i < count; i++)
			regs[i] = (uint16_t)get_u16(pdu + 5 + 2 * i);
		ex = map_write(m, &c, addr, count, regs);
		if (ex)
			break;
		memcpy(rsp, req, 4);
		put_u16(rsp + 4, 6);
		rsp[6] = uid;
		rsp[7] = fc;
		put_u16(rsp + 8, addr);
		put_u16(rsp + 10, count);
		n = 12;
		break;
	}
	case MB_FC_DEVICE_ID:
		if (m != &model_huawei) {
			ex = MB_EX_ILLEGAL_FUNCTION;
			break;
		}
		n = huawei_device_id(&c, req, plen, rsp, &ex);
		break;
	default:
		ex = MB_EX_ILLEGAL_FUNCTION;
		break;
	}
	if (ex)
		n = build_exception(rsp, req, fc, ex);
	if (fa == SIM_FA_TRUNCATE && n > 1)
		n = sim_fault_truncate_len(n);
	return n;
}

static void conn_read_cb(struct bufferevent *bev, void *arg);

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mb_conn *cn = arg;
	(void)fd;
	(void)what;
	event_free(cn->delay_ev);
	cn->delay_ev = NULL;
	if (cn->close_after_delay) {
		conn_free(cn);
		return;
	}
	bufferevent_write_buffer(cn->bev, cn->delayed);
	bufferevent_enable(cn->bev, EV_READ);
	/* requests that arrived meanwhile are still in the input buffer */
	conn_read_cb(cn->bev, cn);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct mb_conn *cn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!cn->delay_ev) {
		uint8_t req[MB_MAX_ADU], rsp[MB_MAX_ADU];
		if (evbuffer_get_length(bufferevent_get_output(bev)) > MB_OUT_HIGH) {
			/* the client does not read its answers: stop reading its
			 * requests until conn_write_cb sees the queue drained */
			cn->backpressure = true;
			bufferevent_disable(bev, EV_READ);
			return;
		}
		size_t have = evbuffer_get_length(in);
		if (have < MB_MBAP_LEN)
			return;
		if (evbuffer_copyout(in, req, MB_MBAP_LEN) != MB_MBAP_LEN)
			return;
		unsigned proto = get_u16(req + 2), len = get_u16(req + 4);
		/* length counts the unit id and the PDU: 2..254 */
		if (proto != 0 || len < 2 || len > 254) {
			conn_free(cn);
			return;
		}
		if (have < 6 + len)
			return;
		evbuffer_remove(in, req, 6 + len);

		uint32_t delay_ms = 0;
		bool drop = false;
		size_t n = handle_adu(cn, req, 6 + len, rsp, &delay_ms, &drop);
		if (drop && !delay_ms) {
			conn_free(cn);
			return;
		}
		if (!delay_ms) {
			if (n)
				bufferevent_write(bev, rsp, n);
			continue;
		}
		/* Hold this answer and every later request until the delay ends,
		 * so answers keep their order like on a real serial gateway. */
		if (!cn->delayed)
			cn->delayed = evbuffer_new();
		cn->delay_ev = evtimer_new(g.base, delay_cb, cn);
		if (!cn->delayed || !cn->delay_ev) {
			conn_free(cn);
			return;
		}
		evbuffer_drain(cn->delayed, evbuffer_get_length(cn->delayed));
		if (n)
			evbuffer_add(cn->delayed, rsp, n);
		cn->close_after_delay = drop;
		bufferevent_disable(bev, EV_READ);
		struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
		evtimer_add(cn->delay_ev, &tv);
	}
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct mb_conn *cn = arg;
	/* called once the output fell below MB_OUT_LOW */
	if (!cn->backpressure || cn->delay_ev)
		return;
	cn->backpressure = false;
	bufferevent_enable(bev, EV_READ);
	conn_read_cb(bev, cn);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_free(arg);
}

static void accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct mb_port *p = arg;
	(void)lis;
	(void)sa;
	(void)socklen;
	struct mb_conn *cn = calloc(1, sizeof(*cn));
	if (!cn) {
		evutil_closesocket(fd);
		return;
	}
	cn->bev = bufferevent_socket_new(g.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!cn->bev) {
		evutil_closesocket(fd);
		free(cn);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cn->port = p;
	cn->next = g.conns;
	if (g.conns)
		g.conns->prev = cn;
	g.conns = cn;
	struct timeval idle = {MB_IDLE_TIMEOUT_S, 0};
	bufferevent_set_timeouts(cn->bev, &idle, NULL);
	bufferevent_setcb(cn->bev, conn_read_cb, conn_write_cb, conn_event_cb, cn);
	bufferevent_setwatermark(cn->bev, EV_WRITE, MB_OUT_LOW, 0);
	bufferevent_enable(cn->bev, EV_READ | EV_WRITE);
}

static void accept_error_cb(struct evconnlistener *lis, void *arg)
{
	struct mb_port *p = arg;
	(void)lis;
	/* EMFILE and friends: keep serving the connections we have */
	wt_warn("sim modbus: accept on port %u: %s", p->port,
		evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static struct mb_port *port_get(uint16_t port)
{
	for (size_t i = 0; i < g.n_ports; i++)
		if (g.ports[i].port == port)
			return &g.ports[i];
	return NULL;
}

int sim_modbus_start(struct sim *sim, struct event_base *base)
{
	size_t n_mb = 0;
	int rc = 0;

	if (g.sim)
		return -EALREADY;
	for (size_t i = 0; i < sim->n_devices; i++)
		if (sim->devices[i]->proto == SIM_PROTO_MODBUS)
			n_mb++;
	if (!n_mb)
		return 0;
	g.sim = sim;
	g.base = base;
	g.ports = calloc(n_mb, sizeof(*g.ports));
	g.apc = calloc(sim->n_devices, sizeof(*g.apc));
	g.pdu_delay = calloc(sim->n_devices, sizeof(*g.pdu_delay));
	g.n_apc = sim->n_devices;
	if (!g.ports || !g.apc || !g.pdu_delay) {
		sim_modbus_stop();
		return -ENOMEM;
	}
	/* own unit ids first, then the further units of daisy chains, so an
	 * explicit device always wins a clash */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sim->n_devices; i++) {
			struct sim_device *d = sim->devices[i];
			if (d->proto != SIM_PROTO_MODBUS || !d->ep.modbus_port)
				continue;
			struct mb_port *p = port_get(d->ep.modbus_port);
			if (!p) {
				p = &g.ports[g.n_ports++];
				p->port = d->ep.modbus_port;
			}
			unsigned n_units = d->kind == SIM_KIND_PDU ? d->pdu.n_units : 1;
			if (n_units < 1)
				n_units = 1;
			for (unsigned u = pass == 0 ? 0 : 1; u < (pass == 0 ? 1 : n_units); u++) {
				unsigned uid = d->ep.modbus_unit + u;
				if (uid > 255 || p->units[uid].dev)
					continue;
				p->units[uid].dev = d;
				p->units[uid].unit = (uint8_t)u;
			}
		}
	}
	/* A port that cannot be bound costs its devices, not the whole fleet:
	 * the other ports keep being served and the first error is returned. */
	size_t listening = 0;
	for (size_t i = 0; i < g.n_ports; i++) {
		struct mb_port *p = &g.ports[i];
		struct sockaddr_in sin;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(p->port);
		if (inet_pton(AF_INET, sim->bind_addr[0] ? sim->bind_addr : "127.0.0.1",
			      &sin.sin_addr) != 1) {
			rc = -EINVAL;
			break;
		}
		p->lis = evconnlistener_new_bind(base, accept_cb, p,
						 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
						 (struct sockaddr *)&sin, sizeof(sin));
		if (!p->lis) {
			int err = errno ? errno : EADDRINUSE;
			wt_error("sim modbus: cannot listen on %s:%u: %s", sim->bind_addr, p->port,
				 strerror(err));
			if (!rc)
				rc = -err;
			continue;
		}
		evconnlistener_set_error_cb(p->lis, accept_error_cb);
		listening++;
	}
	if (!listening) {
		sim_modbus_stop();
		return rc ? rc : -EADDRINUSE;
	}
	wt_info("sim modbus: %zu devices on %zu of %zu ports", n_mb, listening, g.n_ports);
	return rc;
}

void sim_modbus_stop(void)
{
	while (g.conns)
		conn_free(g.conns);
	for (size_t i = 0; i < g.n_ports; i++)
		if (g.ports[i].lis)
			evconnlistener_free(g.ports[i].lis);
	free(g.ports);
	for (size_t i = 0; g.pdu_delay && i < g.n_apc; i++)
		free(g.pdu_delay[i]);
	free(g.pdu_delay);
	free(g.apc);
	memset(&g, 0, sizeof(g));
}
