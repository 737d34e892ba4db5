package backend

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkPackageUploadAndStage uploads a 64 MiB package (one
// incompressible file and a Procfile) over HTTP, stages it and reads the
// build once staging is over. The body streams from a reader, so the
// allocations per op show whether the server holds the zip in memory.
func BenchmarkPackageUploadAndStage(b *testing.B) {
	payload := make([]byte, 64<<20)
	if _, err := rand.Read(payload); err != nil {
		b.Fatal(err)
	}
	zip := zipOf(b, zipFile{name: "Procfile", body: "web: ./server\n"}, zipFile{name: "server", body: string(payload)})
	body, ct := multipartOf(b, nil, "app.zip", zip)
	c, clk := stagingCF(b, nil)
	app := c.createApp("developer", "bench", nil)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pkg := c.newPackage("developer", app)
		req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://api.example.org/v3/packages/" + pkg + "/upload")
		req.Header.SetMethod("POST")
		req.Header.Set("Authorization", "bearer "+c.tokens["developer"])
		req.Header.SetContentType(ct)
		req.SetBodyStream(io.NopCloser(bytes.NewReader(body)), len(body))
		if err := c.client.Do(req, res); err != nil || res.StatusCode() != 200 {
			b.Fatalf("upload: %v %d %s", err, res.StatusCode(), res.Body())
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(res)
		build := c.newBuild("developer", pkg)
		clk.Advance(time.Second)
		if state := rawAt(b, c.must(200, "GET", "/v3/builds/"+build, "developer", nil).body, "state"); state != `"STAGED"` {
			b.Fatalf("build %s", state)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(body))/(1<<20), "MiB/upload")
}
