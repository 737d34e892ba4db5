package chaos

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testHostileInput: hostile paths and bodies, each answered with its
// status in the CF shape, never a 500, a reset or a hang.
func testHostileInput(t *testing.T, s *stack, tb *table) {
	var c tally
	dev := s.tokens["developer"]
	long := strings.Repeat("a", 5000)

	// A 5,000-character guid: not found, as any unknown guid.
	for _, p := range []struct{ path, shape, name string }{
		{"/v2/apps/" + long, "v2", "CF-AppNotFound"},
		{"/v2/apps/" + long + "/summary", "v2", "CF-AppNotFound"},
		{"/v2/spaces/" + long + "/apps", "v2", "CF-SpaceNotFound"},
		{"/v3/apps/" + long, "v3", "CF-ResourceNotFound"},
	} {
		code, body, err := s.get(s.a.url+p.path, dev)
		name := "GET " + p.path[:min(len(p.path), 20)] + "…(5,000-char guid)"
		if err != nil {
			c.fail("%s: %v", name, err)
			continue
		}
		problem := shapeProblem(code, body, 404, p.shape)
		if _, _, ename, _ := cfError(body); problem == "" && ename != p.name {
			problem = fmt.Sprintf("error %s, want %s", ename, p.name)
		}
		c.check(name, problem)
	}

	// q=name IN with 5,000 names, two of them real: split into upstream
	// requests that fit (200, the two apps) or refused (400).
	names := make([]string, 5000)
	for i := range names {
		names[i] = fmt.Sprintf("x%04d", i)
	}
	names[17], names[4242] = s.apps[0].name, s.apps[1].name
	q := url.QueryEscape("name IN " + strings.Join(names, ","))
	for _, g := range []*gateway{s.a, s.b} {
		code, body, err := s.get(g.url+"/v2/apps?q="+q, dev)
		name := "GET /v2/apps?q=name IN (5,000 names)"
		switch {
		case err != nil:
			c.fail("%s: %v", name, err)
		case code == 200:
			var page struct {
				TotalResults int `json:"total_results"`
				Resources    []struct {
					Metadata struct{ GUID string }
				}
			}
			_ = json.Unmarshal(body, &page)
			if page.TotalResults != 2 || !strings.Contains(string(body), s.apps[0].guid) || !strings.Contains(string(body), s.apps[1].guid) {
				c.fail("%s: 200 with %d apps, want the 2 named: %s", name, page.TotalResults, snippet(body))
			} else {
				c.ok()
			}
		default:
			c.check(name, shapeProblem(code, body, 400, "v2"))
		}
	}

	// 10 MB of JSON: 413 in the CF shape (server.max_request_body_bytes),
	// whether its length is declared or it comes chunked.
	big := `{"name":"big","space_guid":"` + demoSpace + `","environment_json":{"BIG":"` + strings.Repeat("x", 10<<20) + `"}}`
	big3 := `{"name":"big","relationships":{"space":{"data":{"guid":"` + demoSpace + `"}}},"environment_variables":{"BIG":"` + strings.Repeat("x", 10<<20) + `"}}`
	for _, b := range []struct {
		name, path, body, shape string
		chunked                 bool
	}{
		{"POST /v2/apps, 10 MB", "/v2/apps", big, "v2", false},
		{"POST /v2/apps, 10 MB chunked", "/v2/apps", big, "v2", true},
		{"PUT /v2/apps/:guid, 10 MB", "/v2/apps/" + s.writeApp, big, "v2", false},
		{"POST /v3/apps, 10 MB", "/v3/apps", big3, "v3", false},
	} {
		method, _, _ := strings.Cut(b.name, " ")
		raw := method + " " + b.path + " HTTP/1.1\r\nHost: " + s.a.host + "\r\nAuthorization: bearer " + dev + "\r\nContent-Type: application/json\r\n"
		if b.chunked {
			raw += "Transfer-Encoding: chunked\r\n\r\n"
			for rest := b.body; rest != ""; {
				n := min(len(rest), 1<<20)
				raw += strconv.FormatInt(int64(n), 16) + "\r\n" + rest[:n] + "\r\n"
				rest = rest[n:]
			}
			raw += "0\r\n\r\n"
		} else {
			raw += "Content-Length: " + strconv.Itoa(len(b.body)) + "\r\n\r\n" + b.body
		}
		res := converse(s.a.host, []byte(raw), 30*time.Second)
		if len(res.answers) == 0 {
			c.fail("%s: no answer (%v; closed: %v), want 413", b.name, res.err, res.closed)
			continue
		}
		c.check(b.name, shapeProblem(res.answers[0].status, res.answers[0].body, 413, b.shape))
	}

	// A body that stalls: 408 in the CF shape once server.read_timeout
	// passes (a gateway of its own, with a 2 s timeout), not a 500.
	slow, err := s.tryGateway("gateway-slow-body", []string{"CAPIBRIDGE_SERVER_READ_TIMEOUT=2s"}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct{ name, raw, shape string }{
		{"POST /v2/apps, body stalls", "POST /v2/apps HTTP/1.1\r\nHost: " + slow.host + "\r\nAuthorization: bearer " + dev +
			"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\":\"stall", "v2"},
		{"PUT /v2/apps/:guid/bits, upload stalls", "PUT /v2/apps/" + s.writeApp + "/bits HTTP/1.1\r\nHost: " + slow.host + "\r\nAuthorization: bearer " + dev +
			"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1048576\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"resources\"\r\n\r\n[]\r\n--b\r\n" +
			"Content-Disposition: form-data; name=\"application\"; filename=\"application.zip\"\r\nContent-Type: application/zip\r\n\r\nPK", "v2"},
	} {
		res := converse(slow.host, []byte(st.raw), 30*time.Second)
		if len(res.answers) == 0 {
			c.fail("%s: no answer (%v; closed: %v), want 408", st.name, res.err, res.closed)
			continue
		}
		c.check(st.name, shapeProblem(res.answers[0].status, res.answers[0].body, 408, st.shape))
	}
	slow.p.stop()
	c.report(t, tb, "hostile paths and bodies", "5,000-char guids, q=name IN ×5,000, 10 MB JSON, stalled bodies")
}
