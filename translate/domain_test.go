package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// domainResource renders a v3 domain as the v2 resource of its kind.
func domainResource(raw []byte) ([]byte, error) {
	var d V3Domain
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	var err error
	if d.Shared() {
		err = AppendSharedDomainResource(&b, d)
	} else {
		err = AppendPrivateDomainResource(&b, d)
	}
	return b.Bytes(), err
}

func TestDomainGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "domains", domainResource)
}

// The key order of both kinds is CC's (testdata/reference: the shared
// domain list's current shape, the private domain's documented body).
func TestDomainKeyOrder(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, ref, at string }{
		{"shared_tcp", "shared_domain_list_by_name.current-shape.json", "resources.0"},
		{"private", "private_domain.json", ""},
	}
	for _, tc := range cases {
		raw, err := os.ReadFile(filepath.Join("testdata", "domains", tc.in+".v3.json"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := domainResource(raw)
		if err != nil {
			t.Fatal(err)
		}
		refRaw, err := os.ReadFile(filepath.Join("testdata", "reference", tc.ref))
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{"metadata", "entity"} {
			at := part
			if tc.at != "" {
				at = tc.at + "." + part
			}
			if w, g := keysOf(t, refRaw, at), keysOf(t, got, part); w != g {
				t.Errorf("%s %s keys\n got %s\nwant %s", tc.in, part, g, w)
			}
		}
	}
}
