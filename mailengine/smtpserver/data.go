package smtpserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Errors of the DATA reader, as a Session's Data sees them.
var (
	// ErrTooLarge: the message passed MaxMessageBytes. The server reads and
	// discards the rest and answers 552 whatever Data returns.
	ErrTooLarge = errors.New("smtpserver: the message exceeds the maximum size")
	// ErrAborted: the client went away (or timed out) before the end of
	// the data; nothing may be kept of the message, and no reply is sent.
	ErrAborted = errors.New("smtpserver: the client ended the connection during DATA")
)

// dataReader yields a message sent with DATA (RFC 5321 §4.5.2): the lines
// up to the end marker, dot-unstuffed. The message ends only at CRLF "."
// CRLF where the CRLF before the dot is a real one: a line ending in a bare
// LF followed by ".\r\n" is content, never the end (SMTP smuggling). Lines
// ending in a bare LF are stored ending in CRLF (as Postfix's
// smtpd_forbid_bare_newline=normalize); a bare CR inside a line is kept, and
// the outbound writer turns it into a line break. No line length is imposed
// here: the outbound writer breaks lines longer than 998 octets.
type dataReader struct {
	br    *bufio.Reader
	limit int64  // maximum message size (0: none)
	renew func() // renews the read deadline before a read that may block

	n         int64  // bytes of the message given out
	pending   []byte // what Read gives next: a slice of br's buffer or of scratch, used up before br is read again
	scratch   []byte // a line whose bare LF became CRLF
	lineStart bool   // the next byte starts a line
	prevCRLF  bool   // the last complete line ended in CRLF (or none came yet)
	lastCR    bool   // the last byte read was a CR (a line split across reads)
	done      bool   // the end marker was read
	tooLarge  bool   // the message passed limit
	err       error
}

func newDataReader(br *bufio.Reader, limit int64, renew func()) *dataReader {
	return &dataReader{br: br, limit: limit, renew: renew, lineStart: true, prevCRLF: true}
}

// Read implements io.Reader.
func (r *dataReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.pending) == 0 {
			if r.err != nil {
				break
			}
			if n > 0 && r.br.Buffered() == 0 {
				break // do not block with data in hand
			}
			r.next()
			continue
		}
		c := copy(p[n:], r.pending)
		r.pending = r.pending[c:]
		n += c
	}
	if n > 0 {
		return n, nil
	}
	return 0, r.err
}

// next reads one line (or the part of a long line the buffer holds) and
// sets r.pending or r.err.
func (r *dataReader) next() {
	if r.br.Buffered() == 0 {
		r.renew()
	}
	line, err := r.br.ReadSlice('\n')
	switch {
	case err == nil && len(line) == 1 && r.lastCR:
		// The CRLF of a long line split after its CR: the CR went out already.
		r.lineStart, r.prevCRLF, r.lastCR = true, true, false
		r.emit([]byte{'\n'})
	case err == nil:
		crlf := len(line) >= 2 && line[len(line)-2] == '\r'
		body := line[:len(line)-1]
		if crlf && len(body) > 0 {
			body = body[:len(body)-1]
		}
		if r.lineStart && r.prevCRLF && crlf && len(body) == 1 && body[0] == '.' {
			r.done, r.err = true, io.EOF
			return
		}
		if r.lineStart && len(body) > 1 && body[0] == '.' {
			body = body[1:] // dot-stuffed (a lone "." here is content: see above)
		}
		var out []byte
		if crlf {
			out = line[len(line)-len(body)-2:] // the line as it came, less a stuffing dot
		} else {
			r.scratch = append(append(r.scratch[:0], body...), '\r', '\n') // a bare LF becomes CRLF
			out = r.scratch
		}
		r.lineStart, r.prevCRLF, r.lastCR = true, crlf, false
		r.emit(out)
	case errors.Is(err, bufio.ErrBufferFull):
		body := line
		if r.lineStart && body[0] == '.' {
			body = body[1:]
		}
		r.lineStart, r.lastCR = false, line[len(line)-1] == '\r'
		r.emit(body)
	default:
		r.err = fmt.Errorf("%w: %v", ErrAborted, err)
	}
}

func (r *dataReader) emit(b []byte) {
	if r.limit > 0 && r.n+int64(len(b)) > r.limit {
		r.n = r.limit + 1
		r.tooLarge, r.err = true, ErrTooLarge
		return
	}
	r.n += int64(len(b))
	r.pending = b
}

// drain reads and discards the rest of the data up to the end marker: the
// reply to DATA may only come after it. It reports whether the end was
// reached (false: the client went away).
func (r *dataReader) drain() bool {
	r.limit = 0
	for !r.done {
		r.pending = nil
		if r.err != nil && r.err != ErrTooLarge {
			return false
		}
		r.err = nil
		r.next()
	}
	return true
}
