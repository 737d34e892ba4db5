package backend

import (
	"fmt"
	"slices"
	"strings"

	"capibridge/backend/store"
)

// metadataKeys are the query keys CC's MetadataListMessage adds to a list.
var metadataKeys = append(append([]string{"label_selector"}, timeKeys("created_ats")...), timeKeys("updated_ats")...)

// listKeys joins the paging keys, keys and the metadata keys.
func listKeys(keys ...string) []string {
	return append(append(append([]string{}, pageParams...), keys...), metadataKeys...)
}

// appNestedKeys are the filters that CC's package and droplet list messages
// know, but refuse under /v3/apps/:guid (app_nested_request).
var appNestedKeys = []string{"app_guids", "space_guids", "organization_guids"}

// allowNested is allow for a list under /v3/apps/:guid whose message is
// the top-level one: unknown keys are refused as usual, then the keys in
// rejected with app_nested_request's shorter text
// (cc:app/messages/packages_list_message.rb, droplets_list_message.rb).
func (q query) allowNested(allowed []string, rejected ...string) error {
	if err := q.allow(append(append([]string{}, allowed...), rejected...)...); err != nil {
		return err
	}
	var bad []string
	for _, k := range q.order {
		if contains(rejected, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		return errBadQuery("Unknown query parameter(s): '" + strings.Join(bad, "', '") + "'")
	}
	return nil
}

// timeOrders are the order_by values of lists that CC's ListMessage
// limits to the timestamps.
var timeOrders = []string{"created_at", "updated_at"}

// namedOrders are the order_by values of lists that also order by name.
var namedOrders = []string{"created_at", "updated_at", "name"}

// params reads a list's filter keys for a resource's filter declaration.
// It keeps the first error, so that a declaration is one expression whose
// reads run in CC's order of validation.
type params struct {
	q   query
	err error
}

func (p *params) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// list reads a comma-separated filter (query.list).
func (p *params) list(key string) []string { return p.q.list(key) }

// embeds reads embed= as CC's EmbedParamValidator does: each value one of
// valid, none twice.
func (p *params) embeds(valid ...string) {
	seen := map[string]bool{}
	for _, e := range p.list("embed") {
		switch {
		case !slices.Contains(valid, e):
			p.fail(errBadQuery(fmt.Sprintf("Invalid embedded resource: '%s'. Valid embedded resources are: '%s'", e, strings.Join(valid, "', '"))))
		case seen[e]:
			p.fail(errBadQuery(fmt.Sprintf("Duplicate embedded resource: '%s'", e)))
		}
		seen[e] = true
	}
}

// has says whether the query has key.
func (p *params) has(key string) bool { return p.q.has(key) }

// labels reads label_selector.
func (p *params) labels() []store.LabelReq {
	reqs, err := p.q.labels()
	p.fail(err)
	return reqs
}

// times reads a timestamp filter and its relational forms.
func (p *params) times(key string) []store.TimeCond {
	conds, err := p.q.times(key)
	p.fail(err)
	return conds
}

// boolean reads a "true"/"false" filter.
func (p *params) boolean(key string) *bool {
	b, err := p.q.boolean(key)
	p.fail(err)
	return b
}

// oneOf reads a single-valued filter that admits only values, as a
// one-element list; refused is CC's text for any other value.
func (p *params) oneOf(key string, refused func(v string) string, values ...string) []string {
	if !p.q.has(key) {
		return nil
	}
	v := p.q.str(key)
	if !contains(values, v) {
		p.fail(errBadQuery(refused(v)))
		return nil
	}
	return []string{v}
}

// check records err, for a filter whose reading is its own function.
func (p *params) check(err error) { p.fail(err) }
