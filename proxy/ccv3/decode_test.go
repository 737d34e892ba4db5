package ccv3

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"

	"capibridge/translate"
)

// page50 is a v3 list page of 50 copies of the resource in file, each with
// its own guid, as the Cloud Controller writes them (links included).
func page50(t testing.TB, file string) []byte {
	t.Helper()
	one, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(`{"pagination":{"total_results":50,"total_pages":1,"first":{"href":"https://api.example.com/v3/x?page=1"},"last":{"href":"https://api.example.com/v3/x?page=1"},"next":null,"previous":null},"resources":[`)
	for i := range 50 {
		if i > 0 {
			b.WriteByte(',')
		}
		var m map[string]any
		if err := json.Unmarshal(one, &m); err != nil {
			t.Fatal(err)
		}
		m["guid"] = fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
		r, _ := json.MarshalIndent(m, "    ", "  ")
		b.Write(r)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// TestDecodeAsEncodingJSON: Decode fills the v3 types exactly as
// encoding/json does, custom Unmarshalers and raw messages included.
func TestDecodeAsEncodingJSON(t *testing.T) {
	check := func(name string, body []byte, fresh func() any) {
		want, got := fresh(), fresh()
		if err := json.Unmarshal(body, want); err != nil {
			t.Fatal(err)
		}
		if err := Decode(body, got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: Decode gave\n%+v\nencoding/json\n%+v", name, got, want)
		}
	}
	check("apps", page50(t, "testdata/app.json"), func() any { return new(Page[translate.V3App]) })
	check("processes", page50(t, "testdata/process.json"), func() any { return new(Page[translate.V3Process]) })
	check("env", []byte(`{"var":{"A":"x","B":{"n":[1,2.5,null,true]}},"links":{}}`), func() any {
		return new(struct {
			Var map[string]json.RawMessage `json:"var"`
		})
	})
	check("error", []byte(`{"errors":[{"code":10010,"title":"CF-ResourceNotFound","detail":"App not found"}]}`), func() any { return new(Error) })
	if err := Decode([]byte(`{"resources":[{"guid":`), new(Page[translate.V3App])); err == nil {
		t.Error("a truncated body decoded without an error")
	}
}

// BenchmarkDecode compares Decode with encoding/json on 50-resource v3
// pages: the ratio is the gain.
func BenchmarkDecode(b *testing.B) {
	for _, c := range []struct {
		name  string
		file  string
		fresh func() any
	}{
		{"apps", "testdata/app.json", func() any { return new(Page[translate.V3App]) }},
		{"processes", "testdata/process.json", func() any { return new(Page[translate.V3Process]) }},
	} {
		body := page50(b, c.file)
		for _, d := range []struct {
			name string
			f    func([]byte, any) error
		}{{"encoding-json", json.Unmarshal}, {"Decode", Decode}} {
			b.Run(c.name+"/"+d.name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					if err := d.f(body, c.fresh()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
