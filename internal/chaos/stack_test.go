package chaos

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"capibridge/backend/store"
	"capibridge/internal/loadgen"
	"capibridge/internal/redistest"
)

// The seeded foundation of the embedded Cloud Foundry (backend/seed.go).
const (
	demoOrg   = "0d0e0000-0000-4000-8000-000000000001"
	demoSpace = "5ace0000-0000-4000-8000-000000000001"
	demoQuota = "900a0000-0000-4000-8000-000000000001"
	auditorID = "05e40000-0000-4000-8000-000000000003"
)

// The second space the suite adds before the Cloud Controller starts: the
// auditor is a developer there, the developer has no role in it.
const (
	otherOrg   = "0d0e0000-0000-4000-8000-00000000c4a0"
	otherSpace = "5ace0000-0000-4000-8000-00000000c4a0"
)

// proc is a child process: the gateway, the Cloud Controller or a bare
// helper. Its stdout lines are read for the URLs it announces; its stderr
// goes to a file in the run's directory.
type proc struct {
	name  string
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{} // closed when the process has exited
	err   error         // its exit status, once done
}

// start runs bin with args and extra environment; stop or kill ends it,
// and the test's cleanup ends it if nobody did.
func (s *stack) start(name string, env []string, args ...string) *proc {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(os.Environ(), env...)
	// A test binary that dies (a timeout's panic) takes its children with
	// it instead of leaving servers behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.OpenFile(filepath.Join(s.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	logf.Close()
	p := &proc{name: name, cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.t.Cleanup(p.stop)
	return p
}

var urlRE = regexp.MustCompile(`http://[0-9.:]+`)

// urls returns the URLs of the first line the process prints that has
// any, or nil when it exits or stays silent for a minute.
func (p *proc) urls() []string {
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return nil
			}
			if u := urlRE.FindAllString(line, -1); len(u) > 0 {
				return u
			}
		case <-timeout:
			return nil
		}
	}
}

// exited waits up to d for the process to end by itself.
func (p *proc) exited(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// killedBySIGKILL says whether the process ended on SIGKILL.
func (p *proc) killedBySIGKILL() bool {
	select {
	case <-p.done:
	default:
		return false
	}
	ee, ok := p.err.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// stop ends the process with SIGINT (a drain), then SIGKILL after 10 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	if !p.exited(10 * time.Second) {
		p.kill()
	}
}

// kill ends the process with SIGKILL, as a crash, and waits for it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// rss reads the process's resident set size.
func (p *proc) rss() int64 { return loadgen.RSS(p.cmd.Process.Pid) }

// gateway is one `capibridge serve` process.
type gateway struct {
	p          *proc
	url, admin string
	host       string // host:port of url
}

// stack is what every scenario runs against: the embedded Cloud
// Foundry (`capibridge backend`), a Redis, and two gateways sharing it,
// each its own process, all on loopback.
type stack struct {
	t    *testing.T
	bin  string
	dir  string
	data string

	cfPort int
	cfURL  string
	cf     *proc
	redis  *redistest.Server
	a, b   *gateway

	// tokens by name: the four seeded users, the developer and the
	// outsider with a global auditor's token.
	tokens map[string]string
	// apps are the apps the suite seeds, each with a secret environment
	// variable only those who may read its environment see.
	apps []seededApp
	// writeApp is the app the load scenarios update.
	writeApp string

	client *fasthttp.Client

	mu sync.Mutex
	// last is when the suite last wrote to the Cloud Controller.
	last time.Time
}

// wrote notes a write to the Cloud Controller, through a gateway or not.
func (s *stack) wrote() {
	s.mu.Lock()
	s.last = time.Now()
	s.mu.Unlock()
}

// lastWrite is when the suite last wrote.
func (s *stack) lastWrite() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

type seededApp struct {
	guid, name, space, secret string
}

// Users whose tokens the suite mints. The global auditor tokens carry only
// cloud_controller.read and cloud_controller.global_auditor.
var users = []struct {
	name, user, scopes string
}{
	{"admin", "admin", ""},
	{"developer", "developer", ""},
	{"auditor", "auditor", ""},
	{"outsider", "outsider", ""},
	{"developer+global_auditor", "developer", "cloud_controller.read,cloud_controller.global_auditor"},
	{"outsider+global_auditor", "outsider", "cloud_controller.read,cloud_controller.global_auditor"},
}

// backendEnv makes the simulated staging and start-up short, so that the
// kill scenarios see their starts finish soon.
var backendEnv = []string{"CAPIBRIDGE_BACKEND_STAGING_DURATION=200ms", "CAPIBRIDGE_BACKEND_STARTUP_DURATION=200ms"}

func newStack(t *testing.T) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{t: t, dir: dir, bin: filepath.Join(dir, "capibridge"), data: filepath.Join(dir, "data"), tokens: map[string]string{},
		client: &fasthttp.Client{ReadTimeout: time.Minute, WriteTimeout: time.Minute, MaxResponseBodySize: 64 << 20,
			DisablePathNormalizing: true, MaxConnsPerHost: 512, ReadBufferSize: 16 << 10}}
	build := exec.Command("go", "build", "-o", s.bin, "../../cmd/capibridge")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// `capibridge token` seeds the data dir; the second space is added
	// before the Cloud Controller opens it.
	for _, u := range users {
		args := []string{"token", "--data", s.data, "--user", u.user}
		if u.scopes != "" {
			args = append(args, "--scopes", u.scopes)
		}
		out, err := exec.Command(s.bin, args...).Output()
		if err != nil {
			t.Fatalf("capibridge token %s: %v", u.name, err)
		}
		s.tokens[u.name] = strings.TrimSpace(string(out))
	}
	s.addOtherSpace()
	s.cfPort = freePort(t)
	s.cfURL = fmt.Sprintf("http://127.0.0.1:%d", s.cfPort)
	s.startCF()
	s.seedApps()
	s.redis = redistest.Start(t)
	s.a = s.startGateway("gateway-a", nil, "127.0.0.1:0", "--redis", s.redis.Addr())
	s.b = s.startGateway("gateway-b", nil, "127.0.0.1:0", "--redis", s.redis.Addr())
	return s
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// addOtherSpace writes a second organization and space into the data dir,
// where the auditor is a developer and the developer has no role.
func (s *stack) addOtherSpace() {
	ctx := context.Background()
	st, err := store.Open(ctx, s.data, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	now := st.Now()
	steps := []func() error{
		func() error {
			return st.CreateOrg(ctx, store.Org{GUID: otherOrg, Name: "chaos-org", QuotaGUID: demoQuota, CreatedAt: now, UpdatedAt: now})
		},
		func() error {
			return st.CreateSpace(ctx, store.Space{GUID: otherSpace, Name: "chaos-space", OrgGUID: otherOrg, AllowSSH: true, CreatedAt: now, UpdatedAt: now})
		},
		func() error {
			return st.AddRole(ctx, store.Role{GUID: uuid.NewString(), Type: store.RoleOrgUser, UserGUID: auditorID, OrgGUID: otherOrg})
		},
		func() error {
			return st.AddRole(ctx, store.Role{GUID: uuid.NewString(), Type: store.RoleSpaceDeveloper, UserGUID: auditorID, OrgGUID: otherOrg, SpaceGUID: otherSpace})
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			s.t.Fatalf("adding the second space: %v", err)
		}
	}
}

// startCF starts the Cloud Controller on its fixed port and waits until it
// answers.
func (s *stack) startCF() {
	s.t.Helper()
	s.cf = s.start("cloud-controller", backendEnv, "backend", "--listen", fmt.Sprintf("127.0.0.1:%d", s.cfPort), "--data", s.data)
	if s.cf.urls() == nil {
		s.t.Fatal("the Cloud Controller did not start")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, err := s.get(s.cfURL+"/", "")
		if err == nil && code == 200 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the Cloud Controller does not answer: %d %v", code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startGateway starts `capibridge serve` in front of the Cloud Controller
// on listen, with extra environment and flags.
func (s *stack) startGateway(name string, env []string, listen string, flags ...string) *gateway {
	s.t.Helper()
	g, err := s.tryGateway(name, env, listen, flags...)
	if err != nil {
		s.t.Fatal(err)
	}
	return g
}

func (s *stack) tryGateway(name string, env []string, listen string, flags ...string) (*gateway, error) {
	args := append([]string{"serve", "--listen", listen, "--admin-listen", "127.0.0.1:0", "--upstream", s.cfURL}, flags...)
	p := s.start(name, env, args...)
	u := p.urls()
	if len(u) < 2 {
		p.kill()
		log, _ := os.ReadFile(filepath.Join(s.dir, name+".log"))
		return nil, fmt.Errorf("%s did not announce its addresses; its log ends:\n%s", name, tail(log, 2000))
	}
	return &gateway{p: p, url: u[0], admin: u[1], host: strings.TrimPrefix(u[0], "http://")}, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// seedApps creates, straight at the Cloud Controller, apps in both spaces,
// each with a secret of its own in its environment.
func (s *stack) seedApps() {
	s.t.Helper()
	for _, space := range []string{demoSpace, otherSpace} {
		for i := range 6 {
			name := fmt.Sprintf("chaos-%s-%d", space[len(space)-4:], i)
			secret := "secret-" + randomHex(12)
			body := fmt.Sprintf(`{"name":%q,"relationships":{"space":{"data":{"guid":%q}}},"environment_variables":{"CHAOS_SECRET":%q}}`, name, space, secret)
			code, resp, err := s.do("POST", s.cfURL+"/v3/apps", s.tokens["admin"], []byte(body), nil)
			if err != nil || code != 201 {
				s.t.Fatalf("seeding %s: %d %v %s", name, code, err, resp)
			}
			s.apps = append(s.apps, seededApp{guid: v3GUID(resp), name: name, space: space, secret: secret})
		}
	}
	code, resp, err := s.do("POST", s.cfURL+"/v3/apps", s.tokens["admin"],
		[]byte(fmt.Sprintf(`{"name":"chaos-writes","relationships":{"space":{"data":{"guid":%q}}}}`, demoSpace)), nil)
	if err != nil || code != 201 {
		s.t.Fatalf("seeding chaos-writes: %d %v %s", code, err, resp)
	}
	s.writeApp = v3GUID(resp)
	s.wrote()
}

// v3GUID is the guid of a v3 resource body.
func v3GUID(body []byte) string {
	var r struct{ GUID string }
	_ = json.Unmarshal(body, &r)
	return r.GUID
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// do sends one request with a bearer token (none when token is "") and
// extra headers, and returns the status and a copy of the body.
func (s *stack) do(method, url, token string, body []byte, headers map[string]string) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(method)
	if token != "" {
		req.Header.Set("Authorization", "bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	if err := s.client.DoTimeout(req, resp, time.Minute); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

func (s *stack) get(url, token string) (int, []byte, error) { return s.do("GET", url, token, nil, nil) }

// cfJSON reads a 200 JSON answer straight from the Cloud Controller, as
// admin, into v.
func (s *stack) cfJSON(path string, v any) error {
	code, body, err := s.get(s.cfURL+path, s.tokens["admin"])
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	return json.Unmarshal(body, v)
}

// table is what the suite tried and what held, one row per scenario.
type table struct {
	mu   sync.Mutex
	rows []row
}

type row struct {
	scenario           string
	attempts, failures int
	figures            string
}

func (tb *table) add(r row) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.rows = append(tb.rows, r)
}

func (tb *table) String() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	w := len("scenario")
	for _, r := range tb.rows {
		w = max(w, len(r.scenario))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %8s  %8s  %-4s  %s\n", w, "scenario", "attempts", "failures", "held", "figures")
	for _, r := range tb.rows {
		held := "yes"
		if r.failures > 0 {
			held = "NO"
		}
		fmt.Fprintf(&b, "%-*s  %8d  %8d  %-4s  %s\n", w, r.scenario, r.attempts, r.failures, held, r.figures)
	}
	return b.String()
}

// tally counts a scenario's attempts and failures, keeping the first few
// distinct failures' details, each with how often it came, for the
// test's log.
type tally struct {
	mu                 sync.Mutex
	attempts, failures int
	details            []string
	times              map[string]int
}

const maxDetails = 24

func (c *tally) ok() {
	c.mu.Lock()
	c.attempts++
	c.mu.Unlock()
}

func (c *tally) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts++
	c.failures++
	d := fmt.Sprintf(format, args...)
	if c.times == nil {
		c.times = map[string]int{}
	}
	if _, seen := c.times[d]; !seen && len(c.details) < maxDetails {
		c.details = append(c.details, d)
	}
	c.times[d]++
}

// check counts one attempt: held when problem is "".
func (c *tally) check(name, problem string) {
	if problem == "" {
		c.ok()
		return
	}
	c.fail("%s: %s", name, problem)
}

// report adds the scenario's row and fails t with the details kept.
func (c *tally) report(t *testing.T, tb *table, scenario, figures string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	tb.add(row{scenario: scenario, attempts: c.attempts, failures: c.failures, figures: figures})
	if c.failures > 0 {
		lines := make([]string, len(c.details))
		for i, d := range c.details {
			lines[i] = d
			if n := c.times[d]; n > 1 {
				lines[i] = fmt.Sprintf("%d× %s", n, d)
			}
		}
		t.Errorf("%s: %d of %d attempts failed:\n  %s", scenario, c.failures, c.attempts, strings.Join(lines, "\n  "))
	}
}

func snippet(b []byte) string {
	const n = 200
	s := string(b)
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strconv.Quote(s)
}
