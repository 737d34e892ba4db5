package store

import "context"

// InsertOrg creates an organization with roles (a non-admin creator's)
// and records events, in one transaction; a name taken, whatever its case,
// is ErrConflict.
func (s *Store) InsertOrg(ctx context.Context, o Org, roles []Role, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO organizations (guid, name, suspended, quota_guid, labels, annotations, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?)`, o.GUID, o.Name, o.Suspended, o.QuotaGUID, jsonText(nonNil(o.Labels)), jsonText(nonNil(o.Annotations)),
			o.CreatedAt, o.UpdatedAt); err != nil {
			return err
		}
		for _, r := range roles {
			if _, err := tx.ExecContext(ctx, `INSERT INTO roles (guid, type, user_guid, org_guid, space_guid, created_at) VALUES (?,?,?,?,?,?)`,
				r.GUID, r.Type, r.UserGUID, r.OrgGUID, r.SpaceGUID, o.CreatedAt); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, events)
	})
}

// UpdateOrg writes o's name, suspension and metadata and records events;
// a name taken is ErrConflict, an org that is gone ErrNotFound.
func (s *Store) UpdateOrg(ctx context.Context, o Org, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE organizations SET name = ?, suspended = ?, labels = ?, annotations = ?, updated_at = ? WHERE guid = ?`,
			o.Name, o.Suspended, jsonText(nonNil(o.Labels)), jsonText(nonNil(o.Annotations)), o.UpdatedAt, o.GUID)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// InsertSpace creates a space and records events; a name taken in its org
// is ErrConflict.
func (s *Store) InsertSpace(ctx context.Context, sp Space, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO spaces (guid, name, org_guid, allow_ssh, labels, annotations, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?)`, sp.GUID, sp.Name, sp.OrgGUID, sp.AllowSSH, jsonText(nonNil(sp.Labels)), jsonText(nonNil(sp.Annotations)),
			sp.CreatedAt, sp.UpdatedAt); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// UpdateSpace writes sp's name and metadata and records events; a name
// taken in its org is ErrConflict.
func (s *Store) UpdateSpace(ctx context.Context, sp Space, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE spaces SET name = ?, labels = ?, annotations = ?, updated_at = ? WHERE guid = ?`,
			sp.Name, jsonText(nonNil(sp.Labels)), jsonText(nonNil(sp.Annotations)), sp.UpdatedAt, sp.GUID)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// spaceDeletes empty a space (the ? is its guid), children before
// parents: what hangs off its apps, its apps (processes and instances go by
// cascade), its routes (route bindings by cascade), its service instances
// (bindings, shares and route bindings with them) and the shares of other
// spaces' instances into it, and its roles. The caller has made sure no
// managed instance is left, as CC's SpaceDelete deprovisions them first.
var spaceDeletes = []string{
	`DELETE FROM route_destinations WHERE route_guid IN (SELECT guid FROM routes WHERE space_guid = ?1)
		OR app_guid IN (SELECT guid FROM apps WHERE space_guid = ?1)`,
	`DELETE FROM service_credential_bindings WHERE space_guid = ?1 OR app_guid IN (SELECT guid FROM apps WHERE space_guid = ?1)
		OR service_instance_guid IN (SELECT guid FROM service_instances WHERE space_guid = ?1)`,
	`DELETE FROM droplets WHERE app_guid IN (SELECT guid FROM apps WHERE space_guid = ?1)`,
	`DELETE FROM builds WHERE app_guid IN (SELECT guid FROM apps WHERE space_guid = ?1)`,
	`DELETE FROM packages WHERE app_guid IN (SELECT guid FROM apps WHERE space_guid = ?1)`,
	`DELETE FROM apps WHERE space_guid = ?1`,
	`DELETE FROM routes WHERE space_guid = ?1`,
	`DELETE FROM service_instance_shares WHERE space_guid = ?1`,
	`DELETE FROM service_instances WHERE space_guid = ?1`,
	`DELETE FROM roles WHERE space_guid = ?1`,
}

// DeleteSpace deletes a space with everything in it and records events;
// a space that is gone is ErrNotFound.
func (s *Store) DeleteSpace(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if err := deleteSpace(ctx, tx, guid); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

func deleteSpace(ctx context.Context, tx *cachedTx, guid string) error {
	for _, q := range spaceDeletes {
		if _, err := tx.ExecContext(ctx, q, guid); err != nil {
			return err
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM spaces WHERE guid = ?`, guid)
	if err != nil {
		return err
	}
	return mustAffect(res)
}

// orgDeletes empty an org whose spaces are gone: the routes of its own
// domains, the domains, its share of other orgs' domains (CC unshares
// them), its plan visibilities, its space quotas (Organization's
// space_quota_definitions: :destroy) and its roles.
var orgDeletes = []string{
	`DELETE FROM route_destinations WHERE route_guid IN (SELECT r.guid FROM routes r JOIN domains d ON d.guid = r.domain_guid WHERE d.org_guid = ?1)`,
	`DELETE FROM routes WHERE domain_guid IN (SELECT guid FROM domains WHERE org_guid = ?1)`,
	`DELETE FROM domain_shared_orgs WHERE org_guid = ?1 OR domain_guid IN (SELECT guid FROM domains WHERE org_guid = ?1)`,
	`DELETE FROM domains WHERE org_guid = ?1`,
	`DELETE FROM service_plan_visibilities WHERE org_guid = ?1`,
	`DELETE FROM space_quotas WHERE org_guid = ?1`,
	`DELETE FROM roles WHERE org_guid = ?1`,
}

// DeleteOrg deletes an organization whose spaces are gone, with its own
// domains and its roles, and records events; an org that is gone, or
// that still has a space, is ErrNotFound or the database's error.
func (s *Store) DeleteOrg(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		for _, q := range orgDeletes {
			if _, err := tx.ExecContext(ctx, q, guid); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM organizations WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// SetSpaceSSH writes whether apps of the space may be reached by ssh.
func (s *Store) SetSpaceSSH(ctx context.Context, guid string, enabled bool, updatedAt int64) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE spaces SET allow_ssh = ?, updated_at = ? WHERE guid = ?`, enabled, updatedAt, guid)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}
