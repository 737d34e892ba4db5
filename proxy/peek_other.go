//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package proxy

import "net"

// peek cannot look at a connection on this platform: a connection the
// upstream closed is found when a request fails on it.
func peek(net.Conn) peekResult { return peekNothing }
