/* sim_main.c — wattrack-sim: command line, fleet set-up and the event loop. */
#include "sim.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sim_control.h"
#include "sim_fleet.h"
#include "sim_modbus.h"
#include "sim_redfish.h"
#include "sim_snmp.h"

static void usage(FILE *f)
{
	fputs("usage: wattrack-sim [options]\n"
	      "  --fleet demo|FILE       the built-in demo fleet (~200 devices) or a fleet JSON file\n"
	      "  --generate SPEC         pdus=N,ups=M,modbus=K,redfish=R,outlets=O,units=U\n"
	      "  --write-fleet FILE      write the fleet (with its ports) as JSON once listening\n"
	      "  --bind ADDR             loopback address to listen on (default 127.0.0.1)\n"
	      "  --snmp-port N           shared SNMP UDP port (default 0 = any free port)\n"
	      "  --snmp-port-base N      also serve device i on UDP port N+i\n"
	      "  --site-community NAME   with --snmp-port-base: SNMP devices whose read community\n"
	      "                          is the default public-<id> also answer NAME on their own\n"
	      "                          port, as a site with one community would (public-<id>,\n"
	      "                          write communities, v3 users and fleet-file communities\n"
	      "                          keep working)\n"
	      "  --control-port N        control API HTTP port (default 0 = any free port)\n"
	      "  --time-scale X          simulated seconds per real second (default 1)\n"
	      "  --log-level LEVEL       error, warning, notice, info, debug\n"
	      "Prints \"READY snmp=P control=P devices=N\" on stdout once it answers.\n",
	      f);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s == 0 || *end || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"fleet", required_argument, NULL, 'f'},
		{"generate", required_argument, NULL, 'g'},
		{"write-fleet", required_argument, NULL, 'w'},
		{"bind", required_argument, NULL, 'b'},
		{"snmp-port", required_argument, NULL, 's'},
		{"snmp-port-base", required_argument, NULL, 'S'},
		{"control-port", required_argument, NULL, 'c'},
		{"site-community", required_argument, NULL, 'C'},
		{"time-scale", required_argument, NULL, 't'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sim *sim = sim_new();
	if (!sim)
		return 1;
	const char *fleet = NULL, *gen = NULL, *write_fleet = NULL, *err = NULL;
	const char *site_community = NULL;
	int c, rc = 0;
	wt_log_setup(false, "wattrack-sim", WT_LOG_NOTICE);
	while ((c = getopt_long(argc, argv, "f:g:w:b:s:S:c:C:t:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fleet = optarg; break;
		case 'g': gen = optarg; break;
		case 'w': write_fleet = optarg; break;
		case 'b':
			/* the simulator never leaves loopback */
			if (strncmp(optarg, "127.", 4) != 0) {
				fprintf(stderr, "wattrack-sim: --bind must be a loopback address\n");
				sim_free(sim);
				return 2;
			}
			snprintf(sim->bind_addr, sizeof(sim->bind_addr), "%s", optarg);
			break;
		case 's': rc = parse_port(optarg, &sim->snmp_port); break;
		case 'S': rc = parse_port(optarg, &sim->snmp_port_base); break;
		case 'c': rc = parse_port(optarg, &sim->control_port); break;
		case 'C':
			site_community = optarg;
			if (!*optarg || strlen(optarg) >= SIM_SECRET_MAX)
				rc = -EINVAL;
			break;
		case 't': {
			char *end;
			sim->time_scale = strtod(optarg, &end);
			if (*end || sim->time_scale <= 0 || sim->time_scale > 100000)
				rc = -EINVAL;
			break;
		}
		case 'l': {
			int lv = wt_log_level_parse(optarg);
			if (lv < 0)
				rc = -EINVAL;
			else
				wt_log_setup(false, "wattrack-sim", (enum wt_log_level)lv);
			break;
		}
		case 'h': usage(stdout); sim_free(sim); return 0;
		default: usage(stderr); sim_free(sim); return 2;
		}
		if (rc < 0) {
			fprintf(stderr, "wattrack-sim: bad value '%s' for -%c\n", optarg, c);
			usage(stderr);
			sim_free(sim);
			return 2;
		}
	}
	if (!fleet && !gen)
		fleet = "demo";
	if (fleet && strcmp(fleet, "demo") == 0)
		rc = sim_fleet_demo(sim);
	else if (fleet)
		rc = sim_fleet_load(sim, fleet, &err);
	if (rc == 0 && gen)
		rc = sim_fleet_generate(sim, gen, &err);
	if (rc < 0) {
		fprintf(stderr, "wattrack-sim: fleet: %s\n", err ? err : strerror(-rc));
		sim_free(sim);
		return 2;
	}
	if (sim->snmp_port_base && sim->snmp_port_base + sim->n_devices > 65535) {
		fprintf(stderr, "wattrack-sim: --snmp-port-base too high for %zu devices\n", sim->n_devices);
		sim_free(sim);
		return 2;
	}
	if (site_community && !sim->snmp_port_base) {
		/* on the shared port devices are told apart by community */
		fprintf(stderr, "wattrack-sim: --site-community needs --snmp-port-base\n");
		sim_free(sim);
		return 2;
	}
	for (size_t i = 0; site_community && i < sim->n_devices; i++) {
		struct sim_device *dv = sim->devices[i];
		char dflt[32];
		snprintf(dflt, sizeof(dflt), "public-%u", (unsigned)dv->id);
		if (dv->proto == SIM_PROTO_SNMP && strcmp(dv->creds.community_ro, dflt) == 0)
			snprintf(dv->creds.community_site, sizeof(dv->creds.community_site), "%s",
				 site_community);
	}
	struct event_base *base = event_base_new();
	if (!base || sim_reindex(sim) < 0) {
		sim_free(sim);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	struct event *sint = evsignal_new(base, SIGINT, on_signal, base);
	struct event *sterm = evsignal_new(base, SIGTERM, on_signal, base);
	if (!sint || !sterm || event_add(sint, NULL) < 0 || event_add(sterm, NULL) < 0)
		return 1;
	int status = 0;
	/* The control port (any free TCP port) is bound before the Modbus and
	 * Redfish ports are probed, so it cannot take one of theirs. */
	if ((rc = sim_control_start(sim, base)) < 0 || (rc = sim_fleet_assign_ports(sim)) < 0 ||
	    (rc = sim_reindex(sim)) < 0 || (rc = sim_snmp_start(sim, base)) < 0) {
		fprintf(stderr, "wattrack-sim: cannot listen: %s\n", strerror(-rc));
		status = 1;
		goto out;
	}
	rc = sim_modbus_start(sim, base);
	if (rc < 0 && rc != -ENOSYS)
		wt_error("modbus: %s", strerror(-rc));
	rc = sim_redfish_start(sim, base);
	if (rc < 0 && rc != -ENOSYS)
		wt_error("redfish: %s", strerror(-rc));
	if (sim_reindex(sim) < 0) { /* ports may have changed */
		status = 1;
		goto out;
	}
	if (write_fleet && (rc = sim_fleet_write(sim, write_fleet)) < 0) {
		fprintf(stderr, "wattrack-sim: cannot write %s: %s\n", write_fleet, strerror(-rc));
		status = 1;
		goto out;
	}
	printf("READY snmp=%u control=%u devices=%zu\n", sim->snmp_port, sim->control_port,
	       sim->n_devices);
	fflush(stdout);
	wt_notice("wattrack-sim: %zu devices, SNMP on %s:%u, control on %s:%u", sim->n_devices,
		  sim->bind_addr, sim->snmp_port, sim->bind_addr, sim->control_port);
	event_base_dispatch(base);
out:
	sim_modbus_stop();
	sim_redfish_stop();
	sim_control_stop();
	sim_snmp_stop();
	event_free(sint);
	event_free(sterm);
	event_base_free(base);
	sim_free(sim);
	return status;
}
