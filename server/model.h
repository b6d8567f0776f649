/* The canonical measurement model (DESIGN.md): every protocol and vendor maps
 * onto these entity kinds and metrics, so rules, storage, the API and the
 * console never need to know where a number came from.
 *
 * This header is shared by every layer. It holds vocabulary and plain value
 * types only: no I/O, no allocation. */
#ifndef WT_MODEL_H
#define WT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What part of a device an entity is. A daisy-chained unit behind one address
 * is its own device (same endpoint, its own unit number), not an entity. */
enum wt_entity_kind {
	WT_ENT_TOTAL = 0, /* the whole device */
	WT_ENT_INLET,     /* an input cord / UPS input */
	WT_ENT_PHASE,     /* a line of an inlet: L1..L3 (wye) or L1-L2.. (delta) */
	WT_ENT_BRANCH,    /* a circuit breaker / overcurrent protector */
	WT_ENT_OUTLET,
	WT_ENT_SENSOR,    /* temperature, humidity, contact, leak */
	WT_ENT_BATTERY,
	WT_ENT_BYPASS,    /* a UPS bypass line */
	WT_ENT_OUTPUT,    /* a UPS output line */
	WT_ENT__COUNT
};

/* Fixed metric vocabulary, SI units. Order is stable: ids are stored. New
 * metrics are appended, never inserted. */
enum wt_metric {
	WT_M_VOLTAGE = 0,        /* V */
	WT_M_VOLTAGE_PEAK,       /* V */
	WT_M_VOLTAGE_DIP,        /* V */
	WT_M_CURRENT,            /* A */
	WT_M_CURRENT_PEAK,       /* A */
	WT_M_NEUTRAL_CURRENT,    /* A */
	WT_M_RESIDUAL_CURRENT,   /* A */
	WT_M_POWER_ACTIVE,       /* W */
	WT_M_POWER_APPARENT,     /* VA */
	WT_M_POWER_REACTIVE,     /* var */
	WT_M_POWER_FACTOR,       /* 0..1 */
	WT_M_ENERGY_ACTIVE,      /* Wh, cumulative counter on the device */
	WT_M_ENERGY_APPARENT,    /* VAh, cumulative counter on the device */
	WT_M_FREQUENCY,          /* Hz */
	WT_M_THD_VOLTAGE,        /* % */
	WT_M_THD_CURRENT,        /* % */
	WT_M_CREST_FACTOR,       /* ratio */
	WT_M_PHASE_ANGLE,        /* degrees */
	WT_M_TEMPERATURE,        /* degrees Celsius */
	WT_M_HUMIDITY,           /* % RH */
	WT_M_BATTERY_CHARGE,     /* % */
	WT_M_BATTERY_RUNTIME,    /* s */
	WT_M_LOAD_PERCENT,       /* % */
	WT_M_OUTLET_STATE,       /* state: 1 on, 0 off */
	WT_M_BREAKER_TRIPPED,    /* state: 1 tripped, 0 closed */
	WT_M_ON_BATTERY,         /* state: 1 on battery */
	WT_M_LOW_BATTERY,        /* state: 1 battery low */
	WT_M_OVERLOAD,           /* state: 1 overloaded */
	WT_M_CONTACT,            /* state: 1 closed/alarm, 0 open/normal */
	WT_M_LEAK,               /* state: 1 leak detected */
	WT_M_CURRENT_RATING,     /* A, a rating published by the device */
	WT_M_HEADROOM,           /* A, redundancy headroom (aggregates) */
	WT_M__COUNT
};

/* Metric flags, documented where they are defined. */
enum {
	WT_MF_COUNTER = 1u << 0, /* cumulative on the device; stored as deltas */
	WT_MF_STATE = 1u << 1,   /* a discrete state, not a measurement */
	WT_MF_SUMMABLE = 1u << 2 /* rack/row/room aggregates add it up */
};

struct wt_metric_info {
	const char *name; /* canonical name, e.g. "power_active" */
	const char *unit; /* SI unit symbol, "" for none */
	unsigned flags;   /* WT_MF_* */
};

/* Sample quality. A sample that is not GOOD is kept but marked. */
enum wt_quality {
	WT_Q_GOOD = 0,
	WT_Q_ESTIMATED = 1, /* derived, or an aggregate with members missing */
	WT_Q_BAD = 2        /* the device said the reading is invalid */
};

/* One reading on the hot path: integers and a double, never strings. */
struct wt_sample {
	uint32_t series; /* stable series id (series table) */
	uint8_t quality; /* enum wt_quality */
	int64_t ts_ms;   /* Unix time in milliseconds */
	double value;    /* canonical SI unit; counters as read from the device */
};

/* A closed 5 s bucket, as handed to the live view, aggregator, rules and
 * writer. For counters, min/max/sum/last hold the delta over the bucket. */
struct wt_bucket {
	uint32_t series;
	uint32_t count;   /* samples folded in; 0 never leaves the engine */
	int64_t start_ms; /* wall-clock aligned start of the bucket */
	double min, max, sum, last;
	uint8_t quality;  /* worst quality folded in */
};

#define WT_BUCKET_MS 5000

/* Where a driver sends its samples. Drivers know nothing else. */
struct wt_sample_sink {
	void (*emit)(void *ctx, const struct wt_sample *samples, size_t n);
	void *ctx;
};

/* Called once per 5 s close with every bucket closed at that boundary
 * (live view, aggregator, rules, writer subscribe to this). */
typedef void (*wt_close_fn)(void *ctx, int64_t bucket_start_ms, const struct wt_bucket *buckets,
			    size_t n);

const struct wt_metric_info *wt_metric_info(enum wt_metric m);
/* Returns the metric with that canonical name, or -1. */
int wt_metric_by_name(const char *name);
const char *wt_entity_kind_name(enum wt_entity_kind k);
/* Returns the entity kind with that name ("outlet"), or -1. */
int wt_entity_kind_by_name(const char *name);

#endif
