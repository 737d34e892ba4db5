package translate

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// CC's renderer defaults: renderer.default_results_per_page and
// renderer.max_results_per_page in capi-release jobs/cloud_controller_ng/spec
// (MAPPING §3.1).
const (
	defaultResultsPerPage = 50
	maxResultsPerPage     = 100
)

// ListParams are the parameters of a v2 list request, as CC's CommonParams
// reads them (cc:lib/cloud_controller/rest_controller/common_params.rb).
// Fields that next_url repeats only when the request had them carry a Has
// flag, or are nil when absent.
type ListParams struct {
	// Page is the 1-based page; 1 when absent.
	Page int
	// ResultsPerPage is the effective page size: 50 when absent.
	ResultsPerPage int
	// OrderDirection is "asc" (the default) or "desc".
	OrderDirection string
	// OrderBy is the order-by value as given, "" if none; HasOrderBy tells
	// "order-by=" from no order-by.
	OrderBy    string
	HasOrderBy bool
	// InlineRelationsDepth is inline-relations-depth (0 when absent; may be
	// negative: CC checks only the maximum).
	InlineRelationsDepth int
	HasDepth             bool
	// Q holds the decoded q values in request order (nil when none); parse
	// them with ParseQ.
	Q []string
	// OrphanRelations is the integer value of orphan-relations; CC adds
	// "orphans" only when it is 1 (see Orphans).
	OrphanRelations    int
	HasOrphanRelations bool
	// IncludeRelations and ExcludeRelations are the comma-separated lists
	// split as Ruby's split(",") does. nil means the parameter was absent;
	// a non-nil empty list means it was present and empty (CC then
	// inlines nothing for include-relations).
	IncludeRelations, ExcludeRelations []string
	// Preserved are the parameters a controller keeps in its page urls
	// (preserve_query_parameters; §10.1.2), written after
	// results-per-page: only keys that sort after it.
	Preserved [][2]string
}

// Orphans reports whether the response carries "orphans"
// (PaginatedCollectionRenderer: opts[:orphan_relations] == 1).
func (lp ListParams) Orphans() bool {
	return lp.HasOrphanRelations && lp.OrphanRelations == 1
}

// Offset is the number of results before lp.Page: (Page-1)*ResultsPerPage.
// ParseListParams guarantees it does not overflow.
func (lp ListParams) Offset() int {
	return (lp.Page - 1) * lp.ResultsPerPage
}

// ParseListParams reads a v2 list request's parameters from its query pairs
// (decoded as Rack and CGI.parse decode them, "+" being a space; in request
// order, repeated keys kept). Checks, in CC's order:
//
//  1. page, results-per-page, inline-relations-depth and orphan-relations go
//     through Ruby's Integer(): "010" is 8, "0x10" 16, " 2 " 2, "1_0" 10, and
//     anything else ("", "2.0", "abc") raises, which CC answers 500
//     UnknownError. We reproduce that 500 rather than invent a 400
//     (MAPPING §3.1 allows either; §8 notes it is inferred from the code).
//  2. results-per-page > 100: 400 BadQueryParameter "results_per_page must
//     be <= 100".
//  3. inline-relations-depth > maxDepth: 400 BadQueryParameter
//     "inline_relations_depth must be <= N" (N is 2 in production, §1.3).
//  4. order-direction other than exactly "asc" or "desc" (also an empty
//     one): 400 BadQueryParameter "order_direction must be 'asc' or 'desc'
//     but was '<x>'" (OrderApplicator#validate!).
//  5. page < 1 or results-per-page < 1: Sequel's paginate raises, 500
//     UnknownError; so does a page whose offset overflows 64 bits, which
//     the database would reject.
//
// CC parses q (400 on a bad key) before checks 2 to 5, and rejects order-by
// per resource (CheckOrderBy); a request wrong in two ways may therefore
// get a different one of its errors here than from CC.
//
// A key given twice keeps its last value, as Rack's params do, except q,
// which CC collects in full with CGI.parse. Parameters CC does not know are
// ignored and are not carried into next_url (AppsController preserves no
// extra parameter). A key without "=" arrives as an empty value; Rack would
// treat it as absent.
//
// On error the returned ListParams is the zero value and the error is a
// *Error.
func ParseListParams(pairs [][2]string, maxDepth int) (ListParams, error) {
	lp, err := parseCommonParams(pairs)
	if err != nil {
		return ListParams{}, err
	}
	// PaginatedCollectionRenderer#render_json, in its order.
	if lp.ResultsPerPage > maxResultsPerPage {
		return ListParams{}, BadQueryParameter("results_per_page must be <= " + strconv.Itoa(maxResultsPerPage))
	}
	if lp.InlineRelationsDepth > maxDepth {
		return ListParams{}, BadQueryParameter("inline_relations_depth must be <= " + strconv.Itoa(maxDepth))
	}
	if lp.OrderDirection != "asc" && lp.OrderDirection != "desc" {
		return ListParams{}, BadQueryParameter("order_direction must be 'asc' or 'desc' but was '" + lp.OrderDirection + "'")
	}
	if lp.Page < 1 || lp.ResultsPerPage < 1 || lp.Page-1 > math.MaxInt/lp.ResultsPerPage {
		return ListParams{}, UnknownError()
	}
	return lp, nil
}

// ParseObjectParams is ParseListParams for the GET of one resource: CC's
// CommonParams read the integers for every request (check 1), but its
// ObjectRenderer checks only the inline depth (check 3); paging and order
// parameters mean nothing there and are not checked.
func ParseObjectParams(pairs [][2]string, maxDepth int) (ListParams, error) {
	lp, err := parseCommonParams(pairs)
	if err != nil {
		return ListParams{}, err
	}
	if lp.InlineRelationsDepth > maxDepth {
		return ListParams{}, BadQueryParameter("inline_relations_depth must be <= " + strconv.Itoa(maxDepth))
	}
	return lp, nil
}

// parseCommonParams reads the parameters as CC's CommonParams do: check 1
// (Integer() of the numbers), nothing else.
func parseCommonParams(pairs [][2]string) (ListParams, error) {
	lp := ListParams{Page: 1, ResultsPerPage: defaultResultsPerPage, OrderDirection: "asc"}
	var page, rpp, depth, orphan, dir, orderBy, incl, excl *string
	for i := range pairs {
		v := &pairs[i][1]
		switch pairs[i][0] {
		case "page":
			page = v
		case "results-per-page":
			rpp = v
		case "inline-relations-depth":
			depth = v
		case "orphan-relations":
			orphan = v
		case "order-direction":
			dir = v
		case "order-by":
			orderBy = v
		case "include-relations":
			incl = v
		case "exclude-relations":
			excl = v
		case "q":
			lp.Q = append(lp.Q, *v)
		}
	}

	for _, p := range []struct {
		raw *string
		dst *int
		has *bool
	}{
		{depth, &lp.InlineRelationsDepth, &lp.HasDepth},
		{page, &lp.Page, nil},
		{rpp, &lp.ResultsPerPage, nil},
		{orphan, &lp.OrphanRelations, &lp.HasOrphanRelations},
	} {
		if p.raw == nil {
			continue
		}
		n, ok := rubyInteger(*p.raw)
		if !ok {
			return ListParams{}, UnknownError()
		}
		*p.dst = n
		if p.has != nil {
			*p.has = true
		}
	}
	if dir != nil {
		lp.OrderDirection = *dir
	}
	if orderBy != nil {
		lp.OrderBy, lp.HasOrderBy = *orderBy, true
	}
	if incl != nil {
		lp.IncludeRelations = rubySplitComma(*incl)
	}
	if excl != nil {
		lp.ExcludeRelations = rubySplitComma(*excl)
	}
	return lp, nil
}

// rubyInteger converts s as Ruby's Kernel#Integer(String) does: surrounding
// whitespace allowed, an optional sign, the prefixes 0x, 0b, 0o, 0d and a
// bare leading 0 for octal, and single underscores between digits. Values
// beyond 64 bits saturate (Ruby would make a Bignum, which the later range
// checks reject the same way).
func rubyInteger(s string) (int, bool) {
	s = strings.Trim(s, " \t\n\v\f\r")
	if s == "" || strings.IndexByte(s, 0) >= 0 {
		return 0, false
	}
	sign, body := "", s
	if body[0] == '+' || body[0] == '-' {
		sign, body = body[:1], body[1:]
	}
	base := 0
	if len(body) >= 2 && body[0] == '0' {
		switch body[1] {
		case 'd', 'D':
			// Ruby's decimal prefix, which Go lacks.
			body, base = body[2:], 10
			if !rubyDigitsOK(body) {
				return 0, false
			}
			body = strings.ReplaceAll(body, "_", "")
		case 'x', 'X', 'b', 'B', 'o', 'O':
			// Go accepts "0x_1"; Ruby wants a digit after the prefix.
			if len(body) > 2 && body[2] == '_' {
				return 0, false
			}
		}
	}
	n, err := strconv.ParseInt(sign+body, base, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return int(n), true
}

// rubyDigitsOK reports whether s is decimal digits with single underscores
// between them.
func rubyDigitsOK(s string) bool {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '_' {
			return false
		}
	}
	return true
}

// CheckOrderBy rejects an order-by the resource does not allow with CC's
// OrderByParameterInvalid (10012, HTTP 500, "Cannot order by: <x>").
// /v2/apps allows none (AppsController never calls sortable_parameters,
// MAPPING §3.1): call CheckOrderBy(lp). Spaces and organizations allow
// "id" and "name", events "timestamp" and "id".
func CheckOrderBy(lp ListParams, allowed ...string) error {
	if !lp.HasOrderBy || keyAllowed(allowed, lp.OrderBy) {
		return nil
	}
	return OrderByParameterInvalid(lp.OrderBy)
}

// Page is the envelope of a v2 list response, without resources.
type Page struct {
	TotalResults int
	TotalPages   int
	PrevURL      *string
	NextURL      *string
}

// Paginate computes the v2 envelope for lp over total results, as Sequel's
// pagination extension does (MAPPING §3.1): total_pages = max(1,
// ceil(total/results_per_page)); next_url iff page < total_pages; prev_url
// iff page > 1, even past the last page (page 5 of 2 has prev_url to page
// 4 and no next_url). lp must come from ParseListParams.
func Paginate(lp ListParams, path string, total int) Page {
	rpp := max(lp.ResultsPerPage, 1)
	total = max(total, 0)
	pages := total / rpp
	if total%rpp != 0 {
		pages++
	}
	pages = max(pages, 1)
	p := Page{TotalResults: total, TotalPages: pages}
	if lp.Page > 1 {
		u := lp.ListURL(path, lp.Page-1)
		p.PrevURL = &u
	}
	if lp.Page >= 1 && lp.Page < pages {
		u := lp.ListURL(path, lp.Page+1)
		p.NextURL = &u
	}
	return p
}

// ListURL builds the prev_url/next_url for page as CC does (MAPPING §3.1,
// PaginatedCollectionRenderer#url): path followed by the parameters that
// Addressable's query_values= sorts by key and normalize then re-encodes.
// page, results-per-page (the effective value) and order-direction are
// always there; inline-relations-depth, order-by, orphan-relations and the
// relation lists only when the request had them; q once per request value,
// in request order. Integers are written in decimal, whatever form the
// request used. path is written as given.
//
// Values are encoded as Addressable's normalized query: ALPHA, DIGIT and
// -._~!$'()*,=:@/? stay literal; every other byte, "+" included, becomes
// %XX with upper-case hex (space %20, > %3E, ; %3B, & %26, + %2B).
//
// Deliberate differences from CC, all for values no client sends:
//   - include-relations and exclude-relations are written comma-joined, as
//     MAPPING §3.1 specifies. CC holds them as arrays after CommonParams
//     splits them, so Addressable writes include-relations=a&include-relations=b
//     and Rack reads back only the last one: page 2 of CC's own next_url
//     loses relations. An empty list is written as "include-relations=",
//     which CC drops (and so inlines everything on page 2).
//   - Addressable applies Unicode NFKC to each pair before encoding and
//     leaves the text "%2B" inside a value undecoded; here every value
//     keeps its exact bytes, so following next_url repeats the same query.
func (lp ListParams) ListURL(path string, page int) string {
	dir := lp.OrderDirection
	if dir == "" {
		dir = "asc"
	}
	n := len(path) + len("?order-direction=&page=&results-per-page=") + escapedLen(dir) + 40
	if lp.ExcludeRelations != nil {
		n += len("exclude-relations=&") + relationsLen(lp.ExcludeRelations)
	}
	if lp.IncludeRelations != nil {
		n += len("include-relations=&") + relationsLen(lp.IncludeRelations)
	}
	if lp.HasDepth {
		n += len("inline-relations-depth=&") + 20
	}
	if lp.HasOrderBy {
		n += len("order-by=&") + escapedLen(lp.OrderBy)
	}
	if lp.HasOrphanRelations {
		n += len("orphan-relations=&") + 20
	}
	for _, q := range lp.Q {
		n += len("q=&") + escapedLen(q)
	}

	var b strings.Builder
	b.Grow(n)
	b.WriteString(path)
	b.WriteByte('?')
	// The keys in Addressable's sort order (byte order of the key). A
	// preserved parameter sorts among them: after_guid before every fixed
	// key, return_user_provided_service_instances after them all (no
	// preserved key sorts between two fixed ones).
	for _, kv := range lp.Preserved {
		if kv[0] < "exclude-relations" {
			b.WriteString(kv[0])
			b.WriteByte('=')
			writeEscaped(&b, kv[1])
			b.WriteByte('&')
		}
	}
	if lp.ExcludeRelations != nil {
		b.WriteString("exclude-relations=")
		writeRelations(&b, lp.ExcludeRelations)
		b.WriteByte('&')
	}
	if lp.IncludeRelations != nil {
		b.WriteString("include-relations=")
		writeRelations(&b, lp.IncludeRelations)
		b.WriteByte('&')
	}
	if lp.HasDepth {
		b.WriteString("inline-relations-depth=")
		writeInt(&b, lp.InlineRelationsDepth)
		b.WriteByte('&')
	}
	if lp.HasOrderBy {
		b.WriteString("order-by=")
		writeEscaped(&b, lp.OrderBy)
		b.WriteByte('&')
	}
	b.WriteString("order-direction=")
	writeEscaped(&b, dir)
	if lp.HasOrphanRelations {
		b.WriteString("&orphan-relations=")
		writeInt(&b, lp.OrphanRelations)
	}
	b.WriteString("&page=")
	writeInt(&b, page)
	for _, q := range lp.Q {
		b.WriteString("&q=")
		writeEscaped(&b, q)
	}
	b.WriteString("&results-per-page=")
	writeInt(&b, lp.ResultsPerPage)
	for _, kv := range lp.Preserved {
		if kv[0] < "exclude-relations" {
			continue
		}
		b.WriteByte('&')
		b.WriteString(kv[0])
		b.WriteByte('=')
		writeEscaped(&b, kv[1])
	}
	return b.String()
}

// literalInQuery reports whether Addressable's normalized query keeps c as
// is: unreserved, the sub-delimiters but "&", ";" and "+" (left encoded),
// and ":@/?" (Addressable CharacterClasses::QUERY).
func literalInQuery(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '\'', '(', ')', '*', ',', '=', ':', '@', '/', '?':
		return true
	}
	return false
}

func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !literalInQuery(s[i]) {
			n += 2
		}
	}
	return n
}

func writeEscaped(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if literalInQuery(c) {
			continue
		}
		b.WriteString(s[start:i])
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xF])
		start = i + 1
	}
	b.WriteString(s[start:])
}

func relationsLen(rs []string) int {
	n := len(rs)
	for _, r := range rs {
		n += escapedLen(r)
	}
	return n
}

func writeRelations(b *strings.Builder, rs []string) {
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		writeEscaped(b, r)
	}
}

func writeInt(b *strings.Builder, n int) {
	var buf [20]byte
	b.Write(strconv.AppendInt(buf[:0], int64(n), 10))
}
