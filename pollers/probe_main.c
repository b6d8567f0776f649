/* wattrack-probe: the probe command as its own executable, for tests and
 * for use before the daemon's `wattrack probe` subcommand is wired. */
#include "pollers/probe.h"

int main(int argc, char **argv)
{
	return wt_probe_main(argc, argv);
}
