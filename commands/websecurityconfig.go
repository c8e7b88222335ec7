package commands

import (
	"fmt"
	"strings"

	"relaybox/config"
	"relaybox/shell"
)

const websecurityconfigForm = "websecurityconfig [enable|disable] [url=HTTPS_URL] [allowlist=LIST|none] [certificate=NAME|none] [tracking=yes|no]"

// websecurityconfig is AsyncOS's linear URL filtering dialog (reference §7,
// seed 003): enable or disable, then — ours — the service URL, the URL allow
// list, the client certificate and Web Interaction Tracking.
func websecurityconfig() shell.Command {
	return command("websecurityconfig", "Configure URL filtering: the web security service, its client certificate, the URL allow list.", `Asks, in order:
  Enable URL Filtering? (Disable URL Filtering? when it is on; the
      settings are kept for the next time it is enabled)
  the URL of the web security service (https only)
  whether to exempt the URLs of a URL list (urllistconfig) from lookups,
      and which list
  whether to present a client certificate to the service (mutual TLS),
      and which certificate (certconfig)
  whether to enable Web Interaction Tracking
With URL filtering on, the URLs of each accepted message are looked up at the
service before the message is delivered; the verdict is logged in mail_logs and
added as the header X-Relaybox-URL-Reputation. A service that cannot be reached
never delays acceptance nor loses mail (see docs/websecurity.md).
The sslconfig settings OTHER_CLIENT_TLSV10, PEER_CERT_X509 and PEER_CERT_FQDN
govern the connection; websecuritydiagnostics tests it. Changes are pending
until commit.

Batch form:
  `+websecurityconfigForm+`
  e.g. websecurityconfig enable url=https://websec.example.com/lookup certificate=WebSec`, func(s *shell.Session, args []string) error {
		return webSecurityBatch(s, args)
	}, webSecurityDialog)
}

func webSecurityDialog(s *shell.Session) error {
	c := s.Pending.Config()
	w := c.WebSecurity
	if !w.Enabled {
		on, err := s.YesNo("Enable URL Filtering?", false)
		if err != nil || !on {
			return err
		}
		w.Enabled = true
	} else {
		off, err := s.YesNo("Disable URL Filtering?", false)
		if err != nil {
			return err
		}
		if off {
			w.Enabled = false
			return c.SetWebSecurity(w)
		}
	}
	u, err := s.Text("Enter the URL of the web security service (https://host[:port]/path).", w.ServiceURL, config.CheckServiceURL)
	if err != nil {
		return err
	}
	w.ServiceURL = u
	if w.AllowList, err = askAllowList(s, c, w.AllowList); err != nil {
		return err
	}
	if w.Certificate, err = askWebSecurityCertificate(s, c, w.Certificate); err != nil {
		return err
	}
	if w.InteractionTracking, err = s.YesNo("Do you want to enable Web Interaction Tracking?", w.InteractionTracking); err != nil {
		return err
	}
	return c.SetWebSecurity(w)
}

// askAllowList asks whether URLs of a URL list are exempt, and which list.
func askAllowList(s *shell.Session, c *config.Config, current string) (string, error) {
	use, err := s.YesNo("Do you want to whitelist URLs using a URL list? (their URLs are never looked up)", current != "")
	if err != nil || !use {
		return "", err
	}
	if len(c.URLLists) == 0 {
		s.Println("There are no URL lists: create one with urllistconfig, then run websecurityconfig again.")
		return "", nil
	}
	names, texts := make([]string, len(c.URLLists)), make([]string, len(c.URLLists))
	for i, l := range c.URLLists {
		names[i], texts[i] = l.Name, fmt.Sprintf("%s (%d entries)", l.Name, len(l.Entries))
	}
	def := max(indexOf(names, current), 1)
	i, err := pickFrom(s, "Enter the number of URL list:", numbered(names, texts), def)
	if err != nil {
		return "", err
	}
	return names[i], nil
}

// askWebSecurityCertificate asks whether a client certificate is presented,
// and which: seed 003's question and numbered list.
func askWebSecurityCertificate(s *shell.Session, c *config.Config, current string) (string, error) {
	set, err := s.YesNo("Do you want to set client certificate for Cisco Web Security Services Authentication?", current != "")
	if err != nil || !set {
		return "", err
	}
	names := certificateNames(c)
	if len(names) == 0 {
		return "", fmt.Errorf("there are no certificates: create one with certconfig")
	}
	for {
		i, err := pickFrom(s, "Choose the certificate to present to the web security service:", numbered(names, names), max(indexOf(names, current), 1))
		if err != nil {
			return "", err
		}
		if strings.EqualFold(names[i], current) {
			return names[i], nil
		}
		if ok, err := confirmDemo(s, names[i]); err != nil || ok {
			return names[i], err
		}
	}
}

func webSecurityBatch(s *shell.Session, args []string) error {
	c := s.Pending.Config()
	w := c.WebSecurity
	switch strings.ToLower(args[0]) {
	case "enable":
		w.Enabled, args = true, args[1:]
	case "disable":
		w.Enabled, args = false, args[1:]
	}
	kv, err := parseKV(args, "url", "allowlist", "certificate", "tracking")
	if err != nil {
		return fmt.Errorf("%w; usage: %s", err, websecurityconfigForm)
	}
	none := func(v string) string {
		if strings.EqualFold(v, "none") {
			return ""
		}
		return v
	}
	if v, ok := kv["url"]; ok {
		w.ServiceURL = v
	}
	if v, ok := kv["allowlist"]; ok {
		w.AllowList = none(v)
	}
	if v, ok := kv["certificate"]; ok {
		w.Certificate = none(v)
	}
	if v, ok := kv["tracking"]; ok {
		if w.InteractionTracking, err = onOff("websecurityconfig tracking", v); err != nil {
			return err
		}
	}
	return c.SetWebSecurity(w)
}
