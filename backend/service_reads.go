package backend

import (
	"capibridge/backend/store"
)

// Reads about one service instance besides the instance itself: its
// parameters and the caller's permissions (ServiceInstancesV3Controller
// #parameters and #show_permissions).

// getServiceInstanceParameters is GET /v3/service_instances/:guid/parameters:
// what the broker says the instance was made or last updated with
// (ServiceInstanceRead#fetch_parameters), for readers of its own space.
func (s *Server) getServiceInstanceParameters(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	si, err := s.readableInstance(r)
	if err != nil {
		return err
	}
	roles, err := s.spaceRoles(r, si.SpaceGUID)
	if err != nil {
		return err
	}
	if !roles.read {
		return errNotAuthorized()
	}
	if lo := si.LastOperation; si.Type == store.Managed && lo != nil && lo.Type == "create" && lo.State == "failed" {
		return errNotFound("Service instance")
	}
	if si.Type == store.UserProvided {
		return &apiError{Status: 400, Code: 120004, Title: "CF-ServiceFetchInstanceParametersNotSupported",
			Detail: "This service does not support fetching service instance parameters."}
	}
	if si.LastOperation.InProgress() {
		return errOperationInProgress(si.Name)
	}
	fetched, err := s.broker.Fetch(r.ctx, si.GUID)
	if err != nil {
		return errInternal(err)
	}
	return r.reply(200, fetched.Parameters)
}

// getServiceInstancePermissions is GET /v3/service_instances/:guid/permissions:
// whether the caller may manage and read the instance; any instance that
// exists is answered (show_permissions).
func (s *Server) getServiceInstancePermissions(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	si, err := s.store.GetServiceInstance(r.ctx, store.Viewer{All: true}, r.params[0])
	if err != nil {
		return storeErr(err, "Service instance")
	}
	roles, err := s.spaceRoles(r, si.SpaceGUID)
	if err != nil {
		return err
	}
	// In a suspended organization only an admin manages
	// (is_space_active? ? can_write_to_active_space? : admin?).
	manage := roles.write && !roles.suspended
	_, err = s.readableInstance(r)
	return r.reply(200, struct {
		Manage bool `json:"manage"`
		Read   bool `json:"read"`
	}{manage, err == nil})
}
