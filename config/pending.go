package config

import (
	"context"
	"strings"
)

// Pending is one shell session's editable copy of the configuration.
type Pending struct {
	store *Store
	base  *Config // committed version this copy started from
	cfg   *Config
}

// NewPending starts a pending copy of the current committed configuration.
func (s *Store) NewPending() *Pending {
	cur := s.Current()
	return &Pending{store: s, base: cur, cfg: cur.Clone()}
}

// Config returns the editable copy.
func (p *Pending) Config() *Config { return p.cfg }

// Base returns the committed version the copy started from.
func (p *Pending) Base() *Config { return p.base }

// Changed reports whether the copy differs from the version it started from.
func (p *Pending) Changed() bool { return !SameSettings(p.base, p.cfg) }

// Snapshot returns a copy to Restore if a command is aborted.
func (p *Pending) Snapshot() *Config { return p.cfg.Clone() }

// Restore puts back a Snapshot.
func (p *Pending) Restore(c *Config) { p.cfg = c }

// Clear drops every pending edit and rebases on the current committed version.
func (p *Pending) Clear() {
	p.base = p.store.Current()
	p.cfg = p.base.Clone()
}

// Replace makes c (a loaded file or an older version) the pending copy, keeping
// the commit metadata of the base.
func (p *Pending) Replace(c *Config) {
	n := c.Clone()
	n.Version, n.Time, n.User, n.Comment = p.base.Version, p.base.Time, p.base.User, p.base.Comment
	p.cfg = n
}

// Diff shows the pending copy against the current committed version.
func (p *Pending) Diff() string {
	return Diff(Masked(p.store.Current()), Masked(p.cfg))
}

// Commit commits the pending copy and, on success, rebases the session on the new version.
func (p *Pending) Commit(ctx context.Context, user, comment string, a Applier) (*Config, error) {
	c, err := p.store.Commit(ctx, CommitRequest{Pending: p.cfg, Base: p.base, User: user, Comment: comment}, a)
	if err != nil {
		return nil, err
	}
	p.base = c
	p.cfg = c.Clone()
	return c, nil
}

// MaskedSecret replaces a secret in masked output.
const MaskedSecret = "********"

// Masked returns a copy with secrets (password hashes) replaced by MaskedSecret.
func Masked(c *Config) *Config {
	m := c.Clone()
	for i := range m.Users {
		m.Users[i].PasswordHash = MaskedSecret
	}
	return m
}

// HasMaskedSecrets reports whether a loaded document still holds masked secrets.
func HasMaskedSecrets(c *Config) bool {
	for _, u := range c.Users {
		if strings.Contains(u.PasswordHash, MaskedSecret) {
			return true
		}
	}
	return false
}
