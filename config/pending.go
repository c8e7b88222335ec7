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

// CommitEdit commits edit at once, applied to the committed configuration
// alone, whatever else this session has pending (passwd: a password takes
// effect without committing the session's other edits). The commit goes
// through the store like any other: validated, merged onto a newer version
// when the sections differ, applied, persisted.
//
// The session is then carried onto the new version, so that its own later
// commit neither reverts the edit nor clashes with it: when nothing else was
// committed in between, edit is applied to the pending copy too (edit must
// therefore give the same result twice: hash a password before, not in it);
// otherwise the session is rebased as its commit would merge it, and left
// as it is when that merge would clash (its commit then reports the clash).
func (p *Pending) CommitEdit(ctx context.Context, user, comment string, edit func(*Config) error, a Applier) (*Config, error) {
	cur := p.store.Current()
	next := cur.Clone()
	if err := edit(next); err != nil {
		return nil, err
	}
	c, err := p.store.Commit(ctx, CommitRequest{Pending: next, Base: cur, User: user, Comment: comment}, a)
	if err != nil {
		return nil, err
	}
	p.carry(cur, c, edit)
	return c, nil
}

// carry moves the session onto c, the commit of edit onto cur.
func (p *Pending) carry(cur, c *Config, edit func(*Config) error) {
	if p.base.Version == cur.Version && c.Version == cur.Version+1 {
		// c is this session's base plus edit: so is the pending copy plus edit.
		mine := p.cfg.Clone()
		if edit(mine) == nil {
			mine.Version, mine.Time, mine.User, mine.Comment = c.Version, c.Time, c.User, c.Comment
			p.base, p.cfg = c, mine
			return
		}
	}
	if merged, err := merge(p.base, p.cfg, c); err == nil {
		p.base, p.cfg = c, merged
	}
}

// MaskedSecret replaces a secret in masked output.
const MaskedSecret = "********"

// Masked returns a copy with secrets (password hashes, current and
// previous) replaced by MaskedSecret.
func Masked(c *Config) *Config {
	m := c.Clone()
	for i := range m.Users {
		m.Users[i].PasswordHash = MaskedSecret
		if m.Users[i].PreviousHash != "" {
			m.Users[i].PreviousHash = MaskedSecret
		}
		for j := range m.Users[i].APITokens {
			m.Users[i].APITokens[j].Hash = MaskedSecret
		}
	}
	m.LDAP.mask()
	return m
}

// HasMaskedSecrets reports whether a loaded document still holds masked secrets.
func HasMaskedSecrets(c *Config) bool {
	for _, u := range c.Users {
		if strings.Contains(u.PasswordHash, MaskedSecret) || strings.Contains(u.PreviousHash, MaskedSecret) {
			return true
		}
		for _, t := range u.APITokens {
			if strings.Contains(t.Hash, MaskedSecret) {
				return true
			}
		}
	}
	return c.LDAP.hasMasked()
}
