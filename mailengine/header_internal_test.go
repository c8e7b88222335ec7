package mailengine

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The fields mail_logs shows are found however the message arrives in
// pieces, and nothing after the header is taken for one.
func TestHeaderCapture(t *testing.T) {
	huge := "X-Pad: " + strings.Repeat("p", maxCapturedHeader) + "\r\n"
	tests := []struct {
		name, msg, id, subject string
	}{
		{"plain", "Message-Id: <a@b>\r\nSubject: hi\r\n\r\nbody\r\n", "<a@b>", "hi"},
		{"folded", "Subject: one\r\n two\r\nMessage-ID: <c@d>\r\n\r\n", "<c@d>", "one two"},
		{"bare LF", "Subject: lf\n\nSubject: body\n", "", "lf"},
		{"body is not header", "From: x@y\r\n\r\nSubject: not this\r\nMessage-Id: <no@no>\r\n", "", ""},
		{"no empty line", "Subject: end", "", "end"},
		{"long value cut", "Subject: " + strings.Repeat("s", 300) + "\r\n\r\n", "", strings.Repeat("s", 200)},
		{"only the first 64 KiB", "Subject: early\r\n" + huge + "Message-Id: <late@x>\r\n\r\n", "", "early"},
	}
	for _, tc := range tests {
		for _, chunk := range []int{1, 3, 4096, len(tc.msg)} {
			h := &headerCapture{}
			for rest := tc.msg; rest != ""; {
				k := min(chunk, len(rest))
				n, err := h.Write([]byte(rest[:k]))
				assert.NoError(t, err)
				assert.Equal(t, k, n)
				rest = rest[k:]
			}
			f := h.fields()
			assert.Equal(t, tc.id, logField(f, "Message-Id"), "%s, chunks of %d", tc.name, chunk)
			assert.Equal(t, tc.subject, logField(f, "Subject"), "%s, chunks of %d", tc.name, chunk)
			assert.LessOrEqual(t, len(h.buf), maxCapturedHeader)
		}
	}
}
