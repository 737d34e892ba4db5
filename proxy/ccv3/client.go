// Package ccv3 is a typed client of the Cloud Controller v3 API over the
// gateway's upstream: one method per v3 call the v2 translation needs,
// with the user's token, and a bounded fan-out for the calls v3 makes per
// app. It knows nothing about v2.
package ccv3

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"capibridge/translate"
)

// Doer sends one request upstream; the gateway's Upstream is one. route is
// the v3 route template for the metrics.
type Doer interface {
	Do(req *fasthttp.Request, resp *fasthttp.Response, route string) error
}

// Client calls the Cloud Controller v3 API.
type Client struct {
	up     Doer
	base   string
	fanout int
}

// New returns a client of the v3 API at base (scheme://host); fanout
// bounds the concurrent per-app calls of one request.
func New(up Doer, base string, fanout int) *Client {
	if fanout < 1 {
		fanout = 1
	}
	return &Client{up: up, base: strings.TrimSuffix(base, "/"), fanout: fanout}
}

// Call carries who is asking: the user's Authorization header and the
// request id, both sent upstream as they are (DESIGN: the user's token goes
// upstream).
type Call struct {
	Authorization string
	RequestID     string
	// SeesAll: the caller holds a global reading role (admin,
	// admin_read_only, global_auditor), for reads whose v2 visibility v3
	// does not apply itself.
	SeesAll bool
	// Trace, when set, records the calls made for one client request.
	Trace *Trace
	// Class is the reader class (who sees the same answers): the gateway
	// files what differs by reader under it. Empty: nothing is filed.
	Class string
}

// Error is a v3 error answer.
type Error struct {
	Status int
	Errors []ErrorEntry `json:"errors"`
}

// ErrorEntry is one entry of a v3 error body.
type ErrorEntry struct {
	Detail string `json:"detail"`
	Title  string `json:"title"`
	Code   int    `json:"code"`
}

func (e *Error) Error() string {
	if len(e.Errors) == 0 {
		return fmt.Sprintf("ccv3: status %d", e.Status)
	}
	return fmt.Sprintf("ccv3: %d %s (%d): %s", e.Status, e.Errors[0].Title, e.Errors[0].Code, e.Errors[0].Detail)
}

// Title returns the first error's title, such as "CF-ResourceNotFound".
func (e *Error) Title() string {
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Title
}

// Code returns the first error's code, 0 when there is none.
func (e *Error) Code() int {
	if len(e.Errors) == 0 {
		return 0
	}
	return e.Errors[0].Code
}

// get GETs path?query and decodes a 200 answer into v; any other status is
// an *Error.
func (c *Client) get(call Call, path, query, route string, v any) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	uri := c.base + path
	if query != "" {
		uri += "?" + query
	}
	req.SetRequestURI(uri)
	req.Header.SetMethod(fasthttp.MethodGet)
	if call.Authorization != "" {
		req.Header.Set(fasthttp.HeaderAuthorization, call.Authorization)
	}
	if call.RequestID != "" {
		req.Header.Set("X-Vcap-Request-Id", call.RequestID)
	}
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	if err := c.do(call, req, resp, route, c.up.Do); err != nil {
		return err
	}
	body := resp.Body()
	if resp.StatusCode() != fasthttp.StatusOK {
		e := &Error{Status: resp.StatusCode()}
		_ = Decode(body, e)
		return e
	}
	if err := Decode(body, v); err != nil {
		return fmt.Errorf("ccv3: decoding %s: %w", path, err)
	}
	return nil
}

// Page is one page of a v3 list.
type Page[T any] struct {
	Pagination struct {
		TotalResults int `json:"total_results"`
		TotalPages   int `json:"total_pages"`
	} `json:"pagination"`
	Resources []T `json:"resources"`
}

// listValue encodes a v3 list filter: values joined by "," after each
// comma inside a value became %2C, which the query encoding makes %252C on
// the wire (CC's to_array! decodes once more after splitting; MAPPING §3.3).
func listValue(vals []string) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = strings.ReplaceAll(v, ",", "%2C")
	}
	return strings.Join(parts, ",")
}

// AppsQuery is a GET /v3/apps request.
type AppsQuery struct {
	Names, SpaceGUIDs, OrgGUIDs, Stacks, GUIDs []string
	Page, PerPage                              int
	OrderBy                                    string
}

func (q AppsQuery) encode() string {
	return encodeList(map[string][]string{"names": q.Names, "space_guids": q.SpaceGUIDs, "organization_guids": q.OrgGUIDs,
		"stacks": q.Stacks, "guids": q.GUIDs}, q.Page, q.PerPage, q.OrderBy)
}

// encodeList encodes a v3 list request: the filters that are not nil, then
// page, per_page and order_by when set. Keys come out sorted.
func encodeList(filters map[string][]string, page, perPage int, orderBy string) string {
	v := url.Values{}
	for key, vals := range filters {
		if vals != nil {
			v.Set(key, listValue(vals))
		}
	}
	if page > 0 {
		v.Set("page", strconv.Itoa(page))
	}
	if perPage > 0 {
		v.Set("per_page", strconv.Itoa(perPage))
	}
	if orderBy != "" {
		v.Set("order_by", orderBy)
	}
	return v.Encode()
}

// ListApps is GET /v3/apps.
func (c *Client) ListApps(call Call, q AppsQuery) (Page[translate.V3App], error) {
	var p Page[translate.V3App]
	err := c.get(call, "/v3/apps", q.encode(), "/v3/apps", &p)
	return p, err
}

// AppsInSpace lists a space's apps (up to v3's 5,000) with the space
// included, one request for both. space is nil when the space has no apps
// the caller sees: v3 includes only what the listed resources name.
func (c *Client) AppsInSpace(call Call, spaceGUID string) (apps []translate.V3App, space *translate.V3Space, err error) {
	var p struct {
		Resources []translate.V3App `json:"resources"`
		Included  struct {
			Spaces []translate.V3Space `json:"spaces"`
		} `json:"included"`
	}
	q := url.Values{"space_guids": {spaceGUID}, "per_page": {strconv.Itoa(maxPerPage)}, "include": {"space"}}
	if err := c.get(call, "/v3/apps", q.Encode(), "/v3/apps", &p); err != nil {
		return nil, nil, err
	}
	for i, s := range p.Included.Spaces {
		if s.GUID == spaceGUID {
			space = &p.Included.Spaces[i]
		}
	}
	return p.Resources, space, nil
}

// GetApp is GET /v3/apps/:guid.
func (c *Client) GetApp(call Call, guid string) (translate.V3App, error) {
	var a translate.V3App
	err := c.get(call, "/v3/apps/"+url.PathEscape(guid), "", "/v3/apps/:guid", &a)
	return a, err
}

// maxPerPage is v3's per_page limit.
const maxPerPage = 5000

// chunkSize is how many guids one batch request filters by. A guid lists
// as 39 bytes on the wire, so 50 keep the query under 2 KiB, well inside
// the 8 KiB request line nginx in front of CC accepts
// (large_client_header_buffers) and the embedded CF's 4 KiB read buffer;
// a longer line is answered 414 or 431 and the whole v2 request fails.
const chunkSize = 50

// hasMore reports whether the list goes on after page; an empty page
// ends it whatever total_pages says.
func (p *Page[T]) hasMore(page int) bool {
	return page < p.Pagination.TotalPages && len(p.Resources) > 0
}

// paged is a decoded list page that knows whether more follow.
type paged interface {
	hasMore(page int) bool
}

// filtered is extra plus key=guids and v3's largest page, a fresh set of
// values for one chunk.
func filtered(extra url.Values, key string, guids []string) url.Values {
	v := make(url.Values, len(extra)+2)
	for k, vals := range extra {
		v[k] = vals
	}
	v.Set(key, listValue(guids))
	v.Set("per_page", strconv.Itoa(maxPerPage))
	return v
}

// eachPage GETs path?v page after page, each into a fresh P, and hands it
// to use until the list ends or use returns false because it has what it
// needs. It sets page in v from the second page on.
func eachPage[P any, PP interface {
	*P
	paged
}](c *Client, call Call, path, route string, v url.Values, use func(*P) bool) error {
	for page := 1; ; page++ {
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		var p P
		if err := c.get(call, path, v.Encode(), route, PP(&p)); err != nil {
			return err
		}
		if !use(&p) || !PP(&p).hasMore(page) {
			return nil
		}
	}
}

// inChunks runs fn for each run of at most chunkSize guids, with at most
// the client's fan-out at once, and returns the results in chunk order or
// the first error. Every batch read that filters by a guid list goes
// through it, so no request line grows with the number of guids.
func inChunks[R any](c *Client, guids []string, fn func(chunk []string) (R, error)) ([]R, error) {
	out := make([]R, (len(guids)+chunkSize-1)/chunkSize)
	var g errgroup.Group
	g.SetLimit(c.fanout)
	for i := range out {
		chunk := guids[i*chunkSize : min((i+1)*chunkSize, len(guids))]
		g.Go(func() (err error) { out[i], err = fn(chunk); return })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// allPages lists path?v, every page.
func allPages[T any](c *Client, call Call, path, route string, v url.Values) ([]T, error) {
	var out []T
	err := eachPage[Page[T]](c, call, path, route, v, func(p *Page[T]) bool {
		out = append(out, p.Resources...)
		return true
	})
	return out, err
}

// listBy lists a v3 collection filtered by key=guids (and extra), every
// page, chunk by chunk; nothing when guids is empty. A resource matching
// guids of two chunks comes back twice.
func listBy[T any](c *Client, call Call, path, route, key string, guids []string, extra url.Values) ([]T, error) {
	parts, err := inChunks(c, guids, func(chunk []string) ([]T, error) {
		return allPages[T](c, call, path, route, filtered(extra, key, chunk))
	})
	if err != nil {
		return nil, err
	}
	return slices.Concat(parts...), nil
}

// byApp lists a v3 collection filtered by app_guids, chunk by chunk, and
// keeps, per app, the first resource of the list (with
// order_by=-created_at: the latest); owner reads a resource's app. The
// order runs across all the apps of a chunk, so an app's first resource
// may sit on a later page: pages are read until every app of the chunk
// has one or the list ends.
func byApp[T any](c *Client, call Call, path, route string, appGUIDs []string, extra url.Values, owner func(*T) string) (map[string]T, error) {
	parts, err := inChunks(c, appGUIDs, func(chunk []string) (map[string]T, error) {
		want := make(map[string]bool, len(chunk))
		for _, guid := range chunk {
			want[guid] = true
		}
		got, missing := make(map[string]T, len(want)), len(want)
		err := eachPage[Page[T]](c, call, path, route, filtered(extra, "app_guids", chunk), func(p *Page[T]) bool {
			for i := range p.Resources {
				app := owner(&p.Resources[i])
				if _, seen := got[app]; !seen {
					got[app] = p.Resources[i]
					if want[app] {
						missing--
					}
				}
			}
			return missing > 0
		})
		return got, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]T, len(appGUIDs))
	for _, part := range parts {
		maps.Copy(out, part)
	}
	return out, nil
}

// WebProcesses returns the web process of each app (commands are redacted
// in lists): the newest one, as v2 shows only the newest web process of an
// app and a rolling deployment runs two (MAPPING, key idea: CC's
// AppModel#newest_web_process).
func (c *Client) WebProcesses(call Call, appGUIDs []string) (map[string]translate.V3Process, error) {
	return byApp[translate.V3Process](c, call, "/v3/processes", "/v3/processes", appGUIDs,
		url.Values{"types": {"web"}, "order_by": {"-created_at"}},
		func(p *translate.V3Process) string { return p.Relationships.App.GUID() })
}

// LatestPackages returns each app's newest package.
func (c *Client) LatestPackages(call Call, appGUIDs []string) (map[string]translate.V3Package, error) {
	return byApp[translate.V3Package](c, call, "/v3/packages", "/v3/packages", appGUIDs, url.Values{"order_by": {"-created_at"}},
		func(p *translate.V3Package) string { return p.Relationships.App.GUID() })
}

// LatestBuilds returns each app's newest build.
func (c *Client) LatestBuilds(call Call, appGUIDs []string) (map[string]translate.V3Build, error) {
	return byApp[translate.V3Build](c, call, "/v3/builds", "/v3/builds", appGUIDs, url.Values{"order_by": {"-created_at"}},
		func(b *translate.V3Build) string { return b.Relationships.App.GUID() })
}

// LatestDroplets returns each app's newest droplet.
func (c *Client) LatestDroplets(call Call, appGUIDs []string) (map[string]translate.V3Droplet, error) {
	return byApp[translate.V3Droplet](c, call, "/v3/droplets", "/v3/droplets", appGUIDs, url.Values{"order_by": {"-created_at"}},
		func(d *translate.V3Droplet) string { return d.Relationships.App.GUID() })
}

// Routes returns the routes with a destination of any of the apps, in
// v3's order (created_at, then guid). A route with destinations in two
// chunks is listed by both and kept once.
func (c *Client) Routes(call Call, appGUIDs []string) ([]translate.V3Route, error) {
	routes, err := c.routesWithDomains(call, appGUIDs)
	if err != nil || len(appGUIDs) <= chunkSize {
		return routes, err
	}
	seen := make(map[string]bool, len(routes))
	routes = slices.DeleteFunc(routes, func(r translate.V3Route) bool {
		dup := seen[r.GUID]
		seen[r.GUID] = true
		return dup
	})
	slices.SortStableFunc(routes, func(a, b translate.V3Route) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.GUID, b.GUID))
	})
	return routes, nil
}

// CurrentDroplet is GET /v3/apps/:guid/droplets/current; nil when the app
// has none. A single GET shows process_types, which lists redact.
func (c *Client) CurrentDroplet(call Call, appGUID string) (*translate.V3Droplet, error) {
	var d translate.V3Droplet
	err := c.get(call, "/v3/apps/"+url.PathEscape(appGUID)+"/droplets/current", "", "/v3/apps/:guid/*", &d)
	if e, ok := err.(*Error); ok && e.Status == fasthttp.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// EnvVars is GET /v3/apps/:guid/environment_variables; redacted is true
// when the user may not read them (403), as v2 shows them redacted.
func (c *Client) EnvVars(call Call, appGUID string) (vars map[string]json.RawMessage, redacted bool, err error) {
	var ev struct {
		Var map[string]json.RawMessage `json:"var"`
	}
	err = c.get(call, "/v3/apps/"+url.PathEscape(appGUID)+"/environment_variables", "", "/v3/apps/:guid/*", &ev)
	if e, ok := err.(*Error); ok && e.Status == fasthttp.StatusForbidden {
		return nil, true, nil
	}
	return ev.Var, false, err
}

// SSHEnabled is GET /v3/apps/:guid/features/ssh.
func (c *Client) SSHEnabled(call Call, appGUID string) (bool, error) {
	var f translate.V3AppFeature
	err := c.get(call, "/v3/apps/"+url.PathEscape(appGUID)+"/features/ssh", "", "/v3/apps/:guid/*", &f)
	return f.Enabled, err
}

// Stack is what the v2 translation needs of a v3 stack.
type Stack struct {
	GUID    string `json:"guid"`
	Name    string `json:"name"`
	Default bool   `json:"default"`
}

// Stacks lists every stack.
func (c *Client) Stacks(call Call) ([]Stack, error) {
	var p Page[Stack]
	err := c.get(call, "/v3/stacks", "per_page=5000", "/v3/stacks", &p)
	return p.Resources, err
}

// PerApp runs fn for every app guid with at most the client's fan-out at
// once, and returns the first error.
func (c *Client) PerApp(appGUIDs []string, fn func(guid string) error) error {
	calls := make([]func() error, len(appGUIDs))
	for i, guid := range appGUIDs {
		calls[i] = func() error { return fn(guid) }
	}
	return c.Fan(calls)
}

// Fan runs the calls with at most the client's fan-out at once, and
// returns the first error. Independent calls given as one list finish in
// fewer sequential waves than chains of them per app.
func (c *Client) Fan(calls []func() error) error {
	var g errgroup.Group
	g.SetLimit(c.fanout)
	for _, f := range calls {
		g.Go(f)
	}
	return g.Wait()
}

// routesPage is a page of routes with their domains included.
type routesPage struct {
	Page[translate.V3Route]
	Included struct {
		Domains []translate.V3Domain `json:"domains"`
	} `json:"included"`
}

// routesWithDomains lists the apps' routes with include=domain and puts
// each route's domain beside it (V3Route.Domain), so that their urls need
// no domain list of their own.
func (c *Client) routesWithDomains(call Call, appGUIDs []string) ([]translate.V3Route, error) {
	parts, err := inChunks(c, appGUIDs, func(chunk []string) ([]translate.V3Route, error) {
		var routes []translate.V3Route
		domains := map[string]*translate.V3Domain{}
		err := eachPage[routesPage](c, call, "/v3/routes", "/v3/routes", filtered(url.Values{"include": {"domain"}}, "app_guids", chunk),
			func(p *routesPage) bool {
				routes = append(routes, p.Resources...)
				for i := range p.Included.Domains {
					d := p.Included.Domains[i]
					domains[d.GUID] = &d
				}
				return true
			})
		for i := range routes {
			routes[i].Domain = domains[routes[i].Relationships.Domain.GUID()]
		}
		return routes, err
	})
	if err != nil {
		return nil, err
	}
	return slices.Concat(parts...), nil
}
