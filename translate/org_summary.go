package translate

import "encoding/json"

// OrgSummarySpace is one space of GET /v2/organizations/:guid/summary.
type OrgSummarySpace struct {
	GUID         string `json:"guid"`
	Name         string `json:"name"`
	ServiceCount int    `json:"service_count"`
	AppCount     int    `json:"app_count"`
	MemDevTotal  int64  `json:"mem_dev_total"`
	MemProdTotal int64  `json:"mem_prod_total"`
}

// OrgSummary is GET /v2/organizations/:guid/summary
// (OrganizationSummariesController, MAPPING-orgs §11.2.5): flat, and
// ending in "mode":"compat", which today's CC serialises by accident
// (organization_summary.current-shape.json; §13).
func OrgSummary(o V3Org, spaces []OrgSummarySpace) ([]byte, error) {
	if spaces == nil {
		spaces = []OrgSummarySpace{}
	}
	return json.Marshal(struct {
		GUID   string            `json:"guid"`
		Name   string            `json:"name"`
		Status string            `json:"status"`
		Spaces []OrgSummarySpace `json:"spaces"`
		Mode   string            `json:"mode"`
	}{o.GUID, o.Name, OrgEntity(o).Status, spaces, "compat"})
}

// V3UsageSummary is GET /v3/organizations/:guid/usage_summary's
// usage_summary.
type V3UsageSummary struct {
	StartedInstances int64 `json:"started_instances"`
	MemoryInMB       int64 `json:"memory_in_mb"`
}
