package store

import (
	"context"
	"errors"
)

// ErrNotShared is RemoveDomainShare's answer for an org the domain is not
// shared with (CC's DomainDeleteSharedOrg::OrgError).
var ErrNotShared = errors.New("store: domain not shared with organization")

// ErrDomainRoutes is RemoveDomainShare's answer when the org still has
// routes on the domain (CC's DomainDeleteSharedOrg::RouteError).
var ErrDomainRoutes = errors.New("store: domain has routes in organization")

// SharedOrgs returns, by domain guid, the orgs each of domainGUIDs is shared
// with that v sees, by guid in the order they were shared
// (DomainPresenter and DomainSharedOrgsPresenter show only visible orgs).
func (s *Store) SharedOrgs(ctx context.Context, v Viewer, domainGUIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(domainGUIDs))
	if len(domainGUIDs) == 0 {
		return out, nil
	}
	sc, err := s.scope(ctx, v)
	if err != nil {
		return nil, err
	}
	w := &where{}
	w.in("domain_guid", domainGUIDs)
	w.visibleOrgs("org_guid", sc)
	rows, err := s.db.QueryContext(ctx, "SELECT domain_guid, org_guid FROM domain_shared_orgs"+w.sql()+" ORDER BY rowid", w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var d, o string
		if err := rows.Scan(&d, &o); err != nil {
			return nil, err
		}
		out[d] = append(out[d], o)
	}
	return out, rows.Err()
}

// ShareDomain shares a domain with orgs; orgs it is shared with already
// stay as they are (DomainUpdateSharedOrgs adds only the new ones).
func (s *Store) ShareDomain(ctx context.Context, domainGUID string, orgGUIDs []string) error {
	return s.write(ctx, func(tx *cachedTx) error { return shareDomain(ctx, tx, domainGUID, orgGUIDs) })
}

func shareDomain(ctx context.Context, tx *cachedTx, domainGUID string, orgGUIDs []string) error {
	for _, o := range orgGUIDs {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO domain_shared_orgs (domain_guid, org_guid) VALUES (?,?)`, domainGUID, o); err != nil {
			return err
		}
	}
	return nil
}

// RemoveDomainShare stops sharing a domain with an org: ErrNotShared when
// it is not shared with it, ErrDomainRoutes while the org's spaces still
// have routes on it.
func (s *Store) RemoveDomainShare(ctx context.Context, domainGUID, orgGUID string) error {
	return s.write(ctx, func(tx *cachedTx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM domain_shared_orgs WHERE domain_guid = ? AND org_guid = ?`,
			domainGUID, orgGUID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotShared
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM routes WHERE domain_guid = ?
			AND space_guid IN (SELECT guid FROM spaces WHERE org_guid = ?)`, domainGUID, orgGUID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrDomainRoutes
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM domain_shared_orgs WHERE domain_guid = ? AND org_guid = ?`, domainGUID, orgGUID)
		return err
	})
}

// RouteReserved says whether the domain has a route with exactly host,
// path and port, port 0 being the routes without one (CC's check_routes
// reads "" and 0 for what is not asked, and CC stores 0 for http routes).
func (s *Store) RouteReserved(ctx context.Context, domainGUID, host, path string, port int64) (bool, error) {
	q := `SELECT count(*) FROM routes WHERE domain_guid = ? AND host = ? AND path = ?`
	args := []any{domainGUID, host, path}
	if port == 0 {
		q += ` AND port IS NULL`
	} else {
		q += ` AND port = ?`
		args = append(args, port)
	}
	var n int
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n > 0, err
}
