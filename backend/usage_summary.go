package backend

import "capibridge/backend/store"

// Usage summaries (cc:app/presenters/v3/organization_usage_summary_presenter.rb,
// space_usage_summary_presenter.rb; OrganizationsV3Controller#show_usage_summary,
// SpacesV3Controller#show_usage_summary): whoever can read the org or the
// space reads them.

// usageSummaryJSON is the usage_summary object of both presenters.
type usageSummaryJSON struct {
	StartedInstances int64 `json:"started_instances"`
	MemoryInMB       int64 `json:"memory_in_mb"`
	Routes           int64 `json:"routes"`
	ServiceInstances int64 `json:"service_instances"`
	ReservedPorts    int64 `json:"reserved_ports"`
	Domains          int64 `json:"domains"`
	PerAppTasks      int64 `json:"per_app_tasks"`
	ServiceKeys      int64 `json:"service_keys"`
}

func presentUsage(u store.Usage) usageSummaryJSON {
	return usageSummaryJSON{StartedInstances: u.StartedInstances, MemoryInMB: u.MemoryInMB, Routes: u.Routes, ServiceInstances: u.ServiceInstances,
		ReservedPorts: u.ReservedPorts, Domains: u.Domains, PerAppTasks: u.PerAppTasks, ServiceKeys: u.ServiceKeys}
}

// orgUsageJSON is OrganizationUsageSummaryPresenter's body.
type orgUsageJSON struct {
	UsageSummary usageSummaryJSON `json:"usage_summary"`
	Links        struct {
		Self         link `json:"self"`
		Organization link `json:"organization"`
	} `json:"links"`
}

// spaceUsageJSON is SpaceUsageSummaryPresenter's body.
type spaceUsageJSON struct {
	UsageSummary usageSummaryJSON `json:"usage_summary"`
	Links        struct {
		Self  link `json:"self"`
		Space link `json:"space"`
	} `json:"links"`
}

// orgUsageSummary is GET /v3/organizations/:guid/usage_summary.
func (s *Server) orgUsageSummary(r *request) error {
	org, err := s.store.GetOrg(r.ctx, r.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Organization")
	}
	u, err := s.store.OrgUsage(r.ctx, org.GUID)
	if err != nil {
		return errInternal(err)
	}
	out := orgUsageJSON{UsageSummary: presentUsage(u)}
	self := r.base + "/v3/organizations/" + org.GUID
	out.Links.Self, out.Links.Organization = link{Href: self + "/usage_summary"}, link{Href: self}
	return r.reply(200, out)
}

// spaceUsageSummary is GET /v3/spaces/:guid/usage_summary.
func (s *Server) spaceUsageSummary(r *request) error {
	sp, err := s.store.GetSpace(r.ctx, r.viewer(), r.params[0])
	if err != nil {
		return storeErr(err, "Space")
	}
	u, err := s.store.SpaceUsage(r.ctx, sp.GUID)
	if err != nil {
		return errInternal(err)
	}
	out := spaceUsageJSON{UsageSummary: presentUsage(u)}
	self := r.base + "/v3/spaces/" + sp.GUID
	out.Links.Self, out.Links.Space = link{Href: self + "/usage_summary"}, link{Href: self}
	return r.reply(200, out)
}
