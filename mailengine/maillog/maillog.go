// Package maillog writes and reads mail_logs in the AsyncOS format: "Wed Jan 17 21:09:12 2024 Info: <text>".
//
// A Logger appends one line per call, with a single write(2), to dir/mail_logs. Before a line would
// push the file past maxBytes, the files are rotated by rename: mail_logs.(keep-1) → mail_logs.keep
// (dropping the previous mail_logs.keep), …, mail_logs → mail_logs.1, and a new mail_logs is
// created. Writing and rotating share one mutex, so no line is lost or split by a rotation.
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
	// LogName is the name of the log file, and the only log name ParseGrepArgs accepts.
	LogName = "mail_logs"
	// TimeLayout is the AsyncOS timestamp, in the local time zone: "Wed Jan 17 21:09:12 2024".
	TimeLayout = "Mon Jan _2 15:04:05 2006"
	// MaxContext is the largest -C value ParseGrepArgs accepts.
	MaxContext = 10000

	readChunk = 64 << 10
)

// ErrClosed is returned by Follow when the Logger is closed.
var ErrClosed = errors.New("mail log is closed")

// Option configures a Logger.
type Option func(*Logger)

// WithClock replaces time.Now for timestamps; tests use it for fixed times.
func WithClock(now func() time.Time) Option {
	return func(l *Logger) { l.now = now }
}

// Logger writes mail_logs. Its methods are safe for concurrent use.
type Logger struct {
	dir      string
	path     string
	maxBytes int64
	keep     int
	now      func() time.Time
	escape   *strings.Replacer

	mu        sync.Mutex // guards everything below; held for each write and each rotation
	f         *os.File
	size      int64
	gen       uint64 // rotations done since Open
	closed    bool
	err       error // first write or rotation error, returned by Close
	followers map[chan struct{}]struct{}
}

// Open opens dir/mail_logs for appending (creating dir with mode 0700 and the file with mode 0600
// if needed). The file is rotated before it would exceed maxBytes, keeping keep rotated files.
func Open(dir string, maxBytes int64, keep int, opts ...Option) (*Logger, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("opening mail log in %s: maximum size %d is not positive; give a size in bytes such as 10485760", dir, maxBytes)
	}
	if keep < 1 {
		return nil, fmt.Errorf("opening mail log in %s: keep %d would discard lines at rotation; keep at least 1 rotated file", dir, keep)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating log directory %s: %w; check the path and its permissions", dir, err)
	}
	l := &Logger{
		dir:       dir,
		path:      filepath.Join(dir, LogName),
		maxBytes:  maxBytes,
		keep:      keep,
		now:       time.Now,
		escape:    strings.NewReplacer("\r", `\r`, "\n", `\n`),
		followers: map[chan struct{}]struct{}{},
	}
	for _, o := range opts {
		o(l)
	}
	if err := l.openCurrentLocked(); err != nil {
		return nil, err
	}
	return l, nil
}

// openCurrentLocked opens (or reopens) dir/mail_logs for appending. l.mu must be held, or l not yet shared.
func (l *Logger) openCurrentLocked() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening mail log %s: %w; check the log directory's permissions and free space", l.path, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode().Perm() != 0o600 {
		err = f.Chmod(0o600) // the umask, or an older file, may differ
	}
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("opening mail log %s: %w", l.path, err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Infof logs at level Info.
func (l *Logger) Infof(format string, args ...any) { l.Logf(Info, format, args...) }

// Warningf logs at level Warning.
func (l *Logger) Warningf(format string, args ...any) { l.Logf(Warning, format, args...) }

// Logf writes one line at the given level. Line breaks in the text are written as \n and \r, so
// that one call is always one line. Errors are kept and returned by Close; writes after Close are
// dropped.
func (l *Logger) Logf(level Level, format string, args ...any) {
	text := l.escape.Replace(fmt.Sprintf(format, args...))

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	// Taking the time under the lock keeps the timestamps in file order.
	line := l.now().Local().Format(TimeLayout) + " " + string(level) + ": " + text + "\n"
	if l.size > 0 && l.size+int64(len(line)) > l.maxBytes {
		if err := l.rotateLocked(); err != nil && l.err == nil {
			l.err = err
		}
	}
	n, err := l.f.WriteString(line)
	l.size += int64(n)
	if err != nil && l.err == nil {
		l.err = fmt.Errorf("writing mail log %s: %w; check free space in the log directory", l.path, err)
	}
	for ch := range l.followers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// rotateLocked shifts the files by one. On failure it keeps writing to the current file (which then
// grows past maxBytes) rather than lose lines. l.mu must be held.
func (l *Logger) rotateLocked() error {
	for i := l.keep - 1; i >= 1; i-- {
		if err := os.Rename(l.name(i), l.name(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			// Stop here: shifting further would overwrite the file that failed to move.
			return fmt.Errorf("rotating mail log %s: %w; check the log directory's permissions", l.name(i), err)
		}
	}
	if err := os.Rename(l.path, l.name(1)); err != nil {
		return fmt.Errorf("rotating mail log %s: %w; check the log directory's permissions", l.path, err)
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
	if err := old.Close(); err != nil {
		return fmt.Errorf("closing rotated mail log %s: %w", l.name(1), err)
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
	err := l.f.Close()
	if err != nil {
		err = fmt.Errorf("closing mail log %s: %w", l.path, err)
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
		return nil, fmt.Errorf("reading mail log %s: %w", l.name(i), err)
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
			return nil, fmt.Errorf("reading mail log %s: %w", spans[i].f.Name(), err)
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
				return matches, fmt.Errorf("reading mail log %s: %w", s.f.Name(), rerr)
			}
			if line == "" {
				break
			}
			line = strings.TrimSuffix(line, "\n")
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
		return fmt.Errorf("following mail log %s: the file is missing; was it removed by hand?", l.path)
	}
	first, err := tailSpans(spans, from)
	if err != nil {
		closeSpans(spans)
		return err
	}
	for _, line := range first {
		out(line)
	}
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
		closed, newGen := l.closed, l.gen
		var next []*os.File
		// Generation k's file is now named with suffix newGen-k; open them while the names hold.
		for k := gen + 1; k <= newGen && !closed; k++ {
			suffix := newGen - k
			if suffix > uint64(l.keep) {
				continue // already dropped
			}
			f, err := os.Open(l.name(int(suffix)))
			if err == nil {
				next = append(next, f)
			}
		}
		l.mu.Unlock()

		if err := drain(cur.f, &off, &partial, out); err != nil {
			for _, f := range next {
				_ = f.Close()
			}
			return err
		}
		for _, f := range next {
			// The previous file is complete: every write to it finished before the rotation.
			if len(partial) > 0 {
				out(string(partial))
				partial = partial[:0]
			}
			_ = cur.f.Close()
			cur, off = span{f: f}, 0
			if err := drain(cur.f, &off, &partial, out); err != nil {
				return err
			}
		}
		gen = newGen
		if closed {
			return ErrClosed
		}
	}
}

// drain calls out for each complete line from *off to the end of f, keeping a trailing partial
// line in *partial for the next call.
func drain(f *os.File, off *int64, partial *[]byte, out func(string)) error {
	buf := make([]byte, readChunk)
	for {
		n, err := f.ReadAt(buf, *off)
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
			return fmt.Errorf("following mail log %s: %w", f.Name(), err)
		}
	}
}

// ParseGrepArgs parses the AsyncOS batch form after the word "grep":
//
//	-e "<regexp>" [-c] [-C <n>] [-i] [-t] [-p] mail_logs
//
// args are already split into words, with quotes removed, by the shell. It returns the options,
// whether -t (tail: keep following) was given, and the log name. -e may be repeated (a line matches
// if any expression matches); -c, -i, -t and -p may be combined as in -ci; -p (paginate) is
// accepted and left to the caller's pager. The expression is compiled, so an invalid one is
// reported here.
func ParseGrepArgs(args []string) (GrepOptions, bool, string, error) {
	var (
		opts     GrepOptions
		tail     bool
		patterns []string
		logName  string
		sawLog   bool
	)
	positional := func(a string) error {
		if sawLog {
			return fmt.Errorf("unexpected argument %q after log name %q; give one log name, such as %s", a, logName, LogName)
		}
		logName, sawLog = a, true
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			for _, p := range args[i+1:] {
				if err := positional(p); err != nil {
					return GrepOptions{}, false, "", err
				}
			}
			break
		}
		if len(a) < 2 || a[0] != '-' {
			if err := positional(a); err != nil {
				return GrepOptions{}, false, "", err
			}
			continue
		}
		// A cluster of flags, as getopt reads it: "-ci", "-eTLS", "-C3", "-ie TLS".
	cluster:
		for j := 1; j < len(a); j++ {
			switch c := a[j]; c {
			case 'c':
				opts.Count = true
			case 'i':
				opts.IgnoreCase = true
			case 't':
				tail = true
			case 'p':
			case 'e', 'C':
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						if c == 'e' {
							return GrepOptions{}, false, "", fmt.Errorf(`-e needs a regular expression, as in: grep -e "TLS" %s`, LogName)
						}
						return GrepOptions{}, false, "", fmt.Errorf(`-C needs a number of context lines, as in: grep -e "TLS" -C 2 %s`, LogName)
					}
					i++
					val = args[i]
				}
				if c == 'e' {
					patterns = append(patterns, val)
				} else if err := parseContext(val, &opts); err != nil {
					return GrepOptions{}, false, "", err
				}
				break cluster
			case 'f':
				return GrepOptions{}, false, "", fmt.Errorf("-f (file name pattern) is not supported; leave it out to search all %s files", LogName)
			default:
				return GrepOptions{}, false, "", fmt.Errorf("unknown flag %q in %q; use -e <regexp>, -c, -C <n>, -i, -p or -t", "-"+string(rune(c)), a)
			}
		}
	}
	if len(patterns) == 0 {
		return GrepOptions{}, false, "", fmt.Errorf(`missing -e <regexp>; for example: grep -e "TLS" %s`, LogName)
	}
	if !sawLog {
		return GrepOptions{}, false, "", fmt.Errorf("missing log name; the only log is %s", LogName)
	}
	if logName != LogName {
		return GrepOptions{}, false, "", fmt.Errorf("unknown log %q; the only log is %s", logName, LogName)
	}
	if len(patterns) == 1 {
		opts.Pattern = patterns[0]
	} else {
		opts.Pattern = "(?:" + strings.Join(patterns, ")|(?:") + ")"
		for _, p := range patterns { // check each alone, for a message that names the bad one
			if _, err := compile(p, opts.IgnoreCase); err != nil {
				return GrepOptions{}, false, "", err
			}
		}
	}
	if _, err := compile(opts.Pattern, opts.IgnoreCase); err != nil {
		return GrepOptions{}, false, "", err
	}
	return opts, tail, logName, nil
}

func parseContext(s string, opts *GrepOptions) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > MaxContext {
		return fmt.Errorf("bad -C number %q; give a number of context lines from 0 to %d", s, MaxContext)
	}
	opts.Context = n
	return nil
}
