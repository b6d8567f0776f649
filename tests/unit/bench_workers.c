/* Benchmark of the worker pool: how many jobs per second make the round
 * trip loop -> worker -> completion on the loop, and how long one takes.
 * A program that prints figures, not a test.
 * Usage: bench_workers [JOBS] [THREADS] [WORK_US] [IN_FLIGHT]
 * IN_FLIGHT caps the jobs outstanding at once (default: keep the queue full). */
#include "log.h"
#include "workers.h"

#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct bench {
	struct event_base *base;
	struct wt_workers *w;
	long total, submitted, done;
	long busy_waits;
	long in_flight;
	int work_us;
	double lat_sum_us, lat_max_us;
	int64_t *start_ns; /* per job */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct bench B;

static void work(void *arg)
{
	(void)arg;
	if (B.work_us) {
		/* Spin rather than sleep: a blocking library call holds its
		 * thread, and a sleep would let the scheduler hide the cost. */
		int64_t until = now_ns() + (int64_t)B.work_us * 1000;
		while (now_ns() < until)
			;
	}
}

static void submit_more(void);

static void done(void *arg, bool cancelled)
{
	long i = (long)(intptr_t)arg;
	double us = (double)(now_ns() - B.start_ns[i]) / 1000.0;

	(void)cancelled;
	B.lat_sum_us += us;
	if (us > B.lat_max_us)
		B.lat_max_us = us;
	B.done++;
	if (B.done == B.total)
		event_base_loopbreak(B.base);
	else
		submit_more();
}

/* Submits until IN_FLIGHT jobs are outstanding or the pool refuses. */
static void submit_more(void)
{
	while (B.submitted < B.total && B.submitted - B.done < B.in_flight) {
		B.start_ns[B.submitted] = now_ns();
		int rc = wt_workers_submit(B.w, work, done, (void *)(intptr_t)B.submitted);
		if (rc == -EAGAIN) {
			B.busy_waits++;
			return;
		}
		if (rc < 0) {
			fprintf(stderr, "submit: %s\n", strerror(-rc));
			exit(1);
		}
		B.submitted++;
	}
}

int main(int argc, char **argv)
{
	long jobs = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	int threads = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 4;
	int work_us = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 0;
	long in_flight = argc > 4 ? strtol(argv[4], NULL, 10) : jobs;
	struct wt_workers_options o = {.threads = threads, .queue_max = 4096, .name = "bench"};

	if (jobs < 1 || threads < 1 || work_us < 0 || in_flight < 1) {
		fprintf(stderr, "usage: bench_workers [JOBS] [THREADS] [WORK_US] [IN_FLIGHT]\n");
		return 2;
	}
	wt_log_setup(false, "bench", WT_LOG_WARNING);
	B.base = event_base_new();
	B.total = jobs;
	B.work_us = work_us;
	B.in_flight = in_flight;
	B.start_ns = calloc((size_t)jobs, sizeof(*B.start_ns));
	if (!B.base || !B.start_ns || wt_workers_new(&B.w, B.base, &o) < 0) {
		fprintf(stderr, "set-up failed\n");
		return 1;
	}
	int64_t t0 = now_ns();
	submit_more();
	event_base_dispatch(B.base);
	double secs = (double)(now_ns() - t0) / 1e9;
	struct wt_workers_stats st;
	wt_workers_stats(B.w, &st);
	wt_workers_free(B.w, true);
	event_base_free(B.base);
	free(B.start_ns);

	printf("jobs %ld, threads %d, work %d us, queue_max %zu, in flight <= %ld\n", jobs, threads,
	       work_us, o.queue_max, in_flight);
	printf("round trips: %.0f jobs/s, latency mean %.1f us, max %.1f us\n", (double)jobs / secs,
	       B.lat_sum_us / (double)jobs, B.lat_max_us);
	printf("refusals while full: %llu (counted: %llu), peak queue %zu\n",
	       (unsigned long long)B.busy_waits, (unsigned long long)st.rejected, st.queued_peak);
	printf("RESULT workers jobs_per_s=%.0f mean_latency_us=%.1f threads=%d work_us=%d "
	       "in_flight=%ld\n",
	       (double)jobs / secs, B.lat_sum_us / (double)jobs, threads, work_us, in_flight);
	return st.rejected == (uint64_t)B.busy_waits ? 0 : 1;
}
