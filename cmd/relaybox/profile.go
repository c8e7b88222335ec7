package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// profile starts the profiles the benchmarks ask for through the
// environment: RELAYBOX_CPUPROFILE=FILE (CPU, from start to stop) and
// RELAYBOX_MEMPROFILE=FILE (allocations, written at stop). done ends them.
// Neither is a setting of the appliance: they exist for make bench and
// docs/performance.md.
func profile() (done func(), err error) {
	var stops []func()
	done = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if path := os.Getenv("RELAYBOX_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return done, fmt.Errorf("RELAYBOX_CPUPROFILE: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return done, fmt.Errorf("RELAYBOX_CPUPROFILE: %w", err)
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if path := os.Getenv("RELAYBOX_MEMPROFILE"); path != "" {
		stops = append(stops, func() {
			f, err := os.Create(path)
			if err != nil {
				fmt.Fprintln(os.Stderr, "relaybox: RELAYBOX_MEMPROFILE:", err)
				return
			}
			defer f.Close()
			runtime.GC()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintln(os.Stderr, "relaybox: RELAYBOX_MEMPROFILE:", err)
			}
		})
	}
	return done, nil
}
