-- Analyses run on Amazon Athena (issue 17): each run of a statement, its
-- progress and, once it succeeded, its rows. A shared link or a chart drawn
-- again reads the newest run of the same question instead of scanning (and
-- billing) again; "Run again" starts a new one.
CREATE TABLE athena_runs (
    id                 BIGSERIAL PRIMARY KEY,
    -- The registered log source the statement ran on.
    source             TEXT NOT NULL CHECK (source <> ''),
    -- SHA-256 of the source, the statement and its parameters.
    question           BYTEA NOT NULL CHECK (length(question) = 32),
    sql                TEXT NOT NULL,
    parameters         JSONB NOT NULL,
    query_execution_id TEXT,
    state              TEXT NOT NULL
                       CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    -- Why it failed or was cancelled, as the person is told.
    reason             TEXT,
    bytes_scanned      BIGINT NOT NULL DEFAULT 0 CHECK (bytes_scanned >= 0),
    execution_ms       BIGINT NOT NULL DEFAULT 0 CHECK (execution_ms >= 0),
    -- The result: {"columns": [...], "rows": [[text or null, ...], ...]}.
    result             JSONB,
    started_by         TEXT NOT NULL,
    started_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at        TIMESTAMPTZ,
    CHECK ((state = 'succeeded') = (result IS NOT NULL)),
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);

CREATE INDEX athena_runs_question ON athena_runs (question, id DESC);
