#include "pg.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

PGconn *wt_pg_connect(const char *conninfo, int timeout_s)
{
	char tmo[16];
	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[] = {conninfo, tmo, "wattrack", NULL};

	snprintf(tmo, sizeof(tmo), "%d", timeout_s > 0 ? timeout_s : 10);
	/* expand_dbname: conninfo may be a URI or key=value list; its own
	 * connect_timeout, if any, wins because it is expanded later. */
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c)
		return NULL;
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		msg[strcspn(msg, "\n")] = 0;
		wt_debug("postgresql: connect failed: %s", msg);
		PQfinish(c);
		return NULL;
	}
	return c;
}

static void log_fail(PGconn *c, const char *what)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
	msg[strcspn(msg, "\n")] = 0;
	wt_error("postgresql: %s: %s", what, msg);
}

int wt_pg_exec(PGconn *c, const char *what, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		log_fail(c, what);
		PQclear(r);
		return -EIO;
	}
	PQclear(r);
	return 0;
}

int wt_pg_query(PGconn *c, const char *what, PGresult **out, const char *sql, int nparams,
		const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		log_fail(c, what);
		PQclear(r);
		*out = NULL;
		return -EIO;
	}
	*out = r;
	return 0;
}
