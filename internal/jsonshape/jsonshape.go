// Package jsonshape reads the structure of a JSON document, for tests that
// compare a body with a reference body by kind and key order rather than
// by value (guids and times differ from run to run).
package jsonshape

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Shape is the structure of a JSON value: its kind and, for objects, the
// keys in document order with the shape of each.
type Shape struct {
	Kind  string // object, array, string, number, bool, null
	Keys  []string
	Kids  map[string]*Shape
	Items []*Shape
}

// Parse reads the shape of the JSON document b.
func Parse(b []byte) (*Shape, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return read(dec)
}

func read(dec *json.Decoder) (*Shape, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			s := &Shape{Kind: "object", Kids: map[string]*Shape{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				kid, err := read(dec)
				if err != nil {
					return nil, err
				}
				s.Keys = append(s.Keys, k)
				s.Kids[k] = kid
			}
			_, err := dec.Token()
			return s, err
		case '[':
			s := &Shape{Kind: "array"}
			for dec.More() {
				kid, err := read(dec)
				if err != nil {
					return nil, err
				}
				s.Items = append(s.Items, kid)
			}
			_, err := dec.Token()
			return s, err
		}
	case string:
		return &Shape{Kind: "string"}, nil
	case json.Number:
		return &Shape{Kind: "number"}, nil
	case bool:
		return &Shape{Kind: "bool"}, nil
	case nil:
		return &Shape{Kind: "null"}, nil
	}
	return nil, fmt.Errorf("jsonshape: unexpected token %v", tok)
}

// At walks a dotted path ("resources.0.entity") into a shape; a number
// picks an array item.
func (s *Shape) At(path string) *Shape {
	if path == "" {
		return s
	}
	for _, p := range strings.Split(path, ".") {
		if i, err := strconv.Atoi(p); err == nil {
			s = s.Items[i]
		} else {
			s = s.Kids[p]
		}
	}
	return s
}
