/* A test host for the API layer: starts api/ on its own loop with options
 * from a JSON file, on a real PostgreSQL, prints "READY http=N https=N" and
 * runs until SIGTERM. Audit events are printed as "AUDIT kind actor".
 * With --routes it prints the route table, one "METHOD PATH PERMISSION"
 * per line, for the OpenAPI cross-check. */
#include "api.h"
#include "log.h"
#include "request.h"

#include <event2/event.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct wt_api *api;

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;
	wt_api_stop(api);
	api = NULL;
	event_base_loopexit(base, NULL);
}

static void on_audit(void *ctx, const struct wt_api_audit_event *ev)
{
	printf("AUDIT %s %s %s\n", ev->kind, ev->actor, ev->source);
	fflush(stdout);
}

static const char *s(json_t *o, const char *k, const char *def)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : def;
}

static int i(json_t *o, const char *k, int def)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--routes") == 0) {
		for (size_t n = 0; n < wt_api_nroutes; n++)
			printf("%s %s %s\n", wt_method_name(wt_api_routes[n].method),
			       wt_api_routes[n].path, wt_perm_name(wt_api_routes[n].perm));
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: wt-api-testd CONFIG.json | --routes\n");
		return 2;
	}
	json_error_t err;
	json_t *c = json_load_file(argv[1], 0, &err);
	if (!c) {
		fprintf(stderr, "%s:%d: %s\n", argv[1], err.line, err.text);
		return 2;
	}
	wt_log_setup(false, "wt-api-testd", WT_LOG_DEBUG);
	signal(SIGPIPE, SIG_IGN);

	struct wt_api_options o;
	wt_api_options_default(&o);
	o.listen_address = s(c, "listen", "127.0.0.1");
	const char *mode = s(c, "http_mode", "on");
	o.http_mode = strcmp(mode, "off") == 0 ? WT_HTTP_OFF
		    : strcmp(mode, "redirect") == 0 ? WT_HTTP_REDIRECT : WT_HTTP_ON;
	o.http_port = i(c, "http_port", 0);
	o.https_port = i(c, "https_port", 0);
	o.tls_cert_file = s(c, "cert", NULL);
	o.tls_key_file = s(c, "key", NULL);
	o.tls_key_passphrase = s(c, "passphrase", NULL);
	o.state_dir = s(c, "state_dir", NULL);
	o.db_conninfo = s(c, "db", NULL);
	o.max_body_bytes = (size_t)i(c, "max_body", 1 << 20);
	o.request_timeout_s = i(c, "request_timeout", 15);
	o.io_timeout_s = i(c, "io_timeout", 30);
	o.session_idle_s = i(c, "session_idle", 1800);
	o.session_max_s = i(c, "session_max", 43200);
	o.auth_cache_ms = i(c, "auth_cache_ms", 5000);
	o.workers = i(c, "workers", 4);
	o.password.min_length = i(c, "min_length", 12);
	o.password.scrypt_log2n = i(c, "scrypt_log2n", 15);
	json_t *t = json_object_get(c, "throttle");
	o.throttle.user_free = i(t, "user_free", 5);
	o.throttle.addr_free = i(t, "addr_free", 20);
	o.throttle.base_delay_s = i(t, "base_delay", 2);
	o.throttle.max_delay_s = i(t, "max_delay", 900);
	o.throttle.window_s = i(t, "window", 3600);
	json_t *l = json_object_get(c, "ldap");
	o.ldap.url = s(l, "url", NULL);
	o.ldap.starttls = json_is_true(json_object_get(l, "starttls"));
	o.ldap.ca_file = s(l, "ca_file", NULL);
	o.ldap.timeout_s = i(l, "timeout", 3);
	o.ldap.bind_dn_template = s(l, "bind_dn_template", NULL);
	o.ldap.bind_dn = s(l, "bind_dn", NULL);
	o.ldap.bind_password = s(l, "bind_password", NULL);
	o.ldap.search_base = s(l, "search_base", NULL);
	o.ldap.user_class = s(l, "user_class", NULL);
	o.ldap.user_attr = s(l, "user_attr", NULL);
	o.ldap.group_base = s(l, "group_base", NULL);
	o.ldap.group_class = s(l, "group_class", NULL);
	o.ldap.member_attr = s(l, "member_attr", NULL);
	o.ldap.group_roles = s(l, "group_roles", NULL);
	o.ldap.default_role = s(l, "default_role", NULL);

	if (getenv("WT_EVENT_DEBUG"))
		event_enable_debug_logging(EVENT_DBG_ALL);
	struct event_base *base = event_base_new();
	int rc = wt_api_start(&api, &o, base, NULL);
	if (rc < 0) {
		fprintf(stderr, "wt_api_start failed: %s\n", strerror(-rc));
		event_base_free(base);
		json_decref(c);
		return 1;
	}
	wt_api_set_audit_hook(api, on_audit, NULL);
	struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	printf("READY http=%d https=%d\n", wt_api_http_port(api), wt_api_https_port(api));
	fflush(stdout);
	event_base_dispatch(base);
	if (api)
		wt_api_stop(api);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	json_decref(c);
	return 0;
}
