package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Package is a v3 package: an app's bits or a docker image reference.
// Nil pointers are unset (JSON null).
type Package struct {
	ID             int64
	GUID           string
	AppGUID        string
	SpaceGUID      string
	Type           string // PackageBits or PackageDocker
	State          string
	SHA256Checksum *string
	SHA1Checksum   *string
	Error          *string
	DockerImage    *string
	DockerUsername *string
	DockerPassword *string
	Labels         Metadata
	Annotations    Metadata
	CreatedAt      int64
	UpdatedAt      int64
}

// The package types and states of CC's PackageModel.
const (
	PackageBits   = "bits"
	PackageDocker = "docker"

	PackageAwaitingUpload   = "AWAITING_UPLOAD"
	PackageProcessingUpload = "PROCESSING_UPLOAD"
	PackageReady            = "READY"
	PackageFailed           = "FAILED"
	PackageCopying          = "COPYING"
	PackageExpired          = "EXPIRED"
)

// PackageFilter narrows a packages list; nil slices do not filter.
type PackageFilter struct {
	GUIDs      []string
	AppGUIDs   []string
	SpaceGUIDs []string
	OrgGUIDs   []string
	States     []string
	Types      []string
	Labels     []LabelReq
	CreatedAts []TimeCond
	UpdatedAts []TimeCond
}

// Build is a v3 build: the staging of one package.
type Build struct {
	ID               int64
	GUID             string
	AppGUID          string
	SpaceGUID        string
	PackageGUID      string
	DropletGUID      *string
	State            string
	ErrorID          *string
	ErrorDescription *string
	LifecycleType    string
	Buildpacks       []string
	Stack            *string
	StagingMemoryMB  int64
	StagingDiskMB    int64
	StagingLogRate   int64
	CreatedBy        Creator
	Labels           Metadata
	Annotations      Metadata
	CreatedAt        int64
	UpdatedAt        int64

	// DropletState is the state of the build's droplet, "" when there is
	// none; read-only, for CC's "droplet once final" rule.
	DropletState string
}

// Creator is the user who created a build, as CC records it
// (created_by_user_guid, _name and _email).
type Creator struct {
	GUID  string
	Name  string
	Email string
}

// The build states of CC's BuildModel.
const (
	BuildStaging = "STAGING"
	BuildStaged  = "STAGED"
	BuildFailed  = "FAILED"
)

// BuildFilter narrows a builds list.
type BuildFilter struct {
	AppGUIDs     []string
	PackageGUIDs []string
	States       []string
	Labels       []LabelReq
	CreatedAts   []TimeCond
	UpdatedAts   []TimeCond
}

// Droplet is a v3 droplet: what staging produced, or an uploaded one.
type Droplet struct {
	ID                int64
	GUID              string
	AppGUID           string
	SpaceGUID         string
	PackageGUID       *string
	State             string
	ErrorID           *string
	ErrorDescription  *string
	LifecycleType     string
	ExecutionMetadata string
	ProcessTypes      map[string]string // nil until staged
	SHA256Checksum    *string
	SHA1Checksum      *string
	Buildpacks        []DropletBuildpack // nil for docker droplets
	Stack             *string
	Image             *string
	Labels            Metadata
	Annotations       Metadata
	CreatedAt         int64
	UpdatedAt         int64
}

// DropletBuildpack is one buildpack a droplet was staged with. DetectOutput
// is set on the one that detected.
type DropletBuildpack struct {
	Name          string  `json:"name"`
	DetectOutput  *string `json:"detect_output"`
	Version       *string `json:"version"`
	BuildpackName *string `json:"buildpack_name"`
}

// The droplet states of CC's DropletModel.
const (
	DropletAwaitingUpload   = "AWAITING_UPLOAD"
	DropletProcessingUpload = "PROCESSING_UPLOAD"
	DropletStaging          = "STAGING"
	DropletStaged           = "STAGED"
	DropletFailed           = "FAILED"
	DropletCopying          = "COPYING"
	DropletExpired          = "EXPIRED"
)

// DropletFilter narrows a droplets list. Current keeps the droplets that
// are their app's current droplet.
type DropletFilter struct {
	GUIDs        []string
	AppGUIDs     []string
	PackageGUIDs []string
	SpaceGUIDs   []string
	OrgGUIDs     []string
	States       []string
	Current      bool
	Labels       []LabelReq
	CreatedAts   []TimeCond
	UpdatedAts   []TimeCond
}

const packageCols = `id, guid, app_guid, space_guid, type, state, sha256_checksum, sha1_checksum, error, docker_image,
	docker_username, docker_password, labels, annotations, created_at, updated_at`

func scanPackage(r scanner) (Package, error) {
	var p Package
	var sha256, sha1, errText, image, user, pass sql.NullString
	err := r.Scan(&p.ID, &p.GUID, &p.AppGUID, &p.SpaceGUID, &p.Type, &p.State, &sha256, &sha1, &errText, &image,
		&user, &pass, &p.Labels, &p.Annotations, &p.CreatedAt, &p.UpdatedAt)
	p.SHA256Checksum, p.SHA1Checksum, p.Error = nullStr(sha256), nullStr(sha1), nullStr(errText)
	p.DockerImage, p.DockerUsername, p.DockerPassword = nullStr(image), nullStr(user), nullStr(pass)
	return p, err
}

// CreatePackage inserts a package and records events. Its app must exist.
func (s *Store) CreatePackage(ctx context.Context, p Package, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO packages (guid, app_guid, space_guid, type, state, sha256_checksum, sha1_checksum,
			error, docker_image, docker_username, docker_password, labels, annotations, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			p.GUID, p.AppGUID, p.SpaceGUID, p.Type, p.State, p.SHA256Checksum, p.SHA1Checksum, p.Error, p.DockerImage,
			p.DockerUsername, p.DockerPassword, jsonText(nonNil(p.Labels)), jsonText(nonNil(p.Annotations)), p.CreatedAt, p.UpdatedAt)
		if err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// packageTable is how packages are read.
var packageTable = table[Package]{name: "packages", cols: packageCols, scan: scanPackage, order: orderTimes, visible: inVisibleSpaces("space_guid")}

func (f PackageFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("app_guid", f.AppGUIDs)
	w.in("space_guid", f.SpaceGUIDs)
	w.inOrgs("space_guid", f.OrgGUIDs)
	w.in("state", f.States)
	w.in("type", f.Types)
	w.metadata(f.Labels, f.CreatedAts, f.UpdatedAts)
}

// ListPackages returns one page of the packages v can see.
func (s *Store) ListPackages(ctx context.Context, v Viewer, f PackageFilter, p Page) ([]Package, int, error) {
	return packageTable.list(ctx, s, v, f, p)
}

// GetPackage returns the package guid if v can see it.
func (s *Store) GetPackage(ctx context.Context, v Viewer, guid string) (Package, error) {
	return packageTable.get(ctx, s, v, guid)
}

// buildCols reads the state of the build's droplet alongside it.
const buildCols = `id, guid, app_guid, space_guid, package_guid, droplet_guid, state, error_id, error_description, lifecycle_type,
	buildpacks, stack, staging_memory_in_mb, staging_disk_in_mb, staging_log_rate_limit, created_by_guid, created_by_name,
	created_by_email, labels, annotations, created_at, updated_at,
	ifnull((SELECT d.state FROM droplets d WHERE d.guid = builds.droplet_guid), '')`

func scanBuild(r scanner) (Build, error) {
	var b Build
	var droplet, errID, errDesc, stack sql.NullString
	err := r.Scan(&b.ID, &b.GUID, &b.AppGUID, &b.SpaceGUID, &b.PackageGUID, &droplet, &b.State, &errID, &errDesc, &b.LifecycleType,
		jsonColumn{&b.Buildpacks}, &stack, &b.StagingMemoryMB, &b.StagingDiskMB, &b.StagingLogRate, &b.CreatedBy.GUID, &b.CreatedBy.Name,
		&b.CreatedBy.Email, &b.Labels, &b.Annotations, &b.CreatedAt, &b.UpdatedAt, &b.DropletState)
	b.DropletGUID, b.ErrorID, b.ErrorDescription, b.Stack = nullStr(droplet), nullStr(errID), nullStr(errDesc), nullStr(stack)
	if b.Buildpacks == nil {
		b.Buildpacks = []string{}
	}
	return b, err
}

// CreateBuild inserts a build. Its app must exist.
func (s *Store) CreateBuild(ctx context.Context, b Build) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO builds (guid, app_guid, space_guid, package_guid, droplet_guid, state, error_id,
			error_description, lifecycle_type, buildpacks, stack, staging_memory_in_mb, staging_disk_in_mb, staging_log_rate_limit,
			created_by_guid, created_by_name, created_by_email, labels, annotations, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			b.GUID, b.AppGUID, b.SpaceGUID, b.PackageGUID, b.DropletGUID, b.State, b.ErrorID, b.ErrorDescription, b.LifecycleType,
			jsonText(nonNilList(b.Buildpacks)), b.Stack, b.StagingMemoryMB, b.StagingDiskMB, b.StagingLogRate,
			b.CreatedBy.GUID, b.CreatedBy.Name, b.CreatedBy.Email, jsonText(nonNil(b.Labels)), jsonText(nonNil(b.Annotations)),
			b.CreatedAt, b.UpdatedAt)
		return err
	})
}

// buildTable is how builds are read.
var buildTable = table[Build]{name: "builds", cols: buildCols, scan: scanBuild, order: orderTimes, visible: inVisibleSpaces("space_guid")}

func (f BuildFilter) conds(w *where) {
	w.in("app_guid", f.AppGUIDs)
	w.in("package_guid", f.PackageGUIDs)
	w.in("state", f.States)
	w.metadata(f.Labels, f.CreatedAts, f.UpdatedAts)
}

// ListBuilds returns one page of the builds v can see.
func (s *Store) ListBuilds(ctx context.Context, v Viewer, f BuildFilter, p Page) ([]Build, int, error) {
	return buildTable.list(ctx, s, v, f, p)
}

// GetBuild returns the build guid if v can see it.
func (s *Store) GetBuild(ctx context.Context, v Viewer, guid string) (Build, error) {
	return buildTable.get(ctx, s, v, guid)
}

const dropletCols = `id, guid, app_guid, space_guid, package_guid, state, error_id, error_description, lifecycle_type,
	execution_metadata, process_types, sha256_checksum, sha1_checksum, buildpacks, stack, image, labels, annotations,
	created_at, updated_at`

func scanDroplet(r scanner) (Droplet, error) {
	var d Droplet
	var pkg, errID, errDesc, types, sha256, sha1, bps, stack, image sql.NullString
	err := r.Scan(&d.ID, &d.GUID, &d.AppGUID, &d.SpaceGUID, &pkg, &d.State, &errID, &errDesc, &d.LifecycleType,
		&d.ExecutionMetadata, &types, &sha256, &sha1, &bps, &stack, &image, &d.Labels, &d.Annotations, &d.CreatedAt, &d.UpdatedAt)
	if err != nil {
		return d, err
	}
	d.PackageGUID, d.ErrorID, d.ErrorDescription = nullStr(pkg), nullStr(errID), nullStr(errDesc)
	d.SHA256Checksum, d.SHA1Checksum, d.Stack, d.Image = nullStr(sha256), nullStr(sha1), nullStr(stack), nullStr(image)
	// Not jsonColumn: an empty object or list must stay non-nil, since
	// null and {} (or []) read differently.
	if types.Valid {
		if err := json.Unmarshal([]byte(types.String), &d.ProcessTypes); err != nil {
			return d, err
		}
	}
	if bps.Valid {
		if err := json.Unmarshal([]byte(bps.String), &d.Buildpacks); err != nil {
			return d, err
		}
	}
	return d, nil
}

// jsonOrNull is v as JSON text, or NULL when isNil.
func jsonOrNull(v any, isNil bool) any {
	if isNil {
		return nil
	}
	return jsonText(v)
}

// CreateDroplet inserts a droplet and records events. Making it an app's
// current droplet is AssignDroplet (or UpdateApp with App.DropletGUID set).
func (s *Store) CreateDroplet(ctx context.Context, d Droplet, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if err := insertDroplet(ctx, tx, d); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

func insertDroplet(ctx context.Context, tx *cachedTx, d Droplet) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO droplets (guid, app_guid, space_guid, package_guid, state, error_id, error_description,
		lifecycle_type, execution_metadata, process_types, sha256_checksum, sha1_checksum, buildpacks, stack, image, labels,
		annotations, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		d.GUID, d.AppGUID, d.SpaceGUID, d.PackageGUID, d.State, d.ErrorID, d.ErrorDescription, d.LifecycleType,
		d.ExecutionMetadata, jsonOrNull(d.ProcessTypes, d.ProcessTypes == nil), d.SHA256Checksum, d.SHA1Checksum,
		jsonOrNull(d.Buildpacks, d.Buildpacks == nil), d.Stack, d.Image, jsonText(nonNil(d.Labels)), jsonText(nonNil(d.Annotations)),
		d.CreatedAt, d.UpdatedAt)
	return err
}

// dropletTable is how droplets are read.
var dropletTable = table[Droplet]{name: "droplets", cols: dropletCols, scan: scanDroplet, order: orderTimes, visible: inVisibleSpaces("space_guid")}

func (f DropletFilter) conds(w *where) {
	w.in("guid", f.GUIDs)
	w.in("app_guid", f.AppGUIDs)
	w.in("package_guid", f.PackageGUIDs)
	w.in("space_guid", f.SpaceGUIDs)
	w.inOrgs("space_guid", f.OrgGUIDs)
	w.in("state", f.States)
	if f.Current {
		w.add("guid IN (SELECT droplet_guid FROM apps WHERE droplet_guid IS NOT NULL)")
	}
	w.metadata(f.Labels, f.CreatedAts, f.UpdatedAts)
}

// ListDroplets returns one page of the droplets v can see.
func (s *Store) ListDroplets(ctx context.Context, v Viewer, f DropletFilter, p Page) ([]Droplet, int, error) {
	return dropletTable.list(ctx, s, v, f, p)
}

// GetDroplet returns the droplet guid if v can see it.
func (s *Store) GetDroplet(ctx context.Context, v Viewer, guid string) (Droplet, error) {
	return dropletTable.get(ctx, s, v, guid)
}

// deleteAppChildren removes what hangs off an app besides its processes,
// children first, as CC's AppDelete does before the app itself.
func deleteAppChildren(ctx context.Context, tx *cachedTx, appGUID string) error {
	for _, table := range []string{"route_destinations", "service_credential_bindings", "droplets", "builds", "packages"} {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE app_guid = ?", appGUID); err != nil {
			return err
		}
	}
	return nil
}

// Errors of the staging writes.
var (
	// ErrStagingInProgress is a build create while another build of the
	// app is STAGING (CC's BuildCreate#staging_in_progress!).
	ErrStagingInProgress = errors.New("store: a build of the app is staging")
	// ErrWrongState is a state change of a package or droplet that is no
	// longer in the state the change starts from (an upload that lost a
	// race), or an assignment of a droplet that is not STAGED.
	ErrWrongState = errors.New("store: not in the expected state")
)

// SetPackageState moves a package from state from to p's state, checksums
// and error (the steps of an upload or a copy) and records events. A
// package that is no longer in state from is ErrWrongState.
func (s *Store) SetPackageState(ctx context.Context, from string, p Package, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE packages SET state = ?, sha256_checksum = ?, sha1_checksum = ?, error = ?, updated_at = ?
			WHERE guid = ? AND state = ?`, p.State, p.SHA256Checksum, p.SHA1Checksum, p.Error, p.UpdatedAt, p.GUID, from)
		if err != nil {
			return err
		}
		if err := stateChanged(ctx, tx, res, "packages", p.GUID); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// SetDropletState moves a droplet from state from to d: its state, error,
// process types, execution metadata, checksums, buildpacks, stack and
// image (the steps of an upload or a copy), and records events. A droplet
// that is no longer in state from is ErrWrongState.
func (s *Store) SetDropletState(ctx context.Context, from string, d Droplet, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		if err := updateDroplet(ctx, tx, from, d); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

func updateDroplet(ctx context.Context, tx *cachedTx, from string, d Droplet) error {
	res, err := tx.ExecContext(ctx, `UPDATE droplets SET state = ?, error_id = ?, error_description = ?, execution_metadata = ?,
		process_types = ?, sha256_checksum = ?, sha1_checksum = ?, buildpacks = ?, stack = ?, image = ?, updated_at = ?
		WHERE guid = ? AND state = ?`,
		d.State, d.ErrorID, d.ErrorDescription, d.ExecutionMetadata, jsonOrNull(d.ProcessTypes, d.ProcessTypes == nil),
		d.SHA256Checksum, d.SHA1Checksum, jsonOrNull(d.Buildpacks, d.Buildpacks == nil), d.Stack, d.Image, d.UpdatedAt, d.GUID, from)
	if err != nil {
		return err
	}
	return stateChanged(ctx, tx, res, "droplets", d.GUID)
}

// stateChanged turns a conditional update that touched no row into
// ErrNotFound (no such row) or ErrWrongState (a row in another state).
func stateChanged(ctx context.Context, tx *cachedTx, res sql.Result, table, guid string) error {
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return err
	}
	var one int
	err = tx.QueryRowContext(ctx, "SELECT 1 FROM "+table+" WHERE guid = ?", guid).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return ErrWrongState
}

// StagingOutcome is how a simulated build ends. It is decided when the
// build is created, kept with it, and applied when it finishes.
type StagingOutcome struct {
	// State is BuildStaged or BuildFailed; the error is set on a failure.
	State            string  `json:"state"`
	ErrorID          *string `json:"error_id"`
	ErrorDescription *string `json:"error_description"`
	// Droplet is the final row of the build's droplet. NewDroplet inserts
	// it (a docker build makes its droplet when staging ends, CC's
	// DropletCreate#create_docker_droplet); otherwise it replaces the
	// STAGING droplet made when the build started. Its UpdatedAt is set to
	// the time the build finishes.
	Droplet    Droplet `json:"droplet"`
	NewDroplet bool    `json:"new_droplet"`
	// Events are recorded when the build finishes, dated then.
	Events []Event `json:"events"`
}

// StagingInProgress tells whether a build of the app is STAGING.
func (s *Store) StagingInProgress(ctx context.Context, appGUID string) (bool, error) {
	return stagingInProgress(ctx, s.db, appGUID)
}

func stagingInProgress(ctx context.Context, q queryer, appGUID string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM builds WHERE app_guid = ? AND state = ?`, appGUID, BuildStaging).Scan(&n)
	return n > 0, err
}

// StageBuild inserts a STAGING build that finishes at finishAt (unix
// milliseconds) with outcome, the droplet its staging starts with (nil for
// none) and events, in one transaction; unless another build of the app is
// STAGING, which is ErrStagingInProgress.
func (s *Store) StageBuild(ctx context.Context, b Build, d *Droplet, finishAt int64, outcome StagingOutcome, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		busy, err := stagingInProgress(ctx, tx, b.AppGUID)
		if err != nil {
			return err
		}
		if busy {
			return ErrStagingInProgress
		}
		if d != nil {
			if err := insertDroplet(ctx, tx, *d); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO builds (guid, app_guid, space_guid, package_guid, droplet_guid, state, error_id,
			error_description, lifecycle_type, buildpacks, stack, staging_memory_in_mb, staging_disk_in_mb, staging_log_rate_limit,
			created_by_guid, created_by_name, created_by_email, labels, annotations, created_at, updated_at, finish_at, outcome)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			b.GUID, b.AppGUID, b.SpaceGUID, b.PackageGUID, b.DropletGUID, b.State, b.ErrorID, b.ErrorDescription, b.LifecycleType,
			jsonText(nonNilList(b.Buildpacks)), b.Stack, b.StagingMemoryMB, b.StagingDiskMB, b.StagingLogRate,
			b.CreatedBy.GUID, b.CreatedBy.Name, b.CreatedBy.Email, jsonText(nonNil(b.Labels)), jsonText(nonNil(b.Annotations)),
			b.CreatedAt, b.UpdatedAt, finishAt, jsonText(outcome))
		if err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// FinishBuilds ends every STAGING build whose finish_at is at or before
// nowMs (unix milliseconds), applying its outcome, and returns the earliest
// finish_at still ahead, or 0 when no build is STAGING.
func (s *Store) FinishBuilds(ctx context.Context, nowMs int64) (int64, error) {
	var next int64
	err := s.write(ctx, func(tx *cachedTx) error {
		rows, err := tx.QueryContext(ctx, `SELECT guid, finish_at, outcome FROM builds
			WHERE finish_at IS NOT NULL AND finish_at <= ? ORDER BY finish_at, id`, nowMs)
		if err != nil {
			return err
		}
		type due struct {
			guid     string
			finishAt int64
			outcome  string
		}
		var builds []due
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.guid, &d.finishAt, &d.outcome); err != nil {
				rows.Close()
				return err
			}
			builds = append(builds, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, b := range builds {
			var o StagingOutcome
			if err := json.Unmarshal([]byte(b.outcome), &o); err != nil {
				return fmt.Errorf("store: outcome of build %s: %w", b.guid, err)
			}
			if err := finishBuild(ctx, tx, b.guid, b.finishAt/1000, o); err != nil {
				return err
			}
		}
		return tx.QueryRowContext(ctx, `SELECT ifnull(min(finish_at), 0) FROM builds WHERE finish_at IS NOT NULL`).Scan(&next)
	})
	return next, err
}

func finishBuild(ctx context.Context, tx *cachedTx, guid string, at int64, o StagingOutcome) error {
	d := o.Droplet
	d.UpdatedAt = at
	if o.NewDroplet {
		d.CreatedAt = at
		if err := insertDroplet(ctx, tx, d); err != nil {
			return err
		}
	} else if err := updateDroplet(ctx, tx, DropletStaging, d); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrWrongState) {
		// A droplet gone with its app, or no longer STAGING, keeps what it
		// has; the build still ends.
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE builds SET state = ?, error_id = ?, error_description = ?, droplet_guid = ?, updated_at = ?,
		finish_at = NULL, outcome = NULL WHERE guid = ?`, o.State, o.ErrorID, o.ErrorDescription, d.GUID, at, guid)
	if err != nil {
		return err
	}
	for i := range o.Events {
		o.Events[i].CreatedAt = at
	}
	return insertEvents(ctx, tx, o.Events)
}

// NextBuildFinish returns the earliest finish_at (unix milliseconds) of a
// STAGING build, or 0 when there is none.
func (s *Store) NextBuildFinish(ctx context.Context) (int64, error) {
	var next int64
	err := s.db.QueryRowContext(ctx, `SELECT ifnull(min(finish_at), 0) FROM builds WHERE finish_at IS NOT NULL`).Scan(&next)
	return next, err
}

// AssignDroplet makes dropletGUID the current droplet of the app, as CC's
// AppAssignDroplet does, and records events. The droplet must be the app's
// (ErrNotFound otherwise) and STAGED (ErrWrongState). Every process type of
// the droplet the app has no process for gets one, made by newProcess
// with its audit event (ProcessCreateFromAppDroplet).
func (s *Store) AssignDroplet(ctx context.Context, appGUID, dropletGUID string, at int64, newProcess func(typ string) (Process, Event), events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		var state string
		var types sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT state, process_types FROM droplets WHERE guid = ? AND app_guid = ?`, dropletGUID, appGUID).
			Scan(&state, &types)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if state != DropletStaged {
			return ErrWrongState
		}
		res, err := tx.ExecContext(ctx, `UPDATE apps SET droplet_guid = ?, updated_at = ? WHERE guid = ?`, dropletGUID, at, appGUID)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		var processTypes map[string]string
		if types.Valid {
			if err := json.Unmarshal([]byte(types.String), &processTypes); err != nil {
				return err
			}
		}
		names := make([]string, 0, len(processTypes))
		for typ := range processTypes {
			names = append(names, typ)
		}
		slices.Sort(names)
		for _, typ := range names {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM processes WHERE app_guid = ? AND type = ?`, appGUID, typ).Scan(&n); err != nil {
				return err
			}
			if n > 0 || newProcess == nil {
				continue
			}
			p, ev := newProcess(typ)
			if err := insertProcess(ctx, tx, p); err != nil {
				return err
			}
			events = append(events, ev)
		}
		return insertEvents(ctx, tx, events)
	})
}

// BlobOwners returns the guids of every package and every droplet, so that
// bits on disk that belong to neither can be removed.
func (s *Store) BlobOwners(ctx context.Context) (packages, droplets map[string]bool, err error) {
	read := func(table string) (map[string]bool, error) {
		rows, err := s.db.QueryContext(ctx, "SELECT guid FROM "+table)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var g string
			if err := rows.Scan(&g); err != nil {
				return nil, err
			}
			out[g] = true
		}
		return out, rows.Err()
	}
	if packages, err = read("packages"); err != nil {
		return nil, nil, err
	}
	droplets, err = read("droplets")
	return packages, droplets, err
}

// DeletePackage deletes a package and records events; builds and droplets
// made from it keep their reference, as CC's.
func (s *Store) DeletePackage(ctx context.Context, guid string, events ...Event) error {
	return s.write(ctx, func(tx *cachedTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM packages WHERE guid = ?`, guid)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}
