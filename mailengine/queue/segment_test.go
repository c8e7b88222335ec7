package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// segFiles lists the segment files of the spool in dir.
func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, segDirName, "*"+segSuffix))
	require.NoError(t, err)
	return files
}

// A deferred message must not keep segments of delivered mail on disk:
// while mail flows through, old segments are compacted (the live message
// copied forward) and collected, and the message survives a restart once.
func TestSegmentsCompactedAndCollected(t *testing.T) {
	dir := t.TempDir()
	s := openForm(t, dir, 8<<10, inlineLimit)
	ctx := context.Background()
	deferred, _, err := s.Put(ctx, testEnvelope(), strings.NewReader("deferred body"), 0)
	require.NoError(t, err)
	first, err := s.Header(deferred)
	require.NoError(t, err)
	body := strings.Repeat("d", 1000)
	most := 0
	for range 300 {
		mid, _, err := s.Put(ctx, testEnvelope(), strings.NewReader(body), 0)
		require.NoError(t, err)
		require.NoError(t, s.Remove(mid))
		most = max(most, len(segFiles(t, dir)))
	}
	// 300 messages of about 1.3 KiB with their records are ~50 segments of 8 KiB.
	assert.LessOrEqual(t, most, compactAfter+2, "segments must be collected as their mail is delivered")
	now, err := s.Header(deferred)
	require.NoError(t, err)
	assert.NotEqual(t, diskPath(first.Path), diskPath(now.Path), "the deferred message was copied forward")
	_, got := readBody(t, s, deferred)
	assert.Equal(t, "deferred body", string(got))
	assert.Equal(t, 1, s.Count())
	require.NoError(t, s.Close())

	s = openForm(t, dir, 8<<10, inlineLimit)
	defer s.Close()
	assert.Empty(t, s.Warnings())
	ids, err := s.IDs()
	require.NoError(t, err)
	assert.Equal(t, []MID{deferred}, ids, "after the restart only the deferred message is there, once")
	_, got = readBody(t, s, deferred)
	assert.Equal(t, "deferred body", string(got))
}

// A reader keeps its segment: compaction may unlink the file under it.
func TestReaderOutlivesCollectedSegment(t *testing.T) {
	dir := t.TempDir()
	s := openForm(t, dir, 4<<10, inlineLimit)
	defer s.Close()
	ctx := context.Background()
	mid, _, err := s.Put(ctx, testEnvelope(), strings.NewReader("read me later"), 0)
	require.NoError(t, err)
	_, rc, err := s.Get(mid)
	require.NoError(t, err)
	defer rc.Close()
	require.NoError(t, s.Remove(mid))
	for range 20 { // fill and collect the segment the reader points into
		m, _, err := s.Put(ctx, testEnvelope(), strings.NewReader(strings.Repeat("f", 1500)), 0)
		require.NoError(t, err)
		require.NoError(t, s.Remove(m))
	}
	_, err = os.Stat(filepath.Join(dir, segDirName, segName(1)))
	require.ErrorIs(t, err, os.ErrNotExist, "the first segment is collected")
	b := make([]byte, 64)
	n, _ := rc.Read(b)
	assert.Equal(t, "read me later", string(b[:n]))
}

// A crash can leave the newest segment ending in part of a record (a
// SIGKILL stops a write between pages): Open cuts it off, says so, keeps
// every whole record, and the spool goes on appending after it.
func TestTornTailCutOff(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	var mids []MID
	for i := range 3 {
		mid, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader(fmt.Sprintf("message %d", i)), 0)
		require.NoError(t, err)
		mids = append(mids, mid)
	}
	require.NoError(t, s.Close())
	seg := segFiles(t, dir)
	require.Len(t, seg, 1)
	whole, err := os.Stat(seg[0])
	require.NoError(t, err)
	rec := testRecord(t, 99, "never acknowledged")
	for _, cut := range []int{1, recPrefix - 1, recPrefix + 5, len(rec) - 1} {
		t.Run(fmt.Sprintf("cut at %d of %d", cut, len(rec)), func(t *testing.T) {
			f, err := os.OpenFile(seg[0], os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.Write(rec[:cut])
			require.NoError(t, err)
			require.NoError(t, f.Close())

			s := openSpool(t, dir)
			warnings := s.Warnings()
			require.Len(t, warnings, 1)
			assert.Contains(t, warnings[0], "ended in an incomplete write")
			assert.Contains(t, warnings[0], fmt.Sprintf("%d bytes after offset %d cut off", cut, whole.Size()))
			ids, err := s.IDs()
			require.NoError(t, err)
			assert.Equal(t, mids, ids)
			fi, err := os.Stat(seg[0])
			require.NoError(t, err)
			assert.Equal(t, whole.Size(), fi.Size(), "the torn tail is gone from the file")
			require.NoError(t, s.Close())
		})
	}
	s = openSpool(t, dir)
	defer s.Close()
	assert.Empty(t, s.Warnings())
	mid, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader("after the cut"), 0)
	require.NoError(t, err)
	assert.Greater(t, mid, mids[2])
	_, got := readBody(t, s, mid)
	assert.Equal(t, "after the cut", string(got))
}

// Damage in an older segment (a bad disk, not a crash) ends that segment's
// valid records there: what follows in it is not taken as mail, the later
// segments are read, and the operator is told.
func TestDamagedSegmentIsReported(t *testing.T) {
	dir := t.TempDir()
	s := openForm(t, dir, 2<<10, inlineLimit)
	body := strings.Repeat("m", 700)
	var mids []MID
	for range 6 {
		mid, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader(body), 0)
		require.NoError(t, err)
		mids = append(mids, mid)
	}
	second, err := s.Header(mids[1])
	require.NoError(t, err)
	last, err := s.Header(mids[5])
	require.NoError(t, err)
	bodyOff := s.index[mids[1]].off
	require.NoError(t, s.Close())
	require.NotEqual(t, diskPath(second.Path), diskPath(last.Path), "the messages span segments")

	// Flip one body byte of the second message.
	f, err := os.OpenFile(diskPath(second.Path), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{'X'}, bodyOff+10)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s = openForm(t, dir, 2<<10, inlineLimit)
	defer s.Close()
	warnings := s.Warnings()
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "is damaged")
	assert.Contains(t, warnings[0], "checksum mismatch")
	ids, err := s.IDs()
	require.NoError(t, err)
	assert.NotContains(t, ids, mids[1], "a damaged record is never mail")
	assert.Contains(t, ids, mids[0])
	assert.Contains(t, ids, mids[5], "later segments are still read")
	for _, mid := range ids {
		_, got := readBody(t, s, mid)
		assert.Equal(t, body, string(got))
	}
}

// testRecord is a whole put record for mid, built by hand (not by the
// code under test) from the format in segment.go.
func testRecord(t testing.TB, mid MID, body string) []byte {
	t.Helper()
	hdr, err := encodeHeader(mid, testEnvelope())
	require.NoError(t, err)
	rec := make([]byte, recPrefix, recPrefix+len(hdr)+len(body))
	copy(rec, "RBQ1")
	rec[4] = 1
	binary.LittleEndian.PutUint64(rec[5:], uint64(mid))
	binary.LittleEndian.PutUint32(rec[13:], uint32(len(hdr)))
	binary.LittleEndian.PutUint64(rec[17:], uint64(len(body)))
	rec = append(append(rec, hdr...), body...)
	tab := crc32.MakeTable(crc32.Castagnoli)
	sum := crc32.Update(crc32.Checksum(rec[:25], tab), tab, rec[recPrefix:])
	binary.LittleEndian.PutUint32(rec[25:], sum)
	return rec
}

// The record format is the documented one: a record the test builds by
// hand is read back as the message, and one the spool writes is byte for
// byte the hand-built one.
func TestRecordFormat(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	mid, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader("the body"), 0)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	data, err := os.ReadFile(filepath.Join(dir, segDirName, segName(1)))
	require.NoError(t, err)
	assert.Equal(t, testRecord(t, mid, "the body"), data)

	require.NoError(t, os.WriteFile(filepath.Join(dir, segDirName, segName(2)), testRecord(t, 500, "hand made"), 0o600))
	s = openSpool(t, dir)
	defer s.Close()
	_, got := readBody(t, s, 500)
	assert.Equal(t, "hand made", string(got))
	next, _, err := s.Put(context.Background(), testEnvelope(), strings.NewReader("x"), 0)
	require.NoError(t, err)
	assert.Greater(t, next, MID(500), "MIDs continue after the highest one in the segments")
}

// FuzzSegment reads the fuzz input as a segment file. The reader must not
// crash, must stop at the first record that is not whole and checksummed,
// and may hand out as mail only such records: each is checked here
// independently of scanSegment. Open replays segments with this reader;
// TestTornTailCutOff and TestDamagedSegmentIsReported cover what it does
// with the damage it reports.
func FuzzSegment(f *testing.F) {
	var valid []byte
	valid = append(valid, testRecord(f, 1, "first")...)
	valid = append(valid, testRecord(f, 2, "second\r\n.\r\n")...)
	valid = appendDel(valid, 1)
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(testRecord(f, 7, ""))
	f.Add([]byte("RBQ1"))
	f.Add([]byte{})
	tab := crc32.MakeTable(crc32.Castagnoli)
	f.Fuzz(func(t *testing.T, data []byte) {
		var next int64
		end, err := scanSegment(bytes.NewReader(data), int64(len(data)), true, func(r *record) error {
			require.Equal(t, next, r.off, "records are read back to back")
			raw := data[r.off : r.off+r.recLen()]
			require.Equal(t, "RBQ1", string(raw[:4]))
			sum := crc32.Update(crc32.Checksum(raw[:25], tab), tab, raw[recPrefix:])
			require.Equal(t, binary.LittleEndian.Uint32(raw[25:]), sum, "a record at %d without a valid checksum", r.off)
			if r.kind == recPut {
				require.True(t, bytes.Equal(raw[recPrefix+len(r.header):], r.body))
				_, err := decodeHeader(r.header, "fuzz", r.mid)
				_ = err // a checksummed header that does not decode is Open's error, not mail
			}
			next = r.off + r.recLen()
			return nil
		})
		require.Equal(t, next, end, "the valid part ends after the last record handed out")
		if end < int64(len(data)) {
			require.ErrorIs(t, err, errBadRecord)
		} else {
			require.NoError(t, err)
		}
	})
}
