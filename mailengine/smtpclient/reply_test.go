package smtpclient

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parse(s string) (reply, error) {
	return readReply(bufio.NewReaderSize(strings.NewReader(s), maxReplyLine))
}

func TestReadReply(t *testing.T) {
	for _, tc := range []struct {
		in       string
		code     int
		enhanced string
		lines    []string
		text     string
	}{
		{in: "250 OK\r\n", code: 250, lines: []string{"OK"}, text: "OK"},
		{in: "250\r\n", code: 250, lines: []string{""}, text: ""},
		{in: "220 mx.example.test ESMTP\n", code: 220, lines: []string{"mx.example.test ESMTP"}, text: "mx.example.test ESMTP"},
		{in: "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 STARTTLS\r\n", code: 250,
			lines: []string{"mx.example.test", "PIPELINING", "SIZE 1000", "STARTTLS"}, text: "mx.example.test PIPELINING SIZE 1000 STARTTLS"},
		{in: "550-5.1.1 The email account that you tried to reach does not exist.\r\n550 5.1.1 Please check the address.\r\n", code: 550, enhanced: "5.1.1",
			lines: []string{"5.1.1 The email account that you tried to reach does not exist.", "5.1.1 Please check the address."},
			text:  "The email account that you tried to reach does not exist. Please check the address."},
		{in: "451 4.7.1 Greylisted\r\n", code: 451, enhanced: "4.7.1", lines: []string{"4.7.1 Greylisted"}, text: "Greylisted"},
		{in: "250 2.0.0\r\n", code: 250, enhanced: "2.0.0", lines: []string{"2.0.0"}, text: ""},
		{in: "550 4.1.1 class does not match\r\n", code: 550, lines: []string{"4.1.1 class does not match"}, text: "4.1.1 class does not match"},
		{in: "550 5.1234.1 subject too long\r\n", code: 550, lines: []string{"5.1234.1 subject too long"}, text: "5.1234.1 subject too long"},
		{in: "250 2.1.5Ok\r\n", code: 250, lines: []string{"2.1.5Ok"}, text: "2.1.5Ok"},
		{in: "421 4.3.2 Shutting down\r\nextra", code: 421, enhanced: "4.3.2", lines: []string{"4.3.2 Shutting down"}, text: "Shutting down"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, err := parse(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.code, r.Code)
			assert.Equal(t, tc.enhanced, r.Enhanced)
			assert.Equal(t, tc.lines, r.Lines)
			assert.Equal(t, tc.text, r.Text())
		})
	}
}

func TestReadReplyErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "connection closed by server: EOF"},
		{"250-first\r\n", "connection closed by server: unexpected EOF"},
		{"250 no newline", "connection closed by server: unexpected EOF"},
		{"hello\r\n", "does not start with a reply code"},
		{"25\r\n", "does not start with a reply code"},
		{"150 one-digit class\r\n", "does not start with a reply code"},
		{"650 class\r\n", "does not start with a reply code"},
		{"2x0 no\r\n", "does not start with a reply code"},
		{"250_bad separator\r\n", "expected ' ' or '-'"},
		{"250-a\r\n251 b\r\n", "has code 251 inside a 250 reply"},
		{"250 a\rb\r\n", "contains CR or NUL"},
		{"250 " + strings.Repeat("x", maxReplyLine) + "\r\n", "line longer than"},
		{strings.Repeat("250-x\r\n", maxReplyLines) + "250 x\r\n", "more than 512 lines"},
	} {
		t.Run(clip(tc.in), func(t *testing.T) {
			_, err := parse(tc.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := parse("")
	assert.ErrorIs(t, err, io.EOF)
	_, err = parse("x\r\n")
	assert.ErrorIs(t, err, errMalformed)
}

func TestReplyString(t *testing.T) {
	r, err := parse("550-5.7.1 Message\r\n550 5.7.1 rejected\r\n")
	require.NoError(t, err)
	assert.Equal(t, "550 5.7.1 Message rejected", r.String())
}

// FuzzParseReply checks that any server output is either refused or parsed
// into a reply that is well formed and survives a round trip.
func FuzzParseReply(f *testing.F) {
	f.Add([]byte("250 OK\r\n"))
	f.Add([]byte("250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n"))
	f.Add([]byte("550 5.1.1 <x@y>: User unknown\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := readReply(bufio.NewReaderSize(bytes.NewReader(data), maxReplyLine))
		if err != nil {
			if !errors.Is(err, errMalformed) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if r.Code < 200 || r.Code > 599 {
			t.Fatalf("code %d out of range", r.Code)
		}
		if len(r.Lines) == 0 || len(r.Lines) > maxReplyLines {
			t.Fatalf("%d lines", len(r.Lines))
		}
		if r.Enhanced != "" {
			if r.Enhanced[0] != byte('0'+r.Code/100) || !strings.HasPrefix(r.Lines[0], r.Enhanced) {
				t.Fatalf("enhanced code %q does not fit reply %d %q", r.Enhanced, r.Code, r.Lines[0])
			}
		}
		text := r.Text()
		if strings.ContainsAny(text, "\r\n") || strings.ContainsAny(r.String(), "\r\n") {
			t.Fatalf("text %q spans lines", text)
		}
		// Round trip: writing the reply out again gives the same reply.
		var b strings.Builder
		for i, l := range r.Lines {
			sep := "-"
			if i == len(r.Lines)-1 {
				sep = " "
			}
			b.WriteString(itoa3(r.Code) + sep + l + "\r\n")
		}
		r2, err := readReply(bufio.NewReaderSize(strings.NewReader(b.String()), maxReplyLine))
		if err != nil {
			t.Fatalf("round trip of %q: %v", b.String(), err)
		}
		if r2.Code != r.Code || r2.Enhanced != r.Enhanced || strings.Join(r2.Lines, "\n") != strings.Join(r.Lines, "\n") {
			t.Fatalf("round trip changed %+v into %+v", r, r2)
		}
	})
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}
