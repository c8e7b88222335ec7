package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// memLog records log lines as "Level: text".
type memLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *memLog) Infof(format string, args ...any) { l.add("Info: " + fmt.Sprintf(format, args...)) }
func (l *memLog) Warningf(format string, args ...any) {
	l.add("Warning: " + fmt.Sprintf(format, args...))
}
func (l *memLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *memLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func hashOf(t testing.TB, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	require.NoError(t, err)
	return string(h)
}

// accounts is the user table the tests authenticate against.
type accounts map[string]string

func (a accounts) attempt(src, user, password string) Attempt {
	return Attempt{Service: "gui", Source: src, User: user, Password: password, Hash: a[user], Cost: bcrypt.MinCost}
}

type fixture struct {
	auth  *Authenticator
	log   *memLog
	clock *clock
	users accounts
}

func newFixture(t *testing.T, p Policy) *fixture {
	t.Helper()
	if p.Delay == 0 {
		p.Delay = time.Microsecond
	}
	f := &fixture{log: &memLog{}, clock: &clock{now: time.Date(2026, 11, 23, 0, 10, 42, 0, time.UTC)},
		users: accounts{"admin": hashOf(t, "right", bcrypt.MinCost), "bob": hashOf(t, "bobpw", bcrypt.MinCost)}}
	f.auth = New(Options{Policy: p, Log: f.log, Now: f.clock.Now})
	return f
}

type outcome int

const (
	allowed outcome = iota
	denied
	locked
)

func (o outcome) String() string { return [...]string{"allowed", "denied", "locked"}[o] }

func outcomeOf(err error) outcome {
	var le *LockedError
	switch {
	case err == nil:
		return allowed
	case errors.As(err, &le):
		return locked
	case errors.Is(err, ErrDenied):
		return denied
	}
	panic(err)
}

func TestLockout(t *testing.T) {
	type step struct {
		advance         time.Duration
		src, user, pass string
		want            outcome
		repeat          int // this step this many times (default once)
		sourcePerRepeat bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"right password", []step{{src: "192.0.2.1", user: "admin", pass: "right", want: allowed}}},
		{"wrong password and unknown user", []step{
			{src: "192.0.2.1", user: "admin", pass: "nope", want: denied},
			{src: "192.0.2.1", user: "nosuch", pass: "right", want: denied},
		}},
		{"user locked after 5 failures from anywhere, right password refused", []step{
			{src: "192.0.2.%d", user: "admin", pass: "nope", want: denied, repeat: 5, sourcePerRepeat: true},
			{src: "198.51.100.1", user: "admin", pass: "right", want: locked},
			{src: "198.51.100.1", user: "admin", pass: "nope", want: locked},
			{src: "198.51.100.1", user: "bob", pass: "bobpw", want: allowed}, // the address is not locked
		}},
		{"lock-out ends after 15 minutes", []step{
			{src: "192.0.2.%d", user: "admin", pass: "nope", want: denied, repeat: 5, sourcePerRepeat: true},
			{advance: 14*time.Minute + 59*time.Second, src: "198.51.100.1", user: "admin", pass: "right", want: locked},
			{advance: time.Second, src: "198.51.100.1", user: "admin", pass: "right", want: allowed},
		}},
		{"a new run after the lock-out gets 5 tries again", []step{
			{src: "192.0.2.%d", user: "admin", pass: "nope", want: denied, repeat: 5, sourcePerRepeat: true},
			{advance: 15 * time.Minute, src: "192.0.2.%d", user: "admin", pass: "nope", want: denied, repeat: 5, sourcePerRepeat: true},
			{src: "198.51.100.1", user: "admin", pass: "right", want: locked},
		}},
		{"address locked after 5 failures on any names", []step{
			{src: "192.0.2.1", user: "guess%d", pass: "x", want: denied, repeat: 5},
			{src: "192.0.2.1", user: "admin", pass: "right", want: locked},
			{src: "192.0.2.1:50312", user: "bob", pass: "bobpw", want: locked}, // the port does not matter
			{src: "192.0.2.2", user: "admin", pass: "right", want: allowed},
		}},
		{"IPv6 counted by /64", []step{
			{src: "[2001:db8::%d]:443", user: "guess%d", pass: "x", want: denied, repeat: 5, sourcePerRepeat: true},
			{src: "[2001:db8::ffff]:443", user: "admin", pass: "right", want: locked},
			{src: "[2001:db8:0:1::1]:443", user: "admin", pass: "right", want: allowed},
		}},
		{"IPv4-mapped IPv6 is the IPv4 address", []step{
			{src: "[::ffff:192.0.2.1]:1", user: "guess%d", pass: "x", want: denied, repeat: 5},
			{src: "192.0.2.1:2", user: "admin", pass: "right", want: locked},
		}},
		{"failures outside the window do not add up", []step{
			{src: "192.0.2.1", user: "admin", pass: "nope", want: denied, repeat: 4},
			{advance: 15 * time.Minute, src: "192.0.2.1", user: "admin", pass: "nope", want: denied, repeat: 4},
			{src: "192.0.2.1", user: "admin", pass: "right", want: allowed},
		}},
		{"a success clears the user's failures but not the address's", []step{
			{src: "192.0.2.1", user: "admin", pass: "nope", want: denied, repeat: 4},
			{src: "192.0.2.1", user: "admin", pass: "right", want: allowed},
			{src: "192.0.2.1", user: "bob", pass: "nope", want: denied},
			{src: "192.0.2.1", user: "bob", pass: "bobpw", want: locked},
			{src: "192.0.2.2", user: "admin", pass: "nope", want: denied, repeat: 4},
			{src: "192.0.2.3", user: "admin", pass: "right", want: allowed},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Policy{})
			for i, st := range tt.steps {
				f.clock.advance(st.advance)
				for r := range max(st.repeat, 1) {
					src, user := st.src, st.user
					if strings.Contains(src, "%d") {
						n := 0
						if st.sourcePerRepeat {
							n = r + 1
						}
						src = fmt.Sprintf(src, n)
					}
					if strings.Contains(user, "%d") {
						user = fmt.Sprintf(user, r)
					}
					err := f.auth.Authenticate(context.Background(), f.users.attempt(src, user, st.pass))
					require.Equal(t, st.want, outcomeOf(err), "step %d, try %d: %s %s/%s: %v", i, r, src, user, st.pass, err)
				}
			}
		})
	}
}

func TestLogLines(t *testing.T) {
	f := newFixture(t, Policy{})
	ctx := context.Background()
	require.NoError(t, f.auth.Authenticate(ctx, f.users.attempt("127.0.0.1:5000", "admin", "right")))
	for range 5 {
		require.ErrorIs(t, f.auth.Authenticate(ctx, f.users.attempt("127.0.0.1:5001", "admin", "nope")), ErrDenied)
	}
	for range 3 { // refusals during the lock-out are not logged again
		var le *LockedError
		require.ErrorAs(t, f.auth.Authenticate(ctx, f.users.attempt("127.0.0.1:5002", "admin", "right")), &le)
		assert.Equal(t, 15*time.Minute, le.RetryAfter)
	}
	require.Error(t, f.auth.Authenticate(ctx, Attempt{Service: "ssh", Source: "[2001:db8::7]:22", User: "admin from 10.0.0.1 (gui)\x1b[2J", Password: "x", Cost: bcrypt.MinCost}))
	assert.Equal(t, []string{
		"Info: User admin logged in from 127.0.0.1 (gui)",
		"Info: A failed login attempt for user admin from 127.0.0.1 (gui)",
		"Info: A failed login attempt for user admin from 127.0.0.1 (gui)",
		"Info: A failed login attempt for user admin from 127.0.0.1 (gui)",
		"Info: A failed login attempt for user admin from 127.0.0.1 (gui)",
		"Info: A failed login attempt for user admin from 127.0.0.1 (gui)",
		"Warning: User admin locked out for 15m0s after 5 failed attempts from 127.0.0.1 (gui)",
		"Warning: Address 127.0.0.1 locked out for 15m0s after 5 failed attempts (gui)",
		`Info: A failed login attempt for user "admin from 10.0.0.1 (gui)\x1b[2J" from 2001:db8::7 (ssh)`,
	}, f.log.all())
}

func TestLongNamesAreCut(t *testing.T) {
	f := newFixture(t, Policy{})
	long := strings.Repeat("é", 1<<20)
	require.Error(t, f.auth.Authenticate(context.Background(), Attempt{Service: "gui", Source: strings.Repeat("x", 1<<20), User: long, Password: "x", Cost: bcrypt.MinCost}))
	lines := f.log.all()
	require.Len(t, lines, 1)
	assert.Less(t, len(lines[0]), 300)
	for k := range f.auth.users.m {
		assert.LessOrEqual(t, len(k), maxName)
		assert.True(t, strings.HasPrefix(long, k), "cut at a character boundary")
	}
	for k := range f.auth.sources.m {
		assert.LessOrEqual(t, len(k), maxName)
	}
}

func TestDelayGrows(t *testing.T) {
	f := newFixture(t, Policy{Delay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond, MaxFailures: 10})
	for i, want := range []time.Duration{50, 100, 200, 200} {
		start := time.Now()
		require.ErrorIs(t, f.auth.Authenticate(context.Background(), f.users.attempt("192.0.2.1", "admin", "nope")), ErrDenied)
		assert.GreaterOrEqual(t, time.Since(start), want*time.Millisecond, "failure %d", i+1)
	}
	start := time.Now()
	require.NoError(t, f.auth.Authenticate(context.Background(), f.users.attempt("192.0.2.1", "admin", "right")))
	assert.Less(t, time.Since(start), 150*time.Millisecond, "a success is not delayed (the next failure would wait 200ms)")
}

func TestContextEndsDelay(t *testing.T) {
	f := newFixture(t, Policy{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.ErrorIs(t, f.auth.Authenticate(ctx, f.users.attempt("192.0.2.1", "admin", "nope")), ErrDenied)
	assert.Less(t, time.Since(start), 10*time.Second)
	require.ErrorIs(t, f.auth.Authenticate(ctx, f.users.attempt("192.0.2.1", "admin", "right")), context.DeadlineExceeded)
}

// TestParallelGuessesGetNoMoreTries fires many guesses at once: no more than MaxFailures are
// checked before the lock-out, however many arrive together.
func TestParallelGuessesGetNoMoreTries(t *testing.T) {
	f := newFixture(t, Policy{})
	f.users["admin"] = hashOf(t, "right", 8) // slow enough for the guesses to overlap
	const guesses = 40
	start := make(chan struct{})
	results := make(chan outcome, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			<-start
			results <- outcomeOf(f.auth.Authenticate(context.Background(), f.users.attempt(fmt.Sprintf("192.0.2.%d", i), "admin", "nope")))
		})
	}
	close(start)
	wg.Wait()
	close(results)
	count := map[outcome]int{}
	for o := range results {
		count[o]++
	}
	assert.LessOrEqual(t, count[denied], DefaultMaxFailures, "%v", count)
	assert.Zero(t, count[allowed])
	checked := 0
	for _, l := range f.log.all() {
		if strings.Contains(l, "A failed login attempt") {
			checked++
		}
	}
	assert.LessOrEqual(t, checked, DefaultMaxFailures)
}

// TestTablesAreBounded floods random user names from random addresses: the tables stay within
// MaxTracked, and the locked-out admin stays locked out.
func TestTablesAreBounded(t *testing.T) {
	const tracked = 16
	f := newFixture(t, Policy{MaxTracked: tracked})
	ctx := context.Background()
	for i := range 5 {
		require.Error(t, f.auth.Authenticate(ctx, f.users.attempt(fmt.Sprintf("198.51.100.%d", i), "admin", "nope")))
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 40 {
				_ = f.auth.Authenticate(ctx, f.users.attempt(fmt.Sprintf("10.%d.%d.1", w, i), fmt.Sprintf("random-%d-%d", w, i), "x"))
				f.auth.mu.Lock()
				nu, ns := len(f.auth.users.m), len(f.auth.sources.m)
				f.auth.mu.Unlock()
				if nu > tracked || ns > tracked {
					t.Errorf("tables grew to %d users, %d sources", nu, ns)
					return
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, locked, outcomeOf(f.auth.Authenticate(ctx, f.users.attempt("203.0.113.1", "admin", "right"))),
		"the lock-out survives the flood")
}

// TestUnknownUserCostsAsMuchAsWrongPassword times the check itself: a name that does not exist
// must take about as long as a wrong password for one that does.
func TestUnknownUserCostsAsMuchAsWrongPassword(t *testing.T) {
	const cost = 6
	f := newFixture(t, Policy{MaxFailures: 1 << 20, MaxTracked: 1 << 20})
	f.users["admin"] = hashOf(t, "right", cost)
	try := func(user string) time.Duration {
		a := f.users.attempt("192.0.2.1", user, "guess")
		a.Cost = cost
		start := time.Now()
		require.ErrorIs(t, f.auth.Authenticate(context.Background(), a), ErrDenied)
		return time.Since(start)
	}
	try("nosuch") // makes the dummy hash
	var unknown, wrong []time.Duration
	for range 7 {
		unknown = append(unknown, try("nosuch"))
		wrong = append(wrong, try("admin"))
	}
	slices.Sort(unknown)
	slices.Sort(wrong)
	mu, mw := unknown[len(unknown)/2], wrong[len(wrong)/2]
	t.Logf("median: unknown user %v, wrong password %v", mu, mw)
	assert.GreaterOrEqual(t, float64(mu)/float64(mw), 0.5, "an unknown user answers faster than a wrong password")
	assert.LessOrEqual(t, float64(mu)/float64(mw), 2.0, "an unknown user answers slower than a wrong password")
}

func TestDummyFollowsCost(t *testing.T) {
	for _, tt := range []struct{ give, want int }{{0, bcrypt.DefaultCost}, {3, bcrypt.DefaultCost}, {4, 4}, {12, 12}, {99, bcrypt.MaxCost}} {
		assert.Equal(t, tt.want, dummyCost(tt.give), "cost %d", tt.give)
	}
	a := New(Options{})
	for _, cost := range []int{4, 5} {
		h := a.dummy(cost)
		c, err := bcrypt.Cost(h)
		require.NoError(t, err)
		assert.Equal(t, cost, c)
		assert.Equal(t, h, a.dummy(cost), "made once, then fixed")
	}
}

func TestPolicyDefaults(t *testing.T) {
	assert.Equal(t, Policy{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute, Delay: 500 * time.Millisecond,
		MaxDelay: 4 * time.Second, MaxTracked: 4096}, New(Options{}).Policy())
	f := New(Options{})
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, f.delay(n))
	}
	assert.Equal(t, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}, got)
}

// TestKeyLoginsShareTheCounters: the SSH server's public-key logins (Check, Fail, Succeed) count
// with the passwords' failures, per user name and per address, and log in the same style.
func TestKeyLoginsShareTheCounters(t *testing.T) {
	f := newFixture(t, Policy{})
	ctx := context.Background()
	require.NoError(t, f.auth.Check(ctx, "admin", "192.0.2.1:50000", "ssh"))
	for range 3 {
		require.ErrorIs(t, f.auth.Authenticate(ctx, f.users.attempt("192.0.2.1", "admin", "nope")), ErrDenied)
	}
	f.auth.Fail("admin", "198.51.100.1:22", "ssh", "publickey")
	require.NoError(t, f.auth.Check(ctx, "admin", "198.51.100.9", "ssh"), "4 failures: not yet")
	f.auth.Fail("admin", "198.51.100.2:22", "ssh", "publickey")
	var le *LockedError
	require.ErrorAs(t, f.auth.Check(ctx, "admin", "203.0.113.1", "ssh"), &le, "the 5th failure, a key, locks the name")
	assert.Equal(t, 15*time.Minute, le.RetryAfter)
	assert.Equal(t, locked, outcomeOf(f.auth.Authenticate(ctx, f.users.attempt("203.0.113.1", "admin", "right"))), "and the password login too")
	require.NoError(t, f.auth.Check(ctx, "bob", "203.0.113.1", "ssh"), "another name from another address is not locked")

	f.clock.advance(15 * time.Minute)
	require.NoError(t, f.auth.Check(ctx, "admin", "203.0.113.1", "ssh"), "the lock-out ends")
	f.auth.Succeed("admin", "[2001:db8::5]:4000", "ssh", "publickey")

	for i := range 5 {
		f.auth.Fail(fmt.Sprintf("guess%d", i), "192.0.2.99", "ssh", "publickey")
	}
	require.ErrorAs(t, f.auth.Check(ctx, "bob", "192.0.2.99:1", "ssh"), &le, "many names from one address lock the address")
	assert.Equal(t, locked, outcomeOf(f.auth.Authenticate(ctx, f.users.attempt("192.0.2.99", "bob", "bobpw"))))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, f.auth.Check(cancelled, "bob", "192.0.2.1", "ssh"), context.Canceled)

	lines := f.log.all()
	assert.Equal(t, []string{
		"Info: A failed login attempt for user admin from 192.0.2.1 (gui)",
		"Info: A failed login attempt for user admin from 192.0.2.1 (gui)",
		"Info: A failed login attempt for user admin from 192.0.2.1 (gui)",
		"Info: A failed login attempt for user admin from 198.51.100.1 (ssh, publickey)",
		"Info: A failed login attempt for user admin from 198.51.100.2 (ssh, publickey)",
		"Warning: User admin locked out for 15m0s after 5 failed attempts from 198.51.100.2 (ssh, publickey)",
		"Info: User admin logged in from 2001:db8::5 (ssh, publickey)",
	}, lines[:7])
	assert.Equal(t, "Warning: Address 192.0.2.99 locked out for 15m0s after 5 failed attempts (ssh, publickey)", lines[len(lines)-1])
}

// TestKeySuccessClearsTheNameNotALockOut: a key login clears the name's failures as a right
// password does, but not a lock-out in force (Check refuses first).
func TestKeySuccessClearsTheNameNotALockOut(t *testing.T) {
	f := newFixture(t, Policy{})
	ctx := context.Background()
	for range 4 {
		f.auth.Fail("admin", "192.0.2.1", "ssh", "publickey")
	}
	f.auth.Succeed("admin", "192.0.2.2", "ssh", "publickey")
	for range 4 {
		f.auth.Fail("admin", "192.0.2.3", "ssh", "publickey")
	}
	require.NoError(t, f.auth.Check(ctx, "admin", "192.0.2.4", "ssh"), "the success started a new run")
	f.auth.Fail("admin", "192.0.2.3", "ssh", "publickey")
	f.auth.Succeed("admin", "192.0.2.5", "ssh", "publickey")
	var le *LockedError
	require.ErrorAs(t, f.auth.Check(ctx, "admin", "192.0.2.6", "ssh"), &le, "a success does not lift a lock-out")
}

// TestLockoutSettingsApplyAtTheNextAttempt: the administrator's lock-out
// settings (Options.Lockout) are read at each attempt, so a commit changes
// the count and the time of the next lock-out.
func TestLockoutSettingsApplyAtTheNextAttempt(t *testing.T) {
	var mu sync.Mutex
	failures, lockout := 5, 15*time.Minute
	set := func(n int, d time.Duration) { mu.Lock(); failures, lockout = n, d; mu.Unlock() }
	clk := &clock{now: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	log := &memLog{}
	a := New(Options{Log: log, Now: clk.Now, Policy: Policy{Delay: time.Millisecond, MaxDelay: time.Millisecond},
		Lockout: func() (int, time.Duration) { mu.Lock(); defer mu.Unlock(); return failures, lockout }})
	assert.Equal(t, 5, a.Policy().MaxFailures)
	set(3, 30*time.Second)
	assert.Equal(t, Policy{MaxFailures: 3, Window: 30 * time.Second, Lockout: 30 * time.Second, Delay: time.Millisecond, MaxDelay: time.Millisecond, MaxTracked: DefaultMaxTracked}, a.Policy())
	for range 3 {
		a.Fail("admin", "192.0.2.1", "ssh", "publickey")
	}
	var locked *LockedError
	require.ErrorAs(t, a.Check(context.Background(), "admin", "192.0.2.9", "ssh"), &locked, "three failures lock out now")
	assert.Equal(t, 30*time.Second, locked.RetryAfter)
	assert.Contains(t, log.all(), "Warning: User admin locked out for 30s after 3 failed attempts from 192.0.2.1 (ssh, publickey)")
	clk.advance(31 * time.Second)
	assert.NoError(t, a.Check(context.Background(), "admin", "192.0.2.9", "ssh"), "the lock-out ends after its time")
}
