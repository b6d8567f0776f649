#include "mail.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static bool is_ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static void b64(struct nbuf *out, const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
			     i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
		nbuf_add(out, q, 4);
	}
}

void wt_mail_encode_header(struct nbuf *out, const char *utf8)
{
	if (is_ascii_printable(utf8)) {
		nbuf_puts(out, utf8);
		return;
	}
	/* "=?UTF-8?B?" + "?=" is 12 characters; 39 input bytes make 52 of
	 * base64, so a word (64) fits after "Subject: " within 78 columns.
	 * Cut only before a UTF-8 lead byte. */
	const unsigned char *p = (const unsigned char *)utf8;
	size_t n = strlen(utf8), i = 0;
	bool first = true;
	while (i < n) {
		size_t take = n - i > 39 ? 39 : n - i;
		while (take > 0 && i + take < n && (p[i + take] & 0xc0) == 0x80)
			take--;
		if (take == 0)
			take = n - i > 39 ? 39 : n - i;
		if (!first)
			nbuf_puts(out, "\r\n ");
		nbuf_puts(out, "=?UTF-8?B?");
		b64(out, p + i, take);
		nbuf_puts(out, "?=");
		i += take;
		first = false;
	}
}

void wt_mail_qp(struct nbuf *out, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	int col = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '\n') {
			nbuf_puts(out, "\r\n");
			col = 0;
			continue;
		}
		if (*p == '\r')
			continue;
		bool next_eol = p[1] == '\n' || p[1] == '\0';
		bool lit = (*p >= 33 && *p <= 126 && *p != '=') ||
			   ((*p == ' ' || *p == '\t') && !next_eol);
		/* a leading '.' is safe (curl dot-stuffs), but keep lines <= 76 */
		int w = lit ? 1 : 3;
		if (col + w > 75) {
			nbuf_puts(out, "=\r\n");
			col = 0;
		}
		if (lit) {
			nbuf_putc(out, (char)*p);
		} else {
			char e[3] = {'=', hex[*p >> 4], hex[*p & 15]};
			nbuf_add(out, e, 3);
		}
		col += w;
	}
	nbuf_puts(out, "\r\n");
}

static void date_header(struct nbuf *out, int64_t ms)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	nbuf_printf(out, "Date: %s, %d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday],
		    tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
}

/* Addresses go out as given; a header-injection attempt (CR/LF) is cut. */
static void addr_header(struct nbuf *out, const char *name, const char *addr)
{
	nbuf_printf(out, "%s: ", name);
	for (const char *p = addr; *p && *p != '\r' && *p != '\n'; p++)
		nbuf_putc(out, *p);
	nbuf_puts(out, "\r\n");
}

int wt_mail_format(struct nbuf *out, const struct wt_mail_msg *m)
{
	date_header(out, m->date_ms);
	addr_header(out, "From", m->from);
	addr_header(out, "To", m->to);
	nbuf_puts(out, "Subject: ");
	/* a subject never spans lines: flatten CR/LF before encoding */
	char subj[512];
	snprintf(subj, sizeof(subj), "%s", m->subject);
	for (char *p = subj; *p; p++)
		if (*p == '\r' || *p == '\n' || *p == '\t')
			*p = ' ';
	wt_mail_encode_header(out, subj);
	nbuf_puts(out, "\r\n");
	nbuf_printf(out, "Message-ID: <%s>\r\n", m->message_id);
	nbuf_puts(out, "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
		       "X-Mailer: wattrack\r\n");
	if (!m->html) {
		nbuf_puts(out, "Content-Type: text/plain; charset=UTF-8\r\n"
			       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
		wt_mail_qp(out, m->text);
	} else {
		/* the boundary contains "=_" which never occurs in QP output */
		const char *bd = "=_wattrack_alt_boundary";
		nbuf_printf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n",
			    bd);
		nbuf_printf(out,
			    "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n"
			    "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
			    bd);
		wt_mail_qp(out, m->text);
		nbuf_printf(out,
			    "--%s\r\nContent-Type: text/html; charset=UTF-8\r\n"
			    "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
			    bd);
		wt_mail_qp(out, m->html);
		nbuf_printf(out, "--%s--\r\n", bd);
	}
	return nbuf_ok(out) ? 0 : -ENOMEM;
}

struct upload {
	const char *data;
	size_t len, off;
};

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct upload *u = ud;
	size_t n = size * nmemb;
	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(buf, u->data + u->off, n);
	u->off += n;
	return n;
}

/* Keeps the server's first error reply (4xx/5xx), which is the exact
 * reason a delivery failed ("550 5.1.1 <x@y>: Recipient address
 * rejected"); curl's QUIT afterwards only brings "221 Bye". */
struct reply {
	char line[512];
};

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
	struct reply *r = ud;
	if (type != CURLINFO_HEADER_IN || size == 0 || r->line[0] ||
	    (data[0] != '4' && data[0] != '5'))
		return 0;
	size_t n = size < sizeof(r->line) - 1 ? size : sizeof(r->line) - 1;
	memcpy(r->line, data, n);
	while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
		n--;
	r->line[n] = '\0';
	return 0;
}

int wt_mail_send(const struct wt_mail_options *o, const char *to, const char *data, size_t len,
		 char *errbuf, size_t errlen)
{
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(errbuf, errlen, "curl_easy_init failed");
		return -ENOMEM;
	}
	int port = o->port ? o->port : (o->tls == WT_MAIL_TLS_IMPLICIT ? 465 : 587);
	char url[512];
	snprintf(url, sizeof(url), "%s://%s:%d", o->tls == WT_MAIL_TLS_IMPLICIT ? "smtps" : "smtp",
		 o->server, port);
	char cerr[CURL_ERROR_SIZE] = "";
	struct reply rep = {""};
	struct upload up = {data, len, 0};
	struct curl_slist *rcpt = curl_slist_append(NULL, to);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, o->sender);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, &rep);
	int tmo = o->timeout_s > 0 ? o->timeout_s : 30;
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)(tmo < 10 ? tmo : 10));
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)tmo);
	curl_easy_setopt(h, CURLOPT_USE_SSL,
			 o->tls == WT_MAIL_TLS_NONE ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
	if (o->cafile && *o->cafile)
		curl_easy_setopt(h, CURLOPT_CAINFO, o->cafile);
	if (o->user && *o->user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, o->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, o->password ? o->password : "");
	}
	CURLcode rc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	if (rc == CURLE_OK)
		return 0;
	/* A server reply is the most precise reason; a connect failure has none. */
	if (code >= 400 && rep.line[0])
		snprintf(errbuf, errlen, "%s", rep.line);
	else
		snprintf(errbuf, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return -ECONNREFUSED;
	case CURLE_LOGIN_DENIED:
		return -EACCES;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SEND_FAIL_REWIND:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return -EIO;
	default:
		return code >= 400 ? -EPROTO : -EIO;
	}
}
