// Package configs holds capibridge's configuration: one documented struct,
// its defaults, loading from a YAML file and CAPIBRIDGE_* environment
// variables, and validation at start-up.
package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
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
	// Redis is the Redis address for the list-page cache; empty keeps the
	// cache in process only.
	Redis string `koanf:"redis"`
	// LogLevel is one of debug, info, warn, error.
	LogLevel string `koanf:"log_level"`
	// Backend configures the embedded Cloud Foundry.
	Backend Backend `koanf:"backend"`
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
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Listen:      ":8080",
		AdminListen: "127.0.0.1:9090",
		Data:        "./capibridge-data",
		LogLevel:    "info",
		Backend:     DefaultBackend(),
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
	}
}

// Load builds the configuration: defaults, then the YAML file at path (if
// path is not empty), then CAPIBRIDGE_* variables from environ. A nested key
// is named by joining its path with "_", e.g.
// CAPIBRIDGE_BACKEND_DEFAULT_MEMORY_MB. Unknown keys and variables are
// errors. Callers apply their flags, then call Validate.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	k := koanf.New(".")
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return cfg, fmt.Errorf("configs: %s: %w", path, err)
		}
	}
	envKeys := map[string]string{}
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
		if err := k.Set(key, value); err != nil {
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
	return cfg, nil
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

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
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
