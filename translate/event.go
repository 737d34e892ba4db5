package translate

import (
	"bytes"
	"encoding/json"
	"time"
)

// V3AuditEvent is a v3 audit event (GET /v3/audit_events/:guid).
type V3AuditEvent struct {
	GUID      string    `json:"guid"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Actor     struct {
		GUID string `json:"guid"`
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"actor"`
	Target struct {
		GUID string `json:"guid"`
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"target"`
	Data         json.RawMessage `json:"data"`
	Space        *V3GUIDRef      `json:"space"`
	Organization *V3GUIDRef      `json:"organization"`
}

// V2EventEntity is the entity of a v2 event, in the key order of
// cc:app/models/runtime/event.rb export_attributes. EventsController
// defines no relations, so there are no urls.
type V2EventEntity struct {
	Type          string `json:"type"`
	Actor         string `json:"actor"`
	ActorType     string `json:"actor_type"`
	ActorName     string `json:"actor_name"`
	ActorUsername string `json:"actor_username"`
	Actee         string `json:"actee"`
	ActeeType     string `json:"actee_type"`
	ActeeName     string `json:"actee_name"`
	Timestamp     string `json:"timestamp"`
	// Metadata is the v3 event's data: {} when there is none.
	Metadata         json.RawMessage `json:"metadata"`
	SpaceGUID        string          `json:"space_guid"`
	OrganizationGUID string          `json:"organization_guid"`
}

// V2EventResource is a v2 event as CC renders it.
type V2EventResource struct {
	Metadata V2Metadata    `json:"metadata"`
	Entity   V2EventEntity `json:"entity"`
}

// AppendEventResource writes the v2 event of e. v3 shows the actor's
// username as its name (AuditEventPresenter), so actor_name and
// actor_username are the same; an event outside a space or org has ""
// there, as the v2 columns default.
func AppendEventResource(buf *bytes.Buffer, e V3AuditEvent) error {
	ent := V2EventEntity{
		Type: e.Type, Actor: e.Actor.GUID, ActorType: e.Actor.Type, ActorName: e.Actor.Name, ActorUsername: e.Actor.Name,
		Actee: e.Target.GUID, ActeeType: e.Target.Type, ActeeName: e.Target.Name, Timestamp: formatTime(e.CreatedAt),
		Metadata: e.Data,
	}
	if len(ent.Metadata) == 0 || string(ent.Metadata) == "null" {
		ent.Metadata = json.RawMessage("{}")
	}
	if e.Space != nil {
		ent.SpaceGUID = e.Space.GUID
	}
	if e.Organization != nil {
		ent.OrganizationGUID = e.Organization.GUID
	}
	r := V2EventResource{Metadata: v2Metadata("events", e.GUID, e.CreatedAt, e.UpdatedAt), Entity: ent}
	return encodeJSON(buf, &r)
}

// EventQueryKeys returns the q keys of /v2/events (EventsController
// query_parameters).
func EventQueryKeys() []string {
	return []string{"timestamp", "type", "actee", "space_guid", "organization_guid"}
}

// EventQuery is a v2 event filter as v3 audit event filters: what v3 can
// express is pushed down, the rest is applied by the gateway.
type EventQuery struct {
	Types, TargetGUIDs, SpaceGUIDs, OrgGUIDs []string
	// CreatedAts are v3 created_ats conditions: "lt", "gt", "lte", "gte"
	// to a timestamp, or "" for equality.
	CreatedAts [][2]string
	// Local holds filters v3 cannot express (type >= x, ...).
	Local []Filter
	// Empty is set when no event can match.
	Empty bool
}

// EventQueryFromFilters maps parsed q filters to v3 audit event filters.
// EventQuery turns off CC's foreign-key handling, so space_guid and
// organization_guid compare their column with the operator given; only
// equality and IN go to v3, the rest is local.
func EventQueryFromFilters(fs []Filter) EventQuery {
	var q EventQuery
	and := func(set *[]string, vals []string) {
		if *set == nil {
			*set = append([]string{}, vals...)
			return
		}
		*set = intersectValues(*set, vals, false)
	}
	for _, f := range fs {
		eqOrIn := f.Op == OpEq || f.Op == OpIn
		switch {
		case f.Key == "timestamp" && f.Op != OpIn:
			op := map[Op]string{OpEq: "", OpLt: "lt", OpGt: "gt", OpLe: "lte", OpGe: "gte"}[f.Op]
			q.CreatedAts = append(q.CreatedAts, [2]string{op, f.Values[0]})
		case f.Key == "type" && eqOrIn:
			and(&q.Types, f.Values)
		case f.Key == "actee" && eqOrIn:
			and(&q.TargetGUIDs, f.Values)
		case f.Key == "space_guid" && eqOrIn:
			and(&q.SpaceGUIDs, f.Values)
		case f.Key == "organization_guid" && eqOrIn:
			and(&q.OrgGUIDs, f.Values)
		default:
			q.Local = append(q.Local, f)
		}
	}
	for _, set := range [][]string{q.Types, q.TargetGUIDs, q.SpaceGUIDs, q.OrgGUIDs} {
		if set != nil && len(set) == 0 {
			q.Empty = true
		}
	}
	return q
}

// EventField returns the value a local event filter compares.
func EventField(e V3AuditEvent, key string) string {
	switch key {
	case "type":
		return e.Type
	case "actee":
		return e.Target.GUID
	case "timestamp":
		return formatTime(e.CreatedAt)
	case "space_guid":
		if e.Space != nil {
			return e.Space.GUID
		}
	case "organization_guid":
		if e.Organization != nil {
			return e.Organization.GUID
		}
	}
	return ""
}

// V2AppEventEntity is the entity of a v2 app event (the crash records of
// /v2/apps/:guid/events), cc:app/models/runtime/app_event.rb export order.
type V2AppEventEntity struct {
	AppGUID         string          `json:"app_guid"`
	InstanceGUID    string          `json:"instance_guid"`
	InstanceIndex   json.RawMessage `json:"instance_index"`
	ExitStatus      json.RawMessage `json:"exit_status"`
	ExitDescription string          `json:"exit_description"`
	Timestamp       string          `json:"timestamp"`
	AppURL          string          `json:"app_url"`
}

// V2AppEventResource is a v2 app event as CC renders it.
type V2AppEventResource struct {
	Metadata V2Metadata       `json:"metadata"`
	Entity   V2AppEventEntity `json:"entity"`
}

// crashData is the data of an audit.app.process.crash event
// (cc:app/repositories/app_event_repository.rb#create_app_crash_event).
type crashData struct {
	Instance        string          `json:"instance"`
	Index           json.RawMessage `json:"index"`
	ExitStatus      json.RawMessage `json:"exit_status"`
	ExitDescription string          `json:"exit_description"`
}

// AppendAppEventResource writes the v2 app event of a v3 crash event of
// appGUID. v2's app_events were the DEA's crash reports; Diego records
// crashes as audit.app.process.crash events, which carry the same facts.
func AppendAppEventResource(buf *bytes.Buffer, appGUID string, e V3AuditEvent) error {
	var d crashData
	_ = json.Unmarshal(e.Data, &d) // a malformed event shows what it has
	ent := V2AppEventEntity{AppGUID: appGUID, InstanceGUID: d.Instance, InstanceIndex: orNull(d.Index), ExitStatus: orNull(d.ExitStatus),
		ExitDescription: d.ExitDescription, Timestamp: formatTime(e.CreatedAt), AppURL: "/v2/apps/" + appGUID}
	r := V2AppEventResource{Metadata: v2Metadata("app_events", e.GUID, e.CreatedAt, e.UpdatedAt), Entity: ent}
	return encodeJSON(buf, &r)
}
