package proxy

import (
	"bytes"
	"capibridge/proxy/cferr"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// V2APIVersion is the v2 API version capibridge reports when the upstream
// no longer announces one: the Cloud Controller release its v2 shapes follow.
const V2APIVersion = "2.293.0"

// orderedObject is a JSON object whose keys keep their order and whose
// values stay raw, so the gateway can change one link and leave the rest
// of a Cloud Controller document exactly as it was.
type orderedObject struct {
	keys []string
	vals map[string]json.RawMessage
}

func (o *orderedObject) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("proxy: not a JSON object")
	}
	o.vals = map[string]json.RawMessage{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		k := kt.(string)
		if _, dup := o.vals[k]; !dup {
			o.keys = append(o.keys, k)
		}
		o.vals[k] = v
	}
	return nil
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(o.vals[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// link is a v3 link object; meta and method stay as they were.
type link struct {
	Href   string          `json:"href"`
	Meta   json.RawMessage `json:"meta,omitempty"`
	Method string          `json:"method,omitempty"`
}

// root passes GET / and GET /v3 through and rewrites their links so that
// clients that discover the API from them stay behind the gateway: in /,
// self and the two cloud_controller links (cloud_controller_v2 is added
// when a Cloud Controller without v2 leaves it out: cc
// app/controllers/runtime/root_controller.rb), and login and uaa when the
// gateway passes the UAA through; in /v3, every link under the upstream's
// v3 URL. The other links keep pointing where the Cloud Controller says.
func (g *Gateway) root(ctx *fasthttp.RequestCtx, rt *Route) error {
	if err := g.forward(ctx, rt); err != nil {
		return err
	}
	if ctx.Response.StatusCode() != fasthttp.StatusOK {
		return nil
	}
	body := ctx.Response.Body() // reads a streamed body: these documents are small
	var doc orderedObject
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil // not the document we know: pass it on untouched
	}
	var links orderedObject
	if err := json.Unmarshal(doc.vals["links"], &links); err != nil {
		return nil
	}
	base := g.publicBase(ctx)
	rewrite := func(name string, to func(string) string) {
		var l link
		if raw, ok := links.vals[name]; !ok || json.Unmarshal(raw, &l) != nil || l.Href == "" {
			return
		}
		l.Href = to(l.Href)
		links.vals[name], _ = json.Marshal(l)
	}
	if rt.Template == "/" {
		if _, ok := links.vals["cloud_controller_v2"]; !ok {
			links.vals["cloud_controller_v2"], _ = json.Marshal(map[string]any{"href": "", "meta": map[string]string{"version": V2APIVersion}})
			links.keys = slices.Insert(links.keys, min(1, len(links.keys)), "cloud_controller_v2")
		}
		rewrite("self", func(string) string { return base })
		rewrite("cloud_controller_v2", func(string) string { return base + "/v2" })
		rewrite("cloud_controller_v3", func(string) string { return base + "/v3" })
		if g.uaa != nil {
			rewrite("login", func(string) string { return base })
			rewrite("uaa", func(string) string { return base })
		}
		if g.logCache != nil {
			rewrite("log_cache", func(string) string { return base })
		}
		if g.routing != nil {
			rewrite("routing", func(string) string { return base + "/routing" })
		}
	} else {
		var self link
		_ = json.Unmarshal(links.vals["self"], &self)
		upstreamV3 := strings.TrimSuffix(self.Href, "/")
		for _, name := range links.keys {
			rewrite(name, func(h string) string {
				if upstreamV3 != "" && strings.HasPrefix(h, upstreamV3) {
					return base + "/v3" + strings.TrimPrefix(h, upstreamV3)
				}
				return h
			})
		}
	}
	doc.vals["links"], _ = json.Marshal(links)
	out, _ := json.Marshal(doc)
	ctx.Response.SetBody(out)
	return nil
}

// v2InfoJSON is GET /v2/info in CC's key order (MAPPING §6,
// cc:app/controllers/runtime/info_controller.rb).
type v2InfoJSON struct {
	Name                     string          `json:"name"`
	Build                    string          `json:"build"`
	Support                  string          `json:"support"`
	Version                  json.RawMessage `json:"version"`
	Description              string          `json:"description"`
	AuthorizationEndpoint    string          `json:"authorization_endpoint"`
	TokenEndpoint            string          `json:"token_endpoint"`
	MinCLIVersion            *string         `json:"min_cli_version"`
	MinRecommendedCLIVersion *string         `json:"min_recommended_cli_version"`
	AppSSHEndpoint           *string         `json:"app_ssh_endpoint"`
	AppSSHHostKeyFingerprint *string         `json:"app_ssh_host_key_fingerprint"`
	AppSSHOAuthClient        *string         `json:"app_ssh_oauth_client"`
	DopplerLoggingEndpoint   *string         `json:"doppler_logging_endpoint"`
	APIVersion               string          `json:"api_version"`
	OSBAPIVersion            *string         `json:"osbapi_version"`
	RoutingEndpoint          string          `json:"routing_endpoint,omitempty"`
	Custom                   json.RawMessage `json:"custom,omitempty"`
	User                     string          `json:"user,omitempty"`
}

// upstreamRoot is what /v2/info needs of the upstream's GET /.
type upstreamRoot struct {
	Links struct {
		Login             *link `json:"login"`
		UAA               *link `json:"uaa"`
		Routing           *link `json:"routing"`
		Logging           *link `json:"logging"`
		CloudControllerV2 *struct {
			Meta struct {
				Version string `json:"version"`
			} `json:"meta"`
		} `json:"cloud_controller_v2"`
		AppSSH *struct {
			Href string `json:"href"`
			Meta struct {
				HostKeyFingerprint string `json:"host_key_fingerprint"`
				OAuthClient        string `json:"oauth_client"`
			} `json:"meta"`
		} `json:"app_ssh"`
	} `json:"links"`
}

// upstreamInfo is what /v2/info needs of the upstream's GET /v3/info.
type upstreamInfo struct {
	Build      string `json:"build"`
	CLIVersion struct {
		Minimum     *string `json:"minimum"`
		Recommended *string `json:"recommended"`
	} `json:"cli_version"`
	Custom        json.RawMessage `json:"custom"`
	Description   string          `json:"description"`
	Name          string          `json:"name"`
	Version       json.RawMessage `json:"version"`
	OSBAPIVersion *string         `json:"osbapi_version"`
	Links         struct {
		Support *link `json:"support"`
	} `json:"links"`
}

// infoTTL is how long the upstream's discovery documents are reused: they
// change with a Cloud Controller deployment, not per request.
const infoTTL = 30 * time.Second

// infoCache keeps the anonymous part of /v2/info.
type infoCache struct {
	mu      sync.Mutex
	body    v2InfoJSON
	fetched time.Time
}

// v2Info answers GET /v2/info from the upstream's / and /v3/info, adding
// "user" when the request carries a valid token.
func (g *Gateway) v2Info(ctx *fasthttp.RequestCtx) error {
	info, err := g.discoveryInfo()
	if err != nil {
		return err
	}
	// authenticate has already checked the token of this optional-auth route.
	if id := identityOf(ctx); id != nil {
		info.User = id.ID()
	}
	// The UAA is named where this client can reach it: at the gateway when
	// it passes the UAA through; else as the Cloud Controller says, unless
	// that is the upstream's own address (an embedded or internal Cloud
	// Controller), which the gateway stands for.
	base := g.publicBase(ctx)
	if g.uaa != nil {
		info.AuthorizationEndpoint, info.TokenEndpoint = base, base
	} else {
		info.AuthorizationEndpoint, _ = relink(info.AuthorizationEndpoint, g.upstream.URL(), base)
		info.TokenEndpoint, _ = relink(info.TokenEndpoint, g.upstream.URL(), base)
	}
	switch {
	case g.routing != nil && info.RoutingEndpoint != "":
		info.RoutingEndpoint = base + "/routing"
	case info.RoutingEndpoint != "":
		info.RoutingEndpoint, _ = relink(info.RoutingEndpoint, g.upstream.URL(), base)
	}
	b, err := json.Marshal(info)
	if err != nil {
		return cferr.Unknown(err)
	}
	ctx.Response.Header.SetContentType(contentTypeV2)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBody(b)
	return nil
}

func (g *Gateway) discoveryInfo() (v2InfoJSON, error) {
	g.info.mu.Lock()
	defer g.info.mu.Unlock()
	if !g.info.fetched.IsZero() && time.Since(g.info.fetched) < infoTTL {
		return g.info.body, nil
	}
	var root upstreamRoot
	if err := g.fetchJSON("/", &root); err != nil {
		return v2InfoJSON{}, err
	}
	var v3 upstreamInfo
	if err := g.fetchJSON("/v3/info", &v3); err != nil {
		return v2InfoJSON{}, err
	}
	href := func(l *link) string {
		if l == nil {
			return ""
		}
		return l.Href
	}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	out := v2InfoJSON{
		Name: v3.Name, Build: v3.Build, Support: href(v3.Links.Support), Version: v3.Version, Description: v3.Description,
		AuthorizationEndpoint: href(root.Links.Login), TokenEndpoint: href(root.Links.UAA),
		MinCLIVersion: v3.CLIVersion.Minimum, MinRecommendedCLIVersion: v3.CLIVersion.Recommended,
		DopplerLoggingEndpoint: opt(href(root.Links.Logging)), APIVersion: V2APIVersion, OSBAPIVersion: v3.OSBAPIVersion,
		RoutingEndpoint: href(root.Links.Routing),
	}
	if out.Version == nil {
		out.Version = json.RawMessage("0")
	}
	if root.Links.CloudControllerV2 != nil && root.Links.CloudControllerV2.Meta.Version != "" {
		out.APIVersion = root.Links.CloudControllerV2.Meta.Version
	}
	if ssh := root.Links.AppSSH; ssh != nil {
		out.AppSSHEndpoint, out.AppSSHHostKeyFingerprint, out.AppSSHOAuthClient = opt(ssh.Href), opt(ssh.Meta.HostKeyFingerprint), opt(ssh.Meta.OAuthClient)
	}
	if len(v3.Custom) > 0 && string(v3.Custom) != "{}" && string(v3.Custom) != "null" {
		out.Custom = v3.Custom
	}
	g.info.body, g.info.fetched = out, time.Now()
	return out, nil
}

// fetchJSON GETs an anonymous upstream document.
func (g *Gateway) fetchJSON(path string, v any) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(g.upstream.URL() + path)
	req.Header.SetMethod(fasthttp.MethodGet)
	if err := g.upstream.Do(req, resp, path); err != nil {
		return err
	}
	body := resp.Body()
	if resp.StatusCode() != fasthttp.StatusOK {
		return &Error{Status: fasthttp.StatusBadGateway, Code: 10015, Name: "ServiceUnavailable",
			Description: "The Cloud Controller could not describe itself", Cause: fmt.Errorf("GET %s: %d", path, resp.StatusCode())}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &Error{Status: fasthttp.StatusBadGateway, Code: 10015, Name: "ServiceUnavailable",
			Description: "The Cloud Controller could not describe itself", Cause: err}
	}
	return nil
}
