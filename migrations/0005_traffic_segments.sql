-- Imported counts move from one row per second and key to packed segments
-- (app/src/traffic/segment.rs): one bytea per file, or per stretch of a large
-- file, holding the same counts per second and per (client IP, URI, method,
-- country) and per forwarded-IP header. An analysis reads the segments of its
-- time range and counts them in memory; the per-row tables made every
-- analysis group hundreds of thousands of rows in SQL, and every import write
-- as many.
CREATE TABLE traffic_segments (
    file_id         BIGINT NOT NULL REFERENCES log_files ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    -- The seconds (since the Unix epoch) of its first and last counts.
    first_second    BIGINT NOT NULL,
    last_second     BIGINT NOT NULL CHECK (last_second >= first_second),
    data            BYTEA NOT NULL,
    -- The same counts summed per client IP and 10-second bucket: all that an
    -- analysis by IP without filters over whole 10-second steps reads.
    by_ip           BYTEA NOT NULL,
    PRIMARY KEY (file_id, seq)
);
-- Stored as written: the packing already keeps them small, and compressing
-- them would cost every import and every analysis.
ALTER TABLE traffic_segments ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE traffic_segments ALTER COLUMN by_ip SET STORAGE EXTERNAL;
CREATE INDEX traffic_segments_span ON traffic_segments (first_second, last_second);

-- Counts in the old tables cannot be repacked here. Their files are
-- forgotten (their imports stay listed, and audited), so importing the same
-- files again counts them anew instead of skipping them as already imported.
DELETE FROM log_files;
DROP TABLE traffic_counts;
DROP TABLE traffic_forwarded;
