package config

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"
)

// Roles of user accounts. A session's role decides what it may do (see
// docs/access.md): an administrator everything, an operator may look and
// edit but neither commit nor change accounts (except its own password).
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
)

// Roles lists the roles in menu order, with the words userconfig shows.
var Roles = []struct{ Value, Label, Description string }{
	{RoleAdmin, "Administrators", "Administrators have full access to all settings of the system."},
	{RoleOperator, "Operators", "Operators may view and edit settings, but cannot commit them or change user accounts."},
}

// RoleLabel is a role's plural menu label ("Operators"), or the role itself.
func RoleLabel(role string) string {
	for _, r := range Roles {
		if r.Value == role {
			return r.Label
		}
	}
	return role
}

// PasswordCost is the bcrypt cost of every password hash the appliance makes.
const PasswordCost = bcrypt.DefaultCost

// MaxPasswordBytes is the longest password bcrypt reads.
const MaxPasswordBytes = 72

// PasswordLengthRange is the range of the policy's minimum length.
var PasswordLengthRange = Range{8, MaxPasswordBytes}

// DefaultPasswordLength is the policy's minimum length on first start (AsyncOS's).
const DefaultPasswordLength = 8

// PasswordPolicy is what a new password must satisfy (userconfig POLICY).
// It applies to passwords set in the shell (userconfig, passwd), not to the
// first-start password nor to hashes in a loaded file.
type PasswordPolicy struct {
	// MinLength is the fewest characters (not bytes) a password has.
	MinLength int `yaml:"min_length"`
	// NotUserName refuses a password equal to the user name, in any case.
	NotUserName bool `yaml:"not_user_name"`
	// NotPrevious refuses the current and the previous password.
	NotPrevious bool `yaml:"not_previous"`
	// LockoutAfter is how many failed logins within the lock-out time lock
	// the user name, and the address they came from (GUI and SSH together).
	LockoutAfter int `yaml:"lockout_after"`
	// LockoutTime is how long a lock-out lasts, and how long a failure counts.
	LockoutTime Duration `yaml:"lockout_time"`
}

// LockoutAfterRange and LockoutSecondsRange bound the lock-out settings.
var (
	LockoutAfterRange   = Range{3, 20}
	LockoutSecondsRange = Range{10, 24 * 60 * 60}
)

// Default lock-out: five failures in 15 minutes lock for 15 minutes.
const (
	DefaultLockoutAfter = 5
	DefaultLockoutTime  = 15 * time.Minute
)

// DefaultPasswordPolicy is the first-start policy.
func DefaultPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{MinLength: DefaultPasswordLength, NotUserName: true, NotPrevious: true,
		LockoutAfter: DefaultLockoutAfter, LockoutTime: Duration(DefaultLockoutTime)}
}

func (u User) key() string { return u.Name }

func isBcrypt(hash string) bool { return strings.HasPrefix(hash, "$2") }

// PasswordLogin reports whether the user may log in with a password.
func (u User) PasswordLogin() bool { return !u.NoPasswordLogin && isBcrypt(u.PasswordHash) }

// CanLogIn reports whether the user can log in at all: with a password or an SSH key.
func (u User) CanLogIn() bool { return u.PasswordLogin() || len(u.SSHKeys) > 0 }

// IsAdmin reports whether the user has the admin role.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// PasswordIs reports whether password is the user's current password (one
// bcrypt comparison; false when the user has none).
func (u User) PasswordIs(password string) bool {
	return isBcrypt(u.PasswordHash) && bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) == nil
}

// AuthorizesKey reports whether key is one of the user's authorized SSH keys.
func (u User) AuthorizesKey(key ssh.PublicKey) bool {
	want := key.Marshal()
	for _, line := range u.SSHKeys {
		if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil && string(k.Marshal()) == string(want) {
			return true
		}
	}
	return false
}

// LoginHash is what a password login checks for the name typed: the
// account's hash when it exists and may log in with a password, else "";
// and the highest bcrypt cost among the accounts, which the login spends on
// a refused name too, so that its answer takes as long as a wrong password.
func (c *Config) LoginHash(name string) (hash string, cost int) {
	for _, u := range c.Users {
		if n, err := bcrypt.Cost([]byte(u.PasswordHash)); err == nil {
			cost = max(cost, n)
		}
	}
	if u := c.LoginUser(name); u != nil && u.PasswordLogin() {
		hash = u.PasswordHash
	}
	return hash, cost
}

// LoginUser returns the account a login names, matched exactly as typed
// (the GUI and SSH logins), or nil.
func (c *Config) LoginUser(name string) *User {
	for i := range c.Users {
		if c.Users[i].Name == name {
			return &c.Users[i]
		}
	}
	return nil
}

// FindUser returns the account with that name (case-insensitive, as the
// dialogs and batch forms take it).
func (c *Config) FindUser(name string) (*User, error) {
	if i := find(c.Users, name); i >= 0 {
		return &c.Users[i], nil
	}
	return nil, errNotFound(KindUser, name)
}

// CheckRole checks a role.
func CheckRole(role string) error {
	for _, r := range Roles {
		if r.Value == role {
			return nil
		}
	}
	return fmt.Errorf("%q is not a role: use admin or operator", role)
}

// MaxFullName is the longest full name, in characters.
const MaxFullName = 128

// CheckFullName checks a user's full name: up to 128 printable characters (may be empty).
func CheckFullName(n string) error {
	if utf8.RuneCountInString(n) > MaxFullName || strings.ContainsFunc(n, unsafeRune) || !utf8.ValidString(n) {
		return fmt.Errorf("%q is not a valid full name: use up to %d printable characters", n, MaxFullName)
	}
	return nil
}

// ParseSSHKey reads one authorized_keys line ("ssh-ed25519 AAAA… comment")
// and returns it as stored: type, base64 key and the comment (control
// characters escaped). Options (from=, command=…), DSA keys and RSA keys
// under 2048 bits are refused.
func ParseSSHKey(line string) (string, error) {
	line = strings.TrimSpace(line)
	key, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	const form = `paste one line of an authorized_keys file, such as "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… alice@laptop"`
	switch {
	case err != nil:
		return "", fmt.Errorf("%q is not an SSH public key: %s", clipInput(line), form)
	case len(options) > 0:
		return "", fmt.Errorf("the key has authorized_keys options (%s), which the appliance does not support: paste the key without them", EscapeControl(strings.Join(options, ",")))
	case len(strings.TrimSpace(string(rest))) > 0:
		return "", fmt.Errorf("that is more than one key: %s, one key at a time", form)
	case key.Type() == "ssh-dss":
		return "", errors.New("DSA keys are refused: they are insecure and OpenSSH no longer accepts them; use an ed25519, ECDSA or RSA (2048 bits or more) key")
	}
	if ck, ok := key.(ssh.CryptoPublicKey); ok {
		if r, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && r.N.BitLen() < 2048 {
			return "", fmt.Errorf("the RSA key has %d bits: use one of 2048 bits or more, or an ed25519 key", r.N.BitLen())
		}
	}
	out := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	if comment = EscapeControl(strings.TrimSpace(comment)); comment != "" {
		out += " " + comment
	}
	return out, nil
}

// CheckSSHKey checks an authorized_keys line (see ParseSSHKey).
func CheckSSHKey(line string) error {
	_, err := ParseSSHKey(line)
	return err
}

// SSHKeyFingerprint is a stored key's SHA-256 fingerprint, as ssh-keygen -l prints it.
func SSHKeyFingerprint(line string) string {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return "?"
	}
	return ssh.FingerprintSHA256(k)
}

// clipInput shortens an input quoted in a message.
func clipInput(s string) string {
	if utf8.RuneCountInString(s) <= 80 {
		return s
	}
	return string([]rune(s)[:80]) + "…"
}

// checkAdmins is the rule that keeps the appliance administrable.
func checkAdmins(users []User) error {
	for _, u := range users {
		if u.IsAdmin() && CheckName(KindUser, u.Name) == nil && u.CanLogIn() {
			return nil
		}
	}
	return errors.New("no account with the admin role could log in (with a password or an SSH key): nobody could administer the appliance over SSH or the GUI; " +
		"keep one, or first make another account an administrator who can log in (userconfig), " +
		"or in a file add one such as {name: admin, role: admin, password_hash: '$2a$10$…'} with a bcrypt hash (htpasswd -nbBC 10 admin PASSWORD prints admin:<hash>)")
}

// CheckPassword applies the policy to a new password for the account name
// (its current hash in current, "" for a new account).
func (p PasswordPolicy) CheckPassword(name, current, previous, password string) error {
	if utf8.RuneCountInString(password) < p.MinLength {
		return fmt.Errorf("The password must be at least %d characters long.", p.MinLength)
	}
	if len(password) > MaxPasswordBytes {
		return fmt.Errorf("The password must be at most %d bytes long: bcrypt, which stores it, reads no more.", MaxPasswordBytes)
	}
	if p.NotUserName && strings.EqualFold(password, name) {
		return errors.New("The password must not be the same as the user name.")
	}
	if p.NotPrevious {
		for _, h := range []string{current, previous} {
			if isBcrypt(h) && bcrypt.CompareHashAndPassword([]byte(h), []byte(password)) == nil {
				return errors.New("The password must not be the same as the previous password.")
			}
		}
	}
	return nil
}

// NewPasswordHash checks password against the policy for the account name
// (which need not exist yet) and returns its bcrypt hash.
func (c *Config) NewPasswordHash(name, password string) (string, error) {
	var u User
	if i := find(c.Users, name); i >= 0 {
		u = c.Users[i]
	}
	if err := c.PasswordPolicy.CheckPassword(name, u.PasswordHash, u.PreviousHash, password); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
	if err != nil {
		return "", fmt.Errorf("hashing the password: %w", err)
	}
	return string(h), nil
}

// AddUser adds an account with a password an administrator chose: the user
// must change it at the first login.
func (c *Config) AddUser(u User, password string) error {
	v := &validator{bare: true}
	v.name("", KindUser, u.Name, keys(c.Users, -1))
	v.add("", CheckFullName(u.FullName))
	v.add("", CheckRole(u.Role))
	if err := v.err(); err != nil {
		return err
	}
	hash, err := c.NewPasswordHash(u.Name, password)
	if err != nil {
		return err
	}
	u.PasswordHash, u.PreviousHash, u.MustChangePassword = hash, "", true
	u.SSHKeys = slices.Clone(u.SSHKeys)
	c.Users = append(c.Users, u)
	return nil
}

// editUser applies edit to the named account on a copy of the accounts and
// stores the result unless the appliance would be left without an
// administrator who can log in.
func (c *Config) editUser(name string, edit func(u *User) error) error {
	i, err := slot(c.Users, KindUser, name, errNotFound)
	if err != nil {
		return err
	}
	users := slices.Clone(c.Users)
	users[i].SSHKeys = slices.Clone(users[i].SSHKeys)
	if err := edit(&users[i]); err != nil {
		return err
	}
	if err := checkAdmins(users); err != nil {
		return err
	}
	c.Users = users
	return nil
}

// SetFullName changes an account's full name.
func (c *Config) SetFullName(name, full string) error {
	return c.editUser(name, func(u *User) error {
		if err := CheckFullName(full); err != nil {
			return err
		}
		u.FullName = full
		return nil
	})
}

// SetRole changes an account's role; the last administrator who can log in keeps theirs.
func (c *Config) SetRole(name, role string) error {
	return c.editUser(name, func(u *User) error {
		if err := CheckRole(role); err != nil {
			return err
		}
		u.Role = role
		return nil
	})
}

// SetPasswordLogin allows or refuses password logins for an account (key-only when refused).
func (c *Config) SetPasswordLogin(name string, allowed bool) error {
	return c.editUser(name, func(u *User) error {
		u.NoPasswordLogin = !allowed
		return nil
	})
}

// DeleteUser removes an account; by is the user who asks, who cannot delete themselves.
func (c *Config) DeleteUser(name, by string) error {
	i, err := slot(c.Users, KindUser, name, errNotFound)
	if err != nil {
		return err
	}
	if strings.EqualFold(c.Users[i].Name, by) {
		return fmt.Errorf("you cannot delete your own account (%s): log in as another administrator to delete it", c.Users[i].Name)
	}
	users := slices.Delete(slices.Clone(c.Users), i, i+1)
	if err := checkAdmins(users); err != nil {
		return err
	}
	c.Users = users
	return nil
}

// SetPassword gives an account a password an administrator chose (userconfig
// PASSWORD): the policy applies, and the user must change it at the next login.
func (c *Config) SetPassword(name, password string) error {
	u, err := c.FindUser(name)
	if err != nil {
		return err
	}
	hash, err := c.NewPasswordHash(u.Name, password)
	if err != nil {
		return err
	}
	return c.setPasswordHash(u.Name, hash, true)
}

// SetOwnPasswordHash records a password the user chose themselves (passwd),
// hashed by NewPasswordHash: the old hash becomes the previous one and
// must_change_password is cleared.
func (c *Config) SetOwnPasswordHash(name, hash string) error {
	return c.setPasswordHash(name, hash, false)
}

func (c *Config) setPasswordHash(name, hash string, mustChange bool) error {
	if !isBcrypt(hash) {
		return fmt.Errorf("user %q: not a bcrypt password hash", name)
	}
	return c.editUser(name, func(u *User) error {
		if u.PasswordHash != hash {
			u.PreviousHash = u.PasswordHash
		}
		u.PasswordHash, u.MustChangePassword = hash, mustChange
		return nil
	})
}

// AddSSHKey authorizes an SSH public key (one authorized_keys line) for an account.
func (c *Config) AddSSHKey(name, line string) error {
	key, err := ParseSSHKey(line)
	if err != nil {
		return err
	}
	return c.editUser(name, func(u *User) error {
		k, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(key))
		if u.AuthorizesKey(k) {
			return fmt.Errorf("this key (%s) is already authorized for %s", ssh.FingerprintSHA256(k), u.Name)
		}
		u.SSHKeys = append(u.SSHKeys, key)
		return nil
	})
}

// DeleteSSHKey removes an account's key number n (from 1, as listed).
func (c *Config) DeleteSSHKey(name string, n int) error {
	return c.editUser(name, func(u *User) error {
		if n < 1 || n > len(u.SSHKeys) {
			return fmt.Errorf("%s has no key number %d: choose one of the %d listed", u.Name, n, len(u.SSHKeys))
		}
		u.SSHKeys = slices.Delete(u.SSHKeys, n-1, n)
		return nil
	})
}

// SetPasswordPolicy changes the password policy (userconfig POLICY); it
// applies to the passwords set from then on.
func (c *Config) SetPasswordPolicy(p PasswordPolicy) error {
	if err := joinProblems("", p.problems()); err != nil {
		return err
	}
	c.PasswordPolicy = p
	return nil
}

func (v *validator) users(c *Config) {
	for i, u := range c.Users {
		path := fmt.Sprintf("users[%d]", i)
		v.name(path+".name", KindUser, u.Name, keys(c.Users[:i], -1))
		v.add(path+".full_name", CheckFullName(u.FullName))
		v.add(path+".role", CheckRole(u.Role))
		v.check(isBcrypt(u.PasswordHash), path+".password_hash", "user %q has no bcrypt password hash", u.Name)
		v.check(u.PreviousHash == "" || isBcrypt(u.PreviousHash), path+".previous_password_hash", "user %q: the previous password hash is not a bcrypt hash: remove it", u.Name)
		for j, k := range u.SSHKeys {
			v.add(fmt.Sprintf("%s.ssh_keys[%d]", path, j), CheckSSHKey(k))
		}
		v.apiTokens(path, u)
	}
	v.add("users", checkAdmins(c.Users))
	v.fields("password_policy", c.PasswordPolicy.problems())
}

// problems are the policy's settings out of range, each named by its YAML
// field: the one rule that SetPasswordPolicy and Validate share.
func (p PasswordPolicy) problems() []fieldProblem {
	return collect(
		fieldProblem{"min_length", PasswordLengthRange.Check(p.MinLength)},
		fieldProblem{"lockout_after", LockoutAfterRange.Check(p.LockoutAfter)},
		fieldProblem{"lockout_time", LockoutSecondsRange.Check(int(time.Duration(p.LockoutTime) / time.Second))},
	)
}
