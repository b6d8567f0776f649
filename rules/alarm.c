#include "alarm.h"

#include "idmap.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sub {
	wt_alarm_fn fn;
	void *ctx;
};

struct wt_alarms {
	const struct wt_clock *clock;
	struct wt_alarm_store store;
	int64_t local_next; /* ids when no store is set (tests) */
	struct wt_alarm **v;
	size_t n, cap;
	struct wt_idmap byid; /* alarm id -> index in v */
	struct sub *subs;
	size_t nsubs;
	const struct wt_structure *st;
	uint32_t (*counts)[2]; /* per element: active warning, critical at or below */
};

static const char *const kind_names[WT_ALARM__COUNT] = {"threshold", "comm_lost", "reboot"};
static const char *const change_names[WT_ALARM_CHANGE__COUNT] = {"raised", "severity", "cleared",
								 "repeat", "acked"};

const char *wt_alarm_kind_name(enum wt_alarm_kind k)
{
	return (unsigned)k < WT_ALARM__COUNT ? kind_names[k] : "";
}

const char *wt_alarm_change_name(enum wt_alarm_change c)
{
	return (unsigned)c < WT_ALARM_CHANGE__COUNT ? change_names[c] : "";
}

void wt_alarm_clear_strings(struct wt_alarm *al)
{
	free(al->acked_by);
	free(al->ack_comment);
	free(al->message);
	free(al->rule_name);
	al->acked_by = al->ack_comment = al->message = al->rule_name = NULL;
}

struct wt_alarms *wt_alarms_new(const struct wt_clock *clock)
{
	struct wt_alarms *a = calloc(1, sizeof(*a));
	if (a) {
		a->clock = clock;
		a->local_next = 1;
	}
	return a;
}

void wt_alarms_free(struct wt_alarms *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		wt_alarm_clear_strings(a->v[i]);
		free(a->v[i]);
	}
	free(a->v);
	wt_idmap_free(&a->byid);
	free(a->subs);
	free(a->counts);
	free(a);
}

void wt_alarms_set_store(struct wt_alarms *a, const struct wt_alarm_store *store)
{
	a->store = *store;
}

int wt_alarms_subscribe(struct wt_alarms *a, wt_alarm_fn fn, void *ctx)
{
	struct sub *s = realloc(a->subs, (a->nsubs + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	a->subs = s;
	a->subs[a->nsubs++] = (struct sub){fn, ctx};
	return 0;
}

static void publish(struct wt_alarms *a, struct wt_alarm *al, enum wt_alarm_change c, uint8_t old)
{
	struct wt_alarm_event ev = {c, old, al};
	if (a->store.save)
		a->store.save(a->store.ctx, al, c);
	for (size_t i = 0; i < a->nsubs; i++)
		a->subs[i].fn(a->subs[i].ctx, &ev);
}

/* Adds delta to the severity count of the alarm's element and every
 * ancestor: that is the escalation up the tree. */
static void count(struct wt_alarms *a, const struct wt_alarm *al, int delta)
{
	if (!a->st || !a->counts || !al->active || al->severity == WT_SEV_OK)
		return;
	int sev = al->severity == WT_SEV_CRITICAL ? 1 : 0;
	for (int32_t e = wt_structure_find(a->st, al->element_id); e >= 0; e = a->st->el[e].parent)
		a->counts[e][sev] += (uint32_t)delta;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct wt_alarm *insert(struct wt_alarms *a, const struct wt_alarm *tmpl)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct wt_alarm **v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		a->v = v;
		a->cap = cap;
	}
	struct wt_alarm *al = malloc(sizeof(*al));
	if (!al)
		return NULL;
	*al = *tmpl;
	al->acked_by = dup_or_null(tmpl->acked_by);
	al->ack_comment = dup_or_null(tmpl->ack_comment);
	al->message = dup_or_null(tmpl->message);
	al->rule_name = dup_or_null(tmpl->rule_name);
	if (wt_idmap_put(&a->byid, (uint64_t)al->id, (int32_t)a->n)) {
		wt_alarm_clear_strings(al);
		free(al);
		return NULL;
	}
	a->v[a->n++] = al;
	return al;
}

static void forget(struct wt_alarms *a, struct wt_alarm *al)
{
	int32_t i = wt_idmap_get(&a->byid, (uint64_t)al->id);
	if (i < 0)
		return;
	wt_idmap_del(&a->byid, (uint64_t)al->id);
	a->v[i] = a->v[--a->n];
	if ((size_t)i < a->n)
		(void)wt_idmap_put(&a->byid, (uint64_t)a->v[i]->id, i); /* replaces: cannot fail */
	wt_alarm_clear_strings(al);
	free(al);
}

struct wt_alarm *wt_alarms_raise(struct wt_alarms *a, const struct wt_alarm *tmpl)
{
	struct wt_alarm t = *tmpl;
	int64_t now = wt_clock_now(a->clock);

	t.id = a->store.next_id ? a->store.next_id(a->store.ctx) : a->local_next++;
	if (t.id <= 0) {
		wt_error("alarms: no alarm id available; alarm \"%s\" not raised",
			 tmpl->message ? tmpl->message : "");
		return NULL;
	}
	t.active = true;
	t.raised_ms = t.updated_ms = t.last_notify_ms = now;
	t.cleared_ms = 0;
	t.acked = false;
	t.acked_ms = 0;
	t.acked_by = t.ack_comment = NULL;
	struct wt_alarm *al = insert(a, &t);
	if (!al) {
		wt_error("alarms: out of memory raising an alarm");
		return NULL;
	}
	count(a, al, 1);
	publish(a, al, WT_ALARM_RAISED, WT_SEV_OK);
	return al;
}

void wt_alarms_set_severity(struct wt_alarms *a, struct wt_alarm *al, uint8_t severity, int8_t thr,
			    double value, double threshold, const char *message)
{
	uint8_t old = al->severity;
	count(a, al, -1);
	al->severity = severity;
	al->thr = thr;
	al->value = value;
	al->threshold = threshold;
	al->updated_ms = al->last_notify_ms = wt_clock_now(a->clock);
	if (message) {
		char *m = strdup(message);
		if (m) {
			free(al->message);
			al->message = m;
		}
	}
	count(a, al, 1);
	publish(a, al, WT_ALARM_SEVERITY, old);
}

void wt_alarms_clear(struct wt_alarms *a, struct wt_alarm *al, double value)
{
	if (!al->active)
		return;
	count(a, al, -1);
	al->active = false;
	al->cleared_ms = al->updated_ms = wt_clock_now(a->clock);
	if (al->kind == WT_ALARM_THRESHOLD)
		al->value = value;
	publish(a, al, WT_ALARM_CLEARED, al->severity);
	if (al->acked)
		forget(a, al);
}

void wt_alarms_maybe_repeat(struct wt_alarms *a, struct wt_alarm *al, int32_t repeat_s)
{
	int64_t now = wt_clock_now(a->clock);
	if (!al->active || repeat_s <= 0 || now - al->last_notify_ms < (int64_t)repeat_s * 1000)
		return;
	al->last_notify_ms = now;
	publish(a, al, WT_ALARM_REPEAT, al->severity);
}

int wt_alarms_ack(struct wt_alarms *a, int64_t id, const char *by, const char *comment)
{
	struct wt_alarm *al = wt_alarms_get(a, id);
	if (!al)
		return -ENOENT;
	char *b = strdup(by ? by : ""), *c = strdup(comment ? comment : "");
	if (!b || !c) {
		free(b);
		free(c);
		return -ENOMEM;
	}
	free(al->acked_by);
	free(al->ack_comment);
	al->acked_by = b;
	al->ack_comment = c;
	al->acked = true;
	al->acked_ms = al->updated_ms = wt_clock_now(a->clock);
	publish(a, al, WT_ALARM_ACKED, al->severity);
	if (!al->active)
		forget(a, al);
	return 0;
}

struct wt_alarm *wt_alarms_restore(struct wt_alarms *a, const struct wt_alarm *loaded)
{
	if (wt_alarms_get(a, loaded->id))
		return NULL;
	struct wt_alarm *al = insert(a, loaded);
	if (al)
		count(a, al, 1);
	if (al && !a->store.next_id && al->id >= a->local_next)
		a->local_next = al->id + 1;
	return al;
}

struct wt_alarm *wt_alarms_get(struct wt_alarms *a, int64_t id)
{
	int32_t i = id > 0 ? wt_idmap_get(&a->byid, (uint64_t)id) : -1;
	return i < 0 ? NULL : a->v[i];
}

size_t wt_alarms_count(const struct wt_alarms *a)
{
	return a->n;
}

struct wt_alarm *wt_alarms_at(struct wt_alarms *a, size_t i)
{
	return i < a->n ? a->v[i] : NULL;
}

void wt_alarms_set_structure(struct wt_alarms *a, const struct wt_structure *s)
{
	free(a->counts);
	a->counts = NULL;
	a->st = s;
	if (!s)
		return;
	a->counts = calloc(s->n ? s->n : 1, sizeof(*a->counts));
	if (!a->counts) {
		wt_error("alarms: out of memory; rack/row/room status unavailable");
		return;
	}
	for (size_t i = 0; i < a->n; i++)
		count(a, a->v[i], 1);
}

void wt_alarms_element_counts(const struct wt_alarms *a, int64_t element_id, uint32_t *warning,
			      uint32_t *critical)
{
	int32_t e = a->st && a->counts ? wt_structure_find(a->st, element_id) : -1;
	*warning = e < 0 ? 0 : a->counts[e][0];
	*critical = e < 0 ? 0 : a->counts[e][1];
}

uint8_t wt_alarms_element_status(const struct wt_alarms *a, int64_t element_id)
{
	uint32_t w, c;
	wt_alarms_element_counts(a, element_id, &w, &c);
	return c ? WT_SEV_CRITICAL : w ? WT_SEV_WARNING : WT_SEV_OK;
}
