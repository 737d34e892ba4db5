-- Managed services: the marketplace of the built-in service broker, managed
-- service instances with their last operation, keys, sharing, and the
-- broker operations the platform is polling.
--
-- The marketplace (CC's service_brokers, services, service_plans and
-- service_plan_visibilities). extra and the schemas are JSON text as the
-- broker's catalog gave them.
CREATE TABLE service_brokers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE,
    url         TEXT NOT NULL,
    labels      TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE service_offerings (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    guid                  TEXT NOT NULL UNIQUE,
    broker_guid           TEXT NOT NULL REFERENCES service_brokers(guid),
    name                  TEXT NOT NULL,
    unique_id             TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    active                INTEGER NOT NULL DEFAULT 1,
    bindable              INTEGER NOT NULL DEFAULT 1,
    plan_updateable       INTEGER NOT NULL DEFAULT 0,
    instances_retrievable INTEGER NOT NULL DEFAULT 0,
    bindings_retrievable  INTEGER NOT NULL DEFAULT 0,
    allow_context_updates INTEGER NOT NULL DEFAULT 0,
    tags                  TEXT NOT NULL DEFAULT '[]',
    requires              TEXT NOT NULL DEFAULT '[]',
    extra                 TEXT,
    labels                TEXT NOT NULL DEFAULT '{}',
    annotations           TEXT NOT NULL DEFAULT '{}',
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    UNIQUE (broker_guid, unique_id)
);

CREATE TABLE service_plans (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    guid                     TEXT NOT NULL UNIQUE,
    offering_guid            TEXT NOT NULL REFERENCES service_offerings(guid),
    name                     TEXT NOT NULL,
    unique_id                TEXT NOT NULL,
    description              TEXT NOT NULL DEFAULT '',
    free                     INTEGER NOT NULL DEFAULT 1,
    active                   INTEGER NOT NULL DEFAULT 1,
    public                   INTEGER NOT NULL DEFAULT 1,
    -- NULL: the offering's (ServicePlan#bindable?, #plan_updateable?).
    bindable                 INTEGER,
    plan_updateable          INTEGER,
    maximum_polling_duration INTEGER,
    extra                    TEXT,
    create_instance_schema   TEXT,
    update_instance_schema   TEXT,
    create_binding_schema    TEXT,
    labels                   TEXT NOT NULL DEFAULT '{}',
    annotations              TEXT NOT NULL DEFAULT '{}',
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL,
    UNIQUE (offering_guid, unique_id)
);
CREATE INDEX service_plans_offering ON service_plans (offering_guid);

CREATE TABLE service_plan_visibilities (
    plan_guid TEXT NOT NULL REFERENCES service_plans(guid),
    org_guid  TEXT NOT NULL REFERENCES organizations(guid),
    PRIMARY KEY (plan_guid, org_guid)
);

-- A managed instance names its plan. Every instance keeps its last
-- operation (CC's service_instance_operations); none on a row from before
-- this migration reads as a succeeded create.
ALTER TABLE service_instances ADD COLUMN service_plan_guid TEXT REFERENCES service_plans(guid);
ALTER TABLE service_instances ADD COLUMN dashboard_url TEXT;
ALTER TABLE service_instances ADD COLUMN last_operation_type TEXT;
ALTER TABLE service_instances ADD COLUMN last_operation_state TEXT;
ALTER TABLE service_instances ADD COLUMN last_operation_description TEXT;
ALTER TABLE service_instances ADD COLUMN last_operation_created_at INTEGER;
ALTER TABLE service_instances ADD COLUMN last_operation_updated_at INTEGER;
CREATE INDEX service_instances_plan ON service_instances (service_plan_guid);

-- CC: a key's name is unique for its instance.
CREATE UNIQUE INDEX service_credential_bindings_key_name ON service_credential_bindings (service_instance_guid, name)
    WHERE type = 'key';

-- Spaces a managed instance is shared into (CC's service_instance_shares).
CREATE TABLE service_instance_shares (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    service_instance_guid TEXT NOT NULL REFERENCES service_instances(guid) ON DELETE CASCADE,
    space_guid            TEXT NOT NULL REFERENCES spaces(guid),
    UNIQUE (service_instance_guid, space_guid)
);
CREATE INDEX service_instance_shares_space ON service_instance_shares (space_guid);

-- The broker operations the platform is polling, one per job: what CC's
-- reoccurring service jobs keep. The job first runs at poll_at (unix
-- milliseconds); the broker is asked next at next_poll_at. request holds
-- what the operation applies when it succeeds.
CREATE TABLE service_operations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job_guid         TEXT NOT NULL UNIQUE REFERENCES jobs(guid),
    resource_type    TEXT NOT NULL,
    resource_guid    TEXT NOT NULL,
    type             TEXT NOT NULL,
    broker_operation TEXT NOT NULL DEFAULT '',
    poll_at          INTEGER NOT NULL,
    next_poll_at     INTEGER NOT NULL,
    request          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX service_operations_next ON service_operations (next_poll_at);
CREATE INDEX service_operations_resource ON service_operations (resource_guid);

-- What the built-in broker itself keeps about the instances and bindings
-- it was asked for: kind 'instance' or 'binding'; name is the instance's
-- name as the platform's context last gave it; parameters as given;
-- pending holds an update's parameters until it succeeds.
CREATE TABLE broker_records (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    instance_id TEXT NOT NULL DEFAULT '',
    service_id  TEXT NOT NULL DEFAULT '',
    plan_id     TEXT NOT NULL DEFAULT '',
    parameters  TEXT NOT NULL DEFAULT '{}',
    pending     TEXT,
    credentials TEXT NOT NULL DEFAULT '{}'
);
