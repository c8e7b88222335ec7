package delivery

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/afero"

	"relaybox/internal/atomicfile"
)

// state records which recipients of a message are done (delivered or
// bounced). It is written atomically after each destination, so a restart
// retries only the others: a peer that said 250 never gets the message twice.
type state struct {
	Done map[int]bool `json:"done"`
}

func loadState(path string) (state, error) {
	st := state{Done: map[int]bool{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return state{Done: map[int]bool{}}, err
	}
	if st.Done == nil {
		st.Done = map[int]bool{}
	}
	return st, nil
}

func saveState(path string, st state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	afs := afero.NewOsFs()
	if err := afs.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(afs, path, data, 0o600)
}

func removeState(path string) { _ = os.Remove(path) }
