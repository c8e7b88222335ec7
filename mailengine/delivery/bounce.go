package delivery

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"relaybox/mailengine/address"
	"relaybox/mailengine/queue"
)

// failure is a recipient that failed permanently in an attempt.
type failure struct {
	rid    int
	status string // RFC 3463 status code
	text   string // the peer's reply, or why it failed without one
}

func failedRIDs(fs []failure) []int {
	out := make([]int, len(fs))
	for i, f := range fs {
		out[i] = f.rid
	}
	return out
}

// bounce queues one delivery status notification (RFC 3464) to the sender
// naming every recipient that failed in an attempt. A message from the
// null sender (itself a bounce) gets none, nor does one whose sender is not
// a usable address: a bounce never bounces. It reports false when the
// bounce could not be queued; the recipients are then tried again.
func (d *Deliverer) bounce(ctx context.Context, s *Settings, m queue.Message, failed []failure) bool {
	from := m.Envelope.From
	if from == "" {
		d.opts.Log.Infof("MID %d RID %v failed; no bounce for a message from the null sender", m.MID, failedRIDs(failed))
		return true
	}
	if err := address.Valid(from); err != nil {
		d.opts.Log.Infof("MID %d RID %v failed; no bounce: the sender <%s> is not a usable address (%v)", m.MID, failedRIDs(failed), printable(from), err)
		return true
	}
	now := d.opts.Now()
	body, utf8 := dsn(s.Config.Hostname, now, m, failed, originalHeaders(d.opts.Spool, m.MID))
	env := queue.Envelope{From: "", To: []string{from}, Listener: "bounce", Received: now, UTF8: utf8}
	mid, _, err := d.opts.Spool.Put(ctx, env, strings.NewReader(body), 0)
	if err != nil {
		d.opts.Log.Warningf("MID %d cannot queue the bounce to <%s> for RID %v: %v; they are tried again at the next attempt", m.MID, from, failedRIDs(failed), err)
		return false
	}
	d.opts.Log.Infof("MID %d bounce MID %d queued to <%s>", m.MID, mid, from)
	d.Queued(mid)
	return true
}

// dsn returns the bounce of m for its failed recipients: a multipart/report
// (RFC 3464) whose text part lists them all, with one per-recipient block
// each, and the original header. With a non-ASCII address in it, it is an
// internationalized DSN (RFC 6533: message/global-delivery-status, "utf-8"
// address type) that needs SMTPUTF8 (utf8).
func dsn(host string, now time.Time, m queue.Message, failed []failure, headers string) (body string, utf8 bool) {
	from := m.Envelope.From
	utf8 = !isASCII(from) || !isASCII(headers)
	for _, f := range failed {
		utf8 = utf8 || !isASCII(m.Envelope.To[f.rid])
	}
	statusType, headersType, addrType := "message/delivery-status", "text/rfc822-headers", "rfc822"
	if utf8 {
		statusType, headersType, addrType = "message/global-delivery-status", "message/global-headers", "utf-8"
	}
	boundary := fmt.Sprintf("relaybox-%d-%d", m.MID, now.UnixNano())
	var b strings.Builder
	fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\nTo: <%s>\r\nSubject: Undelivered Mail Returned to Sender\r\nDate: %s\r\n", host, printable(from), now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", boundary, host)
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=%q\r\n\r\n", boundary)

	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", boundary)
	if len(failed) == 1 {
		b.WriteString("Your message could not be delivered to this recipient:\r\n\r\n")
	} else {
		fmt.Fprintf(&b, "Your message could not be delivered to these %d recipients:\r\n\r\n", len(failed))
	}
	for _, f := range failed {
		fmt.Fprintf(&b, "<%s>: %s\r\n", printable(m.Envelope.To[f.rid]), printable(f.text))
	}
	b.WriteString("\r\n")

	fmt.Fprintf(&b, "--%s\r\nContent-Type: %s\r\n\r\nReporting-MTA: dns; %s\r\nArrival-Date: %s\r\n", boundary, statusType, host, m.Envelope.Received.Format(time.RFC1123Z))
	for _, f := range failed {
		fmt.Fprintf(&b, "\r\nFinal-Recipient: %s; %s\r\nAction: failed\r\nStatus: %s\r\nDiagnostic-Code: %s\r\n",
			addrType, printable(m.Envelope.To[f.rid]), f.status, diagnostic(f.text))
	}
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: %s\r\n\r\n%s\r\n--%s--\r\n", boundary, headersType, headers, boundary)
	return b.String(), utf8
}

// diagnostic is a Diagnostic-Code value: "smtp; <reply>" for a reply of
// the peer's (it starts with its code), else our own reason.
func diagnostic(text string) string {
	if len(text) >= 4 && (text[0] == '4' || text[0] == '5') && isDigit(text[1]) && isDigit(text[2]) && text[3] == ' ' {
		return "smtp; " + printable(text)
	}
	return "X-Relaybox; " + printable(text)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// originalHeaders returns the header of a queued message (for the DSN).
func originalHeaders(sp Spool, mid queue.MID) string {
	_, rc, err := sp.Get(mid)
	if err != nil {
		return ""
	}
	defer rc.Close()
	var b strings.Builder
	r := bufio.NewReader(io.LimitReader(rc, 64<<10))
	for {
		line, err := r.ReadString('\n')
		if strings.TrimRight(line, "\r\n") == "" {
			break
		}
		b.WriteString(strings.TrimRight(line, "\r\n") + "\r\n")
		if err != nil {
			break
		}
	}
	return b.String()
}
