#include "clock.h"

#include <time.h>

static int64_t real_now(void *ctx)
{
	struct timespec ts;
	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const struct wt_clock wt_clock_real = {real_now, 0};

int64_t wt_clock_manual_now(void *ctx)
{
	return *(int64_t *)ctx;
}
