package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

// The documented file must name every key and hold exactly the defaults,
// so the documentation cannot drift from the code.
func TestDocumentedFileIsTheDefaults(t *testing.T) {
	body, err := os.ReadFile("capibridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range Keys() {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(body), leaf+":") {
			t.Errorf("capibridge.yaml does not document %s", key)
		}
	}
	cfg, err := Load("capibridge.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("capibridge.yaml differs from Default():\n got %+v\nwant %+v", cfg, Default())
	}
}

// An idle upstream connection must be closed by the gateway before the
// upstream's keep-alive timeout closes it under a request being written:
// Puma's persistent_timeout (20 s) is the shortest of the usual ones.
func TestUpstreamIdleTimeoutBelowKeepAlives(t *testing.T) {
	if d := Default().UpstreamClient.IdleTimeout; d >= 20*time.Second {
		t.Errorf("upstream_client.idle_timeout defaults to %v, not below Puma's 20 s keep-alive", d)
	}
}

func TestLoadLayers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("listen: \":7000\"\nbackend:\n  token_ttl: 5m\n  default_memory_mb: 256\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, []string{"CAPIBRIDGE_BACKEND_DEFAULT_MEMORY_MB=512", "CAPIBRIDGE_CACHE_REDIS_ADDRS=127.0.0.1:6379,127.0.0.1:6380", "HOME=/root"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		got, want any
	}{
		{"file", cfg.Listen, ":7000"},
		{"file duration", cfg.Backend.TokenTTL, 5 * time.Minute},
		{"env over file", cfg.Backend.DefaultMemoryMB, int64(512)},
		{"env list", strings.Join(cfg.Cache.RedisAddrs, " "), "127.0.0.1:6379 127.0.0.1:6380"},
		{"default kept", cfg.Backend.DefaultDiskMB, int64(1024)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestLoadRejectsUnknownNames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("lisen: \":7000\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Errorf("unknown file key: err = %v", err)
	}
	if _, err := Load("", []string{"CAPIBRIDGE_LISEN=x"}); err == nil || !strings.Contains(err.Error(), "CAPIBRIDGE_LISEN") {
		t.Errorf("unknown variable: err = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), nil); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestValidateNamesTheField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"listen", func(c *Config) { c.Listen = "8080" }, "listen"},
		{"admin listen", func(c *Config) { c.AdminListen = "nope" }, "admin_listen"},
		{"upstream", func(c *Config) { c.Upstream = "ftp://x" }, "upstream"},
		{"data without upstream", func(c *Config) { c.Data = "" }, "data"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, "log_level"},
		{"backend data", func(c *Config) { c.Backend.Data = "" }, "backend.data"},
		{"external url", func(c *Config) { c.Backend.ExternalURL = "api.example.org" }, "backend.external_url"},
		{"token ttl", func(c *Config) { c.Backend.TokenTTL = 0 }, "backend.token_ttl"},
		{"memory", func(c *Config) { c.Backend.DefaultMemoryMB = 0 }, "backend.default_memory_mb"},
		{"log rate", func(c *Config) { c.Backend.DefaultLogRateLimit = -2 }, "backend.default_log_rate_limit"},
		{"job delay", func(c *Config) { c.Backend.JobDelay = -time.Second }, "backend.job_delay"},
		{"staging duration", func(c *Config) { c.Backend.StagingDuration = -time.Second }, "backend.staging_duration"},
		{"user passwords", func(c *Config) { c.Backend.UserPasswords = []string{"nopassword"} }, "backend.user_passwords"},
		{"redis address", func(c *Config) { c.Cache.RedisAddrs = []string{"no-port"} }, "cache.redis_addrs"},
		{"sentinel without addresses", func(c *Config) { c.Cache.RedisMasterName = "m" }, "cache.redis_master_name"},
		{"redis timeout", func(c *Config) { c.Cache.RedisTimeout = 0 }, "cache.redis_timeout"},
		{"route ttl", func(c *Config) { c.Cache.Routes = []string{"/v2/apps=soon"} }, "cache.routes"},
		{"route template", func(c *Config) { c.Cache.Routes = []string{"/v3/apps=1s"} }, "cache.routes"},
		{"gateway external url", func(c *Config) { c.ExternalURL = "nope" }, "external_url"},
		{"v2 passthrough", func(c *Config) { c.V2Passthrough = []string{"/v3/apps"} }, "v2_passthrough"},
		{"read timeout", func(c *Config) { c.Server.ReadTimeout = 0 }, "server.read_timeout"},
		{"header bytes", func(c *Config) { c.Server.MaxHeaderBytes = 4096 }, "server.max_header_bytes"},
		{"max conns", func(c *Config) { c.UpstreamClient.MaxConns = 0 }, "upstream_client.max_conns"},
		{"addresses", func(c *Config) { c.UpstreamClient.Addresses = []string{"nohostport"} }, "upstream_client.addresses"},
		{"audiences", func(c *Config) { c.Auth.Audiences = nil }, "auth.audiences"},
		{"token keys url", func(c *Config) { c.Auth.TokenKeysURL = "uaa/token_keys" }, "auth.token_keys_url"},
		{"cache size", func(c *Config) { c.Auth.CacheSize = 0 }, "auth.cache_size"},
		{"conn wait", func(c *Config) { c.UpstreamClient.MaxConnWait = -time.Second }, "upstream_client.max_conn_wait"},
		{"identity conns", func(c *Config) { c.UpstreamClient.IdentityMaxConns = -1 }, "upstream_client.identity_max_conns"},
		{"identity wait", func(c *Config) { c.UpstreamClient.IdentityWait = -time.Second }, "upstream_client.identity_wait"},
		{"discover retry", func(c *Config) { c.Auth.DiscoverRetry = 0 }, "auth.discover_retry"},
		{"discover retry max", func(c *Config) { c.Auth.DiscoverRetryMax = time.Millisecond }, "auth.discover_retry_max"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field+":") {
				t.Errorf("Validate() = %v, want an error naming %s", err, tc.field)
			}
		})
	}
}

func TestListVariablesAreCommaSeparated(t *testing.T) {
	cfg, err := Load("", []string{"CAPIBRIDGE_AUTH_AUDIENCES=cloud_controller, cloud_controller_service_permissions",
		"CAPIBRIDGE_V2_PASSTHROUGH=/v2/service_brokers", "CAPIBRIDGE_AUTH_HMAC_SECRETS="})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Auth.Audiences, "|"); got != "cloud_controller|cloud_controller_service_permissions" {
		t.Errorf("audiences %q", got)
	}
	if len(cfg.V2Passthrough) != 1 || cfg.V2Passthrough[0] != "/v2/service_brokers" {
		t.Errorf("v2_passthrough %q", cfg.V2Passthrough)
	}
	if len(cfg.Auth.HMACSecrets) != 0 {
		t.Errorf("hmac_secrets %q, want none", cfg.Auth.HMACSecrets)
	}
}
