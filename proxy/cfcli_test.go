package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cliSession replays a cf CLI's requests through the gateway's address
// alone, as the CLI sends them (method, path, query, headers, body), and
// checks that no answer names an address other than the gateway's.
type cliSession struct {
	t     *testing.T
	s     *stack
	token string // the access token of the last grant, as "bearer ..."
}

// addressRE finds the origins (scheme://host[:port]) a body or header names.
var addressRE = regexp.MustCompile(`\b(?:https?|wss?)://[^/"'\s\\?#]+`)

// The origins an answer may name besides the gateway's: CC's support
// address and UAA's documentation, neither of them a place clients call.
var foreignOK = map[string]bool{"https://github.com": true, "http://docs.cloudfoundry.org": true,
	// The built-in broker's catalog names its documentation there.
	"https://capibridge.local": true}

// send replays one request and checks its status and the addresses its
// answer names.
func (c *cliSession) send(method, path, auth, contentType string, body []byte, status int, headers ...string) reply {
	c.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = c.s.gwURL + path
	}
	var r reply
	if len(headers) > 0 || contentType == "" && body == nil {
		r = c.s.do(method, u, auth, nil, append(headers, "Accept", "application/json")...)
	} else {
		r = c.s.doRaw(method, u, auth, contentType, body)
	}
	if status != 0 && r.status != status { // 0: any status
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.status, status, r.body)
	}
	c.checkAddresses(method+" "+path, r)
	return r
}

func (c *cliSession) checkAddresses(what string, r reply) {
	c.t.Helper()
	texts := []string{string(r.body)}
	for k, v := range r.header.All() {
		texts = append(texts, string(k)+": "+string(v))
	}
	for _, text := range texts {
		for _, origin := range addressRE.FindAllString(text, -1) {
			if origin != c.s.gwURL && !foreignOK[origin] {
				c.t.Errorf("%s names %s, not the gateway (%s): %.300s", what, origin, c.s.gwURL, text)
			}
		}
	}
}

func (c *cliSession) json(method, path string, body any, status int) reply {
	c.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.send(method, path, c.token, "application/json", b, status)
}

func (c *cliSession) get(path string, v any) {
	c.t.Helper()
	r := c.send("GET", path, c.token, "", nil, 200, "Authorization", c.token)
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			c.t.Fatalf("GET %s: %v: %s", path, err, r.body)
		}
	}
}

// grant posts a form to the token endpoint as the CLI does (client cf,
// no secret, HTTP Basic) and keeps the access token.
func (c *cliSession) grant(tokenEndpoint string, form url.Values) (refresh string) {
	c.t.Helper()
	r := c.send("POST", tokenEndpoint+"/oauth/token", "Basic Y2Y6", "application/x-www-form-urlencoded", []byte(form.Encode()), 200)
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		TokenType    string `json:"token_type"`
	}
	if err := json.Unmarshal(r.body, &tok); err != nil || tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "bearer" {
		c.t.Fatalf("token grant: %v %s", err, r.body)
	}
	c.token = "bearer " + tok.AccessToken
	return tok.RefreshToken
}

// TestCFCLI653QuickStart replays what cf CLI 6.53.0 (built from its
// v6.53.0 source) sends for the README's quick start, recorded on the wire
// request by request: cf api, cf login -u developer -p developer, cf
// target, cf push --no-route, cf app, cf scale, cf set-env, cf restart, cf
// stop, cf start, cf rename, cf delete, and the refresh grant its
// commands make when the token is old. Every step goes to the gateway's
// address, which is all the CLI learns from discovery.
func TestCFCLI653QuickStart(t *testing.T) {
	s := startStackStaging(t, 200*time.Millisecond)
	c := &cliSession{t: t, s: s}

	// cf api: GET /v2/info, GET /.
	var info struct {
		AuthorizationEndpoint string  `json:"authorization_endpoint"`
		TokenEndpoint         string  `json:"token_endpoint"`
		Doppler               *string `json:"doppler_logging_endpoint"`
	}
	if err := json.Unmarshal(c.send("GET", "/v2/info", "", "", nil, 200).body, &info); err != nil {
		t.Fatal(err)
	}
	var root struct {
		Links map[string]*struct {
			Href string `json:"href"`
		} `json:"links"`
	}
	if err := json.Unmarshal(c.send("GET", "/", "", "", nil, 200).body, &root); err != nil {
		t.Fatal(err)
	}
	if info.AuthorizationEndpoint != s.gwURL || info.TokenEndpoint != s.gwURL || root.Links["login"].Href != s.gwURL {
		t.Fatalf("the UAA is not at the gateway: %+v, login %+v", info, root.Links["login"])
	}

	// cf login: the prompts from the login server, twice (the second with
	// an empty Authorization header), the password grant, then v3 reads of
	// the org and space asked for.
	var prompts struct {
		Prompts map[string][]string `json:"prompts"`
		Links   map[string]string   `json:"links"`
	}
	r := c.send("GET", info.AuthorizationEndpoint+"/login", "", "", nil, 200, "Connection", "close")
	if err := json.Unmarshal(r.body, &prompts); err != nil || len(prompts.Prompts["username"]) == 0 || len(prompts.Prompts["password"]) == 0 {
		t.Fatalf("/login prompts: %v %s", err, r.body)
	}
	if prompts.Links["uaa"] != s.gwURL || prompts.Links["login"] != s.gwURL {
		t.Errorf("/login links name %q and %q", prompts.Links["uaa"], prompts.Links["login"])
	}
	c.send("GET", "/", "", "", nil, 200)
	c.send("GET", "/v3", "", "", nil, 200)
	c.send("GET", root.Links["login"].Href+"/login", "", "", nil, 200, "Authorization", "", "Connection", "close")
	refresh := c.grant(info.TokenEndpoint, url.Values{"grant_type": {"password"}, "username": {"developer"}, "password": {"developer"}})
	var orgs, spaces struct {
		Resources []struct{ GUID string } `json:"resources"`
	}
	c.get("/v3/organizations?names=demo-org", &orgs)
	if len(orgs.Resources) != 1 {
		t.Fatalf("demo-org: %+v", orgs)
	}
	org := orgs.Resources[0].GUID
	c.get("/v3/spaces?names=demo-space&organization_guids="+org, &spaces)
	if len(spaces.Resources) != 1 {
		t.Fatalf("demo-space: %+v", spaces)
	}
	space := spaces.Resources[0].GUID

	// cf target -o demo-org -s demo-space.
	var v2list struct {
		TotalResults int `json:"total_results"`
		Resources    []struct {
			Metadata struct{ GUID string } `json:"metadata"`
		} `json:"resources"`
	}
	c.get("/v2/organizations?order-by=name&q=name%3Ademo-org", &v2list)
	if v2list.TotalResults != 1 {
		t.Fatalf("target org: %+v", v2list)
	}
	c.get("/v2/spaces?order-by=name&q=name%3Ademo-space&q=organization_guid%3A"+org, &v2list)
	if v2list.TotalResults != 1 {
		t.Fatalf("target space: %+v", v2list)
	}

	// cf push myapp --no-route: discovery again (with the token), look the
	// app up, create it, match resources, upload the bits as a job, start,
	// read the logs from log-cache while staging, then poll and show it.
	c.send("GET", "/login", c.token, "", nil, 200, "Authorization", c.token, "Connection", "close")
	c.get("/", nil)
	c.get("/v3", nil)
	c.get("/v2/apps?q=name%3Amyapp&q=space_guid%3A"+space, &v2list)
	if v2list.TotalResults != 0 {
		t.Fatalf("myapp exists already: %+v", v2list)
	}
	created := decodeApp(t, c.json("POST", "/v2/apps", map[string]string{"name": "myapp", "space_guid": space}, 201), 201)
	app := created.Metadata.GUID
	files := map[string]string{"Staticfile": "root: .\n", "index.html": "<html><body>hello from capibridge</body></html>\n"}
	c.send("PUT", "/v2/resource_match", c.token, "application/json",
		[]byte(`[{"fn":"Staticfile","mode":"644","sha1":"a08d06b37825b331306770661ef951511dd84815","size":8},`+
			`{"fn":"index.html","mode":"644","sha1":"65f088f28bb6640797bd5f54f956af3f854a7a8f","size":48}]`), 200)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("resources", "[]")
	w, _ := mw.CreateFormFile("application", "application.zip")
	w.Write(zipFiles(t, files))
	mw.Close()
	var job struct {
		Metadata struct{ GUID string }   `json:"metadata"`
		Entity   struct{ Status string } `json:"entity"`
	}
	if err := json.Unmarshal(c.send("PUT", "/v2/apps/"+app+"/bits?async=true", c.token, mw.FormDataContentType(), body.Bytes(), 201).body, &job); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); job.Entity.Status != "finished"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) || job.Entity.Status == "failed" {
			t.Fatalf("upload job: %+v", job)
		}
		c.get("/v2/jobs/"+job.Metadata.GUID, &job)
	}
	c.json("PUT", "/v2/apps/"+app, map[string]string{"state": "STARTED"}, 201)
	var lcInfo struct{ Version string }
	c.get("/api/v1/info", &lcInfo)
	if !strings.HasPrefix(lcInfo.Version, "3.") {
		t.Errorf("log-cache version %q: the CLI reads under /api/v1 from 2.1 on", lcInfo.Version)
	}
	var logs struct {
		Envelopes struct {
			Batch []json.RawMessage `json:"batch"`
		} `json:"envelopes"`
	}
	c.get("/api/v1/read/"+app+"?descending=true&limit=1&start_time=-6795364578871345152", &logs)
	// The newest of the app's log lines: the CLI's probe before it walks.
	if len(logs.Envelopes.Batch) != 1 {
		t.Errorf("log-cache read: %+v", logs)
	}
	running := func(want int) {
		t.Helper()
		var instances map[string]struct{ State string }
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			c.get("/v2/apps/"+app, nil)
			r := c.send("GET", "/v2/apps/"+app+"/instances", c.token, "", nil, 0, "Authorization", c.token)
			n := 0
			if r.status == 200 && json.Unmarshal(r.body, &instances) == nil {
				for _, in := range instances {
					if in.State == "RUNNING" {
						n++
					}
				}
			}
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d instances running: %d %s", n, want, r.status, r.body)
			}
		}
	}
	running(1)
	summary := func() {
		t.Helper()
		c.get("/v3/apps?names=myapp&space_guids="+space, nil)
		c.get("/v3/apps/"+app+"/processes", nil)
		c.get("/v3/apps/"+app+"/processes/web", nil)
		c.get("/v3/processes/"+app+"/stats", nil)
		c.get("/v3/apps/"+app+"/droplets/current", nil)
		c.get("/v2/apps/"+app+"/routes", nil)
		c.get("/v2/apps/"+app+"/stats", nil)
		c.get("/v2/apps/"+app+"/instances", nil)
	}
	summary()

	// cf app myapp.
	c.get("/", nil)
	c.get("/v3", nil)
	c.send("GET", "/login", c.token, "", nil, 200, "Authorization", c.token, "Connection", "close")
	summary()

	// cf scale myapp -i 2 -m 256M -f: stop, scale, start, as the legacy
	// code path sends it.
	update := func(name string, body any) v2AppBody {
		t.Helper()
		c.get(fmt.Sprintf("/v2/spaces/%s/apps?q=name%%3A%s&inline-relations-depth=1", space, name), &v2list)
		if v2list.TotalResults != 1 {
			t.Fatalf("%s in the space: %+v", name, v2list)
		}
		return decodeApp(t, c.json("PUT", "/v2/apps/"+app+"?async=true&inline-relations-depth=1", body, 201), 201)
	}
	if a := update("myapp", map[string]int{"instances": 2, "memory": 256}); a.Entity.Instances != 2 || a.Entity.Memory != 256 {
		t.Errorf("scaled: %+v", a.Entity)
	}
	c.json("PUT", "/v2/apps/"+app+"?async=true&inline-relations-depth=1", map[string]string{"state": "STOPPED"}, 201)
	c.json("PUT", "/v2/apps/"+app+"?async=true&inline-relations-depth=1", map[string]string{"state": "STARTED"}, 201)
	running(2)
	c.get("/v2/apps/"+app+"/summary", nil)

	// cf set-env myapp FOO bar.
	if a := update("myapp", map[string]any{"environment_json": map[string]string{"FOO": "bar"}}); a.Entity.EnvironmentJSON["FOO"] != "bar" {
		t.Errorf("set-env: %+v", a.Entity.EnvironmentJSON)
	}

	// cf env myapp.
	c.get("/v2/apps/"+app+"/env", nil)

	// cf restart myapp, after a refresh grant as a command makes with an
	// old token.
	c.grant(info.TokenEndpoint, url.Values{"client_id": {"cf"}, "client_secret": {""}, "grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	c.get("/v2/apps?q=name%3Amyapp&q=space_guid%3A"+space, nil)
	c.json("PUT", "/v2/apps/"+app, map[string]string{"state": "STOPPED"}, 201)
	c.json("PUT", "/v2/apps/"+app, map[string]string{"state": "STARTED"}, 201)
	c.get("/api/v1/read/"+app+"?descending=true&limit=1&start_time=-6795364578871345152", nil)
	running(2)
	summary()

	// cf stop, cf start, cf rename.
	if a := update("myapp", map[string]string{"state": "STOPPED"}); a.Entity.State != "STOPPED" {
		t.Errorf("stop: %s", a.Entity.State)
	}
	c.json("PUT", "/v2/apps/"+app, map[string]string{"state": "STARTED"}, 201)
	running(2)
	if a := update("myapp", map[string]string{"name": "myapp2"}); a.Entity.Name != "myapp2" {
		t.Errorf("rename: %s", a.Entity.Name)
	}

	// cf delete myapp2 -f.
	c.get(fmt.Sprintf("/v2/spaces/%s/apps?q=name%%3Amyapp2&inline-relations-depth=1", space), &v2list)
	c.send("DELETE", "/v2/apps/"+app+"?async=true&recursive=true", c.token, "", nil, 204, "Authorization", c.token)
	c.send("GET", "/v2/apps/"+app, c.token, "", nil, 404, "Authorization", c.token)

	// cf auth developer developer: the password grant alone.
	c.send("GET", "/v2/info", "", "", nil, 200)
	c.grant(info.TokenEndpoint, url.Values{"grant_type": {"password"}, "username": {"developer"}, "password": {"developer"}})
	// A wrong password is UAA's answer, in UAA's words.
	r = c.send("POST", info.TokenEndpoint+"/oauth/token", "Basic Y2Y6", "application/x-www-form-urlencoded",
		[]byte("grant_type=password&username=developer&password=wrong"), 401)
	if !bytes.Contains(r.body, []byte(`"error":"unauthorized"`)) {
		t.Errorf("wrong password: %s", r.body)
	}
}
