package translate

import (
	"bytes"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The v2 app usage events (MAPPING-orgs §12.6), from v3's, whose nested
// fields v2 flattens. package_state and previous_package_state are not in
// v3 and come out null.

// V3UsageEvent is GET /v3/app_usage_events/:guid
// (cc:app/presenters/v3/app_usage_event_presenter.rb).
type V3UsageEvent struct {
	GUID      string    `json:"guid"`
	CreatedAt time.Time `json:"created_at"`
	State     struct {
		Current  *string `json:"current"`
		Previous *string `json:"previous"`
	} `json:"state"`
	App struct {
		GUID *string `json:"guid"`
		Name *string `json:"name"`
	} `json:"app"`
	Process struct {
		GUID *string `json:"guid"`
		Type *string `json:"type"`
	} `json:"process"`
	Space struct {
		GUID *string `json:"guid"`
		Name *string `json:"name"`
	} `json:"space"`
	Organization struct {
		GUID *string `json:"guid"`
	} `json:"organization"`
	Buildpack struct {
		GUID *string `json:"guid"`
		Name *string `json:"name"`
	} `json:"buildpack"`
	Task struct {
		GUID *string `json:"guid"`
		Name *string `json:"name"`
	} `json:"task"`
	Memory struct {
		Current  *int64 `json:"current"`
		Previous *int64 `json:"previous"`
	} `json:"memory_in_mb_per_instance"`
	Instances struct {
		Current  *int64 `json:"current"`
		Previous *int64 `json:"previous"`
	} `json:"instance_count"`
}

// V2UsageEventEntity is AppUsageEventPresenter's entity, in its order.
type V2UsageEventEntity struct {
	State                 *string `json:"state"`
	PreviousState         *string `json:"previous_state"`
	Memory                *int64  `json:"memory_in_mb_per_instance"`
	PreviousMemory        *int64  `json:"previous_memory_in_mb_per_instance"`
	InstanceCount         *int64  `json:"instance_count"`
	PreviousInstanceCount *int64  `json:"previous_instance_count"`
	AppGUID               string  `json:"app_guid"`
	AppName               string  `json:"app_name"`
	SpaceGUID             *string `json:"space_guid"`
	SpaceName             *string `json:"space_name"`
	OrgGUID               *string `json:"org_guid"`
	BuildpackGUID         *string `json:"buildpack_guid"`
	BuildpackName         *string `json:"buildpack_name"`
	PackageState          *string `json:"package_state"`
	PreviousPackageState  *string `json:"previous_package_state"`
	ParentAppGUID         *string `json:"parent_app_guid"`
	ParentAppName         *string `json:"parent_app_name"`
	ProcessType           *string `json:"process_type"`
	TaskName              *string `json:"task_name"`
	TaskGUID              *string `json:"task_guid"`
}

// usageEventMetadata is an app usage event's metadata: the model has no
// updated_at, so v2 shows none.
type usageEventMetadata struct {
	GUID      string `json:"guid"`
	URL       string `json:"url"`
	CreatedAt string `json:"created_at"`
}

// AppendUsageEventResource writes the v2 app usage event of e. v3 shows
// the stored app_guid "" of task and build events as a null process guid;
// those events stored app_name "" too, which v3 does not show apart from
// the parent app's name.
func AppendUsageEventResource(buf *bytes.Buffer, e V3UsageEvent) error {
	v := V2UsageEventEntity{State: e.State.Current, PreviousState: e.State.Previous, Memory: e.Memory.Current, PreviousMemory: e.Memory.Previous,
		InstanceCount: e.Instances.Current, PreviousInstanceCount: e.Instances.Previous, SpaceGUID: e.Space.GUID, SpaceName: e.Space.Name,
		OrgGUID: e.Organization.GUID, BuildpackGUID: e.Buildpack.GUID, BuildpackName: obfuscateURL(e.Buildpack.Name),
		ParentAppGUID: e.App.GUID, ParentAppName: e.App.Name, ProcessType: e.Process.Type, TaskName: e.Task.Name, TaskGUID: e.Task.GUID}
	if e.Process.GUID != nil {
		v.AppGUID = *e.Process.GUID
		if e.App.Name != nil {
			v.AppName = *e.App.Name
		}
	}
	return encodeJSON(buf, &struct {
		Metadata usageEventMetadata `json:"metadata"`
		Entity   V2UsageEventEntity `json:"entity"`
	}{usageEventMetadata{e.GUID, "/v2/app_usage_events/" + e.GUID, formatTime(e.CreatedAt)}, v})
}

// obfuscateURL is CC's UrlSecretObfuscator: a URL's user and password
// become "***" (a buildpack may be named by a git URL with credentials).
func obfuscateURL(s *string) *string {
	if s == nil {
		return nil
	}
	u, err := url.Parse(*s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	out := u.String()
	if i := strings.Index(out, "//"); i >= 0 {
		out = out[:i+2] + "***:***@" + out[i+2:]
	}
	return &out
}

// EventNotFound is CC's 230002, the not-found of an app usage event.
func EventNotFound(guid string) *Error {
	return &Error{Status: 404, Code: 230002, Name: "EventNotFound", Description: "Event could not be found: " + guid}
}

// maxLargeResultsPerPage is LargePaginatedCollectionRenderer's page limit
// (renderer.max_results_per_page for large collections, 10000), which
// /v2/app_usage_events pages with.
const maxLargeResultsPerPage = 10000

// ParseLargeListParams is ParseListParams for a list rendered by the
// large paginated collection renderer: pages of up to 10000.
func ParseLargeListParams(pairs [][2]string, maxDepth int) (ListParams, error) {
	lp, err := parseCommonParams(pairs)
	if err != nil {
		return ListParams{}, err
	}
	if lp.ResultsPerPage > maxLargeResultsPerPage {
		return ListParams{}, BadQueryParameter("results_per_page must be <= " + strconv.Itoa(maxLargeResultsPerPage))
	}
	// The remaining checks are ParseListParams', with a page size it takes.
	probe := make([][2]string, 0, len(pairs)+1)
	for _, p := range pairs {
		if p[0] != "results-per-page" {
			probe = append(probe, p)
		}
	}
	probe = append(probe, [2]string{"results-per-page", strconv.Itoa(min(max(lp.ResultsPerPage, 0), maxResultsPerPage))})
	checked, err := ParseListParams(probe, maxDepth)
	if err != nil {
		return ListParams{}, err
	}
	checked.ResultsPerPage = lp.ResultsPerPage
	if lp.Page-1 > math.MaxInt/max(lp.ResultsPerPage, 1) {
		return ListParams{}, UnknownError()
	}
	return checked, nil
}
