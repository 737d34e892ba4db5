-- What hangs off an app besides its processes: packages, builds and droplets
-- (the read side of staging), shared and private domains, routes and their
-- destinations, and service credential bindings. space_guid copies the app's
-- (or the route's) so that visibility is one indexed IN, as for processes.
-- Errors keep CC's two columns (error_id, error_description); the API joins
-- them with " - " (BuildPresenter#error, DropletModel#error).
CREATE TABLE packages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    guid            TEXT NOT NULL UNIQUE,
    app_guid        TEXT NOT NULL REFERENCES apps(guid),
    space_guid      TEXT NOT NULL,
    type            TEXT NOT NULL,            -- bits or docker
    state           TEXT NOT NULL,
    sha256_checksum TEXT,
    sha1_checksum   TEXT,                     -- CC's package_hash
    error           TEXT,
    docker_image    TEXT,
    docker_username TEXT,
    docker_password TEXT,                     -- never presented: CC shows "***"
    labels          TEXT NOT NULL DEFAULT '{}',
    annotations     TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX packages_app ON packages (app_guid);
CREATE INDEX packages_space ON packages (space_guid);

CREATE TABLE builds (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    guid              TEXT NOT NULL UNIQUE,
    app_guid          TEXT NOT NULL REFERENCES apps(guid),
    space_guid        TEXT NOT NULL,
    package_guid      TEXT NOT NULL,
    droplet_guid      TEXT,
    state             TEXT NOT NULL,
    error_id          TEXT,
    error_description TEXT,
    lifecycle_type    TEXT NOT NULL,
    buildpacks        TEXT NOT NULL DEFAULT '[]',
    stack             TEXT,
    staging_memory_in_mb INTEGER NOT NULL,
    staging_disk_in_mb   INTEGER NOT NULL,
    staging_log_rate_limit INTEGER NOT NULL,
    created_by_guid   TEXT NOT NULL DEFAULT '',
    created_by_name   TEXT NOT NULL DEFAULT '',
    created_by_email  TEXT NOT NULL DEFAULT '',
    labels            TEXT NOT NULL DEFAULT '{}',
    annotations       TEXT NOT NULL DEFAULT '{}',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX builds_app ON builds (app_guid);
CREATE INDEX builds_space ON builds (space_guid);

CREATE TABLE droplets (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    guid               TEXT NOT NULL UNIQUE,
    app_guid           TEXT NOT NULL REFERENCES apps(guid),
    space_guid         TEXT NOT NULL,
    package_guid       TEXT,                  -- NULL for an uploaded droplet
    state              TEXT NOT NULL,
    error_id           TEXT,
    error_description  TEXT,
    lifecycle_type     TEXT NOT NULL,
    execution_metadata TEXT NOT NULL DEFAULT '',
    process_types      TEXT,                  -- JSON object, NULL until staged
    sha256_checksum    TEXT,
    sha1_checksum      TEXT,                  -- CC's droplet_hash
    buildpacks         TEXT,                  -- JSON array, NULL for docker
    stack              TEXT,
    image              TEXT,                  -- the docker receipt image
    labels             TEXT NOT NULL DEFAULT '{}',
    annotations        TEXT NOT NULL DEFAULT '{}',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX droplets_app ON droplets (app_guid);
CREATE INDEX droplets_space ON droplets (space_guid);

-- domains: org_guid is '' for a shared domain, else the owning organization.
CREATE TABLE domains (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    guid              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL UNIQUE COLLATE NOCASE,
    internal          INTEGER NOT NULL DEFAULT 0,
    org_guid          TEXT NOT NULL DEFAULT '',
    router_group_guid TEXT,
    protocols         TEXT NOT NULL DEFAULT '["http"]',
    labels            TEXT NOT NULL DEFAULT '{}',
    annotations       TEXT NOT NULL DEFAULT '{}',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE routes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guid        TEXT NOT NULL UNIQUE,
    space_guid  TEXT NOT NULL REFERENCES spaces(guid),
    domain_guid TEXT NOT NULL REFERENCES domains(guid),
    host        TEXT NOT NULL DEFAULT '',
    path        TEXT NOT NULL DEFAULT '',
    port        INTEGER,                      -- NULL for http routes
    labels      TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- CC: a host, domain, path and port make one route (RouteValidator).
CREATE UNIQUE INDEX routes_address ON routes (domain_guid, host COLLATE NOCASE, path, ifnull(port, 0));
CREATE INDEX routes_space ON routes (space_guid);

-- route_destinations are CC's route_mappings.
CREATE TABLE route_destinations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    guid         TEXT NOT NULL UNIQUE,
    route_guid   TEXT NOT NULL REFERENCES routes(guid) ON DELETE CASCADE,
    app_guid     TEXT NOT NULL REFERENCES apps(guid),
    process_type TEXT NOT NULL DEFAULT 'web',
    port         INTEGER NOT NULL DEFAULT 8080,
    weight       INTEGER,
    protocol     TEXT NOT NULL DEFAULT 'http1',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (route_guid, app_guid, process_type, port)
);
CREATE INDEX route_destinations_app ON route_destinations (app_guid);

-- service_credential_bindings: type 'app' (app_guid set) or 'key'.
CREATE TABLE service_credential_bindings (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    guid                  TEXT NOT NULL UNIQUE,
    type                  TEXT NOT NULL,
    name                  TEXT,
    app_guid              TEXT REFERENCES apps(guid),
    service_instance_guid TEXT NOT NULL,
    space_guid            TEXT NOT NULL,
    last_operation_type   TEXT NOT NULL DEFAULT 'create',
    last_operation_state  TEXT NOT NULL DEFAULT 'succeeded',
    last_operation_description TEXT NOT NULL DEFAULT '',
    labels                TEXT NOT NULL DEFAULT '{}',
    annotations           TEXT NOT NULL DEFAULT '{}',
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX service_credential_bindings_app ON service_credential_bindings (app_guid);
CREATE INDEX service_credential_bindings_space ON service_credential_bindings (space_guid);
