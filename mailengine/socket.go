package mailengine

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// socket is one bound TCP address. It outlives commits: its accept loop hands
// each connection to whichever server is current, so a commit can replace the
// server (new settings) without closing the socket or the sessions in flight.
type socket struct {
	addr    string
	ln      net.Listener
	current atomic.Pointer[handoff]
	active  atomic.Int64
	limit   atomic.Int64 // max concurrent connections, 0 = none
	// admit decides whether a client may connect; nil admits all.
	admit atomic.Pointer[func(net.Conn) bool]
	// global, when set, is a limit shared with other sockets (all SMTP
	// listeners, or all HTTPS ones).
	global atomic.Pointer[limiter]
	perIP  atomic.Int64 // max concurrent connections from one address, 0 = none
	ipMu   sync.Mutex
	ips    map[netip.Addr]int // connections per client address, while perIP is set
	done   chan struct{}
}

// limiter counts connections against a limit shared by several sockets.
type limiter struct {
	active atomic.Int64
	limit  atomic.Int64 // 0: no limit
}

func (l *limiter) full() bool {
	lim := l.limit.Load()
	return lim > 0 && l.active.Load() >= lim
}

func bind(addr string) (*socket, error) {
	// No TCP keep-alive on accepted connections (Go sets it by default, four
	// setsockopt calls per connection): SMTP and the GUI end idle or dead
	// connections with their own read and idle timeouts.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &socket{addr: addr, ln: ln, done: make(chan struct{})}, nil
}

// hooks are the engine's callbacks for connections on a socket.
type hooks struct {
	// refuse answers and closes a connection that may not proceed.
	refuse func(c *trackedConn, reason string)
	// accepted runs before a connection is handed to the server.
	accepted func(c *trackedConn)
}

// serve runs the accept loop until the socket is closed.
func (s *socket) serve(h hooks) {
	defer close(s.done)
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		global := s.global.Load()
		if lim := s.limit.Load(); lim > 0 && s.active.Load() >= lim || global != nil && global.full() {
			go h.refuse(&trackedConn{Conn: c}, "busy")
			continue
		}
		if admit := s.admit.Load(); admit != nil && !(*admit)(c) {
			go h.refuse(&trackedConn{Conn: c}, "denied")
			continue
		}
		ip, counted := clientIP(c), false
		if lim := s.perIP.Load(); lim > 0 {
			if !s.takeIP(ip, lim) {
				go h.refuse(&trackedConn{Conn: c}, "busy-ip")
				continue
			}
			counted = true
		}
		s.active.Add(1)
		tc := &trackedConn{Conn: c, active: &s.active}
		if counted {
			tc.releaseIP = func() { s.releaseIP(ip) }
		}
		if global != nil {
			global.active.Add(1)
			tc.global = &global.active
		}
		h.accepted(tc)
		for {
			h := s.current.Load()
			if h != nil && h.deliver(tc) {
				break
			}
			// A commit swaps in the new handoff before closing the old one, so
			// retry only when someone took over.
			if h == nil || s.current.Load() == h {
				_ = tc.Close()
				break
			}
		}
	}
}

// takeIP counts one more connection from ip unless it has limit already.
func (s *socket) takeIP(ip netip.Addr, limit int64) bool {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if s.ips == nil {
		s.ips = map[netip.Addr]int{}
	}
	if int64(s.ips[ip]) >= limit {
		return false
	}
	s.ips[ip]++
	return true
}

func (s *socket) releaseIP(ip netip.Addr) {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if s.ips[ip]--; s.ips[ip] <= 0 {
		delete(s.ips, ip) // the table holds only addresses connected now
	}
}

// clientIP is a connection's remote address without the port (IPv4-mapped
// addresses as IPv4).
func clientIP(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// close stops accepting; sessions already handed over go on.
func (s *socket) close() {
	_ = s.ln.Close()
	<-s.done
}

// trackedConn is an accepted connection: it counts itself out of its
// socket's active connections once, and carries what mail_logs needs.
type trackedConn struct {
	net.Conn
	active    *atomic.Int64
	global    *atomic.Int64
	releaseIP func()
	once      sync.Once

	icid     uint64
	onClose  func(*trackedConn)
	tlsDone  atomic.Bool // success or failure was logged
	required atomic.Bool // "TLS was required" was logged
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		if c.active != nil {
			c.active.Add(-1)
		}
		if c.global != nil {
			c.global.Add(-1)
		}
		if c.releaseIP != nil {
			c.releaseIP()
		}
		if c.onClose != nil {
			c.onClose(c)
		}
	})
	return c.Conn.Close()
}

// trackedOf finds the trackedConn under a (possibly TLS) connection.
func trackedOf(c net.Conn) *trackedConn {
	for {
		switch v := c.(type) {
		case *trackedConn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
}

// handoff is the net.Listener a server sees: it yields the connections the
// socket delivers while it is current, and reports closed afterwards.
type handoff struct {
	addr net.Addr
	ch   chan net.Conn
	once sync.Once
	gone chan struct{}
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{addr: addr, ch: make(chan net.Conn), gone: make(chan struct{})}
}

func (h *handoff) deliver(c net.Conn) bool {
	select {
	case <-h.gone:
		return false
	default:
	}
	select {
	case h.ch <- c:
		return true
	case <-h.gone:
		return false
	}
}

// Accept implements net.Listener.
func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.gone:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener; the socket itself stays open.
func (h *handoff) Close() error {
	h.once.Do(func() { close(h.gone) })
	return nil
}

// Addr implements net.Listener.
func (h *handoff) Addr() net.Addr { return h.addr }
