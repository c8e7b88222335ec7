package smtpserver

import (
	"fmt"
	"strings"
)

// Reply is an SMTP reply. As an error returned by a Session it is what the
// client gets; any other error becomes ErrLocal.
type Reply struct {
	Code     int
	Enhanced string // RFC 3463 code such as "5.7.1"; "" for none
	Text     string // one line per "\n"
}

func (r *Reply) Error() string {
	if r.Enhanced == "" {
		return fmt.Sprintf("%d %s", r.Code, r.Text)
	}
	return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text)
}

// Replyf builds a Reply.
func Replyf(code int, enhanced, format string, args ...any) *Reply {
	return &Reply{Code: code, Enhanced: enhanced, Text: fmt.Sprintf(format, args...)}
}

// ErrLocal is the reply to a Session error that is not a *Reply.
var ErrLocal = &Reply{Code: 451, Enhanced: "4.3.0", Text: "Temporary local problem, try again later"}

// lines renders r as wire lines ("250-first", "250 last"), the enhanced
// code (when there is one) on each line.
func (r *Reply) lines() string {
	parts := strings.Split(r.Text, "\n")
	var b strings.Builder
	for i, p := range parts {
		sep := "-"
		if i == len(parts)-1 {
			sep = " "
		}
		b.WriteString(fmt.Sprint(r.Code))
		b.WriteString(sep)
		if r.Enhanced != "" {
			b.WriteString(r.Enhanced)
			b.WriteByte(' ')
		}
		b.WriteString(p)
		b.WriteString("\r\n")
	}
	return b.String()
}
