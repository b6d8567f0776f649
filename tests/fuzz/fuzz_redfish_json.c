/* Fuzz target: Redfish answers (any JSON, or not JSON) through the mapping
 * the poller uses (pollers/redfish_map.h), and the input as a redfish://
 * URL. Malformed or hostile input is a device error, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pollers/redfish_dev.h"
#include "pollers/redfish_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	struct wt_rf_readings rd = {0};
	(void)wt_rf_map_text((const char *)data, size, &rd);
	for (size_t i = 0; i < rd.n; i++)
		if (!memchr(rd.v[i].name, 0, sizeof rd.v[i].name))
			abort(); /* names are always terminated */
	wt_rf_readings_free(&rd);
	char url[1024];
	size_t n = size < sizeof url - 1 ? size : sizeof url - 1;
	memcpy(url, data, n);
	url[n] = 0;
	struct wt_redfish_url u;
	char err[200];
	int rc = wt_redfish_url_parse(url, &u, err, sizeof err);
	if (!rc && (!u.host[0] || u.port < 1 || u.port > 65535))
		abort(); /* an accepted URL has a host and a port */
	return 0;
}
