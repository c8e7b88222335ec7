package smtpserver

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// chunking is a message received with BDAT (RFC 3030): the chunks go into
// a pipe that the Session's Data reads from, in a goroutine of its own, so
// that Data sees one stream as DATA would give it.
type chunking struct {
	pw     *io.PipeWriter
	result chan dataResult
	n      int64 // bytes so far
	large  bool  // past MaxMessageBytes: the rest is discarded
	eof    *eofReader
}

type dataResult struct {
	text string
	err  error
}

// eofReader records that its reader reached io.EOF.
type eofReader struct {
	r    io.Reader
	seen bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.seen = true
	}
	return n, err
}

func (c *Conn) bdat(arg string) bool {
	f := strings.Fields(arg)
	var size int64 = -1
	if len(f) >= 1 && len(f) <= 2 {
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil && n >= 0 {
			size = n
		}
	}
	last := len(f) == 2 && strings.EqualFold(f[1], "LAST")
	if size < 0 || len(f) == 2 && !last {
		// The chunk that follows cannot be skipped: the stream is lost.
		c.reply(Replyf(501, "5.5.4", "Syntax: BDAT size [LAST]"))
		return false
	}
	if !c.tx || c.rcpts == 0 {
		if !c.discard(size) {
			return false
		}
		if !c.tx {
			return c.reply(Replyf(503, "5.5.1", "Error: need MAIL command"))
		}
		return c.reply(Replyf(554, "5.5.1", "Error: no valid recipients"))
	}
	ch := c.chunks
	if ch == nil {
		pr, pw := io.Pipe()
		ch = &chunking{pw: pw, result: make(chan dataResult, 1), eof: &eofReader{r: pr}}
		c.chunks = ch
		go func() {
			text, err := c.sess.Data(ch.eof)
			_ = pr.CloseWithError(errSessionDone) // the rest of the chunks is discarded
			ch.result <- dataResult{text, err}
		}()
	}
	if !c.feed(ch, size) {
		c.abortChunks()
		return false
	}
	if !last {
		return c.reply(Replyf(250, "2.0.0", "%d octets received", size))
	}
	if ch.large {
		_ = ch.pw.CloseWithError(ErrTooLarge)
	} else {
		_ = ch.pw.Close()
	}
	res := <-ch.result
	c.chunks = nil
	c.resetTx()
	switch {
	case ch.large:
		return c.reply(Replyf(552, "5.3.4", "Message size exceeds fixed maximum message size (%d bytes)", c.srv.MaxMessageBytes))
	case res.err != nil:
		return c.reply(asReply(res.err))
	case !ch.eof.seen:
		return c.reply(ErrLocal) // the session did not read the whole message: never 250
	}
	return c.reply(&Reply{Code: 250, Enhanced: "2.0.0", Text: res.text})
}

var errSessionDone = errors.New("smtpserver: the session stopped reading the message")

// feed copies one chunk of size bytes into the transfer, keeping to the
// size limit; false when the client went away.
func (c *Conn) feed(ch *chunking, size int64) bool {
	var buf [32 << 10]byte
	for size > 0 {
		if c.br.Buffered() == 0 {
			_ = c.raw.SetReadDeadline(time.Now().Add(c.srv.ReadTimeout))
		}
		n, err := c.br.Read(buf[:min(int64(len(buf)), size)])
		size -= int64(n)
		if n > 0 && !ch.large {
			if max := c.srv.MaxMessageBytes; max > 0 && ch.n+int64(n) > max {
				ch.large = true
				_ = ch.pw.CloseWithError(ErrTooLarge)
			} else if _, werr := ch.pw.Write(buf[:n]); werr == nil {
				ch.n += int64(n)
			} // else the session stopped reading: the rest is discarded
		}
		if err != nil {
			return false
		}
	}
	return true
}

// discard reads and drops size bytes of a chunk that has nowhere to go.
func (c *Conn) discard(size int64) bool {
	_ = c.raw.SetReadDeadline(time.Now().Add(c.srv.ReadTimeout))
	n, _ := io.CopyN(io.Discard, c.br, size)
	return n == size
}

// abortChunks ends a BDAT transfer that will not complete: the session's
// Data sees ErrAborted and keeps nothing.
func (c *Conn) abortChunks() {
	if c.chunks == nil {
		return
	}
	_ = c.chunks.pw.CloseWithError(fmt.Errorf("%w: the transfer ended before BDAT LAST", ErrAborted))
	<-c.chunks.result
	c.chunks = nil
}
