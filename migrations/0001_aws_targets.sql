-- The AWS resources Gatehouse manages. A resource is known by its kind, its
-- WAF scope (REGIONAL or CLOUDFRONT; NULL for non-WAF resources) and its name;
-- AWS's own id and ARN are recorded as AWS reported them.
CREATE TABLE aws_targets (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN (
                    'web_acl', 'ip_set', 'dynamodb_table',
                    'cognito_user_pool', 'cognito_app_client')),
    scope       TEXT CHECK (scope IN ('REGIONAL', 'CLOUDFRONT')),
    name        TEXT NOT NULL CHECK (name <> ''),
    aws_id      TEXT NOT NULL CHECK (aws_id <> ''),
    arn         TEXT,
    region      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT aws_targets_scope_only_for_waf
        CHECK ((kind IN ('web_acl', 'ip_set')) = (scope IS NOT NULL)),
    CONSTRAINT aws_targets_unique UNIQUE NULLS NOT DISTINCT (kind, scope, name)
);
