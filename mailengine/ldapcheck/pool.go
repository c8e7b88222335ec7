package ldapcheck

import (
	"context"
	"sync"

	"github.com/go-ldap/ldap/v3"
)

// pool keeps up to max bound connections to a profile's servers: a query
// takes an idle one or opens one, and gives it back when it worked.
type pool struct {
	connect func(context.Context) (*ldap.Conn, error)
	slots   chan struct{} // one per connection in use or idle
	mu      sync.Mutex
	idle    []*ldap.Conn
	closed  bool
}

func newPool(n int, connect func(context.Context) (*ldap.Conn, error)) *pool {
	return &pool{connect: connect, slots: make(chan struct{}, max(n, 1))}
}

// do runs f on a pooled connection. A connection that was idle may have
// been closed by the server meanwhile: its failure is tried again once on a
// new connection. A connection f failed on is closed, not kept.
func (p *pool) do(ctx context.Context, f func(*ldap.Conn) error) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.slots }()
	conn, reused, err := p.get(ctx)
	if err != nil {
		return err
	}
	err = f(conn)
	if err != nil && reused {
		conn.Close()
		if conn, err = p.connect(ctx); err != nil {
			return err
		}
		err = f(conn)
	}
	if err != nil {
		conn.Close()
		return err
	}
	p.put(conn)
	return nil
}

func (p *pool) get(ctx context.Context) (*ldap.Conn, bool, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !c.IsClosing() {
			p.mu.Unlock()
			return c, true, nil
		}
		c.Close()
	}
	p.mu.Unlock()
	c, err := p.connect(ctx)
	return c, false, err
}

func (p *pool) put(c *ldap.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
}

// close closes the idle connections; those in use are closed when given back.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		c.Close()
	}
	p.idle = nil
}

// size is the number of idle connections (tests).
func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
