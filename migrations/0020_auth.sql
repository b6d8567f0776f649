-- 0020_auth: users, roles, sessions, API tokens and login throttling (api/).
--
-- Secrets are never stored in clear: passwords as salted scrypt strings
-- ("$scrypt$ln=15,r=8,p=1$salt$hash"), session ids and API tokens as the
-- SHA-256 of a 256-bit random value (a fast hash is enough for values with
-- that much entropy, and it lets the lookup be an index probe).

CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       text NOT NULL CHECK (username ~ '^[A-Za-z0-9._@-]{1,64}$'),
    source         text NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'ldap')),
    password_hash  text,              -- NULL for directory accounts
    -- Roles are a closed vocabulary (api/roles.c); several per user.
    roles          text[] NOT NULL DEFAULT '{}'
                   CHECK (roles <@ ARRAY['admin', 'readwrite', 'power', 'poweron',
                                         'poweroff', 'readonly']::text[]),
    must_change    boolean NOT NULL DEFAULT false,
    disabled       boolean NOT NULL DEFAULT false,
    full_name      text,
    email          text,
    ldap_dn        text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz,
    last_login_at  timestamptz,
    CHECK (source = 'ldap' OR password_hash IS NOT NULL)
);
-- Logins are case-insensitive: "Admin" and "admin" are one account.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE sessions (
    id_hash        bytea PRIMARY KEY,      -- sha256 of the cookie value
    user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token     text NOT NULL,          -- synchronizer token for cookie writes
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    source         text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_last_seen_idx ON sessions (last_seen_at);

CREATE TABLE api_tokens (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           text NOT NULL,
    token_hash     bytea NOT NULL UNIQUE,  -- sha256 of the bearer value
    prefix         text NOT NULL,          -- first characters, to recognise a token in lists
    -- At use, effective roles = these AND the owner's current roles, so
    -- taking a role from a user also takes it from their tokens.
    roles          text[] NOT NULL
                   CHECK (roles <@ ARRAY['admin', 'readwrite', 'power', 'poweron',
                                         'poweroff', 'readonly']::text[]),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    last_used_at   timestamptz,
    revoked_at     timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- Failed-login counters per account ('user:<lower name>') and per source
-- address ('addr:<ip>'), shared by every wattrack on this database.
CREATE TABLE login_throttle (
    key            text PRIMARY KEY,
    failures       integer NOT NULL DEFAULT 0,
    last_failure   timestamptz NOT NULL DEFAULT now(),
    locked_until   timestamptz
);
