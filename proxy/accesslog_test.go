package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// accessCtx is a served request whose path and request id carry bytes a
// log line must escape.
func accessCtx(path string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.SetRequestURI(path)
	req.Header.SetMethod("GET")
	req.Header.Set("X-Vcap-Request-Id", "id-\"quoted\"\\")
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 5000}, nil)
	ctx.SetUserValue(routeKey, &Route{Template: "/v2/apps/:guid"})
	ctx.SetStatusCode(404)
	return ctx
}

// slogLine is the line slog's JSON handler writes for the same request.
func slogLine(ctx *fasthttp.RequestCtx, start, end time.Time) []byte {
	var buf bytes.Buffer
	slogTo(slog.NewJSONHandler(&buf, nil), ctx, start, end)
	return buf.Bytes()
}

func slogTo(h slog.Handler, ctx *fasthttp.RequestCtx, start, end time.Time) {
	r := slog.NewRecord(end, slog.LevelInfo, "request", 0)
	r.AddAttrs(
		slog.String("method", string(ctx.Method())),
		slog.String("path", string(ctx.Path())),
		slog.String("route", routeOf(ctx).Template),
		slog.Int("status", ctx.Response.StatusCode()),
		slog.Float64("duration_ms", float64(end.Sub(start).Microseconds())/1000),
		slog.String("remote", ctx.RemoteIP().String()),
		slog.String("user", ""),
		slog.String("request_id", string(ctx.Request.Header.Peek("X-Vcap-Request-Id"))),
	)
	_ = h.Handle(context.Background(), r)
}

// TestAccessLineAsSlog: the hand-built line is one line of valid JSON
// with slog's keys, in slog's order, and the values slog writes, for
// paths with quotes, control characters, non-ASCII and invalid UTF-8.
func TestAccessLineAsSlog(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 11, 12, 345678000, time.UTC)
	end := start.Add(1234567 * time.Nanosecond)
	for _, path := range []string{
		"/v2/apps/x",
		"/v2/apps/%22%5C%0A%01%7F",
		"/v2/apps/caf%C3%A9-%E2%80%A8",
		"/v2/apps/%FF%FE%C3",
	} {
		ctx := accessCtx(path)
		got := appendAccessLine(nil, ctx, start, end)
		if bytes.Count(got, []byte("\n")) != 1 || got[len(got)-1] != '\n' {
			t.Errorf("%s: not one line: %q", path, got)
		}
		want := slogLine(ctx, start, end)
		var g, w map[string]any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: %v in %q", path, err, got)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %s\nslog %s", path, got, want)
		}
		if keys(t, got) != keys(t, want) {
			t.Errorf("%s: keys in another order:\n got %s\nslog %s", path, keys(t, got), keys(t, want))
		}
	}
}

// keys lists a JSON object's keys in order.
func keys(t *testing.T, line []byte) string {
	d := json.NewDecoder(bytes.NewReader(line))
	var out []string
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k.(string))
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return string(must(json.Marshal(out)))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// BenchmarkAccessLine compares the hand-built line with slog's JSON
// handler writing the same record.
func BenchmarkAccessLine(b *testing.B) {
	ctx := accessCtx("/v2/apps?results-per-page=50")
	start := time.Now()
	b.Run("slog", func(b *testing.B) {
		var buf bytes.Buffer
		h := slog.NewJSONHandler(&buf, nil)
		for b.Loop() {
			buf.Reset()
			slogTo(h, ctx, start, start.Add(time.Millisecond))
		}
	})
	b.Run("appendAccessLine", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = appendAccessLine(buf[:0], ctx, start, start.Add(time.Millisecond))
		}
	})
}
