package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
)

// The write side of packages (cc:app/controllers/v3/packages_controller.rb,
// app/actions/package_create.rb, package_upload.rb, package_copy.rb) and
// POST /v3/resource_matches (resource_matches_controller.rb).

func newGUID() string { return uuid.NewString() }

// appGUIDOf reads the app relationship {"app":{"data":{"guid":…}}} of a
// package, build or droplet create, in the words of CC's relationship
// validators.
func appGUIDOf(o object) (string, error) {
	rels, err := o.sub("relationships", "Relationships")
	if err != nil {
		return "", err
	}
	if rels == nil {
		return "", errUnprocessable("Relationships must be an object, Relationships App can't be blank")
	}
	if err := rels.only("app"); err != nil {
		return "", err
	}
	app, err := rels.sub("app", "Relationships App")
	if err != nil {
		return "", err
	}
	if app == nil {
		return "", errUnprocessable("Relationships App can't be blank")
	}
	data, err := app.sub("data", "Relationships App data")
	if err != nil {
		return "", err
	}
	if data == nil {
		return "", errUnprocessable("Relationships App data must be an object")
	}
	guid, err := data.str("guid", "Relationships App guid")
	if err != nil {
		return "", err
	}
	if guid == nil || *guid == "" {
		return "", errUnprocessable("Relationships App guid must be a string")
	}
	return *guid, nil
}

// packageApp loads a package the caller can see (404 Package otherwise)
// with its app, space and the caller's roles there.
func (s *Server) packageApp(r *request, guid string) (store.Package, appAccess, error) {
	return findInApp(s, r, packageResource, guid, func(p store.Package) string { return p.AppGUID })
}

// createPackage is POST /v3/packages; with ?source_guid= it copies a package.
func (s *Server) createPackage(r *request) error {
	if err := r.query.allow("source_guid"); err != nil {
		return err
	}
	if r.query.has("source_guid") {
		return s.copyPackage(r)
	}
	o, err := decodeObject(r.ctx.PostBody(), "type", "relationships", "data", "metadata")
	if err != nil {
		return err
	}
	typ, err := o.str("type", "Type")
	if err != nil || typ == nil || *typ != store.PackageBits && *typ != store.PackageDocker {
		return errUnprocessable("Type must be one of 'bits, docker'")
	}
	appGUID, err := appGUIDOf(o)
	if err != nil {
		return err
	}
	p := store.Package{GUID: newGUID(), Type: *typ}
	request := map[string]any{"type": *typ}
	if *typ == store.PackageBits {
		data, err := o.sub("data", "Data")
		if err != nil || len(data) > 0 {
			return errUnprocessable("Data must be empty if provided for bits packages")
		}
		p.State = store.PackageAwaitingUpload
	} else {
		if p.DockerImage, p.DockerUsername, p.DockerPassword, err = dockerData(o); err != nil {
			return err
		}
		p.State = store.PackageReady
		data := map[string]any{"image": *p.DockerImage}
		if p.DockerUsername != nil {
			data["username"], data["password"] = *p.DockerUsername, "***"
		}
		request["data"] = data
	}
	md, err := o.metadata()
	if err != nil {
		return err
	}
	acc, err := s.findApp(r, appGUID)
	if isNotFound(err) {
		return errUnprocessable("App is invalid. Ensure it exists and you have access to it.")
	}
	if err != nil {
		return err
	}
	if err := acc.roles.writeErr(); err != nil {
		return err
	}
	switch {
	case *typ != store.PackageDocker && acc.app.LifecycleType == "docker":
		return errUnprocessable("Cannot create bits package for a Docker app.")
	case *typ != store.PackageBits && acc.app.LifecycleType == "buildpack":
		return errUnprocessable("Cannot create Docker package for a buildpack app.")
	}
	now := s.store.Now()
	p.AppGUID, p.SpaceGUID, p.CreatedAt, p.UpdatedAt = acc.app.GUID, acc.space.GUID, now, now
	if md != nil {
		p.Labels, p.Annotations = apply(nil, md.labels), apply(nil, md.annotations)
	}
	ev := s.appEvent(r, "audit.app.package.create", acc.app, acc.space, map[string]any{"package_guid": p.GUID, "request": request})
	if err := s.store.CreatePackage(r.ctx, p, ev); err != nil {
		return errInternal(err)
	}
	return r.reply(201, presentPackage(r.base, p))
}

// dockerData reads a docker package's data: an image, and a username and
// password given together.
func dockerData(o object) (image, username, password *string, err error) {
	data, err := o.sub("data", "Data")
	if err != nil {
		return nil, nil, nil, err
	}
	if data == nil {
		return nil, nil, nil, errUnprocessable("Data Image required")
	}
	if err := data.only("image", "username", "password"); err != nil {
		return nil, nil, nil, err
	}
	if image, err = data.str("image", "Data Image"); err != nil {
		return nil, nil, nil, err
	}
	if image == nil || *image == "" {
		return nil, nil, nil, errUnprocessable("Data Image required")
	}
	if username, err = data.str("username", "Data Username"); err != nil {
		return nil, nil, nil, err
	}
	if password, err = data.str("password", "Data Password"); err != nil {
		return nil, nil, nil, err
	}
	if (username == nil) != (password == nil) {
		return nil, nil, nil, errUnprocessable("Data Credentials must include both a username and a password")
	}
	return image, username, password, nil
}

// copyPackage is POST /v3/packages?source_guid=: a new package of the
// destination app with the source's bits or image. A bits copy is COPYING
// until its bits are in place (Jobs::V3::PackageBitsCopier).
func (s *Server) copyPackage(r *request) error {
	o, err := decodeObject(r.ctx.PostBody(), "relationships")
	if err != nil {
		return err
	}
	appGUID, err := appGUIDOf(o)
	if err != nil {
		return err
	}
	dest, err := s.findApp(r, appGUID)
	if isNotFound(err) {
		return errUnprocessable("App is invalid. Ensure it exists and you have access to it.")
	}
	if err != nil {
		return err
	}
	if err := dest.roles.writeErr(); err != nil {
		return err
	}
	src, srcAcc, err := s.packageApp(r, r.query.str("source_guid"))
	if isNotFound(err) {
		return errUnprocessable("Source package is invalid. Ensure it exists and you have access to it.")
	}
	if err != nil {
		return err
	}
	if err := srcAcc.roles.writeErr(); err != nil {
		return err
	}
	switch {
	case src.Type == store.PackageBits && dest.app.LifecycleType == "docker":
		return errUnprocessable("Cannot create bits package for a Docker app.")
	case src.Type == store.PackageDocker && dest.app.LifecycleType == "buildpack":
		return errUnprocessable("Cannot create Docker package for a buildpack app.")
	}
	now := s.store.Now()
	p := store.Package{GUID: newGUID(), AppGUID: dest.app.GUID, SpaceGUID: dest.space.GUID, Type: src.Type, State: store.PackageReady,
		DockerImage: src.DockerImage, DockerUsername: src.DockerUsername, DockerPassword: src.DockerPassword, CreatedAt: now, UpdatedAt: now}
	if src.Type == store.PackageBits {
		p.State = store.PackageCopying
	}
	ev := s.appEvent(r, "audit.app.package.create", dest.app, dest.space,
		map[string]any{"package_guid": p.GUID, "request": map[string]string{"source_package_guid": src.GUID}})
	if err := s.store.CreatePackage(r.ctx, p, ev); err != nil {
		return errInternal(err)
	}
	out := presentPackage(r.base, p)
	if src.Type == store.PackageBits {
		final := p
		final.State, final.SHA1Checksum, final.SHA256Checksum = store.PackageReady, src.SHA1Checksum, src.SHA256Checksum
		if src.State != store.PackageReady || !s.staging.blobs.exists(blobPackages, src.GUID) {
			final.State, final.Error = store.PackageFailed, strPtr("The app copy is invalid: the source package has no bits")
			final.SHA1Checksum, final.SHA256Checksum = nil, nil
		} else if err := s.staging.blobs.copyBlob(blobPackages, src.GUID, p.GUID); err != nil {
			s.log.Error("copying package bits", "from", src.GUID, "to", p.GUID, "err", err)
			final.State, final.Error = store.PackageFailed, strPtr("Failed to perform blobstore operation after three retries.")
			final.SHA1Checksum, final.SHA256Checksum = nil, nil
		}
		final.UpdatedAt = s.store.Now()
		if err := s.store.SetPackageState(r.ctx, store.PackageCopying, final); err != nil {
			return errInternal(err)
		}
	}
	return r.reply(201, out)
}

// The fields of a package upload (PackageUploadMessage): the zip as bits,
// and the cached files as resources.
var packageUploadFields = []string{"resources"}

// unknownFields is BaseMessage's NoAdditionalKeysValidator text.
func unknownFields(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "'" + n + "'"
	}
	sort.Strings(quoted)
	return "Unknown field(s): " + strings.Join(quoted, ", ")
}

// readRequestUpload streams the request's multipart body to the blobstore.
// It answers 413 itself when the body is too large (nil, nil).
func (s *Server) readRequestUpload(r *request, fields []string) (*upload, error) {
	body := r.ctx.RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(r.ctx.PostBody())
	}
	up, err := readUpload(body, string(r.ctx.Request.Header.ContentType()), filepath.Join(s.staging.blobs.root, "tmp"), fields, maxUploadBytes)
	switch {
	case errors.Is(err, errUploadTooLarge):
		r.ctx.SetConnectionClose()
		r.ctx.Error("Request Entity Too Large", fasthttp.StatusRequestEntityTooLarge)
		return nil, nil
	case errors.Is(err, errUploadMalformed):
		r.ctx.SetConnectionClose()
		return nil, errParse("invalid request body")
	case err != nil:
		return nil, errInternal(err)
	}
	return up, nil
}

// uploadPackage is POST /v3/packages/:guid/upload. The zip streams to
// disk; the package goes PROCESSING_UPLOAD, which the answer shows, then
// READY with its checksums, or FAILED with CC's error text when the bits
// cannot make a package (the work of CC's PackageBits job).
func (s *Server) uploadPackage(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	if err := s.requireFlag(r, "app_bits_upload"); err != nil {
		return err
	}
	up, err := s.readRequestUpload(r, packageUploadFields)
	if up == nil {
		return err
	}
	defer up.remove()
	if len(up.unknown) > 0 {
		return errUnprocessable(unknownFields(up.unknown))
	}
	resources, err := parseResources(up.fields["resources"])
	if err != nil {
		return err
	}
	if up.bits == "" && len(resources) == 0 {
		return errUnprocessable("Upload must include either resources or bits")
	}
	p, acc, err := s.packageApp(r, r.params[0])
	if err != nil {
		return err
	}
	if err := acc.roles.writeErr(); err != nil {
		return err
	}
	if p.Type != store.PackageBits {
		return errUnprocessable("Package type must be bits.")
	}
	if p.State != store.PackageAwaitingUpload {
		return errBitsAlreadyUploaded()
	}
	p.State, p.UpdatedAt = store.PackageProcessingUpload, s.store.Now()
	ev := s.appEvent(r, "audit.app.package.upload", acc.app, acc.space, map[string]string{"package_guid": p.GUID})
	switch err := s.store.SetPackageState(r.ctx, store.PackageAwaitingUpload, p, ev); {
	case errors.Is(err, store.ErrWrongState):
		return errBitsAlreadyUploaded()
	case err != nil:
		return storeErr(err, "Package")
	}
	answer := presentPackage(r.base, p)

	final := p
	res, err := s.staging.blobs.assemblePackage(up.bits, resources)
	switch {
	case err != nil:
		s.log.Error("processing package upload", "package", p.GUID, "err", err)
		final.State, final.Error = store.PackageFailed, strPtr("Failed to perform blobstore operation after three retries.")
	case res.failure != "":
		final.State, final.Error = store.PackageFailed, &res.failure
	default:
		if err := s.staging.blobs.commit(res.tmp, blobPackages, p.GUID); err != nil {
			os.Remove(res.tmp)
			s.log.Error("storing package bits", "package", p.GUID, "err", err)
			final.State, final.Error = store.PackageFailed, strPtr("Failed to perform blobstore operation after three retries.")
			break
		}
		final.State, final.SHA1Checksum, final.SHA256Checksum = store.PackageReady, &res.sha1, &res.sha2
	}
	final.UpdatedAt = s.store.Now()
	if err := s.store.SetPackageState(r.ctx, store.PackageProcessingUpload, final); err != nil {
		return storeErr(err, "Package")
	}
	return r.reply(200, answer)
}

// downloadPackage is GET /v3/packages/:guid/download: a redirect to the
// signed URL of the bits, for readers of secrets in the package's space.
func (s *Server) downloadPackage(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	p, acc, err := s.packageApp(r, r.params[0])
	if err != nil {
		return err
	}
	if !acc.roles.secrets {
		return errNotAuthorized()
	}
	if p.Type != store.PackageBits {
		return errUnprocessable("Package type must be bits.")
	}
	if p.State != store.PackageReady {
		return errUnprocessable("Package has no bits to download.")
	}
	ev := s.appEvent(r, "audit.app.package.download", acc.app, acc.space, map[string]string{"package_guid": p.GUID})
	if err := s.store.RecordEvents(r.ctx, ev); err != nil {
		return errInternal(err)
	}
	if !s.staging.blobs.exists(blobPackages, p.GUID) {
		return errBlobstoreUnavailable()
	}
	return s.redirectToBlob(r, blobPackages, p.GUID)
}

// resourceMatchJSON is one resource of POST /v3/resource_matches.
type resourceMatchJSON struct {
	Checksum struct {
		Value string `json:"value"`
	} `json:"checksum"`
	SizeInBytes int64   `json:"size_in_bytes"`
	Path        *string `json:"path"`
	Mode        *string `json:"mode"`
}

// resourceMatches is POST /v3/resource_matches: the given files that the
// resource cache already has, by SHA-1 and size; path and mode are not
// compared, and come back as sent (ResourceMatchCreateMessage,
// ResourceMatchPresenter).
func (s *Server) resourceMatches(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	if err := s.requireFlag(r, "app_bits_upload"); err != nil {
		return err
	}
	o, err := decodeObject(r.ctx.PostBody(), "resources")
	if err != nil {
		return err
	}
	var items []json.RawMessage
	if !o.has("resources") || json.Unmarshal(o["resources"], &items) != nil || o.isNull("resources") {
		return errUnprocessable("Resources must be an array")
	}
	switch {
	case len(items) < 1:
		return errUnprocessable("Resources must have at least 1 resource")
	case len(items) > 5000:
		return errUnprocessable("Resources can have at most 5000 resources)")
	}
	const preamble = "Resources array contains at least one resource with a "
	var problems []string
	problem := func(p string) {
		if !contains(problems, preamble+p) {
			problems = append(problems, preamble+p)
		}
	}
	matches := []resourceMatchJSON{}
	for _, raw := range items {
		var res map[string]json.RawMessage
		if json.Unmarshal(raw, &res) != nil || res == nil {
			problem("non-object checksum")
			continue
		}
		var m resourceMatchJSON
		var checksum map[string]json.RawMessage
		switch {
		case json.Unmarshal(res["checksum"], &checksum) != nil || checksum == nil:
			problem("non-object checksum")
		case json.Unmarshal(checksum["value"], &m.Checksum.Value) != nil:
			problem("non-string checksum value")
		case len(m.Checksum.Value) != 40:
			problem("non-SHA1 checksum value")
		}
		var size json.Number
		dec := json.NewDecoder(bytes.NewReader(res["size_in_bytes"]))
		dec.UseNumber()
		if dec.Decode(&size) != nil {
			problem("non-integer size_in_bytes")
		} else if n, err := size.Int64(); err != nil {
			problem("non-integer size_in_bytes")
		} else if n < 0 {
			problem("negative size_in_bytes")
		} else {
			m.SizeInBytes = n
		}
		var str string
		if json.Unmarshal(res["path"], &str) == nil {
			m.Path = strPtr(str)
		}
		if json.Unmarshal(res["mode"], &str) == nil {
			m.Mode = strPtr(str)
		}
		if len(problems) == 0 && s.staging.blobs.hasResource(m.Checksum.Value, m.SizeInBytes) {
			matches = append(matches, m)
		}
	}
	if len(problems) > 0 {
		return errUnprocessable(strings.Join(problems, ", "))
	}
	return r.reply(201, struct {
		Resources []resourceMatchJSON `json:"resources"`
	}{matches})
}

// deletePackage is DELETE /v3/packages/:guid: 202 with a package.delete
// job, as CC's PackagesController#destroy. The package and its bits go at
// once; builds and droplets made from it stay.
func (s *Server) deletePackage(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	p, acc, err := s.packageApp(r, r.params[0])
	if err != nil {
		return err
	}
	if err := acc.roles.writeErr(); err != nil {
		return err
	}
	ev := s.appEvent(r, "audit.app.package.delete", acc.app, acc.space, map[string]string{"package_guid": p.GUID})
	if err := s.store.DeletePackage(r.ctx, p.GUID, ev); err != nil {
		return storeErr(err, "Package")
	}
	if err := os.Remove(s.staging.blobs.path(blobPackages, p.GUID)); err != nil && !os.IsNotExist(err) {
		s.log.Warn("removing a deleted package's bits", "package", p.GUID, "err", err)
	}
	return s.startJob(r, "package.delete", p.GUID)
}
