package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// VCAP_SERVICES as Cloud Foundry sets it, with a Tanzu Redis (host, port,
// password), a generic one (uri) and a database that is no Redis.
const vcapServices = `{
  "p.redis": [{"name": "cache", "label": "p.redis", "tags": ["redis", "pivotal"],
    "credentials": {"host": "q-s0.redis.internal", "port": 6379, "password": "s3cret"}}],
  "user-provided": [
    {"name": "other-redis", "label": "user-provided", "tags": [], "credentials": {"uri": "rediss://:pw@redis.example.com:6380/2"}},
    {"name": "db", "label": "user-provided", "tags": ["mysql"], "credentials": {"uri": "mysql://x"}}]
}`

func TestCloudFoundryPlatform(t *testing.T) {
	base := []string{"VCAP_APPLICATION={}", "PORT=8081", "VCAP_SERVICES=" + vcapServices}
	cases := []struct {
		name     string
		env      []string
		file     string
		listen   string
		addrs    string
		password string
		tls      bool
		err      string
	}{
		{name: "first redis by tag", env: base, listen: ":8081", addrs: "q-s0.redis.internal:6379", password: "s3cret"},
		{name: "named service with a uri", env: append(base, "CAPIBRIDGE_CLOUD_FOUNDRY_REDIS_SERVICE=other-redis"), listen: ":8081",
			addrs: "rediss://:pw@redis.example.com:6380/2"},
		{name: "tls port", env: []string{"VCAP_APPLICATION={}", "PORT=8081", `VCAP_SERVICES={"redis":[{"name":"r","label":"redis","credentials":{"hostname":"h","port":"6379","tls_port":6380,"password":"p"}}]}`},
			listen: ":8081", addrs: "h:6380", password: "p", tls: true},
		{name: "set values win", env: append(base, "CAPIBRIDGE_LISTEN=:9000", "CAPIBRIDGE_CACHE_REDIS_ADDRS=own:6379"), listen: ":9000", addrs: "own:6379"},
		{name: "set in the file", env: base, file: "listen: \":7000\"\n", listen: ":7000", addrs: "q-s0.redis.internal:6379", password: "s3cret"},
		{name: "not on Cloud Foundry", env: []string{"PORT=8081", "VCAP_SERVICES=" + vcapServices}, listen: ":8080"},
		{name: "no such service", env: append(base, "CAPIBRIDGE_CLOUD_FOUNDRY_REDIS_SERVICE=nope"), err: `no bound service named "nope"`},
		{name: "bad VCAP_SERVICES", env: []string{"VCAP_APPLICATION={}", "VCAP_SERVICES={"}, err: "VCAP_SERVICES"},
		{name: "bad PORT", env: []string{"VCAP_APPLICATION={}", "PORT=http"}, err: "PORT"},
		{name: "no redis bound", env: []string{"VCAP_APPLICATION={}", "PORT=8081", `VCAP_SERVICES={"mysql":[{"name":"db","label":"mysql","credentials":{}}]}`}, listen: ":8081"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = filepath.Join(t.TempDir(), "c.yaml")
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Load(path, tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if cfg.Listen != tc.listen || strings.Join(cfg.Cache.RedisAddrs, ",") != tc.addrs || cfg.Cache.RedisPassword != tc.password || cfg.Cache.RedisTLS != tc.tls {
				t.Errorf("listen %q, redis %q password %q tls %v; want %q, %q, %q, %v", cfg.Listen, cfg.Cache.RedisAddrs, cfg.Cache.RedisPassword,
					cfg.Cache.RedisTLS, tc.listen, tc.addrs, tc.password, tc.tls)
			}
		})
	}
}
