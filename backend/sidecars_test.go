package backend

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// GET /v3/processes?embed=process_instances, as cf apps of the cf CLI 7
// and 8 reads it: each process gets process_instances (index, state, the
// seconds in that state; null while down) before its relationships
// (EmbedProcessInstancesDecorator); an unknown or repeated embed is CC's
// 400.
func TestProcessInstancesEmbedded(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	c := startCF(t, nil, WithClock(clk.Now))
	running := c.createApp("developer", "running", nil)
	stopped := c.createApp("developer", "stopped", nil)
	c.must(202, "POST", "/v3/apps/"+running+"/processes/web/actions/scale", "developer", map[string]any{"instances": 2})
	c.giveDroplet(running)
	c.must(200, "POST", "/v3/apps/"+running+"/actions/start", "developer", nil)
	clk.Advance(5 * time.Second)

	r := c.must(200, "GET", "/v3/processes?embed=process_instances&app_guids="+running+","+stopped+"&order_by=created_at", "developer", nil)
	var page struct {
		Resources []json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || len(page.Resources) != 2 {
		t.Fatalf("list: %v %s", err, r.body)
	}
	type inst struct {
		Index int64  `json:"index"`
		State string `json:"state"`
		Since *int64 `json:"since"`
	}
	read := func(raw json.RawMessage) []inst {
		var p struct {
			ProcessInstances []inst `json:"process_instances"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		// Before relationships, as CC inserts it.
		if i, j := strings.Index(string(raw), `"process_instances"`), strings.Index(string(raw), `"relationships"`); i < 0 || i > j {
			t.Errorf("process_instances not just before relationships: %s", raw)
		}
		return p.ProcessInstances
	}
	got := read(page.Resources[0])
	if len(got) != 2 || got[0].Index != 0 || got[1].Index != 1 || got[0].State != "RUNNING" || got[0].Since == nil || *got[0].Since < 4 {
		t.Errorf("a started app's instances: %+v", got)
	}
	if got := read(page.Resources[1]); len(got) != 1 || got[0].State != "DOWN" || got[0].Since != nil {
		t.Errorf("a stopped app's instances: %+v", got)
	}
	// GET /v3/processes/:guid/process_instances, which each process
	// resource links: the same instances, with links of its own.
	var one struct {
		Resources []inst
		Links     struct{ Self, Process struct{ Href string } }
	}
	r = c.must(200, "GET", "/v3/processes/"+running+"/process_instances", "developer", nil)
	if err := json.Unmarshal(r.body, &one); err != nil || len(one.Resources) != 2 || one.Resources[1].Index != 1 || one.Resources[0].State != "RUNNING" ||
		!strings.HasSuffix(one.Links.Self.Href, "/v3/processes/"+running+"/process_instances") || !strings.HasSuffix(one.Links.Process.Href, "/v3/processes/"+running) {
		t.Errorf("process_instances of a started app: %v %s", err, r.body)
	}
	if link := rawAt(t, c.must(200, "GET", "/v3/processes/"+running, "developer", nil).body, "links.process_instances.href"); link != `"`+one.Links.Self.Href+`"` {
		t.Errorf("the process links %s, the instances answer as %s", link, one.Links.Self.Href)
	}
	r = c.must(200, "GET", "/v3/processes/"+stopped+"/process_instances", "developer", nil)
	if err := json.Unmarshal(r.body, &one); err != nil || len(one.Resources) != 1 || one.Resources[0].State != "DOWN" || one.Resources[0].Since != nil {
		t.Errorf("process_instances of a stopped app: %v %s", err, r.body)
	}
	c.must(404, "GET", "/v3/processes/missing/process_instances", "developer", nil)
	// CC reads no query here, and refuses none (as for the stats).
	c.must(200, "GET", "/v3/processes/"+running+"/process_instances?x=1", "developer", nil)
	c.must(200, "GET", "/v3/processes/"+running+"/stats?x=1", "developer", nil)
	if r := c.must(200, "GET", "/v3/processes?app_guids="+running, "developer", nil); strings.Contains(string(r.body), "process_instances\":[") {
		t.Errorf("process_instances without embed: %s", r.body)
	}
	for q, want := range map[string]string{
		"embed=nope": "Invalid embedded resource: 'nope'. Valid embedded resources are: 'process_instances'",
		"embed=process_instances,process_instances": "Duplicate embedded resource: 'process_instances'",
	} {
		r := c.must(400, "GET", "/v3/processes?"+q, "developer", nil)
		if !strings.Contains(string(r.body), want) || !strings.Contains(string(r.body), "CF-BadQueryParameter") {
			t.Errorf("%s: %s", q, r.body)
		}
	}
}

// Sidecar lists are empty (the embedded CF runs none), paged as CC pages
// them, and check their query before their parent.
func TestSidecars(t *testing.T) {
	t.Parallel()
	c := startCF(t, nil)
	app := c.createApp("developer", "with-web", nil)
	for _, path := range []string{"/v3/apps/" + app + "/sidecars", "/v3/processes/" + app + "/sidecars"} {
		r := c.must(200, "GET", path, "developer", nil)
		if rawAt(t, r.body, "pagination.total_results") != "0" || rawAt(t, r.body, "resources") != "[]" ||
			!strings.Contains(rawAt(t, r.body, "pagination.first.href"), path+"?page=1&per_page=50") {
			t.Errorf("%s: %s", path, r.body)
		}
		if r := c.must(400, "GET", strings.Replace(path, app, "missing", 1)+"?names=x", "developer", nil); !strings.Contains(string(r.body), "names") {
			t.Errorf("%s with an unknown key: %s", path, r.body)
		}
	}
	c.must(404, "GET", "/v3/processes/missing/sidecars", "developer", nil)
	c.must(404, "GET", "/v3/sidecars/"+app, "developer", nil)
}

// GET /v3/packages/:guid/droplets: the droplets staged from the package,
// as cf start and cf restart of the cf CLI 7 and 8 read them; the query
// is checked before the package (current is not taken here), and a
// package the user cannot see is 404.
func TestPackageDroplets(t *testing.T) {
	t.Parallel()
	c, clk := stagingCF(t, nil)
	app := c.createApp("developer", "staged", nil)
	pkg := c.readyPackage("developer", app, zipFile{name: "Procfile", body: "web: ./run\n"})
	other := c.readyPackage("developer", app, zipFile{name: "Procfile", body: "web: ./other\n"})
	r := c.must(200, "GET", "/v3/packages/"+pkg+"/droplets", "developer", nil)
	if rawAt(t, r.body, "pagination.total_results") != "0" {
		t.Fatalf("droplets before staging: %s", r.body)
	}
	build := c.newBuild("developer", pkg)
	clk.Advance(2 * time.Second)
	var b struct {
		Droplet struct{ GUID string }
	}
	c.must(200, "GET", "/v3/builds/"+build, "developer", nil).json(t, &b)
	if b.Droplet.GUID == "" {
		t.Fatal("the build staged no droplet")
	}
	r = c.must(200, "GET", "/v3/packages/"+pkg+"/droplets?states=STAGED", "auditor", nil)
	if rawAt(t, r.body, "pagination.total_results") != "1" || rawAt(t, r.body, "resources.0.guid") != `"`+b.Droplet.GUID+`"` ||
		!strings.Contains(rawAt(t, r.body, "pagination.first.href"), "/v3/packages/"+pkg+"/droplets?") {
		t.Errorf("the package's droplets: %s", r.body)
	}
	if r := c.must(200, "GET", "/v3/packages/"+other+"/droplets", "developer", nil); rawAt(t, r.body, "pagination.total_results") != "0" {
		t.Errorf("another package lists the droplet: %s", r.body)
	}
	if r := c.must(400, "GET", "/v3/packages/missing/droplets?current=true", "developer", nil); !strings.Contains(string(r.body), "current") {
		t.Errorf("current under a package: %s", r.body)
	}
	c.must(404, "GET", "/v3/packages/"+pkg+"/droplets", "outsider", nil)
	c.must(404, "GET", "/v3/packages/missing/droplets", "developer", nil)
}
