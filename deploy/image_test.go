package deploy_test

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"capibridge/configs"
)

// dockerfile is deploy/Dockerfile read into its instructions, line
// continuations joined.
type dockerfile struct {
	stages [][]instruction
}

type instruction struct{ cmd, args string }

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var d dockerfile
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cur += line
		cmd, args, _ := strings.Cut(cur, " ")
		cur = ""
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			d.stages = append(d.stages, nil)
		}
		if len(d.stages) > 0 {
			d.stages[len(d.stages)-1] = append(d.stages[len(d.stages)-1], in)
		}
	}
	if len(d.stages) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a build stage and a final one", len(d.stages))
	}
	return d
}

func (d dockerfile) find(stage int, cmd string) []string {
	var out []string
	for _, in := range d.stages[stage] {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// TestDockerfile: the final stage is an empty base, runs as a numbered
// user that is not root, health-checks with the binary's own subcommand,
// carries OCI labels, and its environment is configuration capibridge
// accepts.
func TestDockerfile(t *testing.T) {
	d := readDockerfile(t)
	final := len(d.stages) - 1
	if from := d.stages[final][0].args; from != "scratch" && !strings.HasPrefix(from, "gcr.io/distroless/") {
		t.Errorf("final stage FROM %q, want scratch or distroless", from)
	}
	user := d.find(final, "USER")
	if len(user) != 1 {
		t.Fatalf("USER %q", user)
	}
	uid, _, _ := strings.Cut(user[0], ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric user other than root (Kubernetes' runAsNonRoot checks numbers)", user[0])
	}
	var hc []string
	if h := d.find(final, "HEALTHCHECK"); len(h) != 1 || json.Unmarshal([]byte(h[0][strings.Index(h[0], "CMD")+3:]), &hc) != nil ||
		strings.Join(hc, " ") != "/capibridge healthcheck" {
		t.Errorf("HEALTHCHECK %q, want CMD [\"/capibridge\", \"healthcheck\"] (no shell in the image)", h)
	}
	labels := strings.Join(d.find(final, "LABEL"), " ")
	for _, l := range []string{"org.opencontainers.image.title", "org.opencontainers.image.source", "org.opencontainers.image.version"} {
		if !strings.Contains(labels, l+"=") {
			t.Errorf("no %s label", l)
		}
	}
	env := environ(imageEnv(t))
	cfg, err := configs.Load("", env)
	if err != nil {
		t.Fatalf("the image's ENV %q: %v", env, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the image's ENV %q: %v", env, err)
	}
	if host, _, _ := net.SplitHostPort(cfg.AdminListen); host != "" {
		t.Errorf("admin_listen %q in the image: probes and Prometheus cannot reach a loopback-only admin port", cfg.AdminListen)
	}
	if ep := d.find(final, "ENTRYPOINT"); len(ep) != 1 || ep[0] != `["/capibridge"]` {
		t.Errorf("ENTRYPOINT %q", ep)
	}
}

// imageEnv is the final stage's ENV of the Dockerfile, which every
// capibridge container starts with (its own environment comes after it
// and wins).
func imageEnv(t *testing.T) map[string]string {
	t.Helper()
	d := readDockerfile(t)
	env := map[string]string{}
	for _, e := range d.find(len(d.stages)-1, "ENV") {
		for _, kv := range envPair.FindAllStringSubmatch(e, -1) {
			env[kv[1]] = kv[2] + kv[3]
		}
	}
	if len(env) == 0 {
		t.Fatal("the Dockerfile's final stage sets no ENV")
	}
	return env
}

// envPair is one key="value" or key=value of an ENV instruction.
var envPair = regexp.MustCompile(`(\w+)=(?:"([^"]*)"|([^\s"]+))`)

// buildCommand is the build stage's go build, as the Dockerfile runs it.
func buildCommand(t *testing.T, d dockerfile, version, out string) *exec.Cmd {
	t.Helper()
	for _, run := range d.find(0, "RUN") {
		if !strings.Contains(run, "go build") {
			continue
		}
		env := os.Environ()
		fields := regexp.MustCompile(`"[^"]*"|\S+`).FindAllString(strings.ReplaceAll(run, "${VERSION}", version), -1)
		for len(fields) > 0 && strings.Contains(fields[0], "=") {
			env = append(env, fields[0])
			fields = fields[1:]
		}
		for i, f := range fields {
			fields[i] = strings.Trim(f, `"`)
			if fields[i] == "/out/capibridge" {
				fields[i] = out
			}
		}
		if len(fields) < 2 || fields[0] != "go" || fields[1] != "build" {
			t.Fatalf("build RUN %q", run)
		}
		cmd := exec.Command("go", fields[1:]...)
		cmd.Dir, cmd.Env = "..", env
		return cmd
	}
	t.Fatal("the build stage runs no go build")
	return nil
}

// engine is a container engine that answers, or "".
func engine() string {
	for _, e := range []string{"docker", "podman"} {
		if _, err := exec.LookPath(e); err == nil && exec.Command(e, "info").Run() == nil {
			return e
		}
	}
	return ""
}

// TestImage builds the image and runs it where a container engine runs;
// elsewhere it builds the binary the Dockerfile builds, with the same
// command, and checks what the image relies on: static, stripped, under
// 40 MB, the version stamped, and the health check passing against a
// gateway started with the image's environment.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	d := readDockerfile(t)
	if e := engine(); e != "" {
		out, err := exec.Command(e, "build", "-f", "deploy/Dockerfile", "--build-arg", "VERSION=image-test", "-t", "capibridge:image-test", "..").CombinedOutput()
		if err != nil {
			t.Fatalf("%s build: %v\n%s", e, err, out)
		}
		if out, err := exec.Command(e, "run", "--rm", "capibridge:image-test", "version").CombinedOutput(); err != nil || !strings.Contains(string(out), "capibridge image-test") {
			t.Errorf("%s run … version: %v %s", e, err, out)
		}
		return
	}
	t.Log("no container engine answers here: building the Dockerfile's binary with its command instead")
	bin := filepath.Join(t.TempDir(), "capibridge")
	cmd := buildCommand(t, d, "image-test", bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 40<<20 {
		t.Errorf("binary of %d MB: the image would pass 40 MB", st.Size()>>20)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader: it would not start on an empty base")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("the binary is not stripped (-s)")
	}
	f.Close()
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "capibridge image-test ") {
		t.Errorf("version: %v %q", err, out)
	}

	// The gateway as the image starts it (its ENV, the default command),
	// on free ports, then the HEALTHCHECK command beside it.
	gwPort, adminPort := freePort(t), freePort(t)
	env := append(os.Environ(), "CAPIBRIDGE_LISTEN=127.0.0.1:"+gwPort, "CAPIBRIDGE_ADMIN_LISTEN=127.0.0.1:"+adminPort,
		"CAPIBRIDGE_DATA="+t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := exec.CommandContext(ctx, bin, "serve")
	srv.Env = env
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Signal(os.Interrupt); _ = srv.Wait() }()
	check := exec.Command(bin, "healthcheck")
	check.Env = env
	var out []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out, err = check.CombinedOutput(); err == nil {
			break
		}
		check = exec.Command(bin, "healthcheck")
		check.Env = env
	}
	if err != nil || !strings.Contains(string(out), "healthy: http://127.0.0.1:"+adminPort+"/healthz") {
		t.Errorf("the HEALTHCHECK command: %v %s", err, out)
	}
	_ = srv.Process.Signal(os.Interrupt)
	_ = srv.Wait()
	bad := exec.Command(bin, "healthcheck")
	bad.Env = env
	if err := bad.Run(); err == nil {
		t.Error("the HEALTHCHECK command passed with the gateway stopped")
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
