package chaos

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// The steps of a v2 create and a v2 start at which the gateway kills
// itself (CAPIBRIDGE_CHAOS_KILL_AT; proxy/v2api/appwrite.go): after POST
// /v3/apps, the ssh feature, the process update, the scale, the docker
// package, and POST /v3/builds of the start a STARTED create runs.
var createSteps = []string{"create:app", "create:ssh", "create:process", "create:scale", "create:package", "start:build"}

// killCase is one kill: a create (or a start of an existing app) that
// kills the gateway at step, then a restarted gateway, and the finisher
// that meets the half-done write: the client's retry or a read.
type killCase struct {
	kind, step, finisher string
}

// The app every kill case asks for.
const (
	killImage   = "nginx:1"
	killCommand = "nginx -g daemon-off"
)

func killBody(name, state string) []byte {
	return []byte(fmt.Sprintf(`{"name":%q,"space_guid":%q,"docker_image":%q,"memory":256,"instances":2,"command":%q,"enable_ssh":false,"state":%q}`,
		name, demoSpace, killImage, killCommand, state))
}

// testKillDuringWrites: the gateway killed with SIGKILL at every step of
// a v2 create (a docker app with memory, instances, command, ssh off,
// STARTED) and of a v2 start, then restarted without the hook. After the
// client's retry, or a read, there is no half-made app (one app of the
// name, every field as asked, one package) and every start is finished
// (v3 state STARTED, no capibridge.io/pending-start or
// capibridge.io/create-intent left). A read may instead remove the
// half-made app; that is counted apart, as held.
func testKillDuringWrites(t *testing.T, s *stack, tb *table) {
	var cases []killCase
	for _, step := range createSteps {
		for _, f := range []string{"retry", "read"} {
			cases = append(cases, killCase{"create", step, f})
		}
	}
	cases = append(cases, killCase{"start", "start:build", "retry"}, killCase{"start", "start:build", "read"})
	var c tally
	var mu sync.Mutex
	removed := 0
	sem := make(chan struct{}, 4)
	for r := range *rounds {
		var wg sync.WaitGroup
		for _, kc := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				name := fmt.Sprintf("k9-%s-%s-%s-r%d", kc.kind, strings.ReplaceAll(kc.step, ":", "-"), kc.finisher, r+1)
				problem, gone := s.killOnce(kc, name)
				mu.Lock()
				defer mu.Unlock()
				c.check(name, problem)
				if gone {
					removed++
				}
			}()
		}
		wg.Wait()
	}
	s.wrote()
	c.report(t, tb, "kill -9 of the gateway mid-create/start, then retry or read",
		fmt.Sprintf("%d steps × {retry, read} + start × {retry, read}, %d round(s); removed by a read: %d", len(createSteps), *rounds, removed))
}

// killOnce runs one kill case; gone is true when a read removed the
// half-made app instead of finishing it.
func (s *stack) killOnce(kc killCase, name string) (problem string, gone bool) {
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(s.t))
	g, err := s.tryGateway(name, []string{"CAPIBRIDGE_CHAOS_KILL_AT=" + kc.step}, listen)
	if err != nil {
		return err.Error(), false
	}
	defer g.p.stop()
	dev := s.tokens["developer"]
	var guid string
	var code int
	var resp []byte
	switch kc.kind {
	case "create":
		code, resp, err = s.do("POST", g.url+"/v2/apps", dev, killBody(name, "STARTED"), nil)
	case "start":
		code, resp, err = s.do("POST", g.url+"/v2/apps", dev, killBody(name, "STOPPED"), nil)
		if err != nil || code != 201 {
			return fmt.Sprintf("creating the app to start: %d %v %s", code, err, snippet(resp)), false
		}
		guid = v2GUID(resp)
		code, resp, err = s.do("PUT", g.url+"/v2/apps/"+guid, dev, []byte(`{"state":"STARTED"}`), nil)
	}
	if err == nil {
		return fmt.Sprintf("the gateway answered %d instead of dying at %s: %s", code, kc.step, snippet(resp)), false
	}
	if !g.p.exited(20*time.Second) || !g.p.killedBySIGKILL() {
		return fmt.Sprintf("the gateway did not die of SIGKILL at %s (%v)", kc.step, err), false
	}
	// The same gateway again, on the same address, without the hook.
	var g2 *gateway
	for try := 0; ; try++ {
		if g2, err = s.tryGateway(name+"-restarted", nil, listen); err == nil || try == 5 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return "restarting the gateway: " + err.Error(), false
	}
	defer g2.p.stop()
	switch {
	case kc.finisher == "retry" && kc.kind == "create":
		code, resp, err = s.do("POST", g2.url+"/v2/apps", dev, killBody(name, "STARTED"), nil)
		if err != nil || code != 201 {
			return fmt.Sprintf("the client's retry of the create: %d %v %s", code, err, snippet(resp)), false
		}
		guid = v2GUID(resp)
	case kc.finisher == "retry":
		code, resp, err = s.do("PUT", g2.url+"/v2/apps/"+guid, dev, []byte(`{"state":"STARTED"}`), nil)
		if err != nil || code != 201 {
			return fmt.Sprintf("the client's retry of the start: %d %v %s", code, err, snippet(resp)), false
		}
	case kc.kind == "create":
		code, resp, err = s.get(g2.url+"/v2/apps?q="+url.QueryEscape("name:"+name), dev)
		if err != nil || code != 200 {
			return fmt.Sprintf("reading the apps named %s: %d %v %s", name, code, err, snippet(resp)), false
		}
		var page struct {
			Resources []struct{ GUID string }
		}
		if err := s.cfJSON("/v3/apps?names="+url.QueryEscape(name), &page); err != nil {
			return err.Error(), false
		}
		switch len(page.Resources) {
		case 0:
			return "", true
		case 1:
			guid = page.Resources[0].GUID
		default:
			return fmt.Sprintf("%d apps named %s after a read", len(page.Resources), name), false
		}
	}
	// Reads through the restarted gateway carry the start on; the Cloud
	// Controller says when it is done.
	var last string
	for deadline := time.Now().Add(time.Minute); ; {
		code, resp, err = s.get(g2.url+"/v2/apps/"+guid, dev)
		if err != nil || code != 200 {
			last = fmt.Sprintf("GET /v2/apps/:guid: %d %v %s", code, err, snippet(resp))
		} else if last = s.finished(name, guid); last == "" {
			return "", false
		}
		if time.Now().After(deadline) {
			return "not finished a minute after the restart: " + last, false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func v2GUID(body []byte) string {
	var app struct{ Metadata struct{ GUID string } }
	_ = json.Unmarshal(body, &app)
	return app.Metadata.GUID
}

// finished says what the Cloud Controller shows of the app that differs
// from what the v2 create and start asked for, or "" when nothing does.
func (s *stack) finished(name, guid string) string {
	var apps struct {
		Resources []struct{ GUID string }
	}
	if err := s.cfJSON("/v3/apps?names="+url.QueryEscape(name), &apps); err != nil {
		return err.Error()
	}
	if len(apps.Resources) != 1 {
		return fmt.Sprintf("%d apps named %s", len(apps.Resources), name)
	}
	var app struct {
		State     string
		Lifecycle struct{ Type string }
		Metadata  struct{ Annotations map[string]string }
	}
	if err := s.cfJSON("/v3/apps/"+guid, &app); err != nil {
		return err.Error()
	}
	var left []string
	for k := range app.Metadata.Annotations {
		if k == "capibridge.io/pending-start" || k == "capibridge.io/create-intent" {
			left = append(left, k)
		}
	}
	if app.State != "STARTED" || len(left) > 0 {
		return fmt.Sprintf("v3 state %s, annotations left %v", app.State, left)
	}
	var web struct {
		MemoryInMB int `json:"memory_in_mb"`
		Instances  int
		Command    *string
	}
	if err := s.cfJSON("/v3/apps/"+guid+"/processes/web", &web); err != nil {
		return err.Error()
	}
	if web.MemoryInMB != 256 || web.Instances != 2 || web.Command == nil || *web.Command != killCommand {
		cmd := "null"
		if web.Command != nil {
			cmd = *web.Command
		}
		return fmt.Sprintf("web process %d MB × %d, command %q", web.MemoryInMB, web.Instances, cmd)
	}
	var ssh struct{ Enabled bool }
	if err := s.cfJSON("/v3/apps/"+guid+"/ssh_enabled", &ssh); err != nil {
		return err.Error()
	}
	if ssh.Enabled {
		return "ssh enabled, asked off"
	}
	var pkgs struct {
		Resources []struct {
			Type string
			Data struct{ Image string }
		}
	}
	if err := s.cfJSON("/v3/packages?app_guids="+guid, &pkgs); err != nil {
		return err.Error()
	}
	if len(pkgs.Resources) != 1 || pkgs.Resources[0].Type != "docker" || pkgs.Resources[0].Data.Image != killImage {
		return fmt.Sprintf("packages %+v, want one docker package of %s", pkgs.Resources, killImage)
	}
	return ""
}
