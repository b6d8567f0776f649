#include "migrate.h"

#include "log.h"
#include "pg.h"
#include "wt_build.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "wattmigr" folded to 63 bits: the advisory lock key every instance uses. */
#define MIGRATE_LOCK_KEY "8675309240517"

struct mfile {
	int version;
	char name[256];
	char path[4096];
};

static int cmp_mfile(const void *a, const void *b)
{
	const struct mfile *x = a, *y = b;
	return (x->version > y->version) - (x->version < y->version);
}

/* NNNN_name.sql -> version; false for anything else (README, meson.build). */
static bool parse_name(const char *fn, int *version)
{
	size_t len = strlen(fn), i = 0;
	long v = 0;

	if (len < 6 || strcmp(fn + len - 4, ".sql") != 0)
		return false;
	while (isdigit((unsigned char)fn[i]) && i < 9)
		v = v * 10 + (fn[i++] - '0');
	if (i == 0 || fn[i] != '_' || v <= 0)
		return false;
	*version = (int)v;
	return true;
}

static int list_files(const char *dir, struct mfile **out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct mfile *v = NULL;
	size_t cnt = 0, cap = 0;

	if (!d) {
		wt_error("migrations: cannot open %s: %s", dir, strerror(errno));
		return -ENOENT;
	}
	while ((e = readdir(d))) {
		int ver;
		if (!parse_name(e->d_name, &ver))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			struct mfile *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[cnt].version = ver;
		snprintf(v[cnt].name, sizeof(v[cnt].name), "%s", e->d_name);
		snprintf(v[cnt].path, sizeof(v[cnt].path), "%s/%s", dir, e->d_name);
		cnt++;
	}
	closedir(d);
	qsort(v, cnt, sizeof(*v), cmp_mfile);
	for (size_t i = 1; i < cnt; i++)
		if (v[i].version == v[i - 1].version) {
			wt_error("migrations: %s and %s have the same version %d", v[i - 1].name,
				 v[i].name, v[i].version);
			free(v);
			return -EPROTO;
		}
	*out = v;
	*n = cnt;
	return 0;
}

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		wt_error("migrations: cannot read %s: %s", path, strerror(errno));
		return -ENOENT;
	}
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
		if (len + 1 < cap)
			break;
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	fclose(f);
	if (!buf)
		return -ENOMEM;
	buf[len] = 0;
	*out = buf;
	return 0;
}

static void sha256_hex(const char *data, char hex[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_Digest(data, strlen(data), md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

int wt_migrate_known_version(const char *dir)
{
	struct mfile *files;
	size_t n;
	int rc = list_files(dir, &files, &n);
	if (rc < 0)
		return rc;
	int v = n ? files[n - 1].version : 0;
	free(files);
	return v;
}

const char *wt_migrate_default_dir(void)
{
	static char src[4096];
	struct stat st;
	const char *env = getenv("WT_MIGRATIONS_DIR");

	if (env && *env)
		return env;
	if (stat(WT_DATADIR "/migrations", &st) == 0 && S_ISDIR(st.st_mode))
		return WT_DATADIR "/migrations";
	snprintf(src, sizeof(src), "%s/migrations", WT_SOURCE_ROOT);
	return src;
}

static int apply_one(PGconn *c, const struct mfile *f, const char *sql, const char *sum)
{
	char what[320], ver[16];
	PGresult *r;
	snprintf(what, sizeof(what), "migration %s", f->name);
	snprintf(ver, sizeof(ver), "%d", f->version);
	const char *params[] = {ver, f->name, sum};

	if (wt_pg_exec(c, what, "BEGIN") < 0)
		return -EIO;
	if (wt_pg_exec(c, what, sql) < 0 ||
	    wt_pg_query(
		    c, what, &r,
		    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
		    3, params) < 0) {
		if (wt_pg_exec(c, "rollback", "ROLLBACK") < 0)
			wt_debug("migrations: rollback failed too");
		return -EIO;
	}
	PQclear(r);
	if (wt_pg_exec(c, what, "COMMIT") < 0)
		return -EIO;
	wt_notice("migrations: applied %s", f->name);
	return 0;
}

static int migrate_locked(PGconn *c, const char *dir, int *applied)
{
	struct mfile *files = NULL;
	size_t n = 0;
	PGresult *r = NULL;
	int rc;

	if ((rc = list_files(dir, &files, &n)) < 0)
		return rc;
	int known = n ? files[n - 1].version : 0;

	rc = wt_pg_exec(c, "create schema_migrations",
			"SET client_min_messages = warning;"
			"CREATE TABLE IF NOT EXISTS schema_migrations ("
			" version integer PRIMARY KEY,"
			" name text NOT NULL,"
			" applied_at timestamptz NOT NULL DEFAULT now(),"
			" checksum text NOT NULL)");
	if (rc < 0)
		goto out;
	rc = wt_pg_query(c, "read schema_migrations", &r,
			 "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
			 0, NULL);
	if (rc < 0)
		goto out;
	int nrows = PQntuples(r);
	if (nrows > 0) {
		int top = (int)strtol(PQgetvalue(r, nrows - 1, 0), NULL, 10);
		if (top > known) {
			wt_error(
				"database schema is at version %d but this wattrack knows up to %d; "
				"upgrade wattrack",
				top, known);
			rc = -EPROTO;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		char *sql;
		char sum[65];
		const char *have = NULL;

		if ((rc = read_file(files[i].path, &sql)) < 0)
			goto out;
		sha256_hex(sql, sum);
		for (int j = 0; j < nrows; j++)
			if ((int)strtol(PQgetvalue(r, j, 0), NULL, 10) == files[i].version)
				have = PQgetvalue(r, j, 2);
		if (have) {
			free(sql);
			if (strcmp(have, sum) != 0) {
				wt_error(
					"migrations: %s was changed after it was applied (checksum "
					"%.12s in the database, %.12s on disk); never edit an applied "
					"migration, add a new one",
					files[i].path, have, sum);
				rc = -EPROTO;
				goto out;
			}
			continue;
		}
		rc = apply_one(c, &files[i], sql, sum);
		free(sql);
		if (rc < 0)
			goto out;
		if (applied)
			(*applied)++;
	}
	rc = 0;
out:
	PQclear(r);
	free(files);
	return rc;
}

int wt_migrate(PGconn *c, const char *dir, int *applied)
{
	if (applied)
		*applied = 0;
	if (wt_pg_exec(c, "migration lock", "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")") < 0)
		return -EIO;
	int rc = migrate_locked(c, dir, applied);
	if (wt_pg_exec(c, "migration unlock", "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")") <
	    0)
		rc = rc < 0 ? rc : -EIO;
	return rc;
}
