-- Uploaded files (UploadFiles): metadata here, bytes in the blob store by SHA-256.

CREATE TABLE files (
    file_id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    organization_open_id TEXT NOT NULL,
    business_type TEXT NOT NULL,
    file_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    deadline BIGINT NOT NULL
);

-- Keys every node must share, such as the one that signs download URLs; made once, on first start.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
