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
	settings *Settings
	cur      carrying // the message being sent, for the log lines of its events
	local    string   // the source address of the connection

	// While idle, under Deliverer.mu: since when, and the idle timer, which
	// closes the connection unless gen moved on (it was handed over).
	idleSince time.Time
	timer     *time.Timer
	gen       uint64
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

// systemWide is the waiting line of messages that met the system-wide
// limit (the others wait in their destination's line).
const systemWide = ""

// acquire hands over an idle connection to domain made under the current
// settings s, or reserves room for a new one within the destination's
// limit and the system-wide limit. When there is no room, mid joins the
// waiting line of what blocked it, to be woken when room comes free there;
// at the system-wide limit the longest-idle connection of another
// destination is closed to make that room (unless one is closing already).
func (d *Deliverer) acquire(domain string, s *Settings, limit, global int, mid queue.MID) (*conn, slot) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for l := d.idle[domain]; len(l) > 0; l = d.idle[domain] {
		pc := l[len(l)-1]
		d.setIdleLocked(domain, l[:len(l)-1])
		pc.timer.Stop()
		if pc.settings == s {
			return pc, slotIdle
		}
		d.dropLocked(pc) // made under settings that no longer apply
	}
	switch {
	case limit > 0 && d.open[domain] >= limit:
		d.waitLocked(domain, mid)
		return nil, slotBusy
	case global > 0 && d.total >= global:
		if d.total-d.closingN >= global {
			d.evictLocked(domain)
		}
		d.waitLocked(systemWide, mid)
		return nil, slotBusy
	}
	d.open[domain]++
	d.total++
	return nil, slotFresh
}

// waitLocked puts mid at the end of the waiting line key (one line per
// message: joining another leaves the old entry stale, skipped on wake).
func (d *Deliverer) waitLocked(key string, mid queue.MID) {
	if cur, ok := d.waitKey[mid]; ok && cur == key {
		return
	}
	d.waitKey[mid] = key
	d.waiters[key] = append(d.waiters[key], mid)
}

// unwait takes a message out of the waiting lines: its attempt ended in
// something other than waiting.
func (d *Deliverer) unwait(mid queue.MID) {
	d.mu.Lock()
	delete(d.waitKey, mid)
	d.mu.Unlock()
}

// setIdleLocked replaces a destination's idle list, dropping the key when empty.
func (d *Deliverer) setIdleLocked(domain string, l []*conn) {
	if len(l) == 0 {
		delete(d.idle, domain)
		return
	}
	d.idle[domain] = l
}

// evictLocked closes the longest-idle connection of a destination other
// than domain; its room comes free once it is closed.
func (d *Deliverer) evictLocked(domain string) {
	var oldest *conn
	for dom, l := range d.idle {
		if dom != domain && (oldest == nil || l[0].idleSince.Before(oldest.idleSince)) {
			oldest = l[0]
		}
	}
	if oldest == nil {
		return
	}
	d.setIdleLocked(oldest.domain, d.idle[oldest.domain][1:])
	oldest.timer.Stop()
	d.dropLocked(oldest)
}

// wakeLocked lets the first message still waiting in line key be
// scheduled at once: its waiting retry time is cleared. A message woken
// while its attempt is still running sees it when the attempt ends.
func (d *Deliverer) wakeLocked(key string) {
	q := d.waiters[key]
	for len(q) > 0 {
		mid := q[0]
		q = q[1:]
		if d.waitKey[mid] != key {
			continue // woken already, moved to another line, or done
		}
		delete(d.waitKey, mid)
		if _, queued := d.known[mid]; queued {
			delete(d.due, mid)
			d.recheck[mid] = struct{}{}
			break
		}
	}
	if len(q) == 0 {
		delete(d.waiters, key)
	} else {
		d.waiters[key] = q
	}
}

// freeLocked gives back one connection's room at domain: a message waiting
// for the destination, and one waiting for the system-wide limit, may go.
func (d *Deliverer) freeLocked(domain string) {
	if d.open[domain]--; d.open[domain] <= 0 {
		delete(d.open, domain)
	}
	d.total--
	d.wakeLocked(domain)
	d.wakeLocked(systemWide)
}

// unreserve gives back the room acquire reserved when no connection came of it.
func (d *Deliverer) unreserve(domain string) {
	d.mu.Lock()
	d.freeLocked(domain)
	d.mu.Unlock()
	d.poke() // wakeLocked put what may go now in recheck
}

// park puts a connection that just finished a message into its
// destination's idle list, or closes it when it may not carry another one:
// broken, at the destination's messages-per-connection limit, made under
// settings since replaced, or delivery is stopping.
func (d *Deliverer) park(ctx context.Context, pc *conn, maxMessages int) {
	d.mu.Lock()
	if !pc.c.Usable() || maxMessages > 0 && pc.c.Sent() >= maxMessages || d.settings.Load() != pc.settings || ctx.Err() != nil {
		d.mu.Unlock()
		d.close(pc)
		return
	}
	pc.cur = carrying{}
	pc.gen++
	gen := pc.gen
	pc.idleSince = d.opts.Now()
	pc.timer = time.AfterFunc(d.opts.IdleTimeout, func() { d.expire(pc, gen) })
	d.idle[pc.domain] = append(d.idle[pc.domain], pc)
	d.wakeLocked(pc.domain)
	d.mu.Unlock()
	d.poke() // wakeLocked put what may go now in recheck
}

// expire closes a connection whose idle time is up, unless it was handed
// over meanwhile (and perhaps parked again: then gen differs).
func (d *Deliverer) expire(pc *conn, gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if pc.gen != gen {
		return
	}
	l := d.idle[pc.domain]
	for i, x := range l {
		if x == pc {
			d.setIdleLocked(pc.domain, append(l[:i:i], l[i+1:]...))
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

// dropLocked closes a connection taken off its idle list in the background
// (QUIT waits for a reply); its room comes free once it is closed, so a
// limit of n connections is never n+1 on the wire. d.mu is held.
func (d *Deliverer) dropLocked(pc *conn) {
	pc.gen++
	d.closingN++
	d.closing.Add(1)
	go func() {
		defer d.closing.Done()
		d.quit(pc)
		d.mu.Lock()
		d.closingN--
		d.freeLocked(pc.domain)
		d.mu.Unlock()
		d.poke() // wakeLocked put what may go now in recheck
	}()
}

// close ends a connection with QUIT, logs it and frees its room.
func (d *Deliverer) close(pc *conn) {
	d.quit(pc)
	d.unreserve(pc.domain)
}

// quit sends QUIT, closes the connection and logs it; its room stays taken.
func (d *Deliverer) quit(pc *conn) {
	pc.c.Close()
	d.opts.Log.Infof("DCID %d close", pc.dcid)
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
