package cipherstring

import (
	"slices"
	"sync"
)

// memoSize bounds how many distinct strings Parse remembers; a
// configuration names a handful, and a script of edits cycles through few.
const memoSize = 64

// memo is Parse's cache. It holds results of a pure function, so it changes
// no behaviour: only how often the same evaluation runs.
var memo = &parseMemo{m: make(map[string]memoEntry, memoSize)}

type memoEntry struct {
	r   Result
	err error
}

// parseMemo is a bounded map from cipher string to result; when full it is
// emptied (no eviction order to keep: refilling costs one evaluation per
// string).
type parseMemo struct {
	mu sync.Mutex
	m  map[string]memoEntry
}

func (c *parseMemo) get(s string) (Result, error, bool) {
	c.mu.Lock()
	e, ok := c.m[s]
	c.mu.Unlock()
	if !ok {
		return Result{}, nil, false
	}
	return e.r.clone(), e.err, true
}

func (c *parseMemo) put(s string, r Result, err error) {
	if len(s) > 4096 { // an absurd string is not worth keeping
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= memoSize {
		clear(c.m)
	}
	c.m[s] = memoEntry{r: r.clone(), err: err}
}

// clone is a copy of r that shares no slice with it.
func (r Result) clone() Result {
	return Result{Suites: slices.Clone(r.Suites), Warnings: slices.Clone(r.Warnings), SecLevel: r.SecLevel}
}
