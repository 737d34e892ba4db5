package backend

import (
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"capibridge/backend/store"
)

// query is a parsed v3 query string. Values keep their raw (still
// percent-encoded) text; str and list decode them.
type query struct {
	raw   map[string]string
	order []string
}

// parseQuery splits a raw query string. Like Rails, the last of repeated
// keys wins.
func parseQuery(qs []byte) query {
	q := query{raw: map[string]string{}}
	for _, pair := range strings.Split(string(qs), "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		if _, seen := q.raw[key]; !seen {
			q.order = append(q.order, key)
		}
		q.raw[key] = v
	}
	return q
}

// allow rejects keys outside allowed with CC's BadQueryParameter text.
func (q query) allow(allowed ...string) error {
	var unknown []string
	for _, k := range q.order {
		if k = fieldsKey(k); !contains(allowed, k) && !contains(unknown, "'"+k+"'") {
			unknown = append(unknown, "'"+k+"'")
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	valid := make([]string, len(allowed))
	for i, a := range allowed {
		valid[i] = "'" + a + "'"
	}
	return errBadQuery("Unknown query parameter(s): " + strings.Join(unknown, ", ") + ". Valid parameters are: " + strings.Join(valid, ", "))
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func (q query) has(key string) bool {
	_, ok := q.raw[key]
	return ok
}

// str returns a decoded single value.
func (q query) str(key string) string {
	v, err := url.QueryUnescape(q.raw[key])
	if err != nil {
		return q.raw[key]
	}
	return v
}

// list returns a comma-separated filter read as CC's BaseMessage.to_array!
// reads it: the value is decoded (Rack already did that in CC), split on ","
// and the blanks after it, and each part is percent-decoded once more. So a
// comma inside a value is "%2C" in the value and "%252C" on the wire; a wire
// "%2C" separates (CC docs, "Query parameters": commas in list values are
// encoded twice). nil when the key is absent, so that an empty value
// ("names=") filters everything out.
func (q query) list(key string) []string {
	if !q.has(key) {
		return nil
	}
	out := []string{}
	v := q.str(key)
	if v == "" {
		return out
	}
	for _, part := range listSeparator.Split(v, -1) {
		if p, err := url.PathUnescape(part); err == nil {
			part = p
		}
		out = append(out, part)
	}
	return out
}

// listSeparator is to_array!'s split pattern.
var listSeparator = regexp.MustCompile(`,\s*`)

// boolean parses a "true"/"false" filter.
func (q query) boolean(key string) (*bool, error) {
	if !q.has(key) {
		return nil, nil
	}
	switch q.str(key) {
	case "true":
		t := true
		return &t, nil
	case "false":
		f := false
		return &f, nil
	}
	return nil, errBadQuery(humanize(key) + " must be a boolean")
}

// pageParams are the query keys every v3 list accepts.
var pageParams = []string{"page", "per_page", "order_by"}

// maxPerPage is CC's per_page limit (cc:app/messages/list_message.rb).
const maxPerPage = 5000

// page reads page, per_page and order_by; orders lists the order_by values
// the list accepts, each also with a "+" or "-" prefix.
func (q query) page(orders ...string) (store.Page, error) {
	p := store.Page{Page: 1, PerPage: 50}
	var problems []string
	// CC's PaginationPageValidator words both checks "must be a positive
	// integer"; only a per_page above the limit gets the range text.
	if q.has("page") {
		n, err := strconv.Atoi(q.str("page"))
		if err != nil || n < 1 {
			problems = append(problems, "Page must be a positive integer")
		} else {
			p.Page = n
		}
	}
	if q.has("per_page") {
		n, err := strconv.Atoi(q.str("per_page"))
		switch {
		case n > maxPerPage: // also a number too big for an int: Atoi gives MaxInt
			problems = append(problems, "Per page must be between 1 and 5000")
		case err != nil || n < 1:
			problems = append(problems, "Per page must be a positive integer")
		default:
			p.PerPage = n
		}
	}
	if q.has("order_by") {
		o := q.str("order_by")
		switch {
		case strings.HasPrefix(o, "-"):
			p.Desc, o = true, o[1:]
		case strings.HasPrefix(o, "+"):
			o = o[1:]
		}
		if !contains(orders, o) {
			quoted := make([]string, len(orders))
			for i, a := range orders {
				quoted[i] = "'" + a + "'"
			}
			problems = append(problems, "Order by can only be: "+strings.Join(quoted, ", "))
		}
		p.OrderBy = o
	}
	if len(problems) > 0 {
		return p, errBadQuery(strings.Join(problems, ", "))
	}
	// Guard the offset against overflow: a page that far out is empty anyway.
	if p.Page > 1<<40/p.PerPage {
		p.Page = 1<<40/p.PerPage + 1
	}
	return p, nil
}

// labels parses label_selector (CC docs, "Labels and selectors"):
// requirements separated by commas outside parentheses, each one of
// "key", "!key", "key=v", "key==v", "key!=v", "key in (a,b)", "key notin (a,b)".
func (q query) labels() ([]store.LabelReq, error) {
	if !q.has("label_selector") {
		return nil, nil
	}
	return parseLabelSelector(q.str("label_selector"))
}

func parseLabelSelector(sel string) ([]store.LabelReq, error) {
	bad := errBadQuery("Invalid label_selector value")
	if strings.TrimSpace(sel) == "" {
		return nil, errBadQuery("Missing label_selector value")
	}
	var reqs []store.LabelReq
	for _, part := range splitOutsideParens(sel) {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, bad
		}
		var r store.LabelReq
		switch {
		case strings.HasPrefix(part, "!"):
			r = store.LabelReq{Key: strings.TrimSpace(part[1:]), Op: store.LabelNotExists}
		case strings.Contains(part, "!="):
			k, v, _ := strings.Cut(part, "!=")
			r = store.LabelReq{Key: strings.TrimSpace(k), Op: store.LabelNotIn, Values: []string{strings.TrimSpace(v)}}
		case strings.Contains(part, "=="):
			k, v, _ := strings.Cut(part, "==")
			r = store.LabelReq{Key: strings.TrimSpace(k), Op: store.LabelIn, Values: []string{strings.TrimSpace(v)}}
		case strings.Contains(part, "="):
			k, v, _ := strings.Cut(part, "=")
			r = store.LabelReq{Key: strings.TrimSpace(k), Op: store.LabelIn, Values: []string{strings.TrimSpace(v)}}
		case strings.Contains(part, " notin "):
			k, set, _ := strings.Cut(part, " notin ")
			vals, ok := parseSet(set)
			if !ok {
				return nil, bad
			}
			r = store.LabelReq{Key: strings.TrimSpace(k), Op: store.LabelNotIn, Values: vals}
		case strings.Contains(part, " in "):
			k, set, _ := strings.Cut(part, " in ")
			vals, ok := parseSet(set)
			if !ok {
				return nil, bad
			}
			r = store.LabelReq{Key: strings.TrimSpace(k), Op: store.LabelIn, Values: vals}
		default:
			r = store.LabelReq{Key: part, Op: store.LabelExists}
		}
		if !labelKey.MatchString(r.Key) {
			return nil, bad
		}
		for _, v := range r.Values {
			if strings.ContainsAny(v, " ()!=,") {
				return nil, bad
			}
		}
		reqs = append(reqs, r)
	}
	return reqs, nil
}

// labelKey is MetadataHelpers::KEY_CHARACTERS: a requirement whose key has
// anything else matches none of CC's patterns, "Invalid label_selector value".
var labelKey = regexp.MustCompile(`^[\w\-./]+$`)

func splitOutsideParens(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func parseSet(s string) ([]string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return nil, false
	}
	var vals []string
	for _, v := range strings.Split(s[1:len(s)-1], ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			return nil, false
		}
		vals = append(vals, v)
	}
	return vals, true
}

// times parses a timestamp filter: key=t1,t2 (equality, each to the whole
// second) and key[lt|lte|gt|gte]=t.
func (q query) times(key string) ([]store.TimeCond, error) {
	var conds []store.TimeCond
	ops := []struct {
		suffix string
		op     store.TimeOp
	}{{"", store.TimeEq}, {"[lt]", store.TimeLt}, {"[lte]", store.TimeLte}, {"[gt]", store.TimeGt}, {"[gte]", store.TimeGte}}
	for _, o := range ops {
		vals := q.list(key + o.suffix)
		if vals == nil {
			continue
		}
		// CC's TimestampValidator: "key=" is [""], which no format accepts;
		// an operator takes one value; the format is exactly
		// YYYY-MM-DDThh:mm:ssZ (no offsets, no fractions).
		if len(vals) == 0 {
			vals = []string{""}
		}
		if o.op != store.TimeEq && len(vals) > 1 {
			return nil, errBadQuery(humanize(key) + " only accepts one value when using a relational operator")
		}
		c := store.TimeCond{Op: o.op}
		for _, v := range vals {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil || !ccTimestamp.MatchString(v) {
				return nil, errBadQuery(humanize(key) + " has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'")
			}
			c.Values = append(c.Values, t.Unix())
		}
		conds = append(conds, c)
	}
	return conds, nil
}

// ccTimestamp is the only timestamp form CC's filters accept.
var ccTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)

// timeKeys lists a timestamp filter's query keys, for allow().
func timeKeys(key string) []string {
	return []string{key, key + "[lt]", key + "[lte]", key + "[gt]", key + "[gte]"}
}

func humanize(key string) string {
	s := strings.ReplaceAll(key, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// pagination builds v3's pagination object (cc:app/presenters/v3/paginated_list_presenter.rb):
// absolute hrefs, page and per_page always present, the other parameters the
// request had, keys sorted and values escaped as Rails' to_query does.
func pagination(base, path string, q query, p store.Page, total int) paginationJSON {
	pages := (total + p.PerPage - 1) / p.PerPage
	if pages < 1 {
		pages = 1
	}
	href := func(page int) *link {
		keys := make([]string, 0, len(q.raw)+2)
		for k := range q.raw {
			if k != "page" && k != "per_page" {
				keys = append(keys, k)
			}
		}
		keys = append(keys, "page", "per_page")
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString(base)
		b.WriteString(path)
		for i, k := range keys {
			if i == 0 {
				b.WriteByte('?')
			} else {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			switch k {
			case "page":
				b.WriteString(strconv.Itoa(page))
			case "per_page":
				b.WriteString(strconv.Itoa(p.PerPage))
			default:
				b.WriteString(url.QueryEscape(q.str(k)))
			}
		}
		return &link{Href: b.String()}
	}
	pj := paginationJSON{TotalResults: total, TotalPages: pages, First: href(1), Last: href(pages)}
	if p.Page < pages {
		pj.Next = href(p.Page + 1)
	}
	if p.Page > 1 {
		pj.Previous = href(p.Page - 1)
	}
	return pj
}
