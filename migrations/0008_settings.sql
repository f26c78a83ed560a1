-- Settings (SPEC §9): what Gatehouse manages, who holds which role and how
-- many approvals a change needs. They are changed through change requests
-- of kind 'settings' (approved by a second admin) or by the machine's
-- operator on the command line; both are audited.

-- The values set in the console. A value from the configuration file or
-- the environment wins over the one here; the page says which applies.
CREATE TABLE settings (
    key         TEXT PRIMARY KEY CHECK (key IN ('role_groups', 'required_approvals')),
    value       JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by  TEXT
);

-- Managed resources gain two kinds: the VPN geofencing set (its geo web ACL,
-- NAT IP set, deny policy and optional SCP, kept in `detail`) and WAF log
-- data sources.
ALTER TABLE aws_targets DROP CONSTRAINT aws_targets_kind_check;
ALTER TABLE aws_targets ADD CONSTRAINT aws_targets_kind_check CHECK (kind IN (
    'web_acl', 'ip_set', 'dynamodb_table', 'cognito_user_pool', 'cognito_app_client',
    'vpn_geofencing', 'log_source'));
ALTER TABLE aws_targets ADD COLUMN detail JSONB NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(detail) = 'object');

-- Settings are the second kind of change request.
ALTER TABLE change_requests DROP CONSTRAINT change_requests_kind_check;
ALTER TABLE change_requests ADD CONSTRAINT change_requests_kind_check
    CHECK (kind IN ('web_acl_rules', 'settings'));

-- The demo used to register the VPN set's web ACL and IP set as targets of
-- their own; they are parts of the set now.
DELETE FROM aws_targets WHERE kind = 'ip_set';
