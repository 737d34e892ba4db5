package translate

import (
	"net/url"
	"strings"
)

// Op is a v2 q comparison operator.
type Op string

// The v2 q operators, as CC's Query#parse yields them (":" is reported as
// "=", and " IN " as "IN"). cc:lib/vcap/rest_api/query.rb, MAPPING §3.1.
const (
	OpEq Op = "="
	OpGe Op = ">="
	OpLe Op = "<="
	OpLt Op = "<"
	OpGt Op = ">"
	OpIn Op = "IN"
)

// Filter is one segment of a v2 q parameter: Key Op Values. Values has
// exactly one element, except for OpIn, where it holds the value split on
// "," with Ruby's String#split rules (empty elements kept, trailing empty
// ones dropped), so it may be empty.
//
// Op is kept as the client wrote it, also for keys on which CC ignores it:
// see ForeignKey.
type Filter struct {
	Key    string
	Op     Op
	Values []string
}

// ForeignKey reports whether the filter's key names an association
// ("*_guid": space_guid, organization_guid, stack_guid for apps). CC's
// clean_up_foreign_key turns such a filter into
// {assoc => Model.filter(guid: values)}, ignoring the operator, so
// "space_guid>x" means "space_guid:x" and only OpIn (several values)
// differs from the rest (MAPPING §3.1). Consumers must treat Op as OpEq
// for these filters unless it is OpIn.
func (f Filter) ForeignKey() bool {
	return len(f.Key) > len("_guid") && strings.HasSuffix(f.Key, "_guid")
}

// AppQueryKeys returns the q keys /v2/apps accepts (AppsController
// query_parameters, MAPPING §3.1), for ParseQ.
func AppQueryKeys() []string {
	return []string{"name", "space_guid", "organization_guid", "diego", "stack_guid"}
}

// ParseQ parses every q value of a request (already URL-decoded, in request
// order) with CC's grammar (cc:lib/vcap/rest_api/query.rb Query#parse,
// MAPPING §3.1):
//
//   - each value is split on ";" after ";;" is set aside as a literal ";";
//     like Ruby's String#split, trailing empty segments are dropped (so "q=" and
//     "q=;" filter nothing) but a leading one (";name:a") is kept and fails
//     as the key "";
//   - each segment is cut at the leftmost operator among ":", ">=", "<=", "<",
//     ">", " IN " (the alternation order of CC's regexp decides a tie, so ">="
//     wins over ">" at the same position); the key must be one of allowed
//     (case-sensitive), else BadQueryParameter names it;
//   - " IN " splits its value on ",".
//
// A segment with no operator at all is answered BadQueryParameter with the
// segment as the key. CC does not check for this case: an allowed key without
// operator reaches the SQL as "key  ?" or "key IS NULL", which depending on
// the key and the database is an empty result or a database error. 400
// naming the segment is the explicit, stable choice.
//
// Filters are returned in request order; repeated keys are all kept (CC
// ANDs every segment).
func ParseQ(qs []string, allowed []string) ([]Filter, error) {
	n := 0
	for _, q := range qs {
		n += strings.Count(q, ";") + 1
	}
	var out []Filter
	var singles []string // shared backing array for one-value filters
	for _, q := range qs {
		for i := 0; i < len(q); {
			seg, next := nextQSegment(q, i)
			i = next
			if seg == "" && next >= len(q) {
				// Ruby's split drops trailing empty fields.
				break
			}
			if out == nil {
				out = make([]Filter, 0, n)
				singles = make([]string, 0, n)
			}
			key, op, val, ok := cutQSegment(seg)
			if !ok {
				// No operator: the whole segment is the key.
				return nil, BadQueryParameter(seg)
			}
			if !keyAllowed(allowed, key) {
				return nil, BadQueryParameter(key)
			}
			f := Filter{Key: key, Op: op}
			if op == OpIn {
				f.Values = rubySplitComma(val)
			} else {
				singles = append(singles, val)
				f.Values = singles[len(singles)-1 : len(singles) : len(singles)]
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// nextQSegment returns the segment of q that starts at i and the index
// after its ";" separator. CC replaces ";;" (left to right, without
// overlap) by a placeholder before splitting on ";" and puts ";" back, so
// ";;;" is a literal ";" followed by a separator. Consecutive separators
// cannot occur (they are an escape), so an empty segment is either the
// first (q starts with ";", which CC rejects as the key "") or the last
// (dropped by Ruby's String#split, which the caller does).
func nextQSegment(q string, i int) (string, int) {
	j, escaped := i, false
	for j < len(q) {
		if q[j] == ';' {
			if j+1 < len(q) && q[j+1] == ';' {
				escaped = true
				j += 2
				continue
			}
			break
		}
		j++
	}
	seg := q[i:j]
	if escaped {
		seg = strings.ReplaceAll(seg, ";;", ";")
	}
	return seg, j + 1
}

// cutQSegment splits a segment at its leftmost operator, as
// segment.split(/(:|>=|<=|<|>| IN )/, 2) does.
func cutQSegment(seg string) (key string, op Op, val string, ok bool) {
	for i := 0; i < len(seg); i++ {
		n := 0
		switch seg[i] {
		case ':':
			op, n = OpEq, 1
		case '>':
			op, n = OpGt, 1
			if i+1 < len(seg) && seg[i+1] == '=' {
				op, n = OpGe, 2
			}
		case '<':
			op, n = OpLt, 1
			if i+1 < len(seg) && seg[i+1] == '=' {
				op, n = OpLe, 2
			}
		case ' ':
			if strings.HasPrefix(seg[i:], " IN ") {
				op, n = OpIn, 4
			}
		}
		if n > 0 {
			return seg[:i], op, seg[i+n:], true
		}
	}
	return "", "", "", false
}

// rubySplitComma is Ruby's s.split(","): empty fields are kept except at the
// end, so "" and "," give no fields and "a,,b," gives a, "", b. The result is
// never nil.
func rubySplitComma(s string) []string {
	fields := strings.Split(s, ",")
	for len(fields) > 0 && fields[len(fields)-1] == "" {
		fields = fields[:len(fields)-1]
	}
	if fields == nil {
		fields = []string{}
	}
	return fields
}

func keyAllowed(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// AppQuery is the v3 form of a /v2/apps q (MAPPING §3.3). Check Empty
// first: when it is set the other fields are incomplete and no upstream
// call is needed.
type AppQuery struct {
	// Names, SpaceGUIDs, OrgGUIDs and StackGUIDs are the v3 filters
	// (names, space_guids, organization_guids, and stack guids that the
	// caller resolves to stack names for stacks=). nil means no filter; a
	// non-nil empty slice matches nothing (and then Empty is set). A value
	// may contain ",", which the caller must send as %2C.
	Names, SpaceGUIDs, OrgGUIDs, StackGUIDs []string
	// Empty reports a filter that can never match: diego other than
	// true/t, an empty name or guid, or ANDed value sets whose
	// intersection is empty.
	Empty bool
	// Local holds the filters v3 cannot express (name with <, >, <=, >=).
	// When it is non-empty the gateway pages through every matching v3 app,
	// keeps those for which Match is true and paginates itself.
	Local []Filter
	// names are the lower-cased Names the gateway matches itself
	// (NamesLocal), nil when v3 does.
	names map[string]struct{}
}

// NamesLocal moves the names filter from v3 to the gateway when its
// values would take more than budget bytes of the upstream's URL (the
// names= parameter as the v3 client escapes it): a 5,000-name "name IN"
// is some 50 KiB of request line, and a Cloud Controller behind nginx
// refuses one over 8 KiB (large_client_header_buffers) with 414. The
// gateway then reads every v3 match of the other filters (Scan) and keeps
// the apps whose name is one of them (Match), within the same bound as
// the other local filters.
func (q *AppQuery) NamesLocal(budget int) {
	if q.Names == nil || q.Empty {
		return
	}
	size := 0
	for _, n := range q.Names {
		// ccv3 sends a "," inside a name as %2C, and the query's own
		// escaping makes that %252C; the separator is %2C.
		size += len(url.QueryEscape(strings.ReplaceAll(n, ",", "%2C"))) + len("%2C")
	}
	if size <= budget {
		return
	}
	q.names = make(map[string]struct{}, len(q.Names))
	for _, n := range q.Names {
		q.names[strings.ToLower(n)] = struct{}{}
	}
	q.Names = nil
}

// Scan reports whether the gateway must read every v3 match and filter
// them itself: Local filters, or names kept by NamesLocal.
func (q AppQuery) Scan() bool { return len(q.Local) > 0 || q.names != nil }

// AppQueryFromFilters translates parsed /v2/apps filters (ParseQ with
// AppQueryKeys) to v3 (MAPPING §3.3). The same key repeated ANDs, so value
// sets are intersected: names case-insensitively (the v2 and v3 name
// columns are case-insensitive; the first spelling is kept), guids exactly.
// space_guid, organization_guid and stack_guid ignore the operator
// (Filter.ForeignKey). Filters on other keys are ignored.
func AppQueryFromFilters(fs []Filter) AppQuery {
	var q AppQuery
	for _, f := range fs {
		switch f.Key {
		case "name":
			switch f.Op {
			case OpEq, OpIn:
				q.Names = intersectValues(q.Names, f.Values, true)
			default:
				q.Local = append(q.Local, f)
			}
		case "space_guid":
			q.SpaceGUIDs = intersectValues(q.SpaceGUIDs, f.Values, false)
		case "organization_guid":
			q.OrgGUIDs = intersectValues(q.OrgGUIDs, f.Values, false)
		case "stack_guid":
			q.StackGUIDs = intersectValues(q.StackGUIDs, f.Values, false)
		case "diego":
			if !diegoMatches(f) {
				q.Empty = true
			}
		}
	}
	if q.Names != nil && len(q.Local) > 0 {
		// A name that fails a local filter cannot be the name of a
		// matching app (both compare case-insensitively), so v3 need not
		// be asked for it. Local stays, for Match on the v3 results.
		kept := make([]string, 0, len(q.Names))
		for _, n := range q.Names {
			if matchLocal(q.Local, n) {
				kept = append(kept, n)
			}
		}
		q.Names = kept
	}
	for _, set := range [][]string{q.Names, q.SpaceGUIDs, q.OrgGUIDs, q.StackGUIDs} {
		if set != nil && len(set) == 0 {
			q.Empty = true
		}
	}
	return q
}

// intersectValues ANDs a filter's values into the set so far (nil = no
// filter yet). Empty values are dropped: every app has a non-empty name and
// every row a non-empty guid, so "" matches nothing. Duplicates are
// dropped; of the set, the first spelling is kept. The result is non-nil.
// It runs in time linear in the values: a q may name thousands.
func intersectValues(set, values []string, fold bool) []string {
	norm := func(s string) string {
		if fold {
			return strings.ToLower(s)
		}
		return s
	}
	var in map[string]string
	if set != nil {
		in = make(map[string]string, len(set))
		for _, w := range set {
			if k := norm(w); in[k] == "" {
				in[k] = w
			}
		}
	}
	next := []string{}
	seen := make(map[string]struct{}, len(values))
	for _, v := range values {
		if v == "" {
			continue
		}
		k := norm(v)
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		if set == nil {
			next = append(next, v)
		} else if w, ok := in[k]; ok {
			next = append(next, w)
		}
	}
	return next
}

// diegoMatches evaluates a diego filter against CC's only possible value,
// true. CC casts each value with clean_up_boolean (true iff "t" or "true",
// case-sensitive) and compares the boolean column with the operator as
// written, so besides diego:true, "diego>=x" and "diego<=t" match every app
// and "diego<x" none (SQL orders false before true).
func diegoMatches(f Filter) bool {
	if f.Op == OpIn {
		for _, v := range f.Values {
			if v == "t" || v == "true" {
				return true
			}
		}
		return false
	}
	if len(f.Values) != 1 {
		return false
	}
	b := f.Values[0] == "t" || f.Values[0] == "true"
	switch f.Op {
	case OpEq, OpLe:
		return b
	case OpGe:
		return true
	case OpGt:
		return !b
	default: // OpLt: nothing is below false, and true < true is false.
		return false
	}
}

// Match reports whether an app with this name passes q's Local filters;
// it is false when q is Empty. Comparisons are case-insensitive, as CC's
// name column is (cc:db/migrations/20160914165525_migrate_v2_app_data_to_v3.rb,
// case_insensitive: true): both sides are lower-cased and compared
// bytewise, which is the order of a PostgreSQL citext column under the C
// collation. MySQL's *_general_ci collations fold to upper case instead, so
// for names containing one of [\]^_` the order of < and > may differ there.
//
// The filters are applied as CC's SQL does: "name IN" with no values and
// "name:" match nothing, while "name>=" (the empty string) matches every
// name and "name<=" none, since no app name is empty.
func (q AppQuery) Match(name string) bool {
	if q.Empty {
		return false
	}
	if q.names != nil {
		if _, ok := q.names[strings.ToLower(name)]; !ok {
			return false
		}
	}
	return matchLocal(q.Local, name)
}

func matchLocal(fs []Filter, name string) bool {
	n := strings.ToLower(name)
	for _, f := range fs {
		if f.Key != "name" {
			continue
		}
		if !matchName(f, n) {
			return false
		}
	}
	return true
}

// Matches applies f to the value v of its key, for lists the gateway
// filters itself: a foreign key ("*_guid") is an equality or IN whatever
// the operator (ForeignKey), any other key compares as names do,
// case-insensitively.
func (f Filter) Matches(v string) bool {
	if f.ForeignKey() {
		for _, want := range f.Values {
			if want == v {
				return true
			}
		}
		return false
	}
	return matchName(f, strings.ToLower(v))
}

// MatchAll reports whether a resource passes every filter; field returns
// the resource's value of a key.
func MatchAll(fs []Filter, field func(key string) string) bool {
	for _, f := range fs {
		if !f.Matches(field(f.Key)) {
			return false
		}
	}
	return true
}

// matchName applies one name filter to an already lower-cased name.
func matchName(f Filter, n string) bool {
	if f.Op == OpIn {
		for _, v := range f.Values {
			if v != "" && strings.ToLower(v) == n {
				return true
			}
		}
		return false
	}
	if len(f.Values) != 1 {
		return false
	}
	return holds(f.Op, strings.Compare(n, strings.ToLower(f.Values[0])))
}

// holds says whether a comparison's result c (strings.Compare's) satisfies
// the relational operator op; IN is not one.
func holds(op Op, c int) bool {
	switch op {
	case OpEq:
		return c == 0
	case OpLt:
		return c < 0
	case OpGt:
		return c > 0
	case OpLe:
		return c <= 0
	case OpGe:
		return c >= 0
	}
	return false
}
