package backend

import (
	"archive/zip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Limits of uploads, from capi-release's defaults.
const (
	// maxUploadBytes bounds a request body that streams to disk (the
	// nginx in front of CC bounds uploads the same way).
	maxUploadBytes = 1 << 30
	// maxFieldBytes bounds a non-file field of an upload (the resources
	// list of 5000 entries fits easily).
	maxFieldBytes = 8 << 20
	// maxPackageSize is cc.packages.max_package_size: the unzipped size of
	// a package, cached resources included.
	maxPackageSize = 1 << 30
	// resourceMinSize and resourceMaxSize are cc.resource_pool.minimum_size
	// and maximum_size: only files in between are cached and matched.
	resourceMinSize = 64 << 10
	resourceMaxSize = 512 << 20
)

// upload is a multipart/form-data request read to disk: the part called
// bits in a temporary file, the other known fields as text.
type upload struct {
	bits       string // the temporary file, "" when there was no bits part
	bitsName   string // its file name
	bitsSize   int64
	sha1, sha2 string // hex checksums of the bits part
	fields     map[string]string
	unknown    []string // names of other parts, in order
}

// remove deletes the temporary file.
func (u *upload) remove() {
	if u != nil && u.bits != "" {
		os.Remove(u.bits)
	}
}

var (
	errUploadTooLarge  = errors.New("backend: upload larger than the limit")
	errUploadMalformed = errors.New("backend: malformed multipart body")
)

// limitedReader fails with errUploadTooLarge past max bytes.
type limitedReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, errUploadTooLarge
	}
	return n, err
}

// readUpload parses a multipart/form-data body of contentType, streaming
// the part called bits into a temporary file in dir and keeping the parts
// named in fields (up to maxFieldBytes each). A body that is not
// multipart/form-data has no parts. A body over max bytes is
// errUploadTooLarge; one that does not parse, errUploadMalformed.
func readUpload(body io.Reader, contentType, dir string, fields []string, max int64) (*upload, error) {
	u := &upload{fields: map[string]string{}}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return u, nil
	}
	lr := &limitedReader{r: body, max: max}
	mr := multipart.NewReader(lr, params["boundary"])
	fail := func(err error) (*upload, error) {
		u.remove()
		if errors.Is(err, errUploadTooLarge) || lr.n > max {
			return nil, errUploadTooLarge
		}
		if errors.Is(err, errUploadMalformed) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUploadMalformed, err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return u, nil
		}
		if err != nil {
			return fail(err)
		}
		name := part.FormName()
		switch {
		case name == "bits" && u.bits == "":
			if err := u.saveBits(part, dir); err != nil {
				part.Close()
				return fail(err)
			}
		case contains(fields, name):
			b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				part.Close()
				return fail(err)
			}
			if len(b) > maxFieldBytes {
				part.Close()
				return fail(errUploadTooLarge)
			}
			u.fields[name] = string(b)
		default:
			if !contains(u.unknown, name) {
				u.unknown = append(u.unknown, name)
			}
			if _, err := io.Copy(io.Discard, part); err != nil {
				part.Close()
				return fail(err)
			}
		}
		part.Close()
	}
}

func (u *upload) saveBits(part *multipart.Part, dir string) error {
	f, err := os.CreateTemp(dir, "upload-*")
	if err != nil {
		return err
	}
	u.bits, u.bitsName = f.Name(), part.FileName()
	h1, h2 := sha1.New(), sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h1, h2), part)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	u.bitsSize, u.sha1, u.sha2 = n, hex.EncodeToString(h1.Sum(nil)), hex.EncodeToString(h2.Sum(nil))
	return err
}

// resourceRef is one entry of an upload's resources: a file the client
// left out of the zip because the resource cache has it. The v3 shape
// ({"path","size_in_bytes","checksum":{"value"},"mode"}) and the v2 one
// ({"fn","size","sha1","mode"}) are both read, as CC's
// V2V3ResourceTranslator does.
type resourceRef struct {
	Path string
	SHA1 string
	Size int64
	Mode string
}

// parseResources reads the resources field of a package upload. Anything
// that is not a JSON list of objects is CC's "Resources must be valid
// JSON." (PackagesController#upload).
func parseResources(text string) ([]resourceRef, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	invalid := errUnprocessable("Resources must be valid JSON.")
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, invalid
	}
	out := make([]resourceRef, 0, len(raw))
	for _, r := range raw {
		var ref resourceRef
		var checksum struct {
			Value string `json:"value"`
		}
		str := func(key string, dst *string) {
			if v, ok := r[key]; ok {
				if json.Unmarshal(v, dst) != nil {
					var n json.Number
					if json.Unmarshal(v, &n) == nil {
						*dst = n.String()
					}
				}
			}
		}
		num := func(key string, dst *int64) {
			if v, ok := r[key]; ok {
				_ = json.Unmarshal(v, dst)
			}
		}
		if _, v3 := r["checksum"]; v3 {
			_ = json.Unmarshal(r["checksum"], &checksum)
			ref.SHA1 = checksum.Value
			str("path", &ref.Path)
			num("size_in_bytes", &ref.Size)
		} else {
			str("sha1", &ref.SHA1)
			str("fn", &ref.Path)
			num("size", &ref.Size)
		}
		str("mode", &ref.Mode)
		out = append(out, ref)
	}
	return out, nil
}

// validSHA1 tells a lowercase or uppercase hex SHA-1, the only names the
// resource cache has.
func validSHA1(s string) bool {
	if len(s) != 40 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// resourcePath is where the resource cache keeps a file by its SHA-1.
func (b *blobstore) resourcePath(sum string) string {
	sum = strings.ToLower(sum)
	return filepath.Join(b.root, "resources", sum[:2], sum)
}

// hasResource tells whether the cache has the file of sum and size, within
// the sizes the cache keeps (CC's ResourcePool#resource_known?).
func (b *blobstore) hasResource(sum string, size int64) bool {
	if !validSHA1(sum) || size < resourceMinSize || size > resourceMaxSize {
		return false
	}
	info, err := os.Stat(b.resourcePath(sum))
	return err == nil && info.Mode().IsRegular() && info.Size() == size
}

// cacheResource adds one file of an uploaded zip to the resource cache
// when its size is within the cache's limits (ResourcePool#add_directory).
func (b *blobstore) cacheResource(f *zip.File) error {
	if !f.Mode().IsRegular() || f.UncompressedSize64 < resourceMinSize || f.UncompressedSize64 > resourceMaxSize {
		return nil
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := b.tempFile("resource-*")
	if err != nil {
		return err
	}
	h := sha1.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	dst := b.resourcePath(hex.EncodeToString(h.Sum(nil)))
	if _, err := os.Stat(dst); err == nil {
		os.Remove(tmp.Name())
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// assembled is a package's final zip, or why it failed.
type assembled struct {
	tmp        string // the temporary file of the zip, "" on a failure
	sha1, sha2 string
	failure    string // CC's error text of a failed package, "" on success
}

// pkgFailure is an error text a package gets when processing its upload
// fails; anything else is an internal error.
type pkgFailure string

func (f pkgFailure) Error() string { return string(f) }

// appBitsInvalid is CC's AppBitsUploadInvalid (errors/v2.yml 160001)
// message, which SafeZipper raises for a zip it cannot take.
func appBitsInvalid(detail string) pkgFailure {
	return pkgFailure("The app upload is invalid: " + detail)
}

// assemblePackage makes a package's zip from an uploaded zip (path, or ""
// for none) and the cached resources the client left out of it, as CC's
// Jobs::V3::PackageBits does: the upload must unzip, its paths and
// symlinks stay inside the app, every resource must be in the cache, and
// the whole may not unzip to more than maxPackageSize. Uploaded files go
// into the resource cache. The zip's checksums are the package's.
func (b *blobstore) assemblePackage(bits string, resources []resourceRef) (assembled, error) {
	var zr *zip.Reader
	if bits != "" {
		r, err := zip.OpenReader(bits)
		if err != nil {
			return assembled{failure: string(appBitsInvalid(fmt.Sprintf("Unzipping had errors\n STDOUT: \"\"\n STDERR: \"%v\"", err)))}, nil
		}
		defer r.Close()
		zr = &r.Reader
	}
	out, err := b.tempFile("package-*.zip")
	if err != nil {
		return assembled{}, err
	}
	res, err := b.writePackage(out, zr, resources)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	var failure pkgFailure
	switch {
	case errors.As(err, &failure):
		os.Remove(out.Name())
		return assembled{failure: string(failure)}, nil
	case err != nil:
		os.Remove(out.Name())
		return assembled{}, err
	}
	if zr != nil {
		for _, f := range zr.File {
			if err := b.cacheResource(f); err != nil {
				// Data that does not inflate to what its header says.
				os.Remove(out.Name())
				return assembled{failure: string(appBitsInvalid(fmt.Sprintf("Unzipping had errors\n STDOUT: \"\"\n STDERR: \"%v\"", err)))}, nil
			}
		}
	}
	res.tmp = out.Name()
	return res, nil
}

func (b *blobstore) writePackage(out *os.File, zr *zip.Reader, resources []resourceRef) (assembled, error) {
	var total uint64
	fromCache := map[string]bool{}
	for _, r := range resources {
		name, ok := safeName(r.Path)
		if !ok {
			return assembled{}, pkgFailure(fmt.Sprintf("The resource file path is invalid: File path '%s' is not safe.", r.Path))
		}
		if _, ok := parseMode(r.Mode); !ok {
			return assembled{}, pkgFailure(fmt.Sprintf("The resource file mode is invalid: File mode '%s' with path '%s' is invalid.", r.Mode, r.Path))
		}
		if !b.hasResource(r.SHA1, r.Size) {
			return assembled{}, pkgFailure(fmt.Sprintf(`Can not copy bits we do not have {"fn"=>%q, "size"=>%d, "sha1"=>%q, "mode"=>%q}`,
				r.Path, r.Size, r.SHA1, r.Mode))
		}
		fromCache[name] = true
		total += uint64(r.Size)
	}
	if zr != nil {
		for _, f := range zr.File {
			name, ok := safeName(f.Name)
			if !ok {
				return assembled{}, appBitsInvalid("Relative path(s) outside of root folder")
			}
			if f.Mode()&fs.ModeSymlink != 0 {
				target, err := readSmall(f, 4096)
				if err != nil {
					return assembled{}, appBitsInvalid(fmt.Sprintf("Unzipping had errors\n STDOUT: \"\"\n STDERR: \"%v\"", err))
				}
				if !safeLink(name, string(target)) {
					return assembled{}, appBitsInvalid("Symlink(s) point outside of root folder")
				}
			}
			if !fromCache[name] {
				total += f.UncompressedSize64
			}
		}
	}
	if total > maxPackageSize {
		return assembled{}, pkgFailure(fmt.Sprintf("The app package is invalid: Package may not be larger than %d bytes", maxPackageSize))
	}
	h1, h2 := sha1.New(), sha256.New()
	zw := zip.NewWriter(io.MultiWriter(out, h1, h2))
	if zr != nil {
		for _, f := range zr.File {
			if name, _ := safeName(f.Name); fromCache[name] {
				continue // the cached copy replaces it, as CC copies cached files over the unzipped ones
			}
			if err := zw.Copy(f); err != nil {
				return assembled{}, appBitsInvalid(fmt.Sprintf("Unzipping had errors\n STDOUT: \"\"\n STDERR: \"%v\"", err))
			}
		}
	}
	sorted := append([]resourceRef(nil), resources...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for _, r := range sorted {
		if err := b.addCached(zw, r); err != nil {
			return assembled{}, err
		}
	}
	if err := zw.Close(); err != nil {
		return assembled{}, err
	}
	return assembled{sha1: hex.EncodeToString(h1.Sum(nil)), sha2: hex.EncodeToString(h2.Sum(nil))}, nil
}

func (b *blobstore) addCached(zw *zip.Writer, r resourceRef) error {
	name, _ := safeName(r.Path)
	mode, _ := parseMode(r.Mode)
	hdr := &zip.FileHeader{Name: name, Method: zip.Deflate}
	hdr.SetMode(mode)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	f, err := os.Open(b.resourcePath(r.SHA1))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// defaultFileMode is the mode of a cached resource sent without one
// (CC's FingerprintsCollection::DEFAULT_FILE_MODE).
const defaultFileMode = 0o744

// parseMode reads a resource's octal mode; a file must stay readable and
// writable by its owner (FingerprintsCollection#parse_mode).
func parseMode(s string) (fs.FileMode, bool) {
	if s == "" {
		return defaultFileMode, true
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m&0o600 != 0o600 || m > 0o7777 {
		return 0, false
	}
	return fs.FileMode(m), true
}

// safeName cleans a path of a zip entry or resource, refusing one that
// leaves the app's directory (FilePathChecker.safe_path?).
func safeName(name string) (string, bool) {
	name = strings.ReplaceAll(name, "\\", "/")
	if name == "" || path.IsAbs(name) {
		return "", false
	}
	dir := strings.HasSuffix(name, "/")
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	if dir && clean != "." {
		clean += "/"
	}
	return clean, true
}

// safeLink tells whether a symlink at name pointing to target stays in the app.
func safeLink(name, target string) bool {
	if target == "" || path.IsAbs(target) {
		return false
	}
	resolved := path.Clean(path.Join(path.Dir(strings.TrimSuffix(name, "/")), target))
	return resolved != ".." && !strings.HasPrefix(resolved, "../")
}

// readSmall reads a zip entry of at most limit bytes.
func readSmall(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return b[:limit], nil
	}
	return b, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
