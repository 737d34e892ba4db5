package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"capibridge/backend/store"
)

// What organization and space quotas share: their messages
// (cc:app/messages/organization_quotas_update_message.rb,
// space_quota_update_message.rb, quotas_apps_message.rb,
// quotas_services_message.rb, quotas_routes_message.rb), the limits
// part of their presenters, and their audit events.

// Bounds of the quota limits: MAX_DB_INT, and MAX_DB_BIGINT for the log
// rate (cc:app/messages/base_message.rb).
const (
	maxDBInt    = 1<<31 - 1
	maxDBBigint = 1<<63 - 1
)

// quotaLimit is one limit of a quota message: its key in its group, and
// where it goes in a quota; nil is unlimited.
type quotaLimit struct {
	key string
	max int64
	set func(l *store.QuotaLimits, v *int64)
}

// quotaGroup is one object of a quota message, "apps", "services",
// "routes" or "domains", with its limits in the order CC validates them.
type quotaGroup struct {
	key    string
	limits []quotaLimit
	// paid is services' paid_services_allowed.
	paid bool
}

// orgQuotaGroups are the groups of OrganizationQuotasUpdateMessage, which
// CC also reads a space quota's PATCH with (its domains are then ignored).
var orgQuotaGroups = []quotaGroup{
	{key: "apps", limits: []quotaLimit{
		{"total_memory_in_mb", maxDBInt, func(l *store.QuotaLimits, v *int64) { l.TotalMemoryMB = v }},
		{"per_process_memory_in_mb", maxDBInt, func(l *store.QuotaLimits, v *int64) { l.PerProcessMemoryMB = v }},
		{"total_instances", maxDBInt, func(l *store.QuotaLimits, v *int64) { l.TotalInstances = v }},
		{"per_app_tasks", maxDBInt, func(l *store.QuotaLimits, v *int64) { l.PerAppTasks = v }},
		{"log_rate_limit_in_bytes_per_second", maxDBBigint, func(l *store.QuotaLimits, v *int64) { l.LogRateLimit = v }},
	}},
	{key: "services", paid: true, limits: []quotaLimit{
		{"total_service_keys", maxDBInt, func(l *store.QuotaLimits, v *int64) { l.TotalServiceKeys = v }},
		{"total_service_instances", maxDBInt, func(l *store.QuotaLimits, v *int64) { l.TotalServiceInstances = v }},
	}},
	{key: "routes", limits: []quotaLimit{
		{"total_routes", maxDBInt, func(l *store.QuotaLimits, v *int64) { l.TotalRoutes = v }},
		{"total_reserved_ports", maxDBInt, func(l *store.QuotaLimits, v *int64) { l.TotalReservedPorts = v }},
	}},
	{key: "domains", limits: []quotaLimit{
		{"total_domains", maxDBInt, func(l *store.QuotaLimits, v *int64) { l.TotalDomains = v }},
	}},
}

// spaceQuotaGroups are SpaceQuotaUpdateMessage's: no domains.
var spaceQuotaGroups = orgQuotaGroups[:3]

// quotaRules are what tells one quota message from another.
type quotaRules struct {
	groups []quotaGroup
	// namePresent is SpaceQuotaUpdateMessage's presence rule on a name
	// that is given.
	namePresent bool
	// relationships reads a create's relationships, given or not; nil
	// for an update, which takes none.
	relationships func(raw json.RawMessage, given bool, p *problems)
}

// quotaMessage is a valid quota create or update body: the name when
// given, and the changes to make to the limits.
type quotaMessage struct {
	name    *string
	changes []func(*store.QuotaLimits)
	request json.RawMessage
}

// apply makes the message's changes to l.
func (m quotaMessage) apply(l *store.QuotaLimits) {
	for _, change := range m.changes {
		change(l)
	}
}

// integerText is what ActiveModel's only_integer numericality takes from
// a string.
var integerText = regexp.MustCompile(`^[+-]?\d+$`)

// parseQuotaMessage validates a quota body in CC's order: unknown keys,
// the name, the groups in order, then a create's relationships and name
// presence; every problem in one 422 joined by ", ". A limit given as
// null is unlimited, paid_services_allowed null is true.
func parseQuotaMessage(body []byte, rules quotaRules) (quotaMessage, error) {
	var m quotaMessage
	o, err := decodeAny(body)
	if err != nil {
		return m, err
	}
	m.request = bytes.TrimSpace(body)
	keys := []string{"name"}
	for _, g := range rules.groups {
		keys = append(keys, g.key)
	}
	if rules.relationships != nil {
		keys = append(keys, "relationships")
	}
	var p problems
	p.addErr("", o.only(keys...))
	if o.has("name") {
		m.name = quotaNameProblems(o["name"], rules.namePresent, &p)
	}
	for _, g := range rules.groups {
		if o.has(g.key) {
			m.changes = append(m.changes, g.parse(o[g.key], &p)...)
		}
	}
	if rules.relationships != nil {
		rules.relationships(o["relationships"], o.has("relationships"), &p)
		if jsonBlank(o["name"]) {
			p.add("Name can't be blank")
		}
	}
	return m, p.err()
}

// quotaNameProblems is the name's string, presence when present says so,
// and length (1 to 250) rules.
func quotaNameProblems(raw json.RawMessage, present bool, p *problems) *string {
	var name string
	if jsonKind(raw) != '"' || json.Unmarshal(raw, &name) != nil {
		p.add("Name must be a string")
		if jsonKind(raw) == 'n' {
			if present {
				p.add("Name can't be blank")
			}
			// CC's length rule lets nil by.
			return nil
		}
		name = string(bytes.TrimSpace(raw))
	}
	if present && jsonBlank(raw) {
		p.add("Name can't be blank")
	}
	switch n := utf8.RuneCountInString(name); {
	case n < 1:
		p.add("Name is too short (minimum is 1 character)")
	case n > 250:
		p.add("Name is too long (maximum is 250 characters)")
	}
	return &name
}

// parse validates one group object as its Quotas*Message does, each
// problem prefixed with the group's name, and returns its changes.
func (g quotaGroup) parse(raw json.RawMessage, p *problems) []func(*store.QuotaLimits) {
	label := humanize(g.key)
	var o object
	if jsonKind(raw) != '{' || json.Unmarshal(raw, &o) != nil {
		p.add(label + " must be an object")
		return nil
	}
	allowed := make([]string, 0, len(g.limits)+1)
	for _, l := range g.limits {
		allowed = append(allowed, l.key)
	}
	if g.paid {
		allowed = append(allowed, "paid_services_allowed")
	}
	p.addErr(label+" ", o.only(allowed...))
	var changes []func(*store.QuotaLimits)
	for _, l := range g.limits {
		if !o.has(l.key) {
			continue
		}
		v, msg := quotaInteger(o[l.key], l.max)
		if msg != "" {
			p.add(label + " " + humanize(l.key) + " " + msg)
			continue
		}
		set := l.set
		changes = append(changes, func(q *store.QuotaLimits) { set(q, v) })
	}
	if g.paid && o.has("paid_services_allowed") {
		switch kind := jsonKind(o["paid_services_allowed"]); kind {
		case 't', 'f', 'n':
			// QuotaDefinition::DEFAULT_NON_BASIC_SERVICES_ALLOWED for null.
			allowed := kind != 'f'
			changes = append(changes, func(q *store.QuotaLimits) { q.PaidServicesAllowed = allowed })
		default:
			p.add(label + " Paid services allowed must be a boolean")
		}
	}
	return changes
}

// quotaInteger reads a limit as numericality only_integer, between 0 and
// max, allow_nil does: the value (nil for null), or the problem's text.
func quotaInteger(raw json.RawMessage, max int64) (*int64, string) {
	raw = bytes.TrimSpace(raw)
	text := string(raw)
	switch jsonKind(raw) {
	case 'n':
		return nil, ""
	case '"':
		if json.Unmarshal(raw, &text) != nil || !integerText.MatchString(strings.TrimSpace(text)) {
			return nil, "is not a number"
		}
		text = strings.TrimPrefix(strings.TrimSpace(text), "+")
	case 't', 'f', '{', '[':
		return nil, "is not a number"
	default:
		if strings.ContainsAny(text, ".eE") {
			return nil, "must be an integer"
		}
	}
	v, err := json.Number(text).Int64()
	switch {
	case err != nil && strings.HasPrefix(text, "-"), err == nil && v < 0:
		return nil, "must be greater than or equal to 0"
	case err != nil, v > max:
		return nil, fmt.Sprintf("must be less than or equal to %d", max)
	}
	return &v, ""
}

// quotaLimitsJSON are the apps, services and routes objects of both
// quota presenters.
type quotaLimitsJSON struct {
	Apps struct {
		TotalMemoryInMB       *int64 `json:"total_memory_in_mb"`
		PerProcessMemoryInMB  *int64 `json:"per_process_memory_in_mb"`
		TotalInstances        *int64 `json:"total_instances"`
		PerAppTasks           *int64 `json:"per_app_tasks"`
		LogRateLimitBytesPerS *int64 `json:"log_rate_limit_in_bytes_per_second"`
	} `json:"apps"`
	Services struct {
		PaidServicesAllowed   bool   `json:"paid_services_allowed"`
		TotalServiceInstances *int64 `json:"total_service_instances"`
		TotalServiceKeys      *int64 `json:"total_service_keys"`
	} `json:"services"`
	Routes struct {
		TotalRoutes        *int64 `json:"total_routes"`
		TotalReservedPorts *int64 `json:"total_reserved_ports"`
	} `json:"routes"`
}

// presentQuotaLimits renders the limits of l.
func presentQuotaLimits(l store.QuotaLimits) quotaLimitsJSON {
	var j quotaLimitsJSON
	j.Apps.TotalMemoryInMB, j.Apps.PerProcessMemoryInMB = l.TotalMemoryMB, l.PerProcessMemoryMB
	j.Apps.TotalInstances, j.Apps.PerAppTasks, j.Apps.LogRateLimitBytesPerS = l.TotalInstances, l.PerAppTasks, l.LogRateLimit
	j.Services.PaidServicesAllowed = l.PaidServicesAllowed
	j.Services.TotalServiceInstances, j.Services.TotalServiceKeys = l.TotalServiceInstances, l.TotalServiceKeys
	j.Routes.TotalRoutes, j.Routes.TotalReservedPorts = l.TotalRoutes, l.TotalReservedPorts
	return j
}

// presentQuotas renders quotas, each with those of its holders (orgs or
// spaces) that the caller sees, read at once by holders.
func presentQuotas[Q, J any](r *request, qs []Q, guidOf func(Q) string,
	holders func(context.Context, store.Viewer, []string) (map[string][]string, error), present func(string, Q, []string) J) ([]J, error) {
	guids := make([]string, len(qs))
	for i, q := range qs {
		guids[i] = guidOf(q)
	}
	held, err := holders(r.ctx, r.viewer(), guids)
	if err != nil {
		return nil, errInternal(err)
	}
	out := make([]J, len(qs))
	for i, q := range qs {
		out[i] = present(r.base, q, held[guids[i]])
	}
	return out, nil
}

// quotaEvent is an audit event about the quota guid called name, of
// targetType organization_quota or space_quota; data nil is {}.
func (s *Server) quotaEvent(actor store.Actor, typ, targetType, guid, name string, data json.RawMessage) store.Event {
	if data == nil {
		data = json.RawMessage("{}")
	}
	return store.Event{GUID: uuid.NewString(), Type: typ, Actor: actor, TargetGUID: guid, TargetType: targetType, TargetName: name,
		Data: data, CreatedAt: s.store.Now()}
}
