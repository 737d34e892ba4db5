package backend

import (
	"bytes"
	"encoding/json"

	"capibridge/backend/store"
)

// handler answers one route.
type handler = func(*request) error

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

// withIncluded is a shown resource with the included resources after its
// own keys, as CC's show actions render include=.
type withIncluded struct {
	resource any
	included any
}

// MarshalJSON writes the resource's object with "included" as its last key.
func (w withIncluded) MarshalJSON() ([]byte, error) {
	res, err := marshalRaw(w.resource)
	if err != nil {
		return nil, err
	}
	inc, err := marshalRaw(w.included)
	if err != nil {
		return nil, err
	}
	res = bytes.TrimSuffix(res, []byte("}"))
	if len(res) > 1 {
		res = append(res, ',')
	}
	res = append(append(append(res, `"included":`...), inc...), '}')
	return res, nil
}

// marshalRaw is json.Marshal without HTML escaping, as reply writes.
func marshalRaw(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// metadataFilters are the label and timestamp filters of a list.
type metadataFilters struct {
	labels           []store.LabelReq
	created, updated []store.TimeCond
}

func (q query) metadataFilters() (metadataFilters, error) {
	var m metadataFilters
	var err error
	if m.labels, err = q.labels(); err != nil {
		return m, err
	}
	if m.created, err = q.times("created_ats"); err != nil {
		return m, err
	}
	m.updated, err = q.times("updated_ats")
	return m, err
}
