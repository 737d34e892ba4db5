// Package configs holds capibridge's configuration: one documented struct,
// its defaults, loading from a YAML file and CAPIBRIDGE_* environment
// variables, and validation at start-up.
package configs

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// EnvPrefix prefixes every environment variable capibridge reads.
const EnvPrefix = "CAPIBRIDGE_"

// Config is the whole configuration of capibridge.
type Config struct {
	// Listen is the public address the gateway serves clients on.
	Listen string `koanf:"listen"`
	// AdminListen is the address of /metrics, /healthz, /readyz and pprof.
	AdminListen string `koanf:"admin_listen"`
	// Upstream is the Cloud Controller v3 URL. Empty starts the embedded
	// Cloud Foundry on an internal loopback port and uses it.
	Upstream string `koanf:"upstream"`
	// Data is where the embedded Cloud Foundry keeps its state when the
	// gateway starts it.
	Data string `koanf:"data"`
	// LogLevel is one of debug, info, warn, error.
	LogLevel string `koanf:"log_level"`
	// ExternalURL is the gateway's public URL, such as
	// "https://api.example.org": the cloud_controller_v2/v3 links of / and
	// /v3 point there so clients stay behind the gateway. Empty uses each
	// request's scheme and Host.
	ExternalURL string `koanf:"external_url"`
	// UAAPassthrough is the URL of a UAA whose client endpoints (/login,
	// /oauth/token, /token_keys, /userinfo, ...) the gateway serves on its
	// own address, so that a client that reaches only the gateway can log
	// in; the login and uaa links of the discovery documents then name the
	// gateway. Empty passes nothing to a UAA and leaves those links as the
	// Cloud Controller says. `serve` in front of the embedded Cloud Foundry
	// sets it to the embedded UAA.
	UAAPassthrough string `koanf:"uaa_passthrough"`
	// LogCachePassthrough is the URL of a log-cache whose HTTP API
	// (/api/v1/info, /api/v1/read/..., ...) the gateway serves on its own
	// address; the log_cache link of / then names the gateway, where the cf
	// CLI reads an app's logs during push, start and logs. Empty: none.
	// `serve` in front of the embedded Cloud Foundry sets it to the
	// embedded log cache.
	LogCachePassthrough string `koanf:"log_cache_passthrough"`
	// RoutingPassthrough is the URL of a routing API whose /routing/v1
	// (router groups, which the cf CLI reads for TCP domains) the gateway
	// serves on its own address; the routing link of / and /v2/info's
	// routing_endpoint then name the gateway. Empty: none. `serve` in
	// front of the embedded Cloud Foundry sets it to the embedded routing
	// API.
	RoutingPassthrough string `koanf:"routing_passthrough"`
	// V2Passthrough lists v2 path prefixes (such as "/v2/service_brokers")
	// sent to the upstream as they are, for a Cloud Controller that still
	// serves v2. Other untranslated v2 paths are 404 CF-NotFound.
	V2Passthrough []string `koanf:"v2_passthrough"`
	// AllowAppSSHAccess is the Cloud Controller's allow_app_ssh_access,
	// which v3 does not expose: off, a v2 write of enable_ssh true is
	// refused, as CC refuses it.
	AllowAppSSHAccess bool `koanf:"allow_app_ssh_access"`
	// MaxInlineRelationsDepth is the largest inline-relations-depth a v2
	// request may ask for (CC's renderer.max_inline_relations_depth: 2 in
	// production); above it, 400 BadQueryParameter.
	MaxInlineRelationsDepth int `koanf:"max_inline_relations_depth"`
	// MaxLocalScan bounds how many v3 resources the gateway reads to apply
	// a v2 filter v3 cannot express (name>=x, ...); past it the request is
	// a 400 BadQueryParameter asking for a narrower query.
	MaxLocalScan int `koanf:"max_local_scan"`
	// Server bounds the public listener.
	Server Server `koanf:"server"`
	// UpstreamClient tunes the connections to the upstream.
	UpstreamClient UpstreamClient `koanf:"upstream_client"`
	// Auth configures token verification at the door.
	Auth Auth `koanf:"auth"`
	// Cache configures the v2 list-page cache.
	Cache Cache `koanf:"cache"`
	// Background configures the gateway's own work, done as a UAA client
	// of its own.
	Background Background `koanf:"background"`
	// Migration configures the migration cockpit.
	Migration Migration `koanf:"migration"`
	// CloudFoundry configures the gateway as an app on Cloud Foundry.
	CloudFoundry CloudFoundry `koanf:"cloud_foundry"`
	// Shadow configures shadow mode.
	Shadow Shadow `koanf:"shadow"`
	// Backend configures the embedded Cloud Foundry.
	Backend Backend `koanf:"backend"`
}

// Background is the gateway's own work, done with a UAA client of its own
// (the client_credentials grant): finishing the pending v2 starts nobody
// reads, and following audit events to invalidate the cache on changes
// made around the gateway. Off without a client id; `serve` in front of
// the embedded Cloud Foundry uses the embedded UAA's gateway client.
type Background struct {
	// ClientID and ClientSecret are the UAA client. It needs
	// cloud_controller.admin to finish starts (reading audit events needs
	// only admin_read_only).
	ClientID     string `koanf:"client_id"`
	ClientSecret string `koanf:"client_secret"`
	// TokenURL is UAA's token endpoint; empty takes the uaa link of the
	// upstream's root document, plus /oauth/token.
	TokenURL string `koanf:"token_url"`
	// SweepInterval is how often pending v2 starts are looked for; 0 turns
	// the sweep off.
	SweepInterval time.Duration `koanf:"sweep_interval"`
	// WatchInterval is how often new audit events are read to invalidate
	// the cache; 0 turns the watch off.
	WatchInterval time.Duration `koanf:"watch_interval"`
}

// Cache configures the v2 list-page cache: an in-process tier in front of
// an optional Redis shared by every gateway instance.
type Cache struct {
	// Enabled turns the cache on. Off, every v2 read goes upstream.
	Enabled bool `koanf:"enabled"`
	// LocalMaxBytes bounds the in-process tier (bodies plus overhead).
	LocalMaxBytes int64 `koanf:"local_max_bytes"`
	// MaxEntryBytes is the largest body kept; larger ones are served, not kept.
	MaxEntryBytes int64 `koanf:"max_entry_bytes"`
	// FragmentMaxBytes bounds the in-process tier of per-app fragments,
	// the parts of v2 app pages v3 has no batch read for.
	FragmentMaxBytes int64 `koanf:"fragment_max_bytes"`
	// RedisAddrs are the Redis servers: one for a standalone Redis,
	// several for a Cluster, or the Sentinels with RedisMasterName. Empty
	// runs the in-process tier alone, right for a single instance. Each
	// is host:port or a URL, redis://[user[:password]@]host[:port][/db]
	// (rediss:// for TLS), as go-redis's redis.ParseURL reads it but
	// without ?options. A URL's user and password are RedisUsername and
	// RedisPassword, or for Sentinels the Sentinels' own; its database and
	// scheme set RedisDB and RedisTLS. Entries are all URLs or all
	// host:port, the URLs differ in host and port only, and keys set beside
	// them must agree (Cache.RedisTarget). Percent-encode @ : / ? # % and ,
	// in a URL's password (a comma separates the entries of
	// CAPIBRIDGE_CACHE_REDIS_ADDRS).
	RedisAddrs []string `koanf:"redis_addrs"`
	// RedisMasterName is the Sentinel master name; set, RedisAddrs are
	// Sentinels.
	RedisMasterName string `koanf:"redis_master_name"`
	// RedisUsername and RedisPassword authenticate to Redis (ACL or
	// requirepass): the standalone server, every Cluster node, or the
	// Sentinels' master. They may stand in for the user and password of
	// URLs in RedisAddrs that leave them out, so that a secret can come
	// from CAPIBRIDGE_CACHE_REDIS_PASSWORD rather than the file.
	RedisUsername string `koanf:"redis_username"`
	RedisPassword string `koanf:"redis_password"`
	// RedisDB is the database of a standalone Redis or a Sentinel's master
	// (a Cluster has only database 0).
	RedisDB int `koanf:"redis_db"`
	// RedisTLS connects to Redis over TLS; rediss:// URLs set it.
	RedisTLS bool `koanf:"redis_tls"`
	// RedisTimeout bounds each Redis command; past it the request goes
	// upstream and the cache backs off from Redis for a moment.
	RedisTimeout time.Duration `koanf:"redis_timeout"`
	// TTL is how long a page is served from the cache without asking the
	// upstream: it bounds staleness from writes that bypass the gateway.
	TTL time.Duration `koanf:"ttl"`
	// StaleIfError is how long past its TTL a page may still be served,
	// marked stale, when the upstream fails.
	StaleIfError time.Duration `koanf:"stale_if_error"`
	// Routes overrides the TTL of cached routes, as "template=ttl" entries
	// such as "/v2/apps=10s"; a TTL of 0 stops caching that route.
	Routes []string `koanf:"routes"`
}

// Server bounds the public listener against slow and oversized clients.
type Server struct {
	// ReadTimeout bounds reading one request's headers and a body the
	// server reads whole (up to MaxRequestBodyBytes); a larger body is
	// streamed, and then bounds a stall: an upload that keeps coming may
	// last longer. A slow client is cut off after it.
	ReadTimeout time.Duration `koanf:"read_timeout"`
	// WriteTimeout bounds writing one response.
	WriteTimeout time.Duration `koanf:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// MaxHeaderBytes bounds the request line and headers; UAA tokens are
	// often over 4 KiB, so keep it well above that.
	MaxHeaderBytes int `koanf:"max_header_bytes"`
	// MaxRequestBodyBytes bounds request bodies but bits: a v2 body the
	// gateway reads whole (JSON), or an API body passed through, larger is
	// 413. Uploads and downloads of bits (paths ending in /upload,
	// /download or /bits) may be of any size and are streamed, never held
	// in memory.
	MaxRequestBodyBytes int `koanf:"max_request_body_bytes"`
	// ShutdownTimeout bounds draining in-flight requests on SIGTERM/SIGINT.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// MaxConns caps the open client connections, idle keep-alive ones
	// included; 0 leaves them uncapped. A connection past it is answered
	// 503 ServiceUnavailable with Retry-After and closed (closed without
	// an answer while more than 512 are being refused at once).
	MaxConns int `koanf:"max_conns"`
	// MaxConnsPerIP caps the open connections of one client IP, answered
	// 429 RateLimitExceeded past it; 0 leaves them uncapped. Behind a load
	// balancer or router that does not keep the client's address every
	// connection comes from a few IPs: leave it 0 there.
	MaxConnsPerIP int `koanf:"max_conns_per_ip"`
	// MemoryReturnInterval is how often the gateway looks whether it holds
	// memory a burst left behind while the Go runtime has not collected:
	// when no collection ran over the whole interval and the heap holds
	// at least 32 MiB more than was live at the last one, it collects and
	// returns the memory to the operating system at once, instead of
	// minutes later. 0 leaves it to the runtime.
	MemoryReturnInterval time.Duration `koanf:"memory_return_interval"`
	// CompressMinBytes is the smallest translated v2 body compressed for a
	// client that accepts gzip (cached pages are kept compressed whatever
	// their size above 1 KiB); negative turns it off.
	CompressMinBytes int `koanf:"compress_min_bytes"`
	// MetricsBasicAuth, "user:password", serves /metrics on the public
	// listener too, to that HTTP Basic credential: for platforms such as
	// Cloud Foundry that route nothing to the admin port. Empty: /metrics
	// only on the admin port.
	MetricsBasicAuth string `koanf:"metrics_basic_auth"`
}

// UpstreamClient tunes the gateway's connections to the Cloud Controller.
type UpstreamClient struct {
	// Addresses, when set, are the host:port pairs dialled in turn instead
	// of the upstream URL's host (several Cloud Controller instances).
	Addresses []string `koanf:"addresses"`
	// MaxConns bounds open connections per address.
	MaxConns int `koanf:"max_conns"`
	// DialTimeout bounds establishing a connection.
	DialTimeout time.Duration `koanf:"dial_timeout"`
	// RequestTimeout bounds one upstream API request, body included; past
	// it the client gets 504.
	RequestTimeout time.Duration `koanf:"request_timeout"`
	// TransferTimeout bounds an upload or download of bits (paths ending
	// in /upload or /download, and bodies too large to buffer).
	TransferTimeout time.Duration `koanf:"transfer_timeout"`
	// IdleTimeout closes pooled connections idle this long. Keep it below
	// the upstream's own keep-alive timeout (Puma's persistent_timeout is
	// 20 s, nginx's keepalive_timeout 75 s, the embedded Cloud Foundry's
	// 2 min), so that the gateway, not the upstream, closes an idle
	// connection: one the upstream closes just as a request is written to
	// it fails that request.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// MaxConnWait is how long an upstream request waits for a connection
	// when MaxConns are all busy, before it is refused with 503; 0 refuses
	// at once.
	MaxConnWait time.Duration `koanf:"max_conn_wait"`
	// IdentityMaxConns bounds the upstream requests one identity (a
	// token's user_id, or client_id for a client's own token) has in
	// flight, so that one user's flood leaves connections to everyone else;
	// 0 turns the bound off.
	IdentityMaxConns int `koanf:"identity_max_conns"`
	// IdentityWait is how long an upstream request over its identity's
	// IdentityMaxConns waits for one of them before the client is answered
	// 429 RateLimitExceeded (10013) with Retry-After; 0 answers at once.
	IdentityWait time.Duration `koanf:"identity_wait"`
	// Fanout bounds the concurrent per-app v3 calls one v2 request makes
	// (v3 has no batch form of environment variables, ssh or the current
	// droplet).
	Fanout int `koanf:"fanout"`
	// InsecureSkipVerify turns off TLS verification of the upstream (tests
	// and labs only).
	InsecureSkipVerify bool `koanf:"insecure_skip_verify"`
}

// Auth configures how the gateway verifies bearer tokens (MAPPING §4). With
// no keys configured, keys and issuer are discovered as the Cloud
// Controller does: the upstream's / names the UAA, whose /token_keys and
// /.well-known/openid-configuration give them.
type Auth struct {
	// HMACSecrets verify HS256/384/512 tokens (CC's uaa.symmetric_secret and
	// symmetric_secret2), tried in order.
	HMACSecrets []string `koanf:"hmac_secrets"`
	// PublicKeys verify RS* and ES* tokens: PEM text, or paths to PEM files.
	PublicKeys []string `koanf:"public_keys"`
	// TokenKeysURL is UAA's /token_keys, fetched and refreshed in the
	// background.
	TokenKeysURL string `koanf:"token_keys_url"`
	// Issuer is the iss every token must carry; empty discovers it from
	// UAA's /.well-known/openid-configuration.
	Issuer string `koanf:"issuer"`
	// Audiences: a token's aud must contain one of them (CC's uaa.resource_id).
	Audiences []string `koanf:"audiences"`
	// Leeway tolerates clock skew on exp, iat and nbf.
	Leeway time.Duration `koanf:"leeway"`
	// CacheSize bounds the verified-token cache (entries).
	CacheSize int `koanf:"cache_size"`
	// KeysRefresh is how often /token_keys is fetched again (CC: 30 s).
	KeysRefresh time.Duration `koanf:"keys_refresh"`
	// KeysMinRefetch rate-limits refetching /token_keys when a token names
	// an unknown kid or fails every known key.
	KeysMinRefetch time.Duration `koanf:"keys_min_refetch"`
	// DiscoverRetry and DiscoverRetryMax pace the discovery of the UAA
	// from the upstream's GET / when the upstream does not answer at start:
	// the gateway serves anyway (/readyz false, token-bearing requests 503
	// UaaUnavailable) and asks again after DiscoverRetry, doubling the wait
	// up to DiscoverRetryMax.
	DiscoverRetry    time.Duration `koanf:"discover_retry"`
	DiscoverRetryMax time.Duration `koanf:"discover_retry_max"`
}

// Backend configures the embedded Cloud Foundry (the backend package).
type Backend struct {
	// Listen is the address of `capibridge backend`.
	Listen string `koanf:"listen"`
	// Data is the directory of the SQLite database and the UAA signing key,
	// or ":memory:" to keep everything in memory.
	Data string `koanf:"data"`
	// ExternalURL is the base of the absolute links in responses, such as
	// "https://api.example.org". Empty builds them from each request's Host.
	ExternalURL string `koanf:"external_url"`
	// UAAURL and LoginURL are the uaa and login links of GET /. Empty means
	// the embedded CF's own base URL.
	UAAURL   string `koanf:"uaa_url"`
	LoginURL string `koanf:"login_url"`
	// TokenIssuer is the iss of the tokens the embedded UAA signs, and the
	// only issuer the embedded CF accepts.
	TokenIssuer string `koanf:"token_issuer"`
	// TokenTTL is how long minted access tokens stay valid.
	TokenTTL time.Duration `koanf:"token_ttl"`
	// DefaultMemoryMB, DefaultDiskMB and DefaultLogRateLimit size a new web
	// process (CC's default_app_memory, default_app_disk_in_mb and
	// default_app_log_rate_limit_in_bytes_per_second; -1 is unlimited).
	DefaultMemoryMB     int64 `koanf:"default_memory_mb"`
	DefaultDiskMB       int64 `koanf:"default_disk_mb"`
	DefaultLogRateLimit int64 `koanf:"default_log_rate_limit"`
	// JobDelay is how long an asynchronous job (an app delete) waits before
	// it runs, so that clients see it PROCESSING as they do on a real CC.
	JobDelay time.Duration `koanf:"job_delay"`
	// StagingDuration is how long a simulated build stays STAGING before it
	// is STAGED (or FAILED).
	StagingDuration time.Duration `koanf:"staging_duration"`
	// StartupDuration is how long a simulated instance stays STARTING
	// before it is RUNNING (or CRASHED).
	StartupDuration time.Duration `koanf:"startup_duration"`
	// UserPasswords sets the embedded UAA's password of seeded users, as
	// "name=password" entries. A user not named here has its own name as
	// password: fit only for the loopback-only default setup.
	UserPasswords []string `koanf:"user_passwords"`
	// GatewayClientID and GatewayClientSecret are the embedded UAA's
	// client for the client_credentials grant: the gateway's own
	// background work (admin read access).
	GatewayClientID     string `koanf:"gateway_client_id"`
	GatewayClientSecret string `koanf:"gateway_client_secret"`
	// RefreshTokenTTL is how long refresh tokens stay valid.
	RefreshTokenTTL time.Duration `koanf:"refresh_token_ttl"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Listen:                  ":8080",
		AdminListen:             "127.0.0.1:9090",
		Data:                    "./capibridge-data",
		LogLevel:                "info",
		V2Passthrough:           []string{},
		AllowAppSSHAccess:       true,
		MaxInlineRelationsDepth: 2,
		MaxLocalScan:            50000,
		Server: Server{
			ReadTimeout:         60 * time.Second,
			WriteTimeout:        10 * time.Minute,
			IdleTimeout:         2 * time.Minute,
			MaxHeaderBytes:      64 << 10,
			MaxRequestBodyBytes: 4 << 20,
			ShutdownTimeout:     30 * time.Second,
			// Well under the descriptors a process may open (the Go runtime
			// raises the soft limit to the hard one, often 1,048,576 or
			// 65,536), with room for upstream and Redis connections.
			MaxConns:             10000,
			MaxConnsPerIP:        0,
			MemoryReturnInterval: 10 * time.Second,
			CompressMinBytes:     8 << 10,
		},
		UpstreamClient: UpstreamClient{
			Addresses:       []string{},
			MaxConns:        512,
			DialTimeout:     5 * time.Second,
			RequestTimeout:  60 * time.Second,
			TransferTimeout: 30 * time.Minute,
			IdleTimeout:     15 * time.Second,
			MaxConnWait:     5 * time.Second,
			// A quarter of the pool: one user's flood leaves three
			// quarters of it to everyone else.
			IdentityMaxConns: 128,
			IdentityWait:     5 * time.Second,
			Fanout:           16,
		},
		Auth: Auth{
			HMACSecrets:      []string{},
			PublicKeys:       []string{},
			Audiences:        []string{"cloud_controller"},
			CacheSize:        10000,
			KeysRefresh:      30 * time.Second,
			KeysMinRefetch:   5 * time.Second,
			DiscoverRetry:    time.Second,
			DiscoverRetryMax: 30 * time.Second,
		},
		Cache: Cache{
			Enabled:          true,
			LocalMaxBytes:    64 << 20,
			MaxEntryBytes:    4 << 20,
			FragmentMaxBytes: 32 << 20,
			RedisAddrs:       []string{},
			RedisTimeout:     50 * time.Millisecond,
			TTL:              30 * time.Second,
			StaleIfError:     5 * time.Minute,
			Routes:           []string{},
		},
		Background: Background{
			SweepInterval: 30 * time.Second,
			WatchInterval: 5 * time.Second,
		},
		Migration: DefaultMigration(),
		Shadow:    DefaultShadow(),
		Backend:   DefaultBackend(),
	}
}

// DefaultBackend returns the embedded Cloud Foundry's defaults.
func DefaultBackend() Backend {
	return Backend{
		Listen:              "127.0.0.1:9022",
		Data:                "./capibridge-data",
		TokenIssuer:         "http://localhost/uaa/oauth/token",
		TokenTTL:            12 * time.Hour,
		DefaultMemoryMB:     1024,
		DefaultDiskMB:       1024,
		DefaultLogRateLimit: -1,
		JobDelay:            50 * time.Millisecond,
		StagingDuration:     time.Second,
		StartupDuration:     time.Second,
		UserPasswords:       []string{},
		GatewayClientID:     "capibridge_gateway",
		GatewayClientSecret: "capibridge_gateway",
		RefreshTokenTTL:     30 * 24 * time.Hour,
	}
}

// Load builds the configuration: defaults, then the YAML file at path (if
// path is not empty), then CAPIBRIDGE_* variables from environ. A nested key
// is named by joining its path with "_", e.g.
// CAPIBRIDGE_BACKEND_DEFAULT_MEMORY_MB. Unknown keys and variables are
// errors. On Cloud Foundry (VCAP_APPLICATION in environ) $PORT and a bound
// Redis fill listen and the cache's Redis where neither set them
// (cloudfoundry.go). Callers apply their flags, then call Validate.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	k := koanf.New(".")
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return cfg, fmt.Errorf("configs: %s: %w", path, err)
		}
	}
	envKeys := map[string]string{}
	listKeys := map[string]bool{}
	structLists := structListsOf(reflect.TypeOf(Config{}), "")
	for _, key := range listKeysOf(reflect.TypeOf(Config{}), "") {
		listKeys[key] = true
	}
	for _, key := range Keys() {
		envKeys[EnvPrefix+strings.ToUpper(strings.ReplaceAll(key, ".", "_"))] = key
	}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key, known := envKeys[name]
		if !known {
			return cfg, fmt.Errorf("configs: unknown variable %s", name)
		}
		if _, ok := structLists[key]; ok {
			return cfg, fmt.Errorf("configs: %s: %s is a list of objects: set it in the YAML file", name, key)
		}
		var v any = value
		if listKeys[key] {
			// A list in a variable is comma-separated; empty is an empty list.
			parts := []string{}
			for _, p := range strings.Split(value, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			v = parts
		}
		if err := k.Set(key, v); err != nil {
			return cfg, fmt.Errorf("configs: %s: %w", name, err)
		}
	}
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return cfg, fmt.Errorf("configs: %w", err)
	}
	for _, key := range k.Keys() {
		if !contains(Keys(), key) {
			return cfg, fmt.Errorf("configs: unknown key %q", key)
		}
	}
	for key, item := range structLists {
		if err := checkItemKeys(key, k.Get(key), item); err != nil {
			return cfg, err
		}
	}
	platform := map[string]string{}
	for _, kv := range environ {
		if name, value, ok := strings.Cut(kv, "="); ok && (name == "VCAP_APPLICATION" || name == "VCAP_SERVICES" || name == "PORT") {
			platform[name] = value
		}
	}
	if err := applyCloudFoundry(&cfg, platform, k.Exists); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// structListsOf maps the keys of lists of objects (migration.brownouts)
// to their item type. koanf leaves them whole, so their items' keys are
// checked on their own.
func structListsOf(t reflect.Type, prefix string) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)):
			maps.Copy(out, structListsOf(f.Type, prefix+name+"."))
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			out[prefix+name] = f.Type.Elem()
		}
	}
	return out
}

// checkItemKeys refuses keys of a list's objects that item does not have.
func checkItemKeys(key string, v any, item reflect.Type) error {
	list, _ := v.([]any)
	for i, entry := range list {
		m, ok := entry.(map[string]any)
		if !ok {
			return fmt.Errorf("configs: %s[%d]: not an object", key, i)
		}
		for name := range m {
			if !slices.Contains(keysOf(item, ""), name) {
				return fmt.Errorf("configs: unknown key %q in %s[%d]", name, key, i)
			}
		}
	}
	return nil
}

// Environ is os.Environ, for callers of Load.
func Environ() []string { return os.Environ() }

// Keys lists every configuration key, dotted, in declaration order.
func Keys() []string { return keysOf(reflect.TypeOf(Config{}), "") }

func keysOf(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			out = append(out, keysOf(f.Type, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

func listKeysOf(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)):
			out = append(out, listKeysOf(f.Type, prefix+name+".")...)
		case f.Type.Kind() == reflect.Slice:
			out = append(out, prefix+name)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// Validate reports the cache settings that cannot work, by their keys.
func (c Cache) Validate() error {
	var errs []error
	if c.LocalMaxBytes < 0 || c.MaxEntryBytes < 0 {
		errs = append(errs, errors.New("configs: cache.local_max_bytes, cache.max_entry_bytes: must not be negative"))
	}
	if _, err := c.RedisTarget(); err != nil {
		errs = append(errs, err)
	}
	if c.RedisMasterName != "" && len(c.RedisAddrs) == 0 {
		errs = append(errs, errors.New("configs: cache.redis_master_name: needs the Sentinels in cache.redis_addrs"))
	}
	if c.RedisDB < 0 {
		errs = append(errs, errors.New("configs: cache.redis_db: must not be negative"))
	}
	if c.RedisTimeout <= 0 {
		errs = append(errs, errors.New("configs: cache.redis_timeout: must be positive"))
	}
	if c.TTL < 0 || c.StaleIfError < 0 {
		errs = append(errs, errors.New("configs: cache.ttl, cache.stale_if_error: must not be negative"))
	}
	for _, r := range c.Routes {
		if _, _, err := ParseRouteTTL(r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ParseRouteTTL reads a cache.routes entry, "template=ttl".
func ParseRouteTTL(entry string) (template string, ttl time.Duration, err error) {
	template, v, ok := strings.Cut(entry, "=")
	if !ok || !strings.HasPrefix(template, "/v2/") {
		return "", 0, fmt.Errorf("configs: cache.routes: %q is not /v2/template=ttl", entry)
	}
	ttl, err = time.ParseDuration(v)
	if err != nil || ttl < 0 {
		return "", 0, fmt.Errorf("configs: cache.routes: %q: the ttl must be a duration such as 30s", entry)
	}
	return template, ttl, nil
}

// Validate reports the first field that cannot work, by its key.
func (c Config) Validate() error {
	var errs []error
	if err := checkAddr("listen", c.Listen); err != nil {
		errs = append(errs, err)
	}
	if err := checkAddr("admin_listen", c.AdminListen); err != nil {
		errs = append(errs, err)
	}
	if c.Upstream != "" {
		if err := checkURL("upstream", c.Upstream); err != nil {
			errs = append(errs, err)
		}
	} else if c.Data == "" {
		errs = append(errs, errors.New("configs: data: must be set when upstream is empty"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("configs: log_level: %q is not one of debug, info, warn, error", c.LogLevel))
	}
	for key, v := range map[string]string{"uaa_passthrough": c.UAAPassthrough, "log_cache_passthrough": c.LogCachePassthrough,
		"routing_passthrough": c.RoutingPassthrough} {
		if v == "" {
			continue
		}
		// The client's path goes to the component as it is: a component
		// under a path prefix would need it rewritten.
		if err := checkURL(key, v); err != nil {
			errs = append(errs, err)
		} else if u, _ := url.Parse(v); strings.TrimSuffix(u.Path, "/") != "" {
			errs = append(errs, fmt.Errorf("configs: %s: %q has a path; give the component's origin (scheme://host:port)", key, v))
		}
	}
	if c.ExternalURL != "" {
		if err := checkURL("external_url", c.ExternalURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MaxLocalScan < 1 {
		errs = append(errs, errors.New("configs: max_local_scan: must be positive"))
	}
	if c.MaxInlineRelationsDepth < 0 {
		errs = append(errs, errors.New("configs: max_inline_relations_depth: must not be negative"))
	}
	for _, p := range c.V2Passthrough {
		if !strings.HasPrefix(p, "/v2/") {
			errs = append(errs, fmt.Errorf("configs: v2_passthrough: %q does not start with /v2/", p))
		}
	}
	for key, d := range map[string]time.Duration{"server.read_timeout": c.Server.ReadTimeout, "server.write_timeout": c.Server.WriteTimeout,
		"server.idle_timeout": c.Server.IdleTimeout, "server.shutdown_timeout": c.Server.ShutdownTimeout,
		"upstream_client.dial_timeout": c.UpstreamClient.DialTimeout, "upstream_client.request_timeout": c.UpstreamClient.RequestTimeout,
		"upstream_client.transfer_timeout": c.UpstreamClient.TransferTimeout,
		"upstream_client.idle_timeout":     c.UpstreamClient.IdleTimeout, "auth.keys_refresh": c.Auth.KeysRefresh,
		"auth.keys_min_refetch": c.Auth.KeysMinRefetch} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("configs: %s: must be positive", key))
		}
	}
	if a := c.Server.MetricsBasicAuth; a != "" {
		if user, pass, ok := strings.Cut(a, ":"); !ok || user == "" || pass == "" {
			errs = append(errs, errors.New("configs: server.metrics_basic_auth: must be user:password, both set"))
		}
	}
	if c.Server.MaxHeaderBytes < 8<<10 {
		errs = append(errs, errors.New("configs: server.max_header_bytes: must be at least 8192 (UAA tokens exceed 4 KiB)"))
	}
	if c.Server.MaxRequestBodyBytes < 1 {
		errs = append(errs, errors.New("configs: server.max_request_body_bytes: must be positive"))
	}
	if c.Server.MaxConns < 0 || c.Server.MaxConnsPerIP < 0 {
		errs = append(errs, errors.New("configs: server.max_conns, server.max_conns_per_ip: must not be negative (0 is uncapped)"))
	}
	if c.Server.MaxConns > 0 && c.Server.MaxConnsPerIP > c.Server.MaxConns {
		errs = append(errs, errors.New("configs: server.max_conns_per_ip: must not exceed server.max_conns"))
	}
	if c.Server.MemoryReturnInterval < 0 {
		errs = append(errs, errors.New("configs: server.memory_return_interval: must not be negative (0 is off)"))
	}
	if c.UpstreamClient.Fanout < 1 {
		errs = append(errs, errors.New("configs: upstream_client.fanout: must be positive"))
	}
	if c.UpstreamClient.MaxConns < 1 {
		errs = append(errs, errors.New("configs: upstream_client.max_conns: must be positive"))
	}
	for key, d := range map[string]time.Duration{"upstream_client.max_conn_wait": c.UpstreamClient.MaxConnWait,
		"upstream_client.identity_wait": c.UpstreamClient.IdentityWait} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("configs: %s: must not be negative (0 is no wait)", key))
		}
	}
	if c.UpstreamClient.IdentityMaxConns < 0 {
		errs = append(errs, errors.New("configs: upstream_client.identity_max_conns: must not be negative (0 is no bound)"))
	}
	if c.Auth.DiscoverRetry <= 0 {
		errs = append(errs, errors.New("configs: auth.discover_retry: must be positive"))
	} else if c.Auth.DiscoverRetryMax < c.Auth.DiscoverRetry {
		errs = append(errs, errors.New("configs: auth.discover_retry_max: must be at least auth.discover_retry"))
	}
	for _, a := range c.UpstreamClient.Addresses {
		if err := checkAddr("upstream_client.addresses", a); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Auth.TokenKeysURL != "" {
		if err := checkURL("auth.token_keys_url", c.Auth.TokenKeysURL); err != nil {
			errs = append(errs, err)
		}
	}
	if len(c.Auth.Audiences) == 0 {
		errs = append(errs, errors.New("configs: auth.audiences: must name at least one audience"))
	}
	if c.Auth.Leeway < 0 {
		errs = append(errs, errors.New("configs: auth.leeway: must not be negative"))
	}
	if c.Auth.CacheSize < 1 {
		errs = append(errs, errors.New("configs: auth.cache_size: must be positive"))
	}
	if c.Background.SweepInterval < 0 || c.Background.WatchInterval < 0 {
		errs = append(errs, errors.New("configs: background.sweep_interval, background.watch_interval: must not be negative"))
	}
	if c.Background.TokenURL != "" {
		if err := checkURL("background.token_url", c.Background.TokenURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Background.ClientID != "" && c.Background.ClientSecret == "" {
		errs = append(errs, errors.New("configs: background.client_secret: must be set with background.client_id"))
	}
	if err := c.Cache.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Migration.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Shadow.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Shadow.Enabled && c.Upstream == "" {
		errs = append(errs, errors.New("configs: shadow.enabled: needs an upstream Cloud Controller that serves v2"))
	}
	if err := c.Backend.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Validate checks the embedded Cloud Foundry's settings.
func (b Backend) Validate() error {
	var errs []error
	if err := checkAddr("backend.listen", b.Listen); err != nil {
		errs = append(errs, err)
	}
	if b.Data == "" {
		errs = append(errs, errors.New(`configs: backend.data: must be a directory or ":memory:"`))
	}
	for key, v := range map[string]string{"backend.external_url": b.ExternalURL, "backend.uaa_url": b.UAAURL, "backend.login_url": b.LoginURL} {
		if v != "" {
			if err := checkURL(key, v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if b.TokenIssuer == "" {
		errs = append(errs, errors.New("configs: backend.token_issuer: must be set"))
	}
	if b.TokenTTL <= 0 {
		errs = append(errs, errors.New("configs: backend.token_ttl: must be positive"))
	}
	if b.DefaultMemoryMB <= 0 {
		errs = append(errs, errors.New("configs: backend.default_memory_mb: must be positive"))
	}
	if b.DefaultDiskMB <= 0 {
		errs = append(errs, errors.New("configs: backend.default_disk_mb: must be positive"))
	}
	if b.DefaultLogRateLimit < -1 {
		errs = append(errs, errors.New("configs: backend.default_log_rate_limit: must be -1 (unlimited) or more"))
	}
	if b.JobDelay < 0 {
		errs = append(errs, errors.New("configs: backend.job_delay: must not be negative"))
	}
	if b.StagingDuration < 0 {
		errs = append(errs, errors.New("configs: backend.staging_duration: must not be negative"))
	}
	if b.StartupDuration < 0 {
		errs = append(errs, errors.New("configs: backend.startup_duration: must not be negative"))
	}
	for _, e := range b.UserPasswords {
		if name, _, ok := strings.Cut(e, "="); !ok || name == "" {
			errs = append(errs, fmt.Errorf("configs: backend.user_passwords: %q is not name=password", e))
		}
	}
	if b.GatewayClientID == "" || b.GatewayClientSecret == "" {
		errs = append(errs, errors.New("configs: backend.gateway_client_id, gateway_client_secret: must be set"))
	}
	if b.RefreshTokenTTL <= 0 {
		errs = append(errs, errors.New("configs: backend.refresh_token_ttl: must be positive"))
	}
	return errors.Join(errs...)
}

func checkAddr(key, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("configs: %s: %q is not host:port: %w", key, addr, err)
	}
	return nil
}

func checkURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("configs: %s: %q is not an http(s) URL", key, raw)
	}
	return nil
}
