package queue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testEnvelope() Envelope {
	return Envelope{
		From:       "alice@example.com",
		To:         []string{"bob@example.net", "carol@example.org"},
		ICID:       282204970,
		Listener:   "IncomingMail",
		ClientAddr: "10.3.4.5",
		HELO:       "mail.example.com",
		TLS:        "TLSv1.3 TLS_AES_256_GCM_SHA384",
		Received:   time.Date(2024, 1, 17, 21, 9, 12, 0, time.UTC),
	}
}

func openSpool(t testing.TB, dir string) *Spool {
	t.Helper()
	s, err := Open(dir)
	require.NoError(t, err)
	return s
}

// storageForms are the two ways a message is kept: a record in a segment
// (bodies up to inlineLimit) and a file of its own (larger ones). Tests of
// what holds for every message run in both; "file" keeps every body out of
// the segments.
var storageForms = []struct {
	name              string
	segMax, inlineMax int64
}{
	{"segment", segDefault, inlineLimit},
	{"file", segDefault, -1},
}

func openForm(t testing.TB, dir string, segMax, inlineMax int64) *Spool {
	t.Helper()
	s, err := openSized(dir, segMax, inlineMax)
	require.NoError(t, err)
	return s
}

// diskPath is the file a Message.Path names (a segment's for a record).
func diskPath(p string) string {
	if i := strings.LastIndexByte(p, '@'); i > 0 && strings.HasSuffix(p[:i], segSuffix) {
		return p[:i]
	}
	return p
}

func readBody(t *testing.T, s *Spool, mid MID) (Message, []byte) {
	t.Helper()
	m, rc, err := s.Get(mid)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return m, b
}

func TestRoundTrip(t *testing.T) {
	for _, form := range storageForms {
		t.Run(form.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			s := openForm(t, dir, form.segMax, form.inlineMax)
			body := "Subject: hi\r\n\r\nline one\r\n{\"not\":\"a header\"}\n"
			env := testEnvelope()
			env.From = "weird\nname@example.com" // control characters must not break the header line
			mid, size, err := s.Put(context.Background(), env, strings.NewReader(body), 1<<20)
			require.NoError(t, err)
			assert.Equal(t, MID(1), mid)
			assert.Equal(t, int64(len(body)), size)
			assert.Equal(t, 1, s.Count())

			m, got := readBody(t, s, mid)
			assert.Equal(t, body, string(got))
			assert.Equal(t, mid, m.MID)
			assert.Equal(t, int64(len(body)), m.Size)
			want := filepath.Join(dir, "seg", "00000000000000000001.seg@0")
			if form.name == "file" {
				want = filepath.Join(dir, "msg", "00000000000000000001.msg")
			}
			assert.Equal(t, want, m.Path)
			assert.Equal(t, env.From, m.Envelope.From)
			assert.Equal(t, env.To, m.Envelope.To)
			assert.True(t, env.Received.Equal(m.Envelope.Received))
			m.Envelope.Received = env.Received
			assert.Equal(t, env, m.Envelope)

			fi, err := os.Stat(diskPath(m.Path))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
			di, err := os.Stat(dir)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())

			list, err := s.List()
			require.NoError(t, err)
			require.Len(t, list, 1)
			assert.Equal(t, m, list[0])

			require.NoError(t, s.Remove(mid))
			assert.Equal(t, 0, s.Count())
			_, _, err = s.Get(mid)
			assert.ErrorIs(t, err, ErrNotFound)
			assert.ErrorIs(t, s.Remove(mid), ErrNotFound)
			require.NoError(t, s.Close())
			assert.ErrorIs(t, s.Close(), ErrClosed)
			_, _, err = s.Put(context.Background(), env, strings.NewReader("x"), 0)
			assert.ErrorIs(t, err, ErrClosed)
		})
	}
}

// TestEnvelopeBytesKept: quoted and UTF-8 addresses come back byte for byte
// with the SMTPUTF8 flag; an envelope that JSON would change (invalid
// UTF-8 becomes U+FFFD) is refused and nothing is stored.
func TestEnvelopeBytesKept(t *testing.T) {
	s := openSpool(t, filepath.Join(t.TempDir(), "spool"))
	defer s.Close()
	env := testEnvelope()
	env.From = `"john doe"@example.com`
	env.To = []string{"grå@bücher.example", `"a\"b"@example.net`}
	env.UTF8 = true
	mid, _, err := s.Put(context.Background(), env, strings.NewReader("x\r\n"), 0)
	require.NoError(t, err)
	m, err := s.Header(mid)
	require.NoError(t, err)
	assert.Equal(t, env.From, m.Envelope.From)
	assert.Equal(t, env.To, m.Envelope.To)
	assert.True(t, m.Envelope.UTF8)

	for _, bad := range []Envelope{{From: "a\xff@x.test", To: []string{"b@x.test"}}, {From: "a@x.test", To: []string{"b\xc3@x.test"}}} {
		_, _, err := s.Put(context.Background(), bad, strings.NewReader("x\r\n"), 0)
		require.ErrorContains(t, err, "not valid UTF-8")
	}
	assert.Equal(t, 1, s.Count())
}

func TestEmptyBody(t *testing.T) {
	s := openSpool(t, t.TempDir())
	defer s.Close()
	mid, size, err := s.Put(context.Background(), Envelope{}, strings.NewReader(""), 10)
	require.NoError(t, err)
	assert.Zero(t, size)
	m, b := readBody(t, s, mid)
	assert.Empty(t, b)
	assert.Zero(t, m.Size)
}

func TestSizeLimit(t *testing.T) {
	for _, form := range storageForms {
		t.Run(form.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openForm(t, dir, form.segMax, form.inlineMax)
			defer s.Close()

			_, size, err := s.Put(context.Background(), testEnvelope(), strings.NewReader(strings.Repeat("a", 100)), 100)
			require.NoError(t, err, "exactly maxBytes is accepted")
			assert.Equal(t, int64(100), size)

			_, _, err = s.Put(context.Background(), testEnvelope(), strings.NewReader(strings.Repeat("a", 101)), 100)
			require.ErrorIs(t, err, ErrTooLarge)
			assert.Equal(t, 1, s.Count())
			tmps, err := os.ReadDir(filepath.Join(dir, "tmp"))
			require.NoError(t, err)
			assert.Empty(t, tmps, "a refused message leaves nothing on disk")
			stored, err := Inspect(dir)
			require.NoError(t, err)
			require.Len(t, stored, 1, "only the accepted message is on disk")
			assert.Equal(t, strings.Repeat("a", 100), string(stored[0].Body))
		})
	}
}

func TestPutCancelled(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("partial body"))
		cancel()
		_, _ = pw.Write([]byte("more"))
		_ = pw.Close()
	}()
	_, _, err := s.Put(ctx, testEnvelope(), pr, 0)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 0, s.Count())
	tmps, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmps)
}

func TestConcurrentPuts(t *testing.T) {
	s := openSpool(t, t.TempDir())
	defer s.Close()
	const n = 64
	mids := make([]MID, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf("message %d\r\n", i)
			mid, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader(body), 0)
			assert.NoError(t, err)
			mids[i] = mid
		})
	}
	wg.Wait()
	seen := map[MID]bool{}
	for i, mid := range mids {
		require.NotZero(t, mid)
		require.False(t, seen[mid], "MID %d handed out twice", mid)
		seen[mid] = true
		_, b := readBody(t, s, mid)
		assert.Equal(t, fmt.Sprintf("message %d\r\n", i), string(b))
	}
	assert.Equal(t, n, s.Count())
	list, err := s.List()
	require.NoError(t, err)
	require.Len(t, list, n)
	for i := 1; i < len(list); i++ {
		assert.Less(t, list[i-1].MID, list[i].MID, "List is oldest first")
	}
	t.Logf("%d Puts in %d commit rounds", s.committed.Load(), s.rounds.Load())
}

func TestMIDsContinue(t *testing.T) {
	dir := t.TempDir()
	put := func(s *Spool) MID {
		mid, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader("x"), 0)
		require.NoError(t, err)
		return mid
	}

	s := openSpool(t, dir)
	assert.Equal(t, MID(1), put(s))
	assert.Equal(t, MID(2), put(s))
	require.NoError(t, s.Close())

	// After a clean Close MIDs continue without a gap.
	s = openSpool(t, dir)
	assert.Equal(t, 2, s.Count())
	assert.Equal(t, MID(3), put(s))
	// Removing the highest MID must not make it reusable.
	require.NoError(t, s.Remove(3))
	require.NoError(t, s.Close())
	s = openSpool(t, dir)
	assert.Equal(t, MID(4), put(s))
	require.NoError(t, s.Remove(4))
	require.NoError(t, s.Remove(1))
	require.NoError(t, s.Remove(2))
	require.NoError(t, s.Close())

	// Even with the spool empty and the high-water mark gone, the spool keeps counting from the
	// messages on disk; with both, from the larger.
	s = openSpool(t, dir)
	assert.Equal(t, 0, s.Count())
	assert.Equal(t, MID(5), put(s))
	require.NoError(t, s.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, hwmName)))
	s = openSpool(t, dir)
	assert.Equal(t, MID(6), put(s), "without mid.hwm the highest MID on disk counts")
	require.NoError(t, s.Close())
}

func TestMIDsContinueAfterCrash(t *testing.T) {
	// Without Close (a crash) the reservation in mid.hwm still prevents reuse.
	dir := t.TempDir()
	s := openSpool(t, dir)
	var last MID
	for range 3 {
		mid, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader("x"), 0)
		require.NoError(t, err)
		require.NoError(t, s.Remove(mid))
		last = mid
	}
	// Simulate the crash: drop the committer and the lock without writing the exact mark.
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
	<-s.done
	require.NoError(t, s.closeFiles())

	s = openSpool(t, dir)
	defer s.Close()
	mid, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader("x"), 0)
	require.NoError(t, err)
	assert.Greater(t, mid, last)
	assert.LessOrEqual(t, mid, MID(midBlock+1), "the gap after a crash is at most one block")
}

func TestOpenCleansTempFiles(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	mid, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader("kept"), 0)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	stray := []string{
		filepath.Join(dir, "tmp", name(mid+1, tmpSuffix)),
		filepath.Join(dir, "tmp", "garbage"),
		filepath.Join(dir, "."+hwmName+".tmp-123"),
	}
	for _, p := range stray {
		require.NoError(t, os.WriteFile(p, []byte("half a mess"), 0o600))
	}
	s = openSpool(t, dir)
	defer s.Close()
	for _, p := range stray {
		assert.NoFileExists(t, p)
	}
	assert.Equal(t, 1, s.Count())
	_, b := readBody(t, s, mid)
	assert.Equal(t, "kept", string(b))
}

func TestSpoolLocked(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	_, err := Open(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another process already uses this spool")
	require.NoError(t, s.Close())
	s = openSpool(t, dir)
	require.NoError(t, s.Close())
}

func TestCorruptMessageFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, openSpool(t, dir).Close())
	// A file damaged while the spool was closed is found by the next Open.
	bad := filepath.Join(dir, "msg", name(7, msgSuffix))
	require.NoError(t, os.WriteFile(bad, []byte("not json\n"), 0o600))
	s := openSpool(t, dir)
	defer s.Close()
	ids, err := s.IDs()
	require.NoError(t, err)
	assert.Equal(t, []MID{7}, ids)
	_, err = s.Header(7)
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad)
	_, _, err = s.Get(7)
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad)
	assert.Contains(t, err.Error(), "move the file out of the spool")
	_, err = s.List()
	require.Error(t, err)
}

// Crash test: a child process Puts (and sometimes Removes) in a loop and reports each completed
// operation on stdout; the parent SIGKILLs it at random moments and then checks the spool.

const crashChildEnv = "RELAYBOX_QUEUE_CRASH_CHILD"

// checkedBody returns a body that carries the hex SHA-256 of the rest of it on its first line.
func checkedBody(rng *mrand.Rand) []byte {
	payload := make([]byte, 1+rng.IntN(32<<10))
	_, _ = rand.Read(payload)
	sum := sha256.Sum256(payload)
	return append([]byte(hex.EncodeToString(sum[:])+"\n"), payload...)
}

func bodyIntact(b []byte) bool {
	line, payload, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return false
	}
	sum := sha256.Sum256(payload)
	return string(line) == hex.EncodeToString(sum[:])
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// The crash child's spool: small segments and a low inline limit, so that
// under its load segments rotate, fill up with removals, are collected and
// compacted, and about half the messages take the file path.
const (
	crashSegMax    = 256 << 10
	crashInlineMax = 16 << 10
)

func crashChild(dir string) {
	s, err := openSized(dir, crashSegMax, crashInlineMax)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var outMu sync.Mutex
	report := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		// One write(2) per line: a line on stdout is either complete or absent.
		_, _ = os.Stdout.WriteString(fmt.Sprintf(format, args...))
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for {
				mid, _, err := s.Put(context.Background(), testEnvelope(), bytes.NewReader(checkedBody(rng)), 0)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				report("P %d\n", mid)
				if rng.IntN(4) == 0 {
					report("D %d\n", mid) // about to remove: absence is fine from here on
					if err := s.Remove(mid); err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(2)
					}
					report("R %d\n", mid)
				}
			}
		})
	}
	wg.Wait()
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs child processes")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))

	put := map[MID]bool{}      // Put returned
	removing := map[MID]bool{} // Remove called
	removed := map[MID]bool{}  // Remove returned
	rounds := 100
	torn := 0 // restarts that found a torn tail
	for round := range rounds {
		var stdout syncBuffer
		var stderr bytes.Buffer
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Start())
		if round%2 == 1 {
			// On a loaded machine the child may need longer than the kill
			// delay just to start: in odd rounds, wait for its first
			// acknowledged Put, so every run kills children mid-load.
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(stdout.String(), "P ") && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		time.Sleep(time.Duration(5+rng.IntN(196)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err := cmd.Wait()
		var exitErr *exec.ExitError
		require.ErrorAs(t, err, &exitErr, "child must die by SIGKILL; stderr: %s", stderr.String())
		ws, ok := exitErr.Sys().(syscall.WaitStatus)
		require.True(t, ok)
		require.True(t, ws.Signaled(), "child exited on its own: %s; stderr: %s", err, stderr.String())

		newPuts := 0
		sc := bufio.NewScanner(strings.NewReader(stdout.String()))
		for sc.Scan() {
			kind, num, ok := strings.Cut(sc.Text(), " ")
			require.True(t, ok, "bad child line %q", sc.Text())
			v, err := strconv.ParseUint(num, 10, 64)
			require.NoError(t, err)
			mid := MID(v)
			switch kind {
			case "P":
				require.False(t, put[mid], "MID %d returned by two Puts", mid)
				put[mid] = true
				newPuts++
			case "D":
				removing[mid] = true
			case "R":
				removed[mid] = true
			}
		}

		s := openForm(t, dir, crashSegMax, crashInlineMax)
		tmps, err := os.ReadDir(filepath.Join(dir, "tmp"))
		require.NoError(t, err)
		require.Empty(t, tmps, "Open removes unfinished Puts")
		list, err := s.List() // fails on any unparsable file in msg/
		require.NoError(t, err)
		require.Equal(t, len(list), s.Count())
		onDisk := map[MID]bool{}
		for _, m := range list {
			require.False(t, onDisk[m.MID], "MID %d listed twice", m.MID)
			onDisk[m.MID] = true
			_, b := readBody(t, s, m.MID)
			require.True(t, bodyIntact(b), "MID %d has a damaged body (%d bytes)", m.MID, len(b))
		}
		for mid := range put {
			switch {
			case removed[mid]:
				require.False(t, onDisk[mid], "MID %d came back after its Remove returned", mid)
			case removing[mid]:
				// Killed during Remove: either outcome is right.
			default:
				require.True(t, onDisk[mid], "MID %d lost after its Put returned (round %d)", mid, round)
			}
		}
		// Deliver half of what is there, as the appliance would between
		// crashes: removals after a restart, and a spool that stays small.
		for _, m := range list {
			if rng.IntN(2) == 0 {
				removing[m.MID] = true
				require.NoError(t, s.Remove(m.MID))
				removed[m.MID] = true
			}
		}
		// A SIGKILL can cut a large write short (the kernel stops between
		// pages): that tail was never acknowledged and Open cuts it off.
		// Anything else would be damage.
		for _, w := range s.Warnings() {
			require.Contains(t, w, "ended in an incomplete write", "round %d", round)
			torn++
		}
		segs, err := os.ReadDir(filepath.Join(dir, segDirName))
		require.NoError(t, err)
		require.NoError(t, s.Close())
		t.Logf("round %d: %d new Puts acknowledged, %d messages on disk, %d segments", round, newPuts, len(list), len(segs))
	}
	require.NotEmpty(t, put, "the child never got a Put through; is the machine very slow?")
	t.Logf("%d rounds, %d Puts acknowledged, %d Removes acknowledged, %d torn tails cut off", rounds, len(put), len(removed), torn)
}

func benchBody() []byte {
	b := make([]byte, 4<<10)
	_, _ = rand.Read(b)
	return b
}

func reportRate(b *testing.B, s *Spool) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if r := s.rounds.Load(); r > 0 {
		b.ReportMetric(float64(s.committed.Load())/float64(r), "msgs/round")
	}
}

// BenchmarkPut measures concurrent Puts of 4 KiB bodies: sessions goroutines per GOMAXPROCS, as
// many SMTP sessions deliver at once. Run with -cpu 1,2.
func BenchmarkPut(b *testing.B) {
	body := benchBody()
	for _, sessions := range []int{1, 16} {
		b.Run(fmt.Sprintf("sessions=%dxCPU", sessions), func(b *testing.B) {
			s := openSpool(b, b.TempDir())
			defer s.Close()
			b.SetBytes(int64(len(body)))
			b.SetParallelism(sessions)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := s.Put(context.Background(), Envelope{From: "a@example.com", To: []string{"b@example.com"}},
						bytes.NewReader(body), 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b, s)
		})
	}
}

// BenchmarkPutSerial is one caller: every Put pays a full round.
func BenchmarkPutSerial(b *testing.B) {
	body := benchBody()
	s := openSpool(b, b.TempDir())
	defer s.Close()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := s.Put(context.Background(), Envelope{From: "a@example.com", To: []string{"b@example.com"}},
			bytes.NewReader(body), 0); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, s)
}

// syncBuffer is a bytes.Buffer safe for a child's writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
