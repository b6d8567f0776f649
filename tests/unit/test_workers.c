/* Unit tests for the worker pool: jobs run on workers, completions on the
 * loop thread, a full queue refuses and counts, free drains or cancels. */
#include "log.h"
#include "workers.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/check.h"

static pthread_t loop_thread;

/* A gate that holds workers until opened. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open = true;

static void gate_set(bool open)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = open;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

struct job {
	int id;
	bool gated;
	int sleep_us;
	bool ran;          /* set by the worker */
	bool on_worker;    /* work ran on a thread other than the loop's */
	bool done;         /* set by the completion */
	bool done_on_loop; /* completion ran on the loop thread */
	bool cancelled;
	int resubmit_rc;      /* when the completion tried to submit again */
	struct wt_workers *w; /* for completions that submit more */
	int chain;            /* completions left to chain */
};

static atomic_int ran_count;
static int done_count;

static void work(void *arg)
{
	struct job *j = arg;

	j->on_worker = !pthread_equal(pthread_self(), loop_thread);
	if (j->gated) {
		pthread_mutex_lock(&gate_lock);
		while (!gate_open)
			pthread_cond_wait(&gate_cond, &gate_lock);
		pthread_mutex_unlock(&gate_lock);
	}
	if (j->sleep_us)
		usleep((useconds_t)j->sleep_us);
	j->ran = true;
	atomic_fetch_add(&ran_count, 1);
}

static void done(void *arg, bool cancelled)
{
	struct job *j = arg;

	j->done = true;
	j->done_on_loop = pthread_equal(pthread_self(), loop_thread);
	j->cancelled = cancelled;
	done_count++;
	if (j->w && j->chain > 0) {
		j->chain--;
		j->done = false;
		j->resubmit_rc = wt_workers_submit(j->w, work, done, j);
	} else if (j->w) {
		j->resubmit_rc = wt_workers_submit(j->w, work, NULL, j);
	}
}

/* Runs the loop until done_count reaches want or 10 s pass. */
static bool run_until(struct event_base *base, int want)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (done_count < want) {
		struct timeval tv = {0, 20000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			return false;
	}
	return true;
}

static void wait_running(struct wt_workers *w, size_t n)
{
	struct wt_workers_stats st;
	for (int i = 0; i < 1000; i++) {
		wt_workers_stats(w, &st);
		if (st.running == n)
			return;
		usleep(2000);
	}
}

static void test_basic(struct event_base *base)
{
	struct wt_workers_options o = {.threads = 3, .queue_max = 1000, .name = "basic"};
	struct wt_workers *w;
	static struct job jobs[200];

	CHECK(wt_workers_new(&w, base, &o) == 0, "new");
	done_count = 0;
	atomic_store(&ran_count, 0);
	for (int i = 0; i < 200; i++) {
		jobs[i] = (struct job){.id = i, .sleep_us = i % 7 ? 0 : 500};
		CHECK(wt_workers_submit(w, work, done, &jobs[i]) == 0, "submit %d", i);
	}
	CHECK(run_until(base, 200), "200 completions within 10 s (got %d)", done_count);
	int bad = 0;
	for (int i = 0; i < 200; i++)
		if (!jobs[i].ran || !jobs[i].on_worker || !jobs[i].done || !jobs[i].done_on_loop ||
		    jobs[i].cancelled)
			bad++;
	CHECK(bad == 0, "%d jobs did not run on a worker and complete on the loop", bad);
	struct wt_workers_stats st;
	wt_workers_stats(w, &st);
	CHECK(st.submitted == 200 && st.completed == 200 && st.rejected == 0,
	      "stats %llu/%llu/%llu", (unsigned long long)st.submitted,
	      (unsigned long long)st.completed, (unsigned long long)st.rejected);
	CHECK(st.threads == 3 && st.queued == 0 && st.running == 0, "idle stats");

	/* A completion may submit more work. */
	static struct job chained;
	chained = (struct job){.w = w, .chain = 5};
	done_count = 0;
	CHECK(wt_workers_submit(w, work, done, &chained) == 0, "submit chain");
	CHECK(run_until(base, 6), "chain of 6 completions");
	CHECK(chained.resubmit_rc == 0, "resubmit from a completion: %d", chained.resubmit_rc);
	/* The last completion queued one more job without a completion; drain it. */
	wt_workers_free(w, true);
	CHECK(atomic_load(&ran_count) == 200 + 6 + 1, "every job ran (%d)",
	      atomic_load(&ran_count));
}

static void test_full(struct event_base *base)
{
	struct wt_workers_options o = {
		.threads = 2, .queue_max = 8, .low_watermark = 2, .name = "full"};
	struct wt_workers *w;
	static struct job jobs[12];

	CHECK(wt_workers_new(&w, base, &o) == 0, "new");
	done_count = 0;
	gate_set(false);
	/* Two jobs occupy the workers, eight fill the queue. */
	for (int i = 0; i < 2; i++) {
		jobs[i] = (struct job){.id = i, .gated = true};
		CHECK(wt_workers_submit(w, work, done, &jobs[i]) == 0, "submit %d", i);
	}
	wait_running(w, 2);
	CHECK(!wt_workers_congested(w), "not congested while the queue is empty");
	for (int i = 2; i < 10; i++) {
		jobs[i] = (struct job){.id = i, .gated = true};
		CHECK(wt_workers_submit(w, work, done, &jobs[i]) == 0, "submit %d", i);
	}
	CHECK(wt_workers_congested(w), "congested at queue_max");
	jobs[10] = (struct job){.id = 10};
	CHECK(wt_workers_submit(w, work, done, &jobs[10]) == -EAGAIN, "11th refused");
	CHECK(wt_workers_submit(w, work, done, &jobs[10]) == -EAGAIN, "12th refused");
	struct wt_workers_stats st;
	wt_workers_stats(w, &st);
	CHECK(st.rejected == 2, "two rejections counted, got %llu",
	      (unsigned long long)st.rejected);
	CHECK(st.queued == 8 && st.running == 2 && st.queued_peak == 8 && st.congestions == 1,
	      "queued %zu running %zu peak %zu congestions %llu", st.queued, st.running,
	      st.queued_peak, (unsigned long long)st.congestions);
	gate_set(true);
	CHECK(run_until(base, 10), "ten completions");
	CHECK(!wt_workers_congested(w), "congestion cleared after the queue drained");
	CHECK(!jobs[10].ran && !jobs[10].done, "a refused job never runs");
	wt_workers_stats(w, &st);
	CHECK(st.submitted == 10 && st.completed == 10, "stats after drain");
	wt_workers_free(w, true);
}

static void *open_gate_later(void *arg)
{
	(void)arg;
	usleep(50000);
	gate_set(true);
	return NULL;
}

static void test_free(struct event_base *base)
{
	struct wt_workers_options o = {.threads = 2, .queue_max = 64, .name = "free"};
	struct wt_workers *w;
	static struct job jobs[16];

	/* drain: every queued job runs and completes */
	CHECK(wt_workers_new(&w, base, &o) == 0, "new");
	done_count = 0;
	for (int i = 0; i < 16; i++) {
		jobs[i] = (struct job){.id = i, .sleep_us = 2000};
		CHECK(wt_workers_submit(w, work, done, &jobs[i]) == 0, "submit %d", i);
	}
	wt_workers_free(w, true);
	int bad = 0;
	for (int i = 0; i < 16; i++)
		if (!jobs[i].ran || !jobs[i].done || jobs[i].cancelled || !jobs[i].done_on_loop)
			bad++;
	CHECK(done_count == 16 && bad == 0, "drain: %d completions, %d bad", done_count, bad);

	/* cancel: running jobs finish, queued ones are cancelled, and a
	 * completion cannot submit while the pool stops */
	CHECK(wt_workers_new(&w, base, &o) == 0, "new");
	done_count = 0;
	gate_set(false);
	for (int i = 0; i < 7; i++) {
		jobs[i] = (struct job){.id = i, .gated = true, .w = w};
		CHECK(wt_workers_submit(w, work, done, &jobs[i]) == 0, "submit %d", i);
	}
	wait_running(w, 2);
	pthread_t opener;
	pthread_create(&opener, NULL, open_gate_later, NULL);
	wt_workers_free(w, false);
	pthread_join(opener, NULL);
	int ran = 0, cancelled = 0, refused = 0;
	for (int i = 0; i < 7; i++) {
		ran += jobs[i].ran && !jobs[i].cancelled;
		cancelled += jobs[i].cancelled && !jobs[i].ran;
		refused += jobs[i].resubmit_rc == -ESHUTDOWN;
	}
	CHECK(done_count == 7, "every completion called once: %d", done_count);
	CHECK(ran == 2 && cancelled == 5, "ran %d cancelled %d", ran, cancelled);
	CHECK(refused == 7, "submissions during free refused: %d", refused);
}

static void test_bad_options(struct event_base *base)
{
	struct wt_workers *w = (struct wt_workers *)1;
	struct wt_workers_options o = {.threads = 0, .queue_max = 4};

	CHECK(wt_workers_new(&w, base, &o) == -EINVAL && w == NULL, "0 threads refused");
	o.threads = 1;
	o.queue_max = 0;
	CHECK(wt_workers_new(&w, base, &o) == -EINVAL, "empty queue refused");
	o.queue_max = 4;
	o.low_watermark = 4;
	CHECK(wt_workers_new(&w, base, &o) == -EINVAL, "low watermark at the max refused");
	wt_workers_free(NULL, true);
}

int main(void)
{
	struct event_base *base;

	wt_log_setup(false, "test", WT_LOG_WARNING);
	loop_thread = pthread_self();
	base = event_base_new();
	if (!base) {
		printf("FAIL: event_base_new\n");
		return 1;
	}
	test_basic(base);
	test_full(base);
	test_free(base);
	test_bad_options(base);
	event_base_free(base);
	libevent_global_shutdown();
	printf("%d of %d checks passed\n", checks - failures, checks);
	return failures ? 1 : 0;
}
