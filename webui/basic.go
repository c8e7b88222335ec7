package webui

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"relaybox/auth"
)

// HTTP basic authentication for the API, for scripts that have a password
// but no token (curl -u). A login checked once is remembered for the same
// user, password, hash and address, so that each request does not cost a
// bcrypt comparison and an authentication log line; only MACs are kept.
const (
	rememberIdle = 10 * time.Minute
	rememberCap  = 256
)

type remembered struct {
	key [32]byte

	mu   sync.Mutex
	seen map[[sha256.Size]byte]time.Time // MAC → last use
}

func (m *remembered) mac(parts ...string) [sha256.Size]byte {
	h := hmac.New(sha256.New, m.key[:])
	for _, s := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

func (m *remembered) recall(k [sha256.Size]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.seen[k]
	if !ok || time.Since(t) > rememberIdle {
		delete(m.seen, k)
		return false
	}
	m.seen[k] = time.Now()
	return true
}

func (m *remembered) remember(k [sha256.Size]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.seen) >= rememberCap {
		var oldest [sha256.Size]byte
		var at time.Time
		for key, t := range m.seen {
			if at.IsZero() || t.Before(at) {
				oldest, at = key, t
			}
		}
		delete(m.seen, oldest)
	}
	m.seen[k] = time.Now()
}

// basicClient authenticates a basic-auth request with the GUI's login
// rules (service "gui": the same delays and lock-outs as the form and SSH).
func (s *Server) basicClient(r *http.Request, user, pass string) (*client, error) {
	hash, cost := s.o.Store.Current().LoginHash(user)
	k := s.basic.mac(user, pass, hash, source(r))
	key := "basic:" + hex.EncodeToString(k[:])
	if s.basic.recall(k) {
		if c := s.lookup(key); c != nil {
			return c, nil
		}
	}
	if err := s.o.Auth.Authenticate(r.Context(), auth.Attempt{Service: ServiceGUI, Source: r.RemoteAddr, User: user, Password: pass, Hash: hash, Cost: cost}); err != nil {
		return nil, err
	}
	s.basic.remember(k)
	if c := s.lookup(key); c != nil {
		return c, nil
	}
	return s.begin(key, user, ServiceAPI, "", source(r)), nil
}
