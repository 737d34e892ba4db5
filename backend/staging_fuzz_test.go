package backend

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"capibridge/backend/store"
)

// FuzzReadUpload feeds readUpload arbitrary multipart bodies: it must
// return an upload or one of its errors, never panic, and leave no file
// behind on an error.
func FuzzReadUpload(f *testing.F) {
	body, ct := multipartOf(f, map[string]string{"resources": "[]"}, "app.zip", []byte("PK\x03\x04 not really"))
	boundary := strings.TrimPrefix(ct, "multipart/form-data; boundary=")
	f.Add(body, boundary)
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"bits\"; filename=\"a.zip\"\r\n\r\nxyz\r\n--b--\r\n"), "b")
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b\r\n"), "b")
	f.Add([]byte("--b\r\n\r\n\r\n--b--"), "b")
	f.Add([]byte(""), "")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		up, err := readUpload(bytes.NewReader(body), "multipart/form-data; boundary="+boundary, dir, []string{"resources"}, 1<<16)
		if err != nil {
			if !errors.Is(err, errUploadTooLarge) && !errors.Is(err, errUploadMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Fatalf("%d files left after an error", len(entries))
			}
			return
		}
		if up.bits != "" {
			info, err := os.Stat(up.bits)
			if err != nil || info.Size() != up.bitsSize {
				t.Fatalf("bits file %v, size %d", err, up.bitsSize)
			}
		}
		up.remove()
	})
}

// FuzzPackageBits feeds arbitrary bytes to what an upload and a build do
// with a zip: assembling the package, analysing it and writing a droplet
// must fail cleanly or succeed, never panic.
func FuzzPackageBits(f *testing.F) {
	f.Add(zipOf(f, zipFile{name: "Procfile", body: "web: ./run\n"}, zipFile{name: "a/b", body: "x"}))
	f.Add(zipOf(f, zipFile{name: "../x", body: "x"}))
	f.Add(zipOf(f, zipFile{name: "l", body: "/etc", mode: fs.ModeSymlink | 0o777}))
	f.Add(zipOf(f, zipFile{name: failStagingFile, body: "boom"}, zipFile{name: "go.mod", body: "module x"}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Add([]byte("not a zip"))
	blobs, err := openBlobstore(store.Memory)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { blobs.close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		in := filepath.Join(blobs.root, "tmp", "fuzz-in.zip")
		if err := os.WriteFile(in, data, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(in)
		res, err := blobs.assemblePackage(in, nil)
		if err != nil {
			t.Fatalf("internal error %v", err)
		}
		if res.failure != "" {
			return
		}
		defer os.Remove(res.tmp)
		zr, err := zip.OpenReader(res.tmp)
		if err != nil {
			t.Fatalf("the assembled package does not open: %v", err)
		}
		defer zr.Close()
		info, err := analyzePackage(&zr.Reader)
		if err != nil {
			return
		}
		st := stage(info, nil)
		_, _, _ = writeDroplet(io.Discard, &zr.Reader, stagingInfo(st.detected, st.processTypes["web"]), fixedTime)
	})
}

// TestReadUploadLimits: a body over the limit, and a field over its own.
func TestReadUploadLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	body, ct := multipartOf(t, nil, "app.zip", bytes.Repeat([]byte("x"), 4096))
	if _, err := readUpload(bytes.NewReader(body), ct, dir, nil, 1024); !errors.Is(err, errUploadTooLarge) {
		t.Errorf("a body over the limit: %v", err)
	}
	body, ct = multipartOf(t, map[string]string{"resources": strings.Repeat("x", maxFieldBytes+1)}, "", nil)
	if _, err := readUpload(bytes.NewReader(body), ct, dir, []string{"resources"}, maxUploadBytes); !errors.Is(err, errUploadTooLarge) {
		t.Errorf("a field over its limit: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("%d files left behind", len(entries))
	}
	up, err := readUpload(strings.NewReader("x=1"), "application/x-www-form-urlencoded", dir, nil, 10)
	if err != nil || up.bits != "" || len(up.fields) > 0 {
		t.Errorf("a form that is not multipart: %+v %v", up, err)
	}
}

// fixedTime dates the droplets the fuzzer writes.
var fixedTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
