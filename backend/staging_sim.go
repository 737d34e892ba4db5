package backend

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"capibridge/backend/store"
)

// What staging does with a package, decided when its build is created.
//
// A bits package fails when it holds nothing (no buildpack detects an app:
// NoAppDetectedError) or when it declares a failure: a file called
// capibridge-fail-staging at its root, whose text is the error (a Diego
// failure reason such as BuildpackCompileFailed, or any text, which
// becomes a StagingError). Otherwise the app's buildpacks, or the first
// rule below that matches the files at the package's root, give the
// droplet's buildpack and its default web command; a Procfile adds to and
// overrides the process types. The droplet is a tgz of app/ (the package),
// staging_info.yml, tmp/ and logs/, as a buildpack droplet is.
//
// A docker package stages to a droplet that runs its image. A web command
// containing capibridge-crash (from a Procfile, or an image reference that
// contains it) is how the bits declare that the app crashes when it runs.

// failStagingFile is the file whose presence in the bits declares that
// staging fails. (crashMarker, which running.go acts on, declares a crash.)
const failStagingFile = "capibridge-fail-staging"

// stagingFailureReasons are the error ids a build can fail with, and
// their errors/v2.yml messages (BuildModel::STAGING_FAILED_REASONS).
var stagingFailureReasons = map[string]string{
	"StagingError":           "Staging error: %s",
	"StagingTimeExpired":     "Staging time expired: %s",
	"NoAppDetectedError":     "An app was not successfully detected by any available buildpack",
	"BuildpackCompileFailed": "App staging failed in the buildpack compile phase",
	"BuildpackReleaseFailed": "App staging failed in the buildpack release phase",
	"InsufficientResources":  "Insufficient resources",
	"NoCompatibleCell":       "Found no compatible cell",
}

// stagingFailure is a build's error_id and error_description, as
// BuildModel#fail_to_stage! makes them: an unknown reason is StagingError,
// and the description is the reason's message with details.
func stagingFailure(reason, details string) (id, description string) {
	msg, ok := stagingFailureReasons[reason]
	if !ok {
		reason, msg = "StagingError", stagingFailureReasons["StagingError"]
	}
	if details == "" {
		details = "staging failed"
	}
	if strings.Contains(msg, "%s") {
		msg = fmt.Sprintf(msg, details)
	}
	return reason, msg
}

// buildpackInfo is what the simulated buildpacks know of themselves.
type buildpackInfo struct {
	name    string // the admin buildpack's name
	lang    string // its detect output and buildpack_name
	version string
	web     string // the start command it gives the web process
}

// buildpacks are the system buildpacks, in CF's default detection order.
var buildpacks = []struct {
	buildpackInfo
	detect func(pkg *packageInfo) bool
}{
	{buildpackInfo{"staticfile_buildpack", "staticfile", "1.6.21", "$HOME/boot.sh"}, func(p *packageInfo) bool { return p.root["Staticfile"] }},
	{buildpackInfo{"java_buildpack", "java", "4.76.0", "JAVA_OPTS=\"-agentpath:$PWD/.java-buildpack/open_jdk_jre/bin/jvmkill\" exec $PWD/.java-buildpack/open_jdk_jre/bin/java $JAVA_OPTS -cp $PWD/. org.springframework.boot.loader.launch.JarLauncher"},
		func(p *packageInfo) bool {
			return p.root["pom.xml"] || p.root["build.gradle"] || p.all["META-INF/MANIFEST.MF"]
		}},
	{buildpackInfo{"ruby_buildpack", "ruby", "1.10.20", "bundle exec rackup config.ru -p $PORT -o 0.0.0.0"}, func(p *packageInfo) bool { return p.root["Gemfile"] }},
	{buildpackInfo{"dotnet_core_buildpack", "dotnet-core", "2.4.40", "cd ${DEPS_DIR}/0/dotnet_publish && exec ./app --urls http://0.0.0.0:${PORT}"},
		func(p *packageInfo) bool {
			return p.root["global.json"] || p.rootSuffix(".csproj") || p.rootSuffix(".fsproj")
		}},
	{buildpackInfo{"nodejs_buildpack", "nodejs", "1.8.33", "npm start"}, func(p *packageInfo) bool { return p.root["package.json"] }},
	{buildpackInfo{"go_buildpack", "go", "1.10.31", ""}, func(p *packageInfo) bool { return p.root["go.mod"] || p.root["Godeps"] || p.rootSuffix(".go") }},
	{buildpackInfo{"python_buildpack", "python", "1.8.34", "python app.py"},
		func(p *packageInfo) bool {
			return p.root["requirements.txt"] || p.root["setup.py"] || p.root["Pipfile"] || p.root["pyproject.toml"]
		}},
	{buildpackInfo{"php_buildpack", "php", "4.6.24", "$HOME/.bp/bin/start"}, func(p *packageInfo) bool { return p.root["composer.json"] || p.rootSuffix(".php") }},
	{buildpackInfo{"binary_buildpack", "binary", "1.1.14", "./app"}, func(*packageInfo) bool { return true }},
}

// knownBuildpack finds a system buildpack by a name the app asked for: its
// name, or a URL or name that mentions its language ("ruby", "go").
func knownBuildpack(name string) (buildpackInfo, bool) {
	lower := strings.ToLower(name)
	for _, bp := range buildpacks {
		if lower == bp.name {
			return bp.buildpackInfo, true
		}
	}
	for _, bp := range buildpacks {
		if strings.Contains(lower, bp.lang+"-buildpack") || strings.Contains(lower, bp.lang+"_buildpack") {
			return bp.buildpackInfo, true
		}
	}
	return buildpackInfo{}, false
}

// packageInfo is what staging looks at in a package.
type packageInfo struct {
	files    int             // regular files
	root     map[string]bool // names at the root
	all      map[string]bool // every file's path
	procfile map[string]string
	failure  *string // the text of capibridge-fail-staging, when present
	goModule string
}

func (p *packageInfo) rootSuffix(suffix string) bool {
	for name := range p.root {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// procfileLine is a Procfile entry, as the buildpacks read it.
var procfileLine = regexp.MustCompile(`^([A-Za-z0-9_-]+):\s*(.+)$`)

// analyzePackage reads what staging needs from a package's zip: the file
// names, the Procfile, go.mod's module and the failure marker.
func analyzePackage(zr *zip.Reader) (packageInfo, error) {
	info := packageInfo{root: map[string]bool{}, all: map[string]bool{}}
	for _, f := range zr.File {
		name, ok := safeName(f.Name)
		if !ok || !f.Mode().IsRegular() && f.Mode()&fs.ModeSymlink == 0 || strings.HasSuffix(name, "/") {
			continue
		}
		info.files++
		info.all[name] = true
		if strings.Contains(name, "/") {
			continue
		}
		info.root[name] = true
		switch name {
		case "Procfile":
			b, err := readSmall(f, 64<<10)
			if err != nil {
				return info, err
			}
			info.procfile = parseProcfile(string(b))
		case failStagingFile:
			b, err := readSmall(f, 4<<10)
			if err != nil {
				return info, err
			}
			text := strings.TrimSpace(string(b))
			info.failure = &text
		case "go.mod":
			b, err := readSmall(f, 64<<10)
			if err != nil {
				return info, err
			}
			info.goModule = goModuleName(string(b))
		}
	}
	return info, nil
}

func parseProcfile(text string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := procfileLine.FindStringSubmatch(line); m != nil {
			out[m[1]] = strings.TrimSpace(m[2])
		}
	}
	return out
}

// goModuleName is the last element of go.mod's module path: the go
// buildpack's binary and start command.
func goModuleName(text string) string {
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "module" {
			return path.Base(strings.Trim(fields[1], `"`))
		}
	}
	return ""
}

// staged is a successful simulated staging of bits.
type staged struct {
	buildpacks   []store.DropletBuildpack
	processTypes map[string]string
	detected     buildpackInfo
}

// stage picks the buildpack and the process types for a package: the app's
// buildpacks when it names some (the last one is the one that detects and
// gives the start command), else the first system buildpack that detects.
func stage(info packageInfo, requested []string) staged {
	var out staged
	if len(requested) > 0 {
		for i, name := range requested {
			bp := store.DropletBuildpack{Name: name}
			known, ok := knownBuildpack(name)
			if !ok {
				known = buildpackInfo{name: name, lang: name, version: "1.0.0", web: "./app"}
			}
			bp.Version, bp.BuildpackName = strPtr(known.version), strPtr(known.lang)
			if i == len(requested)-1 {
				bp.DetectOutput = strPtr(known.lang)
				out.detected = known
			}
			out.buildpacks = append(out.buildpacks, bp)
		}
	} else {
		for _, bp := range buildpacks {
			if bp.detect(&info) {
				out.detected = bp.buildpackInfo
				break
			}
		}
		d := out.detected
		out.buildpacks = []store.DropletBuildpack{{Name: d.name, DetectOutput: strPtr(d.lang), Version: strPtr(d.version), BuildpackName: strPtr(d.lang)}}
	}
	web := out.detected.web
	if out.detected.lang == "go" {
		web = info.goModule
		if web == "" {
			web = "./app"
		}
	}
	out.processTypes = map[string]string{"web": web}
	for typ, cmd := range info.procfile {
		out.processTypes[typ] = cmd
	}
	return out
}

func strPtr(s string) *string { return &s }

// stagingInfo is the droplet's staging_info.yml (JSON is YAML), which the
// buildpack lifecycle writes.
func stagingInfo(detected buildpackInfo, web string) []byte {
	b, _ := json.Marshal(struct {
		DetectedBuildpack string `json:"detected_buildpack"`
		StartCommand      string `json:"start_command"`
	}{detected.lang, web})
	return b
}

// writeDroplet writes a buildpack droplet for a package: a gzipped tar of
// app/ (the package's files), staging_info.yml, tmp/ and logs/. It returns
// the hex SHA-1 and SHA-256 of the tgz.
func writeDroplet(w io.Writer, zr *zip.Reader, info []byte, modTime time.Time) (string, string, error) {
	h1, h2 := sha1.New(), sha256.New()
	gz, err := gzip.NewWriterLevel(io.MultiWriter(w, h1, h2), gzip.BestSpeed)
	if err != nil {
		return "", "", err
	}
	tw := tar.NewWriter(gz)
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: modTime})
	}
	for _, d := range []string{"./", "./app/", "./tmp/", "./logs/"} {
		if err := dir(d); err != nil {
			return "", "", err
		}
	}
	files := append([]*zip.File(nil), zr.File...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	for _, f := range files {
		name, ok := safeName(f.Name)
		if !ok || name == "." {
			continue
		}
		if err := writeDropletEntry(tw, f, "./app/"+name, modTime); err != nil {
			return "", "", err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "./staging_info.yml", Mode: 0o644, Size: int64(len(info)), ModTime: modTime}); err != nil {
		return "", "", err
	}
	if _, err := tw.Write(info); err != nil {
		return "", "", err
	}
	if err := tw.Close(); err != nil {
		return "", "", err
	}
	if err := gz.Close(); err != nil {
		return "", "", err
	}
	return hexSum(h1), hexSum(h2), nil
}

func writeDropletEntry(tw *tar.Writer, f *zip.File, name string, modTime time.Time) error {
	mode := f.Mode()
	switch {
	case mode.IsDir() || strings.HasSuffix(name, "/"):
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimSuffix(name, "/") + "/", Mode: 0o755, ModTime: modTime})
	case mode&fs.ModeSymlink != 0:
		target, err := readSmall(f, 4096)
		if err != nil {
			return err
		}
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: string(target), Mode: 0o777, ModTime: modTime})
	case mode.IsRegular():
		perm := int64(mode.Perm())
		if perm == 0 {
			perm = 0o644
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: perm, Size: int64(f.UncompressedSize64), ModTime: modTime}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(tw, rc)
		return err
	}
	return nil
}

// simulation is a build's staging, decided at its creation.
type simulation struct {
	outcome store.StagingOutcome
	// start is the droplet staging starts with (buildpack builds), nil
	// when the droplet comes at the end (docker builds).
	start *store.Droplet
	// blob is the temporary file of the droplet's bits, "" when none.
	blob string
}

// simulate stages package p for build b of app a: it decides the outcome
// and writes the droplet's bits. creator is whom the events at the end
// name (the build's creator, as CC's DropletCreate does).
func (s *Server) simulate(p store.Package, b store.Build, a store.App, sp store.Space, creator store.Actor) (simulation, error) {
	now := s.store.Now()
	if p.Type == store.PackageDocker {
		return s.simulateDocker(p, b, a, sp, creator), nil
	}
	d := store.Droplet{GUID: newGUID(), AppGUID: a.GUID, SpaceGUID: a.SpaceGUID, PackageGUID: &p.GUID, State: store.DropletStaging,
		LifecycleType: "buildpack", Stack: b.Stack, CreatedAt: now, UpdatedAt: now, Buildpacks: []store.DropletBuildpack{}}
	for _, name := range b.Buildpacks {
		d.Buildpacks = append(d.Buildpacks, store.DropletBuildpack{Name: name})
	}
	sim := simulation{start: &d}
	final := d
	fail := func(reason, details string) (simulation, error) {
		id, desc := stagingFailure(reason, details)
		final.State, final.ErrorID, final.ErrorDescription = store.DropletFailed, &id, &desc
		sim.outcome = store.StagingOutcome{State: store.BuildFailed, ErrorID: &id, ErrorDescription: &desc, Droplet: final}
		return sim, nil
	}
	zr, err := zip.OpenReader(s.staging.blobs.path(blobPackages, p.GUID))
	if err != nil {
		// A READY package whose bits are gone: Diego cannot download them.
		return fail("StagingError", "failed to download the app package")
	}
	defer zr.Close()
	info, err := analyzePackage(&zr.Reader)
	if err != nil {
		return fail("StagingError", "failed to extract the app package")
	}
	switch {
	case info.failure != nil:
		reason, details := "StagingError", *info.failure
		if _, known := stagingFailureReasons[details]; known {
			reason, details = details, ""
		}
		return fail(reason, details)
	case info.files == 0:
		return fail("NoAppDetectedError", "")
	}
	st := stage(info, b.Buildpacks)
	tmp, err := s.staging.blobs.tempFile("droplet-*.tgz")
	if err != nil {
		return sim, err
	}
	sum1, sum2, err := writeDroplet(tmp, &zr.Reader, stagingInfo(st.detected, st.processTypes["web"]), s.now())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fail("StagingError", "failed to extract the app package")
	}
	sim.blob = tmp.Name()
	final.State, final.ProcessTypes, final.Buildpacks = store.DropletStaged, st.processTypes, st.buildpacks
	final.SHA1Checksum, final.SHA256Checksum = &sum1, &sum2
	sim.outcome = store.StagingOutcome{State: store.BuildStaged, Droplet: final}
	return sim, nil
}

// simulateDocker stages a docker package: its droplet appears when staging
// ends, with the image and the execution metadata Diego reports for it
// (CC's DropletCreate#create_docker_droplet).
func (s *Server) simulateDocker(p store.Package, b store.Build, a store.App, sp store.Space, creator store.Actor) simulation {
	web := ""
	if p.DockerImage != nil && strings.Contains(*p.DockerImage, crashMarker) {
		web = crashMarker
	}
	d := store.Droplet{GUID: newGUID(), AppGUID: a.GUID, SpaceGUID: a.SpaceGUID, PackageGUID: &p.GUID, State: store.DropletStaged,
		LifecycleType: "docker", Image: p.DockerImage, ProcessTypes: map[string]string{"web": web},
		ExecutionMetadata: `{"cmd":[],"ports":[{"Port":8080,"Protocol":"tcp"}]}`}
	data, _ := json.Marshal(map[string]string{"droplet_guid": d.GUID, "package_guid": p.GUID})
	ev := store.Event{GUID: newGUID(), Type: "audit.app.droplet.create", Actor: creator, TargetGUID: a.GUID, TargetType: "app",
		TargetName: a.Name, SpaceGUID: sp.GUID, OrgGUID: sp.OrgGUID, Data: data}
	return simulation{outcome: store.StagingOutcome{State: store.BuildStaged, Droplet: d, NewDroplet: true, Events: []store.Event{ev}}}
}
