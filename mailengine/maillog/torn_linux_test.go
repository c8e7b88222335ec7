//go:build linux

package maillog

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tornLine is the text of line i in these tests; each full line is 100 bytes, which no page
// size and no limit below is a multiple of, so the write that meets the end of the space is partial.
func tornLine(i int) string {
	return fmt.Sprintf("line %04d %s", i, strings.Repeat("x", 58))
}

var tornLineRE = regexp.MustCompile(`^Wed Jan 17 \d\d:\d\d:\d\d 2024 Info: line (\d{4}) x{58}$`)

// wholeLines reads dir's current log and checks that it holds whole lines 0…n-1 only.
func wholeLines(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, LogName))
	require.NoError(t, err)
	require.NotEmpty(t, b)
	require.True(t, strings.HasSuffix(string(b), "\n"), "the log ends with a torn line: %q", b[max(0, len(b)-120):])
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, line := range lines {
		m := tornLineRE.FindStringSubmatch(line)
		require.NotNil(t, m, "line %d is torn: %q", i, line)
		require.Equal(t, fmt.Sprintf("%04d", i), m[1], "line %d", i)
	}
	return len(lines)
}

func (l *Logger) failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err != nil
}

// TestFullDiskLeavesWholeLines fills a real 64 KiB tmpfs: the write that meets ENOSPC is undone,
// the next ones fail whole, and once space is freed the log goes on with whole lines.
func TestFullDiskLeavesWholeLines(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700"); err != nil {
		t.Skipf("cannot mount a 64 KiB tmpfs on %s (needs root): %v; TestFileSizeLimitLeavesWholeLines covers the same path", dir, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) }) // before TempDir's removal
	filler := filepath.Join(dir, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, 20<<10), 0o600))

	l, err := Open(dir, 1<<20, 2, WithClock(fixedClock(time.Date(2024, 1, 17, 21, 9, 12, 0, time.Local))))
	require.NoError(t, err)
	i := 0
	for ; i < 2000 && !l.failed(); i++ {
		l.Infof("%s", tornLine(i))
	}
	require.True(t, l.failed(), "the disk never filled up")
	for j := range 5 { // writes on a full disk fail whole
		l.Infof("%s", tornLine(i+j))
	}
	n := wholeLines(t, dir)
	assert.Equal(t, i-1, n, "every line before the one that met the full disk is there")

	require.NoError(t, os.Remove(filler))
	l.Infof("%s", tornLine(n))
	err = l.Close()
	require.ErrorIs(t, err, syscall.ENOSPC, "the error is kept for Close")
	assert.Contains(t, err.Error(), "the line was dropped: free space in the log directory")
	assert.Equal(t, n+1, wholeLines(t, dir), "after space is freed the log goes on")
}

const fsizeChildEnv = "MAILLOG_FSIZE_CHILD_DIR"

// TestFileSizeLimitLeavesWholeLines runs a child with RLIMIT_FSIZE (as "ulimit -f"): write(2)
// writes up to the limit and then fails with EFBIG, leaving a partial line unless it is undone.
func TestFileSizeLimitLeavesWholeLines(t *testing.T) {
	if dir := os.Getenv(fsizeChildEnv); dir != "" {
		fsizeChild(t, dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileSizeLimitLeavesWholeLines$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), fsizeChildEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child:\n%s", out)
	require.Contains(t, string(out), "file too large", "the child met the limit:\n%s", out)
	assert.Equal(t, 10, wholeLines(t, dir), "the 1050-byte limit holds 10 whole lines")
}

// The lines of one Lines are whole or absent together: the group that
// meets the limit is undone, and the single line after it still fits.
func TestFileSizeLimitLeavesWholeGroups(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileSizeLimitLeavesWholeLines$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), fsizeChildEnv+"="+dir, fsizeGroupEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child:\n%s", out)
	assert.Equal(t, 10, wholeLines(t, dir), "lines 0-8, not the group, then line 9 alone")
}

const fsizeGroupEnv = "MAILLOG_FSIZE_GROUP"

func fsizeChild(t *testing.T, dir string) {
	signal.Ignore(syscall.SIGXFSZ) // write(2) then fails with EFBIG instead of the signal killing us
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 1050, Max: old.Max}))
	l, err := Open(dir, 1<<20, 2, WithClock(fixedClock(time.Date(2024, 1, 17, 21, 9, 12, 0, time.Local))))
	require.NoError(t, err)
	group := os.Getenv(fsizeGroupEnv) != ""
	for i := range 15 {
		if group && i == 9 {
			// Two lines in one write that does not fit: neither may stay.
			var b Lines
			b.Infof("%s", tornLine(90)) // numbered out of order: wholeLines refuses either
			b.Infof("%s", tornLine(91))
			l.WriteLines(&b)
		}
		l.Infof("%s", tornLine(i))
	}
	err = l.Close()
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)) // the test binary writes on
	require.Error(t, err)
	require.True(t, errors.Is(err, syscall.EFBIG), "%v", err)
	t.Logf("close error: %v", err)
}
