package configs

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// CloudFoundry configures the gateway running as an app on Cloud Foundry,
// which it notices by VCAP_APPLICATION in its environment. There it
// listens on $PORT and takes its cache's Redis from a bound service
// (VCAP_SERVICES), unless listen or cache.redis_addrs are set.
type CloudFoundry struct {
	// RedisService is the name of the bound service instance whose
	// credentials are the cache's Redis; empty takes the first one tagged
	// or labelled "redis".
	RedisService string `koanf:"redis_service"`
}

// vcapService is one bound service instance of VCAP_SERVICES.
type vcapService struct {
	Name        string         `json:"name"`
	Label       string         `json:"label"`
	Tags        []string       `json:"tags"`
	Credentials map[string]any `json:"credentials"`
}

// applyCloudFoundry sets what the platform's environment says, for the
// keys the file and the variables left unset (set reports them).
func applyCloudFoundry(cfg *Config, env map[string]string, set func(key string) bool) error {
	if _, ok := env["VCAP_APPLICATION"]; !ok {
		return nil
	}
	if port := env["PORT"]; port != "" && !set("listen") {
		if _, err := strconv.Atoi(port); err != nil {
			return fmt.Errorf("configs: PORT %q is not a port", port)
		}
		cfg.Listen = ":" + port
	}
	raw := env["VCAP_SERVICES"]
	if raw == "" || set("cache.redis_addrs") {
		return nil
	}
	var bound map[string][]vcapService
	if err := json.Unmarshal([]byte(raw), &bound); err != nil {
		return fmt.Errorf("configs: VCAP_SERVICES: %w", err)
	}
	svc, err := redisService(bound, cfg.CloudFoundry.RedisService)
	if err != nil || svc == nil {
		return err
	}
	return redisFromCredentials(&cfg.Cache, svc, set)
}

// redisService finds the named service, or the first tagged or labelled
// redis, in a stable order (by offering, then as listed).
func redisService(bound map[string][]vcapService, name string) (*vcapService, error) {
	labels := make([]string, 0, len(bound))
	for l := range bound {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	for _, l := range labels {
		for i, s := range bound[l] {
			isRedis := strings.Contains(strings.ToLower(s.Label), "redis") || slices.ContainsFunc(s.Tags, func(t string) bool { return strings.EqualFold(t, "redis") })
			if name != "" && s.Name == name || name == "" && isRedis {
				return &bound[l][i], nil
			}
		}
	}
	if name != "" {
		return nil, fmt.Errorf("configs: cloud_foundry.redis_service: no bound service named %q in VCAP_SERVICES", name)
	}
	return nil, nil
}

// redisFromCredentials reads the credential shapes Redis brokers use: a
// uri (or url) redis:// or rediss://, or host (hostname), port (tls_port
// over TLS) and password.
func redisFromCredentials(c *Cache, s *vcapService, set func(string) bool) error {
	str := func(k string) string {
		switch v := s.Credentials[k].(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
	if u := cmp.Or(str("uri"), str("url")); u != "" {
		if !strings.HasPrefix(u, "redis://") && !strings.HasPrefix(u, "rediss://") {
			return fmt.Errorf("configs: VCAP_SERVICES: service %q: uri is not a redis:// or rediss:// URL", s.Name)
		}
		c.RedisAddrs = []string{u}
		return nil
	}
	host, port, tls := cmp.Or(str("host"), str("hostname")), str("port"), false
	if p := str("tls_port"); p != "" {
		port, tls = p, true
	}
	if host == "" || port == "" {
		return errors.New("configs: VCAP_SERVICES: service " + strconv.Quote(s.Name) + ": credentials have neither uri nor host and port")
	}
	c.RedisAddrs = []string{net.JoinHostPort(host, port)}
	if p := str("password"); p != "" && !set("cache.redis_password") {
		c.RedisPassword = p
	}
	if tls && !set("cache.redis_tls") {
		c.RedisTLS = true
	}
	return nil
}
