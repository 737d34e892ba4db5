package proxy

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// memoryExcess is how much more than the live heap the process may hold
// before returnMemory hands it back.
const memoryExcess = 32 << 20

// returnMemory hands memory a burst left behind back to the operating
// system, every interval until stop is closed (configs.Server
// MemoryReturnInterval). The Go runtime returns memory only down to about
// its heap goal, which it sets at a collection, and collects when the heap
// grows or every two minutes: after a burst the heap stops growing, the
// goal stays where the burst put it, and the pools (sync.Pool: fasthttp's
// request contexts, buffers) need two collections to let go. So when no
// collection ran over a whole interval and the heap holds memoryExcess
// more than was live at the last one, two collections run and the free
// memory goes back at once (debug.FreeOSMemory). Under load the runtime
// collects on its own and this does nothing.
func returnMemory(interval time.Duration, stop <-chan struct{}) {
	samples := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var cycles uint64
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		metrics.Read(samples)
		for _, s := range samples {
			if s.Value.Kind() != metrics.KindUint64 {
				return // a runtime without these metrics: leave it be
			}
		}
		last := cycles
		cycles = samples[0].Value.Uint64()
		live := samples[1].Value.Uint64()
		// All the runtime holds from the OS but what it has released:
		// objects, free and unused heap, and the stacks of goroutines a
		// burst of connections left (they go back to the heap's spans).
		held := samples[2].Value.Uint64() - samples[3].Value.Uint64()
		if cycles != last || held < live+memoryExcess {
			continue
		}
		runtime.GC() // the pools' primary caches become their victims
		debug.FreeOSMemory()
		metrics.Read(samples[:1])
		cycles = samples[0].Value.Uint64()
	}
}
