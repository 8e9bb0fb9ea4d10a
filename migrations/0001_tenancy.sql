-- One schema for SQLite and PostgreSQL: only TEXT, BIGINT and DOUBLE PRECISION columns, booleans
-- as 0/1, times as Unix seconds, no generated ids. Documents live in the blob store, not here.

CREATE TABLE applications (
    app_id TEXT PRIMARY KEY,
    flow_quota BIGINT NOT NULL,
    callback_url TEXT,
    callback_aes_key TEXT,
    callback_token TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE application_features (
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    feature TEXT NOT NULL,
    PRIMARY KEY (app_id, feature)
);

CREATE TABLE application_secrets (
    secret_id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    secret_key TEXT NOT NULL
);

CREATE TABLE organizations (
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    open_id TEXT NOT NULL,
    name TEXT NOT NULL,
    verified BIGINT NOT NULL,
    uniform_social_credit_code TEXT,
    legal_name TEXT,
    legal_id_card_number TEXT,
    address TEXT,
    PRIMARY KEY (app_id, open_id)
);

CREATE TABLE operators (
    app_id TEXT NOT NULL,
    organization_open_id TEXT NOT NULL,
    open_id TEXT NOT NULL,
    name TEXT,
    mobile TEXT,
    id_card_type TEXT,
    id_card_number TEXT,
    default_role TEXT,
    verified BIGINT NOT NULL,
    PRIMARY KEY (app_id, organization_open_id, open_id),
    FOREIGN KEY (app_id, organization_open_id) REFERENCES organizations (app_id, open_id) ON DELETE CASCADE
);

CREATE TABLE templates (
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    template_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    pdf_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, template_id)
);

CREATE TABLE template_recipients (
    app_id TEXT NOT NULL,
    template_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    recipient_id TEXT NOT NULL,
    role_name TEXT NOT NULL,
    recipient_type TEXT NOT NULL,
    routing_order BIGINT NOT NULL,
    PRIMARY KEY (app_id, template_id, position),
    FOREIGN KEY (app_id, template_id) REFERENCES templates (app_id, template_id) ON DELETE CASCADE
);

CREATE TABLE template_components (
    app_id TEXT NOT NULL,
    template_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    component_id TEXT NOT NULL,
    component_name TEXT NOT NULL,
    component_type TEXT NOT NULL,
    recipient_id TEXT,
    page BIGINT NOT NULL,
    pos_x DOUBLE PRECISION NOT NULL,
    pos_y DOUBLE PRECISION NOT NULL,
    width DOUBLE PRECISION NOT NULL,
    height DOUBLE PRECISION NOT NULL,
    required BIGINT NOT NULL,
    extra TEXT,
    PRIMARY KEY (app_id, template_id, position),
    FOREIGN KEY (app_id, template_id) REFERENCES templates (app_id, template_id) ON DELETE CASCADE
);
