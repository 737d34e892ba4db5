package backend

import (
	"strings"

	"capibridge/backend/store"
)

// The read side of staging: packages, builds and droplets (the writes,
// the simulated staging and the bits on disk are in staging*.go and
// blobs.go). Their shapes follow shared/reference/v3 (package_bits.json, package_docker.json,
// build_staged.json, build_staging.json, droplet.json), which is where CC's
// docs put the keys; the presenters are cc:app/presenters/v3/package_presenter.rb,
// build_presenter.rb and droplet_presenter.rb.

// ccError joins an error id and description as CC's BuildPresenter#error
// and DropletModel#error do: "<id> - <description>", null when both are empty.
func ccError(id, description *string) *string {
	var parts []string
	for _, p := range []*string{id, description} {
		if p != nil {
			parts = append(parts, *p)
		}
	}
	e := strings.Join(parts, " - ")
	if strings.TrimSpace(e) == "" {
		return nil
	}
	return &e
}

type packageJSON struct {
	GUID          string `json:"guid"`
	Type          string `json:"type"`
	Data          any    `json:"data"`
	State         string `json:"state"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
	Relationships struct {
		App toOne `json:"app"`
	} `json:"relationships"`
	Links struct {
		Self     link  `json:"self"`
		Upload   *link `json:"upload,omitempty"`
		Download *link `json:"download,omitempty"`
		App      link  `json:"app"`
	} `json:"links"`
	Metadata metadataJSON `json:"metadata"`
}

type checksumJSON struct {
	Type  string  `json:"type"`
	Value *string `json:"value"`
}

type bitsDataJSON struct {
	Checksum checksumJSON `json:"checksum"`
	Error    *string      `json:"error"`
}

type dockerDataJSON struct {
	Image    *string `json:"image"`
	Username *string `json:"username"`
	Password *string `json:"password"`
}

// presentPackage renders a package. Docker data never shows the password:
// "***" when there is a username, else null (PackagePresenter#docker_data,
// MAPPING §6). Bits data shows the sha256 checksum, or the sha1 when only
// that is known (PackageModel#checksum_info).
func presentPackage(base string, p store.Package) packageJSON {
	j := packageJSON{GUID: p.GUID, Type: p.Type, State: p.State, CreatedAt: timestamp(p.CreatedAt), UpdatedAt: timestamp(p.UpdatedAt),
		Metadata: meta(p.Labels, p.Annotations)}
	self := base + "/v3/packages/" + p.GUID
	j.Links.Self = link{Href: self}
	if p.Type == store.PackageDocker {
		d := dockerDataJSON{Image: p.DockerImage, Username: p.DockerUsername}
		if p.DockerUsername != nil {
			stars := "***"
			d.Password = &stars
		}
		j.Data = d
	} else {
		sum := checksumJSON{Type: "sha256", Value: p.SHA256Checksum}
		if p.SHA256Checksum == nil && p.SHA1Checksum != nil {
			sum = checksumJSON{Type: "sha1", Value: p.SHA1Checksum}
		}
		j.Data = bitsDataJSON{Checksum: sum, Error: p.Error}
		j.Links.Upload = &link{Href: self + "/upload", Method: "POST"}
		j.Links.Download = &link{Href: self + "/download", Method: "GET"}
	}
	j.Relationships.App = one(p.AppGUID)
	j.Links.App = link{Href: base + "/v3/apps/" + p.AppGUID}
	return j
}

// packageResource is GET /v3/packages, /v3/packages/:guid and, with appPackages,
// /v3/apps/:guid/packages (cc:app/messages/packages_list_message.rb).
var packageResource = &resource[store.Package, store.PackageFilter, packageJSON]{
	name:   "Package",
	path:   "/v3/packages",
	keys:   listKeys("guids", "states", "types", "app_guids", "space_guids", "organization_guids"),
	orders: timeOrders,
	filter: func(q *params) store.PackageFilter {
		return store.PackageFilter{GUIDs: q.list("guids"), AppGUIDs: q.list("app_guids"), SpaceGUIDs: q.list("space_guids"),
			OrgGUIDs: q.list("organization_guids"), States: q.list("states"), Types: q.list("types"),
			Labels: q.labels(), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
	},
	list:    (*store.Store).ListPackages,
	get:     (*store.Store).GetPackage,
	present: each(func(r *request, p store.Package) packageJSON { return presentPackage(r.base, p) }),
}

// appPackages is GET /v3/apps/:guid/packages, which MAPPING §1.2 reads
// newest first (order_by=-created_at&per_page=1) for the latest package.
var appPackages = nest[store.PackageFilter]{keys: listKeys("guids", "states", "types"), rejected: appNestedKeys,
	narrow: func(f *store.PackageFilter, app string) { f.AppGUIDs = []string{app} }}

type buildJSON struct {
	GUID      string `json:"guid"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	CreatedBy struct {
		GUID  string `json:"guid"`
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"created_by"`
	State           string        `json:"state"`
	StagingMemoryMB int64         `json:"staging_memory_in_mb"`
	StagingDiskMB   int64         `json:"staging_disk_in_mb"`
	StagingLogRate  int64         `json:"staging_log_rate_limit_bytes_per_second"`
	Error           *string       `json:"error"`
	Lifecycle       lifecycleJSON `json:"lifecycle"`
	Package         guidJSON      `json:"package"`
	Droplet         *guidJSON     `json:"droplet"`
	Relationships   struct {
		App toOne `json:"app"`
	} `json:"relationships"`
	Metadata metadataJSON `json:"metadata"`
	Links    struct {
		Self    link  `json:"self"`
		App     link  `json:"app"`
		Droplet *link `json:"droplet,omitempty"`
	} `json:"links"`
}

// finalDropletStates are DropletModel::FINAL_STATES: a build shows its
// droplet only once the droplet is in one (BuildPresenter#droplet).
var finalDropletStates = []string{store.DropletStaged, store.DropletFailed, store.DropletExpired}

func presentBuild(base string, b store.Build) buildJSON {
	j := buildJSON{GUID: b.GUID, CreatedAt: timestamp(b.CreatedAt), UpdatedAt: timestamp(b.UpdatedAt), State: b.State,
		StagingMemoryMB: b.StagingMemoryMB, StagingDiskMB: b.StagingDiskMB, StagingLogRate: b.StagingLogRate,
		Error: ccError(b.ErrorID, b.ErrorDescription), Metadata: meta(b.Labels, b.Annotations)}
	j.CreatedBy.GUID, j.CreatedBy.Name, j.CreatedBy.Email = b.CreatedBy.GUID, b.CreatedBy.Name, b.CreatedBy.Email
	j.Lifecycle.Type = b.LifecycleType
	if b.LifecycleType == "docker" {
		j.Lifecycle.Data = emptyObject{}
	} else {
		j.Lifecycle.Data = buildpackData{Buildpacks: b.Buildpacks, Stack: b.Stack}
	}
	pkg := b.PackageGUID
	j.Package = guidJSON{GUID: &pkg}
	j.Relationships.App = one(b.AppGUID)
	j.Links.Self = link{Href: base + "/v3/builds/" + b.GUID}
	j.Links.App = link{Href: base + "/v3/apps/" + b.AppGUID}
	if b.DropletGUID != nil && contains(finalDropletStates, b.DropletState) {
		j.Droplet = &guidJSON{GUID: b.DropletGUID}
		j.Links.Droplet = &link{Href: base + "/v3/droplets/" + *b.DropletGUID}
	}
	return j
}

// buildResource is GET /v3/builds, /v3/builds/:guid and, with appBuilds,
// /v3/apps/:guid/builds (cc:app/messages/builds_list_message.rb).
var buildResource = &resource[store.Build, store.BuildFilter, buildJSON]{
	name:   "Build",
	path:   "/v3/builds",
	keys:   listKeys("app_guids", "package_guids", "states"),
	orders: timeOrders,
	filter: func(q *params) store.BuildFilter {
		return store.BuildFilter{AppGUIDs: q.list("app_guids"), PackageGUIDs: q.list("package_guids"), States: q.list("states"),
			Labels: q.labels(), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
	},
	list:    (*store.Store).ListBuilds,
	get:     (*store.Store).GetBuild,
	present: each(func(r *request, b store.Build) buildJSON { return presentBuild(r.base, b) }),
}

// appBuilds is GET /v3/apps/:guid/builds; CC's AppBuildsListMessage
// knows states only, so app_guids is an ordinary unknown parameter here.
var appBuilds = nest[store.BuildFilter]{keys: listKeys("states"),
	narrow: func(f *store.BuildFilter, app string) { f.AppGUIDs = []string{app} }}

type dropletJSON struct {
	GUID              string        `json:"guid"`
	State             string        `json:"state"`
	Error             *string       `json:"error"`
	Lifecycle         lifecycleJSON `json:"lifecycle"`
	ExecutionMetadata string        `json:"execution_metadata"`
	ProcessTypes      any           `json:"process_types"`
	Checksum          *checksumJSON `json:"checksum"`
	// Buildpacks is null for docker droplets (DropletPresenter#droplet_buildpack_info).
	Buildpacks    []store.DropletBuildpack `json:"buildpacks"`
	Stack         *string                  `json:"stack"`
	Image         *string                  `json:"image"`
	CreatedAt     string                   `json:"created_at"`
	UpdatedAt     string                   `json:"updated_at"`
	Relationships struct {
		App toOne `json:"app"`
	} `json:"relationships"`
	Links struct {
		Self                 link  `json:"self"`
		Package              *link `json:"package,omitempty"`
		App                  link  `json:"app"`
		AssignCurrentDroplet link  `json:"assign_current_droplet"`
		Upload               *link `json:"upload,omitempty"`
		Download             *link `json:"download,omitempty"`
	} `json:"links"`
	Metadata metadataJSON `json:"metadata"`
}

// presentDroplet renders a droplet. redacted replaces execution_metadata
// and process_types, as CC's BasePresenter#redact and #redact_hash do for
// a presenter without show_secrets; "" shows them.
func presentDroplet(base string, d store.Droplet, redacted string) dropletJSON {
	j := dropletJSON{GUID: d.GUID, State: d.State, Error: ccError(d.ErrorID, d.ErrorDescription), ExecutionMetadata: d.ExecutionMetadata,
		Stack: d.Stack, Image: d.Image, CreatedAt: timestamp(d.CreatedAt), UpdatedAt: timestamp(d.UpdatedAt), Metadata: meta(d.Labels, d.Annotations)}
	// A droplet's lifecycle data is always empty (DropletPresenter).
	j.Lifecycle = lifecycleJSON{Type: d.LifecycleType, Data: emptyObject{}}
	j.ProcessTypes = d.ProcessTypes
	if redacted != "" {
		j.ExecutionMetadata = redacted
		j.ProcessTypes = map[string]string{"redacted_message": redacted}
	}
	switch {
	case d.SHA256Checksum != nil:
		j.Checksum = &checksumJSON{Type: "sha256", Value: d.SHA256Checksum}
	case d.SHA1Checksum != nil:
		j.Checksum = &checksumJSON{Type: "sha1", Value: d.SHA1Checksum}
	}
	if d.LifecycleType != "docker" {
		j.Buildpacks = d.Buildpacks
		if j.Buildpacks == nil {
			j.Buildpacks = []store.DropletBuildpack{}
		}
	}
	j.Relationships.App = one(d.AppGUID)
	self := base + "/v3/droplets/" + d.GUID
	app := base + "/v3/apps/" + d.AppGUID
	j.Links.Self = link{Href: self}
	if d.PackageGUID != nil {
		j.Links.Package = &link{Href: base + "/v3/packages/" + *d.PackageGUID}
	}
	j.Links.App = link{Href: app}
	j.Links.AssignCurrentDroplet = link{Href: app + "/relationships/current_droplet", Method: "PATCH"}
	if d.State == store.DropletAwaitingUpload {
		j.Links.Upload = &link{Href: self + "/upload", Method: "POST"}
	}
	// Only a staged buildpack droplet has bits to download.
	if d.State == store.DropletStaged && d.LifecycleType != "docker" {
		j.Links.Download = &link{Href: self + "/download"}
	}
	return j
}

// currentFilter reads current, which CC accepts only as "true"
// (DropletsListMessage).
func (q query) currentFilter() (bool, error) {
	if !q.has("current") {
		return false, nil
	}
	if q.str("current") != "true" {
		return false, errBadQuery("Current only accepts the value 'true'")
	}
	return true, nil
}

// dropletResource is GET /v3/droplets, /v3/droplets/:guid and, with
// appDroplets, /v3/apps/:guid/droplets. current=true is taken at the top
// level too, for the batch read of MAPPING §3.3 (app_guids=…&current=true);
// CC itself accepts current only under /v3/apps/:guid/droplets and refuses
// it there (DropletsListMessage#not_app_nested_request). A list always
// redacts process_types and execution_metadata (PaginatedListPresenter
// presents with REDACTED_LIST_MESSAGE); a get shows them to readers of
// secrets in the droplet's space only (DropletsController#show).
var dropletResource = &resource[store.Droplet, store.DropletFilter, dropletJSON]{
	name:   "Droplet",
	path:   "/v3/droplets",
	keys:   listKeys("guids", "app_guids", "space_guids", "organization_guids", "states", "current"),
	orders: timeOrders,
	filter: func(q *params) store.DropletFilter {
		f := store.DropletFilter{GUIDs: q.list("guids"), AppGUIDs: q.list("app_guids"), SpaceGUIDs: q.list("space_guids"),
			OrgGUIDs: q.list("organization_guids"), States: q.list("states"),
			Labels: q.labels(), CreatedAts: q.times("created_ats"), UpdatedAts: q.times("updated_ats")}
		current, err := q.q.currentFilter()
		q.check(err)
		f.Current = current
		return f
	},
	list: (*store.Store).ListDroplets,
	get:  (*store.Store).GetDroplet,
	present: each(func(r *request, d store.Droplet) dropletJSON {
		return presentDroplet(r.base, d, redactedListMessage)
	}),
	show: showDroplet,
}

// appDroplets is GET /v3/apps/:guid/droplets; a bad current is refused
// before the app is looked up.
var appDroplets = nest[store.DropletFilter]{keys: listKeys("guids", "states", "current"), rejected: appNestedKeys,
	check: func(q query) error {
		_, err := q.currentFilter()
		return err
	},
	narrow: func(f *store.DropletFilter, app string) { f.AppGUIDs = []string{app} }}

// packageDroplets is GET /v3/packages/:guid/droplets, the droplets staged
// from a package (DropletsController#index, package_nested?): the top-level
// keys but current, checked before the package is looked up. The cf CLI 7
// and 8 read it when they start or restart an app.
var packageDroplets = nest[store.DropletFilter]{parent: packageParent,
	keys:   listKeys("guids", "app_guids", "space_guids", "organization_guids", "states"),
	narrow: func(f *store.DropletFilter, pkg string) { f.PackageGUIDs = []string{pkg} }}

// packageParent is the parent of the lists under /v3/packages/:guid.
var packageParent = &parent{path: "/v3/packages", find: func(s *Server, r *request, guid string) (string, error) {
	p, err := packageResource.find(s, r, guid)
	return p.GUID, err
}}

// showDroplet shows process_types and execution_metadata to readers of
// secrets in the droplet's space only.
func showDroplet(s *Server, r *request, d store.Droplet) (dropletJSON, error) {
	sp, err := s.store.GetSpace(r.ctx, store.Viewer{All: true}, d.SpaceGUID)
	if err != nil {
		return dropletJSON{}, errInternal(err)
	}
	roles, err := s.rolesIn(r.ctx, r.user, sp.OrgGUID, sp.GUID)
	if err != nil {
		return dropletJSON{}, errInternal(err)
	}
	redacted := ""
	if !roles.secrets {
		redacted = redactedMessage
	}
	return presentDroplet(r.base, d, redacted), nil
}

// currentDroplet loads the current droplet of an app the caller can see:
// 404 App when it cannot, 404 Droplet when the app has none
// (AppsV3Controller#current_droplet, droplet_not_found!).
func (s *Server) currentDroplet(r *request) (appAccess, store.Droplet, error) {
	acc, err := s.findApp(r, r.params[0])
	if err != nil {
		return acc, store.Droplet{}, err
	}
	if acc.app.DropletGUID == nil {
		return acc, store.Droplet{}, errNotFound("Droplet")
	}
	d, err := s.store.GetDroplet(r.ctx, store.Viewer{All: true}, *acc.app.DropletGUID)
	if err != nil {
		return acc, d, storeErr(err, "Droplet")
	}
	return acc, d, nil
}

// getAppCurrentDroplet is GET /v3/apps/:guid/droplets/current. CC builds its
// DropletPresenter without show_secrets, whose default is true, so every
// reader of the app sees process_types here, space auditors included
// (AppsV3Controller#current_droplet; BasePresenter#initialize). It is the
// one read that gives the gateway a detected start command for any reader
// (MAPPING §1.2, detected_start_command).
func (s *Server) getAppCurrentDroplet(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	_, d, err := s.currentDroplet(r)
	if err != nil {
		return err
	}
	return r.reply(200, presentDroplet(r.base, d, ""))
}

// getAppCurrentDropletRelationship is GET
// /v3/apps/:guid/relationships/current_droplet (AppDropletRelationshipPresenter).
func (s *Server) getAppCurrentDropletRelationship(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	acc, d, err := s.currentDroplet(r)
	if err != nil {
		return err
	}
	self := r.base + "/v3/apps/" + acc.app.GUID
	out := struct {
		Data  guidJSON `json:"data"`
		Links struct {
			Self    link `json:"self"`
			Related link `json:"related"`
		} `json:"links"`
	}{Data: guidJSON{GUID: &d.GUID}}
	out.Links.Self = link{Href: self + "/relationships/current_droplet"}
	out.Links.Related = link{Href: self + "/droplets/current"}
	return r.reply(200, out)
}
