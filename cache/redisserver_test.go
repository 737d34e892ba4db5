package cache

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisClient returns a client of the cache for the Redis at addr,
// closed at cleanup.
func redisClient(tb testing.TB, addr string) redis.UniversalClient {
	c := NewRedisClient(redis.UniversalOptions{Addrs: []string{addr}}, 0)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// tcpProxy stands between a cache and its Redis to fake network trouble
// while Redis keeps its data: cut refuses connections (and drops the open
// ones), blackhole keeps them open but forwards nothing, as a hung Redis or
// a dropped route does.
type tcpProxy struct {
	tb     testing.TB
	target string
	addr   string

	blackholed atomic.Bool
	mu         sync.Mutex
	l          net.Listener
	conns      map[net.Conn]struct{}
}

func newTCPProxy(tb testing.TB, target string) *tcpProxy {
	tb.Helper()
	p := &tcpProxy{tb: tb, target: target, conns: map[net.Conn]struct{}{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.addr = l.Addr().String()
	p.serve(l)
	tb.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tcpProxy) pipe(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c) || !p.track(u) {
		c.Close()
		u.Close()
		return
	}
	copyHalf := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !p.blackholed.Load() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go copyHalf(u, c)
	copyHalf(c, u)
}

// cut closes the listener and every connection.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// restore listens again on the same address.
func (p *tcpProxy) restore() {
	p.tb.Helper()
	var l net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for l, err = net.Listen("tcp", p.addr); err != nil; l, err = net.Listen("tcp", p.addr) {
		if time.Now().After(deadline) {
			p.tb.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.serve(l)
}

// blackhole stops (or resumes) forwarding on every connection.
func (p *tcpProxy) blackhole(on bool) { p.blackholed.Store(on) }

func (p *tcpProxy) client(tb testing.TB) redis.UniversalClient {
	c := NewRedisClient(redis.UniversalOptions{Addrs: []string{p.addr}}, 0)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
