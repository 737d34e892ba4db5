package proxy

import "bytes"

// ambiguousPath reports whether the path of a request target (origin or
// absolute form, RFC 9112 §3.2) has a segment that is "." or ".." once
// decoded, in any spelling (%2e, %2E, half-encoded), or one holding an
// encoded "/" (%2F): a path whose segments differ between the router,
// which reads the path as fasthttp normalises it (decoded, dot segments
// resolved, RFC 3986 §5.2.4), and the Cloud Controller, which gets the
// path as sent, decodes it once and resolves nothing.
//
// The gateway refuses such a path as an unknown request, where it could
// instead forward the normalised path: it routes, checks scopes and counts
// by the path, so it must route what it forwards, and refusing keeps what
// reaches the Cloud Controller byte for byte what the client sent. It is
// also what the Cloud Controller answers: gorouter passes the path on as
// it is, and CC's routers (Rails, and the v2 controllers' patterns) match
// segments literally, so no CC route has a "." or ".." segment or a "/"
// inside one, and "/v2/apps/../../v3/apps" is a 404 there, not the v3 list.
// Client libraries (cf CLI, go-cfclient, the Terraform provider) build
// clean paths and never send either.
func ambiguousPath(target []byte) bool {
	if i := bytes.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if i := bytes.Index(target, []byte("://")); i >= 0 && bytes.IndexByte(target[:i], '/') < 0 {
		// Absolute form: the path starts at the first "/" after the authority.
		rest := target[i+3:]
		j := bytes.IndexByte(rest, '/')
		if j < 0 {
			return false
		}
		target = rest[j:]
	}
	for len(target) > 0 {
		var seg []byte
		seg, target, _ = bytes.Cut(target, []byte("/"))
		dots, other := 0, false
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if c == '%' && i+2 < len(seg) {
				switch {
				case seg[i+1] == '2' && (seg[i+2] == 'e' || seg[i+2] == 'E'):
					c = '.'
					i += 2
				case seg[i+1] == '2' && (seg[i+2] == 'f' || seg[i+2] == 'F'):
					return true
				}
			}
			if c == '.' {
				dots++
			} else {
				other = true
			}
		}
		if !other && (dots == 1 || dots == 2) {
			return true
		}
	}
	return false
}
