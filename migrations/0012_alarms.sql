-- 0012_alarms: alarms (rules/alarm.h). Rows are written by the alarm writer
-- thread (rules/dbq.c) from in-memory snapshots, so the id is chosen by
-- wattrack: blocks of 1000 from alarm_ids (several instances can share the
-- database), with a time-based fallback far above the sequence while the
-- database is away.
CREATE SEQUENCE alarm_ids AS bigint INCREMENT BY 1000 MINVALUE 1 START 1;

CREATE TABLE alarms (
    id              bigint PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('threshold', 'comm_lost', 'reboot')),
    active          boolean NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('warning', 'critical')),
    threshold_kind  text CHECK (threshold_kind IN ('critical_above', 'warning_above',
                                                   'warning_below', 'critical_below')),
    value           double precision,   -- the tripping value
    threshold       double precision,
    -- No foreign keys: an alarm is history and outlives its rule, series,
    -- device or rack. Names are kept in message and rule_name.
    rule_id         integer,
    rule_name       text,
    series_id       integer,
    device_id       integer,
    entity_id       integer,
    element_id      integer,            -- where it escalates from
    message         text NOT NULL,
    raised_at       timestamptz NOT NULL,
    cleared_at      timestamptz,
    updated_at      timestamptz NOT NULL,
    last_notify_at  timestamptz,
    acked           boolean NOT NULL DEFAULT false,
    acked_at        timestamptz,
    acked_by        text,
    ack_comment     text,
    CHECK (active OR cleared_at IS NOT NULL),
    CHECK (NOT acked OR acked_at IS NOT NULL)
);
-- What a restart loads back: active or not yet acknowledged.
CREATE INDEX alarms_open ON alarms (id) WHERE active OR NOT acked;
CREATE INDEX alarms_raised ON alarms (raised_at);
CREATE INDEX alarms_device ON alarms (device_id, raised_at) WHERE device_id IS NOT NULL;
CREATE INDEX alarms_element ON alarms (element_id, raised_at) WHERE element_id IS NOT NULL;
