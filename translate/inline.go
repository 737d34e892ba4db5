package translate

import (
	"bytes"
	"encoding/json"
	"slices"
)

// maxInline is CC's MAX_INLINE_DEFAULT: a to-many relation with more
// members than this is shown by url only (MAPPING §1.3).
const maxInline = 50

// Inline says which relations a v2 resource inlines: inline-relations-depth
// and the include-relations and exclude-relations lists, which apply at
// every level (cc:app/presenters/v2/relations_presenter.rb).
type Inline struct {
	Depth            int
	Include, Exclude []string
}

// Inline returns the inlining a request asks for.
func (lp ListParams) Inline() Inline {
	return Inline{Depth: lp.InlineRelationsDepth, Include: lp.IncludeRelations, Exclude: lp.ExcludeRelations}
}

// Wants reports whether relation name is inlined at this level.
func (in Inline) Wants(name string) bool {
	if in.Depth < 1 || slices.Contains(in.Exclude, name) {
		return false
	}
	return in.Include == nil || slices.Contains(in.Include, name)
}

// Deeper is the inlining of the resources inlined at this level.
func (in Inline) Deeper() Inline {
	in.Depth--
	return in
}

// AppInlined holds what an app inlines; the caller fetches only what
// Inline.Wants asks for, and a nil or empty field stays url-only.
type AppInlined struct {
	// Space is the app's space; its organization is inlined one level
	// further down when SpaceOrg is set.
	Space    *SpaceBundle
	SpaceOrg *V3Org
	Stack    *V3Stack
	// Routes are the app's web routes with the domain of each (may be nil).
	Routes  []V3Route
	Domains map[string]*V3Domain
	// Bindings are the app's service bindings with their details.
	Bindings []BindingBundle
	// HasRoutes and HasBindings say the to-many lists were fetched, so
	// that an app with none still shows [].
	HasRoutes, HasBindings bool
}

// inlineApp fills the inlined relations of an app entity, in the order of
// MAPPING §1.3: space, stack, routes, service_bindings; events and
// route_mappings are link-only. Relations of inlined resources one level
// down: the space's organization only. CC would also inline the space's
// to-many relations (developers, routes, domains, ...), and the routes'
// domain and space and the bindings' service instance; the gateway
// shows those by url (a documented deviation: clients read
// space.entity.organization, which is there).
func inlineApp(e *V2AppEntity, in Inline, x *AppInlined) error {
	if x == nil || in.Depth < 1 {
		return nil
	}
	var err error
	if in.Wants("space") && x.Space != nil {
		var org *V3Org
		if in.Deeper().Wants("organization") {
			org = x.SpaceOrg
		}
		if e.Space, err = renderJSON(func(b *bytes.Buffer) error { return appendSpaceResource(b, *x.Space, org) }); err != nil {
			return err
		}
	}
	if in.Wants("stack") && x.Stack != nil {
		if e.Stack, err = renderJSON(func(b *bytes.Buffer) error { return AppendStackResource(b, *x.Stack) }); err != nil {
			return err
		}
	}
	if in.Wants("routes") && x.HasRoutes && len(x.Routes) <= maxInline {
		if e.Routes, err = renderArray(len(x.Routes), func(b *bytes.Buffer, i int) error {
			r := x.Routes[i]
			return AppendRouteResource(b, r, x.Domains[r.Relationships.Domain.GUID()])
		}); err != nil {
			return err
		}
	}
	if in.Wants("service_bindings") && x.HasBindings && len(x.Bindings) <= maxInline {
		if e.ServiceBindings, err = renderArray(len(x.Bindings), func(b *bytes.Buffer, i int) error {
			return AppendServiceBindingResource(b, x.Bindings[i])
		}); err != nil {
			return err
		}
	}
	return nil
}

func renderJSON(f func(*bytes.Buffer) error) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := f(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func renderArray(n int, f func(*bytes.Buffer, int) error) (json.RawMessage, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := f(&b, i); err != nil {
			return nil, err
		}
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}
