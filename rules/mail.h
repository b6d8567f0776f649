/* RFC 5322 / MIME e-mail formatting and SMTP delivery through libcurl.
 * Blocking: called on the notify thread or a worker, never on the loop. */
#ifndef WT_RULES_MAIL_H
#define WT_RULES_MAIL_H

#include "notify.h"
#include "notify_buf.h"

#include <stddef.h>
#include <stdint.h>

struct wt_mail_msg {
	const char *from, *to, *subject; /* UTF-8 */
	const char *message_id;          /* without the angle brackets */
	int64_t date_ms;
	const char *text; /* UTF-8 body, LF line ends */
	const char *html; /* NULL: text/plain only; else multipart/alternative */
};

/* Formats a complete message with CRLF line ends: Date, From, To, Subject
 * (RFC 2047 encoded-words when not ASCII), Message-ID, MIME-Version and a
 * quoted-printable UTF-8 text/plain body. 0 or -ENOMEM. */
int wt_mail_format(struct nbuf *out, const struct wt_mail_msg *m)
	__attribute__((warn_unused_result));
/* RFC 2047 "B" encoded-words for a header value, split so no word passes
 * 75 characters and no UTF-8 sequence is cut; ASCII text is copied. */
void wt_mail_encode_header(struct nbuf *out, const char *utf8);
/* Quoted-printable (RFC 2045) with CRLF line ends, lines <= 76. */
void wt_mail_qp(struct nbuf *out, const char *text);

/* Delivers data (a formatted message) to one recipient. On failure errbuf
 * gets the server's last reply line, or curl's reason. 0, -ECONNREFUSED
 * style negative errno (-EIO generic, -EACCES auth, -EPROTO rejected). */
int wt_mail_send(const struct wt_mail_options *o, const char *to, const char *data, size_t len,
		 char *errbuf, size_t errlen) __attribute__((warn_unused_result));

#endif
