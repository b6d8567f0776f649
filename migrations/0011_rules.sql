-- 0011_rules: threshold rules (rules/rule.h). Thresholds use the Redfish
-- vocabulary, each with its own enable flag so a disabled threshold keeps
-- its value for when it is switched back on.

CREATE TABLE rules (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    enabled       boolean NOT NULL DEFAULT true,
    metric        smallint NOT NULL REFERENCES metrics (id),
    scope         text NOT NULL CHECK (scope IN ('global', 'type', 'model', 'device', 'entity',
                                                 'site', 'room', 'row', 'rack')),
    -- Exactly the column its scope needs is set; a rule dies with its object.
    device_id     integer REFERENCES devices (id) ON DELETE CASCADE,
    entity_id     integer REFERENCES entities (id) ON DELETE CASCADE,
    element_id    integer REFERENCES structure_elements (id) ON DELETE CASCADE,
    scope_text    text,                 -- device type or model
    -- Only entities of this kind (device scopes) or elements of this kind
    -- (structure scopes); NULL = any.
    target_kind   text CHECK (target_kind IN ('total', 'inlet', 'phase', 'branch', 'outlet',
                                              'sensor', 'battery', 'bypass', 'output',
                                              'site', 'room', 'row', 'rack')),
    critical_above     double precision,
    critical_above_on  boolean NOT NULL DEFAULT false,
    warning_above      double precision,
    warning_above_on   boolean NOT NULL DEFAULT false,
    warning_below      double precision,
    warning_below_on   boolean NOT NULL DEFAULT false,
    critical_below     double precision,
    critical_below_on  boolean NOT NULL DEFAULT false,
    hysteresis    double precision NOT NULL DEFAULT 0 CHECK (hysteresis >= 0),
    dwell_s       integer NOT NULL DEFAULT 0 CHECK (dwell_s BETWEEN 0 AND 86400),
    -- Notification repeat while active: 0 none; the console offers 10, 30,
    -- 60 minutes or a custom value.
    repeat_s      integer NOT NULL DEFAULT 0 CHECK (repeat_s BETWEEN 0 AND 604800),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((scope = 'device') = (device_id IS NOT NULL)),
    CHECK ((scope = 'entity') = (entity_id IS NOT NULL)),
    CHECK ((scope IN ('site', 'room', 'row', 'rack')) = (element_id IS NOT NULL)),
    CHECK ((scope IN ('type', 'model')) = (scope_text IS NOT NULL)),
    CHECK (NOT critical_above_on OR critical_above IS NOT NULL),
    CHECK (NOT warning_above_on OR warning_above IS NOT NULL),
    CHECK (NOT warning_below_on OR warning_below IS NOT NULL),
    CHECK (NOT critical_below_on OR critical_below IS NOT NULL)
);
CREATE INDEX rules_device ON rules (device_id) WHERE device_id IS NOT NULL;
CREATE INDEX rules_entity ON rules (entity_id) WHERE entity_id IS NOT NULL;
CREATE INDEX rules_element ON rules (element_id) WHERE element_id IS NOT NULL;
