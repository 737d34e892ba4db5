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

// isolationSegmentMessage is a valid create or update body.
type isolationSegmentMessage struct {
	name *string
	md   *metadataPatch
}

// parseIsolationSegmentMessage validates a body as
// IsolationSegmentUpdateMessage does, and IsolationSegmentCreateMessage
// (a name is required) when create: metadata, unknown keys, the name's
// type, its presence.
func parseIsolationSegmentMessage(body []byte, create bool) (isolationSegmentMessage, error) {
	var m isolationSegmentMessage
	o, md, p, err := decodeMessage(body, "name", "metadata")
	if err != nil {
		return m, err
	}
	m.md = md
	if o.has("name") && !o.isNull("name") {
		var name string
		if jsonKind(o["name"]) != '"' || json.Unmarshal(o["name"], &name) != nil {
			p.add("Name must be a string")
		}
		m.name = &name
	}
	if create && jsonBlank(o["name"]) {
		p.add("Name can't be blank")
	}
	return m, p.err()
}

// isolationSegmentNameErr is the model's check of a name:
// ISOLATION_SEGMENT_MODEL_REGEX, printable characters.
func isolationSegmentNameErr(name string) error {
	if !printableName(name) {
		return errUnprocessable("Isolation Segment names can only contain non-blank unicode characters")
	}
	return nil
}

// errSegmentNameTaken is the model's uniqueness text.
func errSegmentNameTaken() error {
	return errUnprocessable("Isolation Segment names are case insensitive and must be unique")
}

// createIsolationSegment is POST /v3/isolation_segments: 201, admins only.
func (s *Server) createIsolationSegment(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	m, err := parseIsolationSegmentMessage(r.ctx.PostBody(), true)
	if err != nil {
		return err
	}
	if err := isolationSegmentNameErr(*m.name); err != nil {
		return err
	}
	now := s.store.Now()
	g := store.IsolationSegment{GUID: uuid.NewString(), Name: *m.name, CreatedAt: now, UpdatedAt: now}
	if m.md != nil {
		g.Labels, g.Annotations = apply(nil, m.md.labels), apply(nil, m.md.annotations)
	}
	switch err := s.store.CreateIsolationSegment(r.ctx, g); {
	case errors.Is(err, store.ErrConflict):
		return errSegmentNameTaken()
	case err != nil:
		return errInternal(err)
	}
	return r.reply(201, presentIsolationSegment(r.base, g))
}

// findSegment reads the segment of the path for an admin's write,
// whether or not it is entitled to anyone.
func (s *Server) findSegment(r *request) (store.IsolationSegment, error) {
	g, err := s.store.GetIsolationSegment(r.ctx, store.Viewer{All: true}, r.params[0])
	if err != nil {
		return g, storeErr(err, isolationSegmentResource.name)
	}
	return g, nil
}

// updateIsolationSegment is PATCH /v3/isolation_segments/:guid: admins
// only; neither the shared segment nor one that is an org's default or
// holds a space may change (IsolationSegmentUpdate).
func (s *Server) updateIsolationSegment(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	g, err := s.findSegment(r)
	if err != nil {
		return err
	}
	m, err := parseIsolationSegmentMessage(r.ctx.PostBody(), false)
	if err != nil {
		return err
	}
	if g.GUID == SharedIsolationSegmentGUID {
		return errUnprocessable("Cannot update the shared Isolation Segment")
	}
	use, err := s.store.IsolationSegmentUse(r.ctx, g.GUID)
	if err != nil {
		return errInternal(err)
	}
	if use.Defaults > 0 || use.Spaces > 0 {
		return errUnprocessable("Cannot update Isolation Segments that are assigned as the default for an Organization or Space.")
	}
	if m.name != nil {
		g.Name = *m.name
	}
	if m.md != nil {
		g.Labels, g.Annotations = apply(g.Labels, m.md.labels), apply(g.Annotations, m.md.annotations)
	}
	if err := isolationSegmentNameErr(g.Name); err != nil {
		return err
	}
	g.UpdatedAt = s.store.Now()
	switch err := s.store.UpdateIsolationSegment(r.ctx, g); {
	case errors.Is(err, store.ErrConflict):
		return errSegmentNameTaken()
	case err != nil:
		return storeErr(err, isolationSegmentResource.name)
	}
	return r.reply(200, presentIsolationSegment(r.base, g))
}

// deleteIsolationSegment is DELETE /v3/isolation_segments/:guid: admins
// only, 204; not the shared segment, nor one entitled to an org or
// holding a space (IsolationSegmentDelete).
func (s *Server) deleteIsolationSegment(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	g, err := s.findSegment(r)
	if err != nil {
		return err
	}
	if g.GUID == SharedIsolationSegmentGUID {
		return errUnprocessable("Cannot delete the " + g.Name + " Isolation Segment")
	}
	use, err := s.store.IsolationSegmentUse(r.ctx, g.GUID)
	if err != nil {
		return errInternal(err)
	}
	if use.Entitled > 0 || use.Spaces > 0 {
		return errUnprocessable("Revoke the Organization entitlements for your Isolation Segment.")
	}
	if err := s.store.DeleteIsolationSegment(r.ctx, g.GUID); err != nil {
		return storeErr(err, isolationSegmentResource.name)
	}
	r.ctx.SetStatusCode(204)
	return nil
}

// revokeEntitlement is DELETE /v3/isolation_segments/:guid/relationships/organizations/:org_guid:
// admins only, 204; refused while the segment is the org's default or
// holds one of its spaces (IsolationSegmentUnassign).
func (s *Server) revokeEntitlement(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	g, err := s.findSegment(r)
	if err != nil {
		return err
	}
	org, err := s.store.GetOrg(r.ctx, store.Viewer{All: true}, r.params[1])
	if err != nil {
		return storeErr(err, "Org")
	}
	def, err := s.store.OrgDefaultSegment(r.ctx, org.GUID)
	if err != nil {
		return errInternal(err)
	}
	if def == g.GUID {
		return errUnprocessable("Cannot remove the entitlement while this Isolation Segment is assigned as the Default Isolation Segment for the Organization.")
	}
	names, err := s.store.SegmentSpaceNames(r.ctx, g.GUID, org.GUID)
	if err != nil {
		return errInternal(err)
	}
	if len(names) > 0 {
		for i, n := range names {
			names[i] = "'" + n + "'"
		}
		return errUnprocessable("Cannot remove the entitlement while this Isolation Segment is assigned to any Spaces. Currently assigned to: " +
			strings.Join(names, ", "))
	}
	if err := s.store.RevokeEntitlement(r.ctx, g.GUID, org.GUID); err != nil {
		return errInternal(err)
	}
	r.ctx.SetStatusCode(204)
	return nil
}

// parseEntitleMessage validates a body as IsolationSegmentRelationshipOrgMessage
// does: only data, a non-empty array of {"guid": "..."}.
func parseEntitleMessage(body []byte) ([]string, error) {
	return parseGUIDsData(body, func(_ int, guid json.RawMessage) string {
		shown := ""
		if k := jsonKind(guid); k != 0 && k != 'n' {
			shown = string(bytes.TrimSpace(guid))
		}
		// Ruby interpolates the value's to_s.
		return "Data " + shown + " not a string"
	})
}

// entitleOrgs is POST /v3/isolation_segments/:guid/relationships/organizations:
// admins only; it entitles the orgs to the segment (the shared segment
// becomes the default of those that have none) and answers 200 with every
// entitled org.
func (s *Server) entitleOrgs(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	g, err := s.findSegment(r)
	if err != nil {
		return err
	}
	guids, err := parseEntitleMessage(r.ctx.PostBody())
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

// segmentOrgList is GET /v3/isolation_segments/:guid/organizations
// (OrganizationsV3Controller#index nested under a segment): the orgs
// entitled to the segment that the caller sees, with the list's filters.
func (s *Server) segmentOrgList(r *request) error {
	if err := r.query.allow(orgResource.keys...); err != nil {
		return err
	}
	g, err := isolationSegmentResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	entitled, err := s.store.SegmentOrgs(r.ctx, r.viewer(), g.GUID)
	if err != nil {
		return errInternal(err)
	}
	return orgResource.serveList(s, r, "/v3/isolation_segments/"+g.GUID+"/organizations", func(f *store.OrgFilter) {
		if f.GUIDs == nil {
			f.GUIDs = entitled
			return
		}
		keep := []string{}
		for _, o := range f.GUIDs {
			if slices.Contains(entitled, o) {
				keep = append(keep, o)
			}
		}
		f.GUIDs = keep
	})
}
