package delivery

import (
	"relaybox/config"
	"relaybox/mailengine/smtpclient"
)

// levelOf maps a destconfig TLS level to the client's. The mapping is
// spelled out rather than a string conversion, so that renaming either side
// cannot silently turn a level into an unknown one; an unknown value (a
// configuration the validator refused) is the safest level, Required.
func levelOf(tls string) smtpclient.Level {
	switch tls {
	case config.DestTLSNone:
		return smtpclient.None
	case config.DestTLSPreferred:
		return smtpclient.Preferred
	case config.DestTLSRequired:
		return smtpclient.Required
	case config.DestTLSPreferredVerify:
		return smtpclient.PreferredVerify
	case config.DestTLSRequiredVerify:
		return smtpclient.RequiredVerify
	}
	return smtpclient.Required
}

// AlertListener is the Envelope.Listener of the alerts delivery queues
// (destconfig "alert when a required TLS connection fails").
const AlertListener = "alert"

// alertLevel is the TLS level of an alert: with sslconfig PEER_CERT_X509
// on, an alert that would go over TLS goes only over TLS whose chain
// verifies against the trust store (and names the host, with
// PEER_CERT_FQDN on): Required (Verify). A destination without TLS
// (None) stays in clear.
func alertLevel(l smtpclient.Level, ssl config.SSL) smtpclient.Level {
	if ssl.PeerCertX509 && l != smtpclient.None {
		return smtpclient.RequiredVerify
	}
	return l
}
