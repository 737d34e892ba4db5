// Package shadow compares the Cloud Controller's own v2 answers with the
// gateway's translation of the same request, and keeps what differed:
// the evidence an operator needs before switching v2 off. It is pure: the
// gateway's request path feeds it (proxy/shadow.go).
package shadow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is a kind of difference, a label value of
// capibridge_shadow_differences_total.
type Kind string

const (
	KindStatus     Kind = "status"      // the status codes differ
	KindMissingKey Kind = "missing_key" // a key the native answer has, the translation lacks
	KindExtraKey   Kind = "extra_key"   // a key the translation has, the native answer lacks
	KindValue      Kind = "value"       // a value differs (type, number, string, list length)
	KindOrder      Kind = "order"       // an object's keys come in another order
)

// Kinds lists every Kind.
func Kinds() []Kind { return []Kind{KindStatus, KindMissingKey, KindExtraKey, KindValue, KindOrder} }

// Answer is one side: its status and body.
type Answer struct {
	Status int
	Body   []byte
}

// Difference is one place where the answers part.
type Difference struct {
	Kind Kind `json:"kind"`
	// Path is where, "resources[3].entity.name" ("" for the status or the
	// whole body).
	Path string `json:"path"`
	// Native and Translated are the two values there, in JSON, cut short.
	Native     string `json:"native,omitempty"`
	Translated string `json:"translated,omitempty"`
}

// Options say what may legitimately differ.
type Options struct {
	// TimeSkew is how far apart two times may be and count as the same:
	// the two answers are read a moment apart.
	TimeSkew time.Duration
	// Ignore are JSON paths not compared, with "[]" for any index
	// ("resources[].entity.detected_buildpack_guid"): the deviations
	// MAPPING.md documents as deliberate.
	Ignore []string
	// MaxDifferences bounds the differences kept for one comparison.
	MaxDifferences int
}

// Compare compares a native answer with the translated one. Bodies that
// are not both JSON are compared byte for byte.
func Compare(native, translated Answer, o Options) []Difference {
	if o.MaxDifferences <= 0 {
		o.MaxDifferences = 50
	}
	c := &comparer{o: o}
	if native.Status != translated.Status {
		c.add(Difference{Kind: KindStatus, Native: strconv.Itoa(native.Status), Translated: strconv.Itoa(translated.Status)})
	}
	n, errN := parse(native.Body)
	t, errT := parse(translated.Body)
	switch {
	case errN != nil || errT != nil:
		if !bytes.Equal(bytes.TrimSpace(native.Body), bytes.TrimSpace(translated.Body)) {
			c.add(Difference{Kind: KindValue, Native: cut(string(native.Body)), Translated: cut(string(translated.Body))})
		}
	default:
		c.walk("", n, t)
	}
	return c.diffs
}

type comparer struct {
	o     Options
	diffs []Difference
}

func (c *comparer) add(d Difference) {
	if len(c.diffs) < c.o.MaxDifferences {
		c.diffs = append(c.diffs, d)
	}
}

// ignored reports whether path is one of Options.Ignore.
func (c *comparer) ignored(path string) bool {
	if len(c.o.Ignore) == 0 {
		return false
	}
	return slices.Contains(c.o.Ignore, Generalize(path))
}

// Generalize replaces a path's indices by "[]".
func Generalize(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if path[i] == '[' {
			j := strings.IndexByte(path[i:], ']')
			if j > 0 {
				b.WriteString("[]")
				i += j
				continue
			}
		}
		b.WriteByte(path[i])
	}
	return b.String()
}

func (c *comparer) walk(path string, n, t value) {
	if c.ignored(path) {
		return
	}
	switch nv := n.(type) {
	case *object:
		tv, ok := t.(*object)
		if !ok {
			c.add(Difference{Kind: KindValue, Path: path, Native: cut(render(n)), Translated: cut(render(t))})
			return
		}
		var common []string
		for _, k := range nv.keys {
			if _, ok := tv.vals[k]; !ok {
				if !c.ignored(join(path, k)) {
					c.add(Difference{Kind: KindMissingKey, Path: join(path, k), Native: cut(render(nv.vals[k]))})
				}
				continue
			}
			common = append(common, k)
		}
		var tcommon []string
		for _, k := range tv.keys {
			if _, ok := nv.vals[k]; !ok {
				if !c.ignored(join(path, k)) {
					c.add(Difference{Kind: KindExtraKey, Path: join(path, k), Translated: cut(render(tv.vals[k]))})
				}
				continue
			}
			tcommon = append(tcommon, k)
		}
		if !slices.Equal(common, tcommon) {
			c.add(Difference{Kind: KindOrder, Path: path, Native: strings.Join(common, ","), Translated: strings.Join(tcommon, ",")})
		}
		for _, k := range common {
			c.walk(join(path, k), nv.vals[k], tv.vals[k])
		}
	case []value:
		tv, ok := t.([]value)
		if !ok || len(nv) != len(tv) {
			c.add(Difference{Kind: KindValue, Path: path, Native: cut(render(n)), Translated: cut(render(t))})
			if !ok {
				return
			}
		}
		for i := range min(len(nv), len(tv)) {
			c.walk(fmt.Sprintf("%s[%d]", path, i), nv[i], tv[i])
		}
	default:
		if !c.sameScalar(path, n, t) {
			c.add(Difference{Kind: KindValue, Path: path, Native: cut(render(n)), Translated: cut(render(t))})
		}
	}
}

// sameScalar compares two scalars, with the latitude Options give: times
// within TimeSkew, and the paging URLs (next_url, prev_url) with their
// query parameters in any order.
func (c *comparer) sameScalar(path string, n, t value) bool {
	if n == t {
		return true
	}
	ns, ok1 := n.(string)
	ts, ok2 := t.(string)
	if !ok1 || !ok2 {
		// Numbers are json.Number: compare their values.
		nn, ok1 := n.(json.Number)
		tn, ok2 := t.(json.Number)
		if ok1 && ok2 {
			a, e1 := nn.Float64()
			b, e2 := tn.Float64()
			return e1 == nil && e2 == nil && a == b
		}
		return false
	}
	if tn, err := time.Parse(time.RFC3339Nano, ns); err == nil {
		if tt, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			d := tn.Sub(tt)
			return d <= c.o.TimeSkew && -d <= c.o.TimeSkew
		}
	}
	if strings.HasSuffix(path, "next_url") || strings.HasSuffix(path, "prev_url") {
		return sameURL(ns, ts)
	}
	return false
}

// sameURL compares two URLs whose query parameters may come in another
// order.
func sameURL(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil || ua.Path != ub.Path {
		return false
	}
	qa, qb := ua.Query(), ub.Query()
	if len(qa) != len(qb) {
		return false
	}
	for k, va := range qa {
		vb := qb[k]
		slices.Sort(va)
		slices.Sort(vb)
		if !slices.Equal(va, vb) {
			return false
		}
	}
	return true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// cut shortens a rendered value for a Difference.
func cut(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// value is a JSON value: *object, []value, string, json.Number, bool or
// nil.
type value any

// object is a JSON object with its keys in order.
type object struct {
	keys []string
	vals map[string]value
}

// parse reads JSON keeping the order of object keys.
func parse(b []byte) (value, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := parseValue(d)
	if err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("shadow: trailing data")
	}
	return v, nil
}

func parseValue(d *json.Decoder) (value, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &object{vals: map[string]value{}}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			key := k.(string)
			v, err := parseValue(d)
			if err != nil {
				return nil, err
			}
			if _, dup := o.vals[key]; !dup {
				o.keys = append(o.keys, key)
			}
			o.vals[key] = v
		}
		_, err := d.Token()
		return o, err
	case json.Delim('['):
		list := []value{}
		for d.More() {
			v, err := parseValue(d)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := d.Token()
		return list, err
	}
	return tok, nil
}

// render writes a value back as JSON, keys in order.
func render(v value) string {
	var b strings.Builder
	renderTo(&b, v)
	return b.String()
}

func renderTo(b *strings.Builder, v value) {
	switch x := v.(type) {
	case *object:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			renderTo(b, x.vals[k])
		}
		b.WriteByte('}')
	case []value:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			renderTo(b, e)
		}
		b.WriteByte(']')
	default:
		out, _ := json.Marshal(x)
		b.Write(out)
	}
}
