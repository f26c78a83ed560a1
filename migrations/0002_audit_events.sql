-- The audit trail: append-only and hash-chained.
--
-- Each event's hash is SHA-256 over the previous event's hash and a canonical
-- encoding of the event (see app/src/audit/chain.rs), so changing, removing
-- or reordering an event breaks the chain from there on, which
-- `gatehouse audit verify` reports. `before` and `after` are kept as the
-- exact canonical JSON text that was hashed.
CREATE TABLE audit_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at     TIMESTAMPTZ NOT NULL,
    actor_sub       TEXT,
    actor_username  TEXT,
    action          TEXT NOT NULL CHECK (action <> ''),
    target          TEXT,
    before          TEXT,
    after           TEXT,
    aws_request_id  TEXT,
    client_ip       TEXT,
    user_agent      TEXT,
    prev_hash       TEXT NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash            TEXT NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);

CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);
CREATE INDEX audit_events_actor ON audit_events (actor_username);
CREATE INDEX audit_events_action ON audit_events (action);

-- Nobody changes or removes an event, the table's owner included; a
-- superuser has to disable this trigger first, which is itself visible.
CREATE FUNCTION audit_events_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_are_append_only();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_are_append_only();

-- The role the application acts as on every pooled connection (SET ROLE
-- after connecting; see server/src/db.rs). Migrations run as the owner;
-- the application may read everything and write what it must, but may only
-- read and append audit events. Roles are per cluster, so creating it
-- tolerates another database of the cluster having created it first.
DO $$
BEGIN
    CREATE ROLE gatehouse_app NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END;
$$;
GRANT gatehouse_app TO CURRENT_USER;

GRANT USAGE ON SCHEMA public TO gatehouse_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO gatehouse_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO gatehouse_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO gatehouse_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO gatehouse_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM gatehouse_app;
REVOKE ALL ON _sqlx_migrations FROM gatehouse_app;
GRANT SELECT ON _sqlx_migrations TO gatehouse_app;
