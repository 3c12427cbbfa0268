package scan

import (
	"context"
	"testing"
	"time"
)

func TestPenaltyObserve(t *testing.T) {
	tests := []struct {
		name   string
		logins [][3]int64 // login ms, rest ms, refused (1)
		want   bool
	}{
		{"refusals alone are slow but no penalty", repeat([3]int64{2000, 0, 1}, 5, [3]int64{4, 3, 0}, 20), false},
		{"held logins after refusals", repeat([3]int64{2000, 0, 1}, 3, [3]int64{4000, 5, 0}, 12), true},
		{"slow logins with slow sessions are load, not penalty", repeat([3]int64{2000, 0, 1}, 3, [3]int64{4000, 3000, 0}, 12), false},
		{"held logins without any refusal", repeat([3]int64{4000, 5, 0}, 20, [3]int64{4, 3, 0}, 0), false},
		{"every login refused, most after a hold", repeat([3]int64{2000, 0, 1}, 3, [3]int64{6000, 0, 1}, 12), true},
		{"every login refused, none held", repeat([3]int64{2000, 0, 1}, 20, [3]int64{2100, 0, 1}, 20), false},
	}
	for _, tt := range tests {
		var p penalty
		got := false
		for _, l := range tt.logins {
			if p.observe(l[0], l[1], l[2] == 1) {
				got = true
			}
		}
		if got != tt.want {
			t.Errorf("%s: detected %v, want %v", tt.name, got, tt.want)
		}
	}
}

func repeat(a [3]int64, na int, b [3]int64, nb int) [][3]int64 {
	var out [][3]int64
	for range na {
		out = append(out, a)
	}
	for range nb {
		out = append(out, b)
	}
	return out
}

// TestGateHeldLogins: a held login gives its working slot back, so other
// probes work meanwhile, but connections never exceed the ceiling; a held
// session that resumes goes before new probes.
func TestGateHeldLogins(t *testing.T) {
	ctx := context.Background()
	g := newGate(2, 3)
	for range 2 {
		if err := g.acquire(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	if tryAcquire(g) {
		t.Fatal("a third working session with 2 workers")
	}
	g.hold() // the first login is held
	if !tryAcquire(g) {
		t.Fatal("a held login kept its working slot")
	}
	g.hold() // so is the second
	if tryAcquire(g) {
		t.Fatal("a fourth connection with a ceiling of 3")
	}
	// The first held login is answered: it resumes at once (one slot free).
	if err := g.resume(ctx); err != nil {
		t.Fatal(err)
	}
	// The second must wait for a working slot; a new probe must not take
	// the slot it waits for.
	resumed := make(chan error, 1)
	go func() { resumed <- g.resume(ctx) }()
	for {
		g.mu.Lock()
		n := g.resumes
		g.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	g.release(true) // the third connection's probe ends
	if err := <-resumed; err != nil {
		t.Fatal(err)
	}
	if tryAcquire(g) {
		t.Fatal("over the limits after the resumes")
	}
	if _, peak, peakW := g.snapshot(); peak != 3 || peakW != 2 {
		t.Errorf("peak connections %d, working %d; want 3, 2", peak, peakW)
	}
	g.release(true)
	g.release(true)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open != 0 || g.working != 0 {
		t.Errorf("open %d working %d after every release", g.open, g.working)
	}
}

func tryAcquire(g *gate) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	return g.acquire(ctx, true) == nil
}

// TestHeldAfter: a login counts as held after eight times the usual login
// time, never sooner than 250 ms nor later than the ceiling.
func TestHeldAfter(t *testing.T) {
	tests := []struct {
		name   string
		logins []time.Duration
		want   time.Duration
	}{
		{"too few logins seen", []time.Duration{10 * time.Millisecond}, 1500 * time.Millisecond},
		{"fast logins", rep(10*time.Millisecond, 20), 250 * time.Millisecond},
		{"100 ms logins", rep(100*time.Millisecond, 20), 800 * time.Millisecond},
		{"slow logins (an LDAP passdb, say)", rep(time.Second, 20), 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		var c penaltyClocks
		for _, d := range tt.logins {
			c.observe(d)
		}
		if got := c.heldAfter(1500 * time.Millisecond); got != tt.want {
			t.Errorf("%s: held after %v, want %v", tt.name, got, tt.want)
		}
	}
}

func rep(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestLoginBurst(t *testing.T) {
	tests := []struct {
		workers int
		rate    float64
		want    int
	}{
		{8, 200, 20},  // the defaults: a tenth of a second's worth
		{8, 20, 8},    // at least one per worker
		{64, 200, 64}, // many workers
		{8, 205, 21},  // rounded up
		{1, 0.5, 1},   // a slow rate still lets one start
		{8, 10000, 1000},
	}
	for _, tt := range tests {
		if got := loginBurst(RunConfig{Workers: tt.workers, LoginRate: tt.rate}); got != tt.want {
			t.Errorf("loginBurst(workers %d, rate %v) = %d, want %d", tt.workers, tt.rate, got, tt.want)
		}
	}
}
