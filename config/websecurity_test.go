package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func webSecurityBase(t *testing.T) *Config {
	f := DefaultPorts
	f.Hostname, f.Demo, f.AdminHash = "box.example.test", testCert, "$2a$10$abcdefghijklmnopqrstuv"
	c := Defaults(f)
	require.NoError(t, c.PutURLList("", URLList{Name: "Trusted", Entries: []string{"example.com"}}))
	require.NoError(t, c.SetWebSecurity(WebSecurity{Enabled: true, ServiceURL: "https://ws.example.test:8443/lookup", AllowList: "trusted", Certificate: "demo"}))
	require.NoError(t, Validate(c))
	return c
}

func TestCheckServiceURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://ws.example.test/lookup", ""},
		{"https://127.0.0.1:8443/", ""},
		{"http://ws.example.test/lookup", "must be an https URL"},
		{"ws.example.test", "must be an https URL"},
		{"", "must consist of a scheme"},
		{"https:///nohost", "with a host"},
		{"https://user:pw@ws.example.test/", "no user"},
		{"https://ws.example.test:99999/", "out of range"},
	}
	for _, tt := range tests {
		err := CheckServiceURL(tt.in)
		if tt.want == "" {
			assert.NoError(t, err, tt.in)
		} else {
			assert.ErrorContains(t, err, tt.want, tt.in)
		}
	}
}

func TestURLListEntries(t *testing.T) {
	got, err := ParseURLListEntries([]string{"Example.COM", ".example.com", "https://Docs.Example.org/guide", "192.0.2.1"})
	require.NoError(t, err)
	assert.Equal(t, []string{"example.com", "https://docs.example.org/guide", "192.0.2.1"}, got)
	for _, bad := range []string{"not..domain", "ftp://x.example/", "https://", "a b"} {
		_, err := ParseURLListEntries([]string{bad})
		assert.ErrorContains(t, err, "is not a URL list entry", bad)
	}
	_, err = ParseURLListEntries(nil)
	assert.ErrorContains(t, err, "at least one entry")

	l := URLList{Name: "L", Entries: got}
	for u, want := range map[string]bool{
		"https://example.com/x":             true,
		"http://www.EXAMPLE.com./a":         true,
		"https://notexample.com/":           false,
		"https://docs.example.org/guide/p1": true,
		"https://DOCS.example.org/guide":    true,
		"https://docs.example.org/other":    false,
		"http://192.0.2.1/":                 true,
		"https://example.com.evil.test/":    false,
		"::not a url":                       false,
	} {
		assert.Equal(t, want, l.Allows(u), u)
	}
}

func TestWebSecurityEdits(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config) error
		want string
	}{
		{"plain http", func(c *Config) error {
			w := c.WebSecurity
			w.ServiceURL = "http://ws.example.test/"
			return c.SetWebSecurity(w)
		}, "must be an https URL"},
		{"enabled without URL", func(c *Config) error {
			return c.SetWebSecurity(WebSecurity{Enabled: true})
		}, "is not a URL"},
		{"unknown certificate", func(c *Config) error {
			w := c.WebSecurity
			w.Certificate = "Ghost"
			return c.SetWebSecurity(w)
		}, `certificate "Ghost" does not exist: choose one listed by certconfig`},
		{"unknown list", func(c *Config) error {
			w := c.WebSecurity
			w.AllowList = "Ghost"
			return c.SetWebSecurity(w)
		}, `URL list "Ghost" does not exist: choose one listed by urllistconfig`},
		{"certificate in use", func(c *Config) error {
			c.Listeners, c.Interfaces[0].HTTPSPort = nil, 0 // only websecurityconfig uses Demo now
			return c.DeleteCertificate("Demo")
		}, `certificate "Demo" is in use by websecurityconfig (the web security client certificate)`},
		{"list in use", func(c *Config) error { return c.DeleteURLList("TRUSTED") }, `URL list "Trusted" is used by websecurityconfig`},
		{"list twice", func(c *Config) error {
			return c.PutURLList("", URLList{Name: "trusted", Entries: []string{"a.example"}})
		}, `a URL list named "trusted" already exists`},
		{"list bad entry", func(c *Config) error {
			return c.PutURLList("Trusted", URLList{Name: "Trusted", Entries: []string{"bad..x"}})
		}, "is not a URL list entry"},
		{"list unknown", func(c *Config) error { return c.DeleteURLList("Ghost") }, `URL list "Ghost" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := webSecurityBase(t)
			before := c.Clone()
			err := tt.edit(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			if tt.name != "certificate in use" { // that one clears the other users first
				assert.Equal(t, before, c, "a refused edit changes nothing")
			}
		})
	}
}

func TestWebSecurityNamesAndValidate(t *testing.T) {
	c := webSecurityBase(t)
	assert.Equal(t, "Trusted", c.WebSecurity.AllowList, "names are kept as the list spells them")
	assert.Equal(t, "Demo", c.WebSecurity.Certificate)
	require.NoError(t, c.PutURLList("trusted", URLList{Name: "Partners", Entries: []string{"partner.example"}}))
	assert.Equal(t, "Partners", c.WebSecurity.AllowList, "a rename follows its user")
	w := c.WebSecurity
	w.Enabled, w.AllowList = false, ""
	require.NoError(t, c.SetWebSecurity(w))
	require.NoError(t, c.DeleteURLList("partners"))

	c.WebSecurity.ServiceURL = "http://x.example/"
	c.WebSecurity.Certificate = "Ghost"
	err := Validate(c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "web_security.service_url: The value must be an https URL")
	assert.Contains(t, err.Error(), `web_security.certificate: certificate "Ghost" does not exist`)
	c.WebSecurity = WebSecurity{}
	c.URLLists = []URLList{{Name: "A", Entries: []string{"bad..x"}}}
	assert.ErrorContains(t, Validate(c), "url_lists[0].entries:")
}
