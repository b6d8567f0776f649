/* Version, health, the OpenAPI document and the role table. */
#include "auth.h"
#include "wt_build.h"

void wt_h_version(struct wt_api_req *r)
{
	wt_api_ok(r, 200, json_pack("{s:s,s:s,s:s}", "name", "wattrack", "version", WT_VERSION,
				    "api", "v1"));
}

void wt_h_health(struct wt_api_req *r)
{
	wt_api_ok(r, 200, wt_api_health_json(r->api));
}

void wt_h_openapi(struct wt_api_req *r)
{
	wt_api_ok(r, 200, wt_openapi_document());
}

void wt_h_roles(struct wt_api_req *r)
{
	json_t *a = json_array();
	for (int i = 0; i < WT_ROLE__COUNT; i++)
		json_array_append_new(a, json_pack("{s:s,s:o}", "name", wt_role_name(i), "permissions",
						   wt_auth_perms_json(wt_role_perms(i))));
	wt_api_ok(r, 200, json_pack("{s:o}", "roles", a));
}
