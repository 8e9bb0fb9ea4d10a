-- Contract groups, their flows (contracts), approvers and initiator-filled values, and the quota
-- ledger. Quota is charged in the same transaction that writes the group.

ALTER TABLE applications ADD COLUMN flow_quota_used BIGINT NOT NULL DEFAULT 0;

CREATE TABLE flow_groups (
    flow_group_id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    organization_open_id TEXT NOT NULL,
    operator_open_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE flows (
    flow_id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    flow_group_id TEXT REFERENCES flow_groups (flow_group_id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    organization_open_id TEXT NOT NULL,
    operator_open_id TEXT NOT NULL,
    template_id TEXT NOT NULL,
    name TEXT NOT NULL,
    flow_type TEXT,
    description TEXT,
    customer_data TEXT,
    custom_show_map TEXT,
    need_sign_review BIGINT NOT NULL,
    display_type BIGINT NOT NULL,
    status TEXT NOT NULL,
    deadline BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX flows_by_group ON flows (flow_group_id, position);

CREATE TABLE flow_approvers (
    flow_id TEXT NOT NULL REFERENCES flows (flow_id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    recipient_id TEXT NOT NULL,
    sign_id TEXT NOT NULL,
    signer TEXT NOT NULL,
    role_name TEXT NOT NULL,
    custom_role_name TEXT,
    organization_open_id TEXT,
    organization_name TEXT,
    open_id TEXT,
    name TEXT,
    mobile TEXT,
    id_card_type TEXT,
    id_card_number TEXT,
    status TEXT NOT NULL,
    PRIMARY KEY (flow_id, position)
);

CREATE TABLE flow_fields (
    flow_id TEXT NOT NULL REFERENCES flows (flow_id) ON DELETE CASCADE,
    component_id TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (flow_id, component_id)
);

-- One row per contract charged (+1) and, later, per refund (-1): SUM(units) = flow_quota_used.
CREATE TABLE quota_ledger (
    app_id TEXT NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    flow_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    units BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (flow_id, kind)
);

CREATE INDEX quota_ledger_by_app ON quota_ledger (app_id);
