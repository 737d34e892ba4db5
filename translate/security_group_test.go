package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecurityGroupWriteError(t *testing.T) {
	cases := []struct {
		name, detail string
		want         string
	}{
		{"taken", "Security group with name 'web' already exists.", "SecurityGroupNameTaken: The security group name is taken: web"},
		{"unknown space", `Spaces with guids ["3435dd59-f289-4191-83e6-6201d6fb6a22"] do not exist.`,
			"InvalidRelation: Could not find VCAP::CloudController::Space with guid: 3435dd59-f289-4191-83e6-6201d6fb6a22"},
		{"protocol", "Rules[0]: protocol must be 'tcp', 'udp', 'icmp', 'icmpv6' or 'all'",
			"SecurityGroupInvalid: The security group is invalid: rules rule number 1 contains an unsupported protocol"},
		{"two rules", "Rules[0]: ports must be a valid single port, comma separated list of ports, or range or ports, formatted as a string, Rules[2]: destination must be a valid CIDR, IP address, or IP address range and may not contain whitespace",
			"SecurityGroupInvalid: The security group is invalid: rules rule number 1 contains invalid ports, rules rule number 3 contains invalid destination"},
		{"unknown fields", `Rules[1]: unknown field(s): ["foo", "bar"]`,
			"SecurityGroupInvalid: The security group is invalid: rules rule number 2 contains the invalid field 'foo', rules rule number 2 contains the invalid field 'bar'"},
		{"other", "Name is too long (maximum is 250 characters)", "SecurityGroupInvalid: The security group is invalid: Name is too long (maximum is 250 characters)"},
	}
	for _, tc := range cases {
		e := SecurityGroupWriteError(422, tc.detail, "web")
		if got := e.Name + ": " + e.Description; got != tc.want {
			t.Errorf("%s: %s", tc.name, got)
		}
	}
}

func TestSecurityGroupResources(t *testing.T) {
	var sg V3SecurityGroup
	if err := json.Unmarshal([]byte(`{"guid":"g","created_at":"2016-06-08T16:41:21Z","updated_at":"2016-06-08T16:41:26Z","name":"name-1",`+
		`"rules":[{"protocol":"udp","ports":"8080","destination":"198.41.191.47/1"}],"globally_enabled":{"running":true,"staging":false},`+
		`"relationships":{"running_spaces":{"data":[]},"staging_spaces":{"data":[]}}}`), &sg); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := AppendDefaultSecurityGroupResource(&b, sg, "running"); err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(filepath.Join("testdata", "reference", "running_security_group_set_response.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, ref); err != nil {
		t.Fatal(err)
	}
	// The reference's guid and times are the input's.
	want := strings.NewReplacer("43e0441d-c9c1-4250-b8d5-7fb624379e02", "g", `"updated_at":"2016-06-08T16:41:21Z"`, `"updated_at":"2016-06-08T16:41:26Z"`).Replace(c.String())
	if got := string(bytes.TrimSpace(b.Bytes())); got != want {
		t.Errorf("default:\n got %s\nwant %s", got, want)
	}
	b.Reset()
	if err := AppendSecurityGroupResource(&b, sg, nil, nil); err != nil {
		t.Fatal(err)
	}
	ref, err = os.ReadFile(filepath.Join("testdata", "reference", "security_group.json"))
	if err != nil {
		t.Fatal(err)
	}
	if w, g := keysOf(t, ref, "entity"), keysOf(t, b.Bytes(), "entity"); w != g {
		t.Errorf("entity keys\n got %s\nwant %s", g, w)
	}
	b.Reset()
	if err := AppendSecurityGroupResource(&b, sg, []json.RawMessage{}, nil); err != nil {
		t.Fatal(err)
	}
	want = `{"metadata":{"guid":"g","url":"/v2/security_groups/g","created_at":"2016-06-08T16:41:21Z","updated_at":"2016-06-08T16:41:26Z"},` +
		`"entity":{"name":"name-1","rules":[{"protocol":"udp","ports":"8080","destination":"198.41.191.47/1"}],"running_default":true,"staging_default":false,` +
		`"spaces_url":"/v2/security_groups/g/spaces","spaces":[],"staging_spaces_url":"/v2/security_groups/g/staging_spaces"}}`
	if got := string(bytes.TrimSpace(b.Bytes())); got != want {
		t.Errorf("inlined:\n got %s\nwant %s", got, want)
	}
}
