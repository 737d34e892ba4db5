package store

import (
	"context"
	"database/sql"
)

// IsolationSegment is a CC isolation segment.
type IsolationSegment struct {
	ID          int64
	GUID        string
	Name        string
	Labels      Metadata
	Annotations Metadata
	CreatedAt   int64
	UpdatedAt   int64
}

// IsolationSegmentFilter narrows an isolation segments list.
type IsolationSegmentFilter struct {
	GUIDs      []string
	Names      []string
	OrgGUIDs   []string
	Labels     []LabelReq
	CreatedAts []TimeCond
	UpdatedAts []TimeCond
}

const isolationSegmentCols = "id, guid, name, labels, annotations, created_at, updated_at"

func scanIsolationSegment(r scanner) (IsolationSegment, error) {
	var g IsolationSegment
	err := r.Scan(&g.ID, &g.GUID, &g.Name, &g.Labels, &g.Annotations, &g.CreatedAt, &g.UpdatedAt)
	return g, err
}

// isolationSegmentTable is how isolation segments are read: a user sees
// the segments entitled to an org where it has a role
// (IsolationSegmentListFetcher.fetch_for_organizations).
var isolationSegmentTable = table[IsolationSegment]{name: "isolation_segments", cols: isolationSegmentCols, scan: scanIsolationSegment,
	order: orderNamed, visible: func(w *where, sc scope) {
		if !sc.all {
			w.inSelect("guid", "SELECT isolation_segment_guid FROM organization_isolation_segments WHERE org_guid", sc.orgs)
		}
	}}

func (f IsolationSegmentFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	w.inSelect("guid", "SELECT isolation_segment_guid FROM organization_isolation_segments WHERE org_guid", f.OrgGUIDs)
	w.metadata(f.Labels, f.CreatedAts, f.UpdatedAts)
}

// ListIsolationSegments returns one page of the isolation segments v sees.
func (s *Store) ListIsolationSegments(ctx context.Context, v Viewer, f IsolationSegmentFilter, p Page) ([]IsolationSegment, int, error) {
	return isolationSegmentTable.list(ctx, s, v, f, p)
}

// GetIsolationSegment returns the isolation segment guid if v sees it.
func (s *Store) GetIsolationSegment(ctx context.Context, v Viewer, guid string) (IsolationSegment, error) {
	return isolationSegmentTable.get(ctx, s, v, guid)
}

// CreateIsolationSegment inserts an isolation segment; a name taken,
// whatever its case, is ErrConflict.
func (s *Store) CreateIsolationSegment(ctx context.Context, g IsolationSegment) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO isolation_segments (guid, name, labels, annotations, created_at, updated_at) VALUES (?,?,?,?,?,?)`,
			g.GUID, g.Name, jsonText(nonNil(g.Labels)), jsonText(nonNil(g.Annotations)), g.CreatedAt, g.UpdatedAt)
		return err
	})
}

// SegmentOrgs returns the guids of the orgs v sees that are entitled to
// the segment guid, in the order the orgs were created.
func (s *Store) SegmentOrgs(ctx context.Context, v Viewer, guid string) ([]string, error) {
	sc, err := s.scope(ctx, v)
	if err != nil {
		return nil, err
	}
	w := &where{}
	w.add("e.isolation_segment_guid = ?", guid)
	w.visibleOrgs("e.org_guid", sc)
	return s.guids(ctx, `SELECT e.org_guid FROM organization_isolation_segments e JOIN organizations o ON o.guid = e.org_guid`+w.sql()+` ORDER BY o.id`, w.args...)
}

// SegmentSpaces returns the guids of the spaces v sees that are placed in
// the segment guid, in the order the spaces were created.
func (s *Store) SegmentSpaces(ctx context.Context, v Viewer, guid string) ([]string, error) {
	sc, err := s.scope(ctx, v)
	if err != nil {
		return nil, err
	}
	w := &where{}
	w.add("isolation_segment_guid = ?", guid)
	w.visibleSpaces("guid", sc)
	return s.guids(ctx, `SELECT guid FROM spaces`+w.sql()+` ORDER BY id`, w.args...)
}

// guids runs a query of one text column.
func (s *Store) guids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// EntitleOrgs entitles the orgs orgGUIDs to the segment guid. An org
// without a default segment gets the segment as its default when it is
// sharedGUID (IsolationSegmentAssign#assign).
func (s *Store) EntitleOrgs(ctx context.Context, guid, sharedGUID string, orgGUIDs []string) error {
	return s.write(ctx, func(tx *cachedTx) error {
		for _, o := range orgGUIDs {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO organization_isolation_segments (isolation_segment_guid, org_guid) VALUES (?,?)`,
				guid, o); err != nil {
				return err
			}
			if guid != sharedGUID {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE organizations SET default_isolation_segment_guid = ? WHERE guid = ? AND default_isolation_segment_guid IS NULL`,
				guid, o); err != nil {
				return err
			}
		}
		return nil
	})
}

// OrgEntitled says whether the org orgGUID is entitled to the segment guid.
func (s *Store) OrgEntitled(ctx context.Context, orgGUID, guid string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM organization_isolation_segments WHERE org_guid = ? AND isolation_segment_guid = ?`,
		orgGUID, guid).Scan(&n)
	return n > 0, err
}

// OrgDefaultSegment returns the guid of the org's default isolation
// segment, "" when it has none.
func (s *Store) OrgDefaultSegment(ctx context.Context, orgGUID string) (string, error) {
	var g sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT default_isolation_segment_guid FROM organizations WHERE guid = ?`, orgGUID).Scan(&g)
	if err == sql.ErrNoRows {
		return "", ErrNotFound
	}
	return g.String, err
}

// SetOrgDefaultSegment sets the org's default isolation segment; "" is
// none.
func (s *Store) SetOrgDefaultSegment(ctx context.Context, orgGUID, guid string, updatedAt int64) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE organizations SET default_isolation_segment_guid = ?, updated_at = ? WHERE guid = ?`,
			nullIfEmpty(guid), updatedAt, orgGUID)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}

// SpaceSegment returns the guid of the space's isolation segment, "" when
// it has none.
func (s *Store) SpaceSegment(ctx context.Context, spaceGUID string) (string, error) {
	var g sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT isolation_segment_guid FROM spaces WHERE guid = ?`, spaceGUID).Scan(&g)
	if err == sql.ErrNoRows {
		return "", ErrNotFound
	}
	return g.String, err
}

// SetSpaceSegment places the space in the isolation segment guid ("" for
// none) and records events.
func (s *Store) SetSpaceSegment(ctx context.Context, spaceGUID, guid string, updatedAt int64, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE spaces SET isolation_segment_guid = ?, updated_at = ? WHERE guid = ?`,
			nullIfEmpty(guid), updatedAt, spaceGUID)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// UpdateIsolationSegment writes the name and metadata of g; a name taken
// is ErrConflict, a segment that is gone ErrNotFound.
func (s *Store) UpdateIsolationSegment(ctx context.Context, g IsolationSegment) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE isolation_segments SET name = ?, labels = ?, annotations = ?, updated_at = ? WHERE guid = ?`,
			g.Name, jsonText(nonNil(g.Labels)), jsonText(nonNil(g.Annotations)), g.UpdatedAt, g.GUID)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}

// SegmentUse says what uses the segment guid: how many orgs are entitled
// to it, how many have it as their default, and how many spaces are in it.
type SegmentUse struct {
	Entitled, Defaults, Spaces int
}

// IsolationSegmentUse counts what uses the segment guid.
func (s *Store) IsolationSegmentUse(ctx context.Context, guid string) (SegmentUse, error) {
	var u SegmentUse
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM organization_isolation_segments WHERE isolation_segment_guid = ?),
		(SELECT COUNT(*) FROM organizations WHERE default_isolation_segment_guid = ?),
		(SELECT COUNT(*) FROM spaces WHERE isolation_segment_guid = ?)`, guid, guid, guid).Scan(&u.Entitled, &u.Defaults, &u.Spaces)
	return u, err
}

// DeleteIsolationSegment deletes the segment guid; one that is gone is
// ErrNotFound.
func (s *Store) DeleteIsolationSegment(ctx context.Context, guid string) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM isolation_segments WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}

// SegmentSpaceNames returns the names of the spaces of the org orgGUID
// that are in the segment guid, in the order they were created.
func (s *Store) SegmentSpaceNames(ctx context.Context, guid, orgGUID string) ([]string, error) {
	return s.guids(ctx, `SELECT name FROM spaces WHERE isolation_segment_guid = ? AND org_guid = ? ORDER BY id`, guid, orgGUID)
}

// RevokeEntitlement takes the org's entitlement to the segment guid away.
func (s *Store) RevokeEntitlement(ctx context.Context, guid, orgGUID string) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM organization_isolation_segments WHERE isolation_segment_guid = ? AND org_guid = ?`, guid, orgGUID)
		return err
	})
}
