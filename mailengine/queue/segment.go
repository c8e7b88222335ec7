package queue

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Segment files: seg/<seq>.seg, append-only. Each holds records back to back:
//
//	offset size
//	0      4    magic "RBQ1"
//	4      1    kind: 1 put (a message), 2 del (the message with this MID is gone)
//	5      8    MID, little-endian
//	13     4    header length h (0 for del), little-endian
//	17     8    body length b (0 for del), little-endian
//	25     4    CRC-32C (Castagnoli) of bytes 0–24, the header and the body
//	29     h    the envelope header: one JSON line, as in msg/ files
//	29+h   b    the raw message
//
// A put record's message is live until a del record for its MID follows, in
// the same segment or a later one; a later put for the same MID (a message
// compaction copied forward) supersedes the earlier one. Reading stops at
// the first record that is incomplete or fails its checks: after a crash
// that is the torn tail of the segment being written, which Open cuts off.

const (
	segDirName  = "seg"
	segSuffix   = ".seg"
	recMagic    = "RBQ1"
	recPrefix   = 29
	recPut      = 1
	recDel      = 2
	maxRecBody  = 1 << 40 // a body length above this is damage, not mail
	segDefault  = 64 << 20
	inlineLimit = 1 << 20 // bodies up to this size go into segments; larger ones get their own file
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadRecord marks where a segment's valid records end.
var errBadRecord = errors.New("bad record")

// record is one decoded segment record.
type record struct {
	kind   byte
	mid    MID
	off    int64 // where the record starts in its segment
	header []byte
	body   []byte // only when the scan was asked to keep bodies
	blen   int64
}

// bodyOff is where the record's body starts in its segment.
func (r *record) bodyOff() int64 { return r.off + recPrefix + int64(len(r.header)) }

// recLen is the record's length on disk.
func (r *record) recLen() int64 { return recPrefix + int64(len(r.header)) + r.blen }

// putPrefix fills the prefix of a put record in rec[:recPrefix]; rec holds
// the prefix space, then the header, then the body.
func putPrefix(rec []byte, mid MID, hlen int) {
	copy(rec, recMagic)
	rec[4] = recPut
	binary.LittleEndian.PutUint64(rec[5:], uint64(mid))
	binary.LittleEndian.PutUint32(rec[13:], uint32(hlen))
	binary.LittleEndian.PutUint64(rec[17:], uint64(len(rec)-recPrefix-hlen))
	crc := crc32.Update(0, castagnoli, rec[:25])
	crc = crc32.Update(crc, castagnoli, rec[recPrefix:])
	binary.LittleEndian.PutUint32(rec[25:], crc)
}

// appendDel appends a del record for mid to b.
func appendDel(b []byte, mid MID) []byte {
	var rec [recPrefix]byte
	copy(rec[:], recMagic)
	rec[4] = recDel
	binary.LittleEndian.PutUint64(rec[5:], uint64(mid))
	binary.LittleEndian.PutUint32(rec[25:], crc32.Checksum(rec[:25], castagnoli))
	return append(b, rec[:]...)
}

// scanSegment reads the records of one segment of the given size in order
// and calls fn for each valid one. It returns the offset where the valid
// records end and, when that is before size, why (wrapping errBadRecord).
// keepBodies makes the records carry their bodies (for Inspect); replay only
// checks them.
func scanSegment(r io.ReaderAt, size int64, keepBodies bool, fn func(*record) error) (int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), copyBufSize)
	var off int64
	var prefix [recPrefix]byte
	for off < size {
		bad := func(format string, args ...any) (int64, error) {
			return off, fmt.Errorf("%w at offset %d: %s", errBadRecord, off, fmt.Sprintf(format, args...))
		}
		if size-off < recPrefix {
			return bad("%d bytes left, a record needs at least %d", size-off, recPrefix)
		}
		if _, err := io.ReadFull(br, prefix[:]); err != nil {
			return off, fmt.Errorf("reading segment at offset %d: %w", off, err)
		}
		if string(prefix[:4]) != recMagic {
			return bad("no record marker")
		}
		rec := &record{kind: prefix[4], mid: MID(binary.LittleEndian.Uint64(prefix[5:])), off: off}
		hlen := int64(binary.LittleEndian.Uint32(prefix[13:]))
		blen := int64(binary.LittleEndian.Uint64(prefix[17:]))
		switch {
		case rec.mid == 0:
			return bad("MID 0")
		case rec.kind == recDel && (hlen != 0 || blen != 0):
			return bad("a del record with a header or body")
		case rec.kind == recPut && (hlen < 2 || hlen > maxHeader):
			return bad("header length %d", hlen)
		case rec.kind != recPut && rec.kind != recDel:
			return bad("record kind %d", rec.kind)
		case blen < 0 || blen > maxRecBody || recPrefix+hlen+blen > size-off:
			return bad("body length %d runs past the end of the segment", blen)
		}
		crc := crc32.Update(0, castagnoli, prefix[:25])
		if hlen > 0 {
			rec.header = make([]byte, hlen)
			if _, err := io.ReadFull(br, rec.header); err != nil {
				return off, fmt.Errorf("reading segment at offset %d: %w", off, err)
			}
			crc = crc32.Update(crc, castagnoli, rec.header)
		}
		rec.blen = blen
		sum := &crcWriter{crc: crc}
		var body io.Writer = sum
		var kept []byte
		if keepBodies && blen > 0 {
			kept = make([]byte, 0, blen)
			body = io.MultiWriter(sum, (*sliceWriter)(&kept))
		}
		if _, err := io.CopyN(body, br, blen); err != nil {
			return off, fmt.Errorf("reading segment at offset %d: %w", off, err)
		}
		if sum.crc != binary.LittleEndian.Uint32(prefix[25:]) {
			return bad("checksum mismatch")
		}
		rec.body = kept
		if rec.kind == recPut && (len(rec.header) == 0 || rec.header[len(rec.header)-1] != '\n') {
			return bad("the header is not one line")
		}
		if err := fn(rec); err != nil {
			return off, err
		}
		off += rec.recLen()
	}
	return off, nil
}

type sliceWriter []byte

func (w *sliceWriter) Write(p []byte) (int, error) { *w = append(*w, p...); return len(p), nil }

// crcWriter keeps a running CRC-32C of what is written to it.
type crcWriter struct{ crc uint32 }

func (w *crcWriter) Write(p []byte) (int, error) {
	w.crc = crc32.Update(w.crc, castagnoli, p)
	return len(p), nil
}

// segment is one segment file of an open spool.
type segment struct {
	seq  uint64
	path string
	f    *os.File
	size int64 // the end of its valid records: where the next one goes
	live int   // put records whose message is indexed here
	refs int   // readers from Get still open
	gone bool  // unlinked; f is closed when refs reach 0
}

func segName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, segSuffix) }

func parseSegName(n string) (uint64, bool) {
	digits, ok := strings.CutSuffix(n, segSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	return v, err == nil && v > 0
}

// createSegment makes a new empty segment file and makes its name durable.
func createSegment(dir string, seq uint64) (*segment, error) {
	path := filepath.Join(dir, segName(seq))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating spool segment %s: %w; check free space and permissions of the spool", path, err)
	}
	if err := syncDir(dir); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	return &segment{seq: seq, path: path, f: f}, nil
}

// appendRecords writes b at the segment's end and makes it durable with one
// fdatasync. On failure it cuts the segment back so that nothing of b stays.
func (g *segment) appendRecords(b []byte) error {
	_, err := g.f.WriteAt(b, g.size)
	if err == nil {
		err = fdatasync(g.f)
	}
	if err != nil {
		if terr := g.f.Truncate(g.size); terr == nil {
			_ = fdatasync(g.f)
		}
		return fmt.Errorf("writing spool segment %s: %w; check free space and the spool's disk", g.path, err)
	}
	g.size += int64(len(b))
	return nil
}

func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// release drops one reader's hold on g.
func (g *segment) release() {
	g.refs--
	if g.gone && g.refs == 0 {
		_ = g.f.Close()
	}
}
