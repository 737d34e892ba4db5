package store

import (
	"context"
	"encoding/json"
	"strings"
)

// CCUser is a user Cloud Controller knows, with what the UAA says of it:
// Username and Origin are nil when the UAA has no user of that guid (a
// client, or a user deleted from the UAA), as CC's User.uaa_users_info
// leaves them.
type CCUser struct {
	ID          int64
	GUID        string
	Username    *string
	Origin      *string
	Labels      Metadata
	Annotations Metadata
	CreatedAt   int64
	UpdatedAt   int64
}

// PresentationName is CC's User#presentation_name: the username, else the guid.
func (u CCUser) PresentationName() string {
	if u.Username != nil {
		return *u.Username
	}
	return u.GUID
}

// CCUserFilter narrows a users list. Usernames and PartialUsernames match
// whatever the case, as the UAA's SCIM filters do; Origins narrows them.
type CCUserFilter struct {
	GUIDs            []string
	Usernames        []string
	PartialUsernames []string
	Origins          []string
	Labels           []LabelReq
	CreatedAts       []TimeCond
	UpdatedAts       []TimeCond
}

const ccUserCols = "id, guid, username, origin, labels, annotations, created_at, updated_at"

func scanCCUser(r scanner) (CCUser, error) {
	var u CCUser
	err := r.Scan(&u.ID, &u.GUID, &u.Username, &u.Origin, &u.Labels, &u.Annotations, &u.CreatedAt, &u.UpdatedAt)
	return u, err
}

func (f CCUserFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("username", f.Usernames)
	if f.PartialUsernames != nil {
		parts := make([]string, len(f.PartialUsernames))
		args := make([]any, len(f.PartialUsernames))
		for i, p := range f.PartialUsernames {
			parts[i] = `username LIKE ? ESCAPE '\'`
			args[i] = "%" + likeEscaper.Replace(p) + "%"
		}
		if len(parts) == 0 {
			parts = []string{"0"}
		}
		w.add("("+strings.Join(parts, " OR ")+")", args...)
	}
	w.in("origin", f.Origins)
	w.labels("labels", f.Labels)
	w.times("created_at", f.CreatedAts)
	w.times("updated_at", f.UpdatedAts)
}

// likeEscaper escapes LIKE's wildcards, so that a partial username matches
// as the text it is.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// visibleUsers limits w to the users v sees: every user for a global
// reader, else v itself and whoever has an org role in an org where v has
// one (Permissions#readable_users_query, ROLES_FOR_ORG_READING).
func visibleUsers(w *where, v Viewer) {
	if v.All {
		return
	}
	w.add(`(guid = ? OR guid IN (SELECT user_guid FROM roles WHERE space_guid = '' AND org_guid IN
		(SELECT org_guid FROM roles WHERE user_guid = ? AND space_guid = '')))`, v.UserGUID, v.UserGUID)
}

// ListCCUsers returns one page of the users v sees.
func (s *Store) ListCCUsers(ctx context.Context, v Viewer, f CCUserFilter, p Page) ([]CCUser, int, error) {
	w := &where{}
	visibleUsers(w, v)
	f.conds(w)
	return list(ctx, s.db, "cc_users_named", ccUserCols, w, p, orderTimes, scanCCUser)
}

// GetCCUser returns the user guid if v sees it.
func (s *Store) GetCCUser(ctx context.Context, v Viewer, guid string) (CCUser, error) {
	w := &where{}
	w.add("guid = ?", guid)
	visibleUsers(w, v)
	return one(s.db.QueryRowContext(ctx, "SELECT "+ccUserCols+" FROM cc_users_named"+w.sql(), w.args...), scanCCUser)
}

// CCUsersByGUID returns the named users CC knows in CC's include order
// (created_at, then guid), without visibility checks.
func (s *Store) CCUsersByGUID(ctx context.Context, guids []string) ([]CCUser, error) {
	return byGUIDOrdered(ctx, s, "cc_users_named", ccUserCols, guids, scanCCUser)
}

// byGUIDOrdered reads the rows of guids from table ordered by created_at
// and guid, as CC's include decorators order what they include.
func byGUIDOrdered[T any](ctx context.Context, s *Store, table, cols string, guids []string, scan func(scanner) (T, error)) ([]T, error) {
	out := []T{}
	if len(guids) == 0 {
		return out, nil
	}
	w := &where{}
	w.in("guid", guids)
	rows, err := s.db.QueryContext(ctx, "SELECT "+cols+" FROM "+table+w.sql()+" ORDER BY created_at, guid", w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, rows.Err()
}

// CreateCCUser makes the user u.GUID known to CC and records events; a
// user CC knows already is ErrConflict.
func (s *Store) CreateCCUser(ctx context.Context, u CCUser, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cc_users (guid, labels, annotations, created_at, updated_at) VALUES (?,?,?,?,?)`,
			u.GUID, jsonText(nonNil(u.Labels)), jsonText(nonNil(u.Annotations)), u.CreatedAt, u.UpdatedAt); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// EnsureCCUser makes the user guid known to CC if it is not yet, as CC's
// SecurityContextConfigurer does for every token it accepts
// (User.find(guid) || User.create(guid)).
func (s *Store) EnsureCCUser(ctx context.Context, guid string, now int64) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM cc_users WHERE guid = ?`, guid).Scan(&n); err != nil || n > 0 {
		return err
	}
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cc_users (guid, created_at, updated_at) VALUES (?,?,?) ON CONFLICT (guid) DO NOTHING`, guid, now, now)
		return err
	})
}

// UpdateCCUserMetadata writes u's labels, annotations and updated_at.
func (s *Store) UpdateCCUserMetadata(ctx context.Context, u CCUser) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE cc_users SET labels = ?, annotations = ?, updated_at = ? WHERE guid = ?`,
			jsonText(nonNil(u.Labels)), jsonText(nonNil(u.Annotations)), u.UpdatedAt, u.GUID)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}

// DeleteCCUser makes CC forget the user guid with its roles (User#destroy);
// the UAA keeps its user.
func (s *Store) DeleteCCUser(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE user_guid = ?`, guid); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM cc_users WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// UAAUser is a user of the embedded UAA. PasswordHash is empty for the
// seeded users, whose password comes from the configuration, and
// NoPassword for users who cannot log in with one.
type UAAUser struct {
	GUID         string
	Username     string
	Origin       string
	Email        string
	GivenName    string
	FamilyName   string
	Scopes       []string
	PasswordHash string
	CreatedAt    int64
	UpdatedAt    int64
}

// NoPassword is the password hash of a user who has none, such as the
// shadow user of another origin that CC creates.
const NoPassword = "!"

const uaaUserCols = "guid, username, origin, email, given_name, family_name, scopes, password_hash, created_at, updated_at"

func scanUAAUser(r scanner) (UAAUser, error) {
	var u UAAUser
	var scopes string
	if err := r.Scan(&u.GUID, &u.Username, &u.Origin, &u.Email, &u.GivenName, &u.FamilyName, &scopes, &u.PasswordHash,
		&u.CreatedAt, &u.UpdatedAt); err != nil {
		return u, err
	}
	err := json.Unmarshal([]byte(scopes), &u.Scopes)
	return u, err
}

// SCIMFilter is a parsed SCIM filter: a comparison of Attr (a key of
// SCIMColumns) with Value by Op ("eq", "co", "sw", "pr"), or Op "and"/"or"
// of Left and Right.
type SCIMFilter struct {
	Op          string
	Attr, Value string
	Left, Right *SCIMFilter
}

// SCIMColumns are the user attributes a SCIM filter may name, lower-cased
// (the UAA compares attribute names whatever their case), and their columns.
var SCIMColumns = map[string]string{
	"id": "guid", "username": "username", "origin": "origin", "email": "email", "emails.value": "email",
	"givenname": "given_name", "name.givenname": "given_name", "familyname": "family_name", "name.familyname": "family_name",
}

// sql renders f as a condition and its arguments. Comparisons ignore case,
// as the UAA's do.
func (f *SCIMFilter) sql() (string, []any) {
	switch f.Op {
	case "and", "or":
		l, la := f.Left.sql()
		r, ra := f.Right.sql()
		return "(" + l + " " + strings.ToUpper(f.Op) + " " + r + ")", append(la, ra...)
	}
	col := SCIMColumns[f.Attr]
	switch f.Op {
	case "pr":
		return "(" + col + " IS NOT NULL AND " + col + " != '')", nil
	case "co":
		return "lower(" + col + `) LIKE lower(?) ESCAPE '\'`, []any{"%" + likeEscaper.Replace(f.Value) + "%"}
	case "sw":
		return "lower(" + col + `) LIKE lower(?) ESCAPE '\'`, []any{likeEscaper.Replace(f.Value) + "%"}
	}
	return "lower(" + col + ") = lower(?)", []any{f.Value}
}

// ListUAAUsers returns the UAA's users that f keeps (every user when f is
// nil), the count-long page from the 1-based start, in the order they
// were created, and how many f keeps.
func (s *Store) ListUAAUsers(ctx context.Context, f *SCIMFilter, start, count int) ([]UAAUser, int, error) {
	cond, args := "1", []any(nil)
	if f != nil {
		cond, args = f.sql()
	}
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM users WHERE "+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+uaaUserCols+" FROM users WHERE "+cond+" ORDER BY created_at, rowid LIMIT ? OFFSET ?",
		append(args, count, start-1)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []UAAUser{}
	for rows.Next() {
		u, err := scanUAAUser(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, u)
	}
	return out, total, rows.Err()
}

// GetUAAUser returns the UAA's user guid.
func (s *Store) GetUAAUser(ctx context.Context, guid string) (UAAUser, error) {
	return one(s.db.QueryRowContext(ctx, "SELECT "+uaaUserCols+" FROM users WHERE guid = ?", guid), scanUAAUser)
}

// UAAUsersNamed returns the UAA's users called username, in every origin
// or in origin when it is not empty, in the order origins sort.
func (s *Store) UAAUsersNamed(ctx context.Context, username, origin string) ([]UAAUser, error) {
	w := &where{}
	w.add("username = ?", username)
	if origin != "" {
		w.add("origin = ?", origin)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+uaaUserCols+" FROM users"+w.sql()+" ORDER BY origin", w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UAAUser
	for rows.Next() {
		u, err := scanUAAUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CreateUAAUser inserts a user of the UAA; a username taken in its origin,
// whatever the case, is ErrConflict.
func (s *Store) CreateUAAUser(ctx context.Context, u UAAUser) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (`+uaaUserCols+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			u.GUID, u.Username, u.Origin, u.Email, u.GivenName, u.FamilyName, jsonText(u.Scopes), u.PasswordHash, u.CreatedAt, u.UpdatedAt)
		return err
	})
}

// DeleteUAAUser deletes the UAA's user guid; CC keeps its own user, whose
// username is then unknown.
func (s *Store) DeleteUAAUser(ctx context.Context, guid string) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}
