package translate

import (
	"encoding/json"
	"testing"
)

// spaceGoldenInput is a testdata/spaces/<case>.v3.json file: the space and
// its ssh feature as v3 sends them.
type spaceGoldenInput struct {
	Space      V3Space      `json:"space"`
	FeatureSSH V3AppFeature `json:"feature_ssh"`
	// IsolationSegment is GET /v3/spaces/:guid/relationships/isolation_segment.
	IsolationSegment V3ToOne `json:"isolation_segment"`
}

func TestSpaceGolden(t *testing.T) {
	t.Parallel()
	goldenPairs(t, "spaces", func(raw []byte) ([]byte, error) {
		var in spaceGoldenInput
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, err
		}
		return SpaceResource(SpaceBundle{Space: in.Space, AllowSSH: in.FeatureSSH.Enabled, IsolationSegmentGUID: in.IsolationSegment.GUID()})
	})
}
