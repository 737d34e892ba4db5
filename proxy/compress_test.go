package proxy

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"capibridge/internal/redistest"
)

func TestAcceptsGzip(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]bool{
		"":                         false,
		"gzip":                     true,
		"GZIP":                     true,
		"x-gzip":                   true,
		"deflate, gzip;q=1.0":      true,
		"gzip;q=0":                 false,
		"gzip; q=0.000":            false,
		"gzip;q=0.001":             true,
		"*":                        true,
		"*;q=0":                    false,
		"*, gzip;q=0":              false,
		"br, deflate":              false,
		"identity":                 false,
		"gzip;q=0, *":              false,
		" br ; q=1 , gzip ; q=0.5": true,
	} {
		if got := acceptsGzip([]byte(h)); got != want {
			t.Errorf("%q: %v, want %v", h, got, want)
		}
	}
}

func gunzipBody(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Cached pages are kept compressed: a client that accepts gzip gets the
// stored gzip bytes, one that does not the identity bytes, the same page
// once decompressed, from either tier; every answer varies by
// Accept-Encoding. Large uncached answers are compressed on the fly.
func TestCompressedAnswers(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	var names []string
	for i := range 40 {
		names = append(names, "gz-"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	s.createApps(t, "developer", names...)
	rs := redistest.Start(t)
	a := s.cachedGateway(t, s.cfURL, rs.Addr(), nil)
	b := s.cachedGateway(t, s.cfURL, rs.Addr(), nil)

	identity := s.do("GET", a.url+"/v2/apps", "developer", nil)
	if identity.status != 200 || len(identity.header.Peek("Content-Encoding")) > 0 || string(identity.header.Peek("Vary")) != "Accept-Encoding" {
		t.Fatalf("identity: %d %q %q", identity.status, identity.header.Peek("Content-Encoding"), identity.header.Peek("Vary"))
	}
	for name, g := range map[string]launched{"local tier": a, "redis tier": b} {
		z := s.do("GET", g.url+"/v2/apps", "developer", nil, "Accept-Encoding", "gzip")
		if string(z.header.Peek("Content-Encoding")) != "gzip" || string(z.header.Peek("Vary")) != "Accept-Encoding" {
			t.Errorf("%s: Content-Encoding %q, Vary %q", name, z.header.Peek("Content-Encoding"), z.header.Peek("Vary"))
			continue
		}
		if got := gunzipBody(t, z.body); !bytes.Equal(got, identity.body) {
			t.Errorf("%s: the gzip page differs from the identity page once decompressed", name)
		}
		if len(z.body) > len(identity.body)/4 {
			t.Errorf("%s: %d gzip bytes for %d", name, len(z.body), len(identity.body))
		}
		if id := s.do("GET", g.url+"/v2/apps", "developer", nil, "Accept-Encoding", "br, gzip;q=0"); !bytes.Equal(id.body, identity.body) ||
			len(id.header.Peek("Content-Encoding")) > 0 {
			t.Errorf("%s: a client refusing gzip got %q", name, id.header.Peek("Content-Encoding"))
		}
	}
	// The stack's own gateway has no cache: its large answers are
	// compressed as they are made.
	plain := s.do("GET", s.gwURL+"/v2/apps", "developer", nil)
	z := s.do("GET", s.gwURL+"/v2/apps", "developer", nil, "Accept-Encoding", "gzip")
	if string(z.header.Peek("Content-Encoding")) != "gzip" || !bytes.Equal(gunzipBody(t, z.body), plain.body) {
		t.Errorf("uncached: Content-Encoding %q", z.header.Peek("Content-Encoding"))
	}
	small := s.do("GET", s.gwURL+"/v2/stacks/"+"57ac0000-0000-4000-8000-000000000004", "developer", nil, "Accept-Encoding", "gzip")
	if small.status != 200 || len(small.header.Peek("Content-Encoding")) > 0 {
		t.Errorf("a small answer: %d %q", small.status, small.header.Peek("Content-Encoding"))
	}
}
