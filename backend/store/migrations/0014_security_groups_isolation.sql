-- Security groups (CC's security_groups with security_groups_spaces and
-- staging_security_groups_spaces) and isolation segments (isolation_segments,
-- organizations_isolation_segments, organizations.default_isolation_segment_guid,
-- spaces.isolation_segment_guid). rules is the JSON array as it was sent.
CREATE TABLE security_groups (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    guid            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL UNIQUE,
    rules           TEXT NOT NULL DEFAULT '[]',
    running_default INTEGER NOT NULL DEFAULT 0,
    staging_default INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- security_group_spaces binds a group to a space for running apps
-- (staging = 0) or for staging (staging = 1).
CREATE TABLE security_group_spaces (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    security_group_guid TEXT NOT NULL REFERENCES security_groups(guid) ON DELETE CASCADE,
    space_guid          TEXT NOT NULL REFERENCES spaces(guid) ON DELETE CASCADE,
    staging             INTEGER NOT NULL,
    UNIQUE (security_group_guid, space_guid, staging)
);
CREATE INDEX security_group_spaces_space ON security_group_spaces (space_guid);

CREATE TABLE isolation_segments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    labels      TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- organization_isolation_segments are the segments an org is entitled to.
CREATE TABLE organization_isolation_segments (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    isolation_segment_guid TEXT NOT NULL REFERENCES isolation_segments(guid) ON DELETE CASCADE,
    org_guid               TEXT NOT NULL REFERENCES organizations(guid) ON DELETE CASCADE,
    UNIQUE (isolation_segment_guid, org_guid)
);
CREATE INDEX organization_isolation_segments_org ON organization_isolation_segments (org_guid);

ALTER TABLE organizations ADD COLUMN default_isolation_segment_guid TEXT;
ALTER TABLE spaces ADD COLUMN isolation_segment_guid TEXT;
CREATE INDEX spaces_isolation_segment ON spaces (isolation_segment_guid);
