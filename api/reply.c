#include "reply.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double pow10d[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6, 1e7,
				 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14};
static const uint64_t pow10u[] = {1ull,
				  10ull,
				  100ull,
				  1000ull,
				  10000ull,
				  100000ull,
				  1000000ull,
				  10000000ull,
				  100000000ull,
				  1000000000ull,
				  10000000000ull,
				  100000000000ull,
				  1000000000000ull,
				  10000000000000ull,
				  100000000000000ull};

size_t wt_json_num(char *out, double v)
{
	if (!isfinite(v)) {
		memcpy(out, "null", 5);
		return 4;
	}
	double a = fabs(v);
	if (a == 0.0) {
		memcpy(out, "0.0", 4);
		return 3;
	}
	if (a < 1e-4 || a >= 1e14) {
		/* Rare magnitudes: printf's exponent form is valid JSON. */
		int n = snprintf(out, WT_JSON_NUM_MAX, "%.10g", v);
		if (n < 0 || n >= WT_JSON_NUM_MAX) {
			memcpy(out, "null", 5);
			return 4;
		}
		if (!strpbrk(out, ".eEn") && n + 2 < WT_JSON_NUM_MAX) {
			memcpy(out + n, ".0", 3);
			n += 2;
		}
		return (size_t)n;
	}
	/* e = floor(log10(a)) in -4..13; keep 10 significant digits. */
	int e = 0;
	if (a >= 1.0) {
		while (e < 13 && a >= pow10d[e + 1])
			e++;
	} else {
		e = -1;
		while (e > -4 && a < 1.0 / pow10d[-e])
			e--;
	}
	int dec = 9 - e;
	if (dec < 0)
		dec = 0;
	if (dec > 14)
		dec = 14;
	/* a * 10^dec < 10^14 here: an integer a double holds exactly. */
	uint64_t m = (uint64_t)llround(a * pow10d[dec]);
	uint64_t ip = m / pow10u[dec], fp = m % pow10u[dec];
	char tmp[WT_JSON_NUM_MAX];
	size_t n = 0;
	if (v < 0)
		out[n++] = '-';
	size_t k = 0;
	do {
		tmp[k++] = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip);
	while (k)
		out[n++] = tmp[--k];
	out[n++] = '.';
	if (!fp) {
		out[n++] = '0';
	} else {
		int d = dec;
		while (fp % 10 == 0) { /* trailing zeros say nothing */
			fp /= 10;
			d--;
		}
		for (int i = d - 1; i >= 0; i--) {
			tmp[i] = (char)('0' + fp % 10);
			fp /= 10;
		}
		memcpy(out + n, tmp, (size_t)d);
		n += (size_t)d;
	}
	out[n] = '\0';
	return n;
}

const char *wt_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

/* Headers every API reply carries: JSON is never cached or sniffed, never
 * framed, and over HTTPS browsers are told to stay on HTTPS. */
static void common_headers(struct evhttp_request *req, bool tls, const char *ctype)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (ctype)
		evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	if (tls)
		evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
}

void wt_api_send_text(struct evhttp_request *req, int status, const char *json, size_t len,
		      bool tls)
{
	wt_api_send_body(req, status, json ? "application/json; charset=utf-8" : NULL, json, len,
			 tls);
}

void wt_api_send_buffer(struct evhttp_request *req, int status, const char *ctype,
			struct evbuffer *body, bool tls)
{
	/* Looked up before sending: a reply on a connection the client already
	 * closed frees the request. */
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	common_headers(req, tls, body ? ctype : NULL);
	evhttp_send_reply(req, status, wt_http_reason(status), body);
	/* The connection is still alive here: evhttp frees it only after the
	 * write completes. */
	if (bev)
		bufferevent_flush(bev, EV_WRITE, BEV_NORMAL);
}

void wt_api_send_body(struct evhttp_request *req, int status, const char *ctype, const char *body,
		      size_t len, bool tls)
{
	/* copied: the caller frees body when this returns, while the bytes
	 * may wait in the connection's buffer */
	struct evbuffer *b = body ? evbuffer_new() : NULL;
	if (b && evbuffer_add(b, body, len) < 0) {
		evbuffer_free(b);
		b = NULL;
	}
	wt_api_send_buffer(req, status, ctype, b, tls);
	if (b)
		evbuffer_free(b);
}

void wt_api_flush(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (evcon)
		bufferevent_flush(evhttp_connection_get_bufferevent(evcon), EV_WRITE, BEV_NORMAL);
}

void wt_api_send_json(struct evhttp_request *req, int status, const json_t *body, bool tls)
{
	if (!body) {
		wt_api_send_text(req, status, NULL, 0, tls);
		return;
	}
	char *s = json_dumps(body, JSON_COMPACT);
	if (!s) {
		wt_api_send_error(req, 500, "INTERNAL", "could not serialise the reply", tls);
		return;
	}
	wt_api_send_text(req, status, s, strlen(s), tls);
	free(s);
}

void wt_api_send_error(struct evhttp_request *req, int status, const char *code,
		       const char *message, bool tls)
{
	json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message",
			      message ? message : "");
	char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
	if (s) {
		wt_api_send_text(req, status, s, strlen(s), tls);
	} else {
		/* Out of memory or a message that is not UTF-8: still JSON. */
		static const char fallback[] =
			"{\"error\":{\"code\":\"INTERNAL\",\"message\":\"could not format the error\"}}";
		wt_api_send_text(req, status, fallback, sizeof(fallback) - 1, tls);
	}
	free(s);
	json_decref(e);
}

void wt_api_common_headers(struct evhttp_request *req, bool tls)
{
	common_headers(req, tls, NULL);
}
