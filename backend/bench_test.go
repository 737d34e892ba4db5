package backend

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"capibridge/backend/store"
)

// The list benchmarks and their baseline share the request shape: a GET of
// /v3/apps?per_page=50&page=N with a bearer token, over an in-memory
// listener, so BenchmarkListApps50Of5000/* divided by
// BenchmarkBaselineStaticPage is the cost of the embedded CF itself
// (auth, SQL, presenting, JSON) over bare fasthttp moving the same bytes.
const (
	benchApps    = 5000
	benchPerPage = 50
)

// seedApps inserts n apps with their web processes into demo-space
// straight through the store: the benchmarks measure reads, not creates.
func seedApps(tb testing.TB, st *store.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	now := st.Now()
	stack := DefaultStackName
	for i := range n {
		guid := uuid.NewString()
		a := store.App{GUID: guid, Name: fmt.Sprintf("app-%05d", i), SpaceGUID: DemoSpaceGUID, State: "STOPPED", LifecycleType: "buildpack",
			Stack: &stack, Labels: store.Metadata{"team": "t" + strconv.Itoa(i%10)}, CreatedAt: now, UpdatedAt: now}
		web := store.Process{GUID: guid, AppGUID: guid, SpaceGUID: DemoSpaceGUID, Type: "web", Instances: 1, MemoryMB: 1024, DiskMB: 1024,
			LogRateLimit: -1, HealthCheckType: "port", Version: uuid.NewString(), CreatedAt: now, UpdatedAt: now}
		if err := st.CreateApp(ctx, a, web); err != nil {
			tb.Fatalf("seeding app %d: %v", i, err)
		}
	}
}

// getLoop issues b.N GETs through client, rotating over pages, reusing one
// request and response so that the client's own allocations stay small.
func getLoop(b *testing.B, client *fasthttp.Client, token string, pages int) {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.Set(fasthttp.HeaderAuthorization, "bearer "+token)
	uris := make([]string, pages)
	for i := range uris {
		uris[i] = "http://api.example.org/v3/apps?per_page=" + strconv.Itoa(benchPerPage) + "&page=" + strconv.Itoa(i+1)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req.SetRequestURI(uris[i%pages])
		if err := client.Do(req, res); err != nil {
			b.Fatalf("GET: %v", err)
		}
		if res.StatusCode() != fasthttp.StatusOK {
			b.Fatalf("GET %s: %d %s", uris[i%pages], res.StatusCode(), res.Body())
		}
	}
	// The body size shows that list and baseline move comparable bytes.
	b.ReportMetric(float64(len(res.Body())), "body-bytes")
}

func BenchmarkListApps50Of5000(b *testing.B) {
	c := startCF(b, nil)
	seedApps(b, c.srv.Store(), benchApps)
	for _, user := range []string{"admin", "developer"} {
		b.Run(user, func(b *testing.B) { getLoop(b, c.client, c.tokens[user], benchApps/benchPerPage) })
	}
}

func BenchmarkBaselineStaticPage(b *testing.B) {
	// The page is rendered once by the embedded CF, from the same 5,000
	// apps, and then served as fixed bytes.
	c := startCF(b, nil)
	seedApps(b, c.srv.Store(), benchApps)
	page := c.must(200, "GET", "/v3/apps?per_page="+strconv.Itoa(benchPerPage)+"&page=2", "admin", nil).body

	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json; charset=utf-8")
		ctx.SetBody(page)
	}, NoDefaultServerHeader: true}
	go srv.Serve(ln)
	b.Cleanup(func() { _ = srv.Shutdown() })
	client := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }, ReadTimeout: 30 * time.Second}
	getLoop(b, client, c.tokens["admin"], benchApps/benchPerPage)
}

func BenchmarkCreateApp(b *testing.B) {
	c := startCF(b, nil)
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI("http://api.example.org/v3/apps")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set(fasthttp.HeaderAuthorization, "bearer "+c.tokens["developer"])
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req.SetBodyString(`{"name":"bench-` + strconv.Itoa(i) + `","relationships":{"space":{"data":{"guid":"` + DemoSpaceGUID + `"}}}}`)
		if err := c.client.Do(req, res); err != nil {
			b.Fatalf("POST: %v", err)
		}
		if res.StatusCode() != fasthttp.StatusCreated {
			b.Fatalf("POST /v3/apps: %d %s", res.StatusCode(), res.Body())
		}
	}
}

// BenchmarkGetEnvVars is a per-app v3 call as the gateway's v2 lists make
// them: GET /v3/apps/:guid/environment_variables as the developer, with
// one token reused, so the cost is findApp's lookups and a small reply.
func BenchmarkGetEnvVars(b *testing.B) {
	c := startCF(b, nil)
	seedApps(b, c.srv.Store(), benchPerPage)
	apps, _, err := c.srv.Store().ListApps(context.Background(), store.Viewer{All: true}, store.AppFilter{},
		store.Page{Page: 1, PerPage: benchPerPage})
	if err != nil {
		b.Fatalf("ListApps: %v", err)
	}
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.Set(fasthttp.HeaderAuthorization, "bearer "+c.tokens["developer"])
	uris := make([]string, len(apps))
	for i, a := range apps {
		uris[i] = "http://api.example.org/v3/apps/" + a.GUID + "/environment_variables"
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req.SetRequestURI(uris[i%len(uris)])
		if err := c.client.Do(req, res); err != nil {
			b.Fatalf("GET: %v", err)
		}
		if res.StatusCode() != fasthttp.StatusOK {
			b.Fatalf("GET %s: %d %s", uris[i%len(uris)], res.StatusCode(), res.Body())
		}
	}
}
