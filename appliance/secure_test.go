package appliance

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// otherUID owns the files of "another user" in these tests.
const otherUID = 65534

// mkdir makes dir with exactly mode (no umask).
func mkdir(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.Chmod(dir, mode))
	return dir
}

// chownOther gives path to another user; only root can.
func chownOther(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a directory of another user needs root")
	}
	require.NoError(t, os.Lchown(path, otherUID, otherUID))
}

func TestCheckDataDir(t *testing.T) {
	tests := []struct {
		name string
		// setup makes the data directory under root (a 0700 directory of ours) and returns it.
		setup func(t *testing.T, root string) string
		// want is "" for accepted, else parts of the error; "DIR" stands for the data directory.
		want []string
	}{
		{name: "0700 ok", setup: func(t *testing.T, root string) string { return mkdir(t, root+"/data", 0o700) }},
		{name: "0755 ok: readable is not writable", setup: func(t *testing.T, root string) string { return mkdir(t, root+"/data", 0o755) }},
		{name: "0777 refused", setup: func(t *testing.T, root string) string { return mkdir(t, root+"/data", 0o777) },
			want: []string{"the data directory DIR is writable by group or others (mode 0777)", `"chmod 700 DIR"`, "choose another directory with --data"}},
		{name: "group-writable 0770 refused", setup: func(t *testing.T, root string) string { return mkdir(t, root+"/data", 0o770) },
			want: []string{"(mode 0770)", `"chmod 700 DIR"`}},
		{name: "sticky data directory refused", setup: func(t *testing.T, root string) string { return mkdir(t, root+"/data", os.ModeSticky|0o777) },
			want: []string{"(mode 1777)"}},
		{name: "group-writable parent refused", setup: func(t *testing.T, root string) string {
			mkdir(t, root+"/shared", 0o775)
			return mkdir(t, root+"/shared/data", 0o700)
		}, want: []string{"/shared, a parent of the data directory DIR, is writable by group or others (mode 0775)", `"chmod go-w `}},
		{name: "world-writable grandparent refused", setup: func(t *testing.T, root string) string {
			mkdir(t, root+"/open", 0o777)
			mkdir(t, root+"/open/mine", 0o700)
			return mkdir(t, root+"/open/mine/data", 0o700)
		}, want: []string{"/open, a parent of the data directory DIR", "(mode 0777)"}},
		{name: "sticky parent like /tmp ok", setup: func(t *testing.T, root string) string {
			mkdir(t, root+"/tmp", os.ModeSticky|0o777)
			return mkdir(t, root+"/tmp/data", 0o700)
		}},
		{name: "sticky parent of another user refused", setup: func(t *testing.T, root string) string {
			mkdir(t, root+"/tmp", os.ModeSticky|0o777)
			chownOther(t, root+"/tmp")
			return mkdir(t, root+"/tmp/data", 0o700)
		}, want: []string{"/tmp, a parent of the data directory DIR, belongs to uid 65534"}},
		{name: "owned by another user refused", setup: func(t *testing.T, root string) string {
			dir := mkdir(t, root+"/data", 0o700)
			chownOther(t, dir)
			return dir
		}, want: []string{"the data directory DIR belongs to uid 65534, not to you", "choose another directory with --data"}},
		{name: "parent of another user refused", setup: func(t *testing.T, root string) string {
			mkdir(t, root+"/theirs", 0o755)
			chownOther(t, root+"/theirs")
			return mkdir(t, root+"/theirs/data", 0o700)
		}, want: []string{"/theirs, a parent of the data directory DIR, belongs to uid 65534"}},
		{name: "link to a loose directory refused", setup: func(t *testing.T, root string) string {
			mkdir(t, root+"/loose", 0o777)
			require.NoError(t, os.Symlink(root+"/loose", root+"/data"))
			return root + "/data"
		}, want: []string{"the data directory DIR is writable by group or others (mode 0777)", `"chmod 700 DIR"`}},
		{name: "link inside a loose directory refused", setup: func(t *testing.T, root string) string {
			mkdir(t, root+"/good", 0o700)
			mkdir(t, root+"/loose", 0o777)
			require.NoError(t, os.Symlink(root+"/good", root+"/loose/data"))
			return root + "/loose/data"
		}, want: []string{"/loose, a parent of the data directory DIR"}},
		{name: "link to a good directory ok", setup: func(t *testing.T, root string) string {
			mkdir(t, root+"/good", 0o700)
			require.NoError(t, os.Symlink(root+"/good", root+"/data"))
			return root + "/data"
		}},
		{name: "a file refused", setup: func(t *testing.T, root string) string {
			require.NoError(t, os.WriteFile(root+"/data", nil, 0o600))
			return root + "/data"
		}, want: []string{"the data directory DIR is not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			require.NoError(t, os.Chmod(root, 0o700))
			dir := tt.setup(t, root)
			err := checkDataDir(dir, os.Geteuid())
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "DIR", dir)
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSecureSubdirsFixesLooseModes(t *testing.T) {
	dir := mkdir(t, filepath.Join(t.TempDir(), "data"), 0o700)
	mkdir(t, filepath.Join(dir, "keys"), 0o777)
	mkdir(t, filepath.Join(dir, "queue"), 0o750)
	mkdir(t, filepath.Join(dir, "logs"), 0o700)
	mkdir(t, filepath.Join(dir, "history"), os.ModeSetgid|0o700)
	var log bytes.Buffer
	require.NoError(t, secureSubdirs(dir, os.Geteuid(), &log))
	for _, name := range dataSubdirs {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
		assert.Equal(t, os.ModeDir|0o700, st.Mode(), name)
	}
	assert.Contains(t, log.String(), "relaybox: "+filepath.Join(dir, "keys")+" had mode 0777; it is now 0700 (owner-only)\n")
	assert.Contains(t, log.String(), filepath.Join(dir, "queue")+" had mode 0750")
	assert.Contains(t, log.String(), filepath.Join(dir, "history")+" had mode 2700")
	assert.NotContains(t, log.String(), "logs", "a 0700 directory is not reported")
	assert.NotContains(t, log.String(), "configs", "a new directory is not reported")
}

func TestSecureSubdirsRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"a file", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "keys"), nil, 0o600))
		}, "/keys is not a directory: move it out of the data directory"},
		{"another user's", func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "queue"), 0o700)
			chownOther(t, filepath.Join(dir, "queue"))
		}, "/queue belongs to uid 65534, not to you"},
		{"a link to a loose directory", func(t *testing.T, dir string) {
			loose := mkdir(t, filepath.Join(filepath.Dir(dir), "loose"), 0o777)
			require.NoError(t, os.Symlink(loose, filepath.Join(dir, "logs")))
		}, "/logs is a symbolic link: the data directory " + "SUB is writable by group or others (mode 0777)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := mkdir(t, filepath.Join(t.TempDir(), "data"), 0o700)
			tt.setup(t, dir)
			err := secureSubdirs(dir, os.Geteuid(), &bytes.Buffer{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), strings.ReplaceAll(tt.want, "SUB", filepath.Join(dir, "logs")))
		})
	}
}

func TestStartRefusesLooseDataDir(t *testing.T) {
	dir := mkdir(t, filepath.Join(t.TempDir(), "data"), 0o777)
	_, err := Start(context.Background(), testOptions(t, dir, &bytes.Buffer{}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is writable by group or others (mode 0777)")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "a refused directory is left as it was")
}

func TestStartFixesLooseSubdirectory(t *testing.T) {
	dir := mkdir(t, filepath.Join(t.TempDir(), "data"), 0o700)
	mkdir(t, filepath.Join(dir, "keys"), 0o777)
	var log bytes.Buffer
	opts := testOptions(t, dir, &bytes.Buffer{})
	opts.ErrorLog = &log
	start(t, opts)
	st, err := os.Stat(filepath.Join(dir, "keys"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	assert.Contains(t, log.String(), "keys had mode 0777; it is now 0700")
}
