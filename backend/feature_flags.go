package backend

import (
	"context"
	"errors"
	"slices"
	"sort"
	"unicode/utf8"

	"capibridge/backend/store"
)

// Feature flags (cc:app/controllers/v3/feature_flags_controller.rb,
// app/models/runtime/feature_flag.rb, app/messages/feature_flags_update_message.rb,
// app/actions/feature_flag_update.rb). A flag an admin never set has its
// default; one set is stored with its custom error message.

// featureFlags are CC's feature flags and their defaults
// (FeatureFlag::DEFAULT_FLAGS), with the embedded CF's overrides, as a
// BOSH manifest's cc.feature_flag_overrides would set them:
// service_instance_sharing is on, so that its shareable offering can be
// shared, and diego_docker is on, so that docker apps run.
var featureFlags = map[string]bool{
	"user_org_creation": false, "private_domain_creation": true, "app_bits_upload": true, "app_scaling": true, "route_creation": true,
	"service_instance_creation": true, "diego_docker": true, "diego_cnb": false, "set_roles_by_username": true,
	"unset_roles_by_username": true, "task_creation": true, "env_var_visibility": true, "space_scoped_private_broker_creation": true,
	"space_developer_env_var_visibility": true, "service_instance_sharing": true, "hide_marketplace_from_unauthenticated_users": false,
	"resource_matching": true, "route_sharing": false, "hash_based_routing": false,
}

// adminSkippable are the flags that never stop an admin
// (FeatureFlag::ADMIN_SKIPPABLE).
var adminSkippable = []string{"app_bits_upload", "app_scaling", "set_roles_by_username", "space_developer_env_var_visibility",
	"task_creation", "unset_roles_by_username"}

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

// featureFlag returns the flag name as it stands: the stored row, else
// what WithFeatureFlag set, else the default; the row is nil for a flag
// never set.
func (s *Server) featureFlag(ctx context.Context, name string) (bool, *store.FeatureFlag, error) {
	row, err := s.store.FeatureFlag(ctx, name)
	switch {
	case err == nil:
		return row.Enabled, &row, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, nil, err
	}
	if v, ok := s.flags[name]; ok {
		return v, nil, nil
	}
	return featureFlags[name], nil, nil
}

// flag says whether the feature flag name is enabled; a store that
// cannot be read leaves the flag at its default.
func (s *Server) flag(name string) bool {
	enabled, _, err := s.featureFlag(context.Background(), name)
	if err != nil {
		s.log.Error("reading a feature flag", "flag", name, "err", err)
		return featureFlags[name]
	}
	return enabled
}

// errFeatureDisabled is CC's FeatureDisabled, naming the flag or saying
// its custom error message.
func errFeatureDisabled(what string) *apiError {
	return &apiError{Status: 403, Code: 330002, Title: "CF-FeatureDisabled", Detail: "Feature Disabled: " + what}
}

// requireFlag is FeatureFlag.raise_unless_enabled!: nil when the flag is
// on, or when it is one an admin skips and the caller is an admin.
func (s *Server) requireFlag(r *request, name string) error {
	if r.user.admin() && slices.Contains(adminSkippable, name) {
		return nil
	}
	enabled, row, err := s.featureFlag(r.ctx, name)
	switch {
	case err != nil:
		return errInternal(err)
	case enabled:
		return nil
	case row != nil && row.ErrorMessage != nil:
		return errFeatureDisabled(*row.ErrorMessage)
	}
	return errFeatureDisabled(name)
}

func (s *Server) presentFeatureFlag(r *request, name string) (featureFlagJSON, error) {
	enabled, row, err := s.featureFlag(r.ctx, name)
	if err != nil {
		return featureFlagJSON{}, errInternal(err)
	}
	out := featureFlagJSON{Name: name, Enabled: enabled}
	if row != nil {
		at := timestamp(row.UpdatedAt)
		out.UpdatedAt, out.CustomErrorMessage = &at, row.ErrorMessage
	}
	out.Links.Self = link{Href: r.base + "/v3/feature_flags/" + name}
	return out, nil
}

// getFeatureFlag is GET /v3/feature_flags/:name.
func (s *Server) getFeatureFlag(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	if _, ok := featureFlags[r.params[0]]; !ok {
		return errNotFound("Feature flag")
	}
	out, err := s.presentFeatureFlag(r, r.params[0])
	if err != nil {
		return err
	}
	return r.reply(200, out)
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
	out := pageJSON[featureFlagJSON]{Pagination: pagination(r.base, "/v3/feature_flags", r.query, p, len(names)), Resources: []featureFlagJSON{}}
	for _, n := range names[start:min(start+p.PerPage, len(names))] {
		f, err := s.presentFeatureFlag(r, n)
		if err != nil {
			return err
		}
		out.Resources = append(out.Resources, f)
	}
	return r.reply(200, out)
}

// updateFeatureFlag is PATCH /v3/feature_flags/:name: admins only, after
// the flag is found; enabled and custom_error_message change only when
// given, a null message clears it (FeatureFlagUpdate).
func (s *Server) updateFeatureFlag(r *request) error {
	name := r.params[0]
	if _, ok := featureFlags[name]; !ok {
		return errNotFound("Feature flag")
	}
	if !r.user.admin() {
		return errNotAuthorized()
	}
	o, err := decodeAny(r.ctx.PostBody())
	if err != nil {
		return err
	}
	var p problems
	p.addErr("", o.only("custom_error_message", "enabled"))
	if o.has("enabled") {
		if k := jsonKind(o["enabled"]); k != 't' && k != 'f' {
			p.add("Enabled must be a boolean")
		}
	}
	var msg *string
	if o.has("custom_error_message") && !o.isNull("custom_error_message") {
		m, err := o.str("custom_error_message", "Custom error message")
		if err != nil {
			p.add("Custom error message must be a string")
		} else {
			switch n := utf8.RuneCountInString(*m); {
			case n < 1:
				p.add("Custom error message is too short (minimum is 1 character)")
			case n > 250:
				p.add("Custom error message is too long (maximum is 250 characters)")
			}
			msg = m
		}
	}
	if err := p.err(); err != nil {
		return err
	}
	enabled, row, err := s.featureFlag(r.ctx, name)
	if err != nil {
		return errInternal(err)
	}
	now := s.store.Now()
	f := store.FeatureFlag{Name: name, Enabled: enabled, CreatedAt: now, UpdatedAt: now}
	if row != nil {
		f.ErrorMessage = row.ErrorMessage
	}
	if o.has("enabled") {
		f.Enabled = jsonKind(o["enabled"]) == 't'
	}
	if o.has("custom_error_message") {
		f.ErrorMessage = msg
	}
	if err := s.store.SetFeatureFlag(r.ctx, f); err != nil {
		return errInternal(err)
	}
	out, err := s.presentFeatureFlag(r, name)
	if err != nil {
		return err
	}
	return r.reply(200, out)
}
