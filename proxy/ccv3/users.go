package ccv3

import (
	"maps"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"capibridge/translate"
)

// RolesQuery is a GET /v3/roles request.
type RolesQuery struct {
	GUIDs, OrgGUIDs, SpaceGUIDs, UserGUIDs, Types []string
	// Include names what the answer includes ("user", "organization",
	// "space").
	Include []string
}

// Roles are roles with the users, organizations and spaces they include,
// by guid.
type Roles struct {
	Roles  []translate.V3Role
	Users  map[string]translate.V3User
	Orgs   map[string]translate.V3Org
	Spaces map[string]translate.V3Space
}

// AllRoles is GET /v3/roles, every page, with what it includes.
func (c *Client) AllRoles(call Call, q RolesQuery) (Roles, error) {
	out := Roles{Users: map[string]translate.V3User{}, Orgs: map[string]translate.V3Org{}, Spaces: map[string]translate.V3Space{}}
	for page := 1; ; page++ {
		var p struct {
			Page[translate.V3Role]
			Included struct {
				Users         []translate.V3User  `json:"users"`
				Organizations []translate.V3Org   `json:"organizations"`
				Spaces        []translate.V3Space `json:"spaces"`
			} `json:"included"`
		}
		query := encodeList(map[string][]string{"guids": q.GUIDs, "organization_guids": q.OrgGUIDs, "space_guids": q.SpaceGUIDs,
			"user_guids": q.UserGUIDs, "types": q.Types}, page, 5000, "")
		if len(q.Include) > 0 {
			query += "&include=" + url.QueryEscape(strings.Join(q.Include, ","))
		}
		if err := c.get(call, "/v3/roles", query, "/v3/roles", &p); err != nil {
			return out, err
		}
		out.Roles = append(out.Roles, p.Resources...)
		for _, u := range p.Included.Users {
			out.Users[u.GUID] = u
		}
		for _, o := range p.Included.Organizations {
			out.Orgs[o.GUID] = o
		}
		for _, sp := range p.Included.Spaces {
			out.Spaces[sp.GUID] = sp
		}
		if page >= p.Pagination.TotalPages {
			return out, nil
		}
	}
}

// OrgRoles is GET /v3/roles?organization_guids=…&types=…&include=user,
// every page, the orgs chunk by chunk; the roles keep v3's order
// (created_at) within each org.
func (c *Client) OrgRoles(call Call, orgGUIDs, types []string) (Roles, error) {
	parts, err := inChunks(c, orgGUIDs, func(chunk []string) (Roles, error) {
		return c.AllRoles(call, RolesQuery{OrgGUIDs: chunk, Types: types, Include: []string{"user"}})
	})
	out := Roles{Users: map[string]translate.V3User{}}
	if err != nil {
		return out, err
	}
	for _, p := range parts {
		out.Roles = append(out.Roles, p.Roles...)
		maps.Copy(out.Users, p.Users)
	}
	return out, nil
}

// CreateRole is POST /v3/roles.
func (c *Client) CreateRole(call Call, body []byte) (translate.V3Role, error) {
	w, err := write[translate.V3Role](c, call, fasthttp.MethodPost, "/v3/roles", "/v3/roles", body)
	return w.Resource, err
}

// DeleteRole is DELETE /v3/roles/:guid; it returns the job.
func (c *Client) DeleteRole(call Call, guid string) (string, error) {
	return c.deleteJob(call, "/v3/roles/"+url.PathEscape(guid), "/v3/roles/:guid")
}

// UsersQuery is a GET /v3/users request.
type UsersQuery struct {
	GUIDs, Usernames, Origins []string
	Page, PerPage             int
}

// ListUsers is GET /v3/users.
func (c *Client) ListUsers(call Call, q UsersQuery) (Page[translate.V3User], error) {
	var p Page[translate.V3User]
	query := encodeList(map[string][]string{"guids": q.GUIDs, "usernames": q.Usernames, "origins": q.Origins}, q.Page, q.PerPage, "")
	err := c.get(call, "/v3/users", query, "/v3/users", &p)
	return p, err
}

// GetUser is GET /v3/users/:guid.
func (c *Client) GetUser(call Call, guid string) (translate.V3User, error) {
	var u translate.V3User
	err := c.get(call, "/v3/users/"+url.PathEscape(guid), "", "/v3/users/:guid", &u)
	return u, err
}

// CreateUser is POST /v3/users.
func (c *Client) CreateUser(call Call, body []byte) (translate.V3User, error) {
	w, err := write[translate.V3User](c, call, fasthttp.MethodPost, "/v3/users", "/v3/users", body)
	return w.Resource, err
}

// DeleteUser is DELETE /v3/users/:guid; it returns the job.
func (c *Client) DeleteUser(call Call, guid string) (string, error) {
	return c.deleteJob(call, "/v3/users/"+url.PathEscape(guid), "/v3/users/:guid")
}

// UsersByGUID is GET /v3/users?guids=…, every page, the guids chunk by
// chunk: those of the users the caller sees.
func (c *Client) UsersByGUID(call Call, guids []string) ([]translate.V3User, error) {
	return listBy[translate.V3User](c, call, "/v3/users", "/v3/users", "guids", guids, nil)
}

// RolesOfUsers is AllRoles for q's users, chunk by chunk (a role list
// may name more users than one URL holds); nothing when there are none.
func (c *Client) RolesOfUsers(call Call, q RolesQuery) ([]translate.V3Role, error) {
	parts, err := inChunks(c, q.UserGUIDs, func(chunk []string) ([]translate.V3Role, error) {
		q := q
		q.UserGUIDs = chunk
		rs, err := c.AllRoles(call, q)
		return rs.Roles, err
	})
	if err != nil {
		return nil, err
	}
	var out []translate.V3Role
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, nil
}
