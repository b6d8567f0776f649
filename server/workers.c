#include "workers.h"

#include "log.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define WORKERS_MAX_THREADS 256

struct job {
	struct job *next;
	wt_work_fn work;
	wt_done_fn done;
	void *arg;
	bool cancelled;
};

/* A singly linked FIFO. */
struct jobq {
	struct job *head, *tail;
};

struct wt_workers {
	char name[32];
	struct event_base *base;
	struct event *wake_ev; /* readable when workers finished jobs */
	int wake_fd;           /* eventfd the workers write to */
	pthread_t *threads;
	int nthreads;
	size_t queue_max;
	size_t low_watermark;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled when a job is queued or stopping is set */
	struct jobq queue;   /* waiting for a worker */
	struct jobq done;    /* finished, waiting for their completion on the loop */
	size_t queued;
	size_t running;
	size_t queued_peak;
	uint64_t submitted;
	uint64_t rejected;
	uint64_t congestions;
	bool stopping;

	atomic_bool congested;
	uint64_t completed; /* loop thread only */
};

static void jobq_push(struct jobq *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct job *jobq_pop(struct jobq *q)
{
	struct job *j = q->head;
	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
	}
	return j;
}

static void wake_loop(struct wt_workers *w)
{
	uint64_t one = 1;
	/* An eventfd write only fails when the counter would overflow, which
	 * still leaves it readable: the loop wakes either way. */
	ssize_t r = write(w->wake_fd, &one, sizeof(one));
	(void)r;
}

static void *worker_main(void *p)
{
	struct wt_workers *w = p;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->queue.head && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		struct job *j = jobq_pop(&w->queue);
		if (!j)
			break; /* stopping and nothing left */
		w->queued--;
		w->running++;
		if (atomic_load(&w->congested) && w->queued <= w->low_watermark)
			atomic_store(&w->congested, false);
		pthread_mutex_unlock(&w->lock);

		j->work(j->arg);

		pthread_mutex_lock(&w->lock);
		w->running--;
		bool was_empty = w->done.head == NULL;
		jobq_push(&w->done, j);
		if (was_empty)
			wake_loop(w);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Runs every completion that is ready. Loop thread. */
static void run_completions(struct wt_workers *w)
{
	struct jobq ready;

	pthread_mutex_lock(&w->lock);
	ready = w->done;
	w->done.head = w->done.tail = NULL;
	pthread_mutex_unlock(&w->lock);

	struct job *j;
	while ((j = jobq_pop(&ready))) {
		if (j->done)
			j->done(j->arg, j->cancelled);
		w->completed++;
		free(j);
	}
}

static void on_wake(evutil_socket_t fd, short what, void *p)
{
	struct wt_workers *w = p;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		wt_warn("%s: reading the wake-up eventfd: %s", w->name, strerror(errno));
	run_completions(w);
}

static void free_partial(struct wt_workers *w)
{
	if (w->wake_ev)
		event_free(w->wake_ev);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->threads);
	free(w);
}

int wt_workers_new(struct wt_workers **out, struct event_base *base,
		   const struct wt_workers_options *o)
{
	struct wt_workers *w;
	sigset_t all, old;
	int rc;

	*out = NULL;
	if (o->threads < 1 || o->threads > WORKERS_MAX_THREADS || o->queue_max < 1 ||
	    o->low_watermark >= o->queue_max)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	snprintf(w->name, sizeof(w->name), "%s", o->name ? o->name : "workers");
	w->base = base;
	w->queue_max = o->queue_max;
	w->low_watermark = o->low_watermark ? o->low_watermark : o->queue_max / 2;
	w->wake_fd = -1;
	atomic_init(&w->congested, false);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->threads = calloc((size_t)o->threads, sizeof(*w->threads));
	if (!w->threads) {
		free_partial(w);
		return -ENOMEM;
	}
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0) {
		rc = -errno;
		free_partial(w);
		return rc;
	}
	w->wake_ev = event_new(base, w->wake_fd, EV_READ | EV_PERSIST, on_wake, w);
	if (!w->wake_ev || event_add(w->wake_ev, NULL) < 0) {
		free_partial(w);
		return -ENOMEM;
	}

	/* Signals belong to the loop thread (libevent's evsignal): workers
	 * inherit a mask that blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = 0;
	for (int i = 0; i < o->threads; i++) {
		int e = pthread_create(&w->threads[i], NULL, worker_main, w);
		if (e) {
			rc = -e;
			break;
		}
		char tname[32];
		snprintf(tname, sizeof(tname), "%.11s/%d", w->name, i);
		tname[15] = '\0'; /* the kernel's limit */
		pthread_setname_np(w->threads[i], tname);
		w->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		wt_error("%s: starting thread %d: %s", w->name, w->nthreads + 1, strerror(-rc));
		wt_workers_free(w, false);
		return rc;
	}
	*out = w;
	return 0;
}

int wt_workers_submit(struct wt_workers *w, wt_work_fn work, wt_done_fn done, void *arg)
{
	struct job *j;

	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return -ESHUTDOWN;
	}
	if (w->queued >= w->queue_max) {
		w->rejected++;
		pthread_mutex_unlock(&w->lock);
		return -EAGAIN;
	}
	pthread_mutex_unlock(&w->lock);

	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->work = work;
	j->done = done;
	j->arg = arg;

	pthread_mutex_lock(&w->lock);
	/* Only the loop thread submits, so the queue cannot have filled while
	 * the lock was released: workers only take jobs out. */
	jobq_push(&w->queue, j);
	w->queued++;
	w->submitted++;
	if (w->queued > w->queued_peak)
		w->queued_peak = w->queued;
	if (w->queued >= w->queue_max && !atomic_load(&w->congested)) {
		atomic_store(&w->congested, true);
		w->congestions++;
	}
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

bool wt_workers_congested(const struct wt_workers *w)
{
	return atomic_load(&((struct wt_workers *)w)->congested);
}

void wt_workers_stats(const struct wt_workers *cw, struct wt_workers_stats *out)
{
	struct wt_workers *w = (struct wt_workers *)cw;

	pthread_mutex_lock(&w->lock);
	out->submitted = w->submitted;
	out->rejected = w->rejected;
	out->congestions = w->congestions;
	out->queued = w->queued;
	out->running = w->running;
	out->queued_peak = w->queued_peak;
	out->threads = w->nthreads;
	pthread_mutex_unlock(&w->lock);
	out->completed = w->completed;
}

void wt_workers_free(struct wt_workers *w, bool drain)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	if (!drain) {
		struct job *j;
		while ((j = jobq_pop(&w->queue))) {
			j->cancelled = true;
			jobq_push(&w->done, j);
			w->queued--;
		}
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);

	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	/* The threads are gone: every job is on the done list now. */
	run_completions(w);
	free_partial(w);
}
