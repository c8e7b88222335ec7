package delivery

import (
	"context"
	"time"

	"relaybox/mailengine/queue"
	"relaybox/mailengine/smtpclient"
)

// DefaultIdleTimeout is how long an outbound connection waits for the next
// message of its destination before it is closed (Postfix's connection
// cache keeps one for 2 s too).
const DefaultIdleTimeout = 2 * time.Second

// conn is an open outbound connection, named by its DCID in mail_logs. It
// carries one message at a time and, between messages, waits in the idle
// list of its destination.
type conn struct {
	c        *smtpclient.Conn
	dcid     uint64
	domain   string
	t        target
	settings *Settings
	cur      carrying    // the message being sent, for the log lines of its events
	timer    *time.Timer // while idle: closes the connection when it fires
}

// carrying is the message a connection is sending.
type carrying struct {
	m    queue.Message
	rids []int
}

// slot is the outcome of asking for a connection to a destination.
type slot int

const (
	slotBusy  slot = iota // the destination's or the system's limit is reached
	slotIdle              // an idle connection was handed over
	slotFresh             // a new connection may be opened
)

// acquire hands over an idle connection to domain made under the current
// settings s, or reserves room for a new one within the destination's
// limit and the system-wide limit. At the system-wide limit, an idle
// connection of another destination is closed to make room.
func (d *Deliverer) acquire(domain string, s *Settings, limit, global int) (*conn, slot) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for l := d.idle[domain]; len(l) > 0; l = d.idle[domain] {
		pc := l[len(l)-1]
		d.idle[domain] = l[:len(l)-1]
		pc.timer.Stop()
		if pc.settings == s {
			return pc, slotIdle
		}
		d.dropLocked(pc) // made under settings that no longer apply
	}
	if limit > 0 && d.open[domain] >= limit {
		return nil, slotBusy
	}
	if global > 0 && d.total >= global && !d.evictLocked(domain) {
		return nil, slotBusy
	}
	d.open[domain]++
	d.total++
	return nil, slotFresh
}

// evictLocked closes the oldest idle connection of a destination other than
// domain, freeing its room; false when there is none.
func (d *Deliverer) evictLocked(domain string) bool {
	for dom, l := range d.idle {
		if dom == domain || len(l) == 0 {
			continue
		}
		pc := l[0]
		d.idle[dom] = l[1:]
		pc.timer.Stop()
		d.dropLocked(pc)
		return true
	}
	return false
}

// unreserve gives back the room acquire reserved when no connection came of it.
func (d *Deliverer) unreserve(domain string) {
	d.mu.Lock()
	d.open[domain]--
	d.total--
	d.mu.Unlock()
	d.Notify()
}

// park puts a connection that just finished a message into its
// destination's idle list, or closes it when it may not carry another one:
// broken, at the destination's messages-per-connection limit, made under
// settings since replaced, or delivery is stopping.
func (d *Deliverer) park(ctx context.Context, pc *conn, maxMessages int) {
	reusable := pc.c.Usable() && (maxMessages <= 0 || pc.c.Sent() < maxMessages) &&
		d.settings.Load() == pc.settings && ctx.Err() == nil
	if !reusable {
		d.close(pc)
		return
	}
	pc.cur = carrying{}
	d.mu.Lock()
	pc.timer = time.AfterFunc(d.opts.IdleTimeout, func() { d.expire(pc) })
	d.idle[pc.domain] = append(d.idle[pc.domain], pc)
	d.mu.Unlock()
	d.Notify() // a message waiting for room at this destination can go now
}

// OutboundConnections reports the outbound connections open now, and how
// many of them wait idle for a next message (for status).
func (d *Deliverer) OutboundConnections() (open, idle int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.idle {
		idle += len(l)
	}
	return d.total, idle
}

// expire closes a connection whose idle time is up, unless it was handed
// over meanwhile.
func (d *Deliverer) expire(pc *conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.idle[pc.domain]
	for i, x := range l {
		if x == pc {
			d.idle[pc.domain] = append(l[:i:i], l[i+1:]...)
			d.dropLocked(pc)
			return
		}
	}
}

// closeIdle closes every idle connection (settings changed, or delivery stops).
func (d *Deliverer) closeIdle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for dom, l := range d.idle {
		for _, pc := range l {
			pc.timer.Stop()
			d.dropLocked(pc)
		}
		delete(d.idle, dom)
	}
}

// dropLocked frees a connection's room and closes it in the background
// (QUIT waits for a reply). d.mu is held.
func (d *Deliverer) dropLocked(pc *conn) {
	d.open[pc.domain]--
	d.total--
	d.closing.Add(1)
	go func() {
		defer d.closing.Done()
		d.quit(pc)
	}()
}

// close ends a connection in use and frees its room.
func (d *Deliverer) close(pc *conn) {
	d.quit(pc)
	d.unreserve(pc.domain)
}

// quit sends QUIT, closes the connection and logs it.
func (d *Deliverer) quit(pc *conn) {
	pc.c.Close()
	d.opts.Log.Infof("DCID %d close", pc.dcid)
}
