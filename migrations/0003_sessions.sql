-- Server-side sessions. The browser holds only an opaque random id; the
-- table keeps its SHA-256, so a leaked table cannot be replayed as cookies.
-- Cognito's tokens stay here and never reach the browser.
CREATE TABLE sessions (
    id_hash             TEXT PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    sub                 TEXT NOT NULL,
    username            TEXT NOT NULL,
    groups              TEXT[] NOT NULL,
    access_token        TEXT NOT NULL,
    refresh_token       TEXT,
    access_expires_at   TIMESTAMPTZ NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at          TIMESTAMPTZ NOT NULL,
    client_ip           TEXT,
    user_agent          TEXT
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- A password challenge (NEW_PASSWORD_REQUIRED) between the two forms of a
-- sign-in: Cognito's session string stays here, the form carries an id.
CREATE TABLE sign_in_challenges (
    id_hash         TEXT PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    username        TEXT NOT NULL,
    cognito_session TEXT NOT NULL,
    next_path       TEXT NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL
);

-- Failed sign-ins, counted per username and per client IP to throttle
-- guessing. Kept in the database so the limit survives restarts and holds
-- across replicas.
CREATE TABLE sign_in_failures (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username    TEXT NOT NULL,
    client_ip   TEXT NOT NULL,
    failed_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_username ON sign_in_failures (lower(username), failed_at);
CREATE INDEX sign_in_failures_ip ON sign_in_failures (client_ip, failed_at);
