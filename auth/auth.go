// Package auth has one job: deciding whether an administrator's login attempt may go in.
//
// It checks a password against the user's bcrypt hash, taking as long for a user name that does
// not exist as for a wrong password; it slows and then locks out repeated failures, per user name
// and per source address; and it writes the authentication log. It knows nothing about HTTP or
// SSH: the GUI and the SSH server each pass the source address and their service name ("gui",
// "ssh"), so failures over one count for the other.
//
// # Policy
//
// The defaults (Policy) are those of a production appliance:
//
//   - a failure counts for 15 minutes from the first failure of its run (Window);
//   - each failure is answered after a growing delay: 0.5 s, 1 s, 2 s, 4 s (Delay, doubled, at most
//     MaxDelay);
//   - the 5th failure within the window (MaxFailures) locks the user name, or the source address,
//     for 15 minutes (Lockout). While it is locked every attempt is refused at once, without
//     checking the password, so the right password is refused too and a refusal confirms nothing.
//     The lock-out is logged once, when it begins;
//   - a user name and a source address are counted separately: an attacker trying many names from
//     one address is locked by address, one trying one name from many addresses by name. IPv6
//     addresses are counted by their /64, the block one host usually holds;
//   - attempts in flight count as failures until they are decided, so parallel guesses get no more
//     tries than sequential ones;
//   - a successful login clears the user name's failures; the address keeps its own until they
//     expire, so one known password does not buy more guesses at another account;
//   - user names are tracked whether or not they exist (so a lock-out does not tell which exist),
//     in tables of at most MaxTracked entries each: when a table is full, expired entries go
//     first, then the entry least recently failed that is not locked out, then the oldest locked
//     one. Names and addresses are cut to 64 bytes.
package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The default policy.
const (
	DefaultMaxFailures = 5
	DefaultWindow      = 15 * time.Minute
	DefaultLockout     = 15 * time.Minute
	DefaultDelay       = 500 * time.Millisecond
	DefaultMaxDelay    = 4 * time.Second
	DefaultMaxTracked  = 4096
)

// maxName is the longest user name or source kept, logged or used as a key, in bytes.
const maxName = 64

// Policy is when failures are delayed and locked out. A zero field takes its default.
type Policy struct {
	MaxFailures int           // failures within Window that lock a user name or an address
	Window      time.Duration // how long a failure counts, from the first failure of a run
	Lockout     time.Duration // how long a lock-out lasts
	Delay       time.Duration // the answer to the first failure is delayed this long, doubled for each next one
	MaxDelay    time.Duration // the longest delay
	MaxTracked  int           // entries per table (user names, addresses)
}

func (p Policy) withDefaults() Policy {
	if p.MaxFailures <= 0 {
		p.MaxFailures = DefaultMaxFailures
	}
	if p.Window <= 0 {
		p.Window = DefaultWindow
	}
	if p.Lockout <= 0 {
		p.Lockout = DefaultLockout
	}
	if p.Delay <= 0 {
		p.Delay = DefaultDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = max(DefaultMaxDelay, p.Delay)
	}
	if p.MaxTracked <= 0 {
		p.MaxTracked = DefaultMaxTracked
	}
	return p
}

// Log receives the authentication log's lines; *maillog.Logger opened with
// maillog.WithName(maillog.AuthLogName) is one.
type Log interface {
	Infof(format string, args ...any)
	Warningf(format string, args ...any)
}

// Options configure an Authenticator.
type Options struct {
	Policy Policy
	// Log receives the authentication log; nil discards it.
	Log Log
	// Now is the clock for windows and lock-outs (default time.Now); delays are real time.
	Now func() time.Time
	// Lockout, when set, gives the settings an administrator changes
	// (userconfig POLICY): the failures that lock out and for how long,
	// which is also how long a failure counts. It is asked at each attempt,
	// so a commit applies to the next one; zero results keep Policy's.
	Lockout func() (maxFailures int, lockout time.Duration)
}

// Attempt is one login attempt.
type Attempt struct {
	Service  string // who asks, named in the log: "gui", "ssh"
	Source   string // the client's address, "192.0.2.7" or "192.0.2.7:50312"
	User     string
	Password string
	// Hash is the user's bcrypt password hash; "" when there is no such user or it has no password.
	Hash string
	// Cost is the bcrypt cost spent when Hash is empty or not a bcrypt hash: give the highest cost
	// among the configured users, so that a name that does not exist takes as long as a wrong
	// password. Below bcrypt.MinCost it means bcrypt.DefaultCost.
	Cost int
}

// ErrDenied is the answer to a wrong user name or password. It does not say which was wrong.
var ErrDenied = errors.New("login refused: wrong user name or password")

// LockedError is the answer while the user name or the source address is locked out (or while
// more attempts are in flight than failures are left). It wraps ErrDenied.
type LockedError struct {
	// RetryAfter is how long until an attempt may be checked again.
	RetryAfter time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("login refused: too many failed login attempts; try again in %s", e.RetryAfter.Round(time.Second))
}

func (e *LockedError) Unwrap() error { return ErrDenied }

// Authenticator decides login attempts. Its methods are safe for concurrent use.
type Authenticator struct {
	policy  Policy
	lockout func() (int, time.Duration)
	log     Log
	now     func() time.Time

	dummyMu sync.Mutex
	dummies map[int][]byte // cost → a bcrypt hash of a random password

	mu      sync.Mutex // guards the tables
	users   table
	sources table
}

// New returns an Authenticator with opts' policy (defaults for zero fields).
func New(opts Options) *Authenticator {
	a := &Authenticator{policy: opts.Policy.withDefaults(), lockout: opts.Lockout, log: opts.Log, now: opts.Now, dummies: map[int][]byte{}}
	if a.log == nil {
		a.log = discard{}
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.users = table{max: a.policy.MaxTracked, m: map[string]*record{}}
	a.sources = table{max: a.policy.MaxTracked, m: map[string]*record{}}
	return a
}

// Policy returns the policy in force, defaults filled in.
func (a *Authenticator) Policy() Policy {
	p := a.policy
	if a.lockout != nil {
		if n, d := a.lockout(); n > 0 && d > 0 {
			p.MaxFailures, p.Lockout, p.Window = n, d, d
		}
	}
	return p
}

// Authenticate returns nil if at's password is the user's, ErrDenied if it is not (or the user
// does not exist), or a *LockedError while the user name or the source is locked out. A failure
// is answered after the policy's delay, or when ctx ends. Every outcome but a refusal during a
// lock-out is logged.
func (a *Authenticator) Authenticate(ctx context.Context, at Attempt) error {
	pol := a.Policy()
	if err := ctx.Err(); err != nil {
		return err
	}
	user, service := clip(at.User), clip(at.Service)
	srcShown, srcKey := source(at.Source)

	now := a.now()
	a.mu.Lock()
	u, s, err := a.reserveLocked(user, srcKey, now)
	a.mu.Unlock()
	if err != nil {
		return err
	}

	ok := a.verify(at)

	now = a.now()
	a.mu.Lock()
	u.pending--
	s.pending--
	if ok {
		u.failures, u.lockedUntil = 0, time.Time{}
		if u.pending == 0 {
			delete(a.users.m, user)
		}
		a.mu.Unlock()
		a.log.Infof("User %s logged in from %s (%s)", shown(user), srcShown, service)
		return nil
	}
	userLocked := u.fail(now, pol)
	sourceLocked := s.fail(now, pol)
	n := max(u.failures, s.failures)
	uFailures, sFailures := u.failures, s.failures
	a.mu.Unlock()

	a.log.Infof("A failed login attempt for user %s from %s (%s)", shown(user), srcShown, service)
	if userLocked {
		a.log.Warningf("User %s locked out for %s after %d failed attempts from %s (%s)", shown(user), pol.Lockout, uFailures, srcShown, service)
	}
	if sourceLocked {
		a.log.Warningf("Address %s locked out for %s after %d failed attempts (%s)", srcKey, pol.Lockout, sFailures, service)
	}
	if userLocked || sourceLocked {
		return ErrDenied // this answer is a plain failure; the next ones are refused
	}
	t := time.NewTimer(a.delay(n))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return ErrDenied
}

// The calls below serve logins that Authenticate cannot check, such as an SSH public key (the
// SSH library checks the signature): the caller decides, and the Authenticator refuses during a
// lock-out, counts the failures and writes the log, with the same per-user and per-address
// counters and lock-outs as Authenticate, so a failure over one way in counts for the others.
// Password logins, over SSH too, keep using Authenticate (it spends the bcrypt time and delays
// failures). method names the way in the log, as SSH names it ("publickey"); "" names none.

// Check returns a *LockedError while the user name or the source address is locked out, or
// ctx's error; nil otherwise. It counts and logs nothing: call it before accepting a key.
func (a *Authenticator) Check(ctx context.Context, user, addr, service string) error {
	pol := a.Policy()
	if err := ctx.Err(); err != nil {
		return err
	}
	_, srcKey := source(addr)
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	u, s := a.users.get(clip(user), now, pol), a.sources.get(srcKey, now, pol)
	if until := later(u.lockedAt(now), s.lockedAt(now)); !until.IsZero() {
		return &LockedError{RetryAfter: until.Sub(now)}
	}
	return nil
}

// Fail counts one failed login for the user name and the source address, as a wrong password
// does, and logs it; the failure that reaches the limit locks them out and logs the lock-out.
// It does not delay: the caller may. An SSH client offers its keys one after another (an agent
// may hold several), so the SSH server counts refused keys once per connection, not once per key.
func (a *Authenticator) Fail(user, addr, service, method string) {
	pol := a.Policy()
	user, label := clip(user), clip(service)
	if method != "" {
		label += ", " + clip(method)
	}
	srcShown, srcKey := source(addr)
	now := a.now()
	a.mu.Lock()
	u := a.users.get(user, now, pol)
	if u == nil {
		u = a.users.add(user, now, pol)
	}
	s := a.sources.get(srcKey, now, pol)
	if s == nil {
		s = a.sources.add(srcKey, now, pol)
	}
	var userLocked, sourceLocked bool
	var uFailures, sFailures int
	if u != nil {
		userLocked, uFailures = u.fail(now, pol), u.failures
	}
	if s != nil {
		sourceLocked, sFailures = s.fail(now, pol), s.failures
	}
	a.mu.Unlock()
	a.log.Infof("A failed login attempt for user %s from %s (%s)", shown(user), srcShown, label)
	if userLocked {
		a.log.Warningf("User %s locked out for %s after %d failed attempts from %s (%s)", shown(user), pol.Lockout, uFailures, srcShown, label)
	}
	if sourceLocked {
		a.log.Warningf("Address %s locked out for %s after %d failed attempts (%s)", srcKey, pol.Lockout, sFailures, label)
	}
}

// Succeed logs a successful login and clears the user name's failures, as a right password
// does (the address keeps its own; a lock-out in force stays). Call it only after Check allowed
// the login.
func (a *Authenticator) Succeed(user, addr, service, method string) {
	user, label := clip(user), clip(service)
	if method != "" {
		label += ", " + clip(method)
	}
	srcShown, _ := source(addr)
	now := a.now()
	a.mu.Lock()
	if u := a.users.get(user, now, a.Policy()); u != nil && u.lockedAt(now).IsZero() {
		u.failures, u.lockedUntil = 0, time.Time{}
		if u.pending == 0 {
			delete(a.users.m, user)
		}
	}
	a.mu.Unlock()
	a.log.Infof("User %s logged in from %s (%s)", shown(user), srcShown, label)
}

// reserveLocked counts an attempt in flight for the user name and the source, or refuses it while
// either is locked out or has no failure left for it. a.mu must be held.
func (a *Authenticator) reserveLocked(user, src string, now time.Time) (*record, *record, error) {
	p := a.Policy()
	u, s := a.users.get(user, now, p), a.sources.get(src, now, p)
	if until := later(u.lockedAt(now), s.lockedAt(now)); !until.IsZero() {
		return nil, nil, &LockedError{RetryAfter: until.Sub(now)}
	}
	if u == nil {
		if u = a.users.add(user, now, p); u == nil {
			return nil, nil, &LockedError{RetryAfter: time.Second} // every entry has an attempt in flight
		}
	}
	if s == nil {
		if s = a.sources.add(src, now, p); s == nil {
			if u.pending == 0 && u.failures == 0 {
				delete(a.users.m, user)
			}
			return nil, nil, &LockedError{RetryAfter: time.Second}
		}
	}
	if u.failures+u.pending >= p.MaxFailures || s.failures+s.pending >= p.MaxFailures {
		// As many attempts are in flight as failures are left: wait for them.
		return nil, nil, &LockedError{RetryAfter: time.Second}
	}
	u.pending++
	s.pending++
	return u, s, nil
}

// verify checks the password, spending one bcrypt comparison of the same cost whether or not
// the user has a hash.
func (a *Authenticator) verify(at Attempt) bool {
	hash := []byte(at.Hash)
	if _, err := bcrypt.Cost(hash); err != nil {
		_ = bcrypt.CompareHashAndPassword(a.dummy(at.Cost), []byte(at.Password))
		return false
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(at.Password)) == nil
}

// dummy returns a fixed hash of a random password at the given cost, made at its first use.
func (a *Authenticator) dummy(cost int) []byte {
	cost = dummyCost(cost)
	a.dummyMu.Lock()
	defer a.dummyMu.Unlock()
	if h, ok := a.dummies[cost]; ok {
		return h
	}
	h, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
	if err != nil {
		panic("auth: making the dummy hash: " + err.Error()) // unreachable: the cost is in range, the password 26 bytes
	}
	a.dummies[cost] = h
	return h
}

// dummyCost is the cost of the dummy hash for an Attempt's Cost.
func dummyCost(cost int) int {
	if cost < bcrypt.MinCost {
		return bcrypt.DefaultCost
	}
	return min(cost, bcrypt.MaxCost)
}

// delay is how long the answer to the n-th failure in a row waits.
func (a *Authenticator) delay(n int) time.Duration {
	pol := a.Policy()
	d := pol.Delay
	for i := 1; i < n && d < pol.MaxDelay; i++ {
		d *= 2
	}
	return min(d, pol.MaxDelay)
}

// record is what is kept of one user name or source address.
type record struct {
	failures    int       // in the current run
	first       time.Time // the first failure of the run
	last        time.Time // the last failure, for eviction
	lockedUntil time.Time
	pending     int // attempts in flight
}

// lockedAt returns when the lock-out ends, or zero if r is not locked out at now.
func (r *record) lockedAt(now time.Time) time.Time {
	if r == nil || !now.Before(r.lockedUntil) {
		return time.Time{}
	}
	return r.lockedUntil
}

// expire starts a new run once the lock-out or the window is over.
func (r *record) expire(now time.Time, p Policy) {
	if !r.lockedUntil.IsZero() {
		if now.Before(r.lockedUntil) {
			return
		}
		r.failures, r.lockedUntil = 0, time.Time{}
	}
	if r.failures > 0 && now.Sub(r.first) >= p.Window {
		r.failures = 0
	}
}

// idle reports whether r holds nothing worth keeping.
func (r *record) idle() bool { return r.pending == 0 && r.failures == 0 && r.lockedUntil.IsZero() }

// fail counts a failure and reports whether it began a lock-out.
func (r *record) fail(now time.Time, p Policy) bool {
	r.expire(now, p)
	if r.failures == 0 {
		r.first = now
	}
	r.failures++
	r.last = now
	if r.failures >= p.MaxFailures && r.lockedUntil.IsZero() {
		r.lockedUntil = now.Add(p.Lockout)
		return true
	}
	return false
}

// table is a bounded map of records.
type table struct {
	max int
	m   map[string]*record
}

// get returns key's record, brought up to date, or nil.
func (t *table) get(key string, now time.Time, p Policy) *record {
	r := t.m[key]
	if r == nil {
		return nil
	}
	r.expire(now, p)
	if r.idle() {
		delete(t.m, key)
		return nil
	}
	return r
}

// add makes a record for key, making room if the table is full; nil if every record has an
// attempt in flight.
func (t *table) add(key string, now time.Time, p Policy) *record {
	if len(t.m) >= t.max {
		for k, r := range t.m {
			if r.expire(now, p); r.idle() {
				delete(t.m, k)
			}
		}
	}
	if len(t.m) >= t.max {
		var victim, locked string
		var vAt, lAt time.Time
		for k, r := range t.m {
			switch {
			case r.pending > 0:
			case r.lockedUntil.IsZero():
				if victim == "" || r.last.Before(vAt) {
					victim, vAt = k, r.last
				}
			default:
				if locked == "" || r.last.Before(lAt) {
					locked, lAt = k, r.last
				}
			}
		}
		switch {
		case victim != "":
			delete(t.m, victim)
		case locked != "":
			delete(t.m, locked)
		default:
			return nil
		}
	}
	r := &record{last: now}
	t.m[key] = r
	return r
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// clip cuts s to maxName bytes, at a rune boundary where there is one.
func clip(s string) string {
	if len(s) <= maxName {
		return s
	}
	i := maxName
	for i > maxName-4 && i > 0 && s[i]&0xc0 == 0x80 {
		i--
	}
	return s[:i]
}

// plainName is a user name as the configuration allows it; others are logged quoted.
var plainName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// shown is a user name as the log writes it: bare if it is a valid configured name, else quoted
// (so that a name such as "admin from 10.0.0.1" cannot pass for another line's words).
func shown(user string) string {
	if plainName.MatchString(user) {
		return user
	}
	return strconv.Quote(user)
}

// source returns how an address is shown in the log and the key it is counted under: the IP
// without its port; IPv6 by its /64. Anything else is shown quoted and counted as it is.
func source(addr string) (shownAs, key string) {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		s := clip(addr)
		return strconv.Quote(s), s
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		return ip.String(), netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String(), ip.String()
}

type discard struct{}

func (discard) Infof(string, ...any)    {}
func (discard) Warningf(string, ...any) {}
