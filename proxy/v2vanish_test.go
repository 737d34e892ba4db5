package proxy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// An app deleted between the v3 list and its own GETs (404) is left out of
// the v2 list, which answers the rest, not 404 AppNotFound with no guid
// (seen while apps were deleted under concurrent listing).
func TestV2ListLeavesOutAnAppDeletedMidway(t *testing.T) {
	s := startStack(t, nil)
	guids := s.createApps(t, "developer", "stays", "goes", "stays-too")
	fwd := &fasthttp.HostClient{Addr: strings.TrimPrefix(s.cfURL, "http://")}
	hop := startFastUpstream(t, &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if strings.HasPrefix(string(ctx.Path()), "/v3/apps/"+guids[1]+"/") {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"errors":[{"detail":"App not found","title":"CF-ResourceNotFound","code":10010}]}`)
			return
		}
		if err := fwd.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}})
	gw := s.gatewayFor(t, hop, nil).gwURL
	r := s.do("GET", gw+"/v2/apps", "developer", nil)
	var page struct {
		Resources []struct {
			Entity struct{ Name string } `json:"entity"`
		} `json:"resources"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &page) != nil {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	var names []string
	for _, a := range page.Resources {
		names = append(names, a.Entity.Name)
	}
	if strings.Join(names, ",") != "stays,stays-too" {
		t.Errorf("listed %v", names)
	}
	// Alone, the vanished app is not found, by its guid.
	r = s.do("GET", gw+"/v2/apps/"+guids[1], "developer", nil)
	if r.status != 404 || !strings.Contains(string(r.body), "The app could not be found: "+guids[1]) {
		t.Errorf("single: %d %s", r.status, r.body)
	}
}
