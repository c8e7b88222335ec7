// Package queue is the durable message spool: each accepted message is on disk and synced before
// Put returns, and concurrent Puts share their syncs (group commit).
//
// Layout of a spool directory:
//
//	lock            flock(2)ed while a Spool is open, so two processes never share a spool
//	mid.hwm         MID high-water mark: every MID at or below it may have been handed out
//	seg/<seq>.seg   append-only segment files of records: a message (envelope and body) or the
//	                removal of one; the format is in segment.go
//	tmp/<mid>.tmp   a Put of a large message in progress; removed by Open after a crash
//	msg/<mid>.msg   a large message (body over 1 MiB): one JSON header line, then the raw message
//
// A message of up to 1 MiB, the usual case, is read into memory by Put and handed to the committer
// goroutine as one record. Each commit round takes every Put and Remove queued since the previous
// round and appends their records (puts, then removals) to the newest segment with one write and one
// fdatasync, then wakes all callers: per round, one data sync, whatever the number of messages, and no
// file created, renamed or unlinked. A larger message streams into tmp/; its round fsyncs it (in
// parallel with the others), renames it into msg/ and fsyncs msg/ once, and its removal is an unlink.
// A lone Put never waits for a timer: its round starts as soon as the committer is idle.
//
// A segment is replaced by a new one when it reaches 64 MiB. Segments are only ever removed oldest
// first, once no live message is left in them, each removal synced before the next: a removal record
// names a message in its own segment or an older one, so nothing a crash can bring back depends on a
// removed segment. When more than four segments exist, the live messages of the oldest (mail deferred
// for long) are copied forward as they are, so it can go (compaction). Open replays the segments oldest
// first: a later record of a MID supersedes an earlier one, a removal ends it. Reading a segment stops
// at the first record that is incomplete or fails its CRC-32C: in the newest segment that is a write a
// crash cut short, before its fdatasync returned and so before any 250, and Open cuts it off; anywhere
// else it is damage. Both are reported by Warnings, which the appliance writes to mail_logs.
//
// The spool keeps an index of its messages in memory (it is the only writer: the lock), so IDs,
// Count and Header cost no directory read and no file open: a Put records its message once its
// round has committed, a Remove drops it once the removal is durable. Segment messages are indexed
// whole by Open; messages in msg/ by MID, their headers read from disk on first use.
//
// MIDs are never reused. Before handing out a MID beyond the persisted high-water mark, the spool
// durably reserves the next block of midBlock MIDs in mid.hwm; Close lowers the mark to the last MID
// actually used, so after a clean restart MIDs continue without a gap, and after a crash with a gap
// of at most midBlock.
package queue

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

const (
	msgDirName  = "msg"
	tmpDirName  = "tmp"
	hwmName     = "mid.hwm"
	lockName    = "lock"
	msgSuffix   = ".msg"
	tmpSuffix   = ".tmp"
	headerV1    = 1
	midBlock    = 1024     // MIDs reserved per mid.hwm write
	maxHeader   = 16 << 20 // longest envelope header line accepted when reading
	copyBufSize = 64 << 10
)

var (
	// ErrTooLarge is returned by Put when the body exceeds maxBytes; nothing is left on disk.
	ErrTooLarge = errors.New("message exceeds the maximum size")
	// ErrClosed is returned by operations on a closed Spool.
	ErrClosed = errors.New("spool is closed")
	// ErrNotFound is returned by Get and Remove for a MID that is not in the spool.
	ErrNotFound = errors.New("no such message in the spool")
)

// MID is a message ID, unique for the lifetime of a spool directory.
type MID uint64

// Envelope is the SMTP envelope and the connection facts recorded with a message.
type Envelope struct {
	From       string
	To         []string
	ICID       uint64
	Listener   string
	ClientAddr string
	HELO       string
	TLS        string // e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384", empty when clear
	Received   time.Time
	// UTF8 is set when MAIL asked for SMTPUTF8 (RFC 6531): the addresses
	// may be UTF-8, and so may the header; delivery needs the same of the peer.
	UTF8 bool
}

// Message describes a spooled message. Size is the size of the raw message, without the header.
type Message struct {
	MID      MID
	Envelope Envelope
	Size     int64
	Path     string
}

// header is the first line of a message file. It is separate from Envelope so that the on-disk
// format does not change when Envelope gains fields for other reasons.
type header struct {
	V          int       `json:"v"`
	MID        MID       `json:"mid"`
	From       string    `json:"from"`
	To         []string  `json:"to"`
	ICID       uint64    `json:"icid,omitempty"`
	Listener   string    `json:"listener,omitempty"`
	ClientAddr string    `json:"client_addr,omitempty"`
	HELO       string    `json:"helo,omitempty"`
	TLS        string    `json:"tls,omitempty"`
	Received   time.Time `json:"received"`
	UTF8       bool      `json:"smtputf8,omitempty"`
}

// Spool is a durable message spool in one directory. Its methods are safe for concurrent use.
type Spool struct {
	dir    string
	msgDir string
	tmpDir string
	lock   *os.File // holds the flock
	msgFD  *os.File // msg/ opened for fsync
	segDir string

	// Set by Open, read-only after: the segment size at which the committer
	// starts a new one, and the largest body a segment takes.
	segMax, inlineMax int64

	idMu     sync.Mutex // guards next and reserved
	next     MID        // next MID to hand out
	reserved MID        // MIDs up to this one are covered by mid.hwm on disk

	mu      sync.Mutex // guards pending and closed
	pending []*op
	closed  bool

	kick  chan struct{} // capacity 1: work is pending or the spool is closing
	done  chan struct{} // closed when the committer has exited
	count atomic.Int64

	idxMu sync.Mutex
	index map[MID]*indexed // every committed message; nil until its header is known
	order []MID            // the keys of index, ascending (IDs without a sort)
	segs  []*segment       // oldest first; the last one takes new records
	// rotate makes the next append start a new segment: set after a failed
	// append, whose segment may hold a damaged tail.
	rotate bool

	warnings []string // what Open found damaged, for the operator

	wbuf      []byte        // the committer's write buffer, reused between rounds
	rounds    atomic.Uint64 // commit rounds run, for tests and benchmarks
	committed atomic.Uint64 // Puts committed
}

// indexed is what the index knows of a message: its header and where its
// body starts, in its own file (seg nil) or in a segment.
type indexed struct {
	msg    Message
	off    int64
	seg    *segment
	recOff int64 // where its record starts in seg
}

type opKind int

const (
	opPut opKind = iota
	opRemove
)

// op states: a queued op is claimed by the committer or cancelled by its caller, never both.
const (
	opQueued int32 = iota
	opClaimed
	opCancelled
)

type op struct {
	kind  opKind
	mid   MID
	f     *os.File // opPut of a large message: the temp file, written and flushed but not yet synced
	tmp   string   // opPut of a large message
	rec   []byte   // opPut of a segment message: its whole record
	final string
	msg   *indexed // opPut: what Header returns once committed
	state atomic.Int32
	res   chan error // capacity 1
}

// Open opens the spool in dir, creating it with mode 0700 if needed. It removes the temp files of
// Puts that never finished and continues the MID sequence after both the highest MID on disk and the
// persisted high-water mark.
func Open(dir string) (*Spool, error) { return openSized(dir, segDefault, inlineLimit) }

// openSized is Open with the segment size and the largest body kept in a
// segment chosen, for tests.
func openSized(dir string, segMax, inlineMax int64) (s *Spool, err error) {
	s = &Spool{
		dir:       dir,
		msgDir:    filepath.Join(dir, msgDirName),
		tmpDir:    filepath.Join(dir, tmpDirName),
		segDir:    filepath.Join(dir, segDirName),
		segMax:    segMax,
		inlineMax: inlineMax,
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	for _, d := range []string{dir, s.msgDir, s.tmpDir, s.segDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating spool directory %s: %w; check the path and its permissions", d, err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening spool lock %s: %w", filepath.Join(dir, lockName), err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("locking spool %s: %w; another process already uses this spool", dir, err)
	}
	s.lock = lock
	defer func() {
		if err != nil {
			s.closeFiles()
		}
	}()

	var maxMID MID
	// Unfinished Puts: their callers never got an answer, so the files can go.
	tmps, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return nil, fmt.Errorf("reading spool directory %s: %w", s.tmpDir, err)
	}
	for _, e := range tmps {
		if mid, ok := parseName(e.Name(), tmpSuffix); ok {
			maxMID = max(maxMID, mid)
		}
		if err := os.Remove(filepath.Join(s.tmpDir, e.Name())); err != nil {
			return nil, fmt.Errorf("removing unfinished message %s: %w; remove it by hand", filepath.Join(s.tmpDir, e.Name()), err)
		}
	}
	// Stray temp files of writeHWM.
	roots, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading spool directory %s: %w", dir, err)
	}
	for _, e := range roots {
		if strings.HasPrefix(e.Name(), "."+hwmName+".tmp-") {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	msgs, err := os.ReadDir(s.msgDir)
	if err != nil {
		return nil, fmt.Errorf("reading spool directory %s: %w", s.msgDir, err)
	}
	s.index = make(map[MID]*indexed, len(msgs))
	segMID, err := s.replay()
	if err != nil {
		return nil, err
	}
	maxMID = max(maxMID, segMID)
	for _, e := range msgs {
		if mid, ok := parseName(e.Name(), msgSuffix); ok {
			maxMID = max(maxMID, mid)
			if _, inSeg := s.index[mid]; !inSeg {
				s.index[mid] = nil
			}
		}
	}
	s.count.Store(int64(len(s.index)))
	s.order = make([]MID, 0, len(s.index))
	for mid := range s.index {
		s.order = append(s.order, mid)
	}
	slices.Sort(s.order)
	hwm, err := readHWM(filepath.Join(dir, hwmName))
	if err != nil {
		return nil, err
	}
	s.reserved = hwm
	s.next = max(maxMID, hwm) + 1

	// Make the directories themselves durable, and the removals above. The parent only matters
	// when Open created dir, and may not be readable, so syncing it is best effort.
	for _, d := range []string{s.tmpDir, s.segDir, dir} {
		if err := syncDir(d); err != nil {
			return nil, err
		}
	}
	_ = syncDir(filepath.Dir(filepath.Clean(dir)))
	if s.msgFD, err = os.Open(s.msgDir); err != nil {
		return nil, fmt.Errorf("opening spool directory %s: %w", s.msgDir, err)
	}
	s.collect()
	go s.run()
	return s, nil
}

// replay rebuilds the index of the segment messages from the segment files
// and returns the highest MID they name. The newest segment's torn tail (a
// write cut by a crash before its fdatasync returned, so never acknowledged)
// is cut off; damage anywhere else ends that segment's valid records there.
// Both are reported by Warnings.
func (s *Spool) replay() (MID, error) {
	segs, maxMID, damaged, err := loadSegments(s.segDir, s.index, os.O_RDWR)
	s.segs = segs // closeFiles closes them if Open fails
	if err != nil {
		return 0, err
	}
	for _, d := range damaged {
		g := d.seg
		if g != segs[len(segs)-1] {
			s.warnings = append(s.warnings, fmt.Sprintf("spool segment %s is damaged (%v): the %d bytes after offset %d are ignored; messages stored there are lost, check the disk",
				g.path, d.why, d.size-g.size, g.size))
			continue
		}
		if err := g.f.Truncate(g.size); err != nil {
			return 0, fmt.Errorf("cutting the torn tail of spool segment %s at offset %d: %w; check the disk", g.path, g.size, err)
		}
		if err := fdatasync(g.f); err != nil {
			return 0, fmt.Errorf("syncing spool segment %s: %w; check the disk", g.path, err)
		}
		s.warnings = append(s.warnings, fmt.Sprintf("spool segment %s ended in an incomplete write (%v): %d bytes after offset %d cut off; they were never acknowledged",
			g.path, d.why, d.size-g.size, g.size))
	}
	return maxMID, nil
}

// damage is a segment whose valid records end before the file does.
type damage struct {
	seg  *segment
	size int64 // the file's size; seg.size is where its valid records end
	why  error
}

// loadSegments opens the segment files in segDir (with flag, os.O_RDWR or
// os.O_RDONLY), oldest first, and indexes their live messages into index. It
// returns the segments even with an error, for the caller to close.
func loadSegments(segDir string, index map[MID]*indexed, flag int) (segs []*segment, maxMID MID, damaged []damage, err error) {
	entries, err := os.ReadDir(segDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil, nil // a spool from before segments
	}
	if err != nil {
		return nil, 0, nil, fmt.Errorf("reading spool directory %s: %w", segDir, err)
	}
	var seqs []uint64
	for _, e := range entries {
		if seq, ok := parseSegName(e.Name()); ok {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		path := filepath.Join(segDir, segName(seq))
		f, err := os.OpenFile(path, flag, 0)
		if err != nil {
			return segs, 0, nil, fmt.Errorf("opening spool segment %s: %w; check its permissions", path, err)
		}
		g := &segment{seq: seq, path: path, f: f}
		segs = append(segs, g)
		fi, err := f.Stat()
		if err != nil {
			return segs, 0, nil, fmt.Errorf("reading spool segment %s: %w", path, err)
		}
		end, serr := scanSegment(f, fi.Size(), false, func(r *record) error {
			maxMID = max(maxMID, r.mid)
			old := index[r.mid]
			if r.kind == recDel {
				if old != nil && old.seg != nil {
					old.seg.live--
					delete(index, r.mid)
				}
				return nil
			}
			m, err := decodeHeader(r.header, recPath(path, r.off), r.mid)
			if err != nil {
				return err
			}
			m.Size = r.blen
			if old != nil && old.seg != nil {
				old.seg.live-- // a copy made by compaction supersedes it
			}
			index[r.mid] = &indexed{msg: *m, off: r.bodyOff(), seg: g, recOff: r.off}
			g.live++
			return nil
		})
		if serr != nil && !errors.Is(serr, errBadRecord) {
			return segs, 0, nil, fmt.Errorf("spool segment %s: %w", path, serr)
		}
		g.size = end
		if end < fi.Size() {
			damaged = append(damaged, damage{seg: g, size: fi.Size(), why: serr})
		}
	}
	return segs, maxMID, damaged, nil
}

// Stored is a message as Inspect finds it on disk.
type Stored struct {
	Message
	Body []byte
}

// Inspect reads every message of the spool in dir without opening the
// spool: no lock is taken and nothing on disk changes, so it can look at the
// spool of a running appliance (tests, troubleshooting). It sees the
// messages whose records or files are complete, oldest MID first.
func Inspect(dir string) ([]Stored, error) {
	var index map[MID]*indexed
	var segs []*segment
	defer func() {
		for _, g := range segs {
			_ = g.f.Close()
		}
	}()
	for attempt := 0; ; attempt++ {
		index = map[MID]*indexed{}
		var err error
		segs, _, _, err = loadSegments(filepath.Join(dir, segDirName), index, os.O_RDONLY)
		if err == nil {
			break
		}
		for _, g := range segs {
			_ = g.f.Close()
		}
		segs = nil
		// A running spool unlinks a segment it no longer needs: read again.
		if !errors.Is(err, os.ErrNotExist) || attempt == 10 {
			return nil, err
		}
	}
	var out []Stored
	for _, m := range index {
		body := make([]byte, m.msg.Size)
		if _, err := m.seg.f.ReadAt(body, m.off); err != nil {
			return nil, fmt.Errorf("reading %s: %w", m.msg.Path, err)
		}
		out = append(out, Stored{Message: m.msg, Body: body})
	}
	msgDir := filepath.Join(dir, msgDirName)
	files, err := os.ReadDir(msgDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading spool directory %s: %w", msgDir, err)
	}
	for _, e := range files {
		mid, ok := parseName(e.Name(), msgSuffix)
		if !ok {
			continue
		}
		path := filepath.Join(msgDir, e.Name())
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // delivered meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		line, body, ok := bytes.Cut(data, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("message %s has no header line; move the file out of the spool", path)
		}
		m, err := decodeHeader(line, path, mid)
		if err != nil {
			return nil, err
		}
		m.Size = int64(len(body))
		out = append(out, Stored{Message: *m, Body: body})
	}
	slices.SortFunc(out, func(a, b Stored) int { return cmp.Compare(a.MID, b.MID) })
	return out, nil
}

// Warnings lists what Open found damaged in the spool and how it dealt with
// it, for the operator's log; empty for a clean spool.
func (s *Spool) Warnings() []string { return slices.Clone(s.warnings) }

// FreeBytes is the space left to unprivileged writers in the spool's file
// system (statfs(2)), for refusing mail before the disk is full.
func (s *Spool) FreeBytes() (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.msgDir, &st); err != nil {
		return 0, fmt.Errorf("checking free space of %s: %w", s.msgDir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// Count returns the number of messages in the spool.
func (s *Spool) Count() int { return int(s.count.Load()) }

// Put stores a message and returns its MID and the size of body once the message and its directory
// entry are fsynced. A body longer than maxBytes (when maxBytes > 0; 0 means no limit) fails with
// ErrTooLarge and leaves nothing on disk. If ctx ends before the message is committed, Put returns
// ctx.Err() and the message is not stored; once its commit round has started, Put waits for it.
func (s *Spool) Put(ctx context.Context, env Envelope, body io.Reader, maxBytes int64) (MID, int64, error) {
	mid, err := s.Reserve()
	if err != nil {
		return 0, 0, err
	}
	return s.PutReserved(ctx, mid, env, body, maxBytes)
}

// Reserve hands out the next MID without storing anything, for a session that
// names its message (in mail_logs) before the body arrives. A reserved MID
// that is never stored is simply skipped; MIDs are never reused.
func (s *Spool) Reserve() (MID, error) {
	if s.isClosed() {
		return 0, ErrClosed
	}
	return s.allocate()
}

// PutReserved is Put with a MID from Reserve.
//
// A body of up to inlineMax bytes is read into memory and becomes one record
// in the current segment; a larger one streams into its own file in tmp/,
// which the commit round fsyncs and renames into msg/.
func (s *Spool) PutReserved(ctx context.Context, mid MID, env Envelope, body io.Reader, maxBytes int64) (_ MID, _ int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	if s.isClosed() {
		return 0, 0, ErrClosed
	}
	hdr, err := encodeHeader(mid, env)
	if err != nil {
		return 0, 0, err
	}
	// What Header reads back: the envelope as its JSON line decodes.
	decoded, err := decodeHeader(hdr, "", mid)
	if err != nil {
		return 0, 0, err
	}
	src := io.Reader(ctxReader{ctx, body})
	if maxBytes > 0 {
		src = io.LimitReader(src, maxBytes+1)
	}
	readErr := func(err error, where string) error {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return ctxErr
		}
		return fmt.Errorf("spooling message body to %s: %w", where, err)
	}

	bufp := recBufs.Get().(*[]byte)
	defer func() {
		if cap(*bufp) <= 256<<10 { // a rare large buffer goes back to the heap
			recBufs.Put(bufp)
		}
	}()
	rec := append(append((*bufp)[:0], make([]byte, recPrefix)...), hdr...)
	rec, whole, err := readUpTo(rec, src, s.inlineMax)
	*bufp = rec[:0] // keep the grown buffer for the next message
	if err != nil {
		return 0, 0, readErr(err, "memory")
	}
	o := &op{kind: opPut, mid: mid, res: make(chan error, 1)}
	var size int64
	if whole {
		size = int64(len(rec) - recPrefix - len(hdr))
		if maxBytes > 0 && size > maxBytes {
			return 0, 0, ErrTooLarge
		}
		putPrefix(rec, mid, len(hdr))
		o.rec = rec
	} else {
		o.tmp = filepath.Join(s.tmpDir, name(mid, tmpSuffix))
		o.final = filepath.Join(s.msgDir, name(mid, msgSuffix))
		if size, err = s.spill(o, rec[recPrefix:], len(hdr), src, maxBytes, readErr); err != nil {
			return 0, 0, err
		}
		decoded.Path = o.final
	}
	decoded.Size = size
	o.msg = &indexed{msg: *decoded, off: int64(len(hdr))}
	owned := o.f != nil // this goroutine still has to clean up o.f and o.tmp on failure
	defer func() {
		if owned && err != nil {
			_ = o.f.Close()
			_ = os.Remove(o.tmp)
		}
	}()

	if err := s.enqueue(o); err != nil {
		return 0, 0, err
	}
	select {
	case err = <-o.res:
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opCancelled) {
			return 0, 0, ctx.Err() // the committer will skip o; the deferred cleanup removes it
		}
		err = <-o.res // the round has o; its outcome is the truth
	}
	owned = false // the committer closed the file and removed it on failure
	if err != nil {
		return 0, 0, err
	}
	return mid, size, nil
}

// recBufs recycles the memory of segment records between Puts.
var recBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// readUpTo appends what r yields to dst until r ends (whole) or more than
// limit bytes were appended (not whole: the caller goes on streaming).
func readUpTo(dst []byte, r io.Reader, limit int64) (_ []byte, whole bool, _ error) {
	start := len(dst)
	for int64(len(dst)-start) <= limit {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, min(max(len(dst), 4096), int(limit)+1))
		}
		end := min(cap(dst), start+int(limit)+1)
		n, err := r.Read(dst[len(dst):end])
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			return dst, true, nil
		}
		if err != nil {
			return dst, false, err
		}
	}
	return dst, false, nil
}

// spill writes a message too large for a segment to its own temp file: the
// header and body bytes already read (head), then the rest of src. It returns
// the body size; on success o.f is the flushed, unsynced file.
func (s *Spool) spill(o *op, head []byte, hlen int, src io.Reader, maxBytes int64, readErr func(error, string) error) (size int64, err error) {
	o.f, err = os.OpenFile(o.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("creating spool file %s: %w; check free space and permissions of the spool", o.tmp, err)
	}
	defer func() {
		if err != nil {
			_ = o.f.Close()
			_ = os.Remove(o.tmp)
			o.f = nil
		}
	}()
	w := bufio.NewWriterSize(o.f, copyBufSize)
	if _, err := w.Write(head); err != nil {
		return 0, fmt.Errorf("writing spool file %s: %w; check free space in the spool", o.tmp, err)
	}
	rest, err := io.Copy(w, src)
	if err != nil {
		return 0, readErr(err, o.tmp)
	}
	size = int64(len(head)-hlen) + rest
	if maxBytes > 0 && size > maxBytes {
		return 0, ErrTooLarge
	}
	if err := w.Flush(); err != nil {
		return 0, fmt.Errorf("writing spool file %s: %w; check free space in the spool", o.tmp, err)
	}
	return size, nil
}

// Get returns a spooled message and a reader for its raw content, which the caller must close.
func (s *Spool) Get(mid MID) (Message, io.ReadCloser, error) {
	s.idxMu.Lock()
	if m := s.index[mid]; m != nil && m.seg != nil {
		m.seg.refs++
		s.idxMu.Unlock()
		return m.msg.clone(), &segReader{io.NewSectionReader(m.seg.f, m.off, m.msg.Size), s, m.seg, false}, nil
	}
	s.idxMu.Unlock()
	path := filepath.Join(s.msgDir, name(mid, msgSuffix))
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Message{}, nil, fmt.Errorf("getting MID %d: %w", mid, ErrNotFound)
	}
	if err != nil {
		return Message{}, nil, fmt.Errorf("opening message %s: %w", path, err)
	}
	s.idxMu.Lock()
	known := s.index[mid]
	s.idxMu.Unlock()
	if known != nil { // the header is known: the body is all that is read
		return known.msg.clone(), sectionReadCloser{io.NewSectionReader(f, known.off, known.msg.Size), f}, nil
	}
	m, off, err := readHeader(f, path, mid)
	if err != nil {
		_ = f.Close()
		return Message{}, nil, err
	}
	return m, sectionReadCloser{io.NewSectionReader(f, off, m.Size), f}, nil
}

// List returns every spooled message, oldest (lowest MID) first.
func (s *Spool) List() ([]Message, error) {
	mids, err := s.IDs()
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(mids))
	for _, mid := range mids {
		m, err := s.Header(mid)
		if errors.Is(err, ErrNotFound) {
			continue // removed since IDs
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// IDs lists the MIDs in the spool, oldest first, from the index.
func (s *Spool) IDs() ([]MID, error) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	return slices.Clone(s.order), nil
}

// Header returns one message's envelope and size without its body: from
// the index, or from the file the first time for a message found by Open.
func (s *Spool) Header(mid MID) (Message, error) {
	s.idxMu.Lock()
	m, ok := s.index[mid]
	s.idxMu.Unlock()
	if !ok {
		return Message{}, fmt.Errorf("message %d: %w", mid, ErrNotFound)
	}
	if m != nil {
		return m.msg.clone(), nil
	}
	path := filepath.Join(s.msgDir, name(mid, msgSuffix))
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Message{}, fmt.Errorf("message %d: %w", mid, ErrNotFound)
	}
	if err != nil {
		return Message{}, fmt.Errorf("opening message %s: %w", path, err)
	}
	defer f.Close()
	read, off, err := readHeader(f, path, mid)
	if err != nil {
		return Message{}, err
	}
	s.idxMu.Lock()
	if _, still := s.index[mid]; still {
		s.index[mid] = &indexed{msg: read, off: off}
	}
	s.idxMu.Unlock()
	return read.clone(), nil
}

// clone is a copy of m that shares no slice with it.
func (m *Message) clone() Message {
	c := *m
	c.Envelope.To = slices.Clone(m.Envelope.To)
	return c
}

// Remove deletes a message durably: the directory is fsynced before Remove returns. Concurrent
// Removes and Puts share the directory fsync.
func (s *Spool) Remove(mid MID) error {
	o := &op{
		kind:  opRemove,
		mid:   mid,
		final: filepath.Join(s.msgDir, name(mid, msgSuffix)),
		res:   make(chan error, 1),
	}
	if err := s.enqueue(o); err != nil {
		return err
	}
	return <-o.res
}

// Close waits for queued Puts and Removes to commit, stops the committer, records the exact MID
// high-water mark and releases the spool. Later calls return ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	s.signal()
	<-s.done

	s.idMu.Lock()
	last := s.next - 1
	var err error
	if last < s.reserved {
		err = writeHWM(s.dir, last)
	}
	s.idMu.Unlock()
	return errors.Join(err, s.closeFiles())
}

func (s *Spool) closeFiles() error {
	var errs []error
	s.idxMu.Lock()
	for _, g := range s.segs {
		if !g.gone {
			g.gone = true
			errs = append(errs, g.f.Close())
		}
	}
	s.segs = nil
	s.idxMu.Unlock()
	if s.msgFD != nil {
		errs = append(errs, s.msgFD.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // releases the flock
	}
	return errors.Join(errs...)
}

func (s *Spool) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// allocate hands out the next MID, durably extending the reservation in mid.hwm first if needed.
func (s *Spool) allocate() (MID, error) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	if s.isClosed() { // Close may already have lowered mid.hwm
		return 0, ErrClosed
	}
	mid := s.next
	if mid > s.reserved {
		r := mid + midBlock - 1
		if err := writeHWM(s.dir, r); err != nil {
			return 0, err
		}
		s.reserved = r
	}
	s.next++
	return mid, nil
}

func (s *Spool) enqueue(o *op) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.pending = append(s.pending, o)
	s.mu.Unlock()
	s.signal()
	return nil
}

func (s *Spool) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run is the committer: one round at a time, each taking everything queued so far.
func (s *Spool) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		batch, closed := s.pending, s.closed
		s.pending = nil
		s.mu.Unlock()
		if len(batch) > 0 {
			s.commit(batch)
			continue
		}
		if closed {
			return
		}
		<-s.kick
	}
}

// commit runs one round. Messages and removals of messages in segments
// become records appended to the current segment with one write and one
// fdatasync; large messages in their own files are fsynced (in parallel),
// renamed into msg/, removed ones unlinked, and msg/ fsynced once.
func (s *Spool) commit(batch []*op) {
	var segPuts, filePuts, segRemoves, fileRemoves, unknown []*op
	errs := make(map[*op]error)
	s.idxMu.Lock()
	for _, o := range batch {
		if !o.state.CompareAndSwap(opQueued, opClaimed) {
			continue // its Put gave up and cleans up itself
		}
		switch {
		case o.kind == opPut && o.rec != nil:
			segPuts = append(segPuts, o)
		case o.kind == opPut:
			filePuts = append(filePuts, o)
		default:
			m, ok := s.index[o.mid]
			switch {
			case !ok:
				errs[o] = fmt.Errorf("removing MID %d: %w", o.mid, ErrNotFound)
				unknown = append(unknown, o)
			case m != nil && m.seg != nil:
				segRemoves = append(segRemoves, o)
			default:
				fileRemoves = append(fileRemoves, o)
			}
		}
	}
	s.idxMu.Unlock()

	segOK := s.appendRound(segPuts, segRemoves, errs)
	renamed := s.commitFiles(filePuts, errs)
	var removed []*op
	for _, o := range fileRemoves {
		err := os.Remove(o.final)
		switch {
		case errors.Is(err, os.ErrNotExist):
			errs[o] = fmt.Errorf("removing MID %d: %w", o.mid, ErrNotFound)
		case err != nil:
			errs[o] = fmt.Errorf("removing message %s: %w", o.final, err)
		default:
			removed = append(removed, o)
		}
	}
	if len(renamed)+len(removed) > 0 {
		if err := s.msgFD.Sync(); err != nil {
			err = fmt.Errorf("syncing spool directory %s: %w; check the spool's disk", s.msgDir, err)
			// The renames may not survive a crash, so refuse the messages: the client will retry.
			// Undo them so that a retry cannot duplicate a message that did survive.
			for _, o := range renamed {
				_ = os.Remove(o.final)
				errs[o] = err
			}
			renamed = nil
			for _, o := range removed {
				errs[o] = err
			}
			removed = nil
		}
	}

	s.idxMu.Lock()
	if segOK {
		for _, o := range segPuts {
			s.indexPut(o)
			o.msg.seg.live++
		}
		for _, o := range segRemoves {
			s.index[o.mid].seg.live--
			s.unindex(o.mid)
		}
	}
	for _, o := range renamed {
		s.indexPut(o)
	}
	for _, o := range removed {
		s.unindex(o.mid)
	}
	s.count.Store(int64(len(s.index)))
	s.idxMu.Unlock()
	s.rounds.Add(1)
	if segOK {
		s.committed.Add(uint64(len(segPuts)))
	}
	s.committed.Add(uint64(len(renamed)))
	for _, list := range [][]*op{segPuts, filePuts, segRemoves, fileRemoves, unknown} {
		for _, o := range list {
			o.res <- errs[o]
		}
	}
	s.collect()
	s.compact()
}

// indexPut records a committed Put; idxMu is held.
func (s *Spool) indexPut(o *op) {
	s.index[o.mid] = o.msg
	if n := len(s.order); n == 0 || s.order[n-1] < o.mid {
		s.order = append(s.order, o.mid) // the usual case: MIDs commit in about their order
	} else if i, found := slices.BinarySearch(s.order, o.mid); !found {
		s.order = slices.Insert(s.order, i, o.mid)
	}
}

// unindex forgets a removed message; idxMu is held.
func (s *Spool) unindex(mid MID) {
	delete(s.index, mid)
	if i, found := slices.BinarySearch(s.order, mid); found {
		s.order = slices.Delete(s.order, i, i+1)
	}
}

// appendRound writes the round's segment records (puts, then dels) with one
// append and sets where each message now is. It reports whether they are
// durable; if not, every one of them gets the error.
func (s *Spool) appendRound(puts, removes []*op, errs map[*op]error) bool {
	if len(puts)+len(removes) == 0 {
		return false
	}
	need := 0
	for _, o := range puts {
		need += len(o.rec)
	}
	g, err := s.activeSegment(int64(need + recPrefix*len(removes)))
	if err == nil {
		buf := s.wbuf[:0]
		for _, o := range puts {
			recOff := g.size + int64(len(buf))
			o.msg.seg, o.msg.recOff = g, recOff
			o.msg.off += recOff + recPrefix // it held the header length
			o.msg.msg.Path = recPath(g.path, recOff)
			buf = append(buf, o.rec...)
		}
		for _, o := range removes {
			buf = appendDel(buf, o.mid)
		}
		err = g.appendRecords(buf)
		if cap(buf) <= 4<<20 {
			s.wbuf = buf[:0]
		} else {
			s.wbuf = nil
		}
	}
	if err != nil {
		s.rotate = true // the segment's tail may be damaged: the next records go into a new one
		for _, o := range puts {
			errs[o] = err
		}
		for _, o := range removes {
			errs[o] = err
		}
		return false
	}
	return true
}

// activeSegment is the segment the next need bytes of records go into: the
// newest one, or a new one when that is full or damaged.
func (s *Spool) activeSegment(need int64) (*segment, error) {
	var last *segment
	if n := len(s.segs); n > 0 {
		last = s.segs[n-1]
	}
	if last != nil && !s.rotate && (last.size == 0 || last.size+need <= s.segMax) {
		return last, nil
	}
	seq := uint64(1)
	if last != nil {
		seq = last.seq + 1
	}
	g, err := createSegment(s.segDir, seq)
	if err != nil {
		return nil, err
	}
	s.idxMu.Lock()
	s.segs = append(s.segs, g)
	s.idxMu.Unlock()
	s.rotate = false
	return g, nil
}

// commitFiles makes the round's large messages durable: fsync in parallel
// (concurrent fsyncs let the file system share one journal commit), then
// rename into msg/. It returns those renamed; the others have their error.
func (s *Spool) commitFiles(puts []*op, errs map[*op]error) []*op {
	syncErrs := make([]error, len(puts))
	if len(puts) == 1 {
		syncErrs[0] = puts[0].f.Sync()
	} else {
		var wg sync.WaitGroup
		for i, o := range puts {
			wg.Go(func() { syncErrs[i] = o.f.Sync() })
		}
		wg.Wait()
	}
	var renamed []*op
	for i, o := range puts {
		err := syncErrs[i]
		if err != nil {
			err = fmt.Errorf("syncing spool file %s: %w; check the spool's disk", o.tmp, err)
		}
		if cerr := o.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing spool file %s: %w; check the spool's disk", o.tmp, cerr)
		}
		if err == nil {
			// syscall.Rename: os.Rename first stats the target to refuse a directory, and a
			// spool file's target is never one (one syscall per message saved).
			if rerr := syscall.Rename(o.tmp, o.final); rerr != nil {
				err = fmt.Errorf("moving %s into the spool: %w", o.tmp, rerr)
			}
		}
		if err != nil {
			_ = os.Remove(o.tmp)
			errs[o] = err
			continue
		}
		renamed = append(renamed, o)
	}
	return renamed
}

// collect unlinks the oldest segments while no live message is left in
// them. Only the oldest may go: a segment's del records name messages in it
// or in older segments, so once those are gone nothing depends on it. Each
// unlink is made durable before the next, so a crash can never bring back
// an old segment whose del records went with a newer one.
func (s *Spool) collect() {
	for {
		s.idxMu.Lock()
		if len(s.segs) < 2 || s.segs[0].live > 0 {
			s.idxMu.Unlock()
			return
		}
		g := s.segs[0]
		s.idxMu.Unlock()
		if err := os.Remove(g.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return // kept, tried again after the next round
		}
		if err := syncDir(s.segDir); err != nil {
			return
		}
		s.idxMu.Lock()
		s.segs = s.segs[1:]
		g.gone = true
		if g.refs == 0 {
			_ = g.f.Close()
		}
		s.idxMu.Unlock()
	}
}

// compactAfter is how many segments may exist before the live messages of
// the oldest are copied forward, so that a few deferred messages do not
// keep whole segments of delivered mail on disk.
const compactAfter = 4

// compact copies the live messages of the oldest segment into the newest
// (their records as they are, checked again on the way), then collects it.
// Replay takes a later put record of a MID over an earlier one.
func (s *Spool) compact() {
	s.idxMu.Lock()
	if len(s.segs) <= compactAfter {
		s.idxMu.Unlock()
		return
	}
	old := s.segs[0]
	var moving []*indexed
	for _, mid := range s.order {
		if m := s.index[mid]; m != nil && m.seg == old {
			moving = append(moving, m)
		}
	}
	s.idxMu.Unlock()
	var buf []byte
	var moved []*indexed
	var offs []int64
	for _, m := range moving {
		n := m.off - m.recOff + m.msg.Size
		rec := make([]byte, n)
		if _, err := old.f.ReadAt(rec, m.recOff); err != nil {
			continue
		}
		if end, err := scanSegment(bytes.NewReader(rec), n, false, func(*record) error { return nil }); err != nil || end != n {
			continue // never copy damage forward; the message stays where it is
		}
		offs = append(offs, int64(len(buf)))
		buf = append(buf, rec...)
		moved = append(moved, m)
	}
	if len(moved) == 0 {
		return
	}
	g, err := s.activeSegment(int64(len(buf)))
	if err != nil {
		return
	}
	base := g.size
	if err := g.appendRecords(buf); err != nil {
		s.rotate = true
		return
	}
	s.idxMu.Lock()
	for i, m := range moved {
		recOff := base + offs[i]
		c := &indexed{msg: m.msg, off: recOff + (m.off - m.recOff), seg: g, recOff: recOff}
		c.msg.Path = recPath(g.path, recOff)
		s.index[m.msg.MID] = c
		old.live--
		g.live++
	}
	s.idxMu.Unlock()
	s.collect()
}

// recPath names a record for error messages and Message.Path.
func recPath(segPath string, off int64) string { return fmt.Sprintf("%s@%d", segPath, off) }

func name(mid MID, suffix string) string { return fmt.Sprintf("%020d%s", uint64(mid), suffix) }

func parseName(n, suffix string) (MID, bool) {
	digits, ok := strings.CutSuffix(n, suffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || v == 0 {
		return 0, false
	}
	return MID(v), true
}

func encodeHeader(mid MID, env Envelope) ([]byte, error) {
	// JSON would turn invalid UTF-8 into U+FFFD: an address would change
	// between acceptance and delivery. The SMTP side refuses such bytes;
	// this makes sure no caller gets them stored changed.
	for _, s := range append([]string{env.From, env.HELO, env.Listener, env.ClientAddr}, env.To...) {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("envelope of MID %d: %q is not valid UTF-8, so it cannot be stored as it is", mid, s)
		}
	}
	b, err := json.Marshal(header{
		V: headerV1, MID: mid, From: env.From, To: env.To, ICID: env.ICID, Listener: env.Listener,
		ClientAddr: env.ClientAddr, HELO: env.HELO, TLS: env.TLS, Received: env.Received, UTF8: env.UTF8,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding envelope of MID %d: %w", mid, err)
	}
	return append(b, '\n'), nil // json.Marshal escapes control characters: this is one line
}

// readHeader reads the header line of a message file and returns the message and the body offset.
func readHeader(f *os.File, path string, mid MID) (Message, int64, error) {
	br := bufio.NewReader(io.LimitReader(f, maxHeader))
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		var full []byte
		full = append(full, line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = br.ReadSlice('\n')
			full = append(full, line...)
		}
		line = full
	}
	if err != nil {
		return Message{}, 0, fmt.Errorf("reading header of message %s: %w; move the file out of the spool", path, err)
	}
	m, err := decodeHeader(line, path, mid)
	if err != nil {
		return Message{}, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return Message{}, 0, fmt.Errorf("reading message %s: %w", path, err)
	}
	off := int64(len(line))
	m.Size = fi.Size() - off
	return *m, off, nil
}

// decodeHeader decodes the header line of the message file at path, which
// must be MID mid's; Size is left for the caller.
func decodeHeader(line []byte, path string, mid MID) (*Message, error) {
	var h header
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, fmt.Errorf("decoding header of message %s: %w; move the file out of the spool", path, err)
	}
	if h.V != headerV1 || h.MID != mid {
		return nil, fmt.Errorf("message %s has header version %d for MID %d, want version %d for MID %d; move the file out of the spool",
			path, h.V, h.MID, headerV1, mid)
	}
	return &Message{
		MID: mid,
		Envelope: Envelope{
			From: h.From, To: h.To, ICID: h.ICID, Listener: h.Listener, ClientAddr: h.ClientAddr,
			HELO: h.HELO, TLS: h.TLS, Received: h.Received, UTF8: h.UTF8,
		},
		Path: path,
	}, nil
}

func readHWM(path string) (MID, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading MID high-water mark %s: %w", path, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing MID high-water mark %s: %w; write the highest MID ever used into it", path, err)
	}
	return MID(v), nil
}

// writeHWM atomically replaces mid.hwm: temp file, fsync, rename, fsync the directory.
func writeHWM(dir string, mid MID) (err error) {
	path := filepath.Join(dir, hwmName)
	f, err := os.CreateTemp(dir, "."+hwmName+".tmp-")
	if err != nil {
		return fmt.Errorf("writing MID high-water mark %s: %w; check free space and permissions of the spool", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.WriteString(strconv.FormatUint(uint64(mid), 10) + "\n"); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing MID high-water mark %s: %w; check free space and permissions of the spool", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w; check the spool's disk", dir, err)
	}
	return nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// segReader reads one message's body from its segment, which stays open
// (even if compaction unlinks it) until the reader is closed.
type segReader struct {
	*io.SectionReader
	s      *Spool
	g      *segment
	closed bool
}

func (r *segReader) Close() error {
	r.s.idxMu.Lock()
	defer r.s.idxMu.Unlock()
	if !r.closed {
		r.closed = true
		r.g.release()
	}
	return nil
}

type sectionReadCloser struct {
	*io.SectionReader
	io.Closer
}
