package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/configs"
)

// hostileAnswer is how a request the gateway refuses ended for its client:
// the answer, and how the connection ended after it (io.EOF for a clean
// close, a reset otherwise; nil when it stayed open).
type hostileAnswer struct {
	rawMessage
	end  error
	took time.Duration
}

// hostileExchange sends raw on a new connection (from another goroutine:
// the gateway may answer before it has read it all, and a stalled request
// is one that is never finished), reads one answer, then what follows it
// until the gateway closes the connection or 10 s more pass.
func hostileExchange(t testing.TB, addr string, raw []byte) hostileAnswer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	go func() { _, _ = c.Write(raw) }()
	_ = c.SetReadDeadline(start.Add(20 * time.Second))
	br := bufio.NewReader(c)
	m, err := readMessage(br)
	if err != nil {
		t.Fatalf("no answer after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	a := hostileAnswer{rawMessage: m, took: time.Since(start)}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, a.end = io.Copy(io.Discard, br)
	if a.end == nil {
		a.end = io.EOF
	}
	var ne net.Error
	if errors.As(a.end, &ne) && ne.Timeout() {
		a.end = nil
	}
	return a
}

// checkRefused checks a CF-shaped refusal: the status, the error code in
// the shape of the path, Connection: close, and a clean end of the
// connection after the answer (not a reset, which can destroy the answer
// before the client reads it).
func checkRefused(t testing.TB, a hostileAnswer, status int, v2 bool, code int) {
	t.Helper()
	if got := statusOf(t, a.rawMessage); got != status {
		t.Errorf("status %d, want %d: %.300s", got, status, a.body)
		return
	}
	if c := cfErrorCode(t, v2, a.body); c != code {
		t.Errorf("error code %d, want %d: %.300s", c, code, a.body)
	}
	wantType := contentTypeV3
	if v2 {
		wantType = contentTypeV2
	}
	if ct := a.header.Get("Content-Type"); ct != wantType {
		t.Errorf("Content-Type %q, want %q", ct, wantType)
	}
	if !strings.EqualFold(a.header.Get("Connection"), "close") {
		t.Errorf("Connection %q, want close", a.header.Get("Connection"))
	}
	switch {
	case a.end == nil:
		t.Error("the connection stayed open after the answer")
	case errors.Is(a.end, syscall.ECONNRESET):
		t.Errorf("the connection was reset after the answer: %v", a.end)
	case a.end != io.EOF:
		t.Errorf("the connection ended in %v after the answer", a.end)
	}
}

// TestHostileInput: requests the gateway will not serve as sent are each
// answered in the Cloud Controller's shape of their path (v2 on /v2, v3
// elsewhere), with a status that says what was wrong, never a 500 or a
// wait: a head line ending in a bare LF is answered long before
// server.read_timeout (30 s here) would end the wait.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	s := startStack(t, func(c *configs.Config) { c.Server.ReadTimeout = 30 * time.Second })
	small := s.gatewayFor(t, s.cfURL, func(c *configs.Config) {
		c.Server.ReadTimeout = 30 * time.Second
		c.Server.MaxRequestBodyBytes = 64 << 10
	})
	tok := "Authorization: bearer " + s.tokens["developer"] + "\r\n"
	host := "Host: " + s.gwHost() + "\r\n"
	space := "5ace0000-0000-4000-8000-000000000001"
	// A v2 create whose environment makes it size bytes of JSON.
	create := func(size int) string {
		pre := `{"name":"hostile","space_guid":"` + space + `","environment_json":{"K":"`
		return pre + strings.Repeat("v", max(0, size-len(pre)-3)) + `"}}`
	}
	chunked := func(body string) string { return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body) }
	post := func(path, fields, body string) string {
		return "POST " + path + " HTTP/1.1\r\n" + host + tok + "Content-Type: application/json\r\n" + fields + "\r\n" + body
	}
	big := create(10 << 20)
	for _, tc := range []struct {
		name   string
		gw     *stack
		raw    string
		status int
		v2     bool
		code   int
	}{
		{"a 10 MB JSON body on a v2 write", s, post("/v2/apps", "Content-Length: "+strconv.Itoa(len(big))+"\r\n", big), 413, true, 10004},
		{"a 10 MB chunked JSON body on a v2 write", s, post("/v2/apps", "Transfer-Encoding: chunked\r\n", chunked(big)), 413, true, 10004},
		{"a 10 MB chunked JSON body on a route write", s, post("/v2/routes", "Transfer-Encoding: chunked\r\n", chunked(big)), 413, true, 10004},
		{"a 10 MB JSON body on a domain write", s, post("/v2/shared_domains", "Content-Length: "+strconv.Itoa(len(big))+"\r\n", big), 413, true, 10004},
		{"a 10 MB JSON body on a v3 write", s, post("/v3/apps", "Content-Length: "+strconv.Itoa(len(big))+"\r\n", big), 413, false, 10004},
		{"a 10 MB chunked JSON body on a v3 write", s, post("/v3/apps", "Transfer-Encoding: chunked\r\n", chunked(big)), 413, false, 10004},
		{"a body over a configured limit", small, post("/v2/apps", "Content-Length: "+strconv.Itoa(100<<10)+"\r\n", create(100<<10)), 413, true, 10004},
		{"a chunked body over a configured limit", small, post("/v2/apps", "Transfer-Encoding: chunked\r\n", chunked(create(100<<10))), 413, true, 10004},
		{"a chunk size that is not hex, v2", s, post("/v2/apps", "Transfer-Encoding: chunked\r\n", "zz\r\nabc\r\n0\r\n\r\n"), 400, true, 1004},
		{"a chunk size that is not hex, v3", s, post("/v3/apps", "Transfer-Encoding: chunked\r\n", "zz\r\nabc\r\n0\r\n\r\n"), 400, false, 1004},
		{"a chunk not ended by CRLF", s, post("/v3/apps", "Transfer-Encoding: chunked\r\n", "3\r\nabcXY0\r\n\r\n"), 400, false, 1004},
		{"a header name with a space, v2", s, "GET /v2/apps HTTP/1.1\r\n" + host + tok + "Bad Name: x\r\n\r\n", 400, true, 1004},
		{"a header name with a space, v3", s, "GET /v3/apps HTTP/1.1\r\n" + host + tok + "Bad Name: x\r\n\r\n", 400, false, 1004},
		{"HTTP/2.0, v2", s, "GET /v2/apps HTTP/2.0\r\n" + host + tok + "\r\n", 505, true, 10004},
		{"HTTP/2.0, v3", s, "GET /v3/apps HTTP/2.0\r\n" + host + tok + "\r\n", 505, false, 10004},
		{"HTTP/0.9", s, "GET /v3/apps HTTP/0.9\r\n" + host + tok + "\r\n", 505, false, 10004},
		{"bare LF line endings, v2", s, strings.ReplaceAll("GET /v2/apps HTTP/1.1\r\n"+host+tok+"\r\n", "\r\n", "\n"), 400, true, 1004},
		{"bare LF line endings, v3", s, strings.ReplaceAll("GET /v3/apps HTTP/1.1\r\n"+host+tok+"\r\n", "\r\n", "\n"), 400, false, 1004},
		{"bare LF in the absolute form", s, strings.ReplaceAll("GET http://"+s.gwHost()+"/v2/apps HTTP/1.1\r\n"+host+tok+"\r\n", "\r\n", "\n"), 400, true, 1004},
		{"a bare LF among CRLFs", s, "GET /v2/apps HTTP/1.1\r\n" + host + "X-A: a\n" + tok + "\r\n", 400, true, 1004},
		{"a 100 KB token, v2", s, "GET /v2/apps HTTP/1.1\r\n" + host + "Authorization: bearer " + strings.Repeat("t", 100<<10) + "\r\n\r\n", 431, true, 10004},
		{"a 100 KB token, v3", s, "GET /v3/apps HTTP/1.1\r\n" + host + "Authorization: bearer " + strings.Repeat("t", 100<<10) + "\r\n\r\n", 431, false, 10004},
		{"a 64 KB URL, v2", s, "GET /v2/apps?q=name:" + strings.Repeat("u", 64<<10) + " HTTP/1.1\r\n" + host + tok + "\r\n", 414, true, 10004},
		{"a 64 KB URL, v3", s, "GET /v3/apps?names=" + strings.Repeat("u", 64<<10) + " HTTP/1.1\r\n" + host + tok + "\r\n", 414, false, 10004},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := hostileExchange(t, tc.gw.gwHost(), []byte(tc.raw))
			checkRefused(t, a, tc.status, tc.v2, tc.code)
			if a.took > 10*time.Second {
				t.Errorf("answered after %v; the read timeout is 30s", a.took.Round(time.Millisecond))
			}
		})
	}
	// None of the refused creates made an app.
	if r := s.do("GET", s.cfURL+"/v3/apps?names=hostile", "developer", nil); strings.Contains(string(r.body), `"name":"hostile"`) {
		t.Errorf("a refused request created its app: %.300s", r.body)
	}
	// The gateway still serves, on the same and a new connection.
	if r := s.do("GET", s.gwURL+"/v2/apps", "developer", nil); r.status != 200 {
		t.Errorf("after the hostile requests: %d %.300s", r.status, r.body)
	}
}

// TestLongGUIDNotFound: a v2 path parameter of 5,000 characters is the
// resource's not-found error, as the Cloud Controller answers any guid it
// does not know.
func TestLongGUIDNotFound(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	guid := strings.Repeat("a", 5000)
	r := s.do("GET", s.gwURL+"/v2/apps/"+guid, "developer", nil)
	if r.status != 404 || cfErrorCode(t, true, r.body) != 100004 {
		t.Errorf("GET /v2/apps/<5000 chars>: %d %.200s", r.status, r.body)
	}
	r = s.do("GET", s.gwURL+"/v3/apps/"+guid, "developer", nil)
	if r.status != 404 || cfErrorCode(t, false, r.body) != 10010 {
		t.Errorf("GET /v3/apps/<5000 chars>: %d %.200s", r.status, r.body)
	}
}

// TestStalledRequest: a client that stops sending its request is answered
// 408 in the shape of its path once server.read_timeout passes with
// nothing new, wherever its body was being read: by fasthttp before the
// handler (the first 8 KiB), by a v2 write reading its JSON, by the v3
// passthrough streaming it upstream, by a v2 bits upload rewriting it
// (which answered 500). Nothing but the status is asserted about time.
func TestStalledRequest(t *testing.T) {
	t.Parallel()
	s := startStack(t, func(c *configs.Config) { c.Server.ReadTimeout = 500 * time.Millisecond })
	tok := "Authorization: bearer " + s.tokens["developer"] + "\r\n"
	host := "Host: " + s.gwHost() + "\r\n"
	r := s.do("POST", s.gwURL+"/v2/apps", "developer", []byte(`{"name":"stall-bits","space_guid":"5ace0000-0000-4000-8000-000000000001"}`))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	app := guidIn(t, r.body)
	const boundary = "stallboundary"
	multipart := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"resources\"\r\n\r\n[]\r\n--" + boundary +
		"\r\nContent-Disposition: form-data; name=\"application\"; filename=\"a.zip\"\r\nContent-Type: application/zip\r\n\r\n" + strings.Repeat("z", 20000)
	for _, tc := range []struct {
		name string
		raw  string
		v2   bool
	}{
		{"in the head", "GET /v2/apps HTTP/1.1\r\n" + host + "Authoriz", true},
		{"in the first bytes of a v2 body", "POST /v2/apps HTTP/1.1\r\n" + host + tok + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":", true},
		{"in a v2 write's JSON", "POST /v2/apps HTTP/1.1\r\n" + host + tok + "Content-Type: application/json\r\nContent-Length: 20000\r\n\r\n{\"name\":\"" + strings.Repeat("n", 12000), true},
		{"in a v3 upload", "POST /v3/packages/p/upload HTTP/1.1\r\n" + host + tok + "Content-Type: application/zip\r\nContent-Length: 200000\r\n\r\n" + strings.Repeat("z", 100000), false},
		{"in a v2 bits upload", "PUT /v2/apps/" + app + "/bits HTTP/1.1\r\n" + host + tok + "Content-Type: multipart/form-data; boundary=" + boundary +
			"\r\nContent-Length: 200000\r\n\r\n" + multipart, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := hostileExchange(t, s.gwHost(), []byte(tc.raw))
			checkRefused(t, a, fasthttp.StatusRequestTimeout, tc.v2, 10004)
		})
	}
}

// guidIn reads the metadata guid of a v2 resource body.
func guidIn(t testing.TB, body []byte) string {
	t.Helper()
	const key = `"guid":"`
	i := strings.Index(string(body), key)
	if i < 0 {
		t.Fatalf("no guid in %.200s", body)
	}
	rest := string(body[i+len(key):])
	return rest[:strings.IndexByte(rest, '"')]
}
