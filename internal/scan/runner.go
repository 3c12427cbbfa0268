package scan

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
)

// RunConfig bounds the load a scan puts on the server.
type RunConfig struct {
	// Workers is the number of mailboxes probed at once, and so the number
	// of connections open at once (one per mailbox). Default 8.
	Workers int
	// LoginRate caps new connections per second (on average: a tenth of a
	// second's worth, and at least Workers, may open at once); 0 means
	// 200/s.
	LoginRate float64
	// Attempts is the number of tries for a mailbox whose probe ends in a
	// transient fault (timeout, reset, BYE, [UNAVAILABLE]); default 3.
	Attempts int
	// Backoff is the first retry's wait; it doubles per retry, with jitter,
	// and a wait the server suggests is honoured. Default 2 s.
	Backoff time.Duration
	// Window and DistressShare define the breaker: when DistressShare of the
	// last Window probes ended in transient faults, dispatch pauses for
	// Pause; if it trips again the scan stops. Defaults 20, 0.8, 30 s.
	Window        int
	DistressShare float64
	Pause         time.Duration
	// Drain, when closed, stops new probes; probes in flight finish.
	Drain <-chan struct{}
	// MaxConnections caps the connections open at once, counting logins
	// the server holds on a timer; default 64 (never below Workers). After
	// a login was refused (Dovecot then answers refusals after
	// auth_failure_delay, 2 s, and with its penalty holds every login from
	// this address 4-15 s), a login unanswered for longer than logins
	// normally take gives its working slot back until the server answers
	// it, so waiting logins do not starve the work: at most Workers
	// sessions work at once, at most MaxConnections are open.
	MaxConnections int
	// HeldAfter is the longest a login may wait before it counts as held
	// by a timer; default 1.5 s. The wait used is shorter when logins are
	// fast: eight times their usual time, at least 250 ms.
	HeldAfter time.Duration
	// Events, when set, is told of changes worth a line in the log or on
	// screen (penalty recognised, concurrency changed, breaker paused). It is
	// called from the goroutine that calls emit.
	Events func(Event)
}

// EventKind names what an Event reports.
type EventKind string

// Event kinds.
const (
	EventPenalty     EventKind = "penalty"     // Dovecot's authentication penalty recognised
	EventConcurrency EventKind = "concurrency" // the number of probes at once changed
	EventPause       EventKind = "pause"       // the breaker paused dispatch
	EventRetry       EventKind = "retry"       // a mailbox will be probed again
)

// Event is something the scan noticed about the server.
type Event struct {
	Kind    EventKind
	Message string
	Limit   int // concurrency after the change
}

// Stats describes how a scan went, for the summary and the workbook.
type Stats struct {
	// PeakConnections is the most connections open at once, PeakWorking
	// the most sessions working at once (logins held by the server's
	// penalty do not count as working).
	PeakConnections int
	PeakWorking     int
	FinalLimit      int
	Pauses          int
	// PenaltyDetected is set once Dovecot's authentication penalty was
	// recognised; PenaltyHeld logins waited PenaltyWait in total.
	PenaltyDetected bool
	PenaltyHeld     int
	PenaltyWait     time.Duration
}

// The defaults of RunConfig, for the CLI's flags and help.
const (
	DefaultWorkers        = 8
	DefaultMaxConnections = 64
	DefaultLoginRate      = 200 // new connections per second
)

// ConnectionCeiling is the ceiling on open connections a RunConfig with
// workers and maxConnections (0: the default) gets: never below workers.
func ConnectionCeiling(workers, maxConnections int) int {
	if maxConnections <= 0 {
		maxConnections = DefaultMaxConnections
	}
	return max(maxConnections, workers)
}

func (rc RunConfig) withDefaults() RunConfig {
	if rc.Workers <= 0 {
		rc.Workers = DefaultWorkers
	}
	rc.MaxConnections = ConnectionCeiling(rc.Workers, rc.MaxConnections)
	if rc.HeldAfter <= 0 {
		rc.HeldAfter = 1500 * time.Millisecond
	}
	if rc.LoginRate <= 0 {
		rc.LoginRate = DefaultLoginRate
	}
	if rc.Attempts <= 0 {
		rc.Attempts = 3
	}
	if rc.Backoff <= 0 {
		rc.Backoff = 2 * time.Second
	}
	if rc.Window <= 0 {
		rc.Window = 20
	}
	if rc.DistressShare <= 0 {
		rc.DistressShare = 0.8
	}
	if rc.Pause <= 0 {
		rc.Pause = 30 * time.Second
	}
	return rc
}

// StopError says why a scan stopped before every mailbox was probed.
type StopError struct {
	Reason string
	Err    error // the setup error that caused it, if any
}

func (e *StopError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}
func (e *StopError) Unwrap() error { return e.Err }

// Outcome is one finished probe, after retries.
type Outcome struct {
	Record results.Mailbox
	Err    error // nil, *LoginRefused (a finding) or the last fault
}

// Run probes entries with bounded concurrency and hands each outcome to
// emit, from one goroutine, in completion order. It returns nil when every
// entry was probed, a *StopError when the scan stopped early (setup error,
// master credentials rejected, the server in distress, emit failed, Drain
// closed), or ctx's error.
func Run(ctx context.Context, p *Prober, entries []inventory.Entry, rc RunConfig, emit func(Outcome) error) error {
	_, err := RunWithStats(ctx, p, entries, rc, emit)
	return err
}

// RunWithStats is Run, also returning how the scan went.
func RunWithStats(ctx context.Context, p *Prober, entries []inventory.Entry, rc RunConfig, emit func(Outcome) error) (Stats, error) {
	rc = rc.withDefaults()
	limiter := rate.NewLimiter(rate.Limit(rc.LoginRate), loginBurst(rc))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	g := newGate(rc.Workers, rc.MaxConnections)
	var lat latency
	var pen penalty
	var pc penaltyClocks
	event := func(e Event) {
		if rc.Events != nil {
			rc.Events(e)
		}
	}

	jobs := make(chan inventory.Entry)
	outs := make(chan Outcome)
	var wg sync.WaitGroup
	for range rc.MaxConnections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range jobs {
				outs <- probeWithRetry(ctx, p, e, rc, limiter, g, &pc)
			}
		}()
	}

	br := &breaker{rc: rc}
	// drained is written before jobs is closed and read after outs is
	// closed, which the workers' exit orders.
	drained := false
	go func() {
		defer close(jobs)
		for _, e := range entries {
			if err := br.wait(ctx, rc.Drain); err != nil {
				drained = ctx.Err() == nil
				return
			}
			select {
			case jobs <- e:
			case <-ctx.Done():
				return
			case <-rc.Drain:
				drained = true
				return
			}
		}
	}()
	go func() { wg.Wait(); close(outs) }()

	var stop error
	for o := range outs {
		if errors.Is(o.Err, context.Canceled) {
			// Cut short by the run's own end (abort, or a stop below): the
			// mailbox stays unprobed, and a rerun probes it.
			continue
		}
		if err := emit(o); err != nil && stop == nil {
			stop = &StopError{Reason: "cannot record results", Err: err}
			cancel(stop)
		}
		if o.Record.Login.Outcome == "failed" {
			pc.refused.mark()
			if heldRefusal(o.Record.Login.DurationMS) {
				// Held, then refused: the penalty holds logins even
				// though none succeeds to show it.
				pc.held.mark()
			}
		}
		adapt(o, g, &lat, &pen, event)
		if stop == nil {
			paused := br.trips
			if err := br.observe(o); err != nil {
				stop = err
				cancel(stop)
			} else if br.trips > paused {
				event(Event{Kind: EventPause, Message: fmt.Sprintf("most recent probes failed with timeouts or refused connections: pausing new probes for %s", rc.Pause)})
			}
		}
	}
	st := Stats{Pauses: br.trips}
	st.FinalLimit, st.PeakConnections, st.PeakWorking = g.snapshot()
	st.PenaltyDetected, st.PenaltyHeld, st.PenaltyWait = pen.snapshot()
	if stop != nil {
		return st, stop
	}
	if drained {
		return st, &StopError{Reason: "interrupted"}
	}
	if cause := context.Cause(ctx); cause != nil {
		var se *StopError
		if errors.As(cause, &se) {
			return st, se
		}
		return st, cause
	}
	return st, nil
}

// adapt feeds one outcome to the load controls: capacity refusals and a
// latency climb lower concurrency, healthy probes raise it slowly; login
// waits go to the penalty detector instead.
func adapt(o Outcome, g *gate, lat *latency, pen *penalty, event func(Event)) {
	rec := &o.Record
	rest := rec.DurationMS - rec.Login.DurationMS
	if rec.Login.Outcome == "ok" || rec.Login.Outcome == "failed" {
		if pen.observe(rec.Login.DurationMS, rest, rec.Login.Outcome == "failed") {
			event(Event{Kind: EventPenalty, Message: "logins are being held for seconds after failed logins while the server answers everything else at once: " +
				"this is Dovecot's authentication penalty (anvil), a timer, not load"})
		}
	}
	capacity := false
	for _, a := range append(append([]string{}, rec.Attempts...), rec.Error) {
		if a != "" && (transientText.MatchString(a) || strings.Contains(a, "[LIMIT]") || strings.Contains(a, "[UNAVAILABLE]") || strings.Contains(a, "BYE")) {
			capacity = true
		}
	}
	slow := rec.Login.Outcome == "ok" && rec.Error == "" && lat.observe(float64(rest))
	if capacity || slow {
		why := "the server refused connections as too many"
		if !capacity {
			why = "the server's answers after login slowed sharply"
		}
		if limit, changed := g.overloaded(5 * time.Second); changed {
			event(Event{Kind: EventConcurrency, Limit: limit, Message: fmt.Sprintf("%s: lowering concurrency to %d", why, limit)})
		}
		return
	}
	if o.Err == nil || errors.As(o.Err, new(*LoginRefused)) {
		if limit, changed := g.ok(); changed {
			event(Event{Kind: EventConcurrency, Limit: limit, Message: fmt.Sprintf("server healthy: raising concurrency to %d", limit)})
		}
	}
}

// loginBurst is how many new connections may start together: a tenth of a
// second's worth at the rate, and at least one per worker, so that workers
// that finish together need not queue behind each other. The average stays
// at the rate. (One per worker alone cost 1-2% of the throughput when the
// scan ran at 90% of the rate: probes finish in clusters.)
func loginBurst(rc RunConfig) int {
	return max(rc.Workers, int(math.Ceil(rc.LoginRate/10)))
}

func probeWithRetry(ctx context.Context, p *Prober, e inventory.Entry, rc RunConfig, limiter *rate.Limiter, g *gate, pc *penaltyClocks) Outcome {
	var attempts []string
	for i := 1; ; i++ {
		// While logins are being held, a new one would only sit on a
		// working slot: it takes one when the server answers it.
		held := pc.likely()
		err := g.acquire(ctx, !held)
		if err == nil {
			if err = limiter.Wait(ctx); err != nil {
				g.release(!held)
			}
		}
		if err != nil {
			rec := results.Mailbox{Kind: results.KindMailbox, Mailbox: e.Mailbox(), AccountID: e.AccountID(), ProbedAt: time.Now().UTC()}
			rec.Error = "not probed: " + err.Error()
			rec.Login.Outcome = "error"
			rec.Attempts = attempts
			return Outcome{Record: rec, Err: err}
		}
		w := &heldLogin{g: g, after: pc.heldAfter(rc.HeldAfter), pc: pc, held: held}
		rec, err := p.probe(ctx, e, w)
		g.release(w.working())
		if err == nil || !IsTransient(err) || i >= rc.Attempts || ctx.Err() != nil {
			rec.Attempts = attempts
			return Outcome{Record: rec, Err: err}
		}
		attempts = append(attempts, fmt.Sprintf("attempt %d: %v", i, err))
		wait := rc.Backoff << (i - 1)
		wait = wait/2 + rand.N(wait)
		if s := SuggestedBackoff(err); s > wait {
			wait = s
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// breaker watches outcomes for signs that the scan must stop: a setup
// error every mailbox would meet, the master credentials being rejected
// before any login worked, or most recent probes failing transiently.
type breaker struct {
	rc RunConfig

	mu         sync.Mutex
	recent     []bool // true: transient fault
	logins     int    // successful logins so far
	credErrors int
	trips      int
	pauseUntil time.Time
}

func (b *breaker) observe(o Outcome) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o.Record.Login.Outcome == "ok" || o.Record.Login.Outcome == "failed" {
		b.logins++
	}
	var se *SetupError
	if errors.As(o.Err, &se) {
		return &StopError{Reason: "setup error", Err: se}
	}
	var ce *CredentialsError
	if errors.As(o.Err, &ce) {
		b.credErrors++
		if b.logins == 0 && b.credErrors >= 3 {
			return &StopError{Reason: "the server rejected the master credentials for the first mailboxes and accepted none", Err: &SetupError{Msg: ce.Error(), Hint: "check --master-user, the master password and --auth; with Dovecot the master passdb needs master = yes and auth_master_user_separator must match --master-separator"}}
		}
	}
	b.recent = append(b.recent, IsTransient(o.Err))
	if len(b.recent) > b.rc.Window {
		b.recent = b.recent[1:]
	}
	if len(b.recent) < b.rc.Window {
		return nil
	}
	bad := 0
	for _, t := range b.recent {
		if t {
			bad++
		}
	}
	if float64(bad) < b.rc.DistressShare*float64(len(b.recent)) {
		return nil
	}
	b.trips++
	b.recent = b.recent[:0]
	if b.trips >= 2 {
		return &StopError{Reason: fmt.Sprintf("server in distress: %d of the last %d probes failed with timeouts or refused connections, twice; stopped to spare the server (results so far are kept; rerun to resume)", bad, b.rc.Window), Err: o.Err}
	}
	b.pauseUntil = time.Now().Add(b.rc.Pause)
	return nil
}

// wait blocks dispatch while the breaker pauses.
func (b *breaker) wait(ctx context.Context, drain <-chan struct{}) error {
	b.mu.Lock()
	until := b.pauseUntil
	b.mu.Unlock()
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-drain:
		return errors.New("drained")
	}
}

// clock remembers when something last happened.
type clock struct{ last atomic.Int64 } // unix nanoseconds

func (c *clock) mark() { c.last.Store(time.Now().UnixNano()) }

// within reports whether it happened less than d ago.
func (c *clock) within(d time.Duration) bool {
	t := c.last.Load()
	return t != 0 && time.Since(time.Unix(0, t)) < d
}

// penaltyClocks tell whether Dovecot's authentication penalty is likely in
// force: it follows a refused login and lasts 15 s after the last failure
// it counted.
type penaltyClocks struct {
	refused clock // a login was refused
	held    clock // a login that then succeeded was held by the penalty

	mu    sync.Mutex
	login float64 // ms, moving average of logins answered without a hold
	n     int
}

// penaltyHold is the least a login the penalty held takes: its first
// step is 4 s.
const penaltyHold = 3 * time.Second

// observe adds the time a login took that was answered without a hold.
func (c *penaltyClocks) observe(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ms := float64(d.Microseconds()) / 1000
	if c.n == 0 {
		c.login = ms
	} else {
		c.login = 0.9*c.login + 0.1*ms
	}
	c.n++
}

// heldAfter is how long a login may wait before it counts as held: eight
// times the usual login, at least 250 ms and at most ceiling. Before 10
// logins were seen, ceiling.
func (c *penaltyClocks) heldAfter(ceiling time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n < 10 {
		return ceiling
	}
	d := time.Duration(8 * c.login * float64(time.Millisecond))
	return min(ceiling, max(250*time.Millisecond, d))
}

// possible: a login refused in the last 30 s, so a slow login may be held.
func (c *penaltyClocks) possible() bool { return c.refused.within(30 * time.Second) }

// likely: besides, a login was held in the last 15 s, so the next one
// most probably will be too.
func (c *penaltyClocks) likely() bool { return c.possible() && c.held.within(15*time.Second) }

// heldLogin gives a probe's working slot back while its login waits longer
// than after (and a login was refused recently), and takes one again when
// the server answers a login that succeeded. A probe started while the
// penalty is likely starts without a working slot (held set).
type heldLogin struct {
	g     *gate
	after time.Duration
	pc    *penaltyClocks

	mu    sync.Mutex
	timer *time.Timer
	held  bool // no working slot: given back, or never taken
	done  bool // login answered
	t0    time.Time
}

func (h *heldLogin) started() {
	h.mu.Lock()
	h.t0 = time.Now()
	if !h.held {
		h.timer = time.AfterFunc(h.after, h.check)
	}
	h.mu.Unlock()
}

func (h *heldLogin) check() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done || h.held {
		return
	}
	if h.pc.possible() {
		h.held = true
		h.g.hold()
		return
	}
	h.timer.Reset(h.after / 4)
}

func (h *heldLogin) answered(ctx context.Context, ok bool) error {
	h.mu.Lock()
	h.done = true
	if h.timer != nil {
		h.timer.Stop()
	}
	held := h.held
	if took := time.Since(h.t0); ok && took >= penaltyHold {
		h.pc.held.mark()
	} else if ok && took < h.after {
		h.pc.observe(took)
	}
	h.mu.Unlock()
	if !held || !ok {
		// A refused login ends the probe: no work, no slot needed.
		return nil
	}
	if err := h.g.resume(ctx); err != nil {
		return err
	}
	h.mu.Lock()
	h.held = false
	h.mu.Unlock()
	return nil
}

// working reports whether the probe holds a working slot.
func (h *heldLogin) working() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.held
}
