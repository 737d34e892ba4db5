package proxy

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestCFCLI8Push replays, request by request, what the cf CLI 8.18.4
// (built from its v8.18.4 source) sent through the gateway to the
// embedded CF for cf push myapp -p DIR, cf app, cf apps, cf scale, cf
// restart, cf create-user-provided-service, cf bind-service, cf routes and
// cf services: all v3, passed through. Every answer names the gateway's
// address only.
func TestCFCLI8Push(t *testing.T) {
	s := startStackStaging(t, 200*time.Millisecond)
	c := &cliSession{t: t, s: s}
	c.send("GET", "/", "", "", nil, 200)
	c.grant(s.gwURL, url.Values{"grant_type": {"password"}, "username": {"developer"}, "password": {"developer"}})
	var list struct {
		Resources []struct {
			GUID string `json:"guid"`
			Name string `json:"name"`
		} `json:"resources"`
	}
	c.get("/v3/spaces?names=demo-space", &list)
	space := list.Resources[0].GUID

	// cf push myapp -p DIR: the manifest the CLI builds, applied as a job.
	r := c.send("POST", "/v3/spaces/"+space+"/actions/apply_manifest", c.token, "application/x-yaml",
		[]byte("applications:\n- name: myapp\n  default-route: true\n"), 202)
	job := string(r.header.Peek("Location"))
	if !strings.HasPrefix(job, s.gwURL+"/v3/jobs/") {
		t.Fatalf("apply_manifest's Location %q", job)
	}
	c.waitFor(job, "state", "COMPLETE")
	c.get("/v3/apps?names=myapp&space_guids="+space, &list)
	if len(list.Resources) != 1 {
		t.Fatalf("the manifest created no app: %+v", list)
	}
	app := list.Resources[0].GUID
	files := map[string]string{"Staticfile": "root: .\n", "index.html": "<html><body>hello from capibridge</body></html>\n"}
	c.send("POST", "/v3/resource_matches", c.token, "application/json",
		[]byte(`{"resources":[{"checksum":{"value":"a08d06b37825b331306770661ef951511dd84815"},"mode":"644","path":"Staticfile","size_in_bytes":8}]}`), 201)
	var pkg struct{ GUID string }
	decode(t, c.json("POST", "/v3/packages", map[string]any{"type": "bits", "relationships": map[string]any{"app": map[string]any{"data": map[string]string{"guid": app}}}}, 201), &pkg)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("resources", "[]")
	w, _ := mw.CreateFormFile("bits", "package.zip")
	w.Write(zipFiles(t, files))
	mw.Close()
	c.send("POST", "/v3/packages/"+pkg.GUID+"/upload", c.token, mw.FormDataContentType(), body.Bytes(), 200)
	c.waitFor("/v3/packages/"+pkg.GUID, "state", "READY")
	var build struct{ GUID string }
	decode(t, c.json("POST", "/v3/builds", map[string]any{"package": map[string]string{"guid": pkg.GUID}}, 201), &build)
	staged := c.waitFor("/v3/builds/"+build.GUID, "state", "STAGED")
	var b struct{ Droplet struct{ GUID string } }
	decode(t, staged, &b)
	c.get("/v3/droplets/"+b.Droplet.GUID, nil)
	c.json("PATCH", "/v3/apps/"+app+"/relationships/current_droplet", map[string]any{"data": map[string]string{"guid": b.Droplet.GUID}}, 200)
	c.send("POST", "/v3/apps/"+app+"/actions/restart", c.token, "application/json", nil, 200)

	// What push, cf app and cf scale show: processes, their stats until
	// running, sidecars, routes (the default route), the current droplet.
	show := func(instances int) {
		t.Helper()
		var procs struct {
			Resources []struct{ GUID, Type string } `json:"resources"`
		}
		c.get("/v3/apps/"+app+"/processes", &procs)
		web := procs.Resources[0].GUID
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var stats struct {
				Resources []struct{ State string } `json:"resources"`
			}
			c.get("/v3/processes/"+web+"/stats", &stats)
			n := 0
			for _, st := range stats.Resources {
				if st.State == "RUNNING" {
					n++
				}
			}
			if n == instances {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d instances running: %+v", n, instances, stats)
			}
		}
		c.get("/v3/processes/"+web, nil)
		var sidecars struct {
			Resources []json.RawMessage `json:"resources"`
		}
		c.get("/v3/processes/"+web+"/sidecars", &sidecars)
		var routes struct {
			Resources []struct{ URL string } `json:"resources"`
		}
		c.get("/v3/apps/"+app+"/routes", &routes)
		if len(routes.Resources) != 1 || routes.Resources[0].URL != "myapp.apps.capibridge.local" {
			t.Errorf("the app's routes: %+v", routes)
		}
		c.get("/v3/apps/"+app+"/droplets/current", nil)
		c.get("/v3/deployments?app_guids="+app+"&order_by=-created_at&page=1&per_page=1&status_values=ACTIVE", nil)
	}
	show(1)

	// cf apps: the apps, their processes with instances embedded, routes.
	c.get("/v3/apps?order_by=name&per_page=5000&space_guids="+space, nil)
	var procs struct {
		Resources []struct {
			Type             string `json:"type"`
			ProcessInstances []struct {
				State string `json:"state"`
			} `json:"process_instances"`
		} `json:"resources"`
	}
	c.get("/v3/processes?embed=process_instances&space_guids="+space, &procs)
	if len(procs.Resources) != 1 || len(procs.Resources[0].ProcessInstances) != 1 || procs.Resources[0].ProcessInstances[0].State != "RUNNING" {
		t.Errorf("processes with instances: %+v", procs)
	}
	c.get("/v3/routes?app_guids="+app, nil)

	// cf scale myapp -i 2 -m 256M -f: scale, stop, start.
	c.json("POST", "/v3/apps/"+app+"/processes/web/actions/scale", map[string]int{"instances": 2, "memory_in_mb": 256}, 202)
	c.send("POST", "/v3/apps/"+app+"/actions/stop", c.token, "application/json", nil, 200)
	c.send("POST", "/v3/apps/"+app+"/actions/start", c.token, "application/json", nil, 200)
	show(2)

	// cf restart myapp: the newest package and its staged droplet first.
	var pkgs struct {
		Resources []struct{ GUID string } `json:"resources"`
	}
	c.get("/v3/packages?app_guids="+app+"&order_by=-created_at&page=1&per_page=1", &pkgs)
	var droplets struct {
		Resources []struct{ GUID string } `json:"resources"`
	}
	c.get("/v3/packages/"+pkgs.Resources[0].GUID+"/droplets?page=1&per_page=1&states=STAGED", &droplets)
	if len(droplets.Resources) != 1 || droplets.Resources[0].GUID != b.Droplet.GUID {
		t.Errorf("the package's staged droplets: %+v", droplets)
	}
	c.send("POST", "/v3/apps/"+app+"/actions/stop", c.token, "application/json", nil, 200)
	c.send("POST", "/v3/apps/"+app+"/actions/start", c.token, "application/json", nil, 200)
	show(2)

	// cf create-user-provided-service mysvc, cf bind-service myapp mysvc.
	var si struct{ GUID string }
	decode(t, c.json("POST", "/v3/service_instances", map[string]any{"type": "user-provided", "name": "mysvc",
		"credentials":   map[string]string{"user": "u", "password": "p"},
		"relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": space}}}}, 201), &si)
	c.json("POST", "/v3/service_credential_bindings", map[string]any{"type": "app", "relationships": map[string]any{
		"app": map[string]any{"data": map[string]string{"guid": app}}, "service_instance": map[string]any{"data": map[string]string{"guid": si.GUID}}}}, 201)

	// cf routes, cf services.
	var routes struct {
		Resources []struct{ GUID string } `json:"resources"`
	}
	c.get("/v3/routes?per_page=5000&space_guids="+space, &routes)
	c.get("/v3/spaces?guids="+space, nil)
	c.get("/v3/apps?guids="+app, nil)
	c.get("/v3/service_route_bindings?include=service_instance&route_guids="+routes.Resources[0].GUID, nil)
	var instances struct {
		Resources []struct{ Name string } `json:"resources"`
	}
	c.get("/v3/service_instances?fields%5Bservice_plan.service_offering.service_broker%5D=guid%2Cname&fields%5Bservice_plan.service_offering%5D=guid%2Cname%2Crelationships.service_broker&fields%5Bservice_plan%5D=guid%2Cname%2Crelationships.service_offering&order_by=name&per_page=5000&space_guids="+space, &instances)
	if len(instances.Resources) != 1 || instances.Resources[0].Name != "mysvc" {
		t.Errorf("cf services: %+v", instances)
	}
	var bindings struct {
		Resources []json.RawMessage `json:"resources"`
	}
	c.get("/v3/service_credential_bindings?include=app&service_instance_guids="+si.GUID, &bindings)
	if len(bindings.Resources) != 1 {
		t.Errorf("the instance's bindings: %d", len(bindings.Resources))
	}
}

// waitFor reads path until its key says want, as the CLI polls jobs,
// packages and builds, and returns the last answer.
func (c *cliSession) waitFor(path, key, want string) reply {
	c.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r := c.send("GET", path, c.token, "", nil, 200, "Authorization", c.token)
		var m map[string]any
		if err := json.Unmarshal(r.body, &m); err == nil && m[key] == want {
			return r
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %s never %s: %s", path, key, want, r.body)
		}
	}
}

func decode(t *testing.T, r reply, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
}
