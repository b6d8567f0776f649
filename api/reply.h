/* How replies leave the server. Every error goes out through
 * wt_api_send_error as {"error":{"code":"STABLE_CODE","message":"..."}}, so
 * clients parse one shape everywhere. Loop thread only. */
#ifndef WT_API_REPLY_H
#define WT_API_REPLY_H

#include <jansson.h>
#include <stdbool.h>

struct evbuffer;

struct evhttp_request;

/* The one error function: status, an UPPER_CASE code that never changes
 * meaning, a human message naming what was wrong and where. */
void wt_api_send_error(struct evhttp_request *req, int status, const char *code,
		       const char *message, bool tls);

/* Sends body as JSON (NULL: no body, e.g. 204). Does not take body. */
void wt_api_send_json(struct evhttp_request *req, int status, const json_t *body, bool tls);

/* Sends pre-serialised JSON text. */
void wt_api_send_text(struct evhttp_request *req, int status, const char *json, size_t len,
		      bool tls);

/* Sends body (len bytes) with the given Content-Type, e.g. CSV. */
void wt_api_send_body(struct evhttp_request *req, int status, const char *ctype, const char *body,
		      size_t len, bool tls);
/* As wt_api_send_body, with the body in an evbuffer: its contents move to
 * the connection (no copy); the buffer is left empty, still the caller's. */
void wt_api_send_buffer(struct evhttp_request *req, int status, const char *ctype,
			struct evbuffer *body, bool tls);

/* Sets the common security headers for a streamed reply (no Content-Type). */
void wt_api_common_headers(struct evhttp_request *req, bool tls);

/* Pushes queued output to the socket. Every connection is read through a
 * libevent 2.1 filter bufferevent (api/server.c), which does not pass on
 * output queued while evhttp had writing disabled: call this after
 * evhttp_send_reply_start/_chunk (the push stream). The senders here do. */
void wt_api_flush(struct evhttp_request *req);

/* Writes v as a JSON number with 10 significant digits (finer than any
 * meter and than the float4 the 5 s data is stored in), or "null" when it
 * is not finite, into out (at least WT_JSON_NUM_MAX bytes, NUL-terminated);
 * returns the length. A whole value keeps a ".0", as jansson writes reals.
 * Any thread: several times faster than printf's %.17g, which dominated
 * the cost of a chart reply. */
#define WT_JSON_NUM_MAX 32
size_t wt_json_num(char *out, double v);

/* The standard reason phrase for status. */
const char *wt_http_reason(int status);

#endif
