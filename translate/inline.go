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
	// Orphans, when set (orphan-relations=1 on a list), takes the inlined
	// resources instead of the entities: a to-one relation keeps only its
	// url, a to-many one lists guids, and each resource goes once into the
	// list's top-level "orphans" (PaginatedCollectionRenderer).
	Orphans *Orphans
}

// Inline returns the inlining a request asks for. A list that asks for
// orphans gets its own collector; a single resource has none (orphans are
// a list's).
func (lp ListParams) Inline() Inline {
	return Inline{Depth: lp.InlineRelationsDepth, Include: lp.IncludeRelations, Exclude: lp.ExcludeRelations}
}

// Orphans is the "orphans" object of a list: resources by guid, in the
// order they were first met. A list's pages render concurrently-built
// bundles one after another, so it needs no lock.
type Orphans struct {
	guids []string
	raw   map[string]json.RawMessage
}

// NewOrphans returns an empty collector.
func NewOrphans() *Orphans { return &Orphans{raw: map[string]json.RawMessage{}} }

func (o *Orphans) add(guid string, raw json.RawMessage) {
	if _, ok := o.raw[guid]; ok {
		return
	}
	o.guids = append(o.guids, guid)
	o.raw[guid] = raw
}

// AppendJSON writes the orphans object to buf.
func (o *Orphans) AppendJSON(buf *bytes.Buffer) {
	buf.WriteByte('{')
	for i, g := range o.guids {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('"')
		buf.WriteString(g)
		buf.WriteString(`":`)
		buf.Write(o.raw[g])
	}
	buf.WriteByte('}')
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
	// Space is the app's space; its organization, with its isolation
	// segments, is inlined one level further down when SpaceOrg is set.
	Space    *SpaceBundle
	SpaceOrg *OrgBundle
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
	orphans := in.Orphans
	// toOne inlines a to-one resource, or orphans it (the entity keeps
	// only the url).
	toOne := func(dst *json.RawMessage, guid string, render func(*bytes.Buffer) error) error {
		raw, err := renderJSON(render)
		if err != nil {
			return err
		}
		if orphans != nil {
			orphans.add(guid, raw)
			return nil
		}
		*dst = raw
		return nil
	}
	// toMany inlines n resources, or lists their guids and orphans them.
	toMany := func(dst *json.RawMessage, n int, guid func(int) string, render func(*bytes.Buffer, int) error) error {
		if orphans == nil {
			raw, err := renderArray(n, render)
			*dst = raw
			return err
		}
		guids := make([]string, n)
		for i := range n {
			raw, err := renderJSON(func(b *bytes.Buffer) error { return render(b, i) })
			if err != nil {
				return err
			}
			guids[i] = guid(i)
			orphans.add(guids[i], raw)
		}
		raw, err := json.Marshal(guids)
		*dst = raw
		return err
	}
	if in.Wants("space") && x.Space != nil {
		var org *OrgBundle
		if in.Deeper().Wants("organization") && x.SpaceOrg != nil {
			org = x.SpaceOrg
			if orphans != nil {
				raw, err := renderJSON(func(b *bytes.Buffer) error { return AppendOrgBundle(b, *org) })
				if err != nil {
					return err
				}
				orphans.add(org.Org.GUID, raw)
				org = nil
			}
		}
		if err := toOne(&e.Space, x.Space.Space.GUID, func(b *bytes.Buffer) error { return appendSpaceResource(b, *x.Space, org) }); err != nil {
			return err
		}
	}
	if in.Wants("stack") && x.Stack != nil {
		if err := toOne(&e.Stack, x.Stack.GUID, func(b *bytes.Buffer) error { return AppendStackResource(b, *x.Stack) }); err != nil {
			return err
		}
	}
	if in.Wants("routes") && x.HasRoutes && len(x.Routes) <= maxInline {
		if err := toMany(&e.Routes, len(x.Routes), func(i int) string { return x.Routes[i].GUID }, func(b *bytes.Buffer, i int) error {
			r := x.Routes[i]
			return AppendRouteResource(b, r, x.Domains[r.Relationships.Domain.GUID()])
		}); err != nil {
			return err
		}
	}
	if in.Wants("service_bindings") && x.HasBindings && len(x.Bindings) <= maxInline {
		if err := toMany(&e.ServiceBindings, len(x.Bindings), func(i int) string { return x.Bindings[i].Binding.GUID }, func(b *bytes.Buffer, i int) error {
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
