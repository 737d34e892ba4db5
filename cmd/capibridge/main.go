// Command capibridge is the v2-to-v3 Cloud Controller gateway and its
// embedded Cloud Foundry. Subcommands: serve (the default), backend, token,
// uaa rotate-key, version.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	// Time zones for brownout schedules (migration.brownouts[].timezone)
	// in images without /usr/share/zoneinfo, such as deploy/Dockerfile's.
	_ "time/tzdata"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"capibridge/backend"
	"capibridge/cache"
	"capibridge/configs"
	"capibridge/internal/logbuf"
	"capibridge/metrics"
	"capibridge/proxy"
	"capibridge/proxy/auth"
	v2usage "capibridge/proxy/usage"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "capibridge:", err)
		os.Exit(1)
	}
}

// run carries out one command; servers stop when ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "backend":
		return runBackend(ctx, args, stdout, stderr)
	case "token":
		return token(ctx, args, stdout, stderr)
	case "uaa":
		return uaaCmd(ctx, args, stdout, stderr)
	case "usage":
		return usageCmd(ctx, args, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args, stdout, stderr)
	case "shadow-report":
		return shadowReport(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "capibridge %s (Cloud Controller API v2 %s, v3 %s)\n", version, backend.V2Version, backend.V3Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

const usage = `usage: capibridge [command] [flags]

commands:
  serve          run the gateway (default); with no upstream, on the embedded Cloud Foundry
  backend        run the embedded Cloud Foundry alone
  token          print an access token of a seeded user of the embedded Cloud Foundry
  uaa            upkeep of the embedded UAA: uaa rotate-key adds and activates a signing key
  usage          print the v2 usage report of a running gateway (who still calls v2)
  shadow-report  summarise shadow mode's comparisons of native v2 answers with translations
  healthcheck    exit 0 when the gateway's admin /healthz answers 200 (container health checks)
  version        print the version
`

// load reads the config file named by --config, then the environment, then
// applies the flags the user set.
func load(fs *flag.FlagSet, args []string, configPath *string, apply func(*configs.Config)) (configs.Config, error) {
	if err := fs.Parse(args); err != nil {
		return configs.Config{}, err
	}
	cfg, err := configs.Load(*configPath, configEnviron())
	if err != nil {
		return cfg, err
	}
	apply(&cfg)
	return cfg, cfg.Validate()
}

func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// serve runs the gateway. Until the gateway's request path exists it serves
// the embedded Cloud Foundry on the public listener, so that
// `go run ./cmd/capibridge` gives a working v3 API on a laptop.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file")
	listen := fs.String("listen", "", "public listen address (default :8080)")
	adminListen := fs.String("admin-listen", "", "admin listen address (default 127.0.0.1:9090)")
	upstream := fs.String("upstream", "", "Cloud Controller v3 URL; empty runs the embedded Cloud Foundry")
	data := fs.String("data", "", "data dir of the embedded Cloud Foundry (default ./capibridge-data)")
	redis := fs.String("redis", "", "Redis of the list-page cache: host:port, or a redis:// or rediss:// URL (user, password, database)")
	cfg, err := load(fs, args, configPath, func(c *configs.Config) {
		set := setFlags(fs)
		if set["listen"] {
			c.Listen = *listen
		}
		if set["admin-listen"] {
			c.AdminListen = *adminListen
		}
		if set["upstream"] {
			c.Upstream = *upstream
		}
		if set["data"] {
			c.Data = *data
		}
		if set["redis"] {
			c.Cache.RedisAddrs = []string{*redis}
		}
	})
	if err != nil {
		return err
	}
	// Request ids are random uuids: draw their randomness in blocks rather
	// than one getrandom call per request.
	uuid.EnableRandPool()
	// Log lines (one per request) are batched into fewer writes, held at
	// most 200 ms, and flushed on the way out.
	lw := logbuf.New(stderr, 64<<10, 200*time.Millisecond)
	defer lw.Close()
	log := newLogger(cfg.LogLevel, lw)
	// The access log is written at info: below it, the lines go with the rest.
	var access io.Writer
	if log.Enabled(ctx, slog.LevelInfo) {
		access = lw
	}
	return serveGateway(ctx, cfg, log, access, stdout)
}

// serveGateway runs the gateway until ctx ends, its access log to access
// (nil: none). With no upstream it first
// starts the embedded Cloud Foundry on an internal loopback port, shares
// its signing key with the gateway in-process and greets with a token.
func serveGateway(ctx context.Context, cfg configs.Config, log *slog.Logger, access, stdout io.Writer) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg, version)

	authOpts := []auth.Option{auth.WithKeysFetched(func(at time.Time) { m.TokenKeysRefreshed.Set(float64(at.Unix())) })}
	var embedded *backend.Server
	upstreamURL := cfg.Upstream
	if upstreamURL == "" {
		bcfg := cfg.Backend
		bcfg.Data = cfg.Data
		srv, err := backend.New(ctx, bcfg, log.With("component", "embedded-cf"))
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			srv.Close()
			return err
		}
		go srv.Serve(ln)
		embedded = srv
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				log.Error("stopping the embedded Cloud Foundry", "err", err)
			}
		}()
		upstreamURL = "http://" + ln.Addr().String()
		// One address is enough: the embedded UAA and log cache are served
		// on the gateway's listener, and the discovery documents name it.
		cfg.UAAPassthrough, cfg.LogCachePassthrough, cfg.RoutingPassthrough = upstreamURL, upstreamURL, upstreamURL
		// The gateway reads the embedded UAA's keys as it reads a real
		// UAA's, so a rotated key (capibridge uaa rotate-key) is taken up
		// without a restart.
		if cfg.Auth.TokenKeysURL == "" && len(cfg.Auth.PublicKeys) == 0 && len(cfg.Auth.HMACSecrets) == 0 {
			cfg.Auth.TokenKeysURL = upstreamURL + "/token_keys"
		}
		authOpts = append(authOpts, auth.WithIssuer(srv.Issuer()))
		// The background work runs as the embedded UAA's gateway client.
		if cfg.Background.ClientID == "" {
			cfg.Background.ClientID, cfg.Background.ClientSecret = cfg.Backend.GatewayClientID, cfg.Backend.GatewayClientSecret
			cfg.Background.TokenURL = upstreamURL + "/oauth/token"
		}
	}
	up, err := proxy.NewUpstream(upstreamURL, cfg.UpstreamClient, m)
	if err != nil {
		return err
	}
	// With no keys configured, the keys are found as the Cloud Controller
	// finds them: at the UAA its root document names, whose /token_keys and
	// openid-configuration (the issuer) the verifier reads and refreshes.
	// The background client's token endpoint is found there too.
	keysFromUAA := embedded == nil && len(cfg.Auth.HMACSecrets) == 0 && len(cfg.Auth.PublicKeys) == 0 && cfg.Auth.TokenKeysURL == ""
	tokenURLFromUAA := cfg.Background.ClientID != "" && cfg.Background.TokenURL == ""
	withUAA := func(uaaURL string) (configs.Auth, configs.Background) {
		a, b := cfg.Auth, cfg.Background
		uaaURL = strings.TrimSuffix(uaaURL, "/")
		if keysFromUAA {
			a.TokenKeysURL = uaaURL + "/token_keys"
		}
		if tokenURLFromUAA {
			b.TokenURL = uaaURL + "/oauth/token"
		}
		return a, b
	}
	var uaaURL string
	if keysFromUAA || tokenURLFromUAA {
		// A Cloud Controller that does not answer yet does not stop the
		// start: the UAA is then discovered in the background.
		if uaaURL, err = up.UAAURL(); err != nil {
			log.Warn("discovering the UAA: the Cloud Controller did not answer; serving, and asking again in the background",
				"upstream", upstreamURL, "err", err)
		}
	}
	discoverLater := (keysFromUAA || tokenURLFromUAA) && uaaURL == ""
	var verifier *auth.Verifier
	if !discoverLater {
		cfg.Auth, cfg.Background = withUAA(uaaURL)
		if verifier, err = auth.New(cfg.Auth, authOpts...); err != nil {
			return err
		}
		defer verifier.Close()
	}
	lc, rc, closeCache, err := newCache(cfg.Cache, m, log)
	if err != nil {
		return err
	}
	defer closeCache()
	// The v2 usage report, in the cache's Redis when it has one so that
	// every instance reports the same; its last counts are flushed on the
	// way out, before Redis is let go.
	report := v2usage.New(v2usage.Config{Retention: cfg.Migration.UsageRetention, MaxRows: cfg.Migration.UsageMaxRows,
		FlushInterval: cfg.Migration.UsageFlushInterval}, rc, log)
	uctx, stopUsage := context.WithCancel(context.Background())
	usageDone := make(chan struct{})
	go func() { report.Run(uctx); close(usageDone) }()
	defer func() { stopUsage(); <-usageDone }()
	gw, err := proxy.New(cfg, proxy.Deps{Upstream: up, Verifier: verifier, Metrics: m, Gatherer: reg, Log: log, AccessLog: access, Cache: lc,
		Usage: report, Fault: killAt(os.Getenv(killAtEnv))})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	adminLn, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		ln.Close()
		return err
	}
	base := "http://" + dialable(ln.Addr().String())
	fmt.Fprintf(stdout, "capibridge: gateway on %s (admin %s) in front of %s\n", base, "http://"+dialable(adminLn.Addr().String()), upstreamURL)
	if embedded != nil {
		tok, err := embedded.Token(ctx, "admin")
		if err != nil {
			ln.Close()
			adminLn.Close()
			return err
		}
		fmt.Fprintf(stdout, "embedded Cloud Foundry, data in %s; admin token (valid %s):\n%s\n\ntry:\n  curl %s/v2/info\n  curl -H \"Authorization: bearer %s\" %s/v3/apps\n",
			cfg.Data, cfg.Backend.TokenTTL, tok, base, tok, base)
	}
	errc := make(chan error, 2)
	go func() { errc <- gw.Serve(ln) }()
	go func() { errc <- gw.ServeAdmin(adminLn) }()
	bctx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	if discoverLater {
		go func() {
			uaaURL, err := gw.DiscoverUAA(bctx, cfg.Auth.DiscoverRetry, cfg.Auth.DiscoverRetryMax)
			if err != nil {
				return // stopping
			}
			acfg, bgcfg := withUAA(uaaURL)
			v, err := auth.New(acfg, authOpts...)
			if err != nil {
				log.Error("building the token verifier from the discovered UAA", "uaa", uaaURL, "err", err)
				gw.VerifierFailed(err)
				return
			}
			defer v.Close()
			log.Info("discovered the UAA", "uaa", uaaURL)
			gw.SetVerifier(v, bgcfg)
			gw.RunBackground(bctx, bgcfg)
			<-bctx.Done()
		}()
	} else {
		go gw.RunBackground(bctx, cfg.Background)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.Server.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	return gw.Shutdown(sctx)
}

func runBackend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file")
	listen := fs.String("listen", "", "listen address (default 127.0.0.1:9022)")
	data := fs.String("data", "", `data dir, or ":memory:"`)
	cfg, err := load(fs, args, configPath, func(c *configs.Config) {
		set := setFlags(fs)
		if set["listen"] {
			c.Backend.Listen = *listen
		}
		if set["data"] {
			c.Backend.Data = *data
		}
	})
	if err != nil {
		return err
	}
	return serveBackend(ctx, cfg.Backend, newLogger(cfg.LogLevel, stderr), stdout, false)
}

// serveBackend runs the embedded Cloud Foundry until ctx ends (SIGINT or
// SIGTERM), then drains in-flight requests.
func serveBackend(ctx context.Context, cfg configs.Backend, log *slog.Logger, stdout io.Writer, greet bool) error {
	srv, err := backend.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		srv.Close()
		return err
	}
	url := "http://" + dialable(ln.Addr().String())
	fmt.Fprintf(stdout, "capibridge: embedded Cloud Foundry (v3 API) listening on %s, data in %s\n", url, cfg.Data)
	if greet {
		tok, err := srv.Token(ctx, "admin")
		if err != nil {
			srv.Close()
			return err
		}
		fmt.Fprintf(stdout, "admin token (valid %s):\n%s\n\ntry:\n  curl -H \"Authorization: bearer %s\" %s/v3/apps\n", cfg.TokenTTL, tok, tok, url)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// dialable turns a wildcard listen address into one a client can dial.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func token(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file")
	data := fs.String("data", "", "data dir of the embedded Cloud Foundry (default ./capibridge-data)")
	user := fs.String("user", "admin", "seeded user: admin, developer, auditor or outsider")
	scopes := fs.String("scopes", "", "comma-separated scopes to put in the token instead of the user's own")
	cfg, err := load(fs, args, configPath, func(c *configs.Config) {
		if setFlags(fs)["data"] {
			c.Backend.Data = *data
		}
	})
	if err != nil {
		return err
	}
	var scopeList []string
	for _, sc := range strings.Split(*scopes, ",") {
		if sc = strings.TrimSpace(sc); sc != "" {
			scopeList = append(scopeList, sc)
		}
	}
	tok, err := backend.IssueToken(ctx, cfg.Backend, *user, scopeList...)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// newCache builds the list-page cache of cfg and its Redis client (nil
// without one), or nil when it is off: the
// in-process tier alone without Redis addresses, else in front of Redis
// (standalone, Sentinel with a master name, or Cluster with several
// addresses) as cfg.RedisTarget resolves it.
func newCache(cfg configs.Cache, m *metrics.Metrics, log *slog.Logger) (*cache.Cache, redis.UniversalClient, func(), error) {
	if !cfg.Enabled {
		return nil, nil, func() {}, nil
	}
	t, err := cfg.RedisTarget()
	if err != nil {
		return nil, nil, func() {}, err
	}
	var rc redis.UniversalClient
	if len(t.Addrs) > 0 {
		// go-redis reports connection trouble through its own logger; the
		// cache counts and logs what matters, so these are debug lines.
		redis.SetLogger(redisLog{log})
		o := redis.UniversalOptions{Addrs: t.Addrs, MasterName: t.MasterName, Username: t.Username, Password: t.Password,
			SentinelUsername: t.SentinelUsername, SentinelPassword: t.SentinelPassword, DB: t.DB}
		if t.TLS {
			// No ServerName: crypto/tls takes each address's host, so
			// every Cluster node and Sentinel is verified by its own name.
			o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		rc = cache.NewRedisClient(o, cfg.RedisTimeout)
	}
	c, err := cache.New(cache.Config{LocalMaxBytes: cfg.LocalMaxBytes, MaxEntryBytes: cfg.MaxEntryBytes, FragmentMaxBytes: cfg.FragmentMaxBytes, Redis: rc,
		RedisTimeout: cfg.RedisTimeout, Metrics: m, Log: log})
	closeAll := func() {
		if c != nil {
			_ = c.Close()
		}
		if rc != nil {
			_ = rc.Close()
		}
	}
	if err != nil {
		closeAll()
		return nil, nil, func() {}, err
	}
	return c, rc, closeAll, nil
}

// redisLog sends go-redis's own log lines to the gateway's log at debug.
type redisLog struct{ log *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.log.DebugContext(ctx, "redis", "msg", fmt.Sprintf(format, v...))
}

// killAtEnv names the write step ("create:app", "start:build", …) at which
// the gateway kills itself with SIGKILL, as a crash there would stop it:
// the chaos suite's fault hook (internal/chaos). It is no configuration
// key, so it is kept out of what configs.Load reads.
const killAtEnv = "CAPIBRIDGE_CHAOS_KILL_AT"

// configEnviron is the environment configs.Load reads: all of it but
// killAtEnv.
func configEnviron() []string {
	env := configs.Environ()
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, killAtEnv+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// killAt is the fault hook of killAtEnv's step; nil when it is empty.
func killAt(step string) func(string) {
	if step == "" {
		return nil
	}
	return func(s string) {
		if s == step {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}
