package backend

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"capibridge/backend/store"
)

// apiBase is the origin of every absolute link the harness gets back: it
// sends its requests to http://api.example.org.
const apiBase = "http://api.example.org"

// A second organization and space, which only admins see. The embedded CF
// has no endpoint that creates them, so tests put them in the store.
const (
	otherOrgGUID   = "0d0e0000-0000-4000-8000-0000000000aa"
	otherSpaceGUID = "5ace0000-0000-4000-8000-0000000000aa"
)

// hrefJSON is a link of a pagination object.
type hrefJSON struct {
	Href string `json:"href"`
}

// listBody is one page of a v3 list (cc:app/presenters/v3/pagination_presenter.rb).
type listBody struct {
	Pagination struct {
		TotalResults int       `json:"total_results"`
		TotalPages   int       `json:"total_pages"`
		First        *hrefJSON `json:"first"`
		Last         *hrefJSON `json:"last"`
		Next         *hrefJSON `json:"next"`
		Previous     *hrefJSON `json:"previous"`
	} `json:"pagination"`
	Resources []listItem `json:"resources"`
	Included  *struct {
		Spaces        []listItem `json:"spaces"`
		Organizations []listItem `json:"organizations"`
	} `json:"included"`
}

// listItem holds the fields of apps, processes and audit events the list
// tests look at.
type listItem struct {
	GUID   string `json:"guid"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Target struct {
		GUID string `json:"guid"`
		Name string `json:"name"`
	} `json:"target"`
	Actor struct {
		GUID string `json:"guid"`
	} `json:"actor"`
}

// forTest is c reporting to t, so that parallel subtests sharing one
// embedded CF fail themselves and not their parent.
func (c *cf) forTest(t testing.TB) *cf {
	cc := *c
	cc.t = t
	return &cc
}

// listPage GETs one page of a list as user and decodes it; anything but 200
// fails the test.
func (c *cf) listPage(user, path string) listBody {
	c.t.Helper()
	var b listBody
	c.must(200, "GET", path, user, nil).json(c.t, &b)
	return b
}

// createAppIn creates an app called name in space as user and returns its guid.
func (c *cf) createAppIn(user, space, name string, extra map[string]any) string {
	c.t.Helper()
	body := map[string]any{"name": name, "relationships": map[string]any{"space": map[string]any{"data": map[string]any{"guid": space}}}}
	maps.Copy(body, extra)
	var a struct{ GUID string }
	c.must(201, "POST", "/v3/apps", user, body).json(c.t, &a)
	return a.GUID
}

// addOtherSpace creates the other organization and its space.
func (c *cf) addOtherSpace() {
	c.t.Helper()
	ctx, st := context.Background(), c.srv.Store()
	now := st.Now()
	if err := st.CreateOrg(ctx, store.Org{GUID: otherOrgGUID, Name: "other-org", QuotaGUID: DemoQuotaGUID, CreatedAt: now, UpdatedAt: now}); err != nil {
		c.t.Fatalf("CreateOrg: %v", err)
	}
	sp := store.Space{GUID: otherSpaceGUID, Name: "other-space", OrgGUID: otherOrgGUID, AllowSSH: true, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateSpace(ctx, sp); err != nil {
		c.t.Fatalf("CreateSpace: %v", err)
	}
}

// editApp changes an app straight in the store, for states the API cannot
// reach here (a current droplet, a stack on a docker app).
func (c *cf) editApp(guid string, edit func(*store.App)) {
	c.t.Helper()
	ctx := context.Background()
	a, err := c.srv.Store().GetApp(ctx, store.Viewer{All: true}, guid)
	if err != nil {
		c.t.Fatalf("GetApp %s: %v", guid, err)
	}
	edit(&a)
	if err := c.srv.Store().UpdateApp(ctx, a); err != nil {
		c.t.Fatalf("UpdateApp %s: %v", guid, err)
	}
}

// giveDroplet sets a current droplet, so that a start succeeds.
func (c *cf) giveDroplet(guid string) {
	c.t.Helper()
	droplet := "d7000000-0000-4000-8000-" + guid[len(guid)-12:]
	c.editApp(guid, func(a *store.App) { a.DropletGUID = &droplet })
}

func hrefOf(l *hrefJSON) string {
	if l == nil {
		return ""
	}
	return l.Href
}

func guidsOf(items []listItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.GUID
	}
	return out
}

func sortedCopy(l []string) []string {
	out := slices.Clone(l)
	sort.Strings(out)
	return out
}

// wantBadQuery checks a 400 CF-BadQueryParameter; detail "" skips the text.
func wantBadQuery(t *testing.T, r resp, detail string) {
	t.Helper()
	if r.status != 400 {
		t.Fatalf("status %d, want 400; body %s", r.status, r.body)
	}
	var e errorBody
	r.json(t, &e)
	if len(e.Errors) != 1 || e.Errors[0].Code != 10005 || e.Errors[0].Title != "CF-BadQueryParameter" {
		t.Fatalf("errors %+v, want one 10005 CF-BadQueryParameter", e.Errors)
	}
	if detail != "" && e.Errors[0].Detail != detail {
		t.Errorf("detail\n got %q\nwant %q", e.Errors[0].Detail, detail)
	}
}

// TestListPagination checks the pagination object of CC's
// PaginationPresenter: total_pages is max(1, ceil(total/per_page)); the
// hrefs are absolute, carry page and per_page always and the request's
// other parameters, keys sorted as Rails' Hash#to_query sorts them; next is
// null on the last page and previous is set whenever page > 1, even past the
// last page.
func TestListPagination(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	for i := range 5 {
		c.createApp("developer", fmt.Sprintf("app-%02d", i), nil)
	}
	href := func(path, q string) string { return apiBase + path + "?" + q }
	apps, procs, events := "/v3/apps", "/v3/processes", "/v3/audit_events"
	four := "names=app-00%2Capp-01%2Capp-02%2Capp-03&"
	cases := []struct {
		name                    string
		user                    string // admin when empty
		path                    string
		total, pages, count     int
		first, last, next, prev string // "" is null
	}{
		// The outsider has no role anywhere, so it sees an empty list.
		{name: "apps, none", user: "outsider", path: apps,
			total: 0, pages: 1, count: 0,
			first: href(apps, "page=1&per_page=50"), last: href(apps, "page=1&per_page=50")},
		{name: "apps, one", path: apps + "?names=app-03",
			total: 1, pages: 1, count: 1,
			first: href(apps, "names=app-03&page=1&per_page=50"), last: href(apps, "names=app-03&page=1&per_page=50")},
		{name: "apps, exact multiple, first page", path: apps + "?" + four + "per_page=2",
			total: 4, pages: 2, count: 2,
			first: href(apps, four+"page=1&per_page=2"), last: href(apps, four+"page=2&per_page=2"), next: href(apps, four+"page=2&per_page=2")},
		{name: "apps, exact multiple, last page", path: apps + "?" + four + "page=2&per_page=2",
			total: 4, pages: 2, count: 2,
			first: href(apps, four+"page=1&per_page=2"), last: href(apps, four+"page=2&per_page=2"), prev: href(apps, four+"page=1&per_page=2")},
		{name: "apps, exact multiple, one page", path: apps + "?per_page=5",
			total: 5, pages: 1, count: 5,
			first: href(apps, "page=1&per_page=5"), last: href(apps, "page=1&per_page=5")},
		{name: "apps, non-multiple, middle page", path: apps + "?page=2&per_page=2",
			total: 5, pages: 3, count: 2,
			first: href(apps, "page=1&per_page=2"), last: href(apps, "page=3&per_page=2"),
			next: href(apps, "page=3&per_page=2"), prev: href(apps, "page=1&per_page=2")},
		{name: "apps, non-multiple, last page", path: apps + "?page=3&per_page=2",
			total: 5, pages: 3, count: 1,
			first: href(apps, "page=1&per_page=2"), last: href(apps, "page=3&per_page=2"), prev: href(apps, "page=2&per_page=2")},
		// Past the last page: no resources, no next, and a previous link to
		// page-1, which is past the last page too. The totals are the
		// whole list's; CC's window-function paginator
		// (db.enable_paginate_window) would report 0 there.
		{name: "apps, past the last page", path: apps + "?page=7&per_page=2",
			total: 5, pages: 3, count: 0,
			first: href(apps, "page=1&per_page=2"), last: href(apps, "page=3&per_page=2"), prev: href(apps, "page=6&per_page=2")},
		// Filters and order_by stay in every href; list values are joined
		// with "," and the whole value escaped, as BaseMessage#to_param_hash
		// and to_query do.
		{name: "apps, other parameters kept, keys sorted",
			path:  apps + "?space_guids=" + DemoSpaceGUID + "&per_page=2&order_by=-name&include=space&names=app-00,app-02",
			total: 2, pages: 1, count: 2,
			first: href(apps, "include=space&names=app-00%2Capp-02&order_by=-name&page=1&per_page=2&space_guids="+DemoSpaceGUID),
			last:  href(apps, "include=space&names=app-00%2Capp-02&order_by=-name&page=1&per_page=2&space_guids="+DemoSpaceGUID)},
		{name: "apps, label_selector escaped", path: apps + "?label_selector=%21missing&per_page=1",
			total: 5, pages: 5, count: 1,
			first: href(apps, "label_selector=%21missing&page=1&per_page=1"), last: href(apps, "label_selector=%21missing&page=5&per_page=1"),
			next: href(apps, "label_selector=%21missing&page=2&per_page=1")},
		{name: "processes, last page", path: procs + "?per_page=2&page=3",
			total: 5, pages: 3, count: 1,
			first: href(procs, "page=1&per_page=2"), last: href(procs, "page=3&per_page=2"), prev: href(procs, "page=2&per_page=2")},
		{name: "audit events, none", user: "outsider", path: events,
			total: 0, pages: 1, count: 0,
			first: href(events, "page=1&per_page=50"), last: href(events, "page=1&per_page=50")},
		{name: "audit events, filtered first page", path: events + "?types=audit.app.create&per_page=2",
			total: 5, pages: 3, count: 2,
			first: href(events, "page=1&per_page=2&types=audit.app.create"), last: href(events, "page=3&per_page=2&types=audit.app.create"),
			next: href(events, "page=2&per_page=2&types=audit.app.create")},
		{name: "audit events, past the last page", path: events + "?page=9&types=audit.app.create",
			total: 5, pages: 1, count: 0,
			first: href(events, "page=1&per_page=50&types=audit.app.create"), last: href(events, "page=1&per_page=50&types=audit.app.create"),
			prev: href(events, "page=8&per_page=50&types=audit.app.create")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			user := tc.user
			if user == "" {
				user = "admin"
			}
			b := c.listPage(user, tc.path)
			p := b.Pagination
			if p.TotalResults != tc.total || p.TotalPages != tc.pages || len(b.Resources) != tc.count {
				t.Errorf("total_results %d, total_pages %d, %d resources; want %d, %d, %d",
					p.TotalResults, p.TotalPages, len(b.Resources), tc.total, tc.pages, tc.count)
			}
			for _, l := range []struct {
				key       string
				got, want string
			}{
				{"first", hrefOf(p.First), tc.first},
				{"last", hrefOf(p.Last), tc.last},
				{"next", hrefOf(p.Next), tc.next},
				{"previous", hrefOf(p.Previous), tc.prev},
			} {
				if l.got != l.want {
					t.Errorf("%s\n got %q\nwant %q", l.key, l.got, l.want)
				}
			}
		})
	}
}

// walkList follows next links from path and returns every resource seen and
// the number of pages.
func (c *cf) walkList(user, path string) ([]listItem, int) {
	c.t.Helper()
	var items []listItem
	pages, total := 0, -1
	for path != "" {
		b := c.listPage(user, path)
		items = append(items, b.Resources...)
		pages++
		if total >= 0 && b.Pagination.TotalResults != total {
			c.t.Fatalf("total_results changed from %d to %d at %s", total, b.Pagination.TotalResults, path)
		}
		total = b.Pagination.TotalResults
		if pages > 20 {
			c.t.Fatalf("still a next link after 20 pages")
		}
		path = ""
		if next := hrefOf(b.Pagination.Next); next != "" {
			if !strings.HasPrefix(next, apiBase+"/v3/") {
				c.t.Fatalf("next link %q is not absolute on %s", next, apiBase)
			}
			path = strings.TrimPrefix(next, apiBase)
		}
	}
	if len(items) != total {
		c.t.Errorf("walk saw %d resources, total_results is %d", len(items), total)
	}
	return items, pages
}

// TestListPaginationWalk follows next links from page 1: every resource
// shows up exactly once, and filters and order_by hold on every page.
func TestListPaginationWalk(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	byName := map[string]string{}
	var all []string
	for _, n := range []string{"kilo", "alfa", "india", "echo", "golf", "bravo", "juliett"} {
		byName[n] = c.createApp("developer", n, nil)
		all = append(all, byName[n])
	}
	cases := []struct {
		name  string
		path  string
		want  []string // guids; in this order when ordered
		order bool
		pages int
	}{
		{name: "apps, default order", path: "/v3/apps?per_page=3", want: all, order: true, pages: 3},
		// The next links carry the names as "kilo%2Calfa%2C…" (CGI.escape of
		// the joined list), which must still read as five names.
		{name: "apps, filtered and ordered", path: "/v3/apps?names=kilo,alfa,echo,golf,juliett&order_by=-name&per_page=2",
			want: []string{byName["kilo"], byName["juliett"], byName["golf"], byName["echo"], byName["alfa"]}, order: true, pages: 3},
		{name: "apps, one per page", path: "/v3/apps?per_page=1&order_by=created_at", want: all, pages: 7},
		// The web process of an app shares the app's guid.
		{name: "processes", path: "/v3/processes?per_page=2", want: all, pages: 4},
		{name: "audit events", path: "/v3/audit_events?per_page=4&types=audit.app.create", want: all, pages: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			items, pages := c.walkList("developer", tc.path)
			got := guidsOf(items)
			if strings.HasPrefix(tc.path, "/v3/audit_events") {
				for i, it := range items {
					got[i] = it.Target.GUID
				}
			}
			if pages != tc.pages {
				t.Errorf("%d pages, want %d", pages, tc.pages)
			}
			want := tc.want
			if !tc.order {
				got, want = sortedCopy(got), sortedCopy(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("walk saw\n %v\nwant\n %v", got, want)
			}
		})
	}
}

// TestListPageValidation checks the 400s of CC's ListMessage validators
// (PaginationPageValidator, PaginationOrderValidator) and
// NoAdditionalParamsValidator. CC joins the messages with ", " into
// BadQueryParameter's "The query parameter is invalid: %s".
func TestListPageValidation(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	const prefix = "The query parameter is invalid: "
	appOrders := prefix + "Order by can only be: 'created_at', 'updated_at', 'name', 'state'"
	cases := []struct {
		name   string
		path   string
		status int
		detail string // the whole detail for a 400, or its start when partial
		start  bool
	}{
		{name: "per_page 1", path: "/v3/apps?per_page=1", status: 200},
		{name: "per_page 5000", path: "/v3/apps?per_page=5000", status: 200},
		{name: "per_page 0", path: "/v3/apps?per_page=0", status: 400, detail: prefix + "Per page must be a positive integer"},
		{name: "per_page negative", path: "/v3/apps?per_page=-3", status: 400, detail: prefix + "Per page must be a positive integer"},
		{name: "per_page 5001", path: "/v3/apps?per_page=5001", status: 400, detail: prefix + "Per page must be between 1 and 5000"},
		{name: "per_page too big for an int", path: "/v3/apps?per_page=99999999999999999999", status: 400, detail: prefix + "Per page must be between 1 and 5000"},
		{name: "per_page not an integer", path: "/v3/apps?per_page=ten", status: 400, detail: prefix + "Per page must be a positive integer"},
		{name: "per_page empty", path: "/v3/apps?per_page=", status: 400, detail: prefix + "Per page must be a positive integer"},
		{name: "page 0", path: "/v3/apps?page=0", status: 400, detail: prefix + "Page must be a positive integer"},
		{name: "page negative", path: "/v3/apps?page=-1", status: 400, detail: prefix + "Page must be a positive integer"},
		{name: "page not an integer", path: "/v3/apps?page=first", status: 400, detail: prefix + "Page must be a positive integer"},
		{name: "page and per_page", path: "/v3/apps?page=0&per_page=0", status: 400,
			detail: prefix + "Page must be a positive integer, Per page must be a positive integer"},
		{name: "page on processes", path: "/v3/processes?page=0", status: 400, detail: prefix + "Page must be a positive integer"},
		{name: "order_by with a plus sign", path: "/v3/apps?order_by=%2Bstate", status: 200},
		{name: "order_by unknown", path: "/v3/apps?order_by=foo", status: 400, detail: appOrders},
		{name: "order_by unknown, descending", path: "/v3/apps?order_by=-foo", status: 400, detail: appOrders},
		{name: "order_by two signs", path: "/v3/apps?order_by=--name", status: 400, detail: appOrders},
		{name: "order_by with page errors", path: "/v3/apps?page=0&order_by=foo", status: 400,
			detail: prefix + "Page must be a positive integer, Order by can only be: 'created_at', 'updated_at', 'name', 'state'"},
		{name: "order_by of audit events", path: "/v3/audit_events?order_by=name", status: 400,
			detail: prefix + "Order by can only be: 'created_at', 'updated_at'"},
		{name: "order_by of processes", path: "/v3/processes?order_by=state", status: 400,
			detail: prefix + "Order by can only be: 'created_at', 'updated_at'"},
		{name: "unknown parameters", path: "/v3/apps?foo=1&per_page=2&bar=2", status: 400,
			detail: prefix + "Unknown query parameter(s): 'foo', 'bar'. Valid parameters are: ", start: true},
		{name: "a parameter of another list", path: "/v3/audit_events?app_guids=x", status: 400,
			detail: prefix + "Unknown query parameter(s): 'app_guids'. Valid parameters are: ", start: true},
		{name: "lifecycle_type unknown", path: "/v3/apps?lifecycle_type=kpack", status: 400, detail: prefix + "Invalid lifecycle_type: 'kpack'"},
		{name: "include unknown", path: "/v3/apps?include=routes", status: 400,
			detail: prefix + "Invalid included resource: 'routes'. Valid included resources are: 'space', 'org', 'space.organization'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			r := c.do("GET", tc.path, "admin", nil)
			if tc.status == 200 {
				if r.status != 200 {
					t.Fatalf("status %d, want 200; body %s", r.status, r.body)
				}
				return
			}
			if !tc.start {
				wantBadQuery(t, r, tc.detail)
				return
			}
			wantBadQuery(t, r, "")
			var e errorBody
			r.json(t, &e)
			if !strings.HasPrefix(e.Errors[0].Detail, tc.detail) {
				t.Errorf("detail\n got %q\nwant it to start with %q", e.Errors[0].Detail, tc.detail)
			}
		})
	}
}

// orderedApp is what TestListOrderBy knows of an app it made.
type orderedApp struct {
	guid, name, state string
	created, updated  int64
}

// TestListOrderBy checks order_by on GET /v3/apps: name (case-insensitive,
// the column's collation), created_at, updated_at and state (the desired
// state), ascending, "+" or "-"; ties break by guid in the same direction
// (SequelPaginator#get_page appends the guid column). Without order_by the
// list is in creation (id) order. The fake clock puts several apps in one
// second, so every order has ties.
func TestListOrderBy(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}
	c := startCF(t, nil, WithClock(clk.Now))
	c.addOtherSpace()
	var apps []*orderedApp
	create := func(space, name string) *orderedApp {
		a := &orderedApp{name: name, state: "STOPPED", created: clk.Now().Unix()}
		a.updated = a.created
		a.guid = c.createAppIn("admin", space, name, nil)
		apps = append(apps, a)
		clk.Advance(100 * time.Millisecond)
		return a
	}
	for _, n := range []string{"delta", "Alpha", "charlie", "Bravo"} {
		create(DemoSpaceGUID, n)
	}
	clk.Advance(time.Second)
	byName := map[string]*orderedApp{}
	for _, n := range []string{"echo", "foxtrot", "Golf"} {
		byName[n] = create(DemoSpaceGUID, n)
	}
	// The same name, case aside, in another space: a tie on name.
	create(otherSpaceGUID, "alpha")
	for _, a := range apps[:4] {
		byName[a.name] = a
	}

	clk.Advance(4 * time.Second)
	for _, n := range []string{"charlie", "echo"} {
		c.must(200, "PATCH", "/v3/apps/"+byName[n].guid, "admin", map[string]any{"metadata": map[string]any{"labels": map[string]string{"touched": "yes"}}})
		byName[n].updated = clk.Now().Unix()
		clk.Advance(100 * time.Millisecond)
	}
	clk.Advance(time.Second)
	for _, n := range []string{"Bravo", "foxtrot", "Golf"} {
		c.giveDroplet(byName[n].guid)
		c.must(200, "POST", "/v3/apps/"+byName[n].guid+"/actions/start", "admin", nil)
		byName[n].state, byName[n].updated = "STARTED", clk.Now().Unix()
		clk.Advance(100 * time.Millisecond)
	}

	keys := map[string]func(a *orderedApp) string{
		"name":       func(a *orderedApp) string { return strings.ToLower(a.name) },
		"created_at": func(a *orderedApp) string { return fmt.Sprintf("%020d", a.created) },
		"updated_at": func(a *orderedApp) string { return fmt.Sprintf("%020d", a.updated) },
		"state":      func(a *orderedApp) string { return a.state },
	}
	// Every order must have ties, or the guid tie-break goes untested.
	for k, key := range keys {
		seen := map[string]bool{}
		for _, a := range apps {
			seen[key(a)] = true
		}
		if len(seen) == len(apps) {
			t.Fatalf("no ties on %s", k)
		}
	}
	expect := func(orderBy string) []string {
		if orderBy == "" {
			out := make([]string, len(apps))
			for i, a := range apps {
				out[i] = a.guid
			}
			return out
		}
		desc := strings.HasPrefix(orderBy, "-")
		field := strings.TrimLeft(orderBy, "+-")
		key := keys[field]
		made := map[string]string{} // creation order, as a sortable key
		for i, a := range apps {
			made[a.guid] = fmt.Sprintf("%08d", i)
		}
		s := slices.Clone(apps)
		sort.Slice(s, func(i, j int) bool {
			ki, kj := key(s[i]), key(s[j])
			if ki == kj {
				// Ties of one second keep the creation order (times are
				// whole seconds here, microseconds in CC); other ties go
				// by guid.
				ki, kj = s[i].guid, s[j].guid
				if field == "created_at" || field == "updated_at" {
					ki, kj = made[s[i].guid], made[s[j].guid]
				}
			}
			if desc {
				return ki > kj
			}
			return ki < kj
		})
		out := make([]string, len(s))
		for i, a := range s {
			out[i] = a.guid
		}
		return out
	}

	for _, orderBy := range []string{"", "name", "+name", "-name", "created_at", "-created_at", "updated_at", "-updated_at", "state", "-state"} {
		t.Run("order_by="+orderBy, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			q := "?per_page=5000"
			if orderBy != "" {
				q += "&order_by=" + url.QueryEscape(orderBy)
			}
			want := expect(orderBy)
			got := guidsOf(c.listPage("admin", "/v3/apps"+q).Resources)
			if !slices.Equal(got, want) {
				t.Errorf("order\n got %v\nwant %v", got, want)
			}
			// Small pages cut through the ties and still add up to the same order.
			paged, _ := c.walkList("admin", "/v3/apps"+strings.Replace(q, "per_page=5000", "per_page=2", 1))
			if got := guidsOf(paged); !slices.Equal(got, want) {
				t.Errorf("paged order\n got %v\nwant %v", got, want)
			}
		})
	}
}

// TestListFilters checks the filters of GET /v3/apps (cc:app/messages/apps_list_message.rb,
// app/fetchers/app_list_fetcher.rb); several filters are ANDed.
func TestListFilters(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	c.addOtherSpace()
	fs3 := map[string]any{"lifecycle": map[string]any{"type": "buildpack", "data": map[string]any{"stack": "cflinuxfs3"}}}
	docker := map[string]any{"lifecycle": map[string]any{"type": "docker", "data": map[string]any{}}}
	g := map[string]string{
		"demo/alpha":   c.createAppIn("admin", DemoSpaceGUID, "alpha", nil),
		"demo/bravo":   c.createAppIn("admin", DemoSpaceGUID, "bravo", fs3),
		"demo/charlie": c.createAppIn("admin", DemoSpaceGUID, "charlie", docker),
		"demo/a,b":     c.createAppIn("admin", DemoSpaceGUID, "a,b", nil),
		"demo/b":       c.createAppIn("admin", DemoSpaceGUID, "b", nil),
		"demo/Delta":   c.createAppIn("admin", DemoSpaceGUID, "Delta", nil),
		"other/alpha":  c.createAppIn("admin", otherSpaceGUID, "alpha", docker),
		"other/echo":   c.createAppIn("admin", otherSpaceGUID, "echo", nil),
	}
	// A docker app with a stack row must still not match stacks: CC matches
	// stacks against buildpack lifecycle data only.
	fs4 := DefaultStackName
	c.editApp(g["demo/charlie"], func(a *store.App) { a.Stack = &fs4 })
	demo := []string{"demo/alpha", "demo/bravo", "demo/charlie", "demo/a,b", "demo/b", "demo/Delta"}
	all := append(slices.Clone(demo), "other/alpha", "other/echo")

	cases := []struct {
		name  string
		user  string
		query string
		want  []string
	}{
		{name: "no filter", query: "", want: all},
		{name: "guids", query: "guids=" + g["demo/alpha"] + "," + g["other/echo"], want: []string{"demo/alpha", "other/echo"}},
		{name: "guids empty", query: "guids=", want: nil},
		{name: "guids unknown", query: "guids=no-such-guid", want: nil},
		{name: "names case-insensitive", query: "names=ALPHA", want: []string{"demo/alpha", "other/alpha"}},
		{name: "names several", query: "names=alpha,delta", want: []string{"demo/alpha", "other/alpha", "demo/Delta"}},
		// to_array! splits on /,\s*/: blanks after a comma go.
		{name: "names blank after a comma", query: "names=bravo,%20Delta", want: []string{"demo/bravo", "demo/Delta"}},
		// A comma inside a value is %2C in the value, so %252C on the wire
		// (CC docs, "Query parameters": encoded twice).
		{name: "names comma inside a value", query: "names=a%252Cb", want: []string{"demo/a,b"}},
		// A wire %2C is a plain comma once Rack has decoded the query: a separator.
		{name: "names wire %2C separates", query: "names=a%2Cb", want: []string{"demo/b"}},
		{name: "names empty", query: "names=", want: nil},
		{name: "names unknown", query: "names=zulu", want: nil},
		{name: "space_guids", query: "space_guids=" + otherSpaceGUID, want: []string{"other/alpha", "other/echo"}},
		{name: "space_guids both", query: "space_guids=" + otherSpaceGUID + "," + DemoSpaceGUID, want: all},
		{name: "space_guids empty", query: "space_guids=", want: nil},
		{name: "organization_guids", query: "organization_guids=" + otherOrgGUID, want: []string{"other/alpha", "other/echo"}},
		{name: "organization_guids demo", query: "organization_guids=" + DemoOrgGUID, want: demo},
		{name: "organization_guids empty", query: "organization_guids=", want: nil},
		{name: "stacks", query: "stacks=cflinuxfs3", want: []string{"demo/bravo"}},
		{name: "stacks, buildpack apps only", query: "stacks=cflinuxfs4", want: []string{"demo/alpha", "demo/a,b", "demo/b", "demo/Delta", "other/echo"}},
		{name: "stacks several", query: "stacks=cflinuxfs3,cflinuxfs4", want: []string{"demo/alpha", "demo/bravo", "demo/a,b", "demo/b", "demo/Delta", "other/echo"}},
		{name: "stacks unknown", query: "stacks=windows", want: nil},
		{name: "lifecycle_type docker", query: "lifecycle_type=docker", want: []string{"demo/charlie", "other/alpha"}},
		{name: "lifecycle_type buildpack", query: "lifecycle_type=buildpack", want: []string{"demo/alpha", "demo/bravo", "demo/a,b", "demo/b", "demo/Delta", "other/echo"}},
		{name: "lifecycle_type cnb", query: "lifecycle_type=cnb", want: nil},
		{name: "names and space_guids", query: "names=alpha&space_guids=" + DemoSpaceGUID, want: []string{"demo/alpha"}},
		{name: "lifecycle_type and names", query: "lifecycle_type=docker&names=alpha", want: []string{"other/alpha"}},
		{name: "stacks and organization_guids", query: "stacks=cflinuxfs4&organization_guids=" + otherOrgGUID, want: []string{"other/echo"}},
		{name: "guids and names disjoint", query: "guids=" + g["demo/alpha"] + "&names=bravo", want: nil},
		{name: "a developer sees its space only", user: "developer", query: "names=alpha", want: []string{"demo/alpha"}},
		{name: "an outsider sees nothing", user: "outsider", query: "", want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			user := tc.user
			if user == "" {
				user = "admin"
			}
			b := c.listPage(user, "/v3/apps?per_page=5000&"+tc.query)
			want := make([]string, len(tc.want))
			for i, k := range tc.want {
				want[i] = g[k]
			}
			if got := guidsOf(b.Resources); !slices.Equal(sortedCopy(got), sortedCopy(want)) {
				names := make([]string, len(b.Resources))
				for i, r := range b.Resources {
					names[i] = r.Name
				}
				t.Errorf("got %v, want %v", names, tc.want)
			}
			if b.Pagination.TotalResults != len(want) {
				t.Errorf("total_results %d, want %d", b.Pagination.TotalResults, len(want))
			}
		})
	}
}

// TestListLabelSelector checks label_selector (CC docs, "Labels and
// selectors"; cc:app/models/helpers/metadata_helpers.rb): =, ==, !=, in,
// notin, existence and non-existence, ANDed across requirements. != and
// notin match resources without the key, as in Kubernetes.
func TestListLabelSelector(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	labels := map[string]map[string]string{
		"l1": {"env": "prod", "tier": "web", "example.com/tier": "frontend"},
		"l2": {"env": "staging", "tier": "api"},
		"l3": {"env": "dev"},
		"l4": {},
	}
	g := map[string]string{}
	for _, n := range []string{"l1", "l2", "l3", "l4"} {
		g[n] = c.createApp("developer", n, map[string]any{"metadata": map[string]any{"labels": labels[n]}})
	}
	const prefix = "The query parameter is invalid: "
	cases := []struct {
		name   string
		sel    string
		want   []string
		detail string // a 400's detail when set
	}{
		{name: "equal", sel: "env=prod", want: []string{"l1"}},
		{name: "double equal", sel: "env==prod", want: []string{"l1"}},
		{name: "not equal matches a missing key", sel: "env!=prod", want: []string{"l2", "l3", "l4"}},
		{name: "in", sel: "env in (prod,staging)", want: []string{"l1", "l2"}},
		{name: "in, blanks inside the set", sel: "env in ( prod , dev )", want: []string{"l1", "l3"}},
		{name: "notin matches a missing key", sel: "env notin (prod,staging)", want: []string{"l3", "l4"}},
		{name: "exists", sel: "tier", want: []string{"l1", "l2"}},
		{name: "does not exist", sel: "!tier", want: []string{"l3", "l4"}},
		{name: "several requirements are ANDed", sel: "env in (prod,staging),tier=api", want: []string{"l2"}},
		{name: "exists and does not exist", sel: "env,!tier", want: []string{"l3"}},
		{name: "contradiction", sel: "env=prod,env=staging", want: nil},
		{name: "prefixed key", sel: "example.com/tier=frontend", want: []string{"l1"}},
		{name: "prefixed key exists", sel: "example.com/tier", want: []string{"l1"}},
		{name: "a prefixed key is another key", sel: "tier=frontend", want: nil},
		{name: "empty", sel: "", detail: prefix + "Missing label_selector value"},
		{name: "in without parentheses", sel: "env in prod", detail: prefix + "Invalid label_selector value"},
		{name: "unclosed set", sel: "env in (prod", detail: prefix + "Invalid label_selector value"},
		{name: "no key", sel: "=prod", detail: prefix + "Invalid label_selector value"},
		{name: "bang alone", sel: "!", detail: prefix + "Invalid label_selector value"},
		{name: "key with other characters", sel: "en$v=prod", detail: prefix + "Invalid label_selector value"},
		{name: "key with blanks", sel: "my env=prod", detail: prefix + "Invalid label_selector value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			path := "/v3/apps?label_selector=" + url.QueryEscape(tc.sel)
			if tc.detail != "" {
				wantBadQuery(t, c.do("GET", path, "developer", nil), tc.detail)
				return
			}
			b := c.listPage("developer", path)
			want := make([]string, len(tc.want))
			for i, n := range tc.want {
				want[i] = g[n]
			}
			if got := guidsOf(b.Resources); !slices.Equal(sortedCopy(got), sortedCopy(want)) {
				names := make([]string, len(b.Resources))
				for i, r := range b.Resources {
					names[i] = r.Name
				}
				t.Errorf("%q selected %v, want %v", tc.sel, names, tc.want)
			}
		})
	}
}

// TestListTimestamps checks created_ats and updated_ats (CC's
// TimestampValidator and the fetchers' relational operators): equality is
// the whole second and takes a list, [lt] [lte] [gt] [gte] take one value
// each and combine; the only accepted format is YYYY-MM-DDThh:mm:ssZ.
func TestListTimestamps(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	clk := &fakeClock{now: t0}
	c := startCF(t, nil, WithClock(clk.Now))
	ts := func(sec int) string { return t0.Add(time.Duration(sec) * time.Second).Format("2006-01-02T15:04:05Z") }
	g := map[string]string{}
	for i, at := range []time.Duration{0, time.Second, 2 * time.Second, 3700 * time.Millisecond} {
		clk.now = t0.Add(at)
		n := fmt.Sprintf("t%d", i)
		g[n] = c.createApp("developer", n, nil)
	}
	clk.now = t0.Add(5 * time.Second)
	c.must(200, "PATCH", "/v3/apps/"+g["t2"], "developer", map[string]any{"name": "t2"})

	const format = "has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'"
	const prefix = "The query parameter is invalid: "
	cases := []struct {
		name   string
		path   string
		want   []string // app names, or audit event target names
		detail string   // a 400's detail when set
	}{
		{name: "equal", path: "/v3/apps?created_ats=" + ts(1), want: []string{"t1"}},
		{name: "equal is the whole second", path: "/v3/apps?created_ats=" + ts(3), want: []string{"t3"}},
		{name: "equal, several", path: "/v3/apps?created_ats=" + ts(0) + "," + ts(2), want: []string{"t0", "t2"}},
		{name: "lt", path: "/v3/apps?created_ats[lt]=" + ts(1), want: []string{"t0"}},
		{name: "lte", path: "/v3/apps?created_ats[lte]=" + ts(1), want: []string{"t0", "t1"}},
		{name: "gt", path: "/v3/apps?created_ats[gt]=" + ts(1), want: []string{"t2", "t3"}},
		{name: "gte", path: "/v3/apps?created_ats[gte]=" + ts(1), want: []string{"t1", "t2", "t3"}},
		{name: "escaped brackets", path: "/v3/apps?created_ats%5Bgt%5D=" + ts(2), want: []string{"t3"}},
		{name: "a range", path: "/v3/apps?created_ats[gt]=" + ts(0) + "&created_ats[lt]=" + ts(3), want: []string{"t1", "t2"}},
		{name: "an empty range", path: "/v3/apps?created_ats[gt]=" + ts(1) + "&created_ats[lt]=" + ts(2), want: nil},
		{name: "updated equal", path: "/v3/apps?updated_ats=" + ts(5), want: []string{"t2"}},
		{name: "updated gte", path: "/v3/apps?updated_ats[gte]=" + ts(3), want: []string{"t2", "t3"}},
		{name: "created and updated", path: "/v3/apps?created_ats[lte]=" + ts(2) + "&updated_ats[lt]=" + ts(5), want: []string{"t0", "t1"}},
		{name: "audit events", path: "/v3/audit_events?types=audit.app.create,audit.app.update&created_ats[gte]=" + ts(3), want: []string{"t3", "t2"}},
		{name: "not a time", path: "/v3/apps?created_ats=yesterday", detail: prefix + "Created ats " + format},
		{name: "a date", path: "/v3/apps?created_ats[lt]=2024-03-01", detail: prefix + "Created ats " + format},
		{name: "an offset", path: "/v3/apps?created_ats=2024-03-01T10:00:00%2B01:00", detail: prefix + "Created ats " + format},
		{name: "fractional seconds", path: "/v3/apps?updated_ats[gte]=2024-03-01T10:00:00.5Z", detail: prefix + "Updated ats " + format},
		// CC reads "created_ats=" as [""], which is no timestamp.
		{name: "empty", path: "/v3/apps?created_ats=", detail: prefix + "Created ats " + format},
		{name: "empty with an operator", path: "/v3/apps?created_ats[gt]=", detail: prefix + "Created ats " + format},
		{name: "an operator with two values", path: "/v3/apps?updated_ats[gt]=" + ts(0) + "," + ts(1),
			detail: prefix + "Updated ats only accepts one value when using a relational operator"},
		{name: "audit events, not a time", path: "/v3/audit_events?created_ats[lte]=nope", detail: prefix + "Created ats " + format},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			if tc.detail != "" {
				wantBadQuery(t, c.do("GET", tc.path, "developer", nil), tc.detail)
				return
			}
			b := c.listPage("developer", tc.path)
			got := []string{}
			for _, r := range b.Resources {
				if strings.HasPrefix(tc.path, "/v3/audit_events") {
					got = append(got, r.Target.Name)
				} else {
					got = append(got, r.Name)
				}
			}
			if !slices.Equal(got, append([]string{}, tc.want...)) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestListInclude checks include on GET /v3/apps: CC's
// IncludeSpaceDecorator answers "space" and "space.organization",
// IncludeOrganizationDecorator "org" and "space.organization", each with
// the spaces and organizations of the page's apps, once each.
func TestListInclude(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	c.addOtherSpace()
	demo1 := c.createAppIn("admin", DemoSpaceGUID, "one", nil)
	c.createAppIn("admin", DemoSpaceGUID, "two", nil)
	other := c.createAppIn("admin", otherSpaceGUID, "three", nil)
	both := []string{DemoSpaceGUID, otherSpaceGUID}
	bothOrgs := []string{DemoOrgGUID, otherOrgGUID}
	cases := []struct {
		name          string
		user, query   string
		spaces, orgs  []string // nil: the key is absent
		noIncludedKey bool
	}{
		{name: "none", user: "admin", query: "", noIncludedKey: true},
		{name: "space", user: "admin", query: "include=space", spaces: both},
		{name: "org", user: "admin", query: "include=org", orgs: bothOrgs},
		{name: "space.organization", user: "admin", query: "include=space.organization", spaces: both, orgs: bothOrgs},
		{name: "space and space.organization", user: "admin", query: "include=space,space.organization", spaces: both, orgs: bothOrgs},
		{name: "the page's apps only", user: "admin", query: "include=space,space.organization&guids=" + other,
			spaces: []string{otherSpaceGUID}, orgs: []string{otherOrgGUID}},
		{name: "one page of one app", user: "admin", query: "include=space,org&per_page=1&guids=" + demo1 + "," + other,
			spaces: []string{DemoSpaceGUID}, orgs: []string{DemoOrgGUID}},
		{name: "a developer", user: "developer", query: "include=space,space.organization",
			spaces: []string{DemoSpaceGUID}, orgs: []string{DemoOrgGUID}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			b := c.listPage(tc.user, "/v3/apps?"+tc.query)
			if tc.noIncludedKey {
				if b.Included != nil {
					t.Fatalf("included %+v without include", b.Included)
				}
				return
			}
			if b.Included == nil {
				t.Fatalf("no included")
			}
			for _, kind := range []struct {
				key       string
				got, want []string
			}{
				{"spaces", guidsOf(b.Included.Spaces), tc.spaces},
				{"organizations", guidsOf(b.Included.Organizations), tc.orgs},
			} {
				if !slices.Equal(sortedCopy(kind.got), sortedCopy(kind.want)) {
					t.Errorf("included.%s %v, want %v", kind.key, kind.got, kind.want)
				}
			}
		})
	}
}

// TestListAuditEvents checks the audit events that app actions record,
// under CC's type names (cc:app/repositories/app_event_repository.rb,
// process_event_repository.rb), listed in order by
// GET /v3/audit_events?target_guids=…&types=…. A start refused for want of
// a droplet records nothing: CC checks the droplet before AppStart runs.
func TestListAuditEvents(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}
	c := startCF(t, nil, WithClock(clk.Now))
	step := func() { clk.Advance(time.Second) }
	guid := c.createApp("developer", "audited", nil)
	other := c.createApp("developer", "bystander", nil)
	step()
	c.must(200, "PATCH", "/v3/apps/"+guid, "developer", map[string]any{"name": "audited-2"})
	step()
	c.must(422, "POST", "/v3/apps/"+guid+"/actions/start", "developer", nil)
	step()
	c.must(202, "POST", "/v3/apps/"+guid+"/processes/web/actions/scale", "developer", map[string]any{"instances": 2})
	step()
	c.must(200, "PATCH", "/v3/processes/"+guid, "developer", map[string]any{"command": "bundle exec rackup"})
	step()
	c.must(200, "PATCH", "/v3/apps/"+guid+"/environment_variables", "developer", map[string]any{"var": map[string]string{"A": "1"}})
	step()
	c.giveDroplet(guid)
	c.must(200, "POST", "/v3/apps/"+guid+"/actions/start", "developer", nil)
	step()
	c.must(200, "POST", "/v3/apps/"+guid+"/actions/stop", "developer", nil)
	step()
	r := c.must(202, "DELETE", "/v3/apps/"+guid, "developer", nil)
	if st := c.waitJob(r.header["Location"], "developer"); st != store.JobComplete {
		t.Fatalf("delete job %s", st)
	}

	all := []string{"audit.app.create", "audit.app.update", "audit.app.process.scale", "audit.app.process.update",
		"audit.app.update", "audit.app.start", "audit.app.stop", "audit.app.delete-request"}
	reversed := slices.Clone(all)
	slices.Reverse(reversed)
	// The types filter leaves out audit.app.process.create, which CC's
	// ProcessCreate records for the web process on app create.
	types := "&types=audit.app.create,audit.app.update,audit.app.process.scale,audit.app.process.update," +
		"audit.app.start,audit.app.stop,audit.app.delete-request"
	cases := []struct {
		name  string
		query string
		want  []string
	}{
		{name: "every event of the app", query: "target_guids=" + guid + types, want: all},
		{name: "newest first", query: "target_guids=" + guid + types + "&order_by=-created_at", want: reversed},
		{name: "some types", query: "target_guids=" + guid + "&types=audit.app.update,audit.app.delete-request",
			want: []string{"audit.app.update", "audit.app.update", "audit.app.delete-request"}},
		{name: "process events", query: "target_guids=" + guid + "&types=audit.app.process.scale,audit.app.process.update",
			want: []string{"audit.app.process.scale", "audit.app.process.update"}},
		{name: "start and stop", query: "target_guids=" + guid + "&types=audit.app.start,audit.app.stop",
			want: []string{"audit.app.start", "audit.app.stop"}},
		{name: "the other app", query: "target_guids=" + other + types, want: []string{"audit.app.create"}},
		{name: "the other app, every type", query: "target_guids=" + other, want: []string{"audit.app.process.create", "audit.app.create"}},
		{name: "both apps, creates", query: "target_guids=" + guid + "," + other + "&types=audit.app.create",
			want: []string{"audit.app.create", "audit.app.create"}},
		{name: "space", query: "space_guids=" + DemoSpaceGUID + "&types=audit.app.stop", want: []string{"audit.app.stop"}},
		{name: "organization", query: "organization_guids=" + DemoOrgGUID + "&types=audit.app.delete-request", want: []string{"audit.app.delete-request"}},
		{name: "types empty", query: "types=", want: nil},
		{name: "an unknown type", query: "target_guids=" + guid + "&types=audit.app.restage", want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forTest(t)
			b := c.listPage("developer", "/v3/audit_events?"+tc.query)
			var got []string
			for _, e := range b.Resources {
				got = append(got, e.Type)
				if e.Actor.GUID != DeveloperGUID {
					t.Errorf("%s: actor %s, want the developer", e.Type, e.Actor.GUID)
				}
				if e.Target.GUID != guid && e.Target.GUID != other {
					t.Errorf("%s: target %s, want one of the apps", e.Type, e.Target.GUID)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("types\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// An include on a page with no apps still names what was asked for, with
// empty lists, and never falls back to every space.
func TestListIncludeOnAnEmptyPage(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	c.createApp("developer", "present", nil)
	cases := []struct{ name, query, want string }{
		{"space", "include=space&names=absent", `"included":{"spaces":[]}`},
		{"both", "include=space,org&names=absent", `"included":{"spaces":[],"organizations":[]}`},
		{"past the last page", "include=space.organization&page=3", `"included":{"spaces":[],"organizations":[]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.must(200, "GET", "/v3/apps?"+tc.query, "admin", nil)
			if !strings.Contains(string(r.body), tc.want) {
				t.Errorf("body %s lacks %s", r.body, tc.want)
			}
		})
	}
}
