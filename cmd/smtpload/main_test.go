package main

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeServer answers one plain SMTP session per connection, with rcptReply to RCPT, and sends
// each received DATA content to got.
func fakeServer(t *testing.T, rcptReply string, got chan<- string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r, w := bufio.NewReader(c), bufio.NewWriter(c)
				say := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
				say("220 fake ESMTP")
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.Fields(l)[0]); {
					case cmd == "EHLO":
						say("250-fake\r\n250 8BITMIME")
					case strings.HasPrefix(cmd, "RCPT"):
						say(rcptReply)
					case cmd == "DATA":
						say("354 go ahead")
						var b strings.Builder
						for {
							l, err := r.ReadString('\n')
							if err != nil || l == ".\r\n" {
								break
							}
							b.WriteString(l)
						}
						got <- b.String()
						say("250 queued")
					case cmd == "QUIT":
						say("221 bye")
						return
					default:
						say("250 ok")
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func testConfig(addr string) config {
	return config{addr: addr, from: "a@x.test", to: "b@y.test", helo: "x.test", size: 1000, timeout: 5 * time.Second}
}

func TestRunSendsEveryMessage(t *testing.T) {
	got := make(chan string, 10)
	c := testConfig(fakeServer(t, "250 ok", got))
	r := run(c, makeBody(c), 3, 10)
	if r.ok != 10 || r.errors != 0 {
		t.Fatalf("ok=%d errors=%d, want 10 and 0", r.ok, r.errors)
	}
	body := <-got
	if _, content, _ := strings.Cut(body, "\r\n\r\n"); len(content) != 1000 {
		t.Errorf("body is %d bytes, want 1000", len(content))
	}
}

func TestRejectionIsAnErrorWithTheReply(t *testing.T) {
	c := testConfig(fakeServer(t, "550 5.7.1 relaying denied", nil))
	err := send(c, makeBody(c))
	if err == nil || !strings.Contains(err.Error(), "RCPT") || !strings.Contains(err.Error(), "550 5.7.1 relaying denied") {
		t.Fatalf("send = %v, want an error naming RCPT and the 550 reply", err)
	}
}
