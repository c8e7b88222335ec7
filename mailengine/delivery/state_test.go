package delivery

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

// breakDir makes dir unusable for real: it is replaced by a regular file,
// so every os call that creates, reads or writes in it fails (root
// included, unlike chmod). mend puts an empty directory back.
func breakDir(t *testing.T, dir string) (mend func()) {
	t.Helper()
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.WriteFile(dir, []byte("not a directory\n"), 0o600))
	return func() {
		require.NoError(t, os.Remove(dir))
		require.NoError(t, os.Mkdir(dir, 0o700))
	}
}

// The state of a message the peer accepted cannot be written (disk full):
// the message is held, not retried, so the peer never gets it twice; once
// the state can be written again it is saved and delivery goes on.
func TestUnwritableStateHoldsTheMessage(t *testing.T) {
	good, later := holdPeer(t), startPeer(t, nil)
	h := newHarness(t, func(c *config.Config) {
		route("example.net", good.addr)(c)
		route("slow.test", "127.0.0.1:1")(c) // refuses connections until a commit routes it to later
	})
	h.run(t)
	mid := h.queue(t, "alice@sender.test", "bob@example.net", "carl@slow.test")
	good.awaitData(t) // the attempt is under way: its state file is read (there is none)
	mend := breakDir(t, h.d.opts.StateDir)
	good.answer() // 250 for bob; writing the state fails

	h.logContains(t, "Message done DCID 1 MID 1 to RID [0]", "Warning: MID 1 delivery state cannot be written:")
	time.Sleep(time.Second) // twenty retry intervals
	assert.Len(t, good.received(), 1, "bob is not sent the message again")
	logs := h.logLines(t)
	assert.Equal(t, 1, strings.Count(logs, "delivery state cannot be written"), "warned once: %s", logs)
	assert.Contains(t, logs, "MID 1 is held (no further delivery) so that no recipient gets it twice (done: RID [0]): free space in "+h.d.opts.StateDir+" or make it a writable directory")
	assert.NotContains(t, logs, "New SMTP DCID 2", "no further transaction while held, not even for carl")

	mend()
	h.logContains(t, "MID 1 delivery state written; delivery resumes", "Delayed: MID 1 to RID [1]")
	st, err := loadState(h.d.statePath(mid))
	require.NoError(t, err)
	assert.Equal(t, map[int]bool{0: true}, st.Done, "bob is on disk now")

	h.cfg.Routes[1].Hosts = []string{later.addr} // the commit that fixes slow.test
	h.d.Apply(&Settings{Config: h.cfg, TLS: &tls.Config{RootCAs: x509.NewCertPool()}})
	h.logContains(t, "Message finished MID 1 done")
	assert.Len(t, good.received(), 1, "bob got it once")
	assert.Len(t, later.received(), 1, "carl got it")
}

// chattr sets or clears the immutable attribute of dir: then no file in it
// can be created or removed, by root either. The test is skipped where the
// file system or the privileges do not allow it.
func chattr(t *testing.T, flag, dir string) {
	t.Helper()
	if out, err := exec.Command("chattr", flag, dir).CombinedOutput(); err != nil {
		t.Skipf("chattr %s %s: %v %s (needs CAP_LINUX_IMMUTABLE and ext4, xfs or btrfs)", flag, dir, err, out)
	}
}

// The queue file of a message whose recipients are all done cannot be
// removed, and its state cannot be written either: what the process
// remembers keeps it from being delivered again; it leaves the queue once
// that works.
func TestUnremovableMessageIsNotDeliveredAgain(t *testing.T) {
	p := holdPeer(t)
	h := newHarness(t, route("example.net", p.addr))
	h.run(t)
	h.queue(t, "alice@sender.test", "bob@example.net")
	p.awaitData(t)
	// Whichever way the spool keeps it (a segment record, or its own file in
	// msg/), the message cannot be removed while these are immutable.
	spoolDir := filepath.Join(filepath.Dir(h.d.opts.StateDir), "queue")
	locked, err := filepath.Glob(filepath.Join(spoolDir, "seg", "*.seg"))
	require.NoError(t, err)
	require.NotEmpty(t, locked, "the message is in a segment")
	locked = append(locked, filepath.Join(spoolDir, "msg"))
	for _, p := range locked {
		chattr(t, "+i", p)
	}
	immutable := true
	unlock := func() {
		for _, p := range locked {
			chattr(t, "-i", p)
		}
	}
	t.Cleanup(func() {
		if immutable {
			unlock()
		}
	})
	mend := breakDir(t, h.d.opts.StateDir)
	p.answer()

	h.logContains(t, "Message done DCID 1 MID 1 to RID [0]",
		"Warning: MID 1 every recipient is done but it cannot be removed from the queue:", "it is not delivered again",
		"Warning: MID 1 delivery state cannot be written:")
	time.Sleep(time.Second)
	assert.Len(t, p.received(), 1, "delivered once")
	assert.Equal(t, 1, h.spool.Count(), "still queued")
	logs := h.logLines(t)
	assert.Equal(t, 1, strings.Count(logs, "cannot be removed from the queue"), "warned once: %s", logs)
	assert.NotContains(t, logs, "Message finished")

	unlock()
	immutable = false
	mend()
	h.logContains(t, "MID 1 delivery state written; delivery resumes", "Message finished MID 1 done")
	assert.Zero(t, h.spool.Count())
	assert.Len(t, p.received(), 1, "delivered once")
	_, err = os.Stat(h.d.statePath(1))
	assert.ErrorIs(t, err, os.ErrNotExist, "no state file is left behind")
}

// A message queued while delivery runs can have no state file until
// delivery writes one, so its attempts read none and a finished message
// removes none: here the state directory is unusable from the start and
// the message is still delivered once and finished, without a warning.
func TestNewMessageReadsNoStateFile(t *testing.T) {
	p := startPeer(t, nil)
	h := newHarness(t, route("example.net", p.addr))
	h.run(t)
	require.Eventually(t, func() bool { return !h.d.mayHaveState(1) }, 5*time.Second, 10*time.Millisecond, "Run lists the state directory")
	mend := breakDir(t, h.d.opts.StateDir)
	defer mend()
	h.queue(t, "alice@sender.test", "bob@example.net")
	h.logContains(t, "Message done DCID 1 MID 1 to RID [0]", "Message finished MID 1 done")
	assert.Len(t, p.received(), 1)
	assert.NotContains(t, h.logLines(t), "delivery state cannot be read")
	assert.Equal(t, 0, h.spool.Count())
}
