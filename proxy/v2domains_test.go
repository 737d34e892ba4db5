package proxy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"capibridge/backend"
	"capibridge/backend/store"
)

// The two kinds of v2 domain from v3's one list (MAPPING-routes §9.12,
// §9.13): the seeded shared domain and a private domain of demo-org,
// through go-cfclient's last v2 release and by hand.
func TestV2DomainReads(t *testing.T) {
	s := startStack(t, nil)
	// The embedded CF has no POST /v3/domains yet: the private domain goes
	// into its store.
	private := struct{ GUID string }{"d0a10000-0000-4000-8000-0000000000aa"}
	st := s.cf.Store()
	if err := st.CreateDomain(context.Background(), store.Domain{GUID: private.GUID, Name: "private.example.org", OrgGUID: backend.DemoOrgGUID,
		Protocols: []string{"http"}, CreatedAt: st.Now(), UpdatedAt: st.Now()}); err != nil {
		t.Fatal(err)
	}

	c := s.goCFClient(t, "developer")
	shared, err := c.ListSharedDomains()
	if err != nil || len(shared) != 1 || shared[0].Guid != backend.SharedDomainGUID || shared[0].Name != backend.SharedDomainName ||
		shared[0].RouterGroupGuid != "" || shared[0].Internal {
		t.Errorf("ListSharedDomains: %v %+v", err, shared)
	}
	if d, err := c.GetSharedDomainByName(backend.SharedDomainName); err != nil || d.Guid != backend.SharedDomainGUID {
		t.Errorf("GetSharedDomainByName: %v %+v", err, d)
	}
	if d, err := c.GetSharedDomainByGuid(backend.SharedDomainGUID); err != nil || d.Name != backend.SharedDomainName {
		t.Errorf("GetSharedDomainByGuid: %v %+v", err, d)
	}
	domains, err := c.ListDomains() // go-cfclient's ListDomains reads /v2/private_domains
	if err != nil || len(domains) != 1 || domains[0].Guid != private.GUID || domains[0].OwningOrganizationGuid != backend.DemoOrgGUID {
		t.Errorf("ListDomains: %v %+v", err, domains)
	}
	if d, err := c.GetDomainByName("private.example.org"); err != nil || d.Guid != private.GUID {
		t.Errorf("GetDomainByName: %v %+v", err, d)
	}

	// An org's private domains (owned or shared with it), under the org.
	orgDomains, err := c.ListOrgPrivateDomains(backend.DemoOrgGUID)
	if err != nil || len(orgDomains) != 1 || orgDomains[0].Guid != private.GUID || orgDomains[0].Name != "private.example.org" {
		t.Errorf("ListOrgPrivateDomains: %v %+v", err, orgDomains)
	}
	r := s.do("GET", s.gwURL+"/v2/organizations/"+backend.DemoOrgGUID+"/private_domains?results-per-page=1", "developer", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"total_results":1`) || !strings.Contains(string(r.body), `"prev_url":null,"next_url":null`) {
		t.Errorf("org private domains: %d %s", r.status, r.body)
	}
	r = s.do("GET", s.gwURL+"/v2/organizations/no-such-org/private_domains", "developer", nil)
	if r.status != 404 || !strings.Contains(string(r.body), "CF-OrganizationNotFound") {
		t.Errorf("unknown org: %d %s", r.status, r.body)
	}

	// A domain of the other kind is not found, in CC's words: the cf CLI
	// tries the other kind on this 404.
	notFound := func(path, guid string) {
		t.Helper()
		r := s.do("GET", s.gwURL+path+guid, "developer", nil)
		want := `{"description":"The domain could not be found: ` + guid + `","error_code":"CF-DomainNotFound","code":130002}` + "\n"
		if r.status != 404 || string(r.body) != want {
			t.Errorf("GET %s%s: %d %s", path, guid, r.status, r.body)
		}
	}
	notFound("/v2/shared_domains/", private.GUID)
	notFound("/v2/private_domains/", backend.SharedDomainGUID)
	notFound("/v2/shared_domains/", "no-such-domain")

	// q=name and paging, as the legacy CLI asks for the default domain.
	r = s.do("GET", s.gwURL+"/v2/shared_domains?q=name:"+strings.ToUpper(backend.SharedDomainName)+"&results-per-page=1", "developer", nil)
	var page struct {
		TotalResults int     `json:"total_results"`
		NextURL      *string `json:"next_url"`
		Resources    []struct {
			Metadata struct{ URL string } `json:"metadata"`
		} `json:"resources"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &page) != nil || page.TotalResults != 1 || page.NextURL != nil ||
		page.Resources[0].Metadata.URL != "/v2/shared_domains/"+backend.SharedDomainGUID {
		t.Errorf("shared domains by name (case-insensitive): %d %s", r.status, r.body)
	}
	// The outsider sees the shared domain, not demo-org's private one.
	r = s.do("GET", s.gwURL+"/v2/private_domains", "outsider", nil)
	if r.status != 200 || json.Unmarshal(r.body, &page) != nil || page.TotalResults != 0 {
		t.Errorf("outsider's private domains: %d %s", r.status, r.body)
	}

	// Only the shared domain list takes order-by, and name sorts; the
	// default is the id order.
	if err := st.CreateDomain(context.Background(), store.Domain{GUID: "d0a10000-0000-4000-8000-0000000000bb", Name: "aaa.example.org",
		Protocols: []string{"http"}, CreatedAt: st.Now(), UpdatedAt: st.Now()}); err != nil {
		t.Fatal(err)
	}
	order := func(query string) string {
		t.Helper()
		var p struct {
			Resources []struct {
				Entity struct{ Name string } `json:"entity"`
			} `json:"resources"`
		}
		r := s.do("GET", s.gwURL+"/v2/shared_domains"+query, "outsider", nil)
		if r.status != 200 || json.Unmarshal(r.body, &p) != nil {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		var names []string
		for _, d := range p.Resources {
			names = append(names, d.Entity.Name)
		}
		return strings.Join(names, ",")
	}
	for query, want := range map[string]string{
		"":                                    backend.SharedDomainName + ",aaa.example.org",
		"?order-by=name":                      "aaa.example.org," + backend.SharedDomainName,
		"?order-by=name&order-direction=desc": backend.SharedDomainName + ",aaa.example.org",
		"?order-direction=desc":               "aaa.example.org," + backend.SharedDomainName,
		"?order-by=name&results-per-page=1&page=2": backend.SharedDomainName,
	} {
		if got := order(query); got != want {
			t.Errorf("%s: %s, want %s", query, got, want)
		}
	}
	if r := s.do("GET", s.gwURL+"/v2/private_domains?order-by=name", "developer", nil); r.status != 500 || !strings.Contains(string(r.body), "CF-OrderByParameterInvalid") {
		t.Errorf("private domains order-by: %d %s", r.status, r.body)
	}
}
