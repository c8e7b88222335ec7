// Command smtpload is a small SMTP load client for benchmarks, shaped like Postfix's smtp-source
// but able to speak STARTTLS.
//
// Each message gets its own connection: connect, EHLO, [STARTTLS, a full TLS handshake, EHLO],
// MAIL, RCPT, DATA, QUIT. The TLS client offers only the X25519 and P-256 key exchanges, as
// OpenSSL 3.0 and Postfix peers do, skips certificate verification and never resumes a session,
// so every message pays for one full handshake. -sessions connections run in parallel.
//
// After -warmup untimed messages, it sends -messages messages and prints one line:
//
//	messages=N seconds=S rate=R errors=E
//
// where N counts the messages the server accepted with 250 and R is N/S. Any failure (a network
// error or a 4xx/5xx reply) counts as an error, is reported on stderr (the first few of them) and
// makes the exit status non-zero.
//
// Usage:
//
//	smtpload -addr 127.0.0.1:2525 -sessions 20 -messages 20000 -size 4096 -starttls
package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	addr, from, to, helo string
	size                 int
	startTLS             bool
	timeout              time.Duration
	tls                  *tls.Config
}

func main() {
	var c config
	sessions := flag.Int("sessions", 20, "parallel sessions")
	messages := flag.Int("messages", 1000, "messages to send and time")
	warmup := flag.Int("warmup", 0, "messages to send first, untimed")
	flag.StringVar(&c.addr, "addr", "127.0.0.1:25", "server host:port")
	flag.IntVar(&c.size, "size", 4096, "bytes of message body (after the header)")
	flag.BoolVar(&c.startTLS, "starttls", false, "issue STARTTLS and do a full handshake per message")
	flag.StringVar(&c.from, "from", "load@loadgen.test", "envelope sender")
	flag.StringVar(&c.to, "to", "sink@example.test", "envelope recipient")
	flag.StringVar(&c.helo, "helo", "loadgen.test", "EHLO name")
	flag.DurationVar(&c.timeout, "timeout", time.Minute, "deadline for each message's connection")
	flag.Parse()
	if *sessions < 1 || *messages < 1 || *warmup < 0 || c.size < 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "smtpload: -sessions and -messages must be positive, -warmup and -size not negative")
		os.Exit(2)
	}
	c.tls = &tls.Config{
		InsecureSkipVerify: true,
		CurvePreferences:   []tls.CurveID{tls.X25519, tls.CurveP256},
		// No ClientSessionCache: no resumption, a full handshake every time.
	}
	body := makeBody(c)

	if *warmup > 0 {
		if r := run(c, body, *sessions, *warmup); r.errors > 0 {
			fmt.Fprintf(os.Stderr, "smtpload: warm-up: %d of %d messages failed\n", r.errors, *warmup)
			os.Exit(1)
		}
	}
	r := run(c, body, *sessions, *messages)
	secs := r.elapsed.Seconds()
	fmt.Printf("messages=%d seconds=%.3f rate=%.1f errors=%d\n", r.ok, secs, float64(r.ok)/secs, r.errors)
	if r.errors > 0 {
		os.Exit(1)
	}
}

type result struct {
	ok, errors int64
	elapsed    time.Duration
}

// run sends n messages over `sessions` parallel workers, one connection per message.
func run(c config, body []byte, sessions, n int) result {
	var next, ok, failed, reported atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(sessions, n) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := send(c, body); err != nil {
					failed.Add(1)
					if reported.Add(1) <= 10 {
						fmt.Fprintln(os.Stderr, "smtpload:", err)
					}
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return result{ok: ok.Load(), errors: failed.Load(), elapsed: time.Since(start)}
}

// makeBody returns the DATA content: a small header, then size bytes of 78-column lines (none
// starts with a dot), then the terminating dot line.
func makeBody(c config) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: smtpload\r\n\r\n", c.from, c.to)
	line := strings.Repeat("La La La ", 9)[:76] + "\r\n"
	left := c.size
	for ; left >= len(line); left -= len(line) {
		b.WriteString(line)
	}
	if left > 0 {
		b.WriteString(strings.Repeat("x", max(left-2, 0)) + "\r\n")
	}
	b.WriteString(".\r\n")
	return []byte(b.String())
}

// conn is one SMTP client connection.
type conn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

func (c *conn) reset(nc net.Conn) {
	c.nc, c.r, c.w = nc, bufio.NewReader(nc), bufio.NewWriter(nc)
}

// cmd sends one command line (none when line is "") and reads its reply, which must be in the
// 2xx or 3xx class.
func (c *conn) cmd(line string) error {
	if line != "" {
		if _, err := c.w.WriteString(line + "\r\n"); err != nil {
			return err
		}
	}
	return c.reply(cmdName(line))
}

// reply flushes pending output and reads one (possibly multiline) reply to the command named after.
func (c *conn) reply(after string) error {
	if err := c.w.Flush(); err != nil {
		return err
	}
	var text []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading reply to %s: %w", after, err)
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 3 {
			return fmt.Errorf("malformed reply to %s: %q", after, l)
		}
		text = append(text, l)
		if len(l) == 3 || l[3] != '-' {
			break
		}
	}
	if code := text[0][0]; code != '2' && code != '3' {
		return fmt.Errorf("server replied to %s: %s", after, strings.Join(text, " / "))
	}
	return nil
}

func cmdName(line string) string {
	if line == "" {
		return "greeting"
	}
	if i := strings.IndexByte(line, ':'); i > 0 {
		return line[:i]
	}
	return strings.Fields(line)[0]
}

// send delivers one message over a new connection.
func send(cfg config, body []byte) error {
	nc, err := net.DialTimeout("tcp", cfg.addr, cfg.timeout)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := nc.SetDeadline(time.Now().Add(cfg.timeout)); err != nil {
		return err
	}
	c := &conn{}
	c.reset(nc)
	if err := c.cmd(""); err != nil {
		return err
	}
	if err := c.cmd("EHLO " + cfg.helo); err != nil {
		return err
	}
	if cfg.startTLS {
		if err := c.cmd("STARTTLS"); err != nil {
			return err
		}
		tc := tls.Client(nc, cfg.tls)
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		c.reset(tc)
		if err := c.cmd("EHLO " + cfg.helo); err != nil {
			return err
		}
	}
	for _, l := range []string{"MAIL FROM:<" + cfg.from + ">", "RCPT TO:<" + cfg.to + ">", "DATA"} {
		if err := c.cmd(l); err != nil {
			return err
		}
	}
	if _, err := c.w.Write(body); err != nil {
		return err
	}
	if err := c.reply("end of data"); err != nil {
		return err
	}
	// The message is accepted; a failing QUIT does not undo that, so it is not an error.
	_ = c.cmd("QUIT")
	return nil
}
