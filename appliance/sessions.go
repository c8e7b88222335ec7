package appliance

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"relaybox/commands"
)

// Session kinds, as who and last show them.
const (
	KindConsole = "console"
	KindSocket  = "socket"
	KindSSH     = "ssh"
)

// maxLoginRecords is how many logins last remembers (the open ones always).
const maxLoginRecords = 100

// registry is the appliance's list of shell sessions, open and recent, for
// who and last. It lives in memory: a restart ends every session anyway.
type registry struct {
	now func() time.Time

	mu      sync.Mutex
	open    map[*openSession]struct{}
	records []*commands.LoginRecord // oldest first, at most maxLoginRecords ended ones
}

type openSession struct {
	rec       *commands.LoginRecord
	lastInput atomic.Int64 // unix nanoseconds
}

func newRegistry(now func() time.Time) *registry {
	if now == nil {
		now = time.Now
	}
	return &registry{now: now, open: map[*openSession]struct{}{}}
}

// begin records a login; touch marks input, end records the logout (once).
func (r *registry) begin(user, from, kind string) (touch, end func()) {
	now := r.now()
	s := &openSession{rec: &commands.LoginRecord{User: user, From: from, Kind: kind, Login: now}}
	s.lastInput.Store(now.UnixNano())
	r.mu.Lock()
	r.open[s] = struct{}{}
	r.records = append(r.records, s.rec)
	r.trimLocked()
	r.mu.Unlock()
	var once sync.Once
	return func() { s.lastInput.Store(r.now().UnixNano()) }, func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.open, s)
			s.rec.Logout = r.now()
			r.trimLocked()
			r.mu.Unlock()
		})
	}
}

// trimLocked drops the oldest ended logins beyond maxLoginRecords.
func (r *registry) trimLocked() {
	ended := 0
	for _, rec := range r.records {
		if !rec.Logout.IsZero() {
			ended++
		}
	}
	out := r.records[:0]
	for _, rec := range r.records {
		if !rec.Logout.IsZero() && ended > maxLoginRecords {
			ended--
			continue
		}
		out = append(out, rec)
	}
	clear(r.records[len(out):])
	r.records = out
}

// Who lists the open sessions, oldest first.
func (r *registry) Who() []commands.SessionInfo {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []commands.SessionInfo
	for s := range r.open {
		out = append(out, commands.SessionInfo{User: s.rec.User, From: s.rec.From, Kind: s.rec.Kind, Since: s.rec.Login,
			Idle: now.Sub(time.Unix(0, s.lastInput.Load()))})
	}
	slices.SortFunc(out, func(a, b commands.SessionInfo) int { return a.Since.Compare(b.Since) })
	return out
}

// Last lists the recent logins, oldest first.
func (r *registry) Last() []commands.LoginRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]commands.LoginRecord, len(r.records))
	for i, rec := range r.records {
		out[i] = *rec
	}
	return out
}
