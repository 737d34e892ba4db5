package ccv3

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"

	"github.com/valyala/fasthttp"

	"capibridge/translate"
)

// Transferer is a Doer that also moves bits, under the longer transfer
// timeout; the gateway's Upstream is one.
type Transferer interface {
	Transfer(req *fasthttp.Request, resp *fasthttp.Response, route string) error
}

// upload streams a multipart body to path and decodes a 2xx answer into
// v. It returns the answer's Location (a job, for droplet uploads).
func (c *Client) upload(call Call, path, route, contentType string, body io.Reader, v any) (string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + path)
	req.Header.SetMethod(fasthttp.MethodPost)
	if call.Authorization != "" {
		req.Header.Set(fasthttp.HeaderAuthorization, call.Authorization)
	}
	if call.RequestID != "" {
		req.Header.Set("X-Vcap-Request-Id", call.RequestID)
	}
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	req.Header.SetContentType(contentType)
	req.SetBodyStream(body, -1)
	do := c.up.Do
	if t, ok := c.up.(Transferer); ok {
		do = t.Transfer
	}
	if err := c.do(call, req, resp, route, do); err != nil {
		return "", err
	}
	if s := resp.StatusCode(); s < 200 || s > 299 {
		e := &Error{Status: s}
		_ = Decode(resp.Body(), e)
		return "", e
	}
	if v != nil {
		if err := Decode(resp.Body(), v); err != nil {
			return "", fmt.Errorf("ccv3: decoding POST %s: %w", path, err)
		}
	}
	return string(resp.Header.Peek(fasthttp.HeaderLocation)), nil
}

// UploadPackage is POST /v3/packages/:guid/upload with a multipart body
// (bits and resources) streamed from body.
func (c *Client) UploadPackage(call Call, guid, contentType string, body io.Reader) (translate.V3Package, error) {
	var p translate.V3Package
	_, err := c.upload(call, "/v3/packages/"+url.PathEscape(guid)+"/upload", "/v3/packages/:guid/*", contentType, body, &p)
	return p, err
}

// UploadDroplet is POST /v3/droplets/:guid/upload; it returns the job's
// guid, from the Location v3 answers.
func (c *Client) UploadDroplet(call Call, guid, contentType string, body io.Reader) (string, error) {
	loc, err := c.upload(call, "/v3/droplets/"+url.PathEscape(guid)+"/upload", "/v3/droplets/:guid/*", contentType, body, nil)
	return lastPathSegment(loc), err
}

func lastPathSegment(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[i+1:]
		}
	}
	return s
}

// GetPackage is GET /v3/packages/:guid.
func (c *Client) GetPackage(call Call, guid string) (translate.V3Package, error) {
	var p translate.V3Package
	err := c.get(call, "/v3/packages/"+url.PathEscape(guid), "", "/v3/packages/:guid", &p)
	return p, err
}

// CopyPackage is POST /v3/packages?source_guid=… for the app: v3 copies
// the bits in the background (COPYING, then READY).
func (c *Client) CopyPackage(call Call, sourceGUID, appGUID string) (translate.V3Package, error) {
	var p translate.V3Package
	body := fmt.Sprintf(`{"relationships":{"app":{"data":{"guid":%q}}}}`, appGUID)
	_, err := c.send(call, fasthttp.MethodPost, "/v3/packages?source_guid="+url.QueryEscape(sourceGUID), "/v3/packages", []byte(body), &p)
	return p, err
}

// CreateDroplet is POST /v3/droplets for the app, awaiting an upload.
func (c *Client) CreateDroplet(call Call, appGUID string) (translate.V3Droplet, error) {
	var d translate.V3Droplet
	body := fmt.Sprintf(`{"relationships":{"app":{"data":{"guid":%q}}}}`, appGUID)
	_, err := c.send(call, fasthttp.MethodPost, "/v3/droplets", "/v3/droplets", []byte(body), &d)
	return d, err
}

// Redirect GETs path and returns the Location of its 302 answer, the
// blobstore URL of a package or droplet download.
func (c *Client) Redirect(call Call, path, route string) (string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + path)
	if call.Authorization != "" {
		req.Header.Set(fasthttp.HeaderAuthorization, call.Authorization)
	}
	if err := c.do(call, req, resp, route, c.up.Do); err != nil {
		return "", err
	}
	if s := resp.StatusCode(); s != fasthttp.StatusFound {
		e := &Error{Status: s}
		_ = Decode(resp.Body(), e)
		return "", e
	}
	return string(resp.Header.Peek(fasthttp.HeaderLocation)), nil
}

// MatchedResource is an entry of POST /v3/resource_matches.
type MatchedResource struct {
	Checksum struct {
		Value string `json:"value"`
	} `json:"checksum"`
	SizeInBytes int64  `json:"size_in_bytes"`
	Path        string `json:"path,omitempty"`
	Mode        string `json:"mode,omitempty"`
}

// ResourceMatches is POST /v3/resource_matches: the resources v3 already
// has, of those given.
func (c *Client) ResourceMatches(call Call, resources []MatchedResource) ([]MatchedResource, error) {
	body, err := json.Marshal(struct {
		Resources []MatchedResource `json:"resources"`
	}{resources})
	if err != nil {
		return nil, err
	}
	var out struct {
		Resources []MatchedResource `json:"resources"`
	}
	_, err = c.send(call, fasthttp.MethodPost, "/v3/resource_matches", "/v3/resource_matches", body, &out)
	return out.Resources, err
}
