package store

import (
	"context"
	"database/sql"
	"errors"
)

// Buildpack is an admin buildpack (CC's Buildpack). A nil Stack is any
// stack; a nil Filename is a buildpack whose bits were never uploaded.
type Buildpack struct {
	ID          int64
	GUID        string
	Name        string
	Stack       *string
	Lifecycle   string
	Position    int64
	Enabled     bool
	Locked      bool
	Filename    *string
	BlobKey     *string
	Labels      Metadata
	Annotations Metadata
	CreatedAt   int64
	UpdatedAt   int64
}

// BuildpackFilter narrows a buildpacks list.
type BuildpackFilter struct {
	GUIDs      []string
	Names      []string
	Stacks     []string
	Lifecycles []string
	Labels     []LabelReq
	CreatedAts []TimeCond
	UpdatedAts []TimeCond
}

// The validation failures of a buildpack write, in the order CC's
// BuildpackCreate and BuildpackUpdate report them; a taken name, stack and
// lifecycle is ErrConflict.
var (
	ErrBuildpackStackMissing   = errors.New("store: buildpack stack does not exist")
	ErrBuildpackStackChange    = errors.New("store: buildpack stack cannot change")
	ErrBuildpackNilStackTaken  = errors.New("store: buildpack name taken with an unassigned stack")
	ErrBuildpackNameStackTaken = errors.New("store: buildpack name, stack and lifecycle taken")
)

const buildpackCols = `id, guid, name, stack, lifecycle, position, enabled, locked, filename, blob_key, labels, annotations, created_at, updated_at`

func scanBuildpack(r scanner) (Buildpack, error) {
	var b Buildpack
	var stack, filename, key sql.NullString
	err := r.Scan(&b.ID, &b.GUID, &b.Name, &stack, &b.Lifecycle, &b.Position, &b.Enabled, &b.Locked, &filename, &key,
		&b.Labels, &b.Annotations, &b.CreatedAt, &b.UpdatedAt)
	b.Stack, b.Filename, b.BlobKey = nullStr(stack), nullStr(filename), nullStr(key)
	return b, err
}

// buildpackTable is how buildpacks are read; every user sees every one
// (Buildpack.user_visibility_filter is the full dataset). A list is in
// lifecycle then position order unless it asks for another
// (BuildpacksListMessage's default_order_by and its secondary).
var buildpackTable = table[Buildpack]{name: "buildpacks", cols: buildpackCols, scan: scanBuildpack,
	order: map[string]string{"created_at": "created_at", "updated_at": "updated_at", "position": "position", "lifecycle": "lifecycle, position"}}

func (f BuildpackFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("name", f.Names)
	w.in("stack", f.Stacks)
	w.in("lifecycle", f.Lifecycles)
	w.metadata(f.Labels, f.CreatedAts, f.UpdatedAts)
}

// ListBuildpacks returns one page of buildpacks.
func (s *Store) ListBuildpacks(ctx context.Context, _ Viewer, f BuildpackFilter, p Page) ([]Buildpack, int, error) {
	if p.OrderBy == "" {
		p.OrderBy = "lifecycle"
	}
	return buildpackTable.list(ctx, s, Viewer{All: true}, f, p)
}

// GetBuildpack returns the buildpack guid.
func (s *Store) GetBuildpack(ctx context.Context, guid string) (Buildpack, error) {
	return buildpackTable.get(ctx, s, Viewer{All: true}, guid)
}

// BuildpacksByName returns the buildpacks called one of names, in
// position order.
func (s *Store) BuildpacksByName(ctx context.Context, names []string) ([]Buildpack, error) {
	if len(names) == 0 {
		return nil, nil
	}
	out, _, err := buildpackTable.list(ctx, s, Viewer{All: true}, BuildpackFilter{Names: names}, Page{Page: 1, PerPage: 1000, OrderBy: "position"})
	return out, err
}

// checkBuildpack validates b as Buildpack#validate and its unique index
// do; stackBefore is its stack before an update (nil on a create).
func checkBuildpack(ctx context.Context, tx *cachedTx, b Buildpack, update bool, stackBefore *string) error {
	if b.Stack != nil {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM stacks WHERE name = ?`, *b.Stack).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrBuildpackStackMissing
		}
	}
	if update && stackBefore != nil && (b.Stack == nil || *b.Stack != *stackBefore) {
		return ErrBuildpackStackChange
	}
	var n int
	if b.Stack == nil {
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM buildpacks WHERE guid != ? AND name = ? AND stack IS NULL AND lifecycle = ?`,
			b.GUID, b.Name, b.Lifecycle).Scan(&n)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrBuildpackNilStackTaken
		}
		return nil
	}
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM buildpacks WHERE guid != ? AND name = ? AND stack = ? AND lifecycle = ?`,
		b.GUID, b.Name, *b.Stack, b.Lifecycle).Scan(&n)
	if err != nil {
		return err
	}
	if n > 0 {
		return ErrBuildpackNameStackTaken
	}
	return nil
}

// lastPosition is the last position of the lifecycle's list, 0 when empty.
func lastPosition(ctx context.Context, tx *cachedTx, lifecycle string) (int64, error) {
	var last sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT max(position) FROM buildpacks WHERE lifecycle = ?`, lifecycle).Scan(&last)
	return last.Int64, err
}

// moveBuildpack moves the buildpack at current to target as Sequel's list
// plugin's move_to does: a target above the top is the top, one below the
// last is the last, and the buildpacks between shift by one.
func moveBuildpack(ctx context.Context, tx *cachedTx, guid, lifecycle string, current, target int64) (int64, error) {
	if target == current {
		return current, nil
	}
	var err error
	if target < current {
		target = max(target, 1)
		_, err = tx.ExecContext(ctx, `UPDATE buildpacks SET position = position + 1 WHERE lifecycle = ? AND position >= ? AND position < ?`,
			lifecycle, target, current)
	} else {
		var last int64
		if last, err = lastPosition(ctx, tx, lifecycle); err != nil {
			return 0, err
		}
		target = min(target, last)
		_, err = tx.ExecContext(ctx, `UPDATE buildpacks SET position = position - 1 WHERE lifecycle = ? AND position > ? AND position <= ?`,
			lifecycle, current, target)
	}
	if err != nil {
		return 0, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE buildpacks SET position = ? WHERE guid = ?`, target, guid)
	return target, err
}

// CreateBuildpack inserts b at the end of its lifecycle's list, moves it
// to position, records events and returns it as stored.
func (s *Store) CreateBuildpack(ctx context.Context, b Buildpack, position int64, events ...Event) (Buildpack, error) {
	err := s.write(ctx, func(tx *cachedTx) error {
		if err := checkBuildpack(ctx, tx, b, false, nil); err != nil {
			return err
		}
		last, err := lastPosition(ctx, tx, b.Lifecycle)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO buildpacks (guid, name, stack, lifecycle, position, enabled, locked, labels, annotations,
			created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)`, b.GUID, b.Name, b.Stack, b.Lifecycle, last+1, b.Enabled, b.Locked,
			jsonText(b.Labels), jsonText(b.Annotations), b.CreatedAt, b.UpdatedAt); err != nil {
			return err
		}
		if b.Position, err = moveBuildpack(ctx, tx, b.GUID, b.Lifecycle, last+1, position); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
	if errors.Is(err, ErrConflict) {
		err = ErrBuildpackNameStackTaken
	}
	return b, err
}

// UpdateBuildpack writes b, first moving it to position when position is
// not nil, and records events; it returns b as stored.
func (s *Store) UpdateBuildpack(ctx context.Context, b Buildpack, position *int64, events ...Event) (Buildpack, error) {
	err := s.write(ctx, func(tx *cachedTx) error {
		before, err := one(tx.QueryRowContext(ctx, "SELECT "+buildpackCols+" FROM buildpacks WHERE guid = ?", b.GUID), scanBuildpack)
		if err != nil {
			return err
		}
		b.Position = before.Position
		if position != nil {
			if b.Position, err = moveBuildpack(ctx, tx, b.GUID, before.Lifecycle, before.Position, *position); err != nil {
				return err
			}
		}
		if err := checkBuildpack(ctx, tx, b, true, before.Stack); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE buildpacks SET name = ?, stack = ?, enabled = ?, locked = ?, filename = ?, blob_key = ?,
			labels = ?, annotations = ?, updated_at = ? WHERE guid = ?`, b.Name, b.Stack, b.Enabled, b.Locked, b.Filename, b.BlobKey,
			jsonText(b.Labels), jsonText(b.Annotations), b.UpdatedAt, b.GUID); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
	if errors.Is(err, ErrConflict) {
		err = ErrBuildpackNameStackTaken
	}
	return b, err
}

// DeleteBuildpack deletes the buildpack guid, closes the gap in its list
// and records events; it returns the deleted buildpack.
func (s *Store) DeleteBuildpack(ctx context.Context, guid string, events ...Event) (Buildpack, error) {
	var b Buildpack
	err := s.write(ctx, func(tx *cachedTx) error {
		var err error
		if b, err = one(tx.QueryRowContext(ctx, "SELECT "+buildpackCols+" FROM buildpacks WHERE guid = ?", guid), scanBuildpack); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM buildpacks WHERE guid = ?`, guid); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE buildpacks SET position = position - 1 WHERE lifecycle = ? AND position > ?`,
			b.Lifecycle, b.Position); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
	return b, err
}

// SetBuildpackBits records uploaded bits: the file's name and its blob key.
func (s *Store) SetBuildpackBits(ctx context.Context, guid, filename, key string, updatedAt int64) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE buildpacks SET filename = ?, blob_key = ?, updated_at = ? WHERE guid = ?`, filename, key, updatedAt, guid)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}
