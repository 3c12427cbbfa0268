package scan

import (
	"context"
	"sync"
	"time"
)

// gate is a semaphore whose size the scan adapts: lowered when the server
// says it has too many connections or slows down, raised slowly while it is
// healthy, never above the configured maximum.
type gate struct {
	mu      sync.Mutex
	cond    *sync.Cond
	limit   int
	max     int
	inUse   int
	peak    int
	lowered time.Time // last time the limit was lowered
	healthy int       // healthy completions since the last change
}

func newGate(start, max int) *gate {
	g := &gate{limit: min(start, max), max: max}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// acquire waits for a free slot or ctx's end.
func (g *gate) acquire(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	})
	defer stop()
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.inUse >= g.limit {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		g.cond.Wait()
	}
	g.inUse++
	g.peak = max(g.peak, g.inUse)
	return nil
}

func (g *gate) release() {
	g.mu.Lock()
	g.inUse--
	g.cond.Signal()
	g.mu.Unlock()
}

// overloaded lowers the limit by a quarter, at most once per cooldown, so
// one burst of refusals does not collapse it to 1. It reports whether it
// changed the limit.
func (g *gate) overloaded(cooldown time.Duration) (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.healthy = 0
	if time.Since(g.lowered) < cooldown || g.limit == 1 {
		return g.limit, false
	}
	g.limit = max(1, g.limit*3/4)
	g.lowered = time.Now()
	return g.limit, true
}

// ok counts a healthy completion; after twice the limit of them in a row,
// the limit grows by one.
func (g *gate) ok() (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.healthy++
	if g.limit >= g.max || g.healthy < 2*g.limit {
		return g.limit, false
	}
	g.healthy = 0
	g.limit++
	g.cond.Broadcast()
	return g.limit, true
}

func (g *gate) snapshot() (limit, peak int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit, g.peak
}

// latency tracks how long the server takes for the commands after login
// (LIST, STATUS, EXAMINE, SEARCH, FETCH): a sharp climb over the best level
// seen means the server is struggling. Login time is left out on purpose:
// Dovecot's authentication penalty holds logins on a timer while the server
// idles, which is no reason to slow down.
type latency struct {
	mu   sync.Mutex
	ewma float64 // ms
	best float64 // ms, lowest ewma after warm-up
	n    int
}

// observe adds one probe's post-login time and reports whether latency has
// climbed to more than 4 times its best level (and over 250 ms).
func (l *latency) observe(ms float64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if l.n == 1 {
		l.ewma = ms
	} else {
		l.ewma = 0.9*l.ewma + 0.1*ms
	}
	if l.n < 20 {
		return false
	}
	if l.best == 0 || l.ewma < l.best {
		l.best = l.ewma
	}
	return l.ewma > 4*l.best && l.ewma > 250
}

// penalty recognises Dovecot's authentication penalty: after a failed
// login, anvil holds every later login from the same address 4, 8, then
// 15 s (plus auth_failure_delay, 2 s, for the failing ones), while the
// commands after login stay fast. Seen from the client: logins taking a
// second and a half or more, after login refusals, with quick sessions.
type penalty struct {
	mu       sync.Mutex
	window   []bool // recent logins: true when held >= heldMS
	refusals int
	held     int           // logins held so far
	wait     time.Duration // total time those logins waited beyond a normal login
	detected bool
}

const heldMS = 1500

// observe adds a login's latency and the time the rest of the probe took;
// it returns true once, when the penalty is first recognised.
func (p *penalty) observe(loginMS, restMS int64, refused bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if refused {
		p.refusals++
	}
	// A refused login is slow by itself (auth_failure_delay, 2 s): only a
	// login that then succeeds shows the penalty holding it.
	isHeld := !refused && loginMS >= heldMS && restMS < heldMS/3
	if isHeld {
		p.held++
		p.wait += time.Duration(loginMS) * time.Millisecond
	}
	p.window = append(p.window, isHeld)
	if len(p.window) > 40 {
		p.window = p.window[1:]
	}
	if p.detected || p.refusals == 0 || len(p.window) < 10 {
		return false
	}
	n := 0
	for _, h := range p.window {
		if h {
			n++
		}
	}
	if n*4 >= len(p.window) { // a quarter of recent logins held
		p.detected = true
		return true
	}
	return false
}

func (p *penalty) snapshot() (detected bool, held int, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.detected, p.held, p.wait
}
