-- Change requests (SPEC §6): a draft becomes a change request, which is
-- reviewed, approved by someone other than its author and applied to AWS.
-- A draft *is* a change request in status 'draft', so the rules drafts of
-- 0006 become the first change requests. The columns are named for any kind
-- of change (web ACL rules now; policies, countries and IP sets later): the
-- target, the live state it is based on (the token AWS checks on write, the
-- content, and the rest of the resource as read) and the proposed content.
ALTER TABLE rule_drafts RENAME TO change_requests;
ALTER INDEX rule_drafts_open RENAME TO change_requests_drafts;
ALTER TABLE change_requests RENAME COLUMN web_acl_name TO target_name;
ALTER TABLE change_requests RENAME COLUMN web_acl_scope TO target_scope;
ALTER TABLE change_requests RENAME COLUMN web_acl_id TO target_id;
ALTER TABLE change_requests RENAME COLUMN base_lock_token TO base_token;
ALTER TABLE change_requests RENAME COLUMN base_rules TO base_content;
ALTER TABLE change_requests RENAME COLUMN base_web_acl TO base_resource;
ALTER TABLE change_requests RENAME COLUMN rules TO content;
ALTER TABLE change_requests DROP CONSTRAINT rule_drafts_web_acl_scope_check;
ALTER TABLE change_requests DROP CONSTRAINT rule_drafts_base_rules_check;
ALTER TABLE change_requests DROP CONSTRAINT rule_drafts_rules_check;
ALTER TABLE change_requests DROP CONSTRAINT rule_drafts_status_check;
ALTER TABLE change_requests ALTER COLUMN status SET DEFAULT 'draft';
UPDATE change_requests SET status = CASE status WHEN 'open' THEN 'draft' ELSE 'withdrawn' END;

ALTER TABLE change_requests
    ADD COLUMN kind TEXT NOT NULL DEFAULT 'web_acl_rules' CHECK (kind IN ('web_acl_rules')),
    ADD COLUMN description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
    -- Evidence attached by the author: traffic analyses with what they found,
    -- frozen when attached.
    ADD COLUMN evidence JSONB NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(evidence) = 'array'),
    -- SHA-256 of exactly what is reviewed (target, base token, content,
    -- title, description); approvals count only while it is unchanged.
    ADD COLUMN content_hash TEXT NOT NULL DEFAULT '',
    ADD COLUMN required_approvals INTEGER NOT NULL DEFAULT 1 CHECK (required_approvals >= 1),
    ADD COLUMN submitted_at TIMESTAMPTZ,
    -- The apply: which attempt, since when it is under way (status
    -- 'applying'), and what it ended with.
    ADD COLUMN apply_attempts INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN applying_since TIMESTAMPTZ,
    ADD COLUMN applied_at TIMESTAMPTZ,
    ADD COLUMN applied_by TEXT,
    ADD COLUMN applied_token TEXT,
    ADD COLUMN aws_request_id TEXT,
    ADD COLUMN failure TEXT,
    -- When it went stale: the live state found instead of its base.
    ADD COLUMN stale_token TEXT,
    ADD COLUMN stale_content JSONB,
    ADD COLUMN stale_resource JSONB,
    -- A rollback restores the state before this applied change.
    ADD COLUMN rollback_of UUID REFERENCES change_requests (id),
    ADD CONSTRAINT change_requests_status_check CHECK (status IN (
        'draft', 'in_review', 'approved', 'applying', 'applied',
        'rejected', 'withdrawn', 'failed', 'stale'));

CREATE INDEX change_requests_status ON change_requests (status, updated_at DESC);
CREATE INDEX change_requests_target ON change_requests (kind, target_scope, target_name, applied_at DESC);

-- An approval is of one exact content: it counts while the change request's
-- content_hash equals the one approved.
CREATE TABLE change_request_approvals (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_request_id   UUID NOT NULL REFERENCES change_requests (id),
    approver            TEXT NOT NULL,
    approver_sub        TEXT,
    content_hash        TEXT NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    approved_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (change_request_id, approver, content_hash)
);

CREATE TABLE change_request_comments (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_request_id   UUID NOT NULL REFERENCES change_requests (id),
    author              TEXT NOT NULL,
    body                TEXT NOT NULL CHECK (body <> '' AND length(body) <= 10000),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX change_request_comments_by_request ON change_request_comments (change_request_id, id);

-- A change request's timeline is its audit events.
CREATE INDEX audit_events_target ON audit_events (target);
