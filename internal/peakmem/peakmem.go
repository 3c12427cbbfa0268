// Package peakmem samples a process's own memory while a benchmark runs:
// the highest Go runtime footprint and the highest live heap, for figures
// that /usr/bin/time -v cannot split by phase.
package peakmem

import (
	"runtime/metrics"
	"sync"
	"time"
)

// Sampler records, every 10 ms until Stop, the highest Go runtime
// footprint (all memory mapped by the runtime, /memory/classes/total:bytes)
// and the highest live heap found by a GC cycle (/gc/heap/live:bytes).
type Sampler struct {
	stop        chan struct{}
	done        sync.WaitGroup
	total, live uint64
}

// Start starts sampling.
func Start() *Sampler {
	p := &Sampler{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/gc/heap/live:bytes"}}
	p.done.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			p.total = max(p.total, sample[0].Value.Uint64())
			p.live = max(p.live, sample[1].Value.Uint64())
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	})
	return p
}

// Stop ends sampling and returns the peaks, in bytes.
func (p *Sampler) Stop() (total, live uint64) {
	close(p.stop)
	p.done.Wait()
	return p.total, p.live
}
