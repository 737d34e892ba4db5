package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The manifests name capibridge subcommands and flags; the tests check
// them against the binary itself, built once for the package.
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// capibridge returns the path of a capibridge binary built from ../.
func capibridge(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "capibridge-deploy-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "capibridge")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/capibridge")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = &buildError{err, string(out)}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "building capibridge: " + e.err.Error() + "\n" + e.out }

var (
	flagsMu    sync.Mutex
	flagsCache = map[string]map[string]bool{}
	flagLine   = regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`)
)

// subcommandFlags are the flags capibridge's subcommand sub accepts, as
// its -h prints them; nil when sub is no subcommand.
func subcommandFlags(t *testing.T, sub string) map[string]bool {
	t.Helper()
	flagsMu.Lock()
	defer flagsMu.Unlock()
	if f, ok := flagsCache[sub]; ok {
		return f
	}
	// "uaa rotate-key" is two words.
	out, _ := exec.Command(capibridge(t), append(strings.Fields(sub), "-h")...).CombinedOutput()
	var flags map[string]bool
	if !strings.Contains(string(out), "unknown command") {
		flags = map[string]bool{}
		for _, m := range flagLine.FindAllStringSubmatch(string(out), -1) {
			flags[m[1]] = true
		}
	}
	flagsCache[sub] = flags
	return flags
}

// checkCommand fails t unless args is a capibridge subcommand with flags
// it accepts ("--name value", "--name=value", "-name").
func checkCommand(t *testing.T, where string, args []string) {
	t.Helper()
	for _, p := range commandProblems(t, args) {
		t.Errorf("%s: %s", where, p)
	}
}

func commandProblems(t *testing.T, args []string) []string {
	t.Helper()
	if len(args) == 0 {
		return []string{"no subcommand (the image's default is serve; name it)"}
	}
	if _, err := kubeParseArgs(t, nil, args); err != nil {
		return []string{err.Error()}
	}
	return nil
}

// TestCheckCommand: the check knows real flags from made-up ones.
func TestCheckCommand(t *testing.T) {
	if f := subcommandFlags(t, "serve"); !f["upstream"] || !f["redis"] || f["nonsense"] {
		t.Fatalf("serve's flags: %v", f)
	}
	if p := commandProblems(t, []string{"nonsense"}); len(p) != 1 {
		t.Errorf("nonsense is taken for a subcommand: %q", p)
	}
	if p := commandProblems(t, []string{"serve", "--upstrem", "x"}); len(p) != 1 {
		t.Errorf("a misspelt flag: %q", p)
	}
	if p := commandProblems(t, []string{"backend", "--listen=:9022", "-data", "/data"}); len(p) != 0 {
		t.Errorf("backend's real flags: %q", p)
	}
}
