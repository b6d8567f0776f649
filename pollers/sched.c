/* Scheduler: one libevent timer per device. A device's due times stay on its
 * own grid (start + k * interval), so a slow answer never shifts the phase
 * and one device never waits for another. */
#include "sched.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"

struct dev {
	struct wt_sched *s;
	long id;
	char name[96];
	const struct wt_driver_ops *ops;
	void *inst;
	struct event *timer;
	struct wt_dev_conf conf;
	enum wt_dev_state state;
	int fails;
	int interval_ms;
	int64_t due_ms;
	bool busy;
	bool rebind_pending; /* wt_sched_rebind while a poll ran: applied when it ends */
	uint64_t polls, ok, missed;
	char reason[200];
	struct wt_complaint complaint;
};

struct wt_sched {
	struct wt_driver_env env;
	struct dev **devs;
	size_t n, cap;
	wt_state_fn on_state;
	void *on_state_ctx;
	struct wt_sched_stats stats;
};

static const char *const state_names[WT_DEV__COUNT] = {
	[WT_DEV_NEW] = "new",
	[WT_DEV_OK] = "ok",
	[WT_DEV_REBOOTED] = "rebooted",
	[WT_DEV_FAILING] = "failing",
	[WT_DEV_UNREACHABLE] = "unreachable",
	[WT_DEV_NO_PROFILE] = "no_profile",
	[WT_DEV_AUTH_FAILED] = "auth_failed",
};

const char *wt_dev_state_name(enum wt_dev_state st)
{
	return (unsigned)st < WT_DEV__COUNT ? state_names[st] : "?";
}

static int64_t now_ms(const struct wt_sched *s)
{
	return wt_clock_now(s->env.clock);
}

/* The only place a device's state changes. */
static void set_state(struct dev *d, enum wt_dev_state to, const char *reason)
{
	enum wt_dev_state from = d->state;
	if (from == to)
		return;
	d->state = to;
	if (to == WT_DEV_UNREACHABLE || to == WT_DEV_NO_PROFILE || to == WT_DEV_AUTH_FAILED)
		wt_complain(&d->complaint, WT_LOG_WARNING, "device %ld %s: %s: %s", d->id, d->name,
			    wt_dev_state_name(to), reason ? reason : "");
	else if (to == WT_DEV_OK && d->complaint.active)
		wt_complain_release(&d->complaint, WT_LOG_NOTICE, "device %ld %s: communication restored",
				    d->id, d->name);
	if (d->s->on_state)
		d->s->on_state(d->s->on_state_ctx, d->id, from, to, reason);
}

/* Poll starts sit on a fleet-wide grid of START_GRID_MS (when the interval
 * is a multiple of it, as any interval in seconds is): the devices due in
 * one step start together, in one wake of the loop (the daemon lets the
 * kernel fire the loop's timers a few ms late, see loop_timer_slack in
 * server/main.c), and their answers come back close together. At 2,000
 * PDUs a wake of the loop cost more CPU than decoding an answer; starts
 * stay spread over the interval in 100 steps of 50 ms. */
#define START_GRID_MS 50

static int64_t start_at(const struct dev *d, int64_t t)
{
	if (d->interval_ms % START_GRID_MS)
		return t;
	int64_t r = t % START_GRID_MS;
	return r ? t + START_GRID_MS - r : t;
}

static void arm(struct dev *d)
{
	int64_t delay = d->due_ms - now_ms(d->s);
	if (delay < 0)
		delay = 0;
	struct timeval tv = {.tv_sec = delay / 1000, .tv_usec = (delay % 1000) * 1000};
	evtimer_add(d->timer, &tv);
}

static void poll_done(void *ctx, enum wt_poll_result r);

static void on_due(evutil_socket_t fd, short what, void *arg)
{
	struct dev *d = arg;
	struct wt_sched *s = d->s;
	(void)fd;
	(void)what;
	int64_t now = now_ms(s);
	int64_t due = d->due_ms;
	/* the next slot is armed before the poll starts: a poll that finishes
	 * at once (and may back off) must not be overridden afterwards */
	d->due_ms += d->interval_ms;
	if (d->due_ms <= now) /* we fell behind (loop stalled): skip to the next slot */
		d->due_ms = now + d->interval_ms - ((now - d->due_ms) % d->interval_ms);
	arm(d);
	if (d->busy) {
		/* the previous poll is still running: this slot is missed, not
		 * queued, so a slow device cannot pile up work */
		d->missed++;
		s->stats.missed++;
		return;
	}
	if (d->state == WT_DEV_OK || d->state == WT_DEV_REBOOTED) {
		uint64_t late = now > due ? (uint64_t)(now - due) : 0;
		if (late > s->stats.late_ms_max)
			s->stats.late_ms_max = late;
	}
	d->busy = true;
	d->polls++;
	s->stats.polls++;
	int rc = d->ops->poll(d->inst, poll_done, d);
	if (rc) {
		d->busy = false;
		snprintf(d->reason, sizeof d->reason, "cannot start a poll: %s", strerror(-rc));
	}
}

static void poll_done(void *ctx, enum wt_poll_result r)
{
	struct dev *d = ctx;
	struct wt_sched *s = d->s;
	const char *why = d->ops->last_error ? d->ops->last_error(d->inst) : "";
	d->busy = false;
	snprintf(d->reason, sizeof d->reason, "%s", why ? why : "");
	if (d->rebind_pending && d->ops->rebind) {
		d->rebind_pending = false;
		d->ops->rebind(d->inst);
	}
	switch (r) {
	case WT_POLL_OK:
	case WT_POLL_REBOOTED: {
		d->ok++;
		s->stats.ok++;
		d->fails = 0;
		if (d->interval_ms != d->conf.interval_ms) {
			/* back on the normal grid from now */
			d->interval_ms = d->conf.interval_ms;
			event_del(d->timer);
			d->due_ms = start_at(d, now_ms(s) + d->interval_ms);
			arm(d);
		}
		set_state(d, r == WT_POLL_REBOOTED ? WT_DEV_REBOOTED : WT_DEV_OK, NULL);
		return;
	}
	case WT_POLL_NO_PROFILE:
	case WT_POLL_AUTH:
	case WT_POLL_FAILED:
	default:
		break;
	}
	s->stats.failed++;
	d->fails++;
	enum wt_dev_state to = r == WT_POLL_NO_PROFILE ? WT_DEV_NO_PROFILE
			       : r == WT_POLL_AUTH	   ? WT_DEV_AUTH_FAILED
			       : d->fails >= d->conf.fail_threshold ? WT_DEV_UNREACHABLE
								   : WT_DEV_FAILING;
	if (to != WT_DEV_FAILING) {
		/* exponential back-off: double up to the cap, reset on success */
		int64_t next = (int64_t)d->interval_ms * 2;
		if (next > d->conf.backoff_cap_ms)
			next = d->conf.backoff_cap_ms;
		if (next < d->conf.interval_ms)
			next = d->conf.interval_ms;
		d->interval_ms = (int)next;
		event_del(d->timer);
		d->due_ms = start_at(d, now_ms(s) + d->interval_ms);
		arm(d);
	}
	set_state(d, to, d->reason);
}

struct wt_sched *wt_sched_new(const struct wt_driver_env *env)
{
	struct wt_sched *s = calloc(1, sizeof *s);
	if (s)
		s->env = *env;
	return s;
}

static void dev_free(struct dev *d)
{
	if (d->timer)
		event_free(d->timer);
	if (d->inst)
		d->ops->destroy(d->inst);
	free(d);
}

void wt_sched_free(struct wt_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		dev_free(s->devs[i]);
	free(s->devs);
	free(s);
}

void wt_sched_on_state(struct wt_sched *s, wt_state_fn fn, void *ctx)
{
	s->on_state = fn;
	s->on_state_ctx = ctx;
}

static struct dev *find(const struct wt_sched *s, long id, size_t *pos)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->devs[i]->id == id) {
			if (pos)
				*pos = i;
			return s->devs[i];
		}
	return NULL;
}

int wt_sched_add(struct wt_sched *s, const struct wt_dev_conf *c, char *err, size_t errlen)
{
	if (find(s, c->id, NULL)) {
		snprintf(err, errlen, "device %ld already scheduled", c->id);
		return -EEXIST;
	}
	char scheme[16] = "";
	const char *colon = strstr(c->url, "://");
	if (colon && (size_t)(colon - c->url) < sizeof scheme)
		memcpy(scheme, c->url, (size_t)(colon - c->url));
	const struct wt_driver_ops *ops = wt_driver_find(scheme);
	if (!ops) {
		snprintf(err, errlen, "no driver for URL scheme \"%s\"", scheme);
		return -EINVAL;
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		struct dev **nd = realloc(s->devs, nc * sizeof *nd);
		if (!nd)
			return -ENOMEM;
		s->devs = nd;
		s->cap = nc;
	}
	struct dev *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->s = s;
	d->id = c->id;
	snprintf(d->name, sizeof d->name, "%s", c->name ? c->name : "");
	d->ops = ops;
	d->conf = *c;
	d->conf.name = NULL;
	d->conf.url = NULL; /* never keep the URL: it may hold secrets */
	if (d->conf.interval_ms <= 0)
		d->conf.interval_ms = 5000;
	if (d->conf.timeout_ms <= 0)
		d->conf.timeout_ms = 1000;
	if (d->conf.retries < 0)
		d->conf.retries = 0;
	if (d->conf.fail_threshold <= 0)
		d->conf.fail_threshold = 3;
	if (d->conf.backoff_cap_ms <= 0)
		d->conf.backoff_cap_ms = 300000;
	d->interval_ms = d->conf.interval_ms;
	int rc = ops->create(&s->env, c->id, d->name, c->url, d->conf.timeout_ms, d->conf.retries,
			     &d->inst, err, errlen);
	if (rc) {
		free(d);
		return rc;
	}
	d->timer = evtimer_new(s->env.base, on_due, d);
	if (!d->timer) {
		dev_free(d);
		return -ENOMEM;
	}
	/* spread first polls over the interval by id, so a restart does not
	 * fire the whole fleet in the same millisecond */
	uint64_t h = (uint64_t)c->id * 0x9E3779B97F4A7C15ull;
	d->due_ms = start_at(d, now_ms(s) + (int64_t)((h >> 33) % (uint64_t)d->interval_ms));
	arm(d);
	s->devs[s->n++] = d;
	return 0;
}

int wt_sched_remove(struct wt_sched *s, long id)
{
	size_t pos;
	struct dev *d = find(s, id, &pos);
	if (!d)
		return -ENOENT;
	dev_free(d);
	memmove(&s->devs[pos], &s->devs[pos + 1], (s->n - pos - 1) * sizeof *s->devs);
	s->n--;
	return 0;
}

int wt_sched_rebind(struct wt_sched *s, long id)
{
	struct dev *d = find(s, id, NULL);
	if (!d)
		return -ENOENT;
	if (!d->ops->rebind)
		return 0;
	/* drivers ignore a rebind while their poll runs: defer it to the end */
	if (d->busy)
		d->rebind_pending = true;
	else
		d->ops->rebind(d->inst);
	return 0;
}

int wt_sched_instance(const struct wt_sched *s, long id, const struct wt_driver_ops **ops,
		      void **inst)
{
	const struct dev *d = find(s, id, NULL);
	if (!d)
		return -ENOENT;
	*ops = d->ops;
	*inst = d->inst;
	return 0;
}

int wt_sched_status(const struct wt_sched *s, long id, struct wt_dev_status *out)
{
	const struct dev *d = find(s, id, NULL);
	if (!d)
		return -ENOENT;
	out->state = d->state;
	out->fails = d->fails;
	out->interval_ms = d->interval_ms;
	out->next_due_ms = d->due_ms;
	out->polls = d->polls;
	out->ok = d->ok;
	out->missed = d->missed;
	snprintf(out->reason, sizeof out->reason, "%s", d->reason);
	return 0;
}

void wt_sched_stats(const struct wt_sched *s, struct wt_sched_stats *out)
{
	*out = s->stats;
}
