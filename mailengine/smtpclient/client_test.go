package smtpclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fast = Timeouts{Connect: 2 * time.Second, Greeting: 2 * time.Second, Command: 2 * time.Second, Data: 2 * time.Second}

// Peer behaviours of the matrix.
func peerPlain(*testing.T) peerOpts { return peerOpts{pipelining: true} }
func peerTLS12(t *testing.T) peerOpts {
	return peerOpts{startTLS: "ok", tls: serverTLS(t, caSigned, tls.VersionTLS12, tls.VersionTLS12)}
}
func peerTLS13(t *testing.T) peerOpts {
	return peerOpts{startTLS: "ok", tls: serverTLS(t, caSigned, tls.VersionTLS13, tls.VersionTLS13)}
}
func peer454(*testing.T) peerOpts    { return peerOpts{startTLS: "454"} }
func peerBroken(*testing.T) peerOpts { return peerOpts{startTLS: "close"} }
func peerSelfSigned(t *testing.T) peerOpts {
	return peerOpts{startTLS: "ok", tls: serverTLS(t, selfSigned, 0, 0)}
}
func peerValid(t *testing.T) peerOpts {
	return peerOpts{startTLS: "ok", tls: serverTLS(t, caSigned, 0, 0)}
}
func peer421(*testing.T) peerOpts { return peerOpts{mailReply: "421 4.3.2 Service shutting down"} }
func peer421Greeting(*testing.T) peerOpts {
	return peerOpts{greeting: "421 4.3.2 Too busy, try later"}
}
func peerRcptMix(t *testing.T) peerOpts {
	o := peerValid(t)
	o.pipelining = true
	o.rcpt = map[string]string{
		"nobody@example.test": "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown",
		"later@example.test":  "450 4.2.1 <later@example.test>: Mailbox busy",
	}
	return o
}
func peerNoESMTP(*testing.T) peerOpts { return peerOpts{noEHLO: true, startTLS: "ok"} }
func peerSize(*testing.T) peerOpts    { return peerOpts{size: 1000} }

const rightName, wrongName = "mx.example.test", "other.example.test"

type want struct {
	phase       string // "" = no error
	temporary   bool
	code        int
	is          error // errors.Is target
	fallback    bool
	delivered   []string
	rejected    []string
	deferred    []string
	version     uint16 // 0 = clear
	verified    bool
	verifyErr   any // pointer to the wanted x509 error type, nil = none
	events      []EventKind
	startTLS    bool   // the peer saw STARTTLS
	eventDetail string // some event's detail contains this
}

var (
	evClear    = []EventKind{Connected, MailReply, RcptReply, DataReply, Closed}
	evTLS      = []EventKind{Connected, TLSSuccess, MailReply, RcptReply, DataReply, Closed}
	evVerified = []EventKind{Connected, TLSSuccess, CertVerified, MailReply, RcptReply, DataReply, Closed}
	evUnverif  = []EventKind{Connected, TLSSuccess, CertUnverified, MailReply, RcptReply, DataReply, Closed}
	evRefused  = []EventKind{Connected, TLSFailed, MailReply, RcptReply, DataReply, Closed}
	evDeferred = []EventKind{Connected, TLSDeferred, Closed}
	one        = []string{"user@example.test"}
)

func TestLevels(t *testing.T) {
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	tests := []struct {
		name       string
		peer       func(*testing.T) peerOpts
		level      Level
		serverName string
		verifyHost bool
		clientTLS  func(*tls.Config)
		to         []string
		size       int64
		want       want
	}{
		// plain peer without STARTTLS
		{name: "plain/none", peer: peerPlain, level: None, want: want{delivered: one, events: evClear}},
		{name: "plain/preferred", peer: peerPlain, level: Preferred, want: want{delivered: one, events: evClear}},
		{name: "plain/required", peer: peerPlain, level: Required, want: want{phase: "starttls", temporary: true, is: ErrNoSTARTTLS, events: evDeferred, eventDetail: ErrNoSTARTTLS.Error()}},
		{name: "plain/preferred-verify", peer: peerPlain, level: PreferredVerify, want: want{delivered: one, events: evClear}},
		{name: "plain/required-verify", peer: peerPlain, level: RequiredVerify, want: want{phase: "starttls", temporary: true, is: ErrNoSTARTTLS, events: evDeferred}},

		// STARTTLS, TLS 1.2 only, CA-signed certificate for mx.example.test
		{name: "tls12/none", peer: peerTLS12, level: None, want: want{delivered: one, events: evClear}},
		{name: "tls12/preferred", peer: peerTLS12, level: Preferred, want: want{delivered: one, version: tls.VersionTLS12, events: evTLS, startTLS: true, eventDetail: "protocol TLSv1.2 cipher ECDHE-ECDSA-"}},
		{name: "tls12/required", peer: peerTLS12, level: Required, want: want{delivered: one, version: tls.VersionTLS12, events: evTLS, startTLS: true}},
		{name: "tls12/preferred-verify", peer: peerTLS12, level: PreferredVerify, serverName: rightName, verifyHost: true, want: want{delivered: one, version: tls.VersionTLS12, verified: true, events: evVerified, startTLS: true}},
		{name: "tls12/required-verify", peer: peerTLS12, level: RequiredVerify, serverName: rightName, verifyHost: true, want: want{delivered: one, version: tls.VersionTLS12, verified: true, events: evVerified, startTLS: true}},
		{name: "tls12/client-1.3-only/preferred", peer: peerTLS12, level: Preferred, clientTLS: minTLS13,
			want: want{phase: "tls", temporary: true, fallback: true, events: evDeferred, startTLS: true,
				eventDetail: "(336151598, 'error:1409442E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version') TLS version mismatch could be the failure reason"}},
		{name: "tls12/client-1.3-only/required", peer: peerTLS12, level: Required, clientTLS: minTLS13,
			want: want{phase: "tls", temporary: true, events: evDeferred, startTLS: true, eventDetail: "TLS version mismatch could be the failure reason"}},

		// STARTTLS, TLS 1.3 only
		{name: "tls13/preferred", peer: peerTLS13, level: Preferred, want: want{delivered: one, version: tls.VersionTLS13, events: evTLS, startTLS: true, eventDetail: "protocol TLSv1.3 cipher TLS_AES_"}},
		{name: "tls13/required-verify", peer: peerTLS13, level: RequiredVerify, serverName: rightName, verifyHost: true, want: want{delivered: one, version: tls.VersionTLS13, verified: true, events: evVerified, startTLS: true}},
		{name: "tls13/client-1.2-only/preferred-verify", peer: peerTLS13, level: PreferredVerify, clientTLS: maxTLS12,
			want: want{phase: "tls", temporary: true, fallback: true, events: evDeferred, startTLS: true, eventDetail: "TLS version mismatch could be the failure reason"}},

		// STARTTLS advertised, answered 454
		{name: "454/preferred", peer: peer454, level: Preferred, want: want{delivered: one, events: evRefused, startTLS: true, eventDetail: "STARTTLS unexpected response: 454 4.7.0 TLS not available"}},
		{name: "454/preferred-verify", peer: peer454, level: PreferredVerify, want: want{delivered: one, events: evRefused, startTLS: true}},
		{name: "454/required", peer: peer454, level: Required, want: want{phase: "starttls", temporary: true, code: 454, is: ErrSTARTTLSRefused, events: []EventKind{Connected, TLSFailed, TLSDeferred, Closed}, startTLS: true}},
		{name: "454/required-verify", peer: peer454, level: RequiredVerify, want: want{phase: "starttls", temporary: true, code: 454, is: ErrSTARTTLSRefused, events: []EventKind{Connected, TLSFailed, TLSDeferred, Closed}, startTLS: true}},

		// STARTTLS 220, then the connection closes instead of a handshake
		{name: "broken/preferred", peer: peerBroken, level: Preferred, want: want{phase: "tls", temporary: true, fallback: true, events: evDeferred, startTLS: true, eventDetail: "by the server during the TLS handshake"}},
		{name: "broken/preferred-verify", peer: peerBroken, level: PreferredVerify, want: want{phase: "tls", temporary: true, fallback: true, events: evDeferred, startTLS: true}},
		{name: "broken/required", peer: peerBroken, level: Required, want: want{phase: "tls", temporary: true, events: evDeferred, startTLS: true}},
		{name: "broken/required-verify", peer: peerBroken, level: RequiredVerify, want: want{phase: "tls", temporary: true, events: evDeferred, startTLS: true}},

		// untrusted self-signed certificate
		{name: "selfsigned/preferred", peer: peerSelfSigned, level: Preferred, want: want{delivered: one, version: tls.VersionTLS13, events: evTLS, startTLS: true}},
		{name: "selfsigned/required", peer: peerSelfSigned, level: Required, want: want{delivered: one, version: tls.VersionTLS13, events: evTLS, startTLS: true}},
		{name: "selfsigned/preferred-verify", peer: peerSelfSigned, level: PreferredVerify, serverName: rightName, verifyHost: true,
			want: want{delivered: one, version: tls.VersionTLS13, verifyErr: &unknownAuthority, events: evUnverif, startTLS: true}},
		{name: "selfsigned/required-verify", peer: peerSelfSigned, level: RequiredVerify, serverName: rightName, verifyHost: true,
			want: want{phase: "verify", temporary: true, version: tls.VersionTLS13, verifyErr: &unknownAuthority, events: []EventKind{Connected, TLSSuccess, CertUnverified, TLSDeferred, Closed}, startTLS: true, eventDetail: "certificate signed by unknown authority"}},

		// valid chain, right and wrong host names
		{name: "valid/required-verify/right-name", peer: peerValid, level: RequiredVerify, serverName: rightName, verifyHost: true, want: want{delivered: one, version: tls.VersionTLS13, verified: true, events: evVerified, startTLS: true, eventDetail: "CN=mx.example.test"}},
		{name: "valid/preferred-verify/wrong-name", peer: peerValid, level: PreferredVerify, serverName: wrongName, verifyHost: true,
			want: want{delivered: one, version: tls.VersionTLS13, verifyErr: &hostnameErr, events: evUnverif, startTLS: true}},
		{name: "valid/required-verify/wrong-name", peer: peerValid, level: RequiredVerify, serverName: wrongName, verifyHost: true,
			want: want{phase: "verify", temporary: true, version: tls.VersionTLS13, verifyErr: &hostnameErr, events: []EventKind{Connected, TLSSuccess, CertUnverified, TLSDeferred, Closed}, startTLS: true}},
		{name: "valid/required-verify/wrong-name-not-checked", peer: peerValid, level: RequiredVerify, serverName: wrongName, verifyHost: false,
			want: want{delivered: one, version: tls.VersionTLS13, verified: true, events: evVerified, startTLS: true}},
		{name: "valid/required/wrong-name-ignored", peer: peerValid, level: Required, serverName: wrongName, verifyHost: true,
			want: want{delivered: one, version: tls.VersionTLS13, events: evTLS, startTLS: true}},

		// 421
		{name: "421-at-mail/none", peer: peer421, level: None, want: want{phase: "mail", temporary: true, code: 421, events: []EventKind{Connected, Closed}}},
		{name: "421-greeting/preferred", peer: peer421Greeting, level: Preferred, want: want{phase: "greeting", temporary: true, code: 421, events: []EventKind{Connected, Closed}}},

		// per-recipient replies
		{name: "rcpt-mix/none", peer: peerRcptMix, level: None, to: []string{"a@example.test", "nobody@example.test", "later@example.test", "b@example.test"},
			want: want{delivered: []string{"a@example.test", "b@example.test"}, rejected: []string{"nobody@example.test"}, deferred: []string{"later@example.test"},
				events: []EventKind{Connected, MailReply, RcptReply, RcptReply, RcptReply, RcptReply, DataReply, Closed}}},
		{name: "rcpt-mix/required-verify", peer: peerRcptMix, level: RequiredVerify, serverName: rightName, verifyHost: true, to: []string{"nobody@example.test", "a@example.test", "later@example.test"},
			want: want{delivered: []string{"a@example.test"}, rejected: []string{"nobody@example.test"}, deferred: []string{"later@example.test"}, version: tls.VersionTLS13, verified: true,
				events: []EventKind{Connected, TLSSuccess, CertVerified, MailReply, RcptReply, RcptReply, RcptReply, DataReply, Closed}, startTLS: true}},
		{name: "rcpt-mix/all-refused", peer: peerRcptMix, level: None, to: []string{"nobody@example.test", "later@example.test"},
			want: want{rejected: []string{"nobody@example.test"}, deferred: []string{"later@example.test"}, events: []EventKind{Connected, MailReply, RcptReply, RcptReply, Closed}}},

		// no ESMTP: EHLO → 502, HELO; STARTTLS never offered
		{name: "noesmtp/none", peer: peerNoESMTP, level: None, want: want{delivered: one, events: evClear}},
		{name: "noesmtp/preferred", peer: peerNoESMTP, level: Preferred, want: want{delivered: one, events: evClear}},
		{name: "noesmtp/required", peer: peerNoESMTP, level: Required, want: want{phase: "starttls", temporary: true, is: ErrNoSTARTTLS, events: evDeferred, eventDetail: "does not support ESMTP"}},

		// SIZE 1000
		{name: "size/too-big", peer: peerSize, level: Preferred, size: 2000, want: want{phase: "mail", events: []EventKind{Connected, Closed}}},
		{name: "size/fits", peer: peerSize, level: Preferred, size: 999, want: want{delivered: one, events: evClear}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, tc.peer(t))
			cfg := &tls.Config{RootCAs: getPKI(t).roots}
			if tc.clientTLS != nil {
				tc.clientTLS(cfg)
			}
			var events []Event
			to := tc.to
			if to == nil {
				to = one
			}
			res, err := Deliver(context.Background(), Options{
				Addr: p.addr, ServerName: tc.serverName, HELO: "relaybox.test", Level: tc.level,
				TLS: cfg, VerifyHostname: tc.verifyHost, Timeouts: fast,
				Events: func(e Event) { events = append(events, e) },
			}, Message{From: "sender@relaybox.test", To: to, Body: strings.NewReader("Subject: hi\n\nhello\n"), Size: tc.size})
			w := tc.want

			if w.phase == "" {
				require.NoError(t, err)
			} else {
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, w.phase, e.Phase, "phase; error: %v", err)
				assert.Equal(t, w.temporary, e.Temporary, "temporary")
				assert.Equal(t, w.code, e.Code, "code")
				assert.Contains(t, err.Error(), p.addr, "the error names the server")
				if w.is != nil {
					assert.ErrorIs(t, err, w.is)
				}
			}
			assert.Equal(t, w.fallback, res.FallbackClear, "FallbackClear")
			assert.Equal(t, w.delivered, rcpts(res.Delivered), "delivered")
			assert.Equal(t, w.rejected, rcpts(res.Rejected), "rejected")
			assert.Equal(t, w.deferred, rcpts(res.Deferred), "deferred")
			if w.version == 0 {
				assert.Nil(t, res.TLS, "clear")
			} else if assert.NotNil(t, res.TLS) {
				assert.Equal(t, tls.VersionName(w.version), tls.VersionName(res.TLS.Version))
			}
			assert.Equal(t, w.verified, res.Verified, "Verified")
			if w.verifyErr == nil {
				assert.NoError(t, res.VerifyErr)
			} else {
				assert.ErrorAs(t, res.VerifyErr, w.verifyErr)
			}
			assert.Equal(t, w.events, kinds(events), "events")
			if w.eventDetail != "" {
				assert.True(t, hasDetail(events, w.eventDetail), "no event detail contains %q: %v", w.eventDetail, events)
			}
			for _, e := range events {
				if e.Kind == TLSSuccess {
					assert.NotNil(t, e.State)
				}
			}

			sess := p.sessions()
			require.Len(t, sess, 1)
			assert.Equal(t, w.startTLS, hasCmd(sess[0].cmds, "STARTTLS"), "peer saw STARTTLS: %q", sess[0].cmds)
			if w.version != 0 && len(w.delivered) > 0 {
				assert.NotNil(t, sess[0].tls, "the peer received the message over TLS")
			}
		})
	}
}

func minTLS13(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }
func maxTLS12(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }

func rcpts(rr []RcptResult) []string {
	var out []string
	for _, r := range rr {
		out = append(out, r.Rcpt)
	}
	return out
}

func kinds(ev []Event) []EventKind {
	var out []EventKind
	for _, e := range ev {
		out = append(out, e.Kind)
	}
	return out
}

func hasDetail(ev []Event, s string) bool {
	for _, e := range ev {
		if strings.Contains(e.Detail, s) {
			return true
		}
	}
	return false
}

func hasCmd(cmds []string, verb string) bool {
	for _, c := range cmds {
		if strings.HasPrefix(strings.ToUpper(c), verb) {
			return true
		}
	}
	return false
}

// The caller's side of preferred: a handshake failure after 220 gives
// FallbackClear, and one retry with level none on a new connection delivers.
func TestPreferredFallbackClear(t *testing.T) {
	p := startPeer(t, peerBroken(t))
	o := Options{Addr: p.addr, HELO: "relaybox.test", Level: Preferred, Timeouts: fast}
	msg := func() Message {
		return Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("x\n")}
	}
	res, err := Deliver(context.Background(), o, msg())
	require.Error(t, err)
	var te *TLSError
	require.ErrorAs(t, err, &te)
	require.True(t, res.FallbackClear)

	o.Level = None
	res, err = Deliver(context.Background(), o, msg())
	require.NoError(t, err)
	assert.Equal(t, one, rcpts(res.Delivered))
	sess := p.sessions()
	require.Len(t, sess, 2, "two connections")
	assert.True(t, hasCmd(sess[0].cmds, "STARTTLS"))
	assert.False(t, hasCmd(sess[1].cmds, "STARTTLS"))
	assert.True(t, hasCmd(sess[1].cmds, "DATA"))
}

func TestRcptResults(t *testing.T) {
	p := startPeer(t, peerRcptMix(t))
	res, err := Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast},
		Message{From: "s@relaybox.test", To: []string{"a@example.test", "nobody@example.test", "later@example.test"}, Body: strings.NewReader("x\n")})
	require.NoError(t, err)
	assert.Equal(t, []RcptResult{{Rcpt: "a@example.test", Code: 250, Enhanced: "2.0.0", Text: "Ok: queued as 1234"}}, res.Delivered)
	assert.Equal(t, []RcptResult{{Rcpt: "nobody@example.test", Code: 550, Enhanced: "5.1.1", Text: "<nobody@example.test>: Recipient address rejected: User unknown"}}, res.Rejected)
	assert.Equal(t, []RcptResult{{Rcpt: "later@example.test", Code: 450, Enhanced: "4.2.1", Text: "<later@example.test>: Mailbox busy"}}, res.Deferred)
}

func TestFinalReply(t *testing.T) {
	for _, tc := range []struct {
		reply         string
		wantDelivered bool
		wantRejected  bool
		wantDeferred  bool
		wantErr       bool
	}{
		{reply: "250 2.0.0 Ok", wantDelivered: true},
		{reply: "452 4.3.1 Insufficient system storage", wantDeferred: true},
		{reply: "554 5.7.1 Message rejected as spam", wantRejected: true},
		{reply: "421 4.4.2 Timeout", wantErr: true},
	} {
		t.Run(tc.reply, func(t *testing.T) {
			p := startPeer(t, peerOpts{dataReply: tc.reply})
			res, err := Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast},
				Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("x\n")})
			if tc.wantErr {
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "data", e.Phase)
				assert.True(t, e.Temporary)
				assert.Equal(t, 421, e.Code)
				assert.Empty(t, res.Delivered)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantDelivered, len(res.Delivered) == 1)
			assert.Equal(t, tc.wantRejected, len(res.Rejected) == 1)
			assert.Equal(t, tc.wantDeferred, len(res.Deferred) == 1)
		})
	}
}

func TestPipelining(t *testing.T) {
	for _, adv := range []bool{true, false} {
		t.Run(map[bool]string{true: "advertised", false: "not-advertised"}[adv], func(t *testing.T) {
			p := startPeer(t, peerOpts{pipelining: adv})
			res, err := Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast},
				Message{From: "s@relaybox.test", To: []string{"a@example.test", "b@example.test", "c@example.test"}, Body: strings.NewReader("x\n")})
			require.NoError(t, err)
			assert.Len(t, res.Delivered, 3)
			sess := p.sessions()
			require.Len(t, sess, 1)
			assert.Equal(t, adv, sess[0].pipelined, "MAIL and the RCPTs arrived in one read")
			assert.Equal(t, adv, sess[0].dataInGroup, "DATA ended the group")
			assert.Equal(t, []string{"EHLO localhost", "MAIL FROM:<s@relaybox.test>", "RCPT TO:<a@example.test>", "RCPT TO:<b@example.test>", "RCPT TO:<c@example.test>", "DATA", "QUIT"}, sess[0].cmds)
		})
	}
}

func TestSize(t *testing.T) {
	p := startPeer(t, peerSize(t))
	_, err := Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast},
		Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("x\n"), Size: 1001})
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.False(t, e.Temporary)
	assert.Equal(t, "5.3.4", e.Enhanced)
	assert.Contains(t, err.Error(), "message size 1001 exceeds the server's limit of 1000")
	assert.Equal(t, "message size 1001 exceeds the server's limit of 1000 (SIZE)", e.Text, "Text describes a failure without a reply")
	assert.False(t, hasCmd(p.sessions()[0].cmds, "MAIL"), "MAIL not sent")

	_, err = Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast},
		Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("x\n"), Size: 1000})
	require.NoError(t, err)
	assert.Contains(t, p.sessions()[1].cmds, "MAIL FROM:<s@relaybox.test> SIZE=1000")

	// HELO-only server: no SIZE parameter
	p = startPeer(t, peerNoESMTP(t))
	_, err = Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast},
		Message{From: "", To: one, Body: strings.NewReader("x\n"), Size: 1000})
	require.NoError(t, err)
	assert.Equal(t, []string{"EHLO localhost", "HELO localhost", "MAIL FROM:<>", "RCPT TO:<user@example.test>", "DATA", "QUIT"}, p.sessions()[0].cmds)
}

func TestDotStuffing(t *testing.T) {
	p := startPeer(t, peerOpts{})
	body := "Subject: dots\n\n.leading dot\n..two dots\n.\nbare LF line\r\nCRLF line\nno final newline"
	_, err := Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast},
		Message{From: "s@relaybox.test", To: one, Body: strings.NewReader(body)})
	require.NoError(t, err)
	s := p.sessions()[0]
	assert.Equal(t, []string{"Subject: dots", "", "..leading dot", "...two dots", "..", "bare LF line", "CRLF line", "no final newline"}, s.rawBody)
	assert.Equal(t, "Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nbare LF line\r\nCRLF line\r\nno final newline\r\n", s.body)
}

func TestCancelAndTimeouts(t *testing.T) {
	p := startPeer(t, peerOpts{silent: true})

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Deliver(ctx, Options{Addr: p.addr}, Message{To: one, Body: strings.NewReader("x")})
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "greeting", e.Phase)
	assert.True(t, e.Temporary)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 2*time.Second)

	_, err = Deliver(context.Background(), Options{Addr: p.addr, Timeouts: Timeouts{Greeting: 150 * time.Millisecond}}, Message{To: one, Body: strings.NewReader("x")})
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "greeting", e.Phase)
	assert.Contains(t, err.Error(), "no greeting reply within 150ms")

	// nothing listens on a closed port
	addr := p.addr
	p.ln.Close()
	_, err = Deliver(context.Background(), Options{Addr: addr, Timeouts: fast}, Message{To: one, Body: strings.NewReader("x")})
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "connect", e.Phase)
	assert.True(t, e.Temporary)
}

func TestConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		o         Options
		m         Message
		temporary bool // our settings (fixed by a commit) rather than the message
	}{
		"level":         {Options{Addr: "127.0.0.1:25", Level: "sometimes"}, Message{To: one, Body: strings.NewReader("")}, true},
		"addr":          {Options{Addr: "127.0.0.1"}, Message{To: one, Body: strings.NewReader("")}, true},
		"no rcpt":       {Options{Addr: "127.0.0.1:25"}, Message{Body: strings.NewReader("")}, false},
		"no body":       {Options{Addr: "127.0.0.1:25"}, Message{To: one}, false},
		"bad source ip": {Options{Addr: "127.0.0.1:25", LocalAddr: "eth0"}, Message{To: one, Body: strings.NewReader("")}, true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Deliver(context.Background(), tc.o, tc.m)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "config", e.Phase)
			assert.Equal(t, tc.temporary, e.Temporary)
		})
	}
}

func TestLocalAddrAndConnectedEvent(t *testing.T) {
	p := startPeer(t, peerOpts{})
	var got []Event
	_, err := Deliver(context.Background(), Options{Addr: p.addr, LocalAddr: "127.0.0.1", Timeouts: fast, Events: func(e Event) { got = append(got, e) }},
		Message{To: one, Body: strings.NewReader("x")})
	require.NoError(t, err)
	_, port, _ := strings.Cut(p.addr, ":")
	assert.Equal(t, "interface 127.0.0.1 address 127.0.0.1 port "+port, got[0].Detail)
}

func TestTLSFailureReason(t *testing.T) {
	// a received alert, in the shape crypto/tls reports it
	te := tlsFailure(&net.OpError{Op: "remote error", Err: tls.AlertError(40)}, time.Second)
	assert.Equal(t, "(336151568, 'error:14094410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure')", te.Reason)
	assert.False(t, te.VersionMismatch)
	te = tlsFailure(errors.New("tls: server selected unsupported protocol version 301"), time.Second)
	assert.True(t, te.VersionMismatch)
	assert.Equal(t, "(338030850, 'error:1425F102:SSL routines:ssl_choose_client_version:unsupported protocol') TLS version mismatch could be the failure reason", te.Reason)
	te = tlsFailure(errors.New("tls: some 'odd' failure"), time.Second)
	assert.Equal(t, `(0, 'tls: some "odd" failure')`, te.Reason)
	assert.False(t, te.VersionMismatch)
}

func TestProbeNegotiatesWithoutSendingMail(t *testing.T) {
	pk := getPKI(t)
	p := startPeer(t, peerOpts{startTLS: "ok", tls: &tls.Config{Certificates: []tls.Certificate{pk.selfSigned}, MinVersion: tls.VersionTLS13}})
	res, err := Probe(context.Background(), Options{Addr: p.addr, ServerName: "mx.example.test", Level: PreferredVerify, TLS: &tls.Config{RootCAs: pk.roots}})
	require.NoError(t, err)
	require.NotNil(t, res.TLS)
	assert.Equal(t, uint16(tls.VersionTLS13), res.TLS.Version)
	assert.False(t, res.Verified, "a self-signed peer does not verify")
	assert.Error(t, res.VerifyErr)
	assert.Empty(t, res.Delivered)
	p.mu.Lock()
	for _, sess := range p.sess {
		for _, c := range sess.cmds {
			assert.False(t, strings.HasPrefix(c, "MAIL"), "a probe never starts a mail transaction")
		}
	}
	p.mu.Unlock()
	_, err = Probe(context.Background(), Options{Addr: p.addr, Level: "sometimes"})
	assert.ErrorContains(t, err, "unknown TLS level")
}
