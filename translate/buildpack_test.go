package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The v2 buildpack of a v3 one is buildpack.current-shape.json.
func TestBuildpackResource(t *testing.T) {
	ref, err := os.ReadFile(filepath.Join("testdata", "reference", "buildpack.current-shape.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, ref); err != nil {
		t.Fatal(err)
	}
	var b V3Buildpack
	if err := json.Unmarshal([]byte(`{"guid":"4cfce0c3-4187-4a6b-8f88-a9359cd1d366","created_at":"2016-06-08T16:41:31Z","updated_at":"2016-06-08T16:41:26Z",`+
		`"name":"name_1","state":"READY","filename":"name-1634","stack":"cflinuxfs4","position":1,"lifecycle":"buildpack","enabled":true,"locked":false}`), &b); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := AppendBuildpackResource(&got, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got.Bytes()), want.Bytes()) {
		t.Errorf("got  %s\nwant %s", got.Bytes(), want.Bytes())
	}
}

func TestBuildpackRequests(t *testing.T) {
	cases := []struct {
		name, body string
		create     bool
		v3, err    string
	}{
		{"create, defaults left to v3", `{"name":"Golang_buildpack"}`, true, `{"name":"Golang_buildpack"}`, ""},
		{"position 0 is the top", `{"name":"x","position":0,"stack":"cflinuxfs4","lifecycle":"cnb"}`, true,
			`{"lifecycle":"cnb","name":"x","position":1,"stack":"cflinuxfs4"}`, ""},
		{"update ignores lifecycle", `{"position":3,"lifecycle":"cnb","locked":true}`, false, `{"locked":true,"position":3}`, ""},
		{"name format", `{"name":"a.b"}`, true, "", "Buildpack is invalid: name can only contain alphanumeric characters"},
		{"name missing", `{}`, true, "", "Request invalid due to parse error: Field: name, Error: Missing field name"},
		{"position type", `{"name":"x","position":"1"}`, true, "", "Field: position, Error: Expected instance of Integer, given an instance of String"},
	}
	for _, tc := range cases {
		r, err := ParseBuildpackRequest([]byte(tc.body), tc.create)
		if tc.err != "" {
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.err)) {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		body, err := V3BuildpackWrite(r)
		if err != nil || string(body) != tc.v3 {
			t.Errorf("%s: %v %s", tc.name, err, body)
		}
	}
	stack := "cflinuxfs4"
	for _, tc := range []struct{ detail, want string }{
		{"Stack 'nope' does not exist", "Buildpack is invalid: stack buildpack_stack_does_not_exist"},
		{"Buildpack with name 'x' and an unassigned stack already exists", "Buildpack is invalid: stack unique"},
		{"Buildpack with name 'x', stack 'cflinuxfs4' and lifecycle 'buildpack' already exists",
			"The buildpack name x is already in use for the stack cflinuxfs4 and the lifecycle "},
		{"Buildpack stack cannot be changed", "Buildpack is invalid: stack buildpack_cant_change_stacks"},
	} {
		name := "x"
		if e := BuildpackWriteError(422, tc.detail, BuildpackRequest{Name: &name, Stack: &stack}); e.Description != tc.want {
			t.Errorf("%s: %s", tc.detail, e.Description)
		}
	}
}
