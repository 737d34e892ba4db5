package store

import (
	"context"
	"encoding/json"
)

// SecurityGroup is a CC security group. Rules is the JSON array as it was
// sent; Running and Staging say it is enabled globally for running apps
// and for staging.
type SecurityGroup struct {
	ID        int64
	GUID      string
	Name      string
	Rules     json.RawMessage
	Running   bool
	Staging   bool
	CreatedAt int64
	UpdatedAt int64
}

// SecurityGroupFilter narrows a security groups list.
type SecurityGroupFilter struct {
	GUIDs             []string
	Names             []string
	RunningSpaceGUIDs []string
	StagingSpaceGUIDs []string
	Running           *bool
	Staging           *bool
	CreatedAts        []TimeCond
	UpdatedAts        []TimeCond
	// ForSpace keeps the groups that apply to the space: those bound to it
	// for running (for staging when ForStaging) and those enabled globally
	// for the same (SpacesV3Controller#fetch_running_security_group_ids).
	ForSpace   string
	ForStaging bool
}

// SecurityGroupSpaces are the spaces a group is bound to, each list in
// the order the spaces were created.
type SecurityGroupSpaces struct {
	Running []string
	Staging []string
}

const securityGroupCols = "id, guid, name, rules, running_default, staging_default, created_at, updated_at"

func scanSecurityGroup(r scanner) (SecurityGroup, error) {
	var g SecurityGroup
	var rules string
	err := r.Scan(&g.ID, &g.GUID, &g.Name, &rules, &g.Running, &g.Staging, &g.CreatedAt, &g.UpdatedAt)
	g.Rules = json.RawMessage(rules)
	return g, err
}

// securityGroupTable is how security groups are read: a user sees the
// groups enabled globally and those bound to a space it sees
// (Permissions#readable_security_groups_dataset).
var securityGroupTable = table[SecurityGroup]{name: "security_groups", cols: securityGroupCols, scan: scanSecurityGroup, order: orderTimes,
	visible: func(w *where, sc scope) {
		if sc.all {
			return
		}
		if len(sc.spaces) == 0 {
			w.add("(running_default = 1 OR staging_default = 1)")
			return
		}
		w.add("(running_default = 1 OR staging_default = 1 OR guid IN (SELECT security_group_guid FROM security_group_spaces WHERE space_guid IN ("+
			placeholders(len(sc.spaces))+")))", strArgs(sc.spaces)...)
	}}

func (f SecurityGroupFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	w.inSelect("guid", "SELECT security_group_guid FROM security_group_spaces WHERE staging = 0 AND space_guid", f.RunningSpaceGUIDs)
	w.inSelect("guid", "SELECT security_group_guid FROM security_group_spaces WHERE staging = 1 AND space_guid", f.StagingSpaceGUIDs)
	if f.Running != nil {
		w.add("running_default = ?", *f.Running)
	}
	if f.Staging != nil {
		w.add("staging_default = ?", *f.Staging)
	}
	w.times("created_at", f.CreatedAts)
	w.times("updated_at", f.UpdatedAts)
	if f.ForSpace != "" {
		global := "running_default"
		if f.ForStaging {
			global = "staging_default"
		}
		w.add("("+global+" = 1 OR guid IN (SELECT security_group_guid FROM security_group_spaces WHERE space_guid = ? AND staging = ?))",
			f.ForSpace, f.ForStaging)
	}
}

// ListSecurityGroups returns one page of the security groups v sees.
func (s *Store) ListSecurityGroups(ctx context.Context, v Viewer, f SecurityGroupFilter, p Page) ([]SecurityGroup, int, error) {
	return securityGroupTable.list(ctx, s, v, f, p)
}

// ListSpaceSecurityGroups returns one page of the groups that apply to
// the space f.ForSpace, whoever asks: the caller was let see the space.
func (s *Store) ListSpaceSecurityGroups(ctx context.Context, f SecurityGroupFilter, p Page) ([]SecurityGroup, int, error) {
	return securityGroupTable.list(ctx, s, Viewer{All: true}, f, p)
}

// GetSecurityGroup returns the security group guid if v sees it.
func (s *Store) GetSecurityGroup(ctx context.Context, v Viewer, guid string) (SecurityGroup, error) {
	return securityGroupTable.get(ctx, s, v, guid)
}

// SecurityGroupSpacesOf returns, by group guid, the spaces each of guids
// is bound to, of those v sees.
func (s *Store) SecurityGroupSpacesOf(ctx context.Context, v Viewer, guids []string) (map[string]SecurityGroupSpaces, error) {
	out := make(map[string]SecurityGroupSpaces, len(guids))
	if len(guids) == 0 {
		return out, nil
	}
	sc, err := s.scope(ctx, v)
	if err != nil {
		return nil, err
	}
	w := &where{}
	w.in("b.security_group_guid", guids)
	w.visibleSpaces("b.space_guid", sc)
	rows, err := s.db.QueryContext(ctx, `SELECT b.security_group_guid, b.space_guid, b.staging FROM security_group_spaces b
		JOIN spaces s ON s.guid = b.space_guid`+w.sql()+` ORDER BY s.id`, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var g, space string
		var staging bool
		if err := rows.Scan(&g, &space, &staging); err != nil {
			return nil, err
		}
		b := out[g]
		if staging {
			b.Staging = append(b.Staging, space)
		} else {
			b.Running = append(b.Running, space)
		}
		out[g] = b
	}
	return out, rows.Err()
}

// CreateSecurityGroup inserts a security group bound to the spaces
// running and staging; a name taken is ErrConflict.
func (s *Store) CreateSecurityGroup(ctx context.Context, g SecurityGroup, running, staging []string) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO security_groups (guid, name, rules, running_default, staging_default, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?)`, g.GUID, g.Name, string(g.Rules), g.Running, g.Staging, g.CreatedAt, g.UpdatedAt); err != nil {
			return err
		}
		if err := bindSecurityGroup(ctx, tx, g.GUID, false, running); err != nil {
			return err
		}
		return bindSecurityGroup(ctx, tx, g.GUID, true, staging)
	})
}

// UpdateSecurityGroup writes the name, rules and global flags of g; a
// name taken is ErrConflict, a group that is gone ErrNotFound.
func (s *Store) UpdateSecurityGroup(ctx context.Context, g SecurityGroup) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE security_groups SET name = ?, rules = ?, running_default = ?, staging_default = ?, updated_at = ?
			WHERE guid = ?`, g.Name, string(g.Rules), g.Running, g.Staging, g.UpdatedAt, g.GUID)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}

// BindSecurityGroup binds the group guid to spaces for running apps, or
// for staging; a binding already there stays as it is.
func (s *Store) BindSecurityGroup(ctx context.Context, guid string, staging bool, spaces []string) error {
	return s.write(ctx, func(tx *cachedTx) error { return bindSecurityGroup(ctx, tx, guid, staging, spaces) })
}

func bindSecurityGroup(ctx context.Context, tx *cachedTx, guid string, staging bool, spaces []string) error {
	for _, sp := range spaces {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO security_group_spaces (security_group_guid, space_guid, staging) VALUES (?,?,?)`,
			guid, sp, staging); err != nil {
			return err
		}
	}
	return nil
}

// UnbindSecurityGroup removes the binding of the group guid to space; one
// that is not there is ErrNotFound.
func (s *Store) UnbindSecurityGroup(ctx context.Context, guid string, staging bool, space string) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM security_group_spaces WHERE security_group_guid = ? AND space_guid = ? AND staging = ?`,
			guid, space, staging)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}

// SecurityGroupBound says whether the group guid is bound to space, for
// staging or for running apps.
func (s *Store) SecurityGroupBound(ctx context.Context, guid string, staging bool, space string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM security_group_spaces WHERE security_group_guid = ? AND space_guid = ? AND staging = ?`,
		guid, space, staging).Scan(&n)
	return n > 0, err
}

// DeleteSecurityGroup deletes a security group and its bindings; one that
// is gone is ErrNotFound.
func (s *Store) DeleteSecurityGroup(ctx context.Context, guid string) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM security_groups WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}
