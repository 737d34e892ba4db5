package deploy_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"capibridge/configs"
)

// cfManifest is an application manifest as the cf CLI v6 reads it
// (cli:cf/manifest/manifest.go, cf/manifest/generate_manifest.go): the
// keys it knows, so a misspelt one fails here rather than being ignored.
type cfManifest struct {
	Applications []struct {
		Name                    string            `yaml:"name"`
		Path                    string            `yaml:"path"`
		Buildpack               string            `yaml:"buildpack"`
		Buildpacks              []string          `yaml:"buildpacks"`
		Stack                   string            `yaml:"stack"`
		Command                 string            `yaml:"command"`
		Instances               *int              `yaml:"instances"`
		Memory                  string            `yaml:"memory"`
		DiskQuota               string            `yaml:"disk_quota"`
		HealthCheckType         string            `yaml:"health-check-type"`
		HealthCheckHTTPEndpoint string            `yaml:"health-check-http-endpoint"`
		Timeout                 int               `yaml:"timeout"`
		Services                []string          `yaml:"services"`
		Env                     map[string]string `yaml:"env"`
		Routes                  []struct {
			Route string `yaml:"route"`
		} `yaml:"routes"`
		NoRoute     bool `yaml:"no-route"`
		RandomRoute bool `yaml:"random-route"`
	} `yaml:"applications"`
}

var cfSize = regexp.MustCompile(`^[0-9]+(M|MB|G|GB)$`)

// TestCloudFoundryManifest reads deploy/cf/manifest.yml with the cf CLI
// v6's rules, and checks that what it starts is a capibridge that runs
// on the platform: the pushed directory is the one make cf-app builds,
// the command a real subcommand, the health check a path the gateway
// serves on $PORT, and the environment, with the platform's own, a
// configuration capibridge accepts, listening on $PORT with its Redis
// from the bound service.
func TestCloudFoundryManifest(t *testing.T) {
	var m cfManifest
	decodeStrict(t, "cf/manifest.yml", &m)
	if len(m.Applications) != 1 {
		t.Fatalf("%d applications", len(m.Applications))
	}
	app := m.Applications[0]
	if app.Name == "" || app.Instances == nil || *app.Instances < 2 {
		t.Errorf("name %q, instances %v: two or more, for a gateway that stays up while one restarts", app.Name, app.Instances)
	}
	for key, v := range map[string]string{"memory": app.Memory, "disk_quota": app.DiskQuota} {
		if !cfSize.MatchString(v) {
			t.Errorf("%s %q is not a cf size such as 256M", key, v)
		}
	}
	if len(app.Buildpacks) != 1 || app.Buildpacks[0] != "binary_buildpack" || app.Buildpack != "" {
		t.Errorf("buildpacks %q: the binary buildpack runs the static binary", app.Buildpacks)
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if app.Path != "../../bin/cf-app" || !strings.Contains(string(makefile), "-o bin/cf-app/capibridge ./cmd/capibridge") ||
		!strings.Contains(string(makefile), "CGO_ENABLED=0 GOOS=linux GOARCH=amd64") {
		t.Errorf("path %q: want ../../bin/cf-app, which make cf-app fills with a static linux/amd64 binary", app.Path)
	}
	args := strings.Fields(app.Command)
	if len(args) < 2 || args[0] != "./capibridge" {
		t.Fatalf("command %q", app.Command)
	}
	checkCommand(t, "command", args[1:])
	if app.HealthCheckType != "http" || app.HealthCheckHTTPEndpoint != "/healthz" {
		t.Errorf("health check %q %q: the gateway answers GET /healthz on $PORT", app.HealthCheckType, app.HealthCheckHTTPEndpoint)
	}
	if len(app.Services) != 1 {
		t.Fatalf("services %q: one Redis", app.Services)
	}
	// The background client's secret is set with cf set-env, as the
	// manifest says, never in the file.
	env := []string{"VCAP_APPLICATION={}", "PORT=8080", "CAPIBRIDGE_BACKGROUND_CLIENT_SECRET=set-with-cf-set-env",
		`VCAP_SERVICES={"p.redis":[{"name":"` + app.Services[0] + `","label":"p.redis","tags":["redis"],"credentials":{"host":"10.0.0.5","port":6379,"password":"pw"}}]}`}
	for k, v := range app.Env {
		if !strings.HasPrefix(k, configs.EnvPrefix) {
			t.Errorf("env %s: not a capibridge variable", k)
		}
		env = append(env, k+"="+v)
	}
	cfg, err := configs.Load("", env)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatalf("the app's environment on the platform: %v", err)
	}
	if cfg.Listen != ":8080" || strings.Join(cfg.Cache.RedisAddrs, ",") != "10.0.0.5:6379" || cfg.Cache.RedisPassword != "pw" {
		t.Errorf("on the platform: listen %q, Redis %q: want $PORT and the bound service", cfg.Listen, cfg.Cache.RedisAddrs)
	}
	if cfg.Server.MetricsBasicAuth == "" {
		t.Error("no server.metrics_basic_auth: the admin port is not reachable on the platform, so nothing could scrape /metrics")
	}
	if cfg.Upstream == "" || len(cfg.V2Passthrough) > 0 {
		t.Errorf("upstream %q, v2_passthrough %q: the Cloud Controller's URL, and no v2 passed back to it (the /v2 route is the gateway's)",
			cfg.Upstream, cfg.V2Passthrough)
	}
	if _, err := strconv.Atoi(strings.TrimPrefix(cfg.Listen, ":")); err != nil {
		t.Errorf("listen %q", cfg.Listen)
	}
}
