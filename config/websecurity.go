package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// WebSecurity is websecurityconfig: URL filtering, where each accepted
// message's URLs are looked up at a web security service over mutual TLS
// (docs/websecurity.md).
type WebSecurity struct {
	// Enabled turns URL filtering on.
	Enabled bool `yaml:"enabled"`
	// ServiceURL is the lookup endpoint of the service: https://host[:port]/path.
	ServiceURL string `yaml:"service_url"`
	// AllowList names the URL list (urllistconfig) whose URLs are never
	// looked up; "" for none.
	AllowList string `yaml:"allow_list"`
	// Certificate is the certificate profile presented to the service as
	// the client certificate; "" presents none.
	Certificate string `yaml:"certificate"`
	// InteractionTracking is Web Interaction Tracking: the service is told
	// to record the lookups of this box (the "track" field of a request).
	InteractionTracking bool `yaml:"interaction_tracking"`
}

// URLList is a named list of domains and URLs (urllistconfig).
type URLList struct {
	Name string `yaml:"name"`
	// Entries are domains (example.com: that host and its subdomains) and
	// URL prefixes (https://example.com/path), as ParseURLListEntries keeps them.
	Entries []string `yaml:"entries"`
}

func (l URLList) key() string { return l.Name }

// KindURLList is how the messages name a URL list.
const KindURLList = "URL list"

// CheckServiceURL checks the web security service URL: HTTPS, with a host.
func CheckServiceURL(s string) error {
	const fix = "enter an https URL such as https://websec.example.com/lookup"
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return fmt.Errorf("An http/https URL must consist of a scheme, a host and a path: %q is not a URL; %s", s, fix)
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return fmt.Errorf("The value must be an https URL: %q is not (the lookups go over mutual TLS); %s", s, fix)
	}
	if u.Hostname() == "" || u.User != nil || u.Fragment != "" || strings.ContainsAny(s, " \t") {
		return fmt.Errorf("The value must be an https URL with a host and no user or fragment: %q is not; %s", s, fix)
	}
	if p := u.Port(); p != "" {
		if _, err := ParsePort(p); err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
	}
	return nil
}

// ParseURLListEntries checks and normalises the entries of a URL list: a
// domain (example.com, or .example.com: both match the host and its
// subdomains) or an http/https URL prefix. Domains are lowercased and kept
// without a leading dot; duplicates are dropped.
func ParseURLListEntries(items []string) ([]string, error) {
	var out []string
	for _, it := range items {
		e, err := parseURLListEntry(it)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("a URL list needs at least one entry: enter domains (example.com) or URLs (https://example.com/path), separated by commas")
	}
	return out, nil
}

func parseURLListEntry(it string) (string, error) {
	it = strings.TrimSpace(it)
	if strings.Contains(it, "://") {
		u, err := url.Parse(it)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || strings.ContainsAny(it, " \t") {
			return "", fmt.Errorf("%q is not a URL list entry: write a domain (example.com) or an http/https URL (https://example.com/path)", it)
		}
		u.Host = strings.ToLower(u.Host)
		return u.String(), nil
	}
	d := strings.ToLower(strings.TrimPrefix(it, "."))
	if net.ParseIP(d) == nil && (d == "" || CheckDomain(d) != nil) {
		return "", fmt.Errorf("%q is not a URL list entry: write a domain (example.com) or an http/https URL (https://example.com/path)", it)
	}
	return d, nil
}

// Allows reports whether the list has u: its host is one of the list's
// domains or below one, or u starts with one of its URLs.
func (l URLList) Allows(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(p.Hostname(), "."))
	p.Host = strings.ToLower(p.Host)
	norm := p.String()
	for _, e := range l.Entries {
		if strings.Contains(e, "://") {
			if strings.HasPrefix(norm, e) {
				return true
			}
			continue
		}
		if host == e || strings.HasSuffix(host, "."+e) {
			return true
		}
	}
	return false
}

// URLList returns the URL list with that name (case-insensitive), or nil.
func (c *Config) URLList(name string) *URLList {
	if i := find(c.URLLists, name); i >= 0 {
		return &c.URLLists[i]
	}
	return nil
}

// FindURLList returns the URL list with that name.
func (c *Config) FindURLList(name string) (*URLList, error) {
	if l := c.URLList(name); l != nil {
		return l, nil
	}
	return nil, errNoURLList(name)
}

func errNoURLList(name string) error {
	return fmt.Errorf("%s %q does not exist: choose one listed by urllistconfig", KindURLList, name)
}

// PutURLList adds a URL list, or replaces the one named old ("" adds).
func (c *Config) PutURLList(old string, l URLList) error {
	i, err := slot(c.URLLists, KindURLList, old, func(string, string) error { return errNoURLList(old) })
	if err != nil {
		return err
	}
	v := &validator{bare: true}
	v.urlList("", l, keys(c.URLLists, i))
	if err := v.err(); err != nil {
		return err
	}
	if i >= 0 && !strings.EqualFold(c.URLLists[i].Name, l.Name) && strings.EqualFold(c.WebSecurity.AllowList, c.URLLists[i].Name) {
		c.WebSecurity.AllowList = l.Name // a rename follows its user
	}
	l.Entries = slices.Clone(l.Entries)
	c.URLLists = put(c.URLLists, i, l)
	return nil
}

// DeleteURLList removes a URL list that websecurityconfig does not use.
func (c *Config) DeleteURLList(name string) error {
	l, err := c.FindURLList(name)
	if err != nil {
		return err
	}
	if strings.EqualFold(c.WebSecurity.AllowList, l.Name) {
		return fmt.Errorf("%s %q is used by websecurityconfig (its URL allow list): choose another list there first", KindURLList, l.Name)
	}
	return remove(&c.URLLists, KindURLList, l.Name, func(string, string) error { return errNoURLList(name) })
}

// SetWebSecurity changes the URL filtering settings (websecurityconfig).
func (c *Config) SetWebSecurity(w WebSecurity) error {
	v := &validator{bare: true}
	v.webSecurity(c, "", w)
	if err := v.err(); err != nil {
		return err
	}
	if l := c.URLList(w.AllowList); l != nil {
		w.AllowList = l.Name
	}
	if cert := c.Certificate(w.Certificate); cert != nil {
		w.Certificate = cert.Name
	}
	c.WebSecurity = w
	return nil
}

func (v *validator) urlList(path string, l URLList, others []string) {
	v.add(join(path, "name"), CheckName(KindURLList, l.Name))
	v.add(join(path, "name"), nameClash(KindURLList, l.Name, others))
	if _, err := ParseURLListEntries(l.Entries); err != nil {
		v.add(join(path, "entries"), err)
	}
}

func (v *validator) webSecurity(c *Config, path string, w WebSecurity) {
	if w.Enabled || w.ServiceURL != "" {
		v.add(join(path, "service_url"), CheckServiceURL(w.ServiceURL))
	}
	if w.AllowList != "" && c.URLList(w.AllowList) == nil {
		v.add(join(path, "allow_list"), errNoURLList(w.AllowList))
	}
	if w.Certificate != "" {
		if cert := c.Certificate(w.Certificate); cert == nil {
			v.add(join(path, "certificate"), fmt.Errorf("certificate %q does not exist: choose one listed by certconfig", w.Certificate))
		}
	}
}

// webSecurityAll checks the section and the URL lists in the whole document.
func (v *validator) webSecurityAll(c *Config) {
	for i, l := range c.URLLists {
		v.urlList(fmt.Sprintf("url_lists[%d]", i), l, keys(c.URLLists[:i], -1))
	}
	v.webSecurity(c, "web_security", c.WebSecurity)
}

// join is a field path under path ("" for a bare validator's object).
func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}
