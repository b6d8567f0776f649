#include "pgcluster.h"

#include "fsutil.h"
#include "log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG_ROOT "/usr/lib/postgresql"
#define PG_DBNAME "wattrack"
/* How long pg_ctl waits for start-up and shutdown, in seconds. Crash
 * recovery after a power cut can take a while on a big cluster. */
#define PG_CTL_TIMEOUT "120"
#define OUTPUT_MAX 4096
#define START_ATTEMPTS 3
/* A quoted path: every byte may be escaped, plus the quotes. */
#define QPATH_MAX (2 * PATH_MAX + 3)

struct wt_pgcluster {
	char bindir[PATH_MAX];
	char pgdir[PATH_MAX];   /* <state_dir>/pg: socket, log, password file */
	char datadir[PATH_MAX]; /* <state_dir>/pg/data */
	char logfile[PATH_MAX];
	char conninfo[QPATH_MAX + 64];
	int port;
	bool as_postgres; /* euid 0: run the binaries as the postgres user */
	uid_t uid;
	gid_t gid;
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* Joins the non-empty lines of a tool's output with "; " so the reason
 * fits in one log line; keeps the end, where the reason usually is. */
static void one_line(const char *in, char *out, size_t len)
{
	size_t o = 0, n = strlen(in);
	bool sep = false;
	const char *s = in;

	if (!len)
		return;
	if (n > len)
		s = in + n - len;
	for (; *s && o + 1 < len; s++) {
		if (*s == '\n' || *s == '\r') {
			sep = o > 0;
			continue;
		}
		if (sep) {
			if (o + 3 >= len)
				break;
			out[o++] = ';';
			out[o++] = ' ';
			sep = false;
		}
		out[o++] = (isprint((unsigned char)*s) || (unsigned char)*s >= 0x80) ? *s : ' ';
	}
	out[o] = '\0';
}

/* out = a + b; -ENAMETOOLONG when it does not fit. */
static int join(char *out, size_t len, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb >= len) {
		out[0] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(out, a, la);
	memcpy(out + la, b, lb + 1);
	return 0;
}

/* ---- running the PostgreSQL tools ---- */

/* In the child, before exec: become the cluster's owner and leave the
 * daemon's session, so a Ctrl-C on the daemon's terminal does not stop
 * the postmaster before the daemon has flushed its data into it. */
static void child_setup(const struct wt_pgcluster *pc, int out_fd)
{
	sigset_t none;
	int devnull = open("/dev/null", O_RDONLY);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(out_fd, 1);
	dup2(out_fd, 2);
	/* The postmaster must not inherit the daemon's sockets and files. */
	if (close_range(3, ~0U, 0) < 0)
		for (int fd = 3; fd < 4096; fd++)
			close(fd);
	if (pc->as_postgres &&
	    (setgroups(0, NULL) < 0 || setgid(pc->gid) < 0 || setuid(pc->uid) < 0)) {
		dprintf(2, "cannot switch to the postgres user: %s\n", strerror(errno));
		_exit(126);
	}
	if (chdir(pc->pgdir) < 0 && chdir("/") < 0)
		_exit(126);
}

/* Runs argv (argv[0] a full path) as the cluster's owner with a clean
 * environment. Returns the exit status (128+N for signal N) or a negative
 * errno; out gets the last bytes of its stdout and stderr. */
static int run_tool(const struct wt_pgcluster *pc, char *const argv[], char *out, size_t outlen)
{
	static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
	int pfd[2];
	size_t got = 0;
	pid_t pid;
	int status;

	out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -e;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_setup(pc, pfd[1]);
		execve(argv[0], argv, envp);
		dprintf(1, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char buf[1024];
		ssize_t n = read(pfd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* Keep the tail: the last lines say what went wrong. */
		size_t nn = (size_t)n;
		const char *src = buf;
		if (nn > outlen - 1) {
			src += nn - (outlen - 1);
			nn = outlen - 1;
		}
		if (got + nn > outlen - 1) {
			size_t drop = got + nn - (outlen - 1);
			memmove(out, out + drop, got - drop);
			got -= drop;
		}
		memcpy(out + got, src, nn);
		got += nn;
	}
	out[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* Checks, as the cluster's owner, that it can use dir. */
static bool owner_can_use(const struct wt_pgcluster *pc, const char *dir)
{
	pid_t pid;
	int status;

	if (!pc->as_postgres)
		return access(dir, R_OK | W_OK | X_OK) == 0;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(pc->gid) < 0 || setuid(pc->uid) < 0)
			_exit(2);
		_exit(access(dir, R_OK | W_OK | X_OK) == 0 ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- finding the binaries ---- */

static bool is_executable(const char *dir, const char *name)
{
	char p[PATH_MAX];
	int n = snprintf(p, sizeof(p), "%s/%s", dir, name);
	return n > 0 && (size_t)n < sizeof(p) && access(p, X_OK) == 0;
}

static bool has_tools(const char *bindir)
{
	return is_executable(bindir, "initdb") && is_executable(bindir, "pg_ctl") &&
	       is_executable(bindir, "postgres");
}

/* The bin directory of major version `want` (0: the newest installed). */
static int find_bindir(int want, char *out, size_t len, char *err, size_t errlen)
{
	const char *env = getenv("WT_PG_BINDIR");
	DIR *d;
	struct dirent *e;
	long best = -1;

	if (env && *env) {
		if (!has_tools(env))
			return fail(err, errlen, -ENOENT,
				    "WT_PG_BINDIR=%s holds no initdb, pg_ctl and postgres", env);
		snprintf(out, len, "%s", env);
		return 0;
	}
	d = opendir(PG_ROOT);
	if (!d)
		return fail(err, errlen, -ENOENT,
			    "no PostgreSQL server found (%s: %s); install the postgresql package "
			    "or set database.url",
			    PG_ROOT, strerror(errno));
	while ((e = readdir(d))) {
		char *end;
		char bin[PATH_MAX];
		long v = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || v <= 0)
			continue;
		if (want && v != want)
			continue;
		snprintf(bin, sizeof(bin), "%s/%ld/bin", PG_ROOT, v);
		if (has_tools(bin) && v > best)
			best = v;
	}
	closedir(d);
	if (best < 0) {
		if (want)
			return fail(err, errlen, -ENOENT,
				    "the private cluster was created by PostgreSQL %d, which is "
				    "not installed (%s/%d/bin); install it or upgrade the cluster "
				    "with pg_upgrade",
				    want, PG_ROOT, want);
		return fail(err, errlen, -ENOENT,
			    "no PostgreSQL server binaries under %s/*/bin; install the "
			    "postgresql package or set database.url",
			    PG_ROOT);
	}
	snprintf(out, len, "%s/%ld/bin", PG_ROOT, best);
	return 0;
}

/* ---- files ---- */

static int mkdir_owned(const struct wt_pgcluster *pc, const char *dir, mode_t mode)
{
	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return -errno;
	if (pc->as_postgres && chown(dir, pc->uid, pc->gid) < 0)
		return -errno;
	if (chmod(dir, mode) < 0)
		return -errno;
	return 0;
}

/* Writes a whole file atomically enough for start-up use, owned by the
 * cluster's owner. */
static int write_file(const struct wt_pgcluster *pc, const char *path, const char *text,
		      mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t n = strlen(text), off = 0;
	int rc = 0;

	if (fd < 0)
		return -errno;
	while (off < n) {
		ssize_t w = write(fd, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (!rc && pc->as_postgres && fchown(fd, pc->uid, pc->gid) < 0)
		rc = -errno;
	if (!rc && fchmod(fd, mode) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

/* The last lines of the server log, which say why it did not start. */
static void log_tail(const struct wt_pgcluster *pc, char *out, size_t len)
{
	char buf[OUTPUT_MAX];
	int fd = open(pc->logfile, O_RDONLY | O_CLOEXEC);
	off_t size;
	ssize_t n;

	out[0] = '\0';
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > 600)
		lseek(fd, size - 600, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* Start at a line boundary. */
	char *s = size > 600 ? strchr(buf, '\n') : buf;
	one_line(s ? s : buf, out, len);
}

/* A single-quoted PostgreSQL configuration or conninfo value. */
static void quote_value(const char *in, char *out, size_t len)
{
	size_t o = 0;

	if (len < 3) {
		if (len)
			out[0] = '\0';
		return;
	}
	out[o++] = '\'';
	for (; *in && o + 3 < len; in++) {
		if (*in == '\'' || *in == '\\')
			out[o++] = '\\';
		out[o++] = *in;
	}
	out[o++] = '\'';
	out[o] = '\0';
}

/* ---- the cluster ---- */

/* A port free on 127.0.0.1 right now. The postmaster binds it a moment
 * later; a lost race is retried with another port. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port = -errno;

	if (fd < 0)
		return port;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	else
		port = -errno;
	close(fd);
	return port;
}

static int initdb(struct wt_pgcluster *pc, char *err, size_t errlen)
{
	char pwfile[PATH_MAX], conf[PATH_MAX], out[OUTPUT_MAX], line[1024];
	unsigned char rnd[18];
	char pw[40];
	int rc;

	/* The superuser's password, for TCP connections from operators'
	 * tools; the daemon itself uses the unix socket. */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return fail(err, errlen, -EIO, "initdb: no random bytes for the password");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
	join(pwfile, sizeof(pwfile), pc->pgdir, "/superuser.password");
	char pwline[64];
	snprintf(pwline, sizeof(pwline), "%s\n", pw);
	rc = write_file(pc, pwfile, pwline, 0600);
	if (rc < 0)
		return fail(err, errlen, rc, "cannot write %s: %s", pwfile, strerror(-rc));

	char initdb_path[PATH_MAX + 16], pwopt[PATH_MAX + 16];
	join(initdb_path, sizeof(initdb_path), pc->bindir, "/initdb");
	snprintf(pwopt, sizeof(pwopt), "--pwfile=%s", pwfile);
	char *const argv[] = {initdb_path,
			      "-D",
			      pc->datadir,
			      "-U",
			      "postgres",
			      "-E",
			      "UTF8",
			      "--no-locale",
			      "--auth-local=trust",
			      "--auth-host=scram-sha-256",
			      pwopt,
			      NULL};
	wt_notice("creating the private PostgreSQL cluster in %s", pc->datadir);
	rc = run_tool(pc, argv, out, sizeof(out));
	if (rc != 0) {
		one_line(out, line, sizeof(line));
		return fail(err, errlen, -EIO, "initdb failed (%s%d): %s",
			    rc < 0 ? "error " : "exit ", rc, line);
	}
	/* wattrack.conf, rewritten at every start, carries the listen
	 * settings; postgresql.conf only includes it, once. */
	join(conf, sizeof(conf), pc->datadir, "/postgresql.conf");
	FILE *f = fopen(conf, "a");
	if (!f)
		return fail(err, errlen, -errno, "cannot append to %s: %s", conf, strerror(errno));
	fprintf(f, "\n# Added by wattrack: the listen settings it writes at every start.\n"
		   "include_if_exists = 'wattrack.conf'\n");
	if (fclose(f) != 0)
		return fail(err, errlen, -EIO, "cannot write %s", conf);
	return 0;
}

/* A postmaster.pid left by a crash: if its process is gone (or is not a
 * postgres), remove the file; if a postgres of ours still runs, stop it
 * so the cluster starts with this run's settings. */
static int clear_stale_pid(struct wt_pgcluster *pc, char *err, size_t errlen)
{
	char pidfile[PATH_MAX], buf[256], comm_path[64], comm[64], out[OUTPUT_MAX], line[512];
	long pid;
	char *end;
	int rc;

	join(pidfile, sizeof(pidfile), pc->datadir, "/postmaster.pid");
	if (read_small(pidfile, buf, sizeof(buf)) < 0)
		return 0; /* none: the normal case */
	pid = strtol(buf, &end, 10);
	/* Ours only if it is a postgres whose working directory is our data
	 * directory (a postmaster lives in its data directory): the pid may
	 * have been reused, even by another cluster's postmaster, which
	 * pg_ctl stop would then shut down. */
	bool alive = false;
	if (end != buf && pid > 0 && pid <= INT_MAX) {
		char cwd_path[64], cwd[PATH_MAX], real_data[PATH_MAX];
		ssize_t n;
		snprintf(comm_path, sizeof(comm_path), "/proc/%ld/comm", pid);
		snprintf(cwd_path, sizeof(cwd_path), "/proc/%ld/cwd", pid);
		alive = (kill((pid_t)pid, 0) == 0 || errno == EPERM) &&
			read_small(comm_path, comm, sizeof(comm)) > 0 &&
			strncmp(comm, "postgres", 8) == 0 &&
			(n = readlink(cwd_path, cwd, sizeof(cwd) - 1)) > 0 &&
			realpath(pc->datadir, real_data) != NULL &&
			(size_t)n == strlen(real_data) && memcmp(cwd, real_data, (size_t)n) == 0;
	}
	if (!alive) {
		wt_warn("removing a stale %s (process %ld is gone, or is not this cluster's)",
			pidfile, pid);
		if (unlink(pidfile) < 0 && errno != ENOENT)
			return fail(err, errlen, -errno, "cannot remove stale %s: %s", pidfile,
				    strerror(errno));
		return 0;
	}
	wt_warn("the private PostgreSQL (pid %ld) is still running from an earlier run; "
		"stopping it",
		pid);
	char pg_ctl[PATH_MAX + 16];
	join(pg_ctl, sizeof(pg_ctl), pc->bindir, "/pg_ctl");
	char *const argv[] = {pg_ctl, "-D", pc->datadir, "-w",   "-t", PG_CTL_TIMEOUT,
			      "-s",   "-m", "fast",      "stop", NULL};
	rc = run_tool(pc, argv, out, sizeof(out));
	if (rc != 0) {
		one_line(out, line, sizeof(line));
		return fail(err, errlen, -EBUSY,
			    "PostgreSQL pid %ld still runs on %s and pg_ctl stop failed: %s", pid,
			    pc->datadir, line);
	}
	return 0;
}

static int start_server(struct wt_pgcluster *pc, char *err, size_t errlen)
{
	char conf[PATH_MAX], text[QPATH_MAX + 1024], qdir[QPATH_MAX], out[OUTPUT_MAX];
	char line[1024], tail[1024], pg_ctl[PATH_MAX + 16];
	struct sockaddr_un sun;
	int rc = -EIO;

	join(pg_ctl, sizeof(pg_ctl), pc->bindir, "/pg_ctl");
	for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
		pc->port = free_port();
		if (pc->port < 0)
			return fail(err, errlen, pc->port, "no free port on 127.0.0.1: %s",
				    strerror(-pc->port));
		if (strlen(pc->pgdir) + 24 >= sizeof(sun.sun_path))
			return fail(err, errlen, -ENAMETOOLONG,
				    "state_dir is too long for a unix socket path (%s/.s.PGSQL.%d "
				    "exceeds %zu bytes); choose a shorter state_dir",
				    pc->pgdir, pc->port, sizeof(sun.sun_path) - 1);
		quote_value(pc->pgdir, qdir, sizeof(qdir));
		snprintf(text, sizeof(text),
			 "# Written by wattrack at every start of its private cluster.\n"
			 "listen_addresses = '127.0.0.1'\n"
			 "port = %d\n"
			 "unix_socket_directories = %s\n"
			 "unix_socket_permissions = 0700\n"
			 "# Short, frequent queries: compiling them costs more than it saves.\n"
			 "jit = off\n"
			 "# A week of server logs in data/log, one file per weekday.\n"
			 "logging_collector = on\n"
			 "log_directory = 'log'\n"
			 "log_filename = 'postgresql-%%a.log'\n"
			 "log_truncate_on_rotation = on\n"
			 "log_rotation_age = 1d\n"
			 "log_rotation_size = 0\n",
			 pc->port, qdir);
		join(conf, sizeof(conf), pc->datadir, "/wattrack.conf");
		rc = write_file(pc, conf, text, 0600);
		if (rc < 0)
			return fail(err, errlen, rc, "cannot write %s: %s", conf, strerror(-rc));

		char *const argv[] = {pg_ctl,      "-D",    pc->datadir, "-l",
				      pc->logfile, "-w",    "-t",        PG_CTL_TIMEOUT,
				      "-s",        "start", NULL};
		rc = run_tool(pc, argv, out, sizeof(out));
		if (rc == 0)
			return 0;
		one_line(out, line, sizeof(line));
		log_tail(pc, tail, sizeof(tail));
		/* Someone took the port between our probe and the bind. */
		if (strstr(tail, "could not bind") || strstr(tail, "already in use")) {
			wt_warn("private PostgreSQL could not bind port %d; retrying", pc->port);
			continue;
		}
		return fail(err, errlen, -EIO, "PostgreSQL did not start: %s%s%s", line,
			    *tail ? "; server log: " : "", tail);
	}
	return fail(err, errlen, -EADDRINUSE, "PostgreSQL did not start: no port after %d tries",
		    START_ATTEMPTS);
}

static int create_database(struct wt_pgcluster *pc, char *err, size_t errlen)
{
	char qdir[QPATH_MAX], ci[QPATH_MAX + 128];
	PGconn *conn;
	PGresult *r;
	int rc = 0;

	quote_value(pc->pgdir, qdir, sizeof(qdir));
	snprintf(ci, sizeof(ci), "host=%s port=%d user=postgres dbname=postgres connect_timeout=10",
		 qdir, pc->port);
	conn = PQconnectdb(ci);
	if (PQstatus(conn) != CONNECTION_OK) {
		char line[512];
		one_line(PQerrorMessage(conn), line, sizeof(line));
		PQfinish(conn);
		return fail(err, errlen, -ECONNREFUSED,
			    "cannot connect to the private PostgreSQL: %s", line);
	}
	r = PQexec(conn, "SELECT 1 FROM pg_database WHERE datname = '" PG_DBNAME "'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = -EIO;
	} else if (PQntuples(r) == 0) {
		PQclear(r);
		r = PQexec(conn, "CREATE DATABASE " PG_DBNAME);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = -EIO;
		else
			wt_notice("created database " PG_DBNAME " in the private cluster");
	}
	if (rc) {
		char line[512];
		one_line(PQerrorMessage(conn), line, sizeof(line));
		fail(err, errlen, rc, "cannot create database " PG_DBNAME ": %s", line);
	}
	PQclear(r);
	PQfinish(conn);
	return rc;
}

int wt_pgcluster_start(struct wt_pgcluster **out, const char *state_dir, char *err, size_t errlen)
{
	struct wt_pgcluster *pc;
	char real_state[PATH_MAX], ver[32], verfile[PATH_MAX];
	int rc;

	*out = NULL;
	err[0] = '\0';
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return fail(err, errlen, -ENOMEM, "out of memory");

	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");
		if (!pw) {
			free(pc);
			return fail(err, errlen, -ENOENT,
				    "running as root, the private PostgreSQL needs the 'postgres' "
				    "system user (install the postgresql package)");
		}
		pc->as_postgres = true;
		pc->uid = pw->pw_uid;
		pc->gid = pw->pw_gid;
	}

	rc = wt_mkdir_p(state_dir, 0755);
	if (rc < 0) {
		free(pc);
		return fail(err, errlen, rc, "cannot create state_dir %s: %s", state_dir,
			    strerror(-rc));
	}
	/* The real path: a symlinked state_dir works, and the postgres user
	 * needs only the target's parents to be searchable. */
	if (!realpath(state_dir, real_state)) {
		rc = -errno;
		free(pc);
		return fail(err, errlen, rc, "state_dir %s: %s", state_dir, strerror(-rc));
	}
	join(pc->pgdir, sizeof(pc->pgdir), real_state, "/pg");
	join(pc->datadir, sizeof(pc->datadir), pc->pgdir, "/data");
	join(pc->logfile, sizeof(pc->logfile), pc->pgdir, "/postgresql.log");

	rc = mkdir_owned(pc, pc->pgdir, 0700);
	if (rc < 0) {
		fail(err, errlen, rc, "cannot create %s: %s", pc->pgdir, strerror(-rc));
		goto out_free;
	}
	if (!owner_can_use(pc, pc->pgdir)) {
		rc = fail(err, errlen, -EACCES,
			  "the postgres user cannot use %s: a parent directory is not searchable "
			  "by it (chmod o+x the parents, or choose another state_dir)",
			  pc->pgdir);
		goto out_free;
	}

	/* An existing cluster is run by the binaries of its own major. */
	join(verfile, sizeof(verfile), pc->datadir, "/PG_VERSION");
	int have = read_small(verfile, ver, sizeof(ver));
	int major = 0;
	if (have > 0) {
		char *end;
		long v = strtol(ver, &end, 10);
		if (end == ver || v <= 0 || v > 1000) {
			rc = fail(err, errlen, -EINVAL, "%s holds no PostgreSQL version", verfile);
			goto out_free;
		}
		major = (int)v;
	}
	rc = find_bindir(major, pc->bindir, sizeof(pc->bindir), err, errlen);
	if (rc < 0)
		goto out_free;

	if (have <= 0) {
		DIR *d = opendir(pc->datadir);
		if (d) {
			struct dirent *e;
			int entries = 0;
			while ((e = readdir(d)))
				if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
					entries++;
			closedir(d);
			if (entries) {
				rc = fail(
					err, errlen, -EEXIST,
					"%s exists but holds no PostgreSQL cluster (no PG_VERSION); "
					"move it away and start again",
					pc->datadir);
				goto out_free;
			}
		}
		rc = initdb(pc, err, errlen);
		if (rc < 0)
			goto out_free;
	}
	rc = clear_stale_pid(pc, err, errlen);
	if (rc < 0)
		goto out_free;
	rc = start_server(pc, err, errlen);
	if (rc < 0)
		goto out_free;
	rc = create_database(pc, err, errlen);
	if (rc < 0) {
		char e2[256];
		if (wt_pgcluster_stop(pc, e2, sizeof(e2)) < 0)
			wt_warn("%s", e2);
		return rc;
	}

	if (read_small(verfile, ver, sizeof(ver)) <= 0)
		ver[0] = '\0';
	ver[strcspn(ver, "\n")] = '\0';
	char qdir[QPATH_MAX];
	quote_value(pc->pgdir, qdir, sizeof(qdir));
	snprintf(pc->conninfo, sizeof(pc->conninfo), "host=%s port=%d user=postgres dbname=%s",
		 qdir, pc->port, PG_DBNAME);
	wt_notice("private PostgreSQL %s running: socket in %s, 127.0.0.1:%d", ver, pc->pgdir,
		  pc->port);
	*out = pc;
	return 0;

out_free:
	free(pc);
	return rc;
}

const char *wt_pgcluster_conninfo(const struct wt_pgcluster *pc)
{
	return pc->conninfo;
}

int wt_pgcluster_port(const struct wt_pgcluster *pc)
{
	return pc->port;
}

const char *wt_pgcluster_datadir(const struct wt_pgcluster *pc)
{
	return pc->datadir;
}

int wt_pgcluster_stop(struct wt_pgcluster *pc, char *err, size_t errlen)
{
	char pg_ctl[PATH_MAX + 16], out[OUTPUT_MAX], line[1024];
	int rc;

	if (!pc)
		return 0;
	err[0] = '\0';
	join(pg_ctl, sizeof(pg_ctl), pc->bindir, "/pg_ctl");
	/* fast: ends sessions and shuts down cleanly (a checkpoint, no
	 * recovery at next start); the daemon has already flushed. */
	char *const argv[] = {pg_ctl, "-D", pc->datadir, "-w",   "-t", PG_CTL_TIMEOUT,
			      "-s",   "-m", "fast",      "stop", NULL};
	rc = run_tool(pc, argv, out, sizeof(out));
	if (rc != 0) {
		one_line(out, line, sizeof(line));
		rc = fail(err, errlen, -EIO, "pg_ctl stop failed: %s", line);
	} else {
		wt_notice("private PostgreSQL stopped");
	}
	free(pc);
	return rc;
}
