package urlscan

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExtract(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte(`<p>see <a href="https://b64.example.test/x?a=1&amp;b=2">here</a></p>`))
	tests := []struct {
		name, msg string
		want      []string
	}{
		{"plain text bare URLs", "Subject: hi\r\n\r\nGo to https://a.example.test/path. And http://b.example.test:8080/q?x=1, then stop.\r\n",
			[]string{"https://a.example.test/path", "http://b.example.test:8080/q?x=1"}},
		{"no header is text", "just https://c.example.test/ here",
			[]string{"https://c.example.test/"}},
		{"quoted-printable HTML, href and src", "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			"<a href=3D\"https://qp.example.test/very/long/path/that/is/=\r\nsoft-broken\">x</a><img src=3D'http://img.example.test/i.png'>\r\n",
			[]string{"https://qp.example.test/very/long/path/that/is/soft-broken", "http://img.example.test/i.png"}},
		{"base64 HTML in multipart, entities decoded", "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"BB\"\r\n\r\n--BB\r\n" +
			"Content-Type: text/plain\r\n\r\nplain https://plain.example.test/\r\n--BB\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			b64[:20] + "\r\n" + b64[20:] + "\r\n--BB--\r\n",
			[]string{"https://plain.example.test/", "https://b64.example.test/x?a=1&b=2"}},
		{"attachments and relative links skipped", "Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/html\r\n\r\n" +
			"<a href=\"/relative\">r</a><a href=\"mailto:a@b.test\">m</a><a href=\"javascript:x\">j</a>\r\n--X\r\nContent-Type: application/octet-stream\r\n\r\nhttps://bin.example.test/\r\n--X--\r\n",
			nil},
		{"nested message and ISO-8859-1", "Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: message/rfc822\r\n\r\n" +
			"Content-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9 https://latin.example.test/caf\r\n--X--\r\n",
			[]string{"https://latin.example.test/caf"}},
		{"duplicates once", "Subject: d\r\n\r\nhttps://d.example.test/ https://d.example.test/ https://d.example.test/\r\n",
			[]string{"https://d.example.test/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Extract(strings.NewReader(tt.msg), Limits{})
			assert.Equal(t, tt.want, got.URLs)
			assert.False(t, got.Truncated)
		})
	}
}

func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: many\r\n\r\n")
	for i := range 500 {
		fmt.Fprintf(&b, "https://u%d.example.test/\r\n", i)
	}
	tests := []struct {
		name  string
		lim   Limits
		count int
	}{
		{"URL count", Limits{MaxURLs: 10}, 10},
		{"bytes read", Limits{MaxBytes: 200}, 7},
		{"defaults", Limits{}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Extract(strings.NewReader(b.String()), tt.lim)
			assert.Len(t, r.URLs, tt.count)
			assert.True(t, r.Truncated)
		})
	}
	var deep strings.Builder
	for i := range 50 {
		fmt.Fprintf(&deep, "Content-Type: multipart/mixed; boundary=B%d\r\n\r\n--B%d\r\n", i, i)
	}
	deep.WriteString("\r\nhttps://deep.example.test/\r\n")
	r := Extract(strings.NewReader(deep.String()), Limits{MaxDepth: 3})
	assert.Empty(t, r.URLs)
	assert.True(t, r.Truncated, "nesting past MaxDepth stops")
	long := "Subject: l\r\n\r\nhttps://long.example.test/" + strings.Repeat("a", MaxURLLen) + " https://short.example.test/\r\n"
	assert.Equal(t, []string{"https://short.example.test/"}, Extract(strings.NewReader(long), Limits{}).URLs)
}

func FuzzExtract(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\nhttps://a.test/"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGEgaHJlZj0iaHR0cDovL3gudGVzdC8iPg==\r\n--X--\r\n"))
	f.Add([]byte("Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"https://q.test/=\r\nx\">"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		r := Extract(bytes.NewReader(msg), Limits{MaxURLs: 20, MaxParts: 20})
		if len(r.URLs) > 20 {
			t.Fatalf("%d URLs past the limit", len(r.URLs))
		}
		for _, u := range r.URLs {
			if len(u) > MaxURLLen || !strings.HasPrefix(strings.ToLower(u), "http") {
				t.Fatalf("bad URL %q", u)
			}
		}
		_ = HTML(msg, Limits{})
	})
}

// htmlMiB is about one MiB of HTML newsletter: links, images, text with bare URLs.
func htmlMiB() []byte {
	var b bytes.Buffer
	b.WriteString("<html><body>")
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, `<div class="item"><a href="https://news%d.example.test/article/%d?utm=x&amp;id=%d">Article %d</a>`+
			`<img src="https://cdn.example.test/img/%d.png" alt="">Read more at http://www.example.test/more/%d or skip this paragraph of filler text.</div>`+"\n",
			i%300, i, i, i, i%50, i%70)
	}
	b.WriteString("</body></html>")
	return b.Bytes()
}

// BenchmarkExtractHTMLPerMiB is URL extraction per MiB of HTML (all URLs
// found: no URL limit), reported as ns/MiB and MB/s.
func BenchmarkExtractHTMLPerMiB(b *testing.B) {
	doc := htmlMiB()
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for b.Loop() {
		HTML(doc, Limits{MaxURLs: 1 << 30})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(float64(len(doc))/(1<<20)), "ns/MiB")
}
