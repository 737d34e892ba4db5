-- The routing API's router groups (routing-api models.RouterGroup). A
-- shared domain that names a tcp group is a TCP domain, and the routes of
-- all its domains share the group's reservable_ports ("1024-1033,2000").
CREATE TABLE router_groups (
    guid             TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    type             TEXT NOT NULL,
    reservable_ports TEXT NOT NULL DEFAULT ''
);
CREATE INDEX domains_router_group ON domains (router_group_guid);
