package config

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"
)

// testKey is a fixed ed25519 public key as one authorized_keys line.
func testKey(t testing.TB, seed byte, comment string) (string, ssh.PublicKey) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytesOf(seed, ed25519.SeedSize))
	pub, err := ssh.NewPublicKey(priv.Public())
	require.NoError(t, err)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if comment != "" {
		line += " " + comment
	}
	return line, pub
}

func bytesOf(b byte, n int) []byte { return []byte(strings.Repeat(string(rune(b)), n))[:n] }

func TestDocumentWithoutRolesMigrates(t *testing.T) {
	c := testDefaults()
	c.Users = append(c.Users, User{Name: "ops", PasswordHash: "$2a$10$abcdefghijklmnopqrstuv"})
	c.PasswordPolicy = PasswordPolicy{}
	c.Users[0].Role = ""
	data, err := c.Encode()
	require.NoError(t, err)
	old := strings.ReplaceAll(string(data), "    role: \"\"\n", "")
	old = old[:strings.Index(old, "password_policy:")] + old[strings.Index(old, "rollback:"):]
	require.NotContains(t, old, "role:")
	require.NotContains(t, old, "password_policy")
	d, err := Decode([]byte(old))
	require.NoError(t, err)
	assert.Equal(t, RoleAdmin, d.Users[0].Role, "an account from before roles is an administrator")
	assert.Equal(t, RoleAdmin, d.Users[1].Role)
	assert.Equal(t, DefaultPasswordPolicy(), d.PasswordPolicy)
	require.NoError(t, Validate(d))
}

func TestDefaultsMakeAOneTimeAdminPassword(t *testing.T) {
	c := testDefaults()
	require.Len(t, c.Users, 1)
	u := c.Users[0]
	assert.Equal(t, User{Name: "admin", FullName: "Administrator", Role: RoleAdmin, PasswordHash: "$2a$10$abcdefghijklmnopqrstuv", MustChangePassword: true}, u)
	assert.Equal(t, PasswordPolicy{MinLength: 8, NotUserName: true, NotPrevious: true, LockoutAfter: 5, LockoutTime: Duration(15 * time.Minute)}, c.PasswordPolicy)
	f := DefaultPorts
	f.Hostname, f.Demo, f.AdminHash, f.AdminPasswordChosen = "mail.example.test", testCert, "$2a$10$x", true
	assert.False(t, Defaults(f).Users[0].MustChangePassword, "a password the operator chose is not one-time")
}

func TestAdminRule(t *testing.T) {
	key, _ := testKey(t, 1, "alice@laptop")
	tests := []struct {
		name  string
		edit  func(c *Config)
		valid bool
	}{
		{"admin with a password", func(c *Config) {}, true},
		{"only an operator", func(c *Config) { c.Users[0].Role = RoleOperator }, false},
		{"admin key-only with a key", func(c *Config) { c.Users[0].NoPasswordLogin = true; c.Users[0].SSHKeys = []string{key} }, true},
		{"admin key-only without a key", func(c *Config) { c.Users[0].NoPasswordLogin = true }, false},
		{"operator with a password beside a key-only admin without keys", func(c *Config) {
			c.Users[0].NoPasswordLogin = true
			c.Users = append(c.Users, User{Name: "ops", Role: RoleOperator, PasswordHash: c.Users[0].PasswordHash})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testDefaults()
			tt.edit(c)
			err := Validate(c)
			if tt.valid {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "users: "+noAdmin)
		})
	}
}

func TestUserValidation(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"bad role", func(c *Config) { c.Users[0].Role = "root" }, `users[0].role: "root" is not a role: use admin or operator`},
		{"two with one name", func(c *Config) { c.Users = append(c.Users, c.Users[0]); c.Users[1].Name = "ADMIN" }, `users[1].name: a user named "ADMIN" already exists`},
		{"control character in full name", func(c *Config) { c.Users[0].FullName = "A\x1b[2J" }, `users[0].full_name: "A\x1b[2J" is not a valid full name`},
		{"bad key", func(c *Config) { c.Users[0].SSHKeys = []string{"ssh-ed25519 nope"} }, `users[0].ssh_keys[0]: "ssh-ed25519 nope" is not an SSH public key`},
		{"bad previous hash", func(c *Config) { c.Users[0].PreviousHash = "plain" }, "users[0].previous_password_hash"},
		{"policy", func(c *Config) { c.PasswordPolicy.MinLength = 3 }, "password_policy.min_length: Value must be a number from 8 to 72, not 3"},
		{"lock-out count", func(c *Config) { c.PasswordPolicy.LockoutAfter = 1 }, "password_policy.lockout_after: Value must be a number from 3 to 20, not 1"},
		{"lock-out time", func(c *Config) { c.PasswordPolicy.LockoutTime = Duration(time.Second) }, "password_policy.lockout_time: Value must be a number from 10 to 86400, not 1"},
		{"ssh sessions", func(c *Config) { c.SSH.MaxSessions = 0 }, "ssh.max_sessions: Value must be a number from 1 to 1000, not 0"},
		{"ssh grace", func(c *Config) { c.SSH.LoginGrace = Duration(time.Hour) }, "ssh.login_grace: Value must be a number from 5 to 600, not 3600"},
		{"ssh idle", func(c *Config) { c.SSH.IdleTimeout = 0 }, "ssh.idle_timeout: Value must be a number from 10 to 86400, not 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testDefaults()
			tt.edit(c)
			require.ErrorContains(t, Validate(c), tt.want)
		})
	}
}

// realAdmin returns defaults whose admin has a real hash of password.
func realAdmin(t *testing.T, password string) *Config {
	t.Helper()
	c := testDefaults()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	c.Users[0].PasswordHash = string(h)
	return c
}

func TestUserEditsRefused(t *testing.T) {
	key, _ := testKey(t, 1, "")
	tests := []struct {
		name string
		edit func(c *Config) error
		want string
	}{
		{"new: name taken", func(c *Config) error { return c.AddUser(User{Name: "Admin", Role: RoleOperator}, "long-enough-1") }, `a user named "Admin" already exists`},
		{"new: bad name", func(c *Config) error { return c.AddUser(User{Name: "b ob", Role: RoleOperator}, "long-enough-1") }, `"b ob" is not a valid user name`},
		{"new: bad role", func(c *Config) error { return c.AddUser(User{Name: "bob", Role: "guest"}, "long-enough-1") }, `"guest" is not a role`},
		{"new: short password", func(c *Config) error { return c.AddUser(User{Name: "bob", Role: RoleOperator}, "short") }, "The password must be at least 8 characters long."},
		{"new: characters, not bytes", func(c *Config) error { return c.AddUser(User{Name: "bob", Role: RoleOperator}, "ééééééé") }, "at least 8 characters"},
		{"new: too long for bcrypt", func(c *Config) error {
			return c.AddUser(User{Name: "bob", Role: RoleOperator}, strings.Repeat("x", 73))
		}, "The password must be at most 72 bytes long"},
		{"new: the user name", func(c *Config) error { return c.AddUser(User{Name: "Operator1", Role: RoleOperator}, "operator1") }, "The password must not be the same as the user name."},
		{"role: last admin", func(c *Config) error { return c.SetRole("admin", RoleOperator) }, noAdmin},
		{"role: unknown", func(c *Config) error { return c.SetRole("admin", "boss") }, `"boss" is not a role`},
		{"role: no such user", func(c *Config) error { return c.SetRole("ghost", RoleAdmin) }, `user "ghost" does not exist: choose one listed by userconfig`},
		{"password login: last admin without keys", func(c *Config) error { return c.SetPasswordLogin("admin", false) }, noAdmin},
		{"delete: yourself", func(c *Config) error {
			require.NoError(t, c.AddUser(User{Name: "root2", Role: RoleAdmin}, "long-enough-1"))
			return c.DeleteUser("admin", "ADMIN")
		}, "you cannot delete your own account (admin)"},
		{"delete: last admin", func(c *Config) error {
			require.NoError(t, c.AddUser(User{Name: "ops", Role: RoleOperator}, "long-enough-1"))
			return c.DeleteUser("admin", "ops")
		}, noAdmin},
		{"key: junk", func(c *Config) error { return c.AddSSHKey("admin", "hello") }, `"hello" is not an SSH public key`},
		{"key: twice", func(c *Config) error {
			require.NoError(t, c.AddSSHKey("admin", key))
			return c.AddSSHKey("admin", key+" again")
		}, "is already authorized for admin"},
		{"key: delete the last way in", func(c *Config) error {
			require.NoError(t, c.AddSSHKey("admin", key))
			require.NoError(t, c.SetPasswordLogin("admin", false))
			return c.DeleteSSHKey("admin", 1)
		}, noAdmin},
		{"key: no such number", func(c *Config) error { return c.DeleteSSHKey("admin", 1) }, "admin has no key number 1"},
		{"policy: too short", func(c *Config) error { return c.SetPasswordPolicy(PasswordPolicy{MinLength: 4}) }, "Value must be a number from 8 to 72, not 4"},
		{"full name", func(c *Config) error { return c.SetFullName("admin", "x\ty") }, "is not a valid full name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testDefaults()
			before := c.Clone()
			users := len(c.Users)
			err := tt.edit(c)
			require.ErrorContains(t, err, tt.want)
			if len(c.Users) == users && len(c.Users[0].SSHKeys) == 0 {
				assert.True(t, SameSettings(before, c), "a refused edit changes nothing")
			}
			require.NoError(t, Validate(c), "a refused edit leaves a valid configuration")
		})
	}
}

func TestPasswordLifecycle(t *testing.T) {
	c := realAdmin(t, "first-one-time")
	require.NoError(t, c.AddUser(User{Name: "bob", FullName: "Bob Smith", Role: RoleOperator}, "chosen-by-admin"))
	bob, err := c.FindUser("BOB")
	require.NoError(t, err)
	assert.True(t, bob.MustChangePassword, "a password an administrator chose is one-time")
	assert.True(t, bob.PasswordIs("chosen-by-admin"))
	cost, err := bcrypt.Cost([]byte(bob.PasswordHash))
	require.NoError(t, err)
	assert.Equal(t, 10, cost)
	assert.Nil(t, c.LoginUser("BOB"), "a login names the account exactly")
	assert.NotNil(t, c.LoginUser("bob"))

	// bob chooses his own: not the one he has.
	_, err = c.NewPasswordHash("bob", "chosen-by-admin")
	require.ErrorContains(t, err, "The password must not be the same as the previous password.")
	h, err := c.NewPasswordHash("bob", "bobs-own-secret")
	require.NoError(t, err)
	require.NoError(t, c.SetOwnPasswordHash("bob", h))
	bob, _ = c.FindUser("bob")
	assert.False(t, bob.MustChangePassword, "passwd clears it")
	assert.True(t, bob.PasswordIs("bobs-own-secret"))
	assert.NotEmpty(t, bob.PreviousHash)

	// Nor the one before.
	_, err = c.NewPasswordHash("bob", "chosen-by-admin")
	require.ErrorContains(t, err, "previous password")
	c.PasswordPolicy.NotPrevious = false
	_, err = c.NewPasswordHash("bob", "chosen-by-admin")
	require.NoError(t, err, "the policy may allow it")

	// An administrator resets it: one-time again.
	require.NoError(t, c.SetPassword("bob", "reset-by-admin"))
	bob, _ = c.FindUser("bob")
	assert.True(t, bob.MustChangePassword)
	assert.True(t, bob.PasswordIs("reset-by-admin"))
	require.NoError(t, Validate(c))

	m := Masked(c)
	assert.Equal(t, MaskedSecret, m.Users[1].PasswordHash)
	assert.Equal(t, MaskedSecret, m.Users[1].PreviousHash)
	assert.Empty(t, m.Users[0].PreviousHash, "no previous hash, nothing to mask")
	assert.True(t, HasMaskedSecrets(m))
}

func TestSSHKeys(t *testing.T) {
	ed, edKey := testKey(t, 7, "alice@laptop")
	_, otherKey := testKey(t, 8, "")
	line, err := ParseSSHKey("  " + strings.Replace(ed, " ", "   ", 1) + "\n")
	require.NoError(t, err)
	assert.Equal(t, ed, line, "stored as type, base64, comment")
	esc, err := ParseSSHKey(ed + "\x1b[2J")
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(esc, `alice@laptop\x1b[2J`), "control characters in a comment are escaped: %s", esc)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	weak, err := ssh.NewPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)
	dss := ssh.Marshal(struct {
		Name       string
		P, Q, G, Y *big.Int
	}{"ssh-dss", new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 1023), big.NewInt(1)), new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1)), big.NewInt(2), big.NewInt(3)})
	for _, tt := range []struct{ line, want string }{
		{"", "is not an SSH public key"},
		{"ssh-ed25519", "is not an SSH public key"},
		{`from="10.0.0.1",no-pty ` + ed, `the key has authorized_keys options (from="10.0.0.1",no-pty)`},
		{ed + "\n" + ed, "that is more than one key"},
		{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(weak))), "the RSA key has 1024 bits"},
		{"ssh-dss " + base64.StdEncoding.EncodeToString(dss), "DSA keys are refused"},
	} {
		_, err := ParseSSHKey(tt.line)
		assert.ErrorContains(t, err, tt.want, "%.40q", tt.line)
	}

	c := testDefaults()
	require.NoError(t, c.AddSSHKey("admin", ed))
	u, _ := c.FindUser("admin")
	assert.True(t, u.AuthorizesKey(edKey))
	assert.False(t, u.AuthorizesKey(otherKey))
	assert.Equal(t, ssh.FingerprintSHA256(edKey), SSHKeyFingerprint(u.SSHKeys[0]))
	require.NoError(t, c.SetPasswordLogin("admin", false), "key-only is fine with a key")
	require.NoError(t, Validate(c))
	assert.False(t, c.Users[0].PasswordLogin())
	assert.True(t, c.Users[0].CanLogIn())
}

// TestCommitEditTakesEffectAlone: passwd's commit carries only its edit,
// never the session's other pending edits, and the session keeps those
// without a clash or a revert of the password.
func TestCommitEditTakesEffectAlone(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, afero.NewMemMapFs())
	rec := &recorder{}
	p := s.NewPending()
	require.NoError(t, p.Config().SetHostname("pending.example.test"))
	require.NoError(t, p.Config().AddUser(User{Name: "bob", Role: RoleOperator}, "bob-is-pending"))
	hash, err := s.Current().NewPasswordHash("admin", "admins-own-pass")
	require.NoError(t, err)
	edit := func(c *Config) error { return c.SetOwnPasswordHash("admin", hash) }
	c, err := p.CommitEdit(ctx, "admin", "passwd: admin changed their password", edit, rec)
	require.NoError(t, err)
	assert.Equal(t, 2, c.Version)
	assert.Equal(t, "mail.example.test", c.Hostname, "the session's other edits are not committed")
	assert.Len(t, c.Users, 1)
	assert.Equal(t, hash, c.Users[0].PasswordHash)
	assert.False(t, c.Users[0].MustChangePassword)
	assert.Equal(t, "passwd: admin changed their password", c.Comment)
	assert.Equal(t, []string{"users"}, ChangedSections(must(s.Version(1)), c))

	assert.Equal(t, 2, p.Base().Version, "the session is carried onto the new version")
	assert.Equal(t, "pending.example.test", p.Config().Hostname, "and keeps its edits")
	assert.Len(t, p.Config().Users, 2)
	assert.Equal(t, hash, p.Config().Users[0].PasswordHash)
	assert.NotContains(t, p.Diff(), "-     must_change_password: true", "showchanges shows only the session's edits")

	c, err = p.Commit(ctx, "admin", "the rest", rec)
	require.NoError(t, err)
	assert.Equal(t, "pending.example.test", c.Hostname)
	assert.Len(t, c.Users, 2)
	assert.Equal(t, hash, c.Users[0].PasswordHash, "the later commit keeps the password")

	// A session that edited nothing is just rebased.
	idle := s.NewPending()
	hash2, err := s.Current().NewPasswordHash("admin", "admins-next-pass")
	require.NoError(t, err)
	_, err = idle.CommitEdit(ctx, "admin", "passwd", func(c *Config) error { return c.SetOwnPasswordHash("admin", hash2) }, rec)
	require.NoError(t, err)
	assert.False(t, idle.Changed())
	assert.Empty(t, idle.Diff())

	// Another session committed first: the stale session is rebased as its commit would merge it.
	stale := s.NewPending()
	require.NoError(t, stale.Config().SetHostname("stale.example.test"))
	other := s.NewPending()
	require.NoError(t, other.Config().Trust.AddAuthority(CA{Name: "Lab", PEM: testCert.PEM}))
	_, err = other.Commit(ctx, "other", "authority", rec)
	require.NoError(t, err)
	hash3, err := s.Current().NewPasswordHash("admin", "admins-third-pass")
	require.NoError(t, err)
	c, err = stale.CommitEdit(ctx, "admin", "passwd", func(c *Config) error { return c.SetOwnPasswordHash("admin", hash3) }, rec)
	require.NoError(t, err)
	assert.Equal(t, c.Version, stale.Base().Version)
	c, err = stale.Commit(ctx, "admin", "hostname", rec)
	require.NoError(t, err)
	assert.Equal(t, "stale.example.test", c.Hostname)
	assert.Equal(t, hash3, c.Users[0].PasswordHash)
	assert.Len(t, c.Trust.CustomCAs, 1)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestLoginHash(t *testing.T) {
	h4, err := bcrypt.GenerateFromPassword([]byte("four-pass"), 4)
	require.NoError(t, err)
	h6, err := bcrypt.GenerateFromPassword([]byte("six-pass"), 6)
	require.NoError(t, err)
	key, _ := testKey(t, 7, "")
	c := &Config{Users: []User{
		{Name: "admin", Role: RoleAdmin, PasswordHash: string(h4)},
		{Name: "keys", Role: RoleOperator, PasswordHash: string(h6), NoPasswordLogin: true, SSHKeys: []string{key}},
	}}
	for _, tc := range []struct{ name, hash string }{
		{"admin", string(h4)},
		{"Admin", ""}, // logins match the name exactly
		{"keys", ""},  // password logins turned off
		{"nobody", ""},
	} {
		hash, cost := c.LoginHash(tc.name)
		assert.Equal(t, tc.hash, hash, tc.name)
		assert.Equal(t, 6, cost, "%s: the highest cost among the accounts", tc.name)
	}
}
