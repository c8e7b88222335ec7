package atomicfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsTemp(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{tempName("config.yaml", "0123456789ab"), true},
		{tempName("v00000003.yaml", "ffffffffffff"), true},
		{".config.yaml.tmp-0123456789ab", true},
		{"config.yaml", false},
		{"config.yaml.tmp-0123456789ab", false},   // not hidden: not ours
		{".config.yaml.tmp-0123456789", false},    // 11 digits
		{".config.yaml.tmp-0123456789abc", false}, // 13 digits
		{".config.yaml.tmp-0123456789AB", false},  // we write lower case
		{".config.yaml.tmp-", false},
		{".hwm.tmp-123456", false}, // the queue's own, which it removes itself
		{".tmp-0123456789ab", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, IsTemp(tt.name), tt.name)
	}
}

// killAtRename is a filesystem on which the process dies (SIGKILL) when
// WriteFile renames its temporary file: what a kill during a commit leaves.
type killAtRename struct{ afero.Fs }

func (k killAtRename) Rename(string, string) error {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func TestRemoveTempsAfterKill(t *testing.T) {
	if dir := os.Getenv("ATOMICFILE_KILL_IN"); dir != "" {
		_ = WriteFile(killAtRename{afero.NewOsFs()}, filepath.Join(dir, "config.yaml"), []byte("new"), 0o600)
		os.Exit(3) // not reached: the process is killed in Rename
	}
	dir := t.TempDir()
	fs := afero.NewOsFs()
	require.NoError(t, WriteFile(fs, filepath.Join(dir, "config.yaml"), []byte("old"), 0o600))
	cmd := exec.Command(os.Args[0], "-test.run=^TestRemoveTempsAfterKill$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_KILL_IN="+dir)
	err := cmd.Run()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "the helper must be killed, got %v", err)
	require.Equal(t, syscall.SIGKILL, ee.Sys().(syscall.WaitStatus).Signal())

	// Files that look alike but are not ours stay, and so does a directory.
	keep := []string{"config.yaml", "notes.tmp-0123456789ab", ".config.yaml.tmp-XYZ", ".hidden"}
	for _, name := range keep[1:] {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, tempName("sub", "0123456789ab")), 0o700))
	keep = append(keep, tempName("sub", "0123456789ab"))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var left []string
	for _, e := range entries {
		if IsTemp(e.Name()) && !e.IsDir() {
			left = append(left, filepath.Join(dir, e.Name()))
		}
	}
	require.Len(t, left, 1, "the kill leaves one temporary file")

	removed, err := RemoveTemps(fs, dir)
	require.NoError(t, err)
	assert.Equal(t, left, removed)
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, keep, names)
	got, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "old", string(got), "the kill left the old content")
}

func TestRemoveTempsMissingDirectory(t *testing.T) {
	removed, err := RemoveTemps(afero.NewOsFs(), filepath.Join(t.TempDir(), "missing"))
	require.NoError(t, err)
	assert.Empty(t, removed)
}
