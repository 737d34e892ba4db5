package loadbench

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// nativeV2 stands in for a Cloud Controller that still serves v2, for the
// shadow-mode runs: v2 paths are answered by a gateway in front of the
// embedded CF (its cached pages: a cheap native v2), everything else by
// the embedded CF itself.
func nativeV2(t *testing.T, gw, cf string) string {
	t.Helper()
	client := &fasthttp.Client{ReadTimeout: 30 * time.Second, MaxConnsPerHost: 1024, MaxResponseBodySize: 1 << 30}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		to := cf
		if strings.HasPrefix(string(ctx.Path()), "/v2/") {
			to = gw
		}
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		ctx.Request.CopyTo(req)
		req.SetRequestURI(to + string(ctx.RequestURI()))
		if err := client.Do(req, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}
