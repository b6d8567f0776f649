/* The HTTP/HTTPS JSON API as the daemon sees it: start it on a loop with a
 * set of options, stop it at shutdown. Everything under /api/v1 goes through
 * one route table (api/routes.c) where each row names its method, path
 * pattern, required permission and handler. Blocking work (PostgreSQL, LDAP
 * binds, password hashing) runs on a worker pool; the loop never blocks. */
#ifndef WT_API_H
#define WT_API_H

#include "ldapauth.h"
#include "password.h"

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct wt_workers;
struct wt_api;
struct wt_storage;
struct wt_rules;
struct wt_sched;
struct wt_control;
struct wt_config;
struct wt_dnotify;
struct wt_ddisc;
struct wt_ddisc_scan;

enum wt_http_mode {
	WT_HTTP_OFF = 0,  /* plain HTTP not served */
	WT_HTTP_ON,       /* plain HTTP serves the API */
	WT_HTTP_REDIRECT  /* plain HTTP answers 308 to the HTTPS port */
};

/* Throttling of failed logins. After *_free failures inside window_s the
 * account (or address) is locked for base_delay_s * 2^(n - free), capped
 * at max_delay_s. State lives in PostgreSQL so several instances agree. */
struct wt_throttle_options {
	int user_free;      /* failures per account before delays start (5) */
	int addr_free;      /* failures per source address before delays start (20) */
	int base_delay_s;   /* first lockout (2) */
	int max_delay_s;    /* longest lockout (900) */
	int window_s;       /* failures older than this are forgotten (3600) */
};

struct wt_api_options {
	const char *listen_address;   /* "127.0.0.1", "0.0.0.0", "::" */
	enum wt_http_mode http_mode;
	int http_port;                /* plain HTTP port (0 with WT_HTTP_OFF) */
	int https_port;               /* 0: no HTTPS */
	const char *tls_cert_file;    /* PEM chain; NULL/"": self-signed under state_dir */
	const char *tls_key_file;     /* PEM key; may be encrypted */
	const char *tls_key_passphrase; /* for an encrypted key; never logged */
	const char *state_dir;        /* self-signed certificate goes to state_dir/tls */
	const char *db_conninfo;      /* libpq conninfo for users, sessions, tokens */
	size_t max_body_bytes;        /* larger request bodies get 413 (1 MiB) */
	size_t max_header_bytes;      /* larger header blocks are refused (16 KiB) */
	int request_timeout_s;        /* a request must arrive whole within this (15) */
	int io_timeout_s;             /* idle read/write timeout per connection (30) */
	int workers;                  /* own worker threads when no pool is given (4) */
	int session_idle_s;           /* sessions expire after this much inactivity (1800) */
	int session_max_s;            /* and in any case this long after login (43200) */
	int auth_cache_ms;            /* verified sessions/tokens are trusted this long without
				       * a database check (5000; 0: every request checks). Changes
				       * through this API apply at once; other instances' changes
				       * within this time */
	bool create_admin;            /* create "admin" with a one-time password on an empty table */
	struct wt_password_policy password;
	struct wt_throttle_options throttle;
	struct wt_ldap_options ldap;  /* ldap.url NULL/"": LDAP off */
};

/* Fills o with the documented defaults (pointers NULL). */
void wt_api_options_default(struct wt_api_options *o);

/* What the audit log needs to know about an authentication or account
 * event. Strings are valid only during the callback. */
struct wt_api_audit_event {
	const char *kind;     /* "login", "login_failed", "login_throttled", "logout",
			       * "password_changed", "user_created", "user_updated",
			       * "user_deleted", "token_created", "token_revoked" */
	const char *severity; /* audit severity: "info", "warning" */
	const char *actor;    /* user who acted, or the attempted username */
	const char *source;   /* client address */
	const char *detail;   /* human text, never a secret */
};
/* Called on the loop thread for every audit event. */
typedef void (*wt_api_audit_fn)(void *ctx, const struct wt_api_audit_event *ev);

/* Binds the listeners, loads or generates the TLS certificate, and starts
 * serving on base. o is copied, but the strings it points to are not: they
 * must stay valid until wt_api_stop (changing them needs a restart). workers may be NULL (the API then runs its own pool).
 * With create_admin and no users yet, an "admin" account is created whose
 * one-time password is logged once at NOTICE level. */
int wt_api_start(struct wt_api **out, const struct wt_api_options *o, struct event_base *base,
		 struct wt_workers *workers) __attribute__((warn_unused_result));

/* Routes audit events to fn (in addition to the log). */
void wt_api_set_audit_hook(struct wt_api *api, wt_api_audit_fn fn, void *ctx);

/* The other layers the routes read and drive. Every pointer may be NULL:
 * routes that need a missing one answer 503 SERVICE_UNAVAILABLE naming it.
 * All of them are owned by the caller, live on the API's loop thread and
 * must outlive wt_api_stop (or be withdrawn first by calling this again
 * with that pointer NULL). The API reads their in-memory state on the loop
 * only; its workers touch PostgreSQL only. */
struct wt_api_layers {
	struct wt_storage *storage; /* health, spool, in-memory points for charts */
	struct wt_rules *rules;     /* engine: structure, alarms (wt_rules_alarms) */
	struct wt_sched *sched;     /* device states, poll statistics, driver instances */
	struct wt_control *control; /* outlet on/off/cycle */
	struct wt_config *config;   /* effective settings (read; reloadable ones changed) */
	void *discovery;            /* reserved for the discovery scanner */
	/* Called on the loop after rules were created, replaced or deleted
	 * (e.g. wt_drules_reload); NULL: the engine picks them up on its own. */
	void (*rules_changed)(void *ctx);
	void *rules_changed_ctx;
	bool metrics_readings;      /* /metrics also exports the latest readings */
	/* The daemon's glue (server/daemon_*.c) is not in the API library, so
	 * the routes reach it through these; any may be NULL (503). */
	int (*discovery_scan)(struct wt_ddisc *d, const struct wt_ddisc_scan *q, char *err,
			      size_t errlen);               /* wt_ddisc_start_scan_with */
	char *(*discovery_status)(const struct wt_ddisc *d); /* wt_ddisc_status */
	struct wt_dnotify *notify;  /* POST /notifications/test-mail */
	int (*test_mail)(struct wt_dnotify *n, const char *to, char *err,
			 size_t errlen);                    /* wt_dnotify_test_mail */
	/* The wattrack executable POST /probe runs as `probe -` with the URL on
	 * stdin ("/proc/self/exe" in the daemon); NULL: probing unavailable. */
	const char *probe_exe;
	/* The configuration file PATCH /settings writes its changes back to
	 * (temp file + rename, comments kept); NULL: changes last until restart. */
	const char *config_path;
	/* Called on the loop after PATCH /settings changed reloadable settings
	 * in *config, to put them into effect as SIGHUP would. NULL: none. */
	void (*settings_changed)(void *ctx);
	void *settings_changed_ctx;
};

/* Connects the layers (copied; may be called again, e.g. after a reload).
 * Loop thread. */
void wt_api_set_layers(struct wt_api *api, const struct wt_api_layers *l);

/* The ports actually bound (useful with port 0). */
int wt_api_http_port(const struct wt_api *api);
int wt_api_https_port(const struct wt_api *api);

/* Stops listening, lets requests in flight finish, frees. */
void wt_api_stop(struct wt_api *api);

#endif
