package backend

import (
	"context"
	"encoding/json"

	"capibridge/backend/store"
)

// sidecarResource answers GET /v3/apps/:guid/sidecars,
// /v3/processes/:guid/sidecars and /v3/sidecars/:guid (SidecarsController).
// The embedded CF runs no sidecars, so the lists are empty and every get
// is 404; the cf CLI 7 and 8 read them for cf app and cf scale. The lists
// check their query first, then their parent (index_by_app,
// index_by_process).
var sidecarResource = &resource[json.RawMessage, struct{}, json.RawMessage]{
	name:   "Sidecar",
	path:   "/v3/sidecars",
	keys:   pageParams,
	orders: timeOrders,
	filter: func(*params) struct{} { return struct{}{} },
	list: func(*store.Store, context.Context, store.Viewer, struct{}, store.Page) ([]json.RawMessage, int, error) {
		return nil, 0, nil
	},
	get: func(*store.Store, context.Context, store.Viewer, string) (json.RawMessage, error) {
		return nil, store.ErrNotFound
	},
	present: each(func(_ *request, d json.RawMessage) json.RawMessage { return d }),
}

// processParent is the parent of the lists under /v3/processes/:guid.
var processParent = &parent{path: "/v3/processes", find: func(s *Server, r *request, guid string) (string, error) {
	pa, err := s.findProcessByGUID(r, guid)
	return pa.proc.GUID, err
}}

var (
	appSidecars     = nest[struct{}]{keys: pageParams, narrow: func(*struct{}, string) {}}
	processSidecars = nest[struct{}]{parent: processParent, keys: pageParams, narrow: func(*struct{}, string) {}}
)
