package proxy

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"

	cfclient "github.com/cloudfoundry-community/go-cfclient"
)

// go-cfclient's buildpack functions through the gateway (MAPPING-orgs
// §12.3): the seeded list in id order, create (first by default), CC's
// errors, update, bits refused while locked then stored, delete.
func TestV2AdminBuildpacksGoCFClient(t *testing.T) {
	s := startStack(t, nil)
	admin := s.goCFClient(t, "admin")
	seeded, err := admin.ListBuildpacks()
	if err != nil || len(seeded) == 0 {
		t.Fatalf("ListBuildpacks: %v %+v", err, seeded)
	}
	name, stack := "my_bp", "cflinuxfs4"
	bp, err := admin.CreateBuildpack(&cfclient.BuildpackRequest{Name: &name})
	if err != nil || bp.Guid == "" || bp.Position != 1 || bp.Stack != "" || !bp.Enabled || bp.Locked {
		t.Fatalf("CreateBuildpack: %v %+v", err, bp)
	}
	// v2 lists by id: the new buildpack comes last though it is first.
	all, err := admin.ListBuildpacks()
	if err != nil || len(all) != len(seeded)+1 || all[len(all)-1].Guid != bp.Guid || all[0].Guid != seeded[0].Guid || all[0].Position != 2 {
		t.Errorf("ListBuildpacks after create: %v %+v", err, all)
	}
	r := s.do("GET", s.gwURL+"/v2/buildpacks/"+bp.Guid, "developer", nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"entity":{"name":"my_bp","stack":null,"position":1,"enabled":true,"locked":false,"filename":null,"lifecycle":"buildpack"}}`)) ||
		!bytes.HasPrefix(r.body, []byte(`{"metadata":{"guid":"`+bp.Guid+`","url":"/v2/buildpacks/`+bp.Guid+`","created_at":"`)) {
		t.Errorf("GET: %d %s", r.status, r.body)
	}
	if keys := entityKeys(t, r.body); strings.Join(keys, ",") != "name,stack,position,enabled,locked,filename,lifecycle" {
		t.Errorf("entity keys %v", keys)
	}
	cases := []struct {
		name, method, path, user, body string
		status                         int
		want                           string
	}{
		{"a second one with no stack", "POST", "/v2/buildpacks", "admin", `{"name":"my_bp"}`, 400,
			`{"description":"Buildpack is invalid: stack unique","error_code":"CF-BuildpackInvalid","code":290003}`},
		{"taken for the stack", "POST", "/v2/buildpacks", "admin", `{"name":"staticfile_buildpack","stack":"cflinuxfs4"}`, 422,
			`{"description":"The buildpack name staticfile_buildpack is already in use for the stack cflinuxfs4 and the lifecycle ","error_code":"CF-BuildpackNameStackLifecycleTaken","code":290000}`},
		{"bad name", "POST", "/v2/buildpacks", "admin", `{"name":"a b"}`, 400,
			`{"description":"Buildpack is invalid: name can only contain alphanumeric characters","error_code":"CF-BuildpackInvalid","code":290003}`},
		{"unknown stack", "POST", "/v2/buildpacks", "admin", `{"name":"x","stack":"nope"}`, 400,
			`"description":"Buildpack is invalid: stack buildpack_stack_does_not_exist"`},
		{"name missing", "POST", "/v2/buildpacks", "admin", `{}`, 400,
			`"description":"Request invalid due to parse error: Field: name, Error: Missing field name"`},
		{"a developer", "POST", "/v2/buildpacks", "developer", `{"name":"mine"}`, 403, `"CF-NotAuthorized"`},
		{"unknown guid", "GET", "/v2/buildpacks/no-such-guid", "developer", ``, 404,
			`{"description":"Unknown request","error_code":"CF-NotFound","code":10000}`},
		{"order-by", "GET", "/v2/buildpacks?order-by=position", "admin", ``, 500, `"CF-OrderByParameterInvalid"`},
		{"q name", "GET", "/v2/buildpacks?q=name:my_bp", "developer", ``, 200, `"total_results":1,`},
		{"q stack", "GET", "/v2/buildpacks?q=stack:nope", "developer", ``, 200, `"total_results":0,`},
		{"q lifecycle", "GET", "/v2/buildpacks?q=lifecycle:cnb&q=name:my_bp", "developer", ``, 200, `"total_results":0,`},
	}
	for _, tc := range cases {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		r := s.do(tc.method, s.gwURL+tc.path, tc.user, body)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	up := &cfclient.BuildpackRequest{Stack: &stack}
	up.SetPosition(3)
	up.Lock()
	if err := bp.Update(up); err != nil || !bp.Locked {
		t.Fatalf("Update: %v %+v", err, bp)
	}
	got, err := admin.GetBuildpackByGuid(bp.Guid)
	if err != nil || got.Position != 3 || got.Stack != stack || !got.Locked {
		t.Errorf("GetBuildpackByGuid after update: %v %+v", err, got)
	}
	if r := s.do("PUT", s.gwURL+"/v2/buildpacks/"+bp.Guid, "admin", []byte(`{"stack":"cflinuxfs3"}`)); r.status != 400 ||
		!strings.Contains(string(r.body), `"Buildpack is invalid: stack buildpack_cant_change_stacks"`) {
		t.Errorf("stack change: %d %s", r.status, r.body)
	}
	zipped := buildpackZip(t)
	if err := got.Upload(bytes.NewReader(zipped), "my_bp.zip"); err == nil || !strings.Contains(err.Error(), "CF-BuildpackLocked") {
		t.Errorf("upload while locked: %v", err)
	}
	up = &cfclient.BuildpackRequest{}
	up.Unlock()
	if err := got.Update(up); err != nil {
		t.Fatal(err)
	}
	if err := got.Upload(bytes.NewReader(zipped), "my_bp.zip"); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if got, err = admin.GetBuildpackByGuid(bp.Guid); err != nil || got.Filename != "my_bp.zip" {
		t.Errorf("after upload: %v %+v", err, got)
	}
	if err := admin.DeleteBuildpack(bp.Guid, false); err != nil {
		t.Fatalf("DeleteBuildpack: %v", err)
	}
	if r := s.do("GET", s.gwURL+"/v2/buildpacks/"+bp.Guid, "admin", nil); r.status != 404 {
		t.Errorf("after delete: %d %s", r.status, r.body)
	}
	if err := admin.DeleteBuildpack(all[0].Guid, true); err != nil {
		t.Errorf("DeleteBuildpack async: %v", err)
	}
	if r := s.do("DELETE", s.gwURL+"/v2/buildpacks/"+all[1].Guid+"?async=true", "admin", nil); r.status != 202 || !strings.Contains(string(r.body), `"entity":{"guid":`) {
		t.Errorf("async delete: %d %s", r.status, r.body)
	}
}

// buildpackZip is a small buildpack zip.
func buildpackZip(t *testing.T) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, err := w.Create("bin/detect")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte("#!/bin/sh\nexit 0\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
