package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"relaybox/mailengine/queue"
)

const (
	loadCrashRounds  = 12
	loadCrashSenders = 8
)

// loadMessage is the exact message a load sender transmits for token (CRLF
// line ends, without the final dot); it ends in a terminating line so a
// truncated copy in the spool is recognised.
func loadMessage(token string) string {
	var b strings.Builder
	b.WriteString("From: <load@client.test>\r\nTo: <load@e2e.test>\r\nSubject: load " + token + "\r\nX-Token: " + token + "\r\n\r\n")
	for i := range 24 {
		fmt.Fprintf(&b, "%s line %02d %s\r\n", token, i, strings.Repeat("0123456789", 6))
	}
	b.WriteString("END-OF-MESSAGE " + token + "\r\n")
	return b.String()
}

// loadTokenRE finds a load message's token in its X-Token header.
var loadTokenRE = regexp.MustCompile(`(?m)^X-Token: (tok-r\d+-s\d+-n\d+)\r$`)

// loadResult is what one sender saw in one round.
type loadResult struct {
	acked []string // got 250 after the final dot
	sent  []string // the final dot was written (the 250 may be lost in the kill)
}

// smtpReply reads one SMTP reply and returns its code. No test assertions:
// it runs in the load goroutines.
func smtpReply(r *bufio.Reader) (int, error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if len(line) < 4 {
			return 0, fmt.Errorf("malformed reply %q", line)
		}
		var code int
		if _, err := fmt.Sscanf(line[:3], "%d", &code); err != nil {
			return 0, fmt.Errorf("malformed reply %q", line)
		}
		if line[3] == ' ' {
			return code, nil
		}
	}
}

var errUnexpectedReply = errors.New("unexpected reply")

// loadSession opens an SMTP session for a load sender: it connects, reads
// the greeting and says EHLO. step sends a line ("" sends nothing) and
// checks the reply code. conn is nil when the daemon is not reachable (it may
// be down between a kill and its restart); err is the greeting's outcome.
func loadSession(address, helo string) (conn net.Conn, step func(line string, want int) error, err error) {
	conn, err = net.DialTimeout("tcp", address, time.Second)
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	step = func(line string, want int) error {
		if line != "" {
			if _, err := io.WriteString(conn, line); err != nil {
				return err
			}
		}
		code, err := smtpReply(r)
		if err != nil {
			return err
		}
		if code != want {
			return fmt.Errorf("%w %d to %q, want %d", errUnexpectedReply, code, line, want)
		}
		return nil
	}
	err = step("", 220)
	if err == nil {
		err = step("EHLO "+helo+"\r\n", 250)
	}
	return conn, step, err
}

// loadSender sends messages over one session after another until stop,
// recording each token as sent and, on 250, as acked.
func loadSender(address string, round, id int, stop *atomic.Bool) loadResult {
	var res loadResult
	n := 0
	for !stop.Load() {
		conn, step, err := loadSession(address, "load.test")
		if conn == nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		for err == nil && !stop.Load() {
			token := fmt.Sprintf("tok-r%02d-s%d-n%05d", round, id, n)
			n++
			if err = step("MAIL FROM:<load@client.test>\r\n", 250); err != nil {
				break
			}
			if err = step("RCPT TO:<load@e2e.test>\r\n", 250); err != nil {
				break
			}
			if err = step("DATA\r\n", 354); err != nil {
				break
			}
			res.sent = append(res.sent, token)
			if err = step(loadMessage(token)+".\r\n", 250); err != nil {
				break
			}
			res.acked = append(res.acked, token)
		}
		_ = conn.Close()
	}
	return res
}

// TestCrashDuringInboundLoad SIGKILLs the daemon at random moments while 8
// senders deliver, restarts it on the same data directory, and checks that
// every message that got 250 is in the spool exactly once and that no
// spooled message is partial.
func TestCrashDuringInboundLoad(t *testing.T) {
	a := startAppliance(t, startOptions{domains: inboundDomain})
	srv := addr(a.smtpPort)
	acked := map[string]int{} // token -> round
	sent := map[string]bool{}
	for round := range loadCrashRounds {
		if round > 0 {
			a.start(t)
		}
		var stop atomic.Bool
		results := make([]loadResult, loadCrashSenders)
		var wg sync.WaitGroup
		for id := range loadCrashSenders {
			wg.Go(func() { results[id] = loadSender(srv, round, id, &stop) })
		}
		time.Sleep(time.Duration(50+rand.IntN(451)) * time.Millisecond)
		a.kill(t)
		stop.Store(true)
		wg.Wait()
		var n int
		for _, r := range results {
			for _, tok := range r.sent {
				sent[tok] = true
			}
			for _, tok := range r.acked {
				acked[tok] = round
				n++
			}
		}
		t.Logf("round %d: %d messages acknowledged before the kill", round, n)
	}
	require.NotEmpty(t, acked, "no message was acknowledged in any round: the load did not run")

	// The daemon is dead; read the spool as the next start would.
	sp, err := queue.Open(filepath.Join(a.dir, "queue"))
	require.NoError(t, err, "the spool must open after the crashes")
	defer func() { _ = sp.Close() }()
	msgs, err := sp.List()
	require.NoError(t, err, "every spooled message must have a valid header")
	seen := map[string]int{}
	var unacked int
	for _, m := range msgs {
		_, rc, err := sp.Get(m.MID)
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		_ = rc.Close()
		require.NoError(t, err)
		body := string(data)
		match := loadTokenRE.FindStringSubmatch(body)
		require.NotNilf(t, match, "MID %d (%s) carries no load token: partial or foreign message:\n%q", m.MID, m.Path, body)
		tok := match[1]
		require.Truef(t, sent[tok], "MID %d holds %s, which was never completely sent", m.MID, tok)
		require.Truef(t, strings.HasPrefix(body, "Received: "), "MID %d must start with the Received header", m.MID)
		require.Truef(t, strings.HasSuffix(body, "\r\n"+loadMessage(tok)),
			"MID %d (%s) is not the whole message %s:\n%q", m.MID, m.Path, tok, body)
		require.Equalf(t, int64(len(body)), m.Size, "MID %d: size", m.MID)
		require.Equal(t, []string{"load@e2e.test"}, m.Envelope.To)
		seen[tok]++
		if _, ok := acked[tok]; !ok {
			unacked++
		}
	}
	var missing []string
	for tok, round := range acked {
		if seen[tok] == 0 {
			missing = append(missing, fmt.Sprintf("%s (round %d)", tok, round))
		}
	}
	require.Emptyf(t, missing, "%d of %d messages got 250 but are not in DATA/queue/msg", len(missing), len(acked))
	for tok, n := range seen {
		require.Equalf(t, 1, n, "message %s is in the spool %d times", tok, n)
	}
	t.Logf("%d rounds: %d messages acknowledged, all in the spool once; %d more were in flight at a kill and were kept (the sender never saw their 250); %d files in all",
		loadCrashRounds, len(acked), unacked, len(msgs))

	// After all that, the appliance starts on the spool and takes mail.
	require.NoError(t, sp.Close())
	a.start(t)
	c := dialSMTP(t, srv)
	c.cmd("EHLO probe.test", 250)
	c.cmd("MAIL FROM:<"+senderAddr+">", 250)
	c.cmd("RCPT TO:<user@"+inboundDomain+">", 250)
	tok := uniqueToken("after-crash")
	c.cmd("DATA", 354)
	c.send(inboundMessage("user@"+inboundDomain, tok) + ".")
	c.expect(250)
	c.cmd("QUIT", 221)
	requireSpooledOnce(t, a.dir, tok)
}
