-- Refusals of callers who are not signed in (failed sign-ins, refused
-- hosted-UI callbacks, cross-site posts without a session) are counted here
-- per source address, action and minute, and written to the audit trail as
-- one event per row when the minute closes or the count reaches a
-- threshold: a flood of anonymous requests adds a handful of events, not one
-- each, and takes the audit trail's writer lock once per row, not per
-- request. Owned by app::audit::refusals.
CREATE TABLE anonymous_refusals (
    minute      TIMESTAMPTZ NOT NULL,
    client_ip   TEXT NOT NULL,
    action      TEXT NOT NULL,
    count       BIGINT NOT NULL,
    -- The first few usernames tried and reasons given, as examples.
    usernames   TEXT[] NOT NULL DEFAULT '{}',
    reasons     TEXT[] NOT NULL DEFAULT '{}',
    user_agent  TEXT,
    PRIMARY KEY (minute, client_ip, action)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON anonymous_refusals TO gatehouse_app;
