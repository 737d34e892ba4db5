package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"capibridge/configs"
	"capibridge/internal/redistest"
)

// loadCompose reads compose.yaml with the Compose specification's own
// loader, which checks it against the specification's schema.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  wd,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(wd, "compose.yaml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("capibridge", true) })
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

// isCapibridge reports whether a service runs the capibridge image.
func isCapibridge(s types.ServiceConfig) bool { return strings.HasPrefix(s.Image, "capibridge:") }

// serviceEnv is a capibridge service's environment: the image's, then
// the service's own.
func serviceEnv(t *testing.T, s types.ServiceConfig) map[string]string {
	env := imageEnv(t)
	for k, v := range s.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	return env
}

func environ(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// TestCompose: every capibridge service runs a real subcommand with real
// flags and configuration capibridge accepts; the files mounted exist;
// Prometheus scrapes every gateway's admin port with the alert rules
// loaded; Grafana gets the dashboard and a datasource at Prometheus.
func TestCompose(t *testing.T) {
	p := loadCompose(t)
	var gateways []string
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s mounts %s: %v", s.Name, v.Source, err)
				}
			}
		}
		if !isCapibridge(s) {
			continue
		}
		checkCommand(t, s.Name+" command", s.Command)
		if hc := s.HealthCheck; hc != nil && len(hc.Test) > 2 && hc.Test[1] == "/capibridge" {
			checkCommand(t, s.Name+" healthcheck", hc.Test[2:])
		}
		cfg, err := configs.Load("", environ(serviceEnv(t, s)))
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			t.Errorf("%s's environment: %v", s.Name, err)
		}
		if s.Command[0] == "serve" {
			_, port, _ := strings.Cut(cfg.AdminListen, ":")
			gateways = append(gateways, s.Name+":"+port)
		}
	}
	if len(gateways) < 2 {
		t.Errorf("gateways %v: the stack has two sharing a Redis", gateways)
	}

	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
		Global map[string]string `yaml:"global"`
	}
	decodeStrict(t, "compose/prometheus.yml", &prom)
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		if sc.MetricsPath != "/metrics" || !strings.HasPrefix(sc.JobName, "capibridge") {
			t.Errorf("scrape config %+v: the alert rules select job=~\"capibridge.*\", the admin port serves /metrics", sc)
		}
		for _, c := range sc.StaticConfigs {
			targets = append(targets, c.Targets...)
		}
	}
	slices.Sort(targets)
	slices.Sort(gateways)
	if !slices.Equal(targets, gateways) {
		t.Errorf("Prometheus scrapes %v, the gateways' admin ports are %v", targets, gateways)
	}
	prometheus, ok := p.Services["prometheus"]
	if !ok {
		t.Fatal("no prometheus service")
	}
	if !slices.ContainsFunc(prometheus.Volumes, func(v types.ServiceVolumeConfig) bool {
		return strings.HasSuffix(v.Source, "prometheus/alerts.yaml") && slices.Contains(prom.RuleFiles, v.Target)
	}) {
		t.Errorf("Prometheus loads %v, and alerts.yaml is not mounted there", prom.RuleFiles)
	}

	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	decodeStrict(t, "compose/grafana/provisioning/datasources/prometheus.yaml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("Grafana's datasource %+v", ds.Datasources)
	}
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type      string
			DisableDeletion bool `yaml:"disableDeletion"`
			Options         struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeStrict(t, "compose/grafana/provisioning/dashboards/capibridge.yaml", &dash)
	grafana := p.Services["grafana"]
	if len(dash.Providers) != 1 || !slices.ContainsFunc(grafana.Volumes, func(v types.ServiceVolumeConfig) bool {
		_, err := os.Stat(filepath.Join(v.Source, "capibridge.json"))
		return v.Target == dash.Providers[0].Options.Path && err == nil
	}) {
		t.Errorf("Grafana's dashboard provider %+v does not read a folder holding capibridge.json", dash.Providers)
	}
}

// decodeStrict reads a YAML file into v; unknown keys are errors.
func decodeStrict(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestComposeStackLocally runs the stack's capibridge services as
// processes, with their commands and environments as compose.yaml and the
// image give them (service names and ports mapped to loopback, a real
// redis-server for the redis service): a user logs in through one
// gateway, both serve v2, both export the v2 metrics, and the usage report
// either gateway answers holds the requests of both.
func TestComposeStackLocally(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the stack")
	}
	p := loadCompose(t)
	bin := capibridge(t)
	rs := redistest.Start(t)
	cfPort := freePort(t)
	hosts := strings.NewReplacer("http://cf:9022", "http://127.0.0.1:"+cfPort, "redis:6379", rs.Addr(), ":9022", "127.0.0.1:"+cfPort)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func(name string, env map[string]string) {
		s := p.Services[name]
		args := make([]string, len(s.Command))
		for i, a := range s.Command {
			args[i] = hosts.Replace(a)
			if a == "/data" {
				args[i] = t.TempDir()
			}
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+hosts.Replace(v))
		}
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s:\n%s", name, tail(logs.String(), 3000))
			}
		})
	}
	env := serviceEnv(t, p.Services["cf"])
	env["CAPIBRIDGE_BACKEND_DATA"] = t.TempDir()
	start("cf", env)
	waitOK(t, "http://127.0.0.1:"+cfPort+"/v3/info")
	type gw struct{ url, admin string }
	var gws []gw
	for _, name := range []string{"gateway-1", "gateway-2"} {
		env := serviceEnv(t, p.Services[name])
		g := gw{"http://127.0.0.1:" + freePort(t), "http://127.0.0.1:" + freePort(t)}
		env["CAPIBRIDGE_LISTEN"], env["CAPIBRIDGE_ADMIN_LISTEN"] = strings.TrimPrefix(g.url, "http://"), strings.TrimPrefix(g.admin, "http://")
		env["CAPIBRIDGE_EXTERNAL_URL"] = g.url
		start(name, env)
		waitOK(t, g.admin+"/readyz")
		gws = append(gws, g)
	}

	// cf login's password grant, through the first gateway.
	form := url.Values{"grant_type": {"password"}, "username": {"developer"}, "password": {"developer"}}
	req, _ := http.NewRequest("POST", gws[0].url+"/oauth/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth("cf", "")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var grant struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&grant)
	resp.Body.Close()
	if grant.AccessToken == "" {
		t.Fatalf("password grant through gateway-1: %d", resp.StatusCode)
	}
	for i, g := range gws {
		req, _ := http.NewRequest("GET", g.url+"/v2/apps", nil)
		req.Header.Set("Authorization", "bearer "+grant.AccessToken)
		req.Header.Set("User-Agent", "cf/6.53.0+8e2b70a4a.2020-10-01 (go1.13.8; amd64 linux)")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"total_results"`) || resp.Header.Get("X-Cf-Warnings") == "" {
			t.Errorf("gateway-%d GET /v2/apps: %d %s (warning %q)", i+1, resp.StatusCode, body, resp.Header.Get("X-Cf-Warnings"))
		}
		if m := get(t, g.admin+"/metrics"); !strings.Contains(m, `capibridge_v2_requests_total{client_family="cf_cli",client_id="cf",method="GET",route="/v2/apps"} 1`) {
			t.Errorf("gateway-%d's metrics lack the v2 request", i+1)
		}
	}
	// Each report flushes its own instance first; the second then holds
	// both gateways' requests, shared through Redis.
	get(t, gws[0].admin+"/admin/v2-usage")
	rep := get(t, gws[1].admin+"/admin/v2-usage?format=csv")
	if !strings.Contains(rep, "developer,cf_cli,/v2/apps,cf,6.53.0,2,0,0,") {
		t.Errorf("the shared usage report:\n%s", rep)
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitOK waits up to a minute for u to answer 200.
func waitOK(t *testing.T, u string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
	}
	t.Fatalf("%s never answered 200: %s", u, last)
}

func tail(s string, n int) string {
	if len(s) > n {
		return fmt.Sprintf("…%s", s[len(s)-n:])
	}
	return s
}
