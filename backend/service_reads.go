package backend

import (
	"slices"
	"sort"

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

// featureFlags are CC's feature flags and their defaults
// (FeatureFlag::DEFAULT_FLAGS), with the embedded CF's one override:
// service_instance_sharing is on, so that its shareable offering can be
// shared.
var featureFlags = map[string]bool{
	"user_org_creation": false, "private_domain_creation": true, "app_bits_upload": true, "app_scaling": true, "route_creation": true,
	"service_instance_creation": true, "diego_docker": false, "diego_cnb": false, "set_roles_by_username": true,
	"unset_roles_by_username": true, "task_creation": true, "env_var_visibility": true, "space_scoped_private_broker_creation": true,
	"space_developer_env_var_visibility": true, "service_instance_sharing": true, "hide_marketplace_from_unauthenticated_users": false,
	"resource_matching": true, "route_sharing": false, "hash_based_routing": false,
}

// featureFlagJSON is a flag as FeatureFlagPresenter shows it: a flag
// never changed has no updated_at and no custom error message.
type featureFlagJSON struct {
	Name               string  `json:"name"`
	Enabled            bool    `json:"enabled"`
	UpdatedAt          *string `json:"updated_at"`
	CustomErrorMessage *string `json:"custom_error_message"`
	Links              struct {
		Self link `json:"self"`
	} `json:"links"`
}

// flag says whether the feature flag name is enabled.
func (s *Server) flag(name string) bool {
	if v, ok := s.flags[name]; ok {
		return v
	}
	return featureFlags[name]
}

func (s *Server) presentFeatureFlag(base, name string) featureFlagJSON {
	out := featureFlagJSON{Name: name, Enabled: s.flag(name)}
	out.Links.Self = link{Href: base + "/v3/feature_flags/" + name}
	return out
}

// getFeatureFlag is GET /v3/feature_flags/:name.
func (s *Server) getFeatureFlag(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	if _, ok := featureFlags[r.params[0]]; !ok {
		return errNotFound("Feature flag")
	}
	return r.reply(200, s.presentFeatureFlag(r.base, r.params[0]))
}

// listFeatureFlags is GET /v3/feature_flags: every flag, sorted by name
// (FeatureFlagsController#index orders by name), paginated.
func (s *Server) listFeatureFlags(r *request) error {
	if err := r.query.allow("page", "per_page", "order_by"); err != nil {
		return err
	}
	p, err := r.query.page("name")
	if err != nil {
		return err
	}
	names := make([]string, 0, len(featureFlags))
	for n := range featureFlags {
		names = append(names, n)
	}
	sort.Strings(names)
	if p.Desc {
		slices.Reverse(names)
	}
	start := min((p.Page-1)*p.PerPage, len(names))
	page := names[start:min(start+p.PerPage, len(names))]
	out := struct {
		Pagination paginationJSON    `json:"pagination"`
		Resources  []featureFlagJSON `json:"resources"`
	}{Pagination: pagination(r.base, "/v3/feature_flags", r.query, p, len(names)), Resources: []featureFlagJSON{}}
	for _, n := range page {
		out.Resources = append(out.Resources, s.presentFeatureFlag(r.base, n))
	}
	return r.reply(200, out)
}
