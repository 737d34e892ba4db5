-- The embedded UAA's users and Cloud Controller's users are two tables, as
-- they are two databases in a Cloud Foundry: users holds the UAA's (a
-- username unique per origin, a password, the scopes of the groups the
-- user is in), cc_users those CC knows (the guid, metadata, times). A UAA
-- user created through SCIM becomes a CC user once POST /v3/users names its
-- guid; a CC user may name no UAA user at all (a client, or a user deleted
-- from the UAA since). Roles belong to CC's users.

CREATE TABLE cc_users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guid        TEXT NOT NULL UNIQUE,
    labels      TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
INSERT INTO cc_users (guid, created_at, updated_at) SELECT guid, created_at, created_at FROM users ORDER BY created_at, guid;

CREATE TABLE roles_cc (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    guid       TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    user_guid  TEXT NOT NULL REFERENCES cc_users(guid),
    org_guid   TEXT NOT NULL,
    space_guid TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (type, user_guid, org_guid, space_guid)
);
INSERT INTO roles_cc (id, guid, type, user_guid, org_guid, space_guid, created_at)
    SELECT id, guid, type, user_guid, org_guid, space_guid, created_at FROM roles;
DROP TABLE roles;
ALTER TABLE roles_cc RENAME TO roles;
CREATE INDEX roles_user ON roles (user_guid);
CREATE INDEX roles_org ON roles (org_guid);

-- password_hash is empty for the seeded users, whose password comes from
-- the configuration (backend.user_passwords, else the username), and "!"
-- for users who cannot log in with a password (another origin's shadow
-- users). UAA compares usernames whatever their case.
CREATE TABLE uaa_users (
    guid          TEXT PRIMARY KEY,
    username      TEXT NOT NULL COLLATE NOCASE,
    origin        TEXT NOT NULL DEFAULT 'uaa',
    email         TEXT NOT NULL,
    given_name    TEXT NOT NULL DEFAULT '',
    family_name   TEXT NOT NULL DEFAULT '',
    scopes        TEXT NOT NULL DEFAULT '[]',
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (username, origin)
);
INSERT INTO uaa_users (guid, username, email, scopes, created_at, updated_at)
    SELECT guid, username, email, scopes, created_at, created_at FROM users;
DROP TABLE users;
ALTER TABLE uaa_users RENAME TO users;

-- cf-deployment's admin is in the scim.read and scim.write groups, which
-- cf create-user and CC's username lookups need.
UPDATE users SET scopes = json_insert(json_insert(scopes, '$[#]', 'scim.read'), '$[#]', 'scim.write')
    WHERE EXISTS (SELECT 1 FROM json_each(users.scopes) WHERE value = 'cloud_controller.admin')
    AND NOT EXISTS (SELECT 1 FROM json_each(users.scopes) WHERE value = 'scim.write');

-- cc_users_named is a CC user with what the UAA says of it, as CC's
-- presenters show users.
CREATE VIEW cc_users_named AS
    SELECT c.id, c.guid, u.username, u.origin, c.labels, c.annotations, c.created_at, c.updated_at
    FROM cc_users c LEFT JOIN users u ON u.guid = c.guid;
