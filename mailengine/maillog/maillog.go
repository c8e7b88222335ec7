// Package maillog writes and reads mail_logs in the AsyncOS format: "Wed Jan 17 21:09:12 2024 Info: <text>".
//
// A Logger appends one line per call, or the lines of one Lines, with a single write(2), to
// dir/mail_logs (or another name, WithName, such as the authentication log). Before a line would push the file past maxBytes, the
// files are rotated by rename: mail_logs.(keep-1) → mail_logs.keep (dropping the previous
// mail_logs.keep), …, mail_logs → mail_logs.1, and a new mail_logs is created. Writing and rotating
// share one mutex, so no line is lost or split by a rotation. A write that fails part way (a full
// disk) is undone by truncating the file back, so the file only ever holds whole lines.
//
// # Escaping
//
// The text of a line is escaped so that a line is always one line, always valid UTF-8 and always
// safe to print on a terminal, whatever a client put in an envelope or a user name:
//
//	\\          a backslash (so that every backslash in a line starts an escape)
//	\n \r \t    line feed, carriage return, tab
//	\xNN        any other C0 control byte (ESC is \x1b, NUL is \x00), DEL (\x7f), and each byte
//	            that is not part of valid UTF-8 (\xff)
//	\uNNNN      a valid but unprintable character (strconv.IsPrint false): the C1 controls
//	            U+0080–U+009F (CSI is \u009b), spaces other than U+0020 (\u00a0), bidirectional
//	            and other format characters, line and paragraph separators, unassigned and
//	            private-use code points (\UNNNNNNNN above U+FFFF)
//
// Printable UTF-8 (Zürich, 日本) and every printable ASCII character but the backslash are written as
// they are. Tail, Grep and Follow also escape what they read (all but the backslash), so a file
// written by an older version that escaped only line breaks is shown safely too; lines this version
// wrote pass through unchanged.
//
// Tail, Grep and Follow read the current file and the rotated ones as one stream, oldest first,
// backing the CLI's "tail mail_logs" and "grep -e … mail_logs".
package maillog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Level is the severity word after the timestamp.
type Level string

// The AsyncOS levels.
const (
	Info    Level = "Info"
	Warning Level = "Warning"
	Debug   Level = "Debug"
	Trace   Level = "Trace"
)

const (
	// LogName is the name of the log file, and the only log name grep accepts (commands.ParseGrepArgs).
	LogName = "mail_logs"
	// AuthLogName is the authentication log's file name, next to mail_logs (WithName).
	AuthLogName = "authentication"
	// TimeLayout is the AsyncOS timestamp, in the local time zone: "Wed Jan 17 21:09:12 2024".
	TimeLayout = "Mon Jan _2 15:04:05 2006"
	// MaxContext is the largest -C value grep accepts (commands.ParseGrepArgs).
	MaxContext = 10000

	readChunk = 64 << 10
)

// ErrClosed is returned by Follow when the Logger is closed.
var ErrClosed = errors.New("log is closed")

// Option configures a Logger.
type Option func(*Logger)

// WithClock replaces time.Now for timestamps; tests use it for fixed times.
func WithClock(now func() time.Time) Option {
	return func(l *Logger) { l.now = now }
}

// WithName sets the file name in dir (default LogName, "mail_logs"); rotated files add .1, .2, ….
// The authentication log is opened WithName(AuthLogName).
func WithName(name string) Option {
	return func(l *Logger) { l.name0 = name }
}

// WithCopy also writes every line to w, in the file's order (the daemon's
// stdout gets mail_logs, SPEC §1). The copy is written by its own goroutine,
// lines gathered while a write is in progress going together; Close writes
// what is left. A failing copy never stops logging.
func WithCopy(w io.Writer) Option {
	return func(l *Logger) { l.copy = w }
}

// GUILogName is the file name of the GUI's log (AsyncOS's gui_logs), next to mail_logs.
const GUILogName = "gui_logs"

// Logger writes mail_logs. Its methods are safe for concurrent use.
type Logger struct {
	dir      string
	name0    string    // the file name in dir
	copy     io.Writer // nil, or where each line is copied (through copier)
	copier   *copier
	path     string
	maxBytes int64
	keep     int
	now      func() time.Time

	mu        sync.Mutex // guards everything below; held for each write and each rotation
	f         *os.File
	size      int64  // the size of the current file: whole lines only
	torn      bool   // a partial line could not be removed: start the next line on a new line
	gen       uint64 // rotations done since Open
	closed    bool
	err       error // first write or rotation error, returned by Close
	followers map[chan struct{}]struct{}
	stamp     []byte // the timestamp of second stampSec, formatted
	stampSec  int64
	line      []byte // the memory of the line being written
}

// Open opens dir/mail_logs for appending (creating dir with mode 0700 and the file with mode 0600
// if needed). The file is rotated before it would exceed maxBytes, keeping keep rotated files.
func Open(dir string, maxBytes int64, keep int, opts ...Option) (*Logger, error) {
	l := &Logger{
		dir:       dir,
		name0:     LogName,
		maxBytes:  maxBytes,
		keep:      keep,
		now:       time.Now,
		followers: map[chan struct{}]struct{}{},
	}
	for _, o := range opts {
		o(l)
	}
	if l.name0 == "" || l.name0 != filepath.Base(l.name0) || l.name0 == "." || l.name0 == ".." {
		return nil, fmt.Errorf("opening a log in %s: %q is not a file name; give a plain name such as %s", dir, l.name0, LogName)
	}
	if maxBytes <= 0 {
		return nil, fmt.Errorf("opening %s in %s: maximum size %d is not positive; give a size in bytes such as 10485760", l.name0, dir, maxBytes)
	}
	if keep < 1 {
		return nil, fmt.Errorf("opening %s in %s: keep %d would discard lines at rotation; keep at least 1 rotated file", l.name0, dir, keep)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating log directory %s: %w; check the path and its permissions", dir, err)
	}
	l.path = filepath.Join(dir, l.name0)
	if err := l.openCurrentLocked(); err != nil {
		return nil, err
	}
	if l.copy != nil {
		l.copier = newCopier(l.copy)
	}
	return l, nil
}

// openCurrentLocked opens (or reopens) dir/mail_logs for appending. l.mu must be held, or l not yet shared.
func (l *Logger) openCurrentLocked() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening log %s: %w; check the log directory's permissions and free space", l.path, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode().Perm() != 0o600 {
		err = f.Chmod(0o600) // the umask, or an older file, may differ
	}
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("opening log %s: %w", l.path, err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Infof logs at level Info.
func (l *Logger) Infof(format string, args ...any) { l.Logf(Info, format, args...) }

// Warningf logs at level Warning.
func (l *Logger) Warningf(format string, args ...any) { l.Logf(Warning, format, args...) }

// Logf writes one line at the given level. The text is escaped (see the package comment), so that
// one call is always one whole line, safe to print. A line is written whole or not at all: if the
// write fails part way, the file is truncated back to its previous size. Errors are kept and
// returned by Close; writes after Close are dropped.
func (l *Logger) Logf(level Level, format string, args ...any) {
	bufp := textBufs.Get().(*[]byte)
	defer textBufs.Put(bufp)
	text := fmt.Appendf((*bufp)[:0], format, args...)
	*bufp = text[:0]
	ends := [1]int{len(text)}
	l.write(level, text, ends[:])
}

// Lines gathers Info lines that are written together, in order and with one
// write(2), by Logger.WriteLines: the lines of one event, such as a
// message's acceptance. They are whole or absent together. The zero value
// is ready, and a Lines can be used again after WriteLines.
type Lines struct {
	text []byte
	ends []int // where each line's text ends in text
}

// Infof adds one line at level Info, formatted now, timestamped when written.
func (b *Lines) Infof(format string, args ...any) {
	b.text = fmt.Appendf(b.text, format, args...)
	b.ends = append(b.ends, len(b.text))
}

// WriteLines writes b's lines (as Logf would, one after the other, but with
// one write) and empties b.
func (l *Logger) WriteLines(b *Lines) {
	if len(b.ends) > 0 {
		l.write(Info, b.text, b.ends)
	}
	b.text, b.ends = b.text[:0], b.ends[:0]
}

// write appends the lines whose texts are text[ends[i-1]:ends[i]].
func (l *Logger) write(level Level, text []byte, ends []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	// Taking the time under the lock keeps the timestamps in file order.
	now := l.now()
	if sec := now.Unix(); sec != l.stampSec || l.stamp == nil {
		l.stamp, l.stampSec = now.Local().AppendFormat(l.stamp[:0], TimeLayout), sec
	}
	line := l.line[:0]
	if l.torn {
		line = append(line, '\n') // end the partial line that could not be removed
	}
	from := 0
	for _, end := range ends {
		line = append(append(append(append(line, l.stamp...), ' '), level...), ": "...)
		line = append(appendEscaped(line, text[from:end]), '\n')
		from = end
	}
	l.line = line
	if l.size > 0 && l.size+int64(len(line)) > l.maxBytes {
		if err := l.rotateLocked(); err != nil && l.err == nil {
			l.err = err
		}
		if !l.torn && line[0] == '\n' {
			line = line[1:] // a new file starts on a new line
		}
	}
	if err := l.writeLocked(line); err != nil && l.err == nil {
		l.err = err
	}
	if l.copier != nil {
		l.copier.add(bytes.TrimPrefix(line, []byte{'\n'}))
	}
	for ch := range l.followers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// textBufs recycles the memory Logf formats a line's text in.
var textBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// appendEscaped appends text escaped as the package comment says.
func appendEscaped(dst, text []byte) []byte {
	for _, c := range text {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return append(dst, escape(string(text), true)...)
		}
	}
	return append(dst, text...) // printable ASCII: the usual case
}

// writeLocked appends line whole, or removes what a failed write left of it. l.mu must be held.
func (l *Logger) writeLocked(line []byte) error {
	before := l.size
	n, err := l.f.Write(line)
	if err == nil {
		l.size += int64(n)
		l.torn = false
		return nil
	}
	err = fmt.Errorf("writing log %s: %w; the line was dropped: free space in the log directory", l.path, err)
	if n == 0 {
		return err
	}
	if terr := l.f.Truncate(before); terr != nil {
		l.size, l.torn = before+int64(n), true
		return errors.Join(err, fmt.Errorf("removing the partial line from %s: %w", l.path, terr))
	}
	return err
}

// rotateLocked shifts the files by one. On failure it keeps writing to the current file (which then
// grows past maxBytes) rather than lose lines. l.mu must be held.
func (l *Logger) rotateLocked() error {
	for i := l.keep - 1; i >= 1; i-- {
		if err := os.Rename(l.name(i), l.name(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			// Stop here: shifting further would overwrite the file that failed to move.
			return fmt.Errorf("rotating log %s: %w; check the log directory's permissions", l.name(i), err)
		}
	}
	if err := os.Rename(l.path, l.name(1)); err != nil {
		return fmt.Errorf("rotating log %s: %w; check the log directory's permissions", l.path, err)
	}
	old := l.f
	if err := l.openCurrentLocked(); err != nil {
		// Put the file back so that writing can go on.
		if rerr := os.Rename(l.name(1), l.path); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	l.gen++
	l.torn = false // the partial line stays at the end of the rotated file
	if err := old.Close(); err != nil {
		return fmt.Errorf("closing rotated log %s: %w", l.name(1), err)
	}
	return nil
}

// name returns the file name of the i-th rotated file; 0 is the current file.
func (l *Logger) name(i int) string {
	if i == 0 {
		return l.path
	}
	return l.path + "." + strconv.Itoa(i)
}

// Close closes the file, ends Follows, and returns the first error met while writing, if any.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	for ch := range l.followers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	if l.copier != nil {
		l.copier.close()
	}
	err := l.f.Close()
	if err != nil {
		err = fmt.Errorf("closing log %s: %w", l.path, err)
	}
	return errors.Join(l.err, err)
}

// span is one file of a snapshot, read only up to the size it had when the snapshot was taken.
type span struct {
	f    *os.File
	size int64
}

// snapshotLocked opens every existing log file, oldest first, and records its current size, so the
// set can be read consistently while writing and rotation go on. l.mu must be held.
func (l *Logger) snapshotLocked() ([]span, error) {
	var spans []span
	for i := l.keep; i >= 0; i-- {
		f, err := os.Open(l.name(i))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			var fi os.FileInfo
			if fi, err = f.Stat(); err == nil {
				spans = append(spans, span{f, fi.Size()})
				continue
			}
			_ = f.Close()
		}
		closeSpans(spans)
		return nil, fmt.Errorf("reading log %s: %w", l.name(i), err)
	}
	return spans, nil
}

func (l *Logger) snapshot() ([]span, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.snapshotLocked()
}

func closeSpans(spans []span) {
	for _, s := range spans {
		_ = s.f.Close()
	}
}

// Tail returns the last n lines, oldest first, reading across rotated files as needed.
func (l *Logger) Tail(n int) ([]string, error) {
	spans, err := l.snapshot()
	if err != nil {
		return nil, err
	}
	defer closeSpans(spans)
	return tailSpans(spans, n)
}

func tailSpans(spans []span, n int) ([]string, error) {
	var out []string
	for i := len(spans) - 1; i >= 0 && len(out) < n; i-- {
		lines, err := lastLines(spans[i].f, spans[i].size, n-len(out))
		if err != nil {
			return nil, fmt.Errorf("reading log %s: %w", spans[i].f.Name(), err)
		}
		out = append(lines, out...)
	}
	return out, nil
}

// lastLines returns up to the last n lines of the first size bytes of ra, reading backwards.
func lastLines(ra io.ReaderAt, size int64, n int) ([]string, error) {
	if n <= 0 || size == 0 {
		return nil, nil
	}
	var buf []byte
	off := size
	for off > 0 {
		c := min(int64(readChunk), off)
		off -= c
		chunk := make([]byte, int(c)+len(buf))
		if _, err := ra.ReadAt(chunk[:c], off); err != nil {
			return nil, err
		}
		copy(chunk[c:], buf)
		buf = chunk
		// n+1 line ends (counting the final one) mean n complete lines at the end.
		if bytes.Count(buf[:len(buf)-1], []byte("\n")) >= n {
			break
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(buf), "\n"), "\n")
	if off > 0 {
		lines = lines[1:] // the first piece starts in the middle of a line
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i := range lines {
		lines[i] = escape(lines[i], false)
	}
	return lines, nil
}

// GrepOptions selects lines for Grep. Pattern is a Go regular expression (RE2 syntax).
type GrepOptions struct {
	Pattern    string
	IgnoreCase bool
	Count      bool // report only the number of matching lines: out is not called
	Context    int  // lines of context before and after each match, as grep -C
}

// Grep calls out for each line matching opts.Pattern, in all files oldest first, and returns the
// number of matching lines. With Context > 0, non-adjacent groups of lines are separated by a "--"
// line, as in grep. With Count, out is not called (it may be nil) and the caller reports the number.
func (l *Logger) Grep(opts GrepOptions, out func(line string)) (matches int, err error) {
	re, err := compile(opts.Pattern, opts.IgnoreCase)
	if err != nil {
		return 0, err
	}
	if opts.Context < 0 {
		return 0, fmt.Errorf("context %d is negative; give -C a number of lines from 0 to %d", opts.Context, MaxContext)
	}
	if out == nil || opts.Count {
		out = func(string) {}
	}
	spans, err := l.snapshot()
	if err != nil {
		return 0, err
	}
	defer closeSpans(spans)

	var (
		before      []string // up to Context unprinted lines just before the current one
		afterLeft   int      // lines of trailing context still to print
		lastPrinted = -1     // index of the last printed line in the whole stream
		idx         int
	)
	for _, s := range spans {
		br := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, s.size), readChunk)
		for {
			line, rerr := br.ReadString('\n')
			if rerr != nil && !errors.Is(rerr, io.EOF) {
				return matches, fmt.Errorf("reading log %s: %w", s.f.Name(), rerr)
			}
			if line == "" {
				break
			}
			line = escape(strings.TrimSuffix(line, "\n"), false)
			switch {
			case re.MatchString(line):
				matches++
				if start := idx - len(before); opts.Context > 0 && lastPrinted >= 0 && start > lastPrinted+1 {
					out("--")
				}
				for _, b := range before {
					out(b)
				}
				before = before[:0]
				out(line)
				lastPrinted, afterLeft = idx, opts.Context
			case afterLeft > 0:
				out(line)
				lastPrinted = idx
				afterLeft--
			case opts.Context > 0:
				if len(before) == opts.Context {
					before = append(before[:0], before[1:]...)
				}
				before = append(before, line)
			}
			idx++
			if rerr != nil {
				break
			}
		}
	}
	return matches, nil
}

func compile(pattern string, ignoreCase bool) (*regexp.Regexp, error) {
	expr := pattern
	if ignoreCase {
		expr = "(?i)" + pattern
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %w; fix the -e argument (Go RE2 syntax)", pattern, err)
	}
	return re, nil
}

// Follow calls out with the last from lines and then with each new line as it is written, across
// rotations, until ctx ends (it then returns nil) or the Logger is closed (ErrClosed). If more than
// keep rotations happen between two wake-ups, the lines of the files dropped meanwhile are skipped.
func (l *Logger) Follow(ctx context.Context, from int, out func(line string)) error {
	wake := make(chan struct{}, 1)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	spans, err := l.snapshotLocked()
	gen := l.gen
	if err == nil {
		l.followers[wake] = struct{}{}
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	defer func() {
		l.mu.Lock()
		delete(l.followers, wake)
		l.mu.Unlock()
	}()

	if len(spans) == 0 {
		return fmt.Errorf("following log %s: the file is missing; was it removed by hand?", l.path)
	}
	first, err := tailSpans(spans, from)
	if err != nil {
		closeSpans(spans)
		return err
	}
	for _, line := range first {
		out(line)
	}
	show := func(line string) { out(escape(line, false)) }
	// The snapshot always holds the current file: Open created it and rotation recreates it.
	cur := spans[len(spans)-1]
	closeSpans(spans[:len(spans)-1])
	off := cur.size
	defer func() { _ = cur.f.Close() }()
	var partial []byte

	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
		l.mu.Lock()
		// Only whole lines are read: up to the size the current file has now, while no write is
		// in flight (bytes past it may be a failed write that is about to be undone).
		closed, newGen, committed := l.closed, l.gen, int64(-1)
		if !closed {
			if fi, err := l.f.Stat(); err == nil {
				committed = fi.Size()
			}
		}
		var next []span
		// Generation k's file is now named with suffix newGen-k; open them while the names hold.
		for k := gen + 1; k <= newGen && !closed; k++ {
			suffix := newGen - k
			if suffix > uint64(l.keep) {
				continue // already dropped
			}
			f, err := os.Open(l.name(int(suffix)))
			if err == nil {
				limit := int64(-1) // a rotated file is complete
				if suffix == 0 {
					limit = committed
				}
				next = append(next, span{f: f, size: limit})
			}
		}
		l.mu.Unlock()

		curLimit := committed
		if newGen != gen {
			curLimit = -1 // cur has been rotated away: it is complete
		}
		if err := drain(cur.f, &off, curLimit, &partial, show); err != nil {
			closeSpans(next)
			return err
		}
		for i, s := range next {
			// The previous file is complete: every write to it finished before the rotation.
			if len(partial) > 0 {
				show(string(partial))
				partial = partial[:0]
			}
			_ = cur.f.Close()
			cur, off = span{f: s.f}, 0
			if err := drain(cur.f, &off, s.size, &partial, show); err != nil {
				closeSpans(next[i+1:])
				return err
			}
		}
		gen = newGen
		if closed {
			return ErrClosed
		}
	}
}

// drain calls out for each complete line from *off to the end of f (or to limit, if not negative),
// keeping a trailing partial line in *partial for the next call.
func drain(f *os.File, off *int64, limit int64, partial *[]byte, out func(string)) error {
	buf := make([]byte, readChunk)
	for {
		b := buf
		if limit >= 0 {
			if *off >= limit {
				return nil
			}
			b = buf[:min(int64(len(buf)), limit-*off)]
		}
		n, err := f.ReadAt(b, *off)
		*off += int64(n)
		data := buf[:n]
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			*partial = append(*partial, data[:i]...)
			out(string(*partial))
			*partial = (*partial)[:0]
			data = data[i+1:]
		}
		*partial = append(*partial, data...)
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("following log %s: %w", f.Name(), err)
		}
	}
}

// escape returns s with every byte that is unsafe to print escaped, as the package comment lists.
// With backslash (writing), a backslash is doubled, so the escaping can be undone unambiguously;
// without it (reading a file an older version may have written), lines this version wrote come
// back unchanged.
func escape(s string, backslash bool) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c < 0x20 || c >= 0x7f || (backslash && c == '\\') {
			break
		}
		i++
	}
	if i == len(s) {
		return s // printable ASCII: the usual case
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\' && backslash:
				b.WriteString(`\\`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == 0x7f:
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		case strconv.IsPrint(r):
			b.WriteString(s[i : i+size])
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += size
	}
	return b.String()
}
