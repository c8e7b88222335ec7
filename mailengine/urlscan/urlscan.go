// Package urlscan finds the URLs of a message: in its text and HTML parts,
// decoded (quoted-printable, base64; ISO-8859-1 converted, other charsets read
// as bytes, which keeps the ASCII URLs of every ASCII-compatible charset), from
// href and src attributes and bare http/https URLs in the text. It is bounded:
// it reads at most Limits.MaxBytes of the message, looks at most at
// Limits.MaxParts parts nested Limits.MaxDepth deep, and returns at most
// Limits.MaxURLs URLs of at most MaxURLLen bytes each. It never panics on any
// input (FuzzExtract).
package urlscan

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// MaxURLLen is the longest URL kept; longer ones are dropped.
const MaxURLLen = 2048

// Limits bound the work of one extraction. Zero fields take the defaults.
type Limits struct {
	MaxBytes int64 // of the raw message read (default 8 MiB)
	MaxURLs  int   // URLs returned (default 100)
	MaxParts int   // MIME parts looked at (default 100)
	MaxDepth int   // multipart nesting (default 8)
}

// DefaultLimits are the limits delivery uses.
var DefaultLimits = Limits{MaxBytes: 8 << 20, MaxURLs: 100, MaxParts: 100, MaxDepth: 8}

func (l Limits) filled() Limits {
	d := DefaultLimits
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxURLs <= 0 {
		l.MaxURLs = d.MaxURLs
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	return l
}

// Result is what one extraction found.
type Result struct {
	// URLs are the distinct URLs, in the order they appear.
	URLs []string
	// Truncated is set when a limit stopped the extraction early.
	Truncated bool
}

// Extract reads a whole message (header and body) and returns its URLs. A
// message that does not parse is read as plain text.
func Extract(r io.Reader, lim Limits) Result {
	s := &scan{lim: lim.filled(), seen: map[string]bool{}}
	raw, _ := io.ReadAll(io.LimitReader(r, s.lim.MaxBytes+1)) // a read error ends the message where it is
	if int64(len(raw)) > s.lim.MaxBytes {
		raw, s.truncated = raw[:s.lim.MaxBytes], true
	}
	msg, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil || !bytes.Contains(raw, []byte("\n\n")) && !bytes.Contains(raw, []byte("\n\r\n")) {
		s.text(bytes.NewReader(raw)) // no header, or no body: all of it is text
	} else {
		s.entity(msg.Header.Get, msg.Body, 0)
	}
	return Result{URLs: s.urls, Truncated: s.truncated}
}

// HTML returns the URLs of an HTML document (href and src attributes, and
// bare URLs in its text).
func HTML(doc []byte, lim Limits) Result {
	s := &scan{lim: lim.filled(), seen: map[string]bool{}}
	s.html(bytes.NewReader(doc))
	return Result{URLs: s.urls, Truncated: s.truncated}
}

type scan struct {
	lim       Limits
	seen      map[string]bool
	urls      []string
	parts     int
	truncated bool
}

func (s *scan) full() bool {
	if len(s.urls) >= s.lim.MaxURLs {
		s.truncated = true
		return true
	}
	return false
}

// entity looks at one MIME entity with header get and body.
func (s *scan) entity(get func(string) string, body io.Reader, depth int) {
	if s.full() {
		return
	}
	if s.parts++; s.parts > s.lim.MaxParts || depth > s.lim.MaxDepth {
		s.truncated = true
		return
	}
	ct := get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		mt, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(mt, "multipart/") {
		if params["boundary"] == "" {
			s.text(body)
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for !s.full() {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			s.entity(textproto.MIMEHeader(p.Header).Get, p, depth+1)
		}
		return
	}
	dec := decode(get("Content-Transfer-Encoding"), body)
	switch {
	case mt == "message/rfc822":
		m, err := mail.ReadMessage(bufio.NewReader(dec))
		if err == nil {
			s.entity(m.Header.Get, m.Body, depth+1)
		}
	case mt == "text/html" || mt == "application/xhtml+xml":
		s.html(charset(params["charset"], dec))
	case strings.HasPrefix(mt, "text/"):
		s.text(charset(params["charset"], dec))
	}
}

// decode undoes a Content-Transfer-Encoding; an unknown one is read as it is.
func decode(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &lenientBase64{r: r})
	}
	return r
}

// lenientBase64 drops what is not base64 (spaces, junk lines) so that a
// sloppy part still decodes.
type lenientBase64 struct{ r io.Reader }

func (l *lenientBase64) Read(p []byte) (int, error) {
	for {
		n, err := l.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil || n == 0 {
			return j, err
		} // all dropped: read on rather than return 0, nil
	}
}

// charset converts ISO-8859-1 to UTF-8; other charsets are read as bytes.
func charset(cs string, r io.Reader) io.Reader {
	switch strings.ToLower(cs) {
	case "iso-8859-1", "latin1", "iso_8859-1", "windows-1252":
		return &latin1{r: bufio.NewReader(r)}
	}
	return r
}

type latin1 struct{ r *bufio.Reader }

func (l *latin1) Read(p []byte) (int, error) {
	n := 0
	for n+utf8.UTFMax <= len(p) {
		c, err := l.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		n += utf8.EncodeRune(p[n:], rune(c))
	}
	if n == 0 && len(p) > 0 { // p too small for a whole rune: pass ASCII only
		c, err := l.r.ReadByte()
		if err != nil {
			return 0, err
		}
		p[0] = c & 0x7f
		return 1, nil
	}
	return n, nil
}

// text adds the bare URLs of plain text, line by line (a line longer than
// 64 KiB is cut into pieces).
func (s *scan) text(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for !s.full() {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			s.bare(line)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

func (s *scan) bare(b []byte) {
	sep := []byte("://")
	for !s.full() {
		i := bytes.Index(b, sep)
		if i < 0 {
			return
		}
		j := i // the scheme: the letters before "://"
		for j > 0 && (b[j-1]|0x20 >= 'a' && b[j-1]|0x20 <= 'z') {
			j--
		}
		k := i + len(sep)
		for k < len(b) && !stopsURL(b[k]) {
			k++
		}
		if scheme := string(b[j:i]); strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https") {
			s.add(string(b[j:k]))
		}
		b = b[k:]
	}
}

// stopsURL reports whether c ends a bare URL in text: white space, control
// characters and the characters RFC 3986 leaves out of URLs (<>"'`{}|\^[]).
func stopsURL(c byte) bool {
	return c <= ' ' || c == 0x7f || strings.IndexByte("<>\"'`{}|\\^[]", c) >= 0
}

// html adds the href and src attributes and the bare URLs of the text.
func (s *scan) html(r io.Reader) {
	z := html.NewTokenizer(r)
	z.SetMaxBuf(1 << 20)
	for !s.full() {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.TextToken:
			s.bare(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken:
			_, more := z.TagName()
			for more {
				var k, v []byte
				k, v, more = z.TagAttr()
				if ks := string(k); ks == "href" || ks == "src" {
					s.add(strings.TrimSpace(string(v)))
				}
			}
		}
	}
}

// add keeps an absolute http/https URL once, without the punctuation that
// ends a sentence after it.
func (s *scan) add(u string) {
	u = strings.TrimRight(u, ".,;:!?)")
	if len(u) > MaxURLLen || len(u) < len("http://x") {
		return
	}
	p, err := url.Parse(u)
	if err != nil || (!strings.EqualFold(p.Scheme, "http") && !strings.EqualFold(p.Scheme, "https")) || p.Host == "" {
		return
	}
	if s.seen[u] || s.full() {
		return
	}
	s.seen[u] = true
	s.urls = append(s.urls, u)
}
