package v2api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/ccv3"
	"capibridge/proxy/cferr"
	"capibridge/translate"
)

// An app's bits and droplet through v2 (MAPPING §7): uploads are streamed
// from the client to the v3 upload, part by part, never held whole.

// maxResourcesBytes bounds the resources part of an upload, a JSON list.
const maxResourcesBytes = 16 << 20

func appBitsUploadInvalid(msg string) *cferr.Error {
	return &cferr.Error{Status: 400, Code: 160001, Name: "AppBitsUploadInvalid", Description: "The app upload is invalid: " + msg}
}

// bitsEntry is an entry of a v2 resources list ({fn, size, sha1, mode}).
type bitsEntry struct {
	Fn   string `json:"fn,omitempty"`
	Size int64  `json:"size"`
	SHA1 string `json:"sha1"`
	Mode string `json:"mode,omitempty"`
}

// v3Resources turns v2 resources into v3's upload resources.
func v3Resources(in []bitsEntry) []ccv3.MatchedResource {
	out := make([]ccv3.MatchedResource, len(in))
	for i, r := range in {
		out[i].Checksum.Value, out[i].SizeInBytes, out[i].Path, out[i].Mode = r.SHA1, r.Size, r.Fn, r.Mode
	}
	return out
}

// requestBody is the client's body as a stream, read while it is sent on.
func (g *API) requestBody(ctx *fasthttp.RequestCtx) io.Reader {
	if bs := ctx.RequestBodyStream(); bs != nil {
		return g.hooks.ClientBody(ctx, bs)
	}
	return bytes.NewReader(ctx.PostBody())
}

// multipartReader reads the client's multipart/form-data body.
func (g *API) multipartReader(ctx *fasthttp.RequestCtx) (*multipart.Reader, error) {
	mt, params, err := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, errors.New("not multipart/form-data")
	}
	return multipart.NewReader(g.requestBody(ctx), params["boundary"]), nil
}

// rewriteUpload copies the client's multipart body to w as v3 wants it:
// the file part (named from) becomes "bits", the v2 resources become v3
// resources. It reports whether it saw the resources part.
func rewriteUpload(in *multipart.Reader, out *multipart.Writer, from string) (sawResources bool, err error) {
	for {
		part, err := in.NextPart()
		if err == io.EOF {
			return sawResources, nil
		}
		if err != nil {
			return sawResources, err
		}
		switch part.FormName() {
		case "resources":
			raw, err := io.ReadAll(io.LimitReader(part, maxResourcesBytes))
			if err != nil {
				return sawResources, err
			}
			var rs []bitsEntry
			if err := json.Unmarshal(raw, &rs); err != nil {
				return sawResources, appBitsUploadInvalid("invalid :resources")
			}
			body, err := json.Marshal(v3Resources(rs))
			if err != nil {
				return sawResources, err
			}
			if err := out.WriteField("resources", string(body)); err != nil {
				return sawResources, err
			}
			sawResources = true
		case from:
			// v3 tells a droplet (a tgz) from a package's zip by the file name.
			name := part.FileName()
			if name == "" {
				name = map[string]string{"application": "application.zip", "droplet": "droplet.tgz"}[from]
			}
			w, err := out.CreateFormFile("bits", name)
			if err != nil {
				return sawResources, err
			}
			if _, err := io.Copy(w, part); err != nil {
				return sawResources, err
			}
		}
		part.Close()
	}
}

// pipeUpload streams the rewritten body into send, which reads it as the
// v3 upload's body, and returns send's error, or the rewrite's.
func (g *API) pipeUpload(ctx *fasthttp.RequestCtx, from string, send func(contentType string, body io.Reader) error) error {
	in, err := g.multipartReader(ctx)
	if err != nil {
		return appBitsUploadInvalid(err.Error())
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	rewritten := make(chan error, 1)
	go func() {
		saw, err := rewriteUpload(in, mw, from)
		if err == nil && !saw && from == "application" {
			// AppBitsUploadController: the resources part is required.
			err = appBitsUploadInvalid("missing :resources")
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
		rewritten <- err
	}()
	sendErr := send(mw.FormDataContentType(), pr)
	pr.CloseWithError(errUploadEnded)
	rewriteErr := <-rewritten
	switch {
	case rewriteErr == nil || errors.Is(rewriteErr, errUploadEnded):
		// The upstream answered (or failed) on its own: its word counts.
		return sendErr
	case g.hooks.ClientGone(rewriteErr):
		// The client's fault (a stall, 408; broken chunks, 400), or a
		// client that went away (499), never the upload's.
		var e *cferr.Error
		if errors.As(rewriteErr, &e) {
			return e
		}
		return &cferr.Error{Status: 499, Code: 10001, Name: "UnknownError", Description: "The client went away", Cause: rewriteErr}
	}
	// The client's body was wrong: the v3 upload failed because of it.
	var e *cferr.Error
	if errors.As(rewriteErr, &e) {
		return rewriteErr
	}
	return appBitsUploadInvalid(rewriteErr.Error())
}

// errUploadEnded stops the rewrite of a body the upstream no longer reads.
var errUploadEnded = errors.New("proxy: the upload ended")

// waitPackage polls a package until it leaves its processing states.
func (g *API) waitPackage(c ccv3.Call, guid string) (translate.V3Package, error) {
	var p translate.V3Package
	done, err := poll(time.Now().Add(g.cfg.UpstreamClient.TransferTimeout), 500*time.Millisecond, func() (done bool, err error) {
		p, err = g.v3.GetPackage(c, guid)
		return p.State == "READY" || p.State == "FAILED", err
	})
	if err == nil && !done {
		err = &cferr.Error{Status: fasthttp.StatusGatewayTimeout, Code: 10015, Name: "ServiceUnavailable",
			Description: "The Cloud Controller did not finish processing the upload in time"}
	}
	return p, err
}

// v2AppUploadBits answers PUT /v2/apps/:guid/bits: a new bits package
// takes the upload; with async=true the answer is at once, a job named
// after the package, else 201 {} once v3 has processed it (MAPPING §6).
func (g *API) v2AppUploadBits(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	app, err := g.v3.GetApp(c, guid)
	if err != nil {
		return v2Error(err, guid)
	}
	if app.Lifecycle.Type == "docker" {
		return &cferr.Error{Status: 422, Code: 10008, Name: "UnprocessableEntity", Description: "Bits cannot be uploaded to a Docker app."}
	}
	pkg, err := g.v3.CreatePackage(c, []byte(fmt.Sprintf(`{"type":"bits","relationships":{"app":{"data":{"guid":%q}}}}`, guid)))
	if err != nil {
		return v2Error(err, guid)
	}
	err = g.pipeUpload(ctx, "application", func(ct string, body io.Reader) error {
		_, err := g.v3.UploadPackage(c, pkg.GUID, ct, body)
		return err
	})
	if err != nil {
		// All or nothing: the refused upload's package must not become
		// the app's latest (it would read PENDING).
		if derr := g.v3.DeletePackage(c, pkg.GUID); derr != nil {
			g.log.Warn("deleting the package of a refused upload", "package", pkg.GUID, "err", derr)
		}
		var e *ccv3.Error
		if errors.As(err, &e) && e.Status < 500 {
			return appBitsUploadInvalid(e.Detail())
		}
		return v2Error(err, guid)
	}
	if ctx.QueryArgs().Has("async") && string(ctx.QueryArgs().Peek("async")) == "true" {
		body, err := translate.QueuedJob(pkg.GUID, pkg.CreatedAt)
		if err != nil {
			return err
		}
		writeV2(ctx, fasthttp.StatusCreated, body)
		return nil
	}
	p, err := g.waitPackage(c, pkg.GUID)
	if err != nil {
		return v2Error(err, guid)
	}
	if p.State == "FAILED" {
		return appBitsUploadInvalid("the package could not be processed")
	}
	writeV2(ctx, fasthttp.StatusCreated, []byte("{}"))
	return nil
}

// v2ResourceMatch answers PUT /v2/resource_match: of the resources given,
// those the Cloud Controller already has ([{sha1, size}]).
func (g *API) v2ResourceMatch(ctx *fasthttp.RequestCtx) error {
	raw, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	var in []bitsEntry
	if err := json.Unmarshal(raw, &in); err != nil {
		return &cferr.Error{Status: 400, Code: 1001, Name: "MessageParseError", Description: "Request invalid due to parse error: " + err.Error()}
	}
	matched, err := g.v3.ResourceMatches(call(ctx), v3Resources(in))
	if err != nil {
		return v2Error(err, "")
	}
	out := make([]bitsEntry, 0, len(matched))
	for _, m := range matched {
		out = append(out, bitsEntry{Fn: m.Path, Size: m.SizeInBytes, SHA1: m.Checksum.Value, Mode: m.Mode})
	}
	body, err := json.Marshal(out)
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusOK, body)
	return nil
}

// v2AppCopyBits answers POST /v2/apps/:guid/copy_bits {"source_app_guid"}:
// the source's latest package is copied to the app; 201 with a job named
// after the new package.
func (g *API) v2AppCopyBits(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	raw, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	var req struct {
		Source string `json:"source_app_guid"`
	}
	if err := json.Unmarshal(raw, &req); err != nil || req.Source == "" {
		return &cferr.Error{Status: 400, Code: 160002, Name: "AppBitsCopyInvalid", Description: "The app copy is invalid: missing source_app_guid"}
	}
	if _, err := g.v3.GetApp(c, guid); err != nil {
		return v2Error(err, guid)
	}
	pkgs, err := g.v3.LatestPackages(c, []string{req.Source})
	if err != nil {
		return v2Error(err, req.Source)
	}
	src, ok := pkgs[req.Source]
	if !ok {
		if _, err := g.v3.GetApp(c, req.Source); err != nil {
			return v2Error(err, req.Source)
		}
		return &cferr.Error{Status: 400, Code: 160002, Name: "AppBitsCopyInvalid", Description: "The app copy is invalid: source app has no package"}
	}
	pkg, err := g.v3.CopyPackage(c, src.GUID, guid)
	if err != nil {
		return v2Error(err, guid)
	}
	body, err := translate.QueuedJob(pkg.GUID, pkg.CreatedAt)
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusCreated, body)
	return nil
}

// v2AppDownload answers GET /v2/apps/:guid/download: a redirect to the
// latest package's bits in the blobstore, as CC's BlobDispatcher does.
func (g *API) v2AppDownload(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	pkgs, err := g.v3.LatestPackages(c, []string{guid})
	if err != nil {
		return v2Error(err, guid)
	}
	p, ok := pkgs[guid]
	if !ok {
		if _, err := g.v3.GetApp(c, guid); err != nil {
			return v2Error(err, guid)
		}
		return &cferr.Error{Status: 404, Code: 150002, Name: "AppPackageNotFound", Description: "The app package could not be found: " + guid}
	}
	loc, err := g.v3.Redirect(c, "/v3/packages/"+p.GUID+"/download", "/v3/packages/:guid/*")
	if err != nil {
		return v2ErrorAs(err, &cferr.Error{Status: 404, Code: 150002, Name: "AppPackageNotFound", Description: "The app package could not be found: " + guid})
	}
	ctx.Redirect(loc, fasthttp.StatusFound)
	return nil
}

// v2AppDropletDownload answers GET /v2/apps/:guid/droplet/download: a
// redirect to the current droplet's bits.
func (g *API) v2AppDropletDownload(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	d, err := g.v3.CurrentDroplet(c, guid)
	if err != nil {
		return v2Error(err, guid)
	}
	notFound := &cferr.Error{Status: 404, Code: 10010, Name: "ResourceNotFound", Description: "Droplet not found for app with guid " + guid}
	if d == nil {
		if _, err := g.v3.GetApp(c, guid); err != nil {
			return v2Error(err, guid)
		}
		return notFound
	}
	loc, err := g.v3.Redirect(c, "/v3/droplets/"+d.GUID+"/download", "/v3/droplets/:guid/*")
	var e *ccv3.Error
	if errors.As(err, &e) && e.Status >= 400 && e.Status < 500 && e.Status != 401 && e.Status != 403 {
		// A droplet without bits (a docker image) has nothing to send:
		// CC's BlobNotFound, answered ResourceNotFound.
		notFound.Cause = err
		return notFound
	}
	if err != nil {
		return v2Error(err, guid)
	}
	ctx.Redirect(loc, fasthttp.StatusFound)
	return nil
}

// v2AppDropletUpload answers PUT /v2/apps/:guid/droplet/upload (multipart
// "droplet"): a new droplet takes the upload, and the answer is v3's
// upload job, 201.
func (g *API) v2AppDropletUpload(ctx *fasthttp.RequestCtx) error {
	guid, c := pathParam(ctx, 1), call(ctx)
	if _, err := g.v3.GetApp(c, guid); err != nil {
		return v2Error(err, guid)
	}
	d, err := g.v3.CreateDroplet(c, guid)
	if err != nil {
		return v2Error(err, guid)
	}
	var job string
	err = g.pipeUpload(ctx, "droplet", func(ct string, body io.Reader) (err error) {
		job, err = g.v3.UploadDroplet(c, d.GUID, ct, body)
		return err
	})
	if err != nil {
		var e *ccv3.Error
		if errors.As(err, &e) && e.Status < 500 {
			return &cferr.Error{Status: 400, Code: 380002, Name: "DropletUploadInvalid", Description: "The droplet upload is invalid: " + e.Detail()}
		}
		return v2Error(err, guid)
	}
	if job == "" {
		job = d.GUID
	}
	body, err := translate.QueuedJob(job, time.Now())
	if err != nil {
		return err
	}
	writeV2(ctx, fasthttp.StatusCreated, body)
	return nil
}
