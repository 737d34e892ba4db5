package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
)

// Page selects one page of a list. OrderBy names a column the list allows
// ("" means the insertion order, CC's default of id ascending).
type Page struct {
	Page    int
	PerPage int
	OrderBy string
	Desc    bool
}

// Viewer says whose view of the data a read takes: All for the global roles
// (admin, admin_read_only, global_auditor), otherwise the user's roles decide.
type Viewer struct {
	All      bool
	UserGUID string
}

// LabelOp is an operator of a v3 label_selector requirement.
type LabelOp int

// The label_selector operators (CC docs, "Labels and selectors").
const (
	LabelExists LabelOp = iota
	LabelNotExists
	LabelIn    // key=value, key==value, key in (a,b)
	LabelNotIn // key!=value, key notin (a,b)
)

// LabelReq is one requirement of a label_selector; all of them must hold.
type LabelReq struct {
	Key    string
	Op     LabelOp
	Values []string
}

// TimeOp compares a timestamp column.
type TimeOp string

// The operators of created_ats/updated_ats filters.
const (
	TimeEq  TimeOp = "="
	TimeLt  TimeOp = "<"
	TimeLte TimeOp = "<="
	TimeGt  TimeOp = ">"
	TimeGte TimeOp = ">="
)

// TimeCond is one timestamp condition in unix seconds. For TimeEq the
// values are alternatives (any of them matches).
type TimeCond struct {
	Op     TimeOp
	Values []int64
}

// where accumulates SQL conditions, ANDed.
type where struct {
	clauses []string
	args    []any
}

func (w *where) add(clause string, args ...any) {
	w.clauses = append(w.clauses, clause)
	w.args = append(w.args, args...)
}

// in adds "col IN (...)" when vals is non-nil. A non-nil empty list matches
// nothing, which is what a v3 filter with an empty value does.
func (w *where) in(col string, vals []string) {
	if vals == nil {
		return
	}
	if len(vals) == 0 {
		w.add("0")
		return
	}
	w.add(col+" IN ("+placeholders(len(vals))+")", strArgs(vals)...)
}

// inOrgs limits col (a space guid) to the spaces of orgs, when orgs is non-nil.
func (w *where) inOrgs(col string, orgs []string) {
	w.inSelect(col, "SELECT guid FROM spaces WHERE org_guid", orgs)
}

// inSelect adds "col IN (sel IN (...))" when vals is non-nil: sel selects
// the values of col whose other column is one of vals. A non-nil empty
// list matches nothing.
func (w *where) inSelect(col, sel string, vals []string) {
	if vals == nil {
		return
	}
	if len(vals) == 0 {
		w.add("0")
		return
	}
	w.add(col+" IN ("+sel+" IN ("+placeholders(len(vals))+"))", strArgs(vals)...)
}

func (w *where) labels(col string, reqs []LabelReq) {
	for _, r := range reqs {
		switch r.Op {
		case LabelExists:
			w.add("EXISTS (SELECT 1 FROM json_each("+col+") WHERE key = ?)", r.Key)
		case LabelNotExists:
			w.add("NOT EXISTS (SELECT 1 FROM json_each("+col+") WHERE key = ?)", r.Key)
		case LabelIn:
			w.add("EXISTS (SELECT 1 FROM json_each("+col+") WHERE key = ? AND value IN ("+placeholders(len(r.Values))+"))",
				append([]any{r.Key}, strArgs(r.Values)...)...)
		case LabelNotIn:
			w.add("NOT EXISTS (SELECT 1 FROM json_each("+col+") WHERE key = ? AND value IN ("+placeholders(len(r.Values))+"))",
				append([]any{r.Key}, strArgs(r.Values)...)...)
		}
	}
}

func (w *where) times(col string, conds []TimeCond) {
	for _, c := range conds {
		if c.Op == TimeEq {
			parts := make([]string, len(c.Values))
			args := make([]any, len(c.Values))
			for i, v := range c.Values {
				parts[i] = col + " = ?"
				args[i] = v
			}
			w.add("("+strings.Join(parts, " OR ")+")", args...)
			continue
		}
		for _, v := range c.Values {
			w.add(col+" "+string(c.Op)+" ?", v)
		}
	}
}

// scope is what a Viewer can see, resolved once per query into guid lists:
// SQLite then plans "space_guid IN (...)" on the index, in id order, where a
// correlated subquery made it sort every visible row (5,000 rows: 3.5 ms).
type scope struct {
	all    bool
	spaces []string
	orgs   []string
}

// scope resolves v: the spaces where it holds a space role, or where it is
// organization manager of the org (CC's Space.user_visibility_filter), and
// the orgs where it holds any role.
func (s *Store) scope(ctx context.Context, v Viewer) (scope, error) {
	if v.All {
		return scope{all: true}, nil
	}
	sc := scope{spaces: []string{}, orgs: []string{}}
	rows, err := s.db.QueryContext(ctx, `SELECT space_guid, '' FROM roles WHERE user_guid = ? AND space_guid != ''
		UNION SELECT s.guid, '' FROM spaces s JOIN roles r ON r.org_guid = s.org_guid WHERE r.user_guid = ? AND r.type = 'organization_manager'
		UNION SELECT '', org_guid FROM roles WHERE user_guid = ?`, v.UserGUID, v.UserGUID, v.UserGUID)
	if err != nil {
		return sc, err
	}
	defer rows.Close()
	for rows.Next() {
		var space, org string
		if err := rows.Scan(&space, &org); err != nil {
			return sc, err
		}
		if space != "" {
			sc.spaces = append(sc.spaces, space)
		} else {
			sc.orgs = append(sc.orgs, org)
		}
	}
	return sc, rows.Err()
}

// visibleSpaces limits col (a space guid) to the spaces of sc.
func (w *where) visibleSpaces(col string, sc scope) {
	if !sc.all {
		w.in(col, sc.spaces)
	}
}

// visibleOrgs limits col (an org guid) to the orgs of sc.
func (w *where) visibleOrgs(col string, sc scope) {
	if !sc.all {
		w.in(col, sc.orgs)
	}
}

func (w *where) sql() string {
	if len(w.clauses) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.clauses, " AND ")
}

func placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

func strArgs(vals []string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}

// limitParamMax is the most parameters a page's text has before its
// LIMIT ?. SQLite 3.54 plans a page by its LIMIT value: the statement
// expires when that parameter is bound to another value (Vdbe.expmask).
// Parameters from the 32nd on share one expmask bit, so with the LIMIT
// among them, binding any text parameter there expired the statement too,
// and every run parsed it again, as the page of processes of 50 app guids
// did on each v2 app list. Such a page has its LIMIT and OFFSET in the text.
const limitParamMax = 30

// list runs a count and one page of a select over table. order maps the
// Page.OrderBy names a list accepts to columns; ties break by guid, as CC's
// SequelPaginator does.
func list[T any](ctx context.Context, q queryer, table, cols string, w *where, p Page, order map[string]string, scan func(scanner) (T, error)) ([]T, int, error) {
	var total int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+table+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	offset := (p.Page - 1) * p.PerPage
	if total == 0 || offset >= total {
		return []T{}, total, nil
	}
	dir := " ASC"
	if p.Desc {
		dir = " DESC"
	}
	orderBy := " ORDER BY id" + dir
	if col, ok := order[p.OrderBy]; ok && p.OrderBy != "" {
		tie := ", guid" + dir
		if p.OrderBy == "created_at" || p.OrderBy == "updated_at" {
			// Times are kept in whole seconds, where a Cloud Controller's
			// columns hold microseconds: rows of one second keep the order
			// they were made in, as they would there, so "the latest
			// package" (order_by=-created_at) is the last one made.
			tie = ", id" + dir
		}
		orderBy = " ORDER BY " + col + dir + tie
	}
	page, args := " LIMIT ? OFFSET ?", append(append([]any{}, w.args...), p.PerPage, offset)
	if len(w.args) > limitParamMax {
		page, args = " LIMIT "+strconv.Itoa(p.PerPage)+" OFFSET "+strconv.Itoa(offset), w.args
	}
	rows, err := q.QueryContext(ctx, "SELECT "+cols+" FROM "+table+w.sql()+orderBy+page, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := make([]T, 0, min(p.PerPage, total-offset))
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, item)
	}
	return out, total, rows.Err()
}

// one scans the single row of a select, mapping no row to ErrNotFound.
func one[T any](row *sql.Row, scan func(scanner) (T, error)) (T, error) {
	item, err := scan(row)
	if err == sql.ErrNoRows {
		return item, ErrNotFound
	}
	return item, err
}

type scanner interface{ Scan(dest ...any) error }

// jsonText marshals v for a JSON text column. It leaves "&", "<" and ">"
// unescaped: json.RawMessage values (environment variables) are served as
// stored, and CC shows them as they were sent.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Metadata is a set of labels or annotations.
type Metadata map[string]string

// Scan implements sql.Scanner for a JSON text column.
func (m *Metadata) Scan(src any) error {
	*m = Metadata{}
	return scanJSON(src, m)
}

func scanJSON(src any, dst any) error {
	// Most rows hold empty collections: skip the decoder for them.
	switch src {
	case "{}", "[]":
		return nil
	}
	switch v := src.(type) {
	case string:
		return json.Unmarshal([]byte(v), dst)
	case []byte:
		return json.Unmarshal(v, dst)
	case nil:
		return nil
	}
	return nil
}

// jsonColumn scans a JSON text column into any Go value.
type jsonColumn struct{ dst any }

func (j jsonColumn) Scan(src any) error { return scanJSON(src, j.dst) }

// nullInt converts a nullable integer column.
func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

func nullStr(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	v := n.String
	return &v
}

// metadata adds the label_selector and created_ats/updated_ats filters
// that CC's MetadataListMessage gives a list.
func (w *where) metadata(labels []LabelReq, created, updated []TimeCond) {
	w.labels("labels", labels)
	w.times("created_at", created)
	w.times("updated_at", updated)
}
