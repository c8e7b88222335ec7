package webui

// The API's JSON types, for the OpenAPI document's test.
type (
	SSLShape          = sslJSON
	ServiceShape      = serviceJSON
	CertShape         = certJSON
	CertRequestShape  = certRequest
	RouteShape        = routeJSON
	DestShape         = destJSON
	ListenerShape     = listenerJSON
	InterfaceShape    = interfaceJSON
	DestDefaultShape  = destDefaultJSON
	DestSetupShape    = destSetupJSON
	ListenerNewShape  = listenerNewJSON
	InterfaceNewShape = interfaceNewJSON
	InboundShape      = inboundJSON
	WebSecurityShape  = webSecurityJSON
	URLListShape      = urlListJSON
	DiagnosisShape    = diagnosis
	LDAPShape         = ldapJSON
	LDAPProfileShape  = ldapProfileJSON
	LDAPCertShape     = ldapCertJSON
	LDAPTestShape     = ldapTestJSON
	LDAPResultShape   = ldapResultJSON
	PKCS12Shape       = pkcs12JSON
	ImportedShape     = importedJSON
)
