package store

import (
	"context"
	"encoding/json"
)

// Org is a v3 organization.
type Org struct {
	ID          int64
	GUID        string
	Name        string
	Suspended   bool
	QuotaGUID   string
	Labels      Metadata
	Annotations Metadata
	CreatedAt   int64
	UpdatedAt   int64
}

// OrgFilter narrows an organizations list; nil slices do not filter.
type OrgFilter struct {
	GUIDs  []string
	Names  []string
	Labels []LabelReq
}

// Space is a v3 space.
type Space struct {
	ID          int64
	GUID        string
	Name        string
	OrgGUID     string
	AllowSSH    bool
	Labels      Metadata
	Annotations Metadata
	CreatedAt   int64
	UpdatedAt   int64
	// QuotaGUID is the space quota the space has, "" for none.
	QuotaGUID string
}

// SpaceFilter narrows a spaces list.
type SpaceFilter struct {
	GUIDs    []string
	Names    []string
	OrgGUIDs []string
	Labels   []LabelReq
}

// Stack is a v3 stack.
type Stack struct {
	ID          int64
	GUID        string
	Name        string
	Description string
	Default     bool
	State       string
	Labels      Metadata
	Annotations Metadata
	CreatedAt   int64
	UpdatedAt   int64
}

// StackFilter narrows a stacks list.
type StackFilter struct {
	GUIDs   []string
	Names   []string
	Default *bool
	Labels  []LabelReq
}

// User is a user of the embedded UAA, with the scopes its tokens carry.
type User struct {
	GUID     string
	Username string
	Email    string
	Scopes   []string
}

// Role is a CC role: an organization role when SpaceGUID is empty.
type Role struct {
	GUID      string
	Type      string
	UserGUID  string
	OrgGUID   string
	SpaceGUID string
}

// The CC role names.
const (
	RoleOrgUser           = "organization_user"
	RoleOrgManager        = "organization_manager"
	RoleOrgAuditor        = "organization_auditor"
	RoleOrgBillingManager = "organization_billing_manager"
	RoleSpaceDeveloper    = "space_developer"
	RoleSpaceManager      = "space_manager"
	RoleSpaceAuditor      = "space_auditor"
	RoleSpaceSupporter    = "space_supporter"
)

const orgCols = "id, guid, name, suspended, quota_guid, labels, annotations, created_at, updated_at"

func scanOrg(r scanner) (Org, error) {
	var o Org
	err := r.Scan(&o.ID, &o.GUID, &o.Name, &o.Suspended, &o.QuotaGUID, &o.Labels, &o.Annotations, &o.CreatedAt, &o.UpdatedAt)
	return o, err
}

// orgTable is how organizations are read: a user sees the orgs where it
// has a role.
var orgTable = table[Org]{name: "organizations", cols: orgCols, scan: scanOrg, order: orderNamed,
	visible: func(w *where, sc scope) { w.visibleOrgs("guid", sc) }}

func (f OrgFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	w.labels("labels", f.Labels)
}

// ListOrgs returns one page of the organizations v can see.
func (s *Store) ListOrgs(ctx context.Context, v Viewer, f OrgFilter, p Page) ([]Org, int, error) {
	return orgTable.list(ctx, s, v, f, p)
}

// GetOrg returns the organization guid if v can see it.
func (s *Store) GetOrg(ctx context.Context, v Viewer, guid string) (Org, error) {
	return orgTable.get(ctx, s, v, guid)
}

// CreateOrg inserts an organization.
func (s *Store) CreateOrg(ctx context.Context, o Org) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO organizations (guid, name, suspended, quota_guid, labels, annotations, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?)`, o.GUID, o.Name, o.Suspended, o.QuotaGUID, jsonText(nonNil(o.Labels)), jsonText(nonNil(o.Annotations)), o.CreatedAt, o.UpdatedAt)
		return err
	})
}

const spaceCols = "id, guid, name, org_guid, allow_ssh, labels, annotations, created_at, updated_at, quota_guid"

func scanSpace(r scanner) (Space, error) {
	var sp Space
	err := r.Scan(spaceDests(&sp)...)
	return sp, err
}

// spaceDests are the scan destinations of spaceCols.
func spaceDests(sp *Space) []any {
	return []any{&sp.ID, &sp.GUID, &sp.Name, &sp.OrgGUID, &sp.AllowSSH, &sp.Labels, &sp.Annotations, &sp.CreatedAt, &sp.UpdatedAt, &sp.QuotaGUID}
}

// spaceTable is how spaces are read.
var spaceTable = table[Space]{name: "spaces", cols: spaceCols, scan: scanSpace, order: orderNamed, visible: inVisibleSpaces("guid")}

func (f SpaceFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	w.in("org_guid", f.OrgGUIDs)
	w.labels("labels", f.Labels)
}

// ListSpaces returns one page of the spaces v can see.
func (s *Store) ListSpaces(ctx context.Context, v Viewer, f SpaceFilter, p Page) ([]Space, int, error) {
	return spaceTable.list(ctx, s, v, f, p)
}

// GetSpace returns the space guid if v can see it.
func (s *Store) GetSpace(ctx context.Context, v Viewer, guid string) (Space, error) {
	return spaceTable.get(ctx, s, v, guid)
}

// SpacesByGUID returns the named spaces, without visibility checks: callers
// use it for resources they already showed the viewer.
func (s *Store) SpacesByGUID(ctx context.Context, guids []string) ([]Space, error) {
	return spaceTable.byGUID(ctx, s, guids)
}

// OrgsByGUID returns the named organizations, without visibility checks.
func (s *Store) OrgsByGUID(ctx context.Context, guids []string) ([]Org, error) {
	return orgTable.byGUID(ctx, s, guids)
}

// CreateSpace inserts a space.
func (s *Store) CreateSpace(ctx context.Context, sp Space) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO spaces (guid, name, org_guid, allow_ssh, labels, annotations, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?)`, sp.GUID, sp.Name, sp.OrgGUID, sp.AllowSSH, jsonText(nonNil(sp.Labels)), jsonText(nonNil(sp.Annotations)), sp.CreatedAt, sp.UpdatedAt)
		return err
	})
}

const stackCols = "id, guid, name, description, is_default, state, labels, annotations, created_at, updated_at"

func scanStack(r scanner) (Stack, error) {
	var st Stack
	err := r.Scan(&st.ID, &st.GUID, &st.Name, &st.Description, &st.Default, &st.State, &st.Labels, &st.Annotations, &st.CreatedAt, &st.UpdatedAt)
	return st, err
}

// stackTable is how stacks are read; every user sees every stack.
var stackTable = table[Stack]{name: "stacks", cols: stackCols, scan: scanStack, order: orderNamed}

func (f StackFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	if f.Default != nil {
		w.add("is_default = ?", *f.Default)
	}
	w.labels("labels", f.Labels)
}

// ListStacks returns one page of stacks; every user sees every stack.
func (s *Store) ListStacks(ctx context.Context, f StackFilter, p Page) ([]Stack, int, error) {
	return stackTable.list(ctx, s, Viewer{All: true}, f, p)
}

// GetStack returns the stack guid.
func (s *Store) GetStack(ctx context.Context, guid string) (Stack, error) {
	return stackTable.get(ctx, s, Viewer{All: true}, guid)
}

// StackByName returns the stack called name (case-insensitive).
func (s *Store) StackByName(ctx context.Context, name string) (Stack, error) {
	return one(s.db.QueryRowContext(ctx, "SELECT "+stackCols+" FROM stacks WHERE name = ?", name), scanStack)
}

// DefaultStack returns the default stack.
func (s *Store) DefaultStack(ctx context.Context) (Stack, error) {
	return one(s.db.QueryRowContext(ctx, "SELECT "+stackCols+" FROM stacks WHERE is_default = 1 ORDER BY id LIMIT 1"), scanStack)
}

// CreateStack inserts a stack.
func (s *Store) CreateStack(ctx context.Context, st Stack) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO stacks (guid, name, description, is_default, state, labels, annotations, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?)`, st.GUID, st.Name, st.Description, st.Default, st.State, jsonText(nonNil(st.Labels)), jsonText(nonNil(st.Annotations)), st.CreatedAt, st.UpdatedAt)
		return err
	})
}

// CreateUser inserts a user of the UAA's origin that CC knows too: a
// seeded user, whose password comes from the configuration.
func (s *Store) CreateUser(ctx context.Context, u User) error {
	return s.write(ctx, func(tx *cachedTx) error {
		now := s.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (guid, username, email, scopes, created_at, updated_at) VALUES (?,?,?,?,?,?)`,
			u.GUID, u.Username, u.Email, jsonText(u.Scopes), now, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO cc_users (guid, created_at, updated_at) VALUES (?,?,?)`, u.GUID, now, now)
		return err
	})
}

const userCols = "guid, username, email, scopes"

func scanUser(r scanner) (User, error) {
	var u User
	var scopes string
	if err := r.Scan(&u.GUID, &u.Username, &u.Email, &scopes); err != nil {
		return u, err
	}
	err := json.Unmarshal([]byte(scopes), &u.Scopes)
	return u, err
}

// GetUser returns the user guid.
func (s *Store) GetUser(ctx context.Context, guid string) (User, error) {
	return one(s.db.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE guid = ?", guid), scanUser)
}

// UserByName returns the user of the UAA's own origin with that username.
func (s *Store) UserByName(ctx context.Context, username string) (User, error) {
	return one(s.db.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE username = ? AND origin = 'uaa'", username), scanUser)
}

// AddRole gives a user a role.
func (s *Store) AddRole(ctx context.Context, r Role) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO roles (guid, type, user_guid, org_guid, space_guid, created_at) VALUES (?,?,?,?,?,?)`,
			r.GUID, r.Type, r.UserGUID, r.OrgGUID, r.SpaceGUID, s.Now())
		return err
	})
}

// RolesIn returns the role types user holds in the org and, when spaceGUID
// is set, in that space.
func (s *Store) RolesIn(ctx context.Context, userGUID, orgGUID, spaceGUID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT type FROM roles WHERE user_guid = ? AND org_guid = ? AND (space_guid = '' OR space_guid = ?)`,
		userGUID, orgGUID, spaceGUID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func nonNil(m Metadata) Metadata {
	if m == nil {
		return Metadata{}
	}
	return m
}
