package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// serviceInstance renders a golden input through the controller it names.
func serviceInstance(raw []byte) ([]byte, error) {
	var in struct {
		Controller string
		Bundle     InstanceBundle
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	var err error
	if in.Controller == "service_instances" {
		err = AppendServiceInstance(&b, in.Bundle, Inline{}, nil)
	} else {
		err = AppendUserProvided(&b, in.Bundle, Inline{}, nil)
	}
	return b.Bytes(), err
}

func TestServiceInstanceGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "services", serviceInstance)
}

// The key order of both kinds through both controllers is CC's (the
// current shapes of MAPPING-services §10.2).
func TestServiceInstanceKeyOrder(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, ref string }{
		{"managed", "service_instance.current-shape.json"},
		{"upsi_via_instances", "user_provided_service_instance_via_service_instances.current-shape.json"},
		{"upsi", "user_provided_service_instance.json"},
	}
	for _, tc := range cases {
		raw, err := os.ReadFile(filepath.Join("testdata", "services", tc.in+".v3.json"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := serviceInstance(raw)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := os.ReadFile(filepath.Join("testdata", "reference", tc.ref))
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{"metadata", "entity"} {
			if w, g := keysOf(t, ref, part), keysOf(t, got, part); w != g {
				t.Errorf("%s %s keys\n got %s\nwant %s", tc.in, part, g, w)
			}
		}
	}
}

// A service key's keys are CC's (service_key.json).
func TestServiceKeyKeyOrder(t *testing.T) {
	t.Parallel()
	name := "k"
	var b bytes.Buffer
	k := BindingBundle{Binding: V3ServiceCredentialBinding{GUID: "g", Name: &name}}
	if err := AppendServiceKeyResource(&b, k); err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(filepath.Join("testdata", "reference", "service_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	if w, g := keysOf(t, ref, "entity"), keysOf(t, b.Bytes(), "entity"); w != g {
		t.Errorf("key entity\n got %s\nwant %s", g, w)
	}
}

// The marketplace's keys are CC's (service.current-shape.json,
// service_plan.current-shape.json, service_broker.json), and extra is the
// catalog metadata as a JSON string, null when there is none.
func TestMarketplaceKeyOrder(t *testing.T) {
	t.Parallel()
	var o V3ServiceOffering
	o.GUID, o.Name = "s", "capibridge-db"
	o.BrokerCatalog.Metadata = json.RawMessage(`{ "displayName": "DB", "b": [1, 2] }`)
	var p V3ServicePlan
	p.GUID, p.Name, p.VisibilityType = "p", "small", "public"
	var br V3ServiceBroker
	br.GUID, br.Name = "b", "broker"
	var svc, plan, broker bytes.Buffer
	if err := AppendServiceResource(&svc, o, nil); err != nil {
		t.Fatal(err)
	}
	if err := AppendServicePlanResource(&plan, p); err != nil {
		t.Fatal(err)
	}
	if err := AppendServiceBrokerResource(&broker, br); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		got []byte
		ref string
	}{{svc.Bytes(), "service.current-shape.json"}, {plan.Bytes(), "service_plan.current-shape.json"}, {broker.Bytes(), "service_broker.json"}}
	for _, tc := range cases {
		ref, err := os.ReadFile(filepath.Join("testdata", "reference", tc.ref))
		if err != nil {
			t.Fatal(err)
		}
		if w, g := keysOf(t, ref, "entity"), keysOf(t, tc.got, "entity"); w != g {
			t.Errorf("%s entity\n got %s\nwant %s", tc.ref, g, w)
		}
	}
	var e struct {
		Entity struct {
			Extra *string `json:"extra"`
		} `json:"entity"`
	}
	if err := json.Unmarshal(svc.Bytes(), &e); err != nil || e.Entity.Extra == nil || *e.Entity.Extra != `{"displayName":"DB","b":[1,2]}` {
		t.Errorf("extra: %v %+v", err, e)
	}
	if err := json.Unmarshal(plan.Bytes(), &e); err != nil || e.Entity.Extra != nil || !bytes.Contains(plan.Bytes(), []byte(`"schemas":{"service_instance":{"create":{"parameters":{}}`)) {
		t.Errorf("plan extra or schemas: %s", plan.Bytes())
	}
}
