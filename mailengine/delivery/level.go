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
