// Package ccv3 is a typed client of the Cloud Controller v3 API over the
// gateway's upstream: one method per v3 call the v2 translation needs,
// with the user's token, and a bounded fan-out for the calls v3 makes per
// app. It knows nothing about v2.
package ccv3

import (
	"encoding/json"
	"fmt"
	"net/url"
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
	if err := c.up.Do(req, resp, route); err != nil {
		return err
	}
	body := resp.Body()
	if resp.StatusCode() != fasthttp.StatusOK {
		e := &Error{Status: resp.StatusCode()}
		_ = json.Unmarshal(body, e)
		return e
	}
	if err := json.Unmarshal(body, v); err != nil {
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

// GetApp is GET /v3/apps/:guid.
func (c *Client) GetApp(call Call, guid string) (translate.V3App, error) {
	var a translate.V3App
	err := c.get(call, "/v3/apps/"+url.PathEscape(guid), "", "/v3/apps/:guid", &a)
	return a, err
}

// maxPerPage is v3's per_page limit.
const maxPerPage = 5000

// byApp lists a v3 collection filtered by app_guids and keeps, per app,
// the first resource of the list (with order_by=-created_at: the latest);
// owner reads a resource's app.
func byApp[T any](c *Client, call Call, path, route string, appGUIDs []string, extra url.Values, owner func(*T) string) (map[string]T, error) {
	out := make(map[string]T, len(appGUIDs))
	if len(appGUIDs) == 0 {
		return out, nil
	}
	v := url.Values{}
	for k, vals := range extra {
		v[k] = vals
	}
	v.Set("app_guids", listValue(appGUIDs))
	v.Set("per_page", strconv.Itoa(maxPerPage))
	var p Page[T]
	if err := c.get(call, path, v.Encode(), route, &p); err != nil {
		return nil, err
	}
	for i := range p.Resources {
		app := owner(&p.Resources[i])
		if _, seen := out[app]; !seen {
			out[app] = p.Resources[i]
		}
	}
	return out, nil
}

// WebProcesses returns the web process of each app (commands are redacted
// in lists).
func (c *Client) WebProcesses(call Call, appGUIDs []string) (map[string]translate.V3Process, error) {
	return byApp[translate.V3Process](c, call, "/v3/processes", "/v3/processes", appGUIDs, url.Values{"types": {"web"}},
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

// Routes returns the routes with a destination of any of the apps.
func (c *Client) Routes(call Call, appGUIDs []string) ([]translate.V3Route, error) {
	if len(appGUIDs) == 0 {
		return nil, nil
	}
	v := url.Values{"app_guids": {listValue(appGUIDs)}, "per_page": {strconv.Itoa(maxPerPage)}}
	var p Page[translate.V3Route]
	err := c.get(call, "/v3/routes", v.Encode(), "/v3/routes", &p)
	return p.Resources, err
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
	var g errgroup.Group
	g.SetLimit(c.fanout)
	for _, guid := range appGUIDs {
		g.Go(func() error { return fn(guid) })
	}
	return g.Wait()
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
