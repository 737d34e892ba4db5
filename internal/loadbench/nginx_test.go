package loadbench

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"capibridge/internal/loadgen"
)

// nginxConf serves root's files as a static server would be set up for
// speed: one worker, sendfile, no access log, connections kept as long as
// the client keeps them (the generator's are, against every other server
// here). Every path nginx writes is under the prefix, so it runs as any
// user; as root, its worker stays root to read the test's 0700 temp dir.
const nginxConf = `%sworker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000000;
	keepalive_timeout 75s;
	types {}
	default_type "application/json;charset=utf-8";
	client_body_temp_path %[2]s/tmp/body;
	proxy_temp_path %[2]s/tmp/proxy;
	fastcgi_temp_path %[2]s/tmp/fastcgi;
	uwsgi_temp_path %[2]s/tmp/uwsgi;
	scgi_temp_path %[2]s/tmp/scgi;
	server {
		listen 127.0.0.1:%[3]d;
		root %[2]s/html;
	}
}
`

// startNginx serves body at path from the nginx binary on PATH, in a prefix
// of its own, and returns its base URL and its processes (the master and
// its worker); "", nil and why when there is no nginx or it would not
// start. It is stopped at cleanup.
func startNginx(t *testing.T, path string, body []byte) (string, []int, string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return "", nil, "no nginx on PATH"
	}
	prefix := t.TempDir()
	file := filepath.Join(prefix, "html", filepath.FromSlash(path))
	for _, dir := range []string{filepath.Dir(file), filepath.Join(prefix, "tmp")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n"
	}
	conf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, user, prefix, port), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	// -e: before it reads the configuration, nginx opens its built-in
	// error log (/var/log/nginx), which another user cannot write.
	cmd := exec.Command(bin, "-p", prefix, "-c", conf, "-e", filepath.Join(prefix, "error.log"))
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err.Error()
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// TERM is nginx's fast shutdown; its worker goes with the master.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			return "", nil, fmt.Sprintf("nginx exited: %s %s", strings.TrimSpace(stderr.String()), strings.TrimSpace(string(log)))
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return "http://" + addr, append([]int{cmd.Process.Pid}, loadgen.Children(cmd.Process.Pid)...), ""
		}
	}
	return "", nil, "nginx did not listen within 10 s"
}

// freePort is a loopback port nothing listened on a moment ago, for
// servers that cannot be told to take any (nginx).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
