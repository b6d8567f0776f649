/* sim_main.c — wattrack-sim: command line, fleet set-up and the event loop. */
#include "sim.h"
#include "sim_modbus.h"
#include "sim_redfish.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct sim *sim = sim_new();
	struct event_base *base = event_base_new();
	if (!sim || !base)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	struct event *sint = evsignal_new(base, SIGINT, on_signal, base);
	struct event *sterm = evsignal_new(base, SIGTERM, on_signal, base);
	event_add(sint, NULL);
	event_add(sterm, NULL);
	if (sim_reindex(sim) < 0)
		return 1;
	int rc = sim_modbus_start(sim, base);
	if (rc < 0 && rc != -ENOSYS)
		wt_error("modbus: %s", strerror(-rc));
	rc = sim_redfish_start(sim, base);
	if (rc < 0 && rc != -ENOSYS)
		wt_error("redfish: %s", strerror(-rc));
	printf("READY\n");
	fflush(stdout);
	event_base_dispatch(base);
	sim_modbus_stop();
	sim_redfish_stop();
	event_free(sint);
	event_free(sterm);
	event_base_free(base);
	sim_free(sim);
	return 0;
}
