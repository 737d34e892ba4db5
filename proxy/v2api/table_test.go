package v2api

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestPathParam(t *testing.T) {
	cases := []struct {
		path string
		i    int
		want string
	}{
		{"/v2/apps/abc/summary", 1, "abc"},
		{"/v2/apps/abc/summary/", 2, "summary"},
		{"/v2/apps/abc/routes/r1", 3, "r1"},
		{"/v2/apps", 1, ""},
		{"/v2", 1, ""},
		{"/v2/apps/abc", 0, "apps"},
	}
	for _, tc := range cases {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(tc.path)
		if got := pathParam(&ctx, tc.i); got != tc.want {
			t.Errorf("pathParam(%s, %d) = %q, want %q", tc.path, tc.i, got, tc.want)
		}
	}
}
