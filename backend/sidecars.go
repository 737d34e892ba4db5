package backend

import (
	"context"
	"encoding/json"

	"capibridge/backend/store"
)

// emptyResource is a resource the embedded CF never holds any of: its
// lists check their query (keys), then their parent, and are empty, paged
// as CC pages them; a get is 404 name.
func emptyResource(name, path string, keys []string) *resource[json.RawMessage, struct{}, json.RawMessage] {
	return &resource[json.RawMessage, struct{}, json.RawMessage]{
		name:   name,
		path:   path,
		keys:   keys,
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
}

var (
	// sidecarResource answers GET /v3/apps/:guid/sidecars,
	// /v3/processes/:guid/sidecars and /v3/sidecars/:guid
	// (SidecarsController). The embedded CF runs no sidecars; the cf CLI 7
	// and 8 read the lists for cf app and cf scale.
	sidecarResource = emptyResource("Sidecar", "/v3/sidecars", pageParams)
	// revisionResource answers GET /v3/apps/:guid/revisions,
	// .../revisions/deployed and /v3/revisions/:guid
	// (AppRevisionsController, RevisionsController, AppRevisionsListMessage).
	// The embedded CF records no revisions; every app resource links both
	// lists.
	revisionResource = emptyResource("Revision", "/v3/revisions", listKeys("versions", "deployable"))
	// taskResource answers GET /v3/tasks, /v3/apps/:guid/tasks and
	// /v3/tasks/:guid (TasksController, TasksListMessage). The embedded CF
	// runs no tasks; every app resource links its list.
	taskResource = emptyResource("Task", "/v3/tasks", listKeys("guids", "names", "states", "app_guids", "space_guids", "organization_guids"))
)

// processParent is the parent of the lists under /v3/processes/:guid.
var processParent = &parent{path: "/v3/processes", find: func(s *Server, r *request, guid string) (string, error) {
	pa, err := s.findProcessByGUID(r, guid)
	return pa.proc.GUID, err
}}

// emptyUnder is an empty resource's list under a parent (the app's when
// parent is nil), which checks keys: nothing to narrow.
func emptyUnder(parent *parent, keys []string) nest[struct{}] {
	return nest[struct{}]{parent: parent, keys: keys, narrow: func(*struct{}, string) {}}
}

var (
	appSidecars          = emptyUnder(nil, pageParams)
	processSidecars      = emptyUnder(processParent, pageParams)
	appRevisions         = emptyUnder(nil, listKeys("versions", "deployable"))
	appDeployedRevisions = emptyUnder(nil, pageParams)
	// Under an app, TasksListMessage also takes sequence_ids, and refuses
	// the guids of apps, spaces and orgs.
	appTasks = emptyUnder(nil, listKeys("guids", "names", "states", "sequence_ids"))
)
