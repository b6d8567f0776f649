#include "dbq.h"

#include "log.h"
#include "pg.h"
#include "rulesdb.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 256

enum job_kind {
	JOB_ALARM,
	JOB_AUDIT
};

struct job {
	struct job *next;
	enum job_kind kind;
	struct wt_alarm alarm; /* strings owned */
	struct wt_audit_event ev;
	char *actor, *object_kind, *message, *details; /* owned copies for ev */
};

struct wt_dbq {
	char *conninfo;
	size_t max_jobs;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	struct job *head, *tail;
	size_t depth;
	bool stop, busy;
	int64_t drain_deadline;
	/* alarm ids: current block and the one fetched ahead */
	int64_t id_next, id_end, ahead_first, ahead_count;
	int64_t fallback_last;
	bool want_ids;
	struct wt_dbq_stats st;
	struct wt_complaint complaint;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void job_free(struct job *j)
{
	wt_alarm_clear_strings(&j->alarm);
	free(j->actor);
	free(j->object_kind);
	free(j->message);
	free(j->details);
	free(j);
}

static char *dup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Takes ownership of j; false when refused. Caller holds no lock. */
static bool enqueue(struct wt_dbq *q, struct job *j)
{
	pthread_mutex_lock(&q->lock);
	if (q->depth >= q->max_jobs || q->stop) {
		q->st.refused++;
		pthread_mutex_unlock(&q->lock);
		wt_complain(
			&q->complaint, WT_LOG_ERROR,
			"rules: alarm/audit queue full (%zu jobs): database writes are being refused",
			q->max_jobs);
		job_free(j);
		return false;
	}
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->depth++;
	q->st.queued++;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
	return true;
}

static struct job *audit_job(const struct wt_audit_event *ev)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->kind = JOB_AUDIT;
	j->ev = *ev;
	j->ev.actor = j->actor = dup0(ev->actor);
	j->ev.object_kind = j->object_kind = dup0(ev->object_kind);
	j->ev.message = j->message = dup0(ev->message ? ev->message : "");
	j->ev.details = j->details = dup0(ev->details);
	if (!j->ev.ts_ms)
		j->ev.ts_ms = now_ms(); /* when it happened, not when it was written */
	return j;
}

int wt_dbq_audit(struct wt_dbq *q, const struct wt_audit_event *ev)
{
	struct job *j = audit_job(ev);
	if (!j || !j->message) {
		if (j)
			job_free(j);
		return -ENOMEM;
	}
	return enqueue(q, j) ? 0 : -ENOSPC;
}

static void store_save(void *ctx, const struct wt_alarm *a, enum wt_alarm_change change)
{
	struct wt_dbq *q = ctx;
	/* Every change saves the row, repeats too (last_notify moves, so a
	 * restart repeats on schedule); repeats are not audited. */
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		wt_error("rules: out of memory saving alarm %lld", (long long)a->id);
		return;
	}
	j->kind = JOB_ALARM;
	j->alarm = *a;
	j->alarm.acked_by = dup0(a->acked_by);
	j->alarm.ack_comment = dup0(a->ack_comment);
	j->alarm.message = dup0(a->message);
	j->alarm.rule_name = dup0(a->rule_name);
	(void)enqueue(q, j);
	if (change == WT_ALARM_REPEAT)
		return;

	char msg[700];
	enum wt_audit_severity sev = WT_AUDIT_INFO;
	switch (change) {
	case WT_ALARM_RAISED:
		sev = a->severity == WT_SEV_CRITICAL ? WT_AUDIT_ERROR : WT_AUDIT_WARNING;
		snprintf(msg, sizeof(msg), "Alarm %s: %s",
			 wt_severity_name((enum wt_severity)a->severity),
			 a->message ? a->message : "");
		break;
	case WT_ALARM_SEVERITY:
		sev = a->severity == WT_SEV_CRITICAL ? WT_AUDIT_ERROR : WT_AUDIT_WARNING;
		snprintf(msg, sizeof(msg), "Alarm now %s: %s",
			 wt_severity_name((enum wt_severity)a->severity),
			 a->message ? a->message : "");
		break;
	case WT_ALARM_CLEARED:
		snprintf(msg, sizeof(msg), "Alarm cleared: %s", a->message ? a->message : "");
		break;
	default:
		snprintf(msg, sizeof(msg), "Alarm acknowledged%s%s: %s",
			 a->ack_comment && a->ack_comment[0] ? " - " : "",
			 a->ack_comment ? a->ack_comment : "", a->message ? a->message : "");
		break;
	}
	struct wt_audit_event ev = {.severity = sev,
				    .state = WT_AUDIT_OPEN,
				    .category = WT_AUDIT_ALARM,
				    .actor = change == WT_ALARM_ACKED ? a->acked_by : NULL,
				    .object_kind = "alarm",
				    .object_id = a->id,
				    .message = msg};
	if (wt_dbq_audit(q, &ev))
		wt_debug("rules: audit of alarm %lld not queued", (long long)a->id);
}

static int64_t store_next_id(void *ctx)
{
	struct wt_dbq *q = ctx;
	int64_t id;
	pthread_mutex_lock(&q->lock);
	if (q->id_next >= q->id_end && q->ahead_count) {
		q->id_next = q->ahead_first;
		q->id_end = q->ahead_first + q->ahead_count;
		q->ahead_count = 0;
	}
	if (q->id_next < q->id_end) {
		id = q->id_next++;
	} else {
		int64_t f = now_ms() * 1024;
		id = f > q->fallback_last ? f : q->fallback_last + 1;
		q->fallback_last = id;
		q->st.fallback_ids++;
	}
	if (!q->ahead_count && !q->want_ids) {
		q->want_ids = true;
		pthread_cond_signal(&q->wake);
	}
	pthread_mutex_unlock(&q->lock);
	return id;
}

struct wt_alarm_store wt_dbq_alarm_store(struct wt_dbq *q)
{
	return (struct wt_alarm_store){store_next_id, store_save, q};
}

static int write_one(PGconn *c, const struct job *j)
{
	return j->kind == JOB_ALARM ? wt_rulesdb_alarm_save(c, &j->alarm)
				    : wt_rulesdb_audit_insert(c, &j->ev, NULL);
}

/* Writes a batch; returns how many were handled (written or rejected), or
 * -EIO when the connection broke (nothing counted, retry later). */
static int write_batch(struct wt_dbq *q, PGconn *c, struct job *jobs, uint64_t *written,
		       uint64_t *failed)
{
	PGresult *r = PQexec(c, "BEGIN");
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	int rc = ok ? 0 : -EIO;
	for (struct job *j = jobs; j && !rc; j = j->next)
		rc = write_one(c, j);
	if (!rc) {
		r = PQexec(c, "COMMIT");
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (ok) {
			for (struct job *j = jobs; j; j = j->next)
				(*written)++;
			return 0;
		}
	}
	r = PQexec(c, "ROLLBACK");
	PQclear(r);
	if (PQstatus(c) != CONNECTION_OK)
		return -EIO;
	/* A job the database rejects must not block the others: one by one,
	 * and drop (logged by run) what still fails. */
	for (struct job *j = jobs; j; j = j->next) {
		rc = write_one(c, j);
		if (rc && PQstatus(c) != CONNECTION_OK)
			return -EIO;
		if (rc)
			(*failed)++;
		else
			(*written)++;
	}
	(void)q;
	return 0;
}

static void *writer(void *arg)
{
	struct wt_dbq *q = arg;
	PGconn *c = NULL;
	int backoff_ms = 500;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		if (q->stop && (!q->head || now_ms() > q->drain_deadline))
			break;
		if (!c) {
			pthread_mutex_unlock(&q->lock);
			c = wt_pg_connect(q->conninfo, 5);
			pthread_mutex_lock(&q->lock);
			q->st.connected = c != NULL;
			if (!c) {
				wt_complain(
					&q->complaint, WT_LOG_ERROR,
					"rules: cannot reach PostgreSQL; %zu alarm/audit writes waiting",
					q->depth);
				struct timespec ts;
				deadline_in(&ts, backoff_ms);
				pthread_cond_timedwait(&q->wake, &q->lock, &ts);
				backoff_ms = backoff_ms < 16000 ? backoff_ms * 2 : 30000;
				continue;
			}
			wt_complain_release(&q->complaint, WT_LOG_NOTICE,
					    "rules: PostgreSQL reachable again");
			backoff_ms = 500;
			if (!q->ahead_count)
				q->want_ids = true;
		}
		if (q->want_ids) {
			pthread_mutex_unlock(&q->lock);
			int64_t first = 0, count = 0;
			int rc = wt_rulesdb_alarm_id_block(c, &first, &count);
			pthread_mutex_lock(&q->lock);
			if (!rc) {
				if (q->id_next >= q->id_end) {
					q->id_next = first;
					q->id_end = first + count;
				} else {
					q->ahead_first = first;
					q->ahead_count = count;
				}
				q->want_ids = q->id_next >= q->id_end || !q->ahead_count;
			} else if (PQstatus(c) != CONNECTION_OK) {
				PQfinish(c);
				c = NULL;
				continue;
			} else {
				q->want_ids =
					false; /* schema missing? fallback ids until asked again */
			}
			pthread_cond_broadcast(&q->idle);
			continue;
		}
		if (!q->head) {
			q->busy = false;
			pthread_cond_broadcast(&q->idle);
			if (q->stop)
				break;
			pthread_cond_wait(&q->wake, &q->lock);
			continue;
		}
		/* detach up to BATCH jobs */
		struct job *jobs = q->head, *last = jobs;
		size_t n = 1;
		while (n < BATCH && last->next) {
			last = last->next;
			n++;
		}
		q->head = last->next;
		if (!q->head)
			q->tail = NULL;
		last->next = NULL;
		q->busy = true;
		pthread_mutex_unlock(&q->lock);

		uint64_t written = 0, failed = 0;
		int rc = write_batch(q, c, jobs, &written, &failed);

		pthread_mutex_lock(&q->lock);
		if (rc) {
			/* connection lost: put the batch back in front, in order */
			last->next = q->head;
			q->head = jobs;
			if (!q->tail)
				q->tail = last;
			PQfinish(c);
			c = NULL;
			q->st.connected = false;
			continue;
		}
		q->depth -= n;
		q->st.written += written;
		q->st.failed += failed;
		pthread_mutex_unlock(&q->lock);
		while (jobs) {
			struct job *next = jobs->next;
			job_free(jobs);
			jobs = next;
		}
		pthread_mutex_lock(&q->lock);
	}
	/* Whatever could not be written in the drain time is lost: say how much. */
	size_t lost = 0;
	while (q->head) {
		struct job *j = q->head;
		q->head = j->next;
		job_free(j);
		lost++;
	}
	q->tail = NULL;
	q->depth = 0;
	q->busy = false;
	pthread_cond_broadcast(&q->idle);
	pthread_mutex_unlock(&q->lock);
	if (lost)
		wt_error("rules: %zu alarm/audit writes lost at shutdown (database unreachable)",
			 lost);
	if (c)
		PQfinish(c);
	return NULL;
}

struct wt_dbq *wt_dbq_open(const char *conninfo, size_t max_jobs)
{
	struct wt_dbq *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->conninfo = strdup(conninfo ? conninfo : "");
	q->max_jobs = max_jobs ? max_jobs : 100000;
	q->want_ids = true;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	pthread_cond_init(&q->idle, NULL);
	if (!q->conninfo || pthread_create(&q->thread, NULL, writer, q) != 0) {
		free(q->conninfo);
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->wake);
		pthread_cond_destroy(&q->idle);
		free(q);
		return NULL;
	}
	return q;
}

int wt_dbq_sync(struct wt_dbq *q, int timeout_ms)
{
	struct timespec ts;
	deadline_in(&ts, timeout_ms);
	int rc = 0;
	pthread_mutex_lock(&q->lock);
	while ((q->head || q->busy || q->id_next >= q->id_end) && rc == 0)
		rc = pthread_cond_timedwait(&q->idle, &q->lock, &ts);
	pthread_mutex_unlock(&q->lock);
	return rc ? -ETIMEDOUT : 0;
}

void wt_dbq_stats(struct wt_dbq *q, struct wt_dbq_stats *out)
{
	pthread_mutex_lock(&q->lock);
	*out = q->st;
	out->depth = q->depth;
	pthread_mutex_unlock(&q->lock);
}

void wt_dbq_close(struct wt_dbq *q, int drain_ms)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	q->drain_deadline = now_ms() + drain_ms;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->wake);
	pthread_cond_destroy(&q->idle);
	free(q->conninfo);
	free(q);
}
