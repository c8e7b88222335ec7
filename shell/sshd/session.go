package sshd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"relaybox/shell"
)

// session is one session channel.
type session struct {
	srv    *Server
	conn   *ssh.ServerConn
	ctx    context.Context
	cancel context.CancelFunc

	width   atomic.Int64 // columns of the client's terminal (pty-req, window-change)
	pty     bool
	started bool

	mu sync.Mutex
	ch ssh.Channel // set once the shell runs, for goodbye
}

// Payloads of the session requests (RFC 4254 §6).
type ptyRequest struct {
	Term                 string
	Cols, Rows, WPx, HPx uint32
	Modes                string
}

type windowChange struct {
	Cols, Rows, WPx, HPx uint32
}

type execRequest struct{ Command string }

type exitStatus struct{ Status uint32 }

// run serves the channel's requests; the shell runs in a goroutine of its
// own so that window changes keep coming while it runs.
func (s *session) run(ch ssh.Channel, reqs <-chan *ssh.Request) {
	s.width.Store(80)
	var done chan struct{}
	for req := range reqs {
		ok := false
		switch req.Type {
		case "pty-req":
			var p ptyRequest
			if err := ssh.Unmarshal(req.Payload, &p); err == nil && !s.started {
				s.pty, ok = true, true
				s.setWidth(p.Cols)
			}
		case "window-change":
			var w windowChange
			if err := ssh.Unmarshal(req.Payload, &w); err == nil {
				s.setWidth(w.Cols)
				ok = true
			}
		case "shell", "exec":
			if s.started {
				break
			}
			var lines []string
			if req.Type == "exec" {
				var e execRequest
				if err := ssh.Unmarshal(req.Payload, &e); err != nil {
					break
				}
				lines = SplitCommand(e.Command)
			}
			s.started, ok = true, true
			done = make(chan struct{})
			go func(exec bool) {
				defer close(done)
				s.shell(ch, exec, lines)
			}(req.Type == "exec")
		}
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
	}
	if done != nil {
		<-done
	}
	ch.Close()
}

func (s *session) setWidth(cols uint32) {
	if cols == 0 {
		cols = 80 // expect and some clients report 0: never wrap after each character
	}
	s.width.Store(int64(cols))
}

// shell runs the appliance shell on the channel and sends its exit status.
func (s *session) shell(ch ssh.Channel, exec bool, lines []string) {
	user, source := s.conn.User(), hostOf(s.conn.RemoteAddr())
	code := 1
	defer func() {
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{Status: uint32(code)}))
		ch.Close()
	}()
	opts, end, err := s.srv.opts.Sessions.Session(user, source)
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "relaybox: %v\r\n", err)
		return
	}
	defer end()
	s.mu.Lock()
	s.ch = ch
	s.mu.Unlock()
	in := s.watchIdle(ch)
	st := shell.Stream{TTY: s.pty && !exec, In: in, Out: ch, Err: ch.Stderr(), Width: func() int { return int(s.width.Load()) }}
	if exec {
		st.In = io.NopCloser(strings.NewReader(strings.Join(lines, "\n") + "\n"))
		if s.pty { // ssh -t host 'cmd': laid out for the client's raw terminal
			st.Out, st.Err = shell.CRLF(ch), shell.CRLF(ch.Stderr())
		}
	}
	code = shell.RunStream(s.ctx, opts, st)
}

// watchIdle returns the channel as the shell's input and closes the
// session when no input came for IdleTimeout.
func (s *session) watchIdle(ch ssh.Channel) io.ReadCloser {
	r := &activity{r: ch}
	r.last.Store(time.Now().UnixNano())
	go func() {
		for {
			// The timeout may change while the session runs (Limits).
			idle := s.srv.limits().IdleTimeout
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(min(idle/4, time.Second)):
				if time.Since(time.Unix(0, r.last.Load())) >= idle {
					fmt.Fprintf(ch, "\r\nidle for %s: the session is closed\r\n", idle)
					ch.Close()
					return
				}
			}
		}
	}()
	return r
}

// activity is a reader that remembers when it last got input.
type activity struct {
	r    io.ReadCloser
	last atomic.Int64
}

func (a *activity) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (a *activity) Close() error { return a.r.Close() }

// goodbye ends the session at a shutdown: a last line, then the channel closes.
func (s *session) goodbye(text string) {
	s.mu.Lock()
	ch := s.ch
	s.mu.Unlock()
	if ch == nil {
		s.cancel()
		return
	}
	if text != "" {
		_, _ = io.WriteString(ch, "\r\n"+text+"\r\n")
	}
	_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{Status: 0}))
	ch.Close()
	s.cancel()
}
