package mailengine

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"relaybox/config"
)

// wantedSocket is one socket the running configuration names.
type wantedSocket struct {
	kind, name, addr string
}

// String names the socket as an administrator knows it.
func (w wantedSocket) String() string {
	switch w.kind {
	case "smtp":
		return fmt.Sprintf("SMTP listener %s on %s", w.name, w.addr)
	case "https":
		return fmt.Sprintf("HTTPS of interface %s on %s", w.name, w.addr)
	case "ssh":
		return fmt.Sprintf("SSH of interface %s on %s", w.name, w.addr)
	}
	return fmt.Sprintf("%s %s on %s", w.kind, w.name, w.addr)
}

// wanted lists the sockets of c that this engine serves, as plan does
// (health_test.go checks that the two agree): each listener on its
// interface's address, and each interface's HTTPS port and, when the engine
// has an SSH server, its SSH port.
func (e *Engine) wanted(c *config.Config) []wantedSocket {
	var out []wantedSocket
	for _, l := range c.Listeners {
		if ifc := c.Interface(l.Interface); ifc != nil {
			out = append(out, wantedSocket{"smtp", l.Name, net.JoinHostPort(ifc.Address, strconv.Itoa(l.Port))})
		}
	}
	for _, ifc := range c.Interfaces {
		if ifc.SSHPort != 0 && e.opts.SSH != nil {
			out = append(out, wantedSocket{"ssh", ifc.Name, net.JoinHostPort(ifc.Address, strconv.Itoa(ifc.SSHPort))})
		}
		if ifc.HTTPSPort != 0 {
			out = append(out, wantedSocket{"https", ifc.Name, net.JoinHostPort(ifc.Address, strconv.Itoa(ifc.HTTPSPort))})
		}
	}
	return out
}

// Health says whether the engine serves everything its running (committed)
// configuration names: every SMTP listener, and every interface's HTTPS and
// SSH port, bound and listening. It asks the kernel, not only the engine's
// own bookkeeping: a listening socket that the kernel closed under the
// engine (ss -K, a shutdown of its descriptor) counts as not listening.
// nil means healthy; otherwise the error names each socket that is not
// served and why, one per line.
func (e *Engine) Health() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.stopWatch:
		return errors.New("the engine has stopped")
	default:
	}
	c := e.cfg.Load()
	if c == nil {
		return errors.New("the engine has no configuration applied yet")
	}
	var problems []error
	for _, w := range e.wanted(c) {
		ep, ok := e.sockets[w.addr]
		switch {
		case !ok:
			problems = append(problems, fmt.Errorf("%s is not bound", w))
		case ep.kind != w.kind || ep.srv == nil:
			problems = append(problems, fmt.Errorf("%s is bound but not served (the socket serves %q)", w, ep.kind))
		default:
			if err := ep.sock.listening(); err != nil {
				problems = append(problems, fmt.Errorf("%s is bound but %w", w, err))
			}
		}
	}
	return errors.Join(problems...)
}

// listening asks the kernel whether the socket still accepts connections.
func (s *socket) listening() error {
	select {
	case <-s.done:
		return errors.New("its accept loop has ended")
	default:
	}
	sc, ok := s.ln.(syscall.Conn)
	if !ok {
		return nil // not a kernel socket (tests): nothing more to ask
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("its socket cannot be inspected: %w", err)
	}
	var accepting int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		accepting, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	}); err != nil {
		return fmt.Errorf("its socket is closed: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("its socket cannot be inspected: %w", serr)
	}
	if accepting == 0 {
		return errors.New("no longer listening: the kernel closed the listening socket (restart the appliance to bind it again)")
	}
	return nil
}
