package usage

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// sep separates a row's names in the store; clean keeps it out of them.
const sep = "\x1f"

func (k key) field() string { return k.user + sep + k.family + sep + k.route }

// memStore keeps the report in process, for a gateway without Redis.
type memStore struct {
	mu   sync.Mutex
	days map[string]map[key]*Row
	// until is when each day is dropped.
	until map[string]time.Time
}

func newMemStore() *memStore {
	return &memStore{days: map[string]map[key]*Row{}, until: map[string]time.Time{}}
}

func (m *memStore) add(_ context.Context, ds []*delta, maxRows int, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for day, t := range m.until {
		if now.After(t) {
			delete(m.days, day)
			delete(m.until, day)
		}
	}
	for _, d := range ds {
		rows := m.days[d.day]
		if rows == nil {
			rows = map[key]*Row{}
			m.days[d.day] = rows
			m.until[d.day] = now.Add(ttl)
		}
		k := d.key
		r := rows[k]
		if r == nil && len(rows) >= maxRows-1 {
			k.user = OtherUsers
			r = rows[k]
		}
		if r == nil {
			r = &Row{User: k.user, ClientFamily: k.family, Route: k.route, FirstSeen: time.Unix(d.first, 0).UTC()}
			rows[k] = r
		}
		r.Requests += d.requests
		r.Refused += d.refused
		r.DryRun += d.dryRn
		if f := time.Unix(d.first, 0).UTC(); f.Before(r.FirstSeen) {
			r.FirstSeen = f
		}
		if l := time.Unix(d.last, 0).UTC(); !l.Before(r.LastSeen) {
			r.LastSeen = l
			if d.clientID != "" {
				r.ClientID = d.clientID
			}
			if d.version != "" {
				r.ClientVersion = d.version
			}
		}
	}
	return nil
}

func (m *memStore) rows(_ context.Context, days []string) ([]Row, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Row
	for _, day := range days {
		for _, r := range m.days[day] {
			out = append(out, *r)
		}
	}
	return out, nil
}

// redisStore keeps each day of the report in one Redis hash,
// capibridge:v2usage:<day>, so that it lives on one Cluster slot and
// expires whole. A row's fields are its counts and times under one-letter
// prefixes: n| requests, r| refused, d| dry run, f| first and l| last seen
// (Unix seconds), c| client id, v| version; "#rows" counts its rows.
type redisStore struct {
	rc redis.UniversalClient
}

// usageKeyPrefix prefixes the days' hashes.
const usageKeyPrefix = "capibridge:v2usage:"

// addScript adds one batch of rows to a day: KEYS[1] is the day's hash;
// ARGV is max rows, TTL seconds, then per row its field, the field of its
// OtherUsers row, requests, refused, dry run, first, last, client id and
// version. One script per day and flush: atomic against the other
// instances' flushes, one round trip.
var addScript = redis.NewScript(`
local key, maxRows, ttl = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 3, #ARGV, 9 do
  local f = ARGV[i]
  if redis.call('HEXISTS', key, 'n|' .. f) == 0 then
    if tonumber(redis.call('HGET', key, '#rows') or '0') >= maxRows - 1 then
      f = ARGV[i + 1]
    end
    if redis.call('HEXISTS', key, 'n|' .. f) == 0 then
      redis.call('HINCRBY', key, '#rows', 1)
      redis.call('HSET', key, 'n|' .. f, 0)
    end
  end
  redis.call('HINCRBY', key, 'n|' .. f, ARGV[i + 2])
  redis.call('HINCRBY', key, 'r|' .. f, ARGV[i + 3])
  redis.call('HINCRBY', key, 'd|' .. f, ARGV[i + 4])
  local first, last = tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
  local was = tonumber(redis.call('HGET', key, 'f|' .. f) or '0')
  if was == 0 or first < was then redis.call('HSET', key, 'f|' .. f, first) end
  was = tonumber(redis.call('HGET', key, 'l|' .. f) or '0')
  if last >= was then
    redis.call('HSET', key, 'l|' .. f, last)
    if ARGV[i + 7] ~= '' then redis.call('HSET', key, 'c|' .. f, ARGV[i + 7]) end
    if ARGV[i + 8] ~= '' then redis.call('HSET', key, 'v|' .. f, ARGV[i + 8]) end
  end
end
redis.call('EXPIRE', key, ttl)
return 0
`)

func (s *redisStore) add(ctx context.Context, ds []*delta, maxRows int, ttl time.Duration) error {
	byDay := map[string][]any{}
	for _, d := range ds {
		other := d.key
		other.user = OtherUsers
		byDay[d.day] = append(byDay[d.day], d.field(), other.field(), d.requests, d.refused, d.dryRn, d.first, d.last, d.clientID, d.version)
	}
	for day, rows := range byDay {
		args := append([]any{maxRows, int64(ttl / time.Second)}, rows...)
		if err := addScript.Run(ctx, s.rc, []string{usageKeyPrefix + day}, args...).Err(); err != nil {
			return err
		}
	}
	return nil
}

func (s *redisStore) rows(ctx context.Context, days []string) ([]Row, error) {
	cmds := make([]*redis.MapStringStringCmd, len(days))
	// One pipeline; on a Cluster go-redis splits it by slot.
	_, err := s.rc.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, day := range days {
			cmds[i] = p.HGetAll(ctx, usageKeyPrefix+day)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Row
	for _, cmd := range cmds {
		byField := map[string]*Row{}
		for name, v := range cmd.Val() {
			kind, field, ok := strings.Cut(name, "|")
			if !ok || len(kind) != 1 {
				continue
			}
			r := byField[field]
			if r == nil {
				parts := strings.SplitN(field, sep, 3)
				if len(parts) != 3 {
					continue
				}
				r = &Row{User: parts[0], ClientFamily: parts[1], Route: parts[2]}
				byField[field] = r
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			switch kind {
			case "n":
				r.Requests = n
			case "r":
				r.Refused = n
			case "d":
				r.DryRun = n
			case "f":
				r.FirstSeen = time.Unix(n, 0).UTC()
			case "l":
				r.LastSeen = time.Unix(n, 0).UTC()
			case "c":
				r.ClientID = v
			case "v":
				r.ClientVersion = v
			}
		}
		for _, r := range byField {
			out = append(out, *r)
		}
	}
	return out, nil
}
