package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"
)

// uaaForward passes a UAA endpoint (router.matchUAA) to the UAA of
// configs.UAAPassthrough, so that a client that reaches only the gateway
// can log in (cf login: GET /login for the prompts, POST /oauth/token).
// Addresses of the UAA in its answer (a redirect, the links of /login and
// of the OpenID discovery document) are turned into the gateway's, which
// serves them; the issuer stays as the UAA says, since it is the iss of
// every token the UAA signs.
func (g *Gateway) uaaForward(ctx *fasthttp.RequestCtx, rt *Route) error {
	if err := g.forwardTo(ctx, rt, g.uaa); err != nil {
		return err
	}
	base := g.publicBase(ctx)
	if loc := ctx.Response.Header.Peek(fasthttp.HeaderLocation); len(loc) > 0 {
		if to, ok := relink(string(loc), g.uaa.URL(), base); ok {
			ctx.Response.Header.Set(fasthttp.HeaderLocation, to)
		}
	}
	switch rt.Template {
	case "/login", "/info", "/.well-known/openid-configuration":
	default:
		return nil
	}
	if ctx.Response.StatusCode() != fasthttp.StatusOK || !bytes.HasPrefix(ctx.Response.Header.ContentType(), []byte("application/json")) {
		return nil
	}
	if out, ok := relinkJSON(ctx.Response.Body(), g.uaa.URL(), base, "issuer"); ok {
		ctx.Response.SetBody(out)
	}
	return nil
}

// relink turns href into the same path at to when it is at the origin
// from (scheme://host, no trailing slash); ok is false for any other href.
func relink(href, from, to string) (string, bool) {
	rest, ok := strings.CutPrefix(href, from)
	if !ok || rest != "" && rest[0] != '/' && rest[0] != '?' && rest[0] != '#' {
		return href, false
	}
	return to + rest, true
}

// relinkJSON rewrites every string value of a JSON document that is an
// address at the origin from into the same address at to, keeping the
// keys' order and every other value as it was; values of the keys in skip
// stay. ok is false when body is not JSON or nothing changed.
func relinkJSON(body []byte, from, to string, skip ...string) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	// Each open container: whether it is an object, how many tokens it has
	// had (in an object, even ones are keys), and the key of the value
	// being read.
	type frame struct {
		object bool
		n      int
		key    string
	}
	var stack []frame
	changed := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			out.WriteByte(byte(d))
			stack = stack[:len(stack)-1]
			continue
		}
		isKey := top != nil && top.object && top.n%2 == 0
		if top != nil {
			if top.n > 0 {
				if top.object && !isKey {
					out.WriteByte(':')
				} else {
					out.WriteByte(',')
				}
			}
			top.n++
		}
		switch v := tok.(type) {
		case json.Delim:
			out.WriteByte(byte(v))
			stack = append(stack, frame{object: v == '{'})
			continue
		case string:
			if isKey {
				top.key = v
			} else if top == nil || !top.object || !slices.Contains(skip, top.key) {
				if to, ok := relink(v, from, to); ok {
					v, changed = to, true
				}
			}
			tok = v
		}
		if err := enc.Encode(tok); err != nil {
			return nil, false
		}
		out.Truncate(out.Len() - 1) // Encode's newline
	}
	if !changed {
		return nil, false
	}
	return out.Bytes(), true
}
