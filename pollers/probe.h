/* `wattrack probe URL`: talks to one device, prints what wattrack sees as
 * JSON (format in pollers/PROBE.md), and exits. */
#ifndef WT_POLLERS_PROBE_H
#define WT_POLLERS_PROBE_H

/* argv[0] is "probe" (or the program name). Exit status: 0 a profile was
 * bound and read, 2 the device answered but no profile matches, 1 the device
 * could not be read, 3 an outlet command failed, 64 usage error. */
int wt_probe_main(int argc, char **argv);

#endif
