-- Drafts of a web ACL's rules (SPEC §3): what an editor is changing, with the
-- live state it started from, so a change request can carry it, show its
-- diff and apply it with the LockToken it was based on.
CREATE TABLE rule_drafts (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    web_acl_name        TEXT NOT NULL,
    web_acl_scope       TEXT NOT NULL CHECK (web_acl_scope IN ('REGIONAL', 'CLOUDFRONT')),
    web_acl_id          TEXT NOT NULL,
    title               TEXT NOT NULL DEFAULT '',
    author              TEXT NOT NULL,
    author_sub          TEXT,
    -- The live state the draft started from: the LockToken, the rules (as
    -- the console's JSON editor shows them), and the whole WebACL object as
    -- AWS sent it (its other settings are carried over on apply).
    base_lock_token     TEXT NOT NULL,
    base_rules          JSONB NOT NULL CHECK (jsonb_typeof(base_rules) = 'array'),
    base_web_acl        JSONB NOT NULL,
    rules               JSONB NOT NULL CHECK (jsonb_typeof(rules) = 'array'),
    status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'discarded')),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX rule_drafts_open ON rule_drafts (updated_at DESC) WHERE status = 'open';
