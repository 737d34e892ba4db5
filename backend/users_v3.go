package backend

import (
	"context"
	"errors"
	"net/url"

	"capibridge/backend/store"
)

// Users (cc:app/controllers/v3/users_controller.rb, app/messages/
// users_list_message.rb, user_create_message.rb, user_update_message.rb,
// app/actions/user_create.rb, user_delete.rb, app/presenters/v3/
// user_presenter.rb). CC's users are the cc_users rows; their username and
// origin are the embedded UAA's. A user sees itself and whoever has an org
// role in an org where it has one; global readers see everyone.

// userResource is GET /v3/users and /v3/users/:guid.
var userResource = &resource[store.CCUser, store.CCUserFilter, userJSON]{
	name: "User",
	path: "/v3/users",
	keys: append(append(append(append([]string{}, pageParams...), timeKeys("created_ats")...), timeKeys("updated_ats")...),
		"guids", "usernames", "partial_usernames", "origins", "label_selector"),
	orders: timeOrders,
	filter: func(q *params) store.CCUserFilter {
		f := store.CCUserFilter{GUIDs: q.list("guids"), Usernames: q.list("usernames"), PartialUsernames: q.list("partial_usernames"),
			Origins: q.list("origins")}
		// UsersListMessage's own rules come before the label selector's.
		if f.Origins != nil && f.Usernames == nil && f.PartialUsernames == nil {
			q.fail(errBadQuery("Origins filter cannot be provided without usernames or partial_usernames filter."))
		}
		if f.Usernames != nil && f.PartialUsernames != nil {
			q.fail(errBadQuery("Usernames filter cannot be provided with both usernames and partial_usernames filter."))
		}
		f.Labels, f.CreatedAts, f.UpdatedAts = q.labels(), q.times("created_ats"), q.times("updated_ats")
		return f
	},
	list:    (*store.Store).ListCCUsers,
	get:     (*store.Store).GetCCUser,
	present: each(func(r *request, u store.CCUser) userJSON { return presentUser(r.base, u) }),
}

// userJSON is UserPresenter's body.
type userJSON struct {
	GUID             string       `json:"guid"`
	CreatedAt        string       `json:"created_at"`
	UpdatedAt        string       `json:"updated_at"`
	Username         *string      `json:"username"`
	PresentationName string       `json:"presentation_name"`
	Origin           *string      `json:"origin"`
	Metadata         metadataJSON `json:"metadata"`
	Links            struct {
		Self link `json:"self"`
	} `json:"links"`
}

func presentUser(base string, u store.CCUser) userJSON {
	j := userJSON{GUID: u.GUID, CreatedAt: timestamp(u.CreatedAt), UpdatedAt: timestamp(u.UpdatedAt), Username: u.Username,
		PresentationName: u.PresentationName(), Origin: u.Origin, Metadata: meta(u.Labels, u.Annotations)}
	// CGI.escape: a client's id may hold any character.
	j.Links.Self = link{Href: base + "/v3/users/" + url.QueryEscape(u.GUID)}
	return j
}

// userMessage is a valid UserCreateMessage: a guid, or a username and an
// origin, and metadata.
type userMessage struct {
	guid, username, origin *string
	md                     *metadataPatch
}

// parseUserMessage validates a create body as UserCreateMessage does:
// metadata, unknown keys, the strings, then which of guid, username and
// origin go together; every problem in one 422 joined by ", ".
func parseUserMessage(body []byte) (userMessage, error) {
	var m userMessage
	o, md, p, err := decodeMessage(body, "guid", "origin", "username", "metadata")
	if err != nil {
		return m, err
	}
	m.md = md
	if o.has("guid") && !o.isNull("guid") {
		g := guidProblems(o["guid"], "Guid", &p)
		m.guid = &g
	}
	for _, f := range []struct {
		key, label string
		dst        **string
	}{{"origin", "Origin", &m.origin}, {"username", "Username", &m.username}} {
		v, err := o.str(f.key, f.label)
		p.addErr("", err)
		*f.dst = v
	}
	switch {
	case m.guid != nil:
		if m.username != nil {
			p.add("Username cannot be provided with 'guid'")
		}
		if m.origin != nil {
			p.add("Origin cannot be provided with 'guid'")
		}
	case m.username != nil || m.origin != nil:
		if m.username == nil {
			p.add("Origin can only be provided together with 'username'")
		}
		if m.origin == nil {
			p.add("Username can only be provided together with 'origin'")
		}
		if m.origin != nil && *m.origin == "uaa" {
			p.add("Origin cannot be 'uaa' when creating a user by username")
		}
	default:
		p.add("Guid or 'username' and 'origin' must be provided")
	}
	return m, p.err()
}

// createUser is POST /v3/users: 201, admins only. By guid it makes the
// guid a CC user, whether or not the UAA knows it; by username and origin
// (not uaa's) it finds the UAA's user of that origin, or creates its
// shadow user as CC asks the UAA to, and makes it a CC user.
func (s *Server) createUser(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	m, err := parseUserMessage(r.ctx.PostBody())
	if err != nil {
		return err
	}
	now := s.store.Now()
	u := store.CCUser{CreatedAt: now, UpdatedAt: now}
	if m.md != nil {
		u.Labels, u.Annotations = apply(nil, m.md.labels), apply(nil, m.md.annotations)
	}
	taken := ""
	if m.guid != nil {
		u.GUID = *m.guid
		taken = "User with guid '" + u.GUID + "' already exists."
	} else {
		if u.GUID, err = s.shadowUser(r.ctx, *m.username, *m.origin); err != nil {
			return errInternal(err)
		}
		taken = "User with username '" + *m.username + "' and origin '" + *m.origin + "' already exists."
	}
	switch err := s.store.CreateCCUser(r.ctx, u); {
	case errors.Is(err, store.ErrConflict):
		return errUnprocessable(taken)
	case err != nil:
		return errInternal(err)
	}
	created, err := s.store.GetCCUser(r.ctx, store.Viewer{All: true}, u.GUID)
	if err != nil {
		return errInternal(err)
	}
	return r.reply(201, presentUser(r.base, created))
}

// shadowUser returns the id of the UAA's user called username in origin,
// creating it without a password when there is none
// (User.create_uaa_shadow_user: the username is also its email).
func (s *Server) shadowUser(ctx context.Context, username, origin string) (string, error) {
	users, err := s.store.UAAUsersNamed(ctx, username, origin)
	if err != nil || len(users) > 0 {
		if err != nil {
			return "", err
		}
		return users[0].GUID, nil
	}
	u := newUAAUser(s.store.Now(), username, origin, username)
	u.PasswordHash = store.NoPassword
	err = s.store.CreateUAAUser(ctx, u)
	if errors.Is(err, store.ErrConflict) {
		return s.shadowUser(ctx, username, origin)
	}
	return u.GUID, err
}

// readableUser reads the user of the path if the caller sees it.
func (s *Server) readableUser(r *request) (store.CCUser, error) {
	return userResource.find(s, r, r.params[0])
}

// updateUser is PATCH /v3/users/:guid: 200, admins only; only metadata
// changes (UserUpdateMessage).
func (s *Server) updateUser(r *request) error {
	u, err := s.readableUser(r)
	if err != nil {
		return err
	}
	if !r.user.admin() {
		return errNotAuthorized()
	}
	_, md, p, err := decodeMessage(r.ctx.PostBody(), "metadata")
	if err != nil {
		return err
	}
	if err := p.err(); err != nil {
		return err
	}
	if md != nil {
		u.Labels, u.Annotations = apply(u.Labels, md.labels), apply(u.Annotations, md.annotations)
	}
	u.UpdatedAt = s.store.Now()
	if err := s.store.UpdateCCUserMetadata(r.ctx, u); err != nil {
		return storeErr(err, "User")
	}
	return r.reply(200, presentUser(r.base, u))
}

// deleteUser is DELETE /v3/users/:guid: admins only, 202 with a
// user.delete job, which makes CC forget the user and its roles
// (UserDeleteAction); the UAA keeps its user.
func (s *Server) deleteUser(r *request) error {
	u, err := s.readableUser(r)
	if err != nil {
		return err
	}
	if !r.user.admin() {
		return errNotAuthorized()
	}
	return s.startJob(r, "user.delete", u.GUID)
}

// userDeleteWork is a user.delete job's work. The user's next request
// makes it known again, as in CC, whose token stays valid.
func (s *Server) userDeleteWork(ctx context.Context, guid string) error {
	s.knownMu.Lock()
	defer s.knownMu.Unlock()
	s.known.Delete(guid)
	return s.store.DeleteCCUser(ctx, guid)
}

// knowCaller makes the caller guid (a user, or an OAuth client) a user CC
// knows, as CC's SecurityContextConfigurer does for every token it accepts
// before any scope check (User.find(guid) || User.create(guid)): a user
// made in the UAA alone can then hold roles, such as those of an org it
// creates. Callers already known are remembered, so that their requests
// read and write nothing here.
func (s *Server) knowCaller(ctx context.Context, guid string) error {
	if _, ok := s.known.Load(guid); ok {
		return nil
	}
	s.knownMu.Lock()
	defer s.knownMu.Unlock()
	if err := s.store.EnsureCCUser(ctx, guid, s.store.Now()); err != nil {
		return err
	}
	s.known.Store(guid, struct{}{})
	return nil
}
