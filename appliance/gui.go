package appliance

import (
	"context"

	"relaybox/certstore"
	"relaybox/config"
	"relaybox/mailengine"
	"relaybox/mailengine/websecurity"
	"relaybox/webui"
)

// Session kinds of the GUI and the API, as who and last show them.
const (
	KindGUI = webui.ServiceGUI
	KindAPI = webui.ServiceAPI
)

// newGUI is the HTTPS GUI and REST API the engine serves on each
// interface's HTTPS port: the same store, accounts, authenticator and
// session registry as the shells.
func (a *Appliance) newGUI(version string) *webui.Server {
	return webui.New(webui.Options{
		Store:    a.Store,
		Engine:   engineOf{a},
		Auth:     a.Auth,
		Certs:    a.Keys,
		Log:      a.Log,
		Queue:    a.Spool,
		Sessions: guiSessions{a.sessions},
		// The Web Security page's diagnostics and the LDAP page's test
		// query: the same as websecuritydiagnostics and ldaptest.
		WebSecurity: websecurity.Diagnostics{Keys: a.Keys, Trust: certstore.TrustPool},
		LDAP:        a.directory,
		Version:     version,
	})
}

// engineOf is the appliance's engine, made after the GUI handler it serves.
type engineOf struct{ a *Appliance }

func (e engineOf) Apply(ctx context.Context, c *config.Config) error { return e.a.Engine.Apply(ctx, c) }
func (e engineOf) Status() mailengine.Status                         { return e.a.Engine.Status() }

// guiSessions records GUI and API logins for who and last.
type guiSessions struct{ r *registry }

func (g guiSessions) Begin(user, from, kind string) (touch, end func()) {
	return g.r.begin(user, from, kind)
}
