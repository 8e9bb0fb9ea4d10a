-- Sign links: one row per link handed out, found by the SHA-256 of its token (the token itself
-- is never stored). A link opens a contract group or a single contract for one signer
-- (`signer`, the encoded SignerKey); `preview` links (UrlType 1) show and sign nothing.

CREATE TABLE sign_links (
    token_sha256 TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    flow_group_id TEXT REFERENCES flow_groups (flow_group_id) ON DELETE CASCADE,
    flow_id TEXT REFERENCES flows (flow_id) ON DELETE CASCADE,
    signer TEXT NOT NULL,
    preview BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK ((flow_group_id IS NULL) <> (flow_id IS NULL))
);

CREATE INDEX sign_links_by_group ON sign_links (flow_group_id) WHERE flow_group_id IS NOT NULL;
CREATE INDEX sign_links_by_flow ON sign_links (flow_id) WHERE flow_id IS NOT NULL;
