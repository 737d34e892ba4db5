package backend

import (
	"strings"
)

type rootJSON struct {
	Links struct {
		Self              link     `json:"self"`
		CloudControllerV2 metaLink `json:"cloud_controller_v2"`
		CloudControllerV3 metaLink `json:"cloud_controller_v3"`
		NetworkPolicyV0   link     `json:"network_policy_v0"`
		NetworkPolicyV1   link     `json:"network_policy_v1"`
		Login             link     `json:"login"`
		UAA               link     `json:"uaa"`
		Credhub           *link    `json:"credhub"`
		Routing           *link    `json:"routing"`
		Logging           *link    `json:"logging"`
		LogCache          *link    `json:"log_cache"`
		LogStream         *link    `json:"log_stream"`
		AppSSH            struct {
			Href *string `json:"href"`
			Meta struct {
				HostKeyFingerprint *string `json:"host_key_fingerprint"`
				OAuthClient        *string `json:"oauth_client"`
			} `json:"meta"`
		} `json:"app_ssh"`
	} `json:"links"`
}

type metaLink struct {
	Href string `json:"href"`
	Meta struct {
		Version string `json:"version"`
	} `json:"meta"`
}

// root answers GET /, the anonymous discovery document. Every link names
// something this server answers: the components the embedded Cloud
// Foundry does not have (credhub, doppler's websocket logging, log-stream,
// SSH) are null, as a Cloud Controller whose config lacks them renders
// them (cc app/controllers/runtime/root_controller.rb, credhub_link,
// logging_link, log_stream_link); the log cache (logcache.go) and the
// routing API (routing.go, at <base>/routing as routing_link names it) it
// answers itself.
func (s *Server) root(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	var j rootJSON
	l := &j.Links
	l.Self = link{Href: r.base}
	l.CloudControllerV2.Href, l.CloudControllerV2.Meta.Version = r.base+"/v2", V2Version
	l.CloudControllerV3.Href, l.CloudControllerV3.Meta.Version = r.base+"/v3", V3Version
	l.NetworkPolicyV0 = link{Href: r.base + "/networking/v0/external"}
	l.NetworkPolicyV1 = link{Href: r.base + "/networking/v1/external"}
	l.Login = link{Href: orDefault(s.cfg.LoginURL, r.base)}
	l.UAA = link{Href: orDefault(s.cfg.UAAURL, r.base)}
	l.LogCache = &link{Href: r.base}
	l.Routing = &link{Href: r.base + "/routing"}
	return r.reply(200, j)
}

func orDefault(v, def string) string {
	if v != "" {
		return strings.TrimSuffix(v, "/")
	}
	return def
}

// v3Root answers GET /v3: a link to every resource collection.
func (s *Server) v3Root(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	names := []string{"app_usage_events", "apps", "audit_events", "buildpacks", "builds", "deployments", "domains",
		"droplets", "environment_variable_groups", "feature_flags", "info", "isolation_segments", "organizations",
		"organization_quotas", "packages", "processes", "resource_matches", "roles", "routes", "security_groups",
		"service_brokers", "service_instances", "service_credential_bindings", "service_offerings", "service_plans",
		"service_route_bindings", "service_usage_events", "spaces", "space_quotas", "stacks", "tasks", "users"}
	links := make(map[string]link, len(names)+1)
	links["self"] = link{Href: r.base + "/v3"}
	for _, n := range names {
		links[n] = link{Href: r.base + "/v3/" + n}
	}
	return r.reply(200, map[string]any{"links": links})
}

type infoJSON struct {
	Build      string `json:"build"`
	CLIVersion struct {
		Minimum     string `json:"minimum"`
		Recommended string `json:"recommended"`
	} `json:"cli_version"`
	Custom        map[string]string `json:"custom"`
	Description   string            `json:"description"`
	Name          string            `json:"name"`
	Version       int               `json:"version"`
	OSBAPIVersion string            `json:"osbapi_version"`
	RateLimits    struct {
		Enabled                bool `json:"enabled"`
		GeneralLimit           int  `json:"general_limit"`
		ResetIntervalInMinutes int  `json:"reset_interval_in_minutes"`
	} `json:"rate_limits"`
	Links struct {
		Self    link `json:"self"`
		Support link `json:"support"`
	} `json:"links"`
}

// info answers GET /v3/info.
func (s *Server) info(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	j := infoJSON{Build: "capibridge-embedded", Custom: map[string]string{}, Description: "The embedded Cloud Foundry of capibridge",
		Name: "capibridge", Version: 3, OSBAPIVersion: "2.15"}
	j.CLIVersion.Minimum, j.CLIVersion.Recommended = "6.22.0", "latest"
	j.RateLimits.GeneralLimit, j.RateLimits.ResetIntervalInMinutes = 2000, 60
	j.Links.Self = link{Href: r.base + "/v3/info"}
	j.Links.Support = link{Href: "https://github.com/cloudfoundry/cloud_controller_ng"}
	return r.reply(200, j)
}
