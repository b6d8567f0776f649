/* An injectable wall clock, so tests can run days of data in seconds. */
#ifndef WT_CLOCK_H
#define WT_CLOCK_H

#include <stdint.h>

struct wt_clock {
	int64_t (*now_ms)(void *ctx); /* Unix time in milliseconds */
	void *ctx;
};

/* The real clock (CLOCK_REALTIME). */
extern const struct wt_clock wt_clock_real;

static inline int64_t wt_clock_now(const struct wt_clock *c)
{
	return c->now_ms(c->ctx);
}

/* A manual clock for tests: now_ms returns *(int64_t *)ctx. */
int64_t wt_clock_manual_now(void *ctx);

#endif
