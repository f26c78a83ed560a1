-- Imported AWS WAF logs (SPEC §2), kept as request counts per second so the
-- analyses can answer any window, key and filter exactly without the raw
-- records.

-- One run of an import: a command, an upload, an S3 prefix or the demo.
CREATE TABLE log_imports (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source              TEXT NOT NULL CHECK (source IN ('cli', 'upload', 's3', 'demo')),
    imported_by         TEXT NOT NULL,
    started_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at         TIMESTAMPTZ,
    files               INTEGER NOT NULL DEFAULT 0,
    records             BIGINT NOT NULL DEFAULT 0,
    malformed           BIGINT NOT NULL DEFAULT 0,
    duplicates_skipped  BIGINT NOT NULL DEFAULT 0,
    first_at            TIMESTAMPTZ,
    last_at             TIMESTAMPTZ,
    -- The first malformed lines and broken files, as {file, line, error}.
    problems            JSONB NOT NULL DEFAULT '[]'
);

-- One file's content, once: its SHA-256 makes a re-import count nothing twice.
CREATE TABLE log_files (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    import_id       BIGINT NOT NULL REFERENCES log_imports ON DELETE CASCADE,
    sha256          BYTEA NOT NULL UNIQUE CHECK (length(sha256) = 32),
    name            TEXT NOT NULL,
    records         BIGINT NOT NULL DEFAULT 0,
    malformed       BIGINT NOT NULL DEFAULT 0,
    -- Records whose clientIp is not an IP address (some exports redact it).
    redacted_ips    BIGINT NOT NULL DEFAULT 0,
    truncated       BOOLEAN NOT NULL DEFAULT false,
    first_at        TIMESTAMPTZ,
    last_at         TIMESTAMPTZ
);
CREATE INDEX log_files_import ON log_files (import_id);

-- Requests per second and per (client IP, URI, method, country). No foreign
-- key: a per-row check would halve the import speed; rows are only ever
-- written in the transaction that writes their log_files row.
CREATE TABLE traffic_counts (
    file_id     BIGINT NOT NULL,
    second      BIGINT NOT NULL,
    client_ip   TEXT COLLATE "C" NOT NULL,
    uri         TEXT COLLATE "C" NOT NULL,
    method      TEXT COLLATE "C" NOT NULL,
    country     TEXT COLLATE "C",
    requests    INTEGER NOT NULL CHECK (requests > 0)
);
CREATE INDEX traffic_counts_second ON traffic_counts (second);

-- The same for requests that carry a header whose first value is an IP
-- address (X-Forwarded-For, True-Client-IP, …), one row per such header,
-- for rate keys on FORWARDED_IP. Header names are stored in lower case.
CREATE TABLE traffic_forwarded (
    file_id         BIGINT NOT NULL,
    second          BIGINT NOT NULL,
    header          TEXT COLLATE "C" NOT NULL,
    forwarded_ip    TEXT COLLATE "C" NOT NULL,
    uri             TEXT COLLATE "C" NOT NULL,
    method          TEXT COLLATE "C" NOT NULL,
    country         TEXT COLLATE "C",
    requests        INTEGER NOT NULL CHECK (requests > 0)
);
CREATE INDEX traffic_forwarded_header_second ON traffic_forwarded (header, second);
