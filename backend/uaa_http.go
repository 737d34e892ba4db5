package backend

import "github.com/valyala/fasthttp"

// serveUAA answers the embedded UAA's endpoints and reports whether the
// request was one of them.
func (s *Server) serveUAA(ctx *fasthttp.RequestCtx) bool {
	return false
}
