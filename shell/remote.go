package shell

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/term"
)

// The control-socket protocol: after a hello, both sides send frames of one
// type byte, a 4-byte big-endian length and the payload. The client sends
// stdin bytes, stdin EOF and window widths; the server sends stdout and
// stderr bytes and finally the exit status. The same shell code runs behind
// it as on the console.
const (
	frameHello  = 'H'
	frameStdin  = 'D'
	frameEOF    = 'E'
	frameWidth  = 'W'
	frameStdout = 'O'
	frameStderr = 'R'
	frameExit   = 'X'
	maxFrame    = 1 << 20
)

// Hello is what a client says about itself when it attaches.
type Hello struct {
	TTY       bool `json:"tty"`
	Width     int  `json:"width"`
	KeepGoing bool `json:"keep_going"`
}

type frameConn struct {
	mu sync.Mutex
	w  io.Writer
}

func (f *frameConn) send(typ byte, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := f.w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := f.w.Write(payload)
	return err
}

func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("control socket: frame of %d bytes is too large", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return hdr[0], buf, nil
}

// frameWriter is an io.Writer that sends each write as one frame.
type frameWriter struct {
	fc  *frameConn
	typ byte
}

func (w frameWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += maxFrame {
		if err := w.fc.send(w.typ, p[off:min(len(p), off+maxFrame)]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// crlfWriter turns "\n" into "\r\n" for a raw remote terminal.
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p)+8)
	for i, b := range p {
		if b == '\n' && (i == 0 || p[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, b)
	}
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CRLF wraps w so that "\n" becomes "\r\n": the output of a session whose
// client's terminal is raw (no line discipline on this side, as over SSH).
func CRLF(w io.Writer) io.Writer { return crlfWriter{w: w} }

// Stream is a remote client's input and output: the control socket's frames
// or an SSH channel. The same shell code runs behind both.
type Stream struct {
	// TTY: the far end is a terminal, in raw mode (line editing here).
	TTY       bool
	KeepGoing bool
	In        io.ReadCloser
	Out, Err  io.Writer  // Err is used in script mode; on a TTY everything goes to Out
	Width     func() int // the terminal's width, on a TTY
}

// RunStream runs a shell session over a remote stream: interactive with
// line editing on a TTY, script mode otherwise. It returns the exit status.
func RunStream(ctx context.Context, opts Options, st Stream) int {
	opts.Interactive = st.TTY
	opts.KeepGoing = st.KeepGoing
	if st.TTY {
		out := crlfWriter{w: st.Out}
		opts.Out, opts.Err = out, out
		opts.Terminal = Terminal{In: st.In, Out: out, Remote: true, Width: st.Width}
	} else {
		opts.In, opts.Out, opts.Err = st.In, st.Out, st.Err
	}
	return Run(ctx, opts)
}

// SessionFactory makes the options of a new shell session for an attached client.
type SessionFactory func(h Hello) Options

// ServeConn runs one shell session over an attached client connection.
func ServeConn(ctx context.Context, conn net.Conn, factory SessionFactory) {
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := bufio.NewReader(conn)
	typ, payload, err := readFrame(r)
	if err != nil || typ != frameHello {
		return
	}
	var h Hello
	if err := json.Unmarshal(payload, &h); err != nil {
		return
	}
	fc := &frameConn{w: conn}
	pr, pw := io.Pipe()
	width := &widthBox{w: h.Width}
	go func() {
		defer cancel()
		for {
			typ, payload, err := readFrame(r)
			if err != nil {
				pw.CloseWithError(io.EOF)
				return
			}
			switch typ {
			case frameStdin:
				if _, err := pw.Write(payload); err != nil {
					return
				}
			case frameEOF:
				pw.Close()
			case frameWidth:
				if len(payload) == 4 {
					width.set(int(binary.BigEndian.Uint32(payload)))
				}
			}
		}
	}()
	code := RunStream(ctx, factory(h), Stream{TTY: h.TTY, KeepGoing: h.KeepGoing, In: pr,
		Out: frameWriter{fc: fc, typ: frameStdout}, Err: frameWriter{fc: fc, typ: frameStderr}, Width: width.get})
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(code))
	_ = fc.send(frameExit, b[:])
}

type widthBox struct {
	mu sync.Mutex
	w  int
}

func (b *widthBox) set(w int) { b.mu.Lock(); b.w = w; b.mu.Unlock() }
func (b *widthBox) get() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w <= 0 {
		return 80
	}
	return b.w
}

// Serve accepts clients on a control socket until ctx ends.
func Serve(ctx context.Context, ln net.Listener, factory SessionFactory) error {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go ServeConn(ctx, conn, factory)
	}
}

// Attach connects the process's terminal or pipes to a shell session on conn
// and returns the session's exit status.
func Attach(conn net.Conn, stdin *os.File, stdout, stderr io.Writer, keepGoing bool) (int, error) {
	defer conn.Close()
	fd := int(stdin.Fd())
	tty := term.IsTerminal(fd)
	h := Hello{TTY: tty, KeepGoing: keepGoing, Width: 80}
	fc := &frameConn{w: conn}
	if tty {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			h.Width = w
		}
		old, err := term.MakeRaw(fd)
		if err != nil {
			return 1, fmt.Errorf("putting the terminal in raw mode: %w", err)
		}
		defer term.Restore(fd, old)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
					var b [4]byte
					binary.BigEndian.PutUint32(b[:], uint32(w))
					_ = fc.send(frameWidth, b[:])
				}
			}
		}()
	}
	hb, _ := json.Marshal(h)
	if err := fc.send(frameHello, hb); err != nil {
		return 1, err
	}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := stdin.Read(buf)
			if n > 0 {
				if fc.send(frameStdin, buf[:n]) != nil {
					return
				}
			}
			if err != nil {
				_ = fc.send(frameEOF, nil)
				return
			}
		}
	}()
	r := bufio.NewReader(conn)
	for {
		typ, payload, err := readFrame(r)
		if err != nil {
			return 1, fmt.Errorf("the appliance closed the session: %w", err)
		}
		switch typ {
		case frameStdout:
			_, _ = stdout.Write(payload)
		case frameStderr:
			_, _ = stderr.Write(payload)
		case frameExit:
			if len(payload) != 4 {
				return 1, errors.New("control socket: bad exit frame")
			}
			return int(binary.BigEndian.Uint32(payload)), nil
		}
	}
}
