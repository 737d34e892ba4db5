package translate

import (
	"encoding/json"
	"slices"
)

// The v2 feature flags (MAPPING-orgs §12.4): a bare flag object, and a bare
// array of every flag, not paginated.

// V3FeatureFlag is GET /v3/feature_flags/:name.
type V3FeatureFlag struct {
	Name               string  `json:"name"`
	Enabled            bool    `json:"enabled"`
	CustomErrorMessage *string `json:"custom_error_message"`
}

// V2FeatureFlag is FeatureFlagPresenter's object.
type V2FeatureFlag struct {
	Name         string  `json:"name"`
	Enabled      bool    `json:"enabled"`
	ErrorMessage *string `json:"error_message"`
	URL          string  `json:"url"`
}

// defaultFlags are FeatureFlag::DEFAULT_FLAGS' keys in their order, the
// order of v2's list (cc:app/models/runtime/feature_flag.rb).
var defaultFlags = []string{"user_org_creation", "private_domain_creation", "app_bits_upload", "app_scaling", "route_creation",
	"service_instance_creation", "diego_docker", "diego_cnb", "set_roles_by_username", "unset_roles_by_username", "task_creation",
	"env_var_visibility", "space_scoped_private_broker_creation", "space_developer_env_var_visibility", "service_instance_sharing",
	"hide_marketplace_from_unauthenticated_users", "resource_matching", "route_sharing", "hash_based_routing"}

// FeatureFlag is the v2 object of f.
func FeatureFlag(f V3FeatureFlag) V2FeatureFlag {
	return V2FeatureFlag{Name: f.Name, Enabled: f.Enabled, ErrorMessage: f.CustomErrorMessage, URL: "/v2/config/feature_flags/" + f.Name}
}

// FeatureFlagList is v2's list: v3's flags (sorted by name) in
// DEFAULT_FLAGS' order, any flag v2 did not know after them.
func FeatureFlagList(flags []V3FeatureFlag) ([]byte, error) {
	rank := func(name string) int {
		if i := slices.Index(defaultFlags, name); i >= 0 {
			return i
		}
		return len(defaultFlags)
	}
	sorted := slices.Clone(flags)
	slices.SortStableFunc(sorted, func(a, b V3FeatureFlag) int { return rank(a.Name) - rank(b.Name) })
	out := make([]V2FeatureFlag, len(sorted))
	for i, f := range sorted {
		out[i] = FeatureFlag(f)
	}
	return json.Marshal(out)
}

// FeatureFlagNotFound is CC's 330000.
func FeatureFlagNotFound(name string) *Error {
	return &Error{Status: 404, Code: 330000, Name: "FeatureFlagNotFound", Description: "The feature flag could not be found: " + name}
}
