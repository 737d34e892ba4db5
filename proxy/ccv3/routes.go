package ccv3

import (
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/valyala/fasthttp"

	"capibridge/translate"
)

// RouteQuery is a GET /v3/routes request (RoutesListMessage). A nil filter
// is left out; an empty value filters by the empty string (hosts= is
// [""], cc:app/messages/base_message.rb#to_array!).
type RouteQuery struct {
	Hosts, Paths, Ports, DomainGUIDs, OrgGUIDs, SpaceGUIDs, AppGUIDs, GUIDs []string
	Page, PerPage                                                           int
	OrderBy                                                                 string
}

func (q RouteQuery) encode() string {
	return encodeList(map[string][]string{"hosts": q.Hosts, "paths": q.Paths, "ports": q.Ports, "domain_guids": q.DomainGUIDs,
		"organization_guids": q.OrgGUIDs, "space_guids": q.SpaceGUIDs, "app_guids": q.AppGUIDs, "guids": q.GUIDs}, q.Page, q.PerPage, q.OrderBy)
}

// ListRoutes is GET /v3/routes: the routes the user can see.
func (c *Client) ListRoutes(call Call, q RouteQuery) (Page[translate.V3Route], error) {
	var p Page[translate.V3Route]
	err := c.get(call, "/v3/routes", q.encode(), "/v3/routes", &p)
	return p, err
}

// AllRoutes reads every page of a route list.
func (c *Client) AllRoutes(call Call, q RouteQuery) ([]translate.V3Route, error) {
	q.Page, q.PerPage = 0, 0
	v, _ := url.ParseQuery(q.encode())
	v.Set("per_page", strconv.Itoa(maxPerPage))
	return allPages[translate.V3Route](c, call, "/v3/routes", "/v3/routes", v)
}

// CreateRoute is POST /v3/routes.
func (c *Client) CreateRoute(call Call, body []byte) (translate.V3Route, error) {
	var r translate.V3Route
	_, err := c.send(call, fasthttp.MethodPost, "/v3/routes", "/v3/routes", body, &r)
	return r, err
}

// DeleteRoute is DELETE /v3/routes/:guid; it returns the job's guid.
func (c *Client) DeleteRoute(call Call, guid string) (string, error) {
	return c.deleteJob(call, "/v3/routes/"+url.PathEscape(guid), "/v3/routes/:guid")
}

// deleteJob DELETEs path and returns the guid of the job its Location
// names ("" when v3 answered without one).
func (c *Client) deleteJob(call Call, path, route string) (string, error) {
	loc, err := c.send(call, fasthttp.MethodDelete, path, route, nil, nil)
	if err != nil || loc == "" {
		return "", err
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", nil
	}
	return lastSegment(u.Path), nil
}

func lastSegment(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// Destinations is GET /v3/routes/:guid/destinations, of the apps given
// (all when nil).
func (c *Client) Destinations(call Call, routeGUID string, appGUIDs []string) ([]translate.V3Destination, error) {
	var out struct {
		Destinations []translate.V3Destination `json:"destinations"`
	}
	q := ""
	if appGUIDs != nil {
		q = url.Values{"app_guids": {listValue(appGUIDs)}}.Encode()
	}
	err := c.get(call, "/v3/routes/"+url.PathEscape(routeGUID)+"/destinations", q, "/v3/routes/:guid/*", &out)
	return out.Destinations, err
}

// AddDestination is POST /v3/routes/:guid/destinations with one
// destination of the app's web process, on port (none when nil). It returns
// the route's destinations after the insert.
func (c *Client) AddDestination(call Call, routeGUID, appGUID string, port *int) ([]translate.V3Destination, error) {
	type dest struct {
		App  translate.V3DestinationApp `json:"app"`
		Port *int                       `json:"port,omitempty"`
	}
	body, err := json.Marshal(map[string][]dest{"destinations": {{App: translate.V3DestinationApp{GUID: appGUID,
		Process: translate.V3ProcessTypeRef{Type: "web"}}, Port: port}}})
	if err != nil {
		return nil, err
	}
	var out struct {
		Destinations []translate.V3Destination `json:"destinations"`
	}
	_, err = c.send(call, fasthttp.MethodPost, "/v3/routes/"+url.PathEscape(routeGUID)+"/destinations", "/v3/routes/:guid/*", body, &out)
	return out.Destinations, err
}

// RouteReserved is GET /v3/domains/:guid/route_reservations: whether a
// route with host, path (when given) and port exists on the domain.
func (c *Client) RouteReserved(call Call, domainGUID, host string, path *string, port int) (bool, error) {
	v := url.Values{"host": {host}}
	if path != nil {
		v.Set("path", *path)
	}
	if port != 0 {
		v.Set("port", strconv.Itoa(port))
	}
	var out struct {
		MatchingRoute bool `json:"matching_route"`
	}
	err := c.get(call, "/v3/domains/"+url.PathEscape(domainGUID)+"/route_reservations", v.Encode(), "/v3/domains/:guid/*", &out)
	return out.MatchingRoute, err
}

// DeleteUnmappedRoutes is DELETE /v3/spaces/:guid/routes?unmapped=true; it
// returns the job's guid.
func (c *Client) DeleteUnmappedRoutes(call Call, spaceGUID string) (string, error) {
	return c.deleteJob(call, "/v3/spaces/"+url.PathEscape(spaceGUID)+"/routes?unmapped=true", "/v3/spaces/:guid/*")
}

// CreateDomain is POST /v3/domains.
func (c *Client) CreateDomain(call Call, body []byte) (translate.V3Domain, error) {
	var d translate.V3Domain
	_, err := c.send(call, fasthttp.MethodPost, "/v3/domains", "/v3/domains", body, &d)
	return d, err
}

// DeleteDomain is DELETE /v3/domains/:guid; it returns the job's guid.
func (c *Client) DeleteDomain(call Call, guid string) (string, error) {
	return c.deleteJob(call, "/v3/domains/"+url.PathEscape(guid), "/v3/domains/:guid")
}

// ShareDomain is POST /v3/domains/:guid/relationships/shared_organizations
// with one org.
func (c *Client) ShareDomain(call Call, domainGUID, orgGUID string) error {
	body, err := json.Marshal(map[string][]map[string]string{"data": {{"guid": orgGUID}}})
	if err != nil {
		return err
	}
	_, err = c.send(call, fasthttp.MethodPost, "/v3/domains/"+url.PathEscape(domainGUID)+"/relationships/shared_organizations",
		"/v3/domains/:guid/*", body, nil)
	return err
}

// UnshareDomain is DELETE /v3/domains/:guid/relationships/shared_organizations/:org.
func (c *Client) UnshareDomain(call Call, domainGUID, orgGUID string) error {
	_, err := c.send(call, fasthttp.MethodDelete, "/v3/domains/"+url.PathEscape(domainGUID)+"/relationships/shared_organizations/"+
		url.PathEscape(orgGUID), "/v3/domains/:guid/*", nil, nil)
	return err
}

// AppsByGUID lists the apps of the guids the user can see.
func (c *Client) AppsByGUID(call Call, guids []string) ([]translate.V3App, error) {
	return listBy[translate.V3App](c, call, "/v3/apps", "/v3/apps", "guids", guids, nil)
}

// routeBindingsPage is a page of service route bindings with the service
// instances included.
type routeBindingsPage struct {
	Page[struct {
		Relationships struct {
			Route           translate.V3ToOne `json:"route"`
			ServiceInstance translate.V3ToOne `json:"service_instance"`
		} `json:"relationships"`
	}]
	Included struct {
		ServiceInstances []struct {
			GUID string `json:"guid"`
			Type string `json:"type"`
		} `json:"service_instances"`
	} `json:"included"`
}

// RouteServices returns the route services bound to the routes, by route.
// A Cloud Controller without the endpoint (404) has none.
func (c *Client) RouteServices(call Call, routeGUIDs []string) (map[string]translate.RouteService, error) {
	parts, err := inChunks(c, routeGUIDs, func(chunk []string) (map[string]translate.RouteService, error) {
		out := map[string]translate.RouteService{}
		v := filtered(url.Values{"include": {"service_instance"}}, "route_guids", chunk)
		err := eachPage[routeBindingsPage](c, call, "/v3/service_route_bindings", "/v3/service_route_bindings", v, func(p *routeBindingsPage) bool {
			upsi := map[string]bool{}
			for _, si := range p.Included.ServiceInstances {
				upsi[si.GUID] = si.Type == "user-provided"
			}
			for _, b := range p.Resources {
				si := b.Relationships.ServiceInstance.GUID()
				out[b.Relationships.Route.GUID()] = translate.RouteService{InstanceGUID: si, UserProvided: upsi[si]}
			}
			return true
		})
		return out, err
	})
	if e, ok := err.(*Error); ok && e.Status == 404 {
		return nil, nil
	}
	out := map[string]translate.RouteService{}
	for _, p := range parts {
		for k, v := range p {
			out[k] = v
		}
	}
	return out, err
}
