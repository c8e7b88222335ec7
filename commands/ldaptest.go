package commands

import (
	"errors"
	"fmt"

	"relaybox/config"
	"relaybox/mailengine/ldapcheck"
	"relaybox/shell"
)

func ldaptest(app *App) shell.Command {
	run := func(s *shell.Session, query, addr string) error {
		if app.LDAP == nil {
			return fmt.Errorf("LDAP tests are not available in this shell")
		}
		s.Println()
		_, err := app.LDAP.Test(s.Context(), s.Pending.Config(), query, addr, func(format string, a ...any) { s.Printf(format+"\n", a...) })
		if errors.Is(err, ldapcheck.ErrNoAnswer) {
			return nil // the report said what failed and what to change
		}
		return err
	}
	return command("ldaptest", "Perform a single LDAP query test: an accept query for an address.", `Runs an LDAP accept query for an address on each server of its profile in
turn, on a new connection (no cache), and shows every step: the connection,
the TLS session (version, cipher, the server's chain and whether it verifies
and carries the host name per sslconfig PEER_CERT_X509 and PEER_CERT_FQDN,
said even when they are not enforced, whether the server asked for a client
certificate and whether one was sent), the bind, the filter and the answer.
Each failure says what to change. Uses the pending configuration, so a
profile can be tested before commit.

Batch form:
  ldaptest QUERY ADDRESS      e.g. ldaptest PublicLDAP.ldapaccept alice@example.com`, func(s *shell.Session, args []string) error {
		if len(args) != 2 {
			return usage("ldaptest", "ldaptest QUERY ADDRESS")
		}
		if _, err := s.Pending.Config().FindAcceptQuery(args[0]); err != nil {
			return err
		}
		if err := config.CheckEmail(args[1]); err != nil {
			return err
		}
		return run(s, args[0], args[1])
	}, func(s *shell.Session) error {
		c := s.Pending.Config()
		var names, texts []string
		for _, p := range c.LDAP.Profiles {
			if p.AcceptQuery != "" {
				names, texts = append(names, p.QueryName()), append(texts, p.QueryName()+" "+p.AcceptQuery)
			}
		}
		if len(names) == 0 {
			return fmt.Errorf("there is no LDAP accept query: create a server configuration with ldapconfig NEW")
		}
		i, err := pickFrom(s, "Select which LDAP query to test:", numbered(names, texts), 0)
		if err != nil {
			return err
		}
		addr, err := askNew(s, "Address to use in LDAP query:", func(a string) error { return config.CheckEmail(a) })
		if err != nil {
			return err
		}
		return run(s, names[i], addr)
	})
}
