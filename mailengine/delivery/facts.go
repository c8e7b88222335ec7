package delivery

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"relaybox/mailengine/queue"
	"relaybox/mailengine/smtpclient"
)

// facts is what MAIL needs to know of a message before it is sent, read
// from the spool once per queued message: its size as it goes on the wire
// (SIZE=, counted by RFC 1870: line ends normalised and long lines broken
// by smtpclient.DotWriter, without dot-stuffing and the final dot), and
// whether its header is ASCII (for a peer without SMTPUTF8).
type facts struct {
	size        int64
	headerASCII bool
}

// factsOf returns m's facts, reading the message the first time.
func (d *Deliverer) factsOf(m queue.Message, rec *record) (facts, error) {
	if rec.facts != nil {
		return *rec.facts, nil
	}
	body, err := d.openMessage(m, rec)
	if err != nil {
		return facts{}, err
	}
	defer body.Close()
	dw := smtpclient.NewDotWriter(io.Discard)
	var hs headerScan
	if _, err := io.Copy(dw, io.TeeReader(body, &hs)); err != nil { // dw.ReadFrom: no buffer per message
		return facts{}, fmt.Errorf("reading MID %d for its size: %w", m.MID, err)
	}
	_ = dw.Close() // io.Discard does not fail
	rec.facts = &facts{size: dw.Size(), headerASCII: !hs.nonASCII}
	return *rec.facts, nil
}

// headerScan notes whether a message's header (up to its first empty
// line, any line end convention) has an octet that is not ASCII.
type headerScan struct {
	ended    bool
	lineLen  int // octets of the current line so far, CRs not counted
	nonASCII bool
}

func (h *headerScan) Write(p []byte) (int, error) {
	for _, c := range p {
		if h.ended {
			break
		}
		switch {
		case c == '\n':
			h.ended = h.lineLen == 0
			h.lineLen = 0
		case c == '\r':
		default:
			h.lineLen++
			h.nonASCII = h.nonASCII || c >= 0x80
		}
	}
	return len(p), nil
}

// openMessage reads a queued message as it goes on the wire: the header lines
// Settings.Stamp gave (record.header), then the message itself.
func (d *Deliverer) openMessage(m queue.Message, rec *record) (io.ReadCloser, error) {
	_, body, err := d.opts.Spool.Get(m.MID)
	if err != nil || len(rec.header) == 0 {
		return body, err
	}
	return stamped{Reader: io.MultiReader(bytes.NewReader(rec.header), body), Closer: body}, nil
}

type stamped struct {
	io.Reader
	io.Closer
}

// stamp gives Settings.Stamp the message once per queued message (in
// memory: after a restart it looks again). The message is delivered
// whatever it says; a message it cannot read goes on unstamped.
func (d *Deliverer) stamp(ctx context.Context, s *Settings, m queue.Message, rec *record) {
	if s.Stamp == nil || rec.stamped || m.Envelope.Listener == "bounce" || m.Envelope.Listener == AlertListener {
		return
	}
	rec.stamped = true
	_, body, err := d.opts.Spool.Get(m.MID)
	if err != nil {
		return // send reports the unreadable queue file
	}
	defer body.Close()
	rec.header = s.Stamp.Stamp(ctx, m.MID, body)
	rec.facts = nil // the size includes the header
}
