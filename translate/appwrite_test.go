package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAppRequestErrors(t *testing.T) {
	t.Parallel()
	const prefix = "Request invalid due to parse error: "
	cases := []struct {
		name, body string
		create     bool
		status     int
		want       string // the description; "" for the unknown error
	}{
		{"empty body", ``, true, 400, prefix + "Decoded JSON cannot be nil"},
		{"blank body", " \n\t", false, 400, prefix + "Decoded JSON cannot be nil"},
		{"null", `null`, true, 400, prefix + "Decoded JSON cannot be nil"},
		{"false is nil to Ruby's unless", `false`, false, 400, prefix + "Decoded JSON cannot be nil"},
		{"an array fails in CC with NoMethodError", `[{"name":"x"}]`, true, 500, ""},
		{"a string likewise", `"x"`, false, 500, ""},
		{"bad JSON", `{"name": bad}`, true, 400, prefix + "invalid character 'b' looking for beginning of value at line 1, column 10"},
		{"bad JSON on a later line", "{\n\"name\":\n}", false, 400, prefix + "invalid character '}' looking for beginning of value at line 3, column 1"},
		{"truncated JSON", `{"name":"x"`, true, 400, prefix + "unexpected end of JSON input at line 1, column 12"},
		{"trailing data", `{} {}`, true, 400, prefix + "invalid character '{' after top-level value at line 1, column 4"},
		{"create needs name and space_guid", `{}`, true, 400,
			prefix + "Field: name, Error: Missing field name, Field: space_guid, Error: Missing field space_guid"},
		{"a null counts as missing", `{"name":null,"space_guid":"s"}`, true, 400, prefix + "Field: name, Error: Missing field name"},
		{"a duplicate's last null wins", `{"name":"a","name":null,"space_guid":"s"}`, true, 400, prefix + "Field: name, Error: Missing field name"},
		{"string for an integer", `{"memory":"1024"}`, false, 400,
			prefix + "Field: memory, Error: Expected instance of Integer, given an instance of String"},
		{"a decimal is a BigDecimal", `{"memory":1024.0}`, false, 400,
			prefix + "Field: memory, Error: Expected instance of Integer, given an instance of BigDecimal"},
		{"an exponent too", `{"instances":1e3}`, false, 400,
			prefix + "Field: instances, Error: Expected instance of Integer, given an instance of BigDecimal"},
		{"boolean for a string", `{"name":true}`, false, 400,
			prefix + "Field: name, Error: Expected instance of String, given an instance of TrueClass"},
		{"bool given a string: Ruby's to_s, unquoted", `{"enable_ssh":"x"}`, false, 400,
			prefix + "Field: enable_ssh, Error: Expected instance of true or false, given x"},
		{"bool given an integer", `{"console":1}`, false, 400,
			prefix + "Field: console, Error: Expected instance of true or false, given 1"},
		{"bool given a BigDecimal", `{"diego":1024.50}`, false, 400,
			prefix + "Field: diego, Error: Expected instance of true or false, given 0.10245e4"},
		{"bool given a hash", `{"production":{"a":1,"b":"x\"y","a":[null,false]}}`, false, 400,
			prefix + `Field: production, Error: Expected instance of true or false, given {"a" => [nil, false], "b" => "x\"y"}`},
		{"bool given an array", `{"production":[1,-0.05,"#{x}"]}`, false, 400,
			prefix + `Field: production, Error: Expected instance of true or false, given [1, -0.5e-1, "\#{x}"]`},
		{"hash given an array", `{"environment_json":["A"]}`, false, 400,
			prefix + "Field: environment_json, Error: Expected instance of Hash, given an instance of Array"},
		{"docker_credentials given a string", `{"docker_credentials":"u:p"}`, false, 400,
			prefix + "Field: docker_credentials, Error: Expected instance of Hash, given an instance of String"},
		{"ports given an object", `{"ports":{"a":1}}`, false, 400,
			prefix + "Field: ports, Error: Expected instance of Array, given instance of Hash"},
		{"ports elements", `{"ports":[8080,"x",9000.0]}`, false, 400,
			prefix + "Field: ports, Error: At index 1: Expected instance of Integer, given an instance of String, " +
				"At index 2: Expected instance of Integer, given an instance of BigDecimal"},
		{"every failure at once, in CC's field order", `{"state":1,"space_guid":5,"memory":"x","name":2,"enable_ssh":"no"}`, true, 400,
			prefix + "Field: enable_ssh, Error: Expected instance of true or false, given no, " +
				"Field: memory, Error: Expected instance of Integer, given an instance of String, " +
				"Field: name, Error: Expected instance of String, given an instance of Integer, " +
				"Field: state, Error: Expected instance of String, given an instance of Integer, " +
				"Field: space_guid, Error: Expected instance of String, given an instance of Integer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseAppRequest([]byte(tc.body), tc.create)
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("error %v (%T), want a *Error", err, err)
			}
			if e.Status != tc.status {
				t.Errorf("status %d, want %d (%v)", e.Status, tc.status, e)
			}
			if tc.want == "" {
				if e.Name != "UnknownError" {
					t.Errorf("got %v, want UnknownError", e)
				}
				return
			}
			if e.Name != "MessageParseError" || e.Code != 1001 || e.Description != tc.want {
				t.Errorf("got  %s %d %q\nwant MessageParseError 1001 %q", e.Name, e.Code, e.Description, tc.want)
			}
		})
	}
}

func TestParseAppRequestQuirks(t *testing.T) {
	t.Parallel()
	t.Run("duplicate keys: the last wins", func(t *testing.T) {
		r, err := ParseAppRequest([]byte(`{"name":"a","space_guid":"s","name":"b","memory":1,"memory":256}`), true)
		if err != nil || *r.Name != "b" || *r.Memory != 256 {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("nulls are dropped: no change, no default overridden", func(t *testing.T) {
		r, err := ParseAppRequest([]byte(`{"command":null,"memory":null,"environment_json":null,"state":null}`), false)
		if err != nil || r.Command != nil || r.Memory != nil || r.EnvironmentJSON != nil || r.State != nil {
			t.Fatalf("%v %+v", err, r)
		}
		r, err = ParseAppRequest([]byte(`{"name":"a","space_guid":"s","state":null,"instances":null}`), true)
		if err != nil || *r.State != "STOPPED" || *r.Instances != 1 {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("unknown and excluded keys are ignored", func(t *testing.T) {
		r, err := ParseAppRequest([]byte(`{"bogus":{"x":1},"detected_start_command":"x","route_guids":"r","docker_credentials_json":1}`), false)
		if err != nil || !isZeroRequest(r) {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("create defaults", func(t *testing.T) {
		r, err := ParseAppRequest([]byte(`{"name":"a","space_guid":"s"}`), true)
		if err != nil {
			t.Fatal(err)
		}
		if *r.Console || *r.Production || *r.HealthCheckType != "port" || *r.Instances != 1 || *r.State != "STOPPED" ||
			r.EnvironmentJSON == nil || len(r.EnvironmentJSON) != 0 || r.DockerCredentials == nil || r.DockerCredentialsGiven() ||
			r.Memory != nil || r.DiskQuota != nil || r.EnableSSH != nil || r.Diego != nil || r.Ports != nil {
			t.Errorf("defaults %+v", r)
		}
	})
	t.Run("update has no defaults", func(t *testing.T) {
		r, err := ParseAppRequest([]byte(`{"name":"a"}`), false)
		if err != nil || r.State != nil || r.Instances != nil || r.HealthCheckType != nil || r.EnvironmentJSON != nil {
			t.Fatalf("%v %+v", err, r)
		}
	})
	t.Run("values", func(t *testing.T) {
		body := `{"name":" web ","space_guid":"s","memory":512,"instances":0,"disk_quota":2048,"log_rate_limit":-1,` +
			`"ports":[8080,9090],"ports_extra":1,"environment_json":{"A":"1","B":{"n":2},"C":null},"enable_ssh":false,` +
			`"docker_credentials":{"username":"u","password":"p"},"health_check_timeout":99999999999999999999}`
		r, err := ParseAppRequest([]byte(body), true)
		if err != nil {
			t.Fatal(err)
		}
		if r.StrippedName() != "web" || *r.Memory != 512 || *r.Instances != 0 || *r.DiskQuota != 2048 || *r.LogRateLimit != -1 ||
			len(r.Ports) != 2 || r.Ports[1] != 9090 || string(r.EnvironmentJSON["B"]) != `{"n":2}` || string(r.EnvironmentJSON["C"]) != "null" ||
			*r.EnableSSH || !r.DockerCredentialsGiven() || *r.HealthCheckTimeout != 1<<63-1 {
			t.Errorf("%+v", r)
		}
	})
	t.Run("empty ports are given", func(t *testing.T) {
		r, err := ParseAppRequest([]byte(`{"ports":[]}`), false)
		if err != nil || r.Ports == nil || len(r.Ports) != 0 {
			t.Fatalf("%v %#v", err, r.Ports)
		}
	})
}

func isZeroRequest(r AppRequest) bool {
	b, _ := json.Marshal(r)
	z, _ := json.Marshal(AppRequest{})
	return bytes.Equal(b, z)
}

func TestAppRequestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		want       string // "" is valid; else "<Name>: <description>"
	}{
		{"valid", `{"name":"a","memory":1,"instances":0,"state":"STARTED","ports":[1024,65535],"environment_json":{"X":"1"}}`, ""},
		{"blank name", `{"name":" \t"}`, "AppInvalid: The app is invalid: name is not present"},
		{"VCAP_ key", `{"environment_json":{"vcap_services":"x"}}`, "AppInvalid: The app is invalid: environment_variables cannot start with VCAP_"},
		{"VMC key", `{"environment_json":{"VMCX":"x"}}`, "AppInvalid: The app is invalid: environment_variables cannot start with VMC_"},
		{"PORT key", `{"environment_json":{"port":"80"}}`, "AppInvalid: The app is invalid: environment_variables cannot set PORT"},
		{"empty key", `{"environment_json":{"":"x"}}`, "AppInvalid: The app is invalid: environment_variables key must be a minimum length of 1"},
		{"the app's messages together, keys sorted", `{"name":"","environment_json":{"VCAP_A":"","PORT":""}}`,
			"AppInvalid: The app is invalid: name is not present, environment_variables cannot set PORT, environment_variables cannot start with VCAP_"},
		{"zero memory", `{"memory":0}`, "AppMemoryInvalid: You have specified an invalid amount of memory for your application."},
		{"negative memory", `{"memory":-5}`, "AppMemoryInvalid: You have specified an invalid amount of memory for your application."},
		{"negative instances", `{"instances":-1}`, "AppInvalid: The app is invalid: Number of instances less than 0"},
		{"bad state", `{"state":"RUNNING"}`, "AppInvalid: The app is invalid: Invalid app state provided"},
		{"low port", `{"ports":[8080,80]}`, "AppInvalid: The app is invalid: Ports must be in the 1024-65535 range."},
		{"high port", `{"ports":[65536]}`, "AppInvalid: The app is invalid: Ports must be in the 1024-65535 range."},
		{"the app before the process", `{"memory":0,"environment_json":{"PORT":"1"}}`, "AppInvalid: The app is invalid: environment_variables cannot set PORT"},
		{"memory before instances", `{"memory":0,"instances":-1,"state":"x"}`, "AppMemoryInvalid: You have specified an invalid amount of memory for your application."},
		{"instances before state", `{"instances":-1,"state":"x"}`, "AppInvalid: The app is invalid: Number of instances less than 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseAppRequest([]byte(tc.body), false)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if err := r.Validate(); err != nil {
				e := err.(*Error)
				got = e.Name + ": " + e.Description
				if e.Status != 400 {
					t.Errorf("status %d", e.Status)
				}
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestCheckLifecycleChange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body, lifecycle string
		refused         bool
	}{
		{`{"buildpack":"go"}`, "docker", true},
		{`{"stack_guid":"s"}`, "docker", true},
		{`{"docker_image":"i"}`, "docker", false},
		{`{"docker_image":"i"}`, "buildpack", true},
		{`{"buildpack":""}`, "buildpack", false},
		{`{"name":"x"}`, "docker", false},
	}
	for _, tc := range cases {
		r, _ := ParseAppRequest([]byte(tc.body), false)
		err := CheckLifecycleChange(r, tc.lifecycle)
		if (err != nil) != tc.refused {
			t.Errorf("%s on %s: %v", tc.body, tc.lifecycle, err)
		}
		if err != nil && err.(*Error).Description != "The app is invalid: Lifecycle type cannot be changed" {
			t.Errorf("%v", err)
		}
	}
}

func TestDockerPackageImage(t *testing.T) {
	t.Parallel()
	image := "Repo/Image:1"
	docker := &V3Package{Type: "docker", Data: V3PackageData{Image: &image}}
	cases := []struct {
		name, body string
		latest     *V3Package
		want       string
		ok         bool
	}{
		{"nothing asked", `{"name":"x"}`, docker, "", false},
		{"same image, other case", `{"docker_image":"repo/image:1"}`, docker, "", false},
		{"new image", `{"docker_image":"repo/image:2"}`, docker, "repo/image:2", true},
		{"credentials alone re-use the image", `{"docker_credentials":{"username":"u"}}`, docker, "Repo/Image:1", true},
		{"empty credentials are none", `{"docker_credentials":{}}`, docker, "", false},
		{"credentials with no image anywhere", `{"docker_credentials":{"username":"u"}}`, nil, "", false},
		{"first image", `{"docker_image":"x"}`, nil, "x", true},
	}
	for _, tc := range cases {
		r, _ := ParseAppRequest([]byte(tc.body), false)
		got, ok := DockerPackageImage(r, tc.latest)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %q %v, want %q %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRubyNumber(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"1024": "1024", "-0": "0", "1024.0": "0.1024e4", "1.5": "0.15e1", "0.05": "0.5e-1", "-2.5": "-0.25e1",
		"1e3": "0.1e4", "1E-2": "0.1e-1", "0.0": "0.0", "120.250": "0.12025e3",
	} {
		if got := rubyNumber(in); got != want {
			t.Errorf("rubyNumber(%s) = %s, want %s", in, got, want)
		}
	}
}

// appWriteGolden is a testdata/appwrite/<case>.v2.json file: a v2 request
// and the v3 state it applies to. The v3 bodies the translation makes are
// in <case>.v3.json; go test ./translate -update rewrites them.
type appWriteGolden struct {
	Description    string                     `json:"description"`
	Request        json.RawMessage            `json:"request"`
	Create         bool                       `json:"create"`
	StackName      *string                    `json:"stack_name"`
	App            V3App                      `json:"app"`
	Web            V3Process                  `json:"web_process"`
	CurrentDroplet *V3Droplet                 `json:"current_droplet"`
	Env            map[string]json.RawMessage `json:"environment_variables"`
	LatestPackage  *V3Package                 `json:"latest_package"`
}

type goldenPatch struct {
	Do   json.RawMessage `json:"do"`
	Undo json.RawMessage `json:"undo"`
}

type appWriteBodies struct {
	AppCreate     json.RawMessage `json:"app_create,omitempty"`
	AppPatch      *goldenPatch    `json:"app_patch"`
	EnvPatch      *goldenPatch    `json:"environment_variables_patch"`
	ProcessPatch  *goldenPatch    `json:"process_patch"`
	Scale         *goldenPatch    `json:"scale"`
	DockerPackage json.RawMessage `json:"docker_package"`
}

func golden(p Patch) *goldenPatch {
	if p.Do == nil {
		return nil
	}
	return &goldenPatch{Do: p.Do, Undo: p.Undo}
}

func TestAppWriteGolden(t *testing.T) {
	t.Parallel()
	inputs, err := filepath.Glob(filepath.Join("testdata", "appwrite", "*.v2.json"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".v2.json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var g appWriteGolden
			if err := json.Unmarshal(raw, &g); err != nil {
				t.Fatal(err)
			}
			r, err := ParseAppRequest(g.Request, g.Create)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			var out appWriteBodies
			must := func(p Patch, err error) *goldenPatch {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				return golden(p)
			}
			if g.Create {
				stack := ""
				if g.StackName != nil {
					stack = *g.StackName
				}
				if out.AppCreate, err = AppCreateBody(r, stack); err != nil {
					t.Fatal(err)
				}
			} else {
				stopping := r.State != nil && *r.State == StateStopped
				out.AppPatch = must(PlanAppPatch(r, g.App, g.StackName, stopping))
				if r.EnvironmentJSON != nil {
					out.EnvPatch = must(PlanEnvPatch(g.Env, r.EnvironmentJSON))
				}
			}
			out.ProcessPatch = must(PlanProcessPatch(r, g.Web, g.CurrentDroplet))
			out.Scale = must(PlanScale(r, g.Web))
			if image, ok := DockerPackageImage(r, g.LatestPackage); ok || g.Create && r.DockerImage != nil {
				if g.Create {
					image = *r.DockerImage
				}
				if out.DockerPackage, err = DockerPackageBody(g.App.GUID, image, r); err != nil {
					t.Fatal(err)
				}
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "appwrite", name+".v3.json")
			if appGoldenUpdate() {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./translate -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the translation:\n%s", path, got)
			}
		})
	}
}

func TestPendingStartAndSmallBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		got  func() ([]byte, error)
		want string
	}{
		{func() ([]byte, error) { return PendingStartBody("b1") }, `{"metadata":{"annotations":{"capibridge.io/pending-start":"b1"}}}`},
		{func() ([]byte, error) { return PendingStartBody("") }, `{"metadata":{"annotations":{"capibridge.io/pending-start":null}}}`},
		{func() ([]byte, error) { return BuildBody("p1", 512, 2048) }, `{"package":{"guid":"p1"},"staging_memory_in_mb":512,"staging_disk_in_mb":2048}`},
		{func() ([]byte, error) { return CurrentDropletBody("d1") }, `{"data":{"guid":"d1"}}`},
		{func() ([]byte, error) { return SSHBody(false) }, `{"enabled":false}`},
	} {
		b, err := tc.got()
		if err != nil || string(b) != tc.want {
			t.Errorf("got %s (%v), want %s", b, err, tc.want)
		}
	}
}

// FuzzParseAppRequest checks that a v2 app body never panics the parser or
// the builders: it fails only with MessageParseError or, for documents
// that are no object, UnknownError, as CC does; an accepted body builds
// valid v3 JSON.
func FuzzParseAppRequest(f *testing.F) {
	for _, s := range []string{
		``, `null`, `false`, `[]`, `"x"`, `{}`, `{"name":"a","space_guid":"s"}`, `{"name":"a","name":null}`,
		`{"memory":1024.0}`, `{"enable_ssh":{"a":[1,"#{x}",null]}}`, `{"ports":[1,"2",3e1]}`,
		`{"environment_json":{"A":1,"B":null},"docker_credentials":{"username":"u"},"docker_image":"i"}`,
		`{"health_check_type":"none","health_check_http_endpoint":"/x","command":"","state":"STARTED"}`,
		`{"instances":99999999999999999999999,"disk_quota":-99999999999999999999}`, "{\"name\":\"\xff\"}", `{"a":`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, create bool) {
		r, err := ParseAppRequest(body, create)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Name != "MessageParseError" && e.Name != "UnknownError" {
				t.Fatalf("ParseAppRequest(%q) error = %v", body, err)
			}
			return
		}
		_ = r.Validate()
		web := V3Process{HealthCheck: V3HealthCheck{Type: "port"}}
		app := V3App{Lifecycle: V3Lifecycle{Type: "buildpack"}}
		stack := "s"
		bodies := [][]byte{}
		if create {
			b, err := AppCreateBody(r, "")
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, b)
		}
		for _, plan := range []func() (Patch, error){
			func() (Patch, error) { return PlanAppPatch(r, app, &stack, true) },
			func() (Patch, error) {
				return PlanEnvPatch(map[string]json.RawMessage{"OLD": json.RawMessage(`1`)}, r.EnvironmentJSON)
			},
			func() (Patch, error) { return PlanProcessPatch(r, web, nil) },
			func() (Patch, error) { return PlanScale(r, web) },
		} {
			p, err := plan()
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, p.Do, p.Undo)
		}
		if b, err := DockerPackageBody("g", "i", r); err == nil {
			bodies = append(bodies, b)
		} else {
			t.Fatal(err)
		}
		for _, b := range bodies {
			if b != nil && !json.Valid(b) {
				t.Fatalf("invalid v3 JSON %s from %q", b, body)
			}
		}
	})
}
