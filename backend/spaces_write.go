package backend

import (
	"encoding/json"
	"errors"
	"slices"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// Creating, updating and deleting spaces
// (cc:app/controllers/v3/spaces_controller.rb #create, #update, #destroy;
// app/actions/space_create.rb, space_update.rb, space_delete.rb). Like
// CC, none of them reads the query.

// spaceEvent is an audit event about a space.
func (s *Server) spaceEvent(actor store.Actor, typ string, sp store.Space, data json.RawMessage) store.Event {
	return store.Event{GUID: uuid.NewString(), Type: typ, Actor: actor, TargetGUID: sp.GUID, TargetType: "space",
		TargetName: sp.Name, SpaceGUID: sp.GUID, OrgGUID: sp.OrgGUID, Data: data, CreatedAt: s.store.Now()}
}

// createSpace is POST /v3/spaces: 201. An org the caller cannot see is
// 422; writing needs admin or org manager (can_write_to_active_org?) in
// an active org. The creator gets no role.
func (s *Server) createSpace(r *request) error {
	m, err := parseNameMessage(r.ctx.PostBody(), spaceCreateRules)
	if err != nil {
		return err
	}
	org, err := s.store.GetOrg(r.ctx, r.user.viewer(), m.org)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errUnprocessable("Invalid organization. Ensure the organization exists and you have access to it.")
	case err != nil:
		return errInternal(err)
	}
	if err := s.orgWriteErr(r, org.GUID); err != nil {
		return err
	}
	now := s.store.Now()
	sp := store.Space{GUID: uuid.NewString(), Name: *m.name, OrgGUID: org.GUID, AllowSSH: true, CreatedAt: now, UpdatedAt: now}
	if m.md != nil {
		sp.Labels, sp.Annotations = apply(nil, m.md.labels), apply(nil, m.md.annotations)
	}
	switch err := s.store.InsertSpace(r.ctx, sp, s.spaceEvent(r.user.actor(), "audit.space.create", sp, requestData(m.request))); {
	case errors.Is(err, store.ErrConflict):
		return errUnprocessable("Name must be unique per organization")
	case err != nil:
		return errInternal(err)
	}
	return r.reply(201, presentSpace(r.base, sp, org.Suspended))
}

// spaceOrgUpdateErr is spaceUpdateErr for a space whose org is not read
// yet; it returns the org.
func (s *Server) spaceOrgUpdateErr(r *request, sp store.Space) (store.Org, error) {
	org, err := s.store.GetOrg(r.ctx, store.Viewer{All: true}, sp.OrgGUID)
	if err != nil {
		return org, errInternal(err)
	}
	return org, s.spaceUpdateErr(r, sp, org)
}

// spaceUpdateErr is why the caller may not update the space:
// can_update_active_space? (admin, space manager or org manager), then
// require_writable_space! (a suspended org stops all but admins).
func (s *Server) spaceUpdateErr(r *request, sp store.Space, org store.Org) error {
	if r.user.admin() {
		return nil
	}
	roles, err := s.store.RolesIn(r.ctx, r.user.GUID, sp.OrgGUID, sp.GUID)
	if err != nil {
		return errInternal(err)
	}
	if !slices.Contains(roles, store.RoleOrgManager) && !slices.Contains(roles, store.RoleSpaceManager) {
		return errNotAuthorized()
	}
	if org.Suspended {
		return errOrgSuspended()
	}
	return nil
}

// readableSpace reads the space of the path if the caller can see it, with
// its org.
func (s *Server) readableSpace(r *request) (store.Space, store.Org, error) {
	sp, err := s.store.GetSpace(r.ctx, r.user.viewer(), r.params[0])
	if err != nil {
		return sp, store.Org{}, storeErr(err, "Space")
	}
	org, err := s.store.GetOrg(r.ctx, store.Viewer{All: true}, sp.OrgGUID)
	if err != nil {
		return sp, org, errInternal(err)
	}
	return sp, org, nil
}

// updateSpace is PATCH /v3/spaces/:guid: 200 with the space renamed or
// its metadata changed.
func (s *Server) updateSpace(r *request) error {
	sp, org, err := s.readableSpace(r)
	if err != nil {
		return err
	}
	if err := s.spaceUpdateErr(r, sp, org); err != nil {
		return err
	}
	m, err := parseNameMessage(r.ctx.PostBody(), spaceUpdateRules)
	if err != nil {
		return err
	}
	if m.name != nil {
		sp.Name = *m.name
	}
	if m.md != nil {
		sp.Labels, sp.Annotations = apply(sp.Labels, m.md.labels), apply(sp.Annotations, m.md.annotations)
	}
	sp.UpdatedAt = s.store.Now()
	switch err := s.store.UpdateSpace(r.ctx, sp, s.spaceEvent(r.user.actor(), "audit.space.update", sp, requestData(m.request))); {
	case errors.Is(err, store.ErrConflict):
		return errUnprocessable("Organization '" + org.Name + "' already contains a space with name '" + sp.Name + "'.")
	case err != nil:
		return storeErr(err, "Space")
	}
	return r.reply(200, presentSpace(r.base, sp, org.Suspended))
}

// deleteSpace is DELETE /v3/spaces/:guid: admin or org manager
// (can_write_to_active_org?) of an active org, 202 with a space.delete job
// (spaceDeleteWork).
func (s *Server) deleteSpace(r *request) error {
	sp, _, err := s.readableSpace(r)
	if err != nil {
		return err
	}
	if err := s.orgWriteErr(r, sp.OrgGUID); err != nil {
		return err
	}
	return s.startJob(r, "space.delete", sp.GUID)
}

// updateSpaceFeature is PATCH /v3/spaces/:guid/features/ssh
// (SpaceFeaturesController#update): {"enabled": bool}, by those who may
// update the space (admin, org manager, space manager of an active org).
func (s *Server) updateSpaceFeature(r *request) error {
	sp, org, err := s.readableSpace(r)
	if err != nil {
		return err
	}
	if r.params[1] != "ssh" {
		return errNotFound("Feature")
	}
	if err := s.spaceUpdateErr(r, sp, org); err != nil {
		return err
	}
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if err := json.Unmarshal(r.ctx.PostBody(), &body); err != nil || body.Enabled == nil {
		return errUnprocessable("Enabled must be a boolean")
	}
	sp.AllowSSH = *body.Enabled
	if err := s.store.SetSpaceSSH(r.ctx, sp.GUID, sp.AllowSSH, s.store.Now()); err != nil {
		return storeErr(err, "Space")
	}
	return r.reply(200, spaceSSHFeature(sp))
}
