-- qianshu's own certificate authority, shared by every node: the root, the timestamp authority
-- and organisations' long-lived certificates. Event certificates are never stored (their keys
-- live for one signing). A row is written once, by whichever node makes it first, and read back.

CREATE TABLE pki_credentials (
    -- 'root', 'tsa', or 'organization/<app_id>/<open_id>/<name>' (a renamed organisation gets
    -- a new certificate, its old signatures keep theirs).
    name TEXT PRIMARY KEY,
    -- PEM.
    certificate TEXT NOT NULL,
    -- The PKCS#8 PEM private key, sealed under the master key (`enc1:…`).
    private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
