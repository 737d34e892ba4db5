package backend

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
)

// The bits of packages and droplets live on disk, under <data>/blobs (a
// temporary directory for an in-memory store, removed on Close):
//
//	packages/<guid>.zip        a package's bits
//	droplets/<guid>.tgz        a droplet's bits
//	resources/<ab>/<sha1>      the resource cache: files of uploaded packages, by content
//	tmp/                       uploads and builds in progress
//	secret                     the key that signs download URLs
//
// Downloads answer with a redirect to a signed, expiring URL on the same
// server, /blobs/<kind>/<guid>?expires=…&signature=…, which needs no token:
// what CC's BlobDispatcher does with a WebDAV blobstore, where nginx's
// secure_link module checks the signature (403 when wrong, 410 when
// expired).

// The kinds of blobs.
const (
	blobPackages = "packages"
	blobDroplets = "droplets"
)

// blobURLTTL is how long a signed download URL stays valid.
const blobURLTTL = time.Hour

// staleAfter is the age past which a temporary file, or a blob whose
// package or droplet is gone, is removed when the embedded CF starts: a
// younger one may belong to another process on the same data dir, between
// writing the bits and the row.
const staleAfter = time.Hour

// blobstore is the directory of bits and the key that signs their URLs.
type blobstore struct {
	root   string
	temp   bool // root is a temporary directory, removed by close
	secret []byte
}

// openBlobstore opens (creating when needed) the blobs under the data dir,
// or a temporary directory for an in-memory store.
func openBlobstore(data string) (*blobstore, error) {
	b := &blobstore{}
	if data == store.Memory {
		dir, err := os.MkdirTemp("", "capibridge-blobs-")
		if err != nil {
			return nil, fmt.Errorf("backend: blobs: %w", err)
		}
		b.root, b.temp = dir, true
	} else {
		b.root = filepath.Join(data, "blobs")
	}
	for _, dir := range []string{blobPackages, blobDroplets, "resources", "tmp"} {
		if err := os.MkdirAll(filepath.Join(b.root, dir), 0o700); err != nil {
			b.close()
			return nil, fmt.Errorf("backend: blobs: %w", err)
		}
	}
	secret, err := loadOrCreateSecret(filepath.Join(b.root, "secret"))
	if err != nil {
		b.close()
		return nil, err
	}
	b.secret = secret
	// What an interrupted upload or build left behind. Another process on
	// the same data dir may be writing its own, so only old ones go.
	if entries, err := os.ReadDir(filepath.Join(b.root, "tmp")); err == nil {
		for _, e := range entries {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAfter {
				os.RemoveAll(filepath.Join(b.root, "tmp", e.Name()))
			}
		}
	}
	return b, nil
}

func loadOrCreateSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(secret) < 32 {
			return nil, fmt.Errorf("backend: blobs: %s is not a 32-byte hex key", path)
		}
		return secret, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("backend: blobs: %w", err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("backend: blobs: %w", err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(secret)), 0o600); err != nil {
		return nil, fmt.Errorf("backend: blobs: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("backend: blobs: %w", err)
	}
	return secret, nil
}

// close removes a temporary blobstore.
func (b *blobstore) close() error {
	if b.temp && b.root != "" {
		return os.RemoveAll(b.root)
	}
	return nil
}

// path is where the blob of a package or droplet lives.
func (b *blobstore) path(kind, guid string) string {
	ext := ".zip"
	if kind == blobDroplets {
		ext = ".tgz"
	}
	return filepath.Join(b.root, kind, guid+ext)
}

// tempFile creates a file for bits being written; commit moves it in place.
func (b *blobstore) tempFile(pattern string) (*os.File, error) {
	return os.CreateTemp(filepath.Join(b.root, "tmp"), pattern)
}

// commit moves a finished temporary file to be the blob of kind and guid.
func (b *blobstore) commit(tmp, kind, guid string) error {
	return os.Rename(tmp, b.path(kind, guid))
}

// copyBlob makes the blob of to a copy of the blob of from: a hard link,
// or a copy where links are not possible. Blobs are never written in place.
func (b *blobstore) copyBlob(kind, from, to string) error {
	src, dst := b.path(kind, from), b.path(kind, to)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := b.tempFile("copy-*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(out.Name())
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(out.Name())
		return err
	}
	return os.Rename(out.Name(), dst)
}

// exists tells whether the blob of kind and guid is on disk.
func (b *blobstore) exists(kind, guid string) bool {
	_, err := os.Stat(b.path(kind, guid))
	return err == nil
}

// gc removes the blobs whose package or droplet is gone, once they are
// older than staleAfter (an app delete removes the rows; the bits go at a
// later start).
func (b *blobstore) gc(packages, droplets map[string]bool) {
	for kind, owners := range map[string]map[string]bool{blobPackages: packages, blobDroplets: droplets} {
		entries, err := os.ReadDir(filepath.Join(b.root, kind))
		if err != nil {
			continue
		}
		for _, e := range entries {
			guid := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
			if info, err := e.Info(); err == nil && !owners[guid] && time.Since(info.ModTime()) > staleAfter {
				os.Remove(filepath.Join(b.root, kind, e.Name()))
			}
		}
	}
}

// signature is the HMAC of a blob's URL until expires (unix seconds).
func (b *blobstore) signature(kind, guid string, expires int64) string {
	mac := hmac.New(sha256.New, b.secret)
	fmt.Fprintf(mac, "%s/%s\n%d", kind, guid, expires)
	return hex.EncodeToString(mac.Sum(nil))
}

// signedURL is the download URL of a blob, valid until now+blobURLTTL.
func (b *blobstore) signedURL(base, kind, guid string, now time.Time) string {
	expires := now.Add(blobURLTTL).Unix()
	return base + "/blobs/" + kind + "/" + guid + "?expires=" + strconv.FormatInt(expires, 10) + "&signature=" + b.signature(kind, guid, expires)
}

// Why a signed URL is refused.
var (
	errBlobSignature = errors.New("backend: blob URL signature invalid")
	errBlobExpired   = errors.New("backend: blob URL expired")
)

// verify checks a signed URL's query at now.
func (b *blobstore) verify(kind, guid, expires, signature string, now time.Time) error {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return errBlobSignature
	}
	want := b.signature(kind, guid, exp)
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return errBlobSignature
	}
	if now.Unix() > exp {
		return errBlobExpired
	}
	return nil
}

// serveBlobPackage and serveBlobDroplet answer the signed URLs, without a
// token: the signature is the credential.
func (s *Server) serveBlobPackage(r *request) error {
	return s.serveBlob(r, blobPackages, "application/zip")
}

func (s *Server) serveBlobDroplet(r *request) error {
	return s.serveBlob(r, blobDroplets, "application/gzip")
}

func (s *Server) serveBlob(r *request, kind, contentType string) error {
	ctx := r.ctx.RequestCtx
	guid := r.params[0]
	switch s.staging.blobs.verify(kind, guid, r.query.str("expires"), r.query.str("signature"), s.now()) {
	case nil:
	case errBlobExpired:
		blobText(ctx, fasthttp.StatusGone, "The download URL has expired.")
		return nil
	default:
		blobText(ctx, fasthttp.StatusForbidden, "The download URL signature is invalid.")
		return nil
	}
	f, err := os.Open(s.staging.blobs.path(kind, guid))
	if errors.Is(err, fs.ErrNotExist) {
		blobText(ctx, fasthttp.StatusNotFound, "No such blob.")
		return nil
	}
	if err != nil {
		return errInternal(err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return errInternal(err)
	}
	ctx.Response.Header.SetContentType(contentType)
	ctx.SetStatusCode(fasthttp.StatusOK)
	// fasthttp closes the file once it has sent it.
	ctx.SetBodyStream(f, int(info.Size()))
	return nil
}

// blobText answers a blob URL the way a blobstore does: a short text, not
// a Cloud Controller error.
func blobText(ctx *fasthttp.RequestCtx, status int, text string) {
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.SetStatusCode(status)
	ctx.SetBodyString(text + "\n")
}

// redirectToBlob answers a download with 302 Found to the signed URL, as
// CC's BlobDispatcher#send_or_redirect does for a remote blobstore. Like a
// blobstore, the URL is on the host the embedded CF itself was reached at,
// not the one a gateway in front names in X-Forwarded-Host: the gateway
// serves the APIs, not the blobs.
func (s *Server) redirectToBlob(r *request, kind, guid string) error {
	scheme := "http"
	if r.ctx.IsTLS() {
		scheme = "https"
	}
	base := scheme + "://" + string(r.ctx.Host())
	r.ctx.Response.Header.Set(fasthttp.HeaderLocation, s.staging.blobs.signedURL(base, kind, guid, s.now()))
	r.ctx.SetStatusCode(fasthttp.StatusFound)
	return nil
}

// maxJSONBody bounds the bodies read whole: every request but the uploads.
// It is fasthttp's default limit, which the streaming of uploads lifts for
// the whole server (fasthttp Server.StreamRequestBody).
const maxJSONBody = 4 << 20

// isUpload tells the routes whose handlers stream the request body.
func isUpload(rt *route) bool {
	return len(rt.pattern) > 0 && rt.pattern[len(rt.pattern)-1] == "upload"
}

// readBody reads the body of a request that is not an upload, so that
// handlers find it in PostBody, and refuses one larger than maxJSONBody
// with 413, as fasthttp does when it reads bodies itself. It reports
// whether it has answered the request.
func readBody(ctx *fasthttp.RequestCtx, rt *route) bool {
	if isUpload(rt) {
		return false
	}
	stream := ctx.RequestBodyStream()
	if stream == nil {
		return false
	}
	cl := ctx.Request.Header.ContentLength()
	if cl == 0 {
		// An empty body: PostBody must not go to the stream.
		ctx.Request.SetBodyRaw([]byte{})
		return false
	}
	tooLarge := func() bool {
		ctx.SetConnectionClose()
		ctx.Error("Request Entity Too Large", fasthttp.StatusRequestEntityTooLarge)
		return true
	}
	if cl > maxJSONBody {
		return tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(stream, maxJSONBody+1))
	if err != nil {
		ctx.SetConnectionClose()
		ctx.Error("Bad Request", fasthttp.StatusBadRequest)
		return true
	}
	if len(body) > maxJSONBody {
		return tooLarge()
	}
	ctx.Request.SetBodyRaw(body)
	return false
}
