package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// RedisTarget is the Redis the list-page cache connects to: cache.redis_addrs
// resolved, URLs and all, with the other cache.redis_* keys.
type RedisTarget struct {
	// Addrs are host:port pairs: one standalone Redis, a Cluster's nodes,
	// or the Sentinels when MasterName is set. Empty: no Redis.
	Addrs []string
	// MasterName is the Sentinel master name.
	MasterName string
	// Username and Password authenticate to the standalone Redis, to every
	// Cluster node, or to the master the Sentinels name.
	Username string
	Password string
	// SentinelUsername and SentinelPassword authenticate to the Sentinels.
	SentinelUsername string
	SentinelPassword string
	// DB is the database of a standalone Redis or a Sentinel's master.
	DB int
	// TLS connects over TLS (to the Sentinels too).
	TLS bool
}

// redisURL is one redis:// or rediss:// entry of cache.redis_addrs, read as
// go-redis's redis.ParseURL reads it.
type redisURL struct {
	addr     string
	username string
	password string
	db       int
	hasDB    bool // the path names a database, even /0
	tls      bool
}

// RedisTarget resolves cache.redis_addrs. An entry is host:port or a URL,
// redis://[user[:password]@]host[:port][/db] (rediss:// for TLS), the form
// go-redis's redis.ParseURL reads: the port defaults to 6379, the database
// to 0. A URL's user and password authenticate to the server it names: for
// a standalone Redis or a Cluster they are redis_username and
// redis_password, for a Sentinel (redis_master_name set) the Sentinel's own,
// as go-redis's ParseFailoverURL has it. A key set beside the URLs must
// agree with them, and the URLs with each other: they may differ in host
// and port only. Errors name the key and never show a password.
func (c Cache) RedisTarget() (RedisTarget, error) {
	t := RedisTarget{MasterName: c.RedisMasterName, Username: c.RedisUsername, Password: c.RedisPassword,
		DB: c.RedisDB, TLS: c.RedisTLS}
	var errs []error
	var urls []redisURL
	plain := 0
	for i, a := range c.RedisAddrs {
		if !strings.Contains(a, "://") {
			if _, _, err := net.SplitHostPort(a); err != nil {
				errs = append(errs, fmt.Errorf("configs: cache.redis_addrs: %q is neither host:port nor a redis:// or rediss:// URL", a))
				continue
			}
			plain++
			t.Addrs = append(t.Addrs, a)
			continue
		}
		u, err := parseRedisURL(i, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		urls = append(urls, u)
		t.Addrs = append(t.Addrs, u.addr)
	}
	if len(errs) > 0 {
		return RedisTarget{}, errors.Join(errs...)
	}
	if len(urls) > 0 {
		if err := t.applyURLs(urls, plain, c); err != nil {
			return RedisTarget{}, err
		}
	}
	if len(t.Addrs) > 1 && t.MasterName == "" && t.DB != 0 {
		// go-redis makes several addresses without a master name a
		// Cluster client, which has no SELECT: the database would be
		// ignored.
		return RedisTarget{}, fmt.Errorf("configs: cache.redis_db: %d, but a Redis Cluster (several cache.redis_addrs without cache.redis_master_name) has only database 0", t.DB)
	}
	return t, nil
}

// applyURLs takes the settings of the URLs in cache.redis_addrs into t.
func (t *RedisTarget) applyURLs(urls []redisURL, plain int, c Cache) error {
	if plain > 0 {
		return errors.New("configs: cache.redis_addrs: mixes URLs and host:port entries; write every entry as a URL, or every one as host:port")
	}
	first := urls[0]
	var errs []error
	for _, u := range urls[1:] {
		if u.tls != first.tls {
			errs = append(errs, errors.New("configs: cache.redis_addrs: mixes redis:// and rediss:// URLs; the URLs must differ in host and port only"))
		}
		if u.username != first.username || u.password != first.password {
			errs = append(errs, errors.New("configs: cache.redis_addrs: the URLs name different users or passwords; they must differ in host and port only"))
		}
		if u.hasDB != first.hasDB || u.db != first.db {
			errs = append(errs, errors.New("configs: cache.redis_addrs: the URLs name different databases; they must differ in host and port only"))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if c.RedisMasterName != "" {
		// The URLs name Sentinels; redis_username and redis_password stay
		// the master's.
		t.SentinelUsername, t.SentinelPassword = first.username, first.password
	} else {
		if first.username != "" {
			if c.RedisUsername != "" && c.RedisUsername != first.username {
				errs = append(errs, errors.New("configs: cache.redis_username: differs from the user in the cache.redis_addrs URLs; set one of them"))
			}
			t.Username = first.username
		}
		if first.password != "" {
			if c.RedisPassword != "" && c.RedisPassword != first.password {
				errs = append(errs, errors.New("configs: cache.redis_password: differs from the password in the cache.redis_addrs URLs; set one of them"))
			}
			t.Password = first.password
		}
	}
	if first.hasDB {
		if c.RedisDB != 0 && c.RedisDB != first.db {
			errs = append(errs, fmt.Errorf("configs: cache.redis_db: %d differs from the database /%d of the cache.redis_addrs URLs; set one of them", c.RedisDB, first.db))
		}
		t.DB = first.db
	}
	if first.tls {
		t.TLS = true
	} else if c.RedisTLS {
		errs = append(errs, errors.New("configs: cache.redis_tls: true, but the cache.redis_addrs URLs are redis://; write rediss:// for TLS"))
	}
	return errors.Join(errs...)
}

// parseRedisURL reads entry i of cache.redis_addrs as redis.ParseURL does,
// refusing what the cache does not take from a URL: other schemes (unix://
// among them), a missing host, and query options (the cache sets its own
// timeouts and retries from cache.redis_timeout).
func parseRedisURL(i int, raw string) (redisURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// The parser's message quotes the entry, or the part of it it
		// stumbled on: often a password with a reserved character in it.
		return redisURL{}, fmt.Errorf("configs: cache.redis_addrs: entry %d is not a URL (percent-encode @ : / ? # %% and , in a user or password)", i+1)
	}
	shown := u.Redacted()
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return redisURL{}, fmt.Errorf("configs: cache.redis_addrs: %q: the scheme must be redis or rediss", shown)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return redisURL{}, fmt.Errorf("configs: cache.redis_addrs: %q names no host", shown)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return redisURL{}, fmt.Errorf("configs: cache.redis_addrs: %q: URL query options and fragments are not taken; the cache.redis_* keys set the rest", shown)
	}
	r := redisURL{tls: u.Scheme == "rediss"}
	port := u.Port()
	if port == "" {
		port = "6379"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return redisURL{}, fmt.Errorf("configs: cache.redis_addrs: %q: the port must be 1 to 65535", shown)
	}
	r.addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		r.username = u.User.Username()
		r.password, _ = u.User.Password()
	}
	path := strings.FieldsFunc(u.Path, func(c rune) bool { return c == '/' })
	switch len(path) {
	case 0:
	case 1:
		db, err := strconv.Atoi(path[0])
		if err != nil || db < 0 {
			return redisURL{}, fmt.Errorf("configs: cache.redis_addrs: %q: the path must be a database number, such as /2", shown)
		}
		r.db, r.hasDB = db, true
	default:
		return redisURL{}, fmt.Errorf("configs: cache.redis_addrs: %q: the path must be a database number, such as /2", shown)
	}
	return r, nil
}
