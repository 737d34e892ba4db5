package configs

import (
	"reflect"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestRedisTarget(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cache func(*Cache)
		want  RedisTarget
	}{
		{"no redis", func(c *Cache) {}, RedisTarget{}},
		{"host:port", func(c *Cache) {
			c.RedisAddrs = []string{"redis.internal:6380"}
			c.RedisPassword = "secret"
			c.RedisDB = 1
		},
			RedisTarget{Addrs: []string{"redis.internal:6380"}, Password: "secret", DB: 1}},
		{"bare URL", func(c *Cache) { c.RedisAddrs = []string{"redis://127.0.0.1:6380"} },
			RedisTarget{Addrs: []string{"127.0.0.1:6380"}}},
		{"password and database", func(c *Cache) { c.RedisAddrs = []string{"redis://:secret@127.0.0.1:6380/2"} },
			RedisTarget{Addrs: []string{"127.0.0.1:6380"}, Password: "secret", DB: 2}},
		{"user, default port", func(c *Cache) { c.RedisAddrs = []string{"redis://capi:secret@redis.internal/3"} },
			RedisTarget{Addrs: []string{"redis.internal:6379"}, Username: "capi", Password: "secret", DB: 3}},
		{"user alone", func(c *Cache) { c.RedisAddrs = []string{"redis://capi@redis.internal"} },
			RedisTarget{Addrs: []string{"redis.internal:6379"}, Username: "capi"}},
		{"tls", func(c *Cache) { c.RedisAddrs = []string{"rediss://redis.internal"} },
			RedisTarget{Addrs: []string{"redis.internal:6379"}, TLS: true}},
		{"ipv6", func(c *Cache) { c.RedisAddrs = []string{"redis://[::1]:6390/0"} },
			RedisTarget{Addrs: []string{"[::1]:6390"}}},
		{"percent-encoded password", func(c *Cache) { c.RedisAddrs = []string{"redis://:p%40ss%2Cw%23rd@redis.internal"} },
			RedisTarget{Addrs: []string{"redis.internal:6379"}, Password: "p@ss,w#rd"}},
		{"password from the key", func(c *Cache) { c.RedisAddrs = []string{"redis://capi@redis.internal/2"}; c.RedisPassword = "secret" },
			RedisTarget{Addrs: []string{"redis.internal:6379"}, Username: "capi", Password: "secret", DB: 2}},
		{"database from the key", func(c *Cache) { c.RedisAddrs = []string{"redis://redis.internal"}; c.RedisDB = 4 },
			RedisTarget{Addrs: []string{"redis.internal:6379"}, DB: 4}},
		{"keys that agree", func(c *Cache) {
			c.RedisAddrs = []string{"rediss://capi:secret@redis.internal/2"}
			c.RedisUsername, c.RedisPassword, c.RedisDB, c.RedisTLS = "capi", "secret", 2, true
		}, RedisTarget{Addrs: []string{"redis.internal:6379"}, Username: "capi", Password: "secret", DB: 2, TLS: true}},
		{"cluster", func(c *Cache) {
			c.RedisAddrs = []string{"rediss://:secret@node-0:7000", "rediss://:secret@node-1:7000", "rediss://:secret@node-2:7000"}
		}, RedisTarget{Addrs: []string{"node-0:7000", "node-1:7000", "node-2:7000"}, Password: "secret", TLS: true}},
		{"sentinels", func(c *Cache) {
			c.RedisAddrs = []string{"redis://sentinel:s3nt@sentinel-0:26379/1", "redis://sentinel:s3nt@sentinel-1:26379/1"}
			c.RedisMasterName, c.RedisPassword = "capibridge", "secret"
		}, RedisTarget{Addrs: []string{"sentinel-0:26379", "sentinel-1:26379"}, MasterName: "capibridge", Password: "secret",
			SentinelUsername: "sentinel", SentinelPassword: "s3nt", DB: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Default()
			tc.cache(&cfg.Cache)
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			got, err := cfg.Cache.RedisTarget()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RedisTarget() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A URL alone means what go-redis's own parser makes of it.
func TestRedisURLAsGoRedisReadsIt(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"redis://127.0.0.1:6380", "redis://:secret@127.0.0.1:6380/2", "redis://capi:secret@redis.internal/3",
		"redis://capi@redis.internal", "rediss://redis.internal//5/", "redis://[::1]:6390/0", "redis://:p%40ss%2Cw@h",
	} {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			o, err := redis.ParseURL(raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Cache{RedisAddrs: []string{raw}}.RedisTarget()
			if err != nil {
				t.Fatal(err)
			}
			want := RedisTarget{Addrs: []string{o.Addr}, Username: o.Username, Password: o.Password, DB: o.DB, TLS: o.TLSConfig != nil}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("RedisTarget() = %+v, redis.ParseURL gives %+v", got, want)
			}
		})
	}
}

// Validate refuses what cannot work at start-up, names the key, and never
// shows a password ("secret" in every case that has one).
func TestValidateRedisAddrs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cache func(*Cache)
		field string
		says  string
	}{
		{"not host:port", func(c *Cache) { c.RedisAddrs = []string{"no-port"} }, "cache.redis_addrs", "neither host:port nor"},
		{"http", func(c *Cache) { c.RedisAddrs = []string{"http://:secret@redis.internal:6379"} }, "cache.redis_addrs", "scheme"},
		{"unix socket", func(c *Cache) { c.RedisAddrs = []string{"unix:///run/redis.sock"} }, "cache.redis_addrs", "scheme"},
		{"no host", func(c *Cache) { c.RedisAddrs = []string{"redis://:secret@/2"} }, "cache.redis_addrs", "names no host"},
		{"no //", func(c *Cache) { c.RedisAddrs = []string{"redis:redis.internal:6379"} }, "cache.redis_addrs", "neither host:port nor"},
		{"database not a number", func(c *Cache) { c.RedisAddrs = []string{"redis://:secret@redis.internal/two"} }, "cache.redis_addrs", "database number"},
		{"negative database", func(c *Cache) { c.RedisAddrs = []string{"redis://redis.internal/-1"} }, "cache.redis_addrs", "database number"},
		{"long path", func(c *Cache) { c.RedisAddrs = []string{"redis://redis.internal/1/2"} }, "cache.redis_addrs", "database number"},
		{"port out of range", func(c *Cache) { c.RedisAddrs = []string{"redis://redis.internal:70000"} }, "cache.redis_addrs", "port"},
		{"query options", func(c *Cache) { c.RedisAddrs = []string{"redis://:secret@redis.internal?dial_timeout=1s"} }, "cache.redis_addrs", "query options"},
		{"unencoded #", func(c *Cache) { c.RedisAddrs = []string{"redis://:sec#ret@redis.internal"} }, "cache.redis_addrs", "percent-encode"},
		{"unencoded ?", func(c *Cache) { c.RedisAddrs = []string{"redis://:secret?@redis.internal"} }, "cache.redis_addrs", "percent-encode"},
		{"mixed forms", func(c *Cache) { c.RedisAddrs = []string{"redis://:secret@node-0:7000", "node-1:7000"} }, "cache.redis_addrs", "mixes URLs"},
		{"mixed schemes", func(c *Cache) { c.RedisAddrs = []string{"rediss://node-0:7000", "redis://node-1:7000"} }, "cache.redis_addrs", "redis:// and rediss://"},
		{"different passwords", func(c *Cache) { c.RedisAddrs = []string{"redis://:secret@node-0:7000", "redis://:secret2@node-1:7000"} },
			"cache.redis_addrs", "passwords"},
		{"different databases", func(c *Cache) {
			c.RedisMasterName = "m"
			c.RedisAddrs = []string{"redis://sentinel-0:26379/1", "redis://sentinel-1:26379"}
		}, "cache.redis_addrs", "databases"},
		{"password key differs", func(c *Cache) { c.RedisAddrs = []string{"redis://:secret@redis.internal"}; c.RedisPassword = "secret2" },
			"cache.redis_password", "differs"},
		{"username key differs", func(c *Cache) {
			c.RedisAddrs = []string{"redis://capi:secret@redis.internal"}
			c.RedisUsername = "other"
		},
			"cache.redis_username", "differs"},
		{"db key differs", func(c *Cache) { c.RedisAddrs = []string{"redis://:secret@redis.internal/0"}; c.RedisDB = 3 }, "cache.redis_db", "differs"},
		{"tls key on redis://", func(c *Cache) { c.RedisAddrs = []string{"redis://:secret@redis.internal"}; c.RedisTLS = true }, "cache.redis_tls", "rediss://"},
		{"cluster database", func(c *Cache) { c.RedisAddrs = []string{"node-0:7000", "node-1:7000"}; c.RedisDB = 1 }, "cache.redis_db", "Cluster"},
		{"cluster database in URLs", func(c *Cache) {
			c.RedisAddrs = []string{"redis://:secret@node-0:7000/2", "redis://:secret@node-1:7000/2"}
		},
			"cache.redis_db", "Cluster"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Default()
			tc.cache(&cfg.Cache)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("Validate() = nil")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.field+":") || !strings.Contains(msg, tc.says) {
				t.Errorf("Validate() = %v, want an error naming %s that says %q", err, tc.field, tc.says)
			}
			if strings.Contains(msg, "secret") || strings.Contains(msg, "ret@") {
				t.Errorf("Validate() shows a password: %v", err)
			}
		})
	}
}

func TestRedisURLFromTheEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", []string{"CAPIBRIDGE_CACHE_REDIS_ADDRS=rediss://:p%2Cw@node-0:7000,rediss://:p%2Cw@node-1:7000"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := cfg.Cache.RedisTarget()
	if err != nil {
		t.Fatal(err)
	}
	want := RedisTarget{Addrs: []string{"node-0:7000", "node-1:7000"}, Password: "p,w", TLS: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RedisTarget() = %+v, want %+v", got, want)
	}
}
