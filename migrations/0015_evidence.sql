-- The evidence trail a dispute needs, beside what earlier tables already keep (who created a
-- contract: flow_groups/flows; each link: sign_links; each signing: flow_approvers, flow_revisions),
-- and the evidence reports made from it.

-- Which action issued a link (ChannelCreateBatchQuickSignUrl, CreateSignUrls, …); links issued
-- before this migration say nothing.
ALTER TABLE sign_links ADD COLUMN issued_by TEXT;

-- Through which door an approver signed or refused: PAGE, TEST_HELPER, AUTO_SIGN, SIGN_REVIEW.
ALTER TABLE flow_approvers ADD COLUMN sign_door TEXT;

-- Each signature's certificate and timestamp, for the signing that wrote the revision. NULL for a
-- revision drawn without a cryptographic signature.
ALTER TABLE flow_revisions ADD COLUMN cert_serial TEXT;
ALTER TABLE flow_revisions ADD COLUMN cert_subject TEXT;
ALTER TABLE flow_revisions ADD COLUMN cert_not_before BIGINT;
ALTER TABLE flow_revisions ADD COLUMN cert_not_after BIGINT;
ALTER TABLE flow_revisions ADD COLUMN timestamp_at BIGINT;

-- Every one-time code sent for a link and every attempt to verify one, only ever added, written
-- in the transaction that sends or checks the code. `mobile` is kept masked (138****5678): the
-- full number is the approver's, or was typed by a RECIPIENT link's holder and is not needed to
-- tell attempts apart. `event`: SENT, or an attempt's result VALID, WRONG, LOCKED (this attempt
-- locked the link, or it was locked), MISSING (no code to check: none sent, run out or used).
CREATE TABLE sign_code_events (
    event_id TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL,
    event TEXT NOT NULL,
    mobile TEXT,
    at BIGINT NOT NULL
);

CREATE INDEX sign_code_events_by_link ON sign_code_events (token_sha256, at);

-- Evidence reports: the PDF kept as a blob by SHA-256, made when asked for
-- (CreateChannelFlowEvidenceReport), so any node can serve it after a restart.
CREATE TABLE evidence_reports (
    report_id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    flow_id TEXT NOT NULL REFERENCES flows (flow_id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
