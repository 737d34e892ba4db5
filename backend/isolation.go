package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Isolation segments (cc:app/controllers/v3/isolation_segments_controller.rb,
// app/messages/isolation_segment*_message.rb, app/actions/isolation_segment_*.rb,
// set_default_isolation_segment.rb, space_update_isolation_segment.rb,
// app/presenters/v3/isolation_segment_presenter.rb) and the organization's
// default segment and the space's segment (OrganizationsV3Controller and
// SpacesV3Controller). Admins see every segment, other users those
// entitled to an org where they have a role. The embedded CF places no
// app anywhere: a segment is bookkeeping.

// SharedIsolationSegmentGUID is CC's fixed guid of the shared segment
// (IsolationSegmentModel::SHARED_ISOLATION_SEGMENT_GUID), which
// cf-deployment names "shared".
const SharedIsolationSegmentGUID = "933b4c58-120b-499a-b85d-4b6fc9e2903b"

// isolationSegmentResource is GET /v3/isolation_segments and /:guid.
var isolationSegmentResource = &resource[store.IsolationSegment, store.IsolationSegmentFilter, isolationSegmentJSON]{
	name:   "Isolation segment",
	path:   "/v3/isolation_segments",
	keys:   listKeys("guids", "names", "organization_guids"),
	orders: namedOrders,
	filter: func(q *params) store.IsolationSegmentFilter {
		return store.IsolationSegmentFilter{GUIDs: q.list("guids"), Names: q.list("names"), OrgGUIDs: q.list("organization_guids"),
			Labels: q.labels(), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
	},
	list: (*store.Store).ListIsolationSegments,
	get:  (*store.Store).GetIsolationSegment,
	present: each(func(r *request, g store.IsolationSegment) isolationSegmentJSON {
		return presentIsolationSegment(r.base, g)
	}),
}

// isolationSegmentJSON is IsolationSegmentPresenter's body.
type isolationSegmentJSON struct {
	GUID      string       `json:"guid"`
	CreatedAt string       `json:"created_at"`
	UpdatedAt string       `json:"updated_at"`
	Name      string       `json:"name"`
	Metadata  metadataJSON `json:"metadata"`
	Links     struct {
		Self          link `json:"self"`
		Organizations link `json:"organizations"`
	} `json:"links"`
}

func presentIsolationSegment(base string, g store.IsolationSegment) isolationSegmentJSON {
	j := isolationSegmentJSON{GUID: g.GUID, CreatedAt: timestamp(g.CreatedAt), UpdatedAt: timestamp(g.UpdatedAt), Name: g.Name,
		Metadata: meta(g.Labels, g.Annotations)}
	self := base + "/v3/isolation_segments/" + g.GUID
	j.Links.Self = link{Href: self}
	j.Links.Organizations = link{Href: self + "/organizations"}
	return j
}

// toManyJSON is ToManyRelationshipPresenter's body: the related link
// only when the relationship has a list of its own.
type toManyJSON struct {
	Data  []guidJSON `json:"data"`
	Links struct {
		Self    link  `json:"self"`
		Related *link `json:"related,omitempty"`
	} `json:"links"`
}

// toMany renders the guids of a relationship of the resource at path
// ("/v3/isolation_segments/<guid>"); related adds its list's link.
func toMany(base, path, relationship string, guids []string, related bool) toManyJSON {
	out := toManyJSON{Data: sharedOrgsOf(guids).Data}
	out.Links.Self = link{Href: base + path + "/relationships/" + relationship}
	if related {
		out.Links.Related = &link{Href: base + path + "/" + relationship}
	}
	return out
}

// toOneJSON is ToOneRelationshipPresenter's body: data null and no
// related link when there is nothing on the other side.
type toOneJSON struct {
	Data  *guidJSON `json:"data"`
	Links struct {
		Self    link  `json:"self"`
		Related *link `json:"related,omitempty"`
	} `json:"links"`
}

// isolationSegmentRelationship renders the relationship of the resource
// at path to the segment guid ("" for none).
func isolationSegmentRelationship(base, path, relationship, guid string) toOneJSON {
	var out toOneJSON
	out.Links.Self = link{Href: base + path + "/relationships/" + relationship}
	if guid != "" {
		out.Data = &guidJSON{GUID: &guid}
		out.Links.Related = &link{Href: base + "/v3/isolation_segments/" + guid}
	}
	return out
}

// segmentOrgs is GET /v3/isolation_segments/:guid/relationships/organizations:
// the entitled orgs the caller sees.
func (s *Server) segmentOrgs(r *request) error {
	g, err := isolationSegmentResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	orgs, err := s.store.SegmentOrgs(r.ctx, r.viewer(), g.GUID)
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, toMany(r.base, "/v3/isolation_segments/"+g.GUID, "organizations", orgs, true))
}

// segmentSpaces is GET /v3/isolation_segments/:guid/relationships/spaces:
// the spaces placed in the segment that the caller sees.
func (s *Server) segmentSpaces(r *request) error {
	g, err := isolationSegmentResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	spaces, err := s.store.SegmentSpaces(r.ctx, r.viewer(), g.GUID)
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, toMany(r.base, "/v3/isolation_segments/"+g.GUID, "spaces", spaces, false))
}

// createIsolationSegment is POST /v3/isolation_segments: 201, admins only.
// IsolationSegmentCreateMessage checks metadata, unknown keys, the name's
// type and presence; the model its format and uniqueness.
func (s *Server) createIsolationSegment(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	o, err := decodeAny(r.ctx.PostBody())
	if err != nil {
		return err
	}
	var p problems
	md, err := o.metadata()
	p.addErr("", err)
	p.addErr("", o.only("name", "metadata"))
	var name string
	if o.has("name") && !o.isNull("name") && (jsonKind(o["name"]) != '"' || json.Unmarshal(o["name"], &name) != nil) {
		p.add("Name must be a string")
	}
	if jsonBlank(o["name"]) {
		p.add("Name can't be blank")
	}
	if err := p.err(); err != nil {
		return err
	}
	if !printableName(name) {
		return errUnprocessable("Isolation Segment names can only contain non-blank unicode characters")
	}
	now := s.store.Now()
	g := store.IsolationSegment{GUID: uuid.NewString(), Name: name, CreatedAt: now, UpdatedAt: now}
	if md != nil {
		g.Labels, g.Annotations = apply(nil, md.labels), apply(nil, md.annotations)
	}
	switch err := s.store.CreateIsolationSegment(r.ctx, g); {
	case errors.Is(err, store.ErrConflict):
		return errUnprocessable("Isolation Segment names are case insensitive and must be unique")
	case err != nil:
		return errInternal(err)
	}
	return r.reply(201, presentIsolationSegment(r.base, g))
}

// entitleOrgs is POST /v3/isolation_segments/:guid/relationships/organizations:
// admins only; it entitles the orgs to the segment (the shared segment
// becomes the default of those that have none) and answers 200 with every
// entitled org.
func (s *Server) entitleOrgs(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	g, err := isolationSegmentResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	guids, err := parseToManyMessage(r.ctx.PostBody())
	if err != nil {
		return err
	}
	missing, err := s.missingOrgs(r, guids)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		quoted := make([]string, len(missing))
		for i, m := range missing {
			quoted[i] = "'" + m + "'"
		}
		return errUnprocessable("Unable to entitle organizations [" + strings.Join(quoted, ", ") + "] for the isolation segment. Ensure the organizations exist.")
	}
	if err := s.store.EntitleOrgs(r.ctx, g.GUID, SharedIsolationSegmentGUID, guids); err != nil {
		return errInternal(err)
	}
	orgs, err := s.store.SegmentOrgs(r.ctx, store.Viewer{All: true}, g.GUID)
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, toMany(r.base, "/v3/isolation_segments/"+g.GUID, "organizations", orgs, true))
}

// parseSegmentRelationship validates a body as OrgDefaultIsoSegUpdateMessage
// and SpaceUpdateIsolationSegmentMessage do: only data, which may be
// absent or null, else an object with only a string guid. It returns the
// guid ("" for none) and whether data was sent.
func parseSegmentRelationship(body []byte) (string, bool, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return "", false, nil
	}
	o, err := decodeAny(body)
	if err != nil {
		return "", false, err
	}
	var p problems
	p.addErr("", o.only("data"))
	raw := o["data"]
	var data object
	var guid string
	if k := jsonKind(raw); k != 0 && k != 'n' {
		if jsonBlank(raw) {
			p.add("Data can't be blank")
		}
		isObject := k == '{' && json.Unmarshal(raw, &data) == nil
		if !isObject {
			p.add("Data must be an object")
		} else {
			if len(data) != 1 {
				p.add("Data can only accept one key")
			}
			if !data.has("guid") {
				p.add("Data can only accept key 'guid'")
			}
			switch g := data["guid"]; jsonKind(g) {
			case 0, 'n', 'f':
			case '"':
				if json.Unmarshal(g, &guid) != nil {
					p.add("Data must be an object")
				}
			default:
				// Ruby interpolates the value's to_s.
				p.add("Data " + string(bytes.TrimSpace(g)) + " must be a string")
			}
		}
	}
	return guid, o.has("data"), p.err()
}

// getOrgDefaultSegment is GET /v3/organizations/:guid/relationships/default_isolation_segment.
func (s *Server) getOrgDefaultSegment(r *request) error {
	org, err := s.store.GetOrg(r.ctx, r.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Organization")
	}
	guid, err := s.store.OrgDefaultSegment(r.ctx, org.GUID)
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, isolationSegmentRelationship(r.base, "/v3/organizations/"+org.GUID, "default_isolation_segment", guid))
}

// patchOrgDefaultSegment is PATCH /v3/organizations/:guid/relationships/default_isolation_segment:
// the message first, then an org the caller can read, managers of an
// active org and admins only; the segment must be entitled to the org.
// Like CC it answers with the segment the message named, null when it
// named none.
func (s *Server) patchOrgDefaultSegment(r *request) error {
	guid, sent, err := parseSegmentRelationship(r.ctx.PostBody())
	if err != nil {
		return err
	}
	org, err := s.store.GetOrg(r.ctx, r.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Organization")
	}
	if err := s.orgWriteErr(r, org.GUID); err != nil {
		return err
	}
	if err := s.segmentEntitled(r, org.GUID, guid,
		"Unable to assign isolation segment with guid '"+guid+"'. Ensure it has been entitled to the organization."); err != nil {
		return err
	}
	if sent {
		if err := s.store.SetOrgDefaultSegment(r.ctx, org.GUID, guid, s.store.Now()); err != nil {
			return storeErr(err, "Organization")
		}
	}
	return r.reply(200, isolationSegmentRelationship(r.base, "/v3/organizations/"+org.GUID, "default_isolation_segment", guid))
}

// segmentEntitled is nil when guid is "" or a segment entitled to the
// org, else the 422 refused.
func (s *Server) segmentEntitled(r *request, orgGUID, guid, refused string) error {
	if guid == "" {
		return nil
	}
	ok, err := s.store.OrgEntitled(r.ctx, orgGUID, guid)
	if err != nil {
		return errInternal(err)
	}
	if !ok {
		return errUnprocessable(refused)
	}
	return nil
}

// getSpaceSegment is GET /v3/spaces/:guid/relationships/isolation_segment.
func (s *Server) getSpaceSegment(r *request) error {
	sp, err := s.store.GetSpace(r.ctx, r.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Space")
	}
	guid, err := s.store.SpaceSegment(r.ctx, sp.GUID)
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, isolationSegmentRelationship(r.base, "/v3/spaces/"+sp.GUID, "isolation_segment", guid))
}

// patchSpaceSegment is PATCH /v3/spaces/:guid/relationships/isolation_segment:
// a space the caller can read, admins and managers of its org only (not
// space managers), then the message; the segment must be entitled to the
// org. A body without data takes the space out of its segment, as
// SpaceUpdateIsolationSegment does. It records audit.space.update.
func (s *Server) patchSpaceSegment(r *request) error {
	sp, err := s.store.GetSpace(r.ctx, r.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Space")
	}
	if !r.user.admin() {
		roles, err := s.store.RolesIn(r.ctx, r.user.GUID, sp.OrgGUID, sp.GUID)
		if err != nil {
			return errInternal(err)
		}
		if !slices.Contains(roles, store.RoleOrgManager) {
			return errNotAuthorized()
		}
	}
	guid, _, err := parseSegmentRelationship(r.ctx.PostBody())
	if err != nil {
		return err
	}
	if err := s.segmentEntitled(r, sp.OrgGUID, guid,
		"Unable to assign isolation segment with guid '"+guid+"'. Ensure it has been entitled to the organization that this space belongs to."); err != nil {
		return err
	}
	now := s.store.Now()
	sp.UpdatedAt = now
	ev := s.spaceEvent(r.user.actor(), "audit.space.update", sp, requestData(bytes.TrimSpace(r.ctx.PostBody())))
	if err := s.store.SetSpaceSegment(r.ctx, sp.GUID, guid, now, ev); err != nil {
		return storeErr(err, "Space")
	}
	return r.reply(200, isolationSegmentRelationship(r.base, "/v3/spaces/"+sp.GUID, "isolation_segment", guid))
}
