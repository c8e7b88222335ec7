package maillog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedClock returns a clock that starts at t and advances one second per call.
func fixedClock(t time.Time) func() time.Time {
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now := t
		t = t.Add(time.Second)
		return now
	}
}

func openLog(t *testing.T, dir string, maxBytes int64, keep int) *Logger {
	t.Helper()
	l, err := Open(dir, maxBytes, keep, WithClock(fixedClock(time.Date(2024, 1, 17, 21, 9, 12, 0, time.Local))))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// allLines reads every log file, oldest first.
func allLines(t *testing.T, dir string, keep int) []string {
	t.Helper()
	var out []string
	for i := keep; i >= 0; i-- {
		name := filepath.Join(dir, LogName)
		if i > 0 {
			name += "." + strconv.Itoa(i)
		}
		b, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		if len(b) == 0 {
			continue
		}
		require.True(t, strings.HasSuffix(string(b), "\n"), "%s ends mid-line", name)
		out = append(out, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	return out
}

func TestFormat(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 1<<20, 3)
	l.Infof("New SMTP ICID %d interface %s (%s) address %s reverse dns host %s verified %s",
		282204970, "Management", "10.2.3.4", "10.3.4.5", "unknown", "no")
	l.Warningf("ICID %d TLS failed: (%d, '%s')", 282204971, 337678594,
		"error:14209102:SSL routines:tls_early_post_process_client_hello:unsupported protocol")
	l.Logf(Debug, "two\nlines\r")
	require.NoError(t, l.Close())

	b, err := os.ReadFile(filepath.Join(dir, LogName))
	require.NoError(t, err)
	assert.Equal(t, "Wed Jan 17 21:09:12 2024 Info: New SMTP ICID 282204970 interface Management (10.2.3.4) address 10.3.4.5 reverse dns host unknown verified no\n"+
		"Wed Jan 17 21:09:13 2024 Warning: ICID 282204971 TLS failed: (337678594, 'error:14209102:SSL routines:tls_early_post_process_client_hello:unsupported protocol')\n"+
		"Wed Jan 17 21:09:14 2024 Debug: two\\nlines\\r\n", string(b))
	fi, err := os.Stat(filepath.Join(dir, LogName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

// The lines of one Lines come out together, in order, with one timestamp,
// escaped like any line; a Lines is empty again after WriteLines.
func TestLines(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 1<<20, 3)
	l.Infof("before")
	var b Lines
	b.Infof("Start MID %d ICID %d", 7, 3)
	b.Infof("MID %d Subject %s", 7, "two\nlines")
	l.WriteLines(&b)
	l.WriteLines(&b) // empty: writes nothing
	b.Infof("after")
	l.WriteLines(&b)
	require.NoError(t, l.Close())
	got, err := os.ReadFile(filepath.Join(dir, LogName))
	require.NoError(t, err)
	assert.Equal(t, "Wed Jan 17 21:09:12 2024 Info: before\n"+
		"Wed Jan 17 21:09:13 2024 Info: Start MID 7 ICID 3\n"+
		"Wed Jan 17 21:09:13 2024 Info: MID 7 Subject two\\nlines\n"+
		"Wed Jan 17 21:09:14 2024 Info: after\n", string(got))
}

func TestFormatSingleDigitDay(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, 1<<20, 1, WithClock(func() time.Time { return time.Date(2005, 7, 5, 9, 7, 4, 0, time.Local) }))
	require.NoError(t, err)
	l.Infof("x")
	require.NoError(t, l.Close())
	b, err := os.ReadFile(filepath.Join(dir, LogName))
	require.NoError(t, err)
	assert.Equal(t, "Tue Jul  5 09:07:04 2005 Info: x\n", string(b), "the day is space-padded, as asctime")
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(t.TempDir(), 0, 3)
	require.ErrorContains(t, err, "maximum size 0 is not positive")
	_, err = Open(t.TempDir(), 100, 0)
	require.ErrorContains(t, err, "keep at least 1")
}

func TestAppendsToExisting(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 1<<20, 2)
	l.Infof("one")
	require.NoError(t, l.Close())
	l = openLog(t, dir, 1<<20, 2)
	l.Infof("two")
	lines, err := l.Tail(10)
	require.NoError(t, err)
	require.Len(t, lines, 2)
	assert.True(t, strings.HasSuffix(lines[0], "Info: one"))
	assert.True(t, strings.HasSuffix(lines[1], "Info: two"))
}

// lineLen is the length of a line written by writeN.
const lineLen = int64(len("Wed Jan 17 21:09:12 2024 Info: line 0000\n"))

// writeN logs "line 0000" … "line n-1", one line of lineLen bytes each.
func writeN(l *Logger, n int) {
	for i := range n {
		l.Infof("line %04d", i)
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 10*lineLen, 5) // 10 lines per file
	writeN(l, 45)

	for i, want := range map[string]int{"mail_logs": 5, "mail_logs.1": 10, "mail_logs.4": 10} {
		b, err := os.ReadFile(filepath.Join(dir, i))
		require.NoError(t, err)
		assert.Equal(t, want, strings.Count(string(b), "\n"), i)
		assert.LessOrEqual(t, int64(len(b)), 10*lineLen)
	}
	assert.NoFileExists(t, filepath.Join(dir, "mail_logs.5"))
	lines := allLines(t, dir, 5)
	require.Len(t, lines, 45)
	for i, line := range lines {
		assert.True(t, strings.HasSuffix(line, fmt.Sprintf("line %04d", i)), "line %d is %q", i, line)
	}

	// Beyond keep, the oldest file is dropped; the rest stays in order.
	writeN(l, 20)
	lines = allLines(t, dir, 5)
	require.Len(t, lines, 55)
	assert.True(t, strings.HasSuffix(lines[0], "line 0010"), lines[0])
	assert.True(t, strings.HasSuffix(lines[54], "line 0019"), lines[54])
	assert.NoFileExists(t, filepath.Join(dir, "mail_logs.6"))
}

func TestLineLongerThanMax(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 50, 3)
	l.Infof("short")
	l.Infof("%s", strings.Repeat("x", 100)) // alone in its file, never lost
	l.Infof("after")
	lines := allLines(t, dir, 3)
	require.Len(t, lines, 3)
	assert.Contains(t, lines[1], strings.Repeat("x", 100))
}

func TestTailAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 10*lineLen, 5)
	writeN(l, 45)

	lines, err := l.Tail(17)
	require.NoError(t, err)
	require.Len(t, lines, 17)
	for i, line := range lines {
		assert.True(t, strings.HasSuffix(line, fmt.Sprintf("line %04d", 28+i)), "%d: %q", i, line)
	}
	lines, err = l.Tail(1000)
	require.NoError(t, err)
	assert.Len(t, lines, 45)
	lines, err = l.Tail(0)
	require.NoError(t, err)
	assert.Empty(t, lines)
}

func TestLastLinesLongFile(t *testing.T) {
	// More than one read chunk, lines of varying length.
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "%d %s\n", i, strings.Repeat("y", i%97))
	}
	data := b.String()
	for _, n := range []int{1, 2, 500, 19999, 20000, 25000} {
		got, err := lastLines(strings.NewReader(data), int64(len(data)), n)
		require.NoError(t, err)
		all := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
		want := all[max(0, len(all)-n):]
		assert.Equal(t, want, got, "n=%d", n)
	}
}

func grepLines(t *testing.T, l *Logger, opts GrepOptions) ([]string, int) {
	t.Helper()
	var out []string
	n, err := l.Grep(opts, func(line string) { out = append(out, line) })
	require.NoError(t, err)
	return out, n
}

func TestGrep(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 300, 10) // a few lines per file: every search crosses rotations
	texts := []string{
		"New SMTP ICID 1 interface Management (10.2.3.4) address 10.3.4.5",
		"ICID 1 ACCEPT SG None match SBRS None",
		"ICID 1 TLS success protocol TLSv1.3 cipher TLS_AES_256_GCM_SHA384",
		"Start MID 7 ICID 1",
		"MID 7 ICID 1 From: <a@example.com>",
		"MID 7 ready 120 bytes from <a@example.com>",
		"ICID 1 close",
		"New SMTP DCID 9 interface 10.10.10.100 address 192.168.1.25 port 25",
		"DCID 9 IP 10.3.4.5 tls failed: starttls unexpected response",
		"DCID 9 close",
	}
	for _, s := range texts {
		l.Infof("%s", s)
	}
	_, err := os.Stat(filepath.Join(dir, "mail_logs.2"))
	require.NoError(t, err, "the test needs several rotated files")

	out, n := grepLines(t, l, GrepOptions{Pattern: "TLS"})
	assert.Equal(t, 1, n)
	require.Len(t, out, 1)
	assert.True(t, strings.HasSuffix(out[0], texts[2]))

	out, n = grepLines(t, l, GrepOptions{Pattern: "TLS", IgnoreCase: true})
	assert.Equal(t, 2, n)
	assert.Len(t, out, 2)

	out, n = grepLines(t, l, GrepOptions{Pattern: "tls", IgnoreCase: true, Count: true})
	assert.Equal(t, 2, n)
	assert.Empty(t, out, "with Count only the number is reported")

	// Context: groups, joins and separators as grep -C.
	out, n = grepLines(t, l, GrepOptions{Pattern: `^.*Info: (Start MID|DCID 9 close)`, Context: 1})
	assert.Equal(t, 2, n)
	want := []string{texts[2], texts[3], texts[4], "--", texts[8], texts[9]}
	require.Len(t, out, len(want))
	for i := range want {
		if want[i] == "--" {
			assert.Equal(t, "--", out[i])
		} else {
			assert.True(t, strings.HasSuffix(out[i], want[i]), "%d: %q", i, out[i])
		}
	}
	out, _ = grepLines(t, l, GrepOptions{Pattern: `ICID 1 (ACCEPT|TLS)`, Context: 2})
	assert.Len(t, out, 5, "overlapping contexts merge without a separator: %q", out)
	assert.NotContains(t, out, "--")

	out, n = grepLines(t, l, GrepOptions{Pattern: "nothing like this"})
	assert.Zero(t, n)
	assert.Empty(t, out)

	_, err = l.Grep(GrepOptions{Pattern: "MID (7"}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `invalid regular expression "MID (7"`)
	assert.Contains(t, err.Error(), "fix the -e argument")
}

func TestFollow(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 10*lineLen, 10)
	writeN(l, 5)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lines := make(chan string, 1000)
	done := make(chan error, 1)
	go func() { done <- l.Follow(ctx, 2, func(line string) { lines <- line }) }()

	want := func(i int) {
		t.Helper()
		select {
		case got := <-lines:
			require.True(t, strings.HasSuffix(got, fmt.Sprintf("line %04d", i)), "want line %d, got %q", i, got)
		case <-ctx.Done():
			t.Fatalf("timed out waiting for line %d", i)
		}
	}
	want(3)
	want(4)
	// New lines, across several rotations, arrive in order and complete.
	for i := 5; i < 40; i++ {
		l.Infof("line %04d", i)
		if i%7 == 0 {
			time.Sleep(time.Millisecond) // let the follower wake up at varying points
		}
	}
	for i := 5; i < 40; i++ {
		want(i)
	}
	select {
	case extra := <-lines:
		t.Fatalf("unexpected line %q", extra)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	require.NoError(t, <-done)
}

func TestFollowEndsOnClose(t *testing.T) {
	l := openLog(t, t.TempDir(), 1<<20, 1)
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- l.Follow(context.Background(), 0, func(string) { close(started) })
	}()
	// Wait until the follower is registered: it sees the line below.
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.followers) == 1
	}, 5*time.Second, time.Millisecond)
	l.Infof("x")
	<-started
	require.NoError(t, l.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not end on Close")
	}
	assert.ErrorIs(t, l.Follow(context.Background(), 0, func(string) {}), ErrClosed)
}

func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, 64<<10, 1000) // rotates about a dozen times
	require.NoError(t, err)
	const writers, each = 100, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				l.Infof("writer %03d line %03d %s", w, i, strings.Repeat("z", (w*7+i)%50))
			}
		})
	}
	wg.Wait()
	require.NoError(t, l.Close())

	lines := allLines(t, dir, 1000)
	require.Len(t, lines, writers*each)
	re := regexp.MustCompile(`^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4} Info: writer (\d{3}) line (\d{3}) (z*)$`)
	next := make([]int, writers)
	for _, line := range lines {
		m := re.FindStringSubmatch(line)
		require.NotNil(t, m, "mangled line %q", line)
		w, _ := strconv.Atoi(m[1])
		i, _ := strconv.Atoi(m[2])
		require.Equal(t, next[w], i, "writer %d out of order", w)
		require.Len(t, m[3], (w*7+i)%50)
		next[w]++
	}
	assert.True(t, slices.IndexFunc(next, func(n int) bool { return n != each }) < 0)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Greater(t, len(entries), 5, "the test should cross rotations")
}

func TestWithName(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, 3*lineLen, 2, WithName(AuthLogName), WithClock(fixedClock(time.Date(2024, 1, 17, 21, 9, 12, 0, time.Local))))
	require.NoError(t, err)
	writeN(l, 5)
	lines, err := l.Tail(10)
	require.NoError(t, err)
	assert.Len(t, lines, 5)
	require.NoError(t, l.Close())
	for _, name := range []string{"authentication", "authentication.1"} {
		assert.FileExists(t, filepath.Join(dir, name))
	}
	assert.NoFileExists(t, filepath.Join(dir, LogName), "mail_logs is not touched")

	for _, bad := range []string{"", ".", "..", "../x", "a/b"} {
		_, err := Open(dir, 100, 1, WithName(bad))
		require.ErrorContains(t, err, "is not a file name", "%q", bad)
	}
}

// TestWithCopy: every line goes to the copy exactly as to the file.
func TestWithCopy(t *testing.T) {
	var copied bytes.Buffer
	dir := t.TempDir()
	l, err := Open(dir, 1<<20, 2, WithCopy(&copied))
	require.NoError(t, err)
	l.Infof("New SMTP ICID %d", 1)
	l.Warningf("esc \x1b here")
	require.NoError(t, l.Close())
	file, err := os.ReadFile(filepath.Join(dir, LogName))
	require.NoError(t, err)
	assert.Equal(t, string(file), copied.String())
	assert.Contains(t, copied.String(), "Warning: esc \\x1b here\n")
}

// slowWriter counts its writes and takes a while over each, as a pipe to a
// busy log collector does.
type slowWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(2 * time.Millisecond)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

// TestCopyBatchesLines: lines logged while the copy is being written go
// out together, in the file's order, and Close writes what is left.
func TestCopyBatchesLines(t *testing.T) {
	var w slowWriter
	dir := t.TempDir()
	l, err := Open(dir, 1<<20, 2, WithCopy(&w))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				l.Infof("goroutine %d line %d", g, i)
			}
		})
	}
	wg.Wait()
	require.NoError(t, l.Close())
	file, err := os.ReadFile(filepath.Join(dir, LogName))
	require.NoError(t, err)
	assert.Equal(t, string(file), w.buf.String(), "the copy is the file, in order")
	assert.Equal(t, 400, strings.Count(w.buf.String(), "\n"))
	assert.Less(t, w.writes, 100, "400 lines in far fewer writes")
}
