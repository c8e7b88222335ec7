package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/afero"

	"relaybox/internal/atomicfile"
	"relaybox/mailengine/queue"
)

// state records which recipients of a message are done (delivered or
// bounced). It is written atomically after each destination, so a restart
// retries only the others: a peer that said 250 never gets the message twice.
type state struct {
	Done map[int]bool `json:"done"`
}

// errCorruptState marks a state file that was read but is not a state.
var errCorruptState = errors.New("not a delivery state")

func loadState(path string) (state, error) {
	st := state{Done: map[int]bool{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return state{Done: map[int]bool{}}, fmt.Errorf("%s: %w: %v", path, errCorruptState, err)
	}
	if st.Done == nil {
		st.Done = map[int]bool{}
	}
	return st, nil
}

func saveState(path string, st state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	afs := afero.NewOsFs()
	if err := afs.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(afs, path, data, 0o600)
}

func removeState(path string) { _ = os.Remove(path) }

// holdRetry is how often a held message (its state could not be written
// or read, or it could not be removed from the queue) tries again.
const holdRetry = time.Second

// record is what delivery knows of a queued message between its
// attempts. done is the truth: it has every recipient a peer accepted or
// that bounced, whether or not the state file has it yet, so a state file
// that cannot be written never makes a recipient get the message again
// while the process runs. A record lives while its message is queued
// (Deliverer.records) and is used by one attempt at a time (Deliverer.busy).
type record struct {
	done    map[int]bool
	loaded  bool   // the state file was read (or there is none)
	unsaved bool   // done has recipients the state file lacks: no new transaction until it is written
	removed bool   // the queue file is gone
	facts   *facts // read on first use
	// stamped is set once Settings.Stamp has looked at the message; header
	// is what it gave, sent before the message's own header every time.
	stamped bool
	header  []byte
	// Each condition is warned about once, until it clears.
	warnedLoad, warnedSave, warnedRemove bool
}

// complete reports whether every recipient of m is done.
func (r *record) complete(m queue.Message) bool {
	for rid := range m.Envelope.To {
		if !r.done[rid] {
			return false
		}
	}
	return true
}

// pending returns the recipients of m not done yet, in order.
func (r *record) pending(m queue.Message) []int {
	var out []int
	for rid := range m.Envelope.To {
		if !r.done[rid] {
			out = append(out, rid)
		}
	}
	return out
}

// recordOf returns the record of a queued message, a new one the first time.
func (d *Deliverer) recordOf(mid queue.MID) *record {
	d.mu.Lock()
	defer d.mu.Unlock()
	rec := d.records[mid]
	if rec == nil {
		rec = &record{done: map[int]bool{}}
		d.records[mid] = rec
	}
	return rec
}

// restore reads the state file into a new record. A file that cannot be
// read holds the message (false): guessing could send it twice. A file
// that is not a state is reported and ignored: every recipient is tried.
func (d *Deliverer) restore(m queue.Message, rec *record) bool {
	if rec.loaded {
		return true
	}
	if !d.mayHaveState(m.MID) { // queued since Run listed the state directory, never saved
		rec.loaded = true
		return true
	}
	path := d.statePath(m.MID)
	st, err := loadState(path)
	switch {
	case errors.Is(err, errCorruptState):
		d.opts.Log.Warningf("MID %d delivery state unreadable (%v); retrying every recipient", m.MID, err)
	case err != nil:
		if !rec.warnedLoad {
			rec.warnedLoad = true
			d.opts.Log.Warningf("MID %d delivery state cannot be read: %v; MID %d is held (not delivered) until it can, so that no recipient gets it twice: make %s a readable directory; retried every %s",
				m.MID, err, m.MID, d.opts.StateDir, holdRetry)
		}
		return false
	}
	for rid, done := range st.Done {
		if done {
			rec.done[rid] = true
		}
	}
	rec.loaded = true
	if rec.warnedLoad {
		rec.warnedLoad = false
		d.opts.Log.Infof("MID %d delivery state read; delivery resumes", m.MID)
	}
	return true
}

// markDone records recipients as done: in memory at once, then on disk.
// When that completes the message, removing it from the queue is the
// record (one group-committed unlink instead of a state file); if the
// removal fails, the state file is written instead.
func (d *Deliverer) markDone(m queue.Message, rec *record, rids []int) {
	if len(rids) == 0 {
		return
	}
	for _, rid := range rids {
		rec.done[rid] = true
	}
	if rec.complete(m) && d.remove(m, rec) {
		return
	}
	rec.unsaved = true
	d.flush(m, rec)
}

// flush writes the record to the state file when it has recipients the
// file lacks. It reports false when that failed: the message is then held
// (no new transaction) until a later pass writes it.
func (d *Deliverer) flush(m queue.Message, rec *record) bool {
	if !rec.unsaved {
		return true
	}
	st := state{Done: make(map[int]bool, len(rec.done))}
	for rid := range rec.done {
		st.Done[rid] = true
	}
	d.mu.Lock()
	if d.statesListed {
		d.stateFiles[m.MID] = true // from now on it may exist, even if this write fails halfway
	}
	d.mu.Unlock()
	if err := saveState(d.statePath(m.MID), st); err != nil {
		if !rec.warnedSave {
			rec.warnedSave = true
			d.opts.Log.Warningf("MID %d delivery state cannot be written: %v; MID %d is held (no further delivery) so that no recipient gets it twice (done: RID %v): free space in %s or make it a writable directory; retried every %s",
				m.MID, err, m.MID, sortedRIDs(rec.done), d.opts.StateDir, holdRetry)
		}
		return false
	}
	rec.unsaved = false
	if rec.warnedSave {
		rec.warnedSave = false
		d.opts.Log.Infof("MID %d delivery state written; delivery resumes", m.MID)
	}
	return true
}

// remove takes a message whose recipients are all done out of the queue.
// It reports false when that failed: the message is then never delivered
// again (its record says so, and the state file when it can be written),
// and a later pass retries the removal.
func (d *Deliverer) remove(m queue.Message, rec *record) bool {
	if rec.removed {
		return true
	}
	if err := d.opts.Spool.Remove(m.MID); err != nil && !errors.Is(err, queue.ErrNotFound) {
		if !rec.warnedRemove {
			rec.warnedRemove = true
			d.opts.Log.Warningf("MID %d every recipient is done but it cannot be removed from the queue: %v; it is not delivered again: fix the queue directory (free space, permissions); retried every %s",
				m.MID, err, holdRetry)
		}
		return false
	}
	rec.removed = true
	return true
}

// hold keeps a message out of delivery until the next hold retry.
func (d *Deliverer) hold(mid queue.MID) {
	d.mu.Lock()
	d.due[mid] = d.opts.Now().Add(holdRetry)
	d.mu.Unlock()
}

// forgetLocked drops what delivery remembers of a message that left the
// queue. d.mu is held.
func (d *Deliverer) forgetLocked(mid queue.MID) {
	delete(d.known, mid)
	delete(d.records, mid)
	delete(d.due, mid)
	delete(d.attempts, mid)
}

func sortedRIDs(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for rid := range set {
		out = append(out, rid)
	}
	slices.Sort(out)
	return out
}
