package webui

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"relaybox/auth"
	"relaybox/config"
)

// client is one browser session or one API token, with its own pending
// configuration, as a shell session has.
type client struct {
	// mu serialises the client's requests: they share its pending copy.
	mu         sync.Mutex
	user, kind string
	token      string // API token label; "" for a browser session
	pending    *config.Pending
	last       time.Time
	touch, end func()
}

const sessionKey = "sid"

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// source is the client's address without its port.
func source(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// begin records a new client.
func (s *Server) begin(key, user, kind, token, from string) *client {
	c := &client{user: user, kind: kind, token: token, pending: s.o.Store.NewPending(), last: time.Now(), touch: func() {}, end: func() {}}
	if s.o.Sessions != nil {
		c.touch, c.end = s.o.Sessions.Begin(user, from, kind)
	}
	s.mu.Lock()
	s.pruneLocked()
	if old := s.clients[key]; old != nil {
		old.end()
	}
	s.clients[key] = c
	s.mu.Unlock()
	return c
}

// lookup returns the client under key, or nil once it idled out.
func (s *Server) lookup(key string) *client {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked()
	c := s.clients[key]
	if c != nil {
		c.last = time.Now()
		c.touch()
	}
	return c
}

func (s *Server) drop(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[key]; c != nil {
		c.end()
		delete(s.clients, key)
	}
}

// pruneLocked ends the clients idle longer than IdleTimeout: their pending
// changes are dropped, as a shell's are when it logs out.
func (s *Server) pruneLocked() {
	for k, c := range s.clients {
		if time.Since(c.last) > s.o.IdleTimeout {
			c.end()
			delete(s.clients, k)
		}
	}
}

// account is the client's account as committed now (nil once deleted).
func (s *Server) account(c *client) *config.User {
	return s.o.Store.Current().LoginUser(c.user)
}

// browser returns the logged-in browser session of r, or nil.
func (s *Server) browser(r *http.Request) *client {
	id := s.sm.GetString(r.Context(), sessionKey)
	if id == "" {
		return nil
	}
	c := s.lookup(id)
	if c == nil || s.account(c) == nil {
		return nil
	}
	return c
}

// loginError is the page's answer to a refused login: the same words for a
// wrong name and a wrong password; the wait when locked out.
func loginError(err error) (int, string, time.Duration) {
	var locked *auth.LockedError
	if errors.As(err, &locked) {
		return http.StatusTooManyRequests, fmt.Sprintf("Too many failed login attempts: try again in %s.", waitWords(locked.RetryAfter)), locked.RetryAfter
	}
	return http.StatusUnauthorized, "Login refused: wrong user name or password.", 0
}

func retryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10))
	}
}

// waitWords says how long to wait, in whole minutes (or seconds under one).
func waitWords(d time.Duration) string {
	if d <= time.Minute {
		return fmt.Sprintf("%d seconds", max(1, int(math.Ceil(d.Seconds()))))
	}
	return fmt.Sprintf("%d minutes", int(math.Ceil(d.Minutes())))
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.browser(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", page{Title: "Log in"})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	user, pass := r.PostFormValue("username"), r.PostFormValue("password")
	if user == "" {
		s.render(w, r, http.StatusBadRequest, "login", page{Title: "Log in", Error: "Enter your user name and password."})
		return
	}
	hash, cost := s.o.Store.Current().LoginHash(user)
	err := s.o.Auth.Authenticate(r.Context(), auth.Attempt{Service: ServiceGUI, Source: r.RemoteAddr, User: user, Password: pass, Hash: hash, Cost: cost})
	if err != nil {
		code, msg, wait := loginError(err)
		retryAfter(w, wait)
		s.render(w, r, code, "login", page{Title: "Log in", Error: msg, Form: map[string]string{"username": user}})
		return
	}
	// A new session token at login: a token planted before it is worthless.
	if err := s.sm.RenewToken(r.Context()); err != nil {
		http.Error(w, "The session could not be started: try again.", http.StatusInternalServerError)
		return
	}
	id := newID()
	s.sm.Put(r.Context(), sessionKey, id)
	s.begin(id, user, ServiceGUI, "", source(r))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if id := s.sm.GetString(r.Context(), sessionKey); id != "" {
		s.drop(id)
	}
	_ = s.sm.Destroy(r.Context())
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// gate lets a logged-in browser through to h; an account whose password is
// one-time goes to the password page first, whatever it asked for.
func (s *Server) gate(h func(w http.ResponseWriter, r *http.Request, c *client)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := s.browser(r)
		if c == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "Your session has ended: log in again.", http.StatusUnauthorized)
			return
		}
		if s.account(c).MustChangePassword && r.URL.Path != "/password" {
			http.Redirect(w, r, "/password", http.StatusSeeOther)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		h(w, r, c)
	}
}

func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request, c *client) {
	s.render(w, r, http.StatusOK, "password", s.page(r, c, "Change Password"))
}

// changePassword is passwd in the browser: the same policy, committed at
// once by itself (config.Pending.CommitEdit). A one-time password was just
// typed at the login, so it is not asked again; otherwise the old one is.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, c *client) {
	p := s.page(r, c, "Change Password")
	acc := s.account(c)
	newPass, again := r.PostFormValue("new"), r.PostFormValue("again")
	var err error
	switch {
	case !acc.MustChangePassword && !acc.PasswordIs(r.PostFormValue("old")):
		err = errors.New("The old password is not correct: nothing was changed")
	case newPass != again:
		err = errors.New("The passwords do not match: enter the same new password twice")
	}
	var hash string
	if err == nil {
		hash, err = s.o.Store.Current().NewPasswordHash(c.user, newPass)
	}
	comment := "passwd: %s changed their password"
	if acc.MustChangePassword {
		comment += " at login"
	}
	if err == nil {
		_, err = c.pending.CommitEdit(r.Context(), c.user, fmt.Sprintf(comment, c.user),
			func(cf *config.Config) error { return cf.SetOwnPasswordHash(c.user, hash) }, s.o.Engine)
	}
	if err != nil {
		p.Error = err.Error()
		s.render(w, r, http.StatusUnprocessableEntity, "password", p)
		return
	}
	s.flash(r, "Password changed: it is in force now.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// tokenClient returns the API client of a bearer token, or an error to answer.
func (s *Server) tokenClient(r *http.Request, token string) (*client, error) {
	from := source(r)
	// A wrong token names no account: its failures count against the
	// address alone (a name of its own per address), so that guessing
	// tokens from one address locks that address out, not every script.
	anon := "(API token from " + from + ")"
	if err := s.o.Auth.Check(r.Context(), anon, from, ServiceAPI); err != nil {
		return nil, err
	}
	u, label := s.o.Store.Current().APITokenUser(token)
	if u == nil {
		s.o.Auth.Fail(anon, from, ServiceAPI, "token")
		return nil, auth.ErrDenied
	}
	key := "token:" + config.APITokenHash(token)
	if c := s.lookup(key); c != nil && c.user == u.Name {
		return c, nil
	}
	s.o.Auth.Succeed(u.Name, from, ServiceAPI, "token "+label)
	return s.begin(key, u.Name, ServiceAPI, label, from), nil
}

// bearer is the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}
