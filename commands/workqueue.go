package commands

import (
	"time"

	"relaybox/mailengine/queue"
	"relaybox/shell"
)

// Queue is what workqueue needs of the spool.
type Queue interface {
	Count() int
	List() ([]queue.Message, error)
}

func workqueue(app *App) shell.Command {
	return shell.Command{
		Name:    "workqueue",
		Summary: "Show the messages waiting in the queue.",
		Help: `Shows how many messages the durable queue holds, their total size and the oldest.

Batch form:
  workqueue status`,
		Run: func(s *shell.Session, args []string) error {
			if len(args) > 1 || len(args) == 1 && args[0] != "status" {
				return usage("workqueue", "workqueue status")
			}
			msgs, err := app.Queue.List()
			if err != nil {
				return err
			}
			var bytes int64
			oldest := time.Time{}
			for _, m := range msgs {
				bytes += m.Size
				if oldest.IsZero() || m.Envelope.Received.Before(oldest) {
					oldest = m.Envelope.Received
				}
			}
			s.Println()
			s.Printf("Messages in work queue:  %d\n", len(msgs))
			s.Printf("Total size:              %d bytes\n", bytes)
			if !oldest.IsZero() {
				s.Printf("Oldest message:          %s (%s ago)\n", stamp(oldest), time.Since(oldest).Round(time.Second))
			}
			return nil
		},
	}
}
