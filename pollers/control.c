/* Outlet control: a FIFO of commands per device, one running at a time,
 * each ending in exactly one done call and one audit event. */
#include "control.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"

struct cmd {
	struct wt_control *c;
	struct wt_ctl_request req;
	char user[128];
	char device_name[96];
	int64_t requested_ms;
	wt_ctl_done_fn done;
	void *ctx;
	bool running;
	int status;
	struct event *ev;  /* finishes a command that never reached the driver */
	struct cmd *next;  /* next command of the same device */
	struct cmd *dnext; /* next device queue head */
};

struct wt_control {
	struct event_base *base;
	const struct wt_clock *clock;
	wt_ctl_audit_fn audit;
	void *audit_ctx;
	struct cmd *queues; /* one head per device with commands, linked by dnext */
};

const char *wt_control_reason(int status)
{
	switch (status) {
	case 0:
		return "ok";
	case -ENOENT:
		return "no such outlet";
	case -ENOTSUP:
		return "not switchable";
	case -EINVAL:
		return "refused";
	case -EACCES:
	case -EPERM:
		return "no permission";
	case -ETIMEDOUT:
		return "timeout";
	case -EAGAIN:
		return "not confirmed";
	case -EBUSY:
		return "busy";
	case -ECANCELED:
		return "cancelled";
	default:
		return "failed";
	}
}

struct wt_control *wt_control_new(struct event_base *base, const struct wt_clock *clock,
				  wt_ctl_audit_fn audit, void *audit_ctx)
{
	struct wt_control *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->base = base;
	c->clock = clock ? clock : &wt_clock_real;
	c->audit = audit;
	c->audit_ctx = audit_ctx;
	return c;
}

static struct cmd **head_of(struct wt_control *c, long device_id)
{
	for (struct cmd **pp = &c->queues; *pp; pp = &(*pp)->dnext)
		if ((*pp)->req.device_id == device_id)
			return pp;
	return NULL;
}

static void start(struct cmd *m);

/* Ends m (the head of its device's queue), then starts the next. */
static void finish(struct cmd *m, int status)
{
	struct wt_control *c = m->c;
	const char *reason = wt_control_reason(status);
	struct wt_ctl_audit a = {
		.user = m->user,
		.device_id = m->req.device_id,
		.device_name = m->device_name,
		.unit = m->req.unit,
		.outlet = m->req.outlet,
		.action = wt_ctl_cmd_name(m->req.cmd),
		.status = status,
		.result = reason,
		.requested_ms = m->requested_ms,
		.finished_ms = wt_clock_now(c->clock),
	};
	wt_log(status ? WT_LOG_WARNING : WT_LOG_INFO, "device %ld %s: outlet %d/%ld %s by %s: %s",
	       a.device_id, a.device_name, a.unit, a.outlet, a.action,
	       a.user[0] ? a.user : "system", reason);
	/* unlink before the callbacks: they may queue the next command */
	struct cmd **pp = head_of(c, m->req.device_id);
	struct cmd *next = m->next;
	if (pp && *pp == m) {
		if (next) {
			next->dnext = m->dnext;
			*pp = next;
		} else {
			*pp = m->dnext;
		}
	}
	if (c->audit)
		c->audit(c->audit_ctx, &a);
	if (m->done)
		m->done(m->ctx, status, reason);
	if (m->ev)
		event_free(m->ev);
	free(m);
	if (next && pp && *pp == next && !next->running)
		start(next);
}

static void on_driver_done(void *ctx, int status)
{
	struct cmd *m = ctx;
	finish(m, status);
}

static void on_early(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct cmd *m = arg;
	finish(m, m->status);
}

static void start(struct cmd *m)
{
	m->running = true;
	int rc;
	if (!m->req.ops || !m->req.inst)
		rc = -ENOENT;
	else if (!m->req.ops->control)
		rc = -ENOTSUP;
	else
		rc = m->req.ops->control(m->req.inst, m->req.unit, m->req.outlet, m->req.cmd,
					 m->req.verify_ms, on_driver_done, m);
	if (rc == 0)
		return;
	/* refused before reaching the device: still one answer, later */
	m->status = rc;
	struct timeval tv = {0, 0};
	if (!m->ev)
		m->ev = evtimer_new(m->c->base, on_early, m);
	if (!m->ev || evtimer_add(m->ev, &tv))
		finish(m, rc);
}

int wt_control_outlet(struct wt_control *c, const struct wt_ctl_request *req, wt_ctl_done_fn done,
		      void *ctx)
{
	struct cmd *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->c = c;
	m->req = *req;
	snprintf(m->user, sizeof m->user, "%s", req->user ? req->user : "");
	snprintf(m->device_name, sizeof m->device_name, "%s",
		 req->device_name ? req->device_name : "");
	m->req.user = NULL;
	m->req.device_name = NULL;
	if (m->req.unit <= 0)
		m->req.unit = 1;
	if (m->req.verify_ms <= 0)
		m->req.verify_ms = 10000;
	m->requested_ms = wt_clock_now(c->clock);
	m->done = done;
	m->ctx = ctx;
	struct cmd **pp = head_of(c, req->device_id);
	if (pp) {
		struct cmd *t = *pp;
		while (t->next)
			t = t->next;
		t->next = m;
		return 0;
	}
	m->dnext = c->queues;
	c->queues = m;
	if ((unsigned)m->req.cmd >= WT_CTL__COUNT) {
		m->running = true;
		m->status = -EINVAL;
		struct timeval tv = {0, 0};
		m->ev = evtimer_new(c->base, on_early, m);
		if (m->ev && evtimer_add(m->ev, &tv) == 0)
			return 0;
		finish(m, -EINVAL);
		return 0;
	}
	start(m);
	return 0;
}

void wt_control_forget(struct wt_control *c, long device_id)
{
	struct cmd **pp = head_of(c, device_id);
	if (!pp)
		return;
	/* the driver abandons a running command when its instance is
	 * destroyed, so nothing will call on_driver_done for it */
	struct cmd *list = *pp;
	*pp = list->dnext;
	while (list) {
		struct cmd *n = list->next;
		list->next = NULL;
		list->dnext = c->queues; /* a lone head, so finish() unlinks it */
		c->queues = list;
		finish(list, -ECANCELED);
		list = n;
	}
}

void wt_control_free(struct wt_control *c)
{
	if (!c)
		return;
	while (c->queues)
		wt_control_forget(c, c->queues->req.device_id);
	free(c);
}
