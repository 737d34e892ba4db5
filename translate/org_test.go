package translate

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestOrgGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "orgs", func(raw []byte) ([]byte, error) {
		var o V3Org
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, err
		}
		return OrgResource(o)
	})
}

func TestOrgStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		suspended bool
		want      string
	}{{"active", false, "active"}, {"suspended", true, "suspended"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := OrgEntity(V3Org{Suspended: tc.suspended}).Status; got != tc.want {
				t.Errorf("status %q, want %q", got, tc.want)
			}
		})
	}
}

// TestOrgWithoutQuota checks that quota_definition_url is left out, as
// RelationsPresenter leaves out a to-one url with no associated row.
func TestOrgWithoutQuota(t *testing.T) {
	t.Parallel()
	got, err := OrgResource(V3Org{GUID: "o", Name: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"quota_definition_guid":null`) || strings.Contains(string(got), "quota_definition_url") {
		t.Errorf("got %s", got)
	}
}
