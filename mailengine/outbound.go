package mailengine

import (
	"relaybox/mailengine/delivery"
)

// Deliverer is the outbound side the engine configures and wakes.
type Deliverer interface {
	Apply(s *delivery.Settings)
	Notify()
}
