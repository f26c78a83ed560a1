-- Threshold health (the dashboard and `gatehouse traffic health`) is judged
-- by settings: the percentile of the per-key peaks, the days of imported
-- logs, and each verdict's threshold, held as one JSON value.
ALTER TABLE settings DROP CONSTRAINT settings_key_check;
ALTER TABLE settings ADD CONSTRAINT settings_key_check
    CHECK (key IN ('role_groups', 'required_approvals', 'threshold_health'));
