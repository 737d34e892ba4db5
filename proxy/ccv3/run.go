package ccv3

import (
	"fmt"
	"net/url"

	"github.com/valyala/fasthttp"

	"capibridge/translate"
)

// InstanceStats is GET /v3/processes/:guid/stats, every instance.
func (c *Client) InstanceStats(call Call, processGUID string) ([]translate.V3InstanceStats, error) {
	var p struct {
		Resources []translate.V3InstanceStats `json:"resources"`
	}
	err := c.get(call, "/v3/processes/"+url.PathEscape(processGUID)+"/stats", "", "/v3/processes/:guid/*", &p)
	return p.Resources, err
}

// DeleteInstance is DELETE /v3/processes/:guid/instances/:index: v3
// restarts that instance.
func (c *Client) DeleteInstance(call Call, processGUID, index string) error {
	_, err := c.send(call, fasthttp.MethodDelete, "/v3/processes/"+url.PathEscape(processGUID)+"/instances/"+url.PathEscape(index),
		"/v3/processes/:guid/*", nil, nil)
	return err
}

// GetRoute is GET /v3/routes/:guid.
func (c *Client) GetRoute(call Call, guid string) (translate.V3Route, error) {
	var r translate.V3Route
	err := c.get(call, "/v3/routes/"+url.PathEscape(guid), "", "/v3/routes/:guid", &r)
	return r, err
}

// AddWebDestination is POST /v3/routes/:guid/destinations with the app's
// web process on port: an insert, so a mapping that exists stays one.
func (c *Client) AddWebDestination(call Call, routeGUID, appGUID string, port int) error {
	body := fmt.Sprintf(`{"destinations":[{"app":{"guid":%q,"process":{"type":"web"}},"port":%d}]}`, appGUID, port)
	_, err := c.send(call, fasthttp.MethodPost, "/v3/routes/"+url.PathEscape(routeGUID)+"/destinations", "/v3/routes/:guid/*", []byte(body), nil)
	return err
}

// RemoveDestination is DELETE /v3/routes/:guid/destinations/:destination_guid.
func (c *Client) RemoveDestination(call Call, routeGUID, destinationGUID string) error {
	_, err := c.send(call, fasthttp.MethodDelete, "/v3/routes/"+url.PathEscape(routeGUID)+"/destinations/"+url.PathEscape(destinationGUID),
		"/v3/routes/:guid/*", nil, nil)
	return err
}
