package backend

import (
	"bytes"
	"slices"
	"strings"
)

// fields[...] of the service lists (cc:app/messages/validators.rb,
// FieldsValidator, and the Field*Decorators of cc:app/decorators): a
// query names a related resource in brackets and the keys of it to show,
// fields[space]=guid,name; the list (or the shown resource) gets those
// related resources, reduced to the keys, in its included block.

// fieldSpec is a related resource that fields[...] may name, with its keys.
type fieldSpec struct {
	resource string
	keys     []string
}

// fieldsKey is "fields" for a key of the form fields[<resource>], the name
// CC's messages know them by; other keys are themselves.
func fieldsKey(key string) string {
	if strings.HasPrefix(key, "fields[") && strings.HasSuffix(key, "]") {
		return "fields"
	}
	return key
}

// fields reads the fields[...] keys against specs, with FieldsValidator's
// texts. It is nil when there are none.
func (q query) fields(specs []fieldSpec) (map[string][]string, error) {
	var out map[string][]string
	var problems []string
	for _, k := range q.order {
		if fieldsKey(k) != "fields" || k == "fields" {
			continue
		}
		res := strings.TrimSuffix(strings.TrimPrefix(k, "fields["), "]")
		i := slices.IndexFunc(specs, func(f fieldSpec) bool { return f.resource == res })
		if i < 0 {
			names := make([]string, len(specs))
			for j, f := range specs {
				names[j] = "'" + f.resource + "'"
			}
			problems = append(problems, "Fields ["+res+"] valid resources are: "+strings.Join(names, ", "))
			continue
		}
		keys := q.list(k)
		for _, key := range keys {
			if !slices.Contains(specs[i].keys, key) {
				quoted := make([]string, len(specs[i].keys))
				for j, a := range specs[i].keys {
					quoted[j] = "'" + a + "'"
				}
				problems = append(problems, "Fields valid keys for '"+res+"' are: "+strings.Join(quoted, ", "))
				break
			}
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[res] = keys
	}
	if q.has("fields") {
		problems = append(problems, "Fields must be an object")
	}
	if len(problems) > 0 {
		return nil, errBadQuery(strings.Join(problems, ", "))
	}
	return out, nil
}

// field is one key of a resource reduced by fields[...]: sel is how the
// query names it, key how the JSON does ("relationships.organization" is
// the key "relationships").
type field struct {
	sel, key string
	val      any
}

// ordered is a JSON object with its keys in the order given.
type ordered []field

// MarshalJSON writes the fields in order.
func (o ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalRaw(f.key)
		if err != nil {
			return nil, err
		}
		v, err := marshalRaw(f.val)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// pick keeps the fields whose sel is in selected, in the order given.
func pick(selected []string, fs ...field) ordered {
	out := ordered{}
	for _, f := range fs {
		if slices.Contains(selected, f.sel) {
			out = append(out, f)
		}
	}
	return out
}
