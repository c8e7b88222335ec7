package smtpclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"relaybox/cipherstring"
)

// clientConfig returns the configuration of one STARTTLS handshake: a copy of
// the caller's (versions, suites, client certificate, RootCAs) that sends
// ServerName as SNI and skips crypto/tls's own verification, because a
// failed verification must not end a preferred-verify delivery; Deliver
// verifies after the handshake (verifyPeer).
func clientConfig(o *Options) *tls.Config {
	var cfg *tls.Config
	if o.TLS != nil {
		cfg = o.TLS.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = strings.TrimSuffix(o.ServerName, ".")
	}
	cfg.InsecureSkipVerify = true
	return cfg
}

// handshake runs the client handshake on raw within timeout.
func handshake(ctx context.Context, raw net.Conn, cfg *tls.Config, timeout time.Duration) (*tls.Conn, error) {
	tc := tls.Client(raw, cfg)
	_ = raw.SetDeadline(time.Now().Add(timeout))
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, err
	}
	return tc, nil
}

// verifyPeer checks the server's chain against cfg.RootCAs (the system roots
// when nil) and, when checkName is set, serverName against the leaf.
func verifyPeer(st *tls.ConnectionState, cfg *tls.Config, serverName string, checkName bool) error {
	if len(st.PeerCertificates) == 0 {
		return errors.New("the server presented no certificate")
	}
	now := time.Now()
	if cfg.Time != nil {
		now = cfg.Time()
	}
	opts := x509.VerifyOptions{Roots: cfg.RootCAs, CurrentTime: now, Intermediates: x509.NewCertPool()}
	for _, c := range st.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if checkName {
		name := strings.TrimSuffix(serverName, ".")
		if name == "" {
			return errors.New("certificate host name check requested but no server name is known")
		}
		opts.DNSName = name
	}
	if _, err := st.PeerCertificates[0].Verify(opts); err != nil {
		return fmt.Errorf("certificate verification failed: %w", err)
	}
	return nil
}

// versionName is OpenSSL's name of a protocol version, as in mail_logs.

// successDetail is the text after "TLS success " in mail_logs.
func successDetail(st *tls.ConnectionState) string {
	return "protocol " + cipherstring.VersionName(st.Version) + " cipher " + cipherstring.LogName(st.CipherSuite)
}

// mismatchHint is appended to the reason of a failure caused by protocol
// versions, as the appliance does.
const mismatchHint = "TLS version mismatch could be the failure reason"

// OpenSSL 1.1.1 packs lib, function and reason into its error numbers;
// errno and the hex code in the text are the same number.
const (
	libSSL             = 20
	fnSSL3ReadBytes    = 148 // ssl3_read_bytes: where received alerts are reported
	fnChooseClientVers = 607 // ssl_choose_client_version
	reasonAlertOffset  = 1000
	reasonUnsupported  = 258 // "unsupported protocol"
)

func opensslError(fn int, fnName string, reason int, text string) string {
	n := libSSL<<24 | fn<<12 | reason
	return fmt.Sprintf("(%d, 'error:%08X:SSL routines:%s:%s')", n, n, fnName, text)
}

// opensslAlerts names received alerts the way OpenSSL does
// (SSL_R_SSLV3_ALERT_* / SSL_R_TLSV1_ALERT_*).
var opensslAlerts = map[uint8]string{
	10: "sslv3 alert unexpected message", 20: "sslv3 alert bad record mac",
	21: "tlsv1 alert decryption failed", 22: "tlsv1 alert record overflow",
	30: "sslv3 alert decompression failure", 40: "sslv3 alert handshake failure",
	41: "sslv3 alert no certificate", 42: "sslv3 alert bad certificate",
	43: "sslv3 alert unsupported certificate", 44: "sslv3 alert certificate revoked",
	45: "sslv3 alert certificate expired", 46: "sslv3 alert certificate unknown",
	47: "sslv3 alert illegal parameter", 48: "tlsv1 alert unknown ca",
	49: "tlsv1 alert access denied", 50: "tlsv1 alert decode error",
	51: "tlsv1 alert decrypt error", 60: "tlsv1 alert export restriction",
	70: "tlsv1 alert protocol version", 71: "tlsv1 alert insufficient security",
	80: "tlsv1 alert internal error", 86: "tlsv1 alert inappropriate fallback",
	90: "tlsv1 alert user cancelled", 100: "tlsv1 alert no renegotiation",
	109: "tlsv13 alert missing extension", 110: "tlsv1 unsupported extension",
	111: "tlsv1 certificate unobtainable", 112: "tlsv1 unrecognized name",
	113: "tlsv1 bad certificate status response", 114: "tlsv1 bad certificate hash value",
	115: "tlsv1 alert unknown psk identity", 116: "tlsv13 alert certificate required",
	120: "tlsv1 alert no application protocol",
}

// goAlerts maps crypto/tls's alert texts ("tls: protocol version not
// supported") back to alert numbers: a received alert reaches us only as a
// *net.OpError{Op: "remote error"} around an unexported type with that text.
var goAlerts = func() map[string]uint8 {
	m := make(map[string]uint8, 256)
	for i := 0; i < 256; i++ {
		m[tls.AlertError(uint8(i)).Error()] = uint8(i)
	}
	return m
}()

// remoteAlert returns the alert the server sent, if err is one.
func remoteAlert(err error) (uint8, bool) {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" && oe.Err != nil {
		a, ok := goAlerts[oe.Err.Error()]
		return a, ok
	}
	return 0, false
}

// tlsFailure describes a failed handshake like the appliance's log does.
func tlsFailure(err error, timeout time.Duration) *TLSError {
	te := &TLSError{Err: err}
	var ne net.Error
	msg := err.Error()
	switch a, isAlert := remoteAlert(err); {
	case isAlert:
		text, ok := opensslAlerts[a]
		if !ok {
			text = fmt.Sprintf("tlsv1 alert %d", a)
		}
		te.Reason = opensslError(fnSSL3ReadBytes, "ssl3_read_bytes", reasonAlertOffset+int(a), text)
		te.VersionMismatch = a == 70
	case strings.Contains(msg, "unsupported protocol version") || strings.Contains(msg, "unsupported versions") ||
		strings.Contains(msg, "no supported versions") || strings.Contains(msg, "protocol version"):
		te.Reason = opensslError(fnChooseClientVers, "ssl_choose_client_version", reasonUnsupported, "unsupported protocol")
		te.VersionMismatch = true
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		te.Reason = "(0, 'connection closed by the server during the TLS handshake')"
	case errors.Is(err, syscall.ECONNRESET):
		te.Reason = "(0, 'connection reset by the server during the TLS handshake')"
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		te.Reason = fmt.Sprintf("(0, 'TLS handshake timed out after %v')", timeout)
	default:
		te.Reason = fmt.Sprintf("(0, '%s')", strings.ReplaceAll(msg, "'", "\""))
	}
	if te.VersionMismatch {
		te.Reason += " " + mismatchHint
	}
	return te
}
