package store

import "context"

// SpaceQuota is a v3 space quota (CC's SpaceQuotaDefinition), owned by the
// org OrgGUID. A nil limit is unlimited; TotalDomains is never set.
type SpaceQuota struct {
	ID      int64
	GUID    string
	Name    string
	OrgGUID string
	QuotaLimits
	CreatedAt int64
	UpdatedAt int64
}

// SpaceQuotaFilter narrows a space quotas list.
type SpaceQuotaFilter struct {
	GUIDs      []string
	Names      []string
	OrgGUIDs   []string
	SpaceGUIDs []string
	CreatedAts []TimeCond
	UpdatedAts []TimeCond
}

const spaceQuotaCols = `id, guid, name, org_guid, ` + quotaLimitCols + `, created_at, updated_at`

func scanSpaceQuota(r scanner) (SpaceQuota, error) {
	var q SpaceQuota
	err := r.Scan(joinArgs([]any{&q.ID, &q.GUID, &q.Name, &q.OrgGUID}, quotaLimitDests(&q.QuotaLimits), []any{&q.CreatedAt, &q.UpdatedAt})...)
	return q, err
}

// spaceQuotaTable is how space quotas are read; visibleSpaceQuotas limits
// them to what a Viewer sees.
var spaceQuotaTable = table[SpaceQuota]{name: "space_quotas", cols: spaceQuotaCols, scan: scanSpaceQuota, order: orderTimes}

func (f SpaceQuotaFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	w.in("org_guid", f.OrgGUIDs)
	w.inSelect("guid", "SELECT quota_guid FROM spaces WHERE guid", f.SpaceGUIDs)
	w.times("created_at", f.CreatedAts)
	w.times("updated_at", f.UpdatedAts)
}

// visibleSpaceQuotas limits w to the space quotas v reads
// (SpaceQuotaDefinition.user_visibility_filter): those of the spaces
// where v holds a space role, and those of the orgs v manages.
func visibleSpaceQuotas(v Viewer, w *where) {
	if v.All {
		return
	}
	w.add(`(guid IN (SELECT s.quota_guid FROM spaces s JOIN roles r ON r.space_guid = s.guid WHERE r.user_guid = ?)
		OR org_guid IN (SELECT org_guid FROM roles WHERE user_guid = ? AND type = ?))`, v.UserGUID, v.UserGUID, RoleOrgManager)
}

// ListSpaceQuotas returns one page of the space quotas v sees.
func (s *Store) ListSpaceQuotas(ctx context.Context, v Viewer, f SpaceQuotaFilter, p Page) ([]SpaceQuota, int, error) {
	w := &where{}
	visibleSpaceQuotas(v, w)
	f.conds(w)
	return list(ctx, s.db, spaceQuotaTable.name, spaceQuotaTable.cols, w, p, spaceQuotaTable.order, spaceQuotaTable.scan)
}

// GetSpaceQuota returns the space quota guid if v sees it.
func (s *Store) GetSpaceQuota(ctx context.Context, v Viewer, guid string) (SpaceQuota, error) {
	w := &where{}
	w.add("guid = ?", guid)
	visibleSpaceQuotas(v, w)
	return one(s.db.QueryRowContext(ctx, "SELECT "+spaceQuotaCols+" FROM space_quotas"+w.sql(), w.args...), scanSpaceQuota)
}

// QuotaSpaces returns, by space quota guid, the guids of the spaces v sees
// that have each of quotaGUIDs, in the order the spaces were created.
func (s *Store) QuotaSpaces(ctx context.Context, v Viewer, quotaGUIDs []string) (map[string][]string, error) {
	return spaceQuotaHolders.of(ctx, s, v, quotaGUIDs)
}

// CreateSpaceQuota inserts a space quota, applies it to spaceGUIDs and
// records events; a name its org already has, whatever its case, is
// ErrConflict.
func (s *Store) CreateSpaceQuota(ctx context.Context, q SpaceQuota, spaceGUIDs []string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO space_quotas (guid, name, org_guid, `+quotaLimitCols+`, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			joinArgs([]any{q.GUID, q.Name, q.OrgGUID}, quotaLimitArgs(q.QuotaLimits), []any{q.CreatedAt, q.UpdatedAt})...); err != nil {
			return err
		}
		if err := spaceQuotaHolders.set(ctx, tx, q.GUID, spaceGUIDs, q.CreatedAt); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// UpdateSpaceQuota writes the name and limits of q and records events; a
// name taken in its org is ErrConflict, a quota that is gone ErrNotFound.
func (s *Store) UpdateSpaceQuota(ctx context.Context, q SpaceQuota, events ...Event) error {
	return s.updateQuota(ctx, "space_quotas", "", nil, q.GUID, q.Name, q.QuotaLimits, q.UpdatedAt, events)
}

// ApplySpaceQuota gives the spaces spaceGUIDs the space quota guid, in
// place of any they had, and records events.
func (s *Store) ApplySpaceQuota(ctx context.Context, guid string, spaceGUIDs []string, updatedAt int64, events ...Event) error {
	return spaceQuotaHolders.apply(ctx, s, guid, spaceGUIDs, updatedAt, events)
}

// RemoveSpaceQuota takes the space quota guid from the space spaceGUID
// and records events; a space without it is ErrNotFound.
func (s *Store) RemoveSpaceQuota(ctx context.Context, guid, spaceGUID string, updatedAt int64, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE spaces SET quota_guid = '', updated_at = ? WHERE guid = ? AND quota_guid = ?`, updatedAt, spaceGUID, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// SpaceQuotaInUse says whether a space has the space quota guid.
func (s *Store) SpaceQuotaInUse(ctx context.Context, guid string) (bool, error) {
	return spaceQuotaHolders.inUse(ctx, s, guid)
}

// DeleteSpaceQuota deletes a space quota and records events; the spaces
// that have it are left without one (SpaceQuotaDefinition's spaces:
// :nullify). One that is gone is ErrNotFound.
func (s *Store) DeleteSpaceQuota(ctx context.Context, guid string, updatedAt int64, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE spaces SET quota_guid = '', updated_at = ? WHERE quota_guid = ?`, updatedAt, guid); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM space_quotas WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}
