/* Alarms: the in-memory table of active and unacknowledged alarms, their
 * escalation up rack -> row -> room -> data centre, and the in-process
 * subscriber list (notifications, the API's push stream). Persistence is a
 * store hook (rules/dbq.h implements it). Loop thread only. */
#ifndef WT_RULES_ALARM_H
#define WT_RULES_ALARM_H

#include "clock.h"
#include "rule.h"
#include "structure.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wt_alarm_kind {
	WT_ALARM_THRESHOLD = 0, /* a rule's threshold on a series */
	WT_ALARM_COMM_LOST,     /* the poller lost the device */
	WT_ALARM_REBOOT,        /* the device restarted (uptime/counters went back) */
	WT_ALARM__COUNT
};

struct wt_alarm {
	int64_t id;
	enum wt_alarm_kind kind;
	bool active;
	uint8_t severity; /* enum wt_severity, never OK */
	int8_t thr;       /* enum wt_thr that tripped, -1 for built-in alarms */
	double value;     /* tripping value (latest while active) */
	double threshold;
	int64_t rule_id;   /* 0 for built-in alarms */
	uint32_t series;   /* 0 for device-level alarms */
	int64_t device_id; /* 0 for aggregate alarms */
	int64_t entity_id;
	int64_t element_id; /* where it escalates from: the device's rack or the aggregate's element
			     */
	int64_t raised_ms, cleared_ms, updated_ms, last_notify_ms;
	bool acked;
	int64_t acked_ms;
	char *acked_by, *ack_comment;
	char *message;
	char *rule_name;
};

enum wt_alarm_change {
	WT_ALARM_RAISED = 0,
	WT_ALARM_SEVERITY, /* escalated or de-escalated while active */
	WT_ALARM_CLEARED,
	WT_ALARM_REPEAT, /* still active, repeat interval passed */
	WT_ALARM_ACKED,
	WT_ALARM_CHANGE__COUNT
};

struct wt_alarm_event {
	enum wt_alarm_change change;
	uint8_t old_severity;
	const struct wt_alarm *alarm; /* valid during the call only */
};

typedef void (*wt_alarm_fn)(void *ctx, const struct wt_alarm_event *ev);

/* Persistence hook: save gets every change (a snapshot to copy), next_id
 * hands out ids that are unique in the database. */
struct wt_alarm_store {
	int64_t (*next_id)(void *ctx);
	void (*save)(void *ctx, const struct wt_alarm *a, enum wt_alarm_change change);
	void *ctx;
};

struct wt_alarms;

struct wt_alarms *wt_alarms_new(const struct wt_clock *clock);
void wt_alarms_free(struct wt_alarms *a);
void wt_alarms_set_store(struct wt_alarms *a, const struct wt_alarm_store *store);
int wt_alarms_subscribe(struct wt_alarms *a, wt_alarm_fn fn, void *ctx)
	__attribute__((warn_unused_result));

/* Raises a new active alarm from tmpl (strings copied; id, times, active
 * filled in); publishes RAISED. NULL on allocation failure. */
struct wt_alarm *wt_alarms_raise(struct wt_alarms *a, const struct wt_alarm *tmpl);
/* Changes an active alarm's severity/value/message; publishes SEVERITY. */
void wt_alarms_set_severity(struct wt_alarms *a, struct wt_alarm *al, uint8_t severity, int8_t thr,
			    double value, double threshold, const char *message);
/* Makes an alarm inactive; publishes CLEARED. An acknowledged alarm then
 * leaves memory: al is invalid after the call. */
void wt_alarms_clear(struct wt_alarms *a, struct wt_alarm *al, double value);
/* Publishes REPEAT if the alarm is active and repeat_s passed since the
 * last notification. */
void wt_alarms_maybe_repeat(struct wt_alarms *a, struct wt_alarm *al, int32_t repeat_s);
/* Acknowledges by id; -ENOENT if not in memory (inactive and already acked,
 * or unknown). An inactive alarm then leaves memory. */
int wt_alarms_ack(struct wt_alarms *a, int64_t id, const char *by, const char *comment)
	__attribute__((warn_unused_result));
/* Puts back an alarm loaded from the database at start-up, without
 * publishing or saving. */
struct wt_alarm *wt_alarms_restore(struct wt_alarms *a, const struct wt_alarm *loaded);

struct wt_alarm *wt_alarms_get(struct wt_alarms *a, int64_t id);
size_t wt_alarms_count(const struct wt_alarms *a);
/* The i-th alarm in memory (active or unacknowledged), i < count. */
struct wt_alarm *wt_alarms_at(struct wt_alarms *a, size_t i);

/* Escalation: the structure the status is computed over (not owned; call
 * again after every structure change, it recounts). */
void wt_alarms_set_structure(struct wt_alarms *a, const struct wt_structure *s);
/* Worst active severity at or below an element: WT_SEV_OK/WARNING/CRITICAL. */
uint8_t wt_alarms_element_status(const struct wt_alarms *a, int64_t element_id);
/* Active alarm counts at or below an element. */
void wt_alarms_element_counts(const struct wt_alarms *a, int64_t element_id, uint32_t *warning,
			      uint32_t *critical);

const char *wt_alarm_kind_name(enum wt_alarm_kind k);
const char *wt_alarm_change_name(enum wt_alarm_change c);
/* Frees the strings of an alarm not owned by the table (e.g. a loaded copy). */
void wt_alarm_clear_strings(struct wt_alarm *al);

#endif
