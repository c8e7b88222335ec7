// Package smtpserver is the inbound SMTP protocol of the appliance: the
// command loop of RFC 5321 with the extensions a gateway offers — PIPELINING
// (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), ENHANCEDSTATUSCODES
// (RFC 2034, RFC 3463), STARTTLS (RFC 3207) and SMTPUTF8 (RFC 6531). It
// knows no policy: who may send, where a message is stored and what is
// logged belong to the Backend.
//
// What it guarantees, whatever the client sends:
//   - addresses reach the Session exactly as the client wrote them (quoted
//     local parts included), checked by package address: control characters,
//     invalid UTF-8, 8-bit bytes without SMTPUTF8 and the RFC 5321 length
//     limits are refused at MAIL or RCPT;
//   - DATA ends only at CRLF "." CRLF after a real CRLF; dots are unstuffed
//     exactly (see dataReader); the size limit is the one advertised;
//   - a command line with a control character, and a HELO name that is not
//     one, are refused, so nothing of the sort reaches a header or a log;
//   - data pipelined after STARTTLS in clear is thrown away (RFC 3207 §4.2);
//   - error replies count: past SoftErrorLimit each one waits ErrorDelay
//     (a tarpit for address harvesting), at HardErrorLimit the connection is
//     closed with 421 — Postfix's smtpd_soft_error_limit, smtpd_hard_error_limit
//     and smtpd_error_sleep_time, with their defaults;
//   - Shutdown answers idle sessions 421 at once and lets a message being
//     received finish.
//
// Not offered: AUTH, CHUNKING/BDAT, DSN parameters (refused with 555).
package smtpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"relaybox/mailengine/address"
)

// Backend starts a Session for each connection.
type Backend interface {
	// NewSession is called when a connection is accepted. A *Reply error
	// refuses the connection with that reply.
	NewSession(c *Conn) (Session, error)
}

// Session is the policy side of one connection. Its methods are called from
// the connection's goroutine, one at a time. An error that is a *Reply is
// the client's answer; any other error answers ErrLocal.
type Session interface {
	// Hello is called for HELO/EHLO with a name already checked for syntax.
	Hello(name string) error
	// Mail starts a transaction.
	Mail(from address.Path, opts MailOptions) error
	// Rcpt adds a recipient.
	Rcpt(to address.Path) error
	// Data reads the message and returns the text of the 250 reply. r ends
	// with io.EOF at the end of the data, ErrTooLarge past MaxMessageBytes,
	// or an error wrapping ErrAborted when the client went away.
	Data(r io.Reader) (string, error)
	// Reset ends the transaction (RSET, HELO, STARTTLS, a finished DATA).
	Reset()
	// Close is called once when the connection ends.
	Close()
}

// TLSObserver is a Session that wants the outcome of each STARTTLS handshake.
type TLSObserver interface {
	TLSDone(st *tls.ConnectionState, err error)
}

// MailOptions are MAIL's ESMTP parameters.
type MailOptions struct {
	Size int64  // SIZE=, 0 when not given
	Body string // "7BIT", "8BITMIME" or ""
	UTF8 bool   // SMTPUTF8
}

// Server serves SMTP on listeners. Set the fields before Serve; they must
// not change afterwards.
type Server struct {
	Hostname string      // in the greeting and the EHLO reply
	TLS      *tls.Config // nil: STARTTLS is not offered
	// MaxMessageBytes is the largest message accepted; SIZE advertises
	// exactly this. 0: no limit.
	MaxMessageBytes int64
	// MaxLineLength is the longest command line, without CRLF (default 2000).
	MaxLineLength int
	ReadTimeout   time.Duration // idle time allowed per command or data read (default 5m)
	WriteTimeout  time.Duration // per reply (default 1m)
	// SoftErrorLimit, HardErrorLimit and ErrorDelay: see the package
	// documentation (defaults 10, 20, 1s).
	SoftErrorLimit, HardErrorLimit int
	ErrorDelay                     time.Duration
	// MaxTransactions is how many MAIL commands one connection may give
	// (default 100); the next gets 421 and the connection ends.
	MaxTransactions int
	// UTF8 advertises SMTPUTF8.
	UTF8     bool
	Backend  Backend
	ErrorLog *log.Logger // nil: discarded

	mu      sync.Mutex
	lns     map[net.Listener]struct{}
	conns   map[*Conn]struct{}
	closing bool // no new connections
	wg      sync.WaitGroup
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("smtpserver: server closed")

func (s *Server) defaults() {
	if s.MaxLineLength <= 0 {
		s.MaxLineLength = 2000
	}
	if s.ReadTimeout <= 0 {
		s.ReadTimeout = 5 * time.Minute
	}
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = time.Minute
	}
	if s.SoftErrorLimit <= 0 {
		s.SoftErrorLimit = 10
	}
	if s.HardErrorLimit <= 0 {
		s.HardErrorLimit = 20
	}
	if s.ErrorDelay <= 0 {
		s.ErrorDelay = time.Second
	}
	if s.MaxTransactions <= 0 {
		s.MaxTransactions = 100
	}
	if s.ErrorLog == nil {
		s.ErrorLog = log.New(io.Discard, "", 0)
	}
}

// Serve accepts connections on ln until it is closed or the server shuts down.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.defaults()
	if s.lns == nil {
		s.lns, s.conns = map[net.Listener]struct{}{}, map[*Conn]struct{}{}
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closing
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.refuse(shuttingDown(s.Hostname))
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.release()
		}()
	}
}

func shuttingDown(host string) *Reply {
	return Replyf(421, "4.3.2", "%s Service shutting down, try again later", host)
}

// Retire stops accepting and waits for the sessions to end by themselves
// (QUIT or their idle timeout): a server replaced by a commit lets its
// sessions finish on the settings they started with. When ctx ends first,
// or Shutdown or Close is called meanwhile, those take over.
func (s *Server) Retire(ctx context.Context) error {
	s.stop(nil)
	return s.wait(ctx)
}

// Shutdown stops accepting, answers idle sessions 421 and closes them, and
// waits for the sessions receiving a message to finish it. When ctx ends
// first, the remaining connections are closed and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop((*Conn).drain)
	return s.wait(ctx)
}

// stop closes the listeners (no new connections) and applies each, when
// given, to every connection.
func (s *Server) stop(each func(*Conn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for ln := range s.lns {
		_ = ln.Close()
	}
	if each != nil {
		for c := range s.conns {
			each(c)
		}
	}
}

func (s *Server) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		_ = s.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.stop((*Conn).kill)
	return nil
}
