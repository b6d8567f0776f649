/* The rules layer against a real PostgreSQL (started by t_rules_db.py).
 * Subcommands, each a separate process so "restart" is a real restart:
 *   setup DSN    migrate; structure operations with refusals and cascade;
 *                rules; engine raises alarms that the writer stores
 *   restart DSN  a new process restores alarms: a still-true condition is
 *                not raised twice, a false one clears, ack is stored
 *   expire DSN NOW_MS   audit retention */
#include "dbq.h"
#include "engine.h"
#include "migrate.h"
#include "registry.h"
#include "rulesdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/check.h"

static int64_t now_ms = 1700000000000LL;
static const struct wt_clock manual = {wt_clock_manual_now, &now_ms};
static int ev_count[WT_ALARM_CHANGE__COUNT];
static void on_alarm(void *ctx, const struct wt_alarm_event *ev)
{
	(void)ctx;
	ev_count[ev->change]++;
	printf("alarm %s %lld: %s\n", wt_alarm_change_name(ev->change), (long long)ev->alarm->id,
	       ev->alarm->message);
}

static int64_t q1(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int64_t v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else
		printf("query failed: %s: %s\n", sql, PQerrorMessage(c));
	PQclear(r);
	return v;
}

/* Engine wired the way the daemon will wire it: bindings, structure, rules
 * and alarms from the database; aggregate ids through the cache; alarm
 * changes through the writer. */
struct rig {
	struct wt_rules *e;
	struct wt_agg_cache *cache;
	struct wt_dbq *q;
};

static void rig_open(struct rig *g, PGconn *c, const char *dsn)
{
	g->e = wt_rules_new(&manual);
	g->cache = wt_agg_cache_new();
	g->q = wt_dbq_open(dsn, 10000);
	CHECK(g->e && g->cache && g->q, "rig");
	struct wt_alarm_store store = wt_dbq_alarm_store(g->q);
	wt_alarms_set_store(wt_rules_alarms(g->e), &store);
	CHECK(wt_alarms_subscribe(wt_rules_alarms(g->e), on_alarm, NULL) == 0, "subscribe");
	struct wt_agg_registry reg = {wt_agg_cache_lookup, g->cache};
	wt_rules_set_registry(g->e, &reg);
	CHECK(wt_dbq_sync(g->q, 10000) == 0, "writer ready (first id block)");

	struct wt_structure *st;
	struct wt_rule *rules;
	size_t nrules;
	struct wt_alarm *al;
	size_t nal;
	CHECK(wt_rulesdb_load_bindings(c, g->e) == 0, "load bindings");
	CHECK(wt_rulesdb_load_structure(c, &st) == 0, "load structure");
	wt_rules_set_structure(g->e, st);
	CHECK(wt_rulesdb_load_rules(c, &rules, &nrules) == 0, "load rules");
	wt_rules_set_rules(g->e, rules, nrules);
	CHECK(wt_rulesdb_load_alarms(c, &al, &nal) == 0, "load alarms");
	for (size_t i = 0; i < nal; i++)
		CHECK(wt_alarms_restore(wt_rules_alarms(g->e), &al[i]) != NULL, "restore %zu", i);
	wt_rulesdb_free_alarms(al, nal);
	CHECK(wt_agg_cache_load(c, g->cache) == 0, "cache load");
	CHECK(wt_rules_commit(g->e) == 0, "commit");
	if (wt_agg_cache_missing(g->cache)) {
		/* a worker's job in the daemon */
		CHECK(wt_agg_cache_create_missing(c, g->cache) == 0, "create aggregate series");
		CHECK(wt_rules_commit(g->e) == 0, "commit again");
	}
	CHECK(wt_agg_cache_missing(g->cache) == 0 && wt_rules_agg_pending(g->e) == 0,
	      "no aggregate left without a series");
	CHECK(wt_rules_clear_orphans(g->e) == 0, "no orphaned alarm");
}

static void rig_close(struct rig *g)
{
	CHECK(wt_dbq_sync(g->q, 10000) == 0, "writer drained");
	wt_rules_free(g->e);
	wt_dbq_close(g->q, 5000);
	wt_agg_cache_free(g->cache);
}

static struct wt_bucket bk(uint32_t series, int64_t start, double v)
{
	return (struct wt_bucket){.series = series,
				  .count = 1,
				  .start_ms = start,
				  .min = v,
				  .max = v,
				  .sum = v,
				  .last = v,
				  .quality = WT_Q_GOOD};
}

static uint32_t series_of(PGconn *c, int32_t dev, enum wt_entity_kind k, int idx, const char *name,
			  enum wt_metric m, const char *attrs)
{
	int32_t ent = 0;
	uint32_t sid = 0;
	CHECK(wt_registry_upsert_entity(c, dev, k, idx, name, 0, attrs, &ent) == 0, "entity");
	CHECK(wt_registry_series(c, ent, m, &sid) == 0, "series");
	return sid;
}

static int32_t device(PGconn *c, const char *name, int port)
{
	struct wt_device_rec d = {.name = name,
				  .protocol = "snmp",
				  .address = "127.0.0.1",
				  .port = port,
				  .model = "PX3-5190",
				  .rating_a = 16,
				  .phases = 1,
				  .feed = "none",
				  .info = "{\"type\":\"PDU\"}"};
	int32_t id = 0;
	CHECK(wt_registry_upsert_device(c, &d, &id) == 0, "device %s", name);
	return id;
}

static int setup(PGconn *c, const char *dsn)
{
	int applied = 0;
	CHECK(wt_migrate(c, wt_migrate_default_dir(), &applied) == 0, "migrate");
	CHECK(wt_registry_sync_metrics(c) == 0, "metrics");

	/* --- structure operations --- */
	int64_t site, room, row1, row2, rack1, rack2, rack3, tmp, junk;
	CHECK(wt_rulesdb_element_create(c, "alice", WT_EL_DC, 0, "Frankfurt", NULL, 0, 0, &site) ==
		      0,
	      "site");
	CHECK(wt_rulesdb_element_create(c, "alice", WT_EL_ROOM, site, "Hall 1", "{\"floor\": 1}", 0,
					0, &room) == 0,
	      "room");
	CHECK(wt_rulesdb_element_create(c, "alice", WT_EL_ROW, room, "Row A", NULL, 0, 0, &row1) ==
		      0,
	      "row A");
	CHECK(wt_rulesdb_element_create(c, "alice", WT_EL_ROW, room, "Row B", NULL, 0, 0, &row2) ==
		      0,
	      "row B");
	CHECK(wt_rulesdb_element_create(c, "alice", WT_EL_RACK, row1, "R01", NULL, 7000, 32,
					&rack1) == 0,
	      "rack 1");
	CHECK(wt_rulesdb_element_create(c, "alice", WT_EL_RACK, row1, "R02", NULL, 0, 0, &rack2) ==
		      0,
	      "rack 2");
	CHECK(wt_rulesdb_element_create(c, "alice", WT_EL_RACK, row2, "R03", NULL, 0, 0, &rack3) ==
		      0,
	      "rack 3");
	CHECK(wt_rulesdb_element_create(c, "alice", WT_EL_ROOM, rack1, "bad", NULL, 0, 0, &junk) ==
		      -EINVAL,
	      "a room inside a rack is refused");
	CHECK(wt_rulesdb_element_create(c, "alice", WT_EL_RACK, row1, "r01", NULL, 0, 0, &junk) ==
		      -EEXIST,
	      "duplicate sibling name refused (case-insensitive)");
	CHECK(wt_rulesdb_element_create(c, "alice", WT_EL_RACK, 999999, "x", NULL, 0, 0, &junk) ==
		      -ENOENT,
	      "missing parent");
	CHECK(wt_rulesdb_element_rename(c, "bob", rack2, "R02-new") == 0, "rename");
	CHECK(wt_rulesdb_element_move(c, "bob", rack2, row2) == 0, "move rack to row B");
	CHECK(wt_rulesdb_element_move(c, "bob", rack2, room) == -EINVAL,
	      "rack directly in a room refused");
	CHECK(wt_rulesdb_element_update(c, "bob", rack3, "{\"u\": 42}", 5000, 0) == 0,
	      "update attributes");

	int32_t d1 = device(c, "PDU A", 1601), d2 = device(c, "PDU B", 1602),
		d3 = device(c, "PDU C", 1603);
	CHECK(wt_rulesdb_device_assign(c, "bob", d1, rack1, WT_FEED_A) == 0, "assign A");
	CHECK(wt_rulesdb_device_assign(c, "bob", d2, rack1, WT_FEED_B) == 0, "assign B");
	CHECK(wt_rulesdb_device_assign(c, "bob", d3, row1, WT_FEED_A) == -EINVAL,
	      "device in a row refused");
	CHECK(wt_rulesdb_device_assign(c, "bob", d3, rack2, WT_FEED_A) == 0, "assign C");
	CHECK(wt_rulesdb_device_unassign(c, "bob", d3) == 0, "unassign C");
	CHECK(q1(c, "SELECT count(*) FROM devices WHERE rack_id IS NULL") == 1,
	      "device unassigned");
	CHECK(wt_rulesdb_device_assign(c, "bob", d3, rack3, WT_FEED_A) == 0, "assign C to R03");

	long removed = 0;
	CHECK(wt_rulesdb_element_delete(c, "carol", rack1, false, &removed) == -ENOTEMPTY,
	      "rack with devices refused");
	CHECK(wt_rulesdb_element_delete(c, "carol", row2, false, &removed) == -ENOTEMPTY,
	      "row with racks refused");
	CHECK(q1(c, "SELECT count(*) FROM structure_elements") == 7,
	      "nothing deleted by a refusal");
	CHECK(wt_rulesdb_element_create(c, "carol", WT_EL_ROOM, site, "Hall 2", NULL, 0, 0, &tmp) ==
		      0,
	      "room 2");
	CHECK(wt_rulesdb_element_delete(c, "carol", tmp, false, &removed) == 0 && removed == 1,
	      "empty room deleted");
	CHECK(wt_rulesdb_element_delete(c, "carol", row2, true, &removed) == 0 && removed == 3,
	      "cascade deletes the row and its 2 racks (removed %ld)", removed);
	CHECK(q1(c, "SELECT count(*) FROM devices WHERE rack_id IS NULL") == 1,
	      "cascade unassigned PDU C");
	CHECK(q1(c, "SELECT count(*) FROM devices") == 3, "cascade never deletes devices");
	CHECK(q1(c, "SELECT count(*) FROM structure_elements") == 4, "4 elements left");
	CHECK(q1(c, "SELECT count(*) FROM audit_log WHERE category = 'structure'") == 18,
	      "every structure change audited: %lld",
	      (long long)q1(c, "SELECT count(*) FROM audit_log WHERE category = 'structure'"));
	CHECK(q1(c, "SELECT count(*) FROM audit_log WHERE actor = 'carol' AND severity = 3") == 1,
	      "cascade delete audited as a warning");

	struct wt_structure *st;
	CHECK(wt_rulesdb_load_structure(c, &st) == 0, "load structure");
	CHECK(st->n == 4 && st->npl == 2, "loaded %zu elements, %zu placements", st->n, st->npl);
	const struct wt_placement *p = wt_structure_placement(st, d2);
	CHECK(p && p->rack_id == rack1 && p->feed == WT_FEED_B, "placement loaded");
	int32_t i1 = wt_structure_find(st, rack1);
	CHECK(i1 >= 0 && st->el[i1].budget_w == 7000 && st->el[st->el[i1].parent].id == row1,
	      "rack loaded");
	wt_structure_free(st);

	/* --- series and rules --- */
	uint32_t o2 = series_of(c, d1, WT_ENT_OUTLET, 2, "Outlet # 2", WT_M_VOLTAGE, NULL);
	uint32_t ia = series_of(c, d1, WT_ENT_INLET, 1, "Inlet", WT_M_CURRENT,
				"{\"phase\": \"L1\"}");
	uint32_t ib = series_of(c, d2, WT_ENT_INLET, 1, "Inlet", WT_M_CURRENT,
				"{\"phase\": \"L1\"}");
	(void)series_of(c, d1, WT_ENT_INLET, 1, "Inlet", WT_M_POWER_ACTIVE, "{\"phase\": \"L1\"}");
	(void)series_of(c, d2, WT_ENT_INLET, 1, "Inlet", WT_M_POWER_ACTIVE, "{\"phase\": \"L1\"}");
	CHECK(o2 && ia && ib, "series");

	struct wt_rule r = {.name = "Alert test",
			    .enabled = true,
			    .metric = WT_M_VOLTAGE,
			    .scope = WT_SCOPE_DEVICE,
			    .scope_id = d1,
			    .entity_kind = WT_ENT_OUTLET,
			    .hysteresis = 2,
			    .repeat_s = 600};
	r.thr[WT_THR_WARN_ABOVE] = 228;
	r.thr_on[WT_THR_WARN_ABOVE] = true;
	r.thr[WT_THR_CRIT_ABOVE] = 240;
	r.thr_on[WT_THR_CRIT_ABOVE] = true;
	const char *why = NULL;
	CHECK(wt_rulesdb_rule_save(c, "alice", &r, &why) == 0 && r.id > 0, "rule saved");
	struct wt_rule bad = r;
	bad.id = 0;
	bad.thr[WT_THR_WARN_ABOVE] = 250;
	CHECK(wt_rulesdb_rule_save(c, "alice", &bad, &why) == -EINVAL && why,
	      "bad order refused: %s", why ? why : "");
	struct wt_rule hr = {.name = "Rack redundancy",
			     .enabled = true,
			     .metric = WT_M_HEADROOM,
			     .scope = WT_SCOPE_RACK,
			     .scope_id = rack1,
			     .entity_kind = -1};
	hr.thr[WT_THR_CRIT_BELOW] = 0;
	hr.thr_on[WT_THR_CRIT_BELOW] = true;
	CHECK(wt_rulesdb_rule_save(c, "alice", &hr, &why) == 0, "headroom rule saved");
	r.repeat_s = 1800;
	CHECK(wt_rulesdb_rule_save(c, "alice", &r, &why) == 0, "rule updated");
	struct wt_rule *rules;
	size_t nrules;
	CHECK(wt_rulesdb_load_rules(c, &rules, &nrules) == 0 && nrules == 2, "rules load");
	CHECK(nrules == 2 && rules[0].repeat_s == 1800 && rules[0].entity_kind == WT_ENT_OUTLET &&
		      rules[0].thr_on[WT_THR_WARN_ABOVE] && !rules[0].thr_on[WT_THR_WARN_BELOW] &&
		      rules[1].scope == WT_SCOPE_RACK && rules[1].scope_id == rack1,
	      "rules round-trip");
	wt_rulesdb_free_rules(rules, nrules);
	CHECK(q1(c, "SELECT count(*) FROM audit_log WHERE category = 'rule'") == 3,
	      "rule changes audited");

	/* --- engine: raise alarms that must survive the restart --- */
	struct rig g;
	rig_open(&g, c, dsn);
	struct wt_agg_key k = {rack1, WT_EL_RACK, WT_FEED_A, 1, WT_M_HEADROOM};
	uint32_t head_a = wt_rules_agg_series(g.e, &k);
	CHECK(head_a > 0, "headroom series registered in the series table");
	CHECK(q1(c, "SELECT count(*) FROM series WHERE owner_kind = 'rack' AND metric = 31") == 2,
	      "two headroom series (feed A and B)");
	int64_t t = 1700000000000LL;
	struct wt_bucket b[3] = {bk(o2, t, 230.7), bk(ia, t, 9), bk(ib, t, 8)};
	wt_rules_on_close(g.e, t, b, 3);
	now_ms = t + 5500;
	CHECK(ev_count[WT_ALARM_RAISED] == 3,
	      "voltage warning and headroom alarms (feed A and B) raised: %d",
	      ev_count[WT_ALARM_RAISED]);
	wt_rules_device_comm(g.e, d3, true, NULL);
	CHECK(wt_alarms_element_status(wt_rules_alarms(g.e), site) == WT_SEV_CRITICAL, "site red");
	rig_close(&g);
	CHECK(q1(c, "SELECT count(*) FROM alarms WHERE active") == 4, "4 active alarms stored");
	CHECK(q1(c,
		 "SELECT count(*) FROM alarms WHERE message = 'Value of 230.7 V at \"Outlet # 2\" (2) "
		 "outlet has exceeded the warning threshold of 228 V via rule \"Alert test\" for PDU "
		 "\"PDU A\"'") == 1,
	      "message stored");
	CHECK(q1(c, "SELECT count(*) FROM audit_log WHERE category = 'alarm'") == 4,
	      "alarm changes audited");
	struct wt_audit_event ev = {.severity = WT_AUDIT_INFO,
				    .category = WT_AUDIT_LOGIN,
				    .actor = "alice",
				    .message = "alice logged in from 10.0.0.1"};
	int64_t aid = 0;
	CHECK(wt_rulesdb_audit_insert(c, &ev, &aid) == 0 && aid > 0, "login event");
	CHECK(wt_rulesdb_audit_set_state(c, "bob", aid, WT_AUDIT_INVESTIGATING, "who is alice?") ==
		      0,
	      "audit entry investigated");
	CHECK(wt_rulesdb_audit_comment(c, "carol", aid, "she is new") == 0, "audit comment");
	CHECK(wt_rulesdb_audit_comment(c, "carol", 987654321, "nope") == -ENOENT,
	      "comment on a missing entry");
	CHECK(wt_rulesdb_audit_set_state(c, "bob", 987654321, WT_AUDIT_DONE, NULL) == -ENOENT,
	      "state of a missing entry");
	CHECK(q1(c, "SELECT count(*) FROM audit_comments") == 2, "two comments stored");
	CHECK(q1(c, "SELECT state FROM audit_log WHERE category = 'login'") ==
		      WT_AUDIT_INVESTIGATING,
	      "state stored");
	/* the C mapping and the generated column agree on every combination */
	for (int sv = 0; sv < WT_AUDIT_SEV__COUNT; sv++)
		for (int sa = 0; sa < WT_AUDIT_STATE__COUNT; sa++) {
			struct wt_audit_event x = {.severity = (enum wt_audit_severity)sv,
						   .state = (enum wt_audit_state)sa,
						   .category = WT_AUDIT_SYSTEM,
						   .message = "class probe"};
			int64_t xid = 0;
			char sql[128];
			CHECK(wt_rulesdb_audit_insert(c, &x, &xid) == 0, "probe");
			snprintf(sql, sizeof(sql),
				 "SELECT retention_class FROM audit_log WHERE id = %lld",
				 (long long)xid);
			CHECK(q1(c, sql) == (int64_t)wt_audit_class_of((enum wt_audit_severity)sv,
								       (enum wt_audit_state)sa),
			      "class of %s/%s", wt_audit_severity_name((enum wt_audit_severity)sv),
			      wt_audit_state_name((enum wt_audit_state)sa));
		}
	CHECK(wt_rulesdb_audit_set_retention(c, "alice", WT_AUDIT_CLASS_CLOSED_ERROR, 30) == 0,
	      "retention set");
	CHECK(wt_rulesdb_audit_set_retention(c, "alice", WT_AUDIT_CLASS_NONE, 30) == -EINVAL,
	      "class none refused");
	return 0;
}

static int restart(PGconn *c, const char *dsn)
{
	struct rig g;
	rig_open(&g, c, dsn);
	CHECK(wt_alarms_count(wt_rules_alarms(g.e)) == 4, "4 alarms restored");
	int64_t site = q1(c, "SELECT id FROM structure_elements WHERE kind = 'site'");
	CHECK(wt_alarms_element_status(wt_rules_alarms(g.e), site) == WT_SEV_CRITICAL,
	      "restored alarms escalate to the site");
	uint32_t o2 = (uint32_t)q1(
		c, "SELECT s.id FROM series s JOIN entities e ON e.id = s.entity_id "
		   "WHERE e.kind = 'outlet' AND e.idx = 2");
	uint32_t ia = (uint32_t)q1(
		c, "SELECT s.id FROM series s JOIN entities e ON e.id = s.entity_id "
		   "JOIN devices d ON d.id = e.device_id WHERE d.name = 'PDU A' AND "
		   "e.kind = 'inlet' AND s.metric = 3");
	uint32_t ib = (uint32_t)q1(
		c, "SELECT s.id FROM series s JOIN entities e ON e.id = s.entity_id "
		   "JOIN devices d ON d.id = e.device_id WHERE d.name = 'PDU B' AND "
		   "e.kind = 'inlet' AND s.metric = 3");
	int32_t d3 = (int32_t)q1(c, "SELECT id FROM devices WHERE name = 'PDU C'");
	int64_t t = 1700000100000LL;
	/* still true: voltage above 228 - 2, rack still not redundant, PDU C still lost */
	struct wt_bucket b[3] = {bk(o2, t, 229), bk(ia, t, 9), bk(ib, t, 8)};
	now_ms = t + 5500;
	wt_rules_on_close(g.e, t, b, 3);
	wt_rules_device_comm(g.e, d3, true, NULL);
	CHECK(ev_count[WT_ALARM_RAISED] == 0, "nothing raised twice after the restart (%d)",
	      ev_count[WT_ALARM_RAISED]);
	/* now false: both clear */
	t += 5000;
	b[0] = bk(o2, t, 225);
	b[1] = bk(ia, t, 3);
	b[2] = bk(ib, t, 4);
	now_ms = t + 5500;
	wt_rules_on_close(g.e, t, b, 3);
	CHECK(ev_count[WT_ALARM_CLEARED] == 3, "voltage and both headroom alarms cleared (%d)",
	      ev_count[WT_ALARM_CLEARED]);
	int64_t vid = q1(
		c,
		"SELECT id FROM alarms WHERE kind = 'threshold' AND threshold_kind = 'warning_above'");
	CHECK(wt_alarms_ack(wt_rules_alarms(g.e), vid, "alice", "PSU swapped") == 0, "ack");
	rig_close(&g);
	CHECK(q1(c, "SELECT count(*) FROM alarms") == 4, "still 4 alarm rows: no duplicate");
	CHECK(q1(c, "SELECT count(*) FROM alarms WHERE active") == 1,
	      "only the comm loss is active");
	CHECK(q1(c,
		 "SELECT count(*) FROM alarms WHERE acked AND acked_by = 'alice' AND ack_comment = 'PSU swapped'") ==
		      1,
	      "ack stored");
	CHECK(q1(c,
		 "SELECT count(*) FROM audit_log WHERE category = 'alarm' AND actor = 'alice'") ==
		      1,
	      "ack audited with its actor");
	return 0;
}

/* PostgreSQL goes away while alarms and audit events keep coming: nothing
 * is lost, everything arrives once it is back. The test driver gives the
 * commands that stop and start the server. */
static int outage(PGconn *c, const char *dsn)
{
	const char *stop = getenv("PG_STOP_CMD"), *start = getenv("PG_START_CMD");
	CHECK(stop && start, "PG_STOP_CMD and PG_START_CMD set");
	if (!stop || !start)
		return 1;
	int64_t before = q1(c, "SELECT count(*) FROM alarms");
	int64_t audit_before = q1(c, "SELECT count(*) FROM audit_log WHERE category = 'outlet'");
	struct rig g;
	rig_open(&g, c, dsn);
	int32_t d1 = (int32_t)q1(c, "SELECT id FROM devices WHERE name = 'PDU A'");
	PQfinish(c);
	CHECK(system(stop) == 0, "database stopped");
	ev_count[WT_ALARM_RAISED] = 0;
	for (int i = 0; i < 5; i++) {
		wt_rules_device_comm(g.e, d1, true, NULL);
		wt_rules_device_comm(g.e, d1, false, NULL);
		char msg[64];
		snprintf(msg, sizeof(msg), "outlet %d switched off", i + 1);
		struct wt_audit_event ev = {.severity = WT_AUDIT_INFO,
					    .category = WT_AUDIT_OUTLET,
					    .actor = "alice",
					    .object_kind = "device",
					    .object_id = d1,
					    .message = msg};
		CHECK(wt_dbq_audit(g.q, &ev) == 0, "audit queued while the database is away");
	}
	CHECK(ev_count[WT_ALARM_RAISED] == 5, "alarms still raised while the database is away");
	struct wt_dbq_stats st;
	wt_dbq_stats(g.q, &st);
	CHECK(st.depth > 0, "writes wait in the queue (%zu)", st.depth);
	CHECK(system(start) == 0, "database started");
	CHECK(wt_dbq_sync(g.q, 60000) == 0, "queue drained after the database came back");
	wt_dbq_stats(g.q, &st);
	CHECK(st.failed == 0 && st.refused == 0, "nothing rejected (%llu failed, %llu refused)",
	      (unsigned long long)st.failed, (unsigned long long)st.refused);
	rig_close(&g);
	c = PQconnectdb(dsn);
	CHECK(PQstatus(c) == CONNECTION_OK, "reconnect");
	CHECK(q1(c, "SELECT count(*) FROM alarms") == before + 5, "5 new alarms stored");
	CHECK(q1(c, "SELECT count(*) FROM alarms WHERE kind = 'comm_lost' AND NOT active") >= 5,
	      "their clearing stored too");
	CHECK(q1(c, "SELECT count(*) FROM audit_log WHERE category = 'outlet'") == audit_before + 5,
	      "5 outlet events in the audit log");
	PQfinish(c);
	return 0;
}

static int expire(PGconn *c, int64_t now)
{
	long deleted = -1;
	CHECK(wt_rulesdb_audit_expire(c, now, &deleted) == 0, "expire");
	printf("deleted %ld\n", deleted);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: t_rules_db setup|restart|expire DSN [NOW_MS]\n");
		return 2;
	}
	PGconn *c = PQconnectdb(argv[2]);
	if (PQstatus(c) != CONNECTION_OK) {
		printf("FAIL: connect: %s\n", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	if (strcmp(argv[1], "setup") == 0)
		setup(c, argv[2]);
	else if (strcmp(argv[1], "restart") == 0)
		restart(c, argv[2]);
	else if (strcmp(argv[1], "expire") == 0 && argc > 3)
		expire(c, strtoll(argv[3], NULL, 10));
	else if (strcmp(argv[1], "outage") == 0) {
		outage(c, argv[2]);
		c = NULL; /* outage() closed it */
	} else
		CHECK(0, "unknown command %s", argv[1]);
	if (c)
		PQfinish(c);
	printf("%d of %d checks passed\n", checks - failures, checks);
	return failures ? 1 : 0;
}
