package queue

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The index answers exactly what the files say: a header from memory after
// a Put equals the one a later Open reads from disk, IDs and Count follow
// Puts and Removes, and callers get copies.
func TestIndexAgreesWithDisk(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	env := testEnvelope()
	env.To = []string{"a@example.test", `"b c"@example.test`}
	var mids []MID
	for i := range 3 {
		mid, _, err := s.Put(context.Background(), env, strings.NewReader(strings.Repeat("x", 10+i)), 0)
		require.NoError(t, err)
		mids = append(mids, mid)
	}
	require.NoError(t, s.Remove(mids[1]))
	ids, err := s.IDs()
	require.NoError(t, err)
	assert.Equal(t, []MID{mids[0], mids[2]}, ids)
	assert.Equal(t, 2, s.Count())
	_, err = s.Header(mids[1])
	assert.ErrorIs(t, err, ErrNotFound)

	fromMemory := map[MID]Message{}
	for _, mid := range ids {
		m, err := s.Header(mid)
		require.NoError(t, err)
		fromMemory[mid] = m
		other, err := s.Header(mid)
		require.NoError(t, err)
		other.Envelope.To[0] = "changed@example.test" // a copy: the index keeps its own
		again, err := s.Header(mid)
		require.NoError(t, err)
		assert.Equal(t, "a@example.test", again.Envelope.To[0])
	}
	require.NoError(t, s.Close())

	s = openSpool(t, dir)
	defer s.Close()
	reopened, err := s.IDs()
	require.NoError(t, err)
	assert.Equal(t, ids, reopened)
	for _, mid := range ids {
		fromDisk, err := s.Header(mid)
		require.NoError(t, err)
		assert.Equal(t, fromDisk, fromMemory[mid], "MID %d", mid)
		assert.Equal(t, int64(10+int(mid)-1), fromDisk.Size)
	}
}

// A message the spool could not remove stays listed, whether its removal
// is a del record the segment refuses or an unlink msg/ refuses.
func TestIndexKeepsWhatCouldNotBeRemoved(t *testing.T) {
	for _, form := range storageForms {
		t.Run(form.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openForm(t, dir, form.segMax, form.inlineMax)
			defer s.Close()
			mid, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader("body"), 0)
			require.NoError(t, err)
			m, err := s.Header(mid)
			require.NoError(t, err)
			if form.name == "segment" {
				if os.Geteuid() != 0 {
					t.Skip("an open segment refuses writes only when immutable (chattr +i), which needs root")
				}
				lockDir(t, diskPath(m.Path))
			} else {
				lockDir(t, filepath.Join(dir, msgDirName))
			}
			require.Error(t, s.Remove(mid))
			ids, err := s.IDs()
			require.NoError(t, err)
			assert.Equal(t, []MID{mid}, ids)
			assert.Equal(t, 1, s.Count())
			_, err = s.Header(mid)
			assert.NoError(t, err)
			_, body := readBody(t, s, mid)
			assert.Equal(t, "body", string(body))
		})
	}
}

// lockDir makes dir refuse removals until the test ends: immutable for
// root (who ignores permissions), read-only for anyone else.
func lockDir(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		require.NoError(t, os.Chmod(dir, 0o500))
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		return
	}
	out, err := exec.Command("chattr", "+i", dir).CombinedOutput()
	require.NoError(t, err, "chattr +i (e2fsprogs): %s", out)
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
}

// IDs stays in ascending order however Puts interleave and whichever
// messages are removed, and agrees with what a new Open lists.
func TestIDsOrderedUnderConcurrentPuts(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	var wg sync.WaitGroup
	mids := make(chan MID, 200)
	for range 8 {
		wg.Go(func() {
			for range 25 {
				mid, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader("x"), 0)
				assert.NoError(t, err)
				mids <- mid
			}
		})
	}
	wg.Wait()
	close(mids)
	kept := map[MID]bool{}
	for mid := range mids {
		if mid%3 == 0 {
			require.NoError(t, s.Remove(mid))
			continue
		}
		kept[mid] = true
	}
	ids, err := s.IDs()
	require.NoError(t, err)
	assert.True(t, slices.IsSorted(ids), "ascending")
	assert.Len(t, ids, len(kept))
	for _, mid := range ids {
		assert.True(t, kept[mid], "MID %d was removed or never put", mid)
	}
	require.NoError(t, s.Close())
	s = openSpool(t, dir)
	defer s.Close()
	again, err := s.IDs()
	require.NoError(t, err)
	assert.Equal(t, ids, again)
}
