package proxy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/translate"
)

// A v2 list shows each app's own command (MAPPING §1.2), although v3's
// process lists redact it: the same as a single GET shows.
func TestV2ListShowsCommands(t *testing.T) {
	s := startStack(t, nil)
	want := map[string]*string{}
	for _, name := range []string{"cmd-one", "cmd-two", "cmd-none"} {
		body := fmt.Sprintf(`{"name":%q,"space_guid":%q}`, name, demoSpace)
		if name != "cmd-none" {
			cmd := "./" + name
			want[name] = &cmd
			body = fmt.Sprintf(`{"name":%q,"space_guid":%q,"command":%q}`, name, demoSpace, cmd)
		} else {
			want[name] = nil
		}
		s.createV2(t, body)
	}
	for _, path := range []string{"/v2/apps", "/v2/spaces/" + demoSpace + "/apps", "/v2/apps?q=name%20IN%20cmd-one,cmd-two"} {
		r := s.do("GET", s.gwURL+path, "developer", nil)
		var l struct {
			Resources []v2AppBody `json:"resources"`
		}
		if err := json.Unmarshal(r.body, &l); err != nil || r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		if len(l.Resources) < 2 {
			t.Fatalf("%s: %d apps", path, len(l.Resources))
		}
		for _, a := range l.Resources {
			w := want[a.Entity.Name]
			if (w == nil) != (a.Entity.Command == nil) || w != nil && *w != *a.Entity.Command {
				t.Errorf("%s: %s has command %v, want %v", path, a.Entity.Name, deref(a.Entity.Command), deref(w))
			}
			one := decodeApp(t, s.do("GET", s.gwURL+"/v2/apps/"+a.Metadata.GUID, "developer", nil), 200)
			if deref(one.Entity.Command) != deref(a.Entity.Command) {
				t.Errorf("%s: the list shows %q, the app's GET %q", a.Entity.Name, deref(a.Entity.Command), deref(one.Entity.Command))
			}
		}
	}
}

// fakeDoer answers GET /v3/processes/:guid from a map of commands.
type fakeDoer map[string]string

func (f fakeDoer) Do(req *fasthttp.Request, resp *fasthttp.Response, _ string) error {
	guid := strings.TrimPrefix(string(req.URI().Path()), "/v3/processes/")
	cmd, ok := f[guid]
	if !ok {
		resp.SetStatusCode(404)
		resp.SetBodyString(`{"errors":[{"detail":"Process not found","title":"CF-ResourceNotFound","code":10010}]}`)
		return nil
	}
	resp.SetStatusCode(200)
	resp.SetBodyString(fmt.Sprintf(`{"guid":%q,"type":"web","command":%q}`, guid, cmd))
	return nil
}

// While a deployment runs, the app's own GET may answer the older web
// process; the newest one listed is then read by its guid.
func TestWebCommandsDuringDeployment(t *testing.T) {
	t.Parallel()
	hidden := "[PRIVATE DATA HIDDEN IN LISTS]"
	g := &Gateway{v3: ccv3.New(fakeDoer{"new-web": "./new"}, "http://cc.example", 4)}
	web := map[string]translate.V3Process{
		"a1": {GUID: "web-1", Command: &hidden},
		"a2": {GUID: "new-web", Command: &hidden},
		"a3": {GUID: "web-3", Command: &hidden},
	}
	one, old := "./one", "./old"
	own := map[string]translate.V3Process{
		"a1": {GUID: "web-1", Command: &one},
		"a2": {GUID: "old-web", Command: &old},
	}
	if err := g.webCommands(ccv3.Call{}, web, own); err != nil {
		t.Fatal(err)
	}
	for app, want := range map[string]string{"a1": "./one", "a2": "./new", "a3": hidden} {
		if got := deref(web[app].Command); got != want {
			t.Errorf("%s: command %q, want %q", app, got, want)
		}
	}
}
