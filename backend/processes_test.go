package backend

import (
	"strconv"
	"testing"
)

// The texts CC shows instead of a command (cc:app/presenters/v3/base_presenter.rb).
const (
	commandHiddenInLists = `"[PRIVATE DATA HIDDEN IN LISTS]"`
	commandHidden        = `"[PRIVATE DATA HIDDEN]"`
)

func TestProcessReads(t *testing.T) {
	c := startCF(t, nil)
	a := c.createApp("developer", "reader-a", nil)
	b := c.createApp("developer", "reader-b", nil)

	// Until a command is set, single reads show null (no droplet has
	// detected one either).
	for _, path := range []string{"/v3/processes/" + a, "/v3/apps/" + a + "/processes/web"} {
		if got := rawAt(t, c.must(200, "GET", path, "developer", nil).body, "command"); got != "null" {
			t.Errorf("%s: command %s before it is set, want null", path, got)
		}
	}
	r := c.must(200, "PATCH", "/v3/processes/"+a, "developer", map[string]any{"command": "bundle exec rackup"})
	if got := rawAt(t, r.body, "command"); got != `"bundle exec rackup"` {
		t.Fatalf("PATCH answered command %s", got)
	}

	cases := []struct {
		name, path, user string
		// guids of the listed processes, in order; nil for a single read.
		list    []string
		command string // of the (first) process
	}{
		{name: "by guid", path: "/v3/processes/" + a, user: "developer", command: `"bundle exec rackup"`},
		{name: "web of the app", path: "/v3/apps/" + a + "/processes/web", user: "developer", command: `"bundle exec rackup"`},
		{name: "untouched process", path: "/v3/processes/" + b, user: "developer", command: "null"},
		// Lists never show commands, whoever asks.
		{name: "list by app_guids", path: "/v3/processes?app_guids=" + a, user: "developer", list: []string{a}, command: commandHiddenInLists},
		{name: "list by two app_guids", path: "/v3/processes?app_guids=" + b + "," + a, user: "developer", list: []string{a, b}, command: commandHiddenInLists},
		{name: "list by types", path: "/v3/processes?types=web&app_guids=" + b, user: "developer", list: []string{b}, command: commandHiddenInLists},
		{name: "list of the app", path: "/v3/apps/" + a + "/processes", user: "developer", list: []string{a}, command: commandHiddenInLists},
		{name: "list by admin", path: "/v3/processes?app_guids=" + a, user: "admin", list: []string{a}, command: commandHiddenInLists},
		// A space auditor cannot read secrets, so a single read hides the
		// command too, with the other text.
		{name: "auditor by guid", path: "/v3/processes/" + a, user: "auditor", command: commandHidden},
		{name: "auditor web of the app", path: "/v3/apps/" + a + "/processes/web", user: "auditor", command: commandHidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := c.forSubtest(t).must(200, "GET", tc.path, tc.user, nil)
			item := ""
			if tc.list != nil {
				if got := rawAt(t, r.body, "pagination.total_results"); got != strconv.Itoa(len(tc.list)) {
					t.Fatalf("total_results %s, want %d: %s", got, len(tc.list), r.body)
				}
				for i, g := range tc.list {
					if got := rawAt(t, r.body, "resources."+strconv.Itoa(i)+".guid"); got != strconv.Quote(g) {
						t.Errorf("resource %d is %s, want %s", i, got, g)
					}
				}
				item = "resources.0."
			}
			if got := rawAt(t, r.body, item+"command"); got != tc.command {
				t.Errorf("command %s, want %s", got, tc.command)
			}
			if got := rawAt(t, r.body, item+"type"); got != `"web"` {
				t.Errorf("type %s", got)
			}
		})
	}
}

func TestProcessNotFound(t *testing.T) {
	c := startCF(t, nil)
	g := c.createApp("developer", "lonely", nil)
	const notFound = `{"errors":[{"detail":"Process not found","title":"CF-ResourceNotFound","code":10010}]}`
	cases := []struct {
		name, method, path, user string
		body                     any
		want                     string
	}{
		{"get", "GET", "/v3/processes/no-such-process", "developer", nil, notFound},
		{"patch", "PATCH", "/v3/processes/no-such-process", "developer", map[string]any{"command": "x"}, notFound},
		{"scale", "POST", "/v3/processes/no-such-process/actions/scale", "developer", map[string]any{"instances": 2}, notFound},
		{"type the app lacks", "GET", "/v3/apps/" + g + "/processes/worker", "developer", nil, notFound},
		// A process in a space the user cannot see reads as missing.
		{"invisible to the outsider", "GET", "/v3/processes/" + g, "outsider", nil, notFound},
		{"app missing", "GET", "/v3/apps/no-such-app/processes/web", "developer", nil,
			`{"errors":[{"detail":"App not found","title":"CF-ResourceNotFound","code":10010}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := c.forSubtest(t).do(tc.method, tc.path, tc.user, tc.body)
			if r.status != 404 || string(r.body) != tc.want {
				t.Errorf("%d %s, want 404 %s", r.status, r.body, tc.want)
			}
		})
	}
}

func TestPatchProcess(t *testing.T) {
	c := startCF(t, nil)
	httpCheck := map[string]any{"health_check": map[string]any{"type": "http", "data": map[string]any{"endpoint": "/health", "timeout": 30}}}
	cases := []struct {
		name  string
		setup []any // PATCHes applied first
		patch any
		// viaApp sends the PATCH to /v3/apps/:guid/processes/web.
		viaApp bool
		user   string
		status int
		detail string // of a 422
		// want maps dotted paths to the JSON the answer and a later GET show.
		want map[string]string
	}{
		{name: "set command", patch: map[string]any{"command": "rackup"}, want: map[string]string{"command": `"rackup"`}},
		{name: "set command on the app's web process", viaApp: true, patch: map[string]any{"command": "rackup -p $PORT"},
			want: map[string]string{"command": `"rackup -p $PORT"`}},
		// ProcessUpdate: a null command goes back to the detected one.
		{name: "null command resets", setup: []any{map[string]any{"command": "rackup"}}, patch: `{"command":null}`,
			want: map[string]string{"command": "null"}},
		{name: "other fields keep the command", setup: []any{map[string]any{"command": "rackup"}},
			patch: map[string]any{"metadata": map[string]any{"labels": map[string]any{"tier": "web"}}},
			want:  map[string]string{"command": `"rackup"`, "metadata.labels": `{"tier":"web"}`}},
		{name: "empty command refused", patch: map[string]any{"command": ""}, status: 422,
			detail: "Command must be between 1 and 4096 characters"},
		{name: "non-string command refused", patch: map[string]any{"command": 7}, status: 422, detail: "Command must be a string"},
		{
			// The endpoint is part of the data of an http check only
			// (ProcessPresenter#health_check_data).
			name: "http health check", patch: httpCheck,
			want: map[string]string{"health_check": `{"type":"http","data":{"timeout":30,"invocation_timeout":null,"interval":null,"endpoint":"/health"}}`},
		},
		{
			// ProcessUpdate drops the endpoint when the type leaves http.
			name: "switching to port drops the endpoint", setup: []any{httpCheck},
			patch: map[string]any{"health_check": map[string]any{"type": "port"}},
			want:  map[string]string{"health_check": `{"type":"port","data":{"timeout":30,"invocation_timeout":null,"interval":null}}`},
		},
		{name: "process type", patch: map[string]any{"health_check": map[string]any{"type": "process"}},
			want: map[string]string{"health_check.type": `"process"`}},
		{name: "invocation timeout and interval", patch: map[string]any{"health_check": map[string]any{"type": "port",
			"data": map[string]any{"invocation_timeout": 5, "interval": 10}}},
			want: map[string]string{"health_check": `{"type":"port","data":{"timeout":null,"invocation_timeout":5,"interval":10}}`}},
		{name: "invalid type", patch: map[string]any{"health_check": map[string]any{"type": "none"}}, status: 422,
			detail: `Health check type must be "port", "process", or "http"`},
		{name: "endpoint without http", patch: map[string]any{"health_check": map[string]any{"type": "port", "data": map[string]any{"endpoint": "/x"}}},
			status: 422, detail: `Health check type must be "http" to set a health check HTTP endpoint`},
		// ProcessUpdateMessage names its attributes health_check_timeout etc.
		{name: "zero timeout", patch: map[string]any{"health_check": map[string]any{"type": "port", "data": map[string]any{"timeout": 0}}},
			status: 422, detail: "Health check timeout must be greater than or equal to 1"},
		{name: "endpoint not a path", patch: map[string]any{"health_check": map[string]any{"type": "http", "data": map[string]any{"endpoint": "http://x/y"}}},
			status: 422, detail: "Health check endpoint must be a valid URI path"},
		{name: "unknown field", patch: map[string]any{"instances": 3}, status: 422, detail: "Unknown field(s): 'instances'"},
		{name: "auditor", user: "auditor", patch: map[string]any{"command": "rackup"}, status: 403},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forSubtest(t)
			guid := c.createApp("developer", "patch-proc-"+strconv.Itoa(i), nil)
			for _, s := range tc.setup {
				c.must(200, "PATCH", "/v3/processes/"+guid, "developer", s)
			}
			path := "/v3/processes/" + guid
			if tc.viaApp {
				path = "/v3/apps/" + guid + "/processes/web"
			}
			user := tc.user
			if user == "" {
				user = "developer"
			}
			before := c.must(200, "GET", "/v3/processes/"+guid, "developer", nil)
			r := c.do("PATCH", path, user, tc.patch)
			after := c.must(200, "GET", "/v3/processes/"+guid, "developer", nil)
			switch tc.status {
			case 422:
				wantV3Error(t, r, 422, 10008, "CF-UnprocessableEntity", tc.detail)
			case 403:
				wantV3Error(t, r, 403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")
			}
			if tc.status != 0 {
				if string(before.body) != string(after.body) {
					t.Errorf("a refused PATCH changed the process:\nbefore %s\nafter  %s", before.body, after.body)
				}
				return
			}
			if r.status != 200 {
				t.Fatalf("status %d, body %s", r.status, r.body)
			}
			for _, body := range [][]byte{r.body, after.body} {
				for p, want := range tc.want {
					if got := rawAt(t, body, p); !sameJSON(t, got, want) {
						t.Errorf("%s = %s, want %s", p, got, want)
					}
				}
			}
			// A PATCH that names no health check leaves it alone.
			_, hc := tc.want["health_check"]
			_, hcType := tc.want["health_check.type"]
			if got, was := rawAt(t, after.body, "health_check"), rawAt(t, before.body, "health_check"); !hc && !hcType && got != was {
				t.Errorf("health_check %s, was %s", got, was)
			}
		})
	}
}

func TestScaleProcess(t *testing.T) {
	c := startCF(t, nil)
	const defaults = `{"instances":1,"memory_in_mb":1024,"disk_in_mb":1024,"log_rate_limit_in_bytes_per_second":-1}`
	cases := []struct {
		name   string
		viaApp bool // POST /v3/apps/:guid/processes/web/actions/scale
		body   any
		status int
		detail string
		// want is the four sizes after the call.
		want string
	}{
		{name: "all four", body: `{"instances":5,"memory_in_mb":256,"disk_in_mb":512,"log_rate_limit_in_bytes_per_second":1024}`,
			status: 202, want: `{"instances":5,"memory_in_mb":256,"disk_in_mb":512,"log_rate_limit_in_bytes_per_second":1024}`},
		{name: "instances only", viaApp: true, body: `{"instances":3}`, status: 202,
			want: `{"instances":3,"memory_in_mb":1024,"disk_in_mb":1024,"log_rate_limit_in_bytes_per_second":-1}`},
		{name: "zero instances", body: `{"instances":0}`, status: 202,
			want: `{"instances":0,"memory_in_mb":1024,"disk_in_mb":1024,"log_rate_limit_in_bytes_per_second":-1}`},
		{name: "empty body", body: `{}`, status: 202, want: defaults},
		// ProcessScaleMessage numericality rules, worded by Rails.
		{name: "negative instances", body: `{"instances":-1}`, status: 422, detail: "Instances must be greater than or equal to 0", want: defaults},
		{name: "zero memory", body: `{"memory_in_mb":0}`, status: 422, detail: "Memory in mb must be greater than 0", want: defaults},
		{name: "float memory", body: `{"memory_in_mb":512.5}`, status: 422, detail: "Memory in mb must be an integer", want: defaults},
		{name: "zero disk", viaApp: true, body: `{"disk_in_mb":0}`, status: 422, detail: "Disk in mb must be greater than 0", want: defaults},
		{name: "log rate below -1", body: `{"log_rate_limit_in_bytes_per_second":-2}`, status: 422,
			detail: "Log rate limit in bytes per second must be greater than or equal to -1", want: defaults},
		{name: "one bad field refuses all", body: `{"instances":4,"memory_in_mb":-5}`, status: 422,
			detail: "Memory in mb must be greater than 0", want: defaults},
		{name: "unknown field", body: `{"instances":2,"cpu":1}`, status: 422, detail: "Unknown field(s): 'cpu'", want: defaults},
		{name: "auditor", body: `{"instances":2}`, status: 403, want: defaults},
	}
	sizes := func(t *testing.T, body []byte) string {
		return `{"instances":` + rawAt(t, body, "instances") + `,"memory_in_mb":` + rawAt(t, body, "memory_in_mb") +
			`,"disk_in_mb":` + rawAt(t, body, "disk_in_mb") + `,"log_rate_limit_in_bytes_per_second":` +
			rawAt(t, body, "log_rate_limit_in_bytes_per_second") + `}`
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := c.forSubtest(t)
			guid := c.createApp("developer", "scale-"+strconv.Itoa(i), nil)
			path := "/v3/processes/" + guid + "/actions/scale"
			if tc.viaApp {
				path = "/v3/apps/" + guid + "/processes/web/actions/scale"
			}
			user := "developer"
			if tc.name == "auditor" {
				user = "auditor"
			}
			r := c.do("POST", path, user, tc.body)
			switch tc.status {
			case 202:
				// CC answers a scale with 202 and the process as it now is.
				if r.status != 202 {
					t.Fatalf("status %d, body %s", r.status, r.body)
				}
				if got := sizes(t, r.body); got != tc.want {
					t.Errorf("answered %s, want %s", got, tc.want)
				}
				if got := rawAt(t, r.body, "guid"); got != strconv.Quote(guid) {
					t.Errorf("answered process %s", got)
				}
			case 422:
				wantV3Error(t, r, 422, 10008, "CF-UnprocessableEntity", tc.detail)
			case 403:
				wantV3Error(t, r, 403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action")
			}
			if got := sizes(t, c.must(200, "GET", "/v3/processes/"+guid, "developer", nil).body); got != tc.want {
				t.Errorf("process now %s, want %s", got, tc.want)
			}
		})
	}
}
