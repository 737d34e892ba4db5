package store

import "context"

// RoleRecord is a stored role with its creation time. Roles are never
// updated: updated_at is created_at.
type RoleRecord struct {
	ID int64
	Role
	CreatedAt int64
}

// ForSpace says whether r is a space role.
func (r Role) ForSpace() bool { return r.SpaceGUID != "" }

// RoleFilter narrows a roles list. OrgGUIDs matches organization roles
// only: CC's space roles have no organization (RoleListFetcher).
type RoleFilter struct {
	GUIDs      []string
	Types      []string
	OrgGUIDs   []string
	SpaceGUIDs []string
	UserGUIDs  []string
	CreatedAts []TimeCond
	UpdatedAts []TimeCond
}

const roleCols = "id, guid, type, user_guid, org_guid, space_guid, created_at"

func scanRole(r scanner) (RoleRecord, error) {
	var rr RoleRecord
	err := r.Scan(&rr.ID, &rr.GUID, &rr.Type, &rr.UserGUID, &rr.OrgGUID, &rr.SpaceGUID, &rr.CreatedAt)
	return rr, err
}

// roleTable is how roles are read: a user sees the space roles of the
// spaces it sees and the organization roles of the orgs it sees
// (RolesController#readable_roles).
var roleTable = table[RoleRecord]{name: "roles", cols: roleCols, scan: scanRole,
	order: map[string]string{"created_at": "created_at", "updated_at": "created_at"},
	visible: func(w *where, sc scope) {
		if sc.all {
			return
		}
		spaces, orgs := &where{}, &where{}
		spaces.in("space_guid", sc.spaces)
		orgs.in("org_guid", sc.orgs)
		w.add("((space_guid != '' AND "+spaces.clauses[0]+") OR (space_guid = '' AND "+orgs.clauses[0]+"))",
			append(spaces.args, orgs.args...)...)
	}}

func (f RoleFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("type", f.Types)
	if f.OrgGUIDs != nil {
		w.add("space_guid = ''")
		w.in("org_guid", f.OrgGUIDs)
	}
	w.in("space_guid", f.SpaceGUIDs)
	w.in("user_guid", f.UserGUIDs)
	w.times("created_at", f.CreatedAts)
	w.times("created_at", f.UpdatedAts)
}

// ListRoles returns one page of the roles v sees.
func (s *Store) ListRoles(ctx context.Context, v Viewer, f RoleFilter, p Page) ([]RoleRecord, int, error) {
	return roleTable.list(ctx, s, v, f, p)
}

// GetRole returns the role guid if v sees it.
func (s *Store) GetRole(ctx context.Context, v Viewer, guid string) (RoleRecord, error) {
	return roleTable.get(ctx, s, v, guid)
}

// InsertRole gives a user a role and records events; newUser, when not
// nil, is a user CC learns about first (RolesController#create_cc_user).
// A role the user has already is ErrConflict.
func (s *Store) InsertRole(ctx context.Context, r RoleRecord, newUser *CCUser, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if newUser != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cc_users (guid, labels, annotations, created_at, updated_at) VALUES (?,'{}','{}',?,?)
				ON CONFLICT (guid) DO NOTHING`, newUser.GUID, newUser.CreatedAt, newUser.UpdatedAt); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO roles (guid, type, user_guid, org_guid, space_guid, created_at) VALUES (?,?,?,?,?,?)`,
			r.GUID, r.Type, r.UserGUID, r.OrgGUID, r.SpaceGUID, r.CreatedAt); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// DeleteRole deletes the role guid and records events.
func (s *Store) DeleteRole(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// HasSpaceRolesIn says whether the user has a role in a space of the org.
func (s *Store) HasSpaceRolesIn(ctx context.Context, userGUID, orgGUID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM roles WHERE user_guid = ? AND org_guid = ? AND space_guid != ''`,
		userGUID, orgGUID).Scan(&n)
	return n > 0, err
}
