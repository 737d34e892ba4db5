package proxy

import (
	"encoding/json"
	"fmt"
	"testing"
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
