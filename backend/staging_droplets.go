package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"capibridge/backend/store"
)

// The write side of droplets (cc:app/controllers/v3/droplets_controller.rb,
// app/actions/droplet_create.rb, droplet_upload.rb, droplet_copy.rb) and
// the current droplet of an app (AppsV3Controller#assign_current_droplet,
// app/actions/app_assign_droplet.rb).

// dropletApp loads a droplet the caller can see (404 Droplet otherwise)
// with its app, space and the caller's roles there.
func (s *Server) dropletApp(r *request, guid string) (store.Droplet, appAccess, error) {
	return findInApp(s, r, dropletResource, guid, func(d store.Droplet) string { return d.AppGUID })
}

// createDroplet is POST /v3/droplets: a droplet AWAITING_UPLOAD for bits
// the client stages itself; with ?source_guid= it copies a droplet.
func (s *Server) createDroplet(r *request) error {
	if err := r.query.allow("source_guid"); err != nil {
		return err
	}
	if r.query.has("source_guid") {
		return s.copyDroplet(r)
	}
	o, err := decodeObject(r.ctx.PostBody(), "relationships", "process_types", "metadata")
	if err != nil {
		return err
	}
	appGUID, err := appGUIDOf(o)
	if err != nil {
		return err
	}
	// DropletCreate::DEFAULT_PROCESS_TYPES.
	types := map[string]string{"web": ""}
	if o.has("process_types") && !o.isNull("process_types") {
		types = nil
		if json.Unmarshal(o["process_types"], &types) != nil || types == nil {
			return errUnprocessable("Process types must be an object with string values")
		}
	}
	md, err := o.metadata()
	if err != nil {
		return err
	}
	acc, err := s.findApp(r, appGUID)
	if isNotFound(err) {
		return errUnprocessable(fmt.Sprintf("App with guid %q does not exist, or you do not have access to it.", appGUID))
	}
	if err != nil {
		return err
	}
	if err := acc.roles.writeErr(); err != nil {
		return err
	}
	if acc.app.LifecycleType != "buildpack" {
		return errUnprocessable("Droplet creation is not available for apps with docker lifecycles.")
	}
	now := s.store.Now()
	d := store.Droplet{GUID: newGUID(), AppGUID: acc.app.GUID, SpaceGUID: acc.space.GUID, State: store.DropletAwaitingUpload,
		LifecycleType: "buildpack", ProcessTypes: types, Buildpacks: []store.DropletBuildpack{}, CreatedAt: now, UpdatedAt: now}
	if md != nil {
		d.Labels, d.Annotations = apply(nil, md.labels), apply(nil, md.annotations)
	}
	ev := s.appEvent(r, "audit.app.droplet.create", acc.app, acc.space, map[string]string{"droplet_guid": d.GUID})
	if err := s.store.CreateDroplet(r.ctx, d, ev); err != nil {
		return errInternal(err)
	}
	return r.reply(201, presentDroplet(r.base, d, ""))
}

// copyDroplet is POST /v3/droplets?source_guid=: a STAGED droplet copied
// to another app. A buildpack copy is COPYING until its bits are in place
// (Jobs::V3::DropletBitsCopier); a docker copy is STAGED at once.
func (s *Server) copyDroplet(r *request) error {
	o, err := decodeObject(r.ctx.PostBody(), "relationships")
	if err != nil {
		return err
	}
	appGUID, err := appGUIDOf(o)
	if err != nil {
		return err
	}
	src, _, err := s.dropletApp(r, r.query.str("source_guid"))
	if err != nil {
		return err
	}
	dest, err := s.findApp(r, appGUID)
	if err != nil {
		return err
	}
	if err := dest.roles.writeErr(); err != nil {
		return err
	}
	if src.State != store.DropletStaged {
		return errUnprocessable("source droplet is not staged")
	}
	now := s.store.Now()
	d := store.Droplet{GUID: newGUID(), AppGUID: dest.app.GUID, SpaceGUID: dest.space.GUID, State: store.DropletCopying,
		LifecycleType: src.LifecycleType, ExecutionMetadata: src.ExecutionMetadata, ProcessTypes: src.ProcessTypes,
		Buildpacks: src.Buildpacks, Stack: src.Stack, Image: src.Image, CreatedAt: now, UpdatedAt: now}
	if src.LifecycleType == "docker" {
		d.State = src.State
	}
	ev := s.appEvent(r, "audit.app.droplet.create", dest.app, dest.space,
		map[string]any{"droplet_guid": d.GUID, "request": map[string]string{"source_droplet_guid": src.GUID}})
	if err := s.store.CreateDroplet(r.ctx, d, ev); err != nil {
		return errInternal(err)
	}
	answer := presentDroplet(r.base, d, "")
	if d.State == store.DropletCopying {
		final := d
		final.State, final.SHA1Checksum, final.SHA256Checksum = store.DropletStaged, src.SHA1Checksum, src.SHA256Checksum
		if err := s.staging.blobs.copyBlob(blobDroplets, src.GUID, d.GUID); err != nil {
			s.log.Error("copying droplet bits", "from", src.GUID, "to", d.GUID, "err", err)
			final.State, final.SHA1Checksum, final.SHA256Checksum = store.DropletFailed, nil, nil
			id, desc := stagingFailure("StagingError", "failed to copy the droplet's bits")
			final.ErrorID, final.ErrorDescription = &id, &desc
		}
		final.UpdatedAt = s.store.Now()
		if err := s.store.SetDropletState(r.ctx, store.DropletCopying, final); err != nil {
			return errInternal(err)
		}
	}
	return r.reply(201, answer)
}

// uploadDroplet is POST /v3/droplets/:guid/upload: the tgz of a droplet
// AWAITING_UPLOAD. It answers 202 with a droplet.upload job, the droplet
// PROCESSING_UPLOAD; the droplet is STAGED once its bits are stored.
func (s *Server) uploadDroplet(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	up, err := s.readRequestUpload(r, nil)
	if up == nil {
		return err
	}
	defer up.remove()
	// DropletUploadMessage, whose errors come joined after one prefix
	// (DropletsController#combine_messages).
	var problems []string
	if len(up.unknown) > 0 {
		problems = append(problems, unknownFields(up.unknown))
	}
	if up.bits == "" {
		problems = append(problems, "A droplet tgz file must be uploaded as 'bits'")
	} else {
		if ext := filepath.Ext(up.bitsName); ext != ".tgz" && !strings.HasSuffix(up.bitsName, ".tar.gz") {
			problems = append(problems, up.bitsName+" is not a tgz")
		}
		if up.bitsSize == 0 {
			problems = append(problems, up.bitsName+" cannot be empty")
		}
	}
	if len(problems) > 0 {
		return errUnprocessable("Uploaded droplet file is invalid: " + strings.Join(problems, ", "))
	}
	d, acc, err := s.dropletApp(r, r.params[0])
	if err != nil {
		return err
	}
	if err := acc.roles.writeErr(); err != nil {
		return err
	}
	refused := errUnprocessable("Droplet may be uploaded only once. Create a new droplet to upload bits.")
	if d.State != store.DropletAwaitingUpload {
		return refused
	}
	d.State, d.UpdatedAt = store.DropletProcessingUpload, s.store.Now()
	ev := s.appEvent(r, "audit.app.droplet.upload", acc.app, acc.space, map[string]string{"droplet_guid": d.GUID})
	switch err := s.store.SetDropletState(r.ctx, store.DropletAwaitingUpload, d, ev); {
	case errors.Is(err, store.ErrWrongState):
		return refused
	case err != nil:
		return storeErr(err, "Droplet")
	}
	job := store.Job{GUID: newGUID(), Operation: "droplet.upload", State: store.JobProcessing, ResourceGUID: d.GUID,
		UserGUID: r.user.GUID, CreatedAt: d.UpdatedAt, UpdatedAt: d.UpdatedAt}
	if err := s.store.CreateJob(r.ctx, job); err != nil {
		return errInternal(err)
	}
	answer := presentDroplet(r.base, d, "")

	final := d
	if err := s.staging.blobs.commit(up.bits, blobDroplets, d.GUID); err != nil {
		s.log.Error("storing droplet bits", "droplet", d.GUID, "err", err)
		id, desc := stagingFailure("StagingError", "failed to store the droplet's bits")
		final.State, final.ErrorID, final.ErrorDescription = store.DropletFailed, &id, &desc
	} else {
		up.bits = ""
		final.State, final.SHA1Checksum, final.SHA256Checksum = store.DropletStaged, &up.sha1, &up.sha2
	}
	final.UpdatedAt = s.store.Now()
	if err := s.store.SetDropletState(r.ctx, store.DropletProcessingUpload, final); err != nil {
		return storeErr(err, "Droplet")
	}
	s.runJob(job)
	if err := r.reply(202, answer); err != nil {
		return err
	}
	r.ctx.Response.Header.Set("Location", r.base+"/v3/jobs/"+job.GUID)
	return nil
}

// downloadDroplet is GET /v3/droplets/:guid/download: a redirect to the
// signed URL of a STAGED buildpack droplet's bits, for those who may
// download droplets (readers of secrets in its space).
func (s *Server) downloadDroplet(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	d, acc, err := s.dropletApp(r, r.params[0])
	if err != nil {
		return err
	}
	if !acc.roles.secrets {
		return errNotAuthorized()
	}
	if d.LifecycleType != "buildpack" {
		return errUnprocessable("Cannot download droplets with 'docker' lifecycle.")
	}
	if d.State != store.DropletStaged {
		return errUnprocessable("Only staged droplets can be downloaded.")
	}
	ev := s.appEvent(r, "audit.app.droplet.download", acc.app, acc.space, map[string]string{"droplet_guid": d.GUID})
	if err := s.store.RecordEvents(r.ctx, ev); err != nil {
		return errInternal(err)
	}
	if !s.staging.blobs.exists(blobDroplets, d.GUID) {
		return errBlobstoreUnavailable()
	}
	return s.redirectToBlob(r, blobDroplets, d.GUID)
}

// patchAppCurrentDroplet is PATCH /v3/apps/:guid/relationships/current_droplet.
func (s *Server) patchAppCurrentDroplet(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	var body map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(r.ctx.PostBody()))
	if err := dec.Decode(&body); err != nil || body == nil {
		return errParse("invalid request body")
	}
	var data struct {
		GUID *string `json:"guid"`
	}
	_, hasData := body["data"]
	if hasData {
		_ = json.Unmarshal(body["data"], &data)
		if data.GUID == nil {
			return errUnprocessable("Current droplet cannot be removed. Replace it with a preferred droplet.")
		}
	}
	acc, err := s.findApp(r, r.params[0])
	if err != nil {
		return err
	}
	if err := acc.roles.writeErr(); err != nil {
		return err
	}
	unable := errUnprocessable("Unable to assign current droplet. Ensure the droplet exists and belongs to this app.")
	if data.GUID == nil {
		return unable
	}
	a := acc.app
	now := s.store.Now()
	ev := s.appEvent(r, "audit.app.droplet.mapped", a, acc.space, map[string]any{"request": map[string]string{"droplet_guid": *data.GUID}})
	newProcess := func(typ string) (store.Process, store.Event) {
		// ProcessCreateFromAppDroplet: web runs one instance, the others none.
		p := store.Process{GUID: newGUID(), AppGUID: a.GUID, SpaceGUID: a.SpaceGUID, Type: typ, Instances: 0,
			MemoryMB: s.cfg.DefaultMemoryMB, DiskMB: s.cfg.DefaultDiskMB, LogRateLimit: s.cfg.DefaultLogRateLimit,
			HealthCheckType: "process", Version: newGUID(), CreatedAt: now, UpdatedAt: now}
		if typ == "web" {
			p.Instances, p.HealthCheckType = 1, "port"
		}
		return p, s.appEvent(r, "audit.app.process.create", a, acc.space, map[string]string{"process_guid": p.GUID, "process_type": typ})
	}
	switch err := s.store.AssignDroplet(r.ctx, a.GUID, *data.GUID, now, newProcess, ev); {
	case errors.Is(err, store.ErrNotFound):
		return unable
	case errors.Is(err, store.ErrWrongState):
		return errUnprocessable("droplet must be in staged state")
	case err != nil:
		return errInternal(err)
	}
	return s.getAppCurrentDropletRelationship(r)
}
