-- A contract's life after creation: cancelling (one at a time or in batches whose outcome is
-- kept for DescribeCancelFlowsTask), expiry at the deadline, and the quota ledger read as a bill.

-- The ledger names the organisation that created the contract, so that bills and usage are
-- read per sub-organisation and day from the ledger alone.
ALTER TABLE quota_ledger ADD COLUMN organization_open_id TEXT NOT NULL DEFAULT '';
UPDATE quota_ledger SET organization_open_id = COALESCE(
    (SELECT f.organization_open_id FROM flows f WHERE f.flow_id = quota_ledger.flow_id), '');
CREATE INDEX quota_ledger_by_time ON quota_ledger (app_id, created_at);

-- Live contracts by deadline: what the expiry sweep looks through each second.
CREATE INDEX flows_live_by_deadline ON flows (deadline) WHERE status IN ('INIT', 'PART');

-- A batch cancel (ChannelBatchCancelFlows): one row per task and one per contract named, in the
-- order given; `reason` is NULL for a contract cancelled, else why it was not.
CREATE TABLE cancel_tasks (
    task_id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    organization_open_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE cancel_task_flows (
    task_id TEXT NOT NULL REFERENCES cancel_tasks (task_id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    flow_id TEXT NOT NULL,
    flow_name TEXT NOT NULL,
    reason TEXT,
    PRIMARY KEY (task_id, position)
);
