package ccv3

import (
	"net/url"

	"capibridge/translate"
)

// Process is GET /v3/processes/:guid; a single GET shows the command,
// which lists redact.
func (c *Client) Process(call Call, processGUID string) (translate.V3Process, error) {
	var p translate.V3Process
	err := c.get(call, "/v3/processes/"+url.PathEscape(processGUID), "", "/v3/processes/:guid", &p)
	return p, err
}
