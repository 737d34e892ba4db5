-- The v3 core: organizations, spaces, stacks, users and roles, apps, processes,
-- jobs and audit events. Times are unix seconds (UTC); JSON columns hold text.
CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    suspended   INTEGER NOT NULL DEFAULT 0,
    quota_guid  TEXT NOT NULL,
    labels      TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE spaces (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL COLLATE NOCASE,
    org_guid    TEXT NOT NULL REFERENCES organizations(guid),
    allow_ssh   INTEGER NOT NULL DEFAULT 1,
    labels      TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (org_guid, name)
);

CREATE TABLE stacks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    is_default  INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL DEFAULT 'ACTIVE',
    labels      TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE users (
    guid       TEXT PRIMARY KEY,
    username   TEXT NOT NULL UNIQUE,
    email      TEXT NOT NULL,
    scopes     TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);

-- roles: type is one of CC's role names (organization_user, organization_manager,
-- organization_auditor, organization_billing_manager, space_developer,
-- space_manager, space_auditor, space_supporter); org_guid is always set,
-- space_guid only for space roles.
CREATE TABLE roles (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    guid       TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    user_guid  TEXT NOT NULL REFERENCES users(guid),
    org_guid   TEXT NOT NULL,
    space_guid TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (type, user_guid, org_guid, space_guid)
);
CREATE INDEX roles_user ON roles (user_guid);

CREATE TABLE apps (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    guid              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL COLLATE NOCASE,
    space_guid        TEXT NOT NULL REFERENCES spaces(guid),
    state             TEXT NOT NULL DEFAULT 'STOPPED',
    lifecycle_type    TEXT NOT NULL,
    buildpacks        TEXT NOT NULL DEFAULT '[]',
    stack             TEXT,
    env               TEXT NOT NULL DEFAULT '{}',
    droplet_guid      TEXT,
    ssh_enabled       INTEGER NOT NULL DEFAULT 1,
    revisions_enabled INTEGER NOT NULL DEFAULT 0,
    k8s_bindings      INTEGER NOT NULL DEFAULT 0,
    file_vcap         INTEGER NOT NULL DEFAULT 0,
    labels            TEXT NOT NULL DEFAULT '{}',
    annotations       TEXT NOT NULL DEFAULT '{}',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    -- CC: app names are unique per space, case-insensitively.
    UNIQUE (space_guid, name)
);
CREATE INDEX apps_space ON apps (space_guid);

CREATE TABLE processes (
    id                           INTEGER PRIMARY KEY AUTOINCREMENT,
    guid                         TEXT NOT NULL UNIQUE,
    app_guid                     TEXT NOT NULL REFERENCES apps(guid) ON DELETE CASCADE,
    -- space_guid copies the app's: v3 apps never change space.
    space_guid                   TEXT NOT NULL,
    type                         TEXT NOT NULL,
    command                      TEXT,
    instances                    INTEGER NOT NULL,
    memory_in_mb                 INTEGER NOT NULL,
    disk_in_mb                   INTEGER NOT NULL,
    log_rate_limit               INTEGER NOT NULL,
    health_check_type            TEXT NOT NULL DEFAULT 'port',
    health_check_timeout         INTEGER,
    health_check_invocation_timeout INTEGER,
    health_check_interval        INTEGER,
    health_check_endpoint        TEXT,
    version                      TEXT NOT NULL,
    labels                       TEXT NOT NULL DEFAULT '{}',
    annotations                  TEXT NOT NULL DEFAULT '{}',
    created_at                   INTEGER NOT NULL,
    updated_at                   INTEGER NOT NULL,
    UNIQUE (app_guid, type)
);
CREATE INDEX processes_space ON processes (space_guid);

CREATE TABLE jobs (
    guid          TEXT PRIMARY KEY,
    operation     TEXT NOT NULL,
    state         TEXT NOT NULL,
    resource_guid TEXT NOT NULL DEFAULT '',
    user_guid     TEXT NOT NULL DEFAULT '',
    errors        TEXT NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guid        TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    actor_guid  TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    target_guid TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_name TEXT NOT NULL,
    space_guid  TEXT NOT NULL DEFAULT '',
    org_guid    TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);
CREATE INDEX audit_events_target ON audit_events (target_guid);
CREATE INDEX audit_events_created ON audit_events (created_at);
