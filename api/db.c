#include "db.h"

#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct thread_db {
	PGconn *conn;
	char *conninfo;
};

static pthread_key_t db_key;
static pthread_once_t db_once = PTHREAD_ONCE_INIT;

/* Runs at worker thread exit, so connections never outlive their thread. */
static void thread_db_free(void *p)
{
	struct thread_db *t = p;
	if (t->conn)
		PQfinish(t->conn);
	free(t->conninfo);
	free(t);
}

static void make_key(void)
{
	if (pthread_key_create(&db_key, thread_db_free) != 0)
		abort(); /* only when the process is out of keys: a programmer bug */
}

PGconn *wt_api_db(const char *conninfo, char *why, size_t whylen)
{
	pthread_once(&db_once, make_key);
	struct thread_db *t = pthread_getspecific(db_key);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t || pthread_setspecific(db_key, t) != 0) {
			free(t);
			snprintf(why, whylen, "out of memory");
			return NULL;
		}
	}
	if (t->conn && (PQstatus(t->conn) != CONNECTION_OK || !t->conninfo ||
			strcmp(t->conninfo, conninfo) != 0)) {
		PQfinish(t->conn);
		t->conn = NULL;
	}
	if (t->conn)
		return t->conn;
	/* connect_timeout first: settings inside conninfo override it. */
	const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
	const char *vals[] = {"5", "wattrack-api", conninfo, NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		const char *m = c ? PQerrorMessage(c) : "out of memory";
		snprintf(why, whylen, "%.*s", (int)strcspn(m, "\n"), m);
		if (c)
			PQfinish(c);
		return NULL;
	}
	free(t->conninfo);
	t->conninfo = strdup(conninfo);
	t->conn = c;
	return c;
}

PGresult *wt_api_db_exec(PGconn *db, const char *sql, int nparams, const char *const *params,
			 char sqlstate[6])
{
	sqlstate[0] = '\0';
	PGresult *res = PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && PQstatus(db) == CONNECTION_BAD) {
		/* An idle connection the server dropped (restart, failover) is
		 * found only by using it: reconnect once and run it again. The
		 * statement cannot have committed, the server was gone. */
		PQclear(res);
		PQreset(db);
		if (PQstatus(db) != CONNECTION_OK) {
			wt_warn("api: database connection lost; reconnect failed");
			return NULL;
		}
		wt_notice("api: reconnected to the database");
		res = PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);
		st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	}
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (code)
		snprintf(sqlstate, 6, "%s", code);
	/* Constraint violations are the caller's business; the rest is ours. */
	if (!code || strncmp(code, "23", 2) != 0) {
		const char *m = PQerrorMessage(db);
		wt_warn("api: SQL failed (%s): %.*s", code ? code : "no state",
			(int)strcspn(m, "\n"), m);
	}
	PQclear(res);
	return NULL;
}

bool wt_api_db_broken(PGconn *db)
{
	return PQstatus(db) != CONNECTION_OK;
}

static atomic_uint_fast64_t write_gen = 1;

uint64_t wt_api_db_write_gen(void)
{
	return (uint64_t)atomic_load(&write_gen);
}

void wt_api_db_wrote(void)
{
	atomic_fetch_add(&write_gen, 1);
}
