-- Running apps and user-provided services.
--
-- process_instances is what the simulated Diego has placed: one row per
-- instance index of a process of a started app. An instance's state is not
-- stored but computed from started_at, the startup delay and the clock, so
-- that it moves on by itself and survives a restart. A row whose version is
-- not its process's is stale: the process changed (a start, a restart, a new
-- command or memory) and the instance restarts. Times are unix milliseconds.
-- crash_event_guid is set once the crash of this start has been recorded.
CREATE TABLE process_instances (
    process_guid     TEXT NOT NULL REFERENCES processes(guid) ON DELETE CASCADE,
    idx              INTEGER NOT NULL,
    version          TEXT NOT NULL,
    started_at       INTEGER NOT NULL,
    crash_event_guid TEXT,
    PRIMARY KEY (process_guid, idx)
);

-- service_instances: user-provided service instances (type 'user-provided');
-- managed ones need brokers and plans, which the embedded CF does not have.
CREATE TABLE service_instances (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    guid              TEXT NOT NULL UNIQUE,
    type              TEXT NOT NULL,
    name              TEXT NOT NULL,
    space_guid        TEXT NOT NULL REFERENCES spaces(guid),
    credentials       TEXT NOT NULL DEFAULT '{}',
    syslog_drain_url  TEXT,
    route_service_url TEXT,
    tags              TEXT NOT NULL DEFAULT '[]',
    labels            TEXT NOT NULL DEFAULT '{}',
    annotations       TEXT NOT NULL DEFAULT '{}',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    -- CC: a service instance name is unique in its space.
    UNIQUE (space_guid, name)
);
CREATE INDEX service_instances_space ON service_instances (space_guid);

-- A binding of a user-provided instance carries a copy of the instance's
-- credentials and syslog drain, taken when it is made (CC's
-- ServiceBindingCreate#bind).
ALTER TABLE service_credential_bindings ADD COLUMN credentials TEXT NOT NULL DEFAULT '{}';
ALTER TABLE service_credential_bindings ADD COLUMN syslog_drain_url TEXT;
-- CC: an app is bound to an instance once, and its binding names are unique.
CREATE UNIQUE INDEX service_credential_bindings_app_instance ON service_credential_bindings (app_guid, service_instance_guid)
    WHERE type = 'app';
CREATE UNIQUE INDEX service_credential_bindings_app_name ON service_credential_bindings (app_guid, name)
    WHERE type = 'app' AND name IS NOT NULL;
CREATE INDEX service_credential_bindings_instance ON service_credential_bindings (service_instance_guid);
