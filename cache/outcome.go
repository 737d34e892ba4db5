package cache

import (
	"math"
	"strconv"
	"time"
)

// Values of the RFC 9211 "fwd" parameter the cache uses.
const (
	// fwdMiss: no usable entry (the cache does not use Vary, so it could say
	// uri-miss; "miss" is the value for either, RFC 9211 §2.2).
	fwdMiss = "miss"
	// fwdStale: an entry was found but was past its TTL.
	fwdStale = "stale"
	// fwdRequest: the request's semantics (Cache-Control: no-cache) did not
	// allow a stored response to be used.
	fwdRequest = "request"
	// fwdBypass: the cache did not handle the request: a route not cached,
	// or Redis unreachable so that no entry could be checked.
	fwdBypass = "bypass"
)

// detailUnconfirmed is the RFC 9211 "detail" of a request that went
// upstream because the current generations could not be read: whatever is
// cached may be older than a write another instance has answered.
const detailUnconfirmed = "generations-unconfirmed"

// Outcome says how Get produced its answer.
type Outcome struct {
	// Result is the metrics label value: metrics.CacheHit, CacheMiss,
	// CacheStale, CacheBypass or CacheError (Redis failed on the way).
	Result string
	// Tier is the tier an entry was served from (metrics.TierLocal or
	// TierRedis), or empty when the answer came from the fill.
	Tier string
	// Fwd is the RFC 9211 reason the request went to the fill, empty for a
	// hit: "miss", "stale", "request" or "bypass".
	Fwd string
	// FwdStatus is the status the fill returned when a stale entry was
	// served instead; 0 when the fill returned an error or when no stale
	// entry was served.
	FwdStatus int
	// Stored reports that the fill's answer was stored.
	Stored bool
	// Collapsed reports that the request waited for a fill another request
	// had started.
	Collapsed bool
	// TTL is the remaining freshness of an entry served from the cache,
	// negative once stale.
	TTL time.Duration

	name         string
	staleIfError bool
	// detail is the RFC 9211 detail parameter, if any besides
	// stale-if-error.
	detail string
}

// CacheStatus returns the RFC 9211 Cache-Status field value, such as
// "capibridge; hit; ttl=42" or "capibridge; fwd=miss; stored".
func (o Outcome) CacheStatus() string {
	var b [96]byte
	return string(o.AppendCacheStatus(b[:0]))
}

// AppendCacheStatus appends the Cache-Status field value to dst, for
// writing the header without allocating.
//
// Examples: a hit "capibridge; hit; ttl=42"; a miss "capibridge; fwd=miss;
// stored" (with "; collapsed" when it waited for another request's fill);
// an expired entry refreshed "capibridge; fwd=stale; stored"; a client's
// no-cache "capibridge; fwd=request; stored"; an entry served because the
// upstream failed "capibridge; fwd=stale; fwd-status=502; ttl=-12;
// detail=stale-if-error"; Redis unreachable or slow, so that the
// generations could not be confirmed, "capibridge; fwd=bypass;
// detail=generations-unconfirmed" (with "; collapsed" when it shared
// another request's fill); a route not cached "capibridge; fwd=bypass".
func (o Outcome) AppendCacheStatus(dst []byte) []byte {
	dst = append(dst, o.name...)
	if o.Fwd == "" {
		dst = append(dst, "; hit"...)
	} else {
		dst = append(dst, "; fwd="...)
		dst = append(dst, o.Fwd...)
		if o.FwdStatus != 0 {
			dst = append(dst, "; fwd-status="...)
			dst = strconv.AppendInt(dst, int64(o.FwdStatus), 10)
		}
	}
	if o.Fwd == "" || o.staleIfError {
		// ttl is an integer number of seconds (RFC 9211 §2.5); round
		// towards minus infinity so a just-stale entry reads negative.
		dst = append(dst, "; ttl="...)
		dst = strconv.AppendInt(dst, int64(math.Floor(o.TTL.Seconds())), 10)
	}
	if o.Stored {
		dst = append(dst, "; stored"...)
	}
	if o.Collapsed {
		dst = append(dst, "; collapsed"...)
	}
	switch {
	case o.staleIfError:
		dst = append(dst, "; detail=stale-if-error"...)
	case o.detail != "":
		dst = append(dst, "; detail="...)
		dst = append(dst, o.detail...)
	}
	return dst
}

// isToken reports whether s is an RFC 8941 sf-token, the form a cache name
// takes in Cache-Status without quoting.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == ':' || c == '/':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}
