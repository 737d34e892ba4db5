-- Admin resources: buildpacks, feature flags set by an admin, the running
-- and staging environment variable groups, and app usage events.

-- Buildpacks (CC's buildpacks): the list plugin orders them by position
-- within a lifecycle. A NULL stack is any stack; a NULL filename is a
-- buildpack still AWAITING_UPLOAD; blob_key names its bits in the blobstore.
CREATE TABLE buildpacks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    stack       TEXT,
    lifecycle   TEXT NOT NULL,
    position    INTEGER NOT NULL,
    enabled     INTEGER NOT NULL,
    locked      INTEGER NOT NULL,
    filename    TEXT,
    blob_key    TEXT,
    labels      TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (name, stack, lifecycle)
);

-- The system buildpacks of a cf-deployment for cflinuxfs4, in its order,
-- uploaded and enabled; the staging simulation detects with the same names.
INSERT INTO buildpacks (guid, name, stack, lifecycle, position, enabled, locked, filename, created_at, updated_at) VALUES
    ('b0000000-0000-4000-8000-000000000001', 'staticfile_buildpack', 'cflinuxfs4', 'buildpack', 1, 1, 0, 'staticfile_buildpack-cflinuxfs4-v1.6.21.zip', strftime('%s','now'), strftime('%s','now')),
    ('b0000000-0000-4000-8000-000000000002', 'java_buildpack', 'cflinuxfs4', 'buildpack', 2, 1, 0, 'java-buildpack-offline-cflinuxfs4-v4.76.0.zip', strftime('%s','now'), strftime('%s','now')),
    ('b0000000-0000-4000-8000-000000000003', 'ruby_buildpack', 'cflinuxfs4', 'buildpack', 3, 1, 0, 'ruby_buildpack-cflinuxfs4-v1.10.20.zip', strftime('%s','now'), strftime('%s','now')),
    ('b0000000-0000-4000-8000-000000000004', 'dotnet_core_buildpack', 'cflinuxfs4', 'buildpack', 4, 1, 0, 'dotnet-core_buildpack-cflinuxfs4-v2.4.40.zip', strftime('%s','now'), strftime('%s','now')),
    ('b0000000-0000-4000-8000-000000000005', 'nodejs_buildpack', 'cflinuxfs4', 'buildpack', 5, 1, 0, 'nodejs_buildpack-cflinuxfs4-v1.8.33.zip', strftime('%s','now'), strftime('%s','now')),
    ('b0000000-0000-4000-8000-000000000006', 'go_buildpack', 'cflinuxfs4', 'buildpack', 6, 1, 0, 'go_buildpack-cflinuxfs4-v1.10.31.zip', strftime('%s','now'), strftime('%s','now')),
    ('b0000000-0000-4000-8000-000000000007', 'python_buildpack', 'cflinuxfs4', 'buildpack', 7, 1, 0, 'python_buildpack-cflinuxfs4-v1.8.34.zip', strftime('%s','now'), strftime('%s','now')),
    ('b0000000-0000-4000-8000-000000000008', 'php_buildpack', 'cflinuxfs4', 'buildpack', 8, 1, 0, 'php_buildpack-cflinuxfs4-v4.6.24.zip', strftime('%s','now'), strftime('%s','now')),
    ('b0000000-0000-4000-8000-000000000009', 'nginx_buildpack', 'cflinuxfs4', 'buildpack', 9, 1, 0, 'nginx_buildpack-cflinuxfs4-v1.2.23.zip', strftime('%s','now'), strftime('%s','now')),
    ('b0000000-0000-4000-8000-00000000000a', 'r_buildpack', 'cflinuxfs4', 'buildpack', 10, 1, 0, 'r_buildpack-cflinuxfs4-v1.2.16.zip', strftime('%s','now'), strftime('%s','now')),
    ('b0000000-0000-4000-8000-00000000000b', 'binary_buildpack', 'cflinuxfs4', 'buildpack', 11, 1, 0, 'binary_buildpack-cflinuxfs4-v1.1.14.zip', strftime('%s','now'), strftime('%s','now'));

-- Feature flags an admin has set (CC's feature_flags); a flag without a
-- row has its default.
CREATE TABLE feature_flags (
    name          TEXT PRIMARY KEY,
    enabled       INTEGER NOT NULL,
    error_message TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- The running and staging environment variable groups (CC's
-- env_groups): var is a JSON object of strings.
CREATE TABLE env_groups (
    name       TEXT PRIMARY KEY,
    var        TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO env_groups (name, created_at, updated_at) VALUES
    ('running', strftime('%s','now'), strftime('%s','now')),
    ('staging', strftime('%s','now'), strftime('%s','now'));

-- App usage events (CC's app_usage_events): process_guid is CC's
-- app_guid column, '' for task and build events; app_guid and app_name
-- are CC's parent_app_guid and parent_app_name.
CREATE TABLE app_usage_events (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    guid                   TEXT NOT NULL UNIQUE,
    state                  TEXT NOT NULL,
    previous_state         TEXT,
    instance_count         INTEGER NOT NULL,
    previous_instance_count INTEGER,
    memory_in_mb           INTEGER NOT NULL,
    previous_memory_in_mb  INTEGER,
    process_guid           TEXT NOT NULL,
    process_type           TEXT,
    app_guid               TEXT NOT NULL,
    app_name               TEXT NOT NULL,
    space_guid             TEXT NOT NULL,
    space_name             TEXT NOT NULL,
    org_guid               TEXT NOT NULL,
    buildpack_guid         TEXT,
    buildpack_name         TEXT,
    task_guid              TEXT,
    task_name              TEXT,
    created_at             INTEGER NOT NULL
);

-- App usage events are recorded where CC records them, in the write that
-- changes the usage, whichever path made it: ProcessModel's after_update
-- and after_destroy (a process starts or stops with its app, a started
-- process changes its instances or memory, a started process goes), and
-- BuildCreate and the staging completion (STAGING_STARTED, then
-- STAGING_STOPPED and, on success, BUILDPACK_SET). A process's buildpack
-- is the one its app's current droplet was staged with. The event guid is
-- a random version 4 UUID.
CREATE VIEW app_usage_process_rows AS
SELECT p.guid AS process_guid, p.type AS process_type, p.instances, p.memory_in_mb,
       a.guid AS app_guid, a.name AS app_name, a.state AS app_state,
       s.guid AS space_guid, s.name AS space_name, s.org_guid,
       (SELECT b.guid FROM buildpacks b WHERE b.name = json_extract(d.buildpacks, '$[#-1].name')
            AND (b.stack = d.stack OR b.stack IS NULL) ORDER BY b.stack IS NULL, b.position LIMIT 1) AS buildpack_guid,
       json_extract(d.buildpacks, '$[#-1].name') AS buildpack_name
FROM processes p
JOIN apps a ON a.guid = p.app_guid
JOIN spaces s ON s.guid = a.space_guid
LEFT JOIN droplets d ON d.guid = a.droplet_guid;

CREATE TRIGGER app_usage_app_state AFTER UPDATE OF state ON apps
WHEN OLD.state != NEW.state
BEGIN
    INSERT INTO app_usage_events (guid, state, previous_state, instance_count, previous_instance_count, memory_in_mb,
        previous_memory_in_mb, process_guid, process_type, app_guid, app_name, space_guid, space_name, org_guid,
        buildpack_guid, buildpack_name, created_at)
    SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' ||
        substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))), NEW.state, OLD.state, r.instances, r.instances, r.memory_in_mb, r.memory_in_mb,
        r.process_guid, r.process_type, r.app_guid, r.app_name, r.space_guid, r.space_name, r.org_guid,
        r.buildpack_guid, r.buildpack_name, NEW.updated_at
    FROM app_usage_process_rows r WHERE r.app_guid = NEW.guid ORDER BY r.process_type;
END;

CREATE TRIGGER app_usage_process_scale AFTER UPDATE OF instances, memory_in_mb ON processes
WHEN (OLD.instances != NEW.instances OR OLD.memory_in_mb != NEW.memory_in_mb)
    AND (SELECT state FROM apps WHERE guid = NEW.app_guid) = 'STARTED'
BEGIN
    INSERT INTO app_usage_events (guid, state, previous_state, instance_count, previous_instance_count, memory_in_mb,
        previous_memory_in_mb, process_guid, process_type, app_guid, app_name, space_guid, space_name, org_guid,
        buildpack_guid, buildpack_name, created_at)
    SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' ||
        substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))), 'STARTED', 'STARTED', NEW.instances, OLD.instances, NEW.memory_in_mb, OLD.memory_in_mb,
        r.process_guid, r.process_type, r.app_guid, r.app_name, r.space_guid, r.space_name, r.org_guid,
        r.buildpack_guid, r.buildpack_name, NEW.updated_at
    FROM app_usage_process_rows r WHERE r.process_guid = NEW.guid;
END;

CREATE TRIGGER app_usage_process_delete BEFORE DELETE ON processes
WHEN (SELECT state FROM apps WHERE guid = OLD.app_guid) = 'STARTED'
BEGIN
    INSERT INTO app_usage_events (guid, state, previous_state, instance_count, previous_instance_count, memory_in_mb,
        previous_memory_in_mb, process_guid, process_type, app_guid, app_name, space_guid, space_name, org_guid,
        buildpack_guid, buildpack_name, created_at)
    SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' ||
        substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))), 'STOPPED', 'STARTED', r.instances, r.instances, r.memory_in_mb, r.memory_in_mb,
        r.process_guid, r.process_type, r.app_guid, r.app_name, r.space_guid, r.space_name, r.org_guid,
        r.buildpack_guid, r.buildpack_name, CAST(strftime('%s', 'now') AS INTEGER)
    FROM app_usage_process_rows r WHERE r.process_guid = OLD.guid;
END;

-- A started app's processes stop when the app goes with its space: the
-- processes go by the foreign key's cascade, after the app row.
CREATE TRIGGER app_usage_app_delete BEFORE DELETE ON apps
WHEN OLD.state = 'STARTED'
BEGIN
    INSERT INTO app_usage_events (guid, state, previous_state, instance_count, previous_instance_count, memory_in_mb,
        previous_memory_in_mb, process_guid, process_type, app_guid, app_name, space_guid, space_name, org_guid,
        buildpack_guid, buildpack_name, created_at)
    SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' ||
        substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))), 'STOPPED', 'STARTED', r.instances, r.instances, r.memory_in_mb, r.memory_in_mb,
        r.process_guid, r.process_type, r.app_guid, r.app_name, r.space_guid, r.space_name, r.org_guid,
        r.buildpack_guid, r.buildpack_name, CAST(strftime('%s', 'now') AS INTEGER)
    FROM app_usage_process_rows r WHERE r.app_guid = OLD.guid ORDER BY r.process_type;
END;

-- Build events: a build's memory is BuildModel::STAGING_MEMORY, its
-- buildpack the one its droplet was staged with, else the first it asked
-- for; docker builds name none.
CREATE VIEW app_usage_build_rows AS
SELECT b.guid AS build_guid, b.state AS build_state, a.guid AS app_guid, a.name AS app_name,
       s.guid AS space_guid, s.name AS space_name, s.org_guid,
       CASE WHEN b.lifecycle_type = 'docker' THEN NULL ELSE
           (SELECT bp.guid FROM buildpacks bp WHERE bp.name = json_extract(d.buildpacks, '$[#-1].name')
                AND (bp.stack = d.stack OR bp.stack IS NULL) ORDER BY bp.stack IS NULL, bp.position LIMIT 1) END AS buildpack_guid,
       CASE WHEN b.lifecycle_type = 'docker' THEN NULL ELSE
           coalesce(json_extract(d.buildpacks, '$[#-1].name'), json_extract(b.buildpacks, '$[0]')) END AS buildpack_name,
       b.updated_at
FROM builds b
JOIN apps a ON a.guid = b.app_guid
JOIN spaces s ON s.guid = a.space_guid
LEFT JOIN droplets d ON d.guid = b.droplet_guid;

CREATE TRIGGER app_usage_build_start AFTER INSERT ON builds
WHEN NEW.state = 'STAGING'
BEGIN
    INSERT INTO app_usage_events (guid, state, previous_state, instance_count, previous_instance_count, memory_in_mb,
        previous_memory_in_mb, process_guid, app_guid, app_name, space_guid, space_name, org_guid,
        buildpack_guid, buildpack_name, created_at)
    SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' ||
        substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
        'STAGING_STARTED', 'STAGING', 1, 1, 1024, 1024, '', r.app_guid, r.app_name, r.space_guid, r.space_name, r.org_guid,
        r.buildpack_guid, r.buildpack_name, r.updated_at
    FROM app_usage_build_rows r WHERE r.build_guid = NEW.guid;
END;

CREATE TRIGGER app_usage_build_finish AFTER UPDATE OF state ON builds
WHEN OLD.state = 'STAGING' AND NEW.state != 'STAGING'
BEGIN
    INSERT INTO app_usage_events (guid, state, previous_state, instance_count, previous_instance_count, memory_in_mb,
        previous_memory_in_mb, process_guid, app_guid, app_name, space_guid, space_name, org_guid,
        buildpack_guid, buildpack_name, created_at)
    SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' ||
        substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
        'STAGING_STOPPED', 'STAGING', 1, 1, 1024, 1024, '', r.app_guid, r.app_name, r.space_guid, r.space_name, r.org_guid,
        r.buildpack_guid, r.buildpack_name, r.updated_at
    FROM app_usage_build_rows r WHERE r.build_guid = NEW.guid;
    INSERT INTO app_usage_events (guid, state, previous_state, instance_count, previous_instance_count, memory_in_mb,
        previous_memory_in_mb, process_guid, app_guid, app_name, space_guid, space_name, org_guid,
        buildpack_guid, buildpack_name, created_at)
    SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' ||
        substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
        'BUILDPACK_SET', 'STAGED', 1, 1, 1024, 1024, '', r.app_guid, r.app_name, r.space_guid, r.space_name, r.org_guid,
        r.buildpack_guid, r.buildpack_name, r.updated_at
    FROM app_usage_build_rows r WHERE r.build_guid = NEW.guid AND NEW.state = 'STAGED';
END;
