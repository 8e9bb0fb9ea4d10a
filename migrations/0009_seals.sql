-- Organisations' seal images (from the tenants file); the PNG is a blob, by its SHA-256.
CREATE TABLE organization_seals (
    app_id TEXT NOT NULL,
    organization_open_id TEXT NOT NULL,
    seal_id TEXT NOT NULL,
    name TEXT NOT NULL,
    image_sha256 TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (app_id, organization_open_id, seal_id),
    FOREIGN KEY (app_id, organization_open_id) REFERENCES organizations (app_id, open_id) ON DELETE CASCADE
);
