package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"relaybox/mailengine/queue"
)

// queueEnv queues body with the envelope env (Received set to now) and
// wakes the deliverer.
func (h *harness) queueEnv(t *testing.T, env queue.Envelope, body string) queue.MID {
	t.Helper()
	env.Received = time.Now()
	mid, _, err := h.spool.Put(context.Background(), env, strings.NewReader(body), 0)
	require.NoError(t, err)
	h.d.Notify()
	return mid
}

// running is a deliverer's Run in the background, stopped by the test.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs d until stop (or the end of the test).
func start(t *testing.T, d *Deliverer) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	go func() { d.Run(ctx); close(r.done) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// stop cancels Run's context and returns how long Run took to return
// (failing the test after limit).
func (r *running) stop(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(limit):
		t.Fatalf("Run did not return within %v of the stop", limit)
	}
	return time.Since(begin)
}

// restarted is a second deliverer on the harness's spool, state directory
// and settings, as after a restart of the daemon.
func (h *harness) restarted() *Deliverer {
	d := New(Options{Spool: h.spool, Log: h.log, StateDir: h.d.opts.StateDir, Now: h.d.opts.Now, Timeouts: h.d.opts.Timeouts})
	d.Apply(&Settings{Config: h.cfg, TLS: &tls.Config{RootCAs: x509.NewCertPool()}})
	return d
}

// bounces returns the bodies of the queued messages from the null sender
// to rcpt (the DSNs sent to it).
func (h *harness) bounces(t *testing.T, rcpt string) []string {
	t.Helper()
	msgs, err := h.spool.List()
	require.NoError(t, err)
	var out []string
	for _, m := range msgs {
		if m.Envelope.From != "" || len(m.Envelope.To) != 1 || m.Envelope.To[0] != rcpt {
			continue
		}
		_, rc, err := h.spool.Get(m.MID)
		if err != nil {
			continue // delivered meanwhile
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out = append(out, string(b))
	}
	return out
}
