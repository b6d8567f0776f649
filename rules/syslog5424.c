#include "syslog5424.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* RFC 5424 header fields are PRINTUSASCII; anything else becomes '_'. */
static void put_field(struct nbuf *out, const char *s, size_t max)
{
	if (!s || !*s) {
		nbuf_putc(out, '-');
		return;
	}
	for (size_t i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		nbuf_putc(out, c >= 33 && c <= 126 ? (char)c : '_');
	}
}

int wt_syslog_format(struct nbuf *out, const struct wt_syslog_msg *m)
{
	if (m->facility < 0 || m->facility > 23 || m->severity < 0 || m->severity > 7)
		return -EINVAL;
	time_t t = (time_t)(m->ts_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	nbuf_printf(out, "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%03dZ ",
		    m->facility * 8 + m->severity, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		    tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(m->ts_ms % 1000));
	put_field(out, m->hostname, 255);
	nbuf_putc(out, ' ');
	put_field(out, m->app_name, 48);
	nbuf_printf(out, " %d ", m->procid);
	put_field(out, m->msgid, 32);
	nbuf_putc(out, ' ');
	if (m->nparams == 0) {
		nbuf_putc(out, '-');
	} else {
		nbuf_puts(out, "[" WT_SYSLOG_SDID);
		for (size_t i = 0; i < m->nparams; i++) {
			if (!m->params[i].value)
				continue;
			nbuf_printf(out, " %s=\"", m->params[i].name);
			for (const char *p = m->params[i].value; *p; p++) {
				if (*p == '"' || *p == '\\' || *p == ']')
					nbuf_putc(out, '\\');
				nbuf_putc(out, *p);
			}
			nbuf_putc(out, '"');
		}
		nbuf_putc(out, ']');
	}
	if (m->msg && *m->msg) {
		nbuf_putc(out, ' ');
		nbuf_puts(out, m->msg);
	}
	return nbuf_ok(out) ? 0 : -ENOMEM;
}

struct wt_syslog_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

void wt_syslog_close(struct wt_syslog_conn *c)
{
	if (!c)
		return;
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static int connect_to(const struct wt_syslog_options *o, char *errbuf, size_t errlen)
{
	int port = o->port ? o->port : (o->proto == WT_SYSLOG_TLS ? 6514 : 514);
	char ports[16];
	snprintf(ports, sizeof(ports), "%d", port);
	struct addrinfo hints = {.ai_socktype = o->proto == WT_SYSLOG_UDP ? SOCK_DGRAM
									  : SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(o->server, ports, &hints, &ai);
	if (rc != 0) {
		snprintf(errbuf, errlen, "resolve %s: %s", o->server, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	int fd = -1, err = ECONNREFUSED;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int so = 0;
			socklen_t sl = sizeof(so);
			if (poll(&p, 1, 5000) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0)
				break;
			err = so ? so : ETIMEDOUT;
		} else {
			err = errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(errbuf, errlen, "connect %s:%d: %s", o->server, port, strerror(err));
		return -err;
	}
	/* back to blocking with timeouts: the notify thread may wait */
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int tls_open(struct wt_syslog_conn *c, const struct wt_syslog_options *o, char *errbuf,
		    size_t errlen)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	if (o->cafile && *o->cafile) {
		if (SSL_CTX_load_verify_locations(c->ctx, o->cafile, NULL) != 1) {
			snprintf(errbuf, errlen, "cannot load CA file %s", o->cafile);
			return -EINVAL;
		}
	} else {
		SSL_CTX_set_default_verify_paths(c->ctx);
	}
	SSL_CTX_set_verify(c->ctx, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl)
		return -ENOMEM;
	/* the certificate must name the server: an IP address as given is
	 * checked against the IP SANs, a host name against the DNS names */
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, o->server, ip) == 1 ||
		     inet_pton(AF_INET6, o->server, ip) == 1;
	if (!is_ip)
		SSL_set_tlsext_host_name(c->ssl, o->server);
	if (!o->insecure) {
		if (is_ip)
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), o->server);
		else
			SSL_set1_host(c->ssl, o->server);
	}
	SSL_set_fd(c->ssl, c->fd);
	/* the socket is non-blocking from connect(): wait for the handshake */
	for (int i = 0; i < 100; i++) {
		int r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(c->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			unsigned long le = ERR_get_error();
			long vr = SSL_get_verify_result(c->ssl);
			if (vr != X509_V_OK)
				snprintf(errbuf, errlen, "TLS: %s",
					 X509_verify_cert_error_string(vr));
			else
				snprintf(errbuf, errlen, "TLS handshake: %s",
					 le ? ERR_reason_error_string(le) : "connection closed");
			ERR_clear_error();
			return -EPROTO;
		}
		struct pollfd p = {.fd = c->fd,
				   .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
		if (poll(&p, 1, 100) < 0)
			break;
	}
	snprintf(errbuf, errlen, "TLS handshake timed out");
	return -ETIMEDOUT;
}

static int write_all(struct wt_syslog_conn *c, const char *p, size_t len)
{
	int waited = 0;
	while (len > 0) {
		ssize_t n;
		int want = POLLOUT;
		if (c->ssl) {
			int r = SSL_write(c->ssl, p, (int)len);
			if (r > 0) {
				n = r;
			} else {
				int e = SSL_get_error(c->ssl, r);
				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
					return -EIO;
				want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
				n = -1;
			}
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
		}
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		struct pollfd pf = {.fd = c->fd, .events = (short)want};
		if (poll(&pf, 1, 100) < 0 || (waited += 100) > 5000)
			return -ETIMEDOUT;
	}
	return 0;
}

/* A stream peer that closed shows as readable with 0 bytes: find out
 * before writing, so the message goes on a fresh connection instead of
 * vanishing into a dead socket. */
static bool peer_closed(struct wt_syslog_conn *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	if (poll(&p, 1, 0) != 1)
		return false;
	if (p.revents & (POLLERR | POLLHUP))
		return true;
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

int wt_syslog_send(struct wt_syslog_conn **cp, const struct wt_syslog_options *o, const char *msg,
		   size_t len, char *errbuf, size_t errlen)
{
	if (*cp && o->proto != WT_SYSLOG_UDP && peer_closed(*cp)) {
		wt_syslog_close(*cp);
		*cp = NULL;
	}
	if (!*cp) {
		struct wt_syslog_conn *c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->fd = connect_to(o, errbuf, errlen);
		if (c->fd < 0) {
			int rc = c->fd;
			free(c);
			return rc;
		}
		if (o->proto == WT_SYSLOG_TLS) {
			int rc = tls_open(c, o, errbuf, errlen);
			if (rc < 0) {
				wt_syslog_close(c);
				return rc;
			}
		}
		*cp = c;
	}
	struct wt_syslog_conn *c = *cp;
	int rc;
	if (o->proto == WT_SYSLOG_UDP) {
		/* a refused earlier datagram surfaces here as ECONNREFUSED */
		ssize_t n = send(c->fd, msg, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ECONNREFUSED)
			n = send(c->fd, msg, len, MSG_NOSIGNAL);
		rc = n == (ssize_t)len ? 0 : -(n < 0 ? errno : EMSGSIZE);
	} else {
		char hdr[24];
		int hl = snprintf(hdr, sizeof(hdr), "%zu ", len);
		rc = write_all(c, hdr, (size_t)hl);
		if (rc == 0)
			rc = write_all(c, msg, len);
	}
	if (rc < 0) {
		snprintf(errbuf, errlen, "send to %s: %s", o->server, strerror(-rc));
		wt_syslog_close(c);
		*cp = NULL;
	}
	return rc;
}
