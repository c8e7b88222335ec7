package smtpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// Reasons for a temporary failure of a TLS-required delivery. They are the
// Err of the *Error Deliver returns, so errors.Is works on them; the texts
// are those of the appliance's mail_logs.
var (
	// ErrNoSTARTTLS: the level requires TLS but STARTTLS was not in the
	// EHLO reply, or the server does not speak ESMTP at all.
	ErrNoSTARTTLS = errors.New("TLS was required but the remote host did not offer STARTTLS")
	// ErrSTARTTLSRefused: the level requires TLS and the STARTTLS command
	// got a reply other than 220.
	ErrSTARTTLSRefused = errors.New("TLS was required but the remote host STARTTLS returned an error")
)

// Error is a failure of the whole delivery attempt. Recipients without an
// entry in the Result that came with it have not been delivered; they are to
// be deferred when Temporary is true and bounced otherwise.
type Error struct {
	Phase     string // what failed: "config", "connect", "greeting", "ehlo", "helo", "starttls", "tls", "verify", "rset", "mail", "rcpt", "data"
	Addr      string // the server (Options.Addr)
	Code      int    // the server's reply code, 0 when there was no reply
	Enhanced  string // the reply's enhanced status code (or ours, e.g. 5.3.4 for a message over the server's SIZE)
	Text      string // the reply's text; without a reply (Code 0), the text of Err
	Temporary bool   // deferral (true) or permanent failure (false)
	// AfterDot: the final dot was sent (or was being sent) and no reply
	// was read, so the server may have accepted the message: a retry can
	// deliver it twice (RFC 1047).
	AfterDot bool
	Err      error // the cause, when it is not only the server's reply
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("smtpclient: ")
	b.WriteString(e.Phase)
	if e.Addr != "" {
		b.WriteString(" at ")
		b.WriteString(e.Addr)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	if e.Code != 0 {
		if e.Err != nil {
			b.WriteString(": ")
		}
		fmt.Fprintf(&b, "server replied %d", e.Code)
		if e.Enhanced != "" {
			b.WriteString(" " + e.Enhanced)
		}
		if e.Text != "" {
			b.WriteString(" " + e.Text)
		}
	}
	if e.Err == nil && e.Code == 0 {
		b.WriteString("failed")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Reason is the failure in a few words, for mail_logs, deferrals and
// bounces: the server's reply, the TLS reason in the appliance's words, or
// what happened to the connection — without Go's error chain and without
// the server's address (the caller names it).
func (e *Error) Reason() string {
	var te *TLSError
	var ie *ioError
	switch {
	case e.Code != 0:
		r := fmt.Sprint(e.Code)
		if e.Enhanced != "" {
			r += " " + e.Enhanced
		}
		if e.Text != "" {
			r += " " + e.Text
		}
		if w := phaseWords[e.Phase]; w != "" {
			return w + ": " + r
		}
		return r
	case errors.As(e.Err, &te):
		return te.Reason
	case errors.Is(e.Err, ErrNoSTARTTLS), errors.Is(e.Err, ErrSTARTTLSRefused):
		return e.Err.Error()
	case errors.As(e.Err, &ie):
		if ie.timeout {
			return ie.what
		}
		return ie.what + ": " + netReason(ie.err)
	case e.Phase == "connect":
		return "connection failed: " + netReason(e.Err)
	case e.Text != "":
		return e.Text
	case e.Err != nil:
		return netReason(e.Err)
	}
	return e.Phase + " failed"
}

// phaseWords names the command a reply answered.
var phaseWords = map[string]string{
	"greeting": "greeting", "ehlo": "EHLO", "helo": "HELO", "starttls": "STARTTLS", "rset": "RSET",
	"mail": "MAIL", "rcpt": "RCPT", "data": "DATA",
}

// ioError is a failure to talk to the server: what was being done, and the
// network error under it.
type ioError struct {
	what    string
	err     error
	timeout bool
}

func (e *ioError) Error() string { return e.what + ": " + e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

// netReason says what a network error was, in the words of the system call
// (connection refused, reset, timed out …), not Go's "dial tcp a->b:" chain.
func netReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "delivery is stopping"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "the server closed the connection"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network is unreachable"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "the source address is not available on this machine"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// TLSError is the cause of a failed TLS handshake (Error.Phase "tls").
type TLSError struct {
	// Reason reads like the appliance's (OpenSSL's) log text, e.g.
	// "(336151598, 'error:1409442E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version') TLS version mismatch could be the failure reason".
	Reason string
	// VersionMismatch is true when the failure looks like no common
	// protocol version (a protocol_version alert either way, or an
	// unsupported version chosen by the server).
	VersionMismatch bool
	Err             error // crypto/tls's error
}

func (e *TLSError) Error() string { return "TLS handshake failed: " + e.Reason }
func (e *TLSError) Unwrap() error { return e.Err }
