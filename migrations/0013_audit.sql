-- 0013_audit: the audit log (rules/audit.h): alarm state changes, logins and
-- failed logins, configuration and structure changes, outlet switching,
-- devices appearing and disappearing.
--
-- Retention is set in days per class: info (debug, log and info entries),
-- open warning, open error, closed warning, closed error; 0 keeps forever;
-- severity "always" is never deleted. The class is a stored generated
-- column with an index on (class, ts), so each class's expiry is one index
-- range delete, whatever the mix of severities and states, and closing an
-- entry moves it to its closed class by itself.

CREATE TABLE audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts        timestamptz NOT NULL DEFAULT now(),
    -- 0 debug, 1 log, 2 info, 3 warning, 4 error, 5 always
    severity  smallint NOT NULL CHECK (severity BETWEEN 0 AND 5),
    -- 0 open, 1 investigating, 2 done
    state     smallint NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2),
    category  text NOT NULL CHECK (category IN ('alarm', 'login', 'login_failed', 'config',
                                                'structure', 'rule', 'outlet', 'device',
                                                'system')),
    actor     text,              -- user name, or NULL for wattrack itself
    object_kind text,            -- 'alarm', 'device', 'rack', 'rule', ...
    object_id bigint,
    message   text NOT NULL,
    details   jsonb,
    retention_class smallint GENERATED ALWAYS AS (
        CASE WHEN severity = 5 THEN 0
             WHEN severity <= 2 THEN 1
             WHEN severity = 3 THEN CASE WHEN state = 2 THEN 4 ELSE 2 END
             ELSE CASE WHEN state = 2 THEN 5 ELSE 3 END
        END) STORED
);
CREATE INDEX audit_log_retention ON audit_log (retention_class, ts);
CREATE INDEX audit_log_ts ON audit_log (ts);
CREATE INDEX audit_log_object ON audit_log (object_kind, object_id) WHERE object_id IS NOT NULL;

CREATE TABLE audit_comments (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    audit_id  bigint NOT NULL REFERENCES audit_log (id) ON DELETE CASCADE,
    ts        timestamptz NOT NULL DEFAULT now(),
    author    text NOT NULL,
    comment   text NOT NULL
);
CREATE INDEX audit_comments_entry ON audit_comments (audit_id);

CREATE TABLE audit_retention (
    class  smallint PRIMARY KEY CHECK (class BETWEEN 1 AND 5),
    name   text NOT NULL UNIQUE,
    days   integer NOT NULL DEFAULT 5 CHECK (days >= 0)   -- 0 = forever
);
INSERT INTO audit_retention (class, name) VALUES
    (1, 'info'), (2, 'open_warning'), (3, 'open_error'), (4, 'closed_warning'), (5, 'closed_error');
