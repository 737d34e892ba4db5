package backend

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
)

// TestBlobstoreSigning: a URL is valid for its kind, guid and expiry only,
// until it expires; the key persists in the data dir.
func TestBlobstoreSigning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := openBlobstore(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	u := b.signedURL("http://x", blobPackages, "g1", now)
	q := u[strings.Index(u, "?")+1:]
	parts := map[string]string{}
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		parts[k] = v
	}
	cases := []struct {
		name, kind, guid, expires, sig string
		at                             time.Time
		want                           error
	}{
		{"valid", blobPackages, "g1", parts["expires"], parts["signature"], now, nil},
		{"at the last second", blobPackages, "g1", parts["expires"], parts["signature"], now.Add(blobURLTTL), nil},
		{"expired", blobPackages, "g1", parts["expires"], parts["signature"], now.Add(blobURLTTL + time.Second), errBlobExpired},
		{"other guid", blobPackages, "g2", parts["expires"], parts["signature"], now, errBlobSignature},
		{"other kind", blobDroplets, "g1", parts["expires"], parts["signature"], now, errBlobSignature},
		{"longer expiry", blobPackages, "g1", parts["expires"] + "0", parts["signature"], now, errBlobSignature},
		{"no expiry", blobPackages, "g1", "", parts["signature"], now, errBlobSignature},
		{"no signature", blobPackages, "g1", parts["expires"], "", now, errBlobSignature},
	}
	for _, tc := range cases {
		if err := b.verify(tc.kind, tc.guid, tc.expires, tc.sig, tc.at); err != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	again, err := openBlobstore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.verify(blobPackages, "g1", parts["expires"], parts["signature"], now); err != nil {
		t.Errorf("after a reopen: %v", err)
	}
	if err := again.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "secret")); err != nil {
		t.Errorf("a data dir's blobs are kept on close: %v", err)
	}
}

// TestBlobstoreMemory: an in-memory store's blobs live in a temporary
// directory that close removes.
func TestBlobstoreMemory(t *testing.T) {
	t.Parallel()
	b, err := openBlobstore(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.path(blobPackages, "p"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.root); !os.IsNotExist(err) {
		t.Errorf("%s after close: %v", b.root, err)
	}
}

// TestBlobstoreGC: bits of packages and droplets that are gone go at the
// next start, once old enough; young ones may be another process's.
func TestBlobstoreGC(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := openBlobstore(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * staleAfter)
	files := map[string]time.Time{
		b.path(blobPackages, "kept"):      old,
		b.path(blobPackages, "orphan"):    old,
		b.path(blobPackages, "young"):     time.Now(),
		b.path(blobDroplets, "orphan-d"):  old,
		filepath.Join(b.root, "tmp", "x"): old,
		filepath.Join(b.root, "tmp", "y"): time.Now(),
	}
	for name, at := range files {
		if err := os.WriteFile(name, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(name, at, at); err != nil {
			t.Fatal(err)
		}
	}
	b, err = openBlobstore(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.gc(map[string]bool{"kept": true}, map[string]bool{})
	for name, kept := range map[string]bool{
		b.path(blobPackages, "kept"): true, b.path(blobPackages, "orphan"): false, b.path(blobPackages, "young"): true,
		b.path(blobDroplets, "orphan-d"): false, filepath.Join(b.root, "tmp", "x"): false, filepath.Join(b.root, "tmp", "y"): true,
	} {
		if _, err := os.Stat(name); (err == nil) != kept {
			t.Errorf("%s: kept=%v, want %v", filepath.Base(name), err == nil, kept)
		}
	}
}

// TestResourceCache: only files between the cache's size limits go in,
// by content, and a match needs the right size.
func TestResourceCache(t *testing.T) {
	t.Parallel()
	b, err := openBlobstore(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.close() })
	small, big := "tiny", bigFile("abc")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{"small": small, "big": big} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	zw.Close()
	in := filepath.Join(b.root, "tmp", "in.zip")
	if err := os.WriteFile(in, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := b.assemblePackage(in, nil)
	if err != nil || res.failure != "" {
		t.Fatalf("assemble: %v %q", err, res.failure)
	}
	for _, tc := range []struct {
		sum  string
		size int64
		want bool
	}{
		{sha1Hex(big), int64(len(big)), true},
		{strings.ToUpper(sha1Hex(big)), int64(len(big)), true},
		{sha1Hex(big), int64(len(big)) + 1, false},
		{sha1Hex(small), int64(len(small)), false},
		{"../../secret", 64, false},
	} {
		if got := b.hasResource(tc.sum, tc.size); got != tc.want {
			t.Errorf("hasResource(%s, %d) = %v", tc.sum, tc.size, got)
		}
	}
}

// TestBlobURLBehindGateway: behind a gateway the download URL names the
// embedded CF's own host, where the blobs are served, not the gateway's.
func TestBlobURLBehindGateway(t *testing.T) {
	t.Parallel()
	c, _ := stagingCF(t, nil)
	app := c.createApp("developer", "behind", nil)
	pkg := c.readyPackage("developer", app, zipFile{name: "Staticfile"})
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI("http://127.0.0.1:9022/v3/packages/" + pkg + "/download")
	req.Header.Set("Authorization", "bearer "+c.tokens["developer"])
	req.Header.Set("X-Forwarded-Host", "api.gateway.example")
	req.Header.Set("X-Forwarded-Proto", "https")
	if err := c.client.Do(req, res); err != nil {
		t.Fatal(err)
	}
	if loc := string(res.Header.Peek("Location")); res.StatusCode() != 302 || !strings.HasPrefix(loc, "http://127.0.0.1:9022/blobs/packages/"+pkg+"?") {
		t.Errorf("%d Location %q", res.StatusCode(), loc)
	}
}
