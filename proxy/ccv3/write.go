package ccv3

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"capibridge/translate"
)

// send sends a write upstream with a JSON body (v3 parses only JSON, so
// the Content-Type is always application/json) and decodes a 2xx answer
// into v when v is not nil; any other status is an *Error. It returns the
// Location header, which v3 sets on 202 answers to point at a job. Writes
// are never retried: the upstream retries only idempotent methods.
func (c *Client) send(call Call, method, path, route string, body []byte, v any) (string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + path)
	req.Header.SetMethod(method)
	if call.Authorization != "" {
		req.Header.Set(fasthttp.HeaderAuthorization, call.Authorization)
	}
	if call.RequestID != "" {
		req.Header.Set("X-Vcap-Request-Id", call.RequestID)
	}
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	if err := c.do(call, req, resp, route, c.up.Do); err != nil {
		return "", err
	}
	status := resp.StatusCode()
	out := resp.Body()
	if status < 200 || status > 299 {
		e := &Error{Status: status}
		_ = Decode(out, e)
		return "", e
	}
	location := string(resp.Header.Peek(fasthttp.HeaderLocation))
	if v != nil && len(out) > 0 {
		if err := Decode(out, v); err != nil {
			return location, fmt.Errorf("ccv3: decoding %s %s: %w", method, path, err)
		}
	}
	return location, nil
}

// Detail joins the details of every error of the answer, as CC joins
// compound errors, or is "" when the answer had none.
func (e *Error) Detail() string {
	details := make([]string, 0, len(e.Errors))
	for _, x := range e.Errors {
		details = append(details, x.Detail)
	}
	return strings.Join(details, ", ")
}

// Build is a v3 build with the package it stages and the droplet it makes.
type Build struct {
	translate.V3Build
	Package *translate.V3GUIDRef `json:"package"`
	Droplet *translate.V3GUIDRef `json:"droplet"`
}

// DropletGUID returns the guid of the build's droplet, or "".
func (b Build) DropletGUID() string {
	if b.Droplet == nil {
		return ""
	}
	return b.Droplet.GUID
}

// PackageGUID returns the guid of the package the build stages, or "".
func (b Build) PackageGUID() string {
	if b.Package == nil {
		return ""
	}
	return b.Package.GUID
}

// CreateApp is POST /v3/apps.
func (c *Client) CreateApp(call Call, body []byte) (translate.V3App, error) {
	var a translate.V3App
	_, err := c.send(call, fasthttp.MethodPost, "/v3/apps", "/v3/apps", body, &a)
	return a, err
}

// UpdateApp is PATCH /v3/apps/:guid.
func (c *Client) UpdateApp(call Call, guid string, body []byte) (translate.V3App, error) {
	var a translate.V3App
	_, err := c.send(call, fasthttp.MethodPatch, appPath(guid, ""), "/v3/apps/:guid", body, &a)
	return a, err
}

// DeleteApp is DELETE /v3/apps/:guid; v3 answers 202 and it returns the
// guid of the job that deletes the app.
func (c *Client) DeleteApp(call Call, guid string) (string, error) {
	loc, err := c.send(call, fasthttp.MethodDelete, appPath(guid, ""), "/v3/apps/:guid", nil, nil)
	if err != nil {
		return "", err
	}
	loc = strings.TrimRight(loc, "/")
	return loc[strings.LastIndexByte(loc, '/')+1:], nil
}

// PatchEnvVars is PATCH /v3/apps/:guid/environment_variables.
func (c *Client) PatchEnvVars(call Call, guid string, body []byte) error {
	_, err := c.send(call, fasthttp.MethodPatch, appPath(guid, "/environment_variables"), "/v3/apps/:guid/*", body, nil)
	return err
}

// PatchSSH is PATCH /v3/apps/:guid/features/ssh.
func (c *Client) PatchSSH(call Call, guid string, body []byte) error {
	_, err := c.send(call, fasthttp.MethodPatch, appPath(guid, "/features/ssh"), "/v3/apps/:guid/*", body, nil)
	return err
}

// AppAction is POST /v3/apps/:guid/actions/<action>: start, stop or restart.
func (c *Client) AppAction(call Call, guid, action string) (translate.V3App, error) {
	var a translate.V3App
	_, err := c.send(call, fasthttp.MethodPost, appPath(guid, "/actions/"+url.PathEscape(action)), "/v3/apps/:guid/*", nil, &a)
	return a, err
}

// SetCurrentDroplet is PATCH /v3/apps/:guid/relationships/current_droplet.
func (c *Client) SetCurrentDroplet(call Call, appGUID string, body []byte) error {
	_, err := c.send(call, fasthttp.MethodPatch, appPath(appGUID, "/relationships/current_droplet"), "/v3/apps/:guid/*", body, nil)
	return err
}

// UpdateProcess is PATCH /v3/processes/:guid.
func (c *Client) UpdateProcess(call Call, guid string, body []byte) (translate.V3Process, error) {
	var p translate.V3Process
	_, err := c.send(call, fasthttp.MethodPatch, "/v3/processes/"+url.PathEscape(guid), "/v3/processes/:guid", body, &p)
	return p, err
}

// ScaleProcess is POST /v3/processes/:guid/actions/scale (v3 answers 202).
func (c *Client) ScaleProcess(call Call, guid string, body []byte) (translate.V3Process, error) {
	var p translate.V3Process
	_, err := c.send(call, fasthttp.MethodPost, "/v3/processes/"+url.PathEscape(guid)+"/actions/scale", "/v3/processes/:guid/*", body, &p)
	return p, err
}

// CreatePackage is POST /v3/packages.
func (c *Client) CreatePackage(call Call, body []byte) (translate.V3Package, error) {
	var p translate.V3Package
	_, err := c.send(call, fasthttp.MethodPost, "/v3/packages", "/v3/packages", body, &p)
	return p, err
}

// DeletePackage is DELETE /v3/packages/:guid; v3 deletes in a job, which
// is not waited for.
func (c *Client) DeletePackage(call Call, guid string) error {
	_, err := c.send(call, fasthttp.MethodDelete, "/v3/packages/"+url.PathEscape(guid), "/v3/packages/:guid", nil, nil)
	return err
}

// CreateBuild is POST /v3/builds.
func (c *Client) CreateBuild(call Call, body []byte) (Build, error) {
	var b Build
	_, err := c.send(call, fasthttp.MethodPost, "/v3/builds", "/v3/builds", body, &b)
	return b, err
}

// GetBuild is GET /v3/builds/:guid.
func (c *Client) GetBuild(call Call, guid string) (Build, error) {
	var b Build
	err := c.get(call, "/v3/builds/"+url.PathEscape(guid), "", "/v3/builds/:guid", &b)
	return b, err
}

// StagingBuilds lists an app's builds in state STAGING, newest first.
func (c *Client) StagingBuilds(call Call, appGUID string) ([]Build, error) {
	var p Page[Build]
	err := c.get(call, appPath(appGUID, "/builds"), "order_by=-created_at&states=STAGING", "/v3/apps/:guid/*", &p)
	return p.Resources, err
}
