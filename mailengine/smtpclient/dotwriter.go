package smtpclient

import (
	"errors"
	"io"
	"sync"
)

// MaxLineLength is the longest line DotWriter sends, without its CRLF:
// RFC 5321 §4.5.3.1.6 allows 1,000 octets with it. It is the default of
// Postfix's smtp_line_length_limit.
const MaxLineLength = 998

// DotWriter writes a message as the content of DATA (RFC 5321 §4.5.2), so
// that what goes on the wire is clean whatever the message holds:
//
//   - every line ends in CRLF: a bare CR and a bare LF each become CRLF, so
//     a peer that takes a bare CR or LF as a line end reads the same lines
//     as one that does not (no "<CR>.<CR><LF>" smuggling);
//   - a line that starts with "." (after that) gets another "." in front;
//   - a line longer than MaxLineLength octets on the wire (the stuffing dot
//     counted) is broken by inserting CRLF SPACE, as Postfix does "to
//     minimize the damage to MIME formatted mail"; the break is moved back
//     to the start of a UTF-8 character it would split (at most 3 octets);
//   - Close ends the last line and writes the final "." CRLF.
//
// Size reports what RFC 1870 counts for SIZE=: the octets sent without the
// stuffing dots and the final ".".
type DotWriter struct {
	w       io.Writer
	line    []byte  // the current line as it goes on the wire, without its CRLF
	linep   *[]byte // line's memory, from lineBufs: back there at Close
	stuffed bool    // line starts with a stuffing dot
	cr      bool    // the last byte was a CR: its line end is written with the next byte
	size    int64
	breaks  int
	closed  bool
	err     error
}

// NewDotWriter returns a DotWriter writing to w. Run one over io.Discard to
// learn a message's Size before sending it.
func NewDotWriter(w io.Writer) *DotWriter {
	linep := lineBufs.Get().(*[]byte)
	return &DotWriter{w: w, line: (*linep)[:0], linep: linep}
}

// lineBufs and copyBufs recycle the memory of DotWriters between messages:
// a writer's line buffer goes back at Close, ReadFrom's buffer after each
// copy. Without them every message sent (and every size counted) allocated
// 33 KiB.
var (
	lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, MaxLineLength+3); return &b }}
	copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
)

// ReadFrom writes what r yields until its end (io.Copy uses it). An error
// of r is returned as r gave it.
func (d *DotWriter) ReadFrom(r io.Reader) (int64, error) {
	bufp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bufp)
	buf := *bufp
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := d.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

var errDotWriterClosed = errors.New("smtpclient: write after the final dot")

// Write writes message bytes; any line end convention is accepted.
func (d *DotWriter) Write(p []byte) (int, error) {
	if d.closed {
		return 0, errDotWriterClosed
	}
	n := len(p)
	for len(p) > 0 && d.err == nil {
		if d.cr {
			d.cr = false
			d.endLine()
			if p[0] == '\n' {
				p = p[1:] // CRLF: one line end
				continue
			}
		}
		switch p[0] {
		case '\r':
			d.cr = true
			p = p[1:]
			continue
		case '\n':
			d.endLine()
			p = p[1:]
			continue
		}
		i := lineEnd(p)
		d.addRun(p[:i])
		p = p[i:]
	}
	if d.err != nil {
		return n - len(p), d.err
	}
	return n, nil
}

// lineEnd returns the index of the first CR or LF in p, or len(p).
func lineEnd(p []byte) int {
	for i, c := range p {
		if c == '\r' || c == '\n' {
			return i
		}
	}
	return len(p)
}

// Close ends the last line (a message without a final line end gets one)
// and writes the final "." CRLF. It does not close the underlying writer.
func (d *DotWriter) Close() error {
	if d.closed {
		return d.err
	}
	if d.cr || len(d.line) > 0 {
		d.cr = false
		d.endLine()
	}
	d.closed = true
	*d.linep, d.line = d.line[:0], nil
	lineBufs.Put(d.linep)
	if d.err == nil {
		_, d.err = io.WriteString(d.w, ".\r\n")
	}
	return d.err
}

// Size is the message's size as RFC 1870 defines it: every octet written
// so far (line ends and inserted CRLF SPACE included), without the stuffing
// dots and the final ".".
func (d *DotWriter) Size() int64 { return d.size }

// Breaks is the number of lines broken because they were too long.
func (d *DotWriter) Breaks() int { return d.breaks }

// addRun appends octets of a line (no CR or LF among them).
func (d *DotWriter) addRun(run []byte) {
	for len(run) > 0 {
		if len(d.line) == 0 && run[0] == '.' {
			d.line = append(d.line, '.') // transparency, RFC 5321 §4.5.2
			d.stuffed = true
		}
		if len(d.line) == MaxLineLength {
			d.breakBefore(run[0])
		}
		k := min(MaxLineLength-len(d.line), len(run))
		d.line = append(d.line, run[:k]...)
		run = run[k:]
	}
}

// breakBefore ends the full line before the octet next and starts a
// continuation line with a space. When next continues a UTF-8 character,
// the break goes before that character's first octet.
func (d *DotWriter) breakBefore(next byte) {
	cut := len(d.line)
	if isContinuation(next) {
		for i := cut - 1; i >= cut-3 && i >= 2; i-- {
			if c := d.line[i]; c >= 0xc0 {
				cut = i
				break
			} else if !isContinuation(c) {
				break
			}
		}
	}
	tail := len(d.line) - cut
	d.emit(d.line[:cut])
	copy(d.line[1:], d.line[cut:]) // memmove: the tail goes after the space
	d.line = d.line[:1+tail]
	d.line[0] = ' '
	d.breaks++
}

func isContinuation(c byte) bool { return c&0xc0 == 0x80 }

// endLine writes the current line with its CRLF.
func (d *DotWriter) endLine() {
	d.emit(d.line)
	d.line = d.line[:0]
}

// emit writes line (a prefix of d.line) and CRLF, and counts it.
func (d *DotWriter) emit(line []byte) {
	n := len(line)
	d.size += int64(n + 2)
	if d.stuffed {
		d.size--
		d.stuffed = false
	}
	if d.err != nil {
		return
	}
	if _, d.err = d.w.Write(line); d.err == nil {
		_, d.err = io.WriteString(d.w, "\r\n")
	}
}
