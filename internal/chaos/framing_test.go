package chaos

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawAnswer is one response read off a raw connection.
type rawAnswer struct {
	status int
	header http.Header
	body   []byte
}

// rawResult is what a raw conversation got: the answers in order, whether
// the gateway closed the connection (rather than leaving it open until
// the client's deadline), and the first read error other than a close.
type rawResult struct {
	answers []rawAnswer
	closed  bool
	err     error
}

// converse writes raw on one new connection to addr (in the background:
// a server may answer before it has read everything) and reads every
// answer until the gateway closes the connection or wait passes.
func converse(addr string, raw []byte, wait time.Duration) rawResult {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return rawResult{err: err}
	}
	defer c.Close()
	go func() {
		_ = c.SetWriteDeadline(time.Now().Add(wait))
		_, _ = c.Write(raw)
	}()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	br := bufio.NewReader(c)
	var res rawResult
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF) && len(res.answers) > 0:
				res.closed = true
			default:
				if isReset(err) {
					res.closed = true
				}
				if len(res.answers) == 0 {
					res.err = err
				}
			}
			return res
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res.answers = append(res.answers, rawAnswer{status: resp.StatusCode, header: resp.Header, body: body})
		if err != nil {
			res.closed = isReset(err) || errors.Is(err, io.ErrUnexpectedEOF)
			return res
		}
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// framingCase is one raw request and what the gateway must answer.
type framingCase struct {
	name string
	raw  string
	// status is the answer's status, in the CF shape.
	status int
	// smuggles marks a case whose body carries a second request: the
	// gateway must answer once and close the connection.
	smuggles bool
	// notRouted is a body fragment the answer must not carry (a dot-segment
	// path must not be routed to the collection it resolves to).
	notRouted string
}

// testFraming: raw-socket framing and smuggling cases (RFC 9112 §6.1,
// §6.3, §5, §2.2; RFC 9110 §7.6.1), each answered with its status in the CF
// shape, never a second request read from a body. Every smuggled request
// would create an app named smuggled-…; none may exist afterwards.
func testFraming(t *testing.T, s *stack, tb *table) {
	dev := s.tokens["developer"]
	host := s.a.host
	smuggled := func(name string) string {
		body := fmt.Sprintf(`{"name":"smuggled-%s","relationships":{"space":{"data":{"guid":%q}}}}`, name, demoSpace)
		return "POST /v3/apps HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: bearer " + dev +
			"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	head := func(method, path string) string {
		return method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: bearer " + dev + "\r\nContent-Type: application/json\r\n"
	}
	chunk := func(s string) string { return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(s), s) }
	create := fmt.Sprintf(`{"name":"framing-ok","relationships":{"space":{"data":{"guid":%q}}}}`, demoSpace)
	v2create := fmt.Sprintf(`{"name":"framing-v2","space_guid":%q}`, demoSpace)
	get := func(path string) string { return head("GET", path) + "\r\n" }
	cases := []framingCase{
		{name: "Transfer-Encoding identity, no length", raw: head("POST", "/v3/apps") + "Transfer-Encoding: identity\r\n\r\n" + smuggled("te-identity"), status: 400, smuggles: true},
		{name: "Transfer-Encoding identity on v2", raw: head("POST", "/v2/apps") + "Transfer-Encoding: identity\r\n\r\n" + smuggled("te-identity-v2"), status: 400, smuggles: true},
		{name: "Transfer-Encoding identity with a length", raw: head("POST", "/v3/apps") + "Transfer-Encoding: identity\r\nContent-Length: 0\r\n\r\n" + smuggled("te-identity-cl"), status: 400, smuggles: true},
		{name: "TE chunked and CL (TE.CL)", raw: head("POST", "/v3/apps") + "Transfer-Encoding: chunked\r\nContent-Length: " + strconv.Itoa(len(chunk(create))+len(smuggled("te-cl"))) + "\r\n\r\n" + chunk(create) + smuggled("te-cl"), status: 400, smuggles: true},
		{name: "CL and TE chunked (CL.TE)", raw: head("POST", "/v3/apps") + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(create) + smuggled("cl-te"), status: 400, smuggles: true},
		{name: "CL and TE chunked on v2", raw: head("POST", "/v2/apps") + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(v2create) + smuggled("cl-te-v2"), status: 400, smuggles: true},
		{name: "Transfer-Encoding chunked, identity", raw: head("POST", "/v3/apps") + "Transfer-Encoding: chunked, identity\r\n\r\n" + chunk(create) + smuggled("te-list"), status: 400, smuggles: true},
		{name: "Transfer-Encoding twice", raw: head("POST", "/v3/apps") + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(create) + smuggled("te-twice"), status: 400, smuggles: true},
		{name: "two Content-Lengths", raw: head("POST", "/v3/apps") + "Content-Length: 0\r\nContent-Length: " + strconv.Itoa(len(create)) + "\r\n\r\n" + create + smuggled("cl-twice"), status: 400, smuggles: true},
		{name: "negative Content-Length", raw: head("POST", "/v3/apps") + "Content-Length: -1\r\n\r\n" + smuggled("cl-negative"), status: 400, smuggles: true},
		{name: "bad chunk size", raw: head("POST", "/v3/apps") + "Transfer-Encoding: chunked\r\n\r\nzz\r\n" + create + "\r\n0\r\n\r\n" + smuggled("bad-chunk"), status: 400, smuggles: true},
		{name: "chunk size overflowing 64 bits", raw: head("POST", "/v3/apps") + "Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n" + create + "\r\n0\r\n\r\n" + smuggled("chunk-overflow"), status: 400, smuggles: true},
		{name: "bare LF line endings", raw: strings.ReplaceAll(get("/v2/apps"), "\r\n", "\n"), status: 400},
		{name: "a bare LF among CRLFs", raw: "GET /v2/apps HTTP/1.1\r\nHost: " + host + "\nAuthorization: bearer " + dev + "\r\n\r\n", status: 400},
		{name: "HTTP/2.0 request line", raw: strings.Replace(get("/v2/apps"), "HTTP/1.1", "HTTP/2.0", 1), status: 505},
		{name: "header name with a space", raw: head("GET", "/v2/apps") + "X-Chaos Name: y\r\n\r\n", status: 400},
		{name: "space before a header's colon", raw: head("GET", "/v2/apps") + "X-Chaos : y\r\n\r\n", status: 400},
		{name: "dot segments, encoded", raw: get("/v2/apps/%2e%2e/%2e%2e/v3/apps"), status: 404, notRouted: `"pagination"`},
		{name: "dot segments, encoded in capitals", raw: get("/v2/apps/%2E%2E/%2E%2E/v3/apps"), status: 404, notRouted: `"pagination"`},
		{name: "dot segment, plain", raw: get("/v2/./v3/apps"), status: 404, notRouted: `"pagination"`},
		{name: "dot-dot segments, plain", raw: get("/v2/apps/../../v3/apps"), status: 404, notRouted: `"pagination"`},
		{name: "dot segments and an encoded slash", raw: get("/v3/apps/..%2f..%2fv2%2fapps"), status: 404, notRouted: `"total_results"`},
		{name: "dot segment in the absolute form", raw: get("http://" + host + "/v2/./v3/apps"), status: 404, notRouted: `"pagination"`},
		{name: "a 100 KB token", raw: "GET /v2/apps HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: bearer " + strings.Repeat("a", 100<<10) + "\r\n\r\n", status: 431},
		{name: "a 64 KB URL", raw: get("/v2/apps?q=name:" + strings.Repeat("a", 64<<10)), status: 414},
		{name: "Connection names Content-Length", raw: head("POST", "/v3/apps") + "Connection: Content-Length\r\nContent-Length: " + strconv.Itoa(len(create)) + "\r\n\r\n" + create, status: 201},
	}
	var c tally
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, len(cases))
	const wait = 5 * time.Second
	for _, fc := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res := converse(host, []byte(fc.raw), wait)
			problem := framingProblem(fc, res)
			mu.Lock()
			c.check(fc.name, problem)
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Nothing smuggled ran: no app of that name exists.
	var page struct {
		Resources []struct{ Name string }
	}
	if err := s.cfJSON("/v3/apps?per_page=5000", &page); err != nil {
		t.Fatal(err)
	}
	var ran []string
	for _, a := range page.Resources {
		if strings.HasPrefix(a.Name, "smuggled-") {
			ran = append(ran, a.Name)
		}
	}
	if len(ran) > 0 {
		c.fail("smuggled requests ran: %v", ran)
	} else {
		c.ok()
	}
	c.report(t, tb, "framing and smuggling (raw sockets)", fmt.Sprintf("%d cases; smuggled apps created: %d", len(cases), len(ran)))
}

func framingProblem(fc framingCase, res rawResult) string {
	if len(res.answers) == 0 {
		if res.err != nil {
			return fmt.Sprintf("no answer (%v), want %d", res.err, fc.status)
		}
		return fmt.Sprintf("no answer within the wait (closed: %v), want %d", res.closed, fc.status)
	}
	first := res.answers[0]
	if fc.status < 300 {
		if first.status != fc.status {
			return fmt.Sprintf("status %d, want %d: %s", first.status, fc.status, snippet(first.body))
		}
	} else if p := shapeProblem(first.status, first.body, fc.status, "any"); p != "" {
		return p
	}
	if fc.notRouted != "" && strings.Contains(string(first.body), fc.notRouted) {
		return "routed to another collection: " + snippet(first.body)
	}
	if fc.smuggles {
		if len(res.answers) > 1 {
			return fmt.Sprintf("%d answers on one connection: the body was read as a request (second: %d %s)",
				len(res.answers), res.answers[1].status, snippet(res.answers[1].body))
		}
		if !res.closed {
			return "the connection stayed open after the refusal"
		}
	}
	return ""
}
