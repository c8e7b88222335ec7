package delivery

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"relaybox/mailengine/queue"
)

// bounce queues a delivery status notification (RFC 3464) to the sender for
// one recipient; a message with the null sender (itself a bounce) gets none.
func (d *Deliverer) bounce(ctx context.Context, s *Settings, m queue.Message, rid int, status, text string) {
	if m.Envelope.From == "" {
		d.opts.Log.Infof("MID %d RID %d failed (%s); no bounce for a message from the null sender", m.MID, rid, status)
		return
	}
	host := s.Config.Hostname
	now := d.opts.Now()
	boundary := fmt.Sprintf("relaybox-%d-%d", m.MID, now.UnixNano())
	headers := originalHeaders(d.opts.Spool, m.MID)
	var b strings.Builder
	fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\nTo: <%s>\r\nSubject: Undelivered Mail Returned to Sender\r\nDate: %s\r\n", host, m.Envelope.From, now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=%q\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYour message could not be delivered to <%s>:\r\n\r\n    %s\r\n\r\n", boundary, m.Envelope.To[rid], text)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; %s\r\nArrival-Date: %s\r\n\r\n", boundary, host, m.Envelope.Received.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: %s\r\nDiagnostic-Code: smtp; %s\r\n\r\n", m.Envelope.To[rid], status, text)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n%s\r\n--%s--\r\n", boundary, headers, boundary)
	env := queue.Envelope{From: "", To: []string{m.Envelope.From}, Listener: "bounce", Received: now}
	mid, _, err := d.opts.Spool.Put(ctx, env, strings.NewReader(b.String()), 0)
	if err != nil {
		d.opts.Log.Warningf("MID %d cannot queue the bounce for RID %d: %v", m.MID, rid, err)
		return
	}
	d.opts.Log.Infof("MID %d bounce MID %d queued to <%s>", m.MID, mid, m.Envelope.From)
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
