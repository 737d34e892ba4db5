package proxy

import (
	"archive/zip"
	"bytes"
	"capibridge/configs"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// appZip is a small app: a Procfile and a file big enough for the
// resource cache (64 KiB and more).
func appZip(t *testing.T, big []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for name, body := range map[string][]byte{"Procfile": []byte("web: ./server\n"), "server": []byte("#!/bin/sh\n"), "assets/big.bin": big} {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// putBits sends PUT /v2/apps/:guid/bits as the cf CLI does: resources
// first, then the application zip.
func (s *stack) putBits(t *testing.T, guid, query, resources string, zipped []byte) reply {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if resources != "" {
		mw.WriteField("resources", resources)
	}
	if zipped != nil {
		w, _ := mw.CreateFormFile("application", "application.zip")
		w.Write(zipped)
	}
	mw.Close()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.gwURL + "/v2/apps/" + guid + "/bits" + query)
	req.Header.SetMethod("PUT")
	req.Header.Set("Authorization", "bearer "+s.tokens["developer"])
	req.Header.SetContentType(mw.FormDataContentType())
	req.SetBody(body.Bytes())
	if err := s.client.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode(), body: append([]byte(nil), resp.Body()...)}
}

func TestV2Bits(t *testing.T) {
	s := quickStack(t)
	guids := s.createApps(t, "developer", "bits-one", "bits-two")
	big := bytes.Repeat([]byte("capibridge "), 8000) // 88 KB
	zipped := appZip(t, big)

	// Synchronous upload: 201 {} once the package is READY.
	if r := s.putBits(t, guids[0], "", "[]", zipped); r.status != 201 || string(r.body) != "{}" {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var app struct{ Entity map[string]json.RawMessage }
	r := s.do("GET", s.gwURL+"/v2/apps/"+guids[0], "developer", nil)
	_ = json.Unmarshal(r.body, &app)
	if string(app.Entity["package_state"]) != `"PENDING"` || string(app.Entity["package_updated_at"]) == "null" {
		t.Errorf("after upload: package_state %s, package_updated_at %s", app.Entity["package_state"], app.Entity["package_updated_at"])
	}

	// The big file is known now: resource_match returns it, and an upload
	// may leave it out.
	sum := sha1.Sum(big)
	match := fmt.Sprintf(`[{"fn":"assets/big.bin","size":%d,"sha1":%q},{"fn":"x","size":70000,"sha1":"0000000000000000000000000000000000000000"}]`,
		len(big), hex.EncodeToString(sum[:]))
	m := s.do("PUT", s.gwURL+"/v2/resource_match", "developer", []byte(match))
	var matched []struct {
		SHA1 string
		Size int
	}
	if err := json.Unmarshal(m.body, &matched); err != nil || m.status != 200 || len(matched) != 1 || matched[0].SHA1 != hex.EncodeToString(sum[:]) {
		t.Errorf("resource_match: %d %s", m.status, m.body)
	}

	// Async upload with the big file as a resource: a queued job, then
	// finished through /v2/jobs.
	small := appZip(t, nil)
	resources := fmt.Sprintf(`[{"fn":"assets/big.bin","size":%d,"sha1":%q,"mode":"644"}]`, len(big), hex.EncodeToString(sum[:]))
	r = s.putBits(t, guids[1], "?async=true", resources, small)
	var job struct {
		Metadata struct{ GUID, URL string }
		Entity   struct{ GUID, Status string }
	}
	if err := json.Unmarshal(r.body, &job); err != nil || r.status != 201 || job.Entity.Status != "queued" || job.Metadata.URL != "/v2/jobs/"+job.Metadata.GUID {
		t.Fatalf("async upload: %d %s", r.status, r.body)
	}
	waitFor(t, "the upload job to finish", func() bool {
		r := s.do("GET", s.gwURL+job.Metadata.URL, "developer", nil)
		_ = json.Unmarshal(r.body, &job)
		return job.Entity.Status == "finished" || job.Entity.Status == "failed"
	})
	if job.Entity.Status != "finished" {
		t.Fatalf("upload job %+v", job)
	}

	// Download: a redirect to the bits, which carry the matched file.
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI(s.gwURL + "/v2/apps/" + guids[1] + "/download")
	req.Header.Set("Authorization", "bearer "+s.tokens["developer"])
	if err := s.client.DoRedirects(req, resp, 3); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("download: %v %d %s", err, resp.StatusCode(), resp.Body())
	}
	zr, err := zip.NewReader(bytes.NewReader(resp.Body()), int64(len(resp.Body())))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "assets/big.bin") {
		t.Errorf("downloaded bits hold %v", names)
	}

	// Copy bits from one to a third app.
	third := s.createApps(t, "developer", "bits-three")[0]
	c := s.do("POST", s.gwURL+"/v2/apps/"+third+"/copy_bits", "developer", []byte(`{"source_app_guid":"`+guids[0]+`"}`))
	if err := json.Unmarshal(c.body, &job); err != nil || c.status != 201 || job.Entity.Status != "queued" {
		t.Fatalf("copy_bits: %d %s", c.status, c.body)
	}
	waitFor(t, "the copy job to finish", func() bool {
		r := s.do("GET", s.gwURL+"/v2/jobs/"+job.Metadata.GUID, "developer", nil)
		_ = json.Unmarshal(r.body, &job)
		return job.Entity.Status == "finished" || job.Entity.Status == "failed"
	})
	if job.Entity.Status != "finished" {
		t.Errorf("copy job %+v", job)
	}

	// Errors in CC's words.
	if r := s.putBits(t, guids[0], "", "", zipped); r.status != 400 ||
		string(r.body) != `{"description":"The app upload is invalid: missing :resources","error_code":"CF-AppBitsUploadInvalid","code":160001}`+"\n" {
		t.Errorf("no resources: %d %s", r.status, r.body)
	}
	if r := s.putBits(t, "no-such-app", "", "[]", zipped); r.status != 404 || !strings.Contains(string(r.body), "CF-AppNotFound") {
		t.Errorf("missing app: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.gwURL+"/v2/apps/"+third+"/droplet/download", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "Droplet not found") {
		t.Errorf("no droplet: %d %s", r.status, r.body)
	}

	// go-cfclient's upload and download.
	cf := s.goCFClient(t, "developer")
	if err := cf.UploadAppBits(bytes.NewReader(zipped), third); err != nil {
		t.Errorf("go-cfclient UploadAppBits: %v", err)
	}
	rc, err := cf.GetAppBits(third)
	if err != nil {
		t.Fatalf("go-cfclient GetAppBits: %v", err)
	}
	var got bytes.Buffer
	got.ReadFrom(rc)
	rc.Close()
	if _, err := zip.NewReader(bytes.NewReader(got.Bytes()), int64(got.Len())); err != nil {
		t.Errorf("GetAppBits returned no zip (%d bytes): %v", got.Len(), err)
	}
}

// TestV2DropletDownloadAndUpload: a staged app's droplet downloads, and
// uploads to another app as its droplet.
func TestV2DropletDownloadAndUpload(t *testing.T) {
	s := quickStack(t)
	guid := s.startedBuildpackApp(t, "dropped")
	docker := s.startedApp(t, "docker-dropped")
	if r := s.do("GET", s.gwURL+"/v2/apps/"+docker+"/droplet/download", "developer", nil); r.status != 404 || !strings.Contains(string(r.body), "Droplet not found") {
		t.Errorf("a docker droplet: %d %s", r.status, r.body)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI(s.gwURL + "/v2/apps/" + guid + "/droplet/download")
	req.Header.Set("Authorization", "bearer "+s.tokens["developer"])
	if err := s.client.DoRedirects(req, resp, 3); err != nil || resp.StatusCode() != 200 || len(resp.Body()) == 0 {
		t.Fatalf("droplet download: %v %d", err, resp.StatusCode())
	}
	droplet := append([]byte(nil), resp.Body()...)

	other := s.createApps(t, "developer", "receiver")[0]
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("droplet", "droplet.tgz")
	w.Write(droplet)
	mw.Close()
	up := fasthttp.AcquireRequest()
	up.SetRequestURI(s.gwURL + "/v2/apps/" + other + "/droplet/upload")
	up.Header.SetMethod("PUT")
	up.Header.Set("Authorization", "bearer "+s.tokens["developer"])
	up.Header.SetContentType(mw.FormDataContentType())
	up.SetBody(body.Bytes())
	upResp := fasthttp.AcquireResponse()
	if err := s.client.Do(up, upResp); err != nil {
		t.Fatal(err)
	}
	var job struct {
		Metadata struct{ URL string }
		Entity   struct{ Status string }
	}
	if err := json.Unmarshal(upResp.Body(), &job); err != nil || upResp.StatusCode() != 201 || job.Entity.Status != "queued" {
		t.Fatalf("droplet upload: %d %s", upResp.StatusCode(), upResp.Body())
	}
	waitFor(t, "the droplet upload job", func() bool {
		r := s.do("GET", s.gwURL+job.Metadata.URL, "developer", nil)
		_ = json.Unmarshal(r.body, &job)
		return job.Entity.Status == "finished" || job.Entity.Status == "failed"
	})
	if job.Entity.Status != "finished" {
		t.Errorf("droplet upload job %+v", job)
	}
}

// TestV2BitsUploadStreams sends 128 MiB of bits through PUT
// /v2/apps/:guid/bits: the client, the gateway and the embedded CF share
// this process, and the gateway streams the upload part by part into the
// v3 upload, so the heap does not grow by anything like the body.
// Not parallel: the memory figures are the whole process's.
func TestV2BitsUploadStreams(t *testing.T) {
	const (
		size     = 128 << 20
		heapRoom = 48 << 20
	)
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "big-bits")[0]
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("resources", "[]")
		if err == nil {
			var part io.Writer
			part, err = mw.CreateFormFile("application", "application.zip")
			if err == nil {
				z := zip.NewWriter(part)
				var w io.Writer
				if w, err = z.CreateHeader(&zip.FileHeader{Name: "big.bin", Method: zip.Store}); err == nil {
					if _, err = io.CopyBuffer(w, &patternReader{n: size}, make([]byte, 64<<10)); err == nil {
						err = z.Close()
					}
				}
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.gwURL + "/v2/apps/" + guid + "/bits")
	req.Header.SetMethod("PUT")
	req.Header.Set("Authorization", "bearer "+s.tokens["developer"])
	req.Header.SetContentType(mw.FormDataContentType())
	req.SetBodyStream(pr, -1)
	client := &fasthttp.Client{ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	watch := watchMemory()
	err := client.Do(req, resp)
	peak, _ := watch.done()
	if err != nil || resp.StatusCode() != 201 || string(resp.Body()) != "{}" {
		t.Fatalf("upload: %v %d %s", err, resp.StatusCode(), resp.Body())
	}
	t.Logf("a %d MiB upload grew the heap by %d MiB at its peak", size>>20, peak>>20)
	if peak > heapRoom {
		t.Errorf("the heap grew by %d MiB for a %d MiB upload: something holds the body", peak>>20, size>>20)
	}
	r := s.do("GET", s.cfURL+"/v3/apps/"+guid+"/packages", "developer", nil)
	if !strings.Contains(string(r.body), `"state":"READY"`) {
		t.Errorf("the package: %s", r.body)
	}
}

// TestV2BitsSlowUploadOutlivesReadTimeout: server.read_timeout bounds a
// stall, not an upload that keeps coming; a push that takes longer than
// it succeeds. (Bodies up to server.max_request_body_bytes are read by the
// server before any handler runs, within read_timeout.)
func TestV2BitsSlowUploadOutlivesReadTimeout(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	s := startStack(t, func(c *configs.Config) { c.Server.ReadTimeout = readTimeout })
	guid := s.createApps(t, "developer", "slow-bits")[0]
	// Larger than server.max_request_body_bytes, so the server streams it
	// to the handler instead of reading it first.
	noise := make([]byte, 6<<20)
	rand.New(rand.NewSource(1)).Read(noise)
	zipped := appZip(t, noise)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("resources", "[]")
	w, _ := mw.CreateFormFile("application", "application.zip")
	w.Write(zipped)
	mw.Close()
	pr, pw := io.Pipe()
	go func() {
		// The body in 20 pieces, 50 ms apart: a second in all, three times
		// the read timeout, never stalled for as long as it.
		b := body.Bytes()
		step := len(b)/20 + 1
		for i := 0; i < len(b); i += step {
			if _, err := pw.Write(b[i:min(i+step, len(b))]); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		pw.Close()
	}()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.gwURL + "/v2/apps/" + guid + "/bits")
	req.Header.SetMethod("PUT")
	req.Header.Set("Authorization", "bearer "+s.tokens["developer"])
	req.Header.SetContentType(mw.FormDataContentType())
	req.SetBodyStream(pr, body.Len())
	if err := s.client.Do(req, resp); err != nil || resp.StatusCode() != 201 {
		t.Fatalf("a slow upload: %v %d %s", err, resp.StatusCode(), resp.Body())
	}
}

// TestV2BitsRefusedUploadLeavesNoPackage: a refused upload is undone, so
// the app does not read PENDING with a package that never got its bits.
func TestV2BitsRefusedUploadLeavesNoPackage(t *testing.T) {
	s := startStack(t, nil)
	guid := s.createApps(t, "developer", "refused")[0]
	if r := s.putBits(t, guid, "", "", appZip(t, nil)); r.status != 400 {
		t.Fatalf("no resources: %d %s", r.status, r.body)
	}
	if r := s.do("GET", s.cfURL+"/v3/apps/"+guid+"/packages", "developer", nil); !strings.Contains(string(r.body), `"total_results":0`) {
		t.Errorf("a package was left behind: %s", r.body)
	}
}
