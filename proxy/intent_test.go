package proxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// killAt makes the gateway's writes stop dead at one named step, once, as
// a gateway killed there stops: no undo runs and no answer is written (the
// panic is the chain's 500). Other steps and later writes run on.
type killAt struct{ step atomic.Pointer[string] }

func (k *killAt) arm(step string) { k.step.Store(&step) }

func (k *killAt) hook(step string) {
	if p := k.step.Load(); p != nil && *p == step && k.step.CompareAndSwap(p, nil) {
		panic("killed at " + step)
	}
}

// v3App is what the kill tests read of a v3 app and its web process.
type v3AppView struct {
	State    string
	Metadata struct{ Annotations map[string]string }
}

// A v2 create that dies after any of its v3 writes is finished by whoever
// meets it next: the client's retry of the same create (201, one app), or
// any read through any gateway. Nothing is left half-made (kill -9 left
// 10 of 20 apps with the defaults and no package; the retry met
// AppNameTaken).
func TestCreateKilledAtEveryStepIsFinished(t *testing.T) {
	s := startStackStaging(t, 100*time.Millisecond)
	var k killAt
	s.gw.faultHook = k.hook
	steps := []string{"create:app", "create:ssh", "create:process", "create:scale", "create:package", "start:build"}
	for _, finisher := range []string{"retry", "read"} {
		for _, step := range steps {
			t.Run(finisher+"/"+step, func(t *testing.T) {
				name := strings.NewReplacer(":", "-").Replace("k9-" + finisher + "-" + step)
				body := fmt.Sprintf(`{"name":%q,"space_guid":%q,"docker_image":"nginx:1","memory":256,"instances":2,`+
					`"command":"nginx -g daemon-off","enable_ssh":false,"state":"STARTED"}`, name, demoSpace)
				k.arm(step)
				if r := s.do("POST", s.gwURL+"/v2/apps", "developer", []byte(body)); r.status != 500 || !strings.Contains(string(r.body), "UnknownError") {
					t.Fatalf("the killed create answered %d %s", r.status, r.body)
				}
				if k.step.Load() != nil {
					t.Fatalf("the create never reached %s", step)
				}
				var guid string
				switch finisher {
				case "retry":
					a := decodeApp(t, s.do("POST", s.gwURL+"/v2/apps", "developer", []byte(body)), 201)
					guid = a.Metadata.GUID
				case "read":
					var page struct {
						Resources []struct{ GUID string }
					}
					s.v3JSON(t, "/v3/apps?names="+name, &page)
					if len(page.Resources) != 1 {
						t.Fatalf("apps named %s: %+v", name, page)
					}
					guid = page.Resources[0].GUID
					decodeApp(t, s.do("GET", s.gwURL+"/v2/apps?q=name:"+name, "developer", nil), 200)
				}
				if n := s.appsNamed(t, name); n != 1 {
					t.Fatalf("%d apps named %s", n, name)
				}
				a := s.eventually(t, s.gwURL, guid, func(a v2AppBody) bool { return a.Entity.PackageState == "STAGED" })
				e := a.Entity
				if e.Memory != 256 || e.Instances != 2 || e.Command == nil || *e.Command != "nginx -g daemon-off" || e.EnableSSH ||
					e.State != "STARTED" || e.DockerImage == nil || *e.DockerImage != "nginx:1" {
					t.Errorf("the finished app: %+v", e)
				}
				var v3 v3AppView
				s.v3JSON(t, "/v3/apps/"+guid, &v3)
				if _, left := v3.Metadata.Annotations["capibridge.io/create-intent"]; left || v3.State != "STARTED" {
					t.Errorf("v3 app after finishing: %+v", v3)
				}
				var pkgs struct {
					Pagination struct {
						TotalResults int `json:"total_results"`
					} `json:"pagination"`
				}
				s.v3JSON(t, "/v3/packages?app_guids="+guid, &pkgs)
				if pkgs.Pagination.TotalResults != 1 {
					t.Errorf("%d packages, want the one docker package", pkgs.Pagination.TotalResults)
				}
			})
		}
	}
}

// A v2 start killed between POST /v3/builds and recording the build is
// finished by the next read: the start was recorded before the build was
// made (6 of 20 kills there left the build staged and the app STOPPED).
func TestStartKilledAfterTheBuildIsFinished(t *testing.T) {
	s := startStackStaging(t, 100*time.Millisecond)
	var k killAt
	s.gw.faultHook = k.hook
	guid := s.createV2(t, fmt.Sprintf(`{"name":"k9-start","space_guid":%q}`, demoSpace))
	s.uploadBits(t, guid, map[string]string{"Procfile": "web: ./run\n", "run": "#!/bin/sh\n"})
	k.arm("start:build")
	if r := s.do("PUT", s.gwURL+"/v2/apps/"+guid, "developer", []byte(`{"state":"STARTED"}`)); r.status != 500 {
		t.Fatalf("the killed start answered %d %s", r.status, r.body)
	}
	var v3 v3AppView
	s.v3JSON(t, "/v3/apps/"+guid, &v3)
	if v3.Metadata.Annotations["capibridge.io/pending-start"] == "" {
		t.Fatalf("no record of the killed start: %+v", v3)
	}
	a := s.eventually(t, s.gwURL, guid, func(a v2AppBody) bool { return a.Entity.PackageState == "STAGED" })
	if a.Entity.State != "STARTED" {
		t.Errorf("v2 state %s", a.Entity.State)
	}
	v3 = v3AppView{} // Unmarshal would merge into the old annotations
	s.v3JSON(t, "/v3/apps/"+guid, &v3)
	if v3.State != "STARTED" || v3.Metadata.Annotations["capibridge.io/pending-start"] != "" {
		t.Errorf("v3 app after the read: %+v", v3)
	}
	var builds struct {
		Resources []json.RawMessage `json:"resources"`
	}
	s.v3JSON(t, "/v3/apps/"+guid+"/builds", &builds)
	if len(builds.Resources) != 1 {
		t.Errorf("%d builds, want the one the killed start made", len(builds.Resources))
	}
}
