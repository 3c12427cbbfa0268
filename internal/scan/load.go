package scan

import (
	"context"
	"sync"
	"time"
)

// gate bounds a scan's load with two limits. Working sessions are capped by
// an adaptive limit: lowered when the server says it has too many
// connections or slows down, raised slowly back to the configured number
// while it is healthy. Open connections are capped by a fixed maximum that
// also counts logins the server is holding on a timer (Dovecot's
// authentication penalty): such a login gives its working slot back while
// it waits, since a held connection costs the server a socket, not work.
type gate struct {
	mu      sync.Mutex
	cond    *sync.Cond
	limit   int // working sessions allowed now
	max     int // ceiling for limit (RunConfig.Workers)
	conns   int // ceiling for open connections (RunConfig.MaxConnections)
	working int
	open    int
	resumes int       // logins answered after a hold, waiting to work again
	peak    int       // most connections open at once
	peakW   int       // most working sessions at once
	lowered time.Time // last time the limit was lowered
	healthy int       // healthy completions since the last change
}

func newGate(workers, conns int) *gate {
	g := &gate{limit: workers, max: workers, conns: max(conns, workers)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// wait blocks on the condition until ready reports true or ctx ends; it is
// called with g.mu held.
func (g *gate) wait(ctx context.Context, ready func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	})
	defer stop()
	for !ready() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		g.cond.Wait()
	}
	return nil
}

// acquire waits for a connection and, if working, a working slot, or ctx's
// end. Sessions whose held login has been answered go first: they already
// hold a connection and an authenticated session on the server.
func (g *gate) acquire(ctx context.Context, working bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := g.wait(ctx, func() bool {
		return g.open < g.conns && (!working || g.resumes == 0 && g.working < g.limit)
	})
	if err != nil {
		return err
	}
	if working {
		g.working++
		g.peakW = max(g.peakW, g.working)
	}
	g.open++
	g.peak = max(g.peak, g.open)
	return nil
}

// hold gives a working slot back while the connection stays open.
func (g *gate) hold() {
	g.mu.Lock()
	g.working--
	g.cond.Broadcast()
	g.mu.Unlock()
}

// resume takes a working slot again for a connection that gave its slot
// back, waiting for one or ctx's end.
func (g *gate) resume(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.resumes++
	err := g.wait(ctx, func() bool { return g.working < g.limit })
	g.resumes--
	if err == nil {
		g.working++
		g.peakW = max(g.peakW, g.working)
	}
	g.cond.Broadcast()
	return err
}

// release closes a connection; working says whether it held a working slot.
func (g *gate) release(working bool) {
	g.mu.Lock()
	if working {
		g.working--
	}
	g.open--
	g.cond.Broadcast()
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
// the limit grows by one, up to its ceiling.
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

// snapshot returns the working limit now, the most connections open at
// once and the most sessions working at once.
func (g *gate) snapshot() (limit, peak, peakWorking int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit, g.peak, g.peakW
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
// second and a half or more, after login refusals, with quick sessions; or,
// when nearly every login fails, refusals taking 3 s or more beyond
// auth_failure_delay.
type penalty struct {
	mu       sync.Mutex
	window   []bool // recent logins: true when held >= heldMS
	refusals int
	held     int           // logins held so far
	wait     time.Duration // total time those logins waited beyond a normal login
	detected bool
}

// heldRefusal reports whether a refused login that took loginMS was held
// by the penalty before it was refused.
func heldRefusal(loginMS int64) bool { return loginMS-failureDelayMS >= heldRefusalMS }

const (
	heldMS         = 1500
	failureDelayMS = 2000 // Dovecot's auth_failure_delay default
	heldRefusalMS  = 3000 // a refusal this much slower than failureDelayMS was held
)

// observe adds a login's latency and the time the rest of the probe took;
// it returns true once, when the penalty is first recognised.
func (p *penalty) observe(loginMS, restMS int64, refused bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if refused {
		p.refusals++
	}
	// A refused login is slow by itself (auth_failure_delay, 2 s); one
	// that took the penalty's least hold (4 s) more was held too. That is
	// what shows the penalty when nearly every login fails.
	wait := loginMS
	if refused {
		wait -= failureDelayMS
	}
	isHeld := (!refused && loginMS >= heldMS && restMS < heldMS/3) || (refused && heldRefusal(loginMS))
	if isHeld {
		p.held++
		p.wait += time.Duration(wait) * time.Millisecond
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
