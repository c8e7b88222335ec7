// Package smtpclient delivers messages to an SMTP server with the
// appliance's outbound TLS levels (none, preferred, required,
// preferred-verify, required-verify): Deliver sends one message over a
// connection of its own; Dial opens a Conn that carries several messages
// one after the other (Send), which is how the delivery engine reuses
// connections.
//
// It is a small client on net/textproto and crypto/tls rather than
// go-smtp's, because go-smtp's client cannot do opportunistic STARTTLS.
//
// # TLS levels
//
//   - none: STARTTLS is never sent.
//   - preferred: STARTTLS is sent when advertised. When it is not
//     advertised, or the command gets a reply other than 220, delivery
//     continues in clear on the same connection (a refused command gives a
//     TLSFailed event). When the server said 220 but the handshake fails,
//     there is no fallback on that connection: Deliver returns a temporary
//     *Error (Phase "tls") and Result.FallbackClear, and the caller may retry
//     once, in clear, on a new connection with level none. The certificate
//     is not checked.
//   - required: STARTTLS must be advertised, accepted and negotiated, or the
//     attempt fails temporarily (ErrNoSTARTTLS, ErrSTARTTLSRefused, or a
//     *TLSError).
//   - preferred-verify: as preferred, and the certificate is verified against
//     Options.TLS.RootCAs (the host name too when Options.VerifyHostname).
//     A verification failure does not stop delivery: it goes on over TLS and
//     Result.Verified is false with Result.VerifyErr set.
//   - required-verify: TLS must be negotiated and the certificate must
//     verify, or the attempt fails temporarily (Phase "verify").
//
// Verification is done after the handshake (crypto/tls's own is disabled),
// which is what lets preferred-verify keep going. A TLS handshake failure is
// described like the appliance's OpenSSL-based log does, e.g.
// "(336151598, 'error:1409442E:SSL routines:ssl3_read_bytes:tlsv1 alert
// protocol version') TLS version mismatch could be the failure reason", for
// "DCID n TLS deferring: <reason>".
//
// # Protocol
//
// EHLO, or HELO when EHLO gets a 5xx reply (then no STARTTLS, PIPELINING,
// SIZE or SMTPUTF8); EHLO again after STARTTLS; SIZE=n on MAIL when SIZE is
// advertised, and a permanent failure without sending MAIL when the message
// is larger than the server's limit; SMTPUTF8 on MAIL when the message needs
// it and the server offers it (see Message.UTF8 for a server that does
// not); MAIL and all RCPTs in one write when PIPELINING is advertised; QUIT
// at the end, its errors ignored.
//
// Addresses go on the wire exactly as given (a quoted local part in its
// quotes). Each is checked with address.Valid first: a recipient that fails
// is refused alone (553 5.1.3 in Result.Rejected, never sent), a sender
// that fails fails the message (5.1.7).
//
// The message goes through a DotWriter: bare CR and bare LF become CRLF,
// lines starting with "." are dot-stuffed, lines over MaxLineLength octets
// are broken with CRLF SPACE, and the data ends with CRLF "." CRLF.
//
// On a Conn, the next transaction follows the final dot's reply directly,
// and starts with RSET when the previous one ended early (MAIL refused,
// every RCPT refused, DATA refused); after an I/O error, a malformed reply
// or a 421 the Conn is no longer Usable. A 421 reply at any point is a
// temporary failure of the attempt. Every step has a deadline from
// Options.Timeouts.
//
// # Contexts
//
// Cancelling the context of Dial or Send before the final dot closes the
// connection: the server got no end of data, so nothing was accepted. After
// the final dot, the reply is still awaited, for Timeouts.Stop at most
// (DefaultStop, 30 s), because the server may have taken the message and
// only its reply says so; an *Error with AfterDot set means it did not come.
// A Conn whose Send context ended takes no further message; Close says QUIT
// within the same bound.
package smtpclient
