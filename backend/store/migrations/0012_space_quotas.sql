-- Space quotas (CC's space_quota_definitions), owned by an organization; a
-- name is unique in its org. A NULL limit is unlimited, CC's -1.
-- spaces.quota_guid names the space quota a space has, '' for none.
CREATE TABLE space_quotas (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    guid                    TEXT NOT NULL UNIQUE,
    name                    TEXT NOT NULL COLLATE NOCASE,
    org_guid                TEXT NOT NULL,
    total_memory_in_mb      INTEGER,
    per_process_memory_in_mb INTEGER,
    total_instances         INTEGER,
    per_app_tasks           INTEGER,
    log_rate_limit          INTEGER,
    paid_services_allowed   INTEGER NOT NULL DEFAULT 1,
    total_service_instances INTEGER,
    total_service_keys      INTEGER,
    total_routes            INTEGER,
    total_reserved_ports    INTEGER,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    UNIQUE (org_guid, name)
);
CREATE INDEX space_quotas_org ON space_quotas (org_guid);

ALTER TABLE spaces ADD COLUMN quota_guid TEXT NOT NULL DEFAULT '';
CREATE INDEX spaces_quota_guid ON spaces (quota_guid);
