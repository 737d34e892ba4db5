//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package proxy

import (
	"net"
	"syscall"
)

// peek looks, without blocking and without consuming anything, at what
// waits on an idle connection: nothing, the end of the stream (the
// upstream's FIN, or an error such as its RST), or bytes.
func peek(raw net.Conn) peekResult {
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return peekNothing
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return peekNothing
	}
	res := peekNothing
	// Control, not Read: it runs f at once, whatever the connection's read
	// deadline, and MSG_DONTWAIT keeps the peek from blocking.
	_ = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR:
		case err != nil, n == 0:
			res = peekClosed
		default:
			res = peekBytes
		}
	})
	return res
}
