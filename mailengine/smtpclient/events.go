package smtpclient

import (
	"crypto/tls"
	"strconv"
)

// EventKind says which step of a delivery an Event reports.
type EventKind int

// Event kinds, in the order they can occur.
const (
	// Connected: the TCP connection is up. Detail:
	// "interface <local ip> address <remote ip> port <port>".
	Connected EventKind = iota + 1
	// TLSSuccess: the handshake completed. Detail:
	// "protocol TLSv1.3 cipher TLS_AES_256_GCM_SHA384" (OpenSSL names for
	// TLS ≤ 1.2 suites, IANA names for TLS 1.3); State is set.
	TLSSuccess
	// TLSFailed: STARTTLS got a reply other than 220. Detail:
	// "STARTTLS unexpected response: 454 4.7.0 TLS not available". At the
	// preferred levels delivery continues in clear on the same connection.
	TLSFailed
	// TLSDeferred: the attempt ends because of TLS (handshake failure at any
	// level, or a required level that cannot be met). Detail is the reason
	// for "DCID n TLS deferring: <reason>".
	TLSDeferred
	// CertVerified: the peer certificate verified (verify levels only).
	// Detail: the certificate's subject.
	CertVerified
	// CertUnverified: verification failed (verify levels only). Detail: the
	// error. preferred-verify continues over TLS; required-verify is followed
	// by TLSDeferred.
	CertUnverified
	// MailReply: the reply to MAIL FROM. Detail: "<from> <reply>".
	MailReply
	// RcptReply: the reply to one RCPT TO. Detail: "<rcpt> <reply>".
	RcptReply
	// DataReply: the reply to the DATA command when it is not 354, or the
	// reply to the final dot. Detail: the reply.
	DataReply
	// Closed: the connection was closed (after QUIT or on error).
	Closed
)

var kindNames = [...]string{
	Connected: "Connected", TLSSuccess: "TLSSuccess", TLSFailed: "TLSFailed",
	TLSDeferred: "TLSDeferred", CertVerified: "CertVerified", CertUnverified: "CertUnverified",
	MailReply: "MailReply", RcptReply: "RcptReply", DataReply: "DataReply", Closed: "Closed",
}

func (k EventKind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event reports one step of a delivery, for mail_logs. Options.Events is
// called on Deliver's goroutine, in order.
type Event struct {
	Kind   EventKind
	Detail string
	State  *tls.ConnectionState // TLSSuccess only
}
