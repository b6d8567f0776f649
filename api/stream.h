/* The live push stream (Server-Sent Events, GET /api/v1/stream): changed
 * readings, device states and alarm changes for what a client subscribed
 * to, so the console never polls. Loop thread only; internal to api/.
 *
 * A half-second tick reads the layers on the loop (storage's in-memory
 * points through wt_storage_peek_points, scheduler states, the engine's
 * alarm set) and queues events per client. Each client's queue is bounded:
 * when a slow consumer lets it fill, the oldest events go and a "lost"
 * event says how many; a client whose socket takes nothing for 60 s is
 * dropped. Heartbeats (every WT_STREAM_HEARTBEAT_S on a quiet stream) keep
 * proxies and clients honest.
 *
 * Events carry no ids and Last-Event-ID is not replayed: every connection,
 * a reconnect included, starts from a snapshot instead (hello, the state
 * of every device followed, every active alarm followed, the in-memory
 * readings of the last 15 s), which is what a console needs after a
 * network blip and costs no per-client history on the server. */
#ifndef WT_API_STREAM_H
#define WT_API_STREAM_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct wt_api_req;
struct wt_api_layers;
struct wt_streams;

/* Per-client bounds (events queued, bytes on the socket before queuing). */
#define WT_STREAM_QUEUE_MAX 512
#define WT_STREAM_SOCKET_MAX (128 * 1024)
#define WT_STREAM_HEARTBEAT_S 15
/* SO_SNDBUF asked for a stream's socket (Linux doubles it). */
#define WT_STREAM_SNDBUF (64 * 1024)
/* Most series one client may follow (h_stream.c asks for one more, puts
 * aggregates first; hello says series_truncated when cut). */
#define WT_STREAM_SERIES_MAX 20000

int wt_streams_new(struct wt_streams **out, struct event_base *base)
	__attribute__((warn_unused_result));
/* Takes over r->http: starts the event-stream reply for the subscription
 * the worker resolved into r->reply ({"series":[...], "devices":[...],
 * "elements":[...], "all": bool}). */
void wt_streams_attach(struct wt_streams *s, struct wt_api_req *r);
/* The layers to read on each tick (may be NULL members). */
void wt_streams_set_layers(struct wt_streams *s, const struct wt_api_layers *l);
size_t wt_streams_count(const struct wt_streams *s);
struct wt_streams_stats {
	size_t clients;
	size_t queued_events; /* waiting in the clients' queues */
	size_t backlog_bytes; /* written, not yet taken by the clients' sockets */
	uint64_t lost_total;  /* events dropped for clients that did not keep up */
};
/* The registry's figures now (s may be NULL: all zero). */
void wt_streams_stats(const struct wt_streams *s, struct wt_streams_stats *out);
/* Ends every stream cleanly and frees. */
void wt_streams_free(struct wt_streams *s);

#endif
