-- Contract documents: each flow's synthesized PDF (a blob by SHA-256), whose PENDING rows are
-- the durable queue of synthesis jobs. The row is written in the transaction that creates the
-- flow, so a created contract always has a job; a job is recorded by the one update that
-- still finds it PENDING, so it is done once.

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
    finished_at BIGINT,
    -- A worker leases a PENDING job until `lease_until` (Unix milliseconds); a lease that runs
    -- out (a worker that died) makes the job claimable again.
    lease_until BIGINT NOT NULL,
    attempts BIGINT NOT NULL
);

CREATE UNIQUE INDEX flow_documents_by_task ON flow_documents (task_id);

-- The queue: pending jobs, oldest first (flow ids begin with their creation time).
CREATE INDEX flow_documents_pending ON flow_documents (flow_id) WHERE state = 'PENDING';
