-- Organization quotas (CC's quota_definitions). A NULL limit is unlimited,
-- CC's -1. organizations.quota_guid names the quota an org has.
CREATE TABLE organization_quotas (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    guid                    TEXT NOT NULL UNIQUE,
    name                    TEXT NOT NULL UNIQUE COLLATE NOCASE,
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
    total_domains           INTEGER,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);

CREATE INDEX organizations_quota_guid ON organizations (quota_guid);
