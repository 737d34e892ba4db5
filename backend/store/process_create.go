package store

import "context"

// CreateProcess inserts a process of an existing app, other than the web
// process CreateApp makes, and records events (CC's ProcessCreate). A type
// the app has already is ErrConflict.
func (s *Store) CreateProcess(ctx context.Context, p Process, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if err := insertProcess(ctx, tx, p); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}
