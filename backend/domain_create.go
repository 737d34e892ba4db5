package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The body of POST /v3/domains as cc:app/messages/domain_create_message.rb
// reads it. CC validates the whole message and answers one 422 with every
// message, joined by ", ", in the order its validations run: metadata,
// unknown keys, relationships, name, router group, the exclusions, then
// the booleans and the route policy scope.

// domainCreateKeys are DomainCreateMessage's keys.
var domainCreateKeys = []string{"name", "internal", "relationships", "router_group", "enforce_route_policies", "route_policies_scope", "metadata"}

// domainPattern is CloudController::DomainDecorator::DOMAIN_REGEX: labels
// of letters, digits and inner hyphens, at least two of them.
var domainPattern = regexp.MustCompile(`(?i)^(([a-z0-9]|[a-z0-9][a-z0-9-]{0,61}[a-z0-9])\.)+([a-z0-9]|[a-z0-9][a-z0-9-]{0,61}[a-z0-9])$`)

// domainBadChar is what DomainCreateMessage#alpha_numeric refuses.
var domainBadChar = regexp.MustCompile(`(?i)[^a-z0-9\-.]`)

// domainCreate is a valid POST /v3/domains body.
type domainCreate struct {
	name     string
	internal bool
	// private says relationships was given: the domain is an org's.
	private    bool
	orgGUID    string
	sharedOrgs []string
	// routerGroup is router_group.guid.
	routerGroup *string
	enforce     bool
	scope       *string
	md          *metadataPatch
}

// problems collects a message's validation errors.
type problems []string

func (p *problems) add(msg string) { *p = append(*p, msg) }

// addErr adds the text of a 422 that a field reader returned.
func (p *problems) addErr(prefix string, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		p.add(prefix + ae.Detail)
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errUnprocessable(strings.Join(p, ", "))
}

// jsonKind is the first byte of a JSON value: '"', '{', '[', 't', 'f',
// 'n', or a number's first character; 0 for none.
func jsonKind(v json.RawMessage) byte {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

// jsonBlank is Ruby's blank? of a JSON value: absent, null, false, a
// string of white space, an empty array or object.
func jsonBlank(v json.RawMessage) bool {
	var s string
	var items []json.RawMessage
	var fields map[string]json.RawMessage
	switch jsonKind(v) {
	case 0, 'n', 'f':
		return true
	case '"':
		return json.Unmarshal(v, &s) == nil && strings.TrimSpace(s) == ""
	case '[':
		return json.Unmarshal(v, &items) == nil && len(items) == 0
	case '{':
		return json.Unmarshal(v, &fields) == nil && len(fields) == 0
	}
	return false
}

// isTrue is Ruby's `value == true`: the JSON literal true only.
func isTrue(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "true" }

// parseDomainCreate reads and validates a POST /v3/domains body.
func parseDomainCreate(body []byte) (domainCreate, error) {
	var m domainCreate
	o, md, p, err := decodeMessage(body, domainCreateKeys...)
	if err != nil {
		return m, err
	}
	m.md = md
	if o.has("relationships") {
		m.private = true
		m.orgGUID, m.sharedOrgs = domainRelationships(o["relationships"], &p)
	}
	m.name = domainName(o, &p)
	if o.has("router_group") && !o.isNull("router_group") {
		rg, err := o.sub("router_group", "Router group")
		p.addErr("", err)
		if err == nil {
			p.addErr("Router group ", rg.only("guid"))
			if guid, err := rg.str("guid", ""); err != nil || guid == nil {
				p.add("Router group guid must be a string")
			} else {
				m.routerGroup = guid
			}
		}
	}
	internal, enforce := isTrue(o["internal"]), isTrue(o["enforce_route_policies"])
	if internal && o.has("relationships") {
		p.add("Cannot associate an internal domain with an organization")
	}
	if internal && o.has("router_group") {
		p.add("Internal domains cannot be associated to a router group.")
	}
	if internal && enforce {
		p.add("Internal domains cannot have route policy enforcement. Internal routes bypass GoRouter.")
	}
	if o.has("router_group") && enforce {
		p.add("Domains with a router group cannot have route policy enforcement. TCP routes do not support mTLS policy enforcement.")
	}
	if o.has("relationships") && o.has("router_group") {
		p.add("Domains scoped to an organization cannot be associated to a router group.")
	}
	_, err = o.boolean("internal", "Internal")
	p.addErr("", err)
	_, err = o.boolean("enforce_route_policies", "Enforce route policies")
	p.addErr("", err)
	m.internal, m.enforce = internal, enforce
	scope, err := o.str("route_policies_scope", "")
	if o.has("route_policies_scope") && !o.isNull("route_policies_scope") && (err != nil || !contains([]string{"any", "org", "space"}, *scope)) {
		p.add("Route policies scope must be one of 'any', 'org', 'space'")
	}
	// present?: a scope that is not blank (a number is present too).
	if enforce && (o.isNull("route_policies_scope") || !o.has("route_policies_scope") || scope != nil && strings.TrimSpace(*scope) == "") {
		p.add("Route policies scope is required when enforce_route_policies is true")
	}
	if err == nil {
		m.scope = scope
	}
	return m, p.err()
}

// domainName applies the name's validations and returns the name as Ruby's
// to_s gives it (a number or boolean keeps its JSON text).
func domainName(o object, p *problems) string {
	raw := o["name"]
	var name string
	isString := jsonKind(raw) == '"' && json.Unmarshal(raw, &name) == nil
	if !isString && !o.isNull("name") {
		name = string(bytes.TrimSpace(raw))
	}
	if jsonBlank(raw) {
		p.add("Name can't be blank")
	}
	if !isString {
		p.add("Name must be a string")
	}
	switch n := utf8.RuneCountInString(name); {
	case n < 3:
		p.add("Name is too short (minimum is 3 characters)")
	case n > 253:
		p.add("Name is too long (maximum is 253 characters)")
	}
	if !domainPattern.MatchString(name) {
		p.add("Name does not comply with RFC 1035 standards")
	}
	if !strings.Contains(name, ".") {
		p.add(`Name must contain at least one "."`)
	}
	for _, label := range strings.Split(name, ".") {
		if utf8.RuneCountInString(label) > 63 {
			p.add("Name subdomains must each be at most 63 characters")
			break
		}
	}
	if domainBadChar.MatchString(name) {
		p.add("Name must consist of alphanumeric characters and hyphens")
	}
	return name
}

// domainRelationships validates relationships as RelationshipValidator and
// DomainCreateMessage::Relationships do, and returns the owning org and
// the orgs to share with.
func domainRelationships(raw json.RawMessage, p *problems) (string, []string) {
	var rels object
	if jsonKind(raw) != '{' || json.Unmarshal(raw, &rels) != nil {
		p.add("Relationships 'relationships' is not an object")
		return "", nil
	}
	if len(rels) == 0 {
		p.add("Relationships 'relationships' must include one or more valid relationships")
		return "", nil
	}
	p.addErr("Relationships ", rels.only("organization", "shared_organizations"))
	var org string
	if rels.has("organization") && !rels.isNull("organization") {
		org = toOneProblems(rels["organization"], "organization", p)
	}
	var shared []string
	if rels.has("shared_organizations") && !rels.isNull("shared_organizations") {
		shared = toManyProblems(rels["shared_organizations"], "shared_organizations", p)
	}
	if rels.has("shared_organizations") && !rels.has("organization") {
		p.add("Relationships cannot contain shared_organizations without an owning organization.")
	}
	return org, shared
}

// toOneProblems is ToOneRelationshipValidator on relationships.<key>:
// {"data": null} or {"data": {"guid": "..."}} and nothing else.
func toOneProblems(raw json.RawMessage, key string, p *problems) string {
	label := "Relationships " + humanize(key)
	var rel, data object
	ok := jsonKind(raw) == '{' && json.Unmarshal(raw, &rel) == nil && len(rel) == 1 && rel.has("data")
	if ok && !rel.isNull("data") {
		ok = jsonKind(rel["data"]) == '{' && json.Unmarshal(rel["data"], &data) == nil && len(data) == 1 && data.has("guid")
	}
	if !ok {
		p.add(label + ` must be structured like this: "` + key + `: {"data": {"guid": "valid-guid"}}"`)
		return ""
	}
	if data == nil {
		return ""
	}
	return guidProblems(data["guid"], label+" guid", p)
}

// toManyProblems is ToManyRelationshipValidator on relationships.<key>:
// {"data": [{"guid": "..."}, ...]}.
func toManyProblems(raw json.RawMessage, key string, p *problems) []string {
	var rel object
	var items []object
	ok := jsonKind(raw) == '{' && json.Unmarshal(raw, &rel) == nil && jsonKind(rel["data"]) == '[' && json.Unmarshal(rel["data"], &items) == nil
	for _, item := range items {
		ok = ok && len(item) == 1 && item.has("guid")
	}
	if !ok {
		p.add("Relationships " + humanize(key) + ` must be structured like this: "` + key +
			`: {"data": [{"guid": "valid-guid"},{"guid": "valid-guid"}]}"`)
		return nil
	}
	guids := make([]string, 0, len(items))
	for _, item := range items {
		guids = append(guids, guidProblems(item["guid"], "Relationships "+humanize(strings.TrimSuffix(key, "s"))+" guids", p))
	}
	return guids
}

// guidProblems is BaseMessage::GuidValidator: a string of 1 to 200
// characters.
func guidProblems(raw json.RawMessage, label string, p *problems) string {
	var guid string
	if jsonKind(raw) != '"' || json.Unmarshal(raw, &guid) != nil {
		p.add(label + " must be a string")
		p.add(label + " must be between 1 and 200 characters")
		return ""
	}
	if n := utf8.RuneCountInString(guid); n < 1 || n > 200 {
		p.add(label + " must be between 1 and 200 characters")
	}
	return guid
}
