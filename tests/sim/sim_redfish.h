/* sim_redfish.h — Redfish (DSP0268 PowerDistribution) server of wattrack-sim over HTTP and HTTPS. */
#ifndef WT_SIM_REDFISH_H
#define WT_SIM_REDFISH_H

struct sim;
struct event_base;

/* Serve every Redfish device of the fleet on its HTTP and HTTPS ports; 0 or -errno. */
__attribute__((warn_unused_result)) int sim_redfish_start(struct sim *sim, struct event_base *base);

/* Close every Redfish listener, connection and session; safe to call when not started. */
void sim_redfish_stop(void);

#endif
