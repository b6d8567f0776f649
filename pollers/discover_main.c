/* wattrack-discover: the discover command as its own executable, for tests
 * and for use before the daemon's `wattrack discover` subcommand is wired. */
#include "pollers/discover.h"

int main(int argc, char **argv)
{
	return wt_discover_main(argc, argv);
}
