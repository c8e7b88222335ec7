package mailengine

import (
	"relaybox/mailengine/delivery"
	"relaybox/mailengine/queue"
)

// Deliverer is the outbound side the engine configures and wakes.
type Deliverer interface {
	Apply(s *delivery.Settings)
	Queued(mid queue.MID)
}
