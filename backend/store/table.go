package store

import "context"

// table declares how the rows of one v3 resource are read: its table and
// columns, how a row is scanned, which rows a Viewer sees and the order_by
// names a list accepts. Its list, get and byGUID are every read of a
// resource by page, by guid and by a batch of guids.
type table[T any] struct {
	name  string
	cols  string
	scan  func(scanner) (T, error)
	order map[string]string
	// visible limits w to the rows of sc; nil when every user sees every row.
	visible func(w *where, sc scope)
}

// orderTimes is the order_by of lists that CC's ListMessage limits to the
// timestamps; orderNamed adds name.
var (
	orderTimes = map[string]string{"created_at": "created_at", "updated_at": "updated_at"}
	orderNamed = map[string]string{"created_at": "created_at", "updated_at": "updated_at", "name": "name"}
)

// filter is a list's filter: it adds its conditions to a where.
type filter interface{ conds(w *where) }

// inVisibleSpaces is the visibility of a resource that lives in a space:
// col is its space guid.
func inVisibleSpaces(col string) func(*where, scope) {
	return func(w *where, sc scope) { w.visibleSpaces(col, sc) }
}

// limit adds what v may see to w.
func (t table[T]) limit(ctx context.Context, s *Store, v Viewer, w *where) error {
	if t.visible == nil {
		return nil
	}
	sc, err := s.scope(ctx, v)
	if err != nil {
		return err
	}
	t.visible(w, sc)
	return nil
}

// list returns one page of the rows v may see that f keeps, and their count.
func (t table[T]) list(ctx context.Context, s *Store, v Viewer, f filter, p Page) ([]T, int, error) {
	w := &where{}
	if err := t.limit(ctx, s, v, w); err != nil {
		return nil, 0, err
	}
	f.conds(w)
	return list(ctx, s.db, t.name, t.cols, w, p, t.order, t.scan)
}

// get returns the row guid if v may see it, ErrNotFound otherwise.
func (t table[T]) get(ctx context.Context, s *Store, v Viewer, guid string) (T, error) {
	w := &where{}
	w.add("guid = ?", guid)
	if err := t.limit(ctx, s, v, w); err != nil {
		var zero T
		return zero, err
	}
	return one(s.db.QueryRowContext(ctx, "SELECT "+t.cols+" FROM "+t.name+w.sql(), w.args...), t.scan)
}

// byGUID returns the rows of guids that exist, without visibility checks:
// callers use it for what hangs off resources they already showed.
func (t table[T]) byGUID(ctx context.Context, s *Store, guids []string) ([]T, error) {
	if len(guids) == 0 {
		return []T{}, nil
	}
	w := &where{}
	w.in("guid", guids)
	out, _, err := list(ctx, s.db, t.name, t.cols, w, Page{Page: 1, PerPage: len(guids)}, nil, t.scan)
	return out, err
}
