#include "hooks.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void keep_output(struct wt_hook_result *r, size_t *len, const char *p, size_t n)
{
	size_t room = WT_HOOK_OUTPUT_MAX - *len;
	if (n > room) {
		n = room;
		r->truncated = true;
	}
	memcpy(r->output + *len, p, n);
	*len += n;
	r->output[*len] = '\0';
}

int wt_hook_run(const char *const *argv, const char *const *env, int timeout_s,
		struct wt_hook_result *r)
{
	memset(r, 0, sizeof(*r));
	if (!argv || !argv[0] || argv[0][0] != '/')
		return -EINVAL;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -errno;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	posix_spawnattr_init(&at);
	/* own process group, so the timeout kills the command's children too;
	 * default signal dispositions and an empty mask, whatever the daemon's */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	long long t0 = mono_ms();
	int rc = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, (char *const *)env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		return -rc;
	}
	long long deadline = t0 + (long long)(timeout_s > 0 ? timeout_s : 30) * 1000;
	size_t len = 0;
	bool eof = false, killed = false;
	int status = 0;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid && eof)
			break;
		if (w == pid) {
			/* exited: collect what is left in the pipe, but a grandchild
			 * holding it open must not keep us here */
			struct pollfd p = {.fd = pfd[0], .events = POLLIN};
			while (poll(&p, 1, 50) == 1) {
				char b[1024];
				ssize_t n = read(pfd[0], b, sizeof(b));
				if (n <= 0)
					break;
				keep_output(r, &len, b, (size_t)n);
			}
			break;
		}
		long long now = mono_ms();
		if (now >= deadline && !killed) {
			r->timed_out = true;
			kill(-pid, SIGTERM);
			deadline = now + 2000;
			killed = true;
		} else if (now >= deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		if (eof) {
			usleep(10000);
			continue;
		}
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		if (poll(&p, 1, 50) == 1) {
			char b[1024];
			ssize_t n = read(pfd[0], b, sizeof(b));
			if (n > 0)
				keep_output(r, &len, b, (size_t)n);
			else if (n == 0 || errno != EINTR)
				eof = true;
		}
	}
	close(pfd[0]);
	if (killed)
		kill(-pid, SIGKILL); /* stragglers of the group */
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
	r->elapsed_ms = mono_ms() - t0;
	return 0;
}

struct sink {
	struct wt_hook_result *r;
	size_t len;
};

static size_t body_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	keep_output(s->r, &s->len, p, size * nmemb);
	return size * nmemb;
}

int wt_hook_post(const char *url, const char *json, int timeout_s, struct wt_hook_result *r)
{
	memset(r, 0, sizeof(*r));
	CURL *h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	struct sink s = {r, 0};
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	long long t0 = mono_ms();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(timeout_s > 0 ? timeout_s : 30));
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode rc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	r->elapsed_ms = mono_ms() - t0;
	r->status = (int)code;
	if (rc != CURLE_OK) {
		snprintf(r->output, sizeof(r->output), "%s",
			 cerr[0] ? cerr : curl_easy_strerror(rc));
		r->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
		return -EIO;
	}
	return code >= 200 && code < 300 ? 0 : -EPROTO;
}
