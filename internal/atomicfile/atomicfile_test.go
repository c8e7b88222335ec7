package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"
)

func TestWriteFileReplacesAndSetsPermissions(t *testing.T) {
	dir := t.TempDir()
	fs := afero.NewOsFs()
	name := filepath.Join(dir, "config.yaml")
	require.NoError(t, WriteFile(fs, name, []byte("one"), 0o600))
	require.NoError(t, WriteFile(fs, name, []byte("two"), 0o600))
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	require.Equal(t, "two", string(got))
	st, err := os.Stat(name)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file may be left behind")
}

func TestWriteFileFailsOnMissingDirectory(t *testing.T) {
	fs := afero.NewOsFs()
	err := WriteFile(fs, filepath.Join(t.TempDir(), "missing", "x"), []byte("x"), 0o600)
	require.ErrorContains(t, err, "missing")
}
