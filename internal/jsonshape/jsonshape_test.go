package jsonshape

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	s, err := Parse([]byte(`{"b":1,"a":{"x":null,"y":[true,"s"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	a := s.Kids["a"]
	if s.Kind != "object" || strings.Join(s.Keys, ",") != "b,a" || s.Kids["b"].Kind != "number" || strings.Join(a.Keys, ",") != "x,y" ||
		a.Kids["x"].Kind != "null" || len(a.Kids["y"].Items) != 2 || a.Kids["y"].Items[0].Kind != "bool" || a.Kids["y"].Items[1].Kind != "string" {
		t.Errorf("shape %+v", s)
	}
	if got := s.At("a.y.1").Kind; got != "string" {
		t.Errorf("At(a.y.1) is %s", got)
	}
	if _, err := Parse([]byte(`{"a":`)); err == nil {
		t.Error("a cut document parsed")
	}
}
