package proxy

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/backend"
	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// v3Order reads the guids of the demo space's apps from the embedded CF in
// v3's default order, the order of the gateway's app lists and so of the
// chunks its batch reads split them into.
func (s *stack) v3Order(t *testing.T) []string {
	t.Helper()
	var p struct{ Resources []struct{ GUID string } }
	if st := s.v3JSON(t, "/v3/apps?space_guids="+backend.DemoSpaceGUID+"&per_page=5000", &p); st != 200 {
		t.Fatalf("v3 apps: %d", st)
	}
	out := make([]string, len(p.Resources))
	for i, a := range p.Resources {
		out[i] = a.GUID
	}
	return out
}

// A v2 page of 100 apps, and a space summary of 120, need batch reads of
// 100 and 120 app guids: one request line each would exceed the 4 KiB the
// embedded CF reads (nginx in front of CC allows 8 KiB), which answers
// 431 and fails the v2 request with 500 UnknownError.
func TestV2ListsOfManyApps(t *testing.T) {
	s := startStack(t, nil)
	names := make([]string, 120)
	for i := range names {
		names[i] = fmt.Sprintf("many-%03d", i)
	}
	s.createApps(t, "developer", names...)
	order := s.v3Order(t)
	if len(order) != 120 {
		t.Fatalf("%d apps in the space", len(order))
	}
	// One route to the first app and the hundredth: they sit in different
	// chunks of the same page, both chunks list the route, and each app
	// must still show it once.
	first, hundredth := order[0], order[99]
	route := s.v3Create(t, "developer", "/v3/routes", fmt.Sprintf(`{"host":"straddle","relationships":{"space":{"data":{"guid":%q}},"domain":{"data":{"guid":%q}}}}`,
		backend.DemoSpaceGUID, backend.SharedDomainGUID))
	s.v3Create(t, "developer", "/v3/routes/"+route+"/destinations", fmt.Sprintf(`{"destinations":[{"app":{"guid":%q}},{"app":{"guid":%q}}]}`, first, hundredth))

	t.Run("pages", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name, path string
			want       []string
		}{
			{"first page", "/v2/apps?results-per-page=100", order[:100]},
			{"second page", "/v2/apps?results-per-page=100&page=2", order[100:]},
			{"nested, with inlined space, routes and bindings", "/v2/spaces/" + backend.DemoSpaceGUID + "/apps?results-per-page=100&inline-relations-depth=1", order[:100]},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				r := s.do("GET", s.gwURL+tc.path, "developer", nil)
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.body)
				}
				var l v2List
				if err := json.Unmarshal(r.body, &l); err != nil {
					t.Fatal(err)
				}
				if l.TotalResults != 120 || l.TotalPages != 2 || len(l.Resources) != len(tc.want) {
					t.Fatalf("total %d, pages %d, %d resources; want 120, 2, %d", l.TotalResults, l.TotalPages, len(l.Resources), len(tc.want))
				}
				for i, res := range l.Resources {
					if res.Metadata.GUID != tc.want[i] {
						t.Fatalf("resource %d is %s, want %s", i, res.Metadata.GUID, tc.want[i])
					}
					var instances int
					if err := json.Unmarshal(res.Entity["instances"], &instances); err != nil || instances != 1 {
						t.Errorf("%s: instances %s", res.Metadata.GUID, res.Entity["instances"])
					}
					if raw, ok := res.Entity["routes"]; ok {
						var routes []json.RawMessage
						if err := json.Unmarshal(raw, &routes); err != nil {
							t.Fatal(err)
						}
						want := 0
						if res.Metadata.GUID == first || res.Metadata.GUID == hundredth {
							want = 1
						}
						if len(routes) != want {
							t.Errorf("%s: %d inlined routes, want %d", res.Metadata.GUID, len(routes), want)
						}
					}
				}
			})
		}
	})

	t.Run("space summary", func(t *testing.T) {
		t.Parallel()
		r := s.do("GET", s.gwURL+"/v2/spaces/"+backend.DemoSpaceGUID+"/summary", "developer", nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var sum struct {
			Apps []struct {
				GUID   string            `json:"guid"`
				Routes []json.RawMessage `json:"routes"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(r.body, &sum); err != nil {
			t.Fatal(err)
		}
		got := make([]string, len(sum.Apps))
		for i, a := range sum.Apps {
			got[i] = a.GUID
			want := 0
			if a.GUID == first || a.GUID == hundredth {
				want = 1
			}
			if len(a.Routes) != want {
				t.Errorf("%s: %d routes, want %d", a.GUID, len(a.Routes), want)
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(order))
		if !slices.Equal(got, want) {
			t.Errorf("summary has %d apps, want the 120 of the space", len(got))
		}
	})
}

// During a rolling deployment an app has two web processes; v2 shows the
// newest (CC's AppModel#newest_web_process), which v3's default order puts
// last. The embedded CF has no deployments, so the upstream in front of it
// adds a newer web process to one app, in the process list (sorted as CC
// would for the order asked) and by its own GET.
func TestV2AppsShowNewestWebProcess(t *testing.T) {
	s := startStack(t, nil)
	guids := s.createApps(t, "developer", "rolling", "steady")
	rolling, deployGUID := guids[0], "deploy-"+guids[0]
	const newer = "2999-01-01T00:00:00Z"
	deployed := func(web map[string]any) map[string]any {
		p := maps.Clone(web)
		p["guid"], p["created_at"], p["updated_at"], p["instances"] = deployGUID, newer, newer, 7
		return p
	}
	list := func(q *fasthttp.Args, body []byte) ([]byte, error) {
		var p struct {
			Pagination map[string]any   `json:"pagination"`
			Resources  []map[string]any `json:"resources"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, err
		}
		for _, r := range p.Resources {
			if r["type"] == "web" && r["guid"] == rolling {
				p.Resources = append(p.Resources, deployed(r))
				break
			}
		}
		desc := string(q.Peek("order_by")) == "-created_at"
		slices.SortStableFunc(p.Resources, func(a, b map[string]any) int {
			c := cmp.Or(cmp.Compare(a["created_at"].(string), b["created_at"].(string)), cmp.Compare(a["guid"].(string), b["guid"].(string)))
			if desc {
				return -c
			}
			return c
		})
		return json.Marshal(p)
	}
	single := func(body []byte) ([]byte, error) {
		var p map[string]any
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, err
		}
		return json.Marshal(deployed(p))
	}
	fwd := &fasthttp.HostClient{Addr: strings.TrimPrefix(s.cfURL, "http://"), ReadTimeout: 10 * time.Second}
	up := startFastUpstream(t, &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		path := string(ctx.Path())
		if path == "/v3/processes/"+deployGUID {
			ctx.Request.URI().SetPath("/v3/processes/" + rolling)
		}
		if err := fwd.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			return
		}
		if !ctx.IsGet() || ctx.Response.StatusCode() != 200 {
			return
		}
		var body []byte
		var err error
		switch path {
		case "/v3/processes":
			body, err = list(ctx.QueryArgs(), ctx.Response.Body())
		case "/v3/processes/" + deployGUID:
			body, err = single(ctx.Response.Body())
		default:
			return
		}
		if err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			return
		}
		ctx.Response.SetBody(body)
	}})
	g := s.gatewayFor(t, up, nil)
	for _, path := range []string{"/v2/apps", "/v2/spaces/" + backend.DemoSpaceGUID + "/apps"} {
		t.Run(path, func(t *testing.T) {
			r := g.do("GET", g.gwURL+path, "developer", nil)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var l struct {
				Resources []v2AppBody `json:"resources"`
			}
			var meta struct {
				Resources []struct {
					Metadata struct {
						CreatedAt string `json:"created_at"`
					} `json:"metadata"`
				} `json:"resources"`
			}
			if err := json.Unmarshal(r.body, &l); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(r.body, &meta); err != nil {
				t.Fatal(err)
			}
			if len(l.Resources) != 2 {
				t.Fatalf("%d apps: %s", len(l.Resources), r.body)
			}
			for i, a := range l.Resources {
				created := meta.Resources[i].Metadata.CreatedAt
				switch {
				case a.Metadata.GUID == rolling && (a.Entity.Instances != 7 || created != newer):
					t.Errorf("rolling: instances %d, created_at %s; want the newer web process's 7, %s", a.Entity.Instances, created, newer)
				case a.Metadata.GUID != rolling && a.Entity.Instances != 1:
					t.Errorf("%s: instances %d, want 1", a.Entity.Name, a.Entity.Instances)
				}
			}
		})
	}
}

// pagingUpstream forwards to the embedded CF with the per_page of every
// list cut to perPage, so what the client asks as one page of 5000 comes
// back in pages of perPage, and counts the requests by path.
func pagingUpstream(t *testing.T, s *stack, perPage int) (url string, requests func(path string) int) {
	t.Helper()
	fwd := &fasthttp.HostClient{Addr: strings.TrimPrefix(s.cfURL, "http://"), ReadTimeout: 10 * time.Second}
	var (
		mu    sync.Mutex
		count = map[string]int{}
	)
	url = startFastUpstream(t, &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if ctx.QueryArgs().Has("per_page") {
			ctx.Request.URI().QueryArgs().Set("per_page", strconv.Itoa(perPage))
		}
		mu.Lock()
		count[string(ctx.Path())]++
		mu.Unlock()
		if err := fwd.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}})
	return url, func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return count[path]
	}
}

// The batch reads ask for one page of 5000, which is not always all: the
// latest package, build or droplet of an app may sit on a later page, and
// lists go on past it. With pages of one resource, every read must still
// find what the embedded CF has.
func TestBatchReadsFollowPages(t *testing.T) {
	s := startStack(t, nil)
	apps := s.createApps(t, "developer", "paged-a", "paged-b", "paged-c")
	var routes, instances []string
	for i, app := range apps {
		s.uploadBits(t, app, map[string]string{"index.html": "v1"})
		s.uploadBits(t, app, map[string]string{"index.html": "v2"})
		pkg := s.latest(t, app, "packages")
		s.v3Create(t, "developer", "/v3/builds", fmt.Sprintf(`{"package":{"guid":%q}}`, pkg))
		s.v3Create(t, "developer", "/v3/droplets", fmt.Sprintf(`{"relationships":{"app":{"data":{"guid":%q}}}}`, app))
		route, instance := s.serviceFixture(t, app, "paged-"+strconv.Itoa(i), "paged-db-"+strconv.Itoa(i))
		routes, instances = append(routes, route), append(instances, instance)
	}
	up, requests := pagingUpstream(t, s, 1)
	v3 := s.gatewayFor(t, up, nil).gw.v3
	call := ccv3.Call{Authorization: "bearer " + s.tokens["developer"]}

	latest := func(t *testing.T, kind string, got func() (map[string]string, error)) {
		t.Helper()
		m, err := got()
		if err != nil {
			t.Fatal(err)
		}
		for _, app := range apps {
			if want := s.latest(t, app, kind); m[app] != want {
				t.Errorf("%s of %s: %q, want %q", kind, app, m[app], want)
			}
		}
	}
	t.Run("latest packages", func(t *testing.T) {
		before := requests("/v3/packages")
		latest(t, "packages", func() (map[string]string, error) {
			m, err := v3.LatestPackages(call, apps)
			return guidsOf(m, func(p *translate.V3Package) string { return p.GUID }), err
		})
		// Six packages, newest first, one a page: the read stops at the
		// page where the last app shows up, not at the end of the list.
		if n, most := requests("/v3/packages")-before, s.pagesUntilAll(t, "packages", apps); n != most {
			t.Errorf("%d requests, want %d", n, most)
		}
	})
	t.Run("latest builds", func(t *testing.T) {
		latest(t, "builds", func() (map[string]string, error) {
			m, err := v3.LatestBuilds(call, apps)
			return guidsOf(m, func(b *translate.V3Build) string { return b.GUID }), err
		})
	})
	t.Run("latest droplets", func(t *testing.T) {
		latest(t, "droplets", func() (map[string]string, error) {
			m, err := v3.LatestDroplets(call, apps)
			return guidsOf(m, func(d *translate.V3Droplet) string { return d.GUID }), err
		})
	})
	t.Run("web processes", func(t *testing.T) {
		m, err := v3.WebProcesses(call, apps)
		if err != nil {
			t.Fatal(err)
		}
		for _, app := range apps {
			if m[app].GUID != app {
				t.Errorf("web process of %s: %q", app, m[app].GUID)
			}
		}
	})
	t.Run("routes", func(t *testing.T) {
		got, err := v3.Routes(call, apps)
		if err != nil {
			t.Fatal(err)
		}
		if g := guidList(got, func(r translate.V3Route) string { return r.GUID }); !slices.Equal(g, sorted(routes)) {
			t.Errorf("routes %q, want %q", g, sorted(routes))
		}
	})
	t.Run("app bindings", func(t *testing.T) {
		got, err := v3.AppBindings(call, apps)
		if err != nil || len(got) != len(apps) {
			t.Errorf("%d bindings, %v; want %d", len(got), err, len(apps))
		}
	})
	t.Run("instance bindings", func(t *testing.T) {
		got, err := v3.InstanceBindings(call, instances)
		if err != nil || len(got) != len(instances) {
			t.Errorf("%d bindings, %v; want %d", len(got), err, len(instances))
		}
	})
	t.Run("service instances", func(t *testing.T) {
		for name, q := range map[string]ccv3.ServiceInstancesQuery{
			"by guid":  {GUIDs: instances},
			"by space": {SpaceGUIDs: []string{backend.DemoSpaceGUID}},
		} {
			got, err := v3.ServiceInstances(call, q)
			if g := guidList(got, func(si translate.V3ServiceInstance) string { return si.GUID }); err != nil || !slices.Equal(g, sorted(instances)) {
				t.Errorf("%s: %q, %v; want %q", name, g, err, sorted(instances))
			}
		}
	})
}

// latest is the guid of the app's newest package, build or droplet as the
// embedded CF answers it for the app alone (MAPPING §1.2).
func (s *stack) latest(t *testing.T, app, kind string) string {
	t.Helper()
	var p struct{ Resources []struct{ GUID string } }
	if st := s.v3JSON(t, "/v3/apps/"+app+"/"+kind+"?order_by=-created_at&per_page=1", &p); st != 200 || len(p.Resources) != 1 {
		t.Fatalf("latest %s of %s: %d, %d", kind, app, st, len(p.Resources))
	}
	return p.Resources[0].GUID
}

// pagesUntilAll is how many pages of one resource a batch read of the
// apps' newest kind needs: the position, newest first, at which the last
// of the apps shows up.
func (s *stack) pagesUntilAll(t *testing.T, kind string, apps []string) int {
	t.Helper()
	var p struct {
		Resources []struct {
			Relationships struct {
				App struct{ Data struct{ GUID string } }
			}
		}
	}
	s.v3JSON(t, "/v3/"+kind+"?app_guids="+strings.Join(apps, ",")+"&order_by=-created_at&per_page=5000", &p)
	seen := map[string]bool{}
	for i, r := range p.Resources {
		if seen[r.Relationships.App.Data.GUID] = true; len(seen) == len(apps) {
			return i + 1
		}
	}
	t.Fatalf("not every app has %s", kind)
	return 0
}

// guidsOf maps each app to the guid of its resource.
func guidsOf[T any](m map[string]T, guid func(*T) string) map[string]string {
	out := make(map[string]string, len(m))
	for app, v := range m {
		out[app] = guid(&v)
	}
	return out
}

// guidList is the sorted guids of the resources.
func guidList[T any](rs []T, guid func(T) string) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = guid(r)
	}
	return sorted(out)
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
