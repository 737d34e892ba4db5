package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenPairs renders every testdata/<dir>/<case>.v3.json with render and
// compares the indented result with <case>.v2.json, which were written by
// hand from CC's presenters (key order and nulls count). -update rewrites
// them.
func goldenPairs(t *testing.T, dir string, render func(raw []byte) ([]byte, error)) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.v3.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs in testdata/%s: %v", dir, err)
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".v3.json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := render(raw)
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "  "); err != nil {
				t.Fatalf("invalid JSON %s: %v", got, err)
			}
			pretty.WriteByte('\n')
			out := strings.TrimSuffix(in, ".v3.json") + ".v2.json"
			if appGoldenUpdate() {
				if err := os.WriteFile(out, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run go test ./translate -update)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("%s differs from the rendering:\n%s", out, appLineDiff(string(want), pretty.String()))
			}
		})
	}
}

func TestStackGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "stacks", func(raw []byte) ([]byte, error) {
		var s V3Stack
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return StackResource(s)
	})
}

// TestStackRootfsDefaultsToName covers a v3 that leaves the images empty:
// Stack#build_rootfs_image is "super || name".
func TestStackRootfsDefaultsToName(t *testing.T) {
	t.Parallel()
	got, err := StackResource(V3Stack{GUID: "g", Name: "cflinuxfs4"})
	if err != nil {
		t.Fatal(err)
	}
	want := `"entity":{"name":"cflinuxfs4","description":null,"build_rootfs_image":"cflinuxfs4","run_rootfs_image":"cflinuxfs4"}`
	if !strings.Contains(string(got), want) {
		t.Errorf("got %s, want it to contain %s", got, want)
	}
}
