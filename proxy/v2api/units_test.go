package v2api

import (
	"bytes"
	"capibridge/proxy/ccv3"
	"capibridge/translate"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The v3 failures of a write map to v2's errors (MAPPING §5.2, §2.4),
// including the quota ones the embedded CF does not raise.
func TestV2WriteError(t *testing.T) {
	t.Parallel()
	v3 := func(status int, title, detail string) error {
		return &ccv3.Error{Status: status, Errors: []ccv3.ErrorEntry{{Title: title, Detail: detail}}}
	}
	cases := []struct {
		err               error
		status, code      int
		name, description string
	}{
		{v3(404, "CF-ResourceNotFound", "App not found"), 404, 100004, "AppNotFound", "The app could not be found: g"},
		{v3(403, "CF-FeatureDisabled", "Feature Disabled: diego_docker"), 400, 320003, "DockerDisabled", "Docker support has not been enabled."},
		{v3(422, "CF-UnprocessableEntity", "Lifecycle Custom buildpacks are disabled"), 400, 290004, "CustomBuildpacksDisabled",
			"Custom buildpacks are disabled"},
		{v3(422, "CF-UniquenessError", "App with the name 'web' already exists."), 400, 100002, "AppNameTaken", "The app name is taken: web"},
		{v3(422, "CF-UnprocessableEntity", "memory quota_exceeded"), 400, 100005, "AppMemoryQuotaExceeded",
			"You have exceeded your organization's memory limit: app requested more memory than available"},
		{v3(422, "CF-UnprocessableEntity", "memory space_quota_exceeded"), 400, 310003, "SpaceQuotaMemoryLimitExceeded",
			"You have exceeded your space's memory limit: app requested more memory than available"},
		{v3(422, "CF-UnprocessableEntity", "memory instance_memory_limit_exceeded"), 400, 100007, "QuotaInstanceMemoryLimitExceeded",
			"You have exceeded the instance memory limit for your organization's quota."},
		{v3(422, "CF-UnprocessableEntity", "memory space_instance_memory_limit_exceeded"), 400, 310004, "SpaceQuotaInstanceMemoryLimitExceeded",
			"You have exceeded the instance memory limit for your space's quota."},
		{v3(422, "CF-UnprocessableEntity", "app_instance_limit app_instance_limit_exceeded"), 400, 100008, "QuotaInstanceLimitExceeded",
			"You have exceeded the instance limit for your organization's quota."},
		{v3(422, "CF-UnprocessableEntity", "app_instance_limit space_app_instance_limit_exceeded"), 400, 310008, "SpaceQuotaInstanceLimitExceeded",
			"You have exceeded the instance limit for your space's quota."},
		// Several problems: the one CC v2's translate_validation_exception
		// put first (space memory, space instance memory, org memory, zero,
		// org instance memory; then the instance limits, space first).
		{v3(422, "CF-UnprocessableEntity", "memory quota_exceeded, memory instance_memory_limit_exceeded, memory space_instance_memory_limit_exceeded"),
			400, 310004, "SpaceQuotaInstanceMemoryLimitExceeded", "You have exceeded the instance memory limit for your space's quota."},
		{v3(422, "CF-UnprocessableEntity", "memory quota_exceeded, memory instance_memory_limit_exceeded, app_instance_limit app_instance_limit_exceeded"),
			400, 100005, "AppMemoryQuotaExceeded", "You have exceeded your organization's memory limit: app requested more memory than available"},
		{v3(422, "CF-UnprocessableEntity", "app_instance_limit app_instance_limit_exceeded, app_instance_limit space_app_instance_limit_exceeded"),
			400, 310008, "SpaceQuotaInstanceLimitExceeded", "You have exceeded the instance limit for your space's quota."},
		{v3(422, "CF-UnprocessableEntity", "Memory in mb must be greater than 0"), 400, 100006, "AppMemoryInvalid",
			"You have specified an invalid amount of memory for your application."},
		{v3(422, "CF-UnprocessableEntity", "The requested memory allocation is not large enough to run all of your sidecar processes."), 400, 100009,
			"AppMemoryInsufficientForSidecars", "The requested memory allocation is not large enough to run all of your sidecar processes."},
		{v3(422, "CF-ScaleDisabledDuringDeployment", "Cannot scale this process while a deployment is in flight."), 422, 390016,
			"ScaleDisabledDuringDeployment", "Cannot scale this process while a deployment is in flight."},
		{v3(422, "CF-UnprocessableEntity", "space's memory limit exceeded: staging requires 2048M memory"), 400, 310003,
			"SpaceQuotaMemoryLimitExceeded", "You have exceeded your space's memory limit: app requested more memory than available"},
		{v3(422, "CF-UnprocessableEntity", "organization's log rate limit exceeded"), 400, 100010, "OrgQuotaLogRateLimitExceeded",
			"You have exceeded your organization's log rate limit: app requested more log rate than available"},
		{v3(422, "CF-UnprocessableEntity", "disk limit exceeded"), 400, 100001, "AppInvalid", "The app is invalid: too much disk requested"},
		{v3(422, "CF-UnprocessableEntity", "Lifecycle Stack must be an existing stack"), 422, 250004, "StackValidationFailed",
			"Stack must be an existing stack"},
		{v3(422, "CF-UnprocessableEntity", "Stack 'cflinuxfs3' is disabled and cannot be used for staging new applications."), 422, 250004,
			"StackValidationFailed", "Stack 'cflinuxfs3' is disabled and cannot be used for staging new applications."},
		{v3(422, "CF-UnprocessableEntity", "Command must be between 1 and 4096 characters"), 400, 100001, "AppInvalid",
			"The app is invalid: Command must be between 1 and 4096 characters"},
		{&ccv3.Error{Status: 422, Errors: []ccv3.ErrorEntry{{Title: "CF-UnprocessableEntity", Detail: "a"}, {Title: "CF-UnprocessableEntity", Detail: "b"}}},
			400, 100001, "AppInvalid", "The app is invalid: a, b"},
		{v3(403, "CF-NotAuthorized", "You are not authorized to perform the requested action"), 403, 10003, "NotAuthorized",
			"You are not authorized to perform the requested action"},
		{v3(403, "CF-OrgSuspended", "The organization is suspended"), 403, 10003, "NotAuthorized", "You are not authorized to perform the requested action"},
		{v3(403, "CF-FeatureDisabled", "Feature Disabled: app_scaling"), 403, 330002, "FeatureDisabled", "Feature Disabled: app_scaling"},
		{v3(429, "CF-RateLimitExceeded", "Rate Limit Exceeded"), 429, 10013, "RateLimitExceeded", "Rate Limit Exceeded"},
		{v3(500, "UnknownError", "boom"), 500, 10001, "UnknownError", "An unknown error occurred."},
	}
	for _, tc := range cases {
		e := asError(v2WriteError(tc.err, "g", "web"))
		if e.Status != tc.status || e.Code != tc.code || e.Name != tc.name || e.Description != tc.description {
			t.Errorf("%v\n got %d %d %s %q\nwant %d %d %s %q", tc.err, e.Status, e.Code, e.Name, e.Description, tc.status, tc.code, tc.name, tc.description)
		}
	}
	if v2WriteError(nil, "g", "web") != nil {
		t.Error("nil is not an error")
	}
}

// An update step that cannot be undone is named in the error of the step
// that failed, and the steps before it are undone newest first.
func TestRunStepsUndo(t *testing.T) {
	t.Parallel()
	g := &API{log: slog.New(slog.DiscardHandler)}
	var log []string
	step := func(part string, doErr, undoErr error) writeStep {
		return writeStep{part: part,
			do:   func() error { log = append(log, "do "+part); return doErr },
			undo: func() error { log = append(log, "undo "+part); return undoErr },
		}
	}
	failed := withCause(translate.AppInvalid("Memory in mb must be greater than 0"), nil)
	err := g.runSteps("g", []writeStep{
		step("name", nil, nil),
		step("docker_image", nil, errors.New("no package delete")),
		step("memory", failed, nil),
		step("state", nil, nil),
	})
	e := asError(err)
	if e.Name != "AppInvalid" || e.Description != "The app is invalid: Memory in mb must be greater than 0 (these changes were applied and could not be undone: docker_image)" {
		t.Errorf("%+v", e)
	}
	if got := strings.Join(log, ", "); got != "do name, do docker_image, do memory, undo docker_image, undo name" {
		t.Errorf("order: %s", got)
	}
	if failed.Description != "The app is invalid: Memory in mb must be greater than 0" {
		t.Error("the step's own error was changed")
	}
	log = nil
	if err := g.runSteps("g", []writeStep{step("name", nil, nil)}); err != nil || len(log) != 1 {
		t.Errorf("%v %v", err, log)
	}
}

// fakeDoer answers GET /v3/processes/:guid from a map of commands.
type fakeDoer map[string]string

func (f fakeDoer) Do(req *fasthttp.Request, resp *fasthttp.Response, _ string) error {
	guid := strings.TrimPrefix(string(req.URI().Path()), "/v3/processes/")
	cmd, ok := f[guid]
	if !ok {
		resp.SetStatusCode(404)
		resp.SetBodyString(`{"errors":[{"detail":"Process not found","title":"CF-ResourceNotFound","code":10010}]}`)
		return nil
	}
	resp.SetStatusCode(200)
	resp.SetBodyString(fmt.Sprintf(`{"guid":%q,"type":"web","command":%q}`, guid, cmd))
	return nil
}

// While a deployment runs an app has two web processes: the command is
// read from the newest one listed, by its guid; one deleted since it was
// listed is errGone.
func TestWebCommandReadsTheListedProcess(t *testing.T) {
	t.Parallel()
	g := &API{v3: ccv3.New(fakeDoer{"new-web": "./new", "old-web": "./old"}, "http://cc.example", 4)}
	app := translate.V3App{GUID: "a"}
	if cmd, err := g.webCommand(ccv3.Call{}, app, translate.V3Process{GUID: "new-web"}); err != nil || deref(cmd) != "./new" {
		t.Errorf("command %q, %v", deref(cmd), err)
	}
	if _, err := g.webCommand(ccv3.Call{}, app, translate.V3Process{GUID: "gone"}); !errors.Is(err, errGone) {
		t.Errorf("a deleted process: %v", err)
	}
}

// memFragments is a FragmentStore in a map.
type memFragments map[string]string

func (m memFragments) Get(_ context.Context, owner, field, stamp string) ([]byte, bool) {
	v, ok := m[owner+"/"+field+"/"+stamp]
	return []byte(v), ok
}
func (m memFragments) Set(_ context.Context, owner, field, stamp string, val []byte) {
	m[owner+"/"+field+"/"+stamp] = string(val)
}
func (m memFragments) Drop(context.Context, ...string) error { return nil }

// A fragment is read upstream, kept only once its owner has settled by the
// upstream's clock, served under the same stamp and reader class only.
func TestFragmentKeepsOnlySettledParts(t *testing.T) {
	t.Parallel()
	store := memFragments{}
	g := &API{hooks: Hooks{Fragments: store}}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tr := ccv3.NewTrace(func() time.Time { return now })
	tr.Saw(now)
	c := ccv3.Call{Trace: tr, Class: "user:u1"}
	reads := 0
	read := func() ([]byte, error) { reads++; return []byte("v"), nil }
	get := func(c ccv3.Call, stamp string, changed time.Time) string {
		v, err := g.fragment(c, fragEnv, true, "app", stamp, changed, read)
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	// Changed a second ago: read, used, not kept.
	get(c, "s1", now.Add(-time.Second))
	get(c, "s1", now.Add(-time.Second))
	if reads != 2 || len(store) != 0 {
		t.Fatalf("a young part: %d reads, %d kept", reads, len(store))
	}
	// Settled: kept, then served without a read.
	get(c, "s2", now.Add(-FragmentSettle))
	if got := get(c, "s2", now.Add(-FragmentSettle)); got != "v" || reads != 3 {
		t.Errorf("a settled part: %q after %d reads", got, reads)
	}
	// Another stamp or another reader class reads again.
	get(c, "s3", now.Add(-time.Hour))
	other := c
	other.Class = "user:u2"
	get(other, "s2", now.Add(-time.Hour))
	if reads != 5 {
		t.Errorf("%d reads, want 5", reads)
	}
	// Without a class a per-reader part is never kept.
	anon := c
	anon.Class = ""
	get(anon, "s9", now.Add(-time.Hour))
	get(anon, "s9", now.Add(-time.Hour))
	if reads != 7 {
		t.Errorf("%d reads, want 7", reads)
	}
}

// TestPipeUploadKeepsTheUpstreamsError: an upstream that refuses an upload
// before reading it (401, 413, a refused dial) is what the client hears
// about, not a complaint about its body.
func TestPipeUploadKeepsTheUpstreamsError(t *testing.T) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("resources", "[]")
	fw, _ := mw.CreateFormFile("application", "a.zip")
	fw.Write([]byte("PK..."))
	mw.Close()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("PUT")
	ctx.Request.Header.SetContentType(mw.FormDataContentType())
	ctx.Request.SetBody(body.Bytes())
	refused := errors.New("upstream refused")
	var g API
	if err := g.pipeUpload(&ctx, "application", func(string, io.Reader) error { return refused }); !errors.Is(err, refused) {
		t.Errorf("the upstream's error became %v", err)
	}
}
