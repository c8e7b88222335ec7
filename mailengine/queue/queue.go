// Package queue is the durable message spool: each accepted message is on disk, fsynced with its
// directory, before Put returns, and concurrent Puts share their fsyncs (group commit).
//
// Layout of a spool directory:
//
//	lock            flock(2)ed while a Spool is open, so two processes never share a spool
//	mid.hwm         MID high-water mark: every MID at or below it may have been handed out
//	tmp/<mid>.tmp   a Put in progress; removed by Open after a crash
//	msg/<mid>.msg   an accepted message: one JSON header line (the envelope), then the raw message
//
// A Put streams the body into tmp/, then hands the open file to the committer goroutine. Each commit
// round takes every Put and Remove queued since the previous round, fsyncs all the new files (in
// parallel, so the file system can merge the journal commits), renames them into msg/, applies the
// removals, fsyncs msg/ once and then wakes all callers. A lone Put never waits for a timer: its round
// starts as soon as the committer is idle, so its latency is one file fsync plus one directory fsync.
//
// The spool keeps an index of its messages in memory (it is the only writer: the lock), so IDs,
// Count and Header cost no directory read and no file open: a Put records its message once its
// round has committed, a Remove drops it once the removal is durable. Messages found by Open are
// indexed by MID and their headers read from disk on first use.
//
// MIDs are never reused. Before handing out a MID beyond the persisted high-water mark, the spool
// durably reserves the next block of midBlock MIDs in mid.hwm; Close lowers the mark to the last MID
// actually used, so after a clean restart MIDs continue without a gap, and after a crash with a gap
// of at most midBlock.
package queue

import (
	"bufio"
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

	rounds    atomic.Uint64 // commit rounds run, for tests and benchmarks
	committed atomic.Uint64 // Puts committed
}

// indexed is what the index knows of a message: its header and where in
// its file the body starts.
type indexed struct {
	msg Message
	off int64
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
	f     *os.File // opPut: the temp file, written and flushed but not yet synced
	tmp   string   // opPut
	final string
	msg   *indexed // opPut: what Header returns once committed
	state atomic.Int32
	res   chan error // capacity 1
}

// Open opens the spool in dir, creating it with mode 0700 if needed. It removes the temp files of
// Puts that never finished and continues the MID sequence after both the highest MID on disk and the
// persisted high-water mark.
func Open(dir string) (s *Spool, err error) {
	s = &Spool{
		dir:    dir,
		msgDir: filepath.Join(dir, msgDirName),
		tmpDir: filepath.Join(dir, tmpDirName),
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	for _, d := range []string{dir, s.msgDir, s.tmpDir} {
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
	for _, e := range msgs {
		if mid, ok := parseName(e.Name(), msgSuffix); ok {
			maxMID = max(maxMID, mid)
			s.index[mid] = nil
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
	for _, d := range []string{s.tmpDir, dir} {
		if err := syncDir(d); err != nil {
			return nil, err
		}
	}
	_ = syncDir(filepath.Dir(filepath.Clean(dir)))
	if s.msgFD, err = os.Open(s.msgDir); err != nil {
		return nil, fmt.Errorf("opening spool directory %s: %w", s.msgDir, err)
	}
	go s.run()
	return s, nil
}

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
func (s *Spool) PutReserved(ctx context.Context, mid MID, env Envelope, body io.Reader, maxBytes int64) (_ MID, _ int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	if s.isClosed() {
		return 0, 0, ErrClosed
	}
	o := &op{
		kind:  opPut,
		mid:   mid,
		tmp:   filepath.Join(s.tmpDir, name(mid, tmpSuffix)),
		final: filepath.Join(s.msgDir, name(mid, msgSuffix)),
		res:   make(chan error, 1),
	}
	o.f, err = os.OpenFile(o.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, 0, fmt.Errorf("creating spool file %s: %w; check free space and permissions of the spool", o.tmp, err)
	}
	owned := true // this goroutine still has to clean up o.f and o.tmp on failure
	defer func() {
		if owned && err != nil {
			_ = o.f.Close()
			_ = os.Remove(o.tmp)
		}
	}()

	hdr, err := encodeHeader(mid, env)
	if err != nil {
		return 0, 0, err
	}
	// What Header reads back from the file: the envelope as its JSON line decodes.
	decoded, err := decodeHeader(hdr, o.final, mid)
	if err != nil {
		return 0, 0, err
	}
	o.msg = &indexed{msg: *decoded, off: int64(len(hdr))}
	w := bufio.NewWriterSize(o.f, copyBufSize)
	if _, err := w.Write(hdr); err != nil {
		return 0, 0, fmt.Errorf("writing spool file %s: %w", o.tmp, err)
	}
	src := io.Reader(ctxReader{ctx, body})
	if maxBytes > 0 {
		src = io.LimitReader(src, maxBytes+1)
	}
	size, err := io.Copy(w, src)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return 0, 0, ctxErr
		}
		return 0, 0, fmt.Errorf("spooling message body to %s: %w", o.tmp, err)
	}
	if maxBytes > 0 && size > maxBytes {
		return 0, 0, ErrTooLarge
	}
	o.msg.msg.Size = size
	if err := w.Flush(); err != nil {
		return 0, 0, fmt.Errorf("writing spool file %s: %w; check free space in the spool", o.tmp, err)
	}

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

// Get returns a spooled message and a reader for its raw content, which the caller must close.
func (s *Spool) Get(mid MID) (Message, io.ReadCloser, error) {
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

// commit runs one round: fsync new files, rename them into msg/, unlink removed ones, fsync msg/.
func (s *Spool) commit(batch []*op) {
	var puts, removes []*op
	for _, o := range batch {
		if !o.state.CompareAndSwap(opQueued, opClaimed) {
			continue // its Put gave up and cleans up itself
		}
		if o.kind == opPut {
			puts = append(puts, o)
		} else {
			removes = append(removes, o)
		}
	}
	errs := make(map[*op]error)

	// Fsync in parallel: concurrent fsyncs let the file system share one journal commit.
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
	var removed []*op
	for _, o := range removes {
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
	for _, o := range renamed {
		s.index[o.mid] = o.msg
		if n := len(s.order); n == 0 || s.order[n-1] < o.mid {
			s.order = append(s.order, o.mid) // the usual case: MIDs commit in about their order
		} else if i, found := slices.BinarySearch(s.order, o.mid); !found {
			s.order = slices.Insert(s.order, i, o.mid)
		}
	}
	for _, o := range removed {
		delete(s.index, o.mid)
		if i, found := slices.BinarySearch(s.order, o.mid); found {
			s.order = slices.Delete(s.order, i, i+1)
		}
	}
	s.count.Store(int64(len(s.index)))
	s.idxMu.Unlock()
	s.rounds.Add(1)
	s.committed.Add(uint64(len(renamed)))
	for _, o := range puts {
		o.res <- errs[o]
	}
	for _, o := range removes {
		o.res <- errs[o]
	}
}

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

type sectionReadCloser struct {
	*io.SectionReader
	io.Closer
}
