package commands

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/spf13/afero"

	"relaybox/internal/atomicfile"
	"relaybox/shell"
)

// ConfigsDir is the directory under the data directory for the files an
// admin exchanges with the appliance: saved configurations, CSRs, PKCS#12
// files, authority PEM files. This file is the only one that reads or
// writes it.
const ConfigsDir = "configs"

var fileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// configFile resolves a file name inside the configs directory.
func configFile(app *App, name string) (string, error) {
	if !fileNameRE.MatchString(name) {
		return "", fmt.Errorf("%q is not a valid file name: use letters, digits, '.', '_' and '-' (files live in the configuration directory)", name)
	}
	return filepath.Join(app.Store.Dir(), ConfigsDir, name), nil
}

// writeConfigFile writes data (owner-only, atomically) to a file in the
// configs directory and says so.
func writeConfigFile(s *shell.Session, app *App, name string, data []byte) error {
	path, err := configFile(app, name)
	if err != nil {
		return err
	}
	afs := app.Store.Fs()
	if err := afs.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(afs, path, data, 0o600); err != nil {
		return err
	}
	s.Printf("\nThe file %s has been saved in the configuration directory (%s).\n", name, filepath.Dir(path))
	return nil
}

// readConfigFile reads a file from the configs directory.
func readConfigFile(app *App, name string) ([]byte, error) {
	path, err := configFile(app, name)
	if err != nil {
		return nil, err
	}
	data, err := afero.ReadFile(app.Store.Fs(), path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("Error: the file %q does not exist in %s: copy it there first", name, filepath.Dir(path))
	}
	return data, err
}

// askConfigFile lists the configs directory and asks for a file to read;
// Enter goes back.
func askConfigFile(s *shell.Session, app *App, question string) ([]byte, error) {
	entries, err := afero.ReadDir(app.Store.Fs(), filepath.Join(app.Store.Dir(), ConfigsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	if len(entries) == 0 {
		s.Println("\nThere are no files in the configuration directory.")
	} else {
		s.Println("\nFiles in the configuration directory:")
		for _, e := range entries {
			s.Printf("  %s\n", e.Name())
		}
	}
	var data []byte
	_, err = askNew(s, question, func(a string) error {
		var err error
		data, err = readConfigFile(app, a)
		return err
	})
	return data, err
}
