// Package redistest runs a real redis-server for tests: a child process
// on a free loopback port, without persistence, in a temporary directory,
// killed at cleanup. `make test` installs redis-server when it is missing.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is where Debian's redis-server package puts the server.
const bin = "/usr/bin/redis-server"

// Server is a redis-server child process.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	// args are extra arguments, such as --cluster-enabled yes; conf is a
	// config file given first (a Sentinel's).
	args []string
	conf string
	// password is the requirepass of StartPassword's server.
	password string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start runs a redis-server for tb. Without one installed the test is
// skipped, outside `make test` only: the Makefile installs it first.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartArgs(tb)
}

// StartArgs runs a redis-server with extra arguments.
func StartArgs(tb testing.TB, args ...string) *Server {
	tb.Helper()
	s := newServer(tb)
	s.args = args
	s.start()
	tb.Cleanup(s.Kill)
	return s
}

// StartPassword runs a redis-server that requires password of every
// client (requirepass), with extra arguments.
func StartPassword(tb testing.TB, password string, args ...string) *Server {
	tb.Helper()
	s := newServer(tb)
	s.password = password
	s.args = append([]string{"--requirepass", password}, args...)
	s.start()
	tb.Cleanup(s.Kill)
	return s
}

// StartSentinel runs a Sentinel that monitors the master at masterAddr
// under the name master, with a quorum of one.
func StartSentinel(tb testing.TB, master, masterAddr string) *Server {
	tb.Helper()
	s := newServer(tb)
	host, port, _ := strings.Cut(masterAddr, ":")
	s.conf = filepath.Join(s.dir, "sentinel.conf")
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 1000\n",
		s.port, master, host, port, master)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	s.args = []string{"--sentinel"}
	s.start()
	tb.Cleanup(s.Kill)
	return s
}

func newServer(tb testing.TB) *Server {
	tb.Helper()
	path := bin
	if _, err := os.Stat(path); err != nil {
		p, err := exec.LookPath("redis-server")
		if err != nil {
			tb.Skip("redis-server is not installed (make test installs it)")
		}
		path = p
	}
	return &Server{tb: tb, bin: path, dir: tb.TempDir(), port: freePort(tb)}
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Dir is the server's working directory.
func (s *Server) Dir() string { return s.dir }

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *Server) start() {
	s.tb.Helper()
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer logf.Close()
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--loglevel", "warning")
	cmd := exec.Command(s.bin, append(args, s.args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.tb.Fatal(err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for !s.pings() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.tb.Fatalf("redis-server on %s did not answer PING:\n%s", s.Addr(), log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Server) pings() bool {
	c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	r := bufio.NewReader(c)
	if s.password != "" {
		if _, err := fmt.Fprintf(c, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(s.password), s.password); err != nil {
			return false
		}
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
			return false
		}
	}
	if _, err := fmt.Fprint(c, "PING\r\n"); err != nil {
		return false
	}
	line, err := r.ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Kill stops the server with SIGKILL, as a crash, and waits for it.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Pause stops the server with SIGSTOP, as a Redis that hangs: it keeps
// its data, and the kernel still accepts connections and buffers commands
// for it, but nothing is answered until Resume. Kill ends a paused server
// too.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT); it answers what was
// buffered meanwhile.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.tb.Fatalf("redis-server on %s is not running", s.Addr())
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("signal %v to redis-server: %v", sig, err)
	}
}

// Restart starts the server again on the same port, empty, as a Redis
// without persistence comes back after a crash.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	s.start()
}
