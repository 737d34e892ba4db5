package backend

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
	"capibridge/backend/uaa"
)

// The UAA's SCIM users (uaa ScimUserEndpoints, JdbcScimUserProvisioning):
// what `cf create-user`, `cf delete-user` and the cf CLI's username
// lookups send. A user created here logs in with its password at once
// and becomes a Cloud Controller user when POST /v3/users names its id.

// The UAA's SCIM scopes (uaa ScimUserEndpoints): scim.read to read users,
// scim.write to create and delete them; uaa.admin may do both.
const (
	scopeSCIMRead  = "scim.read"
	scopeSCIMWrite = "scim.write"
	scopeUAAAdmin  = "uaa.admin"
)

// scimSchemas are the schemas the UAA names in its SCIM bodies.
var scimSchemas = []string{"urn:scim:schemas:core:1.0"}

// scimUsernamePattern is JdbcScimUserProvisioning's default usernamePattern.
var scimUsernamePattern = regexp.MustCompile(`^[\p{L}+0-9+\-_.@'!]+$`)

// scimError is a SCIM failure as the UAA's ScimException handler renders
// it (ExceptionReport): the error's name, its message twice, and extra
// details for some.
type scimError struct {
	status      int
	name        string
	description string
	extra       map[string]any
}

func (e *scimError) Error() string { return e.name + ": " + e.description }

func (e *scimError) write(ctx *fasthttp.RequestCtx) {
	body := ordered{{key: "error_description", val: e.description}, {key: "error", val: e.name}, {key: "message", val: e.description}}
	for _, k := range []string{"active", "verified", "user_id"} {
		if v, ok := e.extra[k]; ok {
			body = append(body, field{key: k, val: v})
		}
	}
	writeUAAJSON(ctx, e.status, body)
}

func errSCIMNotFound(id string) *scimError {
	return &scimError{status: 404, name: "scim_resource_not_found", description: "User " + id + " does not exist"}
}

func errSCIMInvalid(description string) *scimError {
	return &scimError{status: 400, name: "invalid_scim_resource", description: description}
}

// scimEmail, scimGroup and scimUserJSON are the UAA's ScimUser as Jackson
// writes it, null fields left out.
type scimEmail struct {
	Value   string `json:"value"`
	Primary bool   `json:"primary"`
}

type scimGroup struct {
	Value   string `json:"value"`
	Display string `json:"display"`
	Type    string `json:"type"`
}

type scimUserJSON struct {
	ID   string `json:"id"`
	Meta struct {
		Version      int    `json:"version"`
		Created      string `json:"created"`
		LastModified string `json:"lastModified"`
	} `json:"meta"`
	UserName string `json:"userName"`
	Name     struct {
		FamilyName string `json:"familyName,omitempty"`
		GivenName  string `json:"givenName,omitempty"`
	} `json:"name"`
	Emails               []scimEmail `json:"emails"`
	Groups               []scimGroup `json:"groups"`
	Approvals            []struct{}  `json:"approvals"`
	Active               bool        `json:"active"`
	Verified             bool        `json:"verified"`
	Origin               string      `json:"origin"`
	ZoneID               string      `json:"zoneId"`
	PasswordLastModified string      `json:"passwordLastModified"`
	Schemas              []string    `json:"schemas"`
}

// scimTime is the UAA's timestamp: milliseconds, UTC.
func scimTime(t int64) string { return time.Unix(t, 0).UTC().Format("2006-01-02T15:04:05.000Z") }

// presentSCIMUser renders u; its groups are the scopes it gets, each a
// group with a stable id.
func presentSCIMUser(u store.UAAUser) scimUserJSON {
	var j scimUserJSON
	j.ID, j.UserName, j.Origin, j.ZoneID = u.GUID, u.Username, u.Origin, uaa.ZoneID
	j.Meta.Created, j.Meta.LastModified = scimTime(u.CreatedAt), scimTime(u.UpdatedAt)
	j.Name.FamilyName, j.Name.GivenName = u.FamilyName, u.GivenName
	j.Emails = []scimEmail{{Value: u.Email}}
	scopes := slices.Sorted(slices.Values(u.Scopes))
	j.Groups = make([]scimGroup, len(scopes))
	for i, sc := range scopes {
		j.Groups[i] = scimGroup{Value: uuid.NewSHA1(uuid.NameSpaceOID, []byte("scim-group/"+sc)).String(), Display: sc, Type: "DIRECT"}
	}
	j.Approvals = []struct{}{}
	j.Active, j.Verified = true, true
	j.PasswordLastModified = scimTime(u.CreatedAt)
	j.Schemas = scimSchemas
	return j
}

// newUAAUser is a user of the embedded UAA in the default groups of a new
// user, those of the seeded ones.
func newUAAUser(now int64, username, origin, email string) store.UAAUser {
	return store.UAAUser{GUID: uuid.NewString(), Username: username, Origin: origin, Email: email,
		Scopes: append([]string{}, userScopes...), CreatedAt: now, UpdatedAt: now}
}

// scimCaller authenticates a SCIM request: a bearer token of the embedded
// UAA with scope (scim.read or scim.write) or uaa.admin.
func (s *Server) scimCaller(ctx *fasthttp.RequestCtx, scope string) error {
	c, err := s.uaaAccessToken(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(c.Scope, scope) && !slices.Contains(c.Scope, scopeUAAAdmin) {
		return &oauthError{status: 403, code: "insufficient_scope", description: "Insufficient scope for this resource",
			scope: scopeUAAAdmin + " " + scope + " zones.uaa.admin"}
	}
	return nil
}

// scimUsers answers GET and POST /Users.
func (s *Server) scimUsers(ctx *fasthttp.RequestCtx) error {
	var err error
	if string(ctx.Method()) == fasthttp.MethodPost {
		err = s.scimCreate(ctx)
	} else {
		err = s.scimList(ctx)
	}
	return writeSCIMErr(ctx, err)
}

// scimUser answers GET and DELETE /Users/:id.
func (s *Server) scimUser(ctx *fasthttp.RequestCtx) error {
	id := strings.TrimPrefix(string(ctx.Path()), "/Users/")
	scope := scopeSCIMRead
	if string(ctx.Method()) == fasthttp.MethodDelete {
		scope = scopeSCIMWrite
	}
	if err := s.scimCaller(ctx, scope); err != nil {
		return err
	}
	u, err := s.store.GetUAAUser(requestCtx{ctx}, id)
	if errors.Is(err, store.ErrNotFound) {
		return writeSCIMErr(ctx, errSCIMNotFound(id))
	}
	if err != nil {
		return errOAuthServer(err)
	}
	if string(ctx.Method()) == fasthttp.MethodDelete {
		if err := s.store.DeleteUAAUser(requestCtx{ctx}, id); err != nil {
			return errOAuthServer(err)
		}
	}
	ctx.Response.Header.Set(fasthttp.HeaderETag, `"0"`)
	writeUAAJSON(ctx, 200, presentSCIMUser(u))
	return nil
}

// writeSCIMErr writes a SCIM failure itself and passes the others on.
func writeSCIMErr(ctx *fasthttp.RequestCtx, err error) error {
	var se *scimError
	if errors.As(err, &se) {
		se.write(ctx)
		return nil
	}
	return err
}

// scimCreateBody is what POST /Users reads of a ScimUser.
type scimCreateBody struct {
	UserName *string `json:"userName"`
	Password *string `json:"password"`
	Origin   string  `json:"origin"`
	Name     *struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
	} `json:"name"`
	Emails []*struct {
		Value string `json:"value"`
	} `json:"emails"`
}

// scimCreate is POST /Users: 201 with the user (ScimUserEndpoints#createUser).
// The origin defaults to uaa's, whose users need a password; others get
// none. A username taken in its origin, whatever its case, is 409.
func (s *Server) scimCreate(ctx *fasthttp.RequestCtx) error {
	if err := s.scimCaller(ctx, scopeSCIMWrite); err != nil {
		return err
	}
	var b scimCreateBody
	if err := json.Unmarshal(ctx.PostBody(), &b); err != nil {
		return &scimError{status: 400, name: "http_message_not_readable", description: "Request body is not a valid ScimUser"}
	}
	if b.Origin == "" {
		b.Origin = "uaa"
	}
	switch {
	case b.UserName == nil || strings.TrimFunc(*b.UserName, unicode.IsSpace) == "":
		return errSCIMInvalid("A username must be provided.")
	case !scimUsernamePattern.MatchString(*b.UserName):
		return errSCIMInvalid("Username must match pattern: " + scimUsernamePattern.String()[1:len(scimUsernamePattern.String())-1])
	case len(b.Emails) != 1:
		return errSCIMInvalid("Exactly one email must be provided.")
	case b.Emails[0] == nil || b.Emails[0].Value == "":
		return errSCIMInvalid("An email must be provided.")
	}
	u := newUAAUser(s.store.Now(), *b.UserName, b.Origin, b.Emails[0].Value)
	if b.Name != nil {
		u.GivenName, u.FamilyName = b.Name.GivenName, b.Name.FamilyName
	}
	u.PasswordHash = store.NoPassword
	if b.Origin == "uaa" {
		// UaaPasswordPolicyValidator with the default policy: 0 to 255 characters.
		if b.Password == nil || *b.Password == "" {
			return &scimError{status: 400, name: "invalid_password", description: "Password must be at least 1 characters in length."}
		}
		if len(*b.Password) > 255 {
			return &scimError{status: 400, name: "invalid_password", description: "Password must be no more than 255 characters in length."}
		}
		u.PasswordHash = hashPassword(*b.Password)
	}
	switch err := s.store.CreateUAAUser(requestCtx{ctx}, u); {
	case errors.Is(err, store.ErrConflict):
		existing, err := s.store.UAAUsersNamed(requestCtx{ctx}, u.Username, u.Origin)
		if err != nil || len(existing) == 0 {
			return errOAuthServer(err)
		}
		return &scimError{status: 409, name: "scim_resource_already_exists", description: "Username already in use: " + existing[0].Username,
			extra: map[string]any{"active": true, "verified": true, "user_id": existing[0].GUID}}
	case err != nil:
		return errOAuthServer(err)
	}
	ctx.Response.Header.Set(fasthttp.HeaderETag, `"0"`)
	writeUAAJSON(ctx, 201, presentSCIMUser(u))
	return nil
}

// scimListJSON is the UAA's SearchResults.
type scimListJSON struct {
	Resources    []any    `json:"resources"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	TotalResults int      `json:"totalResults"`
	Schemas      []string `json:"schemas"`
}

// scimList is GET /Users: the users filter keeps (all by default, "id
// pr"), from startIndex (1-based), count of them (100 by default), each
// whole or only the attributes asked for, in the order asked.
func (s *Server) scimList(ctx *fasthttp.RequestCtx) error {
	if err := s.scimCaller(ctx, scopeSCIMRead); err != nil {
		return err
	}
	args := ctx.QueryArgs()
	filterText := "id pr"
	if args.Has("filter") {
		filterText = string(args.Peek("filter"))
	}
	invalid := &scimError{status: 400, name: "scim", description: "Invalid filter expression: [" + filterText + "] [created]"}
	f, err := parseSCIMFilter(filterText)
	if err != nil {
		return invalid
	}
	start, count := 1, 100
	for _, p := range []struct {
		key string
		dst *int
	}{{"startIndex", &start}, {"count", &count}} {
		if args.Has(p.key) {
			n, err := strconv.Atoi(string(args.Peek(p.key)))
			if err != nil {
				return &scimError{status: 400, name: "method_argument_type_mismatch",
					description: fmt.Sprintf("Failed to convert value of type 'java.lang.String' to required type 'int'; For input string: %q", string(args.Peek(p.key)))}
			}
			*p.dst = n
		}
	}
	start = max(start, 1)
	count = max(count, 0)
	users, total, err := s.store.ListUAAUsers(requestCtx{ctx}, f, start, count)
	if err != nil {
		return errOAuthServer(err)
	}
	out := scimListJSON{Resources: make([]any, len(users)), StartIndex: start, ItemsPerPage: count, TotalResults: total, Schemas: scimSchemas}
	attributes := strings.TrimSpace(string(args.Peek("attributes")))
	for i, u := range users {
		j := presentSCIMUser(u)
		if attributes == "" {
			out.Resources[i] = j
			continue
		}
		if out.Resources[i], err = scimAttributes(j, strings.Split(attributes, ",")); err != nil {
			return &scimError{status: 400, name: "scim", description: "Invalid attributes: [" + attributes + "]"}
		}
	}
	writeUAAJSON(ctx, 200, out)
	return nil
}

// scimAttributes keeps the attributes of u that attrs name, as the UAA's
// SearchResultsFactory reads them: by JSON path, givenName and familyName
// under name, emails.value from every email.
func scimAttributes(u scimUserJSON, attrs []string) (ordered, error) {
	raw, err := json.Marshal(u)
	if err != nil {
		return nil, err
	}
	var all map[string]any
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, err
	}
	out := ordered{}
	for _, a := range attrs {
		a = strings.TrimSpace(a)
		path := a
		switch {
		case a == "givenName" || a == "familyName":
			path = "name." + a
		case strings.HasPrefix(a, "emails."):
			sub := strings.TrimPrefix(a, "emails.")
			var vals []any
			for _, e := range all["emails"].([]any) {
				if v, ok := e.(map[string]any)[sub]; ok {
					vals = append(vals, v)
				}
			}
			out = append(out, field{key: a, val: vals})
			continue
		}
		var v any = all
		for _, part := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = m[part]
		}
		if v != nil {
			out = append(out, field{key: a, val: v})
		}
	}
	return out, nil
}

// parseSCIMFilter parses the filters of the UAA's SCIM queries: comparisons
// "attr op value" with eq, co or sw and a quoted value, "attr pr", joined
// by and (tighter) and or, in parentheses or not. Operators and attribute
// names may be in any case; cf sends "userName Eq".
func parseSCIMFilter(text string) (*store.SCIMFilter, error) {
	p := &scimParser{toks: scimTokens(text)}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, errors.New("scim filter: trailing text")
	}
	return f, nil
}

type scimParser struct {
	toks []string
	pos  int
}

func (p *scimParser) next() string {
	if p.pos >= len(p.toks) {
		return ""
	}
	t := p.toks[p.pos]
	p.pos++
	return t
}

func (p *scimParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && strings.EqualFold(p.toks[p.pos], w)
}

func (p *scimParser) or() (*store.SCIMFilter, error) {
	return p.joined("or", p.and)
}

func (p *scimParser) and() (*store.SCIMFilter, error) {
	return p.joined("and", p.term)
}

func (p *scimParser) joined(op string, sub func() (*store.SCIMFilter, error)) (*store.SCIMFilter, error) {
	left, err := sub()
	if err != nil {
		return nil, err
	}
	for p.peekWord(op) {
		p.pos++
		right, err := sub()
		if err != nil {
			return nil, err
		}
		left = &store.SCIMFilter{Op: op, Left: left, Right: right}
	}
	return left, nil
}

func (p *scimParser) term() (*store.SCIMFilter, error) {
	t := p.next()
	if t == "(" {
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, errors.New("scim filter: unclosed parenthesis")
		}
		return f, nil
	}
	attr := strings.ToLower(t)
	if _, ok := store.SCIMColumns[attr]; !ok {
		return nil, fmt.Errorf("scim filter: unknown attribute %q", t)
	}
	op := strings.ToLower(p.next())
	switch op {
	case "pr":
		return &store.SCIMFilter{Op: op, Attr: attr}, nil
	case "eq", "co", "sw":
	default:
		return nil, fmt.Errorf("scim filter: unknown operator %q", op)
	}
	v := p.next()
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, errors.New("scim filter: a value must be quoted")
	}
	var value string
	if err := json.Unmarshal([]byte(v), &value); err != nil {
		return nil, err
	}
	return &store.SCIMFilter{Op: op, Attr: attr, Value: value}, nil
}

// scimTokens splits a filter into words, parentheses and quoted strings
// (with their quotes and escapes).
func scimTokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '+':
			i++
		case c == '(' || c == ')':
			out = append(out, string(c))
			i++
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			out = append(out, s[i:min(j+1, len(s))])
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n()\"", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

// Passwords of users created through SCIM are kept as PBKDF2-SHA256
// hashes: "pbkdf2-sha256$<iterations>$<salt>$<hash>", base64.
const passwordIterations = 100_000

func hashPassword(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key, _ := pbkdf2.Key(sha256.New, password, salt, passwordIterations, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", passwordIterations, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// passwordHashMatches checks password against a hashPassword hash.
func passwordHashMatches(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err != nil || err1 != nil || err2 != nil || iter < 1 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// passwordMatches says whether password is the password of the UAA's
// user u (found by name): a SCIM-created user's is checked against its
// hash, a seeded user's against the configuration (passwordOf); a user
// without a password never matches.
func (s *Server) passwordMatches(ctx context.Context, u store.User, password string) bool {
	full, err := s.store.GetUAAUser(ctx, u.GUID)
	if err != nil {
		return false
	}
	switch full.PasswordHash {
	case "":
		return equalSecret(password, passwordOf(s.cfg, full.Username))
	case store.NoPassword:
		return false
	}
	return passwordHashMatches(full.PasswordHash, password)
}
