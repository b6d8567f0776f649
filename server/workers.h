/* A pool of worker threads for blocking libraries (synchronous libpq,
 * libmodbus, OpenLDAP, password hashing). The libevent loop never blocks:
 * it submits a job, a worker runs the job's work function, and the job's
 * completion callback then runs back on the loop thread.
 *
 * The queue of jobs waiting for a worker is bounded. A submission past the
 * bound is refused and counted, never silently dropped. Between the high
 * and the low watermark the pool is "congested": producers that can wait
 * (a scheduler, a background chore) should hold back until it is not
 * (collectd WriteQueueLimitHigh/Low).
 *
 * Threading: wt_workers_new, wt_workers_submit, wt_workers_congested,
 * wt_workers_stats and wt_workers_free are called on the loop thread only.
 * Work functions run on workers and must not touch the loop or its events. */
#ifndef WT_WORKERS_H
#define WT_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct wt_workers;

/* Runs on a worker thread. arg is the submitter's. */
typedef void (*wt_work_fn)(void *arg);
/* Runs on the loop thread after work(arg) returned. Frees arg if it owns
 * it. cancelled is true only when the pool was freed with jobs that never
 * started (wt_workers_free with drain=false). */
typedef void (*wt_done_fn)(void *arg, bool cancelled);

struct wt_workers_options {
	int threads;          /* worker threads, 1..256 */
	size_t queue_max;     /* jobs waiting for a worker; submissions past it are refused */
	size_t low_watermark; /* congestion ends when the queue falls to this; 0: queue_max / 2 */
	const char *name;     /* for logs and thread names ("workers") */
};

/* Everything the pool counts; never reset while it runs. */
struct wt_workers_stats {
	uint64_t submitted;   /* accepted jobs */
	uint64_t completed;   /* completion callbacks run */
	uint64_t rejected;    /* refused because the queue was full */
	uint64_t congestions; /* times the queue reached queue_max */
	size_t queued;        /* waiting for a worker now */
	size_t running;       /* on a worker now */
	size_t queued_peak;   /* the most ever waiting at once */
	int threads;
};

/* Starts the threads and hooks completions into base. */
int wt_workers_new(struct wt_workers **out, struct event_base *base,
		   const struct wt_workers_options *o) __attribute__((warn_unused_result));

/* Queues work(arg), then done(arg) on the loop. done may be NULL. Returns
 * 0, -EAGAIN when the queue is full (counted in rejected; done is not
 * called), or -ESHUTDOWN while the pool is being freed. */
int wt_workers_submit(struct wt_workers *w, wt_work_fn work, wt_done_fn done, void *arg)
	__attribute__((warn_unused_result));

/* True from the moment the queue reaches queue_max until it falls back to
 * the low watermark. */
bool wt_workers_congested(const struct wt_workers *w);

void wt_workers_stats(const struct wt_workers *w, struct wt_workers_stats *out);

/* Stops the pool. With drain, every queued job still runs and every
 * completion is called; without, queued jobs that have not started get
 * done(arg, true). Running jobs always finish. Joins the threads and
 * frees. Call on the loop thread, never from a completion callback. */
void wt_workers_free(struct wt_workers *w, bool drain);

#endif
