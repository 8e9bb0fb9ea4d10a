-- Immutable template versions. A contract is made from the snapshot its template was when the
-- contract was created, never from what a later `qianshu apply` made of the template. A
-- snapshot's id is the SHA-256 of everything a contract is made from (`Template::content_id`),
-- so applying an unchanged template finds its snapshot and writes nothing. Snapshots are never
-- updated or deleted. Recipients and components are JSON arrays written by the store.

CREATE TABLE template_snapshots (
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    snapshot_id TEXT NOT NULL,
    template_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    pdf_sha256 TEXT NOT NULL,
    recipients TEXT NOT NULL,
    components TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, snapshot_id)
);

-- The template's current version. NULL only until the start-up step after the migrations has
-- made snapshots of templates stored before them (from template_recipients and
-- template_components, which it then empties: nothing writes them any more).
ALTER TABLE templates ADD COLUMN snapshot_id TEXT;

-- The version the contract was made from. NULL only until that same step has pinned contracts
-- created before them to their template as it is then.
ALTER TABLE flows ADD COLUMN template_snapshot TEXT;
