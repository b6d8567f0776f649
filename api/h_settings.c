/* PATCH /api/v1/settings and POST /api/v1/notifications/test-mail.
 *
 * A settings change goes through the same table, parser and validator as
 * the configuration file and SIGHUP (server/config.h), in three steps:
 *  1. loop ('before'): every key is checked against a copy of the running
 *     configuration: unknown, needing a restart, or a bad value is a 400
 *     naming the key, and then nothing at all is changed;
 *  2. worker: each change is written to the audit log (who, key, old -> new,
 *     secrets masked), then to the configuration file (temp file + fsync +
 *     rename; every other line, comments included, kept as it was), so a
 *     change made in the console survives a restart and the next SIGHUP;
 *  3. loop ('after'): the changes are applied to the running configuration
 *     with wt_config_apply and put into effect by the daemon's hook, as a
 *     SIGHUP would.
 * Without a configuration file (a daemon running on defaults) changes last
 * until restart, and the reply says so ("persisted": false). */
#include "request.h"
#include "rules/audit.h"
#include "rules/rulesdb.h"
#include "server/config.h"
#include "server/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A JSON value in the file's syntax, for wt_config_set. */
static int value_text(json_t *v, char *buf, size_t len)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, len, "%s", json_string_value(v));
		return 0;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return 0;
	case JSON_REAL:
		snprintf(buf, len, "%.17g", json_real_value(v));
		return 0;
	case JSON_TRUE:
		snprintf(buf, len, "true");
		return 0;
	case JSON_FALSE:
		snprintf(buf, len, "false");
		return 0;
	default:
		return -EINVAL;
	}
}

/* Sets every key of body on c. 0, or -EINVAL with the reason naming the key. */
static int set_all(struct wt_config *c, json_t *body, char *why, size_t whylen)
{
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		const struct wt_setting *s = wt_config_find(key);
		char text[1100], err[300];
		if (!s) {
			snprintf(why, whylen, "field \"%.64s\": no such setting", key);
			return -EINVAL;
		}
		if (!(s->flags & WT_SF_RELOAD)) {
			snprintf(why, whylen,
				 "field \"%s\": takes effect only at a restart; change it in the "
				 "configuration file",
				 key);
			return -EINVAL;
		}
		if (value_text(v, text, sizeof(text)) < 0 ||
		    wt_config_set(c, key, text, err, sizeof(err)) < 0) {
			/* a parser's reason may quote the value: not for a secret */
			snprintf(why, whylen, "field \"%s\": %s", key,
				 (s->flags & WT_SF_SECRET) ? "not a valid value" : err);
			return -EINVAL;
		}
	}
	struct wt_config_diags d = {0};
	int rc = wt_config_finish(c, &d);
	if (rc < 0) {
		char line[600];
		if (d.n) {
			wt_config_diag_format(&d.v[0], line, sizeof(line));
			snprintf(why, whylen, "field \"%s\": %s", d.v[0].key ? d.v[0].key : "?",
				 d.v[0].msg);
		} else {
			snprintf(why, whylen, "the settings do not fit together");
		}
		(void)line;
	}
	wt_config_diags_free(&d);
	return rc < 0 ? -EINVAL : 0;
}

/* Loop: the plan, kept in r->reply until the worker replaces it:
 * {"error": why} or {"changes": [{name, line, old, new}]} where line is the
 * file line (unmasked, for the worker only) and old/new are masked. */
void wt_h_settings_patch_before(struct wt_api_req *r)
{
	const struct wt_config *cur = r->layers.config;
	if (!cur || !r->body)
		return;
	struct wt_config next;
	char why[512] = "";
	json_t *plan = json_object();
	if (wt_config_copy(&next, cur) < 0) {
		json_object_set_new(plan, "error", json_string("out of memory"));
	} else if (set_all(&next, r->body, why, sizeof(why)) < 0) {
		json_object_set_new(plan, "error", json_string(why));
	} else {
		json_t *ch = json_array();
		const char *key;
		json_t *v;
		json_object_foreach(r->body, key, v)
		{
			const struct wt_setting *s = wt_config_find(key);
			char o[1100], n[1100], line[1300];
			wt_config_format(cur, s, false, o, sizeof(o));
			wt_config_format(&next, s, false, n, sizeof(n));
			if (strcmp(o, n) == 0)
				continue; /* unchanged: nothing to apply, audit or write */
			snprintf(line, sizeof(line), "%s = %s", s->name, n);
			wt_config_format(cur, s, true, o, sizeof(o));
			wt_config_format(&next, s, true, n, sizeof(n));
			json_array_append_new(ch,
					      json_pack("{s:s,s:s,s:s,s:s,s:b}", "name", s->name,
							"line", line, "old", o, "new", n, "secret",
							(s->flags & WT_SF_SECRET) != 0));
			explicit_bzero(line, sizeof(line));
		}
		json_object_set_new(plan, "changes", ch);
	}
	wt_config_free(&next);
	json_decref(r->reply);
	r->reply = plan;
}

/* The key of a `key = value` line, or "" for comments and blank lines. */
static void line_key(const char *line, char *key, size_t keylen)
{
	const char *p = line + strspn(line, " \t");
	size_t k = strcspn(p, " \t=#\r\n");
	if (*p == '#' || k >= keylen)
		k = 0;
	memcpy(key, p, k);
	key[k] = '\0';
}

/* The trailing "# comment" of a `key = value` line (after white space,
 * outside quotes), or "" : an operator's note on a setting is kept when
 * its value changes. */
static const char *line_comment(const char *line)
{
	char q = 0;
	for (const char *p = strchr(line, '='); p && *p; p++) {
		if (q) {
			if (*p == '\\' && q == '"' && p[1])
				p++;
			else if (*p == q)
				q = 0;
		} else if (*p == '"' || *p == '\'') {
			q = *p;
		} else if (*p == '#' && (p[-1] == ' ' || p[-1] == '\t')) {
			return p;
		}
	}
	return "";
}

/* Rewrites path with the changed lines: a key's existing line(s) replaced
 * in place, new keys appended; temp file in the same directory, its mode
 * kept, fsync, rename, fsync of the directory. 0 or a negative errno. */
static int persist(const char *path, json_t *changes, char *why, size_t whylen)
{
	FILE *in = fopen(path, "r");
	if (!in && errno != ENOENT) {
		int e = errno;
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(e));
		return -e;
	}
	struct stat st = {.st_mode = 0640};
	if (in && fstat(fileno(in), &st) < 0)
		st.st_mode = 0640;
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = errno;
		snprintf(why, whylen, "cannot write next to %s: %s", path, strerror(e));
		if (in)
			fclose(in);
		return -e;
	}
	(void)fchmod(fd, st.st_mode & 07777);
	FILE *out = fdopen(fd, "w");
	if (!out) {
		close(fd);
		unlink(tmp);
		if (in)
			fclose(in);
		return -ENOMEM;
	}
	size_t n = json_array_size(changes);
	bool *done = calloc(n ? n : 1, sizeof(bool));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	bool last_nl = true;
	while (in && done && (len = getline(&line, &cap, in)) > 0) {
		char key[128];
		line_key(line, key, sizeof(key));
		size_t i;
		json_t *c;
		bool replaced = false;
		json_array_foreach(changes, i, c)
		{
			if (key[0] &&
			    strcmp(key, json_string_value(json_object_get(c, "name"))) == 0) {
				const char *cm = line_comment(line);
				fprintf(out, "%s%s%.*s\n",
					json_string_value(json_object_get(c, "line")),
					cm[0] ? "  " : "", (int)strcspn(cm, "\r\n"), cm);
				done[i] = replaced = true;
				break;
			}
		}
		if (!replaced)
			fputs(line, out);
		last_nl = line[len - 1] == '\n';
	}
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	if (in)
		fclose(in);
	bool header = false;
	size_t i;
	json_t *c;
	json_array_foreach(changes, i, c)
	{
		if (done && done[i])
			continue;
		if (!header) {
			fprintf(out, "%s# set through the API (PATCH /api/v1/settings)\n",
				last_nl ? "" : "\n");
			header = true;
		}
		fprintf(out, "%s\n", json_string_value(json_object_get(c, "line")));
	}
	free(done);
	int rc = 0;
	if (fflush(out) != 0 || fsync(fileno(out)) != 0)
		rc = -errno;
	if (fclose(out) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(why, whylen, "cannot write %s: %s", path, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* One statement without rows on the worker's connection; true when it ran. */
static bool exec_ok(PGconn *db, const char *sql)
{
	PGresult *res = PQexec(db, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	return ok;
}

/* Worker: audit, then persist, in one transaction: the audit rows commit
 * only when the file was written, so the log never records a change that
 * was refused. The running configuration is not touched here (it lives on
 * the loop). */
void wt_h_settings_patch(struct wt_api_req *r)
{
	const struct wt_api_layers *l = &r->layers;
	if (wt_api_need(r, l->config, "configuration"))
		return;
	json_t *plan = r->reply;
	const char *err = json_string_value(json_object_get(plan, "error"));
	if (!plan || err) {
		wt_api_fail(r, 400, "INVALID_SETTING", "%s", err ? err : "no settings given");
		return;
	}
	json_t *changes = json_object_get(plan, "changes");
	size_t i;
	json_t *c;
	if (json_array_size(changes) && !exec_ok(r->db, "BEGIN")) {
		wt_api_fail_db(r, "recording the change in the audit log");
		return;
	}
	json_array_foreach(changes, i, c)
	{
		char msg[600];
		const char *name = json_string_value(json_object_get(c, "name"));
		snprintf(msg, sizeof(msg), "setting %s changed: %s -> %s", name,
			 json_string_value(json_object_get(c, "old")),
			 json_string_value(json_object_get(c, "new")));
		json_t *det = json_pack("{s:s,s:O,s:O}", "setting", name, "old",
					json_object_get(c, "old"), "new",
					json_object_get(c, "new"));
		char *dj = json_dumps(det, JSON_COMPACT);
		json_decref(det);
		struct wt_audit_event ev = {
			.severity = WT_AUDIT_INFO,
			.state = WT_AUDIT_DONE,
			.category = WT_AUDIT_CONFIG,
			.actor = r->who.username,
			.object_kind = "setting",
			.message = msg,
			.details = dj,
		};
		int64_t aid = 0;
		int rc = wt_rulesdb_audit_insert(r->db, &ev, &aid);
		free(dj);
		if (rc < 0) {
			/* Never change what could not be recorded. */
			(void)exec_ok(r->db, "ROLLBACK");
			wt_api_fail_db(r, "recording the change in the audit log");
			return;
		}
	}
	bool persisted = false;
	if (l->config_path && json_array_size(changes)) {
		/* two changes at once must not both rewrite the file from the same
		 * original (the later rename would drop the earlier change) */
		static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
		char why[600];
		pthread_mutex_lock(&file_lock);
		int prc = persist(l->config_path, changes, why, sizeof(why));
		pthread_mutex_unlock(&file_lock);
		if (prc < 0) {
			(void)exec_ok(r->db, "ROLLBACK");
			wt_api_fail(r, 500, "SETTINGS_NOT_SAVED", "%s; nothing was changed", why);
			return;
		}
		persisted = true;
	} else if (l->config_path) {
		persisted = true; /* nothing to write: the file already says it */
	}
	if (json_array_size(changes) && !exec_ok(r->db, "COMMIT")) {
		/* the file already holds the change: say so rather than hide it */
		wt_error("api: settings written to %s but their audit rows did not commit",
			 l->config_path ? l->config_path : "(no file)");
		wt_api_fail_db(r, "recording the change in the audit log");
		return;
	}
	json_object_set_new(plan, "persisted", json_boolean(persisted));
}

struct applied {
	json_t *list;
};

static void on_applied(void *ctx, const struct wt_setting *s, bool applied, const char *old_value,
		       const char *new_value)
{
	struct applied *a = ctx;
	if (!applied)
		return; /* set_all let only reloadable settings through */
	wt_notice("api: setting %s: %s -> %s", s->name, old_value, new_value);
	json_array_append_new(a->list, json_pack("{s:s,s:s,s:s}", "name", s->name, "old", old_value,
						 "new", new_value));
}

/* Loop: apply to the running configuration and put it into effect. */
void wt_h_settings_patch_after(struct wt_api_req *r)
{
	const struct wt_api_layers *l = &r->layers;
	json_t *plan = r->reply;
	bool persisted = json_is_true(json_object_get(plan, "persisted"));
	struct applied a = {.list = json_array()};
	struct wt_config next;
	char why[512] = "";
	int rc = wt_config_copy(&next, l->config);
	if (rc == 0)
		rc = set_all(&next, r->body, why, sizeof(why));
	if (rc == 0)
		rc = wt_config_apply(l->config, &next, on_applied, &a);
	wt_config_free(&next);
	if (rc < 0) {
		json_decref(a.list);
		/* Another change came between the check and now. */
		wt_api_fail(r, 409, "SETTINGS_CONFLICT", "%s",
			    why[0] ? why : "the settings could not be applied");
		return;
	}
	if (json_array_size(a.list) && l->settings_changed)
		l->settings_changed(l->settings_changed_ctx);
	r->reply = NULL;
	json_decref(plan);
	wt_api_ok(r, 200,
		  json_pack("{s:o,s:b,s:s?}", "changed", a.list, "persisted", persisted, "file",
			    persisted ? l->config_path : NULL));
}

/* ---- POST /api/v1/notifications/test-mail ---- */

/* One at a time: each holds a worker for as long as the SMTP server takes. */
static atomic_int mail_busy;

void wt_h_test_mail(struct wt_api_req *r)
{
	const char *to = json_string_value(json_object_get(r->body, "to"));
	const char *at = strchr(to, '@');
	if (!at || at == to || !at[1] || strpbrk(to, " \t\r\n<>,;\"")) {
		wt_api_fail(r, 400, "INVALID_REQUEST", "field \"to\": expected one e-mail address");
		return;
	}
	if (wt_api_need(r, r->layers.test_mail ? r->layers.notify : NULL, "notifications"))
		return;
	int expect = 0;
	if (!atomic_compare_exchange_strong(&mail_busy, &expect, 1)) {
		r->retry_after = 5;
		wt_api_fail(r, 429, "TEST_MAIL_BUSY", "a test e-mail is being sent; retry shortly");
		return;
	}
	char err[512] = "";
	int rc = r->layers.test_mail(r->layers.notify, to, err, sizeof(err));
	atomic_store(&mail_busy, 0);
	wt_api_audit(r, "test_mail", rc == 0 ? "info" : "warning", r->who.username,
		     "test e-mail to %.128s: %s", to, rc == 0 ? "delivered" : err);
	wt_api_ok(r, 200,
		  json_pack("{s:s,s:b,s:s?}", "to", to, "delivered", rc == 0, "error",
			    rc == 0 ? NULL : err));
}
