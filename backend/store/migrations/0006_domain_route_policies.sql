-- Route policy enforcement of a domain, set when it is created
-- (DomainCreateMessage's enforce_route_policies and route_policies_scope;
-- DomainPresenter shows both only while enforcement is on).
ALTER TABLE domains ADD COLUMN enforce_route_policies INTEGER NOT NULL DEFAULT 0;
ALTER TABLE domains ADD COLUMN route_policies_scope TEXT;
