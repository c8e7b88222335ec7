package maillog

import (
	"io"
	"sync"
)

// copyLimit bounds the lines waiting for the copy: past it, logging waits
// for the copy to catch up (as a synchronous copy would), so a stuck
// stdout slows logging rather than grow memory without bound.
const copyLimit = 1 << 20

// copier writes the copy of the log (WithCopy) from its own goroutine: a
// line is added to a buffer and written with whatever else has gathered
// meanwhile, so under load many lines share one write(2). The file itself
// is still written line by line, in Logf: the copy is for docker logs and
// journald, and may trail the file by the write in progress.
type copier struct {
	w      io.Writer
	mu     sync.Mutex
	cond   *sync.Cond // signalled when buf gains lines, when a write ends, and at close
	buf    []byte
	closed bool
	done   chan struct{}
}

func newCopier(w io.Writer) *copier {
	c := &copier{w: w, done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	go c.run()
	return c
}

// add queues line for the copy, waiting while copyLimit bytes are queued.
func (c *copier) add(line []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.buf) >= copyLimit && !c.closed {
		c.cond.Wait()
	}
	if c.closed {
		return
	}
	c.buf = append(c.buf, line...)
	c.cond.Broadcast()
}

func (c *copier) run() {
	defer close(c.done)
	var spare []byte
	c.mu.Lock()
	for {
		for len(c.buf) == 0 && !c.closed {
			c.cond.Wait()
		}
		if len(c.buf) == 0 { // closed and drained
			c.mu.Unlock()
			return
		}
		out := c.buf
		c.buf, spare = spare[:0], nil
		c.mu.Unlock()
		_, _ = c.w.Write(out) // a failing copy never stops logging
		c.mu.Lock()
		spare = out
		c.cond.Broadcast()
	}
}

// close writes what is queued and stops the goroutine.
func (c *copier) close() {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	<-c.done
}
