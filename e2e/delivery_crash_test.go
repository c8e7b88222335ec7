package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"relaybox/mailengine/address"
	"relaybox/mailengine/queue"
)

const (
	// deliveryCrashRounds stops: every deliveryCrashTermEvery-th is a clean
	// SIGTERM, the others SIGKILLs (20 and 5).
	deliveryCrashRounds    = 25
	deliveryCrashTermEvery = 5
	// deliveryCrashDiskFullRound is the round before which the data
	// directory's file system is filled for a while.
	deliveryCrashDiskFullRound = 12
	deliveryCrashSenders       = 8
	// deliveryCrashWindow bounds how long before a kill the first copy of a
	// duplicate may have reached the peer: a legitimate duplicate comes from a
	// kill between the peer's 250 and the delivery state write (a QUIT round
	// trip, a log line and one atomic file write). A first copy older than
	// this means the daemon forgot a recipient whose 250 it had recorded.
	deliveryCrashWindow = time.Second
	deliveryDrainWait   = 60 * time.Second
)

// deliveryCrashTokenRE finds a delivery-crash message's token in its X-Token header.
var deliveryCrashTokenRE = regexp.MustCompile(`(?m)^X-Token: (dtok-\d+)\r?$`)

// deliveryCrashMessage is the message a delivery-crash sender transmits for
// token (CRLF line ends, without the final dot); the token is in the Subject,
// an X-Token header and the body, and a last line marks the end.
func deliveryCrashMessage(token string, rcpts []string) string {
	var b strings.Builder
	b.WriteString("From: <app@e2e.test>\r\nTo: " + strings.Join(rcpts, ", ") + "\r\nSubject: crash " + token + "\r\nX-Token: " + token + "\r\n\r\n")
	for i := range 8 {
		fmt.Fprintf(&b, "body %s line %02d %s\r\n", token, i, strings.Repeat("abcdefghij", 5))
	}
	b.WriteString("END-OF-MESSAGE " + token + "\r\n")
	return b.String()
}

// recordingPeer is a go-smtp server that counts each accepted message per
// token and recipient, with the time of each arrival.
type recordingPeer struct {
	mu       sync.Mutex
	arrivals map[string][]time.Time // "token rcpt" -> when the peer accepted it (Data returned nil → 250)
	partial  int                    // DATA cut before the final dot (a kill during the transfer)
	foreign  []string               // complete messages without a token or end marker
}

type recordingSession struct {
	p     *recordingPeer
	rcpts []string
	// began is when the transaction started (MAIL FROM): a copy is dated by
	// it, because a killed daemon's copy can finish arriving after the next
	// daemon was launched, while its MAIL always came before the kill.
	began time.Time
}

func (s *recordingSession) Mail(string, *smtp.MailOptions) error {
	s.rcpts, s.began = nil, time.Now()
	return nil
}
func (s *recordingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	// go-smtp gives a quoted local part without its quotes: "john doe"@x
	// arrives as john doe@x, which is what rcptKey makes of it.
	s.rcpts = append(s.rcpts, strings.ToLower(to))
	return nil
}

// rcptKey is how the test names a recipient: the local part without its
// quoting, lower-cased, as the recording peer sees it.
func rcptKey(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	return strings.ToLower(address.Unquote(addr[:i]) + addr[i:])
}
func (s *recordingSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.partial++
		return err
	}
	body := string(data)
	m := deliveryCrashTokenRE.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "\r\nEND-OF-MESSAGE "+m[1]+"\r\n") {
		p.foreign = append(p.foreign, body)
		return nil
	}
	for _, rcpt := range s.rcpts {
		k := m[1] + " " + rcpt
		p.arrivals[k] = append(p.arrivals[k], s.began)
	}
	return nil
}
func (s *recordingSession) Reset()        { s.rcpts = nil }
func (s *recordingSession) Logout() error { return nil }

// startRecordingPeer runs the peer on 127.0.0.1 for the whole test, across
// the appliance's restarts.
func startRecordingPeer(t *testing.T) (int, *recordingPeer) {
	t.Helper()
	p := &recordingPeer{arrivals: map[string][]time.Time{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &recordingSession{p: p}, nil }))
	srv.Domain = "peer.e2e.test"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxRecipients = 10
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = log.New(io.Discard, "", 0) // the daemon's kills reset connections: expected, not news
	port := freePorts(t, 1)[0]
	ln, err := net.Listen("tcp", addr(port))
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return port, p
}

// snapshot copies the arrivals.
func (p *recordingPeer) snapshot() (map[string][]time.Time, int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string][]time.Time, len(p.arrivals))
	for k, v := range p.arrivals {
		out[k] = slices.Clone(v)
	}
	return out, p.partial, slices.Clone(p.foreign)
}

// deliveryCrashLoad is what the senders did, shared between them.
type deliveryCrashLoad struct {
	next  atomic.Int64
	mu    sync.Mutex
	sent  map[string][]string // token -> recipients, once the final dot was written
	acked map[string]bool     // token -> got 250 after the final dot
}

// crashRecipients are a message's recipients as the sender writes them, and
// whether MAIL needs SMTPUTF8: every third message has a second recipient
// in another routed domain, and the mix has quoted local parts, an @ inside
// quotes, a UTF-8 address and the same mailbox twice (merged at RCPT).
func crashRecipients(n int64) (rcpts []string, utf8 bool) {
	rcpts = []string{"bob@example.net"}
	switch {
	case n%7 == 0:
		rcpts = []string{`"john doe"@example.net`}
	case n%11 == 0:
		rcpts = []string{`"a@b"@example.org`, "bob@example.net"}
	case n%13 == 0:
		rcpts, utf8 = []string{"grå@example.net"}, true
	case n%5 == 0:
		rcpts = []string{"bob@example.net", "BOB@Example.Net"}
	}
	if n%3 == 0 {
		rcpts = append(rcpts, "carol@example.org")
	}
	return rcpts, utf8
}

// sender submits messages over one session after another until stop,
// reconnecting while the daemon is down. No test assertions: it runs in a
// goroutine.
func (l *deliveryCrashLoad) sender(address string, stop *atomic.Bool) {
	for !stop.Load() {
		conn, step, err := loadSession(address, "app.e2e.test")
		if conn == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for err == nil && !stop.Load() {
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			n := l.next.Add(1)
			token := fmt.Sprintf("dtok-%06d", n)
			rcpts, utf8 := crashRecipients(n)
			mail := "MAIL FROM:<app@e2e.test>"
			if utf8 {
				mail += " SMTPUTF8"
			}
			if err = step(mail+"\r\n", 250); err != nil {
				break
			}
			for _, rcpt := range rcpts {
				if err = step("RCPT TO:<"+rcpt+">\r\n", 250); err != nil {
					break
				}
			}
			if err != nil {
				break
			}
			if err = step("DATA\r\n", 354); err != nil {
				break
			}
			var keys []string
			for _, r := range rcpts {
				if k := rcptKey(r); !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
			l.mu.Lock()
			l.sent[token] = keys
			l.mu.Unlock()
			if err = step(deliveryCrashMessage(token, rcpts)+".\r\n", 250); err != nil {
				break
			}
			l.mu.Lock()
			l.acked[token] = true
			l.mu.Unlock()
		}
		_ = conn.Close()
	}
}

func (l *deliveryCrashLoad) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// workQueueCount is the number of messages `workqueue status` reports, or -1.
func (a *appliance) workQueueCount(t *testing.T) int {
	t.Helper()
	res := a.cli(t, "workqueue status\n")
	var n int
	i := strings.Index(res.stdout, "Messages in work queue:")
	if res.code != 0 || i < 0 {
		return -1
	}
	if _, err := fmt.Sscanf(res.stdout[i+len("Messages in work queue:"):], "%d", &n); err != nil {
		return -1
	}
	return n
}

// TestCrashDuringDelivery is the crash-and-count test. While 8 senders
// submit mail (quoted, UTF-8 and duplicate recipients in the mix) that the
// daemon relays to a recording peer, it stops the daemon 25 times at random
// moments — 20 SIGKILLs and 5 clean SIGTERMs — and once fills the data
// directory's file system for a while, restarting it each time on the same
// data directory; then it lets the queue drain and checks, per recipient:
// every message that got 250 reached the peer; no recipient marked done in
// DATA/delivery/<MID>.json at a stop got it again; a clean stop and the
// full disk cause no duplicate; and each other duplicate is explained by a
// SIGKILL between the peer's 250 and the state write (documented
// at-least-once). The counts are printed.
func TestCrashDuringDelivery(t *testing.T) {
	began := time.Now()
	peerPort, peer := startRecordingPeer(t)
	fsDir := mountTmpfs(t, "256m")
	a := startAppliance(t, startOptions{dir: filepath.Join(fsDir, "data"), domains: "e2e.test"})
	a.mustCommit(t, fmt.Sprintf("smtproutes new example.net 127.0.0.1:%d\nsmtproutes new example.org 127.0.0.1:%d\ncommit route to the recording peer\n", peerPort, peerPort))

	load := &deliveryCrashLoad{sent: map[string][]string{}, acked: map[string]bool{}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	submission := addr(a.submissionPort)
	for range deliveryCrashSenders {
		wg.Go(func() { load.sender(submission, &stop) })
	}
	stopLoad := func() { stop.Store(true); wg.Wait() }
	t.Cleanup(stopLoad)

	// kills[k] is just before the k-th stop; restarts[k] is after the
	// stopped daemon was reaped, before the next one was launched: a copy the
	// peer got before restarts[k] came from a daemon stopped at or before k.
	// doneAtKill[k] are the (token, recipient) pairs the state files marked
	// done while the daemon lay dead after stop k; clean[k] is a SIGTERM.
	kills := make([]time.Time, 0, deliveryCrashRounds)
	restarts := make([]time.Time, 0, deliveryCrashRounds)
	doneAtKill := make([][]string, 0, deliveryCrashRounds)
	clean := make([]bool, 0, deliveryCrashRounds)
	var diskFull diskFullEpisode
	for round := range deliveryCrashRounds {
		if round == deliveryCrashDiskFullRound {
			diskFull = fillFor(t, fsDir, 1500*time.Millisecond, load)
			time.Sleep(2 * time.Second) // held messages write their state once there is room
		}
		time.Sleep(time.Duration(50+rand.IntN(451)) * time.Millisecond)
		kills = append(kills, time.Now())
		term := (round+1)%deliveryCrashTermEvery == 0
		clean = append(clean, term)
		if term {
			a.term(t)
		} else {
			a.kill(t)
		}
		done, orphans := recordedDone(t, a.dir)
		doneAtKill = append(doneAtKill, done)
		how := "SIGKILL"
		if term {
			how = "SIGTERM (exit 0)"
		}
		t.Logf("round %d: %s %v after the last start; %d submissions acknowledged so far; %d recipients of queued messages recorded done, %d state files of removed messages",
			round, how, kills[round].Sub(began).Round(time.Millisecond), load.ackedCount(), len(done), orphans)
		restarts = append(restarts, time.Now())
		a.start(t)
		began = time.Now()
	}
	time.Sleep(500 * time.Millisecond) // the load goes on after the last restart
	stopLoad()
	require.NotZero(t, load.ackedCount(), "no submission was acknowledged: the load did not run")

	// Drain. Deferred mail waits for its retry; a commit retries it at once.
	drainStart := time.Now()
	hostnames := []string{"relaybox2.e2e.test", "relaybox.e2e.test"}
	nudges := 0
	lastNudge := time.Now()
	left := a.workQueueCount(t)
	for left != 0 {
		if time.Since(drainStart) > deliveryDrainWait {
			t.Fatalf("the queue did not drain within %v after the load stopped: %d messages left (peer at 127.0.0.1:%d never went away)\nmail_logs tail:\n%s",
				deliveryDrainWait, left, peerPort, a.cli(t, "tail mail_logs 60\n").stdout)
		}
		if time.Since(lastNudge) > 5*time.Second {
			a.mustCommit(t, fmt.Sprintf("sethostname %s\ncommit retry deferred mail\n", hostnames[nudges%2]))
			nudges++
			lastNudge = time.Now()
		}
		time.Sleep(250 * time.Millisecond)
		left = a.workQueueCount(t)
	}
	t.Logf("the queue drained in %v (%d commits to retry deferred mail)", time.Since(drainStart).Round(time.Millisecond), nudges)

	arrivals, partial, foreign := peer.snapshot()
	require.Emptyf(t, foreign, "the peer accepted %d messages that are not whole test messages; the first:\n%q", len(foreign), append(foreign, "")[0])

	load.mu.Lock()
	sent, acked := load.sent, load.acked
	load.mu.Unlock()

	// Nothing the senders did not send; nothing to a recipient it did not name.
	for k := range arrivals {
		token, rcpt, _ := strings.Cut(k, " ")
		rcpts, ok := sent[token]
		require.Truef(t, ok, "the peer got %s for %s, but no sender ever sent it", token, rcpt)
		require.Containsf(t, rcpts, rcpt, "the peer got %s for %s, which is not one of its recipients %v", token, rcpt, rcpts)
	}

	// Nothing lost: every recipient of every acknowledged message got it.
	var missing []string
	var rcptsAcked, odd int
	for token := range acked {
		rcpts := sent[token]
		for _, rcpt := range rcpts {
			rcptsAcked++
			if strings.ContainsAny(rcpt, ` "å`) || strings.Count(rcpt, "@") > 1 {
				odd++
			}
			if len(arrivals[token+" "+rcpt]) == 0 {
				missing = append(missing, token+" to "+rcpt)
			}
		}
	}
	sort.Strings(missing)
	require.Emptyf(t, missing, "%d of %d acknowledged (message, recipient) pairs never reached the peer, though the queue is empty: lost (first: %v)",
		len(missing), rcptsAcked, missing[:min(len(missing), 20)])
	require.NotZero(t, odd, "the load had no quoted or UTF-8 recipient")
	deferred := a.cli(t, "grep -e \"mail deferred: .* bytes free in the queue's file system\" -c mail_logs\n").stdout
	require.NotContainsf(t, deferred, "> 0\n", "the full disk refused no MAIL (452 4.3.1): the episode did not happen")
	held := a.cli(t, "grep -e \"is held \\(no further delivery\\)\" -c mail_logs\n").stdout
	t.Logf("mail_logs: MAIL deferred for the full disk %s; messages held because their delivery state could not be written %s",
		strings.TrimSpace(lastLine(deferred)), strings.TrimSpace(lastLine(held)))

	// The product's promise, checked exactly: a recipient recorded done in
	// the state file at a stop reached the peer before it and never again.
	var recordedAgain, recordedNever []string
	for k, done := range doneAtKill {
		for _, key := range done {
			var before, after int
			for _, at := range arrivals[key] {
				if at.Before(restarts[k]) {
					before++
				} else {
					after++
				}
			}
			if after > 0 {
				recordedAgain = append(recordedAgain, fmt.Sprintf("%s: done in the state file at stop %d, delivered %d more times after the restart", key, k, after))
			}
			if before == 0 {
				recordedNever = append(recordedNever, fmt.Sprintf("%s: done in the state file at stop %d, but the peer never got it before", key, k))
			}
		}
	}
	require.Emptyf(t, recordedNever, "the delivery state marked recipients done that the peer had not accepted:\n%s", strings.Join(recordedNever, "\n"))
	require.Emptyf(t, recordedAgain, "recipients whose 250 was in DATA/delivery/<MID>.json at the stop were delivered again after the restart:\n%s", strings.Join(recordedAgain, "\n"))

	// Nothing twice, except a SIGKILL between the peer's 250 and the state write.
	perKill := make([]int, len(kills))
	var dups, afterKill int
	var gaps []time.Duration
	var unexplained []string
	keys := make([]string, 0, len(arrivals))
	for k := range arrivals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ts := arrivals[k]
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) }) // dated by MAIL, appended at the final dot
		for i := 1; i < len(ts); i++ {
			dups++
			prev, next := ts[i-1], ts[i]
			// The daemon that sent the first copy was stopped by the first stop
			// whose restart comes after it. (The peer may finish reading a
			// copy a little after the kill: the bytes were already sent.)
			killed := -1
			for j, rt := range restarts {
				if prev.Before(rt) {
					killed = j
					break
				}
			}
			switch {
			case killed < 0 || next.Before(restarts[killed]):
				unexplained = append(unexplained, fmt.Sprintf("%s: copies %v apart from the same daemon, with no stop in between", k, next.Sub(prev).Round(time.Microsecond)))
			case clean[killed]:
				unexplained = append(unexplained, fmt.Sprintf("%s: sent again after the clean stop %d (SIGTERM), first copy %v before it", k, killed, kills[killed].Sub(prev).Round(time.Millisecond)))
			case kills[killed].Sub(prev) > deliveryCrashWindow:
				unexplained = append(unexplained, fmt.Sprintf("%s: first copy %v before kill %d: its 250 should have been in the state file long before", k, kills[killed].Sub(prev).Round(time.Millisecond), killed))
			default:
				perKill[killed]++
				gaps = append(gaps, kills[killed].Sub(prev))
				if !prev.Before(kills[killed]) {
					afterKill++
				}
			}
		}
	}
	var unackedDelivered int
	for token, rcpts := range sent {
		if !acked[token] && len(arrivals[token+" "+rcpts[0]]) > 0 {
			unackedDelivered++
		}
	}
	t.Logf("%d stops (%d SIGKILL, %d SIGTERM) and a disk-full episode (%d submissions not acknowledged meanwhile): %d messages acknowledged (%d recipient pairs, %d of them quoted or UTF-8), all delivered; %d more were in flight at a stop and delivered anyway; %d DATA transfers cut by a stop",
		len(kills), len(kills)-countTrue(clean), countTrue(clean), diskFull.refused, len(acked), rcptsAcked, odd, unackedDelivered, partial)
	slices.Sort(gaps)
	var maxGap time.Duration
	if len(gaps) > 0 {
		maxGap = gaps[len(gaps)-1]
	}
	t.Logf("duplicates: %d in %d stops (per stop %v); %d of them the peer accepted only after the kill (the daemon cannot have seen that 250), %d in the window between the peer's 250 and the state write; the first copy reached the peer before the kill by %v",
		dups, len(kills), perKill, afterKill, dups-afterKill, gaps)
	if len(unexplained) > 0 {
		t.Errorf("%d duplicates are not explained by a SIGKILL between the peer's 250 and the state write:\n%s",
			len(unexplained), strings.Join(unexplained, "\n"))
		for _, u := range unexplained[:min(len(unexplained), 3)] {
			token, _, _ := strings.Cut(u, " ")
			t.Logf("mail_logs of %s:\n%s", token, deliveryCrashLogs(t, a, token))
		}
		t.FailNow()
	}
	for k, n := range perKill {
		require.Falsef(t, clean[k] && n > 0, "stop %d was a SIGTERM and caused %d duplicates", k, n)
	}
	t.Logf("%d duplicates in %d SIGKILLs, all within %v before a kill; none after the %d SIGTERMs or the full disk", dups, len(kills)-countTrue(clean), maxGap.Round(time.Millisecond), countTrue(clean))
}

// lastLine is the last non-empty line of a cli transcript (a grep -c count).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasSuffix(l, ">") {
			return l
		}
	}
	return ""
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// mountTmpfs mounts a tmpfs of size (mount(8) syntax) on a new directory and
// unmounts it at the end: a file system the test can fill for real.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput()
	require.NoErrorf(t, err, "mounting a tmpfs for the disk-full episode needs root (CI runs as root): %s", out)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// diskFullEpisode is what happened while the file system was full.
type diskFullEpisode struct {
	refused int // submissions refused meanwhile (not acknowledged)
}

// fillFor fills the file system of dir until write(2) fails with ENOSPC,
// keeps it full for d under the load, then frees the space.
func fillFor(t *testing.T, dir string, d time.Duration, load *deliveryCrashLoad) diskFullEpisode {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	require.NoError(t, err)
	block := make([]byte, 1<<20)
	for {
		if _, err := f.Write(block); err != nil {
			require.ErrorIsf(t, err, syscall.ENOSPC, "filling %s", dir)
			break
		}
	}
	// The last partial block: fill to the last byte.
	for {
		if _, err := f.Write(block[:4096]); err != nil {
			break
		}
	}
	f.Close()
	before := load.next.Load() - int64(load.ackedCount())
	time.Sleep(d)
	refused := load.next.Load() - int64(load.ackedCount()) - before
	require.NoError(t, os.Remove(path))
	t.Logf("disk full for %v: %d submissions were not acknowledged meanwhile", d, refused)
	return diskFullEpisode{refused: int(refused)}
}

var midRE = regexp.MustCompile(`MID (\d+) Subject`)

// deliveryCrashLogs returns the mail_logs lines of the message carrying token.
func deliveryCrashLogs(t *testing.T, a *appliance, token string) string {
	t.Helper()
	m := midRE.FindStringSubmatch(a.cli(t, "grep -e \"Subject .*"+token+"\" mail_logs\n").stdout)
	if m == nil {
		return "(no MID found for " + token + ")"
	}
	return a.cli(t, "grep -e \"MID "+m[1]+"( |$)\" mail_logs\n").stdout
}

// recordedDone reads, while the daemon is dead, which recipients the delivery
// state files (DATA/delivery/<MID>.json) mark done, as "token rcpt" for the
// messages still in the queue, and counts the state files whose message is
// gone. It only reads: the spool is left for the next start.
func recordedDone(t *testing.T, dir string) (done []string, orphans int) {
	t.Helper()
	states, err := filepath.Glob(filepath.Join(dir, "delivery", "*.json"))
	require.NoError(t, err)
	stored, err := queue.Inspect(filepath.Join(dir, "queue"))
	require.NoError(t, err)
	queued := map[string]queue.Stored{}
	for _, m := range stored {
		queued[strconv.FormatUint(uint64(m.MID), 10)] = m
	}
	for _, f := range states {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var st struct {
			Done map[int]bool `json:"done"`
		}
		require.NoErrorf(t, json.Unmarshal(data, &st), "delivery state %s is not whole JSON after a kill: %q", f, data)
		mid := strings.TrimLeft(strings.TrimSuffix(filepath.Base(f), ".json"), "0")
		msg, ok := queued[mid]
		if !ok {
			orphans++
			continue
		}
		env, body := msg.Envelope, string(msg.Body)
		m := deliveryCrashTokenRE.FindStringSubmatch(body)
		require.NotNilf(t, m, "queued message %s carries no token", mid)
		for rid, ok := range st.Done {
			require.Truef(t, rid >= 0 && rid < len(env.To), "delivery state %s names RID %d of %d recipients", f, rid, len(env.To))
			if ok {
				done = append(done, m[1]+" "+rcptKey(env.To[rid]))
			}
		}
	}
	return done, orphans
}
