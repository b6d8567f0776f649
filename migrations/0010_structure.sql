-- 0010_structure: the data-centre tree (site > room > row > rack) and the
-- placement of devices in racks (devices.rack_id + devices.feed, 0001).
--
-- One table for all four levels: element ids are unique across levels, which
-- is what series.owner_id and rule scopes refer to, and a move is an update
-- of parent_id. The level order is enforced by a trigger because a CHECK
-- cannot look at the parent row.

CREATE TABLE structure_elements (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('site', 'room', 'row', 'rack')),
    -- NO ACTION: deleting an element with children is refused; the rules
    -- layer deletes a whole subtree in one statement only when asked to
    -- cascade (checked at statement end, so the order inside does not matter).
    parent_id   integer REFERENCES structure_elements (id),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    attributes  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    budget_w    real CHECK (budget_w >= 0),   -- rack power budget, W
    budget_a    real CHECK (budget_a >= 0),   -- rack current budget per phase, A
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'site') = (parent_id IS NULL))
);
-- Sibling names are unique (case-insensitive), so a path names one element.
CREATE UNIQUE INDEX structure_elements_sibling_name
    ON structure_elements (coalesce(parent_id, 0), lower(name));
CREATE INDEX structure_elements_parent ON structure_elements (parent_id);

CREATE FUNCTION structure_check_parent() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pk text;
BEGIN
    IF NEW.parent_id IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT kind INTO pk FROM structure_elements WHERE id = NEW.parent_id;
    IF (pk, NEW.kind) NOT IN (('site', 'room'), ('room', 'row'), ('row', 'rack')) THEN
        RAISE EXCEPTION 'a % cannot be placed in a %', NEW.kind, coalesce(pk, 'missing parent')
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER structure_elements_parent_kind
    BEFORE INSERT OR UPDATE OF parent_id, kind ON structure_elements
    FOR EACH ROW EXECUTE FUNCTION structure_check_parent();

-- Devices sit in racks only.
ALTER TABLE devices ADD CONSTRAINT devices_rack_fk
    FOREIGN KEY (rack_id) REFERENCES structure_elements (id);
CREATE INDEX devices_rack ON devices (rack_id) WHERE rack_id IS NOT NULL;

CREATE FUNCTION devices_check_rack() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.rack_id IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM structure_elements WHERE id = NEW.rack_id AND kind = 'rack') THEN
        RAISE EXCEPTION 'element % is not a rack', NEW.rack_id USING ERRCODE = 'check_violation';
    END IF;
    -- The feed of an unassigned device is kept (configured ahead of the
    -- rack); aggregates only use it once the device is in a rack.
    RETURN NEW;
END $$;
CREATE TRIGGER devices_rack_kind
    BEFORE INSERT OR UPDATE OF rack_id, feed ON devices
    FOR EACH ROW EXECUTE FUNCTION devices_check_rack();
