package commands

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/spf13/afero"

	"relaybox/config"
	"relaybox/internal/atomicfile"
	"relaybox/shell"
)

// ConfigsDir is the directory under the data directory for saveconfig files.
const ConfigsDir = "configs"

var fileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// configFile resolves a saveconfig/loadconfig file name inside the configs directory.
func configFile(app *App, name string) (string, error) {
	if !fileNameRE.MatchString(name) {
		return "", fmt.Errorf("%q is not a valid file name: use letters, digits, '.', '_' and '-' (files live in the configuration directory)", name)
	}
	return filepath.Join(app.Store.Dir(), ConfigsDir, name), nil
}

func saveconfig(app *App) shell.Command {
	return shell.Command{
		Name:    "saveconfig",
		Summary: "Save the committed configuration to a file in the configuration directory.",
		Help: `Writes the committed configuration as a YAML file into DATA/configs (owner-only).
Masked files cannot be loaded again with loadconfig.

Batch form:
  saveconfig mask|unmasked [FILE]`,
		Run: func(s *shell.Session, args []string) error {
			mask, rest, err := maskChoice(s, args, "saveconfig")
			if err != nil {
				return err
			}
			c := app.Store.Current()
			name := fmt.Sprintf("config-%s-v%d-%s.yaml", c.Hostname, c.Version, time.Now().UTC().Format("20060102T150405"))
			switch len(rest) {
			case 0:
			case 1:
				name = rest[0]
			default:
				return usage("saveconfig", "saveconfig mask|unmasked [FILE]")
			}
			path, err := configFile(app, name)
			if err != nil {
				return err
			}
			if mask {
				c = config.Masked(c)
			}
			data, err := c.Encode()
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
		},
	}
}

func loadconfig(app *App) shell.Command {
	return shell.Command{
		Name:    "loadconfig",
		Summary: "Load a configuration from a file or a paste into the pending configuration.",
		Help: `Reads a configuration (YAML, as saveconfig writes it), validates it, and makes it
this session's pending configuration; run commit to apply it.

Batch form:
  loadconfig FILE        (a file in DATA/configs)`,
		Run: func(s *shell.Session, args []string) error {
			var data []byte
			switch len(args) {
			case 1:
				var err error
				if data, err = readConfigFile(app, args[0]); err != nil {
					return err
				}
			case 0:
				if s.Pending.Changed() {
					ok, err := s.YesNo("You have uncommitted changes. Do you want to clear them and load a configuration?", false)
					if err != nil || !ok {
						return err
					}
				}
				how, err := s.Choose("Choose the method to load the configuration:", []string{"Paste via CLI", "Load from file"}, 2)
				if err != nil {
					return err
				}
				if how == 0 {
					text, err := s.Block("Paste the configuration now.")
					if err != nil {
						return err
					}
					data = []byte(text)
				} else {
					if err := listConfigFiles(s, app); err != nil {
						return err
					}
					name, err := s.Text("Enter the name of the file to load.", "", nil)
					if err != nil {
						return err
					}
					if data, err = readConfigFile(app, name); err != nil {
						return err
					}
				}
			default:
				return usage("loadconfig", "loadconfig FILE")
			}
			if len(data) == 0 {
				return errors.New("No data to load")
			}
			c, err := config.Decode(data)
			if err != nil {
				return fmt.Errorf("Parsing failed: %w", err)
			}
			if config.HasMaskedSecrets(c) {
				return errors.New("the file has masked passphrases and cannot be loaded: save it with saveconfig unmasked")
			}
			if err := config.Validate(c); err != nil {
				return fmt.Errorf("the configuration is not valid, nothing was loaded:\n%w", err)
			}
			s.Pending.Replace(c)
			if !s.Pending.Changed() {
				s.Println("No changes detected.")
				return nil
			}
			s.Println("Values have been loaded. Use showchanges to review them and commit to apply them.")
			return nil
		},
	}
}

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

func listConfigFiles(s *shell.Session, app *App) error {
	entries, err := afero.ReadDir(app.Store.Fs(), filepath.Join(app.Store.Dir(), ConfigsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	if len(entries) == 0 {
		s.Println("\nThere are no saved configurations in the configuration directory.")
		return nil
	}
	s.Println("\nFiles in the configuration directory:")
	for _, e := range entries {
		s.Printf("  %s\n", e.Name())
	}
	return nil
}
