package config

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// APIToken is one REST API token of an account (userconfig APITOKENS). The
// token itself is shown once, when it is made; the configuration keeps only
// its SHA-256, so a saved or masked configuration cannot be used to log in.
type APIToken struct {
	// Label names the token for its owner ("deploy-script"), as CheckName allows.
	Label string `yaml:"label"`
	// Hash is "sha256:" and the hex SHA-256 of the token; never shown (Masked).
	Hash    string    `yaml:"hash"`
	Created time.Time `yaml:"created"`
}

// KindAPIToken names API tokens in messages.
const KindAPIToken = "API token"

// APITokenPrefix starts every token, so that a leaked one is recognisable.
const APITokenPrefix = "rbx_"

// MaxAPITokens is how many tokens an account may have.
const MaxAPITokens = 10

// NewAPIToken makes a random token (APITokenPrefix and 43 base64url
// characters: 256 bits) and the hash AddAPIToken stores.
func NewAPIToken() (token, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("making an API token: %w", err)
	}
	token = APITokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, APITokenHash(token), nil
}

// APITokenHash is the stored form of a token.
func APITokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func isTokenHash(h string) bool {
	rest, ok := strings.CutPrefix(h, "sha256:")
	if !ok || len(rest) != 64 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// AddAPIToken gives the account a token (its hash from NewAPIToken) named label.
func (c *Config) AddAPIToken(name, label, hash string, created time.Time) error {
	if err := CheckName(KindAPIToken, label); err != nil {
		return err
	}
	if !isTokenHash(hash) {
		return fmt.Errorf("API token %q: not a token hash (make one with NewAPIToken)", label)
	}
	return c.editUser(name, func(u *User) error {
		if slices.ContainsFunc(u.APITokens, func(t APIToken) bool { return strings.EqualFold(t.Label, label) }) {
			return fmt.Errorf("%s already has an API token labelled %q: revoke it first or choose another label", u.Name, label)
		}
		if len(u.APITokens) >= MaxAPITokens {
			return fmt.Errorf("%s already has %d API tokens, the most an account may have: revoke one first", u.Name, MaxAPITokens)
		}
		u.APITokens = append(slices.Clone(u.APITokens), APIToken{Label: label, Hash: hash, Created: created.UTC().Truncate(time.Second)})
		return nil
	})
}

// RevokeAPIToken removes the account's token named label.
func (c *Config) RevokeAPIToken(name, label string) error {
	return c.editUser(name, func(u *User) error {
		i := slices.IndexFunc(u.APITokens, func(t APIToken) bool { return strings.EqualFold(t.Label, label) })
		if i < 0 {
			labels := make([]string, len(u.APITokens))
			for j, t := range u.APITokens {
				labels[j] = t.Label
			}
			if len(labels) == 0 {
				return fmt.Errorf("%s has no API token labelled %q: it has none", u.Name, label)
			}
			return fmt.Errorf("%s has no API token labelled %q: choose one of %s", u.Name, label, strings.Join(labels, ", "))
		}
		u.APITokens = slices.Delete(slices.Clone(u.APITokens), i, i+1)
		return nil
	})
}

// APITokenUser returns the account a presented token belongs to, and the
// token's label, or nil. Every stored hash is compared in constant time.
func (c *Config) APITokenUser(token string) (*User, string) {
	if !strings.HasPrefix(token, APITokenPrefix) {
		return nil, ""
	}
	want := []byte(APITokenHash(token))
	var found *User
	var label string
	for i := range c.Users {
		for _, t := range c.Users[i].APITokens {
			if subtle.ConstantTimeCompare([]byte(t.Hash), want) == 1 {
				found, label = &c.Users[i], t.Label
			}
		}
	}
	return found, label
}

func (v *validator) apiTokens(path string, u User) {
	for j, t := range u.APITokens {
		p := fmt.Sprintf("%s.api_tokens[%d]", path, j)
		v.add(p+".label", CheckName(KindAPIToken, t.Label))
		v.check(isTokenHash(t.Hash), p+".hash", "user %q: API token %q has no token hash (sha256:HEX): revoke it and make a new one (userconfig APITOKENS)", u.Name, t.Label)
	}
}
