-- Dynamic signers filled in (ApproverOption.FillType 1): by ChannelCreateFlowApprovers ('API')
-- or by the holder of a RECIPIENT sign link on the signing page ('LINK'). The approver's own
-- row then holds the identity like any signer's; this row remembers that it was supplied
-- later, when and through which door, so that a second fill is told it is a repeat. Its
-- primary key is a second guard beside the approver's own guarded update.

CREATE TABLE approver_fills (
    flow_id TEXT NOT NULL REFERENCES flows (flow_id) ON DELETE CASCADE,
    sign_id TEXT NOT NULL,
    via TEXT NOT NULL,
    filled_at BIGINT NOT NULL,
    PRIMARY KEY (flow_id, sign_id)
);
