package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	strictjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"capibridge/configs"
)

const (
	kubeDir = "kubernetes"
	// kubeImage is the repository of the capibridge image; its ENTRYPOINT
	// is /capibridge (deploy/Dockerfile), the only binary in it.
	kubeImage      = "ghcr.io/capibridge/capibridge"
	kubeEntrypoint = "/capibridge"
	kubeRuleFile   = "kubernetes/components/prometheus-operator/prometheusrule.yaml"
	kubeAlertsFile = "prometheus/alerts.yaml"
	kubeDockerfile = "Dockerfile"
)

var kubeUpdateRules = flag.Bool("update-rules", false, "write "+kubeRuleFile+" from "+kubeAlertsFile)

// kubeAdminPaths are what the admin listener answers for probes
// (proxy/gateway.go, adminHandler).
var kubeAdminPaths = map[string]bool{"/healthz": true, "/readyz": true}

// kubeRender is one kustomization, built and decoded into API types.
type kubeRender struct {
	dir             string
	ids             []string // kind/namespace/name of every object, in order
	namespaces      []*corev1.Namespace
	serviceAccounts []*corev1.ServiceAccount
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	services        []*corev1.Service
	deployments     []*appsv1.Deployment
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	pdbs            []*policyv1.PodDisruptionBudget
	netpols         []*networkingv1.NetworkPolicy
	serviceMonitors []*kubeServiceMonitor
	prometheusRules []*kubePrometheusRule
}

// kubeServiceMonitor holds the fields of monitoring.coreos.com/v1
// ServiceMonitor that the manifests use; others are refused.
type kubeServiceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// kubePrometheusRule holds monitoring.coreos.com/v1 PrometheusRule; the
// group and rule fields are those the CRD accepts.
type kubePrometheusRule struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Groups []struct {
			Name                    string            `json:"name"`
			Interval                string            `json:"interval,omitempty"`
			QueryOffset             string            `json:"query_offset,omitempty"`
			Limit                   *int              `json:"limit,omitempty"`
			PartialResponseStrategy string            `json:"partial_response_strategy,omitempty"`
			Labels                  map[string]string `json:"labels,omitempty"`
			Rules                   []struct {
				Record        string            `json:"record,omitempty"`
				Alert         string            `json:"alert,omitempty"`
				Expr          string            `json:"expr"`
				For           string            `json:"for,omitempty"`
				KeepFiringFor string            `json:"keep_firing_for,omitempty"`
				Labels        map[string]string `json:"labels,omitempty"`
				Annotations   map[string]string `json:"annotations,omitempty"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// kubeDecodeStrict decodes JSON as the API server's strict field validation
// does: unknown and duplicate fields are errors, and names match by case.
func kubeDecodeStrict(b []byte, v any) error {
	strict, err := strictjson.UnmarshalStrict(b, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// add decodes one rendered object into its type.
func (r *kubeRender) add(b []byte) error {
	var tm metav1.TypeMeta
	if err := json.Unmarshal(b, &tm); err != nil {
		return err
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 Namespace":
		return kubeAddTo(&r.namespaces, b)
	case "v1 ServiceAccount":
		return kubeAddTo(&r.serviceAccounts, b)
	case "v1 ConfigMap":
		return kubeAddTo(&r.configMaps, b)
	case "v1 Secret":
		return kubeAddTo(&r.secrets, b)
	case "v1 Service":
		return kubeAddTo(&r.services, b)
	case "apps/v1 Deployment":
		return kubeAddTo(&r.deployments, b)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return kubeAddTo(&r.hpas, b)
	case "policy/v1 PodDisruptionBudget":
		return kubeAddTo(&r.pdbs, b)
	case "networking.k8s.io/v1 NetworkPolicy":
		return kubeAddTo(&r.netpols, b)
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return kubeAddTo(&r.serviceMonitors, b)
	case "monitoring.coreos.com/v1 PrometheusRule":
		return kubeAddTo(&r.prometheusRules, b)
	default:
		return fmt.Errorf("%s %s: no type to check it against; add one to kubeRender.add", tm.APIVersion, tm.Kind)
	}
}

// kubeAddTo decodes b strictly into a new T kept in list.
func kubeAddTo[T any](list *[]*T, b []byte) error {
	o := new(T)
	*list = append(*list, o)
	return kubeDecodeStrict(b, o)
}

var (
	kubeRenderMu    sync.Mutex
	kubeRenderCache = map[string]*kubeRender{}
)

// kubeBuild runs kustomize on dir, as `kubectl apply -k` would, and decodes
// what it makes. Renders are shared between tests.
func kubeBuild(t *testing.T, dir string) *kubeRender {
	t.Helper()
	kubeRenderMu.Lock()
	defer kubeRenderMu.Unlock()
	if r, ok := kubeRenderCache[dir]; ok {
		return r
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &kubeRender{dir: dir}
	for _, res := range m.Resources() {
		id := res.GetKind() + "/" + res.GetNamespace() + "/" + res.GetName()
		b, err := res.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: %s: %v", dir, id, err)
		}
		if err := r.add(b); err != nil {
			t.Fatalf("%s: %s: %v", dir, id, err)
		}
		r.ids = append(r.ids, id)
	}
	kubeRenderCache[dir] = r
	return r
}

// kubeKustomizations finds every kustomization under kubernetes/ (base and
// overlays; components cannot be built alone and are built by the overlays
// that include them).
func kubeKustomizations(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(kubeDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "kustomization.yaml" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var k struct {
			Kind string `yaml:"kind"`
		}
		if err := yaml.Unmarshal(b, &k); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if k.Kind != "Component" {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"base", "overlays/demo", "overlays/production"} {
		if !slices.Contains(dirs, filepath.Join(kubeDir, want)) {
			t.Errorf("no kustomization in %s", filepath.Join(kubeDir, want))
		}
	}
	return dirs
}

// kubePod is a pod template and where it comes from.
type kubePod struct {
	owner     string
	namespace string
	labels    map[string]string
	spec      *corev1.PodSpec
}

func (r *kubeRender) pods() []kubePod {
	var ps []kubePod
	for _, d := range r.deployments {
		ps = append(ps, kubePod{"Deployment/" + d.Name, d.Namespace, d.Spec.Template.Labels, &d.Spec.Template.Spec})
	}
	return ps
}

// kubeInvocation is a container's capibridge command line, parsed.
type kubeInvocation struct {
	sub   string
	flags map[string]string
}

// kubeParseArgs reads a container's command and args as cmd/capibridge's
// run and the subcommand's flag.FlagSet would, and fails on anything they
// would refuse. Every capibridge flag takes a value.
func kubeParseArgs(t *testing.T, command, args []string) (kubeInvocation, error) {
	inv := kubeInvocation{sub: "serve", flags: map[string]string{}}
	switch {
	case len(command) == 0:
	case len(command) == 1 && command[0] == kubeEntrypoint:
	default:
		return inv, fmt.Errorf("command %q: the image has no other program than %s", command, kubeEntrypoint)
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		inv.sub, args = args[0], args[1:]
		if inv.sub == "uaa" {
			if len(args) == 0 {
				return inv, errors.New("uaa: missing its subcommand")
			}
			inv.sub, args = "uaa "+args[0], args[1:]
		}
	}
	// The flags the binary itself prints for the subcommand (binary_test.go).
	known := subcommandFlags(t, inv.sub)
	if known == nil {
		return inv, fmt.Errorf("unknown subcommand %q", inv.sub)
	}
	for len(args) > 0 {
		arg := args[0]
		args = args[1:]
		name, ok := strings.CutPrefix(arg, "-")
		if !ok || name == "" || name == "-" {
			return inv, fmt.Errorf("%s: %q is not a flag (the subcommands take no arguments)", inv.sub, arg)
		}
		name = strings.TrimPrefix(name, "-")
		name, value, hasValue := strings.Cut(name, "=")
		if !known[name] {
			return inv, fmt.Errorf("%s: unknown flag --%s (known: %v)", inv.sub, name, slices.Sorted(maps.Keys(known)))
		}
		if !hasValue {
			if len(args) == 0 {
				return inv, fmt.Errorf("%s: flag --%s needs a value", inv.sub, name)
			}
			value, args = args[0], args[1:]
		}
		if _, dup := inv.flags[name]; dup {
			return inv, fmt.Errorf("%s: flag --%s given twice", inv.sub, name)
		}
		inv.flags[name] = value
	}
	return inv, nil
}

func TestKubernetesParseArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		command []string
		args    []string
		sub     string
		wantErr bool
	}{
		{name: "default serve", args: nil, sub: "serve"},
		{name: "flags only", args: []string{"--config", "/c.yaml"}, sub: "serve"},
		{name: "serve", args: []string{"serve", "--config=/c.yaml", "-listen", ":8080"}, sub: "serve"},
		{name: "backend", command: []string{"/capibridge"}, args: []string{"backend", "--listen", ":9022", "--data", ":memory:"}, sub: "backend"},
		{name: "uaa rotate-key", args: []string{"uaa", "rotate-key", "--data", "/data"}, sub: "uaa rotate-key"},
		{name: "healthcheck", args: []string{"healthcheck", "--url", "http://localhost:9090/healthz"}, sub: "healthcheck"},
		{name: "unknown flag", args: []string{"serve", "--admin-addr", ":9090"}, wantErr: true},
		{name: "flag of another subcommand", args: []string{"backend", "--redis", "r:6379"}, wantErr: true},
		{name: "unknown subcommand", args: []string{"gateway"}, wantErr: true},
		{name: "missing value", args: []string{"serve", "--config"}, wantErr: true},
		{name: "positional", args: []string{"serve", "--config", "/c.yaml", "extra"}, wantErr: true},
		{name: "uaa alone", args: []string{"uaa"}, wantErr: true},
		{name: "shell", command: []string{"/bin/sh", "-c"}, args: []string{"capibridge serve"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv, err := kubeParseArgs(t, tt.command, tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && inv.sub != tt.sub {
				t.Errorf("subcommand %q, want %q", inv.sub, tt.sub)
			}
		})
	}
}

func kubeIsCapibridge(c *corev1.Container) bool {
	repo := c.Image
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo == kubeImage
}

// kubeContainerPort resolves a probe's or a Service's port (a number or a
// name) to one the container declares.
func kubeContainerPort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func kubeNamedPort(c *corev1.Container, name string) (int32, bool) {
	return kubeContainerPort(c, intstr.FromString(name))
}

// environ is the container's environment as the process sees it, with
// values from the rendered Secrets and ConfigMaps.
func (r *kubeRender) environ(ns string, c *corev1.Container) ([]string, error) {
	var env []string
	var errs []error
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			v, err := r.secretValue(ns, e.ValueFrom.SecretKeyRef)
			if err != nil {
				errs = append(errs, fmt.Errorf("env %s: %w", e.Name, err))
				continue
			}
			env = append(env, e.Name+"="+v)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm := r.configMap(ns, ref.Name)
			v, ok := "", false
			if cm != nil {
				v, ok = cm.Data[ref.Key]
			}
			if !ok && (ref.Optional == nil || !*ref.Optional) {
				errs = append(errs, fmt.Errorf("env %s: ConfigMap %s has no key %q in the render", e.Name, ref.Name, ref.Key))
				continue
			}
			env = append(env, e.Name+"="+v)
		case e.ValueFrom.ResourceFieldRef != nil, e.ValueFrom.FieldRef != nil:
			// Filled in by the kubelet; GOMEMLIMIT and the like.
			if strings.HasPrefix(e.Name, configs.EnvPrefix) {
				errs = append(errs, fmt.Errorf("env %s: a field reference cannot be checked as a config value", e.Name))
			}
		}
	}
	for _, from := range c.EnvFrom {
		errs = append(errs, fmt.Errorf("envFrom %+v: name the variables one by one, so that the test can check them", from))
	}
	return env, errors.Join(errs...)
}

func (r *kubeRender) secretValue(ns string, ref *corev1.SecretKeySelector) (string, error) {
	for _, s := range r.secrets {
		if s.Namespace != ns || s.Name != ref.Name {
			continue
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), nil
		}
		if v, ok := s.StringData[ref.Key]; ok {
			return v, nil
		}
		return "", fmt.Errorf("Secret %s has no key %q", ref.Name, ref.Key)
	}
	return "", fmt.Errorf("no Secret %s in the render", ref.Name)
}

func (r *kubeRender) configMap(ns, name string) *corev1.ConfigMap {
	for _, cm := range r.configMaps {
		if cm.Namespace == ns && cm.Name == name {
			return cm
		}
	}
	return nil
}

// file returns the content the container sees at path, when a ConfigMap
// volume provides it.
func (r *kubeRender) file(p kubePod, c *corev1.Container, path string) (string, error) {
	for _, m := range c.VolumeMounts {
		var rel string
		switch {
		case m.SubPath != "" && path == m.MountPath:
			rel = m.SubPath
		case m.SubPath == "" && strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/"):
			rel = strings.TrimPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
		default:
			continue
		}
		for _, v := range p.spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			if v.ConfigMap == nil {
				return "", fmt.Errorf("%s: volume %s is not a ConfigMap", path, v.Name)
			}
			key := rel
			for _, it := range v.ConfigMap.Items {
				if it.Path == rel {
					key = it.Key
				}
			}
			cm := r.configMap(p.namespace, v.ConfigMap.Name)
			if cm == nil {
				return "", fmt.Errorf("%s: no ConfigMap %s in the render", path, v.ConfigMap.Name)
			}
			data, ok := cm.Data[key]
			if !ok {
				return "", fmt.Errorf("%s: ConfigMap %s has no key %q", path, cm.Name, key)
			}
			return data, nil
		}
		return "", fmt.Errorf("%s: volumeMount %s names no volume", path, m.Name)
	}
	return "", fmt.Errorf("%s: no volume is mounted there", path)
}

// config loads the config a capibridge container starts with: its
// --config file from the rendered ConfigMap, the CAPIBRIDGE_* variables of
// imageEnv and of the container, then its flags, as
// cmd/capibridge's load does, and validates it.
func (r *kubeRender) config(t *testing.T, p kubePod, c *corev1.Container, inv kubeInvocation, imageEnv []string) (configs.Config, error) {
	t.Helper()
	path := ""
	if cf := inv.flags["config"]; cf != "" {
		data, err := r.file(p, c, cf)
		if err != nil {
			return configs.Config{}, err
		}
		path = filepath.Join(t.TempDir(), "capibridge.yaml")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env, err := r.environ(p.namespace, c)
	if err != nil {
		return configs.Config{}, err
	}
	cfg, err := configs.Load(path, append(slices.Clone(imageEnv), env...))
	if err != nil {
		return cfg, err
	}
	f := inv.flags
	switch inv.sub {
	case "serve":
		for name, field := range map[string]*string{"listen": &cfg.Listen, "admin-listen": &cfg.AdminListen,
			"upstream": &cfg.Upstream, "data": &cfg.Data} {
			if v, ok := f[name]; ok {
				*field = v
			}
		}
		if v, ok := f["redis"]; ok {
			cfg.Cache.RedisAddrs = []string{v}
		}
	case "backend":
		if v, ok := f["listen"]; ok {
			cfg.Backend.Listen = v
		}
		if v, ok := f["data"]; ok {
			cfg.Backend.Data = v
		}
	}
	return cfg, cfg.Validate()
}

func kubePort(t *testing.T, addr string) (host string, port int32) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%q: %v", addr, err)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		t.Fatalf("%q: port: %v", addr, err)
	}
	return h, int32(n)
}

// kubeWritable reports whether path is on a volume the container may write.
func kubeWritable(p kubePod, c *corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.ReadOnly || (path != m.MountPath && !strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")) {
			continue
		}
		for _, v := range p.spec.Volumes {
			if v.Name == m.Name && (v.EmptyDir != nil || v.PersistentVolumeClaim != nil || v.Ephemeral != nil) {
				return true
			}
		}
	}
	return false
}

func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	checks := []struct {
		name string
		fn   func(*testing.T, *kubeRender)
	}{
		{"commands", kubeCheckCommands},
		{"gateway", kubeCheckGateway},
		{"security", kubeCheckSecurity},
		{"resources", kubeCheckResources},
		{"availability", kubeCheckAvailability},
		{"services", kubeCheckServices},
		{"references", kubeCheckReferences},
		{"network", kubeCheckNetwork},
		{"monitoring", kubeCheckMonitoring},
		{"labels", kubeCheckLabels},
	}
	for _, dir := range kubeKustomizations(t) {
		t.Run(filepath.ToSlash(strings.TrimPrefix(dir, kubeDir+string(filepath.Separator))), func(t *testing.T) {
			t.Parallel()
			r := kubeBuild(t, dir)
			for _, c := range checks {
				t.Run(c.name, func(t *testing.T) { c.fn(t, r) })
			}
		})
	}
}

// kubeCheckCommands: every capibridge container runs a real subcommand with
// flags it has.
func kubeCheckCommands(t *testing.T, r *kubeRender) {
	for _, p := range r.pods() {
		for i := range p.spec.Containers {
			c := &p.spec.Containers[i]
			if !kubeIsCapibridge(c) {
				continue
			}
			if _, err := kubeParseArgs(t, c.Command, c.Args); err != nil {
				t.Errorf("%s, container %s: %v", p.owner, c.Name, err)
			}
		}
	}
}

// kubeCheckGateway: the config each capibridge container starts with loads
// and validates, and the probes, ports and grace period fit it.
func kubeCheckGateway(t *testing.T, r *kubeRender) {
	gateways, unparsed := 0, 0
	for _, p := range r.pods() {
		for i := range p.spec.Containers {
			c := &p.spec.Containers[i]
			if !kubeIsCapibridge(c) {
				continue
			}
			inv, err := kubeParseArgs(t, c.Command, c.Args)
			if err != nil {
				unparsed++
				continue // kubeCheckCommands says why
			}
			if inv.sub == "serve" {
				gateways++
			}
			where := p.owner + ", container " + c.Name
			cfg, err := r.config(t, p, c, inv, environ(imageEnv(t)))
			if err != nil {
				t.Errorf("%s: the config it starts with: %v", where, err)
				continue
			}
			switch inv.sub {
			case "serve":
				kubeCheckServe(t, where, p, c, cfg)
				// The image's CAPIBRIDGE_ADMIN_LISTEN makes the admin port
				// reachable; the manifests must not depend on it, so that
				// another build of the image (or none of its ENV) works.
				if own, err := r.config(t, p, c, inv, nil); err != nil {
					t.Errorf("%s: the config without the image's ENV: %v", where, err)
				} else if own.AdminListen != cfg.AdminListen || own.Listen != cfg.Listen {
					t.Errorf("%s: without the image's ENV it would listen on %s and %s (admin), not %s and %s",
						where, own.Listen, own.AdminListen, cfg.Listen, cfg.AdminListen)
				}
			case "backend":
				_, port := kubePort(t, cfg.Backend.Listen)
				if !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.ContainerPort == port }) {
					t.Errorf("%s: backend listens on %s, which is not a container port", where, cfg.Backend.Listen)
				}
				if cfg.Backend.Data != ":memory:" && !kubeWritable(p, c, cfg.Backend.Data) {
					t.Errorf("%s: backend data dir %s is not on a writable volume (emptyDir, PVC), nor :memory:", where, cfg.Backend.Data)
				}
			}
		}
	}
	if gateways == 0 && unparsed == 0 {
		t.Error("no container runs capibridge serve")
	}
}

func kubeCheckServe(t *testing.T, where string, p kubePod, c *corev1.Container, cfg configs.Config) {
	t.Helper()
	host, adminPort := kubePort(t, cfg.AdminListen)
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		t.Errorf("%s: admin_listen %q: the kubelet and Prometheus cannot reach it; listen on all addresses (\":%d\")", where, cfg.AdminListen, adminPort)
	}
	if got, ok := kubeNamedPort(c, "admin"); !ok || got != adminPort {
		t.Errorf("%s: container port admin is %d, admin_listen is %s", where, got, cfg.AdminListen)
	}
	_, listenPort := kubePort(t, cfg.Listen)
	if got, ok := kubeNamedPort(c, "http"); !ok || got != listenPort {
		t.Errorf("%s: container port http is %d, listen is %s", where, got, cfg.Listen)
	}
	if cfg.Upstream == "" && !kubeWritable(p, c, cfg.Data) {
		t.Errorf("%s: no upstream starts the embedded Cloud Foundry, whose data dir %s is not on a writable volume", where, cfg.Data)
	}
	probes := []struct {
		name  string
		probe *corev1.Probe
		paths []string
	}{
		{"livenessProbe", c.LivenessProbe, []string{"/healthz"}},
		{"readinessProbe", c.ReadinessProbe, []string{"/readyz"}},
		{"startupProbe", c.StartupProbe, []string{"/healthz", "/readyz"}},
	}
	for _, pr := range probes {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("%s: %s: want an httpGet of %v on the admin port", where, pr.name, pr.paths)
			continue
		}
		g := pr.probe.HTTPGet
		if !kubeAdminPaths[g.Path] || !slices.Contains(pr.paths, g.Path) {
			t.Errorf("%s: %s: path %q, want one of %v", where, pr.name, g.Path, pr.paths)
		}
		if port, ok := kubeContainerPort(c, g.Port); !ok || port != adminPort {
			t.Errorf("%s: %s: port %s is not the admin port %d", where, pr.name, g.Port.String(), adminPort)
		}
		if g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s: %s: scheme %s; the admin listener speaks HTTP", where, pr.name, g.Scheme)
		}
	}
	grace := 30 * time.Second // the API server's default
	if p.spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*p.spec.TerminationGracePeriodSeconds) * time.Second
	}
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		switch h := c.Lifecycle.PreStop; {
		case h.Sleep != nil:
			preStop = time.Duration(h.Sleep.Seconds) * time.Second
		case h.Exec != nil:
			t.Errorf("%s: preStop exec %q: the image is FROM scratch, there is nothing to exec but capibridge", where, h.Exec.Command)
		}
	}
	if grace <= preStop+cfg.Server.ShutdownTimeout {
		t.Errorf("%s: terminationGracePeriodSeconds %s does not exceed preStop %s + server.shutdown_timeout %s: in-flight requests would be killed",
			where, grace, preStop, cfg.Server.ShutdownTimeout)
	}
}

// kubeCheckSecurity: every container runs as a non-root user with a
// read-only root, no privilege escalation, no capabilities and a seccomp
// profile; no pod gets an API token it does not need.
func kubeCheckSecurity(t *testing.T, r *kubeRender) {
	for _, p := range r.pods() {
		psc := p.spec.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		if p.spec.HostNetwork || p.spec.HostPID || p.spec.HostIPC {
			t.Errorf("%s: shares a host namespace", p.owner)
		}
		if !kubeNoToken(r, p) {
			t.Errorf("%s: mounts a service account token (set automountServiceAccountToken: false)", p.owner)
		}
		for _, c := range slices.Concat(p.spec.InitContainers, p.spec.Containers) {
			where := p.owner + ", container " + c.Name
			sc := c.SecurityContext
			if sc == nil {
				t.Errorf("%s: no securityContext", where)
				continue
			}
			nonRoot := kubeFirst(sc.RunAsNonRoot, psc.RunAsNonRoot)
			uid := kubeFirst(sc.RunAsUser, psc.RunAsUser)
			if nonRoot == nil || !*nonRoot {
				t.Errorf("%s: runAsNonRoot is not true", where)
			}
			if uid == nil || *uid == 0 {
				t.Errorf("%s: runAsUser is not a non-zero uid", where)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem is not true", where)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", where)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s: privileged", where)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s: capabilities do not drop ALL", where)
			} else if len(sc.Capabilities.Add) > 0 {
				t.Errorf("%s: adds capabilities %v", where, sc.Capabilities.Add)
			}
			seccomp := kubeFirst(sc.SeccompProfile, psc.SeccompProfile)
			if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
				t.Errorf("%s: no RuntimeDefault or Localhost seccomp profile", where)
			}
		}
	}
}

func kubeNoToken(r *kubeRender, p kubePod) bool {
	if p.spec.AutomountServiceAccountToken != nil {
		return !*p.spec.AutomountServiceAccountToken
	}
	name := p.spec.ServiceAccountName
	if name == "" {
		name = "default"
	}
	for _, sa := range r.serviceAccounts {
		if sa.Namespace == p.namespace && sa.Name == name {
			return sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken
		}
	}
	return false
}

// kubeFirst is the container's setting, else the pod's.
func kubeFirst[T any](container, pod *T) *T {
	if container != nil {
		return container
	}
	return pod
}

// kubeCheckResources: every container has CPU and memory requests and
// limits, requests within limits.
func kubeCheckResources(t *testing.T, r *kubeRender) {
	for _, p := range r.pods() {
		for _, c := range slices.Concat(p.spec.InitContainers, p.spec.Containers) {
			where := p.owner + ", container " + c.Name
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, okReq := c.Resources.Requests[res]
				lim, okLim := c.Resources.Limits[res]
				if !okReq || !okLim {
					t.Errorf("%s: %s: want both a request and a limit", where, res)
					continue
				}
				if req.Sign() <= 0 || req.Cmp(lim) > 0 {
					t.Errorf("%s: %s: request %s, limit %s", where, res, req.String(), lim.String())
				}
			}
		}
	}
}

// gateways are the Deployments whose pods run capibridge serve.
func (r *kubeRender) gateways(t *testing.T) []*appsv1.Deployment {
	var ds []*appsv1.Deployment
	for _, d := range r.deployments {
		for i := range d.Spec.Template.Spec.Containers {
			c := &d.Spec.Template.Spec.Containers[i]
			if inv, err := kubeParseArgs(t, c.Command, c.Args); kubeIsCapibridge(c) && err == nil && inv.sub == "serve" {
				ds = append(ds, d)
				break
			}
		}
	}
	return ds
}

func kubeSelects(sel *metav1.LabelSelector, set map[string]string) bool {
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !s.Empty() && s.Matches(labels.Set(set))
}

// kubeCheckAvailability: every gateway Deployment runs two or more pods, and
// has a PodDisruptionBudget that lets a drain proceed and a CPU autoscaler.
func kubeCheckAvailability(t *testing.T, r *kubeRender) {
	for _, d := range r.deployments {
		if !kubeSelects(d.Spec.Selector, d.Spec.Template.Labels) {
			t.Errorf("Deployment/%s: its selector does not match its pods' labels", d.Name)
		}
	}
	for _, d := range r.gateways(t) {
		where := "Deployment/" + d.Name
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		if replicas < 2 {
			t.Errorf("%s: %d replicas; want 2 or more", where, replicas)
		}
		var hpa *autoscalingv2.HorizontalPodAutoscaler
		for _, h := range r.hpas {
			ref := h.Spec.ScaleTargetRef
			if h.Namespace == d.Namespace && ref.APIVersion == "apps/v1" && ref.Kind == "Deployment" && ref.Name == d.Name {
				if hpa != nil {
					t.Errorf("%s: two autoscalers, %s and %s", where, hpa.Name, h.Name)
				}
				hpa = h
			}
		}
		least := replicas
		if hpa == nil {
			t.Errorf("%s: no HorizontalPodAutoscaler targets it", where)
		} else {
			if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
				t.Errorf("%s: autoscaler %s: min %v, max %d", where, hpa.Name, hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
			} else {
				least = min(least, *hpa.Spec.MinReplicas)
			}
			cpu := false
			for _, m := range hpa.Spec.Metrics {
				if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU {
					cpu = true
				}
			}
			if !cpu {
				t.Errorf("%s: autoscaler %s: no CPU metric", where, hpa.Name)
			}
		}
		var pdb *policyv1.PodDisruptionBudget
		for _, b := range r.pdbs {
			if b.Namespace == d.Namespace && kubeSelects(b.Spec.Selector, d.Spec.Template.Labels) {
				pdb = b
			}
		}
		switch {
		case pdb == nil:
			t.Errorf("%s: no PodDisruptionBudget selects its pods", where)
		case pdb.Spec.MinAvailable != nil:
			if pdb.Spec.MinAvailable.Type != intstr.Int || pdb.Spec.MinAvailable.IntVal < 1 || pdb.Spec.MinAvailable.IntVal >= least {
				t.Errorf("%s: PodDisruptionBudget %s: minAvailable %s; want 1 or more and below the %d pods it may run with, or no node drains",
					where, pdb.Name, pdb.Spec.MinAvailable.String(), least)
			}
		case pdb.Spec.MaxUnavailable != nil:
			if pdb.Spec.MaxUnavailable.Type == intstr.Int && pdb.Spec.MaxUnavailable.IntVal < 1 {
				t.Errorf("%s: PodDisruptionBudget %s: maxUnavailable 0 blocks every drain", where, pdb.Name)
			}
		default:
			t.Errorf("%s: PodDisruptionBudget %s: neither minAvailable nor maxUnavailable", where, pdb.Name)
		}
	}
}

// backing returns the pods a Service selects, with the container that
// serves port.
func (r *kubeRender) backing(svc *corev1.Service, port corev1.ServicePort) (kubePod, *corev1.Container, int32, bool) {
	for _, p := range r.pods() {
		if p.namespace != svc.Namespace || len(svc.Spec.Selector) == 0 ||
			!labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(p.labels)) {
			continue
		}
		target := port.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(port.Port)
		}
		for i := range p.spec.Containers {
			c := &p.spec.Containers[i]
			if n, ok := kubeContainerPort(c, target); ok {
				return p, c, n, true
			}
		}
	}
	return kubePod{}, nil, 0, false
}

// kubeCheckServices: every Service port reaches a container port of the pods
// it selects, and the gateway's Service serves its http and admin ports.
func kubeCheckServices(t *testing.T, r *kubeRender) {
	for _, s := range r.services {
		for _, sp := range s.Spec.Ports {
			if _, _, _, ok := r.backing(s, sp); !ok {
				t.Errorf("Service/%s: port %s (%d → %s) reaches no container port of the pods it selects", s.Name, sp.Name, sp.Port, sp.TargetPort.String())
			}
		}
	}
	for _, d := range r.gateways(t) {
		for _, name := range []string{"http", "admin"} {
			found := false
			for _, s := range r.services {
				for _, sp := range s.Spec.Ports {
					if p, c, _, ok := r.backing(s, sp); ok && p.owner == "Deployment/"+d.Name && slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool {
						return cp.Name == name && (sp.TargetPort.StrVal == name || sp.TargetPort.IntVal == cp.ContainerPort)
					}) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("Deployment/%s: no Service reaches its %s port", d.Name, name)
			}
		}
	}
}

// kubeCheckReferences: the Secrets, ConfigMaps and ServiceAccounts the pods
// name are in the render (kustomize renames generated ones with a hash).
func kubeCheckReferences(t *testing.T, r *kubeRender) {
	for _, p := range r.pods() {
		if sa := p.spec.ServiceAccountName; sa != "" && !slices.ContainsFunc(r.serviceAccounts, func(o *corev1.ServiceAccount) bool {
			return o.Namespace == p.namespace && o.Name == sa
		}) {
			t.Errorf("%s: no ServiceAccount %s in the render", p.owner, sa)
		}
		for _, c := range slices.Concat(p.spec.InitContainers, p.spec.Containers) {
			if _, err := r.environ(p.namespace, &c); err != nil {
				t.Errorf("%s, container %s: %v", p.owner, c.Name, err)
			}
		}
		for _, v := range p.spec.Volumes {
			switch {
			case v.ConfigMap != nil:
				if r.configMap(p.namespace, v.ConfigMap.Name) == nil {
					t.Errorf("%s: volume %s: no ConfigMap %s in the render", p.owner, v.Name, v.ConfigMap.Name)
				}
			case v.Secret != nil:
				if !slices.ContainsFunc(r.secrets, func(s *corev1.Secret) bool { return s.Namespace == p.namespace && s.Name == v.Secret.SecretName }) {
					t.Errorf("%s: volume %s: no Secret %s in the render", p.owner, v.Name, v.Secret.SecretName)
				}
			}
		}
	}
}

// kubeLabels are on every object, so that `kubectl get -l` finds them all.
var kubeLabels = []string{"app.kubernetes.io/name", "app.kubernetes.io/part-of"}

func kubeCheckLabels(t *testing.T, r *kubeRender) {
	metas := map[string]metav1.ObjectMeta{}
	add := func(kind string, m metav1.ObjectMeta) { metas[kind+"/"+m.Name] = m }
	for _, o := range r.namespaces {
		add("Namespace", o.ObjectMeta)
	}
	for _, o := range r.serviceAccounts {
		add("ServiceAccount", o.ObjectMeta)
	}
	for _, o := range r.configMaps {
		add("ConfigMap", o.ObjectMeta)
	}
	for _, o := range r.secrets {
		add("Secret", o.ObjectMeta)
	}
	for _, o := range r.services {
		add("Service", o.ObjectMeta)
	}
	for _, o := range r.deployments {
		add("Deployment", o.ObjectMeta)
		add("Deployment pods", metav1.ObjectMeta{Name: o.Name, Labels: o.Spec.Template.Labels})
	}
	for _, o := range r.hpas {
		add("HorizontalPodAutoscaler", o.ObjectMeta)
	}
	for _, o := range r.pdbs {
		add("PodDisruptionBudget", o.ObjectMeta)
	}
	for _, o := range r.netpols {
		add("NetworkPolicy", o.ObjectMeta)
	}
	for _, o := range r.serviceMonitors {
		add("ServiceMonitor", o.Metadata)
	}
	for _, o := range r.prometheusRules {
		add("PrometheusRule", o.Metadata)
	}
	for id, m := range metas {
		for _, l := range kubeLabels {
			if m.Labels[l] == "" {
				t.Errorf("%s: no label %s", id, l)
			}
		}
	}
}

// kubeEndpoint is one side of a connection, for the NetworkPolicy checks: a
// pod of the render, or a pod elsewhere in the cluster, or an address
// outside it.
type kubeEndpoint struct {
	external  bool
	namespace string
	nsLabels  map[string]string
	labels    map[string]string
	container *corev1.Container // resolves named ports of a destination
}

func kubeInPod(p kubePod, c *corev1.Container) kubeEndpoint {
	return kubeEndpoint{namespace: p.namespace, labels: p.labels, container: c}
}

func (e kubeEndpoint) namespaceLabels() labels.Set {
	set := labels.Set{"kubernetes.io/metadata.name": e.namespace}
	for k, v := range e.nsLabels {
		set[k] = v
	}
	return set
}

func kubePeerMatches(policyNS string, peers []networkingv1.NetworkPolicyPeer, e kubeEndpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if peer.IPBlock != nil {
			if e.external {
				return true
			}
			continue
		}
		if e.external {
			continue
		}
		nsOK := e.namespace == policyNS
		if peer.NamespaceSelector != nil {
			s, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
			nsOK = err == nil && s.Matches(e.namespaceLabels())
		}
		podOK := true
		if peer.PodSelector != nil {
			s, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
			podOK = err == nil && s.Matches(labels.Set(e.labels))
		}
		if nsOK && podOK {
			return true
		}
	}
	return false
}

func kubePortMatches(ports []networkingv1.NetworkPolicyPort, dst kubeEndpoint, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.Int:
			end := p.Port.IntVal
			if p.EndPort != nil {
				end = *p.EndPort
			}
			if port >= p.Port.IntVal && port <= end {
				return true
			}
		case dst.container != nil:
			if n, ok := kubeNamedPort(dst.container, p.Port.StrVal); ok && n == port {
				return true
			}
		}
	}
	return false
}

// allowed reports whether the NetworkPolicies of the render let src open
// a connection to dst's port: egress at src, and ingress at dst.
func (r *kubeRender) allowed(src, dst kubeEndpoint, port int32, proto corev1.Protocol) bool {
	side := func(at kubeEndpoint, typ networkingv1.PolicyType, rules func(*networkingv1.NetworkPolicy) [][2]any, other kubeEndpoint) bool {
		if at.external {
			return true
		}
		isolated := false
		for _, np := range r.netpols {
			if np.Namespace != at.namespace || !slices.Contains(np.Spec.PolicyTypes, typ) {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err != nil || !sel.Matches(labels.Set(at.labels)) {
				continue
			}
			isolated = true
			for _, rule := range rules(np) {
				peers, ports := rule[0].([]networkingv1.NetworkPolicyPeer), rule[1].([]networkingv1.NetworkPolicyPort)
				if kubePeerMatches(np.Namespace, peers, other) && kubePortMatches(ports, dst, port, proto) {
					return true
				}
			}
		}
		return !isolated
	}
	egress := func(np *networkingv1.NetworkPolicy) (rs [][2]any) {
		for _, e := range np.Spec.Egress {
			rs = append(rs, [2]any{e.To, e.Ports})
		}
		return rs
	}
	ingress := func(np *networkingv1.NetworkPolicy) (rs [][2]any) {
		for _, i := range np.Spec.Ingress {
			rs = append(rs, [2]any{i.From, i.Ports})
		}
		return rs
	}
	return side(src, networkingv1.PolicyTypeEgress, egress, dst) && side(dst, networkingv1.PolicyTypeIngress, ingress, src)
}

// service finds the rendered Service a host name resolves to from ns.
func (r *kubeRender) service(host, ns string) *corev1.Service {
	for _, s := range r.services {
		for _, name := range []string{s.Name + "." + s.Namespace, s.Name + "." + s.Namespace + ".svc", s.Name + "." + s.Namespace + ".svc.cluster.local"} {
			if host == name {
				return s
			}
		}
		if host == s.Name && s.Namespace == ns {
			return s
		}
	}
	return nil
}

// kubeCheckNetwork: the NetworkPolicies let clients reach the gateway's API,
// only monitoring reach its admin port, and the gateway reach everything its
// config names.
func kubeCheckNetwork(t *testing.T, r *kubeRender) {
	for _, d := range r.gateways(t) {
		if !slices.ContainsFunc(r.netpols, func(np *networkingv1.NetworkPolicy) bool {
			return np.Namespace == d.Namespace && kubeSelects(&np.Spec.PodSelector, d.Spec.Template.Labels) &&
				slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) && slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}) {
			t.Errorf("Deployment/%s: no NetworkPolicy isolates its pods for ingress and egress", d.Name)
		}
	}
	client := kubeEndpoint{namespace: "ingress-nginx", labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}
	prometheus := kubeEndpoint{namespace: "monitoring", labels: map[string]string{"app.kubernetes.io/name": "prometheus"}}
	adminNS := kubeEndpoint{namespace: "operators", nsLabels: map[string]string{"capibridge.io/admin-access": "true"}, labels: map[string]string{"app": "shell"}}
	for _, p := range r.pods() {
		stranger := kubeEndpoint{namespace: p.namespace, labels: map[string]string{"app": "stranger"}}
		for i := range p.spec.Containers {
			c := &p.spec.Containers[i]
			inv, err := kubeParseArgs(t, c.Command, c.Args)
			gateway := kubeIsCapibridge(c) && err == nil && inv.sub == "serve"
			dst := kubeInPod(p, c)
			// Every declared port is reachable by someone: the gateway's
			// pods, a client, or Prometheus.
			for _, cp := range c.Ports {
				proto := cp.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				reachable := false
				for _, src := range []kubeEndpoint{client, prometheus, adminNS, stranger, r.gatewayEndpoint(t)} {
					if r.allowed(src, dst, cp.ContainerPort, proto) {
						reachable = true
					}
				}
				if !reachable {
					t.Errorf("%s, container %s: port %s (%d) is reachable by no one", p.owner, c.Name, cp.Name, cp.ContainerPort)
				}
			}
			if !gateway {
				continue
			}
			where := p.owner + ", container " + c.Name
			if port, ok := kubeNamedPort(c, "http"); ok && !r.allowed(client, dst, port, corev1.ProtocolTCP) {
				t.Errorf("%s: clients in another namespace cannot reach the http port", where)
			}
			if port, ok := kubeNamedPort(c, "admin"); ok {
				for _, src := range []kubeEndpoint{prometheus, adminNS} {
					if !r.allowed(src, dst, port, corev1.ProtocolTCP) {
						t.Errorf("%s: %s/%v cannot reach the admin port", where, src.namespace, src.labels)
					}
				}
				for _, src := range []kubeEndpoint{client, stranger} {
					if r.allowed(src, dst, port, corev1.ProtocolTCP) {
						t.Errorf("%s: %s/%v may reach the admin port (metrics, pprof, the usage report)", where, src.namespace, src.labels)
					}
				}
			}
			cfg, err := r.config(t, p, c, inv, environ(imageEnv(t)))
			if err != nil {
				continue // kubeCheckGateway says why
			}
			src := kubeInPod(p, c)
			dns := kubeEndpoint{namespace: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"}}
			if !r.allowed(src, dns, 53, corev1.ProtocolUDP) {
				t.Errorf("%s: cannot resolve names (UDP 53 to kube-dns)", where)
			}
			for _, target := range kubeTargets(t, cfg) {
				host, port := kubePort(t, target)
				dst := kubeEndpoint{external: true}
				if svc := r.service(host, p.namespace); svc != nil {
					i := slices.IndexFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Port == port })
					if i < 0 {
						t.Errorf("%s: %s: Service %s has no port %d", where, target, svc.Name, port)
						continue
					}
					// Policies see the pod's port, after the Service's DNAT.
					bp, bc, n, ok := r.backing(svc, svc.Spec.Ports[i])
					if !ok {
						continue // kubeCheckServices says why
					}
					dst, port = kubeInPod(bp, bc), n
				}
				if !r.allowed(src, dst, port, corev1.ProtocolTCP) {
					t.Errorf("%s: the NetworkPolicies do not let it reach %s (port %d)", where, target, port)
				}
			}
		}
	}
}

// gatewayEndpoint is a pod of the first gateway, as a source.
func (r *kubeRender) gatewayEndpoint(t *testing.T) kubeEndpoint {
	for _, d := range r.gateways(t) {
		return kubeEndpoint{namespace: d.Namespace, labels: d.Spec.Template.Labels}
	}
	return kubeEndpoint{external: true}
}

// kubeTargets are the host:port addresses a gateway with cfg connects to,
// each once.
func kubeTargets(t *testing.T, cfg configs.Config) []string {
	t.Helper()
	var out []string
	for _, raw := range []string{cfg.Upstream, cfg.UAAPassthrough, cfg.LogCachePassthrough, cfg.RoutingPassthrough,
		cfg.Auth.TokenKeysURL, cfg.Background.TokenURL} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		out = append(out, net.JoinHostPort(u.Hostname(), port))
	}
	redis, err := cfg.Cache.RedisTarget()
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, redis.Addrs...)
	slices.Sort(out)
	return slices.Compact(out)
}

// kubeCheckMonitoring: a ServiceMonitor scrapes the gateway's /metrics under
// a job the alert rules select.
func kubeCheckMonitoring(t *testing.T, r *kubeRender) {
	for _, sm := range r.serviceMonitors {
		where := "ServiceMonitor/" + sm.Metadata.Name
		if sm.Spec.NamespaceSelector != nil {
			t.Errorf("%s: namespaceSelector: the check assumes the ServiceMonitor's own namespace", where)
		}
		var svc *corev1.Service
		for _, s := range r.services {
			if s.Namespace == sm.Metadata.Namespace && kubeSelects(&sm.Spec.Selector, s.Labels) {
				if svc != nil {
					t.Errorf("%s: selects two Services, %s and %s", where, svc.Name, s.Name)
				}
				svc = s
			}
		}
		if svc == nil {
			t.Errorf("%s: selects no Service", where)
			continue
		}
		job := svc.Name
		if sm.Spec.JobLabel != "" {
			job = svc.Labels[sm.Spec.JobLabel]
		}
		if !strings.HasPrefix(job, "capibridge") {
			t.Errorf("%s: job %q; the alert rules select job=~\"capibridge.*\"", where, job)
		}
		if len(sm.Spec.Endpoints) == 0 {
			t.Errorf("%s: no endpoints", where)
		}
		for _, ep := range sm.Spec.Endpoints {
			i := slices.IndexFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == ep.Port })
			if i < 0 {
				t.Errorf("%s: Service %s has no port named %q", where, svc.Name, ep.Port)
				continue
			}
			if _, c, n, ok := r.backing(svc, svc.Spec.Ports[i]); !ok {
				t.Errorf("%s: port %s reaches no container", where, ep.Port)
			} else if admin, isAdmin := kubeNamedPort(c, "admin"); !isAdmin || admin != n {
				t.Errorf("%s: port %s does not reach the gateway's admin port", where, ep.Port)
			}
			if ep.Path != "/metrics" || (ep.Scheme != "" && ep.Scheme != "http") {
				t.Errorf("%s: scrapes %s %s; the admin listener serves http /metrics", where, ep.Scheme, ep.Path)
			}
		}
	}
	if strings.Contains(r.dir, "production") && (len(r.serviceMonitors) == 0 || len(r.prometheusRules) == 0) {
		t.Error("production has no ServiceMonitor or no PrometheusRule")
	}
}

// kubeRuleYAML wraps alerts.yaml's groups in a PrometheusRule. The comments
// of alerts.yaml's rules are kept; its header is about rule_files and goes.
func kubeRuleYAML(alerts []byte) []byte {
	lines := strings.Split(string(alerts), "\n")
	for len(lines) > 0 && (strings.HasPrefix(lines[0], "#") || strings.TrimSpace(lines[0]) == "") {
		lines = lines[1:]
	}
	var b bytes.Buffer
	b.WriteString(`# Generated from deploy/prometheus/alerts.yaml: do not edit. In deploy/, run
#   go test -run TestKubernetesPrometheusRule -update-rules
# to write it again; go test fails while the two differ.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: capibridge
  labels:
    app.kubernetes.io/name: capibridge
    app.kubernetes.io/component: gateway
    app.kubernetes.io/part-of: capibridge
spec:
`)
	for _, l := range lines {
		if l != "" {
			b.WriteString("  " + l)
		}
		b.WriteString("\n")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// TestKubernetesPrometheusRule keeps the PrometheusRule's groups equal to
// alerts.yaml's, so that the copy kustomize needs cannot drift.
func TestKubernetesPrometheusRule(t *testing.T) {
	alerts, err := os.ReadFile(kubeAlertsFile)
	if err != nil {
		t.Fatal(err)
	}
	if *kubeUpdateRules {
		if err := os.WriteFile(kubeRuleFile, append(kubeRuleYAML(alerts), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ruleYAML, err := os.ReadFile(kubeRuleFile)
	if err != nil {
		t.Fatal(err)
	}
	ruleJSON, err := sigsyaml.YAMLToJSON(ruleYAML)
	if err != nil {
		t.Fatalf("%s: %v", kubeRuleFile, err)
	}
	var pr kubePrometheusRule
	if err := kubeDecodeStrict(ruleJSON, &pr); err != nil {
		t.Fatalf("%s: %v", kubeRuleFile, err)
	}
	alertsJSON, err := sigsyaml.YAMLToJSON(alerts)
	if err != nil {
		t.Fatalf("%s: %v", kubeAlertsFile, err)
	}
	var want struct {
		Groups []any `json:"groups"`
	}
	if err := kubeDecodeStrict(alertsJSON, &want); err != nil {
		t.Fatalf("%s: %v", kubeAlertsFile, err)
	}
	var got struct {
		Spec struct {
			Groups []any `json:"groups"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(ruleJSON, &got); err != nil {
		t.Fatal(err)
	}
	if len(want.Groups) == 0 {
		t.Fatalf("%s: no groups", kubeAlertsFile)
	}
	if !reflect.DeepEqual(got.Spec.Groups, want.Groups) {
		t.Errorf("%s differs from %s at\n%s\nrun go test -run TestKubernetesPrometheusRule -update-rules",
			kubeRuleFile, kubeAlertsFile, kubeFirstDiff(got.Spec.Groups, want.Groups))
	}
	if pr.Metadata.Name == "" {
		t.Errorf("%s: no name", kubeRuleFile)
	}
}

// kubeFirstDiff shows where two JSON values first differ.
func kubeFirstDiff(got, want any) string {
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var a, b string
		if i < len(gl) {
			a = gl[i]
		}
		if i < len(wl) {
			b = wl[i]
		}
		if a != b {
			return fmt.Sprintf("line %d of the groups as JSON:\n  PrometheusRule: %s\n  alerts.yaml:    %s", i+1, strings.TrimSpace(a), strings.TrimSpace(b))
		}
	}
	return "(no line differs)"
}

// TestKubernetesKubectl builds every kustomization with the kustomize that
// kubectl embeds too, which users run (`kubectl apply -k`), and compares the
// objects with the Go build's.
func TestKubernetesKubectl(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not on PATH")
	}
	for _, dir := range kubeKustomizations(t) {
		t.Run(filepath.ToSlash(strings.TrimPrefix(dir, kubeDir+string(filepath.Separator))), func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			cmd := exec.Command(kubectl, "kustomize", dir)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.Bytes())
			}
			var ids []string
			dec := yaml.NewDecoder(bytes.NewReader(out))
			for {
				var o struct {
					Kind     string `yaml:"kind"`
					Metadata struct {
						Name      string `yaml:"name"`
						Namespace string `yaml:"namespace"`
					} `yaml:"metadata"`
				}
				if err := dec.Decode(&o); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("kubectl kustomize %s: %v", dir, err)
				}
				ids = append(ids, o.Kind+"/"+o.Metadata.Namespace+"/"+o.Metadata.Name)
			}
			want := slices.Clone(kubeBuild(t, dir).ids)
			sort.Strings(ids)
			sort.Strings(want)
			if len(ids) != len(want) {
				t.Errorf("kubectl kustomize made %d objects, the Go build %d", len(ids), len(want))
			}
			if !slices.Equal(ids, want) {
				t.Errorf("objects differ:\nkubectl: %v\nGo:      %v", ids, want)
			}
		})
	}
}
