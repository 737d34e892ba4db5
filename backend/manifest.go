package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"

	"capibridge/backend/store"
)

// POST /v3/spaces/:guid/actions/apply_manifest, the first call of every
// `cf push` of cf CLI v7 and later (cc:app/controllers/v3/
// space_manifests_controller.rb#apply_manifest). The request is checked and
// the apps it names are found or created at once; the rest of the manifest
// is applied by a job (cc:app/jobs/space_apply_manifest_action_job.rb,
// app/actions/app_apply_manifest.rb, manifest_apply.go).

// manifestJobOperation is the job's operation: SpaceApplyManifestActionJob's
// display_name, on the space.
const manifestJobOperation = "space.apply_manifest"

// maxManifestBytes is ApplicationController#parsed_yaml's limit.
const maxManifestBytes = 1 << 20

// errManifestInterrupted fails an apply_manifest job found unfinished at a
// start: its manifest lived in the memory of the process that stopped.
func errManifestInterrupted() *apiError {
	return errUnprocessable("The manifest was not applied: the Cloud Controller restarted. Apply the manifest again.")
}

// manifestProcess is one process of an app's manifest: the attributes of
// ManifestProcessUpdateMessage and of ManifestProcessScaleMessage.
type manifestProcess struct {
	typ string
	// update says whether it carries any attribute of a process update
	// besides its type.
	update                  bool
	command                 *string
	setCommand              bool
	hcType, hcEndpoint      *string
	setHCType, setEndpoint  bool
	invocation, timeout     *int64
	setInvocation, setTimer bool
	// scale is set when it carries any attribute of a scale.
	scale                                 bool
	instances, memory, disk, logRateLimit *int64
}

// manifestRoute is one entry of routes: (ManifestRoute.parse).
type manifestRoute struct {
	full, scheme, host, path string
	port                     *int64
	protocol                 string
}

// manifestService is one entry of services: (ManifestServiceBinding).
type manifestService struct {
	name        string
	bindingName *string
	params      json.RawMessage
}

// appManifest is one application of a manifest, parsed and checked
// (cc:app/messages/app_manifest_message.rb).
type appManifest struct {
	name string
	// source is the app's entry as the request wrote it, for the audit event.
	source *yaml.Node
	// fields are its keys, underscored as AppManifestMessage.underscore_keys does.
	fields map[string]any

	docker                  bool
	buildpacks              []string
	setBuildpacks, singleBP bool
	stack                   *string
	md                      *metadataPatch
	mdRequest               json.RawMessage
	env                     map[string]string
	setEnv                  bool
	processes               []manifestProcess
	routes                  []manifestRoute
	setRoutes               bool
	noRoute, randomRoute    bool
	defaultRoute            bool
	services                []manifestService
}

func (m *appManifest) has(key string) bool {
	_, ok := m.fields[key]
	return ok
}

// applyManifest is POST /v3/spaces/:guid/actions/apply_manifest.
func (s *Server) applyManifest(r *request) error {
	if err := r.query.allow(); err != nil {
		return err
	}
	// validate_content_type! runs before the space is looked up.
	if mt, _, err := mime.ParseMediaType(string(r.ctx.Request.Header.ContentType())); err != nil ||
		mt != "application/x-yaml" && mt != "text/yaml" {
		return errBadRequest("Content-Type must be yaml")
	}
	sp, err := s.writableSpace(r, r.params[0])
	if err != nil {
		return err
	}
	apps, err := parseManifest(r.ctx.PostBody())
	if err != nil {
		return err
	}
	var problems []string
	for i := range apps {
		for _, p := range s.checkAppManifest(r, &apps[i]) {
			if apps[i].name != "" {
				problems = append(problems, "For application '"+apps[i].name+"': "+p)
			} else {
				problems = append(problems, "For application at index "+strconv.Itoa(i)+": "+p)
			}
		}
	}
	if len(problems) > 0 {
		// CC's CompoundError: one UnprocessableEntity per problem.
		body := errorBody{}
		for _, p := range problems {
			body.Errors = append(body.Errors, errorEntry{Detail: p, Title: "CF-UnprocessableEntity", Code: 10008})
		}
		return r.reply(422, body)
	}
	// AppFindOrCreateSkeleton, app by app, before the job is queued.
	work := make([]manifestWork, 0, len(apps))
	for i := range apps {
		a, err := s.findOrCreateManifestApp(r, sp, &apps[i])
		if err != nil {
			return err
		}
		work = append(work, manifestWork{appGUID: a.GUID, m: apps[i]})
	}
	now := s.store.Now()
	job := store.Job{GUID: uuid.NewString(), Operation: manifestJobOperation, State: store.JobProcessing, ResourceGUID: sp.GUID,
		UserGUID: r.user.GUID, CreatedAt: now, UpdatedAt: now}
	events := make([]store.Event, 0, len(work))
	for _, w := range work {
		a, err := s.store.GetApp(r.ctx, store.Viewer{All: true}, w.appGUID)
		if err != nil {
			return errInternal(err)
		}
		events = append(events, s.appEvent(r, "audit.app.apply_manifest", a, sp,
			map[string]any{"request": map[string]string{"manifest": auditManifest(w.m.source)}}))
	}
	if err := s.store.RecordEvents(r.ctx, events...); err != nil {
		return errInternal(err)
	}
	if err := s.store.CreateJob(r.ctx, job); err != nil {
		return errInternal(err)
	}
	user := *r.user
	base := r.base
	s.runJobWith(job, func(ctx context.Context) error { return s.applyManifestWork(ctx, &user, base, work) })
	return r.accepted(job.GUID)
}

// findOrCreateManifestApp is AppFindOrCreateSkeleton#find_or_create: the
// app of that name in the space, else a new one with the manifest's
// lifecycle and metadata. Then the controller refuses a lifecycle the app
// cannot take.
func (s *Server) findOrCreateManifestApp(r *request, sp store.Space, m *appManifest) (store.App, error) {
	found, _, err := s.store.ListApps(r.ctx, store.Viewer{All: true}, store.AppFilter{Names: []string{m.name}, SpaceGUIDs: []string{sp.GUID}},
		store.Page{Page: 1, PerPage: 1})
	if err != nil {
		return store.App{}, errInternal(err)
	}
	var a store.App
	if len(found) > 0 {
		a = found[0]
	} else {
		now := s.store.Now()
		a = store.App{GUID: uuid.NewString(), Name: m.name, SpaceGUID: sp.GUID, State: "STOPPED", LifecycleType: "buildpack",
			Buildpacks: []string{}, Env: map[string]json.RawMessage{}, SSHEnabled: true, CreatedAt: now, UpdatedAt: now}
		request := map[string]any{"name": m.name, "relationships": map[string]any{"space": map[string]any{"data": map[string]string{"guid": sp.GUID}}}}
		if m.docker {
			a.LifecycleType = "docker"
			request["lifecycle"] = map[string]any{"type": "docker"}
		} else {
			if m.setBuildpacks {
				a.Buildpacks = append(a.Buildpacks, m.buildpacks...)
			}
			if a.Stack, err = s.resolveStack(r, m.stack); err != nil {
				return a, prefixApp(m.name, err)
			}
			if m.setBuildpacks || m.stack != nil {
				data := map[string]any{}
				if m.setBuildpacks {
					data["buildpacks"] = a.Buildpacks
				}
				if m.stack != nil {
					data["stack"] = *m.stack
				}
				request["lifecycle"] = map[string]any{"data": data}
			}
		}
		if m.md != nil {
			a.Labels, a.Annotations = apply(nil, m.md.labels), apply(nil, m.md.annotations)
			request["metadata"] = m.mdRequest
		}
		if err := s.insertApp(r, a, sp, request); err != nil {
			return a, prefixApp(m.name, err)
		}
	}
	switch {
	case a.LifecycleType == "docker" && m.setBuildpacks && m.singleBP:
		return a, errUnprocessable("For application '" + m.name + "': Buildpack cannot be configured for a docker lifecycle app.")
	case a.LifecycleType == "docker" && m.setBuildpacks:
		return a, errUnprocessable("For application '" + m.name + "': Buildpacks cannot be configured for a docker lifecycle app.")
	case a.LifecycleType == "buildpack" && m.docker:
		return a, errUnprocessable("For application '" + m.name + "': Docker cannot be configured for a buildpack lifecycle app.")
	}
	return a, nil
}

// prefixApp puts "For application '<name>': " before the text of a
// client error, as the controller and SpaceApplyManifestActionJob do.
func prefixApp(name string, err error) error {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status >= 500 {
		return err
	}
	out := *ae
	out.Detail = "For application '" + name + "': " + ae.Detail
	return &out
}

// parseManifest reads the YAML body as ApplicationController#parsed_yaml
// and SpaceManifestsController#parsed_app_manifests do: one mapping, no
// anchors nor aliases, version 1 if any, a list of applications.
func parseManifest(body []byte) ([]appManifest, error) {
	if len(body) > maxManifestBytes {
		return nil, errBadRequest("Manifest size is too large. The maximum supported size is 1MB.")
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&doc); err != nil {
		return nil, errParse("invalid request body")
	}
	if hasAlias(&doc) {
		return nil, errBadRequest("Manifest does not support Anchors and Aliases")
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errParse("invalid request body")
	}
	root := doc.Content[0]
	if v := mappingValue(root, "version"); v != nil && !(v.Kind == yaml.ScalarNode && v.Tag == "!!int" && v.Value == "1") {
		return nil, errUnprocessable("Unsupported manifest schema version. Currently supported versions: [1].")
	}
	list := mappingValue(root, "applications")
	if list == nil || list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		return nil, errUnprocessable("Cannot parse manifest with no 'applications' field.")
	}
	out := make([]appManifest, 0, len(list.Content))
	for _, n := range list.Content {
		if n.Kind != yaml.MappingNode {
			return nil, errParse("invalid request body")
		}
		var raw map[string]any
		if err := n.Decode(&raw); err != nil {
			return nil, errParse("invalid request body")
		}
		m := appManifest{source: n, fields: make(map[string]any, len(raw))}
		for k, v := range raw {
			m.fields[underscore(k)] = plainYAML(v)
		}
		out = append(out, m)
	}
	return out, nil
}

func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// plainYAML turns the maps a YAML decode may give with non-string keys
// into map[string]any, so that values marshal as JSON.
func plainYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = plainYAML(e)
		}
		return t
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = plainYAML(e)
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = plainYAML(e)
		}
		return t
	}
	return v
}

// underscore is ActiveSupport's String#underscore, as AppManifestMessage
// applies it to keys: "disk-quota" and "diskQuota" are disk_quota.
func underscore(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, c := range rs {
		switch {
		case c == '-':
			b.WriteByte('_')
		case unicode.IsUpper(c):
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
				unicode.IsUpper(rs[i-1]) && i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// auditManifest is the manifest an audit.app.apply_manifest event
// records: the app's entry under applications, with env hidden
// (AppManifestMessage#audit_hash).
func auditManifest(app *yaml.Node) string {
	entry := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(app.Content); i += 2 {
		k, v := app.Content[i], app.Content[i+1]
		if k.Value == "env" {
			v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: hidden}
		}
		entry.Content = append(entry.Content, k, v)
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "applications"},
		{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{entry}},
	}}
	var b bytes.Buffer
	b.WriteString("---\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return ""
	}
	_ = enc.Close()
	return b.String()
}

// rubyString is Ruby's to_s of a YAML scalar, which the byte converter and
// env values go through.
func rubyString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// blank is ActiveSupport's blank?: nil, false, or a string of whitespace.
func blank(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case bool:
		return !t
	case string:
		return strings.TrimSpace(t) == ""
	}
	return false
}

// The byte converter (cc:lib/cloud_controller/app_manifest/byte_converter.rb,
// lib/cloud_controller/byte_quantity.rb): a number with a unit; KB, K and
// KiB alike are 1024 bytes.
var (
	bytesPattern   = regexp.MustCompile(`(?i)^(-?\d+(?:\.\d+)?)([KMGT]i?B?|B)$`)
	numericPattern = regexp.MustCompile(`^-?\d+(?:\.\d+)?`)
	errByteUnits   = errors.New("backend: byte quantity without a supported unit")
	errByteNumber  = errors.New("backend: byte quantity is not a number")
)

// toBytes is ByteConverter#convert_to_b; ok is false for a blank value.
func toBytes(v any) (n int64, ok bool, err error) {
	if blank(v) {
		return 0, false, nil
	}
	s := rubyString(v)
	if !numericPattern.MatchString(s) {
		return 0, false, errByteNumber
	}
	m := bytesPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, false, errByteUnits
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false, errByteUnits
	}
	switch strings.ToUpper(m[2][:1]) {
	case "T":
		f *= 1 << 40
	case "G":
		f *= 1 << 30
	case "M":
		f *= 1 << 20
	case "K":
		f *= 1 << 10
	}
	return int64(f), true, nil
}

// toMB is ByteConverter#convert_to_mb.
func toMB(v any) (int64, bool, error) {
	n, ok, err := toBytes(v)
	return n / (1 << 20), ok, err
}

// byteFormatProblem is AppManifestMessage#validate_byte_format.
func byteFormatProblem(v any, label string, unlimited bool) string {
	if unlimited && (rubyString(v) == "-1" || rubyString(v) == "0") {
		return ""
	}
	switch _, _, err := toMB(v); {
	case errors.Is(err, errByteUnits):
		return label + " must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB"
	case errors.Is(err, errByteNumber):
		return label + " is not a number"
	}
	return ""
}

// logRateOf is AppManifestMessage#convert_to_bytes_per_second.
func logRateOf(v any) (int64, bool) {
	s := strings.TrimSpace(rubyString(v))
	switch s {
	case "":
		return 0, false
	case "-1":
		return -1, true
	case "0":
		return 0, true
	}
	n, ok, err := toBytes(s)
	return n, ok && err == nil
}

// integerOf reads a numericality-validated attribute: an integer, or a
// string that holds one. why is Rails' text when it is not.
func integerOf(v any) (n int64, why string) {
	switch t := v.(type) {
	case int:
		return int64(t), ""
	case int64:
		return t, ""
	case uint64:
		return int64(t), ""
	case float64:
		return 0, "must be an integer"
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
			return i, ""
		}
		if _, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil {
			return 0, "must be an integer"
		}
	}
	return 0, "is not a number"
}

// checkAppManifest validates one application as AppManifestMessage does,
// in its order, and fills m from it. It returns the full messages.
func (s *Server) checkAppManifest(r *request, m *appManifest) []string {
	var p []string
	add := func(msg string) { p = append(p, msg) }
	procErr := func(typ, msg string) { add(`Process "` + typ + `": ` + msg) }
	f := m.fields
	switch name := f["name"].(type) {
	case string:
		if strings.TrimSpace(name) == "" {
			add("Name must not be empty")
		}
		m.name = name
	case nil:
		add("Name must not be empty")
	default:
		add("Name must be a string")
	}
	// validate_top_level_web_process!
	for _, b := range []struct {
		key, label string
		unlimited  bool
	}{{"memory", "Memory", false}, {"disk_quota", "Disk quota", false}, {"log_rate_limit_per_second", "Log rate limit per second", true}} {
		if msg := byteFormatProblem(f[b.key], b.label, b.unlimited); msg != "" {
			procErr("web", msg)
		}
	}
	// validate_processes!
	var procs []map[string]any
	if m.has("processes") {
		list, ok := f["processes"].([]any)
		if !ok {
			add("Processes must be an array of process configurations")
		} else {
			seen, dup := map[string]int{}, []string{}
			missingType := false
			for _, e := range list {
				pm, _ := e.(map[string]any)
				u := make(map[string]any, len(pm))
				for k, v := range pm {
					u[underscore(k)] = v
				}
				procs = append(procs, u)
				typ := rubyString(u["type"])
				if blank(u["type"]) {
					missingType = true
				}
				if seen[typ]++; seen[typ] == 2 {
					dup = append(dup, typ)
				}
			}
			if missingType {
				add("All Processes must specify a type")
			}
			for _, typ := range dup {
				add(`Process "` + typ + `" may only be present once`)
			}
			for _, u := range procs {
				typ := rubyString(u["type"])
				for _, b := range []struct {
					key, label string
					unlimited  bool
				}{{"memory", "Memory", false}, {"disk_quota", "Disk quota", false}, {"log_rate_limit_per_second", "Log rate limit per second", true}} {
					if msg := byteFormatProblem(u[b.key], b.label, b.unlimited); msg != "" {
						procErr(typ, msg)
					}
				}
			}
		}
	}
	// validate_sidecars!: this Cloud Controller runs no sidecars, so a
	// valid sidecars list is accepted and left unapplied.
	if m.has("sidecars") {
		p = append(p, sidecarProblems(f["sidecars"])...)
	}
	m.processes = manifestProcesses(f, procs)
	for i := range m.processes {
		for _, msg := range checkManifestProcess(&m.processes[i], f, procs) {
			procErr(m.processes[i].typ, msg)
		}
	}
	p = append(p, s.checkManifestLifecycle(m)...)
	if m.has("buildpack") && m.has("buildpacks") {
		add("Buildpack and Buildpacks fields cannot be used together.")
	}
	if m.has("docker") {
		m.docker = true
		if err := s.requireFlag(r, "diego_docker"); err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				add(ae.Detail)
			}
		}
		if m.has("buildpack") || m.has("buildpacks") {
			add("Cannot specify both buildpack(s) and docker keys")
		}
	}
	if m.has("services") {
		var ok bool
		if m.services, ok = manifestServices(f["services"]); !ok {
			add("Services must be a list of service instances")
		}
	}
	if m.has("env") {
		p = append(p, m.checkEnv()...)
	}
	if m.has("routes") || m.has("no_route") || m.has("random_route") || m.has("default_route") {
		p = append(p, m.checkRoutes()...)
	}
	return p
}

// sidecarProblems is validate_sidecars! with SidecarCreateMessage's rules.
func sidecarProblems(v any) []string {
	list, ok := v.([]any)
	if !ok {
		return []string{"Sidecars must be an array of sidecar configurations"}
	}
	var p []string
	for _, e := range list {
		sc, _ := e.(map[string]any)
		var msgs []string
		name, _ := sc["name"].(string)
		if blank(sc["name"]) {
			msgs = append(msgs, "Name can't be blank")
		} else if _, ok := sc["name"].(string); !ok {
			msgs = append(msgs, "Name must be a string")
		}
		if blank(sc["command"]) {
			msgs = append(msgs, "Command can't be blank")
		} else if _, ok := sc["command"].(string); !ok {
			msgs = append(msgs, "Command must be a string")
		}
		if types, ok := sc["process_types"].([]any); !ok {
			msgs = append(msgs, "Process types must be an array")
		} else if len(types) == 0 {
			msgs = append(msgs, "Process types must have at least 1 process_type")
		}
		if mem, ok := sc["memory"]; ok && !blank(mem) {
			if n, _, err := toMB(mem); err != nil || n <= 0 {
				msgs = append(msgs, "Memory in mb must be greater than 0")
			}
		}
		for _, msg := range msgs {
			if name != "" {
				p = append(p, `Sidecar "`+name+`": `+msg)
			} else {
				p = append(p, "Sidecar "+strings.ToLower(msg))
			}
		}
	}
	return p
}

// processUpdateKeys are the keys of ManifestProcessUpdateMessage a
// manifest sets, at the top level (for web) or in a process.
var processUpdateKeys = []string{"command", "health_check_http_endpoint", "timeout", "health_check_invocation_timeout", "health_check_type"}

// processScaleKeys are those of ManifestProcessScaleMessage.
var processScaleKeys = []string{"instances", "memory", "disk_quota", "log_rate_limit_per_second"}

// manifestProcesses is process_attributes: web from the top-level keys,
// unless processes has a web entry, which replaces it; then the other
// processes in their order.
func manifestProcesses(top map[string]any, procs []map[string]any) []manifestProcess {
	var out []manifestProcess
	web := manifestProcess{typ: "web"}
	for _, k := range processUpdateKeys {
		if _, ok := top[k]; ok {
			web.update = true
		}
	}
	for _, k := range processScaleKeys {
		if v, ok := top[k]; ok && v != nil {
			web.scale = true
		}
	}
	if web.update || web.scale {
		out = append(out, web)
	}
	replaced := false
	for _, u := range procs {
		typ := rubyString(u["type"])
		if typ == "" {
			continue
		}
		mp := manifestProcess{typ: typ}
		for _, k := range processUpdateKeys {
			if _, ok := u[k]; ok {
				mp.update = true
			}
		}
		for _, k := range processScaleKeys {
			if v, ok := u[k]; ok && v != nil {
				mp.scale = true
			}
		}
		if typ == "web" {
			if replaced {
				continue
			}
			replaced = true
			out = append([]manifestProcess{mp}, removeWeb(out)...)
			continue
		}
		out = append(out, mp)
	}
	return out
}

func removeWeb(ps []manifestProcess) []manifestProcess {
	var out []manifestProcess
	for _, p := range ps {
		if p.typ != "web" {
			out = append(out, p)
		}
	}
	return out
}

// checkManifestProcess reads the attributes of mp from its source (the
// process entry, or the top level for a web process that has none) with
// the checks of ManifestProcessScaleMessage and ManifestProcessUpdateMessage.
func checkManifestProcess(mp *manifestProcess, top map[string]any, procs []map[string]any) []string {
	src := top
	for _, u := range procs {
		if rubyString(u["type"]) == mp.typ {
			src = u
			break
		}
	}
	var p []string
	// The scale message's values, converted as process_scale_attributes does.
	if v, ok := src["instances"]; ok && v != nil {
		n, why := integerOf(v)
		switch {
		case why != "":
			p = append(p, "Instances "+why)
		case n < 0:
			p = append(p, "Instances must be greater than or equal to 0")
		case n > 2000000:
			p = append(p, "Instances must be less than or equal to 2000000")
		}
		mp.instances = &n
	}
	for _, b := range []struct {
		key, label string
		dst        **int64
	}{{"memory", "Memory", &mp.memory}, {"disk_quota", "Disk quota", &mp.disk}} {
		n, ok, err := toMB(src[b.key])
		if err != nil || !ok {
			continue
		}
		if n <= 0 {
			p = append(p, b.label+" must be greater than 0MB")
		}
		*b.dst = &n
	}
	if n, ok := logRateOf(src["log_rate_limit_per_second"]); ok {
		if n < -1 {
			p = append(p, "Log rate limit must be an integer greater than or equal to -1")
		}
		mp.logRateLimit = &n
	}
	// The update message.
	if v, ok := src["command"]; ok {
		mp.setCommand = true
		switch c := v.(type) {
		case nil:
			// command || 'null': ManifestStrategy resets it.
		case string:
			if len(c) < 1 || len(c) > 4096 {
				p = append(p, "Command must be between 1 and 4096 characters")
			}
			if c != "null" && c != "default" {
				mp.command = &c
			}
		default:
			p = append(p, "Command must be a string")
		}
	}
	if v, ok := src["health_check_type"]; ok {
		mp.setHCType = true
		t := rubyString(v)
		if t == "none" {
			t = "process" // HEALTH_CHECK_TYPE_MAPPING: none is process
		}
		if t != "port" && t != "process" && t != "http" {
			p = append(p, `Health check type must be "port", "process", or "http"`)
		}
		mp.hcType = &t
	}
	if v, ok := src["health_check_http_endpoint"]; ok {
		mp.setEndpoint = true
		if v != nil {
			e := rubyString(v)
			if u, err := url.Parse(e); err != nil || !strings.HasPrefix(e, "/") || u.Host != "" {
				p = append(p, "Health check http endpoint must be a valid URI path")
			}
			mp.hcEndpoint = &e
		}
	}
	if mp.setHCType && mp.setEndpoint && mp.hcType != nil && *mp.hcType != "http" && mp.hcEndpoint != nil {
		p = append(p, `Health check type must be "http" to set a health check HTTP endpoint`)
	}
	for _, t := range []struct {
		key, label string
		dst        **int64
		set        *bool
	}{
		{"health_check_invocation_timeout", "Health check invocation timeout", &mp.invocation, &mp.setInvocation},
		{"timeout", "Timeout", &mp.timeout, &mp.setTimer},
	} {
		v, ok := src[t.key]
		if !ok {
			continue
		}
		*t.set = true
		if v == nil {
			continue
		}
		n, why := integerOf(v)
		switch {
		case why != "":
			p = append(p, t.label+" "+why)
		case n < 1:
			p = append(p, t.label+" must be greater than or equal to 1")
		}
		*t.dst = &n
	}
	return p
}

// checkManifestLifecycle is validate_app_update_message! over the
// lifecycle (buildpacks, stack) and the metadata.
func (s *Server) checkManifestLifecycle(m *appManifest) []string {
	var p []string
	f := m.fields
	switch {
	case m.has("buildpacks"):
		m.setBuildpacks = true
		list, ok := f["buildpacks"].([]any)
		if f["buildpacks"] != nil && !ok {
			p = append(p, "Buildpacks must be an array of strings")
			break
		}
		for _, e := range list {
			bp, ok := e.(string)
			if !ok {
				p = append(p, "Buildpacks must be an array of strings")
				break
			}
			if bp == "" || len(bp) > 4096 {
				p = append(p, "Buildpacks can only contain non-empty strings of at most 4096 characters")
				break
			}
			m.buildpacks = append(m.buildpacks, bp)
		}
	case m.has("buildpack"):
		m.setBuildpacks, m.singleBP = true, true
		switch bp := f["buildpack"].(type) {
		case nil:
		case string:
			// should_autodetect?: "default" and "null" mean none.
			if bp != "default" && bp != "null" && bp != "" {
				m.buildpacks = []string{bp}
			}
		default:
			p = append(p, "Buildpack must be a string")
		}
	}
	if m.has("stack") {
		switch st := f["stack"].(type) {
		case nil:
		case string:
			m.stack = &st
		default:
			p = append(p, "Stack must be a string")
		}
	}
	if m.has("metadata") {
		md := map[string]any{"metadata": stringifyMetadata(f["metadata"])}
		raw, err := json.Marshal(md)
		if err != nil {
			p = append(p, "Metadata must be an object")
			return p
		}
		var o object
		_ = json.Unmarshal(raw, &o)
		patch, err := o.metadata()
		var ae *apiError
		switch {
		case errors.As(err, &ae):
			p = append(p, ae.Detail)
		case err != nil:
			p = append(p, "Metadata must be an object")
		default:
			m.md, m.mdRequest = patch, o["metadata"]
		}
	}
	return p
}

// stringifyMetadata writes label and annotation values that YAML read as
// booleans or numbers as the strings the manifest spelled.
func stringifyMetadata(v any) any {
	md, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for _, key := range []string{"labels", "annotations"} {
		if vals, ok := md[key].(map[string]any); ok {
			for k, e := range vals {
				switch e.(type) {
				case bool, int, int64, uint64, float64:
					vals[k] = rubyString(e)
				}
			}
		}
	}
	return md
}

// manifestServices is ManifestServiceBindingCreateMessage: names, or
// objects with a name, optional parameters (an object) and binding_name.
func manifestServices(v any) ([]manifestService, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]manifestService, 0, len(list))
	for _, e := range list {
		switch t := e.(type) {
		case string:
			out = append(out, manifestService{name: t})
		case map[string]any:
			ms := manifestService{}
			for k := range t {
				if k != "name" && k != "parameters" && k != "binding_name" {
					return nil, false
				}
			}
			name, ok := t["name"]
			if !ok {
				return nil, false
			}
			ms.name = rubyString(name)
			if params, ok := t["parameters"]; ok {
				pm, ok := params.(map[string]any)
				if !ok {
					return nil, false
				}
				ms.params, _ = json.Marshal(pm)
			}
			if bn, ok := t["binding_name"]; ok {
				s, ok := bn.(string)
				if !ok {
					return nil, false
				}
				ms.bindingName = &s
			}
			out = append(out, ms)
		default:
			return nil, false
		}
	}
	return out, true
}

// checkEnv is validate_env_update_message!: values become strings
// (transform_values(&:to_s)), keys follow EnvironmentVariablesValidator.
func (m *appManifest) checkEnv() []string {
	env, ok := m.fields["env"].(map[string]any)
	if !ok {
		return []string{"Env must be an object of keys and values"}
	}
	var p []string
	m.setEnv, m.env = true, make(map[string]string, len(env))
	for k, v := range env {
		switch {
		case k == "":
			p = append(p, "Env key must be a minimum length of 1")
		case envKeyVCAP.MatchString(k):
			p = append(p, "Env cannot start with VCAP_")
		case envKeyVMC.MatchString(k):
			p = append(p, "Env cannot start with VMC_")
		case envKeyPORT.MatchString(k):
			p = append(p, "Env cannot set PORT")
		}
		if b, isMap := v.(map[string]any); isMap {
			raw, _ := json.Marshal(b)
			m.env[k] = string(raw)
			continue
		}
		m.env[k] = rubyString(v)
	}
	return p
}

// checkRoutes is ManifestRoutesUpdateMessage's validations.
func (m *appManifest) checkRoutes() []string {
	var p []string
	f := m.fields
	if m.has("routes") {
		m.setRoutes = true
		list, ok := f["routes"].([]any)
		for _, e := range list {
			rm, isMap := e.(map[string]any)
			if !isMap || blank(rm["route"]) {
				ok = false
			}
		}
		if !ok {
			p = append(p, "Routes must be a list of route objects")
		} else {
			for _, e := range list {
				rm := e.(map[string]any)
				mr, valid := parseManifestRouteURL(rubyString(rm["route"]))
				if !valid {
					p = append(p, "The route '"+mr.full+"' is not a properly formed URL")
				}
				if proto, ok := rm["protocol"]; ok && proto != nil {
					mr.protocol = rubyString(proto)
					if mr.protocol != "http1" && mr.protocol != "http2" && mr.protocol != "tcp" {
						p = append(p, "Route protocol must be 'http1', 'http2' or 'tcp'.")
					}
				}
				m.routes = append(m.routes, mr)
			}
		}
	}
	for _, b := range []struct {
		key, label string
		dst        *bool
	}{{"no_route", "No-route", &m.noRoute}, {"default_route", "Default-route", &m.defaultRoute}, {"random_route", "Random-route", &m.randomRoute}} {
		v, ok := f[b.key]
		if !ok || v == nil {
			continue
		}
		bv, isBool := v.(bool)
		if !isBool {
			p = append(p, b.label+" must be a boolean")
			continue
		}
		*b.dst = bv
	}
	if m.randomRoute && m.defaultRoute {
		p = append(p, "Random-route and default-route may not be used together")
	}
	return p
}

// parseManifestRouteURL is ManifestRoute.parse and #valid?: Addressable's
// heuristic parse with the scheme "unspecified" when none is given; a
// route with a port is tcp.
func parseManifestRouteURL(route string) (manifestRoute, bool) {
	mr := manifestRoute{full: route}
	s := route
	if !strings.Contains(s, "://") {
		s = "unspecified://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return mr, false
	}
	mr.scheme, mr.host, mr.path = u.Scheme, u.Hostname(), u.Path
	if ps := u.Port(); ps != "" {
		n, err := strconv.ParseInt(ps, 10, 64)
		if err != nil {
			return mr, false
		}
		mr.port = &n
	}
	if mr.host == "" {
		return mr, false
	}
	if mr.port != nil {
		return mr, mr.scheme == "tcp" || mr.scheme == "unspecified"
	}
	return mr, mr.scheme == "http" || mr.scheme == "https" || mr.scheme == "unspecified"
}
