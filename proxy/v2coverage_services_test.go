package proxy

import (
	"context"
	"slices"
	"testing"

	"capibridge/backend"
	"capibridge/backend/store"
)

// The reference bodies of the service family (copies of
// shared/reference/v2/services).
const (
	serviceShapeRef  = "../translate/testdata/reference/service.current-shape.json"
	planShapeRef     = "../translate/testdata/reference/service_plan.current-shape.json"
	instanceShapeRef = "../translate/testdata/reference/service_instance.current-shape.json"
	brokerShapeRef   = "../translate/testdata/reference/service_broker.json"
	routeShapeRef    = "../translate/testdata/reference/route.json"
)

// managedInstance creates a managed instance of the small db plan in the
// demo space through the gateway (which waits for the broker).
func (s *stack) managedInstance(t *testing.T, name string) string {
	t.Helper()
	return s.postV2(t, "developer", "/v2/service_instances",
		`{"name":"`+name+`","space_guid":"`+backend.DemoSpaceGUID+`","service_plan_guid":"`+backend.DBSmallPlanGUID+`"}`)
}

// The marketplace reads of MAPPING-services §10.7: an org's services, an
// offering's plans, a plan and its instances, the brokers; each with the
// reader's visibility, and each not-found in CC's name.
func TestV2CoverageMarketplace(t *testing.T) {
	s := startStack(t, nil)
	instance := s.managedInstance(t, "cov-db")
	cases := []struct {
		name, path, user string
		one              bool     // a resource, not a list
		want             []string // the guids listed, or the one read
		ref              string
	}{
		{"org services", "/v2/organizations/" + backend.DemoOrgGUID + "/services", "developer", false,
			[]string{backend.DBOfferingGUID, backend.CacheOfferingGUID}, serviceShapeRef},
		{"offering plans", "/v2/services/" + backend.DBOfferingGUID + "/service_plans", "developer", false,
			[]string{backend.DBSmallPlanGUID, backend.DBLargePlanGUID}, planShapeRef},
		// The large plan is visible to demo-org only.
		{"offering plans, outsider", "/v2/services/" + backend.DBOfferingGUID + "/service_plans", "outsider", false,
			[]string{backend.DBSmallPlanGUID}, planShapeRef},
		{"plan", "/v2/service_plans/" + backend.DBSmallPlanGUID, "developer", true, []string{backend.DBSmallPlanGUID}, planShapeRef},
		{"plan instances", "/v2/service_plans/" + backend.DBSmallPlanGUID + "/service_instances", "developer", false, []string{instance}, instanceShapeRef},
		{"plan instances, outsider", "/v2/service_plans/" + backend.DBSmallPlanGUID + "/service_instances", "outsider", false, []string{}, ""},
		{"brokers", "/v2/service_brokers", "admin", false, []string{backend.ServiceBrokerGUID}, brokerShapeRef},
		// A global broker is for global readers only.
		{"brokers, developer", "/v2/service_brokers", "developer", false, []string{}, ""},
		{"broker", "/v2/service_brokers/" + backend.ServiceBrokerGUID, "admin", true, []string{backend.ServiceBrokerGUID}, brokerShapeRef},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", s.gwURL+tc.path, tc.user, nil)
			at := "resources.0"
			if tc.one {
				at = ""
				wantStatus(t, tc.name, r, 200, `"guid":"`+tc.want[0]+`"`)
			} else if got := listGUIDs(t, r); !slices.Equal(got, sortedGUIDs(tc.want...)) {
				t.Errorf("%v, want %v", got, sortedGUIDs(tc.want...))
			}
			if tc.ref != "" {
				sameShape(t, tc.name, r.body, at, tc.ref, "")
			}
		})
	}
	for _, tc := range []struct{ path, body string }{
		{"/v2/organizations/nope/services", `{"description":"The organization could not be found: nope","error_code":"CF-OrganizationNotFound","code":30003}`},
		{"/v2/services/nope/service_plans", `{"description":"The service could not be found: nope","error_code":"CF-ServiceNotFound","code":120003}`},
		{"/v2/service_plans/nope", `{"description":"The service plan could not be found: nope","error_code":"CF-ServicePlanNotFound","code":110003}`},
		{"/v2/service_plans/nope/service_instances", `{"description":"The service plan could not be found: nope","error_code":"CF-ServicePlanNotFound","code":110003}`},
		{"/v2/service_brokers/nope", `{"description":"The service broker was not found: nope","error_code":"CF-ServiceBrokerNotFound","code":270004}`},
	} {
		wantError(t, s.do("GET", s.gwURL+tc.path, "admin", nil), 404, tc.body)
	}
}

// The parameters of bindings and keys (MAPPING-services §10.5.5,
// §10.6.5): the broker's, as given at creation; a user-provided instance's
// binding has none to fetch; a key is no binding; a reader who is no
// developer reads no key.
func TestV2CoverageBindingParameters(t *testing.T) {
	s := startStack(t, nil)
	app := s.createApps(t, "developer", "parametrised")[0]
	instance := s.managedInstance(t, "cov-params")
	binding := s.postV2(t, "developer", "/v2/service_bindings", `{"app_guid":"`+app+`","service_instance_guid":"`+instance+`","parameters":{"pool":5}}`)
	key := s.postV2(t, "developer", "/v2/service_keys", `{"name":"k","service_instance_guid":"`+instance+`","parameters":{"ttl":"1h"}}`)
	ups := s.postV2(t, "developer", "/v2/user_provided_service_instances", `{"name":"cov-ups","space_guid":"`+backend.DemoSpaceGUID+`"}`)
	upsBinding := s.postV2(t, "developer", "/v2/service_bindings", `{"app_guid":"`+app+`","service_instance_guid":"`+ups+`"}`)

	for _, tc := range []struct{ path, want string }{
		{"/v2/service_bindings/" + binding + "/parameters", `{"pool":5}`},
		{"/v2/service_keys/" + key + "/parameters", `{"ttl":"1h"}`},
	} {
		if r := s.do("GET", s.gwURL+tc.path, "developer", nil); r.status != 200 || string(r.body) != tc.want {
			t.Errorf("%s: %d %s, want %s", tc.path, r.status, r.body, tc.want)
		}
	}
	for _, tc := range []struct {
		path, user string
		status     int
		body       string
	}{
		{"/v2/service_bindings/" + upsBinding + "/parameters", "developer", 400,
			`{"description":"This service does not support fetching service binding parameters.","error_code":"CF-ServiceFetchBindingParametersNotSupported","code":90007}`},
		{"/v2/service_bindings/nope/parameters", "developer", 404,
			`{"description":"The service binding could not be found: nope","error_code":"CF-ServiceBindingNotFound","code":90004}`},
		{"/v2/service_bindings/" + key + "/parameters", "developer", 404,
			`{"description":"The service binding could not be found: ` + key + `","error_code":"CF-ServiceBindingNotFound","code":90004}`},
		{"/v2/service_keys/" + key + "/parameters", "auditor", 404,
			`{"description":"The service key could not be found: ` + key + `","error_code":"CF-ServiceKeyNotFound","code":360003}`},
		{"/v2/service_keys/nope/parameters", "developer", 404,
			`{"description":"The service key could not be found: nope","error_code":"CF-ServiceKeyNotFound","code":360003}`},
	} {
		wantError(t, s.do("GET", s.gwURL+tc.path, tc.user, nil), tc.status, tc.body)
	}
}

// The routes of a managed instance (MAPPING-services §10.3.6, §10.3.7):
// listed, their binding's parameters, unbound with 204 also for a
// user-provided instance named through /v2/service_instances
// (ServiceInstanceBindingManager#delete_route_service_instance_binding
// finds either kind). The embedded CF's broker binds no route, so the
// managed route binding goes into its store.
func TestV2CoverageInstanceRoutes(t *testing.T) {
	s := startStack(t, nil)
	managed := s.managedInstance(t, "cov-rs")
	ups := s.postV2(t, "developer", "/v2/user_provided_service_instances",
		`{"name":"cov-ups-rs","space_guid":"`+backend.DemoSpaceGUID+`","route_service_url":"https://rs.example.com"}`)
	managedRoute, upsRoute, free := s.createV2Route(t, "cov-managed"), s.createV2Route(t, "cov-ups"), s.createV2Route(t, "cov-free")
	st := s.cf.Store()
	url := "https://rs.example.com"
	now := st.Now()
	if err := st.CreateRouteBinding(context.Background(), store.RouteBinding{GUID: "7b000000-0000-4000-8000-0000000000c1", RouteGUID: managedRoute,
		ServiceInstanceGUID: managed, SpaceGUID: backend.DemoSpaceGUID, RouteServiceURL: &url,
		LastOperation: store.InstanceOperation{Type: "create", State: "succeeded", CreatedAt: now, UpdatedAt: now}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if r := s.do("PUT", s.gwURL+"/v2/user_provided_service_instances/"+ups+"/routes/"+upsRoute, "developer", nil); r.status != 201 {
		t.Fatalf("bind the user-provided instance: %d %s", r.status, r.body)
	}
	routes := s.gwURL + "/v2/service_instances/" + managed + "/routes"

	r := s.do("GET", routes, "auditor", nil)
	if got := listGUIDs(t, r); !slices.Equal(got, []string{managedRoute}) {
		t.Errorf("the instance's routes: %v", got)
	}
	wantStatus(t, "the instance's routes", r, 200, `"service_instance_guid":"`+managed+`"`)
	sameShape(t, "the instance's routes", r.body, "resources.0", routeShapeRef, "")
	wantError(t, s.do("GET", s.gwURL+"/v2/service_instances/"+ups+"/routes", "developer", nil), 404,
		`{"description":"The service instance could not be found: `+ups+`","error_code":"CF-ManagedServiceInstanceNotFound","code":60028}`)

	// Parameters: what the embedded CF's v3 says of the managed binding
	// (its broker keeps none), CC's refusals for the rest.
	params := func(instance, route string) reply {
		return s.do("GET", s.gwURL+"/v2/service_instances/"+instance+"/routes/"+route+"/parameters", "developer", nil)
	}
	wantStatus(t, "the managed binding's parameters", params(managed, managedRoute), 400, `"error_code":"CF-ServiceFetchBindingParametersNotSupported"`)
	for _, tc := range []struct {
		name, instance, route string
		status                int
		body                  string
	}{
		{"user-provided", ups, upsRoute, 400,
			`{"description":"This service does not support fetching service binding parameters.","error_code":"CF-ServiceFetchBindingParametersNotSupported","code":90007}`},
		{"not bound", managed, free, 400,
			`{"description":"Route ` + free + ` is not bound to service instance ` + managed + `.","error_code":"CF-InvalidRelation","code":1002}`},
		{"no instance", "nope", managedRoute, 404,
			`{"description":"The service instance could not be found: nope","error_code":"CF-ServiceInstanceNotFound","code":60004}`},
		{"no route", managed, "nope", 404, `{"description":"The route could not be found: nope","error_code":"CF-RouteNotFound","code":210002}`},
	} {
		t.Run("parameters, "+tc.name, func(t *testing.T) { wantError(t, params(tc.instance, tc.route), tc.status, tc.body) })
	}

	// Unbinding: an auditor may not; the managed binding and the
	// user-provided one go, 204; then they are not bound.
	wantStatus(t, "an auditor unbinds", s.do("DELETE", routes+"/"+managedRoute, "auditor", nil), 403, `"error_code":"CF-NotAuthorized"`)
	for _, tc := range []struct{ instance, route string }{{managed, managedRoute}, {ups, upsRoute}} {
		path := s.gwURL + "/v2/service_instances/" + tc.instance + "/routes/" + tc.route
		if r := s.do("DELETE", path, "developer", nil); r.status != 204 || len(r.body) != 0 {
			t.Errorf("unbind %s: %d %s", tc.route, r.status, r.body)
		}
		wantError(t, s.do("DELETE", path, "developer", nil), 400,
			`{"description":"Route `+tc.route+` is not bound to service instance `+tc.instance+`.","error_code":"CF-InvalidRelation","code":1002}`)
	}
	var left struct {
		Resources []struct{ GUID string } `json:"resources"`
	}
	if st := s.v3JSON(t, "/v3/service_route_bindings?service_instance_guids="+managed+","+ups, &left); st != 200 || len(left.Resources) != 0 {
		t.Errorf("route bindings left: %d %+v", st, left)
	}
	wantStatus(t, "the instance's routes after", s.do("GET", routes, "developer", nil), 200, `"total_results":0`)
}
