package commands_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"relaybox/appliance"
	"relaybox/commands"
	"relaybox/config"
	"relaybox/shell"
)

// testKeyLine is a fixed ed25519 public key as one authorized_keys line.
func testKeyLine(t testing.TB, seed byte, comment string) string {
	t.Helper()
	pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune(seed)), ed25519.SeedSize))).Public())
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + comment
}

// scriptAs runs a script in a session of user with role ("" = the machine owner).
func scriptAs(a *appliance.Appliance, user, role, text string, extra ...shell.Command) run {
	var out, errOut bytes.Buffer
	opts := a.Session(user)
	opts.Role = role
	opts.Commands = append(opts.Commands, extra...)
	opts.In, opts.Out, opts.Err = strings.NewReader(text), &out, &errOut
	code := shell.Run(context.Background(), opts)
	return run{code, out.String(), errOut.String()}
}

func user(t *testing.T, a *appliance.Appliance, name string) config.User {
	t.Helper()
	u := a.Store.Current().LoginUser(name)
	require.NotNil(t, u, "no user %s", name)
	return *u
}

func TestUserconfigDialog(t *testing.T) {
	a := startAppliance(t)
	r := script(a, strings.Join([]string{
		"userconfig",
		"new", "bob", "Bob Smith", "2", "Secret-Bob-1", "Secret-Bob-1",
		"edit", "bob", "name", "Robert Smith", "role", "1", "",
		"policy", "10", "n", "", "4", "120",
		"",
		"commit new user bob",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.NotContains(t, r.out+r.err, "Secret-Bob-1")
	assert.Contains(t, r.out, "Choose the operation you want to perform:\n- NEW - Create a new account.\n- EDIT - Modify an account.\n- DELETE - Remove an account.\n- POLICY - Change password and account policy settings.\n- PASSWORD - Change the password for a user.\n- APITOKENS - Create or revoke the REST API tokens of a user.\n[]> new\n")
	assert.Contains(t, r.out, "Enter the password for bob: \nPlease enter the new password again: \n")
	assert.Contains(t, r.out, "User bob created (pending until commit); bob must choose a new password at the first login.")
	assert.Contains(t, r.out, "2. bob - \"Robert Smith\" (admin, must change the password)")
	bob := user(t, a, "bob")
	assert.Equal(t, config.User{Name: "bob", FullName: "Robert Smith", Role: config.RoleAdmin, PasswordHash: bob.PasswordHash, MustChangePassword: true}, bob)
	assert.True(t, bob.PasswordIs("Secret-Bob-1"))
	assert.Equal(t, config.PasswordPolicy{MinLength: 10, NotUserName: false, NotPrevious: true, LockoutAfter: 4, LockoutTime: config.Duration(2 * time.Minute)}, a.Store.Current().PasswordPolicy)

	// Refused answers end a script; nothing is kept.
	for _, tt := range []struct{ name, script, want string }{
		{"short password", "userconfig\nnew\ncarol\n\n\nshort\n", "line 6: The password must be at least 10 characters long."},
		{"mismatch", "userconfig\nnew\ncarol\n\n\nCarol-Secret-1\nCarol-Secret-2\n", "line 7: The passwords do not match"},
		{"name taken", "userconfig\nnew\nBOB\n", `line 3: a user named "bob" already exists`},
		{"bad name", "userconfig\nnew\n9lives\n", `line 3: "9lives" is not a valid user name`},
		{"delete yourself", "userconfig\ndelete\nadmin\n", "line 3: you cannot delete your own account (admin)"},
		{"role of the last admin who can log in", "userconfig edit bob passwordlogin disable\nuserconfig edit admin role operator\n", "line 2: no account with the admin role could log in"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := a.Store.Current()
			r := script(a, tt.script)
			assert.Equal(t, 1, r.code, r.out)
			assert.Contains(t, r.err, tt.want)
			assert.NotContains(t, r.out+r.err, "Carol-Secret")
			assert.Equal(t, before.Version, a.Store.Current().Version)
		})
	}

	r = script(a, "userconfig\ndelete\nbob\ny\n\ncommit bye bob\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, `Are you sure you want to delete the user "bob"? [N]> y`)
	assert.Nil(t, a.Store.Current().LoginUser("bob"))
}

func TestUserconfigBatchPasswordsNeverShown(t *testing.T) {
	a := startAppliance(t)
	r := script(a, strings.Join([]string{
		`userconfig new carol "Carol Jones" operator "Carol Pass 1"`,
		"userconfig password carol Carol-Reset-2",
		"userconfig edit carol fullname \"Carol J.\"",
		"userconfig policy min_length=12 not_previous=no lockout_after=7 lockout_seconds=90",
		"userconfig print",
		"commit carol",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, `box.example.test> userconfig new carol "Carol Jones" operator ****`+"\n")
	assert.Contains(t, r.out, "box.example.test> userconfig password carol ****\n")
	assert.Contains(t, r.out, "Password policy: at least 12 characters, not the user name; 7 failed logins lock an account out for 1m30s.")
	assert.NotContains(t, r.out+r.err, "Carol Pass 1")
	assert.NotContains(t, r.out+r.err, "Carol-Reset-2")
	carol := user(t, a, "carol")
	assert.True(t, carol.PasswordIs("Carol-Reset-2"))
	assert.True(t, carol.MustChangePassword)
	assert.Equal(t, "Carol J.", carol.FullName)
	assert.NotEmpty(t, carol.PreviousHash)

	for _, tt := range []struct{ script, want string }{
		{"userconfig password carol ****\n", "line 1: **** is what the shell shows in place of a password"},
		{"userconfig password carol short-one\n", "line 1: The password must be at least 12 characters long."},
		{"userconfig new dave Dave admin\n", "line 1: Invalid arguments when processing: userconfig"},
		{"userconfig new dave Dave root Dave-Secret-123\n", `line 1: "root" is not a role: use admin or operator`},
		{"userconfig delete nobody\n", `line 1: user "nobody" does not exist: choose one listed by userconfig`},
		{"userconfig edit carol colour blue\n", `line 1: userconfig edit: "colour" is not a setting`},
	} {
		r := script(a, tt.script)
		assert.Equal(t, 1, r.code, tt.script)
		assert.Contains(t, r.err, tt.want)
	}
}

func TestPasswdTakesEffectAtOnceAlone(t *testing.T) {
	a, oneTime := startOneTime(t)
	require.True(t, user(t, a, "admin").MustChangePassword, "the first-start password is one-time")
	r := script(a, strings.Join([]string{
		"sethostname pending.example.test",
		"passwd",
		oneTime, "New-Admin-Pass-1", "New-Admin-Pass-1",
		"showchanges",
		"clearchanges confirm",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "box.example.test> passwd\n\nOld password: \nNew password: \nPlease enter the new password again: \n\nPassword changed: it is in force now (committed as version 2, ")
	assert.NotContains(t, r.out, "New-Admin-Pass-1")
	assert.NotContains(t, r.out, oneTime)
	assert.Contains(t, r.out, "Uncommitted changes in: hostname\n", "the other edits stay pending, and only they")
	c := a.Store.Current()
	assert.Equal(t, 2, c.Version)
	assert.Equal(t, "passwd: admin changed their password", c.Comment)
	assert.Equal(t, "box.example.test", c.Hostname, "passwd commits nothing else")
	admin := user(t, a, "admin")
	assert.True(t, admin.PasswordIs("New-Admin-Pass-1"))
	assert.False(t, admin.MustChangePassword, "passwd clears must_change_password")

	for _, tt := range []struct{ name, script, want string }{
		{"wrong old password", "passwd\nnot-the-password\n", "line 2: The old password is not correct"},
		{"the same again", "passwd\nNew-Admin-Pass-1\nNew-Admin-Pass-1\n", "line 3: The password must not be the same as the previous password."},
		{"the one before", "passwd\nNew-Admin-Pass-1\n" + oneTime + "\n", "line 3: The password must not be the same as the previous password."},
		{"too short", "passwd\nNew-Admin-Pass-1\nshort\n", "line 3: The password must be at least 8 characters long."},
		{"batch", "passwd New-Admin-Pass-1 x\n", "line 1: The password must be at least 8 characters long."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := script(a, tt.script)
			assert.Equal(t, 1, r.code, r.out)
			assert.Contains(t, r.err, tt.want)
			assert.Equal(t, 2, a.Store.Current().Version, "nothing was committed")
		})
	}

	r = script(a, "passwd New-Admin-Pass-1 \"Batch Admin Pass 2\"\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "box.example.test> passwd **** ****\n")
	assert.NotContains(t, r.out, "Batch Admin")
	assert.True(t, user(t, a, "admin").PasswordIs("Batch Admin Pass 2"))

	// A rollback does not bring the old password back.
	r = script(a, "rollbackconfig 1 commit\n")
	require.Equal(t, 0, r.code, r.err)
	assert.True(t, user(t, a, "admin").PasswordIs("Batch Admin Pass 2"), "accounts are not rolled back")
}

func TestChangeOwnPasswordForTheSSHServer(t *testing.T) {
	a := startAppliance(t)
	forced := shell.Command{Name: "forced", Summary: "test: what the SSH server runs at a first login",
		Run: func(s *shell.Session, args []string) error { return commands.ChangeOwnPassword(s, a.App) }}
	r := scriptAs(a, "admin", config.RoleAdmin, "sethostname other.example.test\nforced\nFirst-Own-Pass\nFirst-Own-Pass\nclearchanges confirm\n", forced)
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "You must choose a new password for admin before you continue.\nNew password: \nPlease enter the new password again: \n")
	assert.NotContains(t, r.out, "Old password")
	c := a.Store.Current()
	assert.Equal(t, "passwd: admin changed their password at login", c.Comment)
	assert.Equal(t, "box.example.test", c.Hostname)
	assert.True(t, user(t, a, "admin").PasswordIs("First-Own-Pass"))
	assert.False(t, user(t, a, "admin").MustChangePassword)

	for _, tt := range []struct{ name, user, script, want string }{
		{"Enter", "admin", "forced\n\n", "line 2: no new password was chosen"},
		{"the same", "admin", "forced\nFirst-Own-Pass\n", "line 2: The password must not be the same as the previous password."},
		{"no account", "ghost", "forced\n", "line 1: there is no account named ghost"},
		{"input ends", "admin", "forced\nSecond-Own-Pass\n", "line 2: forced: the input ended in the middle of the dialog"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := a.Store.Current().Version
			r := scriptAs(a, tt.user, config.RoleAdmin, tt.script, forced)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.err, tt.want)
			assert.Equal(t, v, a.Store.Current().Version)
		})
	}
}

func TestOperatorsCannotCommitNorChangeAccounts(t *testing.T) {
	a := startAppliance(t)
	r := script(a, `userconfig new olga "Olga Operator" operator Olga-Pass-123`+"\ncommit olga\n")
	require.Equal(t, 0, r.code, r.err)
	v := a.Store.Current().Version
	for _, tt := range []struct{ name, script, want string }{
		{"commit", "sethostname op.example.test\ncommit mine\n", "line 2: operators cannot commit: you are not in the correct access group to use commit (your role is operator)"},
		{"commit nothing", "commit\n", "line 1: operators cannot commit"},
		{"rollback and commit", "rollbackconfig 1 commit\n", "line 1: operators cannot commit"},
		{"rollback dialog commit", "rollbackconfig\nrollback\n1\ny\ny\n", "line 5: operators cannot commit"},
		{"new user", "userconfig new eve Eve admin Eve-Pass-12345\n", "line 1: operators cannot change user accounts: you are not in the correct access group to use userconfig NEW (your role is operator); ask an administrator, or change your own password with passwd"},
		{"make myself admin", "userconfig edit olga role admin\n", "line 1: operators cannot change user accounts"},
		{"set a password", "userconfig password admin Taken-Over-1\n", "line 1: operators cannot change user accounts"},
		{"policy", "userconfig policy min_length=9\n", "line 1: operators cannot change user accounts"},
		{"delete", "userconfig delete admin\n", "line 1: operators cannot change user accounts"},
		{"dialog new", "userconfig\nnew\n", "line 2: operators cannot change user accounts: you are not in the correct access group to use userconfig NEW"},
		{"dialog edit", "userconfig\nedit\n", "line 2: operators cannot change user accounts"},
		{"dialog delete", "userconfig\ndelete\n", "line 2: operators cannot change user accounts"},
		{"dialog policy", "userconfig\npolicy\n", "line 2: operators cannot change user accounts"},
		{"dialog password", "userconfig\npassword\n", "line 2: operators cannot change user accounts"},
		{"add a key", "sshconfig userkeys new olga " + testKeyLine(t, 3, "olga@laptop") + "\n", "line 1: operators cannot change user accounts: you are not in the correct access group to use sshconfig USERKEYS NEW"},
		{"dialog key", "sshconfig\nuserkeys\nnew\n", "line 3: operators cannot change user accounts"},
		{"see the hashes", "showconfig unmasked\n", "line 1: operators cannot see password hashes: you are not in the correct access group to use showconfig unmasked (your role is operator); use showconfig mask"},
		{"save the hashes", "saveconfig unmasked olga.yaml\n", "line 1: operators cannot see password hashes"},
		{"dialog hashes", "showconfig\n2\n", "line 2: operators cannot see password hashes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := scriptAs(a, "olga", config.RoleOperator, tt.script)
			assert.Equal(t, 1, r.code, r.out)
			assert.Contains(t, r.err, tt.want)
			assert.Equal(t, v, a.Store.Current().Version, "nothing was committed")
		})
	}
	// Operators may look, edit and change their own password.
	r = scriptAs(a, "olga", config.RoleOperator, "userconfig\n\nuserconfig print\nsshconfig userkeys print admin\nwho\nshowconfig mask\nsethostname op.example.test\nclearchanges confirm\npasswd Olga-Pass-123 Olga-Own-Pass-4\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "2. olga - \"Olga Operator\" (operator, must change the password)")
	c := a.Store.Current()
	assert.Equal(t, v+1, c.Version)
	assert.Equal(t, "passwd: olga changed their password", c.Comment)
	assert.Equal(t, "olga", c.User)
	assert.True(t, user(t, a, "olga").PasswordIs("Olga-Own-Pass-4"))
	assert.Equal(t, config.RoleOperator, user(t, a, "olga").Role)
}

func TestSSHKeysOneImplementationTwoWays(t *testing.T) {
	a := startAppliance(t)
	key := testKeyLine(t, 5, "alice@laptop")
	r := script(a, "sshconfig userkeys new admin "+key+"\ncommit key\n")
	require.Equal(t, 0, r.code, r.err)
	fp := config.SSHKeyFingerprint(key)
	assert.Contains(t, r.out, "Key "+fp+" added for admin (pending until commit).")
	assert.Equal(t, []string{key}, user(t, a, "admin").SSHKeys)

	r = script(a, "userconfig\nedit\nadmin\nsshkeys\nprint\n1\n\n\n\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "Currently installed keys for admin:\n1. ssh-ed25519 "+fp+" alice@laptop\n")
	assert.Contains(t, r.out, "\n"+key+"\n")

	// Key-only: the admin keeps a way in.
	r = script(a, "userconfig\nedit\nadmin\npasswordlogin\ndisable\n\n\ncommit key-only\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "Password login for admin is currently enabled.\nadmin has 1 SSH key(s).\n")
	assert.Contains(t, r.out, "Password login for admin is now disabled (pending until commit).")
	assert.True(t, user(t, a, "admin").NoPasswordLogin)
	r = script(a, "sshconfig\nuserkeys\ndelete\n1\ny\n")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "line 5: no account with the admin role could log in")

	for _, tt := range []struct{ script, want string }{
		{"sshconfig userkeys new admin " + key + "\n", "is already authorized for admin"},
		{"sshconfig userkeys new admin from=\"10.0.0.1\" " + key + "\n", "authorized_keys options"},
		{"sshconfig userkeys new admin ssh-rsa AAAA\n", `"ssh-rsa AAAA" is not an SSH public key`},
		{"sshconfig userkeys delete admin 7\n", "admin has no key number 7"},
		{"sshconfig userkeys new nobody " + key + "\n", `user "nobody" does not exist`},
		{"sshconfig frob\n", "Invalid arguments when processing: sshconfig"},
	} {
		r := script(a, tt.script)
		assert.Equal(t, 1, r.code, tt.script)
		assert.Contains(t, r.err, tt.want, tt.script)
	}
}

// sessionList is a slice-backed registry of sessions, as the appliance keeps one.
type sessionList struct {
	open  []commands.SessionInfo
	login []commands.LoginRecord
}

func (l *sessionList) Who() []commands.SessionInfo  { return l.open }
func (l *sessionList) Last() []commands.LoginRecord { return l.login }

func TestWhoAndLast(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "who\nlast\n")
	require.Equal(t, 0, r.code, r.err)
	// The appliance's own registry: this console session, open.
	assert.Regexp(t, `box.example.test> who\n\nUsername  Login Time +  Idle Time  Remote Host  What\n=+  =+ +  =+  =+  =+\nadmin     [^\n]+  0s         -            console\n`, r.out)
	assert.Regexp(t, `box.example.test> last\n\nUsername  Remote Host  Login Time +  Logout Time +  Total Time  What\n[= ]+\nadmin     -            [^\n]+  still logged in +0s +console\n`, r.out)

	now := time.Now()
	t0 := now.Add(-3*time.Hour - 12*time.Minute)
	a.App.Sessions = &sessionList{
		open: []commands.SessionInfo{
			{User: "bob", From: "192.0.2.7", Kind: "ssh", Since: now.Add(-15 * time.Minute), Idle: 42 * time.Second},
			{User: "admin", Kind: "console", Since: t0, Idle: 0},
			{User: "evil\x1b[2J", From: "2001:db8::1", Kind: "ssh", Since: now, Idle: 26 * time.Hour},
		},
		login: []commands.LoginRecord{
			{User: "admin", Kind: "console", Login: t0},
			{User: "bob", From: "192.0.2.7", Kind: "ssh", Login: now.Add(-2 * 24 * time.Hour), Logout: now.Add(-2*24*time.Hour + 50*time.Minute)},
			{User: "bob", From: "192.0.2.7", Kind: "ssh", Login: now.Add(-15 * time.Minute)},
		},
	}
	r = script(a, "who\nlast\n")
	require.Equal(t, 0, r.code, r.err)
	st := func(t time.Time) string { return config.Stamp(t) }
	w := len(st(now))
	pad := func(s string, n int) string { return s + strings.Repeat(" ", n-len(s)) }
	assert.Contains(t, r.out, "box.example.test> who\n\n"+
		pad("Username", 11)+"  "+pad("Login Time", w)+"  Idle Time  Remote Host  What\n"+
		pad("========", 11)+"  "+pad("==========", w)+"  =========  ===========  ====\n"+
		pad("admin", 11)+"  "+st(t0)+"  0s         -            console\n"+
		pad("bob", 11)+"  "+st(now.Add(-15*time.Minute))+"  42s        192.0.2.7    ssh\n"+
		`evil\x1b[2J`+"  "+st(now)+"  1d 2h      2001:db8::1  ssh\n")
	assert.Contains(t, r.out, "box.example.test> last\n\n"+
		"Username  Remote Host  "+pad("Login Time", w)+"  "+pad("Logout Time", w)+"  Total Time  What\n"+
		"========  ===========  "+pad("==========", w)+"  "+pad("===========", w)+"  ==========  ====\n"+
		"bob       192.0.2.7    "+st(now.Add(-15*time.Minute))+"  "+pad("still logged in", w)+"  15m         ssh\n"+
		"admin     -            "+st(t0)+"  "+pad("still logged in", w)+"  3h 12m      console\n"+
		"bob       192.0.2.7    "+st(now.Add(-2*24*time.Hour))+"  "+st(now.Add(-2*24*time.Hour+50*time.Minute))+"  50m         ssh\n")
	assert.Contains(t, script(a, "who me\n").err, "line 1: Invalid arguments when processing: who; usage: who")
}
