package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// AppPlace is an app with the space it lives in, whether that space's
// organization is suspended, and the roles a viewer holds there: what a
// per-app v3 call needs to decide visibility, write and secrets access.
type AppPlace struct {
	App          App
	Space        Space
	OrgSuspended bool
	// Roles are the role types the viewer holds in the organization and
	// in the space, as RolesIn returns them; nil when they were not read.
	Roles []string
}

// appPlaceQuery reads an app joined to its space and organization, so that
// a per-app call costs one query instead of an app, a space and an org read.
var appPlaceQuery = "SELECT " + qualify("a", appCols) + ", " + qualify("s", spaceCols) + `, o.suspended
	FROM apps a JOIN spaces s ON s.guid = a.space_guid JOIN organizations o ON o.guid = s.org_guid WHERE a.guid = ?`

// placeRolesQuery reads a user's roles that bear on one space: those in the
// space, and every role in its org (GetAppPlace sorts them out).
const placeRolesQuery = `SELECT type, org_guid, space_guid FROM roles WHERE user_guid = ? AND (space_guid = ? OR org_guid = ?)`

// placeStmts are GetAppPlace's prepared statements.
type placeStmts struct {
	app, roles *sql.Stmt
}

func (p *placeStmts) prepare(ctx context.Context, db *sql.DB) error {
	var err error
	if p.app, err = db.PrepareContext(ctx, appPlaceQuery); err != nil {
		return fmt.Errorf("store: prepare: %w", err)
	}
	if p.roles, err = db.PrepareContext(ctx, placeRolesQuery); err != nil {
		p.close()
		return fmt.Errorf("store: prepare: %w", err)
	}
	return nil
}

func (p *placeStmts) close() {
	for _, st := range []*sql.Stmt{p.app, p.roles} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// GetAppPlace returns the app guid if v can see it, in at most two queries:
// the app with its space and organization, then v's roles there. A viewer
// that is not All always needs the second, because its roles decide what
// it sees; withRoles asks for them for an All viewer too.
func (s *Store) GetAppPlace(ctx context.Context, v Viewer, guid string, withRoles bool) (AppPlace, error) {
	var pl AppPlace
	row := s.place.app.QueryRowContext(ctx, guid)
	a, err := one(row, func(r scanner) (App, error) {
		return scanApp(tailScanner{r, append(spaceDests(&pl.Space), &pl.OrgSuspended)})
	})
	if err != nil {
		return AppPlace{}, err
	}
	pl.App = a
	if v.All && !withRoles {
		return pl, nil
	}
	rows, err := s.place.roles.QueryContext(ctx, v.UserGUID, pl.Space.GUID, pl.Space.OrgGUID)
	if err != nil {
		return AppPlace{}, err
	}
	defer rows.Close()
	visible := v.All
	for rows.Next() {
		var typ, org, space string
		if err := rows.Scan(&typ, &org, &space); err != nil {
			return AppPlace{}, err
		}
		// Visibility is scope's rule for one space: a role in the space, or
		// organization manager of its org (CC's Space.user_visibility_filter).
		if space == pl.Space.GUID || (typ == RoleOrgManager && org == pl.Space.OrgGUID) {
			visible = true
		}
		// The roles are RolesIn's: the org's roles and the space's.
		if org == pl.Space.OrgGUID && (space == "" || space == pl.Space.GUID) {
			pl.Roles = append(pl.Roles, typ)
		}
	}
	if err := rows.Err(); err != nil {
		return AppPlace{}, err
	}
	if !visible {
		return AppPlace{}, ErrNotFound
	}
	return pl, nil
}

// tailScanner hands a scan function the leading columns of a row and
// scans the trailing ones into tail, so a joined row reuses scanApp.
type tailScanner struct {
	r    scanner
	tail []any
}

func (t tailScanner) Scan(dest ...any) error { return t.r.Scan(append(dest, t.tail...)...) }

// qualify prefixes every column of a column list with a table alias.
func qualify(alias, cols string) string {
	return alias + "." + strings.ReplaceAll(cols, ", ", ", "+alias+".")
}
