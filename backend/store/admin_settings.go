package store

import (
	"context"
	"database/sql"
	"encoding/json"
)

// FeatureFlag is a feature flag an admin has set (CC's FeatureFlag row).
type FeatureFlag struct {
	Name         string
	Enabled      bool
	ErrorMessage *string
	CreatedAt    int64
	UpdatedAt    int64
}

// FeatureFlags returns the flags an admin has set, by name.
func (s *Store) FeatureFlags(ctx context.Context) (map[string]FeatureFlag, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, enabled, error_message, created_at, updated_at FROM feature_flags`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]FeatureFlag{}
	for rows.Next() {
		var f FeatureFlag
		var msg sql.NullString
		if err := rows.Scan(&f.Name, &f.Enabled, &msg, &f.CreatedAt, &f.UpdatedAt); err != nil {
			return nil, err
		}
		f.ErrorMessage = nullStr(msg)
		out[f.Name] = f
	}
	return out, rows.Err()
}

// FeatureFlag returns the flag name as an admin set it; ErrNotFound when
// it has its default.
func (s *Store) FeatureFlag(ctx context.Context, name string) (FeatureFlag, error) {
	f := FeatureFlag{Name: name}
	var msg sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT enabled, error_message, created_at, updated_at FROM feature_flags WHERE name = ?`, name).
		Scan(&f.Enabled, &msg, &f.CreatedAt, &f.UpdatedAt)
	if err == sql.ErrNoRows {
		return f, ErrNotFound
	}
	f.ErrorMessage = nullStr(msg)
	return f, err
}

// SetFeatureFlag writes the flag f, keeping the created_at of a flag set
// before.
func (s *Store) SetFeatureFlag(ctx context.Context, f FeatureFlag) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO feature_flags (name, enabled, error_message, created_at, updated_at) VALUES (?,?,?,?,?)
			ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, error_message = excluded.error_message, updated_at = excluded.updated_at`,
			f.Name, f.Enabled, f.ErrorMessage, f.CreatedAt, f.UpdatedAt)
		return err
	})
}

// EnvGroup is the running or the staging environment variable group
// (CC's EnvironmentVariableGroup).
type EnvGroup struct {
	Name      string
	Var       map[string]string
	UpdatedAt int64
}

// GetEnvGroup returns the group name, "running" or "staging".
func (s *Store) GetEnvGroup(ctx context.Context, name string) (EnvGroup, error) {
	g := EnvGroup{Name: name, Var: map[string]string{}}
	err := s.db.QueryRowContext(ctx, `SELECT var, updated_at FROM env_groups WHERE name = ?`, name).Scan(jsonColumn{&g.Var}, &g.UpdatedAt)
	if err == sql.ErrNoRows {
		return g, ErrNotFound
	}
	return g, err
}

// PatchEnvGroup merges vars into the group name, a nil value deleting its
// key, and returns the group as stored.
func (s *Store) PatchEnvGroup(ctx context.Context, name string, vars map[string]*string, updatedAt int64) (EnvGroup, error) {
	g := EnvGroup{Name: name, Var: map[string]string{}, UpdatedAt: updatedAt}
	err := s.write(ctx, func(tx *cachedTx) error {
		var text string
		if err := tx.QueryRowContext(ctx, `SELECT var FROM env_groups WHERE name = ?`, name).Scan(&text); err != nil {
			if err == sql.ErrNoRows {
				return ErrNotFound
			}
			return err
		}
		if err := json.Unmarshal([]byte(text), &g.Var); err != nil {
			return err
		}
		for k, v := range vars {
			if v == nil {
				delete(g.Var, k)
			} else {
				g.Var[k] = *v
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE env_groups SET var = ?, updated_at = ? WHERE name = ?`, jsonText(g.Var), updatedAt, name)
		return err
	})
	return g, err
}
