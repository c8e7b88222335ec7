package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"

	"github.com/spf13/afero"
)

// tempRE matches the names tempName makes: ".NAME.tmp-" and 12 hex digits.
var tempRE = regexp.MustCompile(`^\..+\.tmp-[0-9a-f]{12}$`)

// tempName is the name of the temporary file WriteFile writes before it
// renames it to base; suffix is 12 random hex digits.
func tempName(base, suffix string) string { return "." + base + ".tmp-" + suffix }

// IsTemp reports whether a file name is one of WriteFile's temporary files.
func IsTemp(name string) bool { return tempRE.MatchString(name) }

// RemoveTemps removes the temporary files that a WriteFile interrupted by a
// crash or a kill left in dir (not in its sub-directories), and returns their
// paths. Only regular files whose names IsTemp matches are touched; a missing
// dir holds none.
func RemoveTemps(afs afero.Fs, dir string) ([]string, error) {
	entries, err := afero.ReadDir(afs, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s for leftover temporary files: %w", dir, err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.Mode().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := afs.Remove(p); err != nil {
			errs = append(errs, fmt.Errorf("removing the leftover temporary file %s: %w; remove it by hand", p, err))
			continue
		}
		removed = append(removed, p)
	}
	if len(removed) > 0 {
		errs = append(errs, SyncDir(afs, dir))
	}
	return removed, errors.Join(errs...)
}
