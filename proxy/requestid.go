package proxy

import (
	"github.com/google/uuid"
)

// newRequestID builds X-VCAP-Request-ID as CC's VcapRequestContextSetter
// does (MAPPING §6): the client's X-Vcap-Request-Id (else X-Request-Id)
// with every character outside [A-Za-z0-9_-] removed, cut to 255, then
// "::" and a fresh uuid; a fresh uuid alone when the client sent none.
func newRequestID(vcap, fallback []byte) string {
	given := vcap
	if len(given) == 0 {
		given = fallback
	}
	fresh := uuid.NewString()
	if len(given) == 0 {
		return fresh
	}
	clean := make([]byte, 0, min(len(given), 255)+2+len(fresh))
	for _, c := range given {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			clean = append(clean, c)
			if len(clean) == 255 {
				break
			}
		}
	}
	if len(clean) == 0 {
		return fresh
	}
	return string(append(append(clean, "::"...), fresh...))
}
