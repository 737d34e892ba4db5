// Package shadow compares the Cloud Controller's own v2 answers with the
// gateway's translation of the same request, and keeps what differed:
// the evidence an operator needs before switching v2 off. It is pure: the
// gateway's request path feeds it (proxy/shadow.go).
package shadow

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
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
		c.walk(nil, n, t)
	}
	return c.diffs
}

type comparer struct {
	o     Options
	diffs []Difference
	// ignoreKeys are the last keys of Options.Ignore's paths: a path
	// whose last key is none of them is not written out to be looked up.
	ignoreKeys map[string]bool
}

func (c *comparer) add(d Difference) {
	if len(c.diffs) < c.o.MaxDifferences {
		c.diffs = append(c.diffs, d)
	}
}

// ignored reports whether the path at is one of Options.Ignore.
func (c *comparer) ignored(at *step) bool {
	if len(c.o.Ignore) == 0 {
		return false
	}
	if c.ignoreKeys == nil {
		c.ignoreKeys = map[string]bool{}
		for _, p := range c.o.Ignore {
			p = strings.TrimRight(p, "[]")
			c.ignoreKeys[p[strings.LastIndexByte(p, '.')+1:]] = true
		}
	}
	last := at
	for last != nil && last.index >= 0 {
		last = last.up
	}
	key := ""
	if last != nil {
		key = last.key
	}
	return c.ignoreKeys[key] && slices.Contains(c.o.Ignore, at.path(true))
}

// step is where a walk is: a key of its parent object (index < 0) or an
// index of its parent list. The path is written out only when needed.
type step struct {
	up    *step
	key   string
	index int
}

// path writes the path to s, "resources[3].entity.name"; general writes
// every index as "[]" (Generalize).
func (s *step) path(general bool) string {
	if s == nil {
		return ""
	}
	var parts []*step
	for at := s; at != nil; at = at.up {
		parts = append(parts, at)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		switch at := parts[i]; {
		case at.index >= 0 && general:
			b.WriteString("[]")
		case at.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(at.index))
			b.WriteByte(']')
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(at.key)
		}
	}
	return b.String()
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

func (c *comparer) walk(at *step, n, t value) {
	if c.ignored(at) {
		return
	}
	switch nv := n.(type) {
	case *object:
		tv, ok := t.(*object)
		if !ok {
			c.add(Difference{Kind: KindValue, Path: at.path(false), Native: cut(render(n)), Translated: cut(render(t))})
			return
		}
		if slices.Equal(nv.keys, tv.keys) {
			// The common case: the same keys in the same order.
			for i, k := range nv.keys {
				c.walk(&step{up: at, key: k, index: -1}, nv.vals[i], tv.vals[i])
			}
			return
		}
		var common []string
		for i, k := range nv.keys {
			if _, ok := tv.get(k); !ok {
				if child := (&step{up: at, key: k, index: -1}); !c.ignored(child) {
					c.add(Difference{Kind: KindMissingKey, Path: child.path(false), Native: cut(render(nv.vals[i]))})
				}
				continue
			}
			common = append(common, k)
		}
		var tcommon []string
		for i, k := range tv.keys {
			if _, ok := nv.get(k); !ok {
				if child := (&step{up: at, key: k, index: -1}); !c.ignored(child) {
					c.add(Difference{Kind: KindExtraKey, Path: child.path(false), Translated: cut(render(tv.vals[i]))})
				}
				continue
			}
			tcommon = append(tcommon, k)
		}
		if !slices.Equal(common, tcommon) {
			// Cloned: the keys share the bodies' bytes (parse).
			c.add(Difference{Kind: KindOrder, Path: at.path(false), Native: strings.Clone(strings.Join(common, ",")),
				Translated: strings.Clone(strings.Join(tcommon, ","))})
		}
		for _, k := range common {
			a, _ := nv.get(k)
			b, _ := tv.get(k)
			c.walk(&step{up: at, key: k, index: -1}, a, b)
		}
	case []value:
		tv, ok := t.([]value)
		if !ok || len(nv) != len(tv) {
			c.add(Difference{Kind: KindValue, Path: at.path(false), Native: cut(render(n)), Translated: cut(render(t))})
			if !ok {
				return
			}
		}
		for i := range min(len(nv), len(tv)) {
			c.walk(&step{up: at, index: i}, nv[i], tv[i])
		}
	default:
		if !c.sameScalar(at, n, t) {
			c.add(Difference{Kind: KindValue, Path: at.path(false), Native: cut(render(n)), Translated: cut(render(t))})
		}
	}
}

// sameScalar compares two scalars, with the latitude Options give: times
// within TimeSkew, and the paging URLs (next_url, prev_url) with their
// query parameters in any order.
func (c *comparer) sameScalar(at *step, n, t value) bool {
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
			if e1 != nil || e2 != nil {
				return false
			}
			if at != nil && secondsKeys[at.key] {
				// In float seconds: a Duration would overflow on values
				// far apart (seconds against milliseconds) and match.
				return math.Abs(a-b) <= c.o.TimeSkew.Seconds()
			}
			return a == b
		}
		return false
	}
	for _, layout := range timeLayouts {
		if tn, err := time.Parse(layout, ns); err == nil {
			if tt, err := time.Parse(layout, ts); err == nil {
				d := tn.Sub(tt)
				return d <= c.o.TimeSkew && -d <= c.o.TimeSkew
			}
		}
	}
	if at != nil && (at.key == "next_url" || at.key == "prev_url") {
		return sameURL(ns, ts)
	}
	return false
}

// timeLayouts are the times v2 answers carry: RFC 3339 (metadata, events)
// and the instance stats' usage time (cc:lib/cloud_controller/diego/
// reporters/instances_stats_reporter.rb, "2014-06-19 22:37:58 +0000").
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05 -0700"}

// secondsKeys are the numbers that are times in seconds, which two
// answers read a moment apart tell apart as they do the times: an
// instance's since (Unix seconds) and uptime, and the stats' uptime
// (cc:lib/cloud_controller/diego/reporters/instances_reporter.rb,
// instances_stats_reporter.rb: uptime is the reading's clock less since).
var secondsKeys = map[string]bool{"since": true, "uptime": true}

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

// object is a JSON object with its keys in order; vals[i] is keys[i]'s.
// Objects are small: a lookup is a scan, cheaper than a map's upkeep.
type object struct {
	keys []string
	vals []value
}

// get returns key's value.
func (o *object) get(key string) (value, bool) {
	for i, k := range o.keys {
		if k == key {
			return o.vals[i], true
		}
	}
	return nil, false
}

// parse reads JSON keeping the order of object keys. It is a small
// recursive-descent parser of its own: encoding/json's Decoder.Token,
// which it replaces, spent some 5 ms on the two bodies of a 50-app page,
// the most of a comparison's CPU (BenchmarkCompare).
func parse(b []byte) (value, error) {
	p := &parser{b: b}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if p.space(); p.i != len(p.b) {
		return nil, errors.New("shadow: trailing data")
	}
	return v, nil
}

// maxDepth bounds the nesting parse follows, as encoding/json's does.
const maxDepth = 10000

type parser struct {
	b []byte
	i int
}

var errSyntax = errors.New("shadow: not JSON")

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// eat consumes c, after white space, if it comes next.
func (p *parser) eat(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) value(depth int) (value, error) {
	if depth > maxDepth {
		return nil, errors.New("shadow: nested too deep")
	}
	p.space()
	if p.i >= len(p.b) {
		return nil, io.ErrUnexpectedEOF
	}
	switch c := p.b[p.i]; c {
	case '{':
		p.i++
		o := &object{}
		if p.eat('}') {
			return o, nil
		}
		for {
			p.space()
			key, err := p.str()
			if err != nil {
				return nil, err
			}
			if !p.eat(':') {
				return nil, errSyntax
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			// A repeated key keeps its place and takes the last value, as
			// encoding/json decodes it.
			if i := slices.Index(o.keys, key); i >= 0 {
				o.vals[i] = v
			} else {
				o.keys, o.vals = append(o.keys, key), append(o.vals, v)
			}
			if p.eat(',') {
				continue
			}
			if p.eat('}') {
				return o, nil
			}
			return nil, errSyntax
		}
	case '[':
		p.i++
		list := []value{}
		if p.eat(']') {
			return list, nil
		}
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
			if p.eat(',') {
				continue
			}
			if p.eat(']') {
				return list, nil
			}
			return nil, errSyntax
		}
	case '"':
		return p.str()
	case 't':
		return true, p.literal("true")
	case 'f':
		return false, p.literal("false")
	case 'n':
		return nil, p.literal("null")
	}
	start := p.i
	for p.i < len(p.b) && strings.IndexByte("+-.0123456789eE", p.b[p.i]) >= 0 {
		p.i++
	}
	if n := p.b[start:p.i]; len(n) > 0 && json.Valid(n) {
		return json.Number(unsafe.String(&n[0], len(n))), nil
	}
	return nil, errSyntax
}

func (p *parser) literal(word string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(word)) {
		return errSyntax
	}
	p.i += len(word)
	return nil
}

// str reads a string; one with escapes is decoded by encoding/json.
func (p *parser) str() (string, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", errSyntax
	}
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '\\':
			escaped = true
			p.i += 2
			continue
		case c == '"':
			p.i++
			raw := p.b[start+1 : p.i-1]
			if !escaped && utf8.Valid(raw) {
				// The string shares the body's bytes, which nothing
				// changes while Compare runs; what outlives it (paths,
				// rendered values) is copied.
				if len(raw) > 0 {
					return unsafe.String(&raw[0], len(raw)), nil
				}
				return "", nil
			}
			// Escapes, or bytes that are not UTF-8, which encoding/json
			// reads as U+FFFD.
			var out string
			if err := json.Unmarshal(p.b[start:p.i], &out); err != nil {
				return "", err
			}
			return out, nil
		case c < 0x20:
			return "", errSyntax
		}
		p.i++
	}
	return "", io.ErrUnexpectedEOF
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
			renderTo(b, x.vals[i])
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
