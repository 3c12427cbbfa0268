package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/impact-ops/impact/internal/results"
)

// progress reports probes as they finish: a bar on a terminal, plain
// periodic lines elsewhere (CI logs, redirects), where a bar would be noise.
type progress interface {
	done(m *results.Mailbox)
	// note sets a short status shown with the progress from now on, e.g.
	// "penalty: logins held" or "concurrency 6".
	note(s string)
	close()
}

func newProgress(w io.Writer, total int) progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("probing"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("mailboxes"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		return &barProgress{bar: bar}
	}
	return &lineProgress{w: w, total: total, start: time.Now(), last: time.Now(), every: 10 * time.Second, counts: map[results.Impact]int{}}
}

type barProgress struct{ bar *progressbar.ProgressBar }

func (p *barProgress) done(*results.Mailbox) { _ = p.bar.Add(1) }
func (p *barProgress) note(s string)         { p.bar.Describe("probing (" + s + ")") }
func (p *barProgress) close()                { _ = p.bar.Finish() }

type lineProgress struct {
	mu     sync.Mutex
	w      io.Writer
	total  int
	n      int
	start  time.Time
	last   time.Time
	every  time.Duration
	counts map[results.Impact]int
	status string
}

func (p *lineProgress) note(s string) {
	p.mu.Lock()
	p.status = s
	p.mu.Unlock()
}

func (p *lineProgress) done(m *results.Mailbox) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.counts[m.Impact]++
	if time.Since(p.last) >= p.every {
		p.last = time.Now()
		p.line()
	}
}

func (p *lineProgress) line() {
	el := time.Since(p.start)
	rate := float64(p.n) / el.Seconds()
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-p.n) / rate * float64(time.Second)).Round(time.Second).String()
	}
	status := ""
	if p.status != "" {
		status = " [" + p.status + "]"
	}
	fmt.Fprintf(p.w, "progress: %d/%d mailboxes (%.0f%%), %.1f/s, eta %s; %s%s\n",
		p.n, p.total, 100*float64(p.n)/float64(max(p.total, 1)), rate, eta, impactCounts(p.counts), status)
}

func (p *lineProgress) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n > 0 {
		p.line()
	}
}

func impactCounts(c map[results.Impact]int) string {
	s := ""
	for _, imp := range results.Impacts {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", imp, c[imp])
	}
	return s
}
