-- Sign reviews (NeedSignReview, ApproverNeedSignReview) and reminders (ChannelCreateFlowReminds).

-- Whether the approver's signing waits for a review that passes, decided at creation from the
-- approver's ApproverNeedSignReview and the contract's NeedSignReview (which concerns the
-- initiating organisation's signers). Contracts made before this migration need none: qianshu
-- ignored both flags then, and a contract must not start blocking its signers afterwards.
ALTER TABLE flow_approvers ADD COLUMN need_sign_review BIGINT NOT NULL DEFAULT 0;

-- Every review result submitted, in the order it was recorded (`seq`, per contract). For an
-- approver the latest result naming their recipient, or the whole contract (recipient ''),
-- decides: "the last result wins".
CREATE TABLE sign_reviews (
    flow_id TEXT NOT NULL REFERENCES flows (flow_id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    recipient_id TEXT NOT NULL,
    review_type TEXT NOT NULL,
    review_message TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (flow_id, seq)
);

-- A signer is reminded at most once per contract ("每个合同每个人只能催办一次"): the primary key
-- is what makes two nodes reminding at once send one message.
CREATE TABLE flow_reminders (
    flow_id TEXT NOT NULL REFERENCES flows (flow_id) ON DELETE CASCADE,
    sign_id TEXT NOT NULL,
    reminded_at BIGINT NOT NULL,
    PRIMARY KEY (flow_id, sign_id)
);
