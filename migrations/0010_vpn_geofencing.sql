-- Client VPN geofencing sets as a kind of change request.
ALTER TABLE change_requests DROP CONSTRAINT change_requests_kind_check;
ALTER TABLE change_requests ADD CONSTRAINT change_requests_kind_check
    CHECK (kind IN ('web_acl_rules', 'settings', 'policy_mappings', 'vpn_geofencing'));
