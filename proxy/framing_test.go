package proxy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawConversation writes raw to addr on one connection and reads every
// answer until the gateway closes it (or the client's deadline ends the
// wait). open is true when the connection was still open at the deadline.
func rawConversation(t testing.TB, addr, raw string) (answers []rawMessage, open bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		m, err := readMessage(br)
		var ne net.Error
		switch {
		case err == nil:
			answers = append(answers, m)
			continue
		case errors.As(err, &ne) && ne.Timeout():
			return answers, true
		}
		return answers, false
	}
}

// cfErrorCode reads the code of a CF error body: v2's {"code":...} or v3's
// {"errors":[{"code":...}]}, checking the shape the path asks for.
func cfErrorCode(t testing.TB, v2 bool, body []byte) int {
	t.Helper()
	if v2 {
		var e v2ErrorBody
		if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode == "" {
			t.Errorf("not a v2 error: %s", body)
		}
		return e.Code
	}
	var e v3ErrorBody
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) != 1 {
		t.Errorf("not a v3 error: %s", body)
		return 0
	}
	return e.Errors[0].Code
}

// TestFramingRefused: a request whose body framing the gateway cannot
// read as the next hop would (RFC 9112 §6.1, §6.3) is answered 400 in the
// CF shape of its path and the connection is closed, so whatever follows
// on it is never read as another request. Each case carries a smuggled
// second request in its body; the embedded CF must see neither.
func TestFramingRefused(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	const smuggled = "GET /v2/info HTTP/1.1\r\nHost: x\r\n\r\n"
	chunk := func(s string) string { return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(s), s) }
	create := `{"name":"smuggled","relationships":{"space":{"data":{"guid":"5ace0000-0000-4000-8000-000000000001"}}}}`
	// Faults fasthttp refuses while it reads the head, before the request
	// is routed, are answered in the shape of the path of the request line
	// as the connection saw it, as the others are.
	for _, tc := range []struct {
		name, path, fields, body string
	}{
		{"identity without a length, v3", "/v3/apps", "Transfer-Encoding: identity\r\n", smuggled},
		{"identity without a length, v2", "/v2/apps", "Transfer-Encoding: identity\r\n", smuggled},
		{"identity in upper case", "/v3/apps", "Transfer-Encoding: IDENTITY\r\n", smuggled},
		{"identity with a length", "/v3/apps", "Transfer-Encoding: identity\r\nContent-Length: 0\r\n", smuggled},
		{"gzip", "/v3/apps", "Transfer-Encoding: gzip\r\n", smuggled},
		{"gzip, v2", "/v2/apps", "Transfer-Encoding: gzip\r\n", smuggled},
		{"chunked is not the last coding", "/v3/apps", "Transfer-Encoding: chunked, identity\r\n", chunk(create) + smuggled},
		{"two codings ending in chunked", "/v3/apps", "Transfer-Encoding: gzip, chunked\r\n", chunk(create) + smuggled},
		{"Transfer-Encoding twice", "/v3/apps", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunk(create) + smuggled},
		{"chunked and a length", "/v3/apps", "Transfer-Encoding: chunked\r\nContent-Length: " + strconv.Itoa(len(chunk(create))) + "\r\n", chunk(create) + smuggled},
		{"a length and chunked", "/v3/apps", "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", chunk(create) + smuggled},
		{"a length and chunked, v2", "/v2/apps", "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", chunk(create) + smuggled},
		{"two lengths", "/v3/apps", "Content-Length: 0\r\nContent-Length: " + strconv.Itoa(len(create)) + "\r\n", create + smuggled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := "POST " + tc.path + " HTTP/1.1\r\nHost: " + s.gwHost() + "\r\nAuthorization: bearer " + s.tokens["developer"] +
				"\r\nContent-Type: application/json\r\n" + tc.fields + "\r\n" + tc.body
			answers, open := rawConversation(t, s.gwHost(), raw)
			if len(answers) == 0 {
				t.Fatal("no answer")
			}
			first := answers[0]
			v2 := strings.HasPrefix(tc.path, "/v2")
			if code := statusOf(t, first); code != 400 {
				t.Errorf("status %d, want 400: %s", code, first.body)
			} else if c := cfErrorCode(t, v2, first.body); c != 1004 {
				t.Errorf("error code %d, want 1004 (BadRequest): %s", c, first.body)
			}
			if !strings.EqualFold(first.header.Get("Connection"), "close") {
				t.Errorf("Connection %q, want close", first.header.Get("Connection"))
			}
			if len(answers) > 1 || open {
				t.Errorf("the connection stayed open (%d answers; the body was read as a request: %q)", len(answers), answers[len(answers)-1].line)
			}
		})
	}
	// None of the bodies created an app.
	r := s.do("GET", s.cfURL+"/v3/apps?names=smuggled", "developer", nil)
	if strings.Contains(string(r.body), `"name":"smuggled"`) {
		t.Errorf("a refused request created its app: %s", r.body)
	}
}

// TestConnectionNamedFields: the fields a Connection header names are not
// forwarded (RFC 9110 §7.6.1), but the framing fields stay the gateway's
// to write: a client naming Content-Length or Transfer-Encoding gets its
// body forwarded whole, framed by its real length.
func TestConnectionNamedFields(t *testing.T) {
	t.Parallel()
	s := startStack(t, nil)
	up := startRawUpstream(t, func(_ int64, _ rawMessage) []byte {
		return []byte("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	})
	g := s.gatewayFor(t, "http://"+up.addr, nil)
	const body = `{"name":"named-fields"}`
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	for _, tc := range []struct {
		name, fields, body string
	}{
		{"Content-Length", "Connection: Content-Length\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n", body},
		{"content-length in lower case, with others", "Connection: keep-alive, content-length, X-Named\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n", body},
		{"Transfer-Encoding", "Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n", chunked},
		{"Content-Length named, chunked", "Connection: Content-Length, X-Named\r\nTransfer-Encoding: chunked\r\n", chunked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := "POST /v3/apps HTTP/1.1\r\nHost: " + g.gwHost() + "\r\nAuthorization: bearer " + s.tokens["developer"] +
				"\r\nContent-Type: application/json\r\nX-Named: for the gateway only\r\nX-Kept: end to end\r\n" + tc.fields + "\r\n" + tc.body
			resp := rawExchange(t, g.gwHost(), raw)
			if code := statusOf(t, resp); code != 201 {
				t.Fatalf("status %d: %s", code, resp.body)
			}
			got := up.lastRequest()
			if string(got.body) != body {
				t.Errorf("upstream body %q, want %q", got.body, body)
			}
			if cl, te := got.header.Get("Content-Length"), got.header.Get("Transfer-Encoding"); cl != "" && te != "" {
				t.Errorf("forwarded with both Content-Length %q and Transfer-Encoding %q", cl, te)
			}
			if cl := got.header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
				t.Errorf("forwarded Content-Length %q, want %d", cl, len(body))
			}
			if v := got.header.Get("Connection"); v != "" {
				t.Errorf("forwarded Connection: %q", v)
			}
			if v := got.header.Get("X-Named"); v != "" && strings.Contains(tc.fields, "X-Named") {
				t.Errorf("forwarded X-Named, which Connection names: %q", v)
			}
			if got.header.Get("X-Kept") != "end to end" {
				t.Errorf("X-Kept %q", got.header.Get("X-Kept"))
			}
		})
	}
	// In front of the embedded CF: the app is made from the whole body.
	raw := "POST /v3/apps HTTP/1.1\r\nHost: " + s.gwHost() + "\r\nAuthorization: bearer " + s.tokens["developer"] +
		"\r\nContent-Type: application/json\r\nConnection: Content-Length\r\nContent-Length: "
	create := `{"name":"named-cl","relationships":{"space":{"data":{"guid":"5ace0000-0000-4000-8000-000000000001"}}}}`
	resp := rawExchange(t, s.gwHost(), raw+strconv.Itoa(len(create))+"\r\n\r\n"+create)
	if code := statusOf(t, resp); code != 201 || !strings.Contains(string(resp.body), `"name":"named-cl"`) {
		t.Errorf("create with Connection: Content-Length: %d %s", code, resp.body)
	}
}

func TestFramingFault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, head string
		fault      bool
	}{
		{"no framing fields", "Host: x\r\n\r\n", false},
		{"a length", "Host: x\r\nContent-Length: 3\r\n\r\n", false},
		{"chunked", "Host: x\r\nTransfer-Encoding: chunked\r\n\r\n", false},
		{"chunked, any case and spaces", "transfer-encoding:   CHUNKED  \r\n\r\n", false},
		{"a field whose value names the coding", "X-Note: Transfer-Encoding: identity\r\n\r\n", false},
		{"identity", "Transfer-Encoding: identity\r\n\r\n", true},
		{"empty", "Transfer-Encoding: \r\n\r\n", true},
		{"chunked then identity", "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", true},
		{"chunked folded onto another line", "Transfer-Encoding: chunked,\r\n identity\r\n\r\n", true},
		{"a folded line of another field", "X-A: a\r\n identity\r\nTransfer-Encoding: chunked\r\n\r\n", false},
		{"chunked and a length", "Transfer-Encoding: chunked\r\ncontent-length: 3\r\n\r\n", true},
		{"bare LF", "Transfer-Encoding: identity\n\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := framingFault([]byte(tc.head)); (got != "") != tc.fault {
				t.Errorf("framingFault = %q, want a fault: %v", got, tc.fault)
			}
		})
	}
}
