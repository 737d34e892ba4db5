package store

import (
	"context"
	"errors"
)

// OrgQuota is a v3 organization quota (CC's QuotaDefinition). A nil limit
// is unlimited.
type OrgQuota struct {
	ID   int64
	GUID string
	Name string
	QuotaLimits
	CreatedAt int64
	UpdatedAt int64
}

// OrgQuotaFilter narrows an organization quotas list.
type OrgQuotaFilter struct {
	GUIDs      []string
	Names      []string
	OrgGUIDs   []string
	CreatedAts []TimeCond
	UpdatedAts []TimeCond
}

// ErrQuotaInUse is a delete of an organization quota that an org still has.
var ErrQuotaInUse = errors.New("store: organization quota applied to an organization")

const orgQuotaCols = `id, guid, name, ` + quotaLimitCols + `, total_domains, created_at, updated_at`

func scanOrgQuota(r scanner) (OrgQuota, error) {
	var q OrgQuota
	err := r.Scan(joinArgs([]any{&q.ID, &q.GUID, &q.Name}, quotaLimitDests(&q.QuotaLimits), []any{&q.TotalDomains, &q.CreatedAt, &q.UpdatedAt})...)
	return q, err
}

// orgQuotaTable is how organization quotas are read; every user sees every
// quota (QuotaDefinition.user_visibility_filter is the full dataset).
var orgQuotaTable = table[OrgQuota]{name: "organization_quotas", cols: orgQuotaCols, scan: scanOrgQuota, order: orderTimes}

func (f OrgQuotaFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	w.inSelect("guid", "SELECT quota_guid FROM organizations WHERE guid", f.OrgGUIDs)
	w.times("created_at", f.CreatedAts)
	w.times("updated_at", f.UpdatedAts)
}

// ListOrgQuotas returns one page of organization quotas. Every user sees
// every quota, but organization_guids matches only the orgs v sees
// (OrganizationQuotaListFetcher's readable_org_ids_query).
func (s *Store) ListOrgQuotas(ctx context.Context, v Viewer, f OrgQuotaFilter, p Page) ([]OrgQuota, int, error) {
	if f.OrgGUIDs != nil && !v.All {
		sc, err := s.scope(ctx, v)
		if err != nil {
			return nil, 0, err
		}
		visible := []string{}
		for _, g := range f.OrgGUIDs {
			for _, o := range sc.orgs {
				if g == o {
					visible = append(visible, g)
					break
				}
			}
		}
		f.OrgGUIDs = visible
	}
	return orgQuotaTable.list(ctx, s, Viewer{All: true}, f, p)
}

// GetOrgQuota returns the organization quota guid.
func (s *Store) GetOrgQuota(ctx context.Context, guid string) (OrgQuota, error) {
	return orgQuotaTable.get(ctx, s, Viewer{All: true}, guid)
}

// QuotaOrgs returns, by quota guid, the guids of the orgs v sees that have
// each of quotaGUIDs, in the order the orgs were created.
func (s *Store) QuotaOrgs(ctx context.Context, v Viewer, quotaGUIDs []string) (map[string][]string, error) {
	return orgQuotaHolders.of(ctx, s, v, quotaGUIDs)
}

// CreateOrgQuota inserts an organization quota, applies it to orgGUIDs
// and records events; a name taken, whatever its case, is ErrConflict.
func (s *Store) CreateOrgQuota(ctx context.Context, q OrgQuota, orgGUIDs []string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO organization_quotas (guid, name, `+quotaLimitCols+`, total_domains, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			joinArgs([]any{q.GUID, q.Name}, quotaLimitArgs(q.QuotaLimits), []any{q.TotalDomains, q.CreatedAt, q.UpdatedAt})...); err != nil {
			return err
		}
		if err := orgQuotaHolders.set(ctx, tx, q.GUID, orgGUIDs, q.CreatedAt); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// UpdateOrgQuota writes every field of q and records events; a name taken
// is ErrConflict, a quota that is gone ErrNotFound.
func (s *Store) UpdateOrgQuota(ctx context.Context, q OrgQuota, events ...Event) error {
	return s.updateQuota(ctx, "organization_quotas", "total_domains = ?, ", []any{q.TotalDomains}, q.GUID, q.Name, q.QuotaLimits, q.UpdatedAt, events)
}

// ApplyOrgQuota gives the orgs orgGUIDs the quota guid and records events.
func (s *Store) ApplyOrgQuota(ctx context.Context, guid string, orgGUIDs []string, updatedAt int64, events ...Event) error {
	return orgQuotaHolders.apply(ctx, s, guid, orgGUIDs, updatedAt, events)
}

// OrgQuotaInUse says whether an org has the quota guid.
func (s *Store) OrgQuotaInUse(ctx context.Context, guid string) (bool, error) {
	return orgQuotaHolders.inUse(ctx, s, guid)
}

// DeleteOrgQuota deletes an organization quota and records events; a quota
// that an org has is ErrQuotaInUse (QuotaDefinition#before_destroy), one
// that is gone ErrNotFound.
func (s *Store) DeleteOrgQuota(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM organizations WHERE quota_guid = ?`, guid).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrQuotaInUse
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM organization_quotas WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}
