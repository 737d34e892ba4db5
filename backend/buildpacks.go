package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Buildpacks (cc:app/controllers/v3/buildpacks_controller.rb,
// app/messages/buildpack_*_message.rb, app/actions/buildpack_*.rb,
// app/models/runtime/buildpack.rb, app/presenters/v3/buildpack_presenter.rb).
// Every user reads them; only admins write them. Positions form one list
// per lifecycle, kept by Sequel's list plugin in CC and by the store here.

// blobBuildpacks is the blobstore folder of uploaded buildpack bits.
const blobBuildpacks = "buildpacks"

// lifecycleRefused is the text of a lifecycle that is neither.
const lifecycleRefused = `Lifecycle must be either "buildpack" or "cnb"`

// buildpackResource is GET /v3/buildpacks and /:guid. The default order
// is lifecycle, then position.
var buildpackResource = &resource[store.Buildpack, store.BuildpackFilter, buildpackJSON]{
	name:   "Buildpack",
	path:   "/v3/buildpacks",
	keys:   listKeys("guids", "stacks", "names", "lifecycle"),
	orders: []string{"created_at", "updated_at", "position", "lifecycle"},
	filter: func(q *params) store.BuildpackFilter {
		return store.BuildpackFilter{
			Names: q.list("names"), Stacks: q.list("stacks"),
			Lifecycles: q.oneOf("lifecycle", func(string) string { return lifecycleRefused }, "buildpack", "cnb"),
			Labels:     q.labels(), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats"),
			GUIDs: q.list("guids"),
		}
	},
	list:    (*store.Store).ListBuildpacks,
	get:     seenByAll((*store.Store).GetBuildpack),
	present: each(func(r *request, b store.Buildpack) buildpackJSON { return presentBuildpack(r.base, b) }),
}

// buildpackJSON is BuildpackPresenter's body.
type buildpackJSON struct {
	GUID      string       `json:"guid"`
	CreatedAt string       `json:"created_at"`
	UpdatedAt string       `json:"updated_at"`
	Name      string       `json:"name"`
	Stack     *string      `json:"stack"`
	State     string       `json:"state"`
	Lifecycle string       `json:"lifecycle"`
	Filename  *string      `json:"filename"`
	Position  int64        `json:"position"`
	Enabled   bool         `json:"enabled"`
	Locked    bool         `json:"locked"`
	Metadata  metadataJSON `json:"metadata"`
	Links     struct {
		Self   link `json:"self"`
		Upload link `json:"upload"`
	} `json:"links"`
}

func presentBuildpack(base string, b store.Buildpack) buildpackJSON {
	j := buildpackJSON{GUID: b.GUID, CreatedAt: timestamp(b.CreatedAt), UpdatedAt: timestamp(b.UpdatedAt), Name: b.Name, Stack: b.Stack,
		State: "AWAITING_UPLOAD", Lifecycle: b.Lifecycle, Filename: b.Filename, Position: b.Position, Enabled: b.Enabled, Locked: b.Locked,
		Metadata: meta(b.Labels, b.Annotations)}
	// Buildpack#state: READY once a file is there.
	if b.Filename != nil && *b.Filename != "" {
		j.State = "READY"
	}
	j.Links.Self = link{Href: base + "/v3/buildpacks/" + b.GUID}
	j.Links.Upload = link{Href: base + "/v3/buildpacks/" + b.GUID + "/upload", Method: "POST"}
	return j
}

// buildpackName is the name format of both buildpack messages.
var buildpackName = regexp.MustCompile(`^[-\w]+$`)

// buildpackMessage is a valid create or update body: what it sets, nil
// for what it leaves alone, and the body for the audit event.
type buildpackMessage struct {
	name, stack, lifecycle *string
	// stackGiven says the message names the stack, null included.
	stackGiven      bool
	position        *int64
	enabled, locked *bool
	md              *metadataPatch
	request         json.RawMessage
}

// parseBuildpackMessage validates a body as BuildpackCreateMessage does,
// or BuildpackUpdateMessage when not create, every problem in one 422.
func parseBuildpackMessage(body []byte, create bool) (buildpackMessage, error) {
	var m buildpackMessage
	m.request = bytes.TrimSpace(body)
	keys := []string{"name", "stack", "position", "enabled", "locked", "metadata"}
	if create {
		keys = append(keys, "lifecycle")
	}
	o, md, p, err := decodeMessage(body, keys...)
	if err != nil {
		return m, err
	}
	m.md = md
	switch {
	case o.has("name") && !o.isNull("name"):
		name, err := o.str("name", "Name")
		if err != nil {
			p.addErr("", err)
			break
		}
		if jsonBlank(o["name"]) {
			p.add("Name can't be blank")
		}
		if utf8.RuneCountInString(*name) > 250 {
			p.add("Name is too long (maximum is 250 characters)")
		}
		if !buildpackName.MatchString(*name) {
			p.add("Name is invalid")
		}
		m.name = name
	case create:
		// string, presence and format all fail on a missing name.
		p.add("Name must be a string")
		p.add("Name can't be blank")
		p.add("Name is invalid")
	}
	if o.has("stack") {
		m.stackGiven = true
		stack, err := o.str("stack", "Stack")
		p.addErr("", err)
		if stack != nil && utf8.RuneCountInString(*stack) > 250 {
			p.add("Stack is too long (maximum is 250 characters)")
		}
		m.stack = stack
	}
	if o.has("position") && (!create || !o.isNull("position")) {
		m.position = positionOf(o["position"], &p)
	}
	for _, b := range []struct {
		key, label string
		to         **bool
	}{{"enabled", "Enabled", &m.enabled}, {"locked", "Locked", &m.locked}} {
		if !o.has(b.key) || create && o.isNull(b.key) {
			continue
		}
		v, err := o.boolean(b.key, b.label)
		if err != nil || v == nil {
			p.add(b.label + " must be a boolean")
			continue
		}
		*b.to = v
	}
	if create && o.has("lifecycle") && !o.isNull("lifecycle") {
		lc, err := o.str("lifecycle", "Lifecycle")
		switch {
		case err != nil:
			p.addErr("", err)
			p.add(lifecycleRefused)
		case *lc != "buildpack" && *lc != "cnb":
			p.add(lifecycleRefused)
		default:
			m.lifecycle = lc
		}
	}
	return m, p.err()
}

// positionOf reads a position as numericality only_integer, at least 1,
// does; a position past the last is the last, however large.
func positionOf(raw json.RawMessage, p *problems) *int64 {
	v, msg := quotaInteger(raw, maxDBBigint)
	switch {
	case msg == "" && v == nil:
		p.add("Position is not a number")
	case msg == "must be greater than or equal to 0", msg == "" && *v < 1:
		p.add("Position must be greater than or equal to 1")
	case strings.HasPrefix(msg, "must be less"):
		last := int64(maxDBBigint)
		return &last
	case msg != "":
		p.add("Position " + msg)
	default:
		return v
	}
	return nil
}

// buildpackEvent is an audit.buildpack.* event.
func (s *Server) buildpackEvent(r *request, typ string, b store.Buildpack, data json.RawMessage) store.Event {
	if data == nil {
		data = json.RawMessage("{}")
	}
	return store.Event{GUID: uuid.NewString(), Type: typ, Actor: r.user.actor(), TargetGUID: b.GUID, TargetType: "buildpack",
		TargetName: b.Name, Data: data, CreatedAt: s.store.Now()}
}

// buildpackWriteErr is BuildpackCreate's and BuildpackUpdate's
// validation_error!, with the names the buildpack would have had.
func buildpackWriteErr(err error, m buildpackMessage, b store.Buildpack) error {
	stack := ""
	if b.Stack != nil {
		stack = *b.Stack
	}
	switch {
	case errors.Is(err, store.ErrBuildpackStackMissing):
		given := ""
		if m.stack != nil {
			given = *m.stack
		}
		return errUnprocessable("Stack '" + given + "' does not exist")
	case errors.Is(err, store.ErrBuildpackStackChange):
		return errUnprocessable("Buildpack stack cannot be changed")
	case errors.Is(err, store.ErrBuildpackNilStackTaken):
		return errUnprocessable("Buildpack with name '" + b.Name + "' and an unassigned stack already exists")
	case errors.Is(err, store.ErrBuildpackNameStackTaken):
		return errUnprocessable("Buildpack with name '" + b.Name + "', stack '" + stack + "' and lifecycle '" + b.Lifecycle + "' already exists")
	}
	return storeErr(err, "Buildpack")
}

// createBuildpack is POST /v3/buildpacks: admins only, checked first;
// 201. A buildpack goes to position 1 unless the message says where
// (BuildpackCreate::DEFAULT_POSITION), enabled and unlocked unless it
// says otherwise, in the buildpack lifecycle unless it names cnb.
func (s *Server) createBuildpack(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	m, err := parseBuildpackMessage(r.ctx.PostBody(), true)
	if err != nil {
		return err
	}
	now := s.store.Now()
	b := store.Buildpack{GUID: uuid.NewString(), Name: *m.name, Stack: m.stack, Lifecycle: "buildpack", Enabled: true,
		Labels: store.Metadata{}, Annotations: store.Metadata{}, CreatedAt: now, UpdatedAt: now}
	if m.lifecycle != nil {
		b.Lifecycle = *m.lifecycle
	}
	if m.enabled != nil {
		b.Enabled = *m.enabled
	}
	if m.locked != nil {
		b.Locked = *m.locked
	}
	if m.md != nil {
		b.Labels, b.Annotations = apply(nil, m.md.labels), apply(nil, m.md.annotations)
	}
	position := int64(1)
	if m.position != nil {
		position = *m.position
	}
	ev := s.buildpackEvent(r, "audit.buildpack.create", b, requestData(m.request))
	if b, err = s.store.CreateBuildpack(r.ctx, b, position, ev); err != nil {
		return buildpackWriteErr(err, m, b)
	}
	return r.reply(201, presentBuildpack(r.base, b))
}

// updateBuildpack is PATCH /v3/buildpacks/:guid: admins only, once the
// buildpack is found; a new position moves the buildpacks between.
func (s *Server) updateBuildpack(r *request) error {
	b, err := buildpackResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	if !r.user.admin() {
		return errNotAuthorized()
	}
	m, err := parseBuildpackMessage(r.ctx.PostBody(), false)
	if err != nil {
		return err
	}
	if m.stackGiven {
		b.Stack = m.stack
	}
	if m.enabled != nil {
		b.Enabled = *m.enabled
	}
	if m.locked != nil {
		b.Locked = *m.locked
	}
	if m.name != nil {
		b.Name = *m.name
	}
	if m.md != nil {
		b.Labels, b.Annotations = apply(b.Labels, m.md.labels), apply(b.Annotations, m.md.annotations)
	}
	b.UpdatedAt = s.store.Now()
	ev := s.buildpackEvent(r, "audit.buildpack.update", b, requestData(m.request))
	if b, err = s.store.UpdateBuildpack(r.ctx, b, m.position, ev); err != nil {
		return buildpackWriteErr(err, m, b)
	}
	return r.reply(200, presentBuildpack(r.base, b))
}

// deleteBuildpack is DELETE /v3/buildpacks/:guid: admins only, once the
// buildpack is found; 202 with a buildpack.delete job. The buildpack
// goes, the ones after it move up, and its bits go.
func (s *Server) deleteBuildpack(r *request) error {
	b, err := buildpackResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	if !r.user.admin() {
		return errNotAuthorized()
	}
	if _, err := s.store.DeleteBuildpack(r.ctx, b.GUID, s.buildpackEvent(r, "audit.buildpack.delete", b, nil)); err != nil {
		return storeErr(err, "Buildpack")
	}
	if b.BlobKey != nil {
		os.Remove(s.staging.blobs.path(blobBuildpacks, b.GUID))
	}
	return s.startJob(r, "buildpack.delete", b.GUID)
}

// uploadBuildpack is POST /v3/buildpacks/:guid/upload: admins only, once
// the buildpack is found; the multipart bits field must hold a zip (a
// gzip or cnb file for the cnb lifecycle), and a locked buildpack takes
// none. It answers 202 with the buildpack as it was and a
// buildpack.upload job; the buildpack is READY with the file's name.
func (s *Server) uploadBuildpack(r *request) error {
	b, err := buildpackResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	if !r.user.admin() {
		return errNotAuthorized()
	}
	up, err := s.readRequestUpload(r, nil)
	if up == nil {
		return err
	}
	defer up.remove()
	if msg := buildpackUploadProblem(up, b.Lifecycle); msg != "" {
		return errUnprocessable("Uploaded buildpack file is invalid: " + msg)
	}
	if b.Locked {
		return errUnprocessable("Buildpack is locked")
	}
	if err := os.MkdirAll(filepath.Join(s.staging.blobs.root, blobBuildpacks), 0o700); err != nil {
		return errInternal(err)
	}
	if err := s.staging.blobs.commit(up.bits, blobBuildpacks, b.GUID); err != nil {
		return errInternal(err)
	}
	up.bits = ""
	uploaded := b
	uploaded.Filename, uploaded.UpdatedAt = &up.bitsName, s.store.Now()
	key := b.GUID + "_" + up.sha2
	uploaded.BlobKey = &key
	ev := s.buildpackEvent(r, "audit.buildpack.upload", uploaded, nil)
	if _, err := s.store.UpdateBuildpack(r.ctx, uploaded, nil, ev); err != nil {
		return storeErr(err, "Buildpack")
	}
	// startJob answers 202 with the job's Location; the body is the
	// buildpack as the request found it, as CC's upload renders it.
	if err := s.startJob(r, "buildpack.upload", b.GUID); err != nil {
		return err
	}
	return r.reply(202, presentBuildpack(r.base, b))
}

// buildpackUploadProblem is what BuildpackUploadMessage finds wrong with
// an upload, "" when nothing.
func buildpackUploadProblem(up *upload, lifecycle string) string {
	if len(up.unknown) > 0 || up.bits == "" {
		return "A buildpack zip file must be uploaded as 'bits'"
	}
	f, err := os.Open(up.bits)
	if err != nil {
		return "A buildpack zip file must be uploaded as 'bits'"
	}
	defer f.Close()
	head := make([]byte, 265)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case lifecycle == "cnb" && !hasPrefix(head, "\x1f\x8b\x08") && !(len(head) >= 265 && string(head[257:265]) == "ustar\x0000"):
		return up.bitsName + ` is not a gzip archive or cnb file. Buildpacks of lifecycle "cnb" must be valid gzip archives or cnb files.`
	case lifecycle != "cnb" && !hasPrefix(head, "PK\x03\x04"):
		return up.bitsName + ` is not a zip file. Buildpacks of lifecycle "buildpack" must be valid zip files.`
	case up.bitsSize == 0:
		return up.bitsName + " cannot be empty"
	}
	return ""
}

func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}
