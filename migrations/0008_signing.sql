-- Signing: who signed or refused and when, each contract's signed revisions, and the one-time
-- codes that prove a signer holds the mobile their link was issued for.

ALTER TABLE flow_approvers ADD COLUMN routing_order BIGINT NOT NULL DEFAULT 0;
-- Contracts made before this migration take their recipients' order from the template as it is.
UPDATE flow_approvers SET routing_order = COALESCE((
    SELECT r.routing_order FROM flows f
    JOIN template_recipients r ON r.app_id = f.app_id AND r.template_id = f.template_id
    WHERE f.flow_id = flow_approvers.flow_id AND r.recipient_id = flow_approvers.recipient_id
), position);
ALTER TABLE flow_approvers ADD COLUMN approve_time BIGINT;
ALTER TABLE flow_approvers ADD COLUMN approve_message TEXT;
-- Where the signature came from, kept for the evidence of who signed.
ALTER TABLE flow_approvers ADD COLUMN sign_ip TEXT;
ALTER TABLE flow_approvers ADD COLUMN sign_user_agent TEXT;
ALTER TABLE flows ADD COLUMN flow_message TEXT;
-- How the signing page treats the approver: seconds the sign button waits (PreReadTime), and
-- whether refusing is offered (ApproverOption.NoRefuse).
ALTER TABLE flow_approvers ADD COLUMN pre_read_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE flow_approvers ADD COLUMN no_refuse BIGINT NOT NULL DEFAULT 0;

-- Contracts made before template snapshots, which the start-up step pins (once).
CREATE INDEX flows_without_snapshot ON flows (flow_id) WHERE template_snapshot IS NULL;

-- Auto-signers still to sign: what the auto-sign sweep looks through.
CREATE INDEX flow_approvers_auto_sign ON flow_approvers (flow_id) WHERE signer = 'AUTO_SIGN' AND status = 'PENDING';

-- Each signing makes one revision of the contract: the previous revision's bytes plus one
-- incremental update (revision 0 is the document in flow_documents). The primary key is what
-- serialises two signers of one contract: both build on revision N, only one writes N + 1, and
-- the other builds again on it.
CREATE TABLE flow_revisions (
    flow_id TEXT NOT NULL REFERENCES flows (flow_id) ON DELETE CASCADE,
    revision BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    sign_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (flow_id, revision)
);

-- One-time codes, per link (the link's token digest). The code is stored as a digest too.
-- `failures` counts wrong codes since the last lock; the fifth locks the link until `locked_until`.
CREATE TABLE sign_codes (
    token_sha256 TEXT PRIMARY KEY,
    code_sha256 TEXT,
    expires_at BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
