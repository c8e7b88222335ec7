package webui

// The API's JSON types, for the OpenAPI document's test.
type (
	SSLShape           = sslJSON
	ServiceShape       = serviceJSON
	CertShape          = certJSON
	CertRequestShape   = certRequest
	RouteShape         = routeJSON
	DestShape          = destJSON
	ListenerTLSShape   = listenerTLSJSON
	InterfaceCertShape = interfaceCertJSON
)
