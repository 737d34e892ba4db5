package store

import "context"

// DeleteDomain deletes a domain with its routes, their destinations and its
// sharing with other orgs, as CC's Domain#destroy does (routes :destroy,
// shared_organizations :nullify); a domain that is gone is ErrNotFound.
func (s *Store) DeleteDomain(ctx context.Context, guid string) error {
	return s.write(ctx, func(tx *cachedTx) error {
		for _, q := range []string{
			`DELETE FROM route_destinations WHERE route_guid IN (SELECT guid FROM routes WHERE domain_guid = ?)`,
			`DELETE FROM routes WHERE domain_guid = ?`,
			`DELETE FROM domain_shared_orgs WHERE domain_guid = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, guid); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}
