-- Private domains shared with organizations other than their owner (CC's
-- organizations_private_domains). A shared domain is visible in, and takes
-- routes from, every org it is shared with.
CREATE TABLE domain_shared_orgs (
    domain_guid TEXT NOT NULL REFERENCES domains(guid),
    org_guid    TEXT NOT NULL,
    PRIMARY KEY (domain_guid, org_guid)
);
CREATE INDEX domain_shared_orgs_org ON domain_shared_orgs (org_guid);
