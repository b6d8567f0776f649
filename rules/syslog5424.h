/* RFC 5424 syslog messages and their transport: UDP (RFC 5426), TCP with
 * octet-counting framing (RFC 6587) or TLS (RFC 5425, OpenSSL, certificate
 * and host name verified unless insecure). Blocking with timeouts: the
 * notify thread only. */
#ifndef WT_RULES_SYSLOG5424_H
#define WT_RULES_SYSLOG5424_H

#include "notify.h"
#include "notify_buf.h"

#include <stddef.h>
#include <stdint.h>

/* Our SD-ID. 32473 is the enterprise number RFC 5612 reserves for
 * documentation: a placeholder until wattrack has its own PEN. */
#define WT_SYSLOG_SDID "wattrack@32473"

struct wt_sd_param {
	const char *name;  /* ASCII, no '=', ' ', ']', '"' */
	const char *value; /* UTF-8; escaped on output */
};

struct wt_syslog_msg {
	int facility; /* 0..23 */
	int severity; /* 0 emerg .. 7 debug */
	int64_t ts_ms;
	const char *hostname, *app_name, *msgid; /* NULL: "-" */
	int procid;
	const struct wt_sd_param *params;
	size_t nparams;
	const char *msg;
};

/* PRI VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG, without a
 * trailing newline. 0 or -ENOMEM / -EINVAL (facility or severity range). */
int wt_syslog_format(struct nbuf *out, const struct wt_syslog_msg *m)
	__attribute__((warn_unused_result));

/* A transport, reconnected on demand. */
struct wt_syslog_conn;
/* Sends one formatted message (framing added for TCP/TLS). On failure the
 * connection is closed, errbuf says why. 0 or a negative errno. */
int wt_syslog_send(struct wt_syslog_conn **c, const struct wt_syslog_options *o, const char *msg,
		   size_t len, char *errbuf, size_t errlen) __attribute__((warn_unused_result));
void wt_syslog_close(struct wt_syslog_conn *c);

#endif
