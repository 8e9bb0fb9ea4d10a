-- Contract documents: each flow's synthesized PDF (a blob by SHA-256) and the durable queue that
-- makes them. Both rows are written in the transaction that creates the flow, so a created
-- contract always has a job; the queue row is deleted in the transaction that records the
-- document, so a job is done once.

CREATE TABLE flow_documents (
    flow_id TEXT PRIMARY KEY REFERENCES flows (flow_id) ON DELETE CASCADE,
    app_id TEXT NOT NULL,
    -- Handed out in TaskInfos for documents that need heavy synthesis (dynamic tables).
    task_id TEXT,
    state TEXT NOT NULL,
    sha256 TEXT,
    error TEXT,
    -- How many times a document was recorded; anything but 0 or 1 would be a job done twice.
    renders BIGINT NOT NULL,
    finished_at BIGINT
);

CREATE UNIQUE INDEX flow_documents_by_task ON flow_documents (task_id);

-- Jobs not done yet. A worker leases a job until `lease_until` (Unix milliseconds); a lease
-- that runs out (a worker that died) makes the job claimable again.
CREATE TABLE synthesis_queue (
    flow_id TEXT PRIMARY KEY REFERENCES flows (flow_id) ON DELETE CASCADE,
    enqueued_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    attempts BIGINT NOT NULL
);

CREATE INDEX synthesis_queue_by_age ON synthesis_queue (enqueued_at);
