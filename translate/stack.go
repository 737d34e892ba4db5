package translate

import (
	"bytes"
	"time"
)

// V3Stack is a v3 stack (GET /v3/stacks/:guid).
type V3Stack struct {
	GUID        string  `json:"guid"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	// BuildRootfsImage and RunRootfsImage are already defaulted to the
	// stack name by v3, as Stack#build_rootfs_image does for v2.
	BuildRootfsImage string    `json:"build_rootfs_image"`
	RunRootfsImage   string    `json:"run_rootfs_image"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// V2Metadata is the metadata of a v2 resource other than an app:
// guid, relative url, created_at, updated_at (BasePresenter#metadata_hash).
type V2Metadata struct {
	GUID      string  `json:"guid"`
	URL       string  `json:"url"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt *string `json:"updated_at"`
}

func v2Metadata(collection, guid string, created, updated time.Time) V2Metadata {
	return V2Metadata{GUID: guid, URL: "/v2/" + collection + "/" + guid, CreatedAt: formatTime(created), UpdatedAt: timePtr(updated)}
}

// V2StackEntity is the entity of a v2 stack. StacksController has no
// relations, so CC's DefaultPresenter renders Stack#to_hash alone: the
// model's export_attributes in their order (cc:app/models/runtime/stack.rb,
// "export_attributes :name, :description, :build_rootfs_image,
// :run_rootfs_image"). The HTML docs under docs/v2/stacks predate the two
// rootfs attributes and show only name and description.
type V2StackEntity struct {
	Name             string  `json:"name"`
	Description      *string `json:"description"`
	BuildRootfsImage string  `json:"build_rootfs_image"`
	RunRootfsImage   string  `json:"run_rootfs_image"`
}

// V2StackResource is a v2 stack as CC renders it.
type V2StackResource struct {
	Metadata V2Metadata    `json:"metadata"`
	Entity   V2StackEntity `json:"entity"`
}

// StackResource renders the v2 stack resource of s.
func StackResource(s V3Stack) ([]byte, error) {
	var buf bytes.Buffer
	if err := AppendStackResource(&buf, s); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AppendStackResource writes the v2 stack resource of s to buf.
func AppendStackResource(buf *bytes.Buffer, s V3Stack) error {
	r := V2StackResource{
		Metadata: v2Metadata("stacks", s.GUID, s.CreatedAt, s.UpdatedAt),
		Entity:   V2StackEntity{Name: s.Name, Description: s.Description, BuildRootfsImage: s.BuildRootfsImage, RunRootfsImage: s.RunRootfsImage},
	}
	// Stack#build_rootfs_image is "super || name".
	if r.Entity.BuildRootfsImage == "" {
		r.Entity.BuildRootfsImage = s.Name
	}
	if r.Entity.RunRootfsImage == "" {
		r.Entity.RunRootfsImage = s.Name
	}
	return encodeJSON(buf, &r)
}

// StackQueryKeys returns the q keys /v2/stacks accepts (StacksController
// query_parameters :name), for ParseQ.
func StackQueryKeys() []string { return []string{"name"} }
