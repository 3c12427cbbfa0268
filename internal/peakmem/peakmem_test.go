package peakmem

import (
	"runtime"
	"testing"
	"time"
)

// TestSeesAllocation: a 64 MiB slice kept alive across a GC cycle shows in
// both peaks.
func TestSeesAllocation(t *testing.T) {
	const size = 64 << 20
	p := Start()
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i)
	}
	runtime.GC()
	time.Sleep(50 * time.Millisecond) // a few samples
	total, live := p.Stop()
	runtime.KeepAlive(buf)
	if live < size || total < size {
		t.Errorf("peaks total %d, live %d bytes; want both at least %d", total, live, size)
	}
}
