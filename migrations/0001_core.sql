-- 0001_core: devices, entities, series (DESIGN.md "The canonical measurement model").
--
-- Ids are int4: series ids index the rollup's dense in-memory arrays, so
-- they must stay small and stable (identity, never reused).

-- The metric vocabulary mirrors server/model.c; wattrack upserts every row
-- at start-up so SQL readers can join names and units. id = enum wt_metric.
CREATE TABLE metrics (
    id      smallint PRIMARY KEY,
    name    text NOT NULL UNIQUE,
    unit    text NOT NULL,
    flags   integer NOT NULL          -- WT_MF_*: 1 counter, 2 state, 4 summable
);

CREATE TABLE devices (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL,
    protocol      text NOT NULL CHECK (protocol IN ('snmp', 'modbus', 'redfish')),
    address       text NOT NULL,
    port          integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    unit          integer NOT NULL DEFAULT 0,   -- daisy-chain unit / Modbus unit id
    -- Credentials (SNMP communities, v3 keys, Redfish passwords). This column
    -- is never selected by the API: only the poller reads it.
    credentials   jsonb NOT NULL DEFAULT '{}',
    profile       text,
    vendor        text,
    model         text,
    serial        text,
    firmware      text,
    rating_a      real,
    phases        smallint CHECK (phases IN (1, 2, 3)),
    feed          text NOT NULL DEFAULT 'none' CHECK (feed IN ('A', 'B', 'C', 'D', 'none')),
    rack_id       integer,            -- FK to racks added by the rules migrations
    location      text,
    info          jsonb NOT NULL DEFAULT '{}',
    state         text NOT NULL DEFAULT 'unknown'
                  CHECK (state IN ('unknown', 'ok', 'comm_lost', 'disabled')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (protocol, address, port, unit)
);

CREATE TABLE entities (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id   integer NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('total', 'inlet', 'phase', 'branch', 'outlet',
                                               'sensor', 'battery', 'bypass', 'output')),
    idx         integer NOT NULL,     -- index within its kind on the device, from 1
    name        text NOT NULL,        -- editable
    parent_id   integer REFERENCES entities (id) ON DELETE SET NULL,
    attributes  jsonb NOT NULL DEFAULT '{}',   -- rating, phase, switchable, ...
    UNIQUE (device_id, kind, idx)
);
CREATE INDEX entities_parent ON entities (parent_id);

-- A series is (entity, metric), or an aggregate owned by a structure element
-- (rack/row/room, tables added by the rules migrations) with an optional
-- phase and feed qualifier. Exactly one of the two owners is set.
CREATE TABLE series (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    metric      smallint NOT NULL REFERENCES metrics (id),
    entity_id   integer REFERENCES entities (id) ON DELETE CASCADE,
    owner_kind  text CHECK (owner_kind IN ('rack', 'row', 'room', 'site')),
    owner_id    integer,
    agg_phase   smallint,             -- 1..3, NULL = all phases
    agg_feed    text CHECK (agg_feed IN ('A', 'B', 'C', 'D')),  -- NULL = all feeds
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((entity_id IS NULL) = (owner_kind IS NOT NULL)),
    CHECK ((owner_kind IS NULL) = (owner_id IS NULL)),
    CHECK (entity_id IS NULL OR (agg_phase IS NULL AND agg_feed IS NULL)),
    UNIQUE (entity_id, metric)
);
CREATE UNIQUE INDEX series_aggregate ON series (owner_kind, owner_id, metric, agg_phase, agg_feed)
    NULLS NOT DISTINCT WHERE owner_kind IS NOT NULL;
