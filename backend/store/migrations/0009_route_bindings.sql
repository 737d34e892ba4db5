-- Route service bindings (CC's route_bindings with route_binding_operations):
-- a route bound to a service instance of its space, which forwards the
-- route's traffic to route_service_url. A route has at most one binding
-- (Route one_to_one :route_binding). Deleting the route or the instance
-- deletes its binding, as Route#destroy_route_bindings and
-- ServiceInstanceDelete do. space_guid is the route's, for visibility.
CREATE TABLE route_bindings (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    guid                       TEXT NOT NULL UNIQUE,
    route_guid                 TEXT NOT NULL UNIQUE REFERENCES routes(guid) ON DELETE CASCADE,
    service_instance_guid      TEXT NOT NULL REFERENCES service_instances(guid) ON DELETE CASCADE,
    space_guid                 TEXT NOT NULL,
    route_service_url          TEXT,
    last_operation_type        TEXT NOT NULL,
    last_operation_state       TEXT NOT NULL,
    last_operation_description TEXT,
    last_operation_created_at  INTEGER NOT NULL,
    last_operation_updated_at  INTEGER NOT NULL,
    labels                     TEXT NOT NULL DEFAULT '{}',
    annotations                TEXT NOT NULL DEFAULT '{}',
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);
CREATE INDEX route_bindings_instance ON route_bindings (service_instance_guid);
CREATE INDEX route_bindings_space ON route_bindings (space_guid);
