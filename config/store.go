package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/afero"
	"go.yaml.in/yaml/v3"

	"relaybox/internal/atomicfile"
)

// HistorySize is how many committed versions the store keeps for rollbackconfig.
const HistorySize = 50

// File names inside the data directory.
const (
	ConfigFile = "config.yaml"
	HistoryDir = "history"
)

// ErrNothingToCommit is returned by Commit when the pending copy equals the committed one.
var ErrNothingToCommit = errors.New("there is no data to commit")

// Applier puts a configuration into effect, all or nothing: on error the
// running state must be what it was before the call.
type Applier interface {
	Apply(ctx context.Context, c *Config) error
}

// Store keeps the committed configuration and its history under a data
// directory. It serialises commits; readers get immutable snapshots.
type Store struct {
	fs  afero.Fs
	dir string

	mu      sync.Mutex
	current *Config // never modified after it is stored here
}

// Open reads the committed configuration from dir. When there is none (first
// start), it asks first for the defaults, validates them and commits them as
// version 1 without applying them: the caller applies Current() once it has
// started its engine.
func Open(afs afero.Fs, dir string, first func() (*Config, error)) (*Store, error) {
	s := &Store{fs: afs, dir: dir}
	if err := afs.MkdirAll(filepath.Join(dir, HistoryDir), 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory %s: %w", dir, err)
	}
	data, err := afero.ReadFile(afs, s.path(ConfigFile))
	switch {
	case err == nil:
		c, err := Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.path(ConfigFile), err)
		}
		if err := Validate(c); err != nil {
			return nil, fmt.Errorf("%s is not valid:\n%w", s.path(ConfigFile), err)
		}
		s.current = c
		s.dropUncommitted()
		return s, nil
	case errors.Is(err, fs.ErrNotExist):
		c, err := first()
		if err != nil {
			return nil, err
		}
		if err := Validate(c); err != nil {
			return nil, fmt.Errorf("first-start configuration is not valid:\n%w", err)
		}
		c.Version, c.Time, c.User, c.Comment = 1, time.Now().UTC().Truncate(time.Second), "system", "first start"
		if err := s.persist(c); err != nil {
			return nil, err
		}
		s.current = c
		return s, nil
	default:
		return nil, fmt.Errorf("reading %s: %w", s.path(ConfigFile), err)
	}
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

// Fs is the filesystem the store writes to.
func (s *Store) Fs() afero.Fs { return s.fs }

// Current returns the committed configuration. Callers must not modify it.
func (s *Store) Current() *Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// CommitRequest is one session's commit.
type CommitRequest struct {
	Pending *Config // the edited copy
	Base    *Config // the committed version the session started from
	User    string
	Comment string
}

// Commit validates the pending copy, merges it onto newer commits when the
// sections touched do not overlap, applies it and then persists it. If apply
// fails, nothing is persisted; if persisting fails, the old configuration is
// applied again. It returns the new committed configuration.
func (s *Store) Commit(ctx context.Context, req CommitRequest, a Applier) (*Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.current
	next := req.Pending.Clone()
	if req.Base.Version != cur.Version {
		merged, err := merge(req.Base, req.Pending, cur)
		if err != nil {
			return nil, err
		}
		next = merged
	}
	if SameSettings(next, cur) {
		return nil, ErrNothingToCommit
	}
	if err := Validate(next); err != nil {
		return nil, fmt.Errorf("the configuration is not valid, nothing was changed:\n%w", err)
	}
	next.Version = cur.Version + 1
	next.Time = time.Now().UTC().Truncate(time.Second)
	next.User = req.User
	// Another admin's rollbackconfig prints it: never store a control character raw.
	next.Comment = EscapeControl(req.Comment)
	if err := a.Apply(ctx, next); err != nil {
		return nil, fmt.Errorf("applying the configuration failed, the appliance keeps version %d and nothing was saved: %w", cur.Version, err)
	}
	if err := s.persist(next); err != nil {
		if rerr := a.Apply(ctx, cur); rerr != nil {
			err = errors.Join(err, fmt.Errorf("restoring version %d: %w", cur.Version, rerr))
		}
		return nil, fmt.Errorf("saving the configuration failed, the appliance keeps version %d: %w", cur.Version, err)
	}
	s.current = next
	return next, nil
}

// persist writes the history entry first, then the live file: a crash in
// between leaves the old live file, which is still a whole version.
func (s *Store) persist(c *Config) error {
	data, err := c.Encode()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.fs, s.historyPath(c.Version), data, 0o600); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.fs, s.path(ConfigFile), data, 0o600); err != nil {
		_ = s.fs.Remove(s.historyPath(c.Version))
		return err
	}
	s.trimHistory()
	return nil
}

func (s *Store) historyPath(version int) string {
	return filepath.Join(s.dir, HistoryDir, fmt.Sprintf("v%08d.yaml", version))
}

func (s *Store) historyVersions() []int {
	entries, err := afero.ReadDir(s.fs, filepath.Join(s.dir, HistoryDir))
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		var v int
		if _, err := fmt.Sscanf(e.Name(), "v%08d.yaml", &v); err == nil && strings.HasSuffix(e.Name(), ".yaml") {
			out = append(out, v)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out
}

// dropUncommitted removes history entries newer than the live file: a crash
// between writing the history entry and the live file leaves one behind.
func (s *Store) dropUncommitted() {
	for _, v := range s.historyVersions() {
		if v > s.current.Version {
			_ = s.fs.Remove(s.historyPath(v))
		}
	}
}

func (s *Store) trimHistory() {
	for _, v := range s.historyVersions()[min(HistorySize, len(s.historyVersions())):] {
		_ = s.fs.Remove(s.historyPath(v))
	}
}

// Entry describes one committed version.
type Entry struct {
	Version int
	Time    time.Time
	User    string
	Comment string
}

// History lists the kept versions, newest first.
func (s *Store) History() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for _, v := range s.historyVersions() {
		c, err := s.readVersion(v)
		if err != nil {
			continue
		}
		out = append(out, Entry{Version: c.Version, Time: c.Time, User: c.User, Comment: c.Comment})
	}
	return out
}

// Version returns a kept committed version.
func (s *Store) Version(v int) (*Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readVersion(v)
}

func (s *Store) readVersion(v int) (*Config, error) {
	data, err := afero.ReadFile(s.fs, s.historyPath(v))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("version %d is not in the history (the last %d versions are kept)", v, HistorySize)
	}
	if err != nil {
		return nil, err
	}
	return Decode(data)
}

// section is a part of the document that two sessions may edit independently.
type section struct {
	name  string
	index []int // the field's index path in Config
}

func (sec section) get(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(sec.index)
}

// sections are derived from Config's fields (see its doc comment), so a new
// field is merged as a section of its own and never dropped by a merge.
var sections = deriveSections(reflect.TypeFor[Config](), nil)

func deriveSections(t reflect.Type, parent []int) []section {
	var out []section
	for i := range t.NumField() {
		f := t.Field(i)
		index := append(slices.Clone(parent), i)
		switch tag := f.Tag.Get("section"); tag {
		case "-":
		case "split":
			out = append(out, deriveSections(f.Type, index)...)
		case "":
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			out = append(out, section{name: key, index: index})
		default:
			out = append(out, section{name: tag, index: index})
		}
	}
	return out
}

// SectionNames lists the merge sections in document order.
func SectionNames() []string {
	out := make([]string, len(sections))
	for i, sec := range sections {
		out[i] = sec.name
	}
	return out
}

// ChangedSections names the sections in which a and b differ.
func ChangedSections(a, b *Config) []string {
	var out []string
	for _, sec := range sections {
		if !sameYAML(sec.get(a).Interface(), sec.get(b).Interface()) {
			out = append(out, sec.name)
		}
	}
	return out
}

// merge puts the sections a session changed (base → pending) onto the newer
// committed configuration, refusing when another commit changed the same ones.
func merge(base, pending, cur *Config) (*Config, error) {
	mine := ChangedSections(base, pending)
	theirs := ChangedSections(base, cur)
	var clash []string
	for _, m := range mine {
		for _, t := range theirs {
			if m == t {
				clash = append(clash, m)
			}
		}
	}
	if len(clash) > 0 {
		return nil, fmt.Errorf("version %d was committed by %s at %s after you started editing, and it changed the same settings as you (%s); nothing was committed: run clearchanges and make your changes again",
			cur.Version, EscapeControl(cur.User), Stamp(cur.Time), strings.Join(clash, ", "))
	}
	out := cur.Clone()
	src := pending.Clone()
	for _, sec := range sections {
		for _, m := range mine {
			if m == sec.name {
				sec.get(out).Set(sec.get(src))
			}
		}
	}
	return out, nil
}

// sameYAML compares two values by their YAML form, so nil and empty lists are equal.
func sameYAML(a, b any) bool {
	x, errx := yaml.Marshal(a)
	y, erry := yaml.Marshal(b)
	return errx == nil && erry == nil && string(x) == string(y)
}
