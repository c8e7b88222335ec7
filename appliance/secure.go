package appliance

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"relaybox/certstore"
	"relaybox/commands"
	"relaybox/config"
)

// The sub-directories of the data directory, each kept owner-only (0700).
var dataSubdirs = []string{certstore.KeysDir, "queue", "logs", "delivery", commands.ConfigsDir, config.HistoryDir, SSHDir}

// secureDataDir refuses a data directory that another user could change (see
// checkDataDir) and makes its sub-directories owner-only, telling log about
// each one it had to fix.
func secureDataDir(dir string, log io.Writer) error {
	uid := os.Geteuid()
	if err := checkDataDir(dir, uid); err != nil {
		return err
	}
	return secureSubdirs(dir, uid, log)
}

// checkDataDir is OpenSSH's StrictModes check for the data directory dir
// (absolute) and the user uid: dir must belong to uid or root and must not
// be writable by group or others, and so must every parent up to "/", except
// a parent with the sticky bit that belongs to root or uid (like /tmp).
// When dir is reached through symbolic links, the directories on both the
// given and the resolved path are checked.
func checkDataDir(dir string, uid int) error {
	if err := checkOwnerOnly(dir, dir, uid); err != nil {
		return err
	}
	if err := checkParents(dir, dir, uid); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("resolving the data directory %s: %w", dir, err)
	}
	if real == dir {
		return nil
	}
	return checkParents(real, dir, uid)
}

// checkOwnerOnly checks the data directory itself (path is dir, or where it
// leads; links are followed): a directory of uid or root that only its owner
// can write to.
func checkOwnerOnly(path, dir string, uid int) error {
	st, owner, err := statOwner(path)
	if err != nil {
		return fmt.Errorf("checking the data directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("the data directory %s is not a directory: choose another one with --data", dir)
	}
	if owner != uid && owner != 0 {
		return fmt.Errorf("the data directory %s belongs to uid %d, not to you (uid %d): another user could replace its control socket and keys; "+
			"run relaybox as its owner, take it over with \"chown -R %d %s\", or choose another directory with --data", dir, owner, uid, uid, path)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("the data directory %s is writable by group or others (mode %s): another user could replace its control socket and keys; "+
			"make it owner-only with \"chmod 700 %s\", or choose another directory with --data", dir, modeString(st.Mode()), path)
	}
	return nil
}

// checkParents checks every parent of path up to "/": each must belong to
// root or uid and be writable only by its owner, unless it has the sticky bit.
func checkParents(path, dir string, uid int) error {
	for p := filepath.Dir(path); ; p = filepath.Dir(p) {
		st, owner, err := statOwner(p)
		if err != nil {
			return fmt.Errorf("checking %s, a parent of the data directory %s: %w", p, dir, err)
		}
		if owner != uid && owner != 0 {
			return fmt.Errorf("%s, a parent of the data directory %s, belongs to uid %d, who could replace the data directory: "+
				"choose a data directory whose parents belong to root or to you (uid %d) with --data", p, dir, owner, uid)
		}
		if st.Mode().Perm()&0o022 != 0 && st.Mode()&fs.ModeSticky == 0 {
			return fmt.Errorf("%s, a parent of the data directory %s, is writable by group or others (mode %s): another user could replace the data directory; "+
				"remove that permission with \"chmod go-w %s\", or choose a data directory whose parents only root and you can change with --data", p, dir, modeString(st.Mode()), p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// secureSubdirs makes each sub-directory of dir a directory of uid (or root)
// with mode 0700, creating the missing ones and fixing looser modes, which
// it reports to log. A sub-directory that is not a directory or belongs to
// another user is refused.
func secureSubdirs(dir string, uid int, log io.Writer) error {
	for _, name := range dataSubdirs {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating %s: %w", p, err)
		}
		st, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("checking %s: %w", p, err)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			if err := checkDataDir(p, uid); err != nil {
				return fmt.Errorf("%s is a symbolic link: %w", p, err)
			}
		}
		if err := ownerOnlyDir(p, uid, log); err != nil {
			return err
		}
	}
	return nil
}

// ownerOnlyDir makes the directory p (which belongs to uid or root) mode
// 0700 and tells log when it was not.
func ownerOnlyDir(p string, uid int, log io.Writer) error {
	st, owner, err := statOwner(p)
	if err != nil {
		return fmt.Errorf("checking %s: %w", p, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory: move it out of the data directory", p)
	}
	if owner != uid && owner != 0 {
		return fmt.Errorf("%s belongs to uid %d, not to you (uid %d): another user could change it; "+
			"move it out of the data directory, or take it over with \"chown -R %d %s\"", p, owner, uid, uid, p)
	}
	const special = fs.ModeSticky | fs.ModeSetgid | fs.ModeSetuid
	if st.Mode()&(fs.ModePerm|special) == 0o700 {
		return nil
	}
	if err := os.Chmod(p, 0o700); err != nil {
		return fmt.Errorf("making %s owner-only (mode 0700): %w", p, err)
	}
	fmt.Fprintf(log, "relaybox: %s had mode %s; it is now 0700 (owner-only)\n", p, modeString(st.Mode()))
	return nil
}

// statOwner stats path, following links, and returns the owner's uid.
func statOwner(path string) (fs.FileInfo, int, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, 0, fmt.Errorf("%s: the owner cannot be read on this system", path)
	}
	return st, int(sys.Uid), nil
}

// modeString shows a mode as chmod takes it, e.g. 0777 or 1777.
func modeString(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	return fmt.Sprintf("%04o", n)
}
