#include "notify_report.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PGresult *q(PGconn *c, const char *sql, int np, const char *const *p)
{
	PGresult *r = PQexecParams(c, sql, np, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		wt_error("notify report: %s", PQerrorMessage(c));
		PQclear(r);
		return NULL;
	}
	return r;
}

int wt_notify_report_text(PGconn *c, struct nbuf *out, int64_t from_ms, int64_t to_ms,
			  const char *hostname, const char *period_name)
{
	char from[24], to[24];
	snprintf(from, sizeof(from), "%lld", (long long)from_ms);
	snprintf(to, sizeof(to), "%lld", (long long)to_ms);
	const char *p[2] = {from, to};
	nbuf_printf(out, "wattrack %s status report from %s.\n\n", period_name, hostname);

	PGresult *r = q(c, "SELECT state, count(*) FROM devices GROUP BY state ORDER BY state", 0,
			NULL);
	if (!r)
		return -EIO;
	long total = 0;
	for (int i = 0; i < PQntuples(r); i++)
		total += strtol(PQgetvalue(r, i, 1), NULL, 10);
	nbuf_printf(out, "Fleet: %ld devices", total);
	for (int i = 0; i < PQntuples(r); i++)
		nbuf_printf(out, "%s %s %s", i ? "," : ":", PQgetvalue(r, i, 1),
			    PQgetvalue(r, i, 0));
	nbuf_puts(out, ".\n\n");
	PQclear(r);

	r = q(c,
	      "SELECT count(*) FILTER (WHERE severity = 'critical'),"
	      " count(*) FILTER (WHERE severity = 'warning'), count(*) FILTER (WHERE NOT acked)"
	      " FROM alarms WHERE active",
	      0, NULL);
	if (!r)
		return -EIO;
	nbuf_printf(out, "Open alarms: %s critical, %s warning (%s unacknowledged).\n",
		    PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
	PQclear(r);
	r = q(c,
	      "SELECT id, severity, message, to_char(raised_at AT TIME ZONE 'UTC',"
	      " 'YYYY-MM-DD HH24:MI') FROM alarms WHERE active"
	      " ORDER BY severity = 'critical' DESC, raised_at DESC LIMIT 20",
	      0, NULL);
	if (!r)
		return -EIO;
	for (int i = 0; i < PQntuples(r); i++)
		nbuf_printf(out, "  %-8s since %s UTC  %s  #%s\n", PQgetvalue(r, i, 1),
			    PQgetvalue(r, i, 3), PQgetvalue(r, i, 2), PQgetvalue(r, i, 0));
	PQclear(r);
	r = q(c,
	      "SELECT count(*) FROM alarms WHERE raised_at >= to_timestamp($1::bigint / 1000.0)"
	      " AND raised_at < to_timestamp($2::bigint / 1000.0)",
	      2, p);
	if (!r)
		return -EIO;
	nbuf_printf(out, "Alarms raised in the period: %s.\n\n", PQgetvalue(r, 0, 0));
	PQclear(r);

	/* Room energy: the room's all-phase, all-feed energy_active aggregate;
	 * hourly sums are deltas (storage/rollup.h), so their sum is the energy. */
	r = q(c,
	      "SELECT e.name, sum(h.sum) FROM series s"
	      " JOIN metrics m ON m.id = s.metric AND m.name = 'energy_active'"
	      " JOIN structure_elements e ON e.id = s.owner_id"
	      " JOIN samples_1h h ON h.series = s.id"
	      " AND h.start >= to_timestamp($1::bigint / 1000.0)"
	      " AND h.start < to_timestamp($2::bigint / 1000.0)"
	      " WHERE s.owner_kind = 'room' AND s.agg_phase IS NULL AND s.agg_feed IS NULL"
	      " GROUP BY e.name ORDER BY e.name",
	      2, p);
	if (!r)
		return -EIO;
	if (PQntuples(r) == 0)
		nbuf_puts(out, "Energy per room: no room energy recorded in the period.\n");
	else
		nbuf_puts(out, "Energy per room:\n");
	for (int i = 0; i < PQntuples(r); i++)
		nbuf_printf(out, "  %-30s %12.1f kWh\n", PQgetvalue(r, i, 0),
			    strtod(PQgetvalue(r, i, 1), NULL) / 1000.0);
	PQclear(r);
	return nbuf_ok(out) ? 0 : -ENOMEM;
}
