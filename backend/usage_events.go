package backend

import (
	"errors"
	"strings"

	"capibridge/backend/store"
)

// App usage events (cc:app/controllers/v3/app_usage_events_controller.rb,
// app/messages/app_usage_events_list_message.rb,
// app/fetchers/app_usage_event_list_fetcher.rb,
// app/presenters/v3/app_usage_event_presenter.rb,
// app/repositories/app_usage_event_repository.rb). The store records
// them as the usage changes (migration 0013); only global readers see
// them, everyone else an empty list.

// usageEventKeys are AppUsageEventsListMessage's keys, in CC's order.
var usageEventKeys = append(append(append(append([]string{}, pageParams...), timeKeys("created_ats")...), timeKeys("updated_ats")...),
	"guids", "after_guid")

// usageEventResource is GET /v3/app_usage_events and /:guid.
var usageEventResource = &resource[store.AppUsageEvent, store.AppUsageEventFilter, usageEventJSON]{
	name:   "App usage event",
	path:   "/v3/app_usage_events",
	keys:   usageEventKeys,
	orders: []string{"created_at"},
	filter: func(q *params) store.AppUsageEventFilter {
		return store.AppUsageEventFilter{GUIDs: q.list("guids"), CreatedAts: q.times("created_ats")}
	},
	list:    (*store.Store).ListAppUsageEvents,
	get:     seenByAll((*store.Store).GetAppUsageEvent),
	present: each(func(r *request, e store.AppUsageEvent) usageEventJSON { return presentUsageEvent(r.base, e) }),
}

// usageEventJSON is AppUsageEventPresenter's body.
type usageEventJSON struct {
	GUID      string          `json:"guid"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
	State     currentPrevious `json:"state"`
	App       guidName        `json:"app"`
	Process   struct {
		GUID *string `json:"guid"`
		Type *string `json:"type"`
	} `json:"process"`
	Space        guidName `json:"space"`
	Organization struct {
		GUID string `json:"guid"`
	} `json:"organization"`
	Buildpack     nullableGUIDName `json:"buildpack"`
	Task          nullableGUIDName `json:"task"`
	MemoryInMB    currentPrevious  `json:"memory_in_mb_per_instance"`
	InstanceCount currentPrevious  `json:"instance_count"`
	Links         struct {
		Self link `json:"self"`
	} `json:"links"`
}

// currentPrevious is a {"current","previous"} pair of an event.
type currentPrevious struct {
	Current  any `json:"current"`
	Previous any `json:"previous"`
}

type guidName struct {
	GUID string `json:"guid"`
	Name string `json:"name"`
}

type nullableGUIDName struct {
	GUID *string `json:"guid"`
	Name *string `json:"name"`
}

// presentUsageEvent renders an event; updated_at is its created_at, and a
// task's or build's process guid, stored as "", is null.
func presentUsageEvent(base string, e store.AppUsageEvent) usageEventJSON {
	j := usageEventJSON{GUID: e.GUID, CreatedAt: timestamp(e.CreatedAt), UpdatedAt: timestamp(e.CreatedAt)}
	j.State = currentPrevious{e.State, e.PreviousState}
	j.App = guidName{e.AppGUID, e.AppName}
	if e.ProcessGUID != "" {
		j.Process.GUID = &e.ProcessGUID
	}
	j.Process.Type = e.ProcessType
	j.Space = guidName{e.SpaceGUID, e.SpaceName}
	j.Organization.GUID = e.OrgGUID
	j.Buildpack = nullableGUIDName{e.BuildpackGUID, e.BuildpackName}
	j.Task = nullableGUIDName{e.TaskGUID, e.TaskName}
	j.MemoryInMB = currentPrevious{e.MemoryMB, e.PreviousMemoryMB}
	j.InstanceCount = currentPrevious{e.InstanceCount, e.PreviousInstanceCount}
	j.Links.Self = link{Href: base + "/v3/app_usage_events/" + e.GUID}
	return j
}

// listUsageEvents is GET /v3/app_usage_events: every event for a global
// reader, after the event after_guid names when it is given; an empty
// list for anyone else.
func (s *Server) listUsageEvents(r *request) error {
	if err := r.query.allow(usageEventKeys...); err != nil {
		return unprocessableQuery(err)
	}
	var problems []string
	if r.query.has("updated_ats") || r.query.has("updated_ats[lt]") || r.query.has("updated_ats[lte]") ||
		r.query.has("updated_ats[gt]") || r.query.has("updated_ats[gte]") {
		problems = append(problems, "Filtering by 'updated_ats' is not allowed on this resource.")
	}
	after := r.query.list("after_guid")
	if after != nil && len(after) != 1 {
		problems = append(problems, "After guid filter accepts only one guid")
	}
	if len(problems) > 0 {
		return errUnprocessable(strings.Join(problems, ", "))
	}
	p, err := r.query.page(usageEventResource.orders...)
	if err != nil {
		return unprocessableQuery(err)
	}
	q := &params{q: r.query}
	f := usageEventResource.filter(q)
	if q.err != nil {
		return unprocessableQuery(q.err)
	}
	if !r.user.readsAll() {
		// AppUsageEvent.where(guid: []).
		f = store.AppUsageEventFilter{GUIDs: []string{}}
	} else if len(after) == 1 {
		id, err := s.store.UsageEventID(r.ctx, after[0])
		switch {
		case errors.Is(err, store.ErrNotFound):
			return errUnprocessable("After guid filter must be a valid app usage event guid.")
		case err != nil:
			return errInternal(err)
		}
		f.AfterID = &id
	}
	items, total, err := s.store.ListAppUsageEvents(r.ctx, r.viewer(), f, p)
	if err != nil {
		return errInternal(err)
	}
	out := pageJSON[usageEventJSON]{Pagination: pagination(r.base, usageEventResource.path, r.query, p, total)}
	if out.Resources, err = usageEventResource.present(s, r, items); err != nil {
		return err
	}
	return r.reply(200, out)
}

// getUsageEvent is GET /v3/app_usage_events/:guid: not found for anyone
// but a global reader.
func (s *Server) getUsageEvent(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	if !r.user.readsAll() {
		return errNotFound(usageEventResource.name)
	}
	e, err := usageEventResource.find(s, r, r.params[0])
	if err != nil {
		return err
	}
	return r.reply(200, presentUsageEvent(r.base, e))
}

// purgeUsageEvents is POST /v3/app_usage_events/actions/destructively_purge_all_and_reseed:
// admins only, checked first; every event goes, and each process of a
// started app gets a STARTED event. 200 with {}.
func (s *Server) purgeUsageEvents(r *request) error {
	if !r.user.admin() {
		return errNotAuthorized()
	}
	if err := s.store.PurgeAndReseedAppUsageEvents(r.ctx, s.store.Now()); err != nil {
		return errInternal(err)
	}
	return r.reply(200, emptyObject{})
}

// restartUsage records the usage events of a restart of a started app
// (AppRestart stops its processes, then starts them); a start or stop
// records its own as the app's state changes.
func (s *Server) restartUsage(r *request, before store.App, eventType string) error {
	if eventType != "audit.app.restart" || before.State != "STARTED" {
		return nil
	}
	if err := s.store.RecordRestartUsage(r.ctx, before.GUID, s.store.Now()); err != nil {
		return errInternal(err)
	}
	return nil
}
