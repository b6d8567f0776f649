/* POST /api/v1/probe: what `wattrack probe URL` would say about a device,
 * before an operator adds it.
 *
 * Why a child process: the probe reads a whole device with its own
 * event_base and blocking libmodbus, loads the profile set and, for
 * Modbus, sets a process-wide profile directory; none of that belongs on
 * the daemon's loop or in its worker threads. The loop starts
 * `wattrack probe -` (the daemon's own executable, layers.probe_exe), hands
 * it the URL on stdin (argv is visible to every user through ps), reads its
 * JSON from a pipe with libevent, and kills it at a deadline. At most
 * MAX_PROBES run at once; more get 429. Nothing here blocks the loop. */
#include "request.h"
#include "server/config.h"
#include "server/log.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum {
	MAX_PROBES = 4,    /* children at once, per process */
	URL_MAX = 2048,    /* as pollers/probe.h WT_PROBE_URL_MAX */
	OUT_MAX = 4 << 20, /* a probe's JSON; a big PDU is ~200 kB */
	ERR_MAX = 1024,    /* stderr kept for the message */
	DEFAULT_TIMEOUT_MS = 1000,
	DEADLINE_MIN_MS = 15000, /* whole probe by default, whatever the per-request timeout */
	DEADLINE_MAX_S = 300,
};

static int inflight; /* loop thread only */
static struct probe_job *running[MAX_PROBES]; /* loop thread only: for wt_h_probe_stop_all */

struct probe_job {
	struct wt_api_req *r;
	pid_t pid;
	int fd_out, fd_err;
	struct event *ev_out, *ev_err, *ev_timer;
	struct evbuffer *out;
	char err[ERR_MAX];
	size_t err_len;
	bool killed, reaped, stopping;
	int status;
	char *url; /* kept only to redact what the child says; wiped */
};

/* The user info of a URL ("community", "user:auth:priv"), or an empty span. */
static void userinfo(const char *url, const char **start, size_t *len)
{
	*start = url;
	*len = 0;
	const char *p = strstr(url, "://");
	if (!p)
		return;
	p += 3;
	size_t host_end = strcspn(p, "/?#");
	const char *at = NULL;
	for (const char *q = p; q < p + host_end; q++)
		if (*q == '@')
			at = q;
	if (at) {
		*start = p;
		*len = (size_t)(at - p);
	}
}

/* Replaces every occurrence of needle (n bytes) in s with "***". */
static void mask_in(char *s, size_t cap, const char *needle, size_t n)
{
	if (n < 3) /* "a" would mask half the text and hides little */
		return;
	char *hit;
	while ((hit = memmem(s, strlen(s), needle, n)) != NULL) {
		size_t tail = strlen(hit + n);
		if ((size_t)(hit - s) + 3 + tail + 1 > cap)
			return;
		memmove(hit + 3, hit + n, tail + 1);
		memcpy(hit, "***", 3);
	}
}

/* Whatever a child wrote never carries the URL's credentials: the probe
 * itself never prints them, this is the second lock on the door. */
static void redact(char *s, size_t cap, const char *url)
{
	const char *ui;
	size_t n;
	userinfo(url, &ui, &n);
	if (!n)
		return;
	mask_in(s, cap, ui, n);
	for (size_t i = 0; i < n;) {
		size_t k = strcspn(ui + i, ":");
		if (k > n - i)
			k = n - i;
		mask_in(s, cap, ui + i, k);
		i += k + 1;
	}
}

/* The URL as it may appear in a log line: scheme, host and port. */
static void safe_url(const char *url, char *out, size_t outlen)
{
	const char *ui;
	size_t n;
	userinfo(url, &ui, &n);
	const char *host = n ? ui + n + 1 : url;
	size_t pre = n ? (size_t)(ui - url) : 0;
	snprintf(out, outlen, "%.*s%.*s", (int)pre, url, (int)strcspn(host, "?#"), host);
}

static bool scheme_ok(const char *url)
{
	static const char *const schemes[] = {"snmp://",          "snmpv1://", "snmpv2c://",
					      "snmpv3://",        "modbus://", "redfish://",
					      "redfish+https://", NULL};
	for (const char *const *s = schemes; *s; s++)
		if (strncmp(url, *s, strlen(*s)) == 0)
			return true;
	return false;
}

/* Worker: who asks was checked; the URL is checked here so that a bad one
 * is a 400 naming the field before any process starts. */
void wt_h_probe(struct wt_api_req *r)
{
	const char *url = json_string_value(json_object_get(r->body, "url"));
	json_t *t = json_object_get(r->body, "timeout_ms");
	if (!scheme_ok(url)) {
		wt_api_fail(r, 400, "INVALID_REQUEST",
			    "field \"url\": expected snmp://, snmpv1://, snmpv3://, modbus://, "
			    "redfish:// or redfish+https://");
		return;
	}
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			wt_api_fail(r, 400, "INVALID_REQUEST",
				    "field \"url\": contains a control character");
			return;
		}
	if (t && (json_integer_value(t) < 100 || json_integer_value(t) > 10000)) {
		wt_api_fail(r, 400, "INVALID_REQUEST",
			    "field \"timeout_ms\": must be 100..10000 (ms per request)");
		return;
	}
	json_t *dl = json_object_get(r->body, "deadline_s");
	if (dl && (json_integer_value(dl) < 1 || json_integer_value(dl) > DEADLINE_MAX_S)) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"deadline_s\": must be 1..%d",
			    DEADLINE_MAX_S);
		return;
	}
	wt_api_ok(r, 200, json_object());
}

static void job_free(struct probe_job *j)
{
	if (j->ev_out)
		event_free(j->ev_out);
	if (j->ev_err)
		event_free(j->ev_err);
	if (j->ev_timer)
		event_free(j->ev_timer);
	if (j->fd_out >= 0)
		close(j->fd_out);
	if (j->fd_err >= 0)
		close(j->fd_err);
	if (j->out)
		evbuffer_free(j->out);
	if (j->url) {
		explicit_bzero(j->url, strlen(j->url));
		free(j->url);
	}
	free(j);
}

/* The child's answer becomes the reply: the probe JSON with its exit class
 * for exits 0-3, 400 for a URL the probe refused, 504 past the deadline. */
static void finish(struct probe_job *j)
{
	struct wt_api_req *r = j->r;
	char su[300];
	safe_url(j->url, su, sizeof(su));
	inflight--;
	for (size_t i = 0; i < MAX_PROBES; i++)
		if (running[i] == j)
			running[i] = NULL;
	int code = WIFEXITED(j->status) ? WEXITSTATUS(j->status) : -1;
	redact(j->err, sizeof(j->err), j->url);
	j->err[strcspn(j->err, "\n")] = '\0';
	const char *msg = strncmp(j->err, "wattrack probe: ", 16) == 0 ? j->err + 16 : j->err;
	if (j->stopping) {
		wt_api_fail(r, 503, "SHUTTING_DOWN", "the server stopped during the probe of %s",
			    su);
	} else if (j->killed) {
		wt_api_fail(r, 504, "PROBE_TIMEOUT", "the probe of %s did not finish in time", su);
	} else if (code == 64) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"url\": %s",
			    msg[0] ? msg : "refused");
	} else if (code < 0 || code > 3) {
		wt_warn("api: probe of %s ended with status %d: %s", su, j->status, msg);
		wt_api_fail(r, 502, "PROBE_FAILED", "the probe of %s failed: %s", su,
			    msg[0] ? msg : "no output");
	} else {
		size_t len = evbuffer_get_length(j->out);
		char *text = malloc(len + 64);
		json_t *res = NULL;
		if (text) {
			evbuffer_remove(j->out, text, len);
			text[len] = '\0';
			redact(text, len + 64, j->url);
			res = json_loads(text, 0, NULL);
			free(text);
		}
		if (!json_is_object(res)) {
			json_decref(res);
			wt_api_fail(r, 502, "PROBE_FAILED", "the probe of %s printed no JSON: %s",
				    su, msg[0] ? msg : "no output");
		} else {
			json_object_set_new(res, "exit_code", json_integer(code));
			wt_info("api: %s probed %s: %s", r->who.username, su,
				json_string_value(json_object_get(res, "status")));
			json_decref(r->reply);
			r->reply = NULL;
			wt_api_ok(r, 200, res);
		}
	}
	job_free(j);
	wt_api_finish(r);
}

static void try_reap(struct probe_job *j)
{
	if (j->fd_out >= 0 || j->fd_err >= 0)
		return;
	pid_t w = waitpid(j->pid, &j->status, WNOHANG);
	if (w == j->pid || (w < 0 && errno == ECHILD)) {
		j->reaped = true;
		finish(j);
		return;
	}
	/* pipes closed a moment before the exit: look again shortly */
	struct timeval tv = {0, 20000};
	evtimer_add(j->ev_timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct probe_job *j = arg;
	(void)fd, (void)what;
	if (j->fd_out < 0 && j->fd_err < 0) {
		try_reap(j);
		return;
	}
	/* the deadline: the child's pipes close when it dies */
	j->killed = true;
	kill(j->pid, SIGKILL);
	struct timeval tv = {5, 0};
	evtimer_add(j->ev_timer, &tv);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct probe_job *j = arg;
	(void)what;
	bool is_out = fd == j->fd_out;
	char buf[16384];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		if (is_out) {
			if (evbuffer_get_length(j->out) + (size_t)n <= OUT_MAX)
				evbuffer_add(j->out, buf, (size_t)n);
		} else {
			size_t room = sizeof(j->err) - 1 - j->err_len;
			size_t k = (size_t)n < room ? (size_t)n : room;
			memcpy(j->err + j->err_len, buf, k);
			j->err_len += k;
			j->err[j->err_len] = '\0';
		}
		return;
	}
	/* EOF or an error: this pipe is done */
	if (is_out) {
		event_free(j->ev_out);
		j->ev_out = NULL;
		close(j->fd_out);
		j->fd_out = -1;
	} else {
		event_free(j->ev_err);
		j->ev_err = NULL;
		close(j->fd_err);
		j->fd_err = -1;
	}
	if (j->fd_out < 0 && j->fd_err < 0) {
		evtimer_del(j->ev_timer);
		try_reap(j);
	}
}

/* Starts the child: stdin a pipe holding the URL, stdout and stderr pipes
 * read on the loop. 0 or a negative errno. */
static int spawn_probe(struct probe_job *j, const char *exe, const char *profiles, int timeout_ms)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC | O_NONBLOCK) ||
	    pipe2(err, O_CLOEXEC | O_NONBLOCK)) {
		int e = errno;
		for (int i = 0; i < 2; i++) {
			if (in[i] >= 0)
				close(in[i]);
			if (out[i] >= 0)
				close(out[i]);
			if (err[i] >= 0)
				close(err[i]);
		}
		return -e;
	}
	/* The child's ends must be blocking: O_NONBLOCK above is on both ends. */
	fcntl(out[1], F_SETFL, 0);
	fcntl(err[1], F_SETFL, 0);
	char tbuf[16];
	snprintf(tbuf, sizeof(tbuf), "%d", timeout_ms);
	char *argv[12];
	int a = 0;
	argv[a++] = (char *)"wattrack";
	argv[a++] = (char *)"probe";
	argv[a++] = (char *)"-t";
	argv[a++] = tbuf;
	argv[a++] = (char *)"-r";
	argv[a++] = (char *)"1";
	if (profiles && profiles[0]) {
		argv[a++] = (char *)"-p";
		argv[a++] = (char *)profiles;
	}
	argv[a++] = (char *)"-";
	argv[a] = NULL;

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawnattr_init(&at);
	/* default dispositions and an empty mask, whatever the daemon's */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int rc = posix_spawn(&j->pid, exe, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (rc == 0) {
		/* URL_MAX + 1 bytes fit in any pipe buffer: this never blocks */
		size_t len = strlen(j->url);
		if (write(in[1], j->url, len) != (ssize_t)len || write(in[1], "\n", 1) != 1)
			wt_warn("api: probe: cannot hand the URL to the child: %s",
				strerror(errno));
	}
	close(in[1]);
	if (rc != 0) {
		close(out[0]);
		close(err[0]);
		return -rc;
	}
	j->fd_out = out[0];
	j->fd_err = err[0];
	return 0;
}

/* Loop: start the child and answer when it ends. */
void wt_h_probe_after(struct wt_api_req *r)
{
	const struct wt_api_layers *l = &r->layers;
	if (wt_api_need(r, l->probe_exe, "probe"))
		return;
	if (inflight >= MAX_PROBES) {
		r->retry_after = 2;
		wt_api_fail(r, 429, "TOO_MANY_PROBES",
			    "%d probes are running; retry when one has finished", MAX_PROBES);
		return;
	}
	json_t *t = json_object_get(r->body, "timeout_ms");
	int timeout_ms = t ? (int)json_integer_value(t) : DEFAULT_TIMEOUT_MS;
	const char *profiles = l->config ? l->config->poll_profiles_dir : NULL;
	struct probe_job *j = calloc(1, sizeof(*j));
	if (!j) {
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	j->r = r;
	j->fd_out = j->fd_err = -1;
	j->url = strndup(json_string_value(json_object_get(r->body, "url")), URL_MAX);
	j->out = evbuffer_new();
	/* The loop's base, through the request's connection; a client that
	 * already left gets no probe. */
	struct evhttp_connection *con = r->http ? evhttp_request_get_connection(r->http) : NULL;
	struct event_base *base = con ? evhttp_connection_get_base(con) : NULL;
	int rc = !base              ? -ECONNRESET
		 : j->url && j->out ? spawn_probe(j, l->probe_exe, profiles, timeout_ms)
				    : -ENOMEM;
	if (rc < 0) {
		job_free(j);
		wt_api_fail(r, 503, "PROBE_UNAVAILABLE", "cannot start the probe: %s",
			    strerror(-rc));
		return;
	}
	/* default: room for a big PDU's walk (many requests, each up to the
	 * timeout); a console may ask for less */
	json_t *dl = json_object_get(r->body, "deadline_s");
	int deadline_ms = dl                                  ? (int)json_integer_value(dl) * 1000
			  : 20 * timeout_ms > DEADLINE_MIN_MS ? 20 * timeout_ms
							      : DEADLINE_MIN_MS;
	struct timeval tv = {deadline_ms / 1000, (deadline_ms % 1000) * 1000};
	j->ev_out = event_new(base, j->fd_out, EV_READ | EV_PERSIST, on_readable, j);
	j->ev_err = event_new(base, j->fd_err, EV_READ | EV_PERSIST, on_readable, j);
	j->ev_timer = evtimer_new(base, on_timer, j);
	if (!j->ev_out || !j->ev_err || !j->ev_timer || event_add(j->ev_out, NULL) ||
	    event_add(j->ev_err, NULL) || evtimer_add(j->ev_timer, &tv)) {
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0); /* killed: returns at once */
		job_free(j);
		wt_api_fail(r, 503, "OUT_OF_MEMORY", "the server is out of memory");
		return;
	}
	inflight++;
	for (size_t i = 0; i < MAX_PROBES; i++)
		if (!running[i]) {
			running[i] = j;
			break;
		}
	r->deferred = true;
}

void wt_h_probe_stop_all(void)
{
	for (size_t i = 0; i < MAX_PROBES; i++) {
		struct probe_job *j = running[i];
		if (!j)
			continue;
		j->stopping = j->killed = true;
		kill(j->pid, SIGKILL);
		/* SIGKILLed: waitpid returns at once */
		if (waitpid(j->pid, &j->status, 0) == j->pid)
			j->reaped = true;
		finish(j); /* answers 503, frees the job and ends the request */
	}
}
